"""Reading the results: the headline figures against the issue's targets, the printed report, the README
table.

Every figure is a median over repetitions with its [min, max]; a ratio is the ratio of two medians, with
the range of the ratios of repetitions measured one right after the other (see `stats.ratio`).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from bench import streaming, unary
from bench.measure import CLIENT
from bench.stats import Spread, ratio
from bench.streaming import StreamSample
from bench.suite import Results
from bench.unary import Level, LoadSample

MIB = 1024.0
FLAT_MIB = 2.0  # the second half of a stream may raise the RSS peak by this much and still count as flat
ROLES = (CLIENT, "gateway", "emulator")


@dataclass(frozen=True)
class Figure:
    """A headline figure and its target (`<= 1.3`, `>= 0.8`; empty: no target)."""

    name: str
    value: Spread
    target: str = ""

    @property
    def met(self) -> bool | None:
        """Whether the median meets the target (None: no target)."""
        if not self.target:
            return None
        sign, bound = self.target.split()
        return self.value.median <= float(bound) if sign == "<=" else self.value.median >= float(bound)

    def verdict(self) -> str:
        """`met`, or `missed` and by how much of the target, or empty without a target."""
        if self.met is None:
            return ""
        if self.met:
            return "met"
        bound = float(self.target.split()[1])
        return f"missed by {abs(self.value.median / bound - 1):.0%}"


def figures(results: Results) -> list[Figure]:
    """The figures the issue asks for, in its order, each against its target."""
    low, high = results.unary.levels[0], results.unary.levels[-1]
    rows = [
        Figure(f"GetRun c={low.concurrency}: p50 latency, gateway / direct", _ratio(low, "p50_ms"), "<= 1.3"),
        Figure(f"GetRun c={low.concurrency}: p99 latency, gateway / direct", _ratio(low, "p99_ms"), "<= 1.3"),
        Figure(f"GetRun c={high.concurrency}: requests/s, gateway / direct", _ratio(high, "rps"), ">= 0.8"),
        Figure(
            f"GetRun c={high.concurrency}: requests/s, gateway / direct with a client per caller",
            _ratio(high, "rps", "direct_per_caller"),
            ">= 0.8",
        ),
    ]
    speedup = stream_speedup(results)
    if speedup is not None:
        rows.append(
            Figure("ListRuns, all runs: speed-up over the SDK (time SDK / time gateway)", speedup, ">= 2")
        )
    growth = [(m.second_half_peak_kib - m.first_half_peak_kib) / MIB for m in results.memory.repetitions]
    rows.append(
        Figure("memory: RSS growth over the second half of the stream, MiB", Spread.of(growth), "<= 2")
    )
    rows.append(Figure("start-up: process start to health SERVING, s", Spread.of(results.startup.serving_s)))
    return rows


def _ratio(level: Level, field: str, baseline: str = "direct") -> Spread:
    return ratio(_values(level.samples["gateway"], field), _values(level.samples[baseline], field))


def _values(samples: Sequence[LoadSample], field: str) -> list[float]:
    return [float(getattr(sample, field)) for sample in samples]


def stream_speedup(results: Results) -> Spread | None:
    """Time of the faster SDK client over time of the faster gateway stream client; None without the SDK."""
    result = results.streaming
    ours, theirs = result.fastest(streaming.GATEWAY_STREAMS), result.fastest(streaming.SDK_CLIENTS)
    if ours is None or theirs is None:
        return None
    return ratio(_walls(result.samples[theirs]), _walls(result.samples[ours]))


def _walls(samples: Sequence[StreamSample]) -> list[float]:
    return [sample.usage.wall for sample in samples]


# The printed report ---------------------------------------------------------------------------------------


def text(results: Results) -> str:
    """The whole report as printed by `python -m bench`."""
    parts = [
        _head(results),
        _unary_text(results),
        _stream_text(results),
        _memory_text(results),
        _startup_text(results),
        _targets_text(results),
    ]
    return "\n\n".join("\n".join(lines) for lines in parts)


def _head(results: Results) -> list[str]:
    meta, machine = results.meta, results.meta.machine
    lines = [
        f"runs-gateway benchmarks, {meta.mode} mode, {meta.date}, commit {meta.commit or 'unknown'}",
        f"machine: {machine.get('cpu', '?')}, {machine.get('cpus', '?')} CPUs, {machine.get('memory', '?')}, "
        f"{machine.get('os', '?')}, Python {machine.get('python', '?')}",
        "load average before the run: " + " ".join(f"{x:.2f}" for x in meta.load_average),
        "versions: " + ", ".join(f"{k} {v}" for k, v in meta.versions.items()),
        "figures: median [min, max] over repetitions; CPU: time each process spent during the measurement",
    ]
    if meta.changed:
        lines.append("uncommitted changes measured: " + ", ".join(meta.changed))
    return lines


def _unary_text(results: Results) -> list[str]:
    levels = results.unary.levels
    lines = [
        f"1. Unary GetRun, {len(levels[0].samples['gateway'])} repetitions; requests per repetition: "
        + ", ".join(f"{level.requests:,} at c={level.concurrency}" for level in levels),
        f"   {'c':>3}  {'client':<38} {'p50 ms':<20} {'p99 ms':<22} {'requests/s':<22} CPU ms/request",
    ]
    lines += [
        f"   {level.concurrency:>3}  {unary.CLIENTS[name]:<38} {_spread(samples, 'p50_ms'):<20} "
        f"{_spread(samples, 'p99_ms'):<22} {_spread(samples, 'rps', 0):<22} {_cpu_per_request(samples)}"
        for level in levels
        for name, samples in level.samples.items()
    ]
    lines.append("   (CPU per request: client + gateway + emulator)")
    lines += [
        f"   c={level.concurrency:<3} gateway / direct: p50 {_ratio(level, 'p50_ms').format()}, "
        f"p99 {_ratio(level, 'p99_ms').format()}, requests/s {_ratio(level, 'rps').format()}; "
        f"/ client per caller: requests/s {_ratio(level, 'rps', 'direct_per_caller').format()}"
        for level in levels
    ]
    return lines


def _spread(samples: Sequence[LoadSample], field: str, digits: int = 2) -> str:
    return Spread.of(_values(samples, field)).format(digits)


def _cpu_per_request(samples: Sequence[LoadSample]) -> str:
    per = [
        statistics.median(s.usage.cpu.get(role, 0.0) / s.requests * 1e3 for s in samples) for role in ROLES
    ]
    return " + ".join(f"{value:.2f}" for value in per)


def _stream_text(results: Results) -> list[str]:
    result = results.streaming
    lines = [
        f"2. Streaming all {result.runs:,} runs of a thread, page size {result.page_size} "
        f"({result.page_bytes / 1024:.0f} KiB of JSON per page), {result_repetitions(result)} repetitions",
        f"   {'client':<52} {'runs/s':<24} {'seconds':<22} CPU us/run",
    ]
    for name, runs in result.samples.items():
        label = streaming.CLIENTS[name]
        if name in streaming.SDK_CLIENTS:
            label = label.replace("openai SDK", f"openai SDK {result.sdk_version}")
        rate = Spread.of([s.items / s.usage.wall for s in runs]).format(0)
        seconds = Spread.of(_walls(runs)).format(3)
        lines.append(f"   {label:<52} {rate:<24} {seconds:<22} {_cpu_per_item(runs)}")
    lines.append("   (CPU per run: client + gateway (the floor: its server) + emulator)")
    if result.sdk_version is None:
        lines.append("   (no openai SDK with beta.threads.runs installed: its clients were left out)")
    speedup = stream_speedup(results)
    if speedup is not None:
        lines.append(
            f"   speed-up, {result.fastest(streaming.SDK_CLIENTS)} time / "
            f"{result.fastest(streaming.GATEWAY_STREAMS)} time: {speedup.format()}x"
        )
    return lines + _where_the_time_goes(results)


def result_repetitions(result: streaming.StreamingResult) -> int:
    """How many passes each streaming client made."""
    return len(result.samples["gateway"])


def _cpu_per_item(runs: Sequence[StreamSample]) -> str:
    return " + ".join(f"{_us_per_item(runs, role):.0f}" for role in ROLES)


def _us_per_item(runs: Sequence[StreamSample], role: str) -> float:
    return statistics.median(s.usage.cpu.get(role, 0.0) / max(s.items, 1) * 1e6 for s in runs)


def _where_the_time_goes(results: Results) -> list[str]:
    result = results.streaming
    samples = result.samples
    stream, bare = samples["gateway"], samples["floor"]
    pages, rest = samples["gateway_pages"], samples["rest_pages"]
    lines = [
        "   where the time goes (CPU per run, medians):",
        f"   - in-process, converting a run REST -> proto costs {result.convert_us:.1f} us, encoding it "
        f"{result.encode_us:.1f} us, decoding it {result.decode_us:.1f} us",
        f"   - one message per run (ListRuns): gateway {_us_per_item(stream, 'gateway'):.0f} us, "
        f"grpc.aio client {_us_per_item(stream, CLIENT):.0f} us",
        f"   - gRPC's own floor, a prebuilt message per run: server {_us_per_item(bare, 'gateway'):.0f} us, "
        f"grpc.aio client {_us_per_item(bare, CLIENT):.0f} us",
        f"   - one message per page (ListRunsPage): gateway {_us_per_item(pages, 'gateway'):.0f} us, "
        f"grpc.aio client {_us_per_item(pages, CLIENT):.0f} us",
        f"   - serving REST pages, the emulator spends {_us_per_item(rest, 'emulator'):.0f} us per run; "
        f"httpx reading them {_us_per_item(rest, CLIENT):.0f} us",
    ]
    lines += [
        f"   - {streaming.CLIENTS[name]}: {_us_per_item(samples[name], CLIENT):.0f} us"
        for name in streaming.SDK_CLIENTS
        if name in samples
    ]
    return lines


def _memory_text(results: Results) -> list[str]:
    memory = results.memory
    reps = memory.repetitions
    json_mib = results.streaming.page_bytes / results.streaming.page_size * memory.runs / MIB / MIB

    def mib(values: Sequence[int]) -> str:
        return Spread.of([v / MIB for v in values]).format(1)

    return [
        f"3. Memory: the gateway's RSS while a client streams {memory.runs:,} runs "
        f"(about {json_mib:.0f} MiB of JSON), {len(reps)} repetitions, MiB",
        f"   start {mib([m.start_kib for m in reps])}, peak {mib([m.peak_kib for m in reps])}, "
        f"end {mib([m.end_kib for m in reps])}; peak - start {mib([m.peak_kib - m.start_kib for m in reps])}",
        f"   highest while the first half went by {mib([m.first_half_peak_kib for m in reps])}, "
        f"while the second half did {mib([m.second_half_peak_kib for m in reps])}; "
        f"{Spread.of([m.items / m.seconds for m in reps]).format(0)} runs/s",
    ]


def _startup_text(results: Results) -> list[str]:
    started = results.startup
    interpreter = statistics.median(started.interpreter_s)
    imports = statistics.median(started.imports_s)
    serving = statistics.median(started.serving_s)
    return [
        f"4. Start-up: process start -> health SERVING, {len(started.serving_s)} repetitions",
        f"   {Spread.of(started.serving_s).format(3)} s; "
        f"port announced at {Spread.of(started.announced_s).format(3)} s",
        f"   of which (medians): interpreter {interpreter:.3f} s, imports {imports - interpreter:.3f} s, "
        f"the rest (building and starting the server, the health check) {serving - imports:.3f} s",
    ]


def _targets_text(results: Results) -> list[str]:
    lines = ["Targets (issue 4):"]
    for figure in figures(results):
        target = f"target {figure.target}" if figure.target else ""
        lines.append(f"   {figure.name:<74} {figure.value.format():<22} {target:<12} {figure.verdict()}")
    return lines


# The README table -----------------------------------------------------------------------------------------


def markdown(results: Results) -> str:
    """A Markdown table of the headline figures, with the machine and date, for the README."""
    meta, machine = results.meta, results.meta.machine
    lines = [
        f"{meta.date[:10]}, {meta.mode} mode, commit {meta.commit or 'unknown'}; {machine.get('cpu')}, "
        f"{machine.get('cpus')} CPUs, Python {machine.get('python')}; load average before the run "
        + " ".join(f"{x:.2f}" for x in meta.load_average)
        + ". Median [min, max] over repetitions.",
        "",
        "| measurement | result | target | |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {figure.name} | {figure.value.format()} | {figure.target.replace('<=', '≤').replace('>=', '≥')} "
        f"| {figure.verdict()} |"
        for figure in figures(results)
    ]
    return "\n".join(lines)
