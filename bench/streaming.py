"""Streaming lists on loopback: every run of a seeded thread through ListRuns, against the SDKs'
auto-pagination, in Python and in Node.

Every client reads the same thread of the same emulator with the same page size (`limit`), and every pass
is checked against the list (`listing`). ListRuns streams one message per upstream page; the clients:

- Python: the gateway's stream with grpc.aio and with grpc sync, against openai-python's auto-pagination with
  its sync and its asyncio client (the headline compares the faster of each);
- Node (bench/node, when installed): the gateway's stream with @grpc/grpc-js against openai-node's
  auto-pagination (`for await`);
- where the time goes: gRPC's own floor (`floor`: a bare grpc.aio server streaming as many prebuilt page
  messages, no REST behind it), ListRunsPage called by hand page after page, and the bare REST pages read
  with httpx (JSON parsed, no models). The cost of converting a page as the gateway does, and of encoding
  and decoding it, is measured in this process.

Besides wall-clock time, every pass records the CPU time of each process. `take_turns` and the client
wrappers are shared with the slow-upstream scenario (`slow_upstream`).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from runs_gateway.assistants.v1 import runs_service_pb2 as pb

from bench import nodeclient, readers
from bench.floor import floor
from bench.harness import REST_HEADERS, Emulator, Server
from bench.listing import Listing, seed
from bench.measure import Meter, Usage, rotation
from bench.nodeclient import NodeRead, NodeWorker
from bench.readers import Read
from bench.sizes import Sizes
from gateway.convert import to_message

JSON = dict[str, Any]

CLIENTS = {
    "gateway": "gateway ListRuns stream, grpc.aio client",
    "gateway_sync": "gateway ListRuns stream, grpc sync client",
    "sdk": "openai-python auto-pagination, OpenAI (sync)",
    "sdk_async": "openai-python auto-pagination, AsyncOpenAI (async)",
    "node_gateway": "gateway ListRuns stream, Node @grpc/grpc-js client",
    "node_sdk": "openai-node auto-pagination (for await)",
    "floor": "gRPC floor: bare grpc.aio server, prebuilt pages, grpc.aio client",
    "gateway_pages": "gateway ListRunsPage by hand, a call per page, grpc.aio client",
    "rest_pages": "REST pages, httpx sync, JSON parsed, no models",
}
GATEWAY_STREAMS = ("gateway", "gateway_sync")
SDK_CLIENTS = ("sdk", "sdk_async")
NODE_CLIENTS = ("node_gateway", "node_sdk")


@dataclass(frozen=True)
class StreamSample:
    """One client's pass over the whole list: runs read, gRPC messages or REST pages (None: the client
    does not say), time and CPU of each process."""

    items: int
    messages: int | None
    usage: Usage


Reader = Callable[[Listing], StreamSample]  # one checked pass over a list


@dataclass(frozen=True)
class StreamingResult:
    """The streaming scenario. Costs are microseconds per run, measured in this process on one page."""

    runs: int
    page_size: int
    page_bytes: int  # the JSON body of one full page
    sdk_version: str | None  # None: no SDK with `beta.threads.runs` installed, its clients were left out
    node_skipped: str | None  # why the Node clients were left out (None: they ran)
    samples: dict[str, list[StreamSample]]  # keys of CLIENTS
    convert_us: float  # a REST page -> ListRunsResponse, as the gateway converts every page
    encode_us: float  # ListRunsResponse.SerializeToString, the gateway's side of the wire
    decode_us: float  # ListRunsResponse.FromString, the client's side

    def fastest(self, names: Sequence[str]) -> str | None:
        """Of the clients `names` that ran, the one with the lowest median time (None: none ran)."""
        return fastest(self.samples, names)


def fastest(samples: dict[str, list[StreamSample]], names: Sequence[str]) -> str | None:
    """Of the clients `names` in `samples`, the one with the lowest median time (None: none ran)."""
    ran = [name for name in names if name in samples]
    return min(ran, key=lambda name: statistics.median(s.usage.wall for s in samples[name]), default=None)


def run(emulator: Emulator, gateway: Server, node: NodeWorker | None, sizes: Sizes) -> StreamingResult:
    """Every run of a thread of `sizes.stream_runs` runs, read by each client in turn."""
    listing, warm = seed(emulator, sizes.stream_runs), seed(emulator, 2 * sizes.page_size + 1)
    page, body = first_page(emulator, listing.thread_id, sizes.page_size)
    with floor(page["data"][0], sizes.stream_runs, sizes.page_size) as bare:
        clients = _clients(emulator, gateway, (bare, sizes.stream_runs), node, sizes.page_size)
        samples = take_turns(clients, listing, warm, sizes.repetitions)
    emulator.forget_requests()
    convert, encode, decode = conversion_costs(page["data"])
    skipped = None if node is not None else nodeclient.unavailable() or "not asked for"
    return StreamingResult(
        sizes.stream_runs,
        sizes.page_size,
        body,
        readers.sdk_version(),
        skipped,
        samples,
        convert,
        encode,
        decode,
    )


def take_turns(
    clients: dict[str, Reader], listing: Listing, warm: Listing, repetitions: int
) -> dict[str, list[StreamSample]]:
    """Each client reads `warm` once (imports done lazily, connections, caches, the JIT), then `listing`
    once per repetition, the clients taking turns, each going first in turn."""
    for read in clients.values():
        read(warm)
    samples: dict[str, list[StreamSample]] = {name: [] for name in clients}
    for repetition in range(repetitions):
        for name in rotation(list(clients), repetition):
            samples[name].append(clients[name](listing))
    return samples


def _clients(
    emulator: Emulator, gateway: Server, floor: tuple[Server, int], node: NodeWorker | None, limit: int
) -> dict[str, Reader]:
    """Each client of CLIENTS that can run here. The floor streams as many runs whatever it is asked; its
    own CPU is counted as the gateway's, the role it stands in for."""
    (bare, floor_runs), target, base_url = floor, gateway.target, emulator.base_url
    meter = Meter({"gateway": gateway.process.pid, "emulator": emulator.process.pid})
    bare_meter = Meter({"gateway": bare.process.pid, "emulator": emulator.process.pid})
    clients: dict[str, Reader] = {
        "gateway": python("gateway", lambda t: asyncio.run(readers.gateway_stream(target, t, limit, meter))),
        "gateway_sync": python(
            "gateway_sync", lambda t: readers.gateway_stream_sync(target, t, limit, meter)
        ),
        "sdk": python("sdk", lambda t: readers.sdk(base_url, t, limit, meter)),
        "sdk_async": python("sdk_async", lambda t: asyncio.run(readers.sdk_async(base_url, t, limit, meter))),
        "floor": counted(
            "floor",
            lambda t: asyncio.run(readers.gateway_stream(bare.target, t, limit, bare_meter)),
            floor_runs,
        ),
        "gateway_pages": python(
            "gateway_pages", lambda t: asyncio.run(readers.gateway_pages(target, t, limit, meter))
        ),
        "rest_pages": python("rest_pages", lambda t: readers.rest_pages(base_url, t, limit, meter)),
    }
    if node is not None:
        clients["node_gateway"] = from_node(
            "node_gateway", lambda listing: node.gateway(target, listing, limit, meter)
        )
        clients["node_sdk"] = from_node("node_sdk", lambda listing: node.sdk(base_url, listing, limit, meter))
    if readers.sdk_version() is None:
        return {name: read for name, read in clients.items() if name not in SDK_CLIENTS}
    return {name: clients[name] for name in CLIENTS if name in clients}


