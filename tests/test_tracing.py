"""Traces over real gRPC on loopback, read from the OpenTelemetry SDK's in-memory exporter: a server span per
RPC joined to the client's `traceparent`, a client span per upstream attempt (retries and pages included)
whose own `traceparent` the upstream receives, statuses; and, with tracing off, nothing of OpenTelemetry
imported and the client's `traceparent` forwarded as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from conftest import FakeUpstream, serve_gateway
from factories import rest_error, rest_page, rest_run
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from runs_gateway.assistants.v1 import runs_service_pb2 as pb

from gateway import tracing

ROOT = Path(__file__).resolve().parent.parent
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01"
SERVICE = "runs_gateway.assistants.v1.RunsService"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    """Tracing on, into memory, for one test; off again after it (OpenTelemetry's global provider unused)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.configure(provider)
    try:
        yield exporter
    finally:
        tracing.configure(None)
        provider.shutdown()


def by_kind(exporter: InMemorySpanExporter) -> tuple[ReadableSpan, list[ReadableSpan]]:
    """The one server span, and the client spans in the order they started."""
    spans = exporter.get_finished_spans()
    [server] = [span for span in spans if span.kind is SpanKind.SERVER]
    clients = sorted(
        (span for span in spans if span.kind is SpanKind.CLIENT), key=lambda s: s.start_time or 0
    )
    assert len(spans) == 1 + len(clients)
    return server, clients


def traceparent_of(span: ReadableSpan) -> str:
    context = span.get_span_context()
    assert context is not None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


def assert_child(child: ReadableSpan, parent: ReadableSpan) -> None:
    assert child.parent is not None
    assert parent.context is not None
    assert child.context is not None
    assert child.parent.span_id == parent.context.span_id
    assert child.context.trace_id == parent.context.trace_id


def ok(payload: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json=payload)


async def test_a_unary_rpc_is_a_server_span_over_a_client_span_in_the_callers_trace(
    exporter: InMemorySpanExporter,
) -> None:
    upstream = FakeUpstream(lambda request: ok(rest_run("run_abc", "thread_xyz")))
    async with serve_gateway(transport=upstream.transport) as stub:
        await stub.GetRun(
            pb.GetRunRequest(thread_id="thread_xyz", run_id="run_abc"),
            metadata=(("traceparent", TRACEPARENT), ("tracestate", "vendor=1")),
        )
    server, [client] = by_kind(exporter)
    assert server.name == f"/{SERVICE}/GetRun"
    assert dict(server.attributes or {}) == {
        "rpc.system": "grpc",
        "rpc.service": SERVICE,
        "rpc.method": "GetRun",
        "rpc.grpc.status_code": 0,
    }
    assert server.parent is not None
    assert server.parent.is_remote
    assert f"{server.parent.trace_id:032x}" == TRACE_ID
    assert f"{server.parent.span_id:016x}" == CALLER_SPAN_ID
    assert client.name == "GET /threads/{thread_id}/runs/{run_id}"
    assert dict(client.attributes or {}) == {
        "http.request.method": "GET",
        "url.template": "/threads/{thread_id}/runs/{run_id}",
        "server.address": "upstream.test",
        "server.port": 80,
        "http.response.status_code": 200,
    }
    assert_child(client, server)
    assert server.status.status_code is StatusCode.UNSET
    assert client.status.status_code is StatusCode.UNSET
    [request] = upstream.requests
    assert request.headers["traceparent"] == traceparent_of(client)  # the client span's, not the caller's
    assert request.headers["tracestate"] == "vendor=1"  # the caller's, carried by the trace


async def test_an_rpc_without_a_traceparent_starts_a_trace(exporter: InMemorySpanExporter) -> None:
    upstream = FakeUpstream(lambda request: ok(rest_run()))
    async with serve_gateway(transport=upstream.transport) as stub:
        await stub.GetRun(pb.GetRunRequest(thread_id="thread_1", run_id="run_1"))
    server, [client] = by_kind(exporter)
    assert server.parent is None
    assert_child(client, server)
    assert upstream.requests[0].headers["traceparent"] == traceparent_of(client)
    assert "tracestate" not in upstream.requests[0].headers


async def test_each_retry_is_a_client_span_of_its_own_with_its_resend_count(
    exporter: InMemorySpanExporter,
) -> None:
    answers = iter([httpx.Response(503, headers={"retry-after-ms": "1"}), ok(rest_run())])
    upstream = FakeUpstream(lambda request: next(answers))
    async with serve_gateway(transport=upstream.transport, max_retries=2) as stub:
        await stub.GetRun(
            pb.GetRunRequest(thread_id="thread_1", run_id="run_1"), metadata=[("traceparent", TRACEPARENT)]
        )
    server, [first, second] = by_kind(exporter)
    for client in (first, second):
        assert_child(client, server)
    assert "http.request.resend_count" not in (first.attributes or {})  # semantic conventions: resends only
    assert (first.attributes or {})["http.response.status_code"] == 503
    assert (first.attributes or {})["error.type"] == "503"
    assert first.status.status_code is StatusCode.ERROR
    assert (second.attributes or {})["http.request.resend_count"] == 1
    assert (second.attributes or {})["http.response.status_code"] == 200
    assert second.status.status_code is StatusCode.UNSET
    assert server.status.status_code is StatusCode.UNSET  # the RPC succeeded
    assert [r.headers["traceparent"] for r in upstream.requests] == [
        traceparent_of(first),
        traceparent_of(second),
    ]


async def test_a_stream_is_one_server_span_over_a_client_span_per_page(
    exporter: InMemorySpanExporter,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("after") is None:
            return ok(rest_page([rest_run("run_1"), rest_run("run_2")], True))
        return ok(rest_page([rest_run("run_3")], False))

    upstream = FakeUpstream(handler)
    async with serve_gateway(transport=upstream.transport) as stub:
        call = stub.ListRuns(
            pb.ListRunsRequest(thread_id="thread_1", limit=2), metadata=[("traceparent", TRACEPARENT)]
        )
        pages = [page async for page in call]
    assert len(pages) == 2
    server, clients = by_kind(exporter)
    assert server.name == f"/{SERVICE}/ListRuns"
    assert (server.attributes or {})["rpc.grpc.status_code"] == 0
    assert server.parent is not None
    assert f"{server.parent.span_id:016x}" == CALLER_SPAN_ID
    assert len(clients) == 2
    for client in clients:  # the page fetched ahead, in a task of its own, is a child of the RPC too
        assert_child(client, server)
        assert (client.attributes or {})["url.template"] == "/threads/{thread_id}/runs"
    assert [r.headers["traceparent"] for r in upstream.requests] == [traceparent_of(c) for c in clients]


@pytest.mark.parametrize(
    ("failure", "code", "server_error", "error_type"),
    [
        (404, "NOT_FOUND", False, "404"),
        (400, "INVALID_ARGUMENT", False, "400"),
        (503, "UNAVAILABLE", True, "503"),
        (500, "INTERNAL", True, "500"),
        (httpx.ConnectError, "UNAVAILABLE", True, "ConnectError"),
        (httpx.ReadTimeout, "DEADLINE_EXCEEDED", True, "ReadTimeout"),
    ],
)
async def test_statuses_are_recorded_on_both_spans(
    exporter: InMemorySpanExporter,
    failure: int | type[httpx.TransportError],
    code: str,
    server_error: bool,
    error_type: str,
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if isinstance(failure, int):
            return httpx.Response(failure, json=rest_error("it failed"))
        raise failure("it failed", request=request)

    upstream = FakeUpstream(answer)
    async with serve_gateway(transport=upstream.transport, max_retries=0) as stub:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.GetRun(pb.GetRunRequest(thread_id="thread_1", run_id="run_1"))
    assert error.value.code() is grpc.StatusCode[code]
    server, [client] = by_kind(exporter)
    assert (server.attributes or {})["rpc.grpc.status_code"] == grpc.StatusCode[code].value[0]
    # Semantic conventions: a server span is an error only for the server's own failures, not the caller's.
    assert server.status.status_code is (StatusCode.ERROR if server_error else StatusCode.UNSET)
    assert (server.attributes or {}).get("error.type") == (code if server_error else None)
    assert client.status.status_code is StatusCode.ERROR
    assert (client.attributes or {})["error.type"] == error_type
    answered = failure if isinstance(failure, int) else None  # a transport error has no status code
    assert (client.attributes or {}).get("http.response.status_code") == answered


async def test_a_refusal_before_any_upstream_call_is_a_server_span_alone(
    exporter: InMemorySpanExporter,
) -> None:
    upstream = FakeUpstream(lambda request: ok(rest_run()))
    async with serve_gateway(transport=upstream.transport) as stub:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.GetRun(pb.GetRunRequest(thread_id="thread_1", run_id="../x"))
    assert error.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    server, clients = by_kind(exporter)
    assert clients == []
    assert (server.attributes or {})["rpc.grpc.status_code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]


async def test_the_gateways_tracer_is_its_own_never_the_global_one(exporter: InMemorySpanExporter) -> None:
    upstream = FakeUpstream(lambda request: ok(rest_run()))
    async with serve_gateway(transport=upstream.transport) as stub:
        await stub.GetRun(pb.GetRunRequest(thread_id="thread_1", run_id="run_1"))
    assert len(exporter.get_finished_spans()) == 2
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)  # never set: tests cannot leak


async def test_with_tracing_off_the_callers_traceparent_goes_up_unchanged() -> None:
    upstream = FakeUpstream(lambda request: ok(rest_run()))
    async with serve_gateway(transport=upstream.transport) as stub:
        await stub.GetRun(
            pb.GetRunRequest(thread_id="thread_1", run_id="run_1"),
            metadata=(("traceparent", TRACEPARENT), ("tracestate", "vendor=1")),
        )
    [request] = upstream.requests
    assert (request.headers["traceparent"], request.headers["tracestate"]) == (TRACEPARENT, "vendor=1")


@pytest.mark.parametrize(
    ("environ", "wanted"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "x"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4317"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}, True),
        ({"OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "TRUE"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "false"}, True),
    ],
)
def test_the_standard_variables_turn_tracing_on(environ: dict[str, str], wanted: bool) -> None:
    assert tracing.wanted(environ) is wanted


CHECK_IMPORTS = """
import asyncio, json, sys
sys.path.insert(0, "tests")
import httpx
from conftest import FakeUpstream, serve_gateway
from factories import rest_run
from runs_gateway.assistants.v1 import runs_service_pb2 as pb
from gateway import server, tracing

async def rpc():
    upstream = FakeUpstream(lambda request: httpx.Response(200, json=rest_run()))
    async with serve_gateway(transport=upstream.transport) as stub:
        request = pb.GetRunRequest(thread_id="t", run_id="r")
        await stub.GetRun(request, metadata=[("traceparent", sys.argv[1])])
    return upstream.requests[0].headers["traceparent"]

on = tracing.start() is not None
sent = asyncio.run(rpc())
tracing.stop()
imported = sorted(name for name in sys.modules if name.startswith("opentelemetry"))[:3]
print(json.dumps({"on": on, "sent": sent, "imported": imported}))
"""


def run_gateway_process(environ: dict[str, str]) -> dict[str, Any]:
    """One RPC through the gateway in a fresh interpreter with `environ` over an OTEL_-free environment."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", CHECK_IMPORTS, TRACEPARENT],
        cwd=ROOT,
        env={**clean, **environ},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"},
        {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"},
    ],
)
def test_with_tracing_off_the_gateway_imports_nothing_of_opentelemetry(environ: dict[str, str]) -> None:
    result = run_gateway_process(environ)
    assert result == {"on": False, "sent": TRACEPARENT, "imported": []}


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP/gRPC trace receiver on loopback: what the exporter sends, kept."""

    def __init__(self) -> None:
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []

    def Export(self, request: Any, context: Any) -> Any:
        self.requests.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()


@pytest.fixture
def collector() -> Iterator[tuple[Collector, int]]:
    collector = Collector()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield collector, port
    finally:
        server.stop(None)


def test_an_otlp_endpoint_turns_tracing_on_and_the_spans_reach_the_collector(
    collector: tuple[Collector, int],
) -> None:
    receiver, port = collector
    result = run_gateway_process({"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}"})
    assert result["on"] is True
    assert result["imported"]
    assert result["sent"] != TRACEPARENT
    assert result["sent"].split("-")[1] == TRACE_ID
    [resource] = [resource for request in receiver.requests for resource in request.resource_spans]
    attributes = {attribute.key: attribute.value.string_value for attribute in resource.resource.attributes}
    assert attributes["service.name"] == "runs-gateway"
    spans = [span for scope in resource.scope_spans for span in scope.spans]
    assert sorted(span.name for span in spans) == [
        f"/{SERVICE}/GetRun",
        "GET /threads/{thread_id}/runs/{run_id}",
    ]
    assert {span.trace_id.hex() for span in spans} == {TRACE_ID}
    assert {span.span_id.hex() for span in spans} >= {result["sent"].split("-")[2]}


@pytest.fixture
def started() -> Iterator[None]:
    yield
    tracing.stop()


@pytest.mark.parametrize(
    ("environ", "service"),
    [
        ({}, "runs-gateway"),
        ({"OTEL_SERVICE_NAME": "edge-gateway"}, "edge-gateway"),
        ({"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attributes,team=platform"}, "from-attributes"),
    ],
)
def test_the_service_name_defaults_to_the_gateways(
    started: None, monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], service: str
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    provider = tracing.start()
    assert provider is not None
    assert provider.resource.attributes["service.name"] == service


@pytest.mark.parametrize(
    "environ",
    [
        {"OTEL_TRACES_EXPORTER": "no-such-exporter"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_EXPORTER_OTLP_PROTOCOL": "thrift"},
    ],
)
def test_traces_that_cannot_be_sent_are_a_warning_not_a_failure(
    started: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, environ: dict[str, str]
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert tracing.start() is None
    [record] = [r for r in caplog.records if r.name == "gateway.tracing"]
    assert record.levelname == "WARNING"
    assert "none will be sent" in record.getMessage()
