"""What only v2 agrees on with its OpenAPI description: a streamed run's events, full objects, request bodies.

The walk of every object, route and example of both versions is test_openapi.py's; this module adds, from the
same description (read by test_openapi_walk.py from ../shared/openapi/; skipped when absent):
- events: every event of `RunStreamEvent`, `RunStepStreamEvent` and `MessageStreamEvent` is in
  routes.EVENTS_V2 and carries its data in the field whose message mirrors the event's data schema; the other
  events of `AssistantStreamEvent` are not a run's (listed, with why); an event this version does not know
  reaches the client as JSON text, exactly as sent;
- full objects: a run, a step, a message and their deltas with every field set, each valid against the
  schema of its event's data, convert without loss, and so set every field of their messages; a REST field
  no schema has is ignored and an unknown enum value becomes *_UNSPECIFIED, at every depth;
- request bodies: fully populated CreateRun / CreateRunStream requests (and the other bodies) become JSON
  that is valid against the operation's request schema (`Spec.errors`, a check of the subset of OpenAPI
  these schemas use: no JSON Schema library is a dependency).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from runs_gateway.assistants.v2 import resources_pb2 as res
from runs_gateway.assistants.v2 import runs_service_pb2 as pb
from test_convert import at, reachable_fields, set_fields
from test_openapi_versions import AGREEMENTS
from test_openapi_walk import JSON, REF, STREAM, mirrors, oneofs, union_forms

from gateway import validate
from gateway.convert import encode, to_rest
from gateway.core import BINDINGS, Gateway, method_path
from gateway.routes import EVENTS_V2, UNKNOWN_EVENT_FIELD, V2

[A] = [agreement for agreement in AGREEMENTS if agreement.version.api is V2]
SPEC = A.spec
STREAMED = ("CreateRunStream", "SubmitToolOutputsStream")
RUN_EVENT_GROUPS = ("RunStreamEvent", "RunStepStreamEvent", "MessageStreamEvent")


def binding(rpc: str = "CreateRunStream") -> Any:
    return BINDINGS[method_path(V2, rpc)]


# --- Events -----------------------------------------------------------------------------------------------


def run_events() -> dict[str, str]:
    """Each event of a run's stream in the description → the schema of its data."""
    found = {}
    for group in RUN_EVENT_GROUPS:
        for variant in SPEC.schemas[group]["oneOf"]:
            [name] = variant["properties"]["event"]["enum"]
            found[name] = variant["properties"]["data"]["$ref"].rsplit("/", 1)[-1]
    return found


NOT_RUN_EVENTS = {
    "thread.created": "only POST /threads/runs (a thread created with its run) sends it, no runs route",
    "error": "the upstream layer ends the stream with the status of the error (gateway/upstream.py)",
    "done": "the upstream layer ends the stream OK",
}
"""Events of `AssistantStreamEvent` that are not in EVENTS_V2, and why."""


def test_every_event_of_a_run_is_in_the_event_table() -> None:
    assert set(run_events()) == set(EVENTS_V2)


def test_the_other_stream_events_are_not_a_runs() -> None:
    assert set(A.event_schemas) - set(run_events()) == set(NOT_RUN_EVENTS)


@pytest.mark.parametrize("rpc", STREAMED)
@pytest.mark.parametrize("event", sorted(EVENTS_V2))
def test_event_data_is_the_message_of_its_field(rpc: str, event: str) -> None:
    output = A.methods[rpc].output_type
    field = output.fields_by_name[EVENTS_V2[event]]
    assert field.message_type is A.version.roots[run_events()[event]]
    assert field.containing_oneof is not None


@pytest.mark.parametrize("rpc", STREAMED)
def test_a_streamed_message_is_the_event_name_and_one_field_per_kind_of_data(rpc: str) -> None:
    output = A.methods[rpc].output_type
    [data] = oneofs(output)
    assert {field.name for field in data.fields} == {*EVENTS_V2.values(), UNKNOWN_EVENT_FIELD}
    assert {field.name for field in output.fields} == {"event", *(field.name for field in data.fields)}
    text = {output.fields_by_name[name].type for name in ("event", UNKNOWN_EVENT_FIELD)}
    assert text == {FieldDescriptor.TYPE_STRING}
    assert binding(rpc).route.events


