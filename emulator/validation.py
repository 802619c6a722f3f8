"""Reading request bodies as the OpenAPI description of each version says: what a create-run, create-assistant
or submit request may hold, refused with OpenAI's 400 body (`checks`), and turned into what the store keeps.

Accepted values are kept in the form they were sent (a run echoes `tool_choice`, `response_format` and
`truncation_strategy` as the request wrote them), with the defaults OpenAI fills in added: a v2 function's
`strict`, file_search's `ranking_options`, a truncation strategy's `last_messages`, an image's `detail`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from emulator.checks import (
    a_boolean,
    a_name,
    a_number,
    a_string,
    an_array,
    an_integer,
    an_object,
    one_of,
    only,
    refuse,
    required,
    wrong_type,
)
from emulator.model import JSON, ApiError, message_object
from emulator.versions import TOOL_TYPES

RANKER = "default_2024_08_21"
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
MESSAGE_REQUEST = frozenset({"role", "content", "attachments", "metadata"})
PART_TYPES = ("image_file", "image_url", "text")
IMAGE_DETAILS = ("auto", "low", "high")
ATTACHMENT_TOOLS = ("code_interpreter", "file_search")
ASSISTANT_DEFAULTS: JSON = {"temperature": 1.0, "top_p": 1.0, "response_format": "auto"}


def metadata(value: Any, where: str = "metadata") -> JSON:
    """Metadata: at most 16 string values, keys of at most 64 characters, values of at most 512."""
    if not isinstance(value, dict):
        raise ApiError(400, f"Invalid type for '{where}': expected an object.", param=where)
    if len(value) > 16:
        raise ApiError(400, f"Invalid '{where}': too many properties. Expected at most 16.", param=where)
    for key, item in value.items():
        if len(key) > 64 or not isinstance(item, str) or len(item) > 512:
            raise ApiError(
                400,
                f"Invalid '{where}.{key[:64]}': keys are at most 64 characters, values strings of at "
                "most 512.",
                param=where,
            )
    return dict(value)


def strings(body: JSON, names: tuple[str, ...]) -> None:
    """Refuse a field of `names` that is neither a string nor null."""
    for name in names:
        if body.get(name) is not None:
            a_string(body[name], name)


# Run settings (v2).


def tool_choice(value: Any, where: str) -> Any:
    """`none` | `auto` | `required`, or a named tool: `{"type": "function", "function": {"name"}}`,
    `{"type": "file_search"}`, `{"type": "code_interpreter"}`."""
    if isinstance(value, str):
        return one_of(value, ("none", "auto", "required"), where)
    choice = an_object(value, where, "a string or an object")
    tool = one_of(
        required(choice, "type", where), ("function", "code_interpreter", "file_search"), f"{where}.type"
    )
    if tool == "function":
        function = an_object(required(choice, "function", where), f"{where}.function")
        a_string(required(function, "name", f"{where}.function"), f"{where}.function.name")
    return choice


def response_format(value: Any, where: str) -> Any:
    """`auto`, or `{"type": "text"}` / `{"type": "json_object"}` / `{"type": "json_schema", "json_schema":
    {"name", "description"?, "schema"?, "strict"?}}`."""
    if isinstance(value, str):
        return one_of(value, ("auto",), where)
    fmt = an_object(value, where, "a string or an object")
    kind = one_of(required(fmt, "type", where), ("text", "json_object", "json_schema"), f"{where}.type")
    if kind == "json_schema":
        _json_schema(
            an_object(required(fmt, "json_schema", where), f"{where}.json_schema"), f"{where}.json_schema"
        )
    return fmt


def _json_schema(spec: JSON, where: str) -> None:
    a_name(required(spec, "name", where), f"{where}.name")
    if "description" in spec:
        a_string(spec["description"], f"{where}.description")
    if "schema" in spec:
        an_object(spec["schema"], f"{where}.schema")
    if spec.get("strict") is not None:
        a_boolean(spec["strict"], f"{where}.strict")


def truncation_strategy(value: Any, where: str) -> JSON:
    """`{"type": "auto" | "last_messages", "last_messages": int >= 1 | null}`, `last_messages` filled in."""
    strategy = an_object(value, where)
    kind = one_of(required(strategy, "type", where), ("auto", "last_messages"), f"{where}.type")
    last = strategy.get("last_messages")
    if last is not None:
        an_integer(last, f"{where}.last_messages", 1)
    return {"type": kind, "last_messages": last}


RUN_SETTINGS: dict[str, Callable[[Any, str], Any]] = {
    "temperature": lambda value, where: a_number(value, where, 0, 2),
    "top_p": lambda value, where: a_number(value, where, 0, 1),
    "max_prompt_tokens": lambda value, where: an_integer(value, where, 256),
    "max_completion_tokens": lambda value, where: an_integer(value, where, 256),
    "truncation_strategy": truncation_strategy,
    "tool_choice": tool_choice,
    "parallel_tool_calls": a_boolean,
    "response_format": response_format,
}
"""The v2 run fields a request may set, each with its check (which returns the value the run echoes)."""


def run_options(body: JSON) -> JSON:
    """The v2 settings a run request sets (absent from a v1 request, which refuses them); null is unset."""
    _reasoning_effort(body)
    return {
        name: check(body[name], name) for name, check in RUN_SETTINGS.items() if body.get(name) is not None
    }


def assistant_settings(body: JSON) -> JSON:
    """An assistant's sampling settings, as the request sets them or defaulted (v1 sets none)."""
    _reasoning_effort(body)
    return {
        name: RUN_SETTINGS[name](body[name], name) if body.get(name) is not None else default
        for name, default in ASSISTANT_DEFAULTS.items()
    }


