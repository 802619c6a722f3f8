"""Streaming lists: every run of a seeded thread through ListRuns against the openai SDK's auto-pagination.

Both sides read the same thread of the same emulator with the same page size (`limit`). Each side is
measured with its synchronous and its asyncio client; the headline compares the faster of each. Three more
clients say where the time goes: gRPC's own floor (`floor`: a bare grpc.aio server streaming as many
prebuilt messages, no REST behind it), the same list paged by hand through ListRunsPage (one gRPC message per
page instead of one per run), and the bare REST pages read with httpx (JSON parsed, no models). Besides
wall-clock time, every pass records the CPU time of each process, and the cost of converting one run as
the gateway does is measured in this process.

The SDK is the one pinned in the `bench` extra (the newest with `client.beta.threads.runs`); it sends
`OpenAI-Beta: assistants=v2` unless a call says otherwise, so every call passes `extra_headers` with
`assistants=v1`. Without that SDK (a plain `dev` install), its clients are left out.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import statistics
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
from runs_gateway.assistants.v1 import runs_service_pb2 as pb
from runs_gateway.assistants.v1 import runs_service_pb2_grpc as pb_grpc

from bench.floor import floor
from bench.harness import API_KEY, REST_HEADERS, Emulator, Server
from bench.measure import Meter, Usage, rotation
from bench.sizes import Sizes
from gateway.convert import to_message

JSON = dict[str, Any]
SDK_HEADERS = {"OpenAI-Beta": "assistants=v1"}

CLIENTS = {
    "gateway": "gateway ListRuns stream, grpc.aio client",
    "gateway_sync": "gateway ListRuns stream, grpc sync client",
    "sdk": "openai SDK auto-pagination, sync client",
    "sdk_async": "openai SDK auto-pagination, async client",
    "floor": "gRPC floor: bare grpc.aio server, prebuilt messages",
    "gateway_pages": "gateway ListRunsPage by hand, one message per page",
    "rest_pages": "REST pages with httpx, JSON parsed, no models",
}
GATEWAY_STREAMS = ("gateway", "gateway_sync")
SDK_CLIENTS = ("sdk", "sdk_async")


@dataclass(frozen=True)
class StreamSample:
    """One client's pass over the whole list: items it counted, time and CPU of each process."""

    items: int
    usage: Usage


@dataclass(frozen=True)
class StreamingResult:
    """The streaming scenario. Costs are microseconds per run, measured in this process on one page."""

    runs: int
    page_size: int
    page_bytes: int  # the JSON body of one full page
    sdk_version: str | None  # None: no SDK with `beta.threads.runs` installed, its clients were left out
    samples: dict[str, list[StreamSample]]  # keys of CLIENTS
    convert_us: float  # REST JSON -> ListRunsResponse, as the gateway converts every item
    encode_us: float  # ListRunsResponse.SerializeToString, the gateway's side of the wire
    decode_us: float  # ListRunsResponse.FromString, the client's side

    def fastest(self, names: Sequence[str]) -> str | None:
        """Of the clients `names` that ran, the one with the lowest median time (None: none ran)."""
        ran = [name for name in names if name in self.samples]
        return min(
            ran, key=lambda name: statistics.median(s.usage.wall for s in self.samples[name]), default=None
        )


def sdk_version() -> str | None:
    """The installed openai SDK's version if it still has `client.beta.threads.runs`, else None."""
    if importlib.util.find_spec("openai") is None:
        return None
    if importlib.util.find_spec("openai.resources.beta.threads.runs") is None:
        return None
    return importlib.metadata.version("openai")


def run(emulator: Emulator, gateway: Server, sizes: Sizes) -> StreamingResult:
    """Every run of a thread of `sizes.stream_runs` runs, read by each client in turn."""
    seeded, warm = emulator.seed(sizes.stream_runs), emulator.seed(2 * sizes.page_size + 1)
    page, body = first_page(emulator, seeded.thread_id, sizes.page_size)
    with floor(page["data"][0], sizes.stream_runs) as bare:
        clients = _clients(emulator, gateway, bare, sizes.page_size)
        for read in clients.values():
            read(warm.thread_id)  # warm-up: imports done lazily, connections, caches
        samples: dict[str, list[StreamSample]] = {name: [] for name in clients}
        for repetition in range(sizes.repetitions):
            for name in rotation(list(clients), repetition):
                samples[name].append(clients[name](seeded.thread_id))
    emulator.forget_requests()
    convert, encode, decode = conversion_costs(page["data"])
    return StreamingResult(
        sizes.stream_runs, sizes.page_size, body, sdk_version(), samples, convert, encode, decode
    )


def _clients(
    emulator: Emulator, gateway: Server, bare: Server, size: int
) -> dict[str, Callable[[str], StreamSample]]:
    """Each client as a function of the thread it reads; all of CLIENTS, less the SDK's when missing. The
    floor's own CPU is counted as the gateway's, the role it stands in for."""
    target, base_url = gateway.target, emulator.base_url
    meter = Meter({"gateway": gateway.process.pid, "emulator": emulator.process.pid})
    bare_meter = Meter({"gateway": bare.process.pid, "emulator": emulator.process.pid})
    clients: dict[str, Callable[[str], StreamSample]] = {
        "gateway": lambda thread: asyncio.run(gateway_stream(target, thread, size, meter)),
        "gateway_sync": lambda thread: _gateway_stream_sync(target, thread, size, meter),
        "sdk": lambda thread: _sdk(base_url, thread, size, meter),
        "sdk_async": lambda thread: asyncio.run(_sdk_async(base_url, thread, size, meter)),
        "floor": lambda thread: asyncio.run(gateway_stream(bare.target, thread, size, bare_meter)),
        "gateway_pages": lambda thread: asyncio.run(_gateway_pages(target, thread, size, meter)),
        "rest_pages": lambda thread: _rest_pages(base_url, thread, size, meter),
    }
    if sdk_version() is None:
        return {name: read for name, read in clients.items() if name not in SDK_CLIENTS}
    return clients


