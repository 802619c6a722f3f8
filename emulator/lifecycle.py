"""The run lifecycle: how a run moves from `queued` to rest, the steps it takes on the way (tool calls, then
the message it writes) and, for a streamed run, the events each change sends, in OpenAI's order.

Runs advance lazily, whenever a request touches them, by the time elapsed: one transition per
`step_seconds` (all pending transitions at once when it is 0), so tests are deterministic and idle runs
cost nothing. A streamed run records its events (`RunState.emit`) as OpenAI sends them: a step is created
empty (`tool_calls: []`) and filled by `thread.run.step.delta`s, a message likewise by
`thread.message.delta`s, so a client that adds up the deltas (as the SDKs do) ends with the final object.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emulator.model import JSON, RunState, message_object, new_id, now
from emulator.validation import RANKER, text_part

RESTING = frozenset({"requires_action", "completed", "cancelled", "failed", "expired", "incomplete"})
COMPLETION_TOKENS = 300
"""What the emulated reply costs for `max_completion_tokens`: a run allowing fewer ends `incomplete`."""
REPLY = "Hello from the emulator, here is the answer."
FILLER = "And a little more of the emulator's reply, to make it as long as asked."
"""Words added to the reply when it has fewer words than the deltas it is to be streamed in."""
CODE = "print(1 + 1)"
SAMPLE_VALUES: dict[str, Any] = {
    "string": "example",
    "integer": 1,
    "number": 1.5,
    "boolean": True,
    "array": [],
}


@dataclass(frozen=True)
class Lifecycle:
    """How runs advance: seconds per transition, the clock they are measured on, and how many deltas write
    a reply (0: one per word)."""

    step_seconds: float = 0.05
    clock: Callable[[], float] = time.monotonic
    reply_deltas: int = 0

    def advance(self, state: RunState) -> None:
        """Bring a run to now: every transition whose time has come."""
        while state.obj["status"] not in RESTING:
            elapsed = self.clock() - state.changed
            if elapsed < self.step_seconds:
                return
            state.changed = self.clock() if self.step_seconds == 0 else state.changed + self.step_seconds
            self._transition(state)

    def _transition(self, state: RunState) -> None:
        run = state.obj
        if run["status"] == "cancelling":
            _cancel(state)
        elif run["status"] == "queued":
            run.update(status="in_progress", started_at=run["started_at"] or now())
            state.emit("thread.run.in_progress", run)
        elif run["status"] == "in_progress" and (state.submitted or not _call_tools(state)):
            self._reply(state)  # a run calling functions waits for their outputs first

    def _reply(self, state: RunState) -> None:
        """The message_creation step: the assistant's message, written in deltas, then the run's end."""
        run = state.obj
        message = _assistant_message(run)
        details = {"type": "message_creation", "message_creation": {"message_id": message["id"]}}
        step = add_step(state, details)
        state.messages.add(message)
        state.emit("thread.message.created", message)
        state.emit("thread.message.in_progress", message)
        self._write(state, message)
        short = run["max_completion_tokens"] is not None and run["max_completion_tokens"] < COMPLETION_TOKENS
        if short:
            message.update(
                status="incomplete", incomplete_at=now(), incomplete_details={"reason": "max_tokens"}
            )
        else:
            message.update(status="completed", completed_at=now())
        state.emit(f"thread.message.{message['status']}", message)
        finish_step(state, step, "completed")
        _end(state, short)

    def _write(self, state: RunState, message: JSON) -> None:
        """The reply's text into `message`, in `reply_deltas` deltas."""
        pieces = reply_pieces(_reply_text(state), self.reply_deltas)
        for piece in pieces:
            content = [{"index": 0, **text_part(piece)}]
            delta = {"id": message["id"], "object": "thread.message.delta", "delta": {"content": content}}
            state.emit("thread.message.delta", delta)
        message["content"] = [text_part("".join(pieces))]

    def resume(self, state: RunState, outputs: dict[str, str]) -> None:
        """A run given its tool outputs: the function step completes and the run is queued again."""
        step = state.function_step
        assert step is not None, "only a run waiting for tool outputs resumes"
        for call in step["step_details"]["tool_calls"]:
            call["function"]["output"] = outputs[call["id"]]
        finish_step(state, step, "completed")
        state.obj.update(status="queued", required_action=None)
        state.submitted, state.changed = True, self.clock()
        state.emit("thread.run.queued", state.obj)

    def cancel(self, state: RunState) -> None:
        """Start cancelling a run (it is `cancelled` on its next transition)."""
        state.obj.update(status="cancelling", required_action=None)
        state.changed = self.clock()
        state.emit("thread.run.cancelling", state.obj)