def _reasoning_effort(body: JSON) -> None:
    # Accepted and not echoed: neither a run nor an assistant object has such a field in the spec.
    if body.get("reasoning_effort") is not None:
        one_of(body["reasoning_effort"], REASONING_EFFORTS, "reasoning_effort")


# Tools.


def tools(value: Any, version: str = "v1", where: str = "tools") -> list[JSON]:
    """An assistant's or a run's tools, v2's filled in as OpenAI echoes them."""
    listed = an_array(value, where, max_items=20)
    return [_tool(tool, version, f"{where}[{index}]") for index, tool in enumerate(listed)]


def _tool(value: Any, version: str, where: str) -> JSON:
    tool = dict(an_object(value, where))
    if version == "v2" and tool.get("type") == "retrieval":
        # OpenAI's v2 answer to v1's retrieval tool, renamed file_search.
        raise refuse(
            f"{where}.type",
            f"Invalid value for '{where}.type': 'retrieval' is not supported in v2 of the Assistants API; "
            "use 'file_search' instead.",
            "invalid_value",
        )
    kind = one_of(required(tool, "type", where), sorted(TOOL_TYPES[version]), f"{where}.type")
    if kind == "function":
        tool["function"] = _function(required(tool, "function", where), version, f"{where}.function")
    elif kind == "file_search" and version == "v2":
        tool["file_search"] = _file_search(tool.get("file_search") or {}, f"{where}.file_search")
    return tool


def _function(value: Any, version: str, where: str) -> JSON:
    function = dict(an_object(value, where))
    a_name(required(function, "name", where), f"{where}.name")
    if "description" in function:
        a_string(function["description"], f"{where}.description")
    if function.get("parameters") is not None:
        an_object(function["parameters"], f"{where}.parameters")
    if version == "v2":
        if function.get("strict") is not None:
            a_boolean(function["strict"], f"{where}.strict")
        function["strict"] = bool(function.get("strict"))
    return function


def _file_search(value: Any, where: str) -> JSON:
    options = dict(an_object(value, where))
    if "max_num_results" in options:
        an_integer(options["max_num_results"], f"{where}.max_num_results", 1, 50)
    given = options.get("ranking_options") is not None
    ranking = dict(an_object(options.get("ranking_options") or {}, f"{where}.ranking_options"))
    where = f"{where}.ranking_options"
    ranking["ranker"] = one_of(ranking.get("ranker", "auto"), ("auto", RANKER), f"{where}.ranker")
    if given:  # the spec requires a threshold in the options a request writes
        a_number(required(ranking, "score_threshold", where), f"{where}.score_threshold", 0, 1)
    options["ranking_options"] = {
        "ranker": ranking["ranker"],
        "score_threshold": ranking.get("score_threshold", 0.0),
    }
    return options


