"""A Python client of the gateway: drive a run to its end, answering the tool calls it requires.

This is what an application does with RunsService, in plain synchronous grpcio. On v1 (`drive_run`): create
a run, follow it with WatchRun (one stream, which brings each change of the run as the gateway sees it,
until the run ends), submit tool outputs on another call when a message shows the run requires action, and
keep reading the same stream until it ends. On v2 (`stream_run`): CreateRunStream brings the run's events
as they happen until it rests; when it rests requiring action, SubmitToolOutputsStream submits the outputs
and brings the events that follow. `examples/demo.py` runs both against the emulator;
`tests/test_client.py` tests them with grpcio-testing, playing the server's side.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from runs_gateway.assistants.v1 import resources_pb2 as res
from runs_gateway.assistants.v1 import runs_service_pb2 as pb
from runs_gateway.assistants.v1 import runs_service_pb2_grpc as pb_grpc
from runs_gateway.assistants.v2 import resources_pb2 as res_v2
from runs_gateway.assistants.v2 import runs_service_pb2 as pb_v2
from runs_gateway.assistants.v2 import runs_service_pb2_grpc as pb_v2_grpc

Answer = Callable[[res.FunctionCall], str]
"""Computes the output of one function call the run asks for."""
AnswerV2 = Callable[[res_v2.FunctionCall], str]
"""The same, for a run of v2."""
Event = pb_v2.CreateRunStreamResponse | pb_v2.SubmitToolOutputsStreamResponse
"""One event of a streamed run (v2): its name in `event`, its data in the field the `data` oneof says."""


class EventStream(Protocol):
    """A server stream of a run's events, as grpcio returns it."""

    def __iter__(self) -> Iterator[Event]: ...

    def cancel(self) -> bool: ...


def drive_run(
    stub: pb_grpc.RunsServiceStub,
    thread_id: str,
    assistant_id: str,
    answer: Answer,
    *,
    timeout: float = 60.0,
    on_status: Callable[[res.Run], None] = lambda run: None,
    on_step: Callable[[res.RunStep], None] | None = None,
) -> res.Run:
    """Create a run and follow it to its end, submitting tool outputs whenever it requires action.

    `on_status` sees the created run, then the run each time its status changes; `on_step`, when given, each
    step of the run as it appears and each time it changes (every step ends in its final state before the
    last run). `timeout` bounds the whole watch. Returns the run as it ended; raises grpc.RpcError when a
    call fails (the watch's status, e.g. DEADLINE_EXCEEDED, after the changes already seen).
    """
    request = pb.CreateRunRequest(thread_id=thread_id, assistant_id=assistant_id)
    created: pb.CreateRunResponse = stub.CreateRun(request, timeout=10)
    on_status(created.run)
    return follow_run(stub, created.run, answer, timeout=timeout, on_status=on_status, on_step=on_step)


def follow_run(
    stub: pb_grpc.RunsServiceStub,
    run: res.Run,
    answer: Answer,
    *,
    timeout: float = 60.0,
    on_status: Callable[[res.Run], None] = lambda run: None,
    on_step: Callable[[res.RunStep], None] | None = None,
) -> res.Run:
    """Watch `run` until it ends (see `drive_run`); `run` is its latest state known, whose status
    `on_status` has seen already."""
    request = pb.WatchRunRequest(thread_id=run.thread_id, run_id=run.id, include_steps=on_step is not None)
    answered: set[str] = set()  # the tool calls already answered, never answered twice
    changes = stub.WatchRun(request, timeout=timeout)
    try:
        for change in changes:
            if change.WhichOneof("change") == "run_step":
                if on_step is not None:
                    on_step(change.run_step)
                continue
            if change.run.status != run.status:
                on_status(change.run)
            run = change.run
            if run.status == res.RUN_STATUS_REQUIRES_ACTION:
                calls = {call.id for call in run.required_action.submit_tool_outputs.tool_calls}
                if not calls <= answered:
                    submit_outputs(stub, run, answer)  # on a call of its own: the stream goes on
                    answered |= calls
    finally:
        changes.cancel()  # a no-op once the stream has ended; else (an error here) it stops the watch
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


def stream_run(
    stub: pb_v2_grpc.RunsServiceStub,
    thread_id: str,
    assistant_id: str,
    answer: AnswerV2,
    *,
    timeout: float = 60.0,
    on_event: Callable[[Event], None] = lambda event: None,
) -> res_v2.Run:
    """Create a run on v2 and stream its events until it ends, submitting tool outputs whenever it requires
    action.

    CreateRunStream brings the run's events until it rests; each time it rests requiring action,
    SubmitToolOutputsStream answers every tool call it requires and brings the events that follow.
    `on_event` sees every event of those streams, in order, as it arrives (`delta_text` reads a message
    delta's text); `timeout` bounds each streamed call. Returns the run as its last event showed it; raises
    grpc.RpcError when a call fails (after the events already seen), RuntimeError when a stream ends without
    showing the run or the run requires tool calls it was given the outputs of.
    """
    request = pb_v2.CreateRunStreamRequest(thread_id=thread_id, assistant_id=assistant_id)
    events: EventStream = stub.CreateRunStream(request, timeout=timeout)
    answered: set[str] = set()
    while (run := read_events(events, on_event)).status == res_v2.RUN_STATUS_REQUIRES_ACTION:
        calls = run.required_action.submit_tool_outputs.tool_calls
        if answered & {call.id for call in calls}:
            raise RuntimeError(f"run {run.id} requires tool calls it was given the outputs of")
        answered |= {call.id for call in calls}
        outputs = [pb_v2.ToolOutput(tool_call_id=call.id, output=answer(call.function)) for call in calls]
        submit = pb_v2.SubmitToolOutputsStreamRequest(
            thread_id=run.thread_id, run_id=run.id, tool_outputs=outputs
        )
        events = stub.SubmitToolOutputsStream(submit, timeout=timeout)
    return run


def read_events(events: EventStream, on_event: Callable[[Event], None]) -> res_v2.Run:
    """Read a stream of a run's events to its end (the gateway ends it OK once the run rests), passing each
    to `on_event`; returns the run as the last event that carries it showed it."""
    run: res_v2.Run | None = None
    try:
        for event in events:
            on_event(event)
            if event.WhichOneof("data") == "run":
                run = event.run
    finally:
        events.cancel()  # a no-op once the stream has ended; else (an error here) it stops the call
    if run is None:
        raise RuntimeError("the stream of the run's events ended without the run")
    return run


def delta_text(event: Event) -> str:
    """The text a `thread.message.delta` event adds to its message (its text parts, in order); "" for any
    other event."""
    if event.WhichOneof("data") != "message_delta":
        return ""
    parts = event.message_delta.delta.content
    return "".join(part.text.value for part in parts if part.WhichOneof("part") == "text")
