"""Assistants v2 through the gateway, end to end over real sockets: streamed runs (server-sent events as a
gRPC stream) and the v2 objects, beside v1 on the same gateway.

The upstream is the emulator on loopback; its request log and its count of streams (`/_emulator/streams`)
show what reached it and whether the gateway closed a stream. No assertion depends on how fast the machine
is: waits are for events, capped far above what a loaded machine needs.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import closing, contextmanager
from typing import Any

import grpc
import httpx
import pytest
from conftest import GatewayThread
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from runs_gateway.assistants.v1 import runs_service_pb2 as v1_pb
from runs_gateway.assistants.v1 import runs_service_pb2_grpc as v1_grpc
from runs_gateway.assistants.v2 import resources_pb2 as res
from runs_gateway.assistants.v2 import runs_service_pb2 as pb
from runs_gateway.assistants.v2 import runs_service_pb2_grpc as pb_grpc

from emulator import EmulatorConfig, EmulatorServer
from gateway.config import Settings
from gateway.core import Gateway, method_path
from gateway.dialects import DIALECTS, OPENAI, Dialect
from gateway.errors import StreamBroken, UpstreamError, UpstreamProtocolError
from gateway.routes import EVENTS_V2, V2
from gateway.upstream import CallOptions, Upstream

Code = grpc.StatusCode
KEY = "sk-stream-test-key-0123456789"
FUNCTION_TOOL = {
    "type": "function",
    "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}},
}
Event = pb.CreateRunStreamResponse | pb.SubmitToolOutputsStreamResponse
WAIT = 60.0
"""The longest wait for something the upstream does on its own (a stream it sees closed): far above what a
loaded machine needs, and still a failure rather than a hang."""


class Emulated:
    """The emulator's REST side (v2 objects) and its admin API."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        headers = {"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "assistants=v2"}
        self.rest = httpx.Client(base_url=base_url, headers=headers, timeout=30)
        self.admin = httpx.Client(base_url=base_url.removesuffix("/v1") + "/_emulator", timeout=30)

    def assistant(self, *tools: dict[str, Any]) -> str:
        body = {"model": "gpt-4o", "instructions": "Help.", "tools": list(tools)}
        return str(self.rest.post("/assistants", json=body).raise_for_status().json()["id"])

    def thread(self) -> str:
        return str(self.rest.post("/threads", json={}).raise_for_status().json()["id"])

    def fault(self, **fault: Any) -> None:
        self.admin.post("/faults", json=fault).raise_for_status()

    def requests(self, path_end: str) -> list[dict[str, Any]]:
        return [r for r in self.admin.get("/requests").json() if r["path"].endswith(path_end)]

    def streams(self) -> dict[str, int]:
        return dict(self.admin.get("/streams").json())

    def wait_for(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT
        while not done():
            assert time.monotonic() < deadline, f"the emulator never saw {what}"
            time.sleep(0.02)

    def reset(self) -> None:
        self.admin.delete("/faults").raise_for_status()
        self.admin.delete("/requests").raise_for_status()


@contextmanager
def emulator(step_seconds: float) -> Iterator[Emulated]:
    with EmulatorServer(EmulatorConfig(step_seconds=step_seconds, api_keys=frozenset({KEY}))) as server:
        client = Emulated(server.base_url)
        yield client
        client.rest.close()
        client.admin.close()


@contextmanager
def gateway(upstream: Emulated) -> Iterator[grpc.Channel]:
    settings = Settings(listen="127.0.0.1:0", base_url=upstream.base_url, api_key=KEY, timeout=30)
    with GatewayThread(settings) as target, grpc.insecure_channel(target) as channel:
        yield channel


@pytest.fixture(scope="module")
def fast() -> Iterator[Emulated]:
    """The emulator, its runs advancing at once."""
    with emulator(0.0) as upstream:
        yield upstream


@pytest.fixture(scope="module")
def paced() -> Iterator[Emulated]:
    """The emulator, its runs advancing a step every 0.2 s: streams that last."""
    with emulator(0.2) as upstream:
        yield upstream


@pytest.fixture(scope="module")
def channel(fast: Emulated) -> Iterator[grpc.Channel]:
    with gateway(fast) as channel:
        yield channel


@pytest.fixture
def stub(channel: grpc.Channel, fast: Emulated) -> Iterator[pb_grpc.RunsServiceStub]:
    fast.reset()
    yield pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
    fast.reset()


@pytest.fixture
def paced_stub(paced: Emulated) -> Iterator[pb_grpc.RunsServiceStub]:
    paced.reset()
    with gateway(paced) as channel:
        yield pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]