UNKNOWN_EVENT_DATA = [
    pytest.param("thread.run.step.paused", '{"id":"step_1","object":"thread.run.step"}', id="new-step-event"),
    pytest.param("thread.created", '{"id": "thread_1", "object": "thread"}', id="thread-created"),
    pytest.param(
        "thread.message.annotated",
        '{ "b" : 1.0,\n  "a": [12345678901234567890, 1e400], "é": "\\u00e9" }',
        id="order-numbers-and-spacing",
    ),
    pytest.param("response.created", "[1, 2]", id="not-an-object"),
]


@pytest.mark.parametrize("rpc", STREAMED)
@pytest.mark.parametrize(("event", "data"), UNKNOWN_EVENT_DATA)
def test_an_unknown_event_is_sent_as_its_json_text_exactly(rpc: str, event: str, data: str) -> None:
    message = Gateway._event(binding(rpc), event, data)
    assert message.event == event
    assert message.WhichOneof("data") == UNKNOWN_EVENT_FIELD
    assert getattr(message, UNKNOWN_EVENT_FIELD) == data


# --- Full objects -----------------------------------------------------------------------------------------

USAGE = {"completion_tokens": 10, "prompt_tokens": 20, "total_tokens": 30}
WEATHER_CALL = {"name": "weather", "arguments": "{}"}
IMAGE = {"file_id": "file_img"}
IMAGE_URL = "https://example.com/a.png"
FULL_RUN: JSON = {
    "id": "run_full", "object": "thread.run", "created_at": 1710000000, "thread_id": "thread_1",
    "assistant_id": "asst_1", "status": "requires_action",
    "required_action": {
        "type": "submit_tool_outputs",
        "submit_tool_outputs": {
            "tool_calls": [{"id": "call_1", "type": "function", "function": WEATHER_CALL}]
        },
    },
    "last_error": {"code": "invalid_prompt", "message": "The prompt was refused."},
    "expires_at": 1710000600, "started_at": 1710000001, "cancelled_at": 1710000002, "failed_at": 1710000003,
    "completed_at": 1710000004, "incomplete_details": {"reason": "max_prompt_tokens"}, "model": "gpt-4o",
    "instructions": "Answer briefly.",
    "tools": [
        {"type": "code_interpreter"},
        {
            "type": "file_search",
            "file_search": {
                "max_num_results": 8,
                "ranking_options": {"ranker": "default_2024_08_21", "score_threshold": 0.25},
            },
        },
        {
            "type": "function",
            "function": {
                "name": "weather", "description": "The weather of a city", "strict": True,
                "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 64}}},
            },
        },
    ],
    "metadata": {"team": "a"}, "usage": USAGE, "temperature": 0.5, "top_p": 0.75, "max_prompt_tokens": 2000,
    "max_completion_tokens": 1000, "truncation_strategy": {"type": "last_messages", "last_messages": 4},
    "tool_choice": {"type": "function", "function": {"name": "weather"}}, "parallel_tool_calls": False,
    "response_format": {
        "type": "json_schema",
        "json_schema": {
            "name": "answer", "description": "The answer", "schema": {"type": "object"}, "strict": True,
        },
    },
}  # fmt: skip
FULL_STEP: JSON = {
    "id": "step_full", "object": "thread.run.step", "created_at": 1710000001, "assistant_id": "asst_1",
    "thread_id": "thread_1", "run_id": "run_full", "type": "tool_calls", "status": "failed",
    "step_details": {
        "type": "tool_calls",
        "tool_calls": [
            {
                "id": "call_ci", "type": "code_interpreter",
                "code_interpreter": {
                    "input": "print(1)",
                    "outputs": [{"type": "logs", "logs": "1\n"}, {"type": "image", "image": IMAGE}],
                },
            },
            {
                "id": "call_fs", "type": "file_search",
                "file_search": {
                    "ranking_options": {"ranker": "auto", "score_threshold": 0.5},
                    "results": [
                        {
                            "file_id": "file_1", "file_name": "paris.pdf", "score": 0.875,
                            "content": [{"type": "text", "text": "Paris is the capital of France."}],
                        }
                    ],
                },
            },
            {"id": "call_fn", "type": "function", "function": {**WEATHER_CALL, "output": "sunny"}},
        ],
    },
    "last_error": {"code": "rate_limit_exceeded", "message": "Slow down."}, "expired_at": 1710000602,
    "cancelled_at": 1710000003, "failed_at": 1710000004, "completed_at": 1710000005, "metadata": {"k": "v"},
    "usage": USAGE,
}  # fmt: skip
ANNOTATIONS = [
    {
        "type": "file_citation",
        "text": "[1]",
        "file_citation": {"file_id": "file_1"},
        "start_index": 4,
        "end_index": 7,
    },
    {
        "type": "file_path",
        "text": "the file",
        "file_path": {"file_id": "file_2"},
        "start_index": 12,
        "end_index": 20,
    },
]
FULL_MESSAGE: JSON = {
    "id": "msg_full", "object": "thread.message", "created_at": 1710000001, "thread_id": "thread_1",
    "status": "incomplete", "incomplete_details": {"reason": "max_tokens"}, "completed_at": 1710000002,
    "incomplete_at": 1710000003, "role": "assistant",
    "content": [
        {"type": "image_file", "image_file": {"file_id": "file_img", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "high"}},
        {"type": "text", "text": {"value": "See [1] and the file.", "annotations": ANNOTATIONS}},
        {"type": "refusal", "refusal": "I can't help with that."},
    ],
    "assistant_id": "asst_1", "run_id": "run_full",
    "attachments": [{"file_id": "file_3", "tools": [{"type": "code_interpreter"}, {"type": "file_search"}]}],
    "metadata": {"k": "v"},
}  # fmt: skip
MESSAGE_DELTA: JSON = {
    "id": "msg_full", "object": "thread.message.delta",
    "delta": {
        "role": "assistant",
        "content": [
            {"index": 0, "type": "image_file", "image_file": {"file_id": "file_img", "detail": "auto"}},
            {"index": 1, "type": "image_url", "image_url": {"url": IMAGE_URL, "detail": "low"}},
            {
                "index": 2, "type": "text",
                "text": {
                    "value": " [1]",
                    "annotations": [
                        {**ANNOTATIONS[0], "index": 0, "file_citation": {"file_id": "f_1", "quote": "Paris"}},
                        {**ANNOTATIONS[1], "index": 1},
                    ],
                },
            },
            {"index": 3, "type": "refusal", "refusal": "I can't"},
        ],
    },
}  # fmt: skip
STEP_DELTA: JSON = {
    "id": "step_full", "object": "thread.run.step.delta",
    "delta": {
        "step_details": {
            "type": "tool_calls",
            "tool_calls": [
                {
                    "index": 0, "id": "call_ci", "type": "code_interpreter",
                    "code_interpreter": {
                        "input": "print(",
                        "outputs": [
                            {"index": 0, "type": "logs", "logs": "1"},
                            {"index": 1, "type": "image", "image": {"file_id": "file_img"}},
                        ],
                    },
                },
                {"index": 1, "id": "call_fs", "type": "file_search", "file_search": {}},
                {"index": 2, "type": "function", "function": {"name": "weather", "arguments": "{"}},
            ],
        }
    },
}  # fmt: skip
MESSAGE_CREATION_DELTA: JSON = {
    "id": "step_2", "object": "thread.run.step.delta",
    "delta": {"step_details": {"type": "message_creation", "message_creation": {"message_id": "msg_full"}}},
}  # fmt: skip
FULL = {
    "run": ("thread.run.requires_action", FULL_RUN),
    "run-string-forms": (
        "thread.run.incomplete",
        {**FULL_RUN, "status": "incomplete", "tool_choice": "required", "response_format": "auto"},
    ),
    "step": ("thread.run.step.failed", FULL_STEP),
    "message": ("thread.message.incomplete", FULL_MESSAGE),
    "message-delta": ("thread.message.delta", MESSAGE_DELTA),
    "step-delta": ("thread.run.step.delta", STEP_DELTA),
    "message-creation-delta": ("thread.run.step.delta", MESSAGE_CREATION_DELTA),
}  # fmt: skip
"""Name → (event, its data): every property of the v2 objects set, both forms of each union."""


