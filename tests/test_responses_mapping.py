"""The mapping of v2 runs onto chains of Responses (gateway/responses/): assistants from a file and
CreateRun's overrides, the CreateResponse body of each leg, the run and the steps of a chain. Every object
produced is read by the gateway's own converter, strictly (no key it would drop, no enum string it would
not know), and, where ../shared/openapi is present, checked against the Assistants v2 and Responses
schemas."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
from runs_gateway.assistants.v2 import resources_pb2 as v2

from gateway import convert
from gateway.responses import mapping, requests
from gateway.responses.assistants import (
    Assistant,
    AssistantsFileError,
    effective_settings,
    load_assistants,
    parse_assistants,
)
from gateway.responses.mapping import RunRecord
from gateway.responses.requests import Unmappable
from gateway.responses.steps import FILE_SEARCH_CONTENT, message_object, run_steps, step_id, step_page

JSON = dict[str, Any]
SHARED = Path(__file__).resolve().parent.parent.parent / "shared/openapi"
SPEC_FILE = SHARED / "openai-openapi-v2-latest.yaml"
T0 = 1_741_476_777

# ---- realistic Responses objects (shapes of the v2 description's examples) -----------------------

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def text_item(
    item_id: str = "msg_67ccd3acc8d4", text: str = "Hello there.", status: str = "completed"
) -> JSON:
    content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
    return {"type": "message", "id": item_id, "status": status, "role": "assistant", "content": content}


def call_item(
    call_id: str, item_id: str, name: str = "get_weather", arguments: str = '{"city":"Paris"}'
) -> JSON:
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": "completed",
    }


def response(
    response_id: str,
    status: str = "completed",
    output: list[JSON] | None = None,
    usage: tuple[int, int] | None = (328, 52),
    created_at: int = T0,
    **fields: Any,
) -> JSON:
    """A Response object as GET /responses/{id} answers it (the description's example, trimmed)."""
    body: JSON = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "completed_at": created_at + 1 if status == "completed" else None,
        "error": None,
        "incomplete_details": None,
        "instructions": "Be brief.",
        "max_output_tokens": None,
        "model": "gpt-4o-2024-08-06",
        "output": output if output is not None else [],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "conversation": {"id": "conv_1"},
        "background": True,
        "store": True,
        "temperature": 1,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1,
        "truncation": "auto",
        "metadata": {},
    }
    if usage is not None:
        body["usage"] = {
            "input_tokens": usage[0],
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": usage[1],
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": usage[0] + usage[1],
        }
    else:
        body["usage"] = None
    body.update(fields)
    return body


ASSISTANT = Assistant(
    id="asst_1",
    model="gpt-4o",
    name="Weather",
    instructions="You answer about the weather.",
    tools=(WEATHER,),
    temperature=0.5,
    tool_resources={
        "file_search": {"vector_store_ids": ["vs_1"]},
        "code_interpreter": {"file_ids": ["file_1"]},
    },
)


def record(**fields: Any) -> RunRecord:
    values: JSON = {
        "id": "run_1",
        "thread_id": "conv_1",
        "assistant_id": "asst_1",
        "created_at": T0 - 1,
        "settings": effective_settings(ASSISTANT, {}),
        "responses": ("resp_1",),
    }
    values.update(fields)
    return RunRecord(**values)


# ---- the converter, strictly ---------------------------------------------------------------------


def strictly(data: Any, message_class: Any) -> Any:
    """`data` converted by the gateway's converter, after checking that it would drop nothing: every key is
    a field and every enum string a value the enum knows (the converter itself ignores the first and makes
    the second *_UNSPECIFIED)."""
    problems = _misfits(data, convert._schema(message_class.DESCRIPTOR), "$")
    assert problems == [], problems
    return convert.to_message(data, message_class)


def _misfits(data: Any, schema: Any, path: str) -> list[str]:
    if not isinstance(data, dict):
        return []
    problems = []
    for key, value in data.items():
        field = schema.get(key)
        if field is None:
            problems.append(f"{path}.{key}: no such field")
            continue
        values = value if field.repeated and isinstance(value, list) else [value]
        for item in values:
            problems += _misfit(field, item, f"{path}.{key}")
    return problems


def _misfit(field: Any, value: Any, path: str) -> list[str]:
    if value is None:
        return []
    if field.kind == convert.ENUM and value not in convert._rest_numbers(field.enum):
        return [f"{path}: unknown enum value {value!r}"]
    if field.kind == convert.MESSAGE:
        return _misfits(value, field.schema, path)
    if field.kind == convert.UNION:
        enum_form, object_form = field.forms
        if isinstance(value, str):
            known = convert._rest_numbers(field.schema[enum_form].enum)
            return [] if value in known else [f"{path}: unknown mode {value!r}"]
        return _misfits(value, field.schema[object_form].schema, path)
    return []


