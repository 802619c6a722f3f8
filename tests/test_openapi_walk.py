"""Reading OpenAI's OpenAPI descriptions: the machinery of the agreement tests (test_openapi*.py), tested.

The descriptions live beside the repository, in ../shared/openapi/ (not part of a user's clone, where this
module, and every module that imports it, is skipped). `Spec` (openapi_spec.py) reads a description through
`$ref` and every form of nullability its two versions use, and checks a value against a schema.
`Agreement` walks one version (`Version`: what is walked, and the deliberate differences) from its REST
objects down to every nested object, pairing each with the message that mirrors it, by the rules of
resources.proto:
- nullable (OpenAPI 3.0's `nullable`, or `anyOf` with `{type: null}`) is presence: null is an absent field,
  or an empty list or map;
- a union (`oneOf` of objects) is one message holding the `type` enum and one payload field per variant,
  named after its type; properties that every variant has (`id`, an annotation's `text`, a delta's `index`)
  are plain fields;
- a string-or-object union (v2's `tool_choice`, `response_format`) is a message whose only fields are a
  oneof of an enum, whose values are the string variants', and a message, which pairs with the object
  variants.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from openapi_spec import JSON, REF, Spec, read
from test_convert import assert_mirrors

from gateway.routes import Api, Route

SHARED = Path(__file__).resolve().parent.parent.parent / "shared/openapi"
SPEC_FILES = {"v1": "openai-openapi-v1-assistants.yaml", "v2": "openai-openapi-v2-latest.yaml"}
if not all((SHARED / name).is_file() for name in SPEC_FILES.values()):
    pytest.skip(
        f"OpenAI's OpenAPI descriptions are not in {SHARED} (they sit beside the repository, in ../shared)",
        allow_module_level=True,
    )

STRUCT = "google.protobuf.Struct"
STREAM = "stream"
"""The body property that asks for server-sent events: set by a route (`Route.events`), never a field."""


@functools.cache
def load(version: str) -> Spec:
    return read(SHARED / SPEC_FILES[version])


def is_map(field: Any) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def is_struct(field: Any) -> bool:
    return field.message_type is not None and field.message_type.full_name == STRUCT


def is_plain_message(field: Any) -> bool:
    return field.message_type is not None and not is_struct(field) and not is_map(field)


def oneofs(descriptor: Any) -> list[Any]:
    """The oneofs of a message, without those protoc makes for each `optional` field (`_index`)."""
    return [o for o in descriptor.oneofs if [f"_{f.name}" for f in o.fields] != [o.name]]


def union_forms(descriptor: Any) -> tuple[Any, Any] | None:
    """(enum field, message field) of a string-or-object union message: its only fields are one oneof of an
    enum (the string form) and a message (the object form); None for any other message."""
    found = oneofs(descriptor)
    if len(found) != 1 or len(descriptor.fields) != 2 or len(found[0].fields) != 2:
        return None
    enums = [f for f in descriptor.fields if f.enum_type is not None]
    messages = [f for f in descriptor.fields if f.message_type is not None]
    return (enums[0], messages[0]) if len(enums) == len(messages) == 1 else None


def rest_names(enum: Any) -> set[str]:
    """The REST strings of a proto enum, by the rule of resources.proto: no `*_UNSPECIFIED` prefix."""
    prefix = enum.values_by_number[0].name.removesuffix("UNSPECIFIED")
    assert enum.values_by_number[0].name == prefix + "UNSPECIFIED"
    return {v.name.removeprefix(prefix).lower() for v in enum.values if v.number}


def schema_name(schema: JSON) -> str:
    return str(schema["$ref"]).removeprefix(REF)


@dataclass(frozen=True)
class Version:
    """One version's agreement: what is walked, its deliberate differences, and what the walk must find."""

    api: Api
    res: ModuleType
    pb: ModuleType
    roots: Mapping[str, Any]
    """REST schema → the descriptor of the message that mirrors it."""
    only_in_proto: Mapping[str, set[str]]
    """Schema path → proto fields with no REST property there: path parameters of a request, fields of
    shared messages."""
    only_in_rest: Mapping[str, set[str]]
    """Schema path → REST properties with no proto field."""
    narrower_rest_enums: frozenset[str]
    """Schema paths whose REST enum is a strict subset of the (shared) proto enum."""
    objects: frozenset[str]
    """Every path the walk must reach, roots included: a new nested object in the description fails."""
    pages: Mapping[str, tuple[str, str]]
    maps: frozenset[str]
    structs: frozenset[str]
    some_nullable: frozenset[str]
    oneof_messages: frozenset[str]
    """Messages whose union payloads are a proto oneof."""
    some_unions: frozenset[str]
    enum_locations: tuple[tuple[str, Any, set[str]], ...]
    int32: frozenset[str] = frozenset()
    """Fields (full names) that hold a REST integer in an int32: limits, counts and positions, never a
    timestamp or a usage count."""
    string_or_object: frozenset[str] = frozenset()
    string_or_array: frozenset[str] = frozenset()
    """Paths of REST strings-or-arrays that a repeated field holds in the array form (a string is one
    part)."""
    free_form_messages: frozenset[str] = frozenset()
    """Paths of free-form REST objects that a message holds (its fields the whole object's, all unset)."""
    null_as_zero: frozenset[str] = frozenset()
    """Nullable request enums held without presence: the zero value is not sent, as null means the default."""
    example_extras: frozenset[str] = frozenset()
    """`Schema.property` found in the description's examples but not in the schema (so in no message)."""
    garbled_events: frozenset[str] = frozenset()
    """Events whose documented data is followed by stray text: the JSON value before it is the example."""


