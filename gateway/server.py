"""Building and running the gRPC server: `build_server()` wires it, `serve()` runs it, `main()` is the CLI.

The server carries RunsService, the standard health service (`grpc.health.v1.Health`) and server
reflection, each method observed (`observe.py`). `serve()` listens on TCP (with TLS or mTLS when certificate
files are given) and/or a Unix domain socket, reports SERVING once it serves, and on SIGTERM or SIGINT (or
when its `stop` event is set) reports NOT_SERVING, refuses new RPCs, gives in-flight ones `grace` seconds,
closes the upstream connections and returns, so the process exits 0.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import grpc
import httpx
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc

from gateway import logs, tracing
from gateway.auth import Auth, EntraTokens, NoAuth, StaticKey, TokenCredential, default_azure_credential
from gateway.config import RESPONSES_API, Settings
from gateway.core import Gateway
from gateway.decoding import Budget
from gateway.dialects import ENTRA
from gateway.errors import RunStoreUnavailable
from gateway.observe import Metrics, Observer
from gateway.retry import RetryPolicy
from gateway.routes import APIS
from gateway.servicer import Admission, RunsServicer
from gateway.transport import Transport
from gateway.upstream import RestClient, Upstream

T = TypeVar("T")
SERVICES = tuple(api.service for api in APIS)
"""The full names of the RunsService of every version served (each also a health service name)."""
log = logging.getLogger("gateway")
# The documented asyncio health servicer; grpcio-health-checking's type stubs do not declare `health.aio`.
AsyncHealthServicer: Any = health.aio.HealthServicer  # type: ignore[attr-defined]
AsyncReflectionServicer: Any = reflection.aio.ReflectionServicer  # type: ignore[attr-defined]  # likewise


def build_auth(settings: Settings, credential: TokenCredential | None = None) -> Auth:
    """The gateway's own credential, as the settings and the dialect say it goes up."""
    if settings.auth_mode == ENTRA:
        return EntraTokens(credential or default_azure_credential(), cast(str, settings.scope))
    if not settings.api_key:
        return NoAuth()
    return StaticKey(settings.api_key, settings.key_header)


@dataclass(frozen=True)
class Built:
    """A wired server (not started, no port yet) and the parts `serve()` drives."""

    server: grpc.aio.Server
    gateway: Gateway
    health: Any  # AsyncHealthServicer
    metrics: Metrics
    admission: Admission


def build_server(
    settings: Settings,
    *,
    transport: Transport | httpx.AsyncBaseTransport | None = None,
    credential: TokenCredential | None = None,
) -> Built:
    """RunsService over one shared upstream client, with health, reflection, metrics and access logs.

    `transport` carries the upstream's bytes (default: aiohttp; an httpx transport, such as a test's
    `httpx.MockTransport`, runs behind `transport.HttpxTransport`); `credential` hands out Entra ID tokens
    with `--auth entra` (default: azure-identity's DefaultAzureCredential)."""
    metrics = Metrics()
    dialect = settings.upstream_dialect
    budget = Budget(settings.max_upstream_bytes)
    metrics.observe_budget(budget)
    upstream = Upstream(
        settings.base_url,
        auth=build_auth(settings, credential),
        dialect=dialect,
        headers=settings.all_upstream_headers(),
        timeout=settings.timeout,
        max_connections=settings.max_connections,
        retry_policy=RetryPolicy(max_retries=settings.max_retries),
        budget=budget,
        transport=transport,
        observe=metrics.observe_upstream,
    )
    gateway = Gateway(
        _runs_upstream(settings, upstream),
        max_message_bytes=settings.max_message_bytes,
        watch_interval=settings.watch_interval,
        versions=settings.versions,
    )
    metrics.observe_watches(gateway.watches)
    admission = Admission(settings.max_concurrent_rpcs)
    metrics.observe_admission(admission)
    server = grpc.aio.server(options=server_options(settings))
    observed: Any = Observer(metrics).on(server)  # registers each service with its methods observed
    for api in APIS:
        RunsServicer(gateway, api, admission).add_to_server(observed)
    health_servicer = AsyncHealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, observed)
    names = (*SERVICES, health.SERVICE_NAME, reflection.SERVICE_NAME)
    # What `reflection.enable_server_reflection` does for a grpc.aio server (it tells one by its class).
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(AsyncReflectionServicer(names), observed)
    return Built(server, gateway, health_servicer, metrics, admission)


def _runs_upstream(settings: Settings, upstream: Upstream) -> RestClient:
    """What the core calls: the REST upstream itself, or, with `--upstream-api responses`, the adapter that
    serves the same calls over the Responses API and the run store."""
    if settings.upstream_api != RESPONSES_API:
        return upstream
    # Imported here: the adapter and the store are 15 ms of start-up a gateway in front of Assistants skips.
    from gateway.responses.adapter import ResponsesUpstream
    from gateway.responses.catalog import AssistantsFile

    return ResponsesUpstream(upstream, AssistantsFile(Path(cast(str, settings.assistants))), settings.store)


HANDSHAKE_SECONDS = 10
"""How long a new connection may take to speak HTTP/2 (and TLS) before it is closed."""


