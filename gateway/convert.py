"""REST JSON ↔ protobuf messages: the one module that converts, with every json_format option explicit.

The protos mirror the REST objects field for field (see resources.proto), so `json_format` does the work and
only enum values need translating: REST writes `"in_progress"`, the proto enum value is
`RUN_STATUS_IN_PROGRESS`. Which fields hold enums and objects, however deep, is read once per message type
from the descriptors, so a field added to the protos needs no code here.

Towards the client: unknown REST fields are ignored, an unknown REST enum value becomes the enum's zero
value (`*_UNSPECIFIED`), and null leaves a field absent; a value of the wrong JSON type (a string where an
object belongs, a number for an enum) is a `ConversionError`. Towards the upstream: JSON numbers inside a
`google.protobuf.Struct` (a function's `parameters` schema) are doubles in protobuf; integral ones are sent
as JSON integers again, so `{"maxItems": 3}` does not reach the upstream as `3.0`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

M = TypeVar("M", bound=Message)
JSON = dict[str, Any]
# Descriptors come in two implementations (upb and pure Python) that types-protobuf does not unify.
Descriptor = Any
EnumDescriptor = Any
FieldDescriptor = Any

_STRUCT = "google.protobuf.Struct"
_CAMEL_BOUNDARY = re.compile(r"(?<!^)(?=[A-Z])")


class ConversionError(ValueError):
    """A REST object does not fit its message (a value of the wrong JSON type)."""


def to_message(data: JSON, message_class: type[M]) -> M:
    """Parse a REST object into `message_class`; `data` is consumed (its enum values are rewritten)."""
    _walk(data, _plan(message_class.DESCRIPTOR), _rest_to_number)
    try:
        return json_format.ParseDict(
            data, message_class(), ignore_unknown_fields=True, max_recursion_depth=64
        )
    except json_format.ParseError as exc:
        raise ConversionError(str(exc)) from exc


def to_rest(message: Message, fields: tuple[str, ...], always: tuple[str, ...] = ()) -> JSON:
    """The REST body of `message`: its `fields` that are set.

    Fields with presence (`optional` scalars, messages) are sent when set, even to "" or 0; plain scalars are
    always sent (a tool output may be ""); an empty list or map is left out, which means "the default" in
    REST (CreateRun without `tools` keeps the assistant's), unless the field is in `always`.
    """
    data = json_format.MessageToDict(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
        use_integers_for_enums=False,
    )
    body = {name: data[name] for name in fields if name in data and (data[name] != [] and data[name] != {})}
    body.update({name: data[name] for name in always})
    _walk(body, _plan(message.DESCRIPTOR), _name_to_rest)
    return {name: _integral_numbers(value) for name, value in body.items()}


def enum_to_rest(enum: EnumDescriptor, number: int) -> str:
    """The REST string of an enum value: LIST_ORDER_ASC → "asc"."""
    return _rest_names(enum)[number]


# One entry per field that holds an enum or an object: (name, repeated, kind, enum, sub-plan). An OBJECT
# (a map or a Struct) must be a JSON object and is not walked further; a MESSAGE is walked with its sub-plan.
ENUM, MESSAGE, OBJECT = "enum", "message", "object"
Plan = tuple[tuple[str, bool, str, EnumDescriptor | None, "Plan"], ...]
Rewrite = Callable[[EnumDescriptor, Any], Any]


@cache
def _plan(descriptor: Descriptor) -> Plan:
    plan: list[tuple[str, bool, str, EnumDescriptor | None, Plan]] = []
    for field in descriptor.fields:
        if field.enum_type is not None:
            plan.append((field.name, field.is_repeated, ENUM, field.enum_type, ()))
        elif field.message_type is not None:
            is_map = field.message_type.GetOptions().map_entry
            if is_map or field.message_type.full_name == _STRUCT:
                plan.append((field.name, field.is_repeated and not is_map, OBJECT, None, ()))
            else:
                plan.append((field.name, field.is_repeated, MESSAGE, None, _plan(field.message_type)))
    return tuple(plan)


def _walk(data: JSON, plan: Plan, rewrite: Rewrite) -> None:
    # json_format would take a string where an object belongs for a message with no fields set (it iterates
    # the characters as unknown keys): the JSON type of every object and array is checked here instead.
    for name, repeated, kind, enum, sub in plan:
        value = data.get(name)
        if value is None:
            continue
        if not repeated:
            data[name] = _value(name, value, kind, enum, sub, rewrite)
        elif isinstance(value, list):
            data[name] = [_value(name, item, kind, enum, sub, rewrite) for item in value]
        else:
            raise ConversionError(f"{name}: expected an array, got {type(value).__name__}")


def _value(name: str, value: Any, kind: str, enum: EnumDescriptor | None, sub: Plan, rewrite: Rewrite) -> Any:
    if kind == ENUM:
        return rewrite(enum, value)
    if not isinstance(value, dict):
        raise ConversionError(f"{name}: expected an object, got {type(value).__name__}")
    if kind == MESSAGE:
        _walk(value, sub, rewrite)
    return value


@cache
def _rest_names(enum: EnumDescriptor) -> dict[int, str]:
    prefix = _CAMEL_BOUNDARY.sub("_", enum.name).upper() + "_"
    return {v.number: v.name.removeprefix(prefix).lower() for v in enum.values if v.number}


@cache
def _rest_numbers(enum: EnumDescriptor) -> dict[str, int]:
    return {rest: number for number, rest in _rest_names(enum).items()}


def _rest_to_number(enum: EnumDescriptor, value: Any) -> int:
    if not isinstance(value, str):
        raise ConversionError(f"{enum.name}: expected a string, got {type(value).__name__}")
    return _rest_numbers(enum).get(value, 0)


def _name_to_rest(enum: EnumDescriptor, value: Any) -> Any:
    return _rest_names(enum)[enum.values_by_name[value].number]


def _integral_numbers(value: object) -> object:
    # Request messages have no float or double fields (tests/test_convert.py checks it), so every float in a
    # body comes from a Struct, where JSON has only "number".
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral_numbers(v) for v in value]
    return value