@functools.cache
def spec() -> Any:
    if not SPEC_FILE.is_file():
        pytest.skip(f"OpenAI's OpenAPI description is not in {SHARED} (it sits beside the repository)")
    from openapi_spec import read

    return read(SPEC_FILE)


def conforms(value: Any, schema: str) -> list[str]:
    described = spec()
    errors: list[str] = described.errors(value, {"$ref": "#/components/schemas/" + schema})
    return errors


# ---- assistants ----------------------------------------------------------------------------------


def test_assistants_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "assistants.json"
    body = {"model": "gpt-4o", "name": "Weather", "tools": [WEATHER], "metadata": {"team": "a"}, "top_p": 0.9}
    path.write_text(json.dumps({"assistants": {"asst_1": body}}))
    assistants = load_assistants(path)
    assert assistants["asst_1"].model == "gpt-4o"
    assert assistants["asst_1"].tools == (WEATHER,)
    assert assistants["asst_1"].top_p == 0.9
    assert assistants["asst_1"].response_format == "auto"


BAD_ASSISTANTS = [
    ({"assistants": {"asst_1": {}}}, "asst_1", "'model' is required"),
    ({"assistants": {"asst_1": {"model": 4}}}, "asst_1", "'model' has the wrong JSON type"),
    ({"assistants": {"asst_1": {"model": "m", "colour": "red"}}}, "asst_1", "unknown field 'colour'"),
    ({"assistants": {"asst_1": {"model": "m", "temperature": 3}}}, "asst_1", "'temperature' must be between"),
    ({"assistants": {"asst_1": {"model": "m", "top_p": True}}}, "asst_1", "'top_p' has the wrong JSON type"),
    ({"assistants": {"asst_2": {"model": "m", "tools": [{"type": "retrieval"}]}}}, "asst_2", "'tools[0]'"),
    (
        {"assistants": {"asst_2": {"model": "m", "tools": [{"type": "function"}]}}},
        "asst_2",
        "needs 'function'",
    ),
    ({"assistants": {"asst_3": {"model": "m", "metadata": {"k": 1}}}}, "asst_3", "field 'metadata'"),
    (
        {"assistants": {"asst_3": {"model": "m", "response_format": {"type": "xml"}}}},
        "asst_3",
        "'response_format'",
    ),
    ({"assistants": {"asst_3": {"model": "m", "reasoning_effort": "huge"}}}, "asst_3", "'reasoning_effort'"),
    ({"assistants": {"bad id!": {"model": "m"}}}, "bad id!", "the id must match"),
    ({"assistants": {"asst_4": "gpt-4o"}}, "asst_4", "expected an object"),
    ({"assistants": []}, "", '{"assistants"'),
    ({"assistants": {}, "extra": 1}, "", "unknown key 'extra'"),
]


@pytest.mark.parametrize(("document", "assistant", "problem"), BAD_ASSISTANTS)
def test_a_bad_assistants_file_names_file_assistant_and_field(
    tmp_path: Path, document: Any, assistant: str, problem: str
) -> None:
    path = tmp_path / "assistants.json"
    path.write_text(json.dumps(document))
    with pytest.raises(AssistantsFileError) as raised:
        load_assistants(path)
    assert str(path) in str(raised.value)
    assert f"assistant {assistant!r}" in str(raised.value) or not assistant
    assert problem in str(raised.value)


def test_an_assistants_file_that_is_not_json_is_named(tmp_path: Path) -> None:
    path = tmp_path / "assistants.json"
    path.write_text("{assistants:")
    with pytest.raises(AssistantsFileError, match="cannot be read as JSON"):
        load_assistants(path)
    with pytest.raises(AssistantsFileError, match="cannot be read"):
        load_assistants(tmp_path / "missing.json")


