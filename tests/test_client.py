"""The example client's logic, tested with grpcio-testing: the test plays RunsService's side of each call.

grpcio-testing serves synchronous servicers only, so it cannot host the gateway's grpc.aio servicer (that is
tested over real sockets in test_servicer.py and test_e2e.py); it serves well here, for client code.
"""

from __future__ import annotations

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


def test_drive_run_submits_outputs_when_the_run_requires_action(
    channel: Any, pool: ThreadPoolExecutor
) -> None:
    stub = pb_grpc.RunsServiceStub(channel)
    statuses: list[int] = []
    asked: list[str] = []

    def answer(call: res.FunctionCall) -> str:
        asked.append(f"{call.name}({call.arguments})")
        return "sunny"

    future = pool.submit(
        lambda: drive_run(
            stub, "thread_1", "asst_1", answer, poll_interval=0, on_status=lambda r: statuses.append(r.status)
        ),
    )
    create = answer_unary(channel, "CreateRun", pb.CreateRunResponse(run=run(res.RUN_STATUS_QUEUED)))
    assert (create.thread_id, create.assistant_id) == ("thread_1", "asst_1")
    call = res.RequiredToolCall(
        id="call_9",
        type=res.TOOL_TYPE_FUNCTION,
        function=res.FunctionCall(name="weather", arguments='{"city":"Oslo"}'),
    )
    action = res.RequiredAction(
        type=res.REQUIRED_ACTION_TYPE_SUBMIT_TOOL_OUTPUTS,
        submit_tool_outputs=res.SubmitToolOutputsAction(tool_calls=[call]),
    )
    get = answer_unary(
        channel, "GetRun", pb.GetRunResponse(run=run(res.RUN_STATUS_REQUIRES_ACTION, required_action=action))
    )
    assert (get.thread_id, get.run_id) == ("thread_1", "run_1")
    submit = answer_unary(
        channel, "SubmitToolOutputs", pb.SubmitToolOutputsResponse(run=run(res.RUN_STATUS_QUEUED))
    )
    assert list(submit.tool_outputs) == [pb.ToolOutput(tool_call_id="call_9", output="sunny")]
    answer_unary(channel, "GetRun", pb.GetRunResponse(run=run(res.RUN_STATUS_COMPLETED)))
    final = future.result(timeout=30)
    assert final.status == res.RUN_STATUS_COMPLETED
    assert asked == ['weather({"city":"Oslo"})']
    assert statuses == [
        res.RUN_STATUS_QUEUED,
        res.RUN_STATUS_REQUIRES_ACTION,
        res.RUN_STATUS_QUEUED,
        res.RUN_STATUS_COMPLETED,
    ]


def test_drive_run_surfaces_an_error_status(channel: Any, pool: ThreadPoolExecutor) -> None:
    stub = pb_grpc.RunsServiceStub(channel)
    future = pool.submit(lambda: drive_run(stub, "thread_1", "asst_missing", lambda call: ""))
    _, _, rpc = channel.take_unary_unary(SERVICE.methods_by_name["CreateRun"])
    rpc.terminate(None, (), grpc.StatusCode.NOT_FOUND, "No assistant found with id 'asst_missing'.")
    with pytest.raises(grpc.RpcError) as error:
        future.result(timeout=30)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]


def test_all_runs_reads_the_whole_stream(channel: Any, pool: ThreadPoolExecutor) -> None:
    stub = pb_grpc.RunsServiceStub(channel)
    future = pool.submit(lambda: [r.id for r in all_runs(stub, "thread_1", limit=2)])
    _, request, rpc = channel.take_unary_stream(SERVICE.methods_by_name["ListRuns"])
    assert (request.thread_id, request.limit) == ("thread_1", 2)
    rpc.send_response(pb.ListRunsResponse(runs=[res.Run(id="run_3"), res.Run(id="run_2")]))
    rpc.send_response(pb.ListRunsResponse(runs=[res.Run(id="run_1")]))
    rpc.terminate((), grpc.StatusCode.OK, "")
    assert future.result(timeout=30) == ["run_3", "run_2", "run_1"]
