"""Reading a create-response request (`CreateResponse` of the OpenAPI description) as OpenAI reads it: each
field checked with OpenAI's 400 (`checks`), unknown ones refused as `Unknown parameter`, and the settings a
response echoes filled in with OpenAI's defaults (`temperature` 1.0, `tool_choice` `auto`, a function's
`strict` true, `text.format` `{"type": "text"}`).

The tools the emulated model uses are `function`, `file_search` and `code_interpreter`; another kind is
refused naming those three (an emulator's limit, not OpenAI's).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from emulator import checks
from emulator.model import JSON, ApiError
from emulator.validation import metadata

TOOL_TYPES = ("function", "file_search", "code_interpreter")
INCLUDABLE = frozenset(
    {"file_search_call.results", "web_search_call.results", "web_search_call.action.sources"}
    | {"message.input_image.image_url", "computer_call_output.output.image_url"}
    | {"code_interpreter_call.outputs", "reasoning.encrypted_content", "message.output_text.logprobs"}
)
"""The values of `IncludeEnum`."""
FORMATS = ("text", "json_object", "json_schema")
ACCEPTED = frozenset(
    {"model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "temperature"}
    | {"top_p", "max_output_tokens", "text", "metadata", "conversation", "previous_response_id"}
    | {"background", "store", "stream", "include", "max_tool_calls", "reasoning", "service_tier"}
    | {"truncation", "user", "safety_identifier", "prompt_cache_key", "top_logprobs", "stream_options"}
)
"""The fields of `CreateResponse` the emulator reads or accepts and echoes."""
DEFAULTS: JSON = {
    "temperature": 1.0,
    "top_p": 1.0,
    "tool_choice": "auto",
    "parallel_tool_calls": True,
    "max_output_tokens": None,
    "max_tool_calls": None,
    "instructions": None,
    "previous_response_id": None,
    "background": False,
    "store": True,
    "service_tier": "auto",
    "truncation": "disabled",
    "top_logprobs": 0,
    "user": None,
    "safety_identifier": None,
    "prompt_cache_key": None,
}
"""What a response echoes for a setting its request left out (`service_tier` is `default` once run)."""


def settings(body: JSON) -> JSON:
    """The settings a create request gives a response: each checked, the defaults where it gives none."""
    known(body, ACCEPTED)
    checks.a_string(checks.required(body, "model", ""), "model")
    read = {name: check(body[name], name) for name, check in CHECKS.items() if body.get(name) is not None}
    fields = {**DEFAULTS, **read}
    fields["tools"] = tools(body.get("tools") or [])
    fields["text"] = text(body.get("text") or {})
    fields["metadata"] = metadata(body.get("metadata") or {})
    fields["reasoning"] = {"effort": None, "summary": None, **(body.get("reasoning") or {})}
    return fields


def known(body: JSON, allowed: Collection[str]) -> None:
    """Refuse a field the request's schema does not have, in the Responses API's words."""
    for name in body:
        if name not in allowed:
            raise checks.refuse(name, f"Unknown parameter: '{name}'.", "unknown_parameter")


def conversation_id(value: Any) -> str | None:
    """The id a request's `conversation` names (a string, or an object with an `id`)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    given = checks.an_object(value, "conversation", "a string or an object")
    return checks.a_string(checks.required(given, "id", "conversation"), "conversation.id")


def tools(value: Any) -> list[JSON]:
    """A request's tools, each as a response echoes it."""
    listed = checks.an_array(value, "tools")
    return [_tool(tool, f"tools[{index}]") for index, tool in enumerate(listed)]


