"""A response's stream as a run's: Responses stream events in, Assistants v2 run events out.

`RunStream` is fed each event of a leg's response stream (name, data), in order, and answers the Assistants
events a client of the Assistants API would read at that point, in a valid order: the run's
(`thread.run.created` on the first leg only, `queued`, `in_progress`, then its rest: `requires_action`,
`completed`, `failed`, `incomplete`, `cancelled`, `expired`), its steps' (`created`, `in_progress`, `delta`,
`completed` ...), its messages' (`created`, `in_progress`, `delta`, `completed` / `incomplete`), and last
`done`, which the adapter treats as `Upstream.events` treats the upstream's: it ends the stream and is never
passed on. A Responses `error` event becomes the Assistants `error` event (an error object), and ends the
stream as `Upstream.events` ends it. Events of no Assistants counterpart (reasoning, web search, audio ...)
are dropped. The objects are built by `mapping` and `steps`, so a step streamed has the id and shape
`run_steps` gives it on any later read. Pure: no I/O, the time passed in.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from gateway.responses.mapping import JSON, RunRecord, run_object, run_status
from gateway.responses.steps import (
    MESSAGE_INCOMPLETE,
    STEP_BREAKS,
    TOOL_ITEMS,
    annotation,
    message_object,
    run_step,
    run_steps,
    step_groups,
    step_id,
)

DONE = "[DONE]"
TERMINAL_EVENTS = frozenset(
    {"response.completed", "response.failed", "response.incomplete", "response.cancelled"}
)
ERROR_TYPES = {"rate_limit_exceeded": "rate_limit_error", "server_error": "server_error"}
"""A Responses `error` event's code → the error type of the Assistants `error` event (what maps to a gRPC
code, see errors.EVENT_ERROR_STATUS); any other code: invalid_request_error, as a request the upstream
refused."""
CALL_TYPES = {
    "function_call": "function",
    "file_search_call": "file_search",
    "code_interpreter_call": "code_interpreter",
}
ENDED_MESSAGE = {"failed": "run_failed", "cancelled": "run_cancelled", "expired": "run_expired"}


HANDLERS = {
    name: "_" + name.removeprefix("response.").replace(".", "_")
    for name in (
        "response.created", "response.queued", "response.in_progress", "response.completed",
        "response.failed", "response.incomplete", "response.cancelled", "response.output_item.added",
        "response.output_item.done", "response.output_text.delta", "response.refusal.delta",
        "response.output_text.annotation.added", "response.function_call_arguments.delta",
        "response.code_interpreter_call_code.delta",
    )
}  # fmt: skip
"""The Responses events that have Assistants counterparts → the method that translates each. A table, not
a name made from the event's: an event the API adds later (`response.end`) never reaches a method by
chance."""


class Event(NamedTuple):
    """An Assistants v2 stream event: its name and its data (a JSON object; `done`'s is "[DONE]")."""

    name: str
    data: Any


class _Group:
    """The tool calls step open in the stream: its id and the item id of each call, in order."""

    def __init__(self, step: str) -> None:
        self.step = step
        self.calls: list[str] = []


class RunStream:
    """The translation of one leg's response stream. `previous`: the chain's earlier responses (none on
    CreateRunStream; on SubmitToolOutputsStream the legs before, whose answered tool steps complete as this
    leg begins); `record`: the run, this leg's response id already last in its chain."""

    def __init__(self, record: RunRecord, previous: list[JSON] | None = None) -> None:
        self.record = record
        self.previous = list(previous or [])
        self.response: JSON = {
            "id": record.responses[-1] if record.responses else "",
            "status": "queued",
            "output": [],
        }
        self.finished = False
        self._said: set[str] = set()
        self._group: _Group | None = None
        self._calls: dict[str, tuple[str, int]] = {}
        self._arguments: dict[str, str] = {}
        self._messages: set[str] = set()
        self._done_message: JSON | None = None

    def feed(self, name: str, data: JSON, now: int) -> list[Event]:
        """The Assistants events that the Responses event `name` (its data decoded) stands for, `now` the
        time it came; none once the stream ended."""
        if self.finished:
            return []
        if name == "error":
            self.finished = True
            return [Event("error", error_object(data)), Event("done", DONE)]
        method = HANDLERS.get(name)
        if method is None:
            return []  # an event of no Assistants counterpart
        handler = getattr(self, method)
        if isinstance(data.get("response"), dict):
            self.response = {
                **data["response"],
                "output": data["response"].get("output") or self.response["output"],
            }
        events: list[Event] = handler(data, now)
        return events

    # ---- the run --------------------------------------------------------------------------------------

    def _created(self, data: JSON, now: int) -> list[Event]:
        events = []
        if not self.previous:
            events.append(self._run_event("thread.run.created", now, "queued"))
        events.append(self._run_event("thread.run.queued", now, "queued"))
        events += self._answered_steps(now)
        if self.response.get("status") == "in_progress":
            events.append(self._run_event("thread.run.in_progress", now, "in_progress"))
        return events

    def _queued(self, data: JSON, now: int) -> list[Event]:
        return (
            [self._run_event("thread.run.queued", now, "queued")]
            if "thread.run.queued" not in self._said
            else []
        )

    def _in_progress(self, data: JSON, now: int) -> list[Event]:
        if "thread.run.in_progress" in self._said:
            return []
        return [self._run_event("thread.run.in_progress", now, "in_progress")]

    def _completed(self, data: JSON, now: int) -> list[Event]:
        return self._end(now)

    _failed = _incomplete = _cancelled = _completed

    def _end(self, now: int) -> list[Event]:
        self.finished = True
        status, _ = run_status(self.record, self._chain(), now)
        events = self._close_message(now) + self._close_group(now) + self._close_messages(status, now)
        events.append(Event(f"thread.run.{status}", self._run(now)))
        return [*events, Event("done", DONE)]

    def _run_event(self, name: str, now: int, status: str) -> Event:
        self._said.add(name)
        return Event(name, {**self._run(now), "status": status})

    def _run(self, now: int) -> JSON:
        return run_object(self.record, self._chain(), now)

    def _chain(self) -> list[JSON]:
        return [*self.previous, self.response]

    def _answered_steps(self, now: int) -> list[Event]:
        """The tool calls steps of the leg before, completed now that their outputs went up."""
        if not self.previous:
            return []
        before = self.previous[-1]
        status = run_status(self.record, self._chain(), now)
        events = []
        for group in step_groups(before):
            if any(item.get("type") == "function_call" for item in group):
                step = run_step(self.record, before, group, self.response, status)
                events.append(Event(f"thread.run.step.{step['status']}", step))
        return events

    # ---- output items ---------------------------------------------------------------------------------

    def _output_item_added(self, data: JSON, now: int) -> list[Event]:
        item = data.get("item") or {}
        self._put(data, item)
        kind = item.get("type")
        events = self._close_message(now) if kind in STEP_BREAKS or kind in TOOL_ITEMS else []
        if kind in STEP_BREAKS:
            events += self._close_group(now)
            step = self._step([item], now)
            self._messages.add(item["id"])
            message = message_object(self.record, item, now)
            events += [Event("thread.run.step.created", step), Event("thread.run.step.in_progress", step)]
            return [
                *events,
                Event("thread.message.created", message),
                Event("thread.message.in_progress", message),
            ]
        if kind not in TOOL_ITEMS:
            return []
        if self._group is None:
            self._group = _Group(step_id(self.response["id"], item["id"]))
            step = {**self._step([item], now), "step_details": {"type": "tool_calls", "tool_calls": []}}
            events += [Event("thread.run.step.created", step), Event("thread.run.step.in_progress", step)]
        index = len(self._group.calls)
        self._group.calls.append(item["id"])
        self._calls[item["id"]] = (self._group.step, index)
        return [*events, self._step_delta(item["id"], _call_delta(item, index))]

    def _output_item_done(self, data: JSON, now: int) -> list[Event]:
        item = data.get("item") or {}
        self._put(data, item)
        if item.get("type") == "message" and item.get("id") in self._messages:
            self._messages.discard(item["id"])
            reason = (self.response.get("incomplete_details") or {}).get("reason")
            message = message_object(
                self.record, item, now, now, MESSAGE_INCOMPLETE.get(reason or "", "max_tokens")
            )
            self._done_message = item  # its step ends when the next step begins or the response ends
            return [Event(f"thread.message.{message['status']}", message)]
        if item.get("type") == "function_call" and item.get("id") in self._calls:
            seen = self._arguments.get(item["id"], "")
            final = item.get("arguments") or ""
            if final != seen and final.startswith(seen):
                return [self._arguments_delta(item["id"], final[len(seen) :])]
        return []

    def _function_call_arguments_delta(self, data: JSON, now: int) -> list[Event]:
        item_id = data.get("item_id", "")
        if item_id not in self._calls:
            return []
        return [self._arguments_delta(item_id, data.get("delta") or "")]

    def _code_interpreter_call_code_delta(self, data: JSON, now: int) -> list[Event]:
        item_id = data.get("item_id", "")
        if item_id not in self._calls:
            return []
        index = self._calls[item_id][1]
        call = {
            "index": index,
            "type": "code_interpreter",
            "code_interpreter": {"input": data.get("delta") or ""},
        }
        return [self._step_delta(item_id, call)]

    def _output_text_delta(self, data: JSON, now: int) -> list[Event]:
        part = {
            "index": data.get("content_index", 0),
            "type": "text",
            "text": {"value": data.get("delta") or ""},
        }
        return self._message_delta(data, part)

    def _refusal_delta(self, data: JSON, now: int) -> list[Event]:
        part = {"index": data.get("content_index", 0), "type": "refusal", "refusal": data.get("delta") or ""}
        return self._message_delta(data, part)

    def _output_text_annotation_added(self, data: JSON, now: int) -> list[Event]:
        note = annotation(data.get("annotation") or {})
        if note is None:
            return []
        note["index"] = data.get("annotation_index", 0)
        part = {"index": data.get("content_index", 0), "type": "text", "text": {"annotations": [note]}}
        return self._message_delta(data, part)

    # ---- helpers --------------------------------------------------------------------------------------

    def _put(self, data: JSON, item: JSON) -> None:
        """Keep the item in the response's output as it is now, at its output_index."""
        output = list(self.response.get("output") or [])
        index = data.get("output_index", len(output))
        if not isinstance(index, int) or index < 0:
            index = len(output)
        output.extend({} for _ in range(index + 1 - len(output)))
        output[index] = item
        self.response["output"] = output

    def _step(self, group: list[JSON], now: int) -> JSON:
        return run_step(self.record, self.response, group, None, run_status(self.record, self._chain(), now))

    def _step_delta(self, item_id: str, call: JSON) -> Event:
        step = self._calls[item_id][0]
        delta = {"step_details": {"type": "tool_calls", "tool_calls": [call]}}
        return Event("thread.run.step.delta", {"id": step, "object": "thread.run.step.delta", "delta": delta})

    def _arguments_delta(self, item_id: str, text: str) -> Event:
        self._arguments[item_id] = self._arguments.get(item_id, "") + text
        index = self._calls[item_id][1]
        return self._step_delta(
            item_id, {"index": index, "type": "function", "function": {"arguments": text}}
        )

    def _message_delta(self, data: JSON, part: JSON) -> list[Event]:
        item_id = data.get("item_id")
        if item_id not in self._messages:
            return []
        delta = {"id": item_id, "object": "thread.message.delta", "delta": {"content": [part]}}
        return [Event("thread.message.delta", delta)]

    def _close_message(self, now: int) -> list[Event]:
        """End the step of the message last completed: once the next step begins, or at the response's end
        (then with the response's usage, as `run_steps` gives it)."""
        item, self._done_message = self._done_message, None
        return [] if item is None else self._step_ended([item], now)

    def _step_ended(self, group: list[JSON], now: int) -> list[Event]:
        """The event of a step that ended now; none while it waits (function calls without outputs). Before
        the response ends its time is the stream's (a stored response keeps no time per item)."""
        step = self._step(group, now)
        if step["status"] == "in_progress":
            return []
        if self.finished:
            steps = run_steps(self.record, self._chain(), now)
            step = next((s for s in steps if s["id"] == step["id"]), step)
        elif step["status"] == "completed":
            step["completed_at"] = now
        return [Event(f"thread.run.step.{step['status']}", step)]

    def _close_group(self, now: int) -> list[Event]:
        """End the open tool calls step: completed with its calls when they are all built-in; a step of
        function calls stays in_progress until its outputs come (or, at the end, follows the run)."""
        group, self._group = self._group, None
        if group is None:
            return []
        items = [item for item in self.response.get("output") or [] if item.get("id") in group.calls]
        if not items:
            return []
        return self._step_ended(items, now)

    def _close_messages(self, status: str, now: int) -> list[Event]:
        """The messages still open when the response ended: incomplete, for the run's end (run_failed,
        run_cancelled, run_expired) or the response's reason, their steps ended with it."""
        events = []
        for item in [item for item in self.response.get("output") or [] if item.get("id") in self._messages]:
            cause = (self.response.get("incomplete_details") or {}).get("reason") or ""
            reason = ENDED_MESSAGE.get(status) or MESSAGE_INCOMPLETE.get(cause, "max_tokens")
            message = message_object(self.record, {**item, "status": "incomplete"}, now, now, reason)
            step = self._step([item], now)
            events += [
                Event("thread.message.incomplete", message),
                Event(f"thread.run.step.{step['status']}", step),
            ]
        self._messages.clear()
        return events


def _call_delta(item: JSON, index: int) -> JSON:
    """The step delta that announces a tool call: its index, id and type, its payload empty so far."""
    kind = CALL_TYPES[item["type"]]
    if kind == "function":
        payload: JSON = {"name": item.get("name", ""), "arguments": "", "output": None}
        return {"index": index, "id": item.get("call_id"), "type": kind, "function": payload}
    payload = {"input": "", "outputs": []} if kind == "code_interpreter" else {}
    return {"index": index, "id": item.get("id"), "type": kind, kind: payload}


def error_object(data: JSON) -> JSON:
    """The Assistants `error` event's error object of a Responses `error` event ({code, message, param})."""
    code = data.get("code")
    return {
        "type": ERROR_TYPES.get(str(code), "invalid_request_error"),
        "code": code,
        "message": str(data.get("message") or "the response stream failed"),
        "param": data.get("param"),
    }
