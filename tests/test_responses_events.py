"""A response's stream as a run's (gateway/responses/events.py): realistic Responses event streams fed in,
the Assistants v2 events out in a valid order (a text run, a function call run resting in requires_action,
the second leg after tool outputs, failure, incomplete, cancel, an `error` event, unknown events), deltas
adding up to the final text and arguments, and every event read by the gateway's own streamed-run path
(`core.Gateway._event`, strictly) as a client of CreateRunStream would get it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_responses_mapping import (
    ASSISTANT,
    T0,
    WEATHER,
    call_item,
    conforms,
    record,
    response,
    strictly,
    text_item,
)

from gateway import core
from gateway.errors import EVENT_ERROR_STATUS
from gateway.responses.assistants import effective_settings
from gateway.responses.events import Event, RunStream
from gateway.responses.steps import run_steps, step_id
from gateway.routes import EVENTS_V2

JSON = dict[str, Any]
CREATE_STREAM = core.BINDINGS["/runs_gateway.assistants.v2.RunsService/CreateRunStream"]
SUBMIT_STREAM = core.BINDINGS["/runs_gateway.assistants.v2.RunsService/SubmitToolOutputsStream"]


def lifecycle(rid: str, final: JSON) -> tuple[list[tuple[str, JSON]], list[tuple[str, JSON]]]:
    """The head and the tail of a background response's stream: created (queued), in_progress ... and its
    final event carrying the whole response."""
    queued = {**final, "status": "queued", "output": [], "usage": None, "completed_at": None}
    head = [
        ("response.created", {"type": "response.created", "response": queued, "sequence_number": 0}),
        ("response.queued", {"type": "response.queued", "response": queued, "sequence_number": 1}),
        (
            "response.in_progress",
            {"type": "response.in_progress", "response": {**queued, "status": "in_progress"}},
        ),
    ]
    name = {
        "completed": "response.completed",
        "failed": "response.failed",
        "incomplete": "response.incomplete",
    }
    kind = name.get(final["status"], f"response.{final['status']}")
    return head, [(kind, {"type": kind, "response": final, "sequence_number": 99})]


def message_events(item: JSON, index: int, pieces: list[str]) -> list[tuple[str, JSON]]:
    added = {**item, "status": "in_progress", "content": []}
    part = {"type": "output_text", "text": "", "annotations": []}
    events = [
        ("response.output_item.added", {"output_index": index, "item": added}),
        (
            "response.content_part.added",
            {"item_id": item["id"], "output_index": index, "content_index": 0, "part": part},
        ),
    ]
    for piece in pieces:
        delta = {
            "item_id": item["id"],
            "output_index": index,
            "content_index": 0,
            "delta": piece,
            "logprobs": [],
        }
        events.append(("response.output_text.delta", delta))
    text = "".join(pieces)
    events += [
        (
            "response.output_text.done",
            {"item_id": item["id"], "output_index": index, "content_index": 0, "text": text},
        ),
        ("response.content_part.done", {"item_id": item["id"], "output_index": index, "content_index": 0}),
        ("response.output_item.done", {"output_index": index, "item": item}),
    ]
    return events


def call_events(item: JSON, index: int, pieces: list[str]) -> list[tuple[str, JSON]]:
    added = {**item, "status": "in_progress", "arguments": ""}
    events = [("response.output_item.added", {"output_index": index, "item": added})]
    for piece in pieces:
        events.append(
            (
                "response.function_call_arguments.delta",
                {"item_id": item["id"], "output_index": index, "delta": piece},
            )
        )
    events.append(
        ("response.function_call_arguments.done", {"item_id": item["id"], "arguments": item["arguments"]})
    )
    return [*events, ("response.output_item.done", {"output_index": index, "item": item})]


def translate(stream: RunStream, events: list[tuple[str, JSON]]) -> list[Event]:
    out: list[Event] = []
    for n, (name, data) in enumerate(events):
        out += stream.feed(name, json.loads(json.dumps(data)), T0 + n)
    return out


def through_gateway(events: list[Event], binding: core.Binding = CREATE_STREAM) -> list[Any]:
    """Each event as the gateway's streamed-run path reads it (`done` and `error` end the stream in
    Upstream.events and are never messages), after a strict look at its data."""
    messages = []
    for name, data in events:
        if name in ("done", "error"):
            continue
        assert name in EVENTS_V2, name
        strictly({"event": name, EVENTS_V2[name]: data}, binding.response)
        message = core.Gateway._event(binding, name, json.dumps(data))
        assert message.event == name  # the name and the object agree: the gateway renames nothing
        messages.append(message)
    return messages


def names(events: list[Event]) -> list[str]:
    return [event.name for event in events]


TEXT = text_item("msg_1", "It is sunny in Paris.")
OPENING = ["thread.run.created", "thread.run.queued", "thread.run.in_progress"]
"""How the first leg of a run opens its stream."""
MESSAGE_BEGINS = [
    "thread.run.step.created",
    "thread.run.step.in_progress",
    "thread.message.created",
    "thread.message.in_progress",
]
"""How a message (and its step) begins."""


def test_a_text_run_streams_as_the_assistants_api_does() -> None:
    final = response("resp_1", output=[TEXT])
    head, tail = lifecycle("resp_1", final)
    events = translate(
        RunStream(record()), [*head, *message_events(TEXT, 0, ["It is ", "sunny ", "in Paris."]), *tail]
    )
    assert names(events) == [
        *OPENING,
        *MESSAGE_BEGINS,
        "thread.message.delta",
        "thread.message.delta",
        "thread.message.delta",
        "thread.message.completed",
        "thread.run.step.completed",
        "thread.run.completed",
        "done",
    ]
    messages = through_gateway(events)
    text = "".join(
        m.message_delta.delta.content[0].text.value for m in messages if m.event == "thread.message.delta"
    )
    completed = next(m for m in messages if m.event == "thread.message.completed")
    assert text == completed.message.content[0].text.value == "It is sunny in Paris."
    assert completed.message.id == "msg_1"
    assert completed.message.run_id == "run_1"
    run = events[-2].data
    assert (run["status"], run["usage"]["total_tokens"]) == ("completed", 380)
    assert [e.data["status"] for e in events[:3]] == ["queued", "queued", "in_progress"]
    # The step streamed is the step GetRunStep serves: same id, same object.
    steps = run_steps(record(), [final])
    assert events[-3].data == steps[0]
    assert events[3].data["id"] == steps[0]["id"]
    assert conforms(run, "RunObject") == []
    assert events[-1] == Event("done", "[DONE]")


CALLS = [
    call_item("call_1", "fc_1", arguments='{"city":"Paris"}'),
    call_item("call_2", "fc_2", arguments='{"city":"Oslo"}'),
]


def test_a_function_call_run_rests_in_requires_action() -> None:
    final = response("resp_1", output=CALLS)
    head, tail = lifecycle("resp_1", final)
    body = [
        *call_events(CALLS[0], 0, ['{"city"', ':"Paris"}']),
        *call_events(CALLS[1], 1, ['{"city":"Oslo"}']),
    ]
    events = translate(RunStream(record()), [*head, *body, *tail])
    assert names(events) == [
        *OPENING,
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.run.step.delta",  # call_1 announced
        "thread.run.step.delta",
        "thread.run.step.delta",
        "thread.run.step.delta",  # call_2 announced
        "thread.run.step.delta",
        "thread.run.requires_action",  # the step stays in_progress until its outputs come
        "done",
    ]
    messages = through_gateway(events)
    deltas = [
        m.run_step_delta.delta.step_details.tool_calls[0]
        for m in messages
        if m.event == "thread.run.step.delta"
    ]
    for index, call in enumerate(CALLS):
        mine = [d for d in deltas if d.index == index]
        assert mine[0].id == call["call_id"]
        assert mine[0].function.name == "get_weather"
        assert "".join(d.function.arguments for d in mine) == call["arguments"]
    step_ids = {e.data["id"] for e in events if e.name.startswith("thread.run.step.")}
    assert step_ids == {step_id("resp_1", "fc_1")}
    run = messages[-1].run
    assert [c.id for c in run.required_action.submit_tool_outputs.tool_calls] == ["call_1", "call_2"]
    assert (
        events[-2].data["required_action"]["submit_tool_outputs"]["tool_calls"][1]["function"]["arguments"]
        == '{"city":"Oslo"}'
    )


def test_arguments_the_stream_never_sent_come_with_the_item() -> None:
    final = response("resp_1", output=CALLS[:1])
    head, tail = lifecycle("resp_1", final)
    events = translate(RunStream(record()), [*head, *call_events(CALLS[0], 0, []), *tail])
    deltas = [
        e.data["delta"]["step_details"]["tool_calls"][0] for e in events if e.name == "thread.run.step.delta"
    ]
    assert "".join(d["function"]["arguments"] for d in deltas) == CALLS[0]["arguments"]


def test_the_second_leg_continues_the_same_run() -> None:
    first = response("resp_1", output=CALLS, usage=(100, 20))
    answered = record(responses=("resp_1", "resp_2"), tool_outputs={"call_1": "18C", "call_2": "-3C"})
    final = response("resp_2", output=[TEXT], usage=(150, 30), created_at=T0 + 30)
    head, tail = lifecycle("resp_2", final)
    events = translate(
        RunStream(answered, [first]), [*head, *message_events(TEXT, 0, ["It is sunny in Paris."]), *tail]
    )
    assert names(events) == [
        "thread.run.queued",
        "thread.run.step.completed",  # the tool calls of the first leg, their outputs in
        "thread.run.in_progress",
        *MESSAGE_BEGINS,
        "thread.message.delta",
        "thread.message.completed",
        "thread.run.step.completed",
        "thread.run.completed",
        "done",
    ]
    through_gateway(events, SUBMIT_STREAM)
    tool_step = events[1].data
    assert tool_step["id"] == step_id("resp_1", "fc_1")
    assert [c["function"]["output"] for c in tool_step["step_details"]["tool_calls"]] == ["18C", "-3C"]
    assert tool_step["completed_at"] == T0 + 30
    run = events[-2].data
    assert run["usage"] == {"prompt_tokens": 250, "completion_tokens": 50, "total_tokens": 300}
    assert run["id"] == "run_1"
    assert run["required_action"] is None
    assert [s["id"] for s in run_steps(answered, [first, final])] == [
        tool_step["id"],
        events[3].data["id"],
    ]


ENDINGS = [
    (
        "failed",
        {"error": {"code": "rate_limit_exceeded", "message": "slow down"}},
        "thread.run.failed",
        "run_failed",
    ),
    ("cancelled", {}, "thread.run.cancelled", "run_cancelled"),
]


@pytest.mark.parametrize(("status", "fields", "run_event", "reason"), ENDINGS)
def test_a_response_that_ends_midway_ends_its_message_step_and_run(
    status: str, fields: JSON, run_event: str, reason: str
) -> None:
    open_item = text_item("msg_1", "It is", status="in_progress")
    final = response("resp_1", status, output=[open_item], **fields)
    head, tail = lifecycle("resp_1", final)
    partial = message_events(TEXT, 0, ["It is"])[:3]
    run = record(cancel_requested_at=T0 + 4) if status == "cancelled" else record()
    events = translate(RunStream(run), [*head, *partial, *tail])
    assert names(events)[-4:] == ["thread.message.incomplete", f"thread.run.step.{status}", run_event, "done"]
    assert events[-4].data["incomplete_details"] == {"reason": reason}
    through_gateway(events)
    if status == "failed":
        assert events[-2].data["last_error"] == {"code": "rate_limit_exceeded", "message": "slow down"}
        assert events[-3].data["last_error"]["code"] == "rate_limit_exceeded"
    else:
        assert events[-2].data["cancelled_at"] == T0 + 4


def test_an_incomplete_response_is_an_incomplete_run() -> None:
    item = text_item("msg_1", "It is sunny", status="incomplete")
    final = response(
        "resp_1", "incomplete", output=[item], incomplete_details={"reason": "max_output_tokens"}
    )
    head, tail = lifecycle("resp_1", final)
    events = translate(RunStream(record()), [*head, *message_events(item, 0, ["It is sunny"]), *tail])
    assert names(events)[-5:] == [
        "thread.message.delta",
        "thread.message.incomplete",
        "thread.run.step.completed",
        "thread.run.incomplete",
        "done",
    ]
    assert events[-4].data["incomplete_details"] == {"reason": "max_tokens"}
    assert events[-2].data["incomplete_details"] == {"reason": "max_completion_tokens"}
    messages = through_gateway(events)
    assert messages[-1].run.incomplete_details.reason == 1  # INCOMPLETE_REASON_MAX_COMPLETION_TOKENS


def test_an_error_event_is_the_assistants_error_event_and_ends_the_stream() -> None:
    head, _ = lifecycle("resp_1", response("resp_1"))
    error = {"type": "error", "code": "rate_limit_exceeded", "message": "Too many requests", "param": None}
    stream = RunStream(record())
    events = translate(stream, [*head, ("error", error)])
    assert events[-2:] == [
        Event(
            "error",
            {
                "type": "rate_limit_error",
                "code": "rate_limit_exceeded",
                "message": "Too many requests",
                "param": None,
            },
        ),
        Event("done", "[DONE]"),
    ]
    assert conforms(events[-2].data, "Error") == []
    # The type is one the gateway maps, as it maps an HTTP answer of it (429: RESOURCE_EXHAUSTED).
    assert EVENT_ERROR_STATUS[events[-2].data["type"]] == 429
    assert stream.finished
    assert stream.feed("response.completed", {"response": response("resp_1")}, T0) == []


def test_events_of_no_assistants_counterpart_are_dropped() -> None:
    final = response("resp_1", output=[{"type": "reasoning", "id": "rs_1", "summary": []}, TEXT])
    head, tail = lifecycle("resp_1", final)
    unknown = [
        (
            "response.output_item.added",
            {"output_index": 0, "item": {"type": "reasoning", "id": "rs_1", "summary": []}},
        ),
        ("response.reasoning_summary_text.delta", {"item_id": "rs_1", "delta": "Thinking"}),
        ("response.web_search_call.searching", {"item_id": "ws_1", "output_index": 0}),
        (
            "response.output_item.done",
            {"output_index": 0, "item": {"type": "reasoning", "id": "rs_1", "summary": []}},
        ),
        ("response.audio.delta", {"delta": "AAAA"}),
        ("response.something_new", {"anything": [1, 2]}),
        ("response.end", {}),  # names of the translator's own methods are no events
        ("response.put", {"item": {}}),
        ("response.run", {}),
        ("response.output_text.delta", {"item_id": "msg_unknown", "content_index": 0, "delta": "stray"}),
    ]
    events = translate(
        RunStream(record()), [*head, *unknown, *message_events(TEXT, 1, ["It is sunny in Paris."]), *tail]
    )
    assert "thread.run.step.created" in names(events)
    assert all(e.name.startswith("thread.") or e.name == "done" for e in events)
    through_gateway(events)


def test_a_stream_that_begins_in_progress_still_says_queued_first() -> None:
    final = response("resp_1", output=[TEXT])
    running = {**final, "status": "in_progress", "output": [], "usage": None}
    events = translate(RunStream(record()), [("response.created", {"response": running})])
    assert names(events) == ["thread.run.created", "thread.run.queued", "thread.run.in_progress"]
    assert [e.data["status"] for e in events] == ["queued", "queued", "in_progress"]


def test_built_in_tool_calls_stream_as_their_tool_call_types() -> None:
    settings = effective_settings(ASSISTANT, {"tools": [WEATHER, {"type": "code_interpreter"}]})
    code = {
        "type": "code_interpreter_call",
        "id": "ci_1",
        "status": "completed",
        "container_id": "c",
        "code": "1+1",
        "outputs": [],
    }
    final = response("resp_1", output=[code, TEXT])
    head, tail = lifecycle("resp_1", final)
    body = [
        (
            "response.output_item.added",
            {"output_index": 0, "item": {**code, "status": "in_progress", "code": ""}},
        ),
        ("response.code_interpreter_call_code.delta", {"item_id": "ci_1", "output_index": 0, "delta": "1+"}),
        ("response.code_interpreter_call_code.delta", {"item_id": "ci_1", "output_index": 0, "delta": "1"}),
        ("response.output_item.done", {"output_index": 0, "item": code}),
        *message_events(TEXT, 1, ["It is sunny in Paris."]),
    ]
    events = translate(RunStream(record(settings=settings)), [*head, *body, *tail])
    assert names(events)[3:9] == [
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.run.step.delta",
        "thread.run.step.delta",
        "thread.run.step.delta",
        "thread.run.step.completed",  # the code step ends as the message begins
    ]
    messages = through_gateway(events)
    code_input = "".join(
        m.run_step_delta.delta.step_details.tool_calls[0].code_interpreter.input
        for m in messages
        if m.event == "thread.run.step.delta"
    )
    assert code_input == "1+1"
    assert events[8].data["step_details"]["tool_calls"][0]["code_interpreter"]["input"] == "1+1"
