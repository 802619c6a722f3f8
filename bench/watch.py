"""WatchRun under many watchers: what the upstream, the gateway's CPU and its memory pay per watcher.

Each scenario opens its watchers (grpc.aio streams, in the benchmark's own process) on runs that rest in
`requires_action`, so nothing ends while it is measured; holds them for a window, during which it counts the
GETs of those runs the emulator receives and the gateway's CPU and resident memory; then submits the tool
outputs, and checks that every watcher reads its run to `completed` and ends OK. Scenarios (`Sizes`): 1,
100 and 1,000 watchers of one run, and 100 runs watched at once (one watcher each). The gateway polls every
second (its default), so one watched run costs the upstream about one GET a second whatever the number of
watchers.

`python -m bench.watch` runs it alone; `suite.run_all` runs it with the other benchmarks.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import cast

import grpc
import httpx
from runs_gateway.assistants.v1 import resources_pb2 as res
from runs_gateway.assistants.v1 import runs_service_pb2 as pb
from runs_gateway.assistants.v1 import runs_service_pb2_grpc as pb_grpc

from bench import harness
from bench.sizes import FULL, Sizes

STREAMS_PER_CHANNEL = 100
"""Watchers share channels (HTTP/2 connections) a hundred at a time, as an application's pool would."""
RESTING = res.RUN_STATUS_REQUIRES_ACTION
TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}


@dataclass(frozen=True)
class WatchSample:
    """One scenario: `watchers` spread over `runs` runs, held for `seconds`."""

    name: str
    runs: int
    watchers: int
    seconds: float
    upstream_gets: int  # GETs of the watched runs the emulator received during the window
    upstream_gets_per_second: float
    gateway_cpu_seconds: float  # during the window
    rss_before_kib: int  # the gateway's resident memory before the watchers connected...
    rss_during_kib: int  # ...and with all of them connected
    kib_per_watcher: float
    completed: int  # watchers that read their run to `completed` and ended OK


@dataclass(frozen=True)
class WatchResult:
    """Every scenario of one run."""

    samples: list[WatchSample]


def scenarios(sizes: Sizes) -> list[tuple[str, int, int]]:
    """(name, runs, watchers) of each scenario: `sizes.watchers` of one run, then `sizes.watched_runs` runs
    with one watcher each; the watchers are spread evenly over the runs."""
    one = [(f"{n:,} watcher{'s' * (n > 1)} of one run", 1, n) for n in sizes.watchers]
    runs = sizes.watched_runs
    return [*one, (f"{runs:,} runs, one watcher each", runs, runs)]


def run(emulator: harness.Emulator, sizes: Sizes) -> WatchResult:
    """Every scenario, each against a gateway of its own (memory is what that scenario added to a gateway that
    has served one watch already), one after the other."""
    samples = []
    for scenario in scenarios(sizes):
        with harness.gateway(emulator.base_url) as gateway:
            asyncio.run(_warm_up(emulator, gateway))
            samples.append(asyncio.run(_scenario(emulator, gateway, *scenario, sizes.watch_window)))
    return WatchResult(samples)


async def _warm_up(emulator: harness.Emulator, gateway: harness.Server) -> None:
    """One watch to its end, so the gateway's one-time costs (buffers, caches) are not counted per watcher."""
    with httpx.Client(base_url=emulator.base_url, headers=harness.REST_HEADERS, timeout=60) as rest:
        thread, [run_id] = _resting_runs(rest, 1)
        _submit(rest, thread, run_id)
    async with grpc.aio.insecure_channel(gateway.target) as channel:
        [call] = _open([channel], thread, [run_id], 1)
        if not await _read_to_the_end(call):
            raise RuntimeError("the warm-up watch did not end with its run completed")


