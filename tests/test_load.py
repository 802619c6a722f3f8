"""Load over real sockets: one `runs-gateway` process in front of the emulator, under 200 concurrent ListRuns
streams with GetRun and CreateRun calls beside them, all from grpc.aio channels in this process.

Every stream must receive exactly its list's ids, in order (no loss, no duplicate, across pages and while
the upstream connection pool is saturated), no call may fail, one CreateRun must make one run, and the
gateway's resident memory must come back near its level after a warm-up round of the same load.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from runs_gateway.assistants.v1 import runs_service_pb2 as pb
from runs_gateway.assistants.v1 import runs_service_pb2_grpc as pb_grpc

from emulator import EmulatorConfig, EmulatorServer

KEY = "sk-load-test-key-0123456789"
STREAMS = 200
GETS = 100
CREATES = 50
CHANNELS = 2
RSS_SLACK_KIB = 25 * 1024
DEADLINE = 200.0
"""Every call's deadline: a round takes 5-10 s on a quiet machine, all calls at once; a loaded machine must
not turn that into a failure, only a hung gateway (this fails before pytest-timeout's 300 s, with a cause)."""
SETTLE = 30.0
"""How long the gateway's memory may take to come back after a round (it is measured again until then)."""
ASC, DESC = pb.LIST_ORDER_ASC, pb.LIST_ORDER_DESC


@dataclass(frozen=True)
class Listing:
    """One ListRuns request and the ids it must stream, in order."""

    thread: str
    limit: int
    order: pb.ListOrder
    after: str
    expected: tuple[str, ...]


class Emulator:
    """The emulator's REST and admin sides, to seed threads and read them back without the gateway."""

    def __init__(self, server: EmulatorServer) -> None:
        headers = {"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "assistants=v1"}
        self.rest = httpx.Client(base_url=server.base_url, headers=headers, timeout=30, trust_env=False)
        self.admin = server.base_url.removesuffix("/v1") + "/_emulator"

    def thread(self, runs: int) -> tuple[str, list[str]]:
        """A new thread with `runs` completed runs; its id and its run ids in creation order."""
        thread = self.rest.post("/threads", json={}).raise_for_status().json()["id"]
        if runs:
            self.rest.post(
                f"{self.admin}/threads/{thread}/runs:seed", json={"count": runs}
            ).raise_for_status()
        return thread, self.run_ids(thread)

    def run_ids(self, thread: str) -> list[str]:
        ids: list[str] = []
        query: dict[str, Any] = {"limit": 100, "order": "asc"}
        while True:
            page = self.rest.get(f"/threads/{thread}/runs", params=query).raise_for_status().json()
            ids += [run["id"] for run in page["data"]]
            if not page["has_more"]:
                return ids
            query["after"] = page["last_id"]

    def assistant(self) -> str:
        return str(self.rest.post("/assistants", json={"model": "gpt-4"}).raise_for_status().json()["id"])


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with EmulatorServer(EmulatorConfig(step_seconds=0.0, api_keys=frozenset({KEY}))) as server:
        emulator = Emulator(server)
        yield emulator
        emulator.rest.close()


@dataclass(frozen=True)
class GatewayProcess:
    pid: int
    target: str


@pytest.fixture(scope="module")
def gateway(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """`python -m gateway` as a real process on a free loopback port; SIGTERM stops it, with exit status 0."""
    log = tmp_path_factory.mktemp("gateway") / "stderr.log"
    command = [sys.executable, "-m", "gateway", "--listen", "127.0.0.1:0", "--log-level", "WARNING"]
    command += ["--upstream", str(emulator.rest.base_url).rstrip("/"), "--grace", "5"]
    with log.open("w") as stderr:
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, "OPENAI_API_KEY": KEY},
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("runs-gateway listening on "), (line, log.read_text())
        yield GatewayProcess(process.pid, line.rsplit(" ", 1)[-1].strip())
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()  # type: ignore[union-attr]


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """A line of /proc/PID/status, in KiB: VmRSS (resident now) or VmHWM (resident at its peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


async def settled_rss_kib(pid: int, baseline: int) -> int:
    """VmRSS once it is back within RSS_SLACK_KIB of `baseline`, or after SETTLE seconds (a loaded machine may
    take longer than a quiet one to release what a round used; a leak never does)."""
    give_up, pause = time.monotonic() + SETTLE, 1.0
    while True:
        await asyncio.sleep(pause)
        rss, pause = rss_kib(pid), 0.5
        if rss - baseline <= RSS_SLACK_KIB or time.monotonic() > give_up:
            return rss


def listings(emulator: Emulator) -> list[Listing]:
    """The lists the streams ask for: several threads, page sizes, orders and start cursors."""
    (big, big_ids), (small, small_ids), (one, one_ids), (empty, _) = (
        emulator.thread(n) for n in (250, 45, 1, 0)
    )
    return [
        Listing(big, 20, ASC, "", tuple(big_ids)),
        Listing(big, 100, DESC, "", tuple(reversed(big_ids))),
        Listing(big, 7, ASC, big_ids[99], tuple(big_ids[100:])),
        Listing(big, 0, DESC, big_ids[60], tuple(reversed(big_ids[:60]))),
        Listing(small, 10, ASC, "", tuple(small_ids)),
        Listing(small, 0, DESC, "", tuple(reversed(small_ids))),
        Listing(one, 1, ASC, "", tuple(one_ids)),
        Listing(empty, 5, DESC, "", ()),
    ]


class Gauge:
    """How many streams are open at once, and the most that were."""

    def __init__(self) -> None:
        self.open = self.peak = 0

    def __enter__(self) -> None:
        self.open += 1
        self.peak = max(self.peak, self.open)

    def __exit__(self, *exc_info: object) -> None:
        self.open -= 1


async def stream(stub: pb_grpc.RunsServiceStub, listing: Listing, gauge: Gauge) -> tuple[str, ...]:
    request = pb.ListRunsRequest(
        thread_id=listing.thread, limit=listing.limit, order=listing.order, after=listing.after
    )
    with gauge:
        return tuple(
            [run.id async for message in stub.ListRuns(request, timeout=DEADLINE) for run in message.runs]
        )


async def get(stub: pb_grpc.RunsServiceStub, thread: str, run: str) -> str:
    response = await stub.GetRun(pb.GetRunRequest(thread_id=thread, run_id=run), timeout=DEADLINE)
    return str(response.run.id)


async def create(stub: pb_grpc.RunsServiceStub, thread: str, assistant: str) -> str:
    request = pb.CreateRunRequest(thread_id=thread, assistant_id=assistant)
    response = await stub.CreateRun(request, timeout=DEADLINE)
    return str(response.run.id)


@dataclass(frozen=True)
class Round:
    seconds: float
    messages: int
    created: list[str]
    open_streams: int  # the most streams open at once


async def load_round(
    stubs: list[pb_grpc.RunsServiceStub], lists: list[Listing], creation: tuple[str, str]
) -> Round:
    """200 streams, 100 GetRun and 50 CreateRun at once, started interleaved; every result checked."""
    big, gauge = lists[0], Gauge()
    calls: list[tuple[Any, Any]] = []  # (the call, what it must answer: None for a new run's id)
    for i in range(STREAMS):
        listing = lists[i % len(lists)]
        calls.append((stream(stubs[i % len(stubs)], listing, gauge), listing.expected))
    for i in range(GETS):
        run = random.choice(big.expected)
        calls.append((get(stubs[i % len(stubs)], big.thread, run), run))
    calls += [(create(stubs[i % len(stubs)], *creation), None) for i in range(CREATES)]
    random.shuffle(calls)
    started = time.monotonic()
    results = await asyncio.gather(*(call for call, _ in calls), return_exceptions=True)
    seconds = time.monotonic() - started
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, f"{len(failures)} of {len(calls)} calls failed, first: {failures[0]!r}"
    wrong = [
        (r, expected) for r, (_, expected) in zip(results, calls, strict=True) if expected not in (None, r)
    ]
    assert not wrong, f"{len(wrong)} calls answered other than expected, first: {wrong[0]}"
    created = [str(r) for r, (_, expected) in zip(results, calls, strict=True) if expected is None]
    assert len(set(created)) == CREATES
    messages = sum(len(r) for r in results if isinstance(r, tuple))
    return Round(seconds, messages, created, gauge.peak)


async def test_200_streams_with_unary_calls_lose_nothing_and_memory_returns_to_baseline(
    emulator: Emulator, gateway: GatewayProcess
) -> None:
    lists = listings(emulator)
    assert len({listing.expected for listing in lists}) == len(lists)  # results tell their list apart
    creation = emulator.thread(0)[0], emulator.assistant()
    channels = [grpc.aio.insecure_channel(gateway.target) for _ in range(CHANNELS)]
    try:
        stubs = [pb_grpc.RunsServiceStub(channel) for channel in channels]  # type: ignore[no-untyped-call]
        started_rss = rss_kib(gateway.pid)
        warm_up = await load_round(stubs, lists, creation)
        await asyncio.sleep(1.0)
        baseline = rss_kib(gateway.pid)
        measured = await load_round(stubs, lists, creation)
        peak = rss_kib(gateway.pid, "VmHWM")
        after = await settled_rss_kib(gateway.pid, baseline)
    finally:
        for channel in channels:
            await channel.close(None)
    # One CreateRun made exactly one run: the thread holds the runs returned, each once.
    assert sorted(emulator.run_ids(creation[0])) == sorted(warm_up.created + measured.created)
    print(
        f"\nwarm-up {warm_up.seconds:.2f} s, measured {measured.seconds:.2f} s "
        f"({measured.messages} streamed runs, {STREAMS} streams, {measured.open_streams} open at once, "
        f"{GETS} GetRun, {CREATES} CreateRun); "
        f"gateway VmRSS KiB: at start {started_rss}, baseline {baseline}, after {after} "
        f"({after - baseline:+d}), peak {peak}"
    )
    assert measured.open_streams == STREAMS
    assert after - baseline <= RSS_SLACK_KIB
