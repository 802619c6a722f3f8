"""The emulator's in-memory model of Assistants v1: assistants, threads, runs, steps, the run lifecycle and
cursor pagination. It knows nothing of HTTP: operations take and return REST-shaped dicts, and refuse bad
input with `ApiError`, which `app.py` turns into an OpenAI error body.

Runs advance lazily, whenever a request touches them, by the time elapsed: one transition per
`step_seconds` (all pending transitions at once when it is 0), so tests are deterministic and idle runs
cost nothing.
"""

from __future__ import annotations

import json
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]
ALPHABET = string.ascii_letters + string.digits
RESTING = frozenset({"requires_action", "completed", "cancelled", "failed", "expired"})
CANCELLABLE = frozenset({"queued", "in_progress", "requires_action"})
TOOL_TYPES = frozenset({"code_interpreter", "retrieval", "function"})
RUN_FIELDS = frozenset(
    {"assistant_id", "model", "instructions", "additional_instructions", "tools", "metadata"}
)
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


@dataclass
class Thread:
    obj: JSON
    runs: Listing = field(default_factory=Listing)
    states: dict[str, RunState] = field(default_factory=dict)


class Store:
    """Everything the emulator knows, in memory."""

    def __init__(self, step_seconds: float = 0.05, clock: Callable[[], float] = time.monotonic) -> None:
        self.step_seconds = step_seconds
        self.clock = clock
        self.assistants: dict[str, JSON] = {}
        self.threads: dict[str, Thread] = {}

    # Assistants and threads: just enough for a demo to start from nothing.

    def create_assistant(self, body: JSON) -> JSON:
        _only(body, {"model", "name", "description", "instructions", "tools", "file_ids", "metadata"})
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
            "tools": _tools(body.get("tools", [])),
            "file_ids": list(body.get("file_ids", [])),
            "metadata": _metadata(body.get("metadata", {})),
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
        }
        self.threads[obj["id"]] = Thread(obj)
        return obj

    def thread(self, thread_id: str) -> Thread:
        if thread_id not in self.threads:
            raise ApiError(404, f"No thread found with id '{thread_id}'.")
        return self.threads[thread_id]

    # Runs.

    def create_run(self, thread_id: str, body: JSON) -> JSON:
        thread = self.thread(thread_id)
        _only(body, RUN_FIELDS)
        if not isinstance(body.get("assistant_id"), str):
            raise ApiError(400, "Missing required parameter: 'assistant_id'.", param="assistant_id")
        assistant = self.assistant(body["assistant_id"])
        instructions = body.get("instructions") or assistant["instructions"]
        if body.get("additional_instructions"):
            instructions = f"{instructions or ''}\n{body['additional_instructions']}".strip()
        tools = _tools(body["tools"]) if body.get("tools") is not None else assistant["tools"]
        state = self._add_run(
            thread,
            assistant,
            {
                "status": "queued",
                "model": body.get("model") or assistant["model"],
                "instructions": instructions,
                "tools": tools,
                "metadata": _metadata(body.get("metadata") or {}),
            },
        )
        return state.obj

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
        return state.obj

    def submit_tool_outputs(self, thread_id: str, run_id: str, body: JSON) -> JSON:
        state = self.run(thread_id, run_id)
        _only(body, {"tool_outputs"})
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
        return run

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
        elif status == "queued":
            run.update(status="in_progress", started_at=run["started_at"] or now())
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
                return
        message = {"type": "message_creation", "message_creation": {"message_id": new_id("msg_")}}
        self._add_step(state, message, "completed")
        usage = {"prompt_tokens": 100, "completion_tokens": 20 * len(state.steps.items)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        run.update(status="completed", completed_at=now(), expires_at=None, usage=usage)

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
        if status == "completed":
            _finish_step(step, status)
        state.steps.add(step)
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


def _tools(tools: Any) -> list[JSON]:
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        raise ApiError(400, "Invalid type for 'tools': expected an array of objects.", param="tools")
    if len(tools) > 20:
        raise ApiError(400, "Invalid 'tools': array too long. Expected at most 20.", param="tools")
    for index, tool in enumerate(tools):
        if tool.get("type") not in TOOL_TYPES:
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
    return [dict(t) for t in tools]