def data_of(event: Event) -> Any:
    field = event.WhichOneof("data")
    assert field is not None, event.event
    return getattr(event, field)


def check_carried(events: list[Event]) -> None:
    """Each event's data is in the field its name calls for, and every run event is about one run."""
    for event in events:
        assert event.WhichOneof("data") == EVENTS_V2.get(event.event, "data_json"), event.event
    assert len({e.run.id for e in events if e.HasField("run")}) == 1


def until_error(call: Iterator[Event]) -> tuple[list[Event], grpc.RpcError]:
    """The events a stream delivered before it failed, and its error."""
    received: list[Event] = []
    try:
        for event in call:
            received.append(event)  # noqa: PERF402  (the events before the error are the point)
    except grpc.RpcError as error:
        return received, error
    raise AssertionError(f"the stream ended OK after {len(received)} events")


def rich(error: grpc.RpcError) -> tuple[error_details_pb2.ErrorInfo, list[Any]]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    details = []
    for detail in status.details:
        for kind in (
            error_details_pb2.ErrorInfo,
            error_details_pb2.RequestInfo,
            error_details_pb2.BadRequest,
        ):
            if detail.Is(kind.DESCRIPTOR):
                unpacked = kind()
                detail.Unpack(unpacked)
                details.append(unpacked)
    info = next(d for d in details if isinstance(d, error_details_pb2.ErrorInfo))
    return info, details


def test_a_streamed_run_goes_through_requires_action_and_a_streamed_submit(
    fast: Emulated, stub: pb_grpc.RunsServiceStub
) -> None:
    thread, assistant = fast.thread(), fast.assistant(FUNCTION_TOOL)
    request = pb.CreateRunStreamRequest(thread_id=thread, assistant_id=assistant)
    first = list(stub.CreateRunStream(request, timeout=WAIT))
    check_carried(first)
    names = [e.event for e in first]
    assert names[:3] == ["thread.run.created", "thread.run.queued", "thread.run.in_progress"]
    assert names[-1] == "thread.run.requires_action"  # the run rests: its stream ends there, as upstream
    assert "thread.run.step.delta" in names
    run = first[-1].run
    assert run.status == res.RUN_STATUS_REQUIRES_ACTION
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert [c.function.name for c in calls] == ["lookup"]
    # Every event the upstream sent whole reached the client, once: its log counts what it sent.
    (created,) = fast.requests(f"/threads/{thread}/runs")
    assert json.loads(created["body"])["stream"] is True
    assert created["headers"]["openai-beta"] == "assistants=v2"
    assert created["stream"] == {"events": len(first), "disconnected": False}

    outputs = [pb.ToolOutput(tool_call_id=c.id, output="42") for c in calls]
    submit = pb.SubmitToolOutputsStreamRequest(thread_id=thread, run_id=run.id, tool_outputs=outputs)
    second = list(stub.SubmitToolOutputsStream(submit, timeout=WAIT))
    check_carried(second)
    names = [e.event for e in second]
    assert names[-1] == "thread.run.completed"
    assert second[-1].run.status == res.RUN_STATUS_COMPLETED
    assert {"thread.message.created", "thread.message.delta", "thread.message.completed"} <= set(names)
    (submitted,) = fast.requests(f"/runs/{run.id}/submit_tool_outputs")
    assert submitted["stream"] == {"events": len(second), "disconnected": False}
    # The text deltas, in order, are the message the run wrote, as the upstream keeps it.
    text = "".join(
        part.text.value
        for e in second
        if e.HasField("message_delta")
        for part in e.message_delta.delta.content
    )
    completed = next(e.message for e in second if e.event == "thread.message.completed")
    assert text == completed.content[0].text.value
    messages = fast.rest.get(f"/threads/{thread}/messages").json()["data"]
    assert text in [m["content"][0]["text"]["value"] for m in messages if m["role"] == "assistant"]


