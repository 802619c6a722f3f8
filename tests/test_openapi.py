"""The protos and the route table agree with OpenAI's OpenAPI description of the Assistants v1 Runs API.

The description lives beside the repository, in ../shared/openapi/ (not part of a user's clone, where this
module is skipped). The schemas are walked from the REST objects (RunObject, RunStepObject, the list pages
and the request bodies) down to every nested object, paired with the message that mirrors each; unions
(`oneOf`) pair with one message holding the `type` enum and one payload field per variant, named after its
type, as resources.proto documents. Known, deliberate differences are listed below with their reason, and a
listed difference that no longer exists fails too.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf.descriptor import FieldDescriptor
from runs_gateway.assistants.v1 import resources_pb2 as res
from runs_gateway.assistants.v1 import runs_service_pb2 as pb
from test_convert import assert_mirrors

from gateway.convert import to_message
from gateway.routes import ROUTES

SPEC_PATH = Path(__file__).resolve().parent.parent.parent / "shared/openapi/openai-openapi-v1-assistants.yaml"
if not SPEC_PATH.is_file():
    pytest.skip(
        f"OpenAI's OpenAPI description is not at {SPEC_PATH} (it sits beside the repository, in ../shared)",
        allow_module_level=True,
    )

JSON = dict[str, Any]
SPEC: JSON = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
SCHEMAS: JSON = SPEC["components"]["schemas"]
SERVICE = pb.DESCRIPTOR.services_by_name["RunsService"]
METHODS = {method.name: method for method in SERVICE.methods}
STRUCT = "google.protobuf.Struct"
REF = "#/components/schemas/"

ROOTS = {
    "RunObject": res.Run.DESCRIPTOR,
    "RunStepObject": res.RunStep.DESCRIPTOR,
    "ListRunsResponse": pb.ListRunsPageResponse.DESCRIPTOR,
    "ListRunStepsResponse": pb.ListRunStepsPageResponse.DESCRIPTOR,
    "CreateRunRequest": pb.CreateRunRequest.DESCRIPTOR,
    "ModifyRunRequest": pb.ModifyRunRequest.DESCRIPTOR,
    "SubmitToolOutputsRunRequest": pb.SubmitToolOutputsRequest.DESCRIPTOR,
}
"""REST schema → the message that mirrors it."""

ONLY_IN_PROTO = {
    "CreateRunRequest": {"thread_id"},
    "ModifyRunRequest": {"thread_id", "run_id"},
    "SubmitToolOutputsRunRequest": {"thread_id", "run_id"},
    # FunctionCall serves both RunToolCallObject.function and a step's function call; its `output` is
    # documented as always absent in a RequiredToolCall.
    "RunObject.required_action.submit_tool_outputs.tool_calls[].function": {"output"},
    # The JSON-text twin of the `parameters` Struct: the upstream receives the schema exactly as written.
    "RunObject.tools[].function": {"parameters_json"},
    "CreateRunRequest.tools[].function": {"parameters_json"},
}
"""Schema path → proto fields with no REST property there: path parameters of a request, shared messages."""

ONLY_IN_REST = {
    # The page messages leave out `object` (always "list"); tests/test_routes.py pins their four fields.
    "ListRunsResponse": {"object"},
    "ListRunStepsResponse": {"object"},
}
"""Schema path → REST properties with no proto field."""

NARROWER_REST_ENUMS = {
    # RequiredToolCall.type reuses ToolType; REST allows only `function` in a required action for now.
    "RunObject.required_action.submit_tool_outputs.tool_calls[].type",
}
"""Schema paths whose REST enum is a strict subset of the (shared) proto enum."""


def resolve(schema: JSON) -> JSON:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].removeprefix(REF)]
    return schema


def variants(schema: JSON) -> list[JSON]:
    """The object schemas a value of `schema` can be: the `oneOf` alternatives, or the schema itself."""
    schema = resolve(schema)
    return [resolve(v) for v in schema["oneOf"]] if "oneOf" in schema else [schema]


def nullable(schema: JSON) -> bool:
    return bool(schema.get("nullable") or resolve(schema).get("nullable"))


def is_map(field: Any) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def is_plain_message(field: Any) -> bool:
    return field.message_type is not None and field.message_type.full_name != STRUCT and not is_map(field)


def rest_names(enum: Any) -> set[str]:
    """The REST strings of a proto enum, by the rule of resources.proto: no `*_UNSPECIFIED` prefix."""
    prefix = enum.values_by_number[0].name.removesuffix("UNSPECIFIED")
    assert enum.values_by_number[0].name == prefix + "UNSPECIFIED"
    return {v.name.removeprefix(prefix).lower() for v in enum.values if v.number}


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


def walk(path: str, schemas: list[JSON], descriptor: Any, refs: list[Ref]) -> Iterator[Pair]:
    """The pair (`schemas`, `descriptor`) and every pair of objects below it; a property that refers to
    another root schema (a page's `data`) is recorded in `refs` instead of being walked again."""
    pair = Pair(path, tuple(schemas), descriptor)
    yield pair
    for name, props in pair.properties().items():
        field = descriptor.fields_by_name.get(name)
        if field is None or not is_plain_message(field):
            continue
        child_path = f"{path}.{name}{'[]' if field.is_repeated else ''}"
        children: list[JSON] = []
        for prop in props:
            target = resolve(prop)["items"] if resolve(prop).get("type") == "array" else prop
            if target.get("$ref", "").removeprefix(REF) in ROOTS:
                refs.append(Ref(child_path, target["$ref"].removeprefix(REF), field.message_type))
            else:
                children += variants(target)
        if children:
            yield from walk(child_path, children, field.message_type, refs)


@dataclass(frozen=True)
class Ref:
    """A property whose objects are those of a root schema: their message must be that root's message."""

    path: str
    schema: str
    descriptor: Any


REFS: list[Ref] = []
PAIRS = {
    pair.path: pair
    for root, message in ROOTS.items()
    for pair in walk(root, variants(SCHEMAS[root]), message, REFS)
}


def properties_with_fields() -> Iterator[tuple[str, JSON, Any]]:
    """(path, property schema, proto field) of every REST property that has a proto field; a property of
    several union alternatives (`type`) comes once per alternative."""
    for pair in PAIRS.values():
        for name, props in pair.properties().items():
            field = pair.descriptor.fields_by_name.get(name)
            if field is not None:
                for prop in props:
                    yield f"{pair.path}.{name}", prop, field


PROPERTIES = [
    pytest.param(path, prop, field, id=f"{path}#{index}")
    for index, (path, prop, field) in enumerate(properties_with_fields())
]


RUN_OBJECTS = (
    ".required_action",
    ".required_action.submit_tool_outputs",
    ".required_action.submit_tool_outputs.tool_calls[]",
    ".required_action.submit_tool_outputs.tool_calls[].function",
    ".last_error",
    ".tools[]",
    ".tools[].function",
    ".usage",
)
STEP_OBJECTS = (
    ".step_details",
    ".step_details.message_creation",
    ".step_details.tool_calls[]",
    ".step_details.tool_calls[].code_interpreter",
    ".step_details.tool_calls[].code_interpreter.outputs[]",
    ".step_details.tool_calls[].code_interpreter.outputs[].image",
    ".step_details.tool_calls[].function",
    ".last_error",
    ".usage",
)


def test_the_walk_reaches_every_nested_object() -> None:
    expected = {
        *ROOTS,
        *("RunObject" + suffix for suffix in RUN_OBJECTS),
        *("RunStepObject" + suffix for suffix in STEP_OBJECTS),
        "CreateRunRequest.tools[]",
        "CreateRunRequest.tools[].function",
        "SubmitToolOutputsRunRequest.tool_outputs[]",
    }
    assert set(PAIRS) == expected


def test_pages_hold_the_messages_of_their_items() -> None:
    found = {ref.path: (ref.schema, ref.descriptor.full_name) for ref in REFS}
    assert found == {
        "ListRunsResponse.data[]": ("RunObject", "runs_gateway.assistants.v1.Run"),
        "ListRunStepsResponse.data[]": ("RunStepObject", "runs_gateway.assistants.v1.RunStep"),
    }
    assert all(ROOTS[ref.schema] is ref.descriptor for ref in REFS)


@pytest.mark.parametrize("path", sorted(PAIRS))
def test_rest_properties_and_proto_fields_agree_both_ways(path: str) -> None:
    pair = PAIRS[path]
    properties = set(pair.properties())
    fields = {field.name for field in pair.descriptor.fields}
    assert fields - properties == ONLY_IN_PROTO.get(path, set())
    assert properties - fields == ONLY_IN_REST.get(path, set())


def test_listed_differences_exist() -> None:
    assert set(ONLY_IN_PROTO) <= set(PAIRS)
    assert set(ONLY_IN_REST) <= set(PAIRS)
    paths = {path for path, _, _ in properties_with_fields()}
    assert paths >= NARROWER_REST_ENUMS


SCALARS = {
    "string": {FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_ENUM},
    "integer": {FieldDescriptor.TYPE_INT64},  # timestamps and token counts outgrow int32
    "boolean": {FieldDescriptor.TYPE_BOOL},
}


def type_mismatch(prop: JSON, field: Any) -> str | None:
    """Why a REST property cannot be held by `field`, or None when it can."""
    prop = resolve(prop)
    kind = prop.get("type", "object")
    if kind == "object" and "properties" not in prop and "oneOf" not in prop:
        # Free-form: metadata (string values) or any JSON object, such as a function's parameters schema.
        return None if is_map(field) or field.message_type.full_name == STRUCT else "free-form object"
    if kind == "array" and (not field.is_repeated or is_map(field)):
        return "an array needs a repeated field"
    if kind != "array" and field.is_repeated:
        return "a repeated field needs an array"
    if kind == "array":
        prop = resolve(prop["items"])
        kind = "object" if "oneOf" in prop else prop.get("type", "object")
    if kind == "object":
        return None if is_plain_message(field) else "an object with properties needs a message"
    if field.type not in SCALARS[kind]:
        return f"{kind} held in a field of type {field.type}"
    if "enum" in prop and field.enum_type is None and len(prop["enum"]) != 1:
        return "an enum of several values needs a proto enum"  # one value is a constant: `object`
    if field.enum_type is not None and "enum" not in prop:
        return "a proto enum for a REST string without enum"
    return None


@pytest.mark.parametrize(("path", "prop", "field"), PROPERTIES)
def test_property_types_fit_their_fields(path: str, prop: JSON, field: Any) -> None:
    assert type_mismatch(prop, field) is None


def test_maps_are_metadata_and_structs_are_free_form_json() -> None:
    maps = {path for path, _, field in properties_with_fields() if is_map(field)}
    assert maps == {
        "RunObject.metadata",
        "RunStepObject.metadata",
        "CreateRunRequest.metadata",
        "ModifyRunRequest.metadata",
    }
    structs = {
        path
        for path, _, field in properties_with_fields()
        if field.message_type is not None and field.message_type.full_name == STRUCT
    }
    assert structs == {
        "RunObject.tools[].function.parameters",
        "CreateRunRequest.tools[].function.parameters",
        "RunStepObject.step_details.tool_calls[].retrieval",
    }


NULLABLE = sorted({path for path, prop, _ in properties_with_fields() if nullable(prop)})


@pytest.mark.parametrize("path", NULLABLE)
def test_nullable_property_is_a_field_with_presence_or_a_collection(path: str) -> None:
    pair_path, name = path.rsplit(".", 1)
    field = PAIRS[pair_path].descriptor.fields_by_name[name]
    assert field.has_presence or field.is_repeated


def test_nullable_properties_are_found_through_refs() -> None:
    assert {
        "RunObject.usage",
        "RunObject.required_action",
        "RunObject.completed_at",
        "RunStepObject.usage",
        "RunStepObject.expired_at",
        "RunStepObject.step_details.tool_calls[].function.output",
        "CreateRunRequest.model",
        "CreateRunRequest.tools",
        "ModifyRunRequest.metadata",
    } <= set(NULLABLE)


# --- Enums ------------------------------------------------------------------------------------------------


def enum_properties() -> Iterator[tuple[str, set[str], Any]]:
    """(path, REST values, proto enum) of every REST property held by a proto enum field."""
    for path, prop, field in properties_with_fields():
        if field.enum_type is not None:
            yield path, set(resolve(prop)["enum"]), field.enum_type
    for name in ("ListRuns", "ListRunSteps"):
        route = ROUTES[name]
        for param in SPEC["paths"][route.path][route.method.lower()]["parameters"]:
            if param["name"] == "order":
                field = METHODS[name].input_type.fields_by_name["order"]
                yield f"{route.path}?order", set(param["schema"]["enum"]), field.enum_type


def merged_enum_properties() -> dict[str, tuple[set[str], Any]]:
    """Path → (the REST values of every alternative at that path, the proto enum)."""
    merged: dict[str, tuple[set[str], Any]] = {}
    for path, values, enum in enum_properties():
        merged.setdefault(path, (set(), enum))[0].update(values)
    return merged


ENUM_PROPERTIES = merged_enum_properties()


@pytest.mark.parametrize("path", sorted(ENUM_PROPERTIES))
def test_rest_enum_values_are_the_proto_enum_values(path: str) -> None:
    values, enum = ENUM_PROPERTIES[path]
    if path in NARROWER_REST_ENUMS:
        assert values < rest_names(enum)
    else:
        assert values == rest_names(enum)


ALL_ENUMS = [*res.DESCRIPTOR.enum_types_by_name.values(), *pb.DESCRIPTOR.enum_types_by_name.values()]


@pytest.mark.parametrize("enum", ALL_ENUMS, ids=lambda enum: enum.name)
def test_every_proto_enum_is_a_rest_enum(enum: Any) -> None:
    found = [values for values, used in ENUM_PROPERTIES.values() if used.full_name == enum.full_name]
    assert found
    assert set().union(*found) == rest_names(enum)


RUN_STATUSES = {"queued", "in_progress", "requires_action", "cancelling", "cancelled", "failed", "completed"}
STEP_STATUSES = {"in_progress", "cancelled", "failed", "completed", "expired"}
TOOL_TYPES = {"code_interpreter", "retrieval", "function"}
ERROR_CODES = {"server_error", "rate_limit_exceeded"}


@pytest.mark.parametrize(
    ("path", "enum", "values"),
    [
        ("RunObject.status", res.RunStatus, RUN_STATUSES | {"expired"}),
        ("RunObject.required_action.type", res.RequiredActionType, {"submit_tool_outputs"}),
        ("RunObject.required_action.submit_tool_outputs.tool_calls[].type", res.ToolType, {"function"}),
        ("RunObject.last_error.code", res.LastErrorCode, ERROR_CODES),
        ("RunObject.tools[].type", res.ToolType, TOOL_TYPES),
        ("RunStepObject.status", res.RunStepStatus, STEP_STATUSES),
        ("RunStepObject.type", res.RunStepType, {"message_creation", "tool_calls"}),
        ("RunStepObject.step_details.type", res.RunStepType, {"message_creation", "tool_calls"}),
        ("RunStepObject.step_details.tool_calls[].type", res.ToolType, TOOL_TYPES),
        (
            "RunStepObject.step_details.tool_calls[].code_interpreter.outputs[].type",
            res.CodeInterpreterOutputType,
            {"logs", "image"},
        ),
        ("RunStepObject.last_error.code", res.LastErrorCode, ERROR_CODES),
        ("CreateRunRequest.tools[].type", res.ToolType, TOOL_TYPES),
        ("/threads/{thread_id}/runs?order", pb.ListOrder, {"asc", "desc"}),
        ("/threads/{thread_id}/runs/{run_id}/steps?order", pb.ListOrder, {"asc", "desc"}),
    ],
)
def test_enum_locations(path: str, enum: Any, values: set[str]) -> None:
    found, used = ENUM_PROPERTIES[path]
    assert used.full_name == enum.DESCRIPTOR.full_name
    assert found == values


# --- Unions -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(path for path, pair in PAIRS.items() if len(pair.schemas) > 1))
def test_union_payload_is_named_after_its_type(path: str) -> None:
    for schema in PAIRS[path].schemas:
        [kind] = schema["properties"]["type"]["enum"]
        payload = set(schema["properties"]) - {"type", "id"}
        assert payload <= {kind}, schema.get("title")
        assert kind in rest_names(PAIRS[path].descriptor.fields_by_name["type"].enum_type)


@pytest.mark.parametrize(
    ("message", "oneof"), [(res.ToolCall, "call"), (res.CodeInterpreterOutput, "output")]
)
def test_proto_oneof_has_one_payload_per_type(message: Any, oneof: str) -> None:
    payloads = {field.name for field in message.DESCRIPTOR.oneofs_by_name[oneof].fields}
    assert payloads == rest_names(message.DESCRIPTOR.fields_by_name["type"].enum_type)


def test_unions_found() -> None:
    unions = {path for path, pair in PAIRS.items() if len(pair.schemas) > 1}
    assert {
        "RunObject.tools[]",
        "RunStepObject.step_details",
        "RunStepObject.step_details.tool_calls[]",
        "RunStepObject.step_details.tool_calls[].code_interpreter.outputs[]",
        "CreateRunRequest.tools[]",
    } <= unions


# --- Routes -----------------------------------------------------------------------------------------------

RESPONSE_SCHEMAS = {
    "runs_gateway.assistants.v1.Run": "RunObject",
    "runs_gateway.assistants.v1.RunStep": "RunStepObject",
    "runs_gateway.assistants.v1.ListRunsPageResponse": "ListRunsResponse",
    "runs_gateway.assistants.v1.ListRunStepsPageResponse": "ListRunStepsResponse",
}


def operation(rpc: str) -> JSON:
    route = ROUTES[rpc]
    assert route.path in SPEC["paths"], route.path
    operations = SPEC["paths"][route.path]
    assert route.method.lower() in operations, f"{route.method} {route.path}"
    op: JSON = operations[route.method.lower()]
    return op


def parameters(op: JSON, where: str) -> list[JSON]:
    return [p for p in op.get("parameters", []) if p["in"] == where]


def schema_name(schema: JSON) -> str:
    return str(schema["$ref"]).removeprefix(REF)


def test_every_runs_operation_has_a_route() -> None:
    operations = {
        (method.upper(), path)
        for path, ops in SPEC["paths"].items()
        if path.startswith("/threads/{thread_id}/runs")
        for method in ops
        if method in {"get", "post", "delete", "put", "patch"}
    }
    assert operations == {(route.method, route.path) for route in ROUTES.values()}


@pytest.mark.parametrize("rpc", sorted(ROUTES))
def test_route_path_parameters_are_the_operation_path_parameters(rpc: str) -> None:
    params = parameters(operation(rpc), "path")
    assert [p["name"] for p in params] == list(ROUTES[rpc].path_params)
    assert all(p["required"] and p["schema"] == {"type": "string"} for p in params)
    request = METHODS[rpc].input_type
    assert {request.fields_by_name[p["name"]].type for p in params} == {FieldDescriptor.TYPE_STRING}


@pytest.mark.parametrize("rpc", sorted(ROUTES))
def test_route_query_is_the_operation_query(rpc: str) -> None:
    params = {p["name"]: p["schema"] for p in parameters(operation(rpc), "query")}
    assert set(ROUTES[rpc].query) == set(params)
    request = METHODS[rpc].input_type
    for name, schema in params.items():
        field = request.fields_by_name[name]
        expected = {"integer": FieldDescriptor.TYPE_INT32, "string": FieldDescriptor.TYPE_STRING}[
            schema["type"]
        ]
        assert field.type == (FieldDescriptor.TYPE_ENUM if "enum" in schema else expected), name


@pytest.mark.parametrize("rpc", sorted(ROUTES))
def test_route_body_is_the_operation_request_schema(rpc: str) -> None:
    op, route = operation(rpc), ROUTES[rpc]
    if not route.body:
        assert "requestBody" not in op
        return
    schema = SCHEMAS[schema_name(op["requestBody"]["content"]["application/json"]["schema"])]
    assert set(route.body) == set(schema["properties"])
    assert all(nullable(schema["properties"][name]) for name in route.always)


@pytest.mark.parametrize("rpc", sorted(ROUTES))
def test_route_result_is_the_operation_response(rpc: str) -> None:
    route, output = ROUTES[rpc], METHODS[rpc].output_type
    response = operation(rpc)["responses"]["200"]["content"]["application/json"]["schema"]
    message = output if route.result is None else output.fields_by_name[route.result].message_type
    if METHODS[rpc].server_streaming:
        # A stream answers a message per page of the REST list: its items are the list's items.
        response = SCHEMAS[schema_name(response)]["properties"]["data"]["items"]
    assert schema_name(response) == RESPONSE_SCHEMAS[message.full_name]


@pytest.mark.parametrize(
    ("schema", "request_message"),
    [
        ("CreateRunRequest", pb.CreateRunRequest),
        ("ModifyRunRequest", pb.ModifyRunRequest),
        ("SubmitToolOutputsRunRequest", pb.SubmitToolOutputsRequest),
    ],
)
def test_request_schema_properties_are_request_fields(schema: str, request_message: Any) -> None:
    fields = set(request_message.DESCRIPTOR.fields_by_name)
    assert set(SCHEMAS[schema]["properties"]) <= fields


# --- The description's own examples -----------------------------------------------------------------------


def documented_objects(rpc: str) -> list[JSON]:
    """The response example of the RPC's operation, as the gateway converts it (for a stream: its page)."""
    route, method = ROUTES[rpc], METHODS[rpc]
    example = json.loads(operation(rpc)["x-oaiMeta"]["examples"]["response"])
    if route.result is None:
        del example["object"]  # not in the page messages, see ONLY_IN_REST
        return [example]
    # A stream answers a message per page, the page's items in the field `result` names.
    return [{route.result: example["data"] if method.server_streaming else example}]


@pytest.mark.parametrize("rpc", sorted(ROUTES))
def test_documented_response_example_converts_without_loss(rpc: str) -> None:
    response_class = getattr(pb, METHODS[rpc].output_type.name)
    objects = documented_objects(rpc)
    assert objects
    for data in objects:
        assert_mirrors(data, to_message(copy.deepcopy(data), response_class))
