"""What each version's agreement with its OpenAPI description is about, and that the walk finds just that.

`VERSION_1` and `VERSION_2` name the REST schemas walked (the roots) and the message of each, every
deliberate difference between the description and the protos, with its reason, and what the walk must find:
every nested object, the pages, maps, Structs, unions. The tests here fail when the description or the protos
change what the walk finds, or when a listed difference no longer exists; the agreement itself is checked by
test_openapi.py (both versions) and test_openapi_v2.py (what only v2 has). The machinery is
test_openapi_walk.py's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest
from google.protobuf.descriptor import FieldDescriptor
from runs_gateway.assistants.v1 import resources_pb2 as res1
from runs_gateway.assistants.v1 import runs_service_pb2 as pb1
from runs_gateway.assistants.v2 import resources_pb2 as res2
from runs_gateway.assistants.v2 import runs_service_pb2 as pb2
from test_openapi_walk import STREAM, Agreement, Version, is_map, is_struct, union_forms

from gateway.routes import V1, V2

RUN_STATUSES = {"queued", "in_progress", "requires_action", "cancelling", "cancelled", "failed", "completed"}
STEP_STATUSES = {"in_progress", "cancelled", "failed", "completed", "expired"}
ERRORS = {"server_error", "rate_limit_exceeded"}
ORDER = {"asc", "desc"}
STEP_TYPES = {"message_creation", "tool_calls"}
SUBMIT = ".required_action.submit_tool_outputs"
ACTION = (".required_action", SUBMIT, SUBMIT + ".tool_calls[]", SUBMIT + ".tool_calls[].function")
CALLS = ".step_details.tool_calls[]"
OUTPUTS = CALLS + ".code_interpreter.outputs[]"
V1_STEP = (
    ".step_details",
    ".step_details.message_creation",
    CALLS,
    CALLS + ".code_interpreter",
    OUTPUTS,
    OUTPUTS + ".image",
    CALLS + ".function",
    ".last_error",
    ".usage",
)
V1_TOOLS = {"code_interpreter", "retrieval", "function"}
REQUESTS = ("CreateRunRequest", "ModifyRunRequest", "SubmitToolOutputsRunRequest")
PAGES = ("ListRunsResponse", "ListRunStepsResponse")
PATH_PARAMETERS = {
    "ModifyRunRequest": {"thread_id", "run_id"},
    "SubmitToolOutputsRunRequest": {"thread_id", "run_id"},
}

VERSION_1 = Version(
    api=V1, res=res1, pb=pb1,
    roots={
        "RunObject": res1.Run.DESCRIPTOR, "RunStepObject": res1.RunStep.DESCRIPTOR,
        "ListRunsResponse": pb1.ListRunsPageResponse.DESCRIPTOR,
        "ListRunStepsResponse": pb1.ListRunStepsPageResponse.DESCRIPTOR,
        "CreateRunRequest": pb1.CreateRunRequest.DESCRIPTOR,
        "ModifyRunRequest": pb1.ModifyRunRequest.DESCRIPTOR,
        "SubmitToolOutputsRunRequest": pb1.SubmitToolOutputsRequest.DESCRIPTOR,
    },
    only_in_proto={
        "CreateRunRequest": {"thread_id"}, **PATH_PARAMETERS,
        # FunctionCall serves both RunToolCallObject.function and a step's function call; its `output` is
        # documented as always absent in a RequiredToolCall.
        "RunObject" + ACTION[3]: {"output"},
        # The JSON-text twin of the `parameters` Struct: the upstream receives the schema exactly as written.
        "RunObject.tools[].function": {"parameters_json"},
        "CreateRunRequest.tools[].function": {"parameters_json"},
    },
    # The page messages leave out `object` (always "list"); tests/test_routes.py pins their four fields.
    only_in_rest={"ListRunsResponse": {"object"}, "ListRunStepsResponse": {"object"}},
    # RequiredToolCall.type reuses ToolType; REST allows only `function` in a required action for now.
    narrower_rest_enums=frozenset({f"RunObject{ACTION[2]}.type"}),
    objects=frozenset({
        "RunObject", "RunStepObject", *PAGES, *REQUESTS,
        *("RunObject" + s for s in (*ACTION, ".last_error", ".tools[]", ".tools[].function", ".usage")),
        *("RunStepObject" + suffix for suffix in V1_STEP),
        "CreateRunRequest.tools[]", "CreateRunRequest.tools[].function",
        "SubmitToolOutputsRunRequest.tool_outputs[]",
    }),
    pages={
        "ListRunsResponse.data[]": ("RunObject", "runs_gateway.assistants.v1.Run"),
        "ListRunStepsResponse.data[]": ("RunStepObject", "runs_gateway.assistants.v1.RunStep"),
    },
    maps=frozenset(f"{name}.metadata" for name in ("RunObject", "RunStepObject", *REQUESTS[:2])),
    structs=frozenset({
        "RunObject.tools[].function.parameters", "CreateRunRequest.tools[].function.parameters",
        f"RunStepObject{CALLS}.retrieval",
    }),
    some_nullable=frozenset({
        "RunObject.usage", "RunObject.required_action", "RunObject.completed_at", "RunStepObject.usage",
        "RunStepObject.expired_at", f"RunStepObject{CALLS}.function.output", "CreateRunRequest.model",
        "CreateRunRequest.tools", "ModifyRunRequest.metadata",
    }),
    oneof_messages=frozenset({"ToolCall", "CodeInterpreterOutput"}),
    some_unions=frozenset({
        "RunObject.tools[]", "RunStepObject.step_details", f"RunStepObject{CALLS}", f"RunStepObject{OUTPUTS}",
        "CreateRunRequest.tools[]",
    }),
    enum_locations=(
        ("RunObject.status", res1.RunStatus, RUN_STATUSES | {"expired"}),
        ("RunObject.required_action.type", res1.RequiredActionType, {"submit_tool_outputs"}),
        (f"RunObject{ACTION[2]}.type", res1.ToolType, {"function"}),
        ("RunObject.last_error.code", res1.LastErrorCode, ERRORS),
        ("RunObject.tools[].type", res1.ToolType, V1_TOOLS),
        ("RunStepObject.status", res1.RunStepStatus, STEP_STATUSES),
        ("RunStepObject.type", res1.RunStepType, STEP_TYPES),
        ("RunStepObject.step_details.type", res1.RunStepType, STEP_TYPES),
        (f"RunStepObject{CALLS}.type", res1.ToolType, V1_TOOLS),
        (f"RunStepObject{OUTPUTS}.type", res1.CodeInterpreterOutputType, {"logs", "image"}),
        ("RunStepObject.last_error.code", res1.LastErrorCode, ERRORS),
        ("CreateRunRequest.tools[].type", res1.ToolType, V1_TOOLS),
        ("/threads/{thread_id}/runs?order", pb1.ListOrder, ORDER),
        ("/threads/{thread_id}/runs/{run_id}/steps?order", pb1.ListOrder, ORDER),
    ),
)  # fmt: skip

V2_OPTIONS = (".tools[]", ".tools[].function", ".tools[].file_search", ".tools[].file_search.ranking_options",
              ".truncation_strategy", ".tool_choice", ".tool_choice.function", ".response_format",
              ".response_format.json_schema")  # fmt: skip
SEARCH = CALLS + ".file_search"
V2_STEP = (
    *V1_STEP,
    SEARCH,
    SEARCH + ".ranking_options",
    SEARCH + ".results[]",
    SEARCH + ".results[].content[]",
)
TEXT = ".content[].text"
V2_CONTENT = (".content[]", ".content[].image_file", ".content[].image_url", TEXT, TEXT + ".annotations[]",
              TEXT + ".annotations[].file_citation", TEXT + ".annotations[].file_path")  # fmt: skip
V2_STEP_DELTA = (*V1_STEP[:6], CALLS + ".function")
ADDED = "CreateRunRequest.additional_messages[]"
V2_ADDED = ("", ".content[]", ".content[].image_file", ".content[].image_url", ".attachments[]",
            ".attachments[].tools[]")  # fmt: skip
V2_TOOLS = {"code_interpreter", "file_search", "function"}
V2_PARTS = {"image_file", "image_url", "text", "refusal"}
ROLES = {"user", "assistant"}
DELTA_INDEX = {"index"}
"""A delta's position of the part it extends (resources.proto): set only in deltas, so no whole-object
schema has it."""
TYPE_ONLY_TOOL = {"function", "file_search"}
"""An attachment's tools are Tool messages holding only their type: code_interpreter or file_search."""
V2_INT32 = ("Run.max_prompt_tokens", "Run.max_completion_tokens", "CreateRunRequest.max_prompt_tokens",
            "CreateRunRequest.max_completion_tokens", "TruncationStrategy.last_messages",
            "FileSearchOptions.max_num_results", "Annotation.start_index", "Annotation.end_index",
            "Annotation.index", "MessageContent.index", "ToolCall.index",
            "CodeInterpreterOutput.index")  # fmt: skip

