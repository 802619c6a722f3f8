"""How a response runs: the emulated model's deterministic answer and the events each step sends, in
OpenAI's order.

The model: a response whose chosen tools (`tool_choice`: none, all, or the one named) include functions and
whose input answers no call (`function_call_output`) asks for them: one `function_call` output item per
function (only the first when `parallel_tool_calls` is false), arguments a sample of each parameter's type,
and the response is `completed`. A `file_search` or `code_interpreter` tool adds its call, completed with
fixed results, before them. Otherwise (or once the outputs are given) it writes an assistant `message`: the
Assistants emulator's reply, or the outputs it was given quoted back, as JSON when `text.format` asks for
it, in `reply_deltas` deltas. The reply costs 4 output tokens a word: a `max_output_tokens` below that cost
cuts it there and the response is `incomplete` (`max_output_tokens`). Metadata `emulator_error` fails the
response with that error code (`server_error` when the value is not one of `ResponseErrorCode`).

A response in the foreground runs to its end when it is created. In the background it is `queued`, then
`in_progress` one `step_seconds` later, and ends one more later, advanced lazily whenever a request touches
it (all at once when `step_seconds` is 0), so a poller sees each status; cancelling it makes it `cancelled`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emulator.lifecycle import CODE, REPLY, SAMPLE_VALUES, reply_pieces
from emulator.model import JSON, new_id, now
from emulator.responses.items import (
    PREFIXES,
    function_call,
    message,
    output_text,
    shown,
    texts,
)
from emulator.responses.model import ResponseState

TOKENS_PER_WORD = 4
CALL_TOKENS = 10
"""What an output item other than a message costs."""
ERROR_KEY = "emulator_error"
"""The metadata key that makes a response fail, its value the error code."""
ERROR_CODES = frozenset(
    {"server_error", "rate_limit_exceeded", "invalid_prompt", "vector_store_timeout", "invalid_image"}
)


@dataclass(frozen=True)
class Lifecycle:
    """How responses advance: seconds per transition, the clock, and how many deltas write a reply."""

    step_seconds: float = 0.05
    clock: Callable[[], float] = time.monotonic
    reply_deltas: int = 0

    def start(self, state: ResponseState) -> None:
        """A new response: in the background, `queued`; in the foreground, run to its end at once."""
        state.changed = self.clock()
        if state.obj["background"]:
            state.emit("response.created", response=self.render(state))
            state.emit("response.queued", response=self.render(state))
            return
        self._begin(state, created=True)
        self._finish(state)

    def advance(self, state: ResponseState) -> None:
        """Bring a background response to now: every transition whose time has come."""
        while not state.resting:
            if self.clock() - state.changed < self.step_seconds:
                return
            state.changed = self.clock() if self.step_seconds == 0 else state.changed + self.step_seconds
            if state.obj["status"] == "queued":
                self._begin(state, created=False)
            else:
                self._finish(state)

    def cancel(self, state: ResponseState) -> None:
        """Stop a background response that has not ended (the API has no event for it)."""
        if not state.resting:
            state.obj["status"] = "cancelled"

    def render(self, state: ResponseState) -> JSON:
        """The response as answers and events show it (built-in calls' details as `include` asks)."""
        return {**state.obj, "output": [shown(item, state.include) for item in state.obj["output"]]}

    def _begin(self, state: ResponseState, created: bool) -> None:
        tier = state.obj["service_tier"]
        state.obj.update(status="in_progress", service_tier="default" if tier == "auto" else tier)
        if created:
            state.emit("response.created", response=self.render(state))
        state.emit("response.in_progress", response=self.render(state))

    def _finish(self, state: ResponseState) -> None:
        obj = state.obj
        code = obj["metadata"].get(ERROR_KEY)
        if code is not None:
            error = {"code": code if code in ERROR_CODES else "server_error", "message": _failure(code)}
            obj.update(status="failed", error=error, usage=_usage(state))
            state.emit("response.failed", response=self.render(state))
            return
        for entry in _plan(state):
            self._write(state, entry)
        short = any(entry.get("status") == "incomplete" for entry in obj["output"])
        obj.update(status="incomplete" if short else "completed", usage=_usage(state))
        if short:
            obj["incomplete_details"] = {"reason": "max_output_tokens"}
        else:
            obj["completed_at"] = now()
        state.emit(f"response.{obj['status']}", response=self.render(state))
        if state.conversation is not None:
            for entry in [*state.input, *obj["output"]]:
                state.conversation.items.add(entry)

    def _write(self, state: ResponseState, entry: JSON) -> None:
        """One output item into the response, with the events that write it."""
        index = len(state.obj["output"])
        kind = entry["type"]
        if kind == "message":
            self._reply(state, entry, index)
        elif kind == "function_call":
            _call(state, entry, index)
        else:
            _builtin(state, entry, index)
        state.obj["output"].append(entry)
        state.emit("response.output_item.done", output_index=index, item=shown(entry, state.include))

    def _reply(self, state: ResponseState, entry: JSON, index: int) -> None:
        final = entry["content"][0]["text"]
        at = {"item_id": entry["id"], "output_index": index, "content_index": 0}
        added = {**entry, "status": "in_progress", "content": []}
        state.emit("response.output_item.added", output_index=index, item=added)
        state.emit("response.content_part.added", **at, part=output_text(""))
        for piece in reply_pieces(final, self.reply_deltas) if final else []:
            state.emit("response.output_text.delta", **at, delta=piece, logprobs=[])
        state.emit("response.output_text.done", **at, text=final, logprobs=[])
        state.emit("response.content_part.done", **at, part=output_text(final))


def _call(state: ResponseState, entry: JSON, index: int) -> None:
    arguments, half = entry["arguments"], len(entry["arguments"]) // 2
    added = {**entry, "status": "in_progress", "arguments": ""}
    state.emit("response.output_item.added", output_index=index, item=added)
    for piece in (arguments[:half], arguments[half:]):
        state.emit(
            "response.function_call_arguments.delta", item_id=entry["id"], output_index=index, delta=piece
        )
    state.emit(
        "response.function_call_arguments.done",
        item_id=entry["id"],
        name=entry["name"],
        output_index=index,
        arguments=arguments,
    )


def _builtin(state: ResponseState, entry: JSON, index: int) -> None:
    """A file search's or a code interpreter's events, between its `added` and its `done`."""
    kind, at = entry["type"], {"item_id": entry["id"], "output_index": index}
    added = {**shown(entry, frozenset()), "status": "in_progress"}
    if kind == "code_interpreter_call":
        added["code"] = ""
    state.emit("response.output_item.added", output_index=index, item=added)
    state.emit(f"response.{kind}.in_progress", **at)
    if kind == "file_search_call":
        state.emit("response.file_search_call.searching", **at)
    else:
        state.emit("response.code_interpreter_call_code.delta", **at, delta=entry["code"])
        state.emit("response.code_interpreter_call_code.done", **at, code=entry["code"])
        state.emit("response.code_interpreter_call.interpreting", **at)
    state.emit(f"response.{kind}.completed", **at)


def _plan(state: ResponseState) -> list[JSON]:
    """The output items the model writes: tool calls, or the reply."""
    obj = state.obj
    outputs = [entry["output"] for entry in state.input if entry["type"] == "function_call_output"]
    if outputs:
        return [_message(state, f"The tools answered {', '.join(map(str, outputs))}, so that is the answer.")]
    chosen = chosen_tools(obj)
    calls = [_search_call(state) for tool in chosen if tool["type"] == "file_search"]
    calls += [_code_call() for tool in chosen if tool["type"] == "code_interpreter"]
    functions = [tool for tool in chosen if tool["type"] == "function"]
    if functions:
        if not obj["parallel_tool_calls"]:
            functions = functions[:1]
        return calls + [function_call(tool["name"], sample_arguments(tool)) for tool in functions]
    return [*calls, _message(state, REPLY)]


def chosen_tools(obj: JSON) -> list[JSON]:
    """The tools a response calls, as its `tool_choice` says: none, all of them, or the one it names."""
    choice = obj["tool_choice"]
    if choice == "none":
        return []
    if isinstance(choice, str):
        return list(obj["tools"])
    return [
        tool
        for tool in obj["tools"]
        if tool["type"] == choice["type"] and tool.get("name") == choice.get("name")
    ]


def sample_arguments(tool: JSON) -> str:
    """A function's arguments: each parameter given a sample value of its type."""
    return json.dumps(_sample(tool.get("parameters") or {}))


def _sample(schema: JSON) -> dict[str, Any]:
    properties = schema.get("properties") or {}
    return {
        name: SAMPLE_VALUES.get(str(spec.get("type"))) if isinstance(spec, dict) else None
        for name, spec in properties.items()
    }


def _message(state: ResponseState, reply: str) -> JSON:
    """The assistant's reply, as `text.format` asks, cut where `max_output_tokens` runs out."""
    fmt = state.obj["text"]["format"]
    if fmt["type"] == "json_object":
        reply = json.dumps({"answer": reply})
    elif fmt["type"] == "json_schema":
        reply = json.dumps(_sample(fmt["schema"]))
    words = reply.split(" ")
    limit = state.obj["max_output_tokens"]
    if limit is not None and limit < TOKENS_PER_WORD * len(words):
        cut = " ".join(words[: limit // TOKENS_PER_WORD])
        return message("assistant", [output_text(cut)], "incomplete")
    return message("assistant", [output_text(reply)], "completed")


def _search_call(state: ResponseState) -> JSON:
    asked = texts(state.input)
    results = [
        {
            "file_id": new_id("file-"),
            "filename": f"notes-{n}.txt",
            "score": round(0.9 - n / 10, 2),
            "text": f"Passage {n} of the emulator's notes.",
            "attributes": {},
        }
        for n in range(2)
    ]
    return {
        "id": new_id(PREFIXES["file_search_call"]),
        "type": "file_search_call",
        "status": "completed",
        "queries": asked[-1:] or ["notes"],
        "results": results,
    }


def _code_call() -> JSON:
    return {
        "id": new_id(PREFIXES["code_interpreter_call"]),
        "type": "code_interpreter_call",
        "status": "completed",
        "container_id": new_id("cntr_"),
        "code": CODE,
        "outputs": [{"type": "logs", "logs": "2\n"}],
    }


def _usage(state: ResponseState) -> JSON:
    seen = [*state.context, *state.input]
    words = sum(len(text.split()) for text in texts(seen)) + len((state.obj["instructions"] or "").split())
    output = state.obj["output"]
    written = sum(len(text.split()) for text in texts(output))
    calls = sum(1 for entry in output if entry["type"] != "message")
    others = sum(1 for entry in seen if entry["type"] != "message")
    input_tokens = TOKENS_PER_WORD * words + CALL_TOKENS * others
    output_tokens = TOKENS_PER_WORD * written + CALL_TOKENS * calls
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


def _failure(code: str) -> str:
    return f"The emulator failed this response, as its metadata asked ({ERROR_KEY}: {code})."