def _cancel(state: RunState) -> None:
    run = state.obj
    run.update(status="cancelled", cancelled_at=now(), expires_at=None)
    for step in state.steps.items:
        if step["status"] == "in_progress":
            step.update(status="cancelled", cancelled_at=now())
            state.emit("thread.run.step.cancelled", step)
    state.emit("thread.run.cancelled", run)


def _end(state: RunState, short: bool) -> None:
    run = state.obj
    usage = {"prompt_tokens": 100, "completion_tokens": 20 * len(state.steps.items)}
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    run.update(status="completed", completed_at=now(), expires_at=None, usage=usage)
    if short:
        run.update(
            status="incomplete", completed_at=None, incomplete_details={"reason": "max_completion_tokens"}
        )
    state.emit(f"thread.run.{run['status']}", run)


def _call_tools(state: RunState) -> bool:
    """The run's tool steps: a built-in tool's completes at once, the functions' one waits for their
    outputs. Whether the run now waits for them."""
    chosen = _chosen_tools(state.obj)
    kinds = {tool["type"] for tool in chosen}
    if "code_interpreter" in kinds:
        add_step(state, _tool_step([_code_call()]), "completed")
    if "retrieval" in kinds:
        add_step(
            state, _tool_step([{"id": new_id("call_"), "type": "retrieval", "retrieval": {}}]), "completed"
        )
    for tool in chosen:
        if tool["type"] == "file_search":
            add_step(state, _tool_step([_search_call(tool)]), "completed")
    calls = [_function_call(tool["function"]) for tool in chosen if tool["type"] == "function"]
    if calls:
        state.function_step = add_step(state, _tool_step(calls))
        _require_outputs(state, calls)
    return bool(calls)


def _chosen_tools(run: JSON) -> list[JSON]:
    """The tools a run calls, as its `tool_choice` says: none, all of them, or the one it names."""
    choice = run.get("tool_choice") or "auto"
    if choice == "none":
        return []
    if isinstance(choice, str):
        return list(run["tools"])
    named = (choice.get("function") or {}).get("name")
    return [
        tool
        for tool in run["tools"]
        if tool["type"] == choice["type"] and (named is None or tool["function"]["name"] == named)
    ]


def _require_outputs(state: RunState, calls: list[JSON]) -> None:
    required = [
        {
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": call["function"]["arguments"]},
        }
        for call in calls
    ]
    state.obj.update(
        status="requires_action",
        required_action={"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": required}},
    )
    state.emit("thread.run.requires_action", state.obj)


def add_step(state: RunState, details: JSON, status: str = "in_progress") -> JSON:
    """A new step of the run: created, in progress, its tool calls streamed, then completed if `status`
    says so."""
    step = _step_object(state.obj, details)
    state.steps.add(step)
    calls = details.get("tool_calls")
    # OpenAI creates a tool step before the model writes its calls: they arrive in the deltas.
    created = step if calls is None else {**step, "step_details": _tool_step([])}
    state.emit("thread.run.step.created", created)
    state.emit("thread.run.step.in_progress", created)
    for index, call in enumerate(calls or []):
        for piece in _call_deltas(call, index):
            delta = {"step_details": _tool_step([piece])}
            state.emit(
                "thread.run.step.delta", {"id": step["id"], "object": "thread.run.step.delta", "delta": delta}
            )
    if status == "completed":
        finish_step(state, step, status)
    return step


def _step_object(run: JSON, details: JSON) -> JSON:
    return {
        "id": new_id("step_"),
        "object": "thread.run.step",
        "created_at": now(),
        "assistant_id": run["assistant_id"],
        "thread_id": run["thread_id"],
        "run_id": run["id"],
        "type": details["type"],
        "status": "in_progress",
        "step_details": details,
        "last_error": None,
        "expired_at": None,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "metadata": None,
        "usage": None,
    }