def event_message(event: str, data: JSON) -> Message:
    """The streamed message of an event with `data`, as the gateway converts it from the wire."""
    message: Message = Gateway._event(binding(), event, json.dumps(data))
    return message


def data_of(message: Message) -> Message:
    field = message.WhichOneof("data")
    assert field is not None
    data: Message = getattr(message, field)
    return data


@pytest.mark.parametrize(("event", "data"), FULL.values(), ids=FULL.keys())
def test_full_objects_are_valid_event_data(event: str, data: JSON) -> None:
    assert SPEC.errors(data, {"$ref": REF + run_events()[event]}) == []


@pytest.mark.parametrize(("event", "data"), FULL.values(), ids=FULL.keys())
def test_full_objects_convert_without_loss(event: str, data: JSON) -> None:
    mirrors({"event": event, EVENTS_V2[event]: data}, event_message(event, data))


def test_full_objects_set_every_field_of_the_v2_objects() -> None:
    found = {
        name for event, data in FULL.values() for name in set_fields(data_of(event_message(event, data)))
    }
    objects = (res.Run, res.RunStep, res.Message, res.MessageDelta, res.RunStepDelta)
    assert set().union(*(reachable_fields(kind.DESCRIPTOR) for kind in objects)) - found == set()


Key = str | int
UNKNOWN_FIELDS = [
    "run:", "run:required_action.submit_tool_outputs.tool_calls.0", "run:tools.1.file_search.ranking_options",
    "run:tool_choice", "run:response_format.json_schema", "run:truncation_strategy", "step:step_details",
    "step:step_details.tool_calls.0.code_interpreter.outputs.1",
    "step:step_details.tool_calls.1.file_search.results.0",
    "step:step_details.tool_calls.1.file_search.results.0.content.0", "message:content.2.text.annotations.0",
    "message:content.1.image_url", "message:attachments.0", "message-delta:delta",
    "message-delta:delta.content.2.text.annotations.0.file_citation",
    "step-delta:delta.step_details.tool_calls.0.code_interpreter",
    # The free-form file search of a step delta (FileSearchCall): a key the API adds there is dropped too.
    "step-delta:delta.step_details.tool_calls.1.file_search",
]  # fmt: skip
"""`FULL` name:dotted REST path of each object given a field that no schema has."""


