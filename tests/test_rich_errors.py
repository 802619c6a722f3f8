"""AIP-193 rich errors over real gRPC: every status carries details a client reads with grpcio-status.

Each test reads the `google.rpc.Status` from the call's trailers the way a client would
(`grpc_status.rpc_status.aio.from_call`), which also checks that its code and message match the status.
"""

from __future__ import annotations

import json
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
    ("request_", "rpc", "message", "resource"),
    [
        (
            pb.ListRunsPageRequest(thread_id="thread_9"),
            "ListRunsPage",
            "No thread found with id 'thread_9'.",
            ("thread", "threads/thread_9"),
        ),
        # The deepest resource of the path is not always the missing one: the thread, or the assistant.
        (
            pb.GetRunRequest(thread_id="thread_9", run_id="run_1"),
            "GetRun",
            "No thread found with id 'thread_9'.",
            ("thread", "threads/thread_9"),
        ),
        (
            pb.CreateRunRequest(thread_id="thread_9", assistant_id="asst_1"),
            "CreateRun",
            "No assistant found with id 'asst_1'.",
            ("assistant", "assistants/asst_1"),
        ),
        (
            pb.CreateRunRequest(thread_id="thread_9", assistant_id="asst_1"),
            "CreateRun",
            "No thread found with id 'thread_9'.",
            ("thread", "threads/thread_9"),
        ),
        (
            pb.GetRunStepRequest(thread_id="thread_9", run_id="run_1", step_id="step_2"),
            "GetRunStep",
            "No run step found with id 'step_2'.",
            ("run_step", "threads/thread_9/runs/run_1/steps/step_2"),
        ),
        (
            pb.GetRunStepRequest(thread_id="thread_9", run_id="run_1", step_id="step_2"),
            "GetRunStep",
            "No run found with id 'run_1'.",
            ("run", "threads/thread_9/runs/run_1"),
        ),
        (
            pb.CancelRunRequest(thread_id="thread_9", run_id="run_1"),
            "CancelRun",
            "No run found with id 'run_1'.",
            ("run", "threads/thread_9/runs/run_1"),
        ),
        (
            pb.CancelRunRequest(thread_id="thread_9", run_id="run_1"),
            "CancelRun",
            "No widget found with id 'w_7'.",
            ("widget", "w_7"),
        ),
    ],
)
async def test_not_found_names_what_the_upstream_says_is_missing(
    request_: Message, rpc: str, message: str, resource: tuple[str, str]
) -> None:
    async with serve_gateway(transport=answer(404, rest_error(message)).transport) as stub:
        code, details = await details_of(getattr(stub, rpc)(request_))
    assert code is Code.NOT_FOUND
    found = details[ed.ResourceInfo]
    assert (found.resource_type, found.resource_name, found.description) == (*resource, message)


@pytest.mark.parametrize("message", ["Not found.", "The thread or the run does not exist.", ""])
async def test_not_found_without_naming_the_resource_has_no_resource_info(message: str) -> None:
    request = pb.GetRunRequest(thread_id="thread_9", run_id="run_1")
    async with serve_gateway(transport=answer(404, rest_error(message)).transport) as stub:
        code, details = await details_of(stub.GetRun(request))
    assert code is Code.NOT_FOUND
    assert ed.ResourceInfo not in details  # not guessed from the path
    assert details[ed.ErrorInfo].reason == "INVALID_REQUEST_ERROR"


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
        call = stub.GetRun(pb.GetRunRequest(thread_id="thread_1", run_id="run_1"), timeout=10)
        code, details = await details_of(call)
    assert code is Code.RESOURCE_EXHAUSTED
    assert details[ed.ErrorInfo].reason == "RATE_LIMIT_EXCEEDED"
    assert details[ed.RetryInfo].retry_delay.ToSeconds() == 20
    assert len(upstream.requests) == 1  # a 20 s wait does not fit in the 10 s deadline: no retry


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
        request = pb.ListRunsRequest(thread_id="thread_1", limit=50)
        streamed = [run.id async for m in stub.ListRuns(request) for run in m.runs]
    assert code is Code.RESOURCE_EXHAUSTED
    assert details[ed.ErrorInfo].reason == "RESPONSE_TOO_LARGE"
    assert streamed == [run["id"] for run in runs]


INVALID_BETA = {
    "error": {
        "message": "The v1 Assistants API has been deprecated. Please try again by setting the header "
        "'OpenAI-Beta: assistants=v2'. See the migration guide for more information: "
        "https://platform.openai.com/docs/assistants/migration.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_beta",
    }
}


@pytest.mark.parametrize(
    ("status", "body"),
    [
        pytest.param(400, json.dumps(INVALID_BETA), id="openai-retired-v1"),
        pytest.param(
            404,
            json.dumps(rest_error("Invalid URL (GET /v1/threads/thread_9/runs/run_1)")),
            id="openai-no-such-path",
        ),
        pytest.param(404, "<html><body><h1>404 Not Found</h1></body></html>", id="web-server-page"),
        pytest.param(404, '{"detail":"Not Found"}', id="another-api"),
        pytest.param(405, '{"detail":"Method Not Allowed"}', id="method-not-allowed"),
    ],
)
async def test_an_upstream_that_does_not_serve_the_api_is_unimplemented(status: int, body: str) -> None:
    upstream = FakeUpstream(lambda request: httpx.Response(status, text=body))
    async with serve_gateway(transport=upstream.transport) as stub:
        call = stub.GetRun(pb.GetRunRequest(thread_id="thread_9", run_id="run_1"))
        code, details = await details_of(call)
        message = await call.details()
    assert code is Code.UNIMPLEMENTED
    if status == 400:  # the server is there, but not this version: the message says which service to call
        assert message.startswith("the upstream does not serve `OpenAI-Beta: assistants=v1`")
        assert "call the service of a version it serves (runs_gateway.assistants.v2.RunsService)" in message
    else:
        assert message.startswith("the upstream does not serve this API at the configured base URL")
    assert "--upstream (OPENAI_BASE_URL)" in message
    assert f"it answered HTTP {status}" in message
    info = details[ed.ErrorInfo]
    assert info.reason == "UPSTREAM_API_UNSUPPORTED"
    assert info.metadata["httpStatus"] == str(status)
    assert ed.ResourceInfo not in details
    assert len(upstream.requests) == 1  # a configuration problem: never retried


async def test_a_missing_resource_is_still_not_found() -> None:
    upstream = answer(404, rest_error("No run found with id 'run_1'."))
    async with serve_gateway(transport=upstream.transport) as stub:
        code, details = await details_of(stub.GetRun(pb.GetRunRequest(thread_id="thread_9", run_id="run_1")))
    assert code is Code.NOT_FOUND
    assert details[ed.ErrorInfo].reason == "INVALID_REQUEST_ERROR"
