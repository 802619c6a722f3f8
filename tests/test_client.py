"""The example client's logic, tested with grpcio-testing: the test plays RunsService's side of each call,
a WatchRun stream (v1) or a streamed run's events (v2) message by message.

grpcio-testing serves synchronous servicers only, so it cannot host the gateway's grpc.aio servicer (that is
tested over real sockets in test_servicer.py and test_e2e.py); it serves well here, for client code.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import grpc_testing
import pytest
from runs_gateway.assistants.v1 import resources_pb2 as res
from runs_gateway.assistants.v1 import runs_service_pb2 as pb
from runs_gateway.assistants.v1 import runs_service_pb2_grpc as pb_grpc
from runs_gateway.assistants.v2 import resources_pb2 as res_v2
from runs_gateway.assistants.v2 import runs_service_pb2 as pb_v2
from runs_gateway.assistants.v2 import runs_service_pb2_grpc as pb_v2_grpc

from examples.client import Event, all_runs, delta_text, drive_run, stream_run

SERVICE = pb.DESCRIPTOR.services_by_name["RunsService"]
SERVICE_V2 = pb_v2.DESCRIPTOR.services_by_name["RunsService"]


@pytest.fixture
def channel() -> grpc_testing.Channel:
    return grpc_testing.channel([SERVICE], grpc_testing.strict_real_time())


@pytest.fixture
def pool() -> Any:
    with ThreadPoolExecutor(max_workers=1) as executor:
        yield executor


def run(status: int, **fields: Any) -> res.Run:
    return res.Run(id="run_1", thread_id="thread_1", assistant_id="asst_1", status=status, **fields)  # type: ignore[arg-type]


def answer_unary(channel: Any, method: str, response: Any) -> Any:
    """Take the next call of `method`, answer it with `response`, return its request."""
    _, request, rpc = channel.take_unary_unary(SERVICE.methods_by_name[method])
    rpc.terminate(response, (), grpc.StatusCode.OK, "")
    return request


def take_watch(channel: Any) -> tuple[pb.WatchRunRequest, Any]:
    """Take the next WatchRun call: its request, and the rpc to send its stream on."""
    _, request, rpc = channel.take_unary_stream(SERVICE.methods_by_name["WatchRun"])
    return request, rpc


def requires_action(*names: str) -> res.Run:
    calls = [
        res.RequiredToolCall(
            id=f"call_{index}",
            type=res.TOOL_TYPE_FUNCTION,
            function=res.FunctionCall(name=name, arguments='{"city":"Oslo"}'),
        )
        for index, name in enumerate(names, 9)
    ]
    action = res.RequiredAction(
        type=res.REQUIRED_ACTION_TYPE_SUBMIT_TOOL_OUTPUTS,
        submit_tool_outputs=res.SubmitToolOutputsAction(tool_calls=calls),
    )
    return run(res.RUN_STATUS_REQUIRES_ACTION, required_action=action)


def step(status: int) -> res.RunStep:
    return res.RunStep(id="step_1", run_id="run_1", type=res.RUN_STEP_TYPE_TOOL_CALLS, status=status)  # type: ignore[arg-type]


def test_drive_run_watches_the_run_and_submits_outputs_when_it_requires_action(
    channel: Any, pool: ThreadPoolExecutor
) -> None:
    stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
    statuses: list[int] = []
    asked: list[str] = []

    def answer(call: res.FunctionCall) -> str:
        asked.append(f"{call.name}({call.arguments})")
        return "sunny"

    future = pool.submit(
        lambda: drive_run(stub, "thread_1", "asst_1", answer, on_status=lambda r: statuses.append(r.status)),
    )
    create = answer_unary(channel, "CreateRun", pb.CreateRunResponse(run=run(res.RUN_STATUS_QUEUED)))
    assert (create.thread_id, create.assistant_id) == ("thread_1", "asst_1")
    watch, stream = take_watch(channel)
    assert (watch.thread_id, watch.run_id, watch.include_steps) == ("thread_1", "run_1", False)
    stream.send_response(pb.WatchRunResponse(run=run(res.RUN_STATUS_QUEUED)))
    stream.send_response(pb.WatchRunResponse(run=requires_action("weather")))
    # The outputs go on a call of their own, while the stream stays open.
    submit = answer_unary(
        channel, "SubmitToolOutputs", pb.SubmitToolOutputsResponse(run=run(res.RUN_STATUS_QUEUED))
    )
    assert (submit.thread_id, submit.run_id) == ("thread_1", "run_1")
    assert list(submit.tool_outputs) == [pb.ToolOutput(tool_call_id="call_9", output="sunny")]
    stream.send_response(pb.WatchRunResponse(run=run(res.RUN_STATUS_IN_PROGRESS)))
    stream.send_response(pb.WatchRunResponse(run=run(res.RUN_STATUS_COMPLETED)))
    stream.terminate((), grpc.StatusCode.OK, "")
    final = future.result(timeout=30)
    assert final.status == res.RUN_STATUS_COMPLETED
    assert asked == ['weather({"city":"Oslo"})']
    # The created run, then each change of status the stream brought (the first watch message repeats the
    # created run's status: not a change).
    assert statuses == [
        res.RUN_STATUS_QUEUED,
        res.RUN_STATUS_REQUIRES_ACTION,
        res.RUN_STATUS_IN_PROGRESS,
        res.RUN_STATUS_COMPLETED,
    ]


def test_drive_run_answers_each_tool_call_once(channel: Any, pool: ThreadPoolExecutor) -> None:
    """A run message that still shows the tool calls already answered (another field of the run changed
    before the upstream took the outputs) is not answered again."""
    stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
    future = pool.submit(lambda: drive_run(stub, "thread_1", "asst_1", lambda call: "x"))
    answer_unary(channel, "CreateRun", pb.CreateRunResponse(run=run(res.RUN_STATUS_QUEUED)))
    _, stream = take_watch(channel)
    stream.send_response(pb.WatchRunResponse(run=requires_action("weather")))
    answer_unary(channel, "SubmitToolOutputs", pb.SubmitToolOutputsResponse(run=run(res.RUN_STATUS_QUEUED)))
    tagged = requires_action("weather")
    tagged.metadata["k"] = "v"
    stream.send_response(pb.WatchRunResponse(run=tagged))
    stream.send_response(pb.WatchRunResponse(run=requires_action("weather", "clock")))  # a new call: answered
    second = answer_unary(
        channel, "SubmitToolOutputs", pb.SubmitToolOutputsResponse(run=run(res.RUN_STATUS_QUEUED))
    )
    assert [output.tool_call_id for output in second.tool_outputs] == ["call_9", "call_10"]
    stream.send_response(pb.WatchRunResponse(run=run(res.RUN_STATUS_COMPLETED)))
    stream.terminate((), grpc.StatusCode.OK, "")
    assert future.result(timeout=30).status == res.RUN_STATUS_COMPLETED


def test_drive_run_reports_steps_when_asked(channel: Any, pool: ThreadPoolExecutor) -> None:
    stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
    steps: list[int] = []
    future = pool.submit(
        lambda: drive_run(
            stub, "thread_1", "asst_1", lambda call: "", on_step=lambda s: steps.append(s.status)
        )
    )
    answer_unary(channel, "CreateRun", pb.CreateRunResponse(run=run(res.RUN_STATUS_QUEUED)))
    watch, stream = take_watch(channel)
    assert watch.include_steps
    stream.send_response(pb.WatchRunResponse(run_step=step(res.RUN_STEP_STATUS_IN_PROGRESS)))
    stream.send_response(pb.WatchRunResponse(run_step=step(res.RUN_STEP_STATUS_COMPLETED)))
    stream.send_response(pb.WatchRunResponse(run=run(res.RUN_STATUS_COMPLETED)))
    stream.terminate((), grpc.StatusCode.OK, "")
    assert future.result(timeout=30).status == res.RUN_STATUS_COMPLETED
    assert steps == [res.RUN_STEP_STATUS_IN_PROGRESS, res.RUN_STEP_STATUS_COMPLETED]


def test_drive_run_surfaces_the_status_that_ends_the_watch(channel: Any, pool: ThreadPoolExecutor) -> None:
    stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
    statuses: list[int] = []
    future = pool.submit(
        lambda: drive_run(
            stub, "thread_1", "asst_1", lambda call: "", on_status=lambda r: statuses.append(r.status)
        )
    )
    answer_unary(channel, "CreateRun", pb.CreateRunResponse(run=run(res.RUN_STATUS_QUEUED)))
    _, stream = take_watch(channel)
    stream.send_response(pb.WatchRunResponse(run=run(res.RUN_STATUS_IN_PROGRESS)))
    # grpcio-testing drops the messages not yet read when a stream ends in error (gRPC does not): wait.
    give_up = time.monotonic() + 30
    while len(statuses) < 2 and time.monotonic() < give_up:
        time.sleep(0.01)
    stream.terminate((), grpc.StatusCode.DEADLINE_EXCEEDED, "the deadline passed while watching the run")
    with pytest.raises(grpc.RpcError) as error:
        future.result(timeout=30)
    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert statuses == [res.RUN_STATUS_QUEUED, res.RUN_STATUS_IN_PROGRESS]


def test_drive_run_surfaces_an_error_status(channel: Any, pool: ThreadPoolExecutor) -> None:
    stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
    future = pool.submit(lambda: drive_run(stub, "thread_1", "asst_missing", lambda call: ""))
    _, _, rpc = channel.take_unary_unary(SERVICE.methods_by_name["CreateRun"])
    rpc.terminate(None, (), grpc.StatusCode.NOT_FOUND, "No assistant found with id 'asst_missing'.")
    with pytest.raises(grpc.RpcError) as error:
        future.result(timeout=30)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


def test_all_runs_reads_the_whole_stream(channel: Any, pool: ThreadPoolExecutor) -> None:
    stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
    future = pool.submit(lambda: [r.id for r in all_runs(stub, "thread_1", limit=2)])
    _, request, rpc = channel.take_unary_stream(SERVICE.methods_by_name["ListRuns"])
    assert (request.thread_id, request.limit) == ("thread_1", 2)
    rpc.send_response(pb.ListRunsResponse(runs=[res.Run(id="run_3"), res.Run(id="run_2")]))
    rpc.send_response(pb.ListRunsResponse(runs=[res.Run(id="run_1")]))
    rpc.terminate((), grpc.StatusCode.OK, "")
    assert future.result(timeout=30) == ["run_3", "run_2", "run_1"]


@pytest.fixture
def channel_v2() -> grpc_testing.Channel:
    return grpc_testing.channel([SERVICE_V2], grpc_testing.strict_real_time())


def run_v2(status: int, **fields: Any) -> res_v2.Run:
    return res_v2.Run(id="run_1", thread_id="thread_1", assistant_id="asst_1", status=status, **fields)  # type: ignore[arg-type]


def waiting_v2(*call_ids: str) -> res_v2.Run:
    calls = [
        res_v2.RequiredToolCall(
            id=call_id,
            type=res_v2.TOOL_TYPE_FUNCTION,
            function=res_v2.FunctionCall(name="get_weather", arguments='{"city":"Oslo"}'),
        )
        for call_id in call_ids
    ]
    action = res_v2.RequiredAction(
        type=res_v2.REQUIRED_ACTION_TYPE_SUBMIT_TOOL_OUTPUTS,
        submit_tool_outputs=res_v2.SubmitToolOutputsAction(tool_calls=calls),
    )
    return run_v2(res_v2.RUN_STATUS_REQUIRES_ACTION, required_action=action)


def text_delta(*texts: str) -> res_v2.MessageDelta:
    parts = [
        res_v2.MessageContent(type=res_v2.MESSAGE_CONTENT_TYPE_TEXT, text=res_v2.Text(value=text), index=0)
        for text in texts
    ]
    return res_v2.MessageDelta(id="msg_1", delta=res_v2.MessageDeltaFields(content=parts))


def take_stream(channel: Any, method: str) -> tuple[Any, Any]:
    """Take the next call of the server-streaming `method`: its request, and the rpc to send its stream on."""
    _, request, rpc = channel.take_unary_stream(SERVICE_V2.methods_by_name[method])
    return request, rpc


def test_stream_run_streams_the_events_and_submits_outputs_on_a_stream_when_the_run_requires_action(
    channel_v2: Any, pool: ThreadPoolExecutor
) -> None:
    stub = pb_v2_grpc.RunsServiceStub(channel_v2)  # type: ignore[no-untyped-call]
    seen: list[tuple[str, str]] = []
    asked: list[str] = []

    def answer(call: res_v2.FunctionCall) -> str:
        asked.append(f"{call.name}({call.arguments})")
        return "sunny"

    def on_event(event: Event) -> None:
        seen.append((event.event, delta_text(event)))

    future = pool.submit(lambda: stream_run(stub, "thread_1", "asst_1", answer, on_event=on_event))
    create, stream = take_stream(channel_v2, "CreateRunStream")
    assert (create.thread_id, create.assistant_id) == ("thread_1", "asst_1")
    Create = pb_v2.CreateRunStreamResponse
    stream.send_response(Create(event="thread.run.created", run=run_v2(res_v2.RUN_STATUS_QUEUED)))
    stream.send_response(Create(event="thread.run.step.created", run_step=res_v2.RunStep(id="step_1")))
    stream.send_response(Create(event="thread.run.requires_action", run=waiting_v2("call_1", "call_2")))
    stream.terminate((), grpc.StatusCode.OK, "")
    # The stream ended with the run requiring action: the outputs go on a stream of their own.
    submit, resumed = take_stream(channel_v2, "SubmitToolOutputsStream")
    assert (submit.thread_id, submit.run_id) == ("thread_1", "run_1")
    assert [(o.tool_call_id, o.output) for o in submit.tool_outputs] == [
        ("call_1", "sunny"),
        ("call_2", "sunny"),
    ]
    Submit = pb_v2.SubmitToolOutputsStreamResponse
    resumed.send_response(Submit(event="thread.run.queued", run=run_v2(res_v2.RUN_STATUS_QUEUED)))
    resumed.send_response(Submit(event="thread.message.delta", message_delta=text_delta("It is ", "sunny")))
    resumed.send_response(Submit(event="thread.message.delta", message_delta=text_delta(" in Oslo.")))
    resumed.send_response(Submit(event="thread.run.future_event", data_json='{"id": "future_1"}'))
    resumed.send_response(Submit(event="thread.run.completed", run=run_v2(res_v2.RUN_STATUS_COMPLETED)))
    resumed.terminate((), grpc.StatusCode.OK, "")
    assert future.result(timeout=30).status == res_v2.RUN_STATUS_COMPLETED
    assert asked == ['get_weather({"city":"Oslo"})'] * 2
    # Every event of both streams, in order; the deltas' text parts, in order; an unknown event passed on.
    assert seen == [
        ("thread.run.created", ""),
        ("thread.run.step.created", ""),
        ("thread.run.requires_action", ""),
        ("thread.run.queued", ""),
        ("thread.message.delta", "It is sunny"),
        ("thread.message.delta", " in Oslo."),
        ("thread.run.future_event", ""),
        ("thread.run.completed", ""),
    ]


def test_stream_run_refuses_to_answer_the_same_tool_calls_twice(
    channel_v2: Any, pool: ThreadPoolExecutor
) -> None:
    stub = pb_v2_grpc.RunsServiceStub(channel_v2)  # type: ignore[no-untyped-call]
    future = pool.submit(lambda: stream_run(stub, "thread_1", "asst_1", lambda call: "x"))
    _, stream = take_stream(channel_v2, "CreateRunStream")
    stream.send_response(
        pb_v2.CreateRunStreamResponse(event="thread.run.requires_action", run=waiting_v2("call_1"))
    )
    stream.terminate((), grpc.StatusCode.OK, "")
    _, resumed = take_stream(channel_v2, "SubmitToolOutputsStream")
    again = pb_v2.SubmitToolOutputsStreamResponse(
        event="thread.run.requires_action", run=waiting_v2("call_1")
    )
    resumed.send_response(again)
    resumed.terminate((), grpc.StatusCode.OK, "")
    with pytest.raises(RuntimeError, match="requires tool calls it was given the outputs of"):
        future.result(timeout=30)


def test_stream_run_refuses_a_stream_that_never_shows_the_run(
    channel_v2: Any, pool: ThreadPoolExecutor
) -> None:
    stub = pb_v2_grpc.RunsServiceStub(channel_v2)  # type: ignore[no-untyped-call]
    future = pool.submit(lambda: stream_run(stub, "thread_1", "asst_1", lambda call: "x"))
    _, stream = take_stream(channel_v2, "CreateRunStream")
    stream.send_response(
        pb_v2.CreateRunStreamResponse(event="thread.message.delta", message_delta=text_delta("Hi"))
    )
    stream.terminate((), grpc.StatusCode.OK, "")
    with pytest.raises(RuntimeError, match="ended without the run"):
        future.result(timeout=30)


def test_stream_run_surfaces_the_status_that_ends_a_stream(channel_v2: Any, pool: ThreadPoolExecutor) -> None:
    stub = pb_v2_grpc.RunsServiceStub(channel_v2)  # type: ignore[no-untyped-call]
    seen: list[str] = []
    future = pool.submit(
        lambda: stream_run(
            stub, "thread_1", "asst_1", lambda call: "", on_event=lambda e: seen.append(e.event)
        )
    )
    _, stream = take_stream(channel_v2, "CreateRunStream")
    created = pb_v2.CreateRunStreamResponse(event="thread.run.created", run=run_v2(res_v2.RUN_STATUS_QUEUED))
    stream.send_response(created)
    # grpcio-testing drops the messages not yet read when a stream ends in error (gRPC does not): wait.
    give_up = time.monotonic() + 30
    while not seen and time.monotonic() < give_up:
        time.sleep(0.01)
    stream.terminate((), grpc.StatusCode.INTERNAL, "The server had an error while processing your request.")
    with pytest.raises(grpc.RpcError) as error:
        future.result(timeout=30)
    assert error.value.code() == grpc.StatusCode.INTERNAL
    assert seen == ["thread.run.created"]


def test_delta_text_reads_the_text_parts_of_a_message_delta_only() -> None:
    refusal = res_v2.MessageContent(type=res_v2.MESSAGE_CONTENT_TYPE_REFUSAL, refusal="no", index=1)
    delta = text_delta("a", "b")
    delta.delta.content.append(refusal)
    assert (
        delta_text(pb_v2.CreateRunStreamResponse(event="thread.message.delta", message_delta=delta)) == "ab"
    )
    created = pb_v2.SubmitToolOutputsStreamResponse(
        event="thread.run.created", run=run_v2(res_v2.RUN_STATUS_QUEUED)
    )
    assert delta_text(created) == ""
