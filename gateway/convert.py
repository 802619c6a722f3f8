"""REST JSON ↔ protobuf messages: the one module that converts.

The protos mirror the REST objects field for field (see resources.proto), so conversion is mostly a matter
of naming the same data twice; what differs is read once per message type from the descriptors, so a field
added to the protos needs no code here:

- REST → proto, on the hot path of every answer and every streamed item: the REST object is reshaped into
  constructor arguments (unknown keys and nulls dropped, enum strings mapped, the JSON type of every object
  and array checked) and the message is built by protobuf's C constructor, which checks scalar types. This
  is several times faster than `json_format.ParseDict` (measured in bench/, issue 4) with the same
  semantics: unknown REST fields are ignored, an unknown REST enum value becomes the enum's zero value
  (`*_UNSPECIFIED`), null leaves a field absent, and a value of the wrong JSON type is a `ConversionError`.
- proto → REST, for request bodies: `json_format.MessageToDict` with every option explicit, then enum names
  mapped back to REST strings. JSON numbers inside a `google.protobuf.Struct` (a function's `parameters`
  schema) are doubles in protobuf; integral ones are sent as JSON integers again, so `{"maxItems": 3}` does
  not reach the upstream as `3.0`.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, NamedTuple, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

M = TypeVar("M", bound=Message)
JSON = dict[str, Any]
# Descriptors come in two implementations (upb and pure Python) that types-protobuf does not unify.
Descriptor = Any
EnumDescriptor = Any

_STRUCT = "google.protobuf.Struct"
_CAMEL_BOUNDARY = re.compile(r"(?<!^)(?=[A-Z])")


class ConversionError(ValueError):
    """A REST object does not fit its message (a value of the wrong JSON type)."""


def to_message(data: JSON, message_class: type[M]) -> M:
    """Build a `message_class` from a REST object (which is left as it was)."""
    try:
        return message_class(**_arguments(data, _schema(message_class.DESCRIPTOR), message_class.__name__))
    except (TypeError, ValueError) as exc:  # a scalar of the wrong JSON type, refused by protobuf
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
    return _restify(body, _schema(message.DESCRIPTOR))  # type: ignore[no-any-return]


def enum_to_rest(enum: EnumDescriptor, number: int) -> str:
    """The REST string of an enum value: LIST_ORDER_ASC → "asc"."""
    return _rest_names(enum)[number]


class Field(NamedTuple):
    """What conversion needs to know of one field."""

    repeated: bool
    kind: str  # SCALAR, ENUM, MESSAGE, or OBJECT (a map or a Struct: any JSON object, taken as it is)
    enum: EnumDescriptor | None
    schema: Schema


SCALAR, ENUM, MESSAGE, OBJECT = "scalar", "enum", "message", "object"
Schema = dict[str, Field]


@cache
def _schema(descriptor: Descriptor) -> Schema:
    schema: Schema = {}
    for field in descriptor.fields:
        kind, enum, sub = SCALAR, None, {}
        repeated = field.is_repeated
        if field.enum_type is not None:
            kind, enum = ENUM, field.enum_type
        elif field.message_type is not None:
            is_map = field.message_type.GetOptions().map_entry
            if is_map or field.message_type.full_name == _STRUCT:
                kind, repeated = OBJECT, repeated and not is_map
            else:
                kind, sub = MESSAGE, _schema(field.message_type)
        schema[field.name] = Field(repeated, kind, enum, sub)
    return schema


def _arguments(data: Any, schema: Schema, where: str) -> JSON:
    if not isinstance(data, dict):
        raise ConversionError(f"{where}: expected an object, got {type(data).__name__}")
    arguments = {}
    for name, value in data.items():
        field = schema.get(name)
        if field is None or value is None:
            continue  # a field this version does not know, or REST null: absent
        if field.kind is SCALAR:
            arguments[name] = value
        elif not field.repeated:
            arguments[name] = _argument(field, value, name)
        elif isinstance(value, list):
            arguments[name] = [_argument(field, item, name) for item in value]
        else:
            raise ConversionError(f"{name}: expected an array, got {type(value).__name__}")
    return arguments


def _argument(field: Field, value: Any, name: str) -> Any:
    if field.kind is ENUM:
        if not isinstance(value, str):
            raise ConversionError(f"{name}: expected a string, got {type(value).__name__}")
        return _rest_numbers(field.enum).get(value, 0)
    if field.kind is MESSAGE:
        return _arguments(value, field.schema, name)
    if not isinstance(value, dict):  # OBJECT
        raise ConversionError(f"{name}: expected an object, got {type(value).__name__}")
    return value


def _restify(value: Any, schema: Schema | None) -> Any:
    # A body from MessageToDict: enum names become REST strings; inside a Struct (schema None), integral
    # floats become ints. Request messages have no float or double fields (tests/test_convert.py checks it).
    if isinstance(value, list):
        return [_restify(item, schema) for item in value]
    if not isinstance(value, dict):
        return int(value) if isinstance(value, float) and value.is_integer() else value
    if schema is None:
        return {key: _restify(item, None) for key, item in value.items()}
    return {key: _restify_field(schema[key], item) for key, item in value.items()}


def _restify_field(field: Field, value: Any) -> Any:
    if field.kind is ENUM:
        return (
            [_enum_name_to_rest(field.enum, v) for v in value]
            if field.repeated
            else _enum_name_to_rest(field.enum, value)
        )
    if field.kind is MESSAGE:
        return _restify(value, field.schema)
    return _restify(value, None) if field.kind is OBJECT else value


def _enum_name_to_rest(enum: EnumDescriptor, name: str) -> str:
    return _rest_names(enum)[enum.values_by_name[name].number]


@cache
def _rest_names(enum: EnumDescriptor) -> dict[int, str]:
    prefix = _CAMEL_BOUNDARY.sub("_", enum.name).upper() + "_"
    return {v.number: v.name.removeprefix(prefix).lower() for v in enum.values if v.number}


@cache
def _rest_numbers(enum: EnumDescriptor) -> dict[str, int]:
    return {rest: number for number, rest in _rest_names(enum).items()}