OVERRIDES = [
    ({}, "instructions", "You answer about the weather."),
    ({"instructions": "Be terse."}, "instructions", "Be terse."),
    (
        {"additional_instructions": "Use Celsius."},
        "instructions",
        "You answer about the weather.\n\nUse Celsius.",
    ),
    (
        {"instructions": "Be terse.", "additional_instructions": "Use Celsius."},
        "instructions",
        "Be terse.\n\nUse Celsius.",
    ),
    ({"instructions": None}, "instructions", "You answer about the weather."),
    ({}, "model", "gpt-4o"),
    ({"model": "gpt-4.1"}, "model", "gpt-4.1"),
    ({}, "tools", [WEATHER]),
    ({"tools": [{"type": "code_interpreter"}]}, "tools", [{"type": "code_interpreter"}]),
    ({"tools": []}, "tools", [WEATHER]),  # the gateway never sends an empty list: "not set"
    ({}, "temperature", 0.5),
    ({"temperature": 0}, "temperature", 0),  # 0 is set, not absent
    ({}, "top_p", None),
    ({"top_p": 0.2}, "top_p", 0.2),
    ({}, "metadata", {}),  # the assistant's metadata is the assistant's, not the run's
    ({"metadata": {"k": "v"}}, "metadata", {"k": "v"}),
    ({}, "tool_choice", "auto"),
    ({"tool_choice": "required"}, "tool_choice", "required"),
    ({}, "parallel_tool_calls", True),
    ({"parallel_tool_calls": False}, "parallel_tool_calls", False),
    ({}, "truncation_strategy", {"type": "auto", "last_messages": None}),
    ({}, "response_format", "auto"),
    ({"response_format": {"type": "json_object"}}, "response_format", {"type": "json_object"}),
    ({}, "max_completion_tokens", None),
    ({"max_prompt_tokens": 1000}, "max_prompt_tokens", 1000),
    ({"reasoning_effort": "low"}, "reasoning_effort", "low"),
]


@pytest.mark.parametrize(("request_", "name", "expected"), OVERRIDES)
def test_create_run_overrides_the_assistant_as_the_assistants_api_does(
    request_: JSON, name: str, expected: Any
) -> None:
    assert effective_settings(ASSISTANT, request_)[name] == expected


def test_settings_start_from_an_assistant_without_instructions() -> None:
    bare = parse_assistants({"assistants": {"asst_9": {"model": "m"}}})["asst_9"]
    assert effective_settings(bare, {"additional_instructions": "Only this."})["instructions"] == "Only this."
    assert effective_settings(bare, {})["instructions"] is None


# ---- requests ------------------------------------------------------------------------------------


def test_the_first_leg_is_a_background_response_in_the_conversation() -> None:
    settings = effective_settings(
        ASSISTANT,
        {
            "tools": [
                WEATHER,
                {"type": "file_search", "file_search": {"max_num_results": 5}},
                {"type": "code_interpreter"},
            ],
            "metadata": {"k": "v"},
            "top_p": 0.9,
            "max_completion_tokens": 1000,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "w", "schema": {"type": "object"}, "strict": True},
            },
            "reasoning_effort": "low",
        },
    )
    messages = [
        {"role": "user", "content": "What is the weather?"},
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}}],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "Which city?"}]},
    ]
    body = requests.response_request(settings, "conv_1", messages)
    assert body == {
        "model": "gpt-4o",
        "background": True,
        "store": True,
        "conversation": "conv_1",
        "instructions": "You answer about the weather.",
        "tools": [
            {
                "type": "function",
                "name": "get_weather",
                "description": "The weather in a city",
                "parameters": WEATHER["function"]["parameters"],  # type: ignore[index]
                "strict": False,
            },
            {"type": "file_search", "vector_store_ids": ["vs_1"], "max_num_results": 5},
            {"type": "code_interpreter", "container": {"type": "auto", "file_ids": ["file_1"]}},
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "truncation": "auto",
        "metadata": {"k": "v"},
        "temperature": 0.5,
        "top_p": 0.9,
        "text": {
            "format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}, "strict": True}
        },
        "reasoning": {"effort": "low"},
        "include": ["file_search_call.results", "code_interpreter_call.outputs"],
        "max_output_tokens": 1000,
        "input": [
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "What is the weather?"}],
            },
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_image", "detail": "low", "image_url": "https://x/y.png"}],
            },
            {"type": "message", "role": "assistant", "content": "Which city?"},
        ],
    }
    assert "previous_response_id" not in body


TOOL_CHOICES = [
    ("auto", "auto"),
    ("none", "none"),
    ("required", "required"),
    ({"type": "function", "function": {"name": "get_weather"}}, {"type": "function", "name": "get_weather"}),
    ({"type": "file_search"}, {"type": "file_search"}),
    ({"type": "code_interpreter"}, {"type": "code_interpreter"}),
]


@pytest.mark.parametrize(("choice", "expected"), TOOL_CHOICES)
def test_tool_choice_maps(choice: Any, expected: Any) -> None:
    body = requests.response_request(effective_settings(ASSISTANT, {"tool_choice": choice}), "conv_1")
    assert body["tool_choice"] == expected


