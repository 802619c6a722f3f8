"""Traces: an OpenTelemetry span for every RPC and for every upstream attempt, when the environment asks.

Everything the gateway knows of OpenTelemetry is here. Tracing is on when the standard variables ask for it
(`OTEL_TRACES_EXPORTER` other than `none`, or an OTLP endpoint; never with `OTEL_SDK_DISABLED=true`) and the
`otel` extra is installed; `start()` then builds a TracerProvider from the environment (OTEL_SERVICE_NAME,
OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER, the exporter's OTEL_EXPORTER_OTLP_* settings) with a
BatchSpanProcessor, so spans leave on the SDK's own thread, never on the event loop. Otherwise every hook
is one check of a module global and returns a shared no-op, and OpenTelemetry is never imported.

`server_span` is the RPC's SERVER span (gRPC semantic conventions), a child of the client's W3C
`traceparent`; `client_span` an upstream attempt's CLIENT span (HTTP semantic conventions), a child of the
RPC's, whose own `traceparent` goes up in place of the one the client sent. The gateway's tracer is its own,
not OpenTelemetry's global provider, so tests install one with an in-memory exporter (`configure`) and
remove it again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, MutableMapping
from importlib.metadata import entry_points
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import grpc

if TYPE_CHECKING:
    from opentelemetry.propagators.textmap import TextMapPropagator
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.trace import Tracer, TracerProvider

log = logging.getLogger(__name__)

SERVICE_NAME = "runs-gateway"
"""The service name traces carry when OTEL_SERVICE_NAME (or OTEL_RESOURCE_ATTRIBUTES) names none."""

# The gRPC codes that make a server span an error (semantic conventions: the server's fault, not the call's).
_SERVER_ERRORS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
_TRACE_KEYS = ("traceparent", "tracestate")

_tracer: Tracer | None = None
"""The gateway's tracer while tracing is on; None while it is off (every hook then a no-op)."""
_propagator: TextMapPropagator | None = None
_started: SdkTracerProvider | None = None
"""The provider `start` built, which `stop` flushes and shuts down."""


class Attempt(Protocol):
    """What a client span reads of an upstream attempt (the upstream client's call)."""

    @property
    def method(self) -> str: ...
    @property
    def route(self) -> str: ...
    @property
    def headers(self) -> MutableMapping[str, str]: ...


