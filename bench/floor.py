"""The limits the gateway is measured against: bare grpc.aio servers that do less than it, each a process.

Each mode is a server doing one thing the gateway does, and nothing else (no interceptor, no validation, no
logs, no retries, no admission), on the gateway's event loop (`gateway.server.run_event_loop`: uvloop when
installed). Its CPU is read from /proc like the gateway's, so it can stand in the gateway's row:

- `list` (gRPC's floor for a stream): ListRuns (v1) streams `--count` copies of one REST run (`--run`),
  `--page` runs a message, prebuilt: the most a Python gRPC server can stream those messages here;
- `getrun` (the unary floor): GetRun (v1) answers one prebuilt GetRunResponse, the gateway's own conversion
  (`gateway.convert.to_message`) of the REST run `--run`, done once: what gRPC alone costs per call;
- `lean` (a lean server): GetRun (v1) makes the same REST call as the gateway, with aiohttp directly (one
  ClientSession), `json.loads` and `to_message`: what the work itself costs, without the gateway's machinery;
- `events` (the floor of a streamed run): CreateRunStream (v2) streams the prebuilt messages of one run,
  read once at start from the emulator (`--upstream`, `--thread`, `--assistant`) as `lean-events` reads it;
- `lean-events` (a lean streaming server): CreateRunStream (v2) posts the run with aiohttp, reads its
  server-sent events line by line and converts each (`json.loads`, `to_message`) into a message.

`python -m bench.floor --mode MODE ...` serves on a free loopback port and prints "bench-floor listening on
127.0.0.1:PORT"; `server(...)` runs one for a `with` block.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import aiohttp
import grpc
from runs_gateway.assistants.v1 import runs_service_pb2 as pb
from runs_gateway.assistants.v1 import runs_service_pb2_grpc as pb_grpc
from runs_gateway.assistants.v2 import runs_service_pb2 as pb2
from runs_gateway.assistants.v2 import runs_service_pb2_grpc as pb2_grpc

from bench.harness import API_KEY, Server, launch
from gateway.convert import to_message
from gateway.routes import EVENTS_V2, UNKNOWN_EVENT_FIELD
from gateway.server import run_event_loop

MODES = ("list", "getrun", "lean", "events", "lean-events")
V1_HEADERS = {"Authorization": f"Bearer {API_KEY}", "OpenAI-Beta": "assistants=v1"}
V2_HEADERS = {**V1_HEADERS, "OpenAI-Beta": "assistants=v2"}
Context = grpc.aio.ServicerContext[Any, Any]


class Floor(pb_grpc.RunsServiceServicer):
    """ListRuns answers the same prebuilt messages, whatever the request."""

    def __init__(self, messages: Sequence[pb.ListRunsResponse]) -> None:
        self._messages = messages

    async def ListRuns(
        self, request: pb.ListRunsRequest, context: Context
    ) -> AsyncIterator[pb.ListRunsResponse]:
        for message in self._messages:
            yield message


class UnaryFloor(pb_grpc.RunsServiceServicer):
    """GetRun answers one prebuilt message, whatever the request."""

    def __init__(self, answer: pb.GetRunResponse) -> None:
        self._answer = answer

    async def GetRun(self, request: pb.GetRunRequest, context: Context) -> pb.GetRunResponse:
        return self._answer


class Lean(pb_grpc.RunsServiceServicer):
    """GetRun as one GET with aiohttp, the body parsed and converted: the gateway's work and no more."""

    def __init__(self, session: aiohttp.ClientSession, upstream: str) -> None:
        self._session, self._upstream = session, upstream

    async def GetRun(self, request: pb.GetRunRequest, context: Context) -> pb.GetRunResponse:
        url = f"{self._upstream}/threads/{request.thread_id}/runs/{request.run_id}"
        async with self._session.get(url) as response:
            body = await response.read()
        if response.status != 200:
            await context.abort(grpc.StatusCode.UNKNOWN, f"upstream answered {response.status}")
        return to_message({"run": json.loads(body)}, pb.GetRunResponse)


class EventsFloor(pb2_grpc.RunsServiceServicer):
    """CreateRunStream streams the same prebuilt messages of one run, whatever the request."""

    def __init__(self, messages: Sequence[pb2.CreateRunStreamResponse]) -> None:
        self._messages = messages

    async def CreateRunStream(
        self, request: pb2.CreateRunStreamRequest, context: Context
    ) -> AsyncIterator[pb2.CreateRunStreamResponse]:
        for message in self._messages:
            yield message