@dataclass(frozen=True)
class Pair:
    """An object of the REST description (all alternatives of a union) and the message that mirrors it."""

    path: str
    schemas: tuple[JSON, ...]
    descriptor: Any

    def properties(self) -> dict[str, list[JSON]]:
        """Property name → its schema in every alternative that has it."""
        merged: dict[str, list[JSON]] = {}
        for schema in self.schemas:
            for name, prop in schema.get("properties", {}).items():
                merged.setdefault(name, []).append(prop)
        return merged


@dataclass(frozen=True)
class Ref:
    """A property whose objects are those of a root schema: their message must be that root's message."""

    path: str
    schema: str
    descriptor: Any


class Agreement:
    """A version and its description, walked: every pair of a REST object and its message."""

    def __init__(self, version: Version) -> None:
        self.version = version
        self.spec = load(version.api.version)
        self.refs: list[Ref] = []
        self.pairs = {
            pair.path: pair
            for root, message in version.roots.items()
            for pair in self.walk(root, self.spec.objects(self.spec.schemas[root]), message)
        }

    def __str__(self) -> str:
        return self.version.api.version

    def walk(self, path: str, schemas: list[JSON], descriptor: Any) -> Iterator[Pair]:
        """The pair (`schemas`, `descriptor`) and every pair of objects below it; a property that refers to
        another root schema (a page's `data`) is recorded in `refs` instead of being walked again."""
        pair = Pair(path, tuple(schemas), descriptor)
        yield pair
        for name, props in pair.properties().items():
            field = descriptor.fields_by_name.get(name)
            if field is None or not is_plain_message(field):
                continue
            child_path = f"{path}.{name}{'[]' if field.is_repeated else ''}"
            forms = union_forms(field.message_type)
            children: list[JSON] = []
            for prop in props:
                target = self.spec.items(prop) if field.is_repeated else prop
                if target.get("$ref", "").removeprefix(REF) in self.version.roots:
                    self.refs.append(Ref(child_path, schema_name(target), field.message_type))
                else:
                    children += self.spec.objects(target)
            if children:
                yield from self.walk(child_path, children, (forms[1] if forms else field).message_type)

    def properties_with_fields(self) -> Iterator[tuple[str, JSON, Any]]:
        """(path, property schema, proto field) of every REST property that has a proto field; a property
        of several union alternatives (`type`) comes once per alternative."""
        for pair in self.pairs.values():
            for name, props in pair.properties().items():
                field = pair.descriptor.fields_by_name.get(name)
                for prop in props if field is not None else []:
                    yield f"{pair.path}.{name}", prop, field

    @cached_property
    def methods(self) -> dict[str, Any]:
        service = self.version.pb.DESCRIPTOR.services_by_name["RunsService"]
        return {method.name: method for method in service.methods}

    @cached_property
    def nullable(self) -> list[str]:
        return sorted({path for path, prop, _ in self.properties_with_fields() if self.spec.nullable(prop)})

    @cached_property
    def enums(self) -> dict[str, tuple[set[str], Any]]:
        """Path → (the REST values of every alternative at that path, the proto enum that holds them)."""
        merged: dict[str, tuple[set[str], Any]] = {}
        for path, values, enum in self._enum_properties():
            merged.setdefault(path, (set(), enum))[0].update(values)
        return merged

    def _enum_properties(self) -> Iterator[tuple[str, set[str], Any]]:
        for path, prop, field in self.properties_with_fields():
            if field.enum_type is not None:
                yield path, set(self.spec.shape(prop)["enum"]), field.enum_type
            elif field.message_type is not None and (forms := union_forms(field.message_type)):
                strings = [v for v in self.spec.alternatives(prop) if v.get("type") == "string"]
                yield path, {value for string in strings for value in string["enum"]}, forms[0].enum_type
        for name, route in self.version.api.routes.items():
            for param in self.operation(route).get("parameters", []):
                if param["name"] in route.query and "enum" in param["schema"]:
                    field = self.methods[name].input_type.fields_by_name[param["name"]]
                    yield f"{route.path}?{param['name']}", set(param["schema"]["enum"]), field.enum_type

    def operation(self, route: Route) -> JSON:
        assert route.path in self.spec.paths, route.path
        operations = self.spec.paths[route.path]
        assert route.method.lower() in operations, f"{route.method} {route.path}"
        op: JSON = operations[route.method.lower()]
        return op

    def request_schema(self, route: Route) -> JSON:
        body = self.operation(route)["requestBody"]["content"]["application/json"]["schema"]
        schema: JSON = self.spec.schemas[schema_name(body)]
        return schema

    @cached_property
    def messages(self) -> dict[str, str]:
        """Full name of a root's message → its schema."""
        return {descriptor.full_name: schema for schema, descriptor in self.version.roots.items()}

    def response_schema(self, route: Route) -> str:
        return schema_name(self.operation(route)["responses"]["200"]["content"]["application/json"]["schema"])

    # The description's own examples.

    def documented(self, schema: str, data: JSON, extras: set[str]) -> JSON:
        """`data` without what its schema does not have (recorded in `extras` as `Schema.property`) nor what
        is listed as only in REST; a page's items likewise, by their schema."""
        properties, only_in_rest = self.spec.schemas[schema]["properties"], self.version.only_in_rest
        kept = {}
        for name, value in data.items():
            if name not in properties:
                extras.add(f"{schema}.{name}")
            elif name not in only_in_rest.get(schema, set()):
                items = properties[name].get("items", {}).get("$ref", "").removeprefix(REF)
                if items in self.version.roots and isinstance(value, list):
                    value = [self.documented(items, item, extras) for item in value]
                kept[name] = value
        return kept

    def object_examples(self) -> dict[str, JSON]:
        """Root schema → the example of its object (`x-oaiMeta.example`), for those that have one."""
        metas = {name: self.spec.schemas[name].get("x-oaiMeta", {}) for name in self.version.roots}
        return {name: json.loads(meta["example"]) for name, meta in metas.items() if "example" in meta}

    def examples(self, route: Route) -> list[str]:
        """The response examples of a route's operation, as written: JSON, or server-sent events."""
        found = self.operation(route).get("x-oaiMeta", {}).get("examples", [])
        return [example["response"] for example in (found if isinstance(found, list) else [found])]

    def json_examples(self, route: Route) -> list[JSON]:
        return [json.loads(text) for text in self.examples(route) if not is_events(text)]

    def event_examples(self, route: Route) -> Iterator[tuple[str, JSON]]:
        """(event, data) of every server-sent event of the operation's examples; `...` (events left out) and
        `done` (the upstream's end of the stream, no message) are skipped; a garbled event's data is the
        JSON value before the stray text (Version.garbled_events)."""
        for text in filter(is_events, self.examples(route)):
            for block in text.strip().split("\n\n"):
                lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
                if "event" in lines and lines["event"] != "done":
                    data, end = json.JSONDecoder().raw_decode(lines["data"])
                    garbled = end < len(lines["data"])
                    assert garbled == (lines["event"] in self.version.garbled_events), lines["event"]
                    yield lines["event"], data

    @cached_property
    def event_schemas(self) -> dict[str, str]:
        """Each event of the description's `AssistantStreamEvent` → the schema its data names (or "")."""
        spec, found = self.spec, {}
        for group in map(spec.resolve, spec.schemas.get("AssistantStreamEvent", {}).get("oneOf", [])):
            for variant in map(spec.resolve, group.get("oneOf", [group])):
                [name] = variant["properties"]["event"]["enum"]
                found[name] = variant["properties"]["data"].get("$ref", "").removeprefix(REF)
        return found