def finish_step(state: RunState, step: JSON, status: str) -> None:
    """A step ends (`completed`), with what it cost."""
    step.update(
        status=status,
        completed_at=now(),
        usage={"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60},
    )
    state.emit(f"thread.run.step.{status}", step)


def _call_deltas(call: JSON, index: int) -> list[JSON]:
    """A tool call as `thread.run.step.delta`s write it: named first (its id, type and empty fields), then
    a function's arguments in two halves, a code interpreter's input then its outputs."""
    kind, first = call["type"], {"index": index, "id": call["id"], "type": call["type"]}
    if kind == "function":
        arguments = call["function"]["arguments"]
        half = len(arguments) // 2
        return [
            {**first, "function": {"name": call["function"]["name"], "arguments": "", "output": None}},
            {"index": index, "type": kind, "function": {"arguments": arguments[:half]}},
            {"index": index, "type": kind, "function": {"arguments": arguments[half:]}},
        ]
    if kind == "code_interpreter":
        code = call["code_interpreter"]
        outputs = [{"index": n, **output} for n, output in enumerate(code["outputs"])]
        return [
            {**first, "code_interpreter": {"input": "", "outputs": []}},
            {"index": index, "type": kind, "code_interpreter": {"input": code["input"]}},
            {"index": index, "type": kind, "code_interpreter": {"outputs": outputs}},
        ]
    return [{**first, kind: {}}]  # file_search (its results come with the completed step), retrieval


def _tool_step(calls: list[JSON]) -> JSON:
    return {"type": "tool_calls", "tool_calls": calls}


def _code_call() -> JSON:
    outputs = [{"type": "logs", "logs": "2\n"}, {"type": "image", "image": {"file_id": new_id("file-")}}]
    return {
        "id": new_id("call_"),
        "type": "code_interpreter",
        "code_interpreter": {"input": CODE, "outputs": outputs},
    }


def _function_call(function: JSON) -> JSON:
    properties = (function.get("parameters") or {}).get("properties") or {}
    arguments = {
        name: SAMPLE_VALUES.get(str(spec.get("type"))) if isinstance(spec, dict) else None
        for name, spec in properties.items()
    }
    return {
        "id": new_id("call_"),
        "type": "function",
        "function": {"name": function["name"], "arguments": json.dumps(arguments), "output": None},
    }


def _search_call(tool: JSON) -> JSON:
    options = tool["file_search"]
    results = [
        {
            "file_id": new_id("file-"),
            "file_name": f"notes-{n}.txt",
            "score": round(0.9 - n / 10, 2),
            "content": [{"type": "text", "text": f"Passage {n} of the emulator's notes."}],
        }
        for n in range(min(2, options.get("max_num_results", 20)))
    ]
    ranking = {"ranker": RANKER, **options["ranking_options"]}
    if ranking["ranker"] == "auto":
        ranking["ranker"] = RANKER  # a call reports the ranker it used
    return {
        "id": new_id("call_"),
        "type": "file_search",
        "file_search": {"ranking_options": ranking, "results": results},
    }


def _assistant_message(run: JSON) -> JSON:
    return message_object(
        run["thread_id"],
        "assistant",
        [],
        assistant_id=run["assistant_id"],
        run_id=run["id"],
        status="in_progress",
    )


def _reply_text(state: RunState) -> str:
    outputs = [
        c["function"]["output"]
        for c in (state.function_step or {}).get("step_details", {}).get("tool_calls", [])
    ]
    if outputs:
        return f"The tools answered {', '.join(map(str, outputs))}, so that is the answer."
    return REPLY


def reply_pieces(text: str, deltas: int) -> list[str]:
    """The reply's text in `deltas` parts, one `thread.message.delta` each (one per word when 0), the text
    lengthened by `FILLER` while it has fewer words than parts: no delta is empty (OpenAI sends none)."""
    words = re.findall(r"\S+\s*", text)
    if deltas <= 0:
        return words
    if len(words) < deltas:
        repeats = -(-(deltas - len(words)) // len(FILLER.split()))  # ceiling division
        words = re.findall(r"\S+\s*", text.rstrip() + f" {FILLER}" * repeats)
    size, extra = divmod(len(words), deltas)
    bounds = [n * size + min(n, extra) for n in range(deltas + 1)]
    return ["".join(words[lo:hi]) for lo, hi in itertools.pairwise(bounds)]