VERSION_2 = Version(
    api=V2, res=res2, pb=pb2,
    roots={
        "RunObject": res2.Run.DESCRIPTOR, "RunStepObject": res2.RunStep.DESCRIPTOR,
        "MessageObject": res2.Message.DESCRIPTOR, "MessageDeltaObject": res2.MessageDelta.DESCRIPTOR,
        "RunStepDeltaObject": res2.RunStepDelta.DESCRIPTOR,
        "ListRunsResponse": pb2.ListRunsPageResponse.DESCRIPTOR,
        "ListRunStepsResponse": pb2.ListRunStepsPageResponse.DESCRIPTOR,
        "CreateRunRequest": pb2.CreateRunRequest.DESCRIPTOR,
        "ModifyRunRequest": pb2.ModifyRunRequest.DESCRIPTOR,
        "SubmitToolOutputsRunRequest": pb2.SubmitToolOutputsRequest.DESCRIPTOR,
    },
    only_in_proto={
        # Path parameters; `include` is the query parameter `include[]`.
        "CreateRunRequest": {"thread_id", "include"}, **PATH_PARAMETERS,
        "RunObject" + ACTION[3]: {"output"},  # as in v1
        # The JSON-text twins of the Structs `parameters` and `schema`.
        "RunObject.tools[].function": {"parameters_json"},
        "CreateRunRequest.tools[].function": {"parameters_json"},
        "RunObject.response_format.json_schema": {"schema_json"},
        "CreateRunRequest.response_format.json_schema": {"schema_json"},
        "MessageObject.content[]": DELTA_INDEX, f"MessageObject{TEXT}.annotations[]": DELTA_INDEX,
        f"RunStepObject{CALLS}": DELTA_INDEX, f"RunStepObject{OUTPUTS}": DELTA_INDEX,
        # FileCitation serves the message and its deltas; only a delta's citation has `quote`.
        f"MessageObject{TEXT}.annotations[].file_citation": {"quote"},
        "MessageObject.attachments[].tools[]": TYPE_ONLY_TOOL,
        f"{ADDED}.attachments[].tools[]": TYPE_ONLY_TOOL,
    },
    only_in_rest={
        "ListRunsResponse": {"object"}, "ListRunStepsResponse": {"object"},
        # Set by the route: CreateRunStream and SubmitToolOutputsStream send `"stream": true`.
        "CreateRunRequest": {STREAM}, "SubmitToolOutputsRunRequest": {STREAM},
    },
    narrower_rest_enums=frozenset({
        f"RunObject{ACTION[2]}.type",
        "RunStepObject.last_error.code",  # never `invalid_prompt` (a run's can be): LastErrorCode serves both
        "MessageObject.attachments[].tools[].type", f"{ADDED}.attachments[].tools[].type",  # no function
        f"{ADDED}.content[].type",  # a message added by a request has no refusal part
    }),
    objects=frozenset({
        *PAGES, *REQUESTS, "SubmitToolOutputsRunRequest.tool_outputs[]",
        *("RunObject" + s for s in ("", *ACTION, ".last_error", ".incomplete_details", ".usage")),
        *(name + s for name in ("RunObject", "CreateRunRequest") for s in V2_OPTIONS),
        *("RunStepObject" + suffix for suffix in ("", *V2_STEP)),
        *("MessageObject" + s for s in ("", ".incomplete_details", *V2_CONTENT, *V2_ADDED[-2:])),
        *("MessageDeltaObject" + suffix for suffix in ("", ".delta", *(".delta" + s for s in V2_CONTENT))),
        *("RunStepDeltaObject" + suffix for suffix in ("", ".delta", *(".delta" + s for s in V2_STEP_DELTA))),
        *(ADDED + suffix for suffix in V2_ADDED),
    }),
    pages={
        "ListRunsResponse.data[]": ("RunObject", "runs_gateway.assistants.v2.Run"),
        "ListRunStepsResponse.data[]": ("RunStepObject", "runs_gateway.assistants.v2.RunStep"),
    },
    maps=frozenset(f"{name}.metadata"
                   for name in ("RunObject", "RunStepObject", "MessageObject", ADDED, *REQUESTS[:2])),
    structs=frozenset(f"{name}.{struct}" for name in ("RunObject", "CreateRunRequest")
                      for struct in ("tools[].function.parameters", "response_format.json_schema.schema")),
    some_nullable=frozenset({
        "RunObject.usage",  # through a $ref to an anyOf with null
        "RunObject.truncation_strategy",  # allOf [$ref, {nullable: true}]
        "RunObject.response_format",  # nullable beside a $ref
        "RunObject.metadata", "RunStepObject.expired_at", "MessageObject.attachments",
        f"RunStepDeltaObject.delta{CALLS}.function.output", "CreateRunRequest.model",
        "CreateRunRequest.reasoning_effort", "CreateRunRequest.tool_choice", f"{ADDED}.attachments",
    }),
    oneof_messages=frozenset({"ToolCall", "CodeInterpreterOutput", "MessageContent", "InputContent"}),
    some_unions=frozenset({
        "RunObject.tools[]", "RunObject.response_format", "RunStepObject.step_details",
        f"RunStepObject{CALLS}",
        "MessageObject.content[]", f"MessageObject{TEXT}.annotations[]", "MessageDeltaObject.delta.content[]",
        f"RunStepDeltaObject.delta{OUTPUTS}", f"{ADDED}.content[]", f"{ADDED}.attachments[].tools[]",
    }),
    int32=frozenset("runs_gateway.assistants.v2." + name for name in V2_INT32),
    string_or_object=frozenset(f"{name}.{union}" for name in ("RunObject", "CreateRunRequest")
                               for union in ("tool_choice", "response_format")),
    # REST takes a message's content as a string or an array of parts; one text part says the same.
    string_or_array=frozenset({f"{ADDED}.content"}),
    # "For now, this is always going to be an empty object": a delta's file search call is FileSearchCall,
    # the whole call's message, left empty.
    free_form_messages=frozenset({f"RunStepDeltaObject.delta{CALLS}.file_search"}),
    null_as_zero=frozenset({"CreateRunRequest.reasoning_effort"}),
    example_extras=frozenset({
        "RunObject.tool_resources",  # runs of the list, modify and cancel examples: the assistant's
        "RunStepObject.expires_at",  # steps of the streaming examples (the step object's is `expired_at`)
    }),
    # In the streaming examples, each run's data ends with a stray `}`.
    garbled_events=frozenset(f"thread.run.{e}" for e in ("created", "queued", "in_progress", "completed")),
    enum_locations=(
        ("RunObject.status", res2.RunStatus, RUN_STATUSES | {"expired", "incomplete"}),
        ("RunObject.incomplete_details.reason", res2.IncompleteReason,
         {"max_completion_tokens", "max_prompt_tokens"}),
        ("RunObject.last_error.code", res2.LastErrorCode, ERRORS | {"invalid_prompt"}),
        ("RunObject.tools[].type", res2.ToolType, V2_TOOLS),
        ("RunObject.tools[].file_search.ranking_options.ranker", res2.FileSearchRanker,
         {"auto", "default_2024_08_21"}),
        ("RunObject.truncation_strategy.type", res2.TruncationType, {"auto", "last_messages"}),
        ("RunObject.tool_choice", res2.ToolChoiceMode, {"none", "auto", "required"}),
        ("RunObject.tool_choice.type", res2.ToolType, V2_TOOLS),
        ("RunObject.response_format", res2.ResponseFormatMode, {"auto"}),
        ("RunObject.response_format.type", res2.ResponseFormatType, {"text", "json_object", "json_schema"}),
        ("RunStepObject.status", res2.RunStepStatus, STEP_STATUSES),
        ("RunStepObject.last_error.code", res2.LastErrorCode, ERRORS),
        (f"RunStepObject{CALLS}.type", res2.ToolType, V2_TOOLS),
        (f"RunStepObject{CALLS}.file_search.results[].content[].type", res2.FileSearchContentType, {"text"}),
        ("MessageObject.status", res2.MessageStatus, {"in_progress", "incomplete", "completed"}),
        ("MessageObject.role", res2.MessageRole, ROLES),
        ("MessageObject.content[].type", res2.MessageContentType, V2_PARTS),
        ("MessageObject.content[].image_file.detail", res2.ImageDetail, {"auto", "low", "high"}),
        (f"MessageObject{TEXT}.annotations[].type", res2.AnnotationType, {"file_citation", "file_path"}),
        ("MessageObject.attachments[].tools[].type", res2.ToolType, {"code_interpreter", "file_search"}),
        ("MessageDeltaObject.delta.role", res2.MessageRole, ROLES),
        ("MessageDeltaObject.delta.content[].type", res2.MessageContentType, V2_PARTS),
        (f"RunStepDeltaObject.delta{CALLS}.type", res2.ToolType, V2_TOOLS),
        ("CreateRunRequest.reasoning_effort", pb2.ReasoningEffort,
         {"none", "minimal", "low", "medium", "high", "xhigh", "max"}),
        (f"{ADDED}.content[].type", res2.MessageContentType, V2_PARTS - {"refusal"}),
        ("/threads/{thread_id}/runs?order", pb2.ListOrder, ORDER),
        ("/threads/{thread_id}/runs/{run_id}/steps?order", pb2.ListOrder, ORDER),
    ),
)  # fmt: skip