def test_an_event_this_version_does_not_know_arrives_as_json_and_the_stream_goes_on(
    fast: Emulated, stub: pb_grpc.RunsServiceStub
) -> None:
    fast.fault(method="POST", path="/runs$", stream_unknown_after=2)
    request = pb.CreateRunStreamRequest(thread_id=fast.thread(), assistant_id=fast.assistant())
    events = list(stub.CreateRunStream(request, timeout=WAIT))
    unknown = [e for e in events if e.event not in EVENTS_V2]
    assert [e.event for e in unknown] == ["thread.run.future_event"]
    assert [e.event for e in events].index("thread.run.future_event") == 2
    assert json.loads(unknown[0].data_json)["object"] == "thread.run.future"
    assert events[-1].event == "thread.run.completed"


def test_an_error_event_ends_the_stream_with_its_status_after_the_events_before_it(
    fast: Emulated, stub: pb_grpc.RunsServiceStub
) -> None:
    fast.fault(method="POST", path="/runs$", stream_error_after=3)
    request = pb.CreateRunStreamRequest(thread_id=fast.thread(), assistant_id=fast.assistant())
    received, error = until_error(stub.CreateRunStream(request, timeout=WAIT))
    assert [e.event for e in received] == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.in_progress",
    ]
    assert error.code() == Code.INTERNAL  # type: ignore[attr-defined]  # a server_error, as HTTP 500 would be
    assert "The server had an error" in error.details()  # type: ignore[attr-defined]
    info, _ = rich(error)
    assert info.reason == "SERVER_ERROR"
    assert info.metadata["event"] == "error"
    assert "httpStatus" not in info.metadata


def test_an_upstream_that_cuts_the_stream_mid_event_ends_it_unavailable_after_the_whole_events(
    fast: Emulated, stub: pb_grpc.RunsServiceStub
) -> None:
    fast.fault(method="POST", path="/runs$", stream_cut_after=2)
    thread = fast.thread()
    request = pb.CreateRunStreamRequest(thread_id=thread, assistant_id=fast.assistant())
    received, error = until_error(stub.CreateRunStream(request, timeout=WAIT))
    assert [e.event for e in received] == ["thread.run.created", "thread.run.queued"]  # never half an event
    assert error.code() == Code.UNAVAILABLE  # type: ignore[attr-defined]
    info, _ = rich(error)
    assert info.reason == "UPSTREAM_STREAM_BROKEN"
    assert "after 2 events" in error.details()  # type: ignore[attr-defined]
    # Never retried: one call is one run, even though the stream broke.
    assert len(fast.requests(f"/threads/{thread}/runs")) == 1


def test_a_refusal_before_the_stream_is_retried_only_when_safe_and_then_streams(
    fast: Emulated, stub: pb_grpc.RunsServiceStub
) -> None:
    thread, assistant = fast.thread(), fast.assistant()
    request = pb.CreateRunStreamRequest(thread_id=thread, assistant_id=assistant)
    fast.fault(method="POST", path="/runs$", status=503)
    with pytest.raises(grpc.RpcError) as raised:
        list(stub.CreateRunStream(request, timeout=WAIT))
    assert raised.value.code() == Code.UNAVAILABLE  # type: ignore[attr-defined]
    assert len(fast.requests(f"/threads/{thread}/runs")) == 1  # a POST without an idempotency key: once
    fast.fault(method="POST", path="/runs$", status=503)
    metadata = (("idempotency-key", "stream-retry-1"),)
    events = list(stub.CreateRunStream(request, timeout=WAIT, metadata=metadata))
    assert events[-1].event == "thread.run.completed"
    assert len(fast.requests(f"/threads/{thread}/runs")) == 3  # the refused call, then two attempts


