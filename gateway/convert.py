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
  A `map<string, string>` (metadata) takes a string as it is and any other JSON value as its compact JSON
  text, since the v1 description types metadata as a free-form object. A conversion error names the path
  of the field it failed on (`run.tools[0].function.name`). Each message type has a quick pass, its
  per-field decisions taken once (`_quick`), for objects as the API describes them, and the exact pass,
  value by value, for the rest (an integer written as a float) and to say where a value does not fit; a
  Struct is built once per JSON text and copied (a page of one assistant's runs repeats its tools).
- proto → REST, for request bodies: `json_format.MessageToDict` with every option explicit, then enum names
  mapped back to REST strings. JSON numbers inside a `google.protobuf.Struct` (a function's `parameters`
  schema) are doubles in protobuf; integral ones are sent as JSON integers again, so `{"maxItems": 3}` does
  not reach the upstream as `3.0`, and its keys are sent sorted (a Struct has no order; sorted, the body
  is the same from every gateway process).
- String-or-object unions (`tool_choice`: "auto" or {"type": "function", ...}): a message whose only fields
  are a oneof of an enum and a message. A JSON string fills the enum, an object the message; back in REST,
  whichever is set is sent as a string or an object.
- An enum left at its zero value (`*_UNSPECIFIED`) in a request is not sent: the upstream default applies.
- Free-form JSON twins: a Struct field `x` with a string field `x_json` beside it carries the same JSON as
  text. REST → proto fills both; proto → REST sends the text, when set, exactly as the client wrote it
  (`RawJSON`, spliced into the body by `encode`), so key order, large integers and `1.0` survive.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache, partial
from typing import Any, NamedTuple, TypeVar

import orjson
from google.protobuf import json_format, struct_pb2
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

M = TypeVar("M", bound=Message)
JSON = dict[str, Any]
# Descriptors come in two implementations (upb and pure Python) that types-protobuf does not unify.
Descriptor = Any
EnumDescriptor = Any

_STRUCT = "google.protobuf.Struct"
_TWIN = "_json"
_CAMEL_BOUNDARY = re.compile(r"(?<!^)(?=[A-Z])")


class ConversionError(ValueError):
    """A REST object does not fit its message (a value of the wrong JSON type) at the field `path`."""

    def __init__(self, problem: str, path: tuple[str, ...] = ()) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path = path

    def __str__(self) -> str:
        where = "".join(part if part.startswith("[") else "." + part for part in self.path).lstrip(".")
        return f"{where}: {self.problem}" if where else self.problem

    def within(self, *parts: str) -> ConversionError:
        """The same error, its path prefixed with `parts`."""
        return ConversionError(self.problem, (*parts, *self.path))


class RawJSON(str):
    """JSON text to send exactly as it is written: `encode` splices it into the body unchanged."""


def to_message(data: JSON, message_class: type[M]) -> M:
    """Build a `message_class` from a REST object (which is left as it was)."""
    schema = _schema(message_class.DESCRIPTOR)
    # Every generated class takes its fields as keywords; the base class of typeshed's protobuf stubs has no
    # constructor of its own (since 7.35.1.20261122), so the keywords are typed here, once.
    build: Callable[..., M] = message_class
    try:
        return build(**schema.quick(data))
    except _QUICK_REFUSED:
        pass
    # Whatever the quick pass did not take (an integer written `1796603244.0`, a value of the wrong JSON
    # type) the exact pass converts, or says where and why it cannot.
    arguments = _arguments(data, schema)
    try:
        return build(**arguments)
    except (TypeError, ValueError) as exc:  # a scalar of the wrong JSON type, refused by protobuf
        path, problem = _refused(arguments, message_class)
        raise ConversionError(problem, path) from exc


def encode(body: Any) -> bytes:
    """The JSON text of a request body, with each `RawJSON` in it exactly as written."""
    return _encode(body).encode()


def to_rest(message: Message, fields: tuple[str, ...], always: tuple[str, ...] = ()) -> JSON:
    """The REST body of `message`: its `fields` that are set.

    Fields with presence (`optional` scalars, messages) are sent when set, even to "" or 0; plain scalars are
    always sent (a tool output may be ""); an empty list or map is left out, at every depth, which means
    "the default" in REST (CreateRun without `tools` keeps the assistant's), unless the field is in `always`
    (a nested one by its dotted path: `additional_messages.attachments.tools`).
    """
    data = json_format.MessageToDict(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
        use_integers_for_enums=False,
    )
    body = {name: data[name] for name in fields if name in data and (data[name] != [] and data[name] != {})}
    body.update({name: data[name] for name in always if "." not in name})
    return _restify(body, _schema(message.DESCRIPTOR), frozenset(always))  # type: ignore[no-any-return]


def loads(text: str | bytes | bytearray) -> Any:
    """A value decoded from the upstream's JSON text, exactly the one `json.loads` gives: orjson reads it (a
    run in a third of the time), and what orjson refuses but the standard library reads (NaN, lone
    surrogates, a body not in UTF-8) is read by the latter, which raises ValueError as it would for JSON
    that neither reads. Text with 19 digits in a row, which may be an integer beyond 64 bits (orjson makes
    it a float, losing digits), is read by the standard library alone."""
    raw = text.encode(errors="surrogatepass") if isinstance(text, str) else text
    if _LONG_DIGITS not in raw.translate(_DIGITS_AS_ZERO):  # in C, a µs or two for a run
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


_STRUCTS: dict[str, Any] = {}
"""Struct messages by their JSON text, oldest first (`_object_argument`): at most `_STRUCT_CACHE_SIZE`, each
of at most `_STRUCT_CACHE_TEXT` characters, so at most 64 MiB of text, and in practice a few assistants'
tool schemas."""
_STRUCT_CACHE_SIZE = 1024
_STRUCT_CACHE_TEXT = 64 * 1024
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS = b"0" * 19


def json_text(value: Any) -> str:
    """Compact JSON text of a value decoded from JSON: key order, integers and `1.0` as they were.

    orjson writes it (a tool's parameters schema in 0.6 µs; the standard library takes 10), the standard
    library what orjson refuses (integers beyond 64 bits, lone surrogates). Two things JSON leaves open are
    orjson's: an exponent is written `1e16` (Python writes `1e+16`), and a NaN or an Infinity, which is no
    JSON but which the standard library reads from a careless upstream, is written `null`, as JavaScript's
    `JSON.stringify` writes it, so that a client's JSON parser reads the text (`NaN` would fail it)."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def enum_to_rest(enum: EnumDescriptor, number: int) -> str:
    """The REST string of an enum value: LIST_ORDER_ASC → "asc"."""
    return _rest_names(enum)[number]


class Field(NamedTuple):
    """What conversion needs to know of one field."""

    repeated: bool
    kind: str  # SCALAR, INTEGER, ENUM, MESSAGE, STRINGS (map<string, string>), OBJECT (a Struct), TWIN, UNION
    enum: EnumDescriptor | None
    schema: Schema
    twin: str | None = None  # of an OBJECT: its TWIN field, if it has one; of a TWIN: its OBJECT field
    forms: tuple[str, str] = ("", "")  # of a UNION: its enum field (the string form), its message field


SCALAR, INTEGER, ENUM, MESSAGE, STRINGS, OBJECT, TWIN, UNION = (
    "scalar", "integer", "enum", "message", "strings", "object", "twin", "union",
)  # fmt: skip
_INTEGERS = frozenset(
    getattr(FieldDescriptor, f"CPPTYPE_{kind}") for kind in ("INT32", "INT64", "UINT32", "UINT64")
)


class Schema(dict[str, Field]):
    """A message type's fields by name, and its quick pass (`quick`), built once from them."""

    quick: Callable[[Any], JSON]

    def seal(self) -> Schema:
        """Build the quick pass, once every field is in."""
        self.quick = _quick(self)
        return self


def _is_struct(field: Any) -> bool:
    return field is not None and field.message_type is not None and field.message_type.full_name == _STRUCT


@cache
def _schema(descriptor: Descriptor) -> Schema:
    schema = Schema()
    for field in descriptor.fields:
        kind, enum, sub, twin = SCALAR, None, Schema(), None  # sub: of a MESSAGE or UNION only
        repeated = field.is_repeated
        if field.enum_type is not None:
            kind, enum = ENUM, field.enum_type
        elif field.message_type is not None and field.message_type.GetOptions().map_entry:
            kind, repeated = STRINGS, False  # the protos' only maps are metadata, map<string, string>
        elif _is_struct(field):
            if repeated:  # no proto has one; `_object_argument` would need a list of them
                raise TypeError(f"{field.full_name}: a repeated Struct is not supported")
            kind = OBJECT
            twin = field.name + _TWIN if field.name + _TWIN in descriptor.fields_by_name else None
        elif field.name.endswith(_TWIN) and _is_struct(
            descriptor.fields_by_name.get(field.name[: -len(_TWIN)])
        ):
            kind, twin = TWIN, field.name[: -len(_TWIN)]
        elif field.message_type is not None and (forms := _union_forms(field.message_type)):
            sub = _schema(field.message_type)
            schema[field.name] = Field(repeated, UNION, sub[forms[0]].enum, sub, None, forms)
            continue
        elif field.message_type is not None:
            kind, sub = MESSAGE, _schema(field.message_type)
        elif field.cpp_type in _INTEGERS:
            kind = INTEGER
        schema[field.name] = Field(repeated, kind, enum, sub, twin)
    return schema.seal()


def _union_forms(descriptor: Descriptor) -> tuple[str, str] | None:
    """(enum field, message field) of a string-or-object union: a message whose fields are one oneof of an
    enum and a message; None for any other message."""
    oneofs = descriptor.oneofs
    if len(oneofs) != 1 or len(descriptor.fields) != 2 or len(oneofs[0].fields) != 2:
        return None
    enums = [f.name for f in descriptor.fields if f.enum_type is not None]
    messages = [f.name for f in descriptor.fields if f.message_type is not None]
    return (enums[0], messages[0]) if len(enums) == len(messages) == 1 else None


def _quick(schema: Schema) -> Callable[[Any], JSON]:
    """The quick pass of a message type: its constructor arguments from a REST object that is as the API
    describes it, with every per-field decision taken here, once. Scalars (integers included) go to protobuf
    as they are, in one comprehension; each other field has a converter of its own. Anything unexpected
    raises (protobuf refuses an integer written as a float) and `to_message` takes the exact pass."""
    plain = frozenset(name for name, field in schema.items() if field.kind in (SCALAR, INTEGER))
    rich = tuple(
        (
            name,
            _quick_field(field),
            field.twin if field.kind is OBJECT else None,
            _container(field),
        )
        for name, field in schema.items()
        if name not in plain and field.kind is not TWIN
    )

    def arguments(data: Any) -> JSON:
        if type(data) is not dict:
            raise _NotQuick
        found = {name: value for name, value in data.items() if name in plain and value is not None}
        for name, convert, twin, empty in rich:
            value = data.get(name)
            if value is None or (not value and type(value) is empty):
                continue  # null, or an empty list or map: what protobuf has without it, built for nothing
            if twin is None:
                found[name] = convert(value)
            else:
                found[name], found[twin] = convert(value)
        return found

    return arguments


def _container(field: Field) -> type | None:
    """What the REST value of a field is when it may be left out empty: a map's object, a repeated field's
    array (None: neither)."""
    if field.kind is STRINGS:
        return dict
    return list if field.repeated else None


def _quick_field(field: Field) -> Callable[[Any], Any]:
    """The quick converter of one field's REST value."""
    one = _quick_value(field)
    if not field.repeated or field.kind is STRINGS:
        return one

    def items(value: Any) -> list[Any]:
        if type(value) is not list:
            raise _NotQuick
        return [one(item) for item in value]

    return items


def _quick_value(field: Field) -> Callable[[Any], Any]:
    kind = field.kind
    if kind is MESSAGE:
        return field.schema.quick
    if kind is ENUM:
        numbers = _rest_numbers(field.enum)
        return lambda value: numbers.get(value, 0) if type(value) is str else _not_quick()
    if kind is UNION:
        return partial(_union_argument, field)
    if kind is OBJECT:
        return partial(_object_argument, field)
    return partial(_argument, field)  # STRINGS


class _NotQuick(Exception):
    """A REST value the quick pass leaves to the exact one."""


def _not_quick() -> Any:
    raise _NotQuick


_QUICK_REFUSED = (_NotQuick, ConversionError, TypeError, ValueError)


def _arguments(data: Any, schema: Schema) -> JSON:
    """The constructor arguments of a message from its REST object, looked at value by value (the exact
    pass): an integral float is made an integer, and a value that does not fit raises a ConversionError
    that names its path."""
    if not isinstance(data, dict):
        raise ConversionError(f"expected an object, got {_json_type(data)}")
    arguments = {}
    for name, value in data.items():
        field = schema.get(name)
        if field is None or value is None or field.kind is TWIN:
            continue  # a field this version does not know (a twin is no REST field), or REST null: absent
        if field.kind is SCALAR or (field.kind is INTEGER and type(value) is int):
            arguments[name] = value
            continue
        try:
            argument = _field_argument(field, value)
        except ConversionError as exc:
            raise exc.within(name) from None
        if field.kind is OBJECT:
            argument, text = argument
            if field.twin is not None:
                arguments[field.twin] = text
        arguments[name] = argument
    return arguments


def _field_argument(field: Field, value: Any) -> Any:
    if not field.repeated or field.kind is STRINGS:
        return _argument(field, value)
    if not isinstance(value, list):
        raise ConversionError(f"expected an array, got {_json_type(value)}")
    items = []
    for index, item in enumerate(value):
        try:
            items.append(_argument(field, item))
        except ConversionError as exc:
            raise exc.within(f"[{index}]") from None
    return items


def _argument(field: Field, value: Any) -> Any:
    if field.kind is INTEGER:
        return _integer(value)
    if field.kind is ENUM:
        if not isinstance(value, str):
            raise ConversionError(f"expected a string, got {_json_type(value)}")
        return _rest_numbers(field.enum).get(value, 0)
    if field.kind is MESSAGE:
        return _arguments(value, field.schema)
    if field.kind is UNION:
        return _union_argument(field, value)
    if field.kind is OBJECT:
        return _object_argument(field, value)
    if not isinstance(value, dict):  # STRINGS
        raise ConversionError(f"expected an object, got {_json_type(value)}")
    if not all(type(item) is str for item in value.values()):
        return {key: item if type(item) is str else json_text(item) for key, item in value.items()}
    return value


def _integer(value: Any) -> Any:
    """An integer of the API written as an integral number (`1796603244.0`) is that integer: JSON Schema
    2020-12, which the v2 description uses, says so, and real servers write timestamps that way. Anything
    else is left for protobuf to refuse (a string, say), but a number with a fraction is refused here."""
    if type(value) is not float:
        return value
    if not value.is_integer():
        raise ConversionError(f"expected an integer, got {value!r}")
    return int(value)


def _union_argument(field: Field, value: Any) -> JSON:
    string_form, object_form = field.forms
    if isinstance(value, str):
        return {string_form: _rest_numbers(field.enum).get(value, 0)}
    if isinstance(value, dict):
        return {object_form: _arguments(value, field.schema[object_form].schema)}
    raise ConversionError(f"expected a string or an object, got {_json_type(value)}")


def _object_argument(field: Field, value: Any) -> tuple[Any, str]:
    """A Struct's argument and its JSON text (its twin's value): the Struct built once for the same text
    (protobuf copies it into the message). Building one from a dict is protobuf's slowest path (37 µs for a
    tool's parameters schema, Python code per value), and a page of runs of one assistant repeats the same
    schemas in every run."""
    if type(value) is not dict:
        raise ConversionError(f"expected an object, got {_json_type(value)}")
    text = json_text(value)
    struct = _STRUCTS.get(text)
    if struct is None:
        struct = struct_pb2.Struct()
        struct.update(value)
        if len(text) <= _STRUCT_CACHE_TEXT:
            if len(_STRUCTS) >= _STRUCT_CACHE_SIZE:
                del _STRUCTS[next(iter(_STRUCTS))]  # the oldest in
            _STRUCTS[text] = struct
    return struct, text


def _refused(arguments: JSON, message_class: type[Message]) -> tuple[tuple[str, ...], str]:
    """Where in `arguments` protobuf refused a value, and why (searched only after it did)."""
    for name, value in arguments.items():
        if not _refuses(message_class, {name: value}):
            continue
        field = message_class.DESCRIPTOR.fields_by_name[name]
        if field.message_type is None and field.is_repeated:
            index = next(i for i, item in enumerate(value) if _refuses(message_class, {name: [item]}))
            return (name, f"[{index}]"), _mismatch(field, value[index])
        if field.message_type is None or field.message_type.GetOptions().map_entry:
            return (name,), _mismatch(field, value)
        sub: type[Message] = GetMessageClass(field.message_type)  # type: ignore[arg-type]
        items = [(f"[{i}]",) for i in range(len(value))] if field.is_repeated else [()]
        for where, item in zip(items, value if field.is_repeated else [value], strict=True):
            if isinstance(item, dict) and _refuses(sub, item):
                path, problem = _refused(item, sub)
                return (name, *where, *path), problem
        return (name,), WRONG_TYPE
    return (), WRONG_TYPE


def _refuses(message_class: type[Message], arguments: JSON) -> bool:
    try:
        message_class(**arguments)
    except (TypeError, ValueError):
        return True
    return False


WRONG_TYPE = "a value of the wrong JSON type"
_JSON_TYPES = {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}
_EXPECTED = dict.fromkeys(_INTEGERS, "an integer")
_EXPECTED |= {FieldDescriptor.CPPTYPE_DOUBLE: "a number", FieldDescriptor.CPPTYPE_FLOAT: "a number"}
_EXPECTED |= {FieldDescriptor.CPPTYPE_BOOL: "a boolean", FieldDescriptor.CPPTYPE_STRING: "a string"}


def _mismatch(field: Any, value: Any) -> str:
    expected = _EXPECTED.get(field.cpp_type)
    if expected is None:
        return WRONG_TYPE
    if expected == "an integer" and type(value) is int:
        return f"expected an integer that fits the field, got {value}"  # out of the field's range
    if type(value) is float and expected in ("an integer", "a number"):
        return f"expected {expected}, got {value!r}"
    return f"expected {expected}, got {_json_type(value)}"


def _json_type(value: Any) -> str:
    return "a JSON " + _JSON_TYPES.get(type(value), type(value).__name__)


def _restify(
    value: Any, schema: Schema | None, keep: frozenset[str] = frozenset(), nested: bool = False
) -> Any:
    # A body from MessageToDict: enum names become REST strings; inside a Struct (schema None), integral
    # floats become ints and keys are sorted. A double field of the request itself (v2's temperature) is a
    # SCALAR and goes out as written; no request has a repeated double (tests/test_convert.py checks it).
    # In a nested message an empty list or map is left out, as at the top (`to_rest`): protobuf cannot tell
    # it from unset, and no nested field of a request requires one (v2's AdditionalMessage without
    # attachments goes up without `"attachments": []`, as the SDK sends it); `keep` names those the API
    # requires all the same, by their dotted paths below this level.
    if isinstance(value, list):
        return [_restify(item, schema, keep, nested) for item in value]
    if not isinstance(value, dict):
        return int(value) if isinstance(value, float) and value.is_integer() else value
    if schema is None:
        return {key: _restify(value[key], None) for key in sorted(value)}
    body = {}
    for key, item in value.items():
        field = schema[key]
        if nested and _empty(field, item) and key not in keep:
            continue
        if field.kind is OBJECT and field.twin and value.get(field.twin):
            continue  # the JSON text stands for it (validation allows only one of the two)
        if field.kind is ENUM and item == _zero_name(field.enum):
            continue  # not set: the upstream default applies
        if field.kind is UNION:
            chosen = _restify_union(field, item)
            if chosen is not None:
                body[key] = chosen
            continue
        if field.kind is TWIN:
            if item:  # a twin is never a REST field: its text goes out under its Struct's name
                body[field.twin] = RawJSON(item)
            continue
        body[key] = _restify_field(field, item, _below(keep, key))
    return body


def _empty(field: Field, value: Any) -> bool:
    """Whether `value` is an empty list or map, which protobuf cannot tell from unset."""
    return (field.repeated or field.kind is STRINGS) and (value == [] or value == {})


def _below(keep: frozenset[str], key: str) -> frozenset[str]:
    """The paths of `keep` under `key`, relative to it."""
    if not keep:
        return keep
    return frozenset(path.removeprefix(f"{key}.") for path in keep if path.startswith(f"{key}."))


def _restify_field(field: Field, value: Any, keep: frozenset[str]) -> Any:
    if field.kind is ENUM:
        return (
            [_enum_name_to_rest(field.enum, v) for v in value]
            if field.repeated
            else _enum_name_to_rest(field.enum, value)
        )
    if field.kind is MESSAGE:
        return _restify(value, field.schema, keep, nested=True)
    return _restify(value, None) if field.kind is OBJECT else value


def _restify_union(field: Field, value: JSON) -> Any:
    """The REST string or object of a union from MessageToDict; None when neither form is set."""
    string_form, object_form = field.forms
    if object_form in value:
        return _restify(value[object_form], field.schema[object_form].schema, nested=True)
    mode = value.get(string_form)
    return None if mode is None or mode == _zero_name(field.enum) else _enum_name_to_rest(field.enum, mode)


def _zero_name(enum: EnumDescriptor) -> str:
    return enum.values_by_number[0].name  # type: ignore[no-any-return]


def _encode(value: Any) -> str:
    if isinstance(value, RawJSON):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_scalar(key)}:{_encode(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    return _scalar(value)


def _scalar(value: Any) -> str:
    # orjson writes a string, an integer, a bool or null as the standard library does, 50 times faster; a
    # float stays the standard library's (its exponents, `1e+16`, and its refusal of NaN), as does what orjson
    # refuses (a lone surrogate, an integer beyond 64 bits). test_convert checks the two agree.
    if value.__class__ is not float:
        try:
            return orjson.dumps(value).decode()
        except orjson.JSONEncodeError:
            pass
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _enum_name_to_rest(enum: EnumDescriptor, name: str) -> str:
    return _rest_names(enum)[enum.values_by_name[name].number]


@cache
def _rest_names(enum: EnumDescriptor) -> dict[int, str]:
    prefix = _CAMEL_BOUNDARY.sub("_", enum.name).upper() + "_"
    return {v.number: v.name.removeprefix(prefix).lower() for v in enum.values if v.number}


@cache
def _rest_numbers(enum: EnumDescriptor) -> dict[str, int]:
    return {rest: number for number, rest in _rest_names(enum).items()}