AGREEMENTS = [Agreement(VERSION_1), Agreement(VERSION_2)]


def each(keys: Callable[[Agreement], Iterable[Any]]) -> list[Any]:
    """Parameters (agreement, key) for every key of every version, with ids `v2:key`."""
    return [pytest.param(a, key, id=f"{a}:{key}") for a in AGREEMENTS for key in keys(a)]


VERSIONS = [pytest.param(a, id=str(a)) for a in AGREEMENTS]


@pytest.mark.parametrize("agreement", VERSIONS)
def test_the_walk_reaches_every_nested_object(agreement: Agreement) -> None:
    assert set(agreement.pairs) == agreement.version.objects


@pytest.mark.parametrize("agreement", VERSIONS)
def test_pages_hold_the_messages_of_their_items(agreement: Agreement) -> None:
    found = {ref.path: (ref.schema, ref.descriptor.full_name) for ref in agreement.refs}
    assert found == agreement.version.pages
    assert all(agreement.version.roots[ref.schema] is ref.descriptor for ref in agreement.refs)


@pytest.mark.parametrize("agreement", VERSIONS)
def test_listed_differences_exist(agreement: Agreement) -> None:
    version = agreement.version
    assert set(version.only_in_proto) <= set(agreement.pairs)
    assert set(version.only_in_rest) <= set(agreement.pairs)
    paths = {path for path, _, _ in agreement.properties_with_fields()}
    assert paths >= version.narrower_rest_enums | version.string_or_array | version.free_form_messages
    assert set(agreement.nullable) >= version.null_as_zero


