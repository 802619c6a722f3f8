"""Shared fixtures: the gateway served for real on loopback, over a fake upstream or the emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import grpc
import httpx
from runs_gateway.assistants.v1 import runs_service_pb2_grpc

from gateway.config import Settings
from gateway.server import build_server

API_KEY = "sk-gateway-configured-key-0123456789"
Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


@asynccontextmanager
async def serve_gateway(
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    base_url: str = "http://upstream.test/v1",
    api_key: str | None = API_KEY,
    timeout: float = 30.0,
) -> AsyncIterator[runs_service_pb2_grpc.RunsServiceStub]:
    """Serve the gateway on 127.0.0.1:<free port> and yield a stub on a real channel to it."""
    settings = Settings(listen="127.0.0.1:0", base_url=base_url, api_key=api_key, timeout=timeout)
    server, gateway = build_server(settings, transport=transport)
    port = server.add_insecure_port(settings.listen)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield runs_service_pb2_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
    finally:
        await server.stop(0)
        await gateway.upstream.aclose()


class FakeUpstream:
    """An httpx.MockTransport that records every request and answers with `handler`."""

    def __init__(self, handler: Handler) -> None:
        self.requests: list[httpx.Request] = []
        self._handler = handler
        self.transport = httpx.MockTransport(self._handle)

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self._handler(request)
        return await response if isinstance(response, Awaitable) else response