def python(name: str, read: Callable[[str], Read]) -> Reader:
    """A Python client as a `Reader`: it reads the thread, and what it read is checked against the list."""

    def reader(listing: Listing) -> StreamSample:
        done = read(listing.thread_id)
        listing.check(name, done.ids)
        return StreamSample(len(done.ids), done.messages, done.usage)

    return reader


def counted(name: str, read: Callable[[str], Read], count: int) -> Reader:
    """A client of the floor, which streams `count` copies of one run whatever it is asked: only their
    number is checked."""

    def reader(listing: Listing) -> StreamSample:
        done = read(listing.thread_id)
        if len(done.ids) != count:
            raise RuntimeError(f"{name} read {len(done.ids)} runs, not {count}")
        return StreamSample(len(done.ids), done.messages, done.usage)

    return reader


def from_node(name: str, read: Callable[[Listing], NodeRead]) -> Reader:
    """A read of the Node worker as a `Reader`, checked against the list (by the worker, and again here) by
    the ids' count and SHA-256."""

    def reader(listing: Listing) -> StreamSample:
        done = read(listing)
        listing.check_digest(name, done.items, done.ids_sha256, done.first_id, done.last_id)
        return StreamSample(done.items, done.messages, done.usage)

    return reader


def first_page(emulator: Emulator, thread_id: str, page_size: int) -> tuple[JSON, int]:
    """The first page of a thread's runs, and the size of its JSON body in bytes."""
    params: dict[str, str | int] = {"limit": page_size, "order": "asc"}
    with httpx.Client(base_url=emulator.base_url, headers=REST_HEADERS, trust_env=False) as rest:
        response = rest.get(f"/threads/{thread_id}/runs", params=params).raise_for_status()
    page: JSON = response.json()
    return page, len(response.content)


def conversion_costs(runs: Sequence[JSON], budget: int = 2000) -> tuple[float, float, float]:
    """Microseconds per run to convert a page (as the gateway does), serialize and parse its message: the
    best of five rounds of about `budget` runs each."""
    rounds = max(1, budget // max(len(runs), 1))
    page = list(runs)
    message = to_message({"runs": page}, pb.ListRunsResponse)
    wire = message.SerializeToString()
    per_page = max(len(page), 1)
    convert = _per_round(lambda: to_message({"runs": page}, pb.ListRunsResponse), rounds) / per_page
    encode = _per_round(message.SerializeToString, rounds) / per_page
    decode = _per_round(lambda: pb.ListRunsResponse.FromString(wire), rounds) / per_page
    return convert, encode, decode


def _per_round(work: Callable[[], object], rounds: int) -> float:
    """Microseconds per call of `work`: the best of five timings of `rounds` calls."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(rounds):
            work()
        best = min(best, (time.perf_counter() - started) / rounds)
    return best * 1e6