@pytest.mark.parametrize("agreement", VERSIONS)
def test_the_int32_fields_are_the_listed_ones(agreement: Agreement) -> None:
    found = agreement.properties_with_fields()
    int32 = {field.full_name for _, _, field in found if field.type == FieldDescriptor.TYPE_INT32}
    assert int32 == agreement.version.int32


@pytest.mark.parametrize("agreement", VERSIONS)
def test_maps_are_metadata_and_structs_are_free_form_json(agreement: Agreement) -> None:
    found = list(agreement.properties_with_fields())
    assert {path for path, _, field in found if is_map(field)} == agreement.version.maps
    assert {path for path, _, field in found if is_struct(field)} == agreement.version.structs


@pytest.mark.parametrize("agreement", VERSIONS)
def test_nullable_properties_are_found_through_refs(agreement: Agreement) -> None:
    assert agreement.version.some_nullable <= set(agreement.nullable)


@pytest.mark.parametrize("agreement", VERSIONS)
def test_unions_found(agreement: Agreement) -> None:
    unions = {path for path, pair in agreement.pairs.items() if len(pair.schemas) > 1}
    assert agreement.version.some_unions <= unions
    found = list(agreement.properties_with_fields())
    string_or_object = {
        path for path, _, field in found if field.message_type is not None and union_forms(field.message_type)
    }
    assert string_or_object == agreement.version.string_or_object
    kinds = {path: {v.get("type") for v in agreement.spec.alternatives(prop)} for path, prop, _ in found}
    string_or_array = {path for path, types in kinds.items() if types == {"string", "array"}}
    assert string_or_array == agreement.version.string_or_array


@pytest.mark.parametrize(
    ("agreement", "path", "enum", "values"),
    [
        pytest.param(a, path, enum, values, id=f"{a}:{path}")
        for a in AGREEMENTS
        for path, enum, values in a.version.enum_locations
    ],
)
def test_enum_locations(agreement: Agreement, path: str, enum: Any, values: set[str]) -> None:
    found, used = agreement.enums[path]
    assert used.full_name == enum.DESCRIPTOR.full_name
    assert found == values


@pytest.mark.parametrize("agreement", VERSIONS)
def test_examples_have_only_the_listed_undocumented_properties(agreement: Agreement) -> None:
    extras: set[str] = set()
    for schema, example in agreement.object_examples().items():
        agreement.documented(schema, example, extras)
    for route in agreement.version.api.routes.values():
        for example in agreement.json_examples(route):
            agreement.documented(agreement.response_schema(route), example, extras)
        for event, data in agreement.event_examples(route):
            agreement.documented(agreement.event_schemas[event], data, extras)
    assert extras == agreement.version.example_extras
