"""The example client's logic, tested with grpcio-testing: the test plays RunsService's side of each call,
a WatchRun stream message by message.

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

from examples.client import all_runs, drive_run

SERVICE = pb.DESCRIPTOR.services_by_name["RunsService"]


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
