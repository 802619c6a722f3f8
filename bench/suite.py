"""The whole benchmark in one run: one emulator, then start-up, then one gateway for the other scenarios.

`run_all` is what `python -m bench` runs and what the smoke test runs on tiny sizes, so the two cannot drift
apart. Start-up goes first, while nothing else is busy; the other scenarios share one gateway process, as a
sidecar would serve them, and each compares its clients side by side, repetition after repetition. The
emulator writes a streamed run's reply in `Sizes.reply_deltas` deltas (the streamed-run scenario). The
Node clients (bench/node) run in one Node worker for the whole run, when Node and the project's packages
are installed; the slow-upstream scenario turns the emulator's latency on for its own duration only. Runs
over the Responses API go last, through an emulator and a gateway of their own (`--upstream-api
responses`), then the run store's cost per call.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import os
import platform
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import (
    events,
    harness,
    memory,
    nodeclient,
    responses,
    slow_upstream,
    startup,
    streaming,
    unary,
    watch,
)
from bench.events import EventsResult
from bench.memory import MemoryResult
from bench.responses import ResponsesResult
from bench.sizes import Sizes
from bench.slow_upstream import SlowUpstreamResult
from bench.startup import StartupResult
from bench.streaming import StreamingResult
from bench.unary import UnaryResult
from bench.watch import WatchResult

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("grpcio", "protobuf", "httpx", "uvicorn", "starlette", "openai")


@dataclass(frozen=True)
class Meta:
    """When, where and how the benchmark ran."""

    date: str  # UTC, ISO 8601
    mode: str  # "full", "quick", or what a caller names its sizes
    sizes: Sizes
    machine: dict[str, str]
    versions: dict[str, str]
    commit: str | None
    changed: list[str]  # files of the gateway and the emulator that differ from `commit`
    load_average: tuple[float, float, float]  # before the run: others may be using a shared machine
    node_skipped: str | None  # why the Node clients did not run (None: they did)


@dataclass(frozen=True)
class Results:
    """Everything one run measured, and the load average once it was over."""

    meta: Meta
    startup: StartupResult
    unary: UnaryResult
    streaming: StreamingResult
    slow_upstream: SlowUpstreamResult
    memory: MemoryResult
    watch: WatchResult
    events: EventsResult
    responses: ResponsesResult
    load_average_after: tuple[float, float, float]


def run_all(sizes: Sizes, mode: str, log: Callable[[str], None] = print) -> Results:
    """Run every scenario; `log` is told what is starting."""
    meta = describe(sizes, mode)
    if meta.node_skipped:
        log(f"the Node clients are left out: {meta.node_skipped}")
    with harness.emulator(reply_deltas=sizes.reply_deltas) as emulator:
        log(f"start-up: process start -> health SERVING, {sizes.startup_repetitions} times")
        started = startup.run(emulator.base_url, sizes)
        with harness.gateway(emulator.base_url) as gateway, nodeclient.optional_worker() as node:
            log(f"unary: GetRun at concurrency {', '.join(map(str, sizes.concurrency))}")
            unary_result = unary.run(emulator, gateway, sizes)
            log(f"streaming on loopback: {sizes.stream_runs:,} runs, {sizes.repetitions} repetitions")
            streaming_result = streaming.run(emulator, gateway, node, sizes)
            log(
                f"slow upstream: {sizes.latency_runs:,} runs, {sizes.latency_ms:g} ms a request, "
                f"{sizes.latency_repetitions} repetitions"
            )
            slow = slow_upstream.run(emulator, gateway, node, sizes)
            log(f"memory: {sizes.memory_runs:,} runs, {sizes.memory_repetitions} repetitions")
            memory_result = memory.run(emulator, gateway, sizes)
            log(
                f"streamed runs: {sizes.event_runs} runs of {sizes.reply_deltas} deltas a client, "
                f"{sizes.repetitions} repetitions"
            )
            events_result = events.run(emulator, gateway, sizes)
        log(f"WatchRun: {', '.join(name for name, _, _ in watch.scenarios(sizes))}, a gateway each")
        watch_result = watch.run(emulator, sizes)
        log(
            f"Runs over Responses: GetRun and the first event, {sizes.responses_calls} calls each, "
            f"{sizes.repetitions} repetitions; the run store, {sizes.store_calls} calls an operation"
        )
        responses_result = responses.run(sizes)
    after = os.getloadavg()
    return Results(
        meta,
        started,
        unary_result,
        streaming_result,
        slow,
        memory_result,
        watch_result,
        events_result,
        responses_result,
        after,
    )


def describe(sizes: Sizes, mode: str) -> Meta:
    """The run's metadata: machine, versions, commit, load."""
    date = datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()
    load = os.getloadavg()
    return Meta(date, mode, sizes, machine(), versions(), commit(), changed(), load, nodeclient.unavailable())


def machine() -> dict[str, str]:
    """CPU model and count, memory, OS and Python."""
    cpuinfo = _read("/proc/cpuinfo")
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    memory = next(
        (line.split(":", 1)[1].strip() for line in _read("/proc/meminfo") if "MemTotal" in line), ""
    )
    return {
        "cpu": model or platform.processor() or platform.machine(),
        "cpus": str(len(os.sched_getaffinity(0))),
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def versions() -> dict[str, str]:
    """Versions of the packages whose speed is measured, Node's and its packages' included."""
    found = {}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found | nodeclient.versions()


def commit() -> str | None:
    """The work tree's commit, with `+dirty` when tracked files have changes; None outside a git clone."""
    try:
        head = subprocess.run(
            ("git", "-C", str(ROOT), "describe", "--always", "--dirty=+dirty", "--abbrev=12"),
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.stdout.strip() or None


def changed() -> list[str]:
    """Files under gateway/ and emulator/ with uncommitted changes: what ran is not quite `commit`."""
    try:
        diff = subprocess.run(
            ("git", "-C", str(ROOT), "diff", "--name-only", "HEAD", "--", "gateway", "emulator"),
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return []
    return diff.stdout.split()


def to_json(results: Results) -> dict[str, Any]:
    """The results as plain JSON data, with what each client of each scenario is (its label: which server,
    which client library, async or sync)."""
    return {**dataclasses.asdict(results), "clients": CLIENT_LABELS}


CLIENT_LABELS = {
    "unary": unary.CLIENTS,
    "streaming": streaming.CLIENTS,
    "slow_upstream": slow_upstream.CLIENTS,
    "events": events.CLIENTS,
}


def _read(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []
