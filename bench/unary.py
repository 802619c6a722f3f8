"""Unary overhead: GetRun through the gateway against the same GET sent straight to the emulator with httpx.

At each concurrency, each client in turn (see `measure.rotation`) makes a fixed number of requests from that
many concurrent callers, each calling again as soon as answered (a closed loop): latency percentiles come
from every request, throughput from the whole block. The clients:

- `gateway`: one grpc.aio channel (one HTTP/2 connection) -> the gateway -> its pooled httpx client -> the
  emulator;
- `direct`: one shared httpx.AsyncClient with the gateway's own pool limits -> the emulator, which is what
  the gateway does upstream and what httpx recommends;
- `direct_per_caller`: one httpx.AsyncClient per caller (one connection each), the fastest way to use httpx
  here: its shared pool costs CPU that grows with the number of callers.

At the lowest concurrency (one caller) and the highest, the limits (`floor`), each read with a grpc.aio
channel, its server's CPU counted as the gateway's, the role it stands in:

- `lean`: a lean server, a bare grpc.aio server whose GetRun makes the same GET with aiohttp, `json.loads`
  and the gateway's conversion, nothing else: what the work costs without the gateway's machinery;
- `floor`: gRPC alone, a bare grpc.aio server answering a prebuilt GetRunResponse: no server does less.

At the lowest concurrency, the synchronous clients too, as a sequential caller would use them (a call blocks
the loop, which has nothing else to do): `gateway_sync` (a grpc sync channel) and `direct_sync` (one
httpx.Client).

Every client parses the answer (protobuf or JSON). Right before each measured block the client makes a few
calls of its own, so every connection on its path is open: the emulator closes connections idle for 5 s.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import partial

import grpc
import httpx
from runs_gateway.assistants.v1 import runs_service_pb2 as pb
from runs_gateway.assistants.v1 import runs_service_pb2_grpc as pb_grpc

from bench import floor
from bench.harness import REST_HEADERS, Emulator, Seeded, Server
from bench.measure import Meter, Usage, rotation
from bench.sizes import Sizes
from bench.stats import percentile

Call = Callable[[], Awaitable[object]]

CLIENTS = {
    "gateway": "gateway, grpc.aio client",
    "gateway_sync": "gateway, grpc sync client",
    "direct": "direct, httpx async, one shared client",
    "direct_sync": "direct, httpx sync client",
    "direct_per_caller": "direct, httpx async, one client per caller",
    "lean": "lean server (grpc.aio + aiohttp), grpc.aio client",
    "floor": "gRPC floor (prebuilt answer), grpc.aio client",
}
FLOORS = ("lean", "floor")  # at the lowest and highest concurrency
SYNC = ("gateway_sync", "direct_sync")  # at the lowest concurrency
# Like the gateway's own upstream client (gateway/upstream.py, --max-connections 100).
POOL = httpx.Limits(max_connections=100, max_keepalive_connections=100)
ONE_CONNECTION = httpx.Limits(max_connections=1, max_keepalive_connections=1)


@dataclass(frozen=True)
class LoadSample:
    """One client's repetition at one concurrency: latency percentiles, throughput, CPU of each process."""

    requests: int
    p50_ms: float
    p99_ms: float
    rps: float
    usage: Usage


@dataclass(frozen=True)
class Level:
    """Every repetition of every client (keys of CLIENTS) at one concurrency."""

    concurrency: int
    requests: int  # per repetition
    samples: dict[str, list[LoadSample]]


@dataclass(frozen=True)
class UnaryResult:
    """The unary scenario: one level per concurrency, in increasing order."""

    levels: list[Level]


def run(emulator: Emulator, gateway: Server, sizes: Sizes) -> UnaryResult:
    """GetRun of one completed run through the gateway, its limits and straight to the emulator, at each
    concurrency."""
    seeded = emulator.seed(1)
    path = f"/threads/{seeded.thread_id}/runs/{seeded.first_id}"
    with httpx.Client(base_url=emulator.base_url, headers=REST_HEADERS, trust_env=False) as rest:
        answer = rest.get(path).raise_for_status().json()
    with floor.server("lean", upstream=emulator.base_url) as lean, floor.server("getrun", run=answer) as bare:
        servers = {"gateway": gateway, "lean": lean, "floor": bare}
        return asyncio.run(_run(emulator, servers, seeded, sizes))


async def _run(emulator: Emulator, servers: dict[str, Server], seeded: Seeded, sizes: Sizes) -> UnaryResult:
    meters = {
        name: Meter({"gateway": s.process.pid, "emulator": emulator.process.pid})
        for name, s in servers.items()
    }
    path = f"/threads/{seeded.thread_id}/runs/{seeded.first_id}"
    request = pb.GetRunRequest(thread_id=seeded.thread_id, run_id=seeded.first_id)
    levels, concurrencies = [], sorted(sizes.concurrency)
    async with AsyncExitStack() as stack:
        shared = await stack.enter_async_context(_rest(emulator, POOL))
        stubs = {name: await stack.enter_async_context(_stub(s.target)) for name, s in servers.items()}
        sync = stack.enter_context(_SyncClients(emulator, servers["gateway"].target))
        for concurrency in concurrencies:
            async with _clients(emulator, concurrency) as own:
                callers: dict[str, list[Call]] = {
                    "gateway": [partial(stubs["gateway"].GetRun, request)] * concurrency,
                    "direct": [partial(_get_json, shared, path)] * concurrency,
                    "direct_per_caller": [partial(_get_json, client, path) for client in own],
                }
                if concurrency == concurrencies[0]:
                    callers |= sync.callers(request, path)
                if concurrency in (concurrencies[0], concurrencies[-1]):
                    callers |= {name: [partial(stubs[name].GetRun, request)] * concurrency for name in FLOORS}
                ordered = {name: callers[name] for name in CLIENTS if name in callers}
                levels.append(await _level(ordered, concurrency, sizes, meters))
            emulator.forget_requests()
    return UnaryResult(levels)


@asynccontextmanager
async def _stub(target: str) -> AsyncIterator[pb_grpc.RunsServiceStub]:
    async with grpc.aio.insecure_channel(target) as channel:
        yield pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]


class _SyncClients:
    """A grpc sync channel to the gateway and an httpx.Client to the emulator, each call made on the loop's
    thread (it blocks the loop: one caller only)."""

    def __init__(self, emulator: Emulator, target: str) -> None:
        self._channel = grpc.insecure_channel(target)
        self._stub = pb_grpc.RunsServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._rest = httpx.Client(base_url=emulator.base_url, headers=REST_HEADERS, trust_env=False)

    def __enter__(self) -> _SyncClients:
        return self

    def __exit__(self, *exc: object) -> None:
        self._rest.close()
        self._channel.close()

    def callers(self, request: pb.GetRunRequest, path: str) -> dict[str, list[Call]]:
        async def gateway() -> object:
            return self._stub.GetRun(request)

        async def direct() -> object:
            try:
                response = self._rest.get(path)
            except STALE_CONNECTION:
                response = self._rest.get(path)
            return response.raise_for_status().json()

        return {"gateway_sync": [gateway], "direct_sync": [direct]}


def _rest(emulator: Emulator, limits: httpx.Limits) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=emulator.base_url, headers=REST_HEADERS, limits=limits, trust_env=False)


@asynccontextmanager
async def _clients(emulator: Emulator, count: int) -> AsyncIterator[list[httpx.AsyncClient]]:
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(_rest(emulator, ONE_CONNECTION)) for _ in range(count)]


# What a kept-alive connection raises when the emulator closed it just as it was reused: the emulator
# (uvicorn) closes connections idle for 5 s, as a pooled one can be on a loaded machine. The gateway retries
# such a GET upstream, and so does the direct client (once).
STALE_CONNECTION = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)


async def _get_json(client: httpx.AsyncClient, path: str) -> object:
    try:
        response = await client.get(path)
    except STALE_CONNECTION:
        response = await client.get(path)
    response.raise_for_status()
    return response.json()  # parsed, as the gRPC client parses its answer


async def _level(
    callers: dict[str, list[Call]], concurrency: int, sizes: Sizes, meters: dict[str, Meter]
) -> Level:
    requests = max(sizes.requests, sizes.requests_per_caller * concurrency)
    samples: dict[str, list[LoadSample]] = {name: [] for name in callers}
    for repetition in range(sizes.repetitions):
        for name in rotation(list(callers), repetition):
            await load(callers[name], 2 * concurrency)  # warm-up: every connection on the path open
            meter = meters.get(name, meters["gateway"])  # a floor's server stands in the gateway's role
            samples[name].append(await load(callers[name], requests, meter))
    return Level(concurrency, requests, samples)


async def load(callers: Sequence[Call], requests: int, meter: Meter | None = None) -> LoadSample:
    """`requests` calls in all, made by concurrent callers that each call again as soon as answered."""
    latencies: list[float] = []
    remaining = requests

    async def caller(call: Call) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    with (meter or Meter({})).measure() as measured:
        await asyncio.gather(*(caller(call) for call in callers))
    usage = measured.result()
    p50, p99 = percentile(latencies, 50) * 1e3, percentile(latencies, 99) * 1e3
    return LoadSample(requests, p50, p99, requests / usage.wall, usage)