FORMATS = [
    ("auto", None),
    ({"type": "text"}, {"format": {"type": "text"}}),
    ({"type": "json_object"}, {"format": {"type": "json_object"}}),
    (
        {
            "type": "json_schema",
            "json_schema": {"name": "n", "description": "d", "schema": {"type": "object"}},
        },
        {"format": {"type": "json_schema", "name": "n", "description": "d", "schema": {"type": "object"}}},
    ),
]


@pytest.mark.parametrize(("response_format", "text"), FORMATS)
def test_response_format_becomes_text_format(response_format: Any, text: Any) -> None:
    body = requests.response_request(
        effective_settings(ASSISTANT, {"response_format": response_format}), "conv_1"
    )
    assert body.get("text") == text


REFUSED = [
    (
        {"truncation_strategy": {"type": "last_messages", "last_messages": 3}},
        None,
        "TRUNCATION_LAST_MESSAGES_UNSUPPORTED",
        "truncation_strategy",
    ),
    (
        {},
        [{"role": "user", "content": "x", "attachments": [{"file_id": "f", "tools": []}]}],
        "ATTACHMENTS_UNSUPPORTED",
        "additional_messages[0].attachments",
    ),
    (
        {},
        [{"role": "assistant", "content": [{"type": "image_file", "image_file": {"file_id": "f"}}]}],
        "ASSISTANT_IMAGE_UNSUPPORTED",
        "additional_messages[0].content",
    ),
]


@pytest.mark.parametrize(("request_", "messages", "reason", "field"), REFUSED)
def test_what_cannot_be_mapped_is_refused_with_a_stable_reason(
    request_: JSON, messages: Any, reason: str, field: str
) -> None:
    with pytest.raises(Unmappable) as raised:
        requests.response_request(effective_settings(ASSISTANT, request_), "conv_1", messages)
    assert (raised.value.reason, raised.value.field) == (reason, field)


def test_file_search_without_vector_stores_is_refused() -> None:
    bare = Assistant(id="asst_2", model="m", tools=({"type": "file_search"},))
    with pytest.raises(Unmappable) as raised:
        requests.response_request(effective_settings(bare, {}), "conv_1")
    assert raised.value.reason == "FILE_SEARCH_WITHOUT_VECTOR_STORES"


def test_truncation_auto_is_sent_as_the_assistants_default() -> None:
    body = requests.response_request(
        effective_settings(ASSISTANT, {"truncation_strategy": {"type": "auto"}}), "c"
    )
    assert body["truncation"] == "auto"
    assert requests.response_request(effective_settings(ASSISTANT, {}), "c")["truncation"] == "auto"


def test_submitted_outputs_start_the_next_leg_in_the_same_conversation() -> None:
    run = record(settings=effective_settings(ASSISTANT, {"max_completion_tokens": 300}))
    chain = [
        response(
            "resp_1", output=[call_item("call_1", "fc_1"), call_item("call_2", "fc_2")], usage=(100, 290)
        )
    ]
    outputs = [{"tool_call_id": "call_1", "output": "18C"}, {"tool_call_id": "call_2", "output": ""}]
    body = requests.tool_outputs_request(run, chain, outputs)
    assert body["input"] == [
        {"type": "function_call_output", "call_id": "call_1", "output": "18C"},
        {"type": "function_call_output", "call_id": "call_2", "output": ""},
    ]
    assert body["conversation"] == "conv_1"
    assert "previous_response_id" not in body
    assert body["instructions"] == "You answer about the weather."  # instructions are not carried over
    assert body["background"] is True
    assert body["max_output_tokens"] == requests.MIN_OUTPUT_TOKENS  # 10 left, and the API takes 16 at least
    thrifty = [{**chain[0], "usage": {"input_tokens": 1, "output_tokens": 100, "total_tokens": 101}}]
    assert requests.tool_outputs_request(run, thrifty, outputs)["max_output_tokens"] == 200


OUTPUT_SETS = [
    ("one missing", [{"tool_call_id": "call_1", "output": "a"}]),
    ("one unknown", [{"tool_call_id": "call_1", "output": "a"}, {"tool_call_id": "call_9", "output": "b"}]),
    ("one twice", [{"tool_call_id": "call_1", "output": "a"}, {"tool_call_id": "call_1", "output": "b"}]),
    ("none", []),
]


@pytest.mark.parametrize(("case", "outputs"), OUTPUT_SETS, ids=[case[0] for case in OUTPUT_SETS])
def test_outputs_must_answer_exactly_the_calls_the_run_waits_for(case: str, outputs: list[JSON]) -> None:
    with pytest.raises(Unmappable) as raised:
        requests.tool_outputs_request(record(), REQUIRES, outputs)
    assert (raised.value.reason, raised.value.field) == ("TOOL_OUTPUTS_DO_NOT_MATCH", "tool_outputs")


