"""Assistants from configuration, and the settings a run gets from its assistant and its CreateRun request.

The Responses API has no assistants: a deployment lists them in a JSON file (assistant id → model,
instructions, tools, ...), read once at start by `load_assistants`, each refusal naming the file, the
assistant and the field. `effective_settings` applies a CreateRun request's overrides on top, as the
Assistants REST API does (CreateRunRequest in the v2 description): `instructions` replaces,
`additional_instructions` appends, `tools` replaces, the sampling and limits fields override, and the
run's own fields (metadata, tool_choice, truncation) start from the API's defaults, not the assistant's.
The settings are plain JSON, so the store keeps them as they are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JSON = dict[str, Any]

ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
"""The ids the gateway accepts in requests: an assistant id outside it could never be asked for."""
TOOL_TYPES = frozenset({"function", "file_search", "code_interpreter"})
RESPONSE_FORMAT_TYPES = frozenset({"text", "json_object", "json_schema"})
REASONING_EFFORTS = frozenset({"none", "minimal", "low", "medium", "high", "xhigh", "max"})
ADDITIONAL_SEPARATOR = "\n\n"
"""Between the instructions and a run's `additional_instructions` ("appended at the end"): a blank line,
so the two read as separate paragraphs to the model."""


class AssistantsFileError(ValueError):
    """The assistants file cannot be used: the message names the file, the assistant and the field."""


@dataclass(frozen=True, slots=True)
class Assistant:
    """One configured assistant, in the Assistants v2 shapes (`AssistantObject`): `tools` are Assistants
    tools (`{"type": "function", "function": {...}}`), `tool_resources` their files and vector stores."""

    id: str
    model: str
    name: str | None = None
    description: str | None = None
    instructions: str | None = None
    tools: tuple[JSON, ...] = ()
    tool_resources: JSON = field(default_factory=dict)
    metadata: Mapping[str, str] = field(default_factory=dict)
    temperature: float | None = None
    top_p: float | None = None
    response_format: str | JSON = "auto"
    reasoning_effort: str | None = None


_FIELDS: dict[str, type | tuple[type, ...]] = {
    "model": str, "name": str, "description": str, "instructions": str, "tools": list, "tool_resources": dict,
    "metadata": dict, "temperature": (int, float), "top_p": (int, float), "response_format": (str, dict),
    "reasoning_effort": str,
}  # fmt: skip


def load_assistants(path: Path) -> dict[str, Assistant]:
    """The assistants of the JSON file `path`: `{"assistants": {"asst_...": {"model": ..., ...}}}`.

    Raises AssistantsFileError naming the file, the assistant and the field of the first problem.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AssistantsFileError(f"{path}: cannot be read as JSON: {exc}") from exc
    return parse_assistants(document, str(path))


def parse_assistants(document: Any, source: str = "assistants file") -> dict[str, Assistant]:
    """The assistants of an already decoded document (`load_assistants` without the file)."""
    if not isinstance(document, dict) or not isinstance(document.get("assistants"), dict):
        raise AssistantsFileError(f'{source}: expected an object {{"assistants": {{id: assistant, ...}}}}')
    unknown = sorted(set(document) - {"assistants"})
    if unknown:
        raise AssistantsFileError(f"{source}: unknown key {unknown[0]!r} (only 'assistants' is read)")
    return {
        assistant_id: _assistant(f"{source}: assistant {assistant_id!r}", assistant_id, body)
        for assistant_id, body in document["assistants"].items()
    }


def _assistant(where: str, assistant_id: str, body: Any) -> Assistant:
    if not ID.fullmatch(assistant_id):
        raise AssistantsFileError(f"{where}: the id must match [A-Za-z0-9_-]{{1,128}}")
    if not isinstance(body, dict):
        raise AssistantsFileError(f"{where}: expected an object")
    for name, value in body.items():
        kind = _FIELDS.get(name)
        if kind is None:
            raise AssistantsFileError(
                f"{where}: unknown field {name!r} (known: {', '.join(sorted(_FIELDS))})"
            )
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise AssistantsFileError(f"{where}: field {name!r} has the wrong JSON type")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise AssistantsFileError(f"{where}: field 'model' is required (a model name)")
    tools = tuple(
        _tool(f"{where}: field 'tools[{n}]'", tool) for n, tool in enumerate(body.get("tools") or [])
    )
    _check_range(where, "temperature", body.get("temperature"), 0, 2)
    _check_range(where, "top_p", body.get("top_p"), 0, 1)
    _check_metadata(f"{where}: field 'metadata'", body.get("metadata") or {})
    _check_response_format(f"{where}: field 'response_format'", body.get("response_format", "auto"))
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in REASONING_EFFORTS:
        raise AssistantsFileError(
            f"{where}: field 'reasoning_effort' must be one of {sorted(REASONING_EFFORTS)}"
        )
    values = {name: value for name, value in body.items() if value is not None}
    values["tools"] = tools
    return Assistant(id=assistant_id, **values)


