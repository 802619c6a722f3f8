"""gRPC's own floor for a stream: a bare grpc.aio server that streams prebuilt page messages, over and over.

It does nothing the gateway does (no REST call, no JSON, no conversion, no interceptor, no logs): it streams
`N` runs as the gateway does, one message per page of `--page` runs, each run a copy of one REST run. The
rate a client reads it at is the most a Python gRPC server can stream those messages on this machine, and
the CPU it spends is gRPC's own cost. It runs on the gateway's event loop (`gateway.server.run_event_loop`:
uvloop when installed).

`python -m bench.floor --count N --page P --run JSON` serves ListRuns (every request: `N` copies of the run,
`P` a message) on a free loopback port and prints "bench-floor listening on 127.0.0.1:PORT".
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import grpc
from runs_gateway.assistants.v1 import runs_service_pb2 as pb
from runs_gateway.assistants.v1 import runs_service_pb2_grpc as pb_grpc

from bench.harness import Server, launch
from gateway.convert import to_message
from gateway.server import run_event_loop


class Floor(pb_grpc.RunsServiceServicer):
    """ListRuns answers the same prebuilt messages, whatever the request."""

    def __init__(self, messages: Sequence[pb.ListRunsResponse]) -> None:
        self._messages = messages

    async def ListRuns(
        self, request: pb.ListRunsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.ListRunsResponse]:
        for message in self._messages:
            yield message


def pages(run: dict[str, Any], count: int, page: int) -> list[pb.ListRunsResponse]:
    """`count` copies of the REST run `run` converted as the gateway converts them, `page` a message."""
    full = to_message({"runs": [run] * page}, pb.ListRunsResponse)
    messages = [full] * (count // page)
    if count % page:
        messages.append(to_message({"runs": [run] * (count % page)}, pb.ListRunsResponse))
    return messages


async def serve(messages: Sequence[pb.ListRunsResponse]) -> None:
    """Serve until terminated."""
    server = grpc.aio.server()
    pb_grpc.add_RunsServiceServicer_to_server(Floor(messages), server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"bench-floor listening on 127.0.0.1:{port}", flush=True)
    await server.wait_for_termination()


@contextmanager
def floor(run: dict[str, Any], count: int, page: int) -> Iterator[Server]:
    """A floor server streaming `count` copies of the REST run `run`, `page` a message, for the block."""
    argv = [sys.executable, "-m", "bench.floor", "--count", str(count), "--page", str(page)]
    argv += ["--run", json.dumps(run)]
    running = launch(argv)
    try:
        yield running
    finally:
        running.stop()


def main(argv: Sequence[str] | None = None) -> None:
    """The `python -m bench.floor` command."""
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, required=True, help="runs per ListRuns")
    parser.add_argument("--page", type=int, default=100, help="runs per message (default 100)")
    parser.add_argument("--run", required=True, help="the run to stream, as REST JSON")
    args = parser.parse_args(argv)
    run_event_loop(serve(pages(json.loads(args.run), args.count, args.page)))


if __name__ == "__main__":
    main()