def test_a_record_keeps_what_happens_to_its_run() -> None:
    run = record().with_outputs([{"tool_call_id": "call_1", "output": "a"}])
    run = run.with_outputs([{"tool_call_id": "call_2", "output": "b"}]).with_response("resp_2")
    assert (run.tool_outputs, run.responses) == ({"call_1": "a", "call_2": "b"}, ("resp_1", "resp_2"))
    assert run.with_cancel_request(T0).with_cancel_request(T0 + 9).cancel_requested_at == T0
    assert run.with_end(T0).with_end(T0 + 9).ended_at == T0


def test_requests_conform_to_create_response() -> None:
    search = {
        "type": "file_search",
        "file_search": {"max_num_results": 3, "ranking_options": {"score_threshold": 0.5}},
    }
    run_request = {
        "tools": [WEATHER, {"type": "code_interpreter"}, search],
        "top_p": 0.5,
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "w", "schema": {"type": "object"}},
        },
        "reasoning_effort": "low",
        "max_completion_tokens": 500,
    }
    settings = effective_settings(ASSISTANT, run_request)
    first = requests.response_request(settings, "conv_1", [{"role": "user", "content": "hi"}])
    chain = [response("resp_1", output=[call_item("call_1", "fc_1")])]
    second = requests.tool_outputs_request(
        record(settings=settings), chain, [{"tool_call_id": "call_1", "output": "x"}]
    )
    for body in (first, second):
        assert conforms({**body, "input": []}, "CreateResponse") == []
    # A user message fits two alternatives of InputItem's oneOf (EasyInputMessage and Item's InputMessage,
    # which the description tells apart by a discriminator the checker does not read): each on its own.
    assert [conforms(item, "EasyInputMessage") for item in first["input"]] == [[]]
    assert [conforms(item, "InputItem") for item in second["input"]] == [[]]


# ---- the run of a chain --------------------------------------------------------------------------


REQUIRES = [response("resp_1", output=[call_item("call_1", "fc_1"), call_item("call_2", "fc_2")])]
STATUSES = [
    ("no response yet", {}, [], "queued"),
    ("queued", {}, [response("resp_1", "queued", usage=None)], "queued"),
    ("in_progress", {}, [response("resp_1", "in_progress", usage=None)], "in_progress"),
    (
        "cancel asked, in flight",
        {"cancel_requested_at": T0 + 5},
        [response("resp_1", "in_progress", usage=None)],
        "cancelling",
    ),
    ("completed with a message", {}, [response("resp_1", output=[text_item()])], "completed"),
    ("completed with calls unanswered", {}, REQUIRES, "requires_action"),
    (
        "completed with calls answered",
        {"tool_outputs": {"call_1": "a", "call_2": "b"}},
        REQUIRES,
        "completed",
    ),
    ("cancel asked while waiting for outputs", {"cancel_requested_at": T0 + 5}, REQUIRES, "cancelled"),
    ("cancelled", {"cancel_requested_at": T0 + 5}, [response("resp_1", "cancelled")], "cancelled"),
    (
        "failed",
        {},
        [response("resp_1", "failed", error={"code": "server_error", "message": "boom"})],
        "failed",
    ),
    (
        "incomplete",
        {},
        [response("resp_1", "incomplete", incomplete_details={"reason": "max_output_tokens"})],
        "incomplete",
    ),
    ("expired waiting for outputs", {"expires_at": T0 + 600}, REQUIRES, "expired"),
    (
        "expired in flight",
        {"expires_at": T0 + 600},
        [response("resp_1", "in_progress", usage=None)],
        "expired",
    ),
    (
        "expired, its response cancelled for it",
        {"expires_at": T0 + 600},
        [response("resp_1", "cancelled")],
        "expired",
    ),
    (
        "not expired once completed",
        {"expires_at": T0 + 600},
        [response("resp_1", output=[text_item()])],
        "completed",
    ),
    (
        "over its prompt tokens before the next leg",
        {"settings": effective_settings(ASSISTANT, {"max_prompt_tokens": 300})},
        REQUIRES,
        "incomplete",
    ),
]


@pytest.mark.parametrize(("case", "fields", "chain", "status"), STATUSES, ids=[case[0] for case in STATUSES])
def test_the_run_status_follows_the_chain(case: str, fields: JSON, chain: list[JSON], status: str) -> None:
    run = mapping.run_object(record(**fields), chain, now=T0 + 700)
    assert run["status"] == status
    message = strictly({"run": run}, _run_response())
    assert message.run.status != v2.RUN_STATUS_UNSPECIFIED
    assert (run["required_action"] is not None) == (status == "requires_action")
    assert (run["usage"] is not None) == (status in mapping.TERMINAL_RUN)
    if status in mapping.TERMINAL_RUN:
        assert run["expires_at"] is None
    if status != "queued":
        assert conforms(run, "RunObject") == []


