"""Reading the results: the headline figures against their targets, the printed report, the README
table.

Every figure is a median over repetitions with its [min, max]; a ratio is the ratio of two medians, with
the range of the ratios of repetitions measured one right after the other (see `stats.ratio`); a difference
likewise (`stats.difference`). A speed-up is the other client's time over the gateway client's.

Beside a figure, its limits where they were measured (`Figure.floor`): the same figure computed with a lean
server (a bare grpc.aio server doing the same REST call with aiohttp, nothing else) or gRPC's floor (a bare
grpc.aio server answering prebuilt messages) in the gateway's place (`bench.floor`); for a slow upstream,
the round trips alone. So a reader sees how far the gateway is from what is possible, not only from the SDKs.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bench import events, slow_upstream, streaming, unary
from bench.events import EventsSample, FirstEventSample
from bench.measure import CLIENT
from bench.stats import Spread, difference, ratio
from bench.streaming import StreamSample
from bench.suite import Results
from bench.unary import Level, LoadSample

MIB = 1024.0
FLAT_MIB = 2.0  # the second half of a stream may raise the RSS peak by this much and still count as flat
ROLES = (CLIENT, "gateway", "emulator")
# The gateway's CPU per GetRun at one caller before page streams: 1.41 ms, `make bench` at commit 4746925 on
# the 2-CPU machine with a load average of 0.66, printed beside today's for scale. CPU time per call grows
# with the machine's load (at a load average of 5-7 the gateway of 4680cb9 took 2.1-3.0 ms), so read the
# figure from a run on a quiet machine.
GETRUN_CPU_BEFORE_MS = 1.41
# Short names of the streaming clients, for the figures.
SHORT = {
    "gateway": "gateway (grpc.aio)",
    "gateway_sync": "gateway (grpc sync)",
    "sdk": "openai-python OpenAI (sync)",
    "sdk_async": "openai-python AsyncOpenAI (async)",
    "node_gateway": "gateway (Node grpc-js)",
    "node_sdk": "openai-node",
    "sdk_default": "openai-python OpenAI (sync), default page (20)",
    "sdk_100": "openai-python OpenAI (sync), limit 100",
    "node_sdk_default": "openai-node, default page (20)",
    "node_sdk_100": "openai-node, limit 100",
}


@dataclass(frozen=True)
class Figure:
    """A headline figure, what it is measured from (`ours`, `theirs`: formatted), its target (`<= 1.5`,
    `>= 3`; empty: no target), and the same figure with the gateway's limits in its place (`floor`,
    formatted; empty: none measured)."""

    name: str
    value: Spread
    target: str = ""
    ours: str = ""
    theirs: str = ""
    floor: str = ""

    @property
    def met(self) -> bool | None:
        """Whether the median meets the target (None: no target)."""
        if not self.target:
            return None
        sign, bound = self.target.split()
        median = round(self.value.median, 9)  # 10.000000000000002 us per run is 10
        return median <= float(bound) if sign == "<=" else median >= float(bound)

    def verdict(self) -> str:
        """`met`, or `missed` and by how much of the target, or empty without a target."""
        if self.met is None:
            return ""
        if self.met:
            return "met"
        bound = float(self.target.split()[1])
        return f"missed by {abs(self.value.median / bound - 1):.0%}"


def figures(results: Results) -> list[Figure]:
    """The headline figures, each against its target; those without a target after."""
    return [
        *_streaming_figures(results),
        *_slow_figures(results),
        *_unary_figures(results),
        _memory_figure(results),
        *_watch_figures(results),
        *_events_figures(results),
        Figure(
            "start-up: process start to health SERVING, s", Spread.of(results.startup.serving_s), "<= 0.3"
        ),
        *_responses_figures(results),
    ]


def _responses_figures(results: Results) -> list[Figure]:
    """Issue 19's side by side: the gateway over Responses against the SDK calling Responses directly. The
    GetRun must beat the SDK's retrieve (a Python client's peer); the first event has no target: the
    gateway stores the run before it sends it, so that a GetRun right after finds it."""
    samples = results.responses.samples
    gets, retrieves = [s.get_run_ms for s in samples], [s.retrieve_ms for s in samples]
    firsts, direct = [s.first_event_ms for s in samples], [s.first_direct_event_ms for s in samples]
    return [
        Figure(
            "Responses: GetRun through the gateway vs responses.retrieve (openai-python), ratio",
            ratio(gets, retrieves),
            "<= 1.0",
            f"{Spread.of(gets).format()} ms",
            f"{Spread.of(retrieves).format()} ms",
        ),
        Figure(
            "Responses: first event, CreateRunStream vs responses.create(stream) (openai-python), ratio",
            ratio(firsts, direct),
            "",
            f"{Spread.of(firsts).format()} ms",
            f"{Spread.of(direct).format()} ms",
        ),
    ]


def _watch_figures(results: Results) -> list[Figure]:
    """Issue 11's targets: the most watchers of one run cost the upstream what one watcher does, and the
    gateway under 50 KiB of memory per watcher (the worst scenario)."""
    samples = results.watch.samples
    one, most = samples[0], max((s for s in samples if s.runs == 1), key=lambda s: s.watchers)
    gets = Figure(
        f"WatchRun: GETs of the run per second, {most.watchers:,} watchers vs 1 watcher, ratio",
        Spread.of([most.upstream_gets_per_second / max(one.upstream_gets_per_second, 1e-9)]),
        "<= 1.0",
        f"{most.upstream_gets_per_second:g} GETs/s",
        f"{one.upstream_gets_per_second:g} GETs/s",
    )
    worst = max(samples, key=lambda s: s.kib_per_watcher if s.watchers > 1 else 0.0)
    memory = Figure(
        f"WatchRun: gateway memory per watcher, KiB (worst: {worst.name})",
        Spread.of([worst.kib_per_watcher]),
        "<= 50",
        f"{worst.rss_during_kib - worst.rss_before_kib:,} KiB for {worst.watchers:,} watchers",
    )
    return [gets, memory]


def _events_figures(results: Results) -> list[Figure]:
    """The gateway's streamed run against openai-python's helper: at most 1 ms more to the first event (the
    difference of the medians), at least 1.6 times the events a second, and at most 50 us of the gateway's
    CPU per event (issue 20's targets)."""
    result = results.events
    ours, theirs = (result.samples.get(name, []) for name in events.PAIR)
    paced = [result.first_event.get(name, []) for name in events.PAIR]
    what = f"streamed run of {result.events_per_run} events"
    rows = []
    if ours and theirs:
        first, rate = [_first_ms(paced[0]), _first_ms(paced[1])], [_rates(ours), _rates(theirs)]
        rows += [
            Figure(
                f"streamed run, steps {events.PACE * 1000:.0f} ms apart: time to first event, gateway "
                "(grpc.aio) - openai-python stream helper (AsyncOpenAI), ms",
                difference(*first),
                "<= 1",
                f"{Spread.of(first[0]).format()} ms",
                f"{Spread.of(first[1]).format()} ms",
                _events_floor(result.first_event, first[1], _first_ms, difference, " ms"),
            ),
            Figure(
                f"{what}: events/s, gateway (grpc.aio) / openai-python stream helper (AsyncOpenAI)",
                ratio(*rate),
                ">= 1.6",
                f"{Spread.of(rate[0]).format(0)} events/s",
                f"{Spread.of(rate[1]).format(0)} events/s",
                _events_floor(result.samples, rate[1], _rates, ratio, " events/s", 0),
            ),
        ]
    if ours:
        cpu = Spread.of(_cpu_per_event(ours))
        floors = "; ".join(
            f"{FLOOR_NAMES[name]} {Spread.of(_cpu_per_event(result.samples[name])).format(1)} us"
            for name in events.FLOORS
            if name in result.samples
        )
        rows.append(
            Figure(f"{what}: gateway CPU per event, us", cpu, "<= 50", f"{cpu.format(1)} us", floor=floors)
        )
    return rows


def _cpu_per_event(samples: Sequence[EventsSample]) -> list[float]:
    return [sample.cpu_us_per_event("gateway") for sample in samples]


def _events_floor(
    samples: Mapping[str, Sequence[Any]],
    theirs: list[float],
    values: Callable[[Any], list[float]],
    compare: Callable[[Sequence[float], Sequence[float]], Spread],
    unit: str,
    digits: int = 2,
) -> str:
    """The figure with each limit measured in the gateway's place: its own value, then the comparison."""
    return "; ".join(
        f"{FLOOR_NAMES[name]} {Spread.of(values(samples[name])).format(digits)}{unit}: "
        f"{compare(values(samples[name]), theirs).format()}"
        for name in events.FLOORS
        if name in samples
    )


def _first_ms(samples: Sequence[EventsSample | FirstEventSample]) -> list[float]:
    return [sample.first_event_ms for sample in samples]


def _rates(samples: Sequence[EventsSample]) -> list[float]:
    return [sample.events_per_second for sample in samples]


def _streaming_figures(results: Results) -> list[Figure]:
    result, rows = results.streaming, []
    python = result.fastest(streaming.GATEWAY_STREAMS), result.fastest(streaming.SDK_CLIENTS)
    for ours, theirs, target in ((*python, ">= 4"), ("node_gateway", "node_sdk", ">= 1.2")):
        if ours in result.samples and theirs in result.samples and ours and theirs:
            name = f"{result.runs:,} runs, loopback: {SHORT[ours]} vs {SHORT[theirs]}, speed-up"
            figure = _speedup(name, result.samples, ours, theirs, target)
            if "floor" in result.samples:
                floor = ratio(_walls(result.samples[theirs]), _walls(result.samples["floor"]))
                where = _seconds_and_rate(result.samples["floor"])
                figure = replace(
                    figure, floor=f"gRPC floor (prebuilt pages, grpc.aio) {where}: {floor.format()}"
                )
            rows.append(figure)
    if "gateway" in result.samples:
        rows.append(_cpu_per_run_figure(result))
    return rows


def _cpu_per_run_figure(result: streaming.StreamingResult) -> Figure:
    """The gateway's CPU per run streamed (grpc.aio client), beside gRPC's floor's."""
    cpu = Spread.of(_cpu_us_per_run(result.samples["gateway"]))
    floor = ""
    if "floor" in result.samples:
        floor = (
            f"gRPC floor (prebuilt pages) {Spread.of(_cpu_us_per_run(result.samples['floor'])).format(1)} us"
        )
    return Figure(
        f"{result.runs:,} runs, loopback: gateway CPU per run, grpc.aio client, us",
        cpu,
        "<= 10",
        f"{cpu.format(1)} us",
        floor=floor,
    )


def _cpu_us_per_run(samples: Sequence[StreamSample]) -> list[float]:
    return [s.usage.cpu.get("gateway", 0.0) / s.items * 1e6 for s in samples]


def _slow_figures(results: Results) -> list[Figure]:
    result, rows = results.slow_upstream, []
    # The limit: the gateway's requests (pages of 100) one after the other, nothing but their latency.
    requests = max(1, -(-result.runs // slow_upstream.LARGEST))
    alone = requests * result.latency_ms / 1000
    for ours, theirs in slow_upstream.PAIRS:
        if ours in result.samples and theirs in result.samples:
            target = ">= 4" if theirs.endswith("default") else ">= 1.0"
            upstream = f"{result.runs:,} runs, {result.latency_ms:g} ms upstream"
            name = f"{upstream}: {SHORT[ours]}, pages of 100, vs {SHORT[theirs]}, speed-up"
            figure = _speedup(name, result.samples, ours, theirs, target)
            limit = Spread.of([wall / alone for wall in _walls(result.samples[theirs])])
            floor = (
                f"round trips alone ({requests} x {result.latency_ms:g} ms = {alone:.3f} s): {limit.format()}"
            )
            rows.append(replace(figure, floor=floor))
    return rows


def _speedup(
    name: str, samples: dict[str, list[StreamSample]], ours: str, theirs: str, target: str
) -> Figure:
    mine, other = samples[ours], samples[theirs]
    value = ratio(_walls(other), _walls(mine))
    return Figure(name, value, target, _seconds_and_rate(mine), _seconds_and_rate(other))


def _seconds_and_rate(samples: Sequence[StreamSample]) -> str:
    rate = statistics.median(s.items / s.usage.wall for s in samples)
    return f"{Spread.of(_walls(samples)).format(3)} s ({rate:,.0f} runs/s)"


def _unary_figures(results: Results) -> list[Figure]:
    low, high = results.unary.levels[0], results.unary.levels[-1]
    cpu = Spread.of(_gateway_cpu_ms(low))
    return [
        Figure(
            f"GetRun, {low.concurrency} caller: p50 latency, gateway (grpc.aio) / direct httpx (async)",
            _ratio(low, "p50_ms"),
            "<= 1.35",
            f"{_spread(low.samples['gateway'], 'p50_ms')} ms",
            f"{_spread(low.samples['direct'], 'p50_ms')} ms",
            _unary_floor(low, "p50_ms", "direct", " ms"),
        ),
        Figure(
            f"GetRun, {low.concurrency} caller: gateway CPU per call, ms",
            cpu,
            "<= 0.70",
            f"{cpu.format()} ms",
            f"before page streams (4746925) {GETRUN_CPU_BEFORE_MS:.2f} ms",
            _cpu_floor(low),
        ),
        Figure(
            f"GetRun, {high.concurrency} callers: requests/s, gateway (grpc.aio) / one httpx (async) "
            "client per caller",
            _ratio(high, "rps", "direct_per_caller"),
            ">= 1.1",
            _spread(high.samples["gateway"], "rps", 0),
            _spread(high.samples["direct_per_caller"], "rps", 0),
            _unary_floor(high, "rps", "direct_per_caller", " req/s", 0),
        ),
        Figure(
            f"GetRun, {low.concurrency} caller: p99 latency, gateway (grpc.aio) / direct httpx (async)",
            _ratio(low, "p99_ms"),
            ours=f"{_spread(low.samples['gateway'], 'p99_ms')} ms",
            theirs=f"{_spread(low.samples['direct'], 'p99_ms')} ms",
            floor=_unary_floor(low, "p99_ms", "direct", " ms"),
        ),
        Figure(
            f"GetRun, {high.concurrency} callers: requests/s, gateway (grpc.aio) / one shared httpx "
            "(async) client",
            _ratio(high, "rps"),
            ours=_spread(high.samples["gateway"], "rps", 0),
            theirs=_spread(high.samples["direct"], "rps", 0),
            floor=_unary_floor(high, "rps", "direct", " req/s", 0),
        ),
    ]


FLOOR_NAMES = {"lean": "lean server", "floor": "gRPC floor"}


def _unary_floor(level: Level, field: str, baseline: str, unit: str, digits: int = 2) -> str:
    """The figure with each limit in the gateway's place: its own value, then the ratio."""
    return "; ".join(
        f"{FLOOR_NAMES[name]} {_spread(level.samples[name], field, digits)}{unit}: "
        f"{_ratio(level, field, baseline, name).format()}"
        for name in unary.FLOORS
        if name in level.samples
    )


def _cpu_floor(level: Level) -> str:
    return "; ".join(
        f"{FLOOR_NAMES[name]} {Spread.of(_gateway_cpu_ms(level, name)).format()} ms"
        for name in unary.FLOORS
        if name in level.samples
    )


def _gateway_cpu_ms(level: Level, name: str = "gateway") -> list[float]:
    return [s.usage.cpu.get("gateway", 0.0) / s.requests * 1e3 for s in level.samples[name]]


def _memory_figure(results: Results) -> Figure:
    reps = results.memory.repetitions
    growth = [(m.second_half_peak_kib - m.first_half_peak_kib) / MIB for m in reps]
    mib = [f"{Spread.of([getattr(m, k) / MIB for m in reps]).format(1)}" for k in ("start_kib", "peak_kib")]
    return Figure(
        f"memory: gateway RSS growth over the second half of {results.memory.runs:,} runs streamed, MiB",
        Spread.of(growth),
        f"<= {FLAT_MIB:g}",
        f"start {mib[0]} MiB, peak {mib[1]} MiB",
    )


def _ratio(level: Level, field: str, baseline: str = "direct", ours: str = "gateway") -> Spread:
    return ratio(_values(level.samples[ours], field), _values(level.samples[baseline], field))


def _values(samples: Sequence[LoadSample], field: str) -> list[float]:
    return [float(getattr(sample, field)) for sample in samples]


def _walls(samples: Sequence[StreamSample]) -> list[float]:
    return [sample.usage.wall for sample in samples]


def _load(values: Sequence[float]) -> str:
    return " ".join(f"{x:.2f}" for x in values)


# The printed report ---------------------------------------------------------------------------------------


def text(results: Results) -> str:
    """The whole report as printed by `python -m bench`."""
    parts = [
        _head(results),
        _unary_text(results),
        _stream_text(results),
        _slow_text(results),
        _memory_text(results),
        _watch_text(results),
        _startup_text(results),
        _events_text(results),
        _responses_text(results),
        _targets_text(results),
    ]
    return "\n\n".join("\n".join(lines) for lines in parts)


def _head(results: Results) -> list[str]:
    meta, machine = results.meta, results.meta.machine
    lines = [
        f"runs-gateway benchmarks, {meta.mode} mode, {meta.date}, commit {meta.commit or 'unknown'}",
        f"machine: {machine.get('cpu', '?')}, {machine.get('cpus', '?')} CPUs, {machine.get('memory', '?')}, "
        f"{machine.get('os', '?')}, Python {machine.get('python', '?')}",
        f"load average (1, 5, 15 min): before the run {_load(meta.load_average)}, "
        f"after {_load(results.load_average_after)}",
        "versions: " + ", ".join(f"{k} {v}" for k, v in meta.versions.items()),
        "figures: median [min, max] over repetitions; CPU: time each process spent during the measurement",
    ]
    if meta.node_skipped:
        lines.append(f"the Node clients were left out: {meta.node_skipped}")
    if meta.changed:
        lines.append("uncommitted changes measured: " + ", ".join(meta.changed))
    return lines


def _unary_text(results: Results) -> list[str]:
    levels = results.unary.levels
    lines = [
        f"1. Unary GetRun, {len(levels[0].samples['gateway'])} repetitions; requests per repetition: "
        + ", ".join(f"{level.requests:,} at c={level.concurrency}" for level in levels),
        f"   {'c':>3}  {'client':<50} {'p50 ms':<20} {'p99 ms':<22} {'requests/s':<22} CPU ms/request",
    ]
    lines += [
        f"   {level.concurrency:>3}  {unary.CLIENTS[name]:<50} {_spread(samples, 'p50_ms'):<20} "
        f"{_spread(samples, 'p99_ms'):<22} {_spread(samples, 'rps', 0):<22} {_cpu_per_request(samples)}"
        for level in levels
        for name, samples in level.samples.items()
    ]
    lines.append(
        "   (CPU per request: client + gateway + emulator; a limit's server counted as the gateway. Limits, "
        "at the lowest and highest concurrency: lean server, a bare grpc.aio server making the same GET with "
        "aiohttp, json.loads and the gateway's conversion, nothing else; gRPC floor, a bare grpc.aio server "
        "answering a prebuilt GetRunResponse. Sync clients at the lowest concurrency only)"
    )
    lines += [
        f"   c={level.concurrency:<3} gateway / direct: p50 {_ratio(level, 'p50_ms').format()}, "
        f"p99 {_ratio(level, 'p99_ms').format()}, requests/s {_ratio(level, 'rps').format()}; "
        f"/ client per caller: requests/s {_ratio(level, 'rps', 'direct_per_caller').format()}"
        for level in levels
    ]
    lines += [
        f"   c={level.concurrency:<3} {FLOOR_NAMES[name]} / direct: p50 "
        f"{_ratio(level, 'p50_ms', ours=name).format()}, "
        f"requests/s {_ratio(level, 'rps', ours=name).format()}; gateway / {FLOOR_NAMES[name]}: p50 "
        f"{_ratio(level, 'p50_ms', name).format()}, requests/s {_ratio(level, 'rps', name).format()}"
        for level in levels
        for name in unary.FLOORS
        if name in level.samples
    ]
    low = levels[0]
    floors = _cpu_floor(low)
    lines.append(
        f"   gateway CPU per GetRun at c={low.concurrency}: {Spread.of(_gateway_cpu_ms(low)).format()} ms "
        f"(before page streams, commit 4746925: {GETRUN_CPU_BEFORE_MS} ms){'; ' + floors if floors else ''}"
    )
    return lines


def _spread(samples: Sequence[LoadSample], field: str, digits: int = 2) -> str:
    return Spread.of(_values(samples, field)).format(digits)


def _cpu_per_request(samples: Sequence[LoadSample]) -> str:
    per = [
        statistics.median(s.usage.cpu.get(role, 0.0) / s.requests * 1e3 for s in samples) for role in ROLES
    ]
    return " + ".join(f"{value:.2f}" for value in per)


def _stream_table(samples: dict[str, list[StreamSample]], labels: dict[str, str]) -> list[str]:
    lines = [f"   {'client':<76} {'runs/s':<24} {'seconds':<22} {'msgs':>5}  CPU us/run"]
    for name, runs in samples.items():
        rate = Spread.of([s.items / s.usage.wall for s in runs]).format(0)
        messages = runs[0].messages
        count = "-" if messages is None else str(messages)
        lines.append(
            f"   {labels[name]:<76} {rate:<24} {Spread.of(_walls(runs)).format(3):<22} {count:>5}  "
            f"{_cpu_per_item(runs)}"
        )
    lines.append(
        "   (msgs: gRPC messages or REST pages a pass took; CPU per run: client + gateway + emulator)"
    )
    return lines


def _stream_text(results: Results) -> list[str]:
    result = results.streaming
    lines = [
        f"2. Streaming all {result.runs:,} runs of a thread on loopback, page size {result.page_size} "
        f"({result.page_bytes / 1024:.0f} KiB of JSON per page), {_repetitions(result.samples)} repetitions",
        *_stream_table(result.samples, streaming.CLIENTS),
        "   (the floor's CPU is counted as the gateway's)",
    ]
    lines += _left_out(result.sdk_version, result.node_skipped)
    lines += [f"   {figure.name}: {figure.value.format()}x" for figure in _streaming_figures(results)]
    return lines + _where_the_time_goes(results)


def _left_out(sdk_version: str | None, node_skipped: str | None) -> list[str]:
    lines = []
    if sdk_version is None:
        lines.append("   (no openai SDK with beta.threads.runs installed: its clients were left out)")
    if node_skipped:
        lines.append(f"   (the Node clients were left out: {node_skipped})")
    return lines


def _repetitions(samples: dict[str, list[StreamSample]]) -> int:
    return max((len(runs) for runs in samples.values()), default=0)


def _cpu_per_item(runs: Sequence[StreamSample]) -> str:
    return " + ".join(f"{_us_per_item(runs, role):.0f}" for role in ROLES)


def _us_per_item(runs: Sequence[StreamSample], role: str) -> float:
    return statistics.median(s.usage.cpu.get(role, 0.0) / max(s.items, 1) * 1e6 for s in runs)


def _where_the_time_goes(results: Results) -> list[str]:
    result = results.streaming
    samples = result.samples

    def cost(name: str, what: str, server: str = "gateway") -> str:
        runs = samples[name]
        return (
            f"   - {what}: {server} {_us_per_item(runs, 'gateway'):.1f} us, "
            f"client {_us_per_item(runs, CLIENT):.1f} us, emulator {_us_per_item(runs, 'emulator'):.1f} us"
        )

    lines = [
        "   where the time goes (CPU per run, medians):",
        f"   - in-process, converting a page REST -> proto costs {result.convert_us:.1f} us a run, encoding "
        f"it {result.encode_us:.2f} us, decoding it {result.decode_us:.2f} us",
        cost("gateway", "ListRuns, a message per page, grpc.aio client"),
        cost("floor", "gRPC's own floor, prebuilt page messages", "server"),
        cost("gateway_pages", "ListRunsPage by hand, a call per page"),
        cost("rest_pages", "REST pages with httpx (no gateway)"),
    ]
    others = (*streaming.SDK_CLIENTS, *streaming.NODE_CLIENTS)
    return lines + [cost(name, streaming.CLIENTS[name]) for name in others if name in samples]


def _slow_text(results: Results) -> list[str]:
    result = results.slow_upstream
    labels = dict(slow_upstream.CLIENTS)
    if result.sdk_version is not None:
        labels = {
            k: v.replace("openai-python", f"openai-python {result.sdk_version}") for k, v in labels.items()
        }
    lines = [
        f"3. Slow upstream: all {result.runs:,} runs of a thread, every REST request "
        f"{result.latency_ms:g} ms late, {_repetitions(result.samples)} repetitions",
        *_stream_table(result.samples, labels),
    ]
    lines += _left_out(result.sdk_version, result.node_skipped)
    lines += [f"   {figure.name}: {figure.value.format()}x" for figure in _slow_figures(results)]
    return lines


def _memory_text(results: Results) -> list[str]:
    memory = results.memory
    reps = memory.repetitions
    json_mib = results.streaming.page_bytes / results.streaming.page_size * memory.runs / MIB / MIB

    def mib(values: Sequence[int]) -> str:
        return Spread.of([v / MIB for v in values]).format(1)

    return [
        f"4. Memory: the gateway's RSS while a client streams {memory.runs:,} runs "
        f"(about {json_mib:.0f} MiB of JSON), {len(reps)} repetitions, MiB",
        f"   start {mib([m.start_kib for m in reps])}, peak {mib([m.peak_kib for m in reps])}, "
        f"end {mib([m.end_kib for m in reps])}; peak - start {mib([m.peak_kib - m.start_kib for m in reps])}",
        f"   highest while the first half went by {mib([m.first_half_peak_kib for m in reps])}, "
        f"while the second half did {mib([m.second_half_peak_kib for m in reps])}; "
        f"{Spread.of([m.items / m.seconds for m in reps]).format(0)} runs/s",
    ]


def _watch_text(results: Results) -> list[str]:
    lines = [
        f"WatchRun: runs resting in requires_action, watched for {results.meta.sizes.watch_window:g} s, "
        "a fresh gateway per scenario (polling every second):"
    ]
    lines += [
        f"   {s.name:<32} upstream {s.upstream_gets_per_second:>7.2f} GETs/s   gateway CPU "
        f"{s.gateway_cpu_seconds / s.seconds * 1e3:>7.1f} ms/s   memory "
        f"+{s.rss_during_kib - s.rss_before_kib:,} KiB ({s.kib_per_watcher:.1f} KiB a watcher)   "
        f"{s.completed}/{s.watchers} read to completed"
        for s in results.watch.samples
    ]
    return lines


def _startup_text(results: Results) -> list[str]:
    started = results.startup
    interpreter = statistics.median(started.interpreter_s)
    imports = statistics.median(started.imports_s)
    serving = statistics.median(started.serving_s)
    return [
        f"5. Start-up: process start -> health SERVING, {len(started.serving_s)} repetitions",
        f"   {Spread.of(started.serving_s).format(3)} s; "
        f"port announced at {Spread.of(started.announced_s).format(3)} s",
        f"   of which (medians): interpreter {interpreter:.3f} s, imports {imports - interpreter:.3f} s, "
        f"the rest (building and starting the server, the health check) {serving - imports:.3f} s",
    ]


def _events_text(results: Results) -> list[str]:
    result = results.events
    reps = max((len(samples) for samples in result.samples.values()), default=0)
    lines = [
        f"6. Streamed runs (v2 server-sent events): {result.runs} runs per client and repetition, one after "
        f"the other on an open connection, {reps} repetitions; a run has {result.events_per_run} events, "
        f"{result.reply_deltas} of them {events.DELTA}",
        f"   {'client':<58} {'first event ms, paced':<22} {'first event ms, burst':<22} {'events/s':<24} "
        "CPU us/event",
    ]
    for name, samples in result.samples.items():
        cpu = " + ".join(
            f"{statistics.median(s.cpu_us_per_event(role) for s in samples):.1f}" for role in ROLES
        )
        paced = result.first_event.get(name, [])
        lines.append(
            f"   {events.CLIENTS[name]:<58} {Spread.of(_first_ms(paced)).format() if paced else '-':<22} "
            f"{Spread.of(_first_ms(samples)).format():<22} {Spread.of(_rates(samples)).format(0):<24} {cpu}"
        )
    lines += [
        "   (counted: every server-sent event of a run, thread.run.created to thread.run.completed, but the "
        "closing `done`; every run of every client checked event by event against a run read with httpx, "
        "whose count the emulator confirmed)",
        f"   (first event, paced: on another emulator whose runs step every {events.PACE * 1e3:.0f} "
        "ms, as a live model streams, through a gateway of its own, each stream closed at its first event; "
        "burst: in the runs above, whose every event is sent at once)",
        "   (first event: from the call to the first event, the median of a repetition's runs; events/s: a "
        "repetition's events over the sum of its runs' times from the call to the last event; CPU per event: "
        "client + gateway + emulator)",
        "   (limits, a limit's server counted as the gateway: lean server, a bare grpc.aio server posting "
        "the run with aiohttp and converting each event, nothing else; gRPC floor, a bare grpc.aio server "
        "streaming a run's prebuilt messages, in the burst only; sync clients read on the loop's thread)",
    ]
    lines += _left_out(result.sdk_version, None)
    return lines + [f"   {figure.name}: {figure.value.format()}" for figure in _events_figures(results)]


def _responses_text(results: Results) -> list[str]:
    result = results.responses
    lines = [
        f"7. Runs over the Responses API (--upstream-api responses, SQLite store): {result.calls} calls of "
        f"each kind one at a time, {len(result.samples)} repetitions, the gateway's and the SDK's alternated",
        f"   {'call':<62} median ms [min, max] over repetitions",
    ]
    for field, label in (
        ("get_run_ms", "GetRun of a finished run (gateway, grpc.aio)"),
        ("retrieve_ms", "responses.retrieve of a finished response (openai-python, async)"),
        ("first_event_ms", "CreateRunStream to thread.run.created (gateway, grpc.aio)"),
        ("first_direct_event_ms", "responses.create(stream, background) to response.created (SDK)"),
    ):
        values = [getattr(sample, field) for sample in result.samples]
        lines.append(f"   {label:<62} {Spread.of(values).format()}")
    lines.append(f"   The run store, median us per call ({', '.join(next(iter(result.store_us.values())))}):")
    for backend, costs in result.store_us.items():
        lines.append(f"   {backend:<12} " + ", ".join(f"{value:.0f}" for value in costs.values()))
    if result.store_left_out:
        lines.append(f"   PostgreSQL left out: {result.store_left_out}")
    return lines + [f"   {figure.name}: {figure.value.format()}" for figure in _responses_figures(results)]


def _targets_text(results: Results) -> list[str]:
    lines = [
        f"Targets; load average before {_load(results.meta.load_average)}, "
        f"after {_load(results.load_average_after)}:"
    ]
    for figure in figures(results):
        target = f"target {figure.target}" if figure.target else ""
        verdict = figure.verdict().replace("missed", "miss")
        lines.append(f"   {figure.name:<100} {figure.value.format():<22} {target:<12} {verdict}")
        if figure.floor:
            lines.append(f"   {'':<100} limits: {figure.floor}")
        elif figure.target:
            lines.append(f"   {'':<100} limits: none measured")
    return lines


# The README table -----------------------------------------------------------------------------------------


def markdown(results: Results) -> str:
    """A Markdown table of the headline figures, with the machine, date and load, for the README."""
    meta, machine = results.meta, results.meta.machine
    lines = [
        f"{meta.date[:10]}, {meta.mode} mode, commit {meta.commit or 'unknown'}; {machine.get('cpu')}, "
        f"{machine.get('cpus')} CPUs, Python {machine.get('python')}; load average (1, 5, 15 min) before the "
        f"run {_load(meta.load_average)}, after {_load(results.load_average_after)}. "
        "Median [min, max] over repetitions.",
        "",
        "| measurement | gateway | baseline | result | target | | limits (each in the gateway's place) |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {figure.name} | {figure.ours} | {figure.theirs} | {figure.value.format()} "
        f"| {figure.target.replace('<=', '≤').replace('>=', '≥')} | {figure.verdict()} | {figure.floor} |"
        for figure in figures(results)
    ]
    return "\n".join(lines)
