"""gateway.convert: REST JSON → messages without loss, and request messages → the REST bodies the API expects.

The full objects are JSON fixtures (tests/fixtures/) with every field set; `assert_mirrors` walks a REST
object and its message side by side, so a REST field that has no proto field, or a value that changes on
the way, fails with the path of the field. `test_fixtures_set_every_field_of_run_and_run_step` keeps the
fixtures full when a field is added to the protos.
"""

from __future__ import annotations

import copy
import json
import math
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from hypothesis import given, settings
from hypothesis import strategies as st
from runs_gateway.assistants.v1 import resources_pb2 as res
from runs_gateway.assistants.v1 import runs_service_pb2 as pb
from runs_gateway.assistants.v2 import runs_service_pb2 as pb_v2

import gateway.convert as conversion
from gateway.convert import ConversionError, encode, enum_to_rest, json_text, loads, to_message, to_rest
from gateway.routes import ROUTES

JSON = dict[str, Any]
FIXTURES = Path(__file__).parent / "fixtures"
STRUCT = "google.protobuf.Struct"
SERVICE = pb.DESCRIPTOR.services_by_name["RunsService"]
SERVICE_V2 = pb_v2.DESCRIPTOR.services_by_name["RunsService"]
Key = str | int


def rest(name: str) -> JSON:
    """A fresh copy of the REST object in tests/fixtures/<name>.json (to_message consumes its input)."""
    data: JSON = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def run_response(run: JSON) -> pb.GetRunResponse:
    """`run` as the gateway converts it: a copy, so that the caller's dict stays the REST original."""
    return to_message({"run": copy.deepcopy(run)}, pb.GetRunResponse)


def step_response(step: JSON) -> pb.GetRunStepResponse:
    """`step` as the gateway converts it, leaving `step` untouched."""
    return to_message({"run_step": copy.deepcopy(step)}, pb.GetRunStepResponse)


# --- Walking a REST object and its message side by side ------------------------------------------------


def proto_enum_name(enum: Any, rest_value: str) -> str:
    """The proto name of a REST enum value, by the rule of resources.proto: the prefix of `*_UNSPECIFIED`."""
    return enum.values_by_number[0].name.removesuffix("UNSPECIFIED") + rest_value.upper()