class LeanEvents(pb2_grpc.RunsServiceServicer):
    """CreateRunStream as one streamed POST with aiohttp, each server-sent event converted as it comes."""

    def __init__(self, session: aiohttp.ClientSession, upstream: str) -> None:
        self._session, self._upstream = session, upstream

    async def CreateRunStream(
        self, request: pb2.CreateRunStreamRequest, context: Context
    ) -> AsyncIterator[pb2.CreateRunStreamResponse]:
        async for message in streamed_run(
            self._session, self._upstream, request.thread_id, request.assistant_id
        ):
            yield message


async def streamed_run(
    session: aiohttp.ClientSession, upstream: str, thread: str, assistant: str
) -> AsyncIterator[pb2.CreateRunStreamResponse]:
    """A run's server-sent events, a message each (its name and its data in the field the name calls for),
    until `done`."""
    body = {"assistant_id": assistant, "stream": True}
    async with session.post(f"{upstream}/threads/{thread}/runs", json=body) as response:
        response.raise_for_status()
        event = ""
        async for line in response.content:
            if line.startswith(b"event:"):
                event = line[6:].strip().decode()
            elif line.startswith(b"data:"):
                if event == "done":
                    return
                yield event_message(event, line[5:].strip().decode())


def event_message(name: str, data: str) -> pb2.CreateRunStreamResponse:
    """The message of one server-sent event, converted as the gateway converts it."""
    field = EVENTS_V2.get(name)
    if field is None:
        return to_message({"event": name, UNKNOWN_EVENT_FIELD: data}, pb2.CreateRunStreamResponse)
    return to_message({"event": name, field: json.loads(data)}, pb2.CreateRunStreamResponse)


def pages(run: dict[str, Any], count: int, page: int) -> list[pb.ListRunsResponse]:
    """`count` copies of the REST run `run` converted as the gateway converts them, `page` a message."""
    full = to_message({"runs": [run] * page}, pb.ListRunsResponse)
    messages = [full] * (count // page)
    if count % page:
        messages.append(to_message({"runs": [run] * (count % page)}, pb.ListRunsResponse))
    return messages


async def serve(args: argparse.Namespace) -> None:
    """Serve the mode `args.mode` until terminated (SIGTERM ends the process)."""
    server = grpc.aio.server()
    headers = V2_HEADERS if args.mode.endswith("events") else V1_HEADERS
    async with aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(limit=100)) as session:
        await _add_servicer(server, args, session)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        print(f"bench-floor listening on 127.0.0.1:{port}", flush=True)
        await server.wait_for_termination()


async def _add_servicer(
    server: grpc.aio.Server, args: argparse.Namespace, session: aiohttp.ClientSession
) -> None:
    if args.mode == "list":
        servicer: Any = Floor(pages(args.run, args.count, args.page))
    elif args.mode == "getrun":
        servicer = UnaryFloor(to_message({"run": args.run}, pb.GetRunResponse))
    elif args.mode == "lean":
        servicer = Lean(session, args.upstream)
    elif args.mode == "events":
        run = streamed_run(session, args.upstream, args.thread, args.assistant)
        servicer = EventsFloor([message async for message in run])
    else:
        servicer = LeanEvents(session, args.upstream)
    if args.mode.endswith("events"):
        pb2_grpc.add_RunsServiceServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    else:
        pb_grpc.add_RunsServiceServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]


@contextmanager
def server(mode: str, **options: object) -> Iterator[Server]:
    """A server of `mode` for the block; `options` are its flags (`run` a dict, sent as JSON)."""
    argv = [sys.executable, "-m", "bench.floor", "--mode", mode]
    for name, value in options.items():
        argv += [f"--{name}", json.dumps(value) if isinstance(value, dict) else str(value)]
    running = launch(argv)
    try:
        yield running
    finally:
        running.stop()


def floor(run: dict[str, Any], count: int, page: int) -> AbstractContextManager[Server]:
    """gRPC's floor for a stream: `count` copies of the REST run `run`, `page` a message, for the block."""
    return server("list", run=run, count=count, page=page)


def main(argv: Sequence[str] | None = None) -> None:
    """The `python -m bench.floor` command."""
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=MODES, default="list", help="what to serve (default list)")
    parser.add_argument("--run", type=json.loads, help="list, getrun: the run, as REST JSON")
    parser.add_argument("--count", type=int, default=0, help="list: runs per ListRuns")
    parser.add_argument("--page", type=int, default=100, help="list: runs per message (default 100)")
    parser.add_argument("--upstream", help="lean, events, lean-events: the REST API's base URL")
    parser.add_argument("--thread", help="events: the thread of the run read at start")
    parser.add_argument("--assistant", help="events: its assistant")
    run_event_loop(serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
