"""The Python clients that read a whole list of runs, each pass measured with a `Meter`.

- through the gateway: the ListRuns stream with a grpc.aio and a grpc sync client (one message per upstream
  page: each message's `runs` are counted), and ListRunsPage called page after page by hand;
- straight to the emulator: the openai SDK's auto-pagination (sync and asyncio), and the bare REST pages read
  with httpx (JSON parsed, no models).

Every reader keeps the ids it reads, in order, inside the measured block (as a caller keeping the list
would) and returns them with what the pass cost, so the scenario can check it read exactly the list.
A `limit` of 0 leaves the request's page size unset: the gateway then asks for pages of 100, the SDK and the
REST API use the API's default of 20.

The SDK is the one pinned in the `bench` extra (the newest with `client.beta.threads.runs`); it sends
`OpenAI-Beta: assistants=v2` unless a call says otherwise, so every call passes `extra_headers` with
`assistants=v1`.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
from runs_gateway.assistants.v1 import runs_service_pb2 as pb
from runs_gateway.assistants.v1 import runs_service_pb2_grpc as pb_grpc

from bench.harness import API_KEY, REST_HEADERS
from bench.measure import Meter, Usage

SDK_HEADERS = {"OpenAI-Beta": "assistants=v1"}


@dataclass(frozen=True)
class Read:
    """One pass over a list: the ids read in order, what it cost, and how many gRPC messages or REST pages
    it took (None: the client does not say, as the SDK's auto-pagination)."""

    ids: list[str]
    usage: Usage
    messages: int | None


def sdk_version() -> str | None:
    """The installed openai SDK's version if it still has `client.beta.threads.runs`, else None."""
    if importlib.util.find_spec("openai") is None:
        return None
    if importlib.util.find_spec("openai.resources.beta.threads.runs") is None:
        return None
    return importlib.metadata.version("openai")


def _list_request(thread_id: str, limit: int) -> pb.ListRunsRequest:
    return pb.ListRunsRequest(thread_id=thread_id, limit=limit, order=pb.LIST_ORDER_ASC)


async def gateway_stream(
    target: str, thread_id: str, limit: int, meter: Meter, progress: list[int] | None = None
) -> Read:
    """Every run ListRuns streams, through a grpc.aio channel; `progress[0]` counts the runs as they come."""
    counter = progress if progress is not None else [0]
    ids: list[str] = []
    messages = 0
    async with grpc.aio.insecure_channel(target) as channel:
        await channel.channel_ready()
        stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
        with meter.measure() as measured:
            async for message in stub.ListRuns(_list_request(thread_id, limit)):
                messages += 1
                ids += [run.id for run in message.runs]
                counter[0] += len(message.runs)
    return Read(ids, measured.result(), messages)


def gateway_stream_sync(target: str, thread_id: str, limit: int, meter: Meter) -> Read:
    """Every run ListRuns streams, through a synchronous grpc channel."""
    ids: list[str] = []
    messages = 0
    with grpc.insecure_channel(target) as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
        with meter.measure() as measured:
            for message in stub.ListRuns(_list_request(thread_id, limit)):
                messages += 1
                ids += [run.id for run in message.runs]
    return Read(ids, measured.result(), messages)


async def gateway_pages(target: str, thread_id: str, limit: int, meter: Meter) -> Read:
    """Every run, one ListRunsPage call per page, following `last_id` by hand."""
    ids: list[str] = []
    messages, after = 0, ""
    async with grpc.aio.insecure_channel(target) as channel:
        await channel.channel_ready()
        stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
        with meter.measure() as measured:
            while True:
                request = pb.ListRunsPageRequest(
                    thread_id=thread_id, limit=limit, order=pb.LIST_ORDER_ASC, after=after
                )
                page = await stub.ListRunsPage(request)
                messages += 1
                ids += [run.id for run in page.data]
                if not page.has_more:
                    break
                after = page.last_id
    return Read(ids, measured.result(), messages)


def rest_pages(base_url: str, thread_id: str, limit: int, meter: Meter) -> Read:
    """Every run, REST page after REST page with httpx: JSON parsed, no models."""
    ids: list[str] = []
    messages = 0
    params: dict[str, str | int] = {"order": "asc", **({"limit": limit} if limit else {})}
    rest = httpx.Client(base_url=base_url, headers=REST_HEADERS, trust_env=False)
    with rest, meter.measure() as measured:
        while True:
            page = rest.get(f"/threads/{thread_id}/runs", params=params).raise_for_status().json()
            messages += 1
            ids += [run["id"] for run in page["data"]]
            if not page["has_more"]:
                break
            params = {**params, "after": page["last_id"]}
    return Read(ids, measured.result(), messages)


@contextmanager
def _deprecation_ignored() -> Iterator[None]:
    """The SDK marks the Assistants API deprecated on every call."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _sdk_arguments(limit: int) -> dict[str, Any]:
    return {"order": "asc", "extra_headers": SDK_HEADERS, **({"limit": limit} if limit else {})}


def sdk(base_url: str, thread_id: str, limit: int, meter: Meter) -> Read:
    """Every run through the SDK's synchronous client: iterating the first page follows the cursors."""
    import openai

    client = openai.OpenAI(api_key=API_KEY, base_url=base_url, max_retries=0)
    with client, _deprecation_ignored(), meter.measure() as measured:
        runs = client.beta.threads.runs.list(thread_id, **_sdk_arguments(limit))
        ids = [run.id for run in runs]
    return Read(ids, measured.result(), None)


async def sdk_async(base_url: str, thread_id: str, limit: int, meter: Meter) -> Read:
    """Every run through the SDK's asyncio client."""
    import openai

    async with openai.AsyncOpenAI(api_key=API_KEY, base_url=base_url, max_retries=0) as client:
        with _deprecation_ignored(), meter.measure() as measured:
            runs = client.beta.threads.runs.list(thread_id, **_sdk_arguments(limit))
            ids = [run.id async for run in runs]
    return Read(ids, measured.result(), None)