def test_a_client_that_cancels_closes_the_upstream_stream(
    paced: Emulated, paced_stub: pb_grpc.RunsServiceStub
) -> None:
    stub = paced_stub
    request = pb.CreateRunStreamRequest(thread_id=paced.thread(), assistant_id=paced.assistant())
    call = stub.CreateRunStream(request, timeout=WAIT)
    assert next(call).event == "thread.run.created"
    call.cancel()
    paced.wait_for(lambda: paced.streams()["disconnected"] >= 1, "the stream closed")
    (created,) = paced.requests("/runs")
    assert created["stream"]["disconnected"] is True


def test_a_deadline_ends_the_stream_and_closes_it_upstream(
    paced: Emulated, paced_stub: pb_grpc.RunsServiceStub
) -> None:
    stub = paced_stub
    before = paced.streams()["disconnected"]
    request = pb.CreateRunStreamRequest(thread_id=paced.thread(), assistant_id=paced.assistant())
    # The run takes a dozen steps of 0.2 s: a deadline of 0.5 s always passes mid-stream.
    with pytest.raises(grpc.RpcError) as raised:
        list(stub.CreateRunStream(request, timeout=0.5))
    assert raised.value.code() == Code.DEADLINE_EXCEEDED  # type: ignore[attr-defined]
    paced.wait_for(lambda: paced.streams()["disconnected"] > before, "the stream closed")


def test_an_upstream_silent_longer_than_the_timeout_ends_the_stream_after_its_events() -> None:
    # The client's deadline is far; the gateway's --timeout (3 s) bounds each wait for the next event, and
    # this emulator's run takes its next step 10 minutes later.
    with emulator(600.0) as stalled:
        settings = Settings(listen="127.0.0.1:0", base_url=stalled.base_url, api_key=KEY, timeout=3)
        request = pb.CreateRunStreamRequest(thread_id=stalled.thread(), assistant_id=stalled.assistant())
        with GatewayThread(settings) as target, grpc.insecure_channel(target) as channel:
            stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
            started = time.monotonic()
            received, error = until_error(stub.CreateRunStream(request, timeout=1200))
            # Ended by the gateway's timeout, not by the client's deadline nor the upstream's next step.
            assert time.monotonic() - started < 300
        assert received
        assert received[0].event == "thread.run.created"
        assert all(e.run.status != res.RUN_STATUS_COMPLETED for e in received)
        assert error.code() == Code.DEADLINE_EXCEEDED  # type: ignore[attr-defined]
        stalled.wait_for(lambda: stalled.streams()["disconnected"] == 1, "the stream closed")