def rest_path(dotted: str) -> tuple[Key, ...]:
    return tuple(int(key) if key.isdigit() else key for key in dotted.split(".") if key)


@pytest.mark.parametrize("value", [{"new": [1, None]}, "text", None, 12345678901234567890], ids=str)
@pytest.mark.parametrize("case", UNKNOWN_FIELDS)
def test_an_unknown_rest_field_is_ignored(case: str, value: object) -> None:
    name, dotted = case.split(":")
    event, data = FULL[name]
    changed = copy.deepcopy(data)
    at(changed, rest_path(dotted))["field_of_tomorrow"] = value
    assert event_message(event, changed) == event_message(event, data)


UNKNOWN_ENUMS = [
    "run:status", "run:incomplete_details.reason", "run:last_error.code", "run:tools.1.type",
    "run:tools.1.file_search.ranking_options.ranker", "run:truncation_strategy.type", "run:tool_choice.type",
    "run:response_format.type", "run-string-forms:tool_choice", "run-string-forms:response_format",
    "step:type", "step:step_details.type", "step:step_details.tool_calls.1.type",
    "step:step_details.tool_calls.0.code_interpreter.outputs.0.type",
    "step:step_details.tool_calls.1.file_search.results.0.content.0.type",
    "message:status", "message:role", "message:content.0.type", "message:content.0.image_file.detail",
    "message:content.2.text.annotations.1.type", "message:attachments.0.tools.1.type",
    "message-delta:delta.role", "message-delta:delta.content.3.type",
    "step-delta:delta.step_details.tool_calls.2.type",
]  # fmt: skip
"""`FULL` name:dotted REST path of each enum value replaced by one this version does not know."""