async def _scenario(
    emulator: harness.Emulator, gateway: harness.Server, name: str, runs: int, watchers: int, window: float
) -> WatchSample:
    with httpx.Client(base_url=emulator.base_url, headers=harness.REST_HEADERS, timeout=60) as rest:
        thread, resting = _resting_runs(rest, runs)
        rss_before = gateway.rss_kib()
        channels = [
            grpc.aio.insecure_channel(gateway.target) for _ in range(-(-watchers // STREAMS_PER_CHANNEL))
        ]
        try:
            calls = _open(channels, thread, resting, watchers)
            firsts = await asyncio.gather(*(call.read() for call in calls))
            if not all(isinstance(f, pb.WatchRunResponse) and f.run.status == RESTING for f in firsts):
                raise RuntimeError("a watcher's first message is not the resting run")
            emulator.forget_requests()
            cpu_before, started = harness.cpu_seconds(gateway.process.pid), time.monotonic()
            rss_during = gateway.rss_kib()
            await asyncio.sleep(window)
            seconds = time.monotonic() - started
            cpu = harness.cpu_seconds(gateway.process.pid) - cpu_before
            gets = _gets_of(emulator, thread, set(resting))
            for run_id in resting:
                _submit(rest, thread, run_id)
            completed = sum(await asyncio.gather(*(_read_to_the_end(call) for call in calls)))
        finally:
            for channel in channels:
                await channel.close(None)
    return WatchSample(
        name,
        runs,
        watchers,
        round(seconds, 2),
        gets,
        round(gets / seconds, 2),
        round(cpu, 3),
        rss_before,
        rss_during,
        round((rss_during - rss_before) / watchers, 2),
        completed,
    )


def _open(
    channels: Sequence[grpc.aio.Channel], thread: str, runs: Sequence[str], watchers: int
) -> list[grpc.aio.UnaryStreamCall[pb.WatchRunRequest, pb.WatchRunResponse]]:
    stubs = [pb_grpc.RunsServiceStub(channel) for channel in channels]  # type: ignore[no-untyped-call]
    return [
        stubs[i // STREAMS_PER_CHANNEL].WatchRun(
            pb.WatchRunRequest(thread_id=thread, run_id=runs[i % len(runs)]), timeout=300
        )
        for i in range(watchers)
    ]


def _resting_runs(rest: httpx.Client, count: int) -> tuple[str, list[str]]:
    """A thread and `count` runs of it resting in `requires_action` (the emulator moves at once)."""
    assistant = rest.post("/assistants", json={"model": "gpt-4", "tools": [TOOL]}).raise_for_status().json()
    thread = rest.post("/threads", json={}).raise_for_status().json()["id"]
    runs = [
        rest.post(f"/threads/{thread}/runs", json={"assistant_id": assistant["id"]}).raise_for_status().json()
        for _ in range(count)
    ]
    for created in runs:  # a GET moves a run along: it is in requires_action after it
        rest.get(f"/threads/{thread}/runs/{created['id']}").raise_for_status()
    return thread, [created["id"] for created in runs]


def _submit(rest: httpx.Client, thread: str, run_id: str) -> None:
    run = rest.get(f"/threads/{thread}/runs/{run_id}").raise_for_status().json()
    calls = run["required_action"]["submit_tool_outputs"]["tool_calls"]
    outputs = [{"tool_call_id": call["id"], "output": "42"} for call in calls]
    url = f"/threads/{thread}/runs/{run_id}/submit_tool_outputs"
    rest.post(url, json={"tool_outputs": outputs}).raise_for_status()


def _gets_of(emulator: harness.Emulator, thread: str, runs: set[str]) -> int:
    log = httpx.get(f"{emulator.admin_url}/requests", timeout=60, trust_env=False).raise_for_status().json()
    prefix = f"/v1/threads/{thread}/runs/"
    return sum(1 for r in log if r["method"] == "GET" and r["path"].removeprefix(prefix) in runs)


async def _read_to_the_end(call: grpc.aio.UnaryStreamCall[pb.WatchRunRequest, pb.WatchRunResponse]) -> bool:
    last: pb.WatchRunResponse | None = None
    while (message := await call.read()) is not grpc.aio.EOF:  # type: ignore[attr-defined]
        last = cast(pb.WatchRunResponse, message)
    ok = await call.code() == grpc.StatusCode.OK
    return ok and last is not None and last.run.status == res.RUN_STATUS_COMPLETED


def main() -> None:
    """Run the scenarios alone and print them as JSON lines."""
    with harness.emulator() as emulator:
        for sample in run(emulator, FULL).samples:
            print(json.dumps(asdict(sample)))


if __name__ == "__main__":
    main()
