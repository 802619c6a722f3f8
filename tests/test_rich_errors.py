"""AIP-193 rich errors over real gRPC: every status carries details a client reads with grpcio-status.

Each test reads the `google.rpc.Status` from the call's trailers the way a client would
(`grpc_status.rpc_status.aio.from_call`), which also checks that its code and message match the status.
"""

from __future__ import annotations

from typing import Any

import grpc
import httpx
import pytest
from conftest import FakeUpstream, serve_gateway
from factories import rest_error, rest_page, rest_run
from google.protobuf.message import Message
from google.rpc import error_details_pb2 as ed
from grpc_status import rpc_status
from runs_gateway.assistants.v1 import runs_service_pb2 as pb

Code = grpc.StatusCode
KINDS: tuple[type[Message], ...] = (
    ed.ErrorInfo,
    ed.BadRequest,
    ed.RetryInfo,
    ed.RequestInfo,
    ed.ResourceInfo,
)


async def details_of(call: Any) -> tuple[Code, dict[type[Message], Any]]:
    """Run `call` to its error; its code and its details by type (each type at most once)."""
    with pytest.raises(grpc.aio.AioRpcError):
        if hasattr(call, "__aiter__"):
            async for _ in call:
                pass
        else:
            await call
    status = await rpc_status.aio.from_call(call)
    assert status is not None, "no grpc-status-details-bin trailer"
    found: dict[type[Message], Any] = {}
    for packed in status.details:
        [kind] = [kind for kind in KINDS if packed.Is(kind.DESCRIPTOR)]
        assert kind not in found
        found[kind] = kind()
        packed.Unpack(found[kind])
    return await call.code(), found


def answer(status: int, body: dict[str, Any], **headers: str) -> FakeUpstream:
    return FakeUpstream(lambda request: httpx.Response(status, json=body, headers=headers))


async def test_not_found_names_the_resource_and_the_upstream_request() -> None:
    body = rest_error("No run found with id 'run_x'.")
    async with serve_gateway(transport=answer(404, body, **{"x-request-id": "req_404"}).transport) as stub:
        code, details = await details_of(stub.GetRun(pb.GetRunRequest(thread_id="thread_1", run_id="run_x")))
    assert code is Code.NOT_FOUND
    info = details[ed.ErrorInfo]
    assert (info.reason, info.domain) == ("INVALID_REQUEST_ERROR", "runs-gateway")
    assert dict(info.metadata) == {"httpStatus": "404", "type": "invalid_request_error"}
    resource = details[ed.ResourceInfo]
    assert (resource.resource_type, resource.resource_name) == ("run", "threads/thread_1/runs/run_x")
    assert resource.description == "No run found with id 'run_x'."
    assert details[ed.RequestInfo].request_id == "req_404"
    assert ed.BadRequest not in details


@pytest.mark.parametrize(
    ("request_", "rpc", "resource"),
    [
        (pb.ListRunsPageRequest(thread_id="thread_9"), "ListRunsPage", ("thread", "threads/thread_9")),
        (
            pb.CreateRunRequest(thread_id="thread_9", assistant_id="asst_1"),
            "CreateRun",
            ("thread", "threads/thread_9"),
        ),
        (
            pb.GetRunStepRequest(thread_id="thread_9", run_id="run_1", step_id="step_2"),
            "GetRunStep",
            ("run_step", "threads/thread_9/runs/run_1/steps/step_2"),
        ),
        (
            pb.CancelRunRequest(thread_id="thread_9", run_id="run_1"),
            "CancelRun",
            ("run", "threads/thread_9/runs/run_1"),
        ),
    ],
)
async def test_not_found_resource_follows_the_route(
    request_: Message, rpc: str, resource: tuple[str, str]
) -> None:
    async with serve_gateway(transport=answer(404, rest_error("Not found.")).transport) as stub:
        _, details = await details_of(getattr(stub, rpc)(request_))
    found = details[ed.ResourceInfo]
    assert (found.resource_type, found.resource_name) == resource


async def test_our_invalid_argument_names_the_field() -> None:
    upstream = answer(200, rest_run())
    async with serve_gateway(transport=upstream.transport) as stub:
        code, details = await details_of(stub.GetRun(pb.GetRunRequest(thread_id="thread_1", run_id="../x")))
    assert code is Code.INVALID_ARGUMENT
    assert details[ed.ErrorInfo].reason == "INVALID_ARGUMENT"
    [violation] = details[ed.BadRequest].field_violations
    assert violation.field == "run_id"
    assert violation.description.startswith("must be 1 to 128 characters")
    assert ed.RequestInfo not in details  # no REST call was made
    assert upstream.requests == []