def _tool(where: str, tool: Any) -> JSON:
    if not isinstance(tool, dict) or tool.get("type") not in TOOL_TYPES:
        raise AssistantsFileError(f"{where}: expected a tool with 'type' one of {sorted(TOOL_TYPES)}")
    if tool["type"] == "function":
        function = tool.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise AssistantsFileError(f"{where}: a function tool needs 'function' with a 'name'")
        if not ID.fullmatch(function["name"]) or len(function["name"]) > 64:
            raise AssistantsFileError(f"{where}: the function name must be a-z, A-Z, 0-9, _ or -, at most 64")
        if not isinstance(function.get("parameters", {}), dict):
            raise AssistantsFileError(f"{where}: the function's 'parameters' must be a JSON Schema object")
    return tool


def _check_range(where: str, name: str, value: Any, low: float, high: float) -> None:
    if value is not None and not low <= value <= high:
        raise AssistantsFileError(f"{where}: field {name!r} must be between {low} and {high}")


def _check_metadata(where: str, metadata: JSON) -> None:
    if len(metadata) > 16:
        raise AssistantsFileError(f"{where}: at most 16 pairs")
    for key, value in metadata.items():
        if not isinstance(value, str) or len(key) > 64 or len(value) > 512:
            raise AssistantsFileError(
                f"{where}: {key!r} must be a string key of ≤ 64 with a string value of ≤ 512"
            )


def _check_response_format(where: str, value: Any) -> None:
    if value == "auto":
        return
    if not isinstance(value, dict) or value.get("type") not in RESPONSE_FORMAT_TYPES:
        raise AssistantsFileError(
            f"{where}: 'auto' or an object with 'type' one of {sorted(RESPONSE_FORMAT_TYPES)}"
        )
    if value["type"] == "json_schema" and not isinstance(value.get("json_schema"), dict):
        raise AssistantsFileError(f"{where}: a json_schema format needs its 'json_schema' object")


DEFAULT_TRUNCATION: JSON = {"type": "auto", "last_messages": None}
"""The Assistants API's truncation when a run names none (TruncationObject: "The default is `auto`")."""


def effective_settings(assistant: Assistant, request: JSON) -> JSON:
    """The settings of a run: the assistant's, with the CreateRun request's (REST JSON) on top.

    As the Assistants API: `model`, `instructions`, `tools`, `temperature`, `top_p`, `response_format`
    and `reasoning_effort` override the assistant's when the request sets them (null or absent: the
    assistant's; `tools: []` is "not set", as the gateway sends no empty list); `additional_instructions`
    is appended to the instructions; `metadata`, `tool_choice`, `parallel_tool_calls`, the token limits and
    `truncation_strategy` are the run's own, with the API's defaults. The result is what the run echoes.
    """
    instructions = _given(request, "instructions", assistant.instructions)
    extra = request.get("additional_instructions")
    if extra:
        instructions = f"{instructions}{ADDITIONAL_SEPARATOR}{extra}" if instructions else extra
    return {
        "model": _given(request, "model", assistant.model),
        "instructions": instructions,
        "tools": list(request.get("tools") or assistant.tools),
        "tool_resources": dict(assistant.tool_resources),
        "metadata": dict(request.get("metadata") or {}),
        "temperature": _given(request, "temperature", assistant.temperature),
        "top_p": _given(request, "top_p", assistant.top_p),
        "response_format": _given(request, "response_format", assistant.response_format),
        "reasoning_effort": _given(request, "reasoning_effort", assistant.reasoning_effort),
        "tool_choice": _given(request, "tool_choice", "auto"),
        "parallel_tool_calls": _given(request, "parallel_tool_calls", True),
        "max_prompt_tokens": request.get("max_prompt_tokens"),
        "max_completion_tokens": request.get("max_completion_tokens"),
        "truncation_strategy": {**DEFAULT_TRUNCATION, **(request.get("truncation_strategy") or {})},
    }


def _given(request: JSON, name: str, default: Any) -> Any:
    value = request.get(name)
    return default if value is None else value