def test_bad_requests_are_refused_before_any_upstream_call(
    fast: Emulated, stub: pb_grpc.RunsServiceStub
) -> None:
    cases = [
        (pb.CreateRunStreamRequest(thread_id="../x", assistant_id="asst_1"), "thread_id"),
        (
            pb.CreateRunStreamRequest(
                thread_id="t", assistant_id="a", additional_messages=[pb.AdditionalMessage(content=[])]
            ),
            "additional_messages[0].role",
        ),
        (
            pb.CreateRunStreamRequest(
                thread_id="t",
                assistant_id="a",
                tools=[res.Tool(type=res.TOOL_TYPE_CODE_INTERPRETER, file_search=res.FileSearchOptions())],
            ),
            "tools[0].file_search",
        ),
        (pb.SubmitToolOutputsStreamRequest(thread_id="t", run_id="r"), "tool_outputs"),
        (
            # Unset, the REST object would go out without its `type`.
            pb.CreateRunStreamRequest(
                thread_id="t", assistant_id="a", tool_choice=res.ToolChoice(tool=res.NamedToolChoice())
            ),
            "tool_choice.tool.type",
        ),
        (
            pb.CreateRunStreamRequest(
                thread_id="t", assistant_id="a", truncation_strategy=res.TruncationStrategy(last_messages=2)
            ),
            "truncation_strategy.type",
        ),
    ]
    for request, field in cases:
        call = (
            stub.CreateRunStream
            if isinstance(request, pb.CreateRunStreamRequest)
            else stub.SubmitToolOutputsStream
        )
        with pytest.raises(grpc.RpcError) as raised:
            list(call(request, timeout=WAIT))  # type: ignore[operator]
        assert raised.value.code() == Code.INVALID_ARGUMENT  # type: ignore[attr-defined]
        _, details = rich(raised.value)
        violations = [
            v.field
            for d in details
            if isinstance(d, error_details_pb2.BadRequest)
            for v in d.field_violations
        ]
        assert violations == [field]
    assert fast.requests("/runs") == []


def test_v2_run_fields_reach_the_upstream_and_come_back(
    fast: Emulated, stub: pb_grpc.RunsServiceStub
) -> None:
    thread = fast.thread()
    schema = '{"type": "object", "properties": {"n": {"type": "integer", "maximum": 1.0}}}'
    request = pb.CreateRunRequest(
        thread_id=thread,
        assistant_id=fast.assistant(FUNCTION_TOOL, {"type": "file_search"}),
        temperature=0.25,
        max_completion_tokens=1000,
        truncation_strategy=res.TruncationStrategy(type=res.TRUNCATION_TYPE_LAST_MESSAGES, last_messages=3),
        tool_choice=res.ToolChoice(
            tool=res.NamedToolChoice(type=res.TOOL_TYPE_FUNCTION, function=res.FunctionName(name="lookup"))
        ),
        response_format=res.ResponseFormat(
            object=res.ResponseFormatObject(
                type=res.RESPONSE_FORMAT_TYPE_JSON_SCHEMA,
                json_schema=res.JsonSchemaFormat(name="answer", schema_json=schema, strict=True),
            )
        ),
        additional_messages=[
            pb.AdditionalMessage(
                role=res.MESSAGE_ROLE_USER,
                content=[pb.InputContent(type=res.MESSAGE_CONTENT_TYPE_TEXT, text="What is n?")],
            )
        ],
        include=["step_details.tool_calls[*].file_search.results[*].content"],
    )
    run = stub.CreateRun(request, timeout=WAIT).run
    (sent,) = fast.requests(f"/threads/{thread}/runs")
    assert sent["query"] == {"include[]": "step_details.tool_calls[*].file_search.results[*].content"}
    body = json.loads(sent["body"])
    assert "stream" not in body
    assert "reasoning_effort" not in body  # unset: the upstream's default applies
    assert body["tool_choice"] == {"type": "function", "function": {"name": "lookup"}}
    assert schema in sent["body"]  # the JSON text as written, spaces and 1.0 included
    assert body["additional_messages"][0]["content"] == [{"type": "text", "text": "What is n?"}]
    got = stub.GetRun(pb.GetRunRequest(thread_id=thread, run_id=run.id), timeout=WAIT).run
    assert got.temperature == 0.25
    assert got.max_completion_tokens == 1000
    assert got.truncation_strategy.last_messages == 3
    assert got.tool_choice.tool.function.name == "lookup"
    assert got.response_format.object.json_schema.name == "answer"
    assert json.loads(got.response_format.object.json_schema.schema_json) == json.loads(schema)
    assert got.tools[1].type == res.TOOL_TYPE_FILE_SEARCH


