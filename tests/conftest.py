"""Shared fixtures: the gateway served for real on loopback, over a fake upstream or the emulator; the
session's PostgreSQL server and a run store URL on each backend."""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import httpx
import pytest
from runs_gateway.assistants.v1 import runs_service_pb2_grpc

from gateway.config import Settings
from gateway.server import build_server, serve
from tools import postgres

API_KEY = "sk-gateway-configured-key-0123456789"
Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


@asynccontextmanager
async def serve_gateway(
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    base_url: str = "http://upstream.test/v1",
    api_key: str | None = API_KEY,
    upstream_timeout: float = 30.0,
    **settings_fields: Any,
) -> AsyncIterator[runs_service_pb2_grpc.RunsServiceStub]:
    """Serve the gateway on 127.0.0.1:<free port> and yield a stub on a real channel to it; `settings_fields`
    are further `Settings` fields (max_retries=0, ...)."""
    async with serve_channel(
        transport=transport,
        base_url=base_url,
        api_key=api_key,
        upstream_timeout=upstream_timeout,
        **settings_fields,
    ) as channel:
        yield runs_service_pb2_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]


@asynccontextmanager
async def serve_channel(
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    base_url: str = "http://upstream.test/v1",
    api_key: str | None = API_KEY,
    upstream_timeout: float = 30.0,
    **settings_fields: Any,
) -> AsyncIterator[grpc.aio.Channel]:
    """As `serve_gateway`, yielding the channel itself (for raw calls)."""
    settings = Settings(
        listen="127.0.0.1:0", base_url=base_url, api_key=api_key, timeout=upstream_timeout, **settings_fields
    )
    built = build_server(settings, transport=transport)
    server = built.server
    port = server.add_insecure_port(settings.listen)
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield channel
    finally:
        await server.stop(0)
        await built.gateway.upstream.aclose()


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


class GatewayThread:
    """The gateway's `serve()` on its own event loop in a background thread, for synchronous clients."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._ready: Future[int | None] = Future()
        self._thread = threading.Thread(target=self._run, name="gateway", daemon=True)

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(
                serve(self._settings, stop=self._stop, ready=self._ready.set_result)
            )
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
            raise
        finally:
            self._loop.close()

    def __enter__(self) -> str:
        self._thread.start()
        return f"127.0.0.1:{self._ready.result(timeout=30)}"

    def __exit__(self, *exc_info: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[postgres.Server]:
    """One PostgreSQL server for the session, from the binaries the dev lock installs (tools/postgres.py);
    where none can start, its tests are skipped with the reason, except in CI (CI set): a failure there."""
    try:
        with postgres.start() as server:
            yield server
    except postgres.Unavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests: {exc}")
        pytest.skip(f"no PostgreSQL server can start here: {exc}")


async def new_database(server: postgres.Server) -> str:
    """The URL of a new, empty database on the session's server."""
    name = f"test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(server.url("postgres"))
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    return server.url(name)


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A run store URL no test has used, on each backend: a SQLite file, or a database of its own on the
    session's PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'runs.db'}"
    return await new_database(request.getfixturevalue("postgres_server"))
