"""The servicer over real gRPC on loopback, with a fake upstream (httpx.MockTransport) that records requests.

These pin down what the gateway sends upstream (path, headers, body, query) and how every answer comes back
to the client (message, status code, status message), including streams, deadlines and cancellation.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import grpc
import httpx
import pytest
from conftest import API_KEY, FakeUpstream, serve_channel, serve_gateway
from factories import rest_error, rest_page, rest_run
from google.protobuf import struct_pb2
from grpc_status import rpc_status
from runs_gateway.assistants.v1 import resources_pb2 as res
from runs_gateway.assistants.v1 import runs_service_pb2 as pb
from test_errors import HTTP_CASES

Code = grpc.StatusCode


def ok(payload: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json=payload)


async def test_get_run_calls_the_rest_path_with_the_configured_key() -> None:
    upstream = FakeUpstream(lambda request: ok(rest_run("run_abc", "thread_xyz")))
    async with serve_gateway(transport=upstream.transport) as stub:
        response = await stub.GetRun(pb.GetRunRequest(thread_id="thread_xyz", run_id="run_abc"))
    assert response.run.id == "run_abc"
    assert response.run.status == res.RUN_STATUS_COMPLETED
    [request] = upstream.requests
    assert (request.method, request.url.path) == ("GET", "/v1/threads/thread_xyz/runs/run_abc")
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["openai-beta"] == "assistants=v1"
    assert request.headers["accept"] == "application/json"  # as the SDKs send it, not */*
    assert request.content == b""


async def test_client_credentials_and_organization_are_forwarded_nothing_else() -> None:
    upstream = FakeUpstream(lambda request: ok(rest_run()))
    metadata = (
        ("authorization", "Bearer sk-client-key"),
        ("openai-organization", "org-123"),
        ("x-internal-token", "do-not-forward"),
        ("cookie", "session=1"),
    )
    async with serve_gateway(transport=upstream.transport) as stub:
        await stub.GetRun(pb.GetRunRequest(thread_id="thread_1", run_id="run_1"), metadata=metadata)
    [request] = upstream.requests
    assert request.headers["authorization"] == "Bearer sk-client-key"
    assert request.headers["openai-organization"] == "org-123"
    assert "x-internal-token" not in request.headers
    assert "cookie" not in request.headers


async def test_no_key_anywhere_sends_no_authorization() -> None:
    upstream = FakeUpstream(
        lambda request: httpx.Response(401, json=rest_error("You didn't provide an API key."))
    )
    async with serve_gateway(transport=upstream.transport, api_key=None) as stub:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.GetRun(pb.GetRunRequest(thread_id="thread_1", run_id="run_1"))
    assert error.value.code() == Code.UNAUTHENTICATED
    assert error.value.details() == "You didn't provide an API key."
    assert "authorization" not in upstream.requests[0].headers


async def test_create_run_body() -> None:
    upstream = FakeUpstream(lambda request: ok(rest_run(status="queued")))
    parameters = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1, "maximum": 10}}}
    request = pb.CreateRunRequest(
        thread_id="thread_1",
        assistant_id="asst_1",
        instructions="",
        tools=[
            res.Tool(type=res.TOOL_TYPE_CODE_INTERPRETER),
            res.Tool(
                type=res.TOOL_TYPE_FUNCTION, function=res.FunctionDefinition(name="f", parameters=parameters)
            ),
        ],
        metadata={"k": "v"},
    )
    async with serve_gateway(transport=upstream.transport) as stub:
        response = await stub.CreateRun(request)
    assert response.run.status == res.RUN_STATUS_QUEUED
    [sent] = upstream.requests
    assert (sent.method, sent.url.path) == ("POST", "/v1/threads/thread_1/runs")
    assert json.loads(sent.content) == {
        "assistant_id": "asst_1",
        # An optional field set to "" is sent: presence, not truthiness, decides.
        "instructions": "",
        "tools": [
            {"type": "code_interpreter"},
            {"type": "function", "function": {"name": "f", "parameters": parameters}},
        ],
        "metadata": {"k": "v"},
    }
    # Integers in the schema stay JSON integers on the wire (protobuf's Struct holds them as doubles).
    assert b'"minimum":1' in sent.content
    assert b'"maximum":10' in sent.content
    assert b".0" not in sent.content


async def test_modify_run_with_empty_metadata_sends_empty_object() -> None:
    upstream = FakeUpstream(lambda request: ok(rest_run()))
    async with serve_gateway(transport=upstream.transport) as stub:
        await stub.ModifyRun(pb.ModifyRunRequest(thread_id="thread_1", run_id="run_1"))
    assert json.loads(upstream.requests[0].content) == {"metadata": {}}


async def test_submit_tool_outputs_and_cancel() -> None:
    upstream = FakeUpstream(lambda request: ok(rest_run(status="queued")))
    outputs = [
        pb.ToolOutput(tool_call_id="call_1", output="42"),
        pb.ToolOutput(tool_call_id="call_2", output=""),
    ]
    async with serve_gateway(transport=upstream.transport) as stub:
        await stub.SubmitToolOutputs(
            pb.SubmitToolOutputsRequest(thread_id="t_1", run_id="r_1", tool_outputs=outputs)
        )
        await stub.CancelRun(pb.CancelRunRequest(thread_id="t_1", run_id="r_1"))
    submit, cancel = upstream.requests
    assert (submit.method, submit.url.path) == ("POST", "/v1/threads/t_1/runs/r_1/submit_tool_outputs")
    assert json.loads(submit.content) == {
        "tool_outputs": [{"tool_call_id": "call_1", "output": "42"}, {"tool_call_id": "call_2", "output": ""}]
    }
    assert (cancel.method, cancel.url.path, cancel.content) == (
        "POST",
        "/v1/threads/t_1/runs/r_1/cancel",
        b"",
    )


BAD_IDS = ["", "../x", "..", "a/b", "run%2F..", "a?b=c", "a#b", "a b", "run_1\n", "r\u00e9", "x" * 129]


@pytest.mark.parametrize("bad", BAD_IDS)
async def test_path_unsafe_ids_are_refused_before_any_rest_call(bad: str) -> None:
    upstream = FakeUpstream(lambda request: ok(rest_run()))
    async with serve_gateway(transport=upstream.transport) as stub:
        for call, request, field in [
            (stub.GetRun, pb.GetRunRequest(thread_id=bad, run_id="run_1"), "thread_id"),
            (stub.GetRun, pb.GetRunRequest(thread_id="thread_1", run_id=bad), "run_id"),
            (stub.GetRunStep, pb.GetRunStepRequest(thread_id="t", run_id="r", step_id=bad), "step_id"),
            (stub.CreateRun, pb.CreateRunRequest(thread_id="t", assistant_id=bad), "assistant_id"),
        ]:
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await call(request)
            assert error.value.code() == Code.INVALID_ARGUMENT
            assert error.value.details().startswith(f"{field}: ")
    assert upstream.requests == []


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.ListRunsPageRequest(thread_id="t", limit=101), "limit"),
        (pb.ListRunsPageRequest(thread_id="t", limit=-1), "limit"),
        (pb.ListRunsPageRequest(thread_id="t", order=7), "order"),  # type: ignore[arg-type]
        (pb.ListRunsPageRequest(thread_id="t", after="../x"), "after"),
        (pb.ListRunsPageRequest(thread_id="t", before="a/b"), "before"),
    ],
)
async def test_bad_list_parameters_are_refused(request_: pb.ListRunsPageRequest, field: str) -> None:
    upstream = FakeUpstream(lambda request: ok(rest_page([], False)))
    async with serve_gateway(transport=upstream.transport) as stub:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.ListRunsPage(request_)
        assert error.value.code() == Code.INVALID_ARGUMENT
        assert error.value.details().startswith(f"{field}: ")
        with pytest.raises(grpc.aio.AioRpcError) as error:
            stream = stub.ListRuns(pb.ListRunsRequest(**{f.name: v for f, v in request_.ListFields()}))
            [r async for r in stream]
        assert error.value.code() == Code.INVALID_ARGUMENT
    assert upstream.requests == []


@pytest.mark.parametrize(("status", "code"), HTTP_CASES)
async def test_upstream_errors_arrive_as_mapped_codes_with_the_upstream_message(
    status: int, code: grpc.StatusCode
) -> None:
    upstream = FakeUpstream(
        lambda request: httpx.Response(status, json=rest_error(f"upstream said {status}"))
    )
    async with serve_gateway(transport=upstream.transport) as stub:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.GetRun(pb.GetRunRequest(thread_id="thread_1", run_id="run_1"))
    assert (error.value.code(), error.value.details()) == (code, f"upstream said {status}")


async def test_an_html_error_page_gets_a_fallback_message() -> None:
    html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    upstream = FakeUpstream(
        lambda request: httpx.Response(502, text=html, headers={"content-type": "text/html"})
    )
    async with serve_gateway(transport=upstream.transport) as stub:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.GetRun(pb.GetRunRequest(thread_id="thread_1", run_id="run_1"))
    assert error.value.code() == Code.UNAVAILABLE
    assert error.value.details() == "upstream answered HTTP 502 Bad Gateway"


async def test_a_2xx_body_that_is_not_json_is_unavailable() -> None:
    upstream = FakeUpstream(lambda request: httpx.Response(200, text='{"id": "run_1", "obj'))
    async with serve_gateway(transport=upstream.transport) as stub:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.GetRun(pb.GetRunRequest(thread_id="thread_1", run_id="run_1"))
    assert error.value.code() == Code.UNAVAILABLE
    assert "not JSON" in error.value.details()


@pytest.mark.parametrize("key_source", ["configured", "client"])
async def test_the_api_key_never_appears_in_an_error_message(key_source: str) -> None:
    client_key = "sk-client-secret-abcdef0123456789"
    key = API_KEY if key_source == "configured" else client_key

    def echo(request: httpx.Request) -> httpx.Response:
        sent = request.headers["authorization"].removeprefix("Bearer ")
        return httpx.Response(401, json=rest_error(f"Incorrect API key provided: {sent}."))

    upstream = FakeUpstream(echo)
    metadata = (("authorization", f"Bearer {client_key}"),) if key_source == "client" else ()
    async with serve_gateway(transport=upstream.transport) as stub:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.GetRun(pb.GetRunRequest(thread_id="thread_1", run_id="run_1"), metadata=metadata)
    assert error.value.code() == Code.UNAUTHENTICATED
    assert key not in error.value.details()
    assert error.value.details() == "Incorrect API key provided: [redacted]."


async def test_unknown_fields_and_enum_values_do_not_fail_a_call() -> None:
    run = rest_run(
        status="incomplete", incomplete_details={"reason": "max_tokens"}, tools=[{"type": "file_search"}]
    )
    upstream = FakeUpstream(lambda request: ok(run))
    async with serve_gateway(transport=upstream.transport) as stub:
        response = await stub.GetRun(pb.GetRunRequest(thread_id="thread_1", run_id="run_1"))
    assert response.run.status == res.RUN_STATUS_UNSPECIFIED
    assert [t.type for t in response.run.tools] == [res.TOOL_TYPE_UNSPECIFIED]
    assert response.run.id == "run_1"


def paged(runs: list[dict[str, Any]], page_size: int) -> FakeUpstream:
    """An upstream serving `runs` in pages of `page_size`, following `after`."""

    def handler(request: httpx.Request) -> httpx.Response:
        after = request.url.params.get("after")
        start = 0 if after is None else [r["id"] for r in runs].index(after) + 1
        chunk = runs[start : start + page_size]
        return ok(rest_page(chunk, start + page_size < len(runs)))

    return FakeUpstream(handler)


async def test_list_runs_streams_every_run_across_pages_in_order() -> None:
    runs = [rest_run(f"run_{i:03d}") for i in range(25)]
    upstream = paged(runs, 10)
    async with serve_gateway(transport=upstream.transport) as stub:
        request = pb.ListRunsRequest(
            thread_id="thread_1", limit=10, order=pb.LIST_ORDER_ASC, before="run_999"
        )
        got = [[run.id for run in page.runs] async for page in stub.ListRuns(request)]
    ids = [r["id"] for r in runs]
    assert got == [ids[:10], ids[10:20], ids[20:]]  # every run once, in order, a message per page
    queries = [dict(r.url.params) for r in upstream.requests]
    assert queries == [
        {"limit": "10", "order": "asc", "before": "run_999"},
        {"limit": "10", "order": "asc", "before": "run_999", "after": "run_009"},
        {"limit": "10", "order": "asc", "before": "run_999", "after": "run_019"},
    ]


async def test_list_runs_page_returns_one_page() -> None:
    upstream = paged([rest_run(f"run_{i}") for i in range(5)], 2)
    async with serve_gateway(transport=upstream.transport) as stub:
        page = await stub.ListRunsPage(pb.ListRunsPageRequest(thread_id="thread_1", limit=2, after="run_1"))
    assert [r.id for r in page.data] == ["run_2", "run_3"]
    assert (page.first_id, page.last_id, page.has_more) == ("run_2", "run_3", True)
    assert dict(upstream.requests[0].url.params) == {"limit": "2", "after": "run_1"}


async def test_a_mid_stream_error_ends_the_stream_after_the_items_sent() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("after") is None:
            return ok(rest_page([rest_run("run_a"), rest_run("run_b")], True))
        return httpx.Response(500, json=rest_error("The server had an error", "server_error"))

    upstream = FakeUpstream(handler)
    received: list[str] = []
    async with serve_gateway(transport=upstream.transport) as stub:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            async for page in stub.ListRuns(pb.ListRunsRequest(thread_id="thread_1")):
                received.extend(run.id for run in page.runs)
    assert received == ["run_a", "run_b"]
    assert (error.value.code(), error.value.details()) == (Code.INTERNAL, "The server had an error")


async def test_a_cursor_that_does_not_advance_ends_the_stream() -> None:
    upstream = FakeUpstream(lambda request: ok(rest_page([rest_run("run_a")], True)))
    async with serve_gateway(transport=upstream.transport) as stub:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            [i async for i in stub.ListRuns(pb.ListRunsRequest(thread_id="thread_1"))]
    assert error.value.code() == Code.UNAVAILABLE
    assert "cursor does not advance" in error.value.details()
    assert len(upstream.requests) == 2


async def test_the_client_deadline_bounds_a_slow_upstream_and_cancels_it() -> None:
    cancelled = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        try:
            await asyncio.sleep(600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return ok(rest_run())

    upstream = FakeUpstream(slow)
    # Time enough for the request to reach the upstream first (milliseconds), on however loaded a machine.
    deadline = 2.0
    async with serve_gateway(transport=upstream.transport, upstream_timeout=600) as stub:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.GetRun(pb.GetRunRequest(thread_id="thread_1", run_id="run_1"), timeout=deadline)
        assert error.value.code() == Code.DEADLINE_EXCEEDED
        # Ended by the deadline, however late a loaded machine fires it: long before the upstream's 600 s.
        assert loop.time() - started < 10 * deadline
        # The request in flight is cancelled (neither the upstream nor the gateway's --timeout ends it).
        await asyncio.wait_for(cancelled.wait(), 30)
    assert len(upstream.requests) == 1


async def test_a_client_cancel_stops_fetching_pages() -> None:
    release = asyncio.Event()
    in_flight, in_flight_cancelled = asyncio.Event(), asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        after = request.url.params.get("after")
        if after is None:
            return ok(rest_page([rest_run("run_0")], True))
        in_flight.set()
        try:
            await release.wait()  # the second page never comes back on its own
        except asyncio.CancelledError:
            in_flight_cancelled.set()
            raise
        return ok(rest_page([rest_run("run_1")], True))

    upstream = FakeUpstream(handler)
    async with serve_gateway(transport=upstream.transport) as stub:
        call = stub.ListRuns(pb.ListRunsRequest(thread_id="thread_1", limit=1))
        first = await call.read()
        assert [run.id for run in first.runs] == ["run_0"]
        await asyncio.wait_for(in_flight.wait(), 30)  # page 2 is fetched ahead: cancel while it is in flight
        call.cancel()
        await asyncio.wait_for(in_flight_cancelled.wait(), 30)
        await asyncio.sleep(0.2)  # room for a wrong third request: a slow machine only gives it less
    # Page 1, then page 2 prefetched (and cancelled): never a third.
    assert len(upstream.requests) == 2


async def test_an_unreachable_upstream_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]  # bound, never listening: connections are refused
        async with serve_gateway(base_url=f"http://127.0.0.1:{closed_port}/v1") as stub:
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await stub.GetRun(pb.GetRunRequest(thread_id="thread_1", run_id="run_1"))
    assert error.value.code() == Code.UNAVAILABLE
    assert error.value.details() == "upstream unreachable (ConnectError)"


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), [1, {"x": float("-inf")}]])
async def test_a_non_finite_number_in_parameters_is_refused(bad: Any) -> None:
    upstream = FakeUpstream(lambda request: ok(rest_run()))
    parameters = {"type": "object", "properties": {"n": {"type": "number", "maximum": bad}}}
    tool = res.Tool(
        type=res.TOOL_TYPE_FUNCTION, function=res.FunctionDefinition(name="f", parameters=parameters)
    )
    async with serve_gateway(transport=upstream.transport) as stub:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.CreateRun(pb.CreateRunRequest(thread_id="t", assistant_id="a", tools=[tool]))
    assert error.value.code() == Code.INVALID_ARGUMENT
    assert error.value.details().startswith("tools[0].function.parameters: ")
    assert upstream.requests == []


async def test_an_unset_limit_asks_for_the_largest_page_and_a_set_one_is_kept() -> None:
    upstream = FakeUpstream(lambda request: ok(rest_page([rest_run("run_1")], False)))
    async with serve_gateway(transport=upstream.transport) as stub:
        [page async for page in stub.ListRuns(pb.ListRunsRequest(thread_id="thread_1"))]
        [page async for page in stub.ListRuns(pb.ListRunsRequest(thread_id="thread_1", limit=7))]
        [
            page
            async for page in stub.ListRunSteps(pb.ListRunStepsRequest(thread_id="thread_1", run_id="run_1"))
        ]
        await stub.ListRunsPage(pb.ListRunsPageRequest(thread_id="thread_1"))
    limits = [r.url.params.get("limit") for r in upstream.requests]
    assert limits == ["100", "7", "100", None]  # the page RPC leaves the upstream default alone


async def test_a_page_too_large_for_one_message_arrives_whole_across_messages() -> None:
    # 40 runs of ~30 KiB: ~1.2 MB, over a 256 KiB message limit; each message must stay under it.
    runs = [rest_run(f"run_{i:02d}", instructions="x" * 30_000) for i in range(40)]
    upstream = FakeUpstream(lambda request: ok(rest_page(runs, False)))
    limit = 256 * 1024
    async with serve_gateway(transport=upstream.transport, max_message_bytes=limit) as stub:
        messages = [page async for page in stub.ListRuns(pb.ListRunsRequest(thread_id="thread_1"))]
    assert [run.id for page in messages for run in page.runs] == [r["id"] for r in runs]
    assert len(messages) > 1
    assert all(0 < page.ByteSize() <= limit for page in messages)
    assert len(upstream.requests) == 1


async def test_one_item_too_large_for_a_message_is_resource_exhausted_after_those_before() -> None:
    runs = [rest_run("run_small"), rest_run("run_huge", instructions="x" * 300_000)]
    upstream = FakeUpstream(lambda request: ok(rest_page(runs, False)))
    async with serve_gateway(transport=upstream.transport, max_message_bytes=256 * 1024) as stub:
        received: list[str] = []
        with pytest.raises(grpc.aio.AioRpcError) as error:
            async for page in stub.ListRuns(pb.ListRunsRequest(thread_id="thread_1")):
                received.extend(run.id for run in page.runs)
    assert error.value.code() == Code.RESOURCE_EXHAUSTED
    assert "one item of the list is" in error.value.details()
    assert received == ["run_small"]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308, 304, 300])
async def test_a_redirect_is_no_answer_even_with_a_valid_body(status: int) -> None:
    # A 301 to a cloud metadata address whose body is a valid run: never followed, never taken for the run.
    location = {"location": "http://169.254.169.254/latest/meta-data/"}
    upstream = FakeUpstream(lambda request: httpx.Response(status, headers=location, json=rest_run()))
    async with serve_gateway(transport=upstream.transport) as stub:
        with pytest.raises(grpc.aio.AioRpcError) as got:
            await stub.GetRun(pb.GetRunRequest(thread_id="thread_1", run_id="run_1"))
        with pytest.raises(grpc.aio.AioRpcError) as listed:
            [
                run
                async for page in stub.ListRuns(pb.ListRunsRequest(thread_id="thread_1"))
                for run in page.runs
            ]
    for error in (got.value, listed.value):
        assert error.code() == Code.UNAVAILABLE
        assert f"upstream answered HTTP {status}, a redirect" in (error.details() or "")
    assert all(str(request.url).startswith("http://upstream.test/") for request in upstream.requests)
    assert len(upstream.requests) == 2  # one each: never retried, never followed


@pytest.mark.parametrize("answer", ["error", "success"])
async def test_a_credential_the_upstream_echoes_appears_nowhere_the_gateway_writes(
    answer: str, caplog: pytest.LogCaptureFixture
) -> None:
    static = "astra-secret-token-0123456789"
    secrets = (API_KEY, static)

    def echo(request: httpx.Request) -> httpx.Response:
        key = request.headers["authorization"].removeprefix("Bearer ")
        token = request.headers["x-token"]
        headers = {
            "x-request-id": f"req_{key}",
            "x-ratelimit-remaining-requests": f"{token} left",
            "openai-processing-ms": key,
        }
        if answer == "success":
            return httpx.Response(200, headers=headers, json=rest_run())
        error = {"message": f"bad {key}", "type": f"t_{key}", "code": f"c_{token}", "param": key}
        return httpx.Response(400, headers=headers, json={"error": error})

    upstream = FakeUpstream(echo)
    caplog.set_level("INFO")
    async with serve_gateway(transport=upstream.transport, upstream_headers={"x-token": static}) as stub:
        call = stub.GetRun(pb.GetRunRequest(thread_id="thread_1", run_id="run_1"))
        if answer == "error":
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call
            status = rpc_status.from_call(refused.value)
            assert status is not None
            written = [refused.value.details(), str(status), str(refused.value.trailing_metadata())]
        else:
            await call
            written = [str(await call.trailing_metadata())]
    written += [record.getMessage() + str(getattr(record, "fields", "")) for record in caplog.records]
    assert all("[redacted]" in text or "redacted" not in text for text in written)
    for secret in secrets:
        assert not any(secret in text for text in written), (secret, written)
    assert any("[redacted]" in text for text in written)


@pytest.mark.parametrize(("depth", "refused"), [(32, False), (33, True), (1_000, True), (100_000, True)])
async def test_free_form_json_nested_too_deep_is_invalid_argument(depth: int, refused: bool) -> None:
    written = '{"a":' * (depth - 1) + "{}" + "}" * (depth - 1)
    function = res.FunctionDefinition(name="lookup", parameters_json=written)
    tool = res.Tool(type=res.TOOL_TYPE_FUNCTION, function=function)
    request = pb.CreateRunRequest(thread_id="thread_1", assistant_id="asst_1", tools=[tool])
    upstream = FakeUpstream(lambda request: ok(rest_run()))
    async with serve_gateway(transport=upstream.transport) as stub:
        if not refused:
            await stub.CreateRun(request)
            assert upstream.requests[0].content.count(b'{"a":') == depth - 1  # as written
            return
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.CreateRun(request)
    assert error.value.code() == Code.INVALID_ARGUMENT
    assert error.value.details() == "tools[0].function.parameters_json: nests deeper than 32 levels"
    assert upstream.requests == []


def deep_struct_request(depth: int) -> bytes:
    """A CreateRunRequest whose tool's `parameters` Struct nests `depth` deep, encoded by hand: protobuf
    itself refuses to build one that deep (as the gateway's decoder refuses to read it)."""
    nested: dict[str, Any] = {}
    for _ in range(depth - 1):
        nested = {"a": nested}
    parameters = struct_pb2.Struct()
    parameters.update(nested)

    def field(message: Any, name: str, payload: bytes) -> bytes:
        number = message.DESCRIPTOR.fields_by_name[name].number
        return _varint(number << 3 | 2) + _varint(len(payload)) + payload

    function = field(res.FunctionDefinition, "parameters", parameters.SerializeToString())
    tool = res.Tool(type=res.TOOL_TYPE_FUNCTION).SerializeToString() + field(res.Tool, "function", function)
    request = pb.CreateRunRequest(thread_id="t", assistant_id="a").SerializeToString()
    return request + field(pb.CreateRunRequest, "tools", tool)


def _varint(value: int) -> bytes:
    out = b""
    while value > 0x7F:
        out += bytes([value & 0x7F | 0x80])
        value >>= 7
    return out + bytes([value])


@pytest.mark.parametrize(
    ("method", "data"),
    [
        pytest.param("GetRun", b"\xff\xff\xff", id="malformed"),
        pytest.param("GetRun", b"\x0a\x02\xc3\x28", id="thread_id-not-utf8"),
        pytest.param("CreateRun", deep_struct_request(50), id="struct-50-deep"),
        pytest.param("ListRuns", b"\x0a\x05thr", id="truncated-stream-request"),
    ],
)
async def test_an_undecodable_request_is_invalid_argument_logged_once_and_counted(
    method: str, data: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    upstream = FakeUpstream(lambda request: ok(rest_run()))
    caplog.set_level("INFO")
    path = f"/runs_gateway.assistants.v1.RunsService/{method}"
    async with serve_channel(transport=upstream.transport) as channel:
        send = channel.unary_stream if method == "ListRuns" else channel.unary_unary
        call = send(path, request_serializer=None, response_deserializer=None)(data)
        with pytest.raises(grpc.aio.AioRpcError) as error:
            if method == "ListRuns":
                [message async for message in call]
            else:
                await call
    assert error.value.code() == Code.INVALID_ARGUMENT
    details = error.value.details() or ""
    assert details.startswith("request: is not a valid runs_gateway.assistants.v1.")
    assert "DecodeError" not in details
    assert "class" not in details
    assert upstream.requests == []
    [line] = [r for r in caplog.records if r.name == "gateway.access"]
    assert line.fields["code"] == "INVALID_ARGUMENT"  # type: ignore[attr-defined]
    assert not [r for r in caplog.records if r.levelname == "ERROR" or r.exc_info]
