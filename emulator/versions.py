"""What differs between Assistants v1 and v2, as data: the fields of each object in each version, the
request fields and tool types each accepts, and `render`, which cuts one internal object (the union of
both versions' fields) to the shape of the version a request asked for.

The store keeps one state per object whatever version created it, so a run created through v2 reads
through v1 in the v1 shape (and the other way round), as OpenAI served v1 objects to v2 after v2 launched.
"""

from __future__ import annotations

import copy
from typing import Any

JSON = dict[str, Any]
VERSIONS = ("v1", "v2")
FILE_SEARCH_CONTENT = "step_details.tool_calls[*].file_search.results[*].content"
INCLUDABLE = frozenset({FILE_SEARCH_CONTENT})

_RUN_COMMON = (
    "id", "object", "created_at", "thread_id", "assistant_id", "status", "required_action", "last_error",
    "expires_at", "started_at", "cancelled_at", "failed_at", "completed_at", "model", "instructions",
    "tools",
)  # fmt: skip
_RUN_V2 = (
    "incomplete_details", "temperature", "top_p", "max_prompt_tokens", "max_completion_tokens",
    "truncation_strategy", "tool_choice", "parallel_tool_calls", "response_format",
)  # fmt: skip
_MESSAGE_COMMON = ("id", "object", "created_at", "thread_id", "role", "content", "assistant_id", "run_id")
_MESSAGE_V2 = ("status", "incomplete_details", "completed_at", "incomplete_at", "attachments", "metadata")
_ASSISTANT_COMMON = ("id", "object", "created_at", "name", "description", "model", "instructions", "tools")

FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "thread.run": {
        "v1": (*_RUN_COMMON, "file_ids", "metadata", "usage"),
        "v2": (*_RUN_COMMON, "metadata", "usage", *_RUN_V2),
    },
    "thread.message": {
        "v1": (*_MESSAGE_COMMON, "file_ids", "metadata"),
        "v2": (*_MESSAGE_COMMON, *_MESSAGE_V2),
    },
    "assistant": {
        "v1": (*_ASSISTANT_COMMON, "file_ids", "metadata"),
        "v2": (*_ASSISTANT_COMMON, "metadata", "tool_resources", "temperature", "top_p", "response_format"),
    },
    "thread": {
        "v1": ("id", "object", "created_at", "metadata"),
        "v2": ("id", "object", "created_at", "metadata", "tool_resources"),
    },
}
"""The fields of each object, in order, per version (run steps have the same fields in both)."""

TOOL_TYPES = {
    "v1": frozenset({"code_interpreter", "retrieval", "function"}),
    "v2": frozenset({"code_interpreter", "file_search", "function"}),
}
_RUN_REQUEST_V1 = frozenset(
    {"assistant_id", "model", "instructions", "additional_instructions", "tools", "metadata"}
)
RUN_REQUEST = {
    "v1": _RUN_REQUEST_V1,
    "v2": _RUN_REQUEST_V1
    | {
        "additional_messages",
        "reasoning_effort",
        "temperature",
        "top_p",
        "stream",
        "max_prompt_tokens",
        "max_completion_tokens",
        "truncation_strategy",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
    },
}
SUBMIT_REQUEST = {"v1": frozenset({"tool_outputs"}), "v2": frozenset({"tool_outputs", "stream"})}
ASSISTANT_REQUEST = {
    "v1": frozenset({"model", "name", "description", "instructions", "tools", "file_ids", "metadata"}),
    "v2": frozenset(
        {"model", "name", "description", "instructions", "tools", "metadata", "tool_resources"}
        | {"temperature", "top_p", "response_format", "reasoning_effort"}
    ),
}
RUN_DEFAULTS: JSON = {
    "incomplete_details": None,
    "temperature": 1.0,
    "top_p": 1.0,
    "max_prompt_tokens": None,
    "max_completion_tokens": None,
    "truncation_strategy": {"type": "auto", "last_messages": None},
    "tool_choice": "auto",
    "parallel_tool_calls": True,
    "response_format": "auto",
}
"""The v2 fields of a run a request did not set (and of every run created through v1)."""


def render(obj: JSON, version: str, include: frozenset[str] = frozenset()) -> JSON:
    """`obj` as `version` shows it: its fields in order, and for a v2 step, file search results without
    their `content` unless `include` asks for it."""
    fields = FIELDS.get(obj.get("object", ""))
    if fields is not None:
        return {name: obj.get(name) for name in fields[version]}
    if obj.get("object") == "thread.run.step" and FILE_SEARCH_CONTENT not in include:
        return _without_search_content(obj)
    return obj


def _without_search_content(step: JSON) -> JSON:
    calls = step["step_details"].get("tool_calls") or []
    if not any(c.get("type") == "file_search" for c in calls):
        return step
    step = copy.deepcopy(step)
    for call in step["step_details"]["tool_calls"]:
        for result in (call.get("file_search") or {}).get("results") or []:
            result.pop("content", None)
    return step