def _run_response() -> Any:
    from runs_gateway.assistants.v2 import runs_service_pb2

    return runs_service_pb2.GetRunResponse


def test_requires_action_lists_the_unanswered_calls() -> None:
    run = mapping.run_object(record(tool_outputs={"call_1": "done"}), REQUIRES, now=T0)
    assert run["required_action"] == {
        "type": "submit_tool_outputs",
        "submit_tool_outputs": {
            "tool_calls": [
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ]
        },
    }
    assert strictly(run, v2.Run).required_action.submit_tool_outputs.tool_calls[0].id == "call_2"


ERRORS = [
    ("server_error", "server_error", "boom"),
    ("rate_limit_exceeded", "rate_limit_exceeded", "boom"),
    ("invalid_prompt", "invalid_prompt", "boom"),
    ("image_too_large", "invalid_prompt", "image_too_large: boom"),
    ("invalid_base64_image", "invalid_prompt", "invalid_base64_image: boom"),
    ("bio_policy", "invalid_prompt", "bio_policy: boom"),
    ("vector_store_timeout", "server_error", "vector_store_timeout: boom"),
    ("something_new", "server_error", "something_new: boom"),
]


@pytest.mark.parametrize(("code", "mapped", "message"), ERRORS)
def test_a_failed_response_is_a_failed_run_with_an_assistants_code(
    code: str, mapped: str, message: str
) -> None:
    chain = [response("resp_1", "failed", error={"code": code, "message": "boom"})]
    run = mapping.run_object(record(ended_at=T0 + 9), chain, now=T0 + 10)
    assert run["last_error"] == {"code": mapped, "message": message}
    assert run["failed_at"] == T0 + 9
    assert strictly(run, v2.Run).last_error.code != v2.LAST_ERROR_CODE_UNSPECIFIED


INCOMPLETE = [
    ("max_output_tokens", "max_completion_tokens", v2.INCOMPLETE_REASON_MAX_COMPLETION_TOKENS),
    ("content_filter", "content_filter", v2.INCOMPLETE_REASON_UNSPECIFIED),  # no run reason says it
]


@pytest.mark.parametrize(("reason", "mapped", "number"), INCOMPLETE)
def test_an_incomplete_response_is_an_incomplete_run(reason: str, mapped: str, number: int) -> None:
    chain = [
        response(
            "resp_1",
            "incomplete",
            output=[text_item(status="incomplete")],
            incomplete_details={"reason": reason},
        )
    ]
    run = mapping.run_object(record(), chain, now=T0)
    assert run["incomplete_details"] == {"reason": mapped}
    assert convert.to_message(run, v2.Run).incomplete_details.reason == number


def test_a_run_over_its_completion_tokens_ends_incomplete_instead_of_asking_for_outputs() -> None:
    settings = effective_settings(ASSISTANT, {"max_completion_tokens": 256})
    chain = [response("resp_1", output=[call_item("call_1", "fc_1")], usage=(10, 256))]
    run = mapping.run_object(record(settings=settings), chain, now=T0)
    assert (run["status"], run["incomplete_details"]) == ("incomplete", {"reason": "max_completion_tokens"})


def test_usage_is_summed_over_the_chain() -> None:
    chain = [
        response("resp_1", output=[call_item("call_1", "fc_1")], usage=(100, 10)),
        response("resp_2", output=[call_item("call_2", "fc_2")], usage=(150, 20), created_at=T0 + 10),
        response("resp_3", output=[text_item()], usage=(200, 30), created_at=T0 + 20),
    ]
    run = mapping.run_object(
        record(responses=("resp_1", "resp_2", "resp_3"), tool_outputs={"call_1": "a", "call_2": "b"}),
        chain,
        now=T0,
    )
    assert run["usage"] == {"prompt_tokens": 450, "completion_tokens": 60, "total_tokens": 510}
    assert (run["status"], run["started_at"], run["completed_at"]) == ("completed", T0, T0 + 21)