async def test_upstream_400_param_becomes_a_field_violation() -> None:
    body = {
        "error": {
            "message": "Invalid limit.",
            "type": "invalid_request_error",
            "param": "limit",
            "code": "integer_above_max_value",
        }
    }
    async with serve_gateway(transport=answer(400, body).transport) as stub:
        code, details = await details_of(
            stub.ListRunsPage(pb.ListRunsPageRequest(thread_id="thread_1", limit=5))
        )
    assert code is Code.INVALID_ARGUMENT
    info = details[ed.ErrorInfo]
    assert info.reason == "INTEGER_ABOVE_MAX_VALUE"  # the error code wins over the type
    assert dict(info.metadata) == {
        "httpStatus": "400",
        "type": "invalid_request_error",
        "code": "integer_above_max_value",
        "param": "limit",
    }
    [violation] = details[ed.BadRequest].field_violations
    assert (violation.field, violation.description) == ("limit", "Invalid limit.")


async def test_rate_limit_carries_retry_info() -> None:
    body = {
        "error": {
            "message": "Rate limit reached.",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    upstream = answer(429, body, **{"retry-after": "20"})
    async with serve_gateway(transport=upstream.transport) as stub:
        call = stub.GetRun(pb.GetRunRequest(thread_id="thread_1", run_id="run_1"), timeout=2)
        code, details = await details_of(call)
    assert code is Code.RESOURCE_EXHAUSTED
    assert details[ed.ErrorInfo].reason == "RATE_LIMIT_EXCEEDED"
    assert details[ed.RetryInfo].retry_delay.ToSeconds() == 20
    assert len(upstream.requests) == 1  # a 20 s wait does not fit in the 2 s deadline: no retry


async def test_an_error_body_that_is_not_json_has_an_http_reason() -> None:
    upstream = FakeUpstream(lambda request: httpx.Response(502, text="<html>Bad Gateway</html>"))
    async with serve_gateway(transport=upstream.transport, max_retries=0) as stub:
        code, details = await details_of(stub.GetRun(pb.GetRunRequest(thread_id="thread_1", run_id="run_1")))
    assert code is Code.UNAVAILABLE
    assert details[ed.ErrorInfo].reason == "HTTP_502"
    assert details[ed.ErrorInfo].metadata["httpStatus"] == "502"


async def test_transport_failure_reason() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused to 10.0.0.1", request=request)

    async with serve_gateway(transport=FakeUpstream(refuse).transport, max_retries=0) as stub:
        code, details = await details_of(stub.GetRun(pb.GetRunRequest(thread_id="thread_1", run_id="run_1")))
    assert code is Code.UNAVAILABLE
    assert details[ed.ErrorInfo].reason == "UPSTREAM_UNAVAILABLE"
    assert dict(details[ed.ErrorInfo].metadata) == {}


async def test_a_mid_stream_error_has_details_and_the_last_request_id() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if "after" not in request.url.params:
            return httpx.Response(
                200, json=rest_page([rest_run("run_1")], True), headers={"x-request-id": "req_page1"}
            )
        return httpx.Response(200, text="{not json", headers={"x-request-id": "req_page2"})

    async with serve_gateway(transport=FakeUpstream(handle).transport) as stub:
        code, details = await details_of(stub.ListRuns(pb.ListRunsRequest(thread_id="thread_1")))
    assert code is Code.UNAVAILABLE
    assert details[ed.ErrorInfo].reason == "UPSTREAM_PROTOCOL_ERROR"
    assert details[ed.RequestInfo].request_id == "req_page2"


async def test_a_page_over_the_message_limit_is_refused_with_advice_and_streams_fine() -> None:
    runs = [rest_run(f"run_{i}", instructions="x" * 2000) for i in range(50)]
    upstream = FakeUpstream(lambda request: httpx.Response(200, json=rest_page(runs, False)))
    async with serve_gateway(transport=upstream.transport, max_message_bytes=65536) as stub:
        call = stub.ListRunsPage(pb.ListRunsPageRequest(thread_id="thread_1", limit=50))
        code, details = await details_of(call)
        assert "streaming" in await call.details()
        streamed = [m.run.id async for m in stub.ListRuns(pb.ListRunsRequest(thread_id="thread_1", limit=50))]
    assert code is Code.RESOURCE_EXHAUSTED
    assert details[ed.ErrorInfo].reason == "RESPONSE_TOO_LARGE"
    assert streamed == [run["id"] for run in runs]
