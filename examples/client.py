"""A Python client of the gateway: drive a run to its end, answering the tool calls it requires.

This is what an application does with RunsService, in plain synchronous grpcio: create a run, poll it,
submit tool outputs when it requires action, and read the result. `examples/demo.py` runs it against the
emulator; `tests/test_client.py` tests it with grpcio-testing, playing the server's side.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from runs_gateway.assistants.v1 import resources_pb2 as res
from runs_gateway.assistants.v1 import runs_service_pb2 as pb
from runs_gateway.assistants.v1 import runs_service_pb2_grpc as pb_grpc

TERMINAL = frozenset(
    {res.RUN_STATUS_COMPLETED, res.RUN_STATUS_FAILED, res.RUN_STATUS_CANCELLED, res.RUN_STATUS_EXPIRED}
)
"""Statuses after which a run never changes again."""

Answer = Callable[[res.FunctionCall], str]
"""Computes the output of one function call the run asks for."""


def drive_run(
    stub: pb_grpc.RunsServiceStub,
    thread_id: str,
    assistant_id: str,
    answer: Answer,
    *,
    poll_interval: float = 0.1,
    timeout: float = 30.0,
    on_status: Callable[[res.Run], None] = lambda run: None,
) -> res.Run:
    """Create a run and poll it to a terminal status, submitting tool outputs whenever it requires action."""
    request = pb.CreateRunRequest(thread_id=thread_id, assistant_id=assistant_id)
    created: pb.CreateRunResponse = stub.CreateRun(request, timeout=10)
    run = created.run
    on_status(run)
    deadline = time.monotonic() + timeout
    while run.status not in TERMINAL:
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run.id} still {res.RunStatus.Name(run.status)} after {timeout}s")
        if run.status == res.RUN_STATUS_REQUIRES_ACTION:
            run = submit_outputs(stub, run, answer)
        else:
            time.sleep(poll_interval)
            got: pb.GetRunResponse = stub.GetRun(
                pb.GetRunRequest(thread_id=thread_id, run_id=run.id), timeout=10
            )
            run = got.run
        on_status(run)
    return run


def submit_outputs(stub: pb_grpc.RunsServiceStub, run: res.Run, answer: Answer) -> res.Run:
    """Answer every tool call the run requires and submit the outputs; returns the resumed run."""
    outputs = [
        pb.ToolOutput(tool_call_id=call.id, output=answer(call.function))
        for call in run.required_action.submit_tool_outputs.tool_calls
    ]
    request = pb.SubmitToolOutputsRequest(thread_id=run.thread_id, run_id=run.id, tool_outputs=outputs)
    response: pb.SubmitToolOutputsResponse = stub.SubmitToolOutputs(request, timeout=10)
    return response.run


def all_runs(stub: pb_grpc.RunsServiceStub, thread_id: str, **list_options: object) -> Iterator[res.Run]:
    """Every run of a thread, streamed by the gateway a page per message (`limit` is the page size)."""
    request = pb.ListRunsRequest(thread_id=thread_id, **list_options)  # type: ignore[arg-type]
    for page in stub.ListRuns(request, timeout=60):
        yield from page.runs


def all_steps(stub: pb_grpc.RunsServiceStub, thread_id: str, run_id: str) -> Iterator[res.RunStep]:
    """Every step of a run, oldest first."""
    request = pb.ListRunStepsRequest(thread_id=thread_id, run_id=run_id, order=pb.LIST_ORDER_ASC)
    for page in stub.ListRunSteps(request, timeout=60):
        yield from page.run_steps