def wanted(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the standard OpenTelemetry variables in `environ` ask for traces."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return exporters != "none"
    endpoints = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    return any(environ.get(name) for name in endpoints)


def start() -> SdkTracerProvider | None:
    """Turn tracing on if the environment asks for it and OpenTelemetry is installed: the provider built
    then, or None (tracing off).

    Traces asked for but impossible (the `otel` extra not installed, an exporter unknown) are a warning, not
    a failure: a platform may set OTEL_* for every process, and the gateway still serves without them."""
    global _started
    if not wanted():
        return None
    try:
        provider = _provider_from_environment()
    except (ImportError, LookupError) as exc:
        log.warning("traces asked for by OTEL_* variables, but none will be sent: %s", exc)
        return None
    stop()  # a provider started before, if any
    configure(provider)
    _started = provider
    log.info("tracing", extra={"fields": {"service": provider.resource.attributes.get("service.name")}})
    return provider


def stop() -> None:
    """Send the spans still buffered and stop the provider `start` built (blocks: call it off the loop)."""
    global _started
    configure(None)
    if _started is not None:
        _started.shutdown()
        _started = None


def configure(provider: TracerProvider | None) -> None:
    """Trace the gateway's RPCs with `provider`'s tracer (None: stop tracing). Tests pass a provider of
    their own, with an in-memory exporter; OpenTelemetry's global provider is never read nor set."""
    global _tracer, _propagator
    if provider is None:
        _tracer = _propagator = None
        return
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    _propagator = TraceContextTextMapPropagator()
    _tracer = provider.get_tracer("gateway")


def server_span(name: str, context: grpc.aio.ServicerContext[Any, Any]) -> _Span:
    """The SERVER span of the RPC `name` (`/{service}/{method}`), current while it is entered, a child of
    the trace context in the request metadata; its `status(code)` records the RPC's."""
    if _tracer is None:
        return _OFF
    return _ServerSpan(_tracer, name, context)


def client_span(server: tuple[str, int], attempt: Attempt, retries: int) -> _Span:
    """The CLIENT span of one upstream attempt (`retries` before it) to `server` (host, port), a child of the
    current span; entering it puts its `traceparent` in the attempt's headers. Its `answered(status)`
    records the HTTP status."""
    if _tracer is None:
        return _OFF
    return _ClientSpan(_tracer, server, attempt, retries)


class _Span:
    """A span hook; this base, shared by every call while tracing is off, does nothing."""

    __slots__ = ()

    def __enter__(self) -> _Span:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        return None

    def status(self, code: grpc.StatusCode) -> None:
        """Record an RPC's final gRPC status (server spans)."""

    def answered(self, status: int) -> None:
        """Record the upstream's answer, its HTTP status (client spans)."""


_OFF = _Span()


class _ServerSpan(_Span):
    __slots__ = ("_context", "_name", "_span", "_token", "_tracer")

    def __init__(self, tracer: Tracer, name: str, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        self._tracer, self._name, self._context = tracer, name, context

    def __enter__(self) -> _Span:
        from opentelemetry import context, trace

        assert _propagator is not None
        pairs = self._context.invocation_metadata() or ()
        carrier = {key: value for key, value in pairs if key in _TRACE_KEYS}
        parent = _propagator.extract(carrier)
        service, _, method = self._name[1:].rpartition("/")
        self._span = self._tracer.start_span(
            self._name,
            context=parent,
            kind=trace.SpanKind.SERVER,
            attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": method},
        )
        self._token = context.attach(trace.set_span_in_context(self._span, parent))
        return self

    def status(self, code: grpc.StatusCode) -> None:
        self._span.set_attribute("rpc.grpc.status_code", code.value[0])
        if code in _SERVER_ERRORS:
            from opentelemetry.trace import Status, StatusCode

            self._span.set_attribute("error.type", code.name)
            self._span.set_status(Status(StatusCode.ERROR))

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        from opentelemetry import context, trace

        # A stream grpc.aio drops unfinished is closed by asyncio's finalizer in another context, where the
        # span is not current and there is nothing to detach (detaching would log an error).
        if trace.get_current_span() is self._span:
            context.detach(self._token)
        self._span.end()


class _ClientSpan(_Span):
    __slots__ = ("_attempt", "_retries", "_server", "_span", "_tracer")

    def __init__(self, tracer: Tracer, server: tuple[str, int], attempt: Attempt, retries: int) -> None:
        self._tracer, self._server, self._attempt, self._retries = tracer, server, attempt, retries

    def __enter__(self) -> _Span:
        from opentelemetry import trace

        attempt = self._attempt
        attributes: dict[str, str | int] = {
            "http.request.method": attempt.method,
            "url.template": attempt.route,
            "server.address": self._server[0],
            "server.port": self._server[1],
        }
        if self._retries:  # semantic conventions: set on a resend only, counting the attempts before it
            attributes["http.request.resend_count"] = self._retries
        self._span = self._tracer.start_span(
            f"{attempt.method} {attempt.route}", kind=trace.SpanKind.CLIENT, attributes=attributes
        )
        assert _propagator is not None
        attempt.headers.pop("tracestate", None)  # the one the client sent, if any, is the span's again
        _propagator.inject(attempt.headers, trace.set_span_in_context(self._span))
        return self

    def answered(self, status: int) -> None:
        self._span.set_attribute("http.response.status_code", status)
        if status >= 400:
            self._failed(str(status))

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if kind is not None:
            self._failed(kind.__qualname__)
        self._span.end()

    def _failed(self, reason: str) -> None:
        from opentelemetry.trace import Status, StatusCode

        self._span.set_attribute("error.type", reason)
        self._span.set_status(Status(StatusCode.ERROR))


def _provider_from_environment() -> SdkTracerProvider:
    """A TracerProvider as the OTEL_* variables describe it, exporting in batches; raise ImportError without
    the SDK, LookupError for an exporter no installed package provides."""
    from opentelemetry.sdk.resources import OTELResourceDetector, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # Ours is the default name; the environment's (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) wins.
    resource = Resource.create({"service.name": SERVICE_NAME}).merge(OTELResourceDetector().detect())
    provider = TracerProvider(resource=resource)  # its sampler from OTEL_TRACES_SAMPLER, as the SDK reads it
    for name in _exporter_names(os.environ):
        found = entry_points(group="opentelemetry_traces_exporter", name=name)
        if not found:
            raise LookupError(f"no package installed provides the OTEL_TRACES_EXPORTER {name!r}")
        exporter = next(iter(found)).load()
        provider.add_span_processor(BatchSpanProcessor(exporter()))  # each exporter reads its own variables
    return provider


def _exporter_names(environ: Mapping[str, str]) -> list[str]:
    """The entry point names of the exporters asked for, as the SDK's own configuration reads them: `otlp`
    (the default) is OTLP over gRPC, or over HTTP when OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL says so."""
    asked = environ.get("OTEL_TRACES_EXPORTER") or "otlp"
    names = [name.strip().lower() for name in asked.split(",") if name.strip()]
    protocols = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
    protocol = next((environ[name].strip() for name in protocols if environ.get(name)), "grpc")
    otlp = {"grpc": "otlp_proto_grpc", "http/protobuf": "otlp_proto_http"}.get(protocol)
    if otlp is None and "otlp" in names:
        raise LookupError(f"the OTLP protocol {protocol!r} is neither grpc nor http/protobuf")
    return [otlp if name == "otlp" and otlp else name for name in names]