def is_events(text: str) -> bool:
    return text.lstrip().startswith("event:")


def lift_unions(data: JSON, descriptor: Any) -> JSON:
    """`data` as its message holds it: the value of a string-or-object union wrapped in the field of its form
    (`"auto"` → `{"mode": "auto"}`), so that `assert_mirrors` can walk it."""
    lifted = {}
    for name, value in data.items():
        field = descriptor.fields_by_name.get(name)
        if field is not None and value is not None and is_plain_message(field):
            value = [_lift(field, item) for item in value] if field.is_repeated else _lift(field, value)
        lifted[name] = value
    return lifted


def _lift(field: Any, value: Any) -> Any:
    forms = union_forms(field.message_type)
    if forms is None:
        return lift_unions(value, field.message_type) if isinstance(value, dict) else value
    string_form, object_form = forms
    if isinstance(value, str):
        return {string_form.name: value}
    return {object_form.name: lift_unions(value, object_form.message_type)}


def mirrors(data: JSON, message: Any) -> None:
    """`data` converted into `message` without loss (test_convert.assert_mirrors, string-or-object unions
    read as their message holds them)."""
    assert_mirrors(lift_unions(data, message.DESCRIPTOR), message)


# --- The reading itself -----------------------------------------------------------------------------------

FORMS = Spec(
    {
        "components": {
            "schemas": {
                "Null": {"anyOf": [{"type": "object", "properties": {}}, {"type": "null"}]},
                "Plain": {"type": "object", "properties": {}},
                "Enum": {"type": "string", "enum": ["a"]},
            }
        }
    }
)