async def gateway_stream(
    target: str, thread_id: str, page_size: int, meter: Meter, progress: list[int] | None = None
) -> StreamSample:
    """Count the runs ListRuns streams through a grpc.aio channel (in `progress[0]` as they come)."""
    counter = progress if progress is not None else [0]
    request = pb.ListRunsRequest(thread_id=thread_id, limit=page_size, order=pb.LIST_ORDER_ASC)
    async with grpc.aio.insecure_channel(target) as channel:
        await channel.channel_ready()
        stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
        with meter.measure() as measured:
            async for _ in stub.ListRuns(request):
                counter[0] += 1
    return StreamSample(counter[0], measured.result())


def _gateway_stream_sync(target: str, thread_id: str, page_size: int, meter: Meter) -> StreamSample:
    request = pb.ListRunsRequest(thread_id=thread_id, limit=page_size, order=pb.LIST_ORDER_ASC)
    with grpc.insecure_channel(target) as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
        with meter.measure() as measured:
            items = sum(1 for _ in stub.ListRuns(request))
    return StreamSample(items, measured.result())


async def _gateway_pages(target: str, thread_id: str, page_size: int, meter: Meter) -> StreamSample:
    items, after = 0, ""
    async with grpc.aio.insecure_channel(target) as channel:
        await channel.channel_ready()
        stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
        with meter.measure() as measured:
            while True:
                request = pb.ListRunsPageRequest(
                    thread_id=thread_id, limit=page_size, order=pb.LIST_ORDER_ASC, after=after
                )
                page = await stub.ListRunsPage(request)
                items += len(page.data)
                if not page.has_more:
                    break
                after = page.last_id
    return StreamSample(items, measured.result())


def _rest_pages(base_url: str, thread_id: str, page_size: int, meter: Meter) -> StreamSample:
    items = 0
    params: dict[str, str | int] = {"limit": page_size, "order": "asc"}
    rest = httpx.Client(base_url=base_url, headers=REST_HEADERS, trust_env=False)
    with rest, meter.measure() as measured:
        while True:
            page = rest.get(f"/threads/{thread_id}/runs", params=params).raise_for_status().json()
            items += len(page["data"])
            if not page["has_more"]:
                break
            params = {**params, "after": page["last_id"]}
    return StreamSample(items, measured.result())


@contextmanager
def _deprecation_ignored() -> Iterator[None]:
    """The SDK marks the Assistants API deprecated on every call."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _sdk(base_url: str, thread_id: str, page_size: int, meter: Meter) -> StreamSample:
    import openai

    client = openai.OpenAI(api_key=API_KEY, base_url=base_url, max_retries=0)
    with client, _deprecation_ignored(), meter.measure() as measured:
        runs = client.beta.threads.runs.list(
            thread_id, limit=page_size, order="asc", extra_headers=SDK_HEADERS
        )
        items = sum(1 for _ in runs)  # iterating the first page follows the cursors
    return StreamSample(items, measured.result())


async def _sdk_async(base_url: str, thread_id: str, page_size: int, meter: Meter) -> StreamSample:
    import openai

    items = 0
    async with openai.AsyncOpenAI(api_key=API_KEY, base_url=base_url, max_retries=0) as client:
        with _deprecation_ignored(), meter.measure() as measured:
            runs = client.beta.threads.runs.list(
                thread_id, limit=page_size, order="asc", extra_headers=SDK_HEADERS
            )
            async for _ in runs:
                items += 1
    return StreamSample(items, measured.result())


def first_page(emulator: Emulator, thread_id: str, page_size: int) -> tuple[JSON, int]:
    """The first page of a thread's runs, and the size of its JSON body in bytes."""
    params: dict[str, str | int] = {"limit": page_size, "order": "asc"}
    with httpx.Client(base_url=emulator.base_url, headers=REST_HEADERS, trust_env=False) as rest:
        response = rest.get(f"/threads/{thread_id}/runs", params=params).raise_for_status()
    page: JSON = response.json()
    return page, len(response.content)


def conversion_costs(runs: Sequence[JSON], budget: int = 2000) -> tuple[float, float, float]:
    """Microseconds per run to convert (as the gateway does), serialize and parse a streamed item: the best
    of five rounds of about `budget` runs each."""
    rounds = max(1, budget // max(len(runs), 1))
    messages = [to_message({"run": run}, pb.ListRunsResponse) for run in runs]
    wire = [message.SerializeToString() for message in messages]
    convert = _per_item(lambda: [to_message({"run": run}, pb.ListRunsResponse) for run in runs], rounds)
    encode = _per_item(lambda: [message.SerializeToString() for message in messages], rounds)
    decode = _per_item(lambda: [pb.ListRunsResponse.FromString(data) for data in wire], rounds)
    return convert, encode, decode


def _per_item(work: Callable[[], Sequence[object]], rounds: int) -> float:
    best = float("inf")
    for _ in range(5):
        started, items = time.perf_counter(), 0
        for _ in range(rounds):
            items += len(work())
        best = min(best, (time.perf_counter() - started) / max(items, 1))
    return best * 1e6