def is_map(field: Any) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def same_json(a: object, b: object) -> bool:
    """JSON equality where 3 == 3.0 (a Struct holds doubles) but True != 1 and "1" != 1."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    if is_number(a) and is_number(b):
        return a == b
    return type(a) is type(b) and a == b


def assert_mirrors(data: JSON, message: Message, path: str = "$") -> None:
    """Every non-null field of `data` is the message field of the same name with the same value; every
    field set in `message` comes from `data`; null is an absent (or empty repeated/map) field."""
    descriptor = message.DESCRIPTOR
    for name, value in data.items():
        where = f"{path}.{name}"
        field = descriptor.fields_by_name.get(name)
        assert field is not None, f"{where}: no proto field of that name in {descriptor.full_name}"
        actual = getattr(message, name)
        if value is None:
            empty = len(actual) == 0 if field.is_repeated else not message.HasField(name)
            assert empty, f"{where}: null in REST but set in the message"
        elif is_map(field):
            assert dict(actual) == value, where
        elif field.is_repeated:
            assert isinstance(value, list), where
            assert len(actual) == len(value), where
            for index, (item, element) in enumerate(zip(value, actual, strict=True)):
                assert_value(f"{where}[{index}]", field, item, element)
        else:
            if field.has_presence:
                assert message.HasField(name), f"{where}: set in REST but absent in the message"
            assert_value(where, field, value, actual)
    for field, value in message.ListFields():
        struct = twin_of(descriptor, field.name)
        if struct is not None:  # JSON text of the Struct beside it: the same JSON, keys in REST order
            assert value == json.dumps(data[struct], separators=(",", ":")), f"{path}.{field.name}"
            continue
        assert data.get(field.name) is not None, f"{path}.{field.name}: set but not in the REST object"


def twin_of(descriptor: Any, name: str) -> str | None:
    """The Struct field that the field `name` is the JSON-text twin of (`parameters_json` → `parameters`)."""
    struct = descriptor.fields_by_name.get(name.removesuffix("_json"))
    if not name.endswith("_json") or struct is None or struct.message_type is None:
        return None
    return name.removesuffix("_json") if struct.message_type.full_name == STRUCT else None


def assert_value(where: str, field: Any, value: object, actual: Any) -> None:
    if field.message_type is not None and field.message_type.full_name == STRUCT:
        assert same_json(json_format.MessageToDict(actual), value), where
    elif field.message_type is not None:
        assert isinstance(value, dict), where
        assert_mirrors(value, actual, where)
    elif field.enum_type is not None:
        assert isinstance(value, str), where
        name = (
            field.enum_type.values_by_number[actual].name
            if actual in field.enum_type.values_by_number
            else actual
        )
        assert name == proto_enum_name(field.enum_type, value), where
    else:
        assert type(actual) is type(value), f"{where}: {type(actual).__name__} is not {type(value).__name__}"
        assert actual == value, where


def set_fields(message: Message) -> Iterator[str]:
    """Full names of the fields set in `message` and below it (not inside a Struct)."""
    for field, value in message.ListFields():
        yield field.full_name
        if field.message_type is None or field.message_type.full_name == STRUCT or is_map(field):
            continue
        for element in value if field.is_repeated else [value]:
            yield from set_fields(element)


def reachable_fields(descriptor: Any, seen: set[str] | None = None) -> set[str]:
    """Full names of the fields of `descriptor` and of every message below it (not inside a Struct)."""
    seen = set() if seen is None else seen
    if descriptor.full_name in seen:
        return set()
    seen.add(descriptor.full_name)
    names = set()
    for field in descriptor.fields:
        names.add(field.full_name)
        if field.message_type is not None and field.message_type.full_name != STRUCT and not is_map(field):
            names |= reachable_fields(field.message_type, seen)
    return names


def at(data: Any, path: tuple[Key, ...]) -> Any:
    """What `path` leads to in a REST object (dict keys) or a message (field names)."""
    for key in path:
        data = data[key] if isinstance(data, dict) or isinstance(key, int) else getattr(data, key)
    return data


# --- REST → message: full objects ----------------------------------------------------------------------

FULL_OBJECTS = [
    pytest.param("run", "run_full", pb.GetRunResponse, id="run"),
    pytest.param("run_step", "run_step_message_creation", pb.GetRunStepResponse, id="step-message-creation"),
    pytest.param("run_step", "run_step_tool_calls", pb.GetRunStepResponse, id="step-tool-calls"),
]


@pytest.mark.parametrize(("key", "fixture", "response"), FULL_OBJECTS)
def test_full_object_survives_conversion(key: str, fixture: str, response: type[Message]) -> None:
    original = rest(fixture)
    message = to_message({key: copy.deepcopy(original)}, response)
    assert_mirrors({key: original}, message)


def test_fixtures_set_every_field_of_run_and_run_step() -> None:
    covered = set(set_fields(run_response(rest("run_full"))))
    for fixture in ("run_step_message_creation", "run_step_tool_calls"):
        covered |= set(set_fields(step_response(rest(fixture))))
    expected = reachable_fields(res.Run.DESCRIPTOR) | reachable_fields(res.RunStep.DESCRIPTOR)
    assert sorted(expected - covered) == []


def test_mirror_check_notices_a_dropped_field() -> None:
    # The walker itself must be able to fail: a REST field without a proto field is reported.
    message = run_response(rest("run_full"))
    with pytest.raises(AssertionError, match=r"\$\.run\.incomplete_details: no proto field"):
        assert_mirrors({"run": {**rest("run_full"), "incomplete_details": {"reason": "max_tokens"}}}, message)


def test_full_run_values() -> None:
    run = run_response(rest("run_full")).run
    assert run.status == res.RUN_STATUS_REQUIRES_ACTION
    assert run.required_action.type == res.REQUIRED_ACTION_TYPE_SUBMIT_TOOL_OUTPUTS
    first, second = run.required_action.submit_tool_outputs.tool_calls
    assert (first.id, first.type, first.function.name) == (
        "call_weather",
        res.TOOL_TYPE_FUNCTION,
        "get_weather",
    )
    assert first.function.arguments == '{"location": "Paris", "days": 3}'
    assert not first.function.HasField("output")
    assert second.function == res.FunctionCall(name="get_time", arguments="{}")
    assert run.last_error == res.LastError(
        code=res.LAST_ERROR_CODE_RATE_LIMIT_EXCEEDED, message="Rate limit reached for requests."
    )
    timestamps = (run.created_at, run.expires_at, run.started_at, run.cancelled_at, run.failed_at)
    assert timestamps == (1699063290, 4102444800, 1699063291, 1699063292, 1699063293)
    assert run.completed_at == 1699063294
    assert (run.model, run.instructions) == ("gpt-4-turbo-preview", "You tell the weather.")
    assert [tool.type for tool in run.tools] == [
        res.TOOL_TYPE_CODE_INTERPRETER,
        res.TOOL_TYPE_RETRIEVAL,
        res.TOOL_TYPE_FUNCTION,
        res.TOOL_TYPE_FUNCTION,
    ]
    assert not run.tools[0].HasField("function")
    assert not run.tools[1].HasField("function")
    function = run.tools[2].function
    assert (function.name, function.description) == ("get_weather", "Determine the weather at a location.")
    days = function.parameters["properties"]["days"]
    assert (days["minimum"], days["maximum"], days["default"]) == (1, 10, 3)
    assert function.parameters["properties"]["options"]["properties"]["detailed"]["default"] is False
    assert function.parameters["properties"]["note"]["default"] is None
    assert list(function.parameters["properties"]["hours"]["default"]) == [6, 12, 18]
    no_parameters = run.tools[3].function
    assert not no_parameters.HasField("description")
    assert not no_parameters.HasField("parameters")
    assert list(run.file_ids) == ["file-abc123", "file-def456"]
    assert dict(run.metadata) == {"user_id": "user_abc123", "empty": ""}
    assert run.usage == res.Usage(prompt_tokens=123, completion_tokens=456, total_tokens=579)


def test_tool_calls_step_values() -> None:
    step = step_response(rest("run_step_tool_calls")).run_step
    assert (step.type, step.status) == (res.RUN_STEP_TYPE_TOOL_CALLS, res.RUN_STEP_STATUS_COMPLETED)
    assert step.step_details.type == res.RUN_STEP_TYPE_TOOL_CALLS
    assert not step.step_details.HasField("message_creation")
    code, retrieval, with_output, without_output = step.step_details.tool_calls

    assert (code.id, code.type, code.WhichOneof("call")) == (
        "call_code",
        res.TOOL_TYPE_CODE_INTERPRETER,
        "code_interpreter",
    )
    assert code.code_interpreter.input == "import matplotlib.pyplot as plt\nprint(2 + 2)"
    logs, image = code.code_interpreter.outputs
    assert (logs.type, logs.WhichOneof("output"), logs.logs) == (
        res.CODE_INTERPRETER_OUTPUT_TYPE_LOGS,
        "logs",
        "4\n",
    )
    assert (image.type, image.WhichOneof("output")) == (res.CODE_INTERPRETER_OUTPUT_TYPE_IMAGE, "image")
    assert image.image.file_id == "file-img123"

    # `retrieval: {}` is a present, empty payload: the oneof says which call this is.
    assert (retrieval.type, retrieval.WhichOneof("call")) == (res.TOOL_TYPE_RETRIEVAL, "retrieval")
    assert len(retrieval.retrieval.fields) == 0

    assert with_output.WhichOneof("call") == "function"
    assert with_output.function.HasField("output")
    assert with_output.function.output == '{"temperature": 22}'
    assert without_output.function == res.FunctionCall(name="get_time", arguments="{}")
    assert not without_output.function.HasField("output")

    assert step.last_error.code == res.LAST_ERROR_CODE_RATE_LIMIT_EXCEEDED
    assert (step.expired_at, step.cancelled_at, step.failed_at, step.completed_at) == (
        4102444801,
        1699063296,
        1699063297,
        1699063298,
    )
    assert step.usage.total_tokens == 3000
    assert dict(step.metadata) == {}


def test_message_creation_step_values() -> None:
    step = step_response(rest("run_step_message_creation")).run_step
    assert (step.type, step.status) == (res.RUN_STEP_TYPE_MESSAGE_CREATION, res.RUN_STEP_STATUS_FAILED)
    assert step.step_details == res.StepDetails(
        type=res.RUN_STEP_TYPE_MESSAGE_CREATION, message_creation=res.MessageCreation(message_id="msg_abc123")
    )
    assert step.last_error.code == res.LAST_ERROR_CODE_SERVER_ERROR
    assert (step.run_id, step.thread_id, step.assistant_id) == ("run_full", "thread_abc123", "asst_abc123")
    assert dict(step.metadata) == {"trace": "t-1"}


def test_list_page_converts_every_item_and_drops_the_list_object_type() -> None:
    page = {
        "object": "list",
        "data": [rest("run_full"), {**rest("run_full"), "id": "run_2", "status": "completed"}],
        "first_id": "run_full",
        "last_id": "run_2",
        "has_more": True,
    }
    message = to_message(copy.deepcopy(page), pb.ListRunsPageResponse)
    del page["object"]  # the page message has no `object` field (it is always "list")
    assert_mirrors(page, message)
    assert [run.status for run in message.data] == [res.RUN_STATUS_REQUIRES_ACTION, res.RUN_STATUS_COMPLETED]


def test_empty_list_page_with_null_cursors() -> None:
    page = {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}
    assert to_message(page, pb.ListRunStepsPageResponse) == pb.ListRunStepsPageResponse()


# --- Nulls ---------------------------------------------------------------------------------------------

RUN_NULLABLE = (
    *("required_action", "last_error", "usage", "instructions", "tools", "file_ids", "metadata"),
    *("expires_at", "started_at", "cancelled_at", "failed_at", "completed_at"),
)
STEP_NULLABLE = ("last_error", "usage", "metadata", "expired_at", "cancelled_at", "failed_at", "completed_at")
NULLABLE = [
    *(pytest.param("run_full", ("run", name), id=f"run.{name}") for name in RUN_NULLABLE),
    pytest.param("run_full", ("run", "tools", 2, "function", "description"), id="function.description"),
    pytest.param("run_full", ("run", "tools", 2, "function", "parameters"), id="function.parameters"),
    *(pytest.param("run_step_tool_calls", ("run_step", name), id=f"step.{name}") for name in STEP_NULLABLE),
    pytest.param(
        "run_step_tool_calls",
        ("run_step", "step_details", "tool_calls", 2, "function", "output"),
        id="tool_call.function.output",
    ),
]


def parse(data: JSON) -> Message:
    """`{"run": ...}` or `{"run_step": ...}` as its Get response, leaving `data` untouched."""
    response = pb.GetRunResponse if "run" in data else pb.GetRunStepResponse
    return to_message(copy.deepcopy(data), response)


@pytest.mark.parametrize(("fixture", "path"), NULLABLE)
def test_null_leaves_the_field_absent_and_the_rest_intact(fixture: str, path: tuple[Key, ...]) -> None:
    key = "run" if fixture == "run_full" else "run_step"
    data = {key: rest(fixture)}
    expected = parse(data)
    at(data, path[:-1])[path[-1]] = None
    got = parse(data)

    parent = at(got, path[:-1])
    field = parent.DESCRIPTOR.fields_by_name[path[-1]]
    if field.is_repeated:
        assert len(getattr(parent, path[-1])) == 0
    else:
        assert field.has_presence
        assert not parent.HasField(path[-1])
    at(expected, path[:-1]).ClearField(path[-1])
    if twin_of(parent.DESCRIPTOR, path[-1] + "_json"):
        at(expected, path[:-1]).ClearField(path[-1] + "_json")  # its JSON text is absent with it
    assert got == expected


def assert_absent(message: Message, names: tuple[str, ...]) -> None:
    for name in names:
        field = message.DESCRIPTOR.fields_by_name[name]
        if field.is_repeated:
            assert len(getattr(message, name)) == 0, name
        else:
            assert not message.HasField(name), name


def test_every_nullable_field_null_at_once() -> None:
    run = run_response({**rest("run_full"), **dict.fromkeys(RUN_NULLABLE)}).run
    assert_absent(run, RUN_NULLABLE)
    assert (run.id, run.status, run.created_at, run.model) == (
        "run_full",
        res.RUN_STATUS_REQUIRES_ACTION,
        1699063290,
        "gpt-4-turbo-preview",
    )
    step = step_response({**rest("run_step_message_creation"), **dict.fromkeys(STEP_NULLABLE)}).run_step
    assert_absent(step, STEP_NULLABLE)
    assert step.step_details.message_creation.message_id == "msg_abc123"


@pytest.mark.parametrize(
    ("name", "value"),
    [("started_at", 0), ("expires_at", 0), ("cancelled_at", 0), ("instructions", "")],
)
def test_zero_values_are_present_not_null(name: str, value: object) -> None:
    run = run_response({**rest("run_full"), name: value}).run
    assert run.HasField(name)
    assert getattr(run, name) == value


def test_empty_function_output_is_present() -> None:
    step = rest("run_step_tool_calls")
    step["step_details"]["tool_calls"][3]["function"]["output"] = ""
    function = step_response(step).run_step.step_details.tool_calls[3].function
    assert function.HasField("output")
    assert function.output == ""


# --- Unknown upstream fields and enum values -------------------------------------------------------------

UNKNOWN_FIELDS = [
    pytest.param("run_full", ("run",), "incomplete_details", {"reason": "max_tokens"}, id="run-object"),
    pytest.param("run_full", ("run",), "temperature", 0.7, id="run-number"),
    pytest.param("run_full", ("run",), "tool_choice", "auto", id="run-string"),
    pytest.param("run_full", ("run",), "parallel_tool_calls", True, id="run-bool"),
    pytest.param("run_full", ("run",), "truncation_strategy", None, id="run-null"),
    pytest.param("run_full", ("run", "tools", 2, "function"), "strict", True, id="function-definition"),
    pytest.param("run_full", ("run", "usage"), "prompt_token_details", {"cached_tokens": 3}, id="usage"),
    pytest.param("run_full", ("run", "last_error"), "param", None, id="last-error"),
    pytest.param(
        "run_full",
        ("run", "required_action", "submit_tool_outputs", "tool_calls", 0),
        "index",
        0,
        id="required-tool-call",
    ),
    pytest.param("run_step_tool_calls", ("run_step",), "incomplete_details", {"x": [1]}, id="step"),
    pytest.param(
        "run_step_tool_calls",
        ("run_step", "step_details", "tool_calls", 0, "code_interpreter", "outputs", 1, "image"),
        "detail",
        "high",
        id="code-image",
    ),
    pytest.param(
        "run_step_tool_calls", ("run_step", "step_details", "tool_calls", 1), "index", 1, id="tool-call"
    ),
]


@pytest.mark.parametrize(("fixture", "path", "name", "value"), UNKNOWN_FIELDS)
def test_unknown_fields_are_ignored(fixture: str, path: tuple[Key, ...], name: str, value: object) -> None:
    key = path[0]
    data = {key: rest(fixture)}
    expected = parse(data)
    at(data, path)[name] = value
    assert parse(data) == expected


UNKNOWN_ENUMS = [
    pytest.param("run_full", ("run", "status"), "incomplete", id="run-status"),
    pytest.param("run_full", ("run", "required_action", "type"), "submit_approvals", id="required-action"),
    pytest.param(
        "run_full",
        ("run", "required_action", "submit_tool_outputs", "tool_calls", 0, "type"),
        "mcp",
        id="required-tool-call",
    ),
    pytest.param("run_full", ("run", "last_error", "code"), "invalid_prompt", id="run-last-error"),
    pytest.param("run_full", ("run", "tools", 0, "type"), "file_search", id="tool"),
    pytest.param("run_step_tool_calls", ("run_step", "type"), "web_search", id="step-type"),
    pytest.param("run_step_tool_calls", ("run_step", "status"), "incomplete", id="step-status"),
    pytest.param("run_step_tool_calls", ("run_step", "step_details", "type"), "reasoning", id="details-type"),
    pytest.param(
        "run_step_tool_calls",
        ("run_step", "step_details", "tool_calls", 1, "type"),
        "file_search",
        id="tool-call",
    ),
    pytest.param(
        "run_step_tool_calls",
        ("run_step", "step_details", "tool_calls", 0, "code_interpreter", "outputs", 0, "type"),
        "chart",
        id="code-output",
    ),
    pytest.param(
        "run_step_tool_calls", ("run_step", "last_error", "code"), "invalid_prompt", id="step-error"
    ),
    pytest.param("run_step_tool_calls", ("run_step", "status"), "IN_PROGRESS", id="proto-name-is-not-rest"),
    pytest.param("run_step_tool_calls", ("run_step", "status"), "", id="empty-string"),
]


@pytest.mark.parametrize(("fixture", "path", "value"), UNKNOWN_ENUMS)
def test_unknown_enum_value_becomes_unspecified(fixture: str, path: tuple[Key, ...], value: str) -> None:
    data = {path[0]: rest(fixture)}
    expected = parse(data)
    at(data, path[:-1])[path[-1]] = value
    got = parse(data)
    assert getattr(at(got, path[:-1]), path[-1]) == 0
    setattr(at(expected, path[:-1]), path[-1], 0)
    assert got == expected


def test_v2_tools_and_tool_calls_keep_the_rest_of_the_object() -> None:
    run = rest("run_full")
    run["status"] = "incomplete"
    run["tools"] = [
        {"type": "file_search", "file_search": {"max_num_results": 20}},
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}, "strict": True}},
    ]
    converted = run_response(run).run
    assert converted.status == res.RUN_STATUS_UNSPECIFIED
    assert list(converted.tools) == [
        res.Tool(),
        res.Tool(
            type=res.TOOL_TYPE_FUNCTION,
            function=res.FunctionDefinition(
                name="f", parameters={"type": "object"}, parameters_json='{"type":"object"}'
            ),
        ),
    ]
    assert converted.id == "run_full"
    assert converted.usage.total_tokens == 579

    step = rest("run_step_tool_calls")
    step["step_details"]["tool_calls"].insert(
        0, {"id": "call_fs", "type": "file_search", "file_search": {"ranking_options": {}, "results": []}}
    )
    calls = step_response(step).run_step.step_details.tool_calls
    assert len(calls) == 5
    assert calls[0] == res.ToolCall(id="call_fs")
    assert calls[0].WhichOneof("call") is None
    assert calls[1].code_interpreter.outputs[1].image.file_id == "file-img123"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        pytest.param(("created_at",), "yesterday", id="string-for-integer"),
        pytest.param(("created_at",), 1.5, id="fraction-for-integer"),
        pytest.param(("created_at",), 2**63, id="integer-out-of-range"),
        pytest.param(("instructions",), 5, id="number-for-string"),
        pytest.param(("tools",), {"type": "function"}, id="object-for-list"),
        pytest.param(("tools",), [1], id="number-for-object-item"),
        pytest.param(("file_ids",), [None], id="null-list-item"),
        pytest.param(("usage",), 5, id="number-for-object"),
        pytest.param(("status",), ["queued"], id="list-for-enum"),
        pytest.param(("tools", 2, "function", "parameters"), "{}", id="string-for-struct"),
        pytest.param(
            ("last_error",),
            "boom",
            id="string-for-object",
        ),
        pytest.param(
            ("status",),
            99,
            id="number-for-enum",
        ),
    ],
)
def test_value_of_the_wrong_json_type_is_a_conversion_error(path: tuple[Key, ...], value: object) -> None:
    run = rest("run_full")
    at(run, path[:-1])[path[-1]] = value
    with pytest.raises(ConversionError):
        run_response(run)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("created_at",), "yesterday", "run.created_at: expected an integer, got a JSON string"),
        (("instructions",), 5, "run.instructions: expected a string, got a JSON number"),
        (("file_ids",), ["file_1", 7], "run.file_ids[1]: expected a string, got a JSON number"),
        (("usage", "total_tokens"), True, "run.usage.total_tokens: expected an integer, got a JSON boolean"),
        (
            ("tools", 2, "function", "name"),
            [],
            "run.tools[2].function.name: expected a string, got a JSON array",
        ),
        (("tools", 2, "function"), "f", "run.tools[2].function: expected an object, got a JSON string"),
        (("tools", 1), 3, "run.tools[1]: expected an object, got a JSON number"),
        (
            ("required_action", "submit_tool_outputs", "tool_calls", 0, "type"),
            1,
            "run.required_action"
            ".submit_tool_outputs.tool_calls[0].type: expected a string, got a JSON number",
        ),
        (("metadata",), ["a"], "run.metadata: expected an object, got a JSON array"),
    ],
)
def test_a_conversion_error_names_the_path_of_the_field(
    path: tuple[Key, ...], value: object, message: str
) -> None:
    run = rest("run_full")
    at(run, path[:-1])[path[-1]] = value
    with pytest.raises(ConversionError) as raised:
        run_response(run)
    assert str(raised.value) == message


def test_a_conversion_error_in_a_page_names_the_item() -> None:
    page = {"data": [rest("run_full"), {**rest("run_full"), "expires_at": "soon"}], "has_more": False}
    with pytest.raises(
        ConversionError, match=r"^data\[1\]\.expires_at: expected an integer, got a JSON string$"
    ):
        to_message(page, pb.ListRunsPageResponse)


@pytest.mark.parametrize(
    ("value", "arrives"),
    [
        ("plain", "plain"),
        ("", ""),
        (42, "42"),
        (-1.5, "-1.5"),
        (1.0, "1.0"),
        (2**64 + 1, "18446744073709551617"),
        (True, "true"),
        (None, "null"),
        ({"b": 1, "a": [1, "x"]}, '{"b":1,"a":[1,"x"]}'),
        (["é"], '["é"]'),
    ],
)
def test_metadata_values_of_any_json_type_arrive_as_json_text(value: object, arrives: str) -> None:
    # The v1 description types `metadata` as a free-form object: whatever it holds must not fail the call.
    for fixture, convert in (("run_full", run_response), ("run_step_tool_calls", step_response)):
        data = rest(fixture)
        data["metadata"] = {"user": "u_1", "value": value}
        message = convert(data)
        converted = message.run if isinstance(message, pb.GetRunResponse) else message.run_step
        assert dict(converted.metadata) == {"user": "u_1", "value": arrives}


def test_parameters_arrive_as_a_struct_and_as_the_upstream_json_text() -> None:
    run = rest("run_full")
    schema = {"type": "object", "z": 1, "a": 1.0, "big": 2**60 + 1, "u": "é"}
    run["tools"][2]["function"]["parameters"] = schema
    function = run_response(run).run.tools[2].function
    assert function.parameters_json == '{"type":"object","z":1,"a":1.0,"big":1152921504606846977,"u":"é"}'
    assert json_format.MessageToDict(function.parameters)["type"] == "object"
    assert float(function.parameters["big"]) == float(2**60 + 1)  # the Struct holds a double: precision lost


# --- Enum names --------------------------------------------------------------------------------------

ALL_ENUMS = [*res.DESCRIPTOR.enum_types_by_name.values(), *pb.DESCRIPTOR.enum_types_by_name.values()]


@pytest.mark.parametrize(
    ("enum", "number", "expected"),
    [
        (pb.ListOrder.DESCRIPTOR, pb.LIST_ORDER_ASC, "asc"),
        (pb.ListOrder.DESCRIPTOR, pb.LIST_ORDER_DESC, "desc"),
        (res.RunStatus.DESCRIPTOR, res.RUN_STATUS_REQUIRES_ACTION, "requires_action"),
        (res.RunStepStatus.DESCRIPTOR, res.RUN_STEP_STATUS_IN_PROGRESS, "in_progress"),
        (res.RunStepType.DESCRIPTOR, res.RUN_STEP_TYPE_TOOL_CALLS, "tool_calls"),
        (res.ToolType.DESCRIPTOR, res.TOOL_TYPE_CODE_INTERPRETER, "code_interpreter"),
        (res.CodeInterpreterOutputType.DESCRIPTOR, res.CODE_INTERPRETER_OUTPUT_TYPE_IMAGE, "image"),
        (res.LastErrorCode.DESCRIPTOR, res.LAST_ERROR_CODE_RATE_LIMIT_EXCEEDED, "rate_limit_exceeded"),
        (
            res.RequiredActionType.DESCRIPTOR,
            res.REQUIRED_ACTION_TYPE_SUBMIT_TOOL_OUTPUTS,
            "submit_tool_outputs",
        ),
    ],
)
def test_enum_to_rest(enum: Any, number: int, expected: str) -> None:
    assert enum_to_rest(enum, number) == expected


@pytest.mark.parametrize("enum", ALL_ENUMS, ids=lambda enum: enum.name)
def test_every_enum_value_maps_to_its_rest_name_by_the_unspecified_prefix(enum: Any) -> None:
    assert enum.values_by_number[0].name.endswith("_UNSPECIFIED")
    for value in enum.values:
        if value.number:
            rest_name = enum_to_rest(enum, value.number)
            assert proto_enum_name(enum, rest_name) == value.name


# --- Requests → REST bodies ------------------------------------------------------------------------------


def create_body(request: pb.CreateRunRequest) -> JSON:
    """The body the gateway sends for `request`, as the upstream decodes it."""
    body: JSON = json.loads(create_text(request))
    return body


def create_text(request: pb.CreateRunRequest) -> str:
    """The JSON text the gateway sends for `request`, exactly."""
    route = ROUTES["CreateRun"]
    return encode(to_rest(request, route.body, route.always)).decode()


def function_tool(parameters: JSON | None = None, **fields: Any) -> res.Tool:
    function = res.FunctionDefinition(name="get_weather", **fields)
    if parameters is not None:
        function.parameters.SetInParent()  # present even when empty: `"parameters": {}`
        function.parameters.update(parameters)
    return res.Tool(type=res.TOOL_TYPE_FUNCTION, function=function)


WEATHER_PARAMETERS: JSON = {
    "type": "object",
    "properties": {
        "days": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3},
        "threshold": {"type": "number", "multipleOf": 0.5, "default": 2.5},
        "hours": {"type": "array", "items": {"type": "integer"}, "default": [6, 12, 18], "maxItems": 24},
        "options": {"type": "object", "properties": {"detailed": {"type": "boolean", "default": False}}},
        "note": {"type": ["string", "null"], "default": None},
    },
    "required": ["days"],
    "additionalProperties": False,
}


def test_create_run_body_keeps_integers_in_the_parameters_schema() -> None:
    request = pb.CreateRunRequest(
        thread_id="thread_abc123",
        assistant_id="asst_abc123",
        tools=[function_tool(WEATHER_PARAMETERS, description="Weather.")],
    )
    body = create_body(request)
    parameters = body["tools"][0]["function"]["parameters"]
    days = parameters["properties"]["days"]
    assert (type(days["minimum"]), type(days["maximum"]), type(days["default"])) == (int, int, int)
    assert [type(hour) for hour in parameters["properties"]["hours"]["default"]] == [int, int, int]
    assert type(parameters["properties"]["hours"]["maxItems"]) is int
    threshold = parameters["properties"]["threshold"]
    assert (type(threshold["multipleOf"]), type(threshold["default"])) == (float, float)
    assert parameters["properties"]["options"]["properties"]["detailed"]["default"] is False
    assert parameters["properties"]["note"]["default"] is None
    expected = {
        "assistant_id": "asst_abc123",
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather.",
                    "parameters": WEATHER_PARAMETERS,
                },
            }
        ],
    }
    # The text comparison is exact about types: 3 and 3.0 are the same dict value but not the same JSON.
    text = json.dumps(body, sort_keys=True)
    assert text == json.dumps(expected, sort_keys=True)
    assert '"days": {"default": 3, "maximum": 10, "minimum": 1, "type": "integer"}' in text
    assert '"threshold": {"default": 2.5, "multipleOf": 0.5, "type": "number"}' in text


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        (
            {"type": "integer", "minimum": 1, "maximum": 10},
            '{"maximum": 10, "minimum": 1, "type": "integer"}',
        ),
        ({"default": 3}, '{"default": 3}'),
        ({"default": 0}, '{"default": 0}'),
        ({"minimum": -7}, '{"minimum": -7}'),
        ({"multipleOf": 0.5}, '{"multipleOf": 0.5}'),
        ({"minimum": -0.25}, '{"minimum": -0.25}'),
        ({"enum": [1, 2, 3]}, '{"enum": [1, 2, 3]}'),
        ({"a": {"b": [[0, 1.5], {"c": 2}]}}, '{"a": {"b": [[0, 1.5], {"c": 2}]}}'),
        ({"flags": [True, False, None, "1"]}, '{"flags": [true, false, null, "1"]}'),
        ({"maximum": 2**53}, '{"maximum": 9007199254740992}'),
        # JSON Schema does not tell 2 from 2.0 and a Struct cannot: an integral float goes up as an integer.
        ({"multipleOf": 2.0}, '{"multipleOf": 2}'),
        ({}, "{}"),
    ],
)
def test_parameters_numbers_are_sent_as_json_integers_when_integral(parameters: JSON, expected: str) -> None:
    body = create_body(pb.CreateRunRequest(assistant_id="asst_1", tools=[function_tool(parameters)]))
    assert json.dumps(body["tools"][0]["function"]["parameters"], sort_keys=True) == expected


def test_parameters_json_reaches_the_upstream_exactly_as_written() -> None:
    written = (
        '{"type": "object",\n "properties": {"z": {"type": "integer", "maximum": 18446744073709551617},\n'
        ' "a": {"type": "number", "multipleOf": 1.0, "description": "caf\u00e9 \\u00e9"}}, "required": ["z"]}'
    )
    function = res.FunctionDefinition(name="get_weather", parameters_json=written)
    text = create_text(
        pb.CreateRunRequest(
            assistant_id="asst_1", tools=[res.Tool(type=res.TOOL_TYPE_FUNCTION, function=function)]
        )
    )
    assert (
        text == '{"assistant_id":"asst_1","tools":[{"type":"function","function":{"name":"get_weather",'
        f'"parameters":{written}}}}}]}}'
    )


def test_struct_parameters_are_sent_with_sorted_keys() -> None:
    # A Struct has no key order (each process iterates it differently): sorted, the body is deterministic.
    parameters = {"zeta": 1, "alpha": {"y": 2, "b": [{"k": 1, "c": 2}]}, "mid": "x"}
    text = create_text(pb.CreateRunRequest(assistant_id="asst_1", tools=[function_tool(parameters)]))
    assert '"parameters":{"alpha":{"b":[{"c":2,"k":1}],"y":2},"mid":"x","zeta":1}' in text


def test_create_run_body_round_trips_a_rest_body() -> None:
    original = {
        "assistant_id": "asst_abc123",
        "model": "gpt-4",
        "instructions": "",
        "additional_instructions": "Answer in French.",
        "tools": [
            {"type": "code_interpreter"},
            {"type": "retrieval"},
            {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_PARAMETERS}},
        ],
        "metadata": {"user_id": "user_abc123"},
    }
    request = to_message(copy.deepcopy(original), pb.CreateRunRequest)
    assert json.dumps(create_body(request), sort_keys=True) == json.dumps(original, sort_keys=True)


@pytest.mark.parametrize(
    ("tool", "expected"),
    [
        (res.Tool(type=res.TOOL_TYPE_CODE_INTERPRETER), {"type": "code_interpreter"}),
        (res.Tool(type=res.TOOL_TYPE_RETRIEVAL), {"type": "retrieval"}),
        (function_tool(), {"type": "function", "function": {"name": "get_weather"}}),
        (
            function_tool(description=""),
            {"type": "function", "function": {"name": "get_weather", "description": ""}},
        ),
        (function_tool({}), {"type": "function", "function": {"name": "get_weather", "parameters": {}}}),
    ],
)
def test_tool_bodies(tool: res.Tool, expected: JSON) -> None:
    body = create_body(pb.CreateRunRequest(assistant_id="asst_1", tools=[tool]))
    assert body == {"assistant_id": "asst_1", "tools": [expected]}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, {}),
        ({"model": "gpt-4"}, {"model": "gpt-4"}),
        ({"model": ""}, {"model": ""}),
        ({"instructions": "Be brief."}, {"instructions": "Be brief."}),
        ({"instructions": ""}, {"instructions": ""}),
        ({"additional_instructions": "More."}, {"additional_instructions": "More."}),
        ({"metadata": {}}, {}),
        ({"metadata": {"k": "v", "e": ""}}, {"metadata": {"k": "v", "e": ""}}),
        ({"tools": []}, {}),
    ],
)
def test_create_run_sends_optional_fields_only_when_set(fields: JSON, expected: JSON) -> None:
    request = pb.CreateRunRequest(thread_id="thread_1", assistant_id="asst_1", **fields)
    assert create_body(request) == {"assistant_id": "asst_1", **expected}


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [({}, {"metadata": {}}), ({"user_id": "u1"}, {"metadata": {"user_id": "u1"}})],
)
def test_modify_run_always_sends_metadata(metadata: dict[str, str], expected: JSON) -> None:
    route = ROUTES["ModifyRun"]
    request = pb.ModifyRunRequest(thread_id="thread_1", run_id="run_1", metadata=metadata)
    assert to_rest(request, route.body, route.always) == expected


def test_submit_tool_outputs_body() -> None:
    route = ROUTES["SubmitToolOutputs"]
    request = pb.SubmitToolOutputsRequest(
        thread_id="thread_1",
        run_id="run_1",
        tool_outputs=[
            pb.ToolOutput(tool_call_id="call_weather", output='{"temperature": 22}'),
            pb.ToolOutput(tool_call_id="call_time", output=""),
        ],
    )
    body = to_rest(request, route.body, route.always)
    assert json.dumps(body) == (
        '{"tool_outputs": [{"tool_call_id": "call_weather", "output": "{\\"temperature\\": 22}"}, '
        '{"tool_call_id": "call_time", "output": ""}]}'
    )


def request_messages() -> dict[str, Any]:
    """Every message reachable from a request type of either version's RunsService, by full name (Struct
    internals excluded)."""
    found: dict[str, Any] = {}
    pending = [method.input_type for service in (SERVICE, SERVICE_V2) for method in service.methods]
    while pending:
        descriptor = pending.pop()
        if descriptor.full_name in found or descriptor.full_name.startswith("google.protobuf."):
            continue
        found[descriptor.full_name] = descriptor
        pending.extend(descriptor.nested_types)
        pending.extend(f.message_type for f in descriptor.fields if f.message_type is not None)
    return found


def test_request_doubles_are_the_api_fractions_and_are_sent_as_written() -> None:
    # convert.to_rest sends an integral float inside a Struct as a JSON integer (the Struct's doubles stand
    # for JSON numbers), never a double field's value: temperature 1.0 goes up as 1.0.
    messages = request_messages()
    package = "runs_gateway.assistants.v1."
    assert {
        package + name for name in ("CreateRunRequest", "Tool", "FunctionDefinition", "ToolOutput")
    } <= set(messages)
    assert any(name.endswith("MetadataEntry") for name in messages)
    floating = (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE)
    doubles = {
        field.full_name
        for descriptor in messages.values()
        for field in descriptor.fields
        if field.type in floating
    }
    v2 = "runs_gateway.assistants.v2."
    assert doubles == {
        *(
            v2 + f"{request}.{name}"
            for request in ("CreateRunRequest", "CreateRunStreamRequest")
            for name in ("temperature", "top_p")
        ),
        v2 + "FileSearchRankingOptions.score_threshold",
    }
    request = pb_v2.CreateRunRequest(thread_id="t", assistant_id="a", temperature=1.0, top_p=0.5)
    assert encode(to_rest(request, ("assistant_id", "temperature", "top_p"))) == (
        b'{"assistant_id":"a","temperature":1.0,"top_p":0.5}'
    )


def test_an_empty_list_or_map_is_left_out_at_every_depth_as_the_sdk_sends_it() -> None:
    from runs_gateway.assistants.v2 import resources_pb2 as res_v2

    from gateway.routes import ROUTES_V2

    route = ROUTES_V2["CreateRun"]
    text = pb_v2.InputContent(type=res_v2.MESSAGE_CONTENT_TYPE_TEXT, text="hi")
    request = pb_v2.CreateRunRequest(
        thread_id="thread_1",
        assistant_id="asst_1",
        additional_messages=[
            pb_v2.AdditionalMessage(role=res_v2.MESSAGE_ROLE_USER, content=[text]),
            pb_v2.AdditionalMessage(
                role=res_v2.MESSAGE_ROLE_USER,
                content=[text],
                attachments=[res_v2.Attachment(file_id="file_1")],
                metadata={"k": "v"},
            ),
        ],
    )
    bare, full = to_rest(request, route.body, route.always)["additional_messages"]
    assert bare == {"role": "user", "content": [{"type": "text", "text": "hi"}]}
    assert full["attachments"] == [{"file_id": "file_1", "tools": []}]  # the API requires `tools`
    assert full["metadata"] == {"k": "v"}
    modify = ROUTES["ModifyRun"]
    assert to_rest(pb.ModifyRunRequest(thread_id="t", run_id="r"), modify.body, modify.always) == {
        "metadata": {}
    }  # required at the top, where `always` says so: an empty map clears the run's metadata


FREE_FORM = ("metadata", "parameters")


def floated(value: Any) -> Any:
    """`value` with every integer written as an integral float (`1796603244.0`), at every depth, as
    MLT-OSS/open-assistant-api writes its timestamps."""
    if isinstance(value, dict):  # free-form JSON arrives as written: a 3 as "3", a 3.0 as "3.0"
        return {key: item if key in FREE_FORM else floated(item) for key, item in value.items()}
    if isinstance(value, list):
        return [floated(item) for item in value]
    return float(value) if type(value) is int else value


@pytest.mark.parametrize(
    ("fixture", "response"),
    [
        ("run_full", pb.GetRunResponse),
        ("run_full", pb_v2.GetRunResponse),
        ("run_step_tool_calls", pb.GetRunStepResponse),
        ("run_step_tool_calls", pb_v2.GetRunStepResponse),
    ],
)
def test_an_integral_number_is_an_integer_at_every_depth_in_every_version(
    fixture: str, response: type[Message]
) -> None:
    original = rest(fixture)
    if response is pb_v2.GetRunResponse:  # and v2's own integers
        original |= {"max_prompt_tokens": 1000, "max_completion_tokens": 500}
        original["truncation_strategy"] = {"type": "last_messages", "last_messages": 3}
    field = response.DESCRIPTOR.fields[0].name
    as_ints = to_message({field: copy.deepcopy(original)}, response)
    as_floats = to_message({field: floated(original)}, response)
    assert as_floats == as_ints
    assert json.dumps(original) != json.dumps(floated(original))  # the fixture has integers to float


def test_an_integral_number_is_an_integer_in_a_page() -> None:
    page = {"data": [floated(rest("run_full"))], "has_more": False}
    listed = to_message(page, pb.ListRunsPageResponse)
    assert listed.data[0].created_at == rest("run_full")["created_at"]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("created_at",), 1796603244.5, "run.created_at: expected an integer, got 1796603244.5"),
        (("usage", "prompt_tokens"), 0.25, "run.usage.prompt_tokens: expected an integer, got 0.25"),
        (("usage", "prompt_tokens"), 2**70, "run.usage.prompt_tokens: expected an integer that fits"),
        (("instructions",), 1.5, "run.instructions: expected a string, got a JSON number"),
    ],
)
def test_a_number_that_is_no_integer_is_refused_with_its_path_and_value(
    path: tuple[Key, ...], value: object, message: str
) -> None:
    run = rest("run_full")
    at(run, path[:-1])[path[-1]] = value
    with pytest.raises(ConversionError) as raised:
        run_response(run)
    assert str(raised.value).startswith(message)


@pytest.mark.parametrize(
    "text",
    [
        '{"b": 1, "a": [1.0, 1e+16, -0.0, 2.5e-300, "é\\u00e9"], "n": null, "t": true}',
        '{"big": 123456789012345678901234567890, "neg": -18446744073709551617}',
        '{"x": NaN, "y": Infinity, "z": -Infinity}',
        '{"lone": "\\ud800"}',
        '{"k": 1, "k": 2}',
        "[]",
        '"text"',
    ],
)
def test_loads_gives_what_the_standard_library_gives(text: str) -> None:
    for form in (text, text.encode(), bytearray(text.encode())):
        expected, got = json.loads(form), loads(form)
        assert repr(got) == repr(expected)  # repr: NaN equals nothing, and 1.0 is not 1
        assert [type(value) for value in _leaves(got)] == [type(value) for value in _leaves(expected)]


@pytest.mark.parametrize("text", ["", "{", '{"a": }', b"\xff\xfe{}", "[1,]"])
def test_loads_refuses_what_the_standard_library_refuses_with_its_error(text: str | bytes) -> None:
    def refusal(read: Callable[[str | bytes], object]) -> tuple[type[Exception], str] | None:
        try:
            read(text)
        except ValueError as exc:
            return type(exc), str(exc)
        return None

    assert refusal(json.loads) is not None
    assert refusal(loads) == refusal(json.loads)


def _leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def _random_json(rnd: random.Random, depth: int = 0) -> Any:
    """A JSON value of every kind that json.loads gives: strings of any character (control characters,
    quotes, non-ASCII, "null" and exponent look-alikes), floats of every magnitude with NaN and Infinity,
    integers beyond 64 bits, and nested arrays and objects."""
    pieces = [chr(c) for c in range(0x80)] + ["é", "€", "\u2028", "😀", "\ud800", "null", ":null", "1e5"]
    floats = [0.0, -0.0, 1.0, 0.1, 1e16, 1e-7, 5e-324, 1.7976931348623157e308, math.nan, math.inf, -math.inf]
    integers = [0, -1, 2**63 - 1, 2**64, -(2**63), 2**70]
    kind = rnd.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return "".join(rnd.choice(pieces) for _ in range(rnd.randrange(8)))
    if kind == 1:
        return rnd.choice([*floats, rnd.uniform(-1e20, 1e20), rnd.random()])
    if kind == 2:
        return rnd.choice([*integers, rnd.randint(-(10**6), 10**6)])
    if kind in (3, 4):
        return rnd.choice([True, False, None])
    if kind == 5:
        return [_random_json(rnd, depth + 1) for _ in range(rnd.randrange(5))]
    return {_random_json(rnd, 3) if kind == 6 else "k": _random_json(rnd, depth + 1) for _ in range(4)}


def test_json_text_is_json_of_the_same_value_and_the_standard_librarys_text_where_json_is_strict() -> None:
    # 20,000 random values (seeded) whose strings and numbers include every case where orjson and the
    # standard library could differ: the text always reads back as the value (a NaN or an Infinity as null,
    # since JSON has neither), and it is the standard library's text unless it holds a float written with an
    # exponent or a number JSON has not.
    rnd = random.Random(20261207)
    for _ in range(20_000):
        value = _random_json(rnd)
        text = json_text(value)
        try:
            orjson.dumps(value)
        except orjson.JSONEncodeError:  # refused by orjson: the standard library's text, NaN as NaN
            assert text == json.dumps(value, ensure_ascii=False, separators=(",", ":")), repr(value)
            continue
        assert repr(json.loads(text)) == repr(_nulled(value)), repr(value)
        if not any(
            type(leaf) is float and ("e" in repr(leaf) or not math.isfinite(leaf)) for leaf in _leaves(value)
        ):
            assert text == json.dumps(value, ensure_ascii=False, separators=(",", ":")), repr(value)


def _nulled(value: Any) -> Any:
    """`value` with every NaN and Infinity made None, as JSON text writes them."""
    if isinstance(value, dict):
        return {key: _nulled(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_nulled(item) for item in value]
    return None if type(value) is float and not math.isfinite(value) else value


def test_the_same_parameters_schema_in_many_runs_converts_alike_and_stays_apart() -> None:
    # A Struct is built once for a JSON text and copied into each message: every run has its own copy,
    # equal to one built from scratch, and changing one changes no other.
    page = [rest("run_full") for _ in range(3)]
    runs = to_message({"runs": page}, pb.ListRunsResponse).runs
    fresh = json_format.ParseDict(rest("run_full"), res.Run(), ignore_unknown_fields=True)
    assert all(run.tools[2].function.parameters == fresh.tools[2].function.parameters for run in runs)
    runs[0].tools[2].function.parameters["type"] = "changed"
    again = to_message({"runs": [rest("run_full")]}, pb.ListRunsResponse).runs[0]
    assert runs[1].tools[2].function.parameters["type"] == "object"
    assert again.tools[2].function.parameters == fresh.tools[2].function.parameters


def test_the_struct_cache_is_bounded() -> None:
    schemas = [{"type": "object", "title": f"schema {n}"} for n in range(conversion._STRUCT_CACHE_SIZE + 10)]
    big = {"type": "object", "description": "x" * conversion._STRUCT_CACHE_TEXT}
    for schema in [*schemas, big]:
        run = rest("run_full")
        run["tools"][2]["function"]["parameters"] = schema
        assert to_message(run, res.Run).tools[2].function.parameters_json == json_text(schema)
    assert len(conversion._STRUCTS) <= conversion._STRUCT_CACHE_SIZE
    assert json_text(big) not in conversion._STRUCTS  # too large to keep
    assert json_text(schemas[-1]) in conversion._STRUCTS  # the newest kept, the oldest let go
    assert json_text(schemas[0]) not in conversion._STRUCTS


def test_an_integer_written_as_a_float_deep_in_a_page_takes_the_exact_pass() -> None:
    # The quick pass hands integers to protobuf as they are; one written `1796603244.0` is refused there and
    # converted by the exact pass, the rest of the page alike.
    page = [rest("run_full") for _ in range(3)]
    page[2]["usage"]["total_tokens"] = 30.0
    runs = to_message({"runs": page}, pb.ListRunsResponse).runs
    assert [run.usage.total_tokens for run in runs] == [page[0]["usage"]["total_tokens"]] * 2 + [30]


# A request body's text: the standard library's, faster ----------------------------------------------------

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)  # beyond 64 bits too: orjson refuses those
    | st.floats(allow_nan=False, allow_infinity=False)  # exponents as the standard library writes them
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",)))  # every code point a body can encode
)
_TREES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=500, deadline=None)
@given(_TREES)
def test_a_body_is_written_as_the_standard_library_writes_it(value: Any) -> None:
    standard = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    assert encode(value) == standard.encode()


def test_a_body_refuses_nan_as_the_standard_library_does() -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        encode({"temperature": math.nan})
