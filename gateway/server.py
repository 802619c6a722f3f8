"""Building and running the gRPC server: `build_server()` wires it, `serve()` runs it, `main()` is the CLI.

`serve()` stops on SIGTERM or SIGINT (or when its `stop` event is set): the server refuses new RPCs, gives
in-flight ones `grace` seconds, then the upstream connections are closed.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Sequence

import grpc
import httpx
from runs_gateway.assistants.v1 import runs_service_pb2_grpc as pb_grpc

from gateway.config import Settings
from gateway.core import Gateway
from gateway.servicer import RunsServicer
from gateway.upstream import Upstream

log = logging.getLogger("gateway")


def build_server(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> tuple[grpc.aio.Server, Gateway]:
    """A gRPC server with RunsService over one shared upstream client (not started, no port yet)."""
    upstream = Upstream(
        settings.base_url,
        settings.api_key,
        timeout=settings.timeout,
        max_connections=settings.max_connections,
        transport=transport,
    )
    gateway = Gateway(upstream)
    server = grpc.aio.server()
    pb_grpc.add_RunsServiceServicer_to_server(RunsServicer(gateway), server)  # type: ignore[no-untyped-call]
    return server, gateway


async def serve(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    ready: Callable[[int], None] | None = None,
) -> None:
    """Serve until `stop` is set (or SIGTERM/SIGINT when `stop` is None); `ready` receives the bound port."""
    server, gateway = build_server(settings)
    port = server.add_insecure_port(settings.listen)
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    await server.start()
    log.info(
        "serving RunsService on %s:%d, upstream %s",
        settings.listen.rpartition(":")[0],
        port,
        settings.base_url,
    )
    if ready is not None:
        ready(port)
    try:
        await stop.wait()
    finally:
        await server.stop(settings.grace)
        await gateway.upstream.aclose()
        log.info("stopped")


def main(argv: Sequence[str] | None = None) -> None:
    """The `runs-gateway` command."""
    settings = Settings.load(argv)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if settings.log_level != "DEBUG":
        # httpx logs every request at INFO: too much for a gateway's log, kept for debugging.
        logging.getLogger("httpx").setLevel(logging.WARNING)
    host = settings.listen.rpartition(":")[0]
    asyncio.run(
        serve(settings, ready=lambda port: print(f"runs-gateway listening on {host}:{port}", flush=True))
    )
    sys.exit(0)
