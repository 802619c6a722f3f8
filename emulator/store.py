"""The emulator's in-memory model of the Assistants API (v1 and v2): assistants, threads, runs, steps, the
messages runs write, the run lifecycle and cursor pagination. It knows nothing of HTTP: operations take
REST-shaped dicts and return the internal objects (the union of both versions' fields, which
`versions.render` cuts to a version's shape), and refuse bad input with `ApiError`, which `app.py` turns
into an OpenAI error body. Operations take the version of the request where the versions accept different
input.

Runs advance lazily, whenever a request touches them, by the time elapsed: one transition per
`step_seconds` (all pending transitions at once when it is 0), so tests are deterministic and idle runs
cost nothing. A run being streamed records what each transition did as stream events (`RunState.events`),
which `stream.py` sends.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.versions import ASSISTANT_REQUEST, RUN_DEFAULTS, RUN_REQUEST, SUBMIT_REQUEST, TOOL_TYPES

JSON = dict[str, Any]
ALPHABET = string.ascii_letters + string.digits
RESTING = frozenset({"requires_action", "completed", "cancelled", "failed", "expired", "incomplete"})
CANCELLABLE = frozenset({"queued", "in_progress", "requires_action"})
COMPLETION_TOKENS = 300
"""What the emulated reply costs for `max_completion_tokens`: a run allowing fewer ends `incomplete`."""
RANKER = "default_2024_08_21"
SAMPLE_VALUES: dict[str, Any] = {
    "string": "example",
    "integer": 1,
    "number": 1.5,
    "boolean": True,
    "array": [],
}


class ApiError(Exception):
    """A request the REST API refuses: the HTTP status and the fields of the OpenAI error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.type = status, message, param, code, type

    def body(self) -> JSON:
        """The OpenAI error body."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def new_id(prefix: str) -> str:
    """An id like OpenAI's: a prefix and 24 random letters and digits."""
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(24))


def now() -> int:
    return int(time.time())


@dataclass
class Listing:
    """Objects in creation order with an id → position index: each page costs O(limit), not O(total)."""

    items: list[JSON] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)

    def add(self, item: JSON) -> None:
        self.index[item["id"]] = len(self.items)
        self.items.append(item)

    def page(self, query: JSON, kind: str) -> tuple[list[JSON], bool]:
        """The items of one REST list page and whether more follow, per limit / order / after / before."""
        limit, order = _limit(query.get("limit")), query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise ApiError(
                400, f"Invalid value for 'order': expected 'asc' or 'desc', got '{order}'.", param="order"
            )
        after, before = self._position(query, "after", kind), self._position(query, "before", kind)
        if order == "asc":
            lo = 0 if after is None else after + 1
            hi = len(self.items) if before is None else before
            return self.items[lo : min(hi, lo + limit)], hi - lo > limit
        hi = len(self.items) if after is None else after
        lo = 0 if before is None else before + 1
        return self.items[max(lo, hi - limit) : hi][::-1], hi - lo > limit

    def _position(self, query: JSON, name: str, kind: str) -> int | None:
        cursor = query.get(name)
        if cursor is None:
            return None
        if cursor not in self.index:
            raise ApiError(400, f"Invalid '{name}': no {kind} with id '{cursor}' in this list.", param=name)
        return self.index[cursor]


def _limit(raw: str | None) -> int:
    if raw is None:
        return 20
    if not raw.lstrip("-").isdigit() or not 1 <= int(raw) <= 100:
        raise ApiError(
            400, f"Invalid 'limit': expected an integer between 1 and 100, got '{raw}'.", param="limit"
        )
    return int(raw)


@dataclass
class RunState:
    """A run's REST object, its steps, and where it is in its lifecycle."""

    obj: JSON
    steps: Listing = field(default_factory=Listing)
    changed: float = field(default_factory=time.monotonic)
    submitted: bool = False
    function_step: JSON | None = None
    events: list[tuple[str, JSON]] | None = None
    """While streamed: (event name, snapshot of the object) for each change, in order; None otherwise."""

    def emit(self, name: str, obj: JSON) -> None:
        if self.events is not None:
            self.events.append((name, copy.deepcopy(obj)))

    def listen(self) -> list[tuple[str, JSON]]:
        """Start recording events afresh (a stream begins) and return the list they go to."""
        self.events = []
        return self.events