def test_v1_and_v2_side_by_side_on_one_gateway(
    fast: Emulated, channel: grpc.Channel, stub: pb_grpc.RunsServiceStub
) -> None:
    v1 = v1_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
    v2 = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
    thread, assistant = fast.thread(), fast.assistant()
    made = v1.CreateRun(v1_pb.CreateRunRequest(thread_id=thread, assistant_id=assistant), timeout=WAIT).run
    seen = v2.GetRun(pb.GetRunRequest(thread_id=thread, run_id=made.id), timeout=WAIT).run
    assert seen.id == made.id
    assert seen.HasField("temperature")  # the same run, in the v2 shape
    streamed = list(v2.CreateRunStream(pb.CreateRunStreamRequest(thread_id=thread, assistant_id=assistant)))
    listed = [
        r.id for page in v1.ListRuns(v1_pb.ListRunsRequest(thread_id=thread), timeout=WAIT) for r in page.runs
    ]
    assert set(listed) == {made.id, streamed[-1].run.id}
    versions = [
        (r["method"], r["headers"]["openai-beta"]) for r in fast.requests("/runs") + fast.requests(made.id)
    ]
    assert sorted(set(versions)) == [
        ("GET", "assistants=v1"),
        ("GET", "assistants=v2"),
        ("POST", "assistants=v1"),
        ("POST", "assistants=v2"),
    ]


def test_v2_lists_pages_and_watches_a_run_as_v1_does(fast: Emulated, stub: pb_grpc.RunsServiceStub) -> None:
    thread, assistant = fast.thread(), fast.assistant()
    run = stub.CreateRun(pb.CreateRunRequest(thread_id=thread, assistant_id=assistant), timeout=WAIT).run
    watch = pb.WatchRunRequest(thread_id=thread, run_id=run.id, include_steps=True)
    changes = list(stub.WatchRun(watch, timeout=WAIT))
    assert changes[-1].run.status == res.RUN_STATUS_COMPLETED
    polled = fast.requests(f"/runs/{run.id}")
    assert polled
    assert {r["headers"]["openai-beta"] for r in polled} == {"assistants=v2"}
    pages = list(stub.ListRuns(pb.ListRunsRequest(thread_id=thread, limit=1), timeout=WAIT))
    assert [r.id for page in pages for r in page.runs] == [run.id]
    page = stub.ListRunStepsPage(pb.ListRunStepsPageRequest(thread_id=thread, run_id=run.id), timeout=WAIT)
    assert [step.id for step in page.data] == [c.run_step.id for c in changes if c.HasField("run_step")][:1]


def test_metrics_and_the_access_log_count_the_events(
    fast: Emulated, caplog: pytest.LogCaptureFixture
) -> None:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(
        listen="127.0.0.1:0", base_url=fast.base_url, api_key=KEY, metrics_listen=f"127.0.0.1:{port}"
    )
    request = pb.CreateRunStreamRequest(thread_id=fast.thread(), assistant_id=fast.assistant())
    with caplog.at_level(logging.INFO, "gateway.access"), GatewayThread(settings) as target:
        with grpc.insecure_channel(target) as channel:
            events = list(pb_grpc.RunsServiceStub(channel).CreateRunStream(request, timeout=WAIT))  # type: ignore[no-untyped-call]
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
    labels = 'grpc_method="CreateRunStream",grpc_service="runs_gateway.assistants.v2.RunsService"'
    assert f'grpc_server_msg_sent_total{{{labels},grpc_type="server_stream"}} {len(events)}.0' in text
    (logged,) = [r for r in caplog.records if "CreateRunStream" in r.fields["method"]]  # type: ignore[attr-defined]
    assert logged.fields["messages"] == len(events)  # type: ignore[attr-defined]
    assert logged.fields["code"] == "OK"  # type: ignore[attr-defined]


# The upstream client reading an event stream, over a fake upstream (httpx.MockTransport) ------------------


def sse(*events: tuple[str, str], done: bool = True) -> bytes:
    frames = [f"event: {name}\ndata: {data}\n\n" for name, data in events]
    return "".join([*frames, "event: done\ndata: [DONE]\n\n" if done else ""]).encode()