def test_the_run_echoes_its_settings() -> None:
    settings = effective_settings(
        ASSISTANT,
        {
            "metadata": {"k": "v"},
            "top_p": 0.3,
            "max_prompt_tokens": 2000,
            "max_completion_tokens": 1000,
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "parallel_tool_calls": False,
            "response_format": {"type": "json_object"},
        },
    )
    run = mapping.run_object(record(settings=settings), [response("resp_1", output=[text_item()])], now=T0)
    echoed = {name: run[name] for name in settings if name in run}
    assert echoed == {name: settings[name] for name in echoed}
    assert {"model", "instructions", "tools", "metadata", "temperature", "top_p", "tool_choice"} <= set(
        echoed
    )
    message = strictly(run, v2.Run)
    assert (message.model, message.instructions, message.tools[0].function.name) == (
        "gpt-4o",
        "You answer about the weather.",
        "get_weather",
    )
    assert (message.max_prompt_tokens, message.tool_choice.tool.function.name) == (2000, "get_weather")
    assert message.response_format.object.type == v2.RESPONSE_FORMAT_TYPE_JSON_OBJECT


def test_a_run_record_survives_json() -> None:
    run = record(tool_outputs={"call_1": "x"}, cancel_requested_at=T0, include=(FILE_SEARCH_CONTENT,))
    text = json.dumps(run.to_json())
    assert RunRecord.from_json(json.loads(text)) == run
    assert run.with_response("resp_2").responses == ("resp_1", "resp_2")
    with pytest.raises(ValueError, match="unknown fields"):
        RunRecord.from_json({**run.to_json(), "new": 1})


# ---- steps ---------------------------------------------------------------------------------------


def _search_item() -> JSON:
    results = [{"file_id": "file_9", "filename": "a.pdf", "score": 0.8, "text": "snow", "attributes": {}}]
    return {
        "type": "file_search_call",
        "id": "fs_1",
        "status": "completed",
        "queries": ["snow"],
        "results": results,
    }


def _code_item() -> JSON:
    outputs = [{"type": "logs", "logs": "2\n"}, {"type": "image", "url": "https://x/plot.png"}]
    return {
        "type": "code_interpreter_call",
        "id": "ci_1",
        "status": "completed",
        "container_id": "cntr_1",
        "code": "print(1+1)",
        "outputs": outputs,
    }


CHAIN = [
    response(
        "resp_1",
        output=[
            {"type": "reasoning", "id": "rs_1", "summary": []},
            _search_item(),
            call_item("call_1", "fc_1"),
            call_item("call_2", "fc_2"),
        ],
        usage=(100, 10),
    ),
    response(
        "resp_2", output=[_code_item(), text_item("msg_2", "It snows.")], usage=(150, 20), created_at=T0 + 10
    ),
]