@dataclass
class Thread:
    obj: JSON
    runs: Listing = field(default_factory=Listing)
    states: dict[str, RunState] = field(default_factory=dict)
    messages: Listing = field(default_factory=Listing)


class Store:
    """Everything the emulator knows, in memory."""

    def __init__(self, step_seconds: float = 0.05, clock: Callable[[], float] = time.monotonic) -> None:
        self.step_seconds = step_seconds
        self.clock = clock
        self.assistants: dict[str, JSON] = {}
        self.threads: dict[str, Thread] = {}

    # Assistants and threads: just enough for a demo to start from nothing.

    def create_assistant(self, body: JSON, version: str = "v1") -> JSON:
        _only(body, ASSISTANT_REQUEST[version])
        if not isinstance(body.get("model"), str):
            raise ApiError(400, "Missing required parameter: 'model'.", param="model")
        assistant = {
            "id": new_id("asst_"),
            "object": "assistant",
            "created_at": now(),
            "name": body.get("name"),
            "description": body.get("description"),
            "model": body["model"],
            "instructions": body.get("instructions"),
            "tools": _tools(body.get("tools", []), version),
            "file_ids": list(body.get("file_ids", [])),
            "metadata": _metadata(body.get("metadata", {})),
            "tool_resources": body.get("tool_resources") or {},
            "temperature": body.get("temperature", 1.0),
            "top_p": body.get("top_p", 1.0),
            "response_format": body.get("response_format", "auto"),
        }
        self.assistants[assistant["id"]] = assistant
        return assistant

    def assistant(self, assistant_id: str) -> JSON:
        if assistant_id not in self.assistants:
            raise ApiError(404, f"No assistant found with id '{assistant_id}'.")
        return self.assistants[assistant_id]

    def create_thread(self, body: JSON) -> JSON:
        obj: JSON = {
            "id": new_id("thread_"),
            "object": "thread",
            "created_at": now(),
            "metadata": _metadata(body.get("metadata", {})),
            "tool_resources": body.get("tool_resources") or {},
        }
        self.threads[obj["id"]] = Thread(obj)
        return obj

    def thread(self, thread_id: str) -> Thread:
        if thread_id not in self.threads:
            raise ApiError(404, f"No thread found with id '{thread_id}'.")
        return self.threads[thread_id]

    # Runs.

    def create_run(self, thread_id: str, body: JSON, version: str = "v1", stream: bool = False) -> RunState:
        """A new run (queued); with `stream`, recording its events from `thread.run.created` on."""
        thread = self.thread(thread_id)
        _only(body, RUN_REQUEST[version])
        if not isinstance(body.get("assistant_id"), str):
            raise ApiError(400, "Missing required parameter: 'assistant_id'.", param="assistant_id")
        assistant = self.assistant(body["assistant_id"])
        instructions = body.get("instructions") or assistant["instructions"]
        if body.get("additional_instructions"):
            instructions = f"{instructions or ''}\n{body['additional_instructions']}".strip()
        tools = _tools(body["tools"], version) if body.get("tools") is not None else assistant["tools"]
        fields = {
            "status": "queued",
            "model": body.get("model") or assistant["model"],
            "instructions": instructions,
            "tools": tools,
            "metadata": _metadata(body.get("metadata") or {}),
        }
        fields.update(_run_options(body))
        messages = [_message(thread_id, m, i) for i, m in enumerate(body.get("additional_messages") or [])]
        state = self._add_run(thread, assistant, fields)
        for message in messages:
            thread.messages.add(message)
        if stream:
            state.listen()
            state.emit("thread.run.created", state.obj)
            state.emit("thread.run.queued", state.obj)
        return state

    def seed_runs(self, thread_id: str, count: int, assistant_id: str | None = None) -> JSON:
        """Add `count` completed runs to a thread at once (for list benchmarks)."""
        thread = self.thread(thread_id)
        assistant = self.assistant(assistant_id) if assistant_id else {"id": "asst_seed", "model": "gpt-4"}
        created = now()
        ids = []
        for _ in range(count):
            state = self._add_run(
                thread,
                assistant,
                {
                    "status": "completed",
                    "model": assistant["model"],
                    "instructions": None,
                    "tools": [],
                    "metadata": {},
                    "started_at": created,
                    "completed_at": created,
                    "expires_at": None,
                    "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30},
                },
            )
            ids.append(state.obj["id"])
        return {"count": count, "first_id": ids[0] if ids else None, "last_id": ids[-1] if ids else None}

    def _add_run(self, thread: Thread, assistant: JSON, fields: JSON) -> RunState:
        created = now()
        obj: JSON = {
            "id": new_id("run_"),
            "object": "thread.run",
            "created_at": created,
            "thread_id": thread.obj["id"],
            "assistant_id": assistant["id"],
            "status": "queued",
            "required_action": None,
            "last_error": None,
            "expires_at": created + 600,
            "started_at": None,
            "cancelled_at": None,
            "failed_at": None,
            "completed_at": None,
            "model": "",
            "instructions": None,
            "tools": [],
            "file_ids": list(assistant.get("file_ids", [])),
            "metadata": {},
            "usage": None,
            **RUN_DEFAULTS,
        }
        obj.update(fields)
        state = RunState(obj, changed=self.clock())
        thread.runs.add(obj)
        thread.states[obj["id"]] = state
        return state

    def run(self, thread_id: str, run_id: str) -> RunState:
        """A run, advanced to now."""
        state = self.thread(thread_id).states.get(run_id)
        if state is None:
            raise ApiError(404, f"No run found with id '{run_id}'.")
        self._advance(state)
        return state

    def list_runs(self, thread_id: str, query: JSON) -> tuple[list[JSON], bool]:
        thread = self.thread(thread_id)
        items, has_more = thread.runs.page(query, "run")
        for item in items:
            self._advance(thread.states[item["id"]])
        return items, has_more

    def modify_run(self, thread_id: str, run_id: str, body: JSON) -> JSON:
        state = self.run(thread_id, run_id)
        _only(body, {"metadata"})
        state.obj["metadata"] = _metadata(body.get("metadata") or {})
        return state.obj

    def cancel_run(self, thread_id: str, run_id: str) -> JSON:
        state = self.run(thread_id, run_id)
        if state.obj["status"] not in CANCELLABLE:
            raise ApiError(400, f"Cannot cancel run with status '{state.obj['status']}'.")
        state.obj.update(status="cancelling", required_action=None)
        state.changed = self.clock()
        state.emit("thread.run.cancelling", state.obj)
        return state.obj

    def submit_tool_outputs(
        self, thread_id: str, run_id: str, body: JSON, version: str = "v1", stream: bool = False
    ) -> RunState:
        """Resume a run waiting for tool outputs; with `stream`, recording its events from then on."""
        state = self.run(thread_id, run_id)
        _only(body, SUBMIT_REQUEST[version])
        run = state.obj
        if run["status"] != "requires_action" or state.function_step is None:
            raise ApiError(400, f'Runs in status "{run["status"]}" do not accept tool outputs.')
        outputs = body.get("tool_outputs")
        if not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs):
            raise ApiError(
                400, "Invalid type for 'tool_outputs': expected an array of objects.", param="tool_outputs"
            )
        given = {o.get("tool_call_id"): o.get("output") for o in outputs}
        calls = state.function_step["step_details"]["tool_calls"]
        if set(given) != {c["id"] for c in calls}:
            raise ApiError(
                400,
                "Expected tool outputs for call_ids "
                f"{sorted(c['id'] for c in calls)}, got {sorted(map(str, given))}.",
                param="tool_outputs",
            )
        for call in calls:
            call["function"]["output"] = str(given[call["id"]] or "")
        _finish_step(state.function_step, "completed")
        run.update(status="queued", required_action=None)
        state.submitted, state.changed = True, self.clock()
        if stream:
            state.listen()
        state.emit("thread.run.step.completed", state.function_step)
        state.emit("thread.run.queued", run)
        return state

    def advance(self, state: RunState) -> None:
        """Bring a run to now (what a request touching it does)."""
        self._advance(state)

    def list_messages(self, thread_id: str, query: JSON) -> tuple[list[JSON], bool]:
        return self.thread(thread_id).messages.page(query, "message")

    # Steps.

    def step(self, thread_id: str, run_id: str, step_id: str) -> JSON:
        state = self.run(thread_id, run_id)
        if step_id not in state.steps.index:
            raise ApiError(404, f"No run step found with id '{step_id}'.")
        return state.steps.items[state.steps.index[step_id]]

    def list_steps(self, thread_id: str, run_id: str, query: JSON) -> tuple[list[JSON], bool]:
        return self.run(thread_id, run_id).steps.page(query, "run step")

    # The lifecycle.

    def _advance(self, state: RunState) -> None:
        while state.obj["status"] not in RESTING:
            elapsed = self.clock() - state.changed
            if elapsed < self.step_seconds:
                return
            state.changed = self.clock() if self.step_seconds == 0 else state.changed + self.step_seconds
            self._transition(state)

    def _transition(self, state: RunState) -> None:
        run = state.obj
        status = run["status"]
        if status == "cancelling":
            run.update(status="cancelled", cancelled_at=now(), expires_at=None)
            for step in state.steps.items:
                if step["status"] == "in_progress":
                    step.update(status="cancelled", cancelled_at=now())
            state.emit("thread.run.cancelled", run)
        elif status == "queued":
            run.update(status="in_progress", started_at=run["started_at"] or now())
            state.emit("thread.run.in_progress", run)
        elif status == "in_progress":
            self._run_tools(state)

    def _run_tools(self, state: RunState) -> None:
        run = state.obj
        kinds = [t["type"] for t in run["tools"]]
        if not state.submitted:
            if "code_interpreter" in kinds:
                self._add_step(state, _tool_step([_code_call()]), "completed")
            if "retrieval" in kinds:
                self._add_step(
                    state,
                    _tool_step([{"id": new_id("call_"), "type": "retrieval", "retrieval": {}}]),
                    "completed",
                )
            for tool in run["tools"]:
                if tool["type"] == "file_search":
                    self._add_step(state, _tool_step([_search_call(tool)]), "completed")
            functions = [t["function"] for t in run["tools"] if t["type"] == "function"]
            if functions:
                calls = [_function_call(f) for f in functions]
                state.function_step = self._add_step(state, _tool_step(calls), "in_progress")
                required = [
                    {
                        "id": c["id"],
                        "type": "function",
                        "function": {"name": c["function"]["name"], "arguments": c["function"]["arguments"]},
                    }
                    for c in calls
                ]
                run.update(
                    status="requires_action",
                    required_action={
                        "type": "submit_tool_outputs",
                        "submit_tool_outputs": {"tool_calls": required},
                    },
                )
                state.emit("thread.run.requires_action", run)
                return
        self._reply(state)

    def _reply(self, state: RunState) -> None:
        """The message_creation step: the assistant's message, written in several deltas, then the end."""
        run = state.obj
        message = _assistant_message(run)
        details = {"type": "message_creation", "message_creation": {"message_id": message["id"]}}
        step = self._add_step(state, details, "in_progress")
        self.threads[run["thread_id"]].messages.add(message)
        state.emit("thread.message.created", message)
        state.emit("thread.message.in_progress", message)
        text = _reply_text(state)
        for piece in re.findall(r"\S+\s*", text):
            content = [{"index": 0, "type": "text", "text": {"value": piece, "annotations": []}}]
            delta = {"id": message["id"], "object": "thread.message.delta", "delta": {"content": content}}
            state.emit("thread.message.delta", delta)
        message["content"] = [{"type": "text", "text": {"value": text, "annotations": []}}]
        short = run["max_completion_tokens"] is not None and run["max_completion_tokens"] < COMPLETION_TOKENS
        if short:
            message.update(
                status="incomplete", incomplete_at=now(), incomplete_details={"reason": "max_tokens"}
            )
        else:
            message.update(status="completed", completed_at=now())
        state.emit(f"thread.message.{message['status']}", message)
        _finish_step(step, "completed")
        state.emit("thread.run.step.completed", step)
        usage = {"prompt_tokens": 100, "completion_tokens": 20 * len(state.steps.items)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        run.update(status="completed", completed_at=now(), expires_at=None, usage=usage)
        if short:
            run.update(
                status="incomplete", completed_at=None, incomplete_details={"reason": "max_completion_tokens"}
            )
        state.emit(f"thread.run.{run['status']}", run)

    def _add_step(self, state: RunState, details: JSON, status: str) -> JSON:
        run = state.obj
        step: JSON = {
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
        state.steps.add(step)
        state.emit("thread.run.step.created", step)
        state.emit("thread.run.step.in_progress", step)
        for delta in _argument_deltas(step):
            state.emit("thread.run.step.delta", delta)
        if status == "completed":
            _finish_step(step, status)
            state.emit("thread.run.step.completed", step)
        return step


def _finish_step(step: JSON, status: str) -> None:
    step.update(
        status=status,
        completed_at=now(),
        usage={"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60},
    )


def _tool_step(calls: list[JSON]) -> JSON:
    return {"type": "tool_calls", "tool_calls": calls}


def _code_call() -> JSON:
    outputs = [{"type": "logs", "logs": "2\n"}, {"type": "image", "image": {"file_id": new_id("file-")}}]
    return {
        "id": new_id("call_"),
        "type": "code_interpreter",
        "code_interpreter": {"input": "print(1 + 1)", "outputs": outputs},
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


def _only(body: JSON, allowed: frozenset[str] | set[str]) -> None:
    for name in body:
        if name not in allowed:
            raise ApiError(400, f"Unrecognized request argument supplied: {name}", param=name)


def _metadata(metadata: Any) -> JSON:
    if not isinstance(metadata, dict):
        raise ApiError(400, "Invalid type for 'metadata': expected an object.", param="metadata")
    if len(metadata) > 16:
        raise ApiError(400, "Invalid 'metadata': too many properties. Expected at most 16.", param="metadata")
    for key, value in metadata.items():
        if len(key) > 64 or not isinstance(value, str) or len(value) > 512:
            raise ApiError(
                400,
                f"Invalid 'metadata.{key[:64]}': keys are at most 64 characters, values strings "
                "of at most 512.",
                param="metadata",
            )
    return dict(metadata)


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
    ranking = {"ranker": "default_2024_08_21", **options["ranking_options"]}
    if ranking["ranker"] == "auto":
        ranking["ranker"] = RANKER  # a call reports the ranker it used
    return {
        "id": new_id("call_"),
        "type": "file_search",
        "file_search": {"ranking_options": ranking, "results": results},
    }


def _argument_deltas(step: JSON) -> list[JSON]:
    """A function call step's `thread.run.step.delta`s: each call named, then its arguments in two halves."""
    deltas = []
    for index, call in enumerate(step["step_details"].get("tool_calls") or []):
        if call["type"] != "function":
            continue
        arguments = call["function"]["arguments"]
        first = {"name": call["function"]["name"], "arguments": "", "output": None}
        pieces = [
            {"index": index, "id": call["id"], "type": "function", "function": first},
            {"index": index, "type": "function", "function": {"arguments": arguments[: len(arguments) // 2]}},
            {"index": index, "type": "function", "function": {"arguments": arguments[len(arguments) // 2 :]}},
        ]
        for piece in pieces:
            details = {"type": "tool_calls", "tool_calls": [piece]}
            deltas.append(
                {"id": step["id"], "object": "thread.run.step.delta", "delta": {"step_details": details}}
            )
    return deltas


def _message_object(thread_id: str, role: str, content: list[JSON], **fields: Any) -> JSON:
    message: JSON = {
        "id": new_id("msg_"),
        "object": "thread.message",
        "created_at": now(),
        "thread_id": thread_id,
        "role": role,
        "content": content,
        "assistant_id": None,
        "run_id": None,
        "file_ids": [],
        "metadata": {},
        "status": "completed",
        "incomplete_details": None,
        "completed_at": None,
        "incomplete_at": None,
        "attachments": [],
    }
    message.update(fields)
    return message


def _message(thread_id: str, request: Any, index: int) -> JSON:
    """A message of a run's `additional_messages` (CreateMessageRequest)."""
    where = f"additional_messages[{index}]"
    if not isinstance(request, dict) or request.get("role") not in ("user", "assistant"):
        raise ApiError(
            400, f"Invalid value for '{where}.role': expected 'user' or 'assistant'.", param=f"{where}.role"
        )
    content = request.get("content")
    if isinstance(content, str):
        content = [{"type": "text", "text": {"value": content, "annotations": []}}]
    if not isinstance(content, list) or not all(isinstance(part, dict) for part in content):
        raise ApiError(
            400,
            f"Invalid type for '{where}.content': expected a string or an array.",
            param=f"{where}.content",
        )
    return _message_object(
        thread_id,
        request["role"],
        content,
        attachments=list(request.get("attachments") or []),
        metadata=_metadata(request.get("metadata") or {}),
    )


def _assistant_message(run: JSON) -> JSON:
    return _message_object(
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
    return "Hello from the emulator, here is the answer."


def _run_options(body: JSON) -> JSON:
    """The v2 settings a run request sets (absent from a v1 request, which refuses them)."""
    options = {name: body[name] for name in RUN_DEFAULTS if body.get(name) is not None}
    for name, lo, hi in (("temperature", 0, 2), ("top_p", 0, 1)):
        value = options.get(name)
        if value is not None and (
            not isinstance(value, int | float) or isinstance(value, bool) or not lo <= value <= hi
        ):
            raise ApiError(400, f"Invalid '{name}': expected a number from {lo} to {hi}.", param=name)
    for name in ("max_prompt_tokens", "max_completion_tokens"):
        value = options.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 256):
            raise ApiError(400, f"Invalid '{name}': expected an integer of at least 256.", param=name)
    if "parallel_tool_calls" in options and not isinstance(options["parallel_tool_calls"], bool):
        raise ApiError(
            400, "Invalid type for 'parallel_tool_calls': expected a boolean.", param="parallel_tool_calls"
        )
    if body.get("additional_messages") is not None and not isinstance(body["additional_messages"], list):
        raise ApiError(
            400, "Invalid type for 'additional_messages': expected an array.", param="additional_messages"
        )
    return options


def _tools(tools: Any, version: str = "v1") -> list[JSON]:
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        raise ApiError(400, "Invalid type for 'tools': expected an array of objects.", param="tools")
    if len(tools) > 20:
        raise ApiError(400, "Invalid 'tools': array too long. Expected at most 20.", param="tools")
    for index, tool in enumerate(tools):
        if version == "v2" and tool.get("type") == "retrieval":
            # OpenAI's v2 answer to v1's retrieval tool, renamed file_search.
            raise ApiError(
                400,
                f"Invalid value for 'tools[{index}].type': 'retrieval' is not supported in v2 of the "
                "Assistants API; use 'file_search' instead.",
                param=f"tools[{index}].type",
                code="invalid_value",
            )
        if tool.get("type") not in TOOL_TYPES[version]:
            raise ApiError(
                400,
                f"Invalid value for 'tools[{index}].type': '{tool.get('type')}'.",
                param=f"tools[{index}].type",
            )
        if tool["type"] == "function" and not isinstance((tool.get("function") or {}).get("name"), str):
            raise ApiError(
                400,
                f"Missing required parameter: 'tools[{index}].function.name'.",
                param=f"tools[{index}].function.name",
            )
    return [_tool(dict(t), index) if version == "v2" else dict(t) for index, t in enumerate(tools)]


def _tool(tool: JSON, index: int) -> JSON:
    """A v2 tool as OpenAI echoes it: `function.strict` and file_search's ranking options filled in."""
    if tool["type"] == "function":
        strict = tool["function"].get("strict")
        if strict is not None and not isinstance(strict, bool):
            where = f"tools[{index}].function.strict"
            raise ApiError(400, f"Invalid type for '{where}': expected a boolean.", param=where)
        tool["function"] = {**tool["function"], "strict": bool(strict)}
    elif tool["type"] == "file_search":
        options = dict(tool.get("file_search") or {})
        limit = options.get("max_num_results")
        if limit is not None and (
            not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 50
        ):
            where = f"tools[{index}].file_search.max_num_results"
            raise ApiError(400, f"Invalid '{where}': expected an integer from 1 to 50.", param=where)
        ranking = {"ranker": "auto", "score_threshold": 0.0, **(options.get("ranking_options") or {})}
        if ranking["ranker"] not in ("auto", RANKER):
            where = f"tools[{index}].file_search.ranking_options.ranker"
            raise ApiError(400, f"Invalid value for '{where}': '{ranking['ranker']}'.", param=where)
        tool["file_search"] = {**options, "ranking_options": ranking}
    return tool
