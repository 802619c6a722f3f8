"""gRPC's own floor for a stream: a bare grpc.aio server that streams one prebuilt message, over and over.

It does nothing the gateway does (no REST call, no JSON, no conversion, no interceptor, no logs), so the rate
a client reads it at is the most a Python gRPC server can stream one message per run on this machine, and
the CPU it spends is gRPC's own cost per message. It runs on the gateway's event loop
(`gateway.server.run_event_loop`: uvloop when installed).

`python -m bench.floor --count N --run JSON` serves ListRuns (every request: `N` copies of the run) on a free
loopback port and prints "bench-floor listening on 127.0.0.1:PORT".
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
    """ListRuns answers `count` copies of `message`, whatever the request."""

    def __init__(self, message: pb.ListRunsResponse, count: int) -> None:
        self._message, self._count = message, count

    async def ListRuns(
        self, request: pb.ListRunsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.ListRunsResponse]:
        for _ in range(self._count):
            yield self._message


async def serve(message: pb.ListRunsResponse, count: int) -> None:
    """Serve until terminated."""
    server = grpc.aio.server()
    pb_grpc.add_RunsServiceServicer_to_server(Floor(message, count), server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"bench-floor listening on 127.0.0.1:{port}", flush=True)
    await server.wait_for_termination()


@contextmanager
def floor(run: dict[str, Any], count: int) -> Iterator[Server]:
    """A floor server streaming `count` copies of the REST run `run`, for the duration of the block."""
    argv = (sys.executable, "-m", "bench.floor", "--count", str(count), "--run", json.dumps(run))
    running = launch(argv)
    try:
        yield running
    finally:
        running.stop()


def main(argv: Sequence[str] | None = None) -> None:
    """The `python -m bench.floor` command."""
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, required=True, help="messages per ListRuns")
    parser.add_argument("--run", required=True, help="the run to stream, as REST JSON")
    args = parser.parse_args(argv)
    message = to_message({"run": json.loads(args.run)}, pb.ListRunsResponse)
    run_event_loop(serve(message, args.count))


if __name__ == "__main__":
    main()