def test_steps_of_a_chain() -> None:
    run = record(responses=("resp_1", "resp_2"), tool_outputs={"call_1": "-2C", "call_2": "-3C"})
    steps = run_steps(run, CHAIN)
    assert [(s["type"], s["status"]) for s in steps] == [
        ("tool_calls", "completed"),
        ("tool_calls", "completed"),
        ("message_creation", "completed"),
    ]
    first = steps[0]["step_details"]["tool_calls"]
    assert [call["type"] for call in first] == ["file_search", "function", "function"]
    assert first[1] == {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}', "output": "-2C"},
    }
    assert first[0]["file_search"]["results"] == [{"file_id": "file_9", "file_name": "a.pdf", "score": 0.8}]
    assert steps[1]["step_details"]["tool_calls"][0]["code_interpreter"] == {
        "input": "print(1+1)",
        "outputs": [{"type": "logs", "logs": "2\n"}],
    }
    assert steps[2]["step_details"]["message_creation"] == {"message_id": "msg_2"}
    assert steps[0]["completed_at"] == T0 + 10  # when the outputs went up: the next leg's creation
    assert steps[2]["completed_at"] == T0 + 11  # a message: with its response
    assert [s["usage"] for s in steps] == [
        {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
        None,
        {"prompt_tokens": 150, "completion_tokens": 20, "total_tokens": 170},
    ]
    for step in steps:
        message = strictly(step, v2.RunStep)
        assert message.status != v2.RUN_STEP_STATUS_UNSPECIFIED
        assert conforms(step, "RunStepObject") == []


def test_file_search_content_only_when_included() -> None:
    run = record(include=(FILE_SEARCH_CONTENT,))
    steps = run_steps(run, [response("resp_1", output=[_search_item(), text_item()])])
    result = steps[0]["step_details"]["tool_calls"][0]["file_search"]["results"][0]
    assert result["content"] == [{"type": "text", "text": "snow"}]
    assert (
        strictly(steps[0], v2.RunStep).step_details.tool_calls[0].file_search.results[0].content[0].text
        == "snow"
    )


def test_step_ids_are_stable_across_reads_records_and_processes() -> None:
    run = record(responses=("resp_1", "resp_2"), tool_outputs={"call_1": "a", "call_2": "b"})
    again = RunRecord.from_json(json.loads(json.dumps(run.to_json())))
    ids = [step["id"] for step in run_steps(run, CHAIN)]
    assert ids == [step["id"] for step in run_steps(again, json.loads(json.dumps(CHAIN)))]
    assert ids[0] == step_id("resp_1", "fs_1")  # named by its first item, whatever came before
    assert len(set(ids)) == len(ids)
    # A step keeps its id while the chain grows: the first leg alone gives it the same.
    assert run_steps(record(), CHAIN[:1])[0]["id"] == ids[0]


STEP_STATUSES = [
    ("waiting for outputs", {}, REQUIRES, "in_progress"),
    (
        "outputs in, next leg begun",
        {"tool_outputs": {"call_1": "a", "call_2": "b"}},
        [*REQUIRES, response("resp_2", "queued", usage=None)],
        "completed",
    ),
    ("cancelled while waiting", {"cancel_requested_at": T0 + 3}, REQUIRES, "cancelled"),
    ("expired while waiting", {"expires_at": T0 + 600}, REQUIRES, "expired"),
    (
        "message in flight",
        {},
        [response("resp_1", "in_progress", output=[text_item(status="in_progress")], usage=None)],
        "in_progress",
    ),
    (
        "message of a cancelled response",
        {},
        [response("resp_1", "cancelled", output=[text_item(status="in_progress")])],
        "cancelled",
    ),
    (
        "message of a failed response",
        {},
        [
            response(
                "resp_1",
                "failed",
                output=[text_item(status="in_progress")],
                error={"code": "rate_limit_exceeded", "message": "slow"},
            )
        ],
        "failed",
    ),
    (
        "message of an incomplete response",
        {},
        [response("resp_1", "incomplete", output=[text_item(status="incomplete")])],
        "completed",
    ),
]


@pytest.mark.parametrize(
    ("case", "fields", "chain", "status"), STEP_STATUSES, ids=[c[0] for c in STEP_STATUSES]
)
def test_step_statuses(case: str, fields: JSON, chain: list[JSON], status: str) -> None:
    steps = run_steps(record(responses=tuple(r["id"] for r in chain), **fields), chain, now=T0 + 700)
    assert steps[0]["status"] == status
    assert (
        (steps[0][f"{status}_at"] is not None)
        if status in ("completed", "cancelled", "failed", "expired")
        else True
    )
    if status == "failed":
        assert steps[0]["last_error"] == {"code": "rate_limit_exceeded", "message": "slow"}
    strictly(steps[0], v2.RunStep)


def test_steps_are_paged_in_either_order_with_cursors() -> None:
    run = record(responses=("resp_1", "resp_2"), tool_outputs={"call_1": "a", "call_2": "b"})
    steps = run_steps(run, CHAIN)
    ids = [step["id"] for step in steps]
    newest = step_page(steps, limit=2)
    assert [s["id"] for s in newest["data"]] == ids[::-1][:2]
    assert newest["has_more"] is True
    assert newest["last_id"] == ids[1]
    rest = step_page(steps, limit=2, after=newest["last_id"])
    assert [s["id"] for s in rest["data"]] == [ids[0]]
    assert rest["has_more"] is False
    assert [s["id"] for s in step_page(steps, order="asc", after=ids[0])["data"]] == ids[1:]
    assert [s["id"] for s in step_page(steps, order="asc", before=ids[2])["data"]] == ids[:2]
    assert step_page(steps, after="step_unknown")["data"] == []
    from runs_gateway.assistants.v2 import runs_service_pb2

    page = {key: value for key, value in newest.items() if key != "object"}  # REST's "list", no field
    assert len(strictly(page, runs_service_pb2.ListRunStepsPageResponse).data) == 2
    assert conforms(newest, "ListRunStepsResponse") == []


def test_a_message_object_of_an_output_item() -> None:
    item = text_item()
    item["content"][0]["annotations"] = [
        {"type": "file_citation", "file_id": "file_9", "index": 4, "filename": "a.pdf"},
        {"type": "url_citation", "url": "https://x", "start_index": 0, "end_index": 1, "title": "x"},
    ]
    item["content"].append({"type": "refusal", "refusal": "No."})
    message = message_object(record(), item, T0, T0 + 1)
    assert message["content"] == [
        {
            "type": "text",
            "text": {
                "value": "Hello there.",
                "annotations": [
                    {
                        "type": "file_citation",
                        "text": "",
                        "file_citation": {"file_id": "file_9"},
                        "start_index": 4,
                        "end_index": 4,
                    }
                ],
            },
        },
        {"type": "refusal", "refusal": "No."},
    ]
    assert (message["status"], message["completed_at"], message["run_id"]) == ("completed", T0 + 1, "run_1")
    strictly(message, v2.Message)
    assert conforms(message, "MessageObject") == []
