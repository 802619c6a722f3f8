"""The protos and route tables of each version agree with OpenAI's OpenAPI description of that version.

For v1 and v2 alike, the schemas are walked from the REST objects (runs and run steps; in v2 also messages
and the deltas a streamed run sends), the list pages and the request bodies down to every nested object, each
paired with the message that mirrors it, and checked both ways: properties ↔ fields, types, nullability ↔
presence, enums, unions (string-or-object ones included), routes ↔ operations (path parameters, query, body,
response; a streamed run's RPCs on the operations that take `stream`), and the descriptions' own examples
(objects, responses, server-sent events) converted without loss. The checks are written once; the
descriptions are read and walked by test_openapi_walk.py (from ../shared/openapi/; skipped when absent), and
what differs between the versions, their deliberate differences included, is data in
test_openapi_versions.py. What only v2 has (events ↔ routes.EVENTS_V2, full objects, request bodies valid
against the schema) is test_openapi_v2.py's.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from google.protobuf.descriptor import FieldDescriptor
from test_openapi_versions import AGREEMENTS, VERSIONS, each
from test_openapi_walk import (
    JSON,
    STREAM,
    Agreement,
    is_map,
    is_plain_message,
    is_struct,
    mirrors,
    oneofs,
    rest_names,
    schema_name,
    union_forms,
)

from gateway.convert import to_message
from gateway.core import BINDINGS, Gateway, method_path
from gateway.routes import Route, query_field

# --- Objects and their messages ---------------------------------------------------------------------------


@pytest.mark.parametrize(("agreement", "path"), each(lambda a: sorted(a.pairs)))
def test_rest_properties_and_proto_fields_agree_both_ways(agreement: Agreement, path: str) -> None:
    pair, version = agreement.pairs[path], agreement.version
    properties = set(pair.properties())
    fields = {field.name for field in pair.descriptor.fields}
    assert fields - properties == version.only_in_proto.get(path, set())
    assert properties - fields == version.only_in_rest.get(path, set())


SCALARS = {
    "string": {FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_ENUM},
    "integer": {FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_INT32},  # int32: only Version.int32
    "number": {FieldDescriptor.TYPE_DOUBLE},
    "boolean": {FieldDescriptor.TYPE_BOOL},
}


def type_mismatch(agreement: Agreement, path: str, prop: JSON, field: Any) -> str | None:
    """Why a REST property cannot be held by `field`, or None when it can."""
    spec, version = agreement.spec, agreement.version
    prop = spec.shape(prop)
    kinds = {v.get("type", "object") for v in spec.alternatives(prop)}
    if field.message_type is not None and union_forms(field.message_type) is not None:
        return None if kinds == {"string", "object"} else "a string-or-object message for another union"
    if kinds == {"string", "array"}:
        if path not in version.string_or_array:
            return "an unlisted string-or-array"
        prop = next(v for v in spec.alternatives(prop) if v.get("type") == "array")
    kind = prop.get("type", "object")
    if kind == "object" and "properties" not in prop and "oneOf" not in prop:
        # Free-form: metadata (string values) or any JSON object, such as a function's parameters schema.
        if path in version.free_form_messages:
            return None if is_plain_message(field) else "a listed free-form object needs a message"
        return None if is_map(field) or is_struct(field) else "free-form object"
    if kind == "array" and (not field.is_repeated or is_map(field)):
        return "an array needs a repeated field"
    if kind != "array" and field.is_repeated:
        return "a repeated field needs an array"
    if kind == "array":
        prop = spec.shape(prop["items"])
        kind = "object" if "oneOf" in prop else prop.get("type", "object")
    if kind == "object":
        return None if is_plain_message(field) else "an object with properties needs a message"
    return scalar_mismatch(agreement, kind, prop, field)


def scalar_mismatch(agreement: Agreement, kind: str, prop: JSON, field: Any) -> str | None:
    if field.type not in SCALARS[kind]:
        return f"{kind} held in a field of type {field.type}"
    if field.type == FieldDescriptor.TYPE_INT32 and field.full_name not in agreement.version.int32:
        return "an unlisted int32: timestamps and token counts outgrow it"
    if "enum" in prop and field.enum_type is None and len(prop["enum"]) != 1:
        return "an enum of several values needs a proto enum"  # one value is a constant: `object`
    if field.enum_type is not None and "enum" not in prop:
        return "a proto enum for a REST string without enum"
    return None


@pytest.mark.parametrize(
    ("agreement", "path", "prop", "field"),
    [
        pytest.param(a, path, prop, field, id=f"{a}:{path}#{index}")
        for a in AGREEMENTS
        for index, (path, prop, field) in enumerate(a.properties_with_fields())
    ],
)
def test_property_types_fit_their_fields(agreement: Agreement, path: str, prop: JSON, field: Any) -> None:
    assert type_mismatch(agreement, path, prop, field) is None


@pytest.mark.parametrize(("agreement", "path"), each(lambda a: a.nullable))
def test_nullable_property_is_a_field_with_presence_or_a_collection(agreement: Agreement, path: str) -> None:
    pair_path, name = path.rsplit(".", 1)
    field = agreement.pairs[pair_path].descriptor.fields_by_name[name]
    assert field.has_presence or field.is_repeated or path in agreement.version.null_as_zero


# --- Enums ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("agreement", "path"), each(lambda a: sorted(a.enums)))
def test_rest_enum_values_are_the_proto_enum_values(agreement: Agreement, path: str) -> None:
    values, enum = agreement.enums[path]
    if path in agreement.version.narrower_rest_enums:
        assert values < rest_names(enum)
    else:
        assert values == rest_names(enum)


def all_enums(agreement: Agreement) -> list[Any]:
    modules = (agreement.version.res, agreement.version.pb)
    return [enum for module in modules for enum in module.DESCRIPTOR.enum_types_by_name.values()]


@pytest.mark.parametrize(
    ("agreement", "enum"), [pytest.param(a, e, id=f"{a}:{e.name}") for a in AGREEMENTS for e in all_enums(a)]
)
def test_every_proto_enum_is_a_rest_enum(agreement: Agreement, enum: Any) -> None:
    found = [values for values, used in agreement.enums.values() if used.full_name == enum.full_name]
    assert found
    assert set().union(*found) == rest_names(enum)


# --- Unions -----------------------------------------------------------------------------------------------


def unions(agreement: Agreement) -> list[str]:
    return sorted(path for path, pair in agreement.pairs.items() if len(pair.schemas) > 1)


def kind(schema: JSON) -> str:
    [value] = schema["properties"]["type"]["enum"]
    return str(value)


@pytest.mark.parametrize(("agreement", "path"), each(unions))
def test_union_payload_is_named_after_its_type(agreement: Agreement, path: str) -> None:
    pair = agreement.pairs[path]
    common = set.intersection(*(set(schema["properties"]) for schema in pair.schemas))
    for schema in pair.schemas:
        assert set(schema["properties"]) - common <= {kind(schema)}, schema.get("title")
        assert kind(schema) in rest_names(pair.descriptor.fields_by_name["type"].enum_type)


@pytest.mark.parametrize("agreement", VERSIONS)
def test_proto_oneof_has_one_payload_per_type(agreement: Agreement) -> None:
    found: dict[str, tuple[Any, set[str]]] = {}  # message → (its oneof, the types of its variants)
    for path in unions(agreement):
        pair = agreement.pairs[path]
        for oneof in oneofs(pair.descriptor):
            found.setdefault(pair.descriptor.name, (oneof, set()))[1].update(map(kind, pair.schemas))
    assert set(found) == agreement.version.oneof_messages
    for oneof, kinds in found.values():
        assert {field.name for field in oneof.fields} == kinds, oneof.full_name


# --- Routes -----------------------------------------------------------------------------------------------


def routes(agreement: Agreement) -> list[str]:
    return sorted(agreement.version.api.routes)


def route_of(agreement: Agreement, rpc: str) -> tuple[Route, JSON]:
    route = agreement.version.api.routes[rpc]
    return route, agreement.operation(route)


def parameters(op: JSON, where: str) -> list[JSON]:
    return [p for p in op.get("parameters", []) if p["in"] == where]


@pytest.mark.parametrize("agreement", VERSIONS)
def test_every_runs_operation_has_a_route(agreement: Agreement) -> None:
    operations = {
        (method.upper(), path)
        for path, ops in agreement.spec.paths.items()
        if path.startswith("/threads/{thread_id}/runs")
        for method in ops
        if method in {"get", "post", "delete", "put", "patch"}
    }
    assert operations == {(route.method, route.path) for route in agreement.version.api.routes.values()}


@pytest.mark.parametrize(("agreement", "rpc"), each(routes))
def test_route_path_parameters_are_the_operation_path_parameters(agreement: Agreement, rpc: str) -> None:
    route, op = route_of(agreement, rpc)
    params = parameters(op, "path")
    assert [p["name"] for p in params] == list(route.path_params)
    assert all(p["required"] and p["schema"] == {"type": "string"} for p in params)
    request = agreement.methods[rpc].input_type
    assert {request.fields_by_name[p["name"]].type for p in params} == {FieldDescriptor.TYPE_STRING}


QUERY_TYPES = {"integer": FieldDescriptor.TYPE_INT32, "string": FieldDescriptor.TYPE_STRING}


@pytest.mark.parametrize(("agreement", "rpc"), each(routes))
def test_route_query_is_the_operation_query(agreement: Agreement, rpc: str) -> None:
    route, op = route_of(agreement, rpc)
    params = {p["name"]: p["schema"] for p in parameters(op, "query")}
    assert set(route.query) == set(params)
    request = agreement.methods[rpc].input_type
    for name, schema in params.items():
        field = request.fields_by_name[query_field(name)]
        if schema["type"] == "array":
            # `include[]`: a repeated string, sent once per value; its enum stays open (the API adds values).
            assert field.is_repeated, name
            assert field.type == QUERY_TYPES[schema["items"]["type"]], name
        else:
            assert field.type == (
                FieldDescriptor.TYPE_ENUM if "enum" in schema else QUERY_TYPES[schema["type"]]
            )
            assert not field.is_repeated, name


@pytest.mark.parametrize(("agreement", "rpc"), each(routes))
def test_route_body_is_the_operation_request_schema(agreement: Agreement, rpc: str) -> None:
    route, op = route_of(agreement, rpc)
    if not route.body:
        assert "requestBody" not in op
        return
    properties = agreement.request_schema(route)["properties"]
    assert set(route.body) == set(properties) - {STREAM}
    assert set(route.body) <= set(agreement.methods[rpc].input_type.fields_by_name)
    top = [name for name in route.always if "." not in name]
    assert all(agreement.spec.nullable(properties[name]) for name in top)
    for path in set(route.always) - set(top):  # nested: a field the description requires of its object
        assert required_in(agreement.spec, properties, path.split(".")), path
    if route.events:
        assert agreement.spec.shape(properties[STREAM])["type"] == "boolean"


def required_in(spec: Any, properties: dict[str, Any], path: list[str]) -> bool:
    """Whether the description requires the last field of `path` (from `properties` down, through arrays),
    where it lists it: on the object, or (as for an attachment's `tools`) on the array of those objects."""
    *parents, last = path
    schema: dict[str, Any] = {"properties": properties}
    for name in parents:
        schema = spec.shape(schema["properties"][name])
        while schema.get("type") == "array":
            required = set(schema.get("required", []))
            schema = spec.shape(schema["items"])
            schema = {**schema, "required": [*schema.get("required", []), *required]}
    return last in schema.get("properties", {}) and last in schema.get("required", [])


@pytest.mark.parametrize("agreement", VERSIONS)
def test_streamed_rpcs_are_on_the_operations_that_can_stream(agreement: Agreement) -> None:
    api = agreement.version.api
    streamable = {
        (route.method, route.path)
        for route in api.routes.values()
        if route.body and STREAM in agreement.request_schema(route)["properties"]
    }
    assert streamable == {(route.method, route.path) for route in api.routes.values() if route.events}


def streamed_rpcs(agreement: Agreement) -> list[str]:
    return [rpc for rpc in routes(agreement) if agreement.version.api.routes[rpc].events]


def unary_rpcs(agreement: Agreement) -> list[str]:
    return [rpc for rpc in routes(agreement) if not agreement.version.api.routes[rpc].events]


def field_shapes(descriptor: Any) -> set[tuple[str, int, int, bool, bool, str | None]]:
    """Each field's name, number, type, label, presence, and its message or enum (a map as its entry's types,
    as each message nests its own)."""
    return {
        (f.name, f.number, f.type, f.is_repeated, f.has_presence, type_name(f)) for f in descriptor.fields
    }


def type_name(field: Any) -> str | None:
    if is_map(field):
        return "map<" + ",".join(str(f.type) for f in field.message_type.fields) + ">"
    return getattr(field.message_type or field.enum_type, "full_name", None)


@pytest.mark.parametrize(("agreement", "rpc"), each(streamed_rpcs))
def test_streamed_rpcs_take_the_request_of_the_unary_rpc_of_their_operation(
    agreement: Agreement, rpc: str
) -> None:
    route = agreement.version.api.routes[rpc]
    [twin] = [
        name
        for name, other in agreement.version.api.routes.items()
        if (other.method, other.path) == (route.method, route.path) and not other.events
    ]
    assert (route.body, route.query) == (
        agreement.version.api.routes[twin].body,
        agreement.version.api.routes[twin].query,
    )
    assert field_shapes(agreement.methods[rpc].input_type) == field_shapes(agreement.methods[twin].input_type)


@pytest.mark.parametrize(("agreement", "rpc"), each(routes))
def test_route_result_is_the_operation_response(agreement: Agreement, rpc: str) -> None:
    route, method = agreement.version.api.routes[rpc], agreement.methods[rpc]
    response, output = agreement.response_schema(route), method.output_type
    if route.events:
        # Events, not the run: the run the operation answers is what the `thread.run.*` events carry.
        message = output.fields_by_name[agreement.version.api.events["thread.run.created"]].message_type
    else:
        message = output if route.result is None else output.fields_by_name[route.result].message_type
    if method.server_streaming and not route.events:
        # A list stream answers a message per page of the REST list: its items are the list's items.
        response = schema_name(agreement.spec.schemas[response]["properties"]["data"]["items"])
    assert response == agreement.messages[message.full_name]


# --- The descriptions' own examples -----------------------------------------------------------------------


def documented_responses(agreement: Agreement, rpc: str) -> list[JSON]:
    """The response examples of the RPC's operation, as the gateway converts them (for a stream: its page)."""
    route, method = agreement.version.api.routes[rpc], agreement.methods[rpc]
    found = []
    for example in agreement.json_examples(route):
        data = agreement.documented(agreement.response_schema(route), example, set())
        if route.result is not None:
            # A stream answers a message per page, the page's items in the field `result` names.
            data = {route.result: data["data"] if method.server_streaming else data}
        found.append(data)
    return found


@pytest.mark.parametrize(("agreement", "rpc"), each(unary_rpcs))
def test_documented_response_example_converts_without_loss(agreement: Agreement, rpc: str) -> None:
    response_class = getattr(agreement.version.pb, agreement.methods[rpc].output_type.name)
    objects = documented_responses(agreement, rpc)
    assert objects
    for data in objects:
        mirrors(data, to_message(copy.deepcopy(data), response_class))


@pytest.mark.parametrize(("agreement", "schema"), each(lambda a: sorted(a.object_examples())))
def test_documented_object_example_converts_without_loss(agreement: Agreement, schema: str) -> None:
    example = agreement.object_examples()[schema]
    data = agreement.documented(schema, example, set())
    message_class = getattr(agreement.version.res, agreement.version.roots[schema].name)
    converted = to_message(copy.deepcopy(example), message_class)
    mirrors(data, converted)
    assert converted == to_message(data, message_class)  # what no schema has is ignored


@pytest.mark.parametrize(("agreement", "rpc"), each(streamed_rpcs))
def test_documented_events_convert_without_loss(agreement: Agreement, rpc: str) -> None:
    api = agreement.version.api
    events = list(agreement.event_examples(api.routes[rpc]))
    assert events
    for event, example in events:
        data = agreement.documented(agreement.event_schemas[event], example, set())
        converted = Gateway._event(BINDINGS[method_path(api, rpc)], event, json.dumps(example))
        mirrors({"event": event, api.events[event]: data}, converted)