OBJECT = {"type": "object", "properties": {}}
STRING = {"type": "string"}


@pytest.mark.parametrize(
    ("schema", "shape", "nullable"),
    [
        pytest.param(STRING, STRING, False, id="plain"),
        pytest.param({**STRING, "nullable": True}, {**STRING, "nullable": True}, True, id="3.0"),
        pytest.param({"$ref": REF + "Null"}, OBJECT, True, id="ref-to-anyOf-null"),
        pytest.param({"$ref": REF + "Plain", "nullable": True}, OBJECT, True, id="beside-ref"),
        pytest.param({"allOf": [{"$ref": REF + "Plain"}, {"nullable": True}]}, OBJECT, True, id="allOf"),
        pytest.param(
            {"anyOf": [{"type": "integer"}, {"type": "null"}]}, {"type": "integer"}, True, id="anyOf-null"
        ),
        pytest.param({"anyOf": [STRING, {"$ref": REF + "Enum"}]}, STRING, False, id="open-enum"),
    ],
)
def test_unwrap_reads_every_form_of_nullability(schema: JSON, shape: JSON, nullable: bool) -> None:
    assert FORMS.unwrap(schema) == (shape, nullable)


CREATE = {"$ref": REF + "CreateRunRequest"}


def create(**fields: Any) -> JSON:
    """A CreateRun body: an assistant and `fields`."""
    return {"assistant_id": "asst_1", **fields}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({**create(), "bogus": 1}, id="unknown-property"),
        pytest.param(create(assistant_id=1), id="number-for-string"),
        pytest.param(create(assistant_id=True), id="boolean-for-string"),
        pytest.param({}, id="missing-required"),
        pytest.param(create(tool_choice="sometimes"), id="no-union-alternative"),
        pytest.param(create(tools=[{"type": "retrieval"}]), id="v1-tool"),
        pytest.param(create(tools=[{"type": "code_interpreter"}] * 21), id="max-items"),
        pytest.param(create(tools=[{"type": "function"}]), id="function-without-function"),
        pytest.param(create(temperature=3), id="above-maximum"),
        pytest.param(create(temperature=True), id="boolean-for-number"),
        pytest.param(create(max_prompt_tokens=1.5), id="fraction-for-integer"),
        pytest.param(create(metadata={"k": 1}), id="metadata-number"),
        pytest.param(create(stream=1), id="number-for-boolean"),
        pytest.param(create(additional_messages=[{"role": "user", "content": []}]), id="no-parts"),
        pytest.param(create(response_format={"type": "json_schema"}), id="schema-missing"),
        pytest.param(create(truncation_strategy={"type": "auto", "last_messages": 0}), id="below-minimum"),
    ],
)
def test_the_schema_check_refuses_what_the_schema_refuses(body: JSON) -> None:
    assert load("v2").errors(body, CREATE) != []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(create(), id="minimal"),
        pytest.param(
            create(model=None, truncation_strategy=None, response_format=None, metadata=None), id="nulls"
        ),
        pytest.param(create(model="gpt-new", tool_choice="required"), id="open-model"),
        pytest.param(create(additional_messages=[{"role": "user", "content": "Hi"}]), id="string-content"),
        pytest.param(create(temperature=1), id="integer-for-number"),
    ],
)
def test_the_schema_check_accepts_what_the_schema_accepts(body: JSON) -> None:
    assert load("v2").errors(body, CREATE) == []
