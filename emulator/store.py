"""The emulator's in-memory store of the Assistants API (v1 and v2): assistants, threads, runs, steps and
messages, and the operations the REST API performs on them. It knows nothing of HTTP: operations take
REST-shaped dicts and return the internal objects (the union of both versions' fields, which
`versions.render` cuts to a version's shape), and refuse bad input with `ApiError`, which `app.py` turns
into an OpenAI error body. Operations take the version of the request where the versions accept different
input.

The pieces it is made of: `model` (the objects, ids, `ApiError`), `validation` (reading request bodies),
`lifecycle` (how runs advance, and the events a streamed run sends).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from emulator.checks import only
from emulator.lifecycle import Lifecycle
from emulator.model import JSON, ApiError, RunState, Thread, new_id, now
from emulator.validation import (
    additional_messages,
    assistant_settings,
    metadata,
    run_options,
    strings,
    tool_outputs,
    tools,
)
from emulator.versions import ASSISTANT_REQUEST, RUN_DEFAULTS, RUN_REQUEST, SUBMIT_REQUEST

__all__ = ["JSON", "ApiError", "RunState", "Store", "Thread", "new_id"]
"""`JSON`, `ApiError`, `RunState`, `Thread` and `new_id` live in `model`; importable from here as before."""

CANCELLABLE = frozenset({"queued", "in_progress", "requires_action"})


class Store:
    """Everything the emulator knows, in memory, and the operations of the REST API on it."""

    def __init__(
        self,
        step_seconds: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        reply_deltas: int = 0,
        coarse_order: bool = False,
    ) -> None:
        self.step_seconds = step_seconds
        self.clock = clock
        self.coarse_order = coarse_order
        """Lists page as open-assistant-api's do (`Listing.coarse_page`)."""
        self.lifecycle = Lifecycle(step_seconds, clock, reply_deltas)
        self.assistants: dict[str, JSON] = {}
        self.threads: dict[str, Thread] = {}

    # Assistants and threads: just enough for a demo to start from nothing.

    def create_assistant(self, body: JSON, version: str = "v1") -> JSON:
        only(body, ASSISTANT_REQUEST[version])
        if not isinstance(body.get("model"), str):
            raise ApiError(400, "Missing required parameter: 'model'.", param="model")
        strings(body, ("name", "description", "instructions"))
        assistant = {
            "id": new_id("asst_"),
            "object": "assistant",
            "created_at": now(),
            "name": body.get("name"),
            "description": body.get("description"),
            "model": body["model"],
            "instructions": body.get("instructions"),
            "tools": tools(body.get("tools", []), version),
            "file_ids": list(body.get("file_ids", [])),
            "metadata": metadata(body.get("metadata", {})),
            "tool_resources": body.get("tool_resources") or {},
            **assistant_settings(body),
        }
        self.assistants[assistant["id"]] = assistant
        return assistant

    def assistant(self, assistant_id: str) -> JSON:
        if assistant_id not in self.assistants:
            raise ApiError(
                404, f"No assistant found with id '{assistant_id}'.", subject=("assistant", assistant_id)
            )
        return self.assistants[assistant_id]

    def create_thread(self, body: JSON) -> JSON:
        obj: JSON = {
            "id": new_id("thread_"),
            "object": "thread",
            "created_at": now(),
            "metadata": metadata(body.get("metadata", {})),
            "tool_resources": body.get("tool_resources") or {},
        }
        self.threads[obj["id"]] = Thread(obj)
        return obj

    def thread(self, thread_id: str) -> Thread:
        if thread_id not in self.threads:
            raise ApiError(404, f"No thread found with id '{thread_id}'.", subject=("thread", thread_id))
        return self.threads[thread_id]

    def list_messages(self, thread_id: str, query: JSON) -> tuple[list[JSON], bool]:
        return self.thread(thread_id).messages.page(query, "message", self.coarse_order)

    # Runs.

    def create_run(self, thread_id: str, body: JSON, version: str = "v1", stream: bool = False) -> RunState:
        """A new run (queued) after the request's additional messages; with `stream`, recording its events
        from `thread.run.created` on."""
        thread = self.thread(thread_id)
        only(body, RUN_REQUEST[version])
        if not isinstance(body.get("assistant_id"), str):
            raise ApiError(400, "Missing required parameter: 'assistant_id'.", param="assistant_id")
        strings(body, ("model", "instructions", "additional_instructions"))
        assistant = self.assistant(body["assistant_id"])
        fields = self._run_fields(body, assistant, version)
        messages = additional_messages(body.get("additional_messages"), thread_id)
        state = self._add_run(thread, assistant, fields)
        for message in messages:
            thread.messages.add(message)
        if stream:
            state.listen()
            state.emit("thread.run.created", state.obj)
            state.emit("thread.run.queued", state.obj)
        return state

    def _run_fields(self, body: JSON, assistant: JSON, version: str) -> JSON:
        """What a run request sets on the run, the assistant's settings where it sets nothing."""
        instructions = body.get("instructions") or assistant["instructions"]
        if body.get("additional_instructions"):
            instructions = f"{instructions or ''}\n{body['additional_instructions']}".strip()
        given = body.get("tools")
        return {
            "status": "queued",
            "model": body.get("model") or assistant["model"],
            "instructions": instructions,
            "tools": tools(given, version) if given is not None else assistant["tools"],
            "metadata": metadata(body.get("metadata") or {}),
            **run_options(body),
        }

    def seed_runs(self, thread_id: str, count: int, assistant_id: str | None = None) -> JSON:
        """Add `count` completed runs to a thread at once (for list benchmarks)."""
        thread = self.thread(thread_id)
        assistant = self.assistant(assistant_id) if assistant_id else {"id": "asst_seed", "model": "gpt-4"}
        created = now()
        fields: JSON = {
            "status": "completed",
            "model": assistant["model"],
            "instructions": None,
            "tools": [],
            "metadata": {},
            "started_at": created,
            "completed_at": created,
            "expires_at": None,
            "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30},
        }
        ids = [self._add_run(thread, assistant, dict(fields)).obj["id"] for _ in range(count)]
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
        state = RunState(obj, messages=thread.messages, changed=self.clock())
        thread.runs.add(obj)
        thread.states[obj["id"]] = state
        return state

    def run(self, thread_id: str, run_id: str) -> RunState:
        """A run, advanced to now."""
        state = self.thread(thread_id).states.get(run_id)
        if state is None:
            raise ApiError(404, f"No run found with id '{run_id}'.", subject=("run", run_id))
        self.advance(state)
        return state

    def advance(self, state: RunState) -> None:
        """Bring a run to now (what a request touching it does)."""
        self.lifecycle.advance(state)

    def list_runs(self, thread_id: str, query: JSON) -> tuple[list[JSON], bool]:
        thread = self.thread(thread_id)
        items, has_more = thread.runs.page(query, "run", self.coarse_order)
        for item in items:
            self.advance(thread.states[item["id"]])
        return items, has_more

    def modify_run(self, thread_id: str, run_id: str, body: JSON) -> JSON:
        state = self.run(thread_id, run_id)
        only(body, {"metadata"})
        state.obj["metadata"] = metadata(body.get("metadata") or {})
        return state.obj

    def cancel_run(self, thread_id: str, run_id: str) -> JSON:
        state = self.run(thread_id, run_id)
        if state.obj["status"] not in CANCELLABLE:
            raise ApiError(400, f"Cannot cancel run with status '{state.obj['status']}'.")
        self.lifecycle.cancel(state)
        return state.obj

    def submit_tool_outputs(
        self, thread_id: str, run_id: str, body: JSON, version: str = "v1", stream: bool = False
    ) -> RunState:
        """Resume a run waiting for tool outputs; with `stream`, recording its events from then on."""
        state = self.run(thread_id, run_id)
        only(body, SUBMIT_REQUEST[version])
        status = state.obj["status"]
        if status != "requires_action" or state.function_step is None:
            raise ApiError(400, f'Runs in status "{status}" do not accept tool outputs.')
        calls = state.function_step["step_details"]["tool_calls"]
        outputs = tool_outputs(body, [call["id"] for call in calls])
        # A stream records from here; without one, the events of an earlier stream are let go.
        state.events = [] if stream else None
        self.lifecycle.resume(state, outputs)
        return state

    # Steps.

    def step(self, thread_id: str, run_id: str, step_id: str) -> JSON:
        state = self.run(thread_id, run_id)
        if step_id not in state.steps.index:
            raise ApiError(404, f"No run step found with id '{step_id}'.", subject=("run step", step_id))
        return state.steps.items[state.steps.index[step_id]]

    def list_steps(self, thread_id: str, run_id: str, query: JSON) -> tuple[list[JSON], bool]:
        return self.run(thread_id, run_id).steps.page(query, "run step", self.coarse_order)