def server_options(settings: Settings) -> list[tuple[str, int]]:
    """gRPC core's limits, set so that what the gateway can take is the gateway's own to say.

    gRPC core cancels calls beyond a backlog it keeps for the application (1,000 by default, more at
    random up to 3,000): a burst of 2,000 GetRuns saw about a tenth CANCELLED, unlogged, which tells a
    client that it cancelled. The backlog is set far past `--max-concurrent-rpcs`, so that every call
    reaches the gateway, which serves it or refuses it with RESOURCE_EXHAUSTED and RetryInfo, logged and
    counted. Connections are bounded in number, in the time to their handshake and in idle time; keepalive
    pings more often than every 5 minutes without calls are refused as gRPC core refuses them (GOAWAY)."""
    backlog = 4 * settings.max_concurrent_rpcs
    return [
        ("grpc.max_send_message_length", settings.max_message_bytes),
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.server.max_pending_requests", backlog),
        ("grpc.server.max_pending_requests_hard_limit", backlog),
        ("grpc.max_allowed_incoming_connections", settings.max_client_connections),
        ("grpc.server_handshake_timeout_ms", HANDSHAKE_SECONDS * 1000),
        ("grpc.max_connection_idle_ms", int(settings.idle_timeout * 1000)),
        ("grpc.keepalive_permit_without_calls", 0),
        ("grpc.http2.min_ping_interval_without_data_ms", 300_000),
        ("grpc.http2.max_ping_strikes", 2),
    ]


def add_listeners(server: grpc.aio.Server, settings: Settings) -> int | None:
    """Bind the TCP address (TLS when configured) and the Unix socket; the TCP port bound, if any."""
    port = None
    if settings.listen:
        tls = settings.read_tls()
        if tls is None:
            port = server.add_insecure_port(settings.listen)
        else:
            chain, key, client_ca = tls
            credentials = grpc.ssl_server_credentials(
                [(key, chain)], root_certificates=client_ca, require_client_auth=client_ca is not None
            )
            port = server.add_secure_port(settings.listen, credentials)
    if settings.uds:
        server.add_insecure_port(f"unix:{settings.uds}")
    return port


async def serve(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    ready: Callable[[int | None], None] | None = None,
) -> None:
    """Serve until `stop` is set (or SIGTERM/SIGINT when `stop` is None); `ready` gets the TCP port bound."""
    built = build_server(settings)
    if settings.upstream_api == RESPONSES_API:
        # A store that cannot be opened fails the start, not a call.
        await cast(Any, built.gateway.upstream).open()
    port = add_listeners(built.server, settings)
    if stop is None:
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    stop_metrics = built.metrics.serve(settings.metrics_listen) if settings.metrics_listen else None
    await built.server.start()
    for name in ("", *SERVICES):
        await built.health.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info(
        "serving",
        extra={
            "fields": {
                "tcp_port": port,
                "uds": settings.uds,
                "upstream": settings.base_url,
                "upstream_api": settings.upstream_api,
                "tls": bool(settings.tls_cert),
                "mtls": bool(settings.tls_client_ca),
            }
        },
    )
    if ready is not None:
        ready(port)
    try:
        await stop.wait()
    finally:
        log.info("stopping", extra={"fields": {"grace_seconds": settings.grace}})
        # First refuse new RPCs (UNAVAILABLE), so that nothing arrives once health says NOT_SERVING; those in
        # flight get the grace period, then the gateway ends them itself with UNAVAILABLE (logged), a second
        # before gRPC would cancel them (unlogged).
        stopping = asyncio.ensure_future(built.server.stop(settings.grace + 1))
        await asyncio.sleep(0)  # the stop begins
        await built.health.enter_graceful_shutdown()
        built.gateway.watches.close()  # a watch may never end by itself: end it now, not when grace runs out
        await built.admission.drain(settings.grace)
        await stopping
        await built.gateway.upstream.aclose()
        if stop_metrics is not None:
            stop_metrics()
        log.info("stopped")


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when uvloop is installed, else None (asyncio's own).

    Every gRPC message costs an event-loop wake-up, and gRPC's per-message cost bounds every streamed list;
    uvloop lowers it (measured in bench/, issue 4: see the README's Benchmarks).
    """
    if importlib.util.find_spec("uvloop") is None:
        return None
    uvloop: Any = importlib.import_module("uvloop")
    return uvloop.new_event_loop  # type: ignore[no-any-return]


def run_event_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` to completion on a new event loop (see `event_loop_factory`), as `asyncio.run` does."""
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        return runner.run(main)


def main(argv: Sequence[str] | None = None) -> None:
    """The `runs-gateway` command."""
    settings = Settings.load(argv)
    logs.configure(settings.log_level)  # JSON lines on stderr, off the event loop (gateway/logs.py)

    def announce(port: int | None) -> None:
        where = [f"{settings.listen.rpartition(':')[0]}:{port}"] if port is not None else []
        where += [f"unix:{settings.uds}"] if settings.uds else []
        print(f"runs-gateway listening on {' '.join(where)}", flush=True)

    tracing.start()  # when the OTEL_* variables ask for traces
    try:
        run_event_loop(serve(settings, ready=announce))
    except RunStoreUnavailable as exc:
        print(f"runs-gateway: --store: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    finally:
        tracing.stop()  # off the event loop: it waits for the last spans to be exported
    sys.exit(0)