async def read_events(
    body: bytes, *, cap: int = 1 << 20, content_type: str = "text/event-stream"
) -> list[Any]:
    """The (name, data) pairs `Emulated.events` yields for an answer of `body`, then what it raised."""

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 7):  # in small pieces: events split across reads
            yield body[start : start + 7]

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["accept"] == "text/event-stream"
        return httpx.Response(200, headers={"content-type": content_type}, content=chunks())

    upstream = Upstream(
        "http://upstream.test/v1",
        "sk-secret-key-0123456789",
        max_body_bytes=cap,
        transport=httpx.MockTransport(answer),
    )
    seen: list[Any] = []
    try:
        async for name, data in upstream.events("POST", "/threads/t/runs", CallOptions(), content=b"{}"):
            seen.append((name, data))
    except Exception as exc:  # what it raised is part of the answer
        seen.append(exc)
    finally:
        await upstream.aclose()
    return seen


async def test_events_are_read_whole_in_order_until_done() -> None:
    events = [("thread.run.created", '{"id":"run_1"}'), ("thread.message.delta", '{"a":"b\\nc"}')]
    after_done = b"event: thread.run.step.created\ndata: {}\n\n"  # never read: `done` ended the stream
    assert await read_events(sse(*events) + after_done) == events


async def test_the_body_cap_applies_to_each_event_not_to_the_stream() -> None:
    events = [("thread.message.delta", "x" * 800)] * 20  # 16 KB in all, every event under the cap
    assert await read_events(sse(*events), cap=1000) == events
    *before, error = await read_events(sse(("a", "{}"), ("b", "y" * 5000)), cap=1000)
    assert before == [("a", "{}")]
    assert isinstance(error, UpstreamProtocolError)
    assert "over 1000 bytes" in str(error)


RATE_LIMITED = {
    "code": "rate_limit_exceeded",
    "message": "Slow down, sk-secret-key-0123456789.",  # an upstream that echoes the key it was sent
    "param": None,
    "type": "rate_limit_error",
}


@pytest.mark.parametrize(
    "data",
    [
        json.dumps(RATE_LIMITED),
        json.dumps({"error": RATE_LIMITED}),
    ],
    ids=["bare", "wrapped"],
)
async def test_an_error_event_raises_the_error_it_describes_without_secrets(data: str) -> None:
    *before, error = await read_events(sse(("thread.run.created", "{}"), ("error", data)))
    assert before == [("thread.run.created", "{}")]
    assert isinstance(error, UpstreamError)
    assert (error.status, error.error_code, error.in_stream) == (429, "rate_limit_exceeded", True)
    assert error.message == "Slow down, [redacted]."


async def test_a_stream_that_ends_without_done_is_broken_and_one_that_is_not_sse_is_refused() -> None:
    *before, error = await read_events(sse(("a", "{}"), done=False))
    assert before == [("a", "{}")]
    assert isinstance(error, StreamBroken)
    assert error.events == 1
    (refused,) = await read_events(b'{"id": "run_1"}', content_type="application/json")
    assert isinstance(refused, UpstreamProtocolError)
    assert "not an event stream" in str(refused)


async def streamed(body: bytes, dialect: Dialect = OPENAI, *, messages: bool = False) -> list[Any]:
    """The messages the core streams for CreateRunStream over an upstream answering `body` (their event
    names, or with `messages` the messages), then what it raised."""

    def answer(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content)["stream"] is True
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    core = Gateway(
        Upstream(
            "http://upstream.test/v1",
            "sk-key-0123456789",
            dialect=dialect,
            transport=httpx.MockTransport(answer),
        )
    )
    request = pb.CreateRunStreamRequest(thread_id="thread_1", assistant_id="asst_1")
    seen: list[Any] = []
    try:
        async for message in core.stream(method_path(V2, "CreateRunStream"), request, CallOptions()):
            seen.append(message if messages else message.event)
    except Exception as exc:  # what it raised is part of the answer
        seen.append(exc)
    finally:
        await core.upstream.aclose()
    return seen