def held_at(descriptor: Any, path: tuple[Key, ...]) -> tuple[Key, ...]:
    """Where the message holds the value at the REST `path`: through a string-or-object union, in the field
    of its form (`tool_choice.type` → `tool_choice.tool.type`, `tool_choice` → `tool_choice.mode`)."""
    held: list[Key] = []
    for index, key in enumerate(path):
        held.append(key)
        field = None if isinstance(key, int) else descriptor.fields_by_name[key]
        if field is None or field.message_type is None:
            continue
        descriptor, forms = field.message_type, union_forms(field.message_type)
        if forms is not None:
            form = forms[0] if index == len(path) - 1 else forms[1]
            held.append(form.name)
            descriptor = form.message_type
    return tuple(held)


@pytest.mark.parametrize("case", UNKNOWN_ENUMS)
def test_an_unknown_enum_value_becomes_unspecified(case: str) -> None:
    name, dotted = case.split(":")
    (event, data), path = FULL[name], rest_path(dotted)
    changed = copy.deepcopy(data)
    at(changed, path[:-1])[path[-1]] = "value_of_tomorrow"
    expected = data_of(event_message(event, data))
    held = held_at(expected.DESCRIPTOR, path)
    setattr(at(expected, held[:-1]), held[-1], 0)
    got = data_of(event_message(event, changed))
    assert getattr(at(got, held[:-1]), held[-1]) == 0
    assert got == expected


# --- Request bodies ---------------------------------------------------------------------------------------

PARAMETERS = {
    "type": "object",
    "properties": {"city": {"type": "string", "maxItems": 3}},
    "required": ["city"],
}
FUNCTION = res.Tool(
    type=res.TOOL_TYPE_FUNCTION,
    function=res.FunctionDefinition(
        name="weather", description="The weather", parameters=PARAMETERS, strict=True
    ),
)
FUNCTION_TEXT = res.Tool(
    type=res.TOOL_TYPE_FUNCTION,
    function=res.FunctionDefinition(name="weather", parameters_json='{"type": "object", "properties": {}}'),
)
FILE_SEARCH = res.Tool(
    type=res.TOOL_TYPE_FILE_SEARCH,
    file_search=res.FileSearchOptions(
        max_num_results=8,
        ranking_options=res.FileSearchRankingOptions(
            ranker=res.FILE_SEARCH_RANKER_DEFAULT_2024_08_21, score_threshold=0.25
        ),
    ),
)
CODE = res.Tool(type=res.TOOL_TYPE_CODE_INTERPRETER)
MESSAGE = pb.AdditionalMessage(
    role=res.MESSAGE_ROLE_USER,
    content=[
        pb.InputContent(type=res.MESSAGE_CONTENT_TYPE_TEXT, text="What do these show?"),
        pb.InputContent(
            type=res.MESSAGE_CONTENT_TYPE_IMAGE_FILE,
            image_file=res.ImageFile(file_id="file_img", detail=res.IMAGE_DETAIL_LOW),
        ),
        pb.InputContent(
            type=res.MESSAGE_CONTENT_TYPE_IMAGE_URL,
            image_url=res.ImageUrl(url="https://example.com/a.png", detail=res.IMAGE_DETAIL_HIGH),
        ),
    ],
    attachments=[res.Attachment(file_id="file_3", tools=[CODE, res.Tool(type=res.TOOL_TYPE_FILE_SEARCH)])],
    metadata={"source": "upload"},
)


def named(kind: int, function: str = "") -> res.ToolChoice:
    name = res.FunctionName(name=function) if function else None
    return res.ToolChoice(tool=res.NamedToolChoice(type=kind, function=name))


def response_format(kind: int, **json_schema: Any) -> res.ResponseFormat:
    schema = res.JsonSchemaFormat(name="answer", **json_schema) if json_schema else None
    return res.ResponseFormat(object=res.ResponseFormatObject(type=kind, json_schema=schema))


