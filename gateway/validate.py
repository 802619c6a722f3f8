"""Request validation: what the gateway refuses with INVALID_ARGUMENT before any REST call.

Ids are checked against an allow-list, never escaped into shape: an id must not be able to change which REST
path is called (`../x`, `a/b`, `%2F`, `?q`), so anything but letters, digits, `_` and `-` is refused. The
other rules are the REST API's own documented limits, checked here so that a bad request costs no upstream
round trip and gets a precise field name.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf import struct_pb2
from google.protobuf.message import Message

from gateway.convert import enum_to_rest
from gateway.errors import InvalidArgument
from gateway.routes import Route

ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
ID_RULE = "must be 1 to 128 characters, each a letter, a digit, '_' or '-'"

REQUIRED_IDS = ("assistant_id",)
"""Body fields that must hold an id (path parameters always must)."""
OPTIONAL_IDS = ("after", "before")
"""Fields that may be empty or else must hold an id (the list cursors)."""

MAX_LIMIT = 100
MAX_TOOLS = 20
MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512


def validate(route: Route, request: Message) -> None:
    """Raise InvalidArgument for the first field of `request` that the REST API would refuse."""
    fields = {f.name for f in request.DESCRIPTOR.fields}
    for name in (*route.path_params, *(n for n in REQUIRED_IDS if n in fields)):
        _check_id(name, getattr(request, name))
    for name in OPTIONAL_IDS:
        if name in fields and getattr(request, name):
            _check_id(name, getattr(request, name))
    if "limit" in fields:
        _check_limit(getattr(request, "limit"))
    for field in request.DESCRIPTOR.fields:
        if (
            field.enum_type is not None
            and getattr(request, field.name) not in field.enum_type.values_by_number
        ):
            raise InvalidArgument(field.name, f"must be one of {', '.join(field.enum_type.values_by_name)}")
    if "metadata" in fields:
        _check_metadata(getattr(request, "metadata"))
    if "tools" in fields:
        _check_tools(getattr(request, "tools"))
    if "tool_outputs" in fields:
        _check_tool_outputs(getattr(request, "tool_outputs"))
    if "additional_messages" in fields:
        _check_messages(getattr(request, "additional_messages"))
    if "response_format" in fields and getattr(request, "response_format").HasField("object"):
        schema = getattr(getattr(request, "response_format"), "object").json_schema
        _check_twin("response_format.object.json_schema", schema, "schema")
    _check_types(request, "")


def _check_types(message: Message, path: str) -> None:
    """Every message set in a request whose REST object has a `type` says which (unset, the REST object would
    go out without it): a named tool choice, a truncation strategy, a response format object ..."""
    for field, value in message.ListFields():
        kind = field.message_type
        if kind is None or kind.GetOptions().map_entry or kind.full_name.startswith("google.protobuf."):
            continue
        for index, item in enumerate(value if field.is_repeated else [value]):
            where = f"{path}{field.name}" + (f"[{index}]" if field.is_repeated else "")
            discriminator = item.DESCRIPTOR.fields_by_name.get("type")
            if (
                discriminator is not None
                and discriminator.enum_type is not None
                and not getattr(item, "type")
            ):
                names = ", ".join(v.name for v in discriminator.enum_type.values if v.number)
                raise InvalidArgument(f"{where}.type", f"must be set: one of {names}")
            _check_types(item, where + ".")


def _check_id(name: str, value: str) -> None:
    if not ID.fullmatch(value):
        raise InvalidArgument(name, ID_RULE)


def _check_limit(limit: int) -> None:
    # 0 is proto3's "not set": the upstream default page size applies.
    if not 0 <= limit <= MAX_LIMIT:
        raise InvalidArgument("limit", f"must be between 1 and {MAX_LIMIT} (0 for the default of 20)")


def _check_metadata(metadata: Mapping[str, str]) -> None:
    if len(metadata) > MAX_METADATA_PAIRS:
        raise InvalidArgument("metadata", f"at most {MAX_METADATA_PAIRS} key-value pairs")
    for key, value in metadata.items():
        if not 0 < len(key) <= MAX_METADATA_KEY:
            raise InvalidArgument("metadata", f"keys must be 1 to {MAX_METADATA_KEY} characters")
        if len(value) > MAX_METADATA_VALUE:
            raise InvalidArgument(
                f"metadata[{key!r}]", f"values must be at most {MAX_METADATA_VALUE} characters"
            )


def _check_tools(tools: Iterable[Message]) -> None:
    tools = list(tools)
    if len(tools) > MAX_TOOLS:
        raise InvalidArgument("tools", f"at most {MAX_TOOLS} tools")
    for index, tool in enumerate(tools):
        _check_tool(f"tools[{index}]", tool)


def _check_tool(where: str, tool: Message) -> None:
    # Read from the version's own Tool: which types exist, and which payload field each type may carry.
    kind, types = getattr(tool, "type"), _enum_of(tool, "type")
    if kind == 0 or kind not in types.values_by_number:
        raise InvalidArgument(f"{where}.type", "must be a known TOOL_TYPE_*")
    name = enum_to_rest(types, kind)
    for field in tool.DESCRIPTOR.fields:
        if field.message_type is not None and field.name != name and tool.HasField(field.name):
            raise InvalidArgument(
                f"{where}.{field.name}", f"may be set only for TOOL_TYPE_{field.name.upper()}"
            )
    if name == "function":
        if not tool.HasField("function"):
            raise InvalidArgument(f"{where}.function", "must be set exactly for TOOL_TYPE_FUNCTION")
        _check_function(f"{where}.function", getattr(tool, "function"))


def _check_function(where: str, function: Message) -> None:
    if not FUNCTION_NAME.fullmatch(getattr(function, "name")):
        raise InvalidArgument(f"{where}.name", "must be 1 to 64 characters of a-z, A-Z, 0-9, '_' or '-'")
    _check_twin(where, function, "parameters")


def _enum_of(message: Message, name: str) -> Any:
    return message.DESCRIPTOR.fields_by_name[name].enum_type


def _check_twin(where: str, message: Message, name: str) -> None:
    """A free-form JSON field and its JSON-text twin: at most one set, the text an object, no NaN."""
    text = getattr(message, name + "_json")
    if text and message.HasField(name):
        raise InvalidArgument(where, f"set `{name}` or `{name}_json`, not both")
    if text:
        _check_json_object(f"{where}.{name}_json", text)
    if not all(map(_finite, getattr(message, name).fields.values())):
        raise InvalidArgument(f"{where}.{name}", "JSON has no NaN or Infinity")


def _check_messages(messages: Iterable[Message]) -> None:
    for index, message in enumerate(messages):
        where = f"additional_messages[{index}]"
        if not getattr(message, "role"):
            raise InvalidArgument(f"{where}.role", "must be MESSAGE_ROLE_USER or MESSAGE_ROLE_ASSISTANT")
        parts = list(getattr(message, "content"))
        if not parts:
            raise InvalidArgument(f"{where}.content", "must hold at least one part")
        for number, part in enumerate(parts):
            types = _enum_of(part, "type")
            kind = getattr(part, "type")
            chosen = part.WhichOneof("part")
            if kind == 0 or kind not in types.values_by_number or enum_to_rest(types, kind) != chosen:
                raise InvalidArgument(
                    f"{where}.content[{number}]",
                    "type must name the part that is set: text, image_file or image_url",
                )


MAX_JSON_DEPTH = 32
"""How deeply free-form JSON may nest: as deep as a `Struct` can arrive over gRPC (protobuf's decoder stops
at 100 nested messages, about 32 levels of JSON), far beyond any JSON Schema of a tool."""


def _check_json_object(where: str, text: str) -> None:
    # Parsed only to be checked: the text itself is what the upstream receives.
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except ValueError as exc:
        raise InvalidArgument(where, f"must be JSON text of an object: {exc}") from None
    except RecursionError:  # deeper than Python's parser goes: far deeper than allowed anyway
        raise InvalidArgument(where, f"nests deeper than {MAX_JSON_DEPTH} levels") from None
    if not isinstance(value, dict):
        raise InvalidArgument(where, "must be JSON text of an object")
    if _depth(value) > MAX_JSON_DEPTH:
        raise InvalidArgument(where, f"nests deeper than {MAX_JSON_DEPTH} levels")


def _depth(value: object) -> int:
    """How many objects and arrays deep `value` goes (without recursion: any depth is measured)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        pending.extend((child, level + 1) for child in children)
    return deepest


def _no_constant(name: str) -> None:
    raise ValueError(f"JSON has no {name}")


def _check_tool_outputs(outputs: Iterable[Message]) -> None:
    outputs = list(outputs)
    if not outputs:
        raise InvalidArgument("tool_outputs", "must hold the output of every required tool call")
    for index, output in enumerate(outputs):
        if not getattr(output, "tool_call_id"):
            raise InvalidArgument(f"tool_outputs[{index}].tool_call_id", "must be set")


def _finite(value: struct_pb2.Value) -> bool:
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        return math.isfinite(value.number_value)
    if kind == "struct_value":
        return all(map(_finite, value.struct_value.fields.values()))
    if kind == "list_value":
        return all(map(_finite, value.list_value.values))
    return True