# Messages (a run's additional_messages: CreateMessageRequest).


def additional_messages(value: Any, thread_id: str) -> list[JSON]:
    """The thread messages a run request adds before the run, as message objects."""
    if value is None:
        return []
    listed = an_array(value, "additional_messages")
    return [_message(item, thread_id, f"additional_messages[{index}]") for index, item in enumerate(listed)]


def _message(value: Any, thread_id: str, where: str) -> JSON:
    request = an_object(value, where)
    only(request, MESSAGE_REQUEST, where)
    role = one_of(required(request, "role", where), ("user", "assistant"), f"{where}.role")
    content = _content(required(request, "content", where), f"{where}.content")
    return message_object(
        thread_id,
        role,
        content,
        attachments=_attachments(request.get("attachments"), f"{where}.attachments"),
        metadata=metadata(request.get("metadata") or {}, f"{where}.metadata"),
    )


def text_part(text: str) -> JSON:
    """A text content part of a message object."""
    return {"type": "text", "text": {"value": text, "annotations": []}}


def _content(value: Any, where: str) -> list[JSON]:
    if isinstance(value, str):
        return [text_part(value)]
    if not isinstance(value, list):
        raise wrong_type(where, "a string or an array", value)
    parts = an_array(value, where, min_items=1)
    return [_part(part, f"{where}[{index}]") for index, part in enumerate(parts)]


def _part(value: Any, where: str) -> JSON:
    part = an_object(value, where)
    kind = one_of(required(part, "type", where), PART_TYPES, f"{where}.type")
    if kind == "text":
        return text_part(a_string(required(part, "text", where), f"{where}.text"))
    image = an_object(required(part, kind, where), f"{where}.{kind}")
    key = "file_id" if kind == "image_file" else "url"
    reference = a_string(required(image, key, f"{where}.{kind}"), f"{where}.{kind}.{key}")
    if kind == "image_url":
        _url(reference, f"{where}.{kind}.url")
    detail = one_of(image.get("detail", "auto"), IMAGE_DETAILS, f"{where}.{kind}.detail")
    return {"type": kind, kind: {key: reference, "detail": detail}}


def _url(url: str, where: str) -> None:
    parts = urlsplit(url)
    if not (parts.scheme in ("http", "https") and parts.netloc) and parts.scheme != "data":
        raise refuse(
            where, f"Invalid '{where}': Expected a valid URL, but got '{url[:64]}'.", "invalid_value"
        )


def _attachments(value: Any, where: str) -> list[JSON]:
    if value is None:
        return []
    return [_attachment(item, f"{where}[{index}]") for index, item in enumerate(an_array(value, where))]


def _attachment(value: Any, where: str) -> JSON:
    attachment = an_object(value, where)
    file_id = a_string(required(attachment, "file_id", where), f"{where}.file_id")
    listed = an_array(required(attachment, "tools", where), f"{where}.tools")
    kinds = []
    for index, tool in enumerate(listed):
        at = f"{where}.tools[{index}]"
        kinds.append(
            {"type": one_of(required(an_object(tool, at), "type", at), ATTACHMENT_TOOLS, f"{at}.type")}
        )
    return {"file_id": file_id, "tools": kinds}


# Tool outputs.


def tool_outputs(body: JSON, call_ids: list[str]) -> dict[str, str]:
    """The outputs a submit gives, by call id; refused unless they answer exactly the calls waiting."""
    outputs = body.get("tool_outputs")
    if not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs):
        raise ApiError(
            400, "Invalid type for 'tool_outputs': expected an array of objects.", param="tool_outputs"
        )
    given = {o.get("tool_call_id"): o.get("output") for o in outputs}
    if set(given) != set(call_ids):
        raise ApiError(
            400,
            f"Expected tool outputs for call_ids {sorted(call_ids)}, got {sorted(map(str, given))}.",
            param="tool_outputs",
        )
    return {str(call_id): str(output or "") for call_id, output in given.items()}