CREATE_FIELDS: JSON = {
    "thread_id": "thread_1",
    "assistant_id": "asst_1",
    "model": "gpt-4o",
    "instructions": "Answer briefly.",
    "additional_instructions": "Cite your sources.",
    "tools": [CODE, FILE_SEARCH, FUNCTION],
    "metadata": {"team": "a"},
    "additional_messages": [MESSAGE],
    "reasoning_effort": pb.REASONING_EFFORT_HIGH,
    "temperature": 0.5,
    "top_p": 0.75,
    "max_prompt_tokens": 2000,
    "max_completion_tokens": 1000,
    "truncation_strategy": res.TruncationStrategy(type=res.TRUNCATION_TYPE_LAST_MESSAGES, last_messages=4),
    "tool_choice": named(res.TOOL_TYPE_FUNCTION, "weather"),
    "parallel_tool_calls": False,
    "response_format": response_format(
        res.RESPONSE_FORMAT_TYPE_JSON_SCHEMA, description="The answer", schema=PARAMETERS, strict=True
    ),
    "include": ["step_details.tool_calls[*].file_search.results[*].content"],
}
CREATE_VARIANTS: dict[str, JSON] = {
    "object-forms": {},
    "string-forms": {
        "tools": [FUNCTION_TEXT],
        "tool_choice": res.ToolChoice(mode=res.TOOL_CHOICE_MODE_REQUIRED),
        "response_format": res.ResponseFormat(mode=res.RESPONSE_FORMAT_MODE_AUTO),
    },
    "schema-text": {
        "tool_choice": res.ToolChoice(mode=res.TOOL_CHOICE_MODE_NONE),
        "response_format": response_format(
            res.RESPONSE_FORMAT_TYPE_JSON_SCHEMA, schema_json='{"type": "object"}'
        ),
    },
    "text": {
        "tool_choice": named(res.TOOL_TYPE_CODE_INTERPRETER),
        "response_format": response_format(res.RESPONSE_FORMAT_TYPE_TEXT),
    },
    "json-object": {
        "tool_choice": named(res.TOOL_TYPE_FILE_SEARCH),
        "response_format": response_format(res.RESPONSE_FORMAT_TYPE_JSON_OBJECT),
    },
}
"""Name → what it changes in CREATE_FIELDS: together, every field and both forms of each union."""


def create_request(rpc: str, variant: str) -> Message:
    request_class = getattr(pb, A.methods[rpc].input_type.name)
    request: Message = request_class(**{**CREATE_FIELDS, **CREATE_VARIANTS[variant]})
    return request


def body_of(rpc: str, request: Message) -> JSON:
    """The JSON the gateway sends for `request`, decoded: the route's body fields (and `stream`, streamed)."""
    route = A.version.api.routes[rpc]
    rest = to_rest(request, route.body, route.always)
    body: JSON = json.loads(encode({**rest, STREAM: True} if route.events else rest))
    return body


def test_the_create_requests_set_every_field() -> None:
    found = {name for variant in CREATE_VARIANTS for name in set_fields(create_request("CreateRun", variant))}
    assert reachable_fields(pb.CreateRunRequest.DESCRIPTOR) - found == set()


@pytest.mark.parametrize("variant", CREATE_VARIANTS)
@pytest.mark.parametrize("rpc", ["CreateRun", "CreateRunStream"])
def test_a_full_create_request_is_a_valid_rest_body(rpc: str, variant: str) -> None:
    route, request = A.version.api.routes[rpc], create_request(rpc, variant)
    validate.validate(route, request)  # a request the gateway sends on
    body = body_of(rpc, request)
    assert SPEC.errors(body, A.request_schema(route)) == []
    assert set(body) == set(route.body) | ({STREAM} if route.events else set())
    assert body.get(STREAM) is (True if route.events else None)


OTHER_BODIES = {
    "SubmitToolOutputs": {"tool_outputs": [pb.ToolOutput(tool_call_id="call_1", output="sunny")]},
    "SubmitToolOutputsStream": {"tool_outputs": [pb.ToolOutput(tool_call_id="call_1", output="")]},
    "ModifyRun": {"metadata": {"team": "a"}},
    "ModifyRun-clear": {"metadata": {}},
}


@pytest.mark.parametrize("name", OTHER_BODIES)
def test_the_other_request_bodies_are_valid(name: str) -> None:
    rpc = name.split("-")[0]
    route = A.version.api.routes[rpc]
    ids = dict.fromkeys(route.path_params, "x_1")
    request = getattr(pb, A.methods[rpc].input_type.name)(**ids, **OTHER_BODIES[name])
    validate.validate(route, request)
    body = body_of(rpc, request)
    assert SPEC.errors(body, A.request_schema(route)) == []
    assert set(body) == set(route.body) | ({STREAM} if route.events else set())