def _tool(value: Any, where: str) -> JSON:
    tool = dict(checks.an_object(value, where))
    kind = checks.one_of(checks.required(tool, "type", where), TOOL_TYPES, f"{where}.type")
    if kind == "function":
        checks.a_name(checks.required(tool, "name", where), f"{where}.name")
        if tool.get("parameters") is not None:
            checks.an_object(tool["parameters"], f"{where}.parameters")
        if tool.get("strict") is not None:
            checks.a_boolean(tool["strict"], f"{where}.strict")
        return {
            "type": "function",
            "name": tool["name"],
            "description": tool.get("description"),
            "parameters": tool.get("parameters"),
            "strict": True if tool.get("strict") is None else tool["strict"],
        }
    if kind == "file_search":
        ids = checks.an_array(checks.required(tool, "vector_store_ids", where), f"{where}.vector_store_ids")
        for index, store in enumerate(ids):
            checks.a_string(store, f"{where}.vector_store_ids[{index}]")
        if "max_num_results" in tool:
            checks.an_integer(tool["max_num_results"], f"{where}.max_num_results", 1, 50)
        return tool
    container = checks.required(tool, "container", where)
    if not isinstance(container, str | dict):
        raise checks.wrong_type(f"{where}.container", "a string or an object", container)
    return tool


def tool_choice(value: Any, where: str) -> Any:
    """`none` | `auto` | `checks.required`, `{"type": "function", "name"}`, or a built-in tool's type."""
    if isinstance(value, str):
        return checks.one_of(value, ("none", "auto", "required"), where)
    choice = checks.an_object(value, where, "a string or an object")
    kind = checks.one_of(checks.required(choice, "type", where), TOOL_TYPES, f"{where}.type")
    if kind == "function":
        checks.a_string(checks.required(choice, "name", where), f"{where}.name")
    return choice


def text(value: Any) -> JSON:
    """`text`: its `format` (`text`, `json_object`, or `json_schema` with a name and a schema)."""
    given = checks.an_object(value, "text")
    fmt = checks.an_object(given.get("format") or {"type": "text"}, "text.format")
    kind = checks.one_of(checks.required(fmt, "type", "text.format"), FORMATS, "text.format.type")
    if kind == "json_schema":
        checks.a_name(checks.required(fmt, "name", "text.format"), "text.format.name")
        checks.an_object(checks.required(fmt, "schema", "text.format"), "text.format.schema")
    verbosity = checks.one_of(given.get("verbosity", "medium"), ("low", "medium", "high"), "text.verbosity")
    return {"format": dict(fmt), "verbosity": verbosity}


def _max_output_tokens(value: Any, where: str) -> int:
    return checks.an_integer(value, where, 16)


CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "instructions": checks.a_string,
    "temperature": lambda value, where: checks.a_number(value, where, 0, 2),
    "top_p": lambda value, where: checks.a_number(value, where, 0, 1),
    "max_output_tokens": _max_output_tokens,
    "max_tool_calls": lambda value, where: checks.an_integer(value, where, 1),
    "top_logprobs": lambda value, where: checks.an_integer(value, where, 0, 20),
    "tool_choice": tool_choice,
    "parallel_tool_calls": checks.a_boolean,
    "previous_response_id": checks.a_string,
    "background": checks.a_boolean,
    "store": checks.a_boolean,
    "service_tier": lambda value, where: checks.one_of(
        value, ("auto", "default", "flex", "scale", "priority"), where
    ),
    "truncation": lambda value, where: checks.one_of(value, ("auto", "disabled"), where),
    "user": checks.a_string,
    "safety_identifier": checks.a_string,
    "prompt_cache_key": checks.a_string,
}
"""The echoed settings of a create request, each with its check (which returns the value echoed)."""


def flag(body: JSON, name: str) -> bool:
    """A boolean field of the request (`stream`, `background`), false when absent or null."""
    value = body.get(name)
    return value is not None and checks.a_boolean(value, name)


def include(values: list[str], where: str = "include") -> frozenset[str]:
    """The `include` values of a request, refused when the description has no such value."""
    for value in values:
        if value not in INCLUDABLE:
            raise ApiError(400, f"Invalid value for '{where}': '{value}'.", param=where)
    return frozenset(values)