async def test_a_stream_closed_right_after_the_run_rests_is_whole_even_without_done() -> None:
    def run(status: str) -> str:
        return json.dumps({"id": "run_1", "object": "thread.run", "status": status})

    events = [("thread.run.in_progress", run("in_progress")), ("thread.run.completed", run("completed"))]
    assert await streamed(sse(*events, done=False)) == ["thread.run.in_progress", "thread.run.completed"]
    *before, error = await streamed(sse(events[0], done=False))
    assert before == ["thread.run.in_progress"]
    assert isinstance(error, StreamBroken)


async def test_an_event_that_does_not_fit_its_message_ends_the_stream_after_the_events_before_it() -> None:
    good = json.dumps({"id": "run_1", "status": "queued"})
    bad = json.dumps({"id": "run_1", "status": 7})
    *before, error = await streamed(sse(("thread.run.queued", good), ("thread.run.in_progress", bad)))
    assert before == ["thread.run.queued"]
    assert isinstance(error, UpstreamProtocolError)
    assert "thread.run.in_progress" in str(error)
    assert "run.status" in str(error)


def run_in(status: str, **fields: Any) -> str:
    return json.dumps({"id": "run_1", "object": "thread.run", "status": status, **fields})


async def test_a_run_event_whose_run_says_otherwise_is_named_after_the_run_and_not_repeated() -> None:
    # open-assistant-api: thread.run.completed right after requires_action, carrying the same run, no done.
    events = [
        ("thread.run.in_progress", run_in("in_progress")),
        ("thread.run.requires_action", run_in("requires_action")),
        ("thread.run.completed", run_in("requires_action")),
    ]
    assert await streamed(sse(*events, done=False)) == [
        "thread.run.in_progress",
        "thread.run.requires_action",
    ]
    # Alone, the misnamed event is renamed, never passed on as the end of the run.
    assert await streamed(sse(events[2])) == ["thread.run.requires_action"]


async def test_a_message_event_keeps_its_name_and_its_object_follows_it() -> None:
    message = json.dumps({"id": "msg_1", "object": "thread.message", "status": "in_progress", "content": []})
    [completed] = await streamed(sse(("thread.message.completed", message)), messages=True)
    assert completed.event == "thread.message.completed"
    assert completed.message.status == res.MESSAGE_STATUS_COMPLETED


async def test_an_enveloped_stream_in_milliseconds_that_closes_without_done_is_whole_for_astra() -> None:
    def enveloped(name: str, data: dict[str, Any]) -> str:
        return f"data: {json.dumps({'event': name, 'data': data})}\n\n"

    created = {"id": "run_1", "object": "thread.run", "status": "queued", "created_at": 1796603244123}
    body = enveloped("thread.run.created", created) + enveloped(
        "thread.run.requires_action", {**created, "status": "requires_action"}
    )
    first, second = await streamed(body.encode(), DIALECTS["astra"], messages=True)
    assert (first.event, first.run.created_at) == ("thread.run.created", 1796603244)
    assert second.event == "thread.run.requires_action"
    # Unwrapping needs no dialect; closed after a resting event, the stream is whole in any dialect.
    assert await streamed(body.encode()) == ["thread.run.created", "thread.run.requires_action"]
    # Closed after a delta (astra's reply ends so): whole for astra, broken for a server that sends done.
    delta = {"id": "msg_1", "object": "thread.message.delta", "delta": {"content": []}}
    replying = enveloped("thread.run.created", created) + enveloped("thread.message.delta", delta)
    assert await streamed(replying.encode(), DIALECTS["astra"]) == [
        "thread.run.created",
        "thread.message.delta",
    ]
    *before, error = await streamed(replying.encode())
    assert before == ["thread.run.created", "thread.message.delta"]
    assert isinstance(error, StreamBroken)
