"""Metadata both ways: the request allow-list, refused values, and upstream headers returned to the client."""

from __future__ import annotations

import grpc
import httpx
import pytest
from conftest import FakeUpstream, serve_gateway
from factories import rest_page, rest_run
from runs_gateway.assistants.v1 import runs_service_pb2 as pb

from gateway.errors import InvalidArgument
from gateway.metadata import MAX_RETURNED, forwarded_headers, returned_metadata

Code = grpc.StatusCode
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
UPSTREAM_HEADERS = {
    "x-request-id": "req_abc",
    "openai-processing-ms": "42",
    "x-ratelimit-limit-requests": "500",
    "x-ratelimit-remaining-requests": "499",
    "x-ratelimit-reset-requests": "120ms",
    "set-cookie": "__cf_bm=secret; path=/",
    "server": "cloudflare",
    "openai-organization": "org-upstream",
}
RETURNED = {
    "x-request-id": "req_abc",
    "openai-processing-ms": "42",
    "x-ratelimit-limit-requests": "500",
    "x-ratelimit-remaining-requests": "499",
    "x-ratelimit-reset-requests": "120ms",
}


def test_only_the_allow_list_is_forwarded() -> None:
    metadata = {
        "authorization": "Bearer sk-client",
        "openai-organization": "org-1",
        "openai-project": "proj_1",
        "idempotency-key": "create-7",
        "traceparent": TRACEPARENT,
        "tracestate": "vendor=1",
        "cookie": "a=b",
        "x-forwarded-for": "10.0.0.1",
        "host": "evil.test",
        "user-agent": "grpc-go/1.70",
    }
    assert forwarded_headers(metadata.items()) == {
        k: metadata[k]
        for k in (
            "authorization",
            "openai-organization",
            "openai-project",
            "idempotency-key",
            "traceparent",
            "tracestate",
        )
    }


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("traceparent", "not-a-traceparent"),
        ("traceparent", TRACEPARENT.upper()),
        ("idempotency-key", "has space"),
        ("idempotency-key", "k" * 256),
        ("authorization", "Bearer sk\r\nx-injected: 1"),
        ("authorization", "Bearer sk-é"),
        ("openai-project", ""),
        ("openai-organization", "o" * 4097),
        ("authorization", "Bearer sk-key "),
        ("openai-project", " proj_1"),
    ],
)
def test_invalid_values_are_refused_not_forwarded(name: str, value: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        forwarded_headers([(name, value)])
    assert error.value.field == f"metadata[{name}]"


def test_a_forwarded_key_sent_twice_is_refused() -> None:
    with pytest.raises(InvalidArgument) as error:
        forwarded_headers([("idempotency-key", "a"), ("cookie", "x"), ("idempotency-key", "b")])
    assert error.value.field == "metadata[idempotency-key]"
    assert forwarded_headers([("cookie", "a"), ("cookie", "b")]) == {}  # not forwarded: not our business


def test_only_allowed_upstream_headers_come_back() -> None:
    assert dict(returned_metadata(UPSTREAM_HEADERS.items())) == RETURNED


def test_returned_headers_are_valid_metadata_and_bounded() -> None:
    headers = [
        ("X-Request-Id", "req_1"),
        ("x-ratelimit-bad", "line\nbreak"),
        ("x-ratelimit-long", "v" * 1000),
    ]
    headers += [(f"x-ratelimit-n{i}", str(i)) for i in range(100)]
    returned = returned_metadata(headers)
    assert returned[0] == ("x-request-id", "req_1")
    assert len(returned) == MAX_RETURNED
    assert all(name.startswith("x-ratelimit-n") for name, _ in returned[1:])


def answer(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/runs"):
        return httpx.Response(
            200, json=rest_page([rest_run("run_1"), rest_run("run_2")], False), headers=UPSTREAM_HEADERS
        )
    return httpx.Response(200, json=rest_run(), headers=UPSTREAM_HEADERS)


async def test_forwarded_metadata_reaches_the_upstream() -> None:
    upstream = FakeUpstream(answer)
    metadata = (
        ("openai-project", "proj_1"),
        ("idempotency-key", "create-7"),
        ("traceparent", TRACEPARENT),
        ("x-debug", "1"),
    )
    async with serve_gateway(transport=upstream.transport) as stub:
        await stub.CreateRun(
            pb.CreateRunRequest(thread_id="thread_1", assistant_id="asst_1"), metadata=metadata
        )
    [request] = upstream.requests
    assert request.headers["openai-project"] == "proj_1"
    assert request.headers["idempotency-key"] == "create-7"
    assert request.headers["traceparent"] == TRACEPARENT
    assert "x-debug" not in request.headers


async def test_a_bad_forwarded_value_is_invalid_argument_before_any_call() -> None:
    upstream = FakeUpstream(answer)
    async with serve_gateway(transport=upstream.transport) as stub:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.GetRun(
                pb.GetRunRequest(thread_id="thread_1", run_id="run_1"), metadata=(("traceparent", "00-xyz"),)
            )
    assert error.value.code() is Code.INVALID_ARGUMENT
    assert "metadata[traceparent]" in (error.value.details() or "")
    assert upstream.requests == []


async def test_a_unary_response_returns_upstream_headers_as_trailing_metadata() -> None:
    async with serve_gateway(transport=FakeUpstream(answer).transport) as stub:
        call = stub.GetRun(pb.GetRunRequest(thread_id="thread_1", run_id="run_1"))
        await call
        initial = dict(await call.initial_metadata())
        trailing = dict(await call.trailing_metadata())
    assert {k: v for k, v in trailing.items() if k in RETURNED or k in UPSTREAM_HEADERS} == RETURNED
    assert not {k for k in initial if k in RETURNED or k in UPSTREAM_HEADERS}  # one place to look: trailers


async def test_a_stream_returns_upstream_headers_as_trailing_metadata() -> None:
    async with serve_gateway(transport=FakeUpstream(answer).transport) as stub:
        call = stub.ListRuns(pb.ListRunsRequest(thread_id="thread_1"))
        assert [[run.id for run in m.runs] async for m in call] == [["run_1", "run_2"]]
        trailing = dict(await call.trailing_metadata())
    assert {k: v for k, v in trailing.items() if k in UPSTREAM_HEADERS} == RETURNED


async def test_an_error_returns_upstream_headers_as_trailing_metadata() -> None:
    headers = {**UPSTREAM_HEADERS, "x-request-id": "req_err"}
    upstream = FakeUpstream(
        lambda request: httpx.Response(404, json={"error": {"message": "No."}}, headers=headers)
    )
    async with serve_gateway(transport=upstream.transport) as stub:
        call = stub.GetRun(pb.GetRunRequest(thread_id="thread_1", run_id="run_1"))
        with pytest.raises(grpc.aio.AioRpcError):
            await call
        trailing = dict(await call.trailing_metadata())
    assert {k: v for k, v in trailing.items() if k in UPSTREAM_HEADERS} == {
        **RETURNED,
        "x-request-id": "req_err",
    }
    assert "grpc-status-details-bin" in trailing
