"""The emulator speaks Assistants v2 beside v1 on the same paths, chosen by `OpenAI-Beta`, and streams runs.

Shapes side by side, every v2 field, v2's refusal of `retrieval`, `file_search` results and `include[]`,
`additional_messages`, an `incomplete` run; the v2 request shapes (tool_choice, response_format,
truncation_strategy, reasoning_effort, message content parts and attachments, tool options), each accepted
value echoed and each bad one refused with OpenAI's 400; and server-sent events in OpenAI's order, every
event's data valid against the v2 OpenAPI description's schema for that event: a function tool's run
streamed to `requires_action`, the streamed submit to completion, built-in tools, deltas that add up to the
final objects (as the official SDK adds them), the reply's length (`reply_deltas`), no pause between events
at `step_seconds=0`, and the stream faults: an `error` event, an unknown event, a cut in the middle of an
event, and a client leaving mid-stream (over a real socket). SSE is parsed here in a few lines, not with a
library; the schemas are checked by a small OpenAPI 3 walker, as no JSON Schema library is a dependency.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec import Spec, read

from emulator import EmulatorConfig, EmulatorServer, create_app, stream
from emulator.server import parse_config
from emulator.store import RunState, Store
from emulator.versions import FILE_SEARCH_CONTENT, render

KEY = "sk-emulator-test-key-0123456789"
V1 = {"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "assistants=v1"}
V2 = {"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "assistants=v2"}
FUNCTION = {
    "type": "function",
    "function": {"name": "add", "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}},
}
RUN_V2_FIELDS = {
    "id", "object", "created_at", "thread_id", "assistant_id", "status", "required_action", "last_error",
    "expires_at", "started_at", "cancelled_at", "failed_at", "completed_at", "model", "instructions",
    "tools", "metadata", "usage", "incomplete_details", "temperature", "top_p", "max_prompt_tokens",
    "max_completion_tokens", "truncation_strategy", "tool_choice", "parallel_tool_calls", "response_format",
}  # fmt: skip
STEP_FIELDS = {
    "id", "object", "created_at", "assistant_id", "thread_id", "run_id", "type", "status", "step_details",
    "last_error", "expired_at", "cancelled_at", "failed_at", "completed_at", "metadata", "usage",
}  # fmt: skip
MESSAGE_V2_FIELDS = {
    "id", "object", "created_at", "thread_id", "status", "incomplete_details", "completed_at",
    "incomplete_at", "role", "content", "assistant_id", "run_id", "attachments", "metadata",
}  # fmt: skip


@pytest.fixture
async def rest() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(EmulatorConfig(step_seconds=0, api_keys=frozenset({KEY})))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator/v1", headers=V2) as client:
        yield client


async def ok(response: Any, status: int = 200) -> dict[str, Any]:
    answer: httpx.Response = await response
    assert answer.status_code == status, answer.text
    return dict(answer.json())


async def start(rest: httpx.AsyncClient, *tools: dict[str, Any]) -> tuple[str, str]:
    body = {"model": "gpt-4o", "instructions": "Help.", "tools": list(tools)}
    assistant = await ok(rest.post("/assistants", json=body))
    return assistant["id"], (await ok(rest.post("/threads", json={})))["id"]


def parse_sse(raw: str) -> list[tuple[str, str]]:
    """(event, data) of each complete event (a block ending in a blank line; a partial one is not)."""
    events = []
    *blocks, _rest = raw.split("\n\n")
    for block in blocks:
        fields = dict(line.split(": ", 1) for line in block.split("\n") if line)
        events.append((fields["event"], fields["data"]))
    return events


def names(events: Iterable[tuple[str, str]]) -> list[str]:
    return [name for name, _ in events]


def data(events: Iterable[tuple[str, str]], name: str) -> list[dict[str, Any]]:
    """The decoded data of each event called `name`."""
    return [json.loads(text) for event, text in events if event == name]


# The v2 OpenAPI description, beside the repository (../shared): the schema of each object and event.

SPEC_PATH = Path(__file__).resolve().parent.parent.parent / "shared/openapi/openai-openapi-v2-latest.yaml"


@functools.cache
def spec() -> Spec:
    if not SPEC_PATH.is_file():
        pytest.skip(f"OpenAI's OpenAPI description is not at {SPEC_PATH} (it sits beside the repository)")
    return read(SPEC_PATH)


@functools.cache
def event_schemas() -> dict[str, dict[str, Any]]:
    """Each event name of `AssistantStreamEvent` → the schema of its data."""
    found = {}
    for group in map(spec().resolve, spec().schemas["AssistantStreamEvent"]["oneOf"]):
        for variant in map(spec().resolve, group.get("oneOf", [group])):
            found[variant["properties"]["event"]["enum"][0]] = variant["properties"]["data"]
    return found


def assert_spec_events(events: list[tuple[str, str]]) -> None:
    """Every event is one the v2 description has, and its data valid against that event's schema."""
    for name, text in events:
        assert name in event_schemas(), f"{name} is not an event of the v2 description"
        body = text if name == "done" else json.loads(text)
        assert spec().errors(body, event_schemas()[name]) == [], name


def assert_spec(obj: dict[str, Any], schema: str) -> None:
    assert spec().errors(obj, spec().schemas[schema]) == [], schema


async def test_the_same_paths_serve_v1_or_v2_by_the_header(rest: httpx.AsyncClient) -> None:
    assistant, thread = await start(rest, FUNCTION)
    run = await ok(rest.post(f"/threads/{thread}/runs", json={"assistant_id": assistant}))
    path = f"/threads/{thread}/runs/{run['id']}"
    v1, v2 = await ok(rest.get(path, headers=V1)), await ok(rest.get(path))
    assert set(v2) == RUN_V2_FIELDS
    assert set(v1) == RUN_V2_FIELDS - {
        "incomplete_details", "temperature", "top_p", "max_prompt_tokens", "max_completion_tokens",
        "truncation_strategy", "tool_choice", "parallel_tool_calls", "response_format",
    } | {"file_ids"}  # fmt: skip
    assert {k: v for k, v in v1.items() if k in v2} == {k: v for k, v in v2.items() if k in v1}
    assert v2["tools"] == [{**FUNCTION, "function": {**FUNCTION["function"], "strict": False}}]
    listed = await ok(rest.get(f"/threads/{thread}/runs", headers=V1))
    assert "file_ids" in listed["data"][0]
    assert "temperature" not in listed["data"][0]
    assert set((await ok(rest.get(f"/threads/{thread}/runs")))["data"][0]) == RUN_V2_FIELDS
    assert "tool_resources" in await ok(rest.get(f"/threads/{thread}"))
    assert "tool_resources" not in await ok(rest.get(f"/threads/{thread}", headers=V1))
    assert "file_ids" in await ok(rest.get(f"/assistants/{assistant}", headers=V1))


async def test_a_missing_header_is_refused_naming_the_newest_version(rest: httpx.AsyncClient) -> None:
    error = (await ok(rest.get("/threads/thread_1", headers={"OpenAI-Beta": ""}), 400))["error"]
    assert error["code"] == "invalid_beta"
    assert "'OpenAI-Beta: assistants=v2'" in error["message"]


async def test_every_v2_field_of_a_run_request_reaches_the_run(rest: httpx.AsyncClient) -> None:
    assistant, thread = await start(rest)
    settings = {
        "temperature": 0.5,
        "top_p": 0.9,
        "max_prompt_tokens": 1000,
        "max_completion_tokens": 1000,
        "truncation_strategy": {"type": "last_messages", "last_messages": 3},
        "tool_choice": {"type": "function", "function": {"name": "add"}},
        "parallel_tool_calls": False,
        "response_format": {"type": "json_object"},
    }
    body = {
        "assistant_id": assistant,
        "reasoning_effort": "low",
        "additional_messages": [{"role": "user", "content": "What is 1 + 2?"}],
        **settings,
    }
    run = await ok(rest.post(f"/threads/{thread}/runs", json=body))
    assert {k: run[k] for k in settings} == settings
    defaults = await ok(rest.post(f"/threads/{thread}/runs", json={"assistant_id": assistant}))
    assert (defaults["temperature"], defaults["top_p"], defaults["tool_choice"]) == (1.0, 1.0, "auto")
    assert defaults["truncation_strategy"] == {"type": "auto", "last_messages": None}
    assert (defaults["parallel_tool_calls"], defaults["response_format"]) == (True, "auto")
    done = await ok(rest.get(f"/threads/{thread}/runs/{run['id']}"))
    assert (done["status"], done["incomplete_details"]) == ("completed", None)
    messages = (await ok(rest.get(f"/threads/{thread}/messages", params={"order": "asc"})))["data"]
    assert all(set(m) == MESSAGE_V2_FIELDS for m in messages)
    asked, reply = messages[:2]
    assert (asked["role"], asked["content"][0]["text"]["value"], asked["run_id"]) == (
        "user", "What is 1 + 2?", None,
    )  # fmt: skip
    assert (reply["role"], reply["run_id"], reply["status"]) == ("assistant", run["id"], "completed")
    v1 = (await ok(rest.get(f"/threads/{thread}/messages", headers=V1)))["data"][0]
    assert "file_ids" in v1
    assert "attachments" not in v1


async def test_a_run_short_of_completion_tokens_ends_incomplete(rest: httpx.AsyncClient) -> None:
    assistant, thread = await start(rest)
    body = {"assistant_id": assistant, "max_completion_tokens": 256}
    run = await ok(rest.post(f"/threads/{thread}/runs", json=body))
    done = await ok(rest.get(f"/threads/{thread}/runs/{run['id']}"))
    assert (done["status"], done["incomplete_details"]) == ("incomplete", {"reason": "max_completion_tokens"})
    message = (await ok(rest.get(f"/threads/{thread}/messages")))["data"][0]
    assert (message["status"], message["incomplete_details"]) == ("incomplete", {"reason": "max_tokens"})


@pytest.mark.parametrize(
    ("version", "tool", "param"),
    [
        ("v2", {"type": "retrieval"}, "tools[0].type"),
        ("v1", {"type": "file_search"}, "tools[0].type"),
        (
            "v2",
            {"type": "file_search", "file_search": {"max_num_results": 51}},
            "tools[0].file_search.max_num_results",
        ),
        ("v2", {"type": "function", "function": {"name": "f", "strict": "yes"}}, "tools[0].function.strict"),
    ],
)
async def test_tools_a_version_does_not_know_are_400(
    rest: httpx.AsyncClient, version: str, tool: dict[str, Any], param: str
) -> None:
    headers = V1 if version == "v1" else V2
    body = {"model": "gpt-4o", "tools": [tool]}
    error = (await ok(rest.post("/assistants", json=body, headers=headers), 400))["error"]
    assert error["param"] == param
    if tool["type"] == "retrieval":
        assert "file_search" in error["message"]


@pytest.mark.parametrize(
    ("field", "value"), [("stream", True), ("temperature", 1), ("additional_messages", [])]
)
async def test_v1_refuses_v2_request_fields_as_unknown(
    rest: httpx.AsyncClient, field: str, value: Any
) -> None:
    assistant, thread = await start(rest)
    body = {"assistant_id": assistant, field: value}
    error = (await ok(rest.post(f"/threads/{thread}/runs", json=body, headers=V1), 400))["error"]
    assert (error["message"], error["param"]) == (f"Unrecognized request argument supplied: {field}", field)


async def test_file_search_steps_and_include(rest: httpx.AsyncClient) -> None:
    search = {
        "type": "file_search",
        "file_search": {"max_num_results": 5, "ranking_options": {"score_threshold": 0.5}},
    }
    assistant, thread = await start(rest, search)
    tools = (await ok(rest.get(f"/assistants/{assistant}")))["tools"]
    assert tools[0]["file_search"] == {
        "max_num_results": 5,
        "ranking_options": {"ranker": "auto", "score_threshold": 0.5},
    }
    run = await ok(rest.post(f"/threads/{thread}/runs", json={"assistant_id": assistant}))
    path = f"/threads/{thread}/runs/{run['id']}/steps"
    plain = (await ok(rest.get(path, params={"order": "asc"})))["data"]
    assert all(set(s) == STEP_FIELDS for s in plain)
    [call] = plain[0]["step_details"]["tool_calls"]
    assert call["type"] == "file_search"
    assert call["file_search"]["ranking_options"] == {"ranker": "default_2024_08_21", "score_threshold": 0.5}
    results = call["file_search"]["results"]
    assert results
    assert all(set(r) == {"file_id", "file_name", "score"} for r in results)
    included = await ok(rest.get(f"{path}/{plain[0]['id']}", params={"include[]": FILE_SEARCH_CONTENT}))
    contents = [r["content"] for r in included["step_details"]["tool_calls"][0]["file_search"]["results"]]
    assert all(c[0]["type"] == "text" and c[0]["text"] for c in contents)
    bad = await ok(rest.get(path, params={"include[]": "step_details.nothing"}), 400)
    assert bad["error"]["param"] == "include[]"


# Request shapes (v2): each accepted value echoed as sent, each bad one refused with OpenAI's 400.

JSON_SCHEMA = {
    "name": "answer-1",
    "description": "The answer.",
    "schema": {"type": "object", "properties": {"n": {"type": "integer"}}},
    "strict": True,
}


@pytest.mark.parametrize(
    ("field", "value", "echoed"),
    [
        *[("tool_choice", choice, None) for choice in ("none", "auto", "required")],
        ("tool_choice", {"type": "function", "function": {"name": "add"}}, None),
        ("tool_choice", {"type": "file_search"}, None),
        ("tool_choice", {"type": "code_interpreter"}, None),
        ("tool_choice", None, "auto"),
        ("response_format", "auto", None),
        ("response_format", {"type": "text"}, None),
        ("response_format", {"type": "json_object"}, None),
        ("response_format", {"type": "json_schema", "json_schema": {"name": "answer"}}, None),
        ("response_format", {"type": "json_schema", "json_schema": JSON_SCHEMA}, None),
        ("truncation_strategy", {"type": "auto"}, {"type": "auto", "last_messages": None}),
        ("truncation_strategy", {"type": "last_messages", "last_messages": 1}, None),
        ("truncation_strategy", {"type": "last_messages", "last_messages": None}, None),
        ("temperature", 0, None),
        ("temperature", 2, None),
        ("top_p", 0.0, None),
        ("top_p", 1, None),
        ("max_prompt_tokens", 256, None),
        ("max_completion_tokens", 256, None),
        ("parallel_tool_calls", False, None),
    ],
)
async def test_run_settings_are_echoed_as_sent(
    rest: httpx.AsyncClient, field: str, value: Any, echoed: Any
) -> None:
    assistant, thread = await start(rest, FUNCTION)
    run = await ok(rest.post(f"/threads/{thread}/runs", json={"assistant_id": assistant, field: value}))
    assert run[field] == (value if echoed is None else echoed)
    assert_spec(run, "RunObject")


@pytest.mark.parametrize("effort", ["none", "minimal", "low", "medium", "high", "xhigh", "max", None])
async def test_every_reasoning_effort_is_accepted(rest: httpx.AsyncClient, effort: str | None) -> None:
    assistant, thread = await start(rest)
    run = await ok(
        rest.post(f"/threads/{thread}/runs", json={"assistant_id": assistant, "reasoning_effort": effort})
    )
    assert "reasoning_effort" not in run  # the run object has no such field


async def test_run_tools_with_their_options_are_echoed_with_openais_defaults(rest: httpx.AsyncClient) -> None:
    assistant, thread = await start(rest)
    ranking = {"ranker": "default_2024_08_21", "score_threshold": 1}
    tools = [
        {"type": "file_search", "file_search": {"max_num_results": 50, "ranking_options": ranking}},
        {"type": "file_search", "file_search": {"max_num_results": 1}},
        {"type": "function", "function": {**FUNCTION["function"], "strict": True, "description": "Adds."}},
        {"type": "function", "function": {"name": "nothing-to-do_2"}},
        {"type": "code_interpreter"},
    ]
    run = await ok(rest.post(f"/threads/{thread}/runs", json={"assistant_id": assistant, "tools": tools}))
    assert_spec(run, "RunObject")
    assert run["tools"] == [
        tools[0],
        {
            "type": "file_search",
            "file_search": {
                "max_num_results": 1,
                "ranking_options": {"ranker": "auto", "score_threshold": 0.0},
            },
        },
        tools[2],
        {"type": "function", "function": {"name": "nothing-to-do_2", "strict": False}},
        tools[4],
    ]


async def test_additional_messages_in_every_content_shape(rest: httpx.AsyncClient) -> None:
    assistant, thread = await start(rest)
    attachments = [{"file_id": "file-a", "tools": [{"type": "code_interpreter"}, {"type": "file_search"}]}]
    parts = [
        {"type": "text", "text": "Look:"},
        {"type": "image_file", "image_file": {"file_id": "file-img", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
    ]
    asked = [
        {"role": "user", "content": parts, "attachments": attachments, "metadata": {"k": "v"}},
        {"role": "assistant", "content": "Seen.", "attachments": None, "metadata": None},
    ]
    body = {"assistant_id": assistant, "additional_messages": asked}
    await ok(rest.post(f"/threads/{thread}/runs", json=body))
    messages = (await ok(rest.get(f"/threads/{thread}/messages", params={"order": "asc"})))["data"]
    first, second = messages[:2]
    assert first["content"] == [
        {"type": "text", "text": {"value": "Look:", "annotations": []}},
        {"type": "image_file", "image_file": {"file_id": "file-img", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "auto"}},
    ]
    assert (first["role"], first["attachments"], first["metadata"]) == ("user", attachments, {"k": "v"})
    assert second["content"] == [{"type": "text", "text": {"value": "Seen.", "annotations": []}}]
    assert (second["role"], second["attachments"], second["metadata"]) == ("assistant", [], {})
    for message in messages:
        assert_spec(message, "MessageObject")


def message(**fields: Any) -> dict[str, Any]:
    """A run body with one additional message: a user's "Hi", changed by `fields`."""
    return {"additional_messages": [{"role": "user", "content": "Hi", **fields}]}


def content(*parts: Any) -> dict[str, Any]:
    return message(content=list(parts))


def tool(**fields: Any) -> dict[str, Any]:
    return {"tools": [fields]}


def search(**options: Any) -> dict[str, Any]:
    return tool(type="file_search", file_search=options)


def schema_format(**json_schema: Any) -> dict[str, Any]:
    return {"response_format": {"type": "json_schema", "json_schema": json_schema}}


def function(**fields: Any) -> dict[str, Any]:
    return tool(type="function", function={"name": "add", **fields})


def image(kind: str, **fields: Any) -> dict[str, Any]:
    return content({"type": kind, kind: fields})


MISSING, TYPE, VALUE = "missing_required_parameter", "invalid_type", "invalid_value"
M, C = "additional_messages[0]", "additional_messages[0].content[0]"
JS, TS, RO = "response_format.json_schema", "truncation_strategy", "tools[0].file_search.ranking_options"
REFUSED = [
    ({"tool_choice": "sometimes"}, "tool_choice", VALUE),
    ({"tool_choice": 5}, "tool_choice", TYPE),
    ({"tool_choice": {}}, "tool_choice.type", MISSING),
    ({"tool_choice": {"type": "browser"}}, "tool_choice.type", VALUE),
    ({"tool_choice": {"type": "function"}}, "tool_choice.function", MISSING),
    ({"tool_choice": {"type": "function", "function": {}}}, "tool_choice.function.name", MISSING),
    ({"tool_choice": {"type": "function", "function": {"name": 1}}}, "tool_choice.function.name", TYPE),
    ({"response_format": "json"}, "response_format", VALUE),
    ({"response_format": ["auto"]}, "response_format", TYPE),
    ({"response_format": {"type": "xml"}}, "response_format.type", VALUE),
    ({"response_format": {"type": "json_schema"}}, JS, MISSING),
    (schema_format(), f"{JS}.name", MISSING),
    (schema_format(name="a b"), f"{JS}.name", VALUE),
    (schema_format(name="a" * 65), f"{JS}.name", "string_above_max_length"),
    (schema_format(name="a", strict="yes"), f"{JS}.strict", TYPE),
    (schema_format(name="a", schema="{}"), f"{JS}.schema", TYPE),
    (schema_format(name="a", description=1), f"{JS}.description", TYPE),
    ({TS: "auto"}, TS, TYPE),
    ({TS: {"last_messages": 2}}, f"{TS}.type", MISSING),
    ({TS: {"type": "first_messages"}}, f"{TS}.type", VALUE),
    ({TS: {"type": "last_messages", "last_messages": 0}}, f"{TS}.last_messages", "integer_below_min_value"),
    ({TS: {"type": "last_messages", "last_messages": "3"}}, f"{TS}.last_messages", TYPE),
    ({"reasoning_effort": "extreme"}, "reasoning_effort", VALUE),
    ({"reasoning_effort": 1}, "reasoning_effort", TYPE),
    ({"temperature": 2.5}, "temperature", "decimal_above_max_value"),
    ({"temperature": -0.1}, "temperature", "decimal_below_min_value"),
    ({"temperature": "hot"}, "temperature", TYPE),
    ({"temperature": True}, "temperature", TYPE),
    ({"top_p": 1.01}, "top_p", "decimal_above_max_value"),
    ({"max_prompt_tokens": 255}, "max_prompt_tokens", "integer_below_min_value"),
    ({"max_completion_tokens": 100}, "max_completion_tokens", "integer_below_min_value"),
    ({"max_completion_tokens": 300.5}, "max_completion_tokens", TYPE),
    ({"parallel_tool_calls": "yes"}, "parallel_tool_calls", TYPE),
    ({"stream": "yes"}, "stream", TYPE),
    ({"model": 4}, "model", TYPE),
    ({"instructions": ["Help."]}, "instructions", TYPE),
    ({"additional_instructions": {}}, "additional_instructions", TYPE),
    ({"tools": {"type": "code_interpreter"}}, "tools", TYPE),
    ({"tools": [{"type": "code_interpreter"}] * 21}, "tools", "array_above_max_length"),
    (tool(type="function"), "tools[0].function", MISSING),
    (function(strict="yes"), "tools[0].function.strict", TYPE),
    (function(name="add numbers"), "tools[0].function.name", VALUE),
    (function(parameters=[]), "tools[0].function.parameters", TYPE),
    (search(max_num_results=0), "tools[0].file_search.max_num_results", "integer_below_min_value"),
    (search(max_num_results=51), "tools[0].file_search.max_num_results", "integer_above_max_value"),
    (search(ranking_options={"ranker": "best", "score_threshold": 0}), f"{RO}.ranker", VALUE),
    (search(ranking_options={"score_threshold": 1.5}), f"{RO}.score_threshold", "decimal_above_max_value"),
    (search(ranking_options={"ranker": "auto"}), f"{RO}.score_threshold", MISSING),
    ({"additional_messages": {"role": "user"}}, "additional_messages", TYPE),
    ({"additional_messages": ["Hi"]}, M, TYPE),
    (message(role="system"), f"{M}.role", VALUE),
    (message(role=None), f"{M}.role", MISSING),
    (message(content=None), f"{M}.content", MISSING),
    (message(content=5), f"{M}.content", TYPE),
    (message(content=[]), f"{M}.content", "empty_array"),
    (message(name="me"), f"{M}.name", "unknown_parameter"),
    (message(metadata={"k": 1}), f"{M}.metadata", None),
    (content("Hi"), C, TYPE),
    (content({"type": "audio"}), f"{C}.type", VALUE),
    (content({"text": "Hi"}), f"{C}.type", MISSING),
    (content({"type": "text"}), f"{C}.text", MISSING),
    (content({"type": "text", "text": {"value": "Hi"}}), f"{C}.text", TYPE),
    (content({"type": "image_file"}), f"{C}.image_file", MISSING),
    (image("image_file"), f"{C}.image_file.file_id", MISSING),
    (image("image_file", file_id="f", detail="max"), f"{C}.image_file.detail", VALUE),
    (image("image_url", url="a picture"), f"{C}.image_url.url", VALUE),
    (image("image_url", detail="low"), f"{C}.image_url.url", MISSING),
    (message(attachments="file-a"), f"{M}.attachments", TYPE),
    (message(attachments=[{"tools": []}]), f"{M}.attachments[0].file_id", MISSING),
    (message(attachments=[{"file_id": "f"}]), f"{M}.attachments[0].tools", MISSING),
    (
        message(attachments=[{"file_id": "f", "tools": [{"type": "function"}]}]),
        f"{M}.attachments[0].tools[0].type",
        VALUE,
    ),
]


@pytest.mark.parametrize(("fields", "param", "code"), REFUSED, ids=[f"{p}-{c}" for _, p, c in REFUSED])
async def test_bad_run_requests_are_refused_as_openai_does(
    rest: httpx.AsyncClient, fields: dict[str, Any], param: str, code: str | None
) -> None:
    assistant, thread = await start(rest)
    response = rest.post(f"/threads/{thread}/runs", json={"assistant_id": assistant, **fields})
    error = (await ok(response, 400))["error"]
    assert (error["param"], error["code"], error["type"]) == (param, code, "invalid_request_error")
    assert set(error) == {"message", "type", "param", "code"}
    assert param in error["message"] or code == "invalid_value"  # an enum's names its values instead
    # Refused before anything happened: no run, and none of the messages it would have added.
    assert (await ok(rest.get(f"/threads/{thread}/runs")))["data"] == []
    assert (await ok(rest.get(f"/threads/{thread}/messages")))["data"] == []


async def test_an_assistant_takes_the_same_settings(rest: httpx.AsyncClient) -> None:
    fmt = {"type": "json_schema", "json_schema": JSON_SCHEMA}
    body = {"model": "gpt-4o", "temperature": 0.2, "response_format": fmt, "reasoning_effort": "low"}
    assistant = await ok(rest.post("/assistants", json=body))
    assert (assistant["temperature"], assistant["top_p"], assistant["response_format"]) == (0.2, 1.0, fmt)
    assert_spec(assistant, "AssistantObject")
    error = (await ok(rest.post("/assistants", json={"model": "gpt-4o", "top_p": 2}), 400))["error"]
    assert (error["param"], error["code"]) == ("top_p", "decimal_above_max_value")


@pytest.mark.parametrize(
    ("choice", "steps"),
    [
        ("none", ["message_creation"]),
        ("auto", ["code_interpreter", "file_search", "function"]),
        ({"type": "code_interpreter"}, ["code_interpreter", "message_creation"]),
        ({"type": "file_search"}, ["file_search", "message_creation"]),
        ({"type": "function", "function": {"name": "add"}}, ["function"]),
    ],
)
async def test_tool_choice_picks_the_tools_a_run_calls(
    rest: httpx.AsyncClient, choice: Any, steps: list[str]
) -> None:
    assistant, thread = await start(rest, {"type": "code_interpreter"}, {"type": "file_search"}, FUNCTION)
    run = await ok(
        rest.post(f"/threads/{thread}/runs", json={"assistant_id": assistant, "tool_choice": choice})
    )
    listed = (await ok(rest.get(f"/threads/{thread}/runs/{run['id']}/steps", params={"order": "asc"})))[
        "data"
    ]
    details = [s["step_details"] for s in listed]
    kinds = [d["tool_calls"][0]["type"] if d["type"] == "tool_calls" else d["type"] for d in details]
    assert kinds == steps


async def test_include_on_create_run_and_steps(rest: httpx.AsyncClient) -> None:
    assistant, thread = await start(rest, {"type": "file_search"})
    body = {"assistant_id": assistant, "stream": True}
    included = await rest.post(
        f"/threads/{thread}/runs", json=body, params={"include[]": FILE_SEARCH_CONTENT}
    )
    plain = await rest.post(f"/threads/{thread}/runs", json=body)
    for response, shown in ((included, True), (plain, False)):
        step = data(parse_sse(response.text), "thread.run.step.completed")[0]
        results = step["step_details"]["tool_calls"][0]["file_search"]["results"]
        assert all(("content" in result) is shown for result in results)
    bad = rest.post(f"/threads/{thread}/runs", json=body, params={"include[]": "step_details.everything"})
    assert (await ok(bad, 400))["error"]["param"] == "include[]"


async def test_a_streamed_run_to_requires_action_then_a_streamed_submit_to_completion(
    rest: httpx.AsyncClient,
) -> None:
    assistant, thread = await start(rest, FUNCTION)
    response = await rest.post(f"/threads/{thread}/runs", json={"assistant_id": assistant, "stream": True})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    assert names(events) == [
        "thread.run.created", "thread.run.queued", "thread.run.in_progress", "thread.run.step.created",
        "thread.run.step.in_progress", "thread.run.step.delta", "thread.run.step.delta",
        "thread.run.step.delta", "thread.run.requires_action", "done",
    ]  # fmt: skip
    assert events[-1] == ("done", "[DONE]")
    assert response.text.startswith("event: thread.run.created\ndata: {")
    assert_spec_events(events)
    run = json.loads(events[0][1])
    assert (set(run), run["status"]) == (RUN_V2_FIELDS, "queued")
    step = json.loads(events[3][1])
    assert set(step) == STEP_FIELDS
    # As OpenAI's: the step is created before the model writes its calls, which the deltas bring.
    assert step["step_details"] == {"type": "tool_calls", "tool_calls": []}
    deltas = [json.loads(data)["delta"]["step_details"]["tool_calls"][0] for _, data in events[5:8]]
    arguments = "".join(d["function"]["arguments"] for d in deltas)
    waiting = json.loads(events[8][1])
    [call] = waiting["required_action"]["submit_tool_outputs"]["tool_calls"]
    assert (deltas[0]["id"], arguments) == (call["id"], call["function"]["arguments"])

    outputs = {"tool_outputs": [{"tool_call_id": call["id"], "output": "3"}], "stream": True}
    resumed = await rest.post(f"/threads/{thread}/runs/{run['id']}/submit_tool_outputs", json=outputs)
    events = parse_sse(resumed.text)
    assert_spec_events(events)
    kinds = names(events)
    deltas = [json.loads(data) for name, data in events if name == "thread.message.delta"]
    assert len(deltas) >= 3
    finished = json.loads(events[0][1])
    assert (finished["id"], finished["status"]) == (step["id"], "completed")
    assert finished["step_details"]["tool_calls"][0]["function"]["output"] == "3"
    assert kinds == [
        "thread.run.step.completed", "thread.run.queued", "thread.run.in_progress",
        "thread.run.step.created", "thread.run.step.in_progress", "thread.message.created",
        "thread.message.in_progress", *["thread.message.delta"] * len(deltas), "thread.message.completed",
        "thread.run.step.completed", "thread.run.completed", "done",
    ]  # fmt: skip
    message = json.loads(events[kinds.index("thread.message.completed")][1])
    text = "".join(d["delta"]["content"][0]["text"]["value"] for d in deltas)
    assert text == message["content"][0]["text"]["value"]
    assert "3" in text
    assert all(d["id"] == message["id"] and d["object"] == "thread.message.delta" for d in deltas)
    completed = json.loads(events[-2][1])
    assert completed["status"] == "completed"
    assert completed["usage"]["total_tokens"] > 0
    log = (await rest.get("http://emulator/_emulator/requests")).json()
    assert log[-1]["path"].endswith("/submit_tool_outputs")
    assert log[-1]["stream"] == {"events": len(events) - 1, "disconnected": False}


async def test_an_error_fault_ends_the_stream_with_an_error_event(rest: httpx.AsyncClient) -> None:
    assistant, thread = await start(rest, FUNCTION)
    fault = {"method": "POST", "path": "/runs$", "stream_error_after": 3}
    assert (await rest.post("http://emulator/_emulator/faults", json=fault)).status_code == 200
    response = await rest.post(f"/threads/{thread}/runs", json={"assistant_id": assistant, "stream": True})
    events = parse_sse(response.text)
    assert names(events) == ["thread.run.created", "thread.run.queued", "thread.run.in_progress", "error"]
    assert_spec_events(events)
    error = json.loads(events[-1][1])
    assert (error["type"], set(error)) == ("server_error", {"message", "type", "param", "code"})


async def stream_run(rest: httpx.AsyncClient, thread: str, body: dict[str, Any]) -> list[tuple[str, str]]:
    response = await rest.post(f"/threads/{thread}/runs", json={**body, "stream": True})
    assert response.status_code == 200, response.text
    return parse_sse(response.text)


async def test_a_streamed_run_without_tools_in_openais_order(rest: httpx.AsyncClient) -> None:
    assistant, thread = await start(rest)
    events = await stream_run(rest, thread, {"assistant_id": assistant})
    assert names(events) == [
        "thread.run.created", "thread.run.queued", "thread.run.in_progress", "thread.run.step.created",
        "thread.run.step.in_progress", "thread.message.created", "thread.message.in_progress",
        *["thread.message.delta"] * 8, "thread.message.completed", "thread.run.step.completed",
        "thread.run.completed", "done",
    ]  # fmt: skip
    assert_spec_events(events)
    runs = [
        json.loads(text) for name, text in events if name.startswith("thread.run.") and ".step." not in name
    ]
    assert [r["status"] for r in runs] == ["queued", "queued", "in_progress", "completed"]
    [created] = data(events, "thread.message.created")
    assert (created["content"], created["status"]) == ([], "in_progress")
    step = data(events, "thread.run.step.created")[0]
    assert step["step_details"]["message_creation"]["message_id"] == created["id"]
    assert data(events, "thread.run.step.completed")[0]["status"] == "completed"


async def test_built_in_tool_steps_stream_as_openai_writes_them(rest: httpx.AsyncClient) -> None:
    assistant, thread = await start(rest, {"type": "code_interpreter"}, {"type": "file_search"})
    events = await stream_run(rest, thread, {"assistant_id": assistant})
    kinds = names(events)
    assert kinds[3:13] == [
        "thread.run.step.created", "thread.run.step.in_progress", *["thread.run.step.delta"] * 3,
        "thread.run.step.completed", "thread.run.step.created", "thread.run.step.in_progress",
        "thread.run.step.delta", "thread.run.step.completed",
    ]  # fmt: skip
    assert kinds[13:15] == ["thread.run.step.created", "thread.run.step.in_progress"]
    assert kinds[-2:] == ["thread.run.completed", "done"]
    assert_spec_events(events)
    code, search = (
        d["delta"]["step_details"]["tool_calls"] for d in data(events, "thread.run.step.delta")[::3]
    )
    assert code[0]["code_interpreter"] == {"input": "", "outputs": []}
    assert search[0]["file_search"] == {}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK's: the Assistants API is deprecated
async def test_the_official_sdk_adds_the_deltas_up_to_the_final_objects() -> None:
    openai = pytest.importorskip("openai")
    app = create_app(EmulatorConfig(step_seconds=0, reply_deltas=5))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http:
        client = openai.AsyncOpenAI(api_key=KEY, base_url="http://emulator/v1", http_client=http)
        if not hasattr(client.beta, "threads"):
            pytest.skip("this release of the SDK has no Assistants API")
        tools = [{"type": "code_interpreter"}, FUNCTION]
        assistant = await client.beta.assistants.create(model="gpt-4o", instructions="Help.", tools=tools)
        thread = await client.beta.threads.create()
        async with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
            added = [
                s.step_details.model_dump(exclude_unset=True) for s in await stream.get_final_run_steps()
            ]
            run = await stream.get_final_run()
        listed = await client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc")
        assert [without_index(a) for a in added] == [
            s.step_details.model_dump(exclude_unset=True) for s in listed.data
        ]
        [call] = run.required_action.submit_tool_outputs.tool_calls
        async with client.beta.threads.runs.submit_tool_outputs_stream(
            run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "3"}]
        ) as stream:
            [message] = await stream.get_final_messages()
        [stored] = (await client.beta.threads.messages.list(thread.id, limit=1)).data
    assert stored.id == message.id
    assert without_index(message.content[0].model_dump(exclude_unset=True)) == stored.content[0].model_dump()
    assert len(message.content[0].text.value.split()) >= 5


def without_index(value: Any) -> Any:
    """`value` without the `index` keys deltas carry (and the SDK keeps in what it adds up)."""
    if isinstance(value, dict):
        return {k: without_index(v) for k, v in value.items() if k != "index"}
    return [without_index(v) for v in value] if isinstance(value, list) else value


@pytest.mark.parametrize("after", [0, 4])
async def test_an_unknown_event_fault_slips_in_an_event_the_spec_does_not_have(
    rest: httpx.AsyncClient, after: int
) -> None:
    assistant, thread = await start(rest, FUNCTION)
    fault = {"method": "POST", "path": "/runs$", "stream_unknown_after": after}
    assert (await rest.post("http://emulator/_emulator/faults", json=fault)).status_code == 200
    events = await stream_run(rest, thread, {"assistant_id": assistant})
    expected = [
        "thread.run.created", "thread.run.queued", "thread.run.in_progress", "thread.run.step.created",
        "thread.run.step.in_progress", *["thread.run.step.delta"] * 3, "thread.run.requires_action", "done",
    ]  # fmt: skip
    assert names(events) == [*expected[:after], "thread.run.future_event", *expected[after:]]
    assert "thread.run.future_event" not in event_schemas()
    [unknown] = data(events, "thread.run.future_event")
    assert (unknown["object"], unknown["detail"]) == (
        "thread.run.future",
        "an event this client does not know",
    )
    assert unknown["id"].startswith("future_")
    known = [event for event in events if event[0] != "thread.run.future_event"]
    assert_spec_events(known)
    log = (await rest.get("http://emulator/_emulator/requests")).json()
    assert log[-1]["stream"] == {"events": len(events) - 1, "disconnected": False}
    again = await stream_run(rest, thread, {"assistant_id": assistant})  # a fault is used once
    assert "thread.run.future_event" not in names(again)


@contextmanager
def served(step_seconds: float) -> Iterator[tuple[str, httpx.Client, str, str]]:
    """A real emulator's admin URL, a v2 client of it, an assistant with a function tool and a thread."""
    config = EmulatorConfig(step_seconds=step_seconds, api_keys=frozenset({KEY}))
    with EmulatorServer(config) as server, httpx.Client(base_url=server.base_url, headers=V2) as client:
        assistant = client.post("/assistants", json={"model": "gpt-4o", "tools": [FUNCTION]}).json()["id"]
        thread = client.post("/threads", json={}).json()["id"]
        yield server.base_url.removesuffix("/v1") + "/_emulator", client, assistant, thread


def test_a_cut_fault_closes_the_connection_in_the_middle_of_an_event() -> None:
    with served(0) as (admin, client, assistant, thread):
        client.post(f"{admin}/faults", json={"path": "/runs$", "stream_cut_after": 2}).raise_for_status()
        received = b""
        body = {"assistant_id": assistant, "stream": True}
        with (
            pytest.raises(httpx.RemoteProtocolError),
            client.stream("POST", f"/threads/{thread}/runs", json=body) as response,
        ):
            for chunk in response.iter_bytes():
                received += chunk
    text = received.decode()
    assert names(parse_sse(text)) == ["thread.run.created", "thread.run.queued"]
    assert text.split("\n\n")[-1].startswith("event: thread.run.in_progress\ndata: {")


def test_a_client_leaving_mid_stream_is_noticed() -> None:
    # Half a second between events keeps the stream open while the client goes.
    with served(0.5) as (admin, client, assistant, thread):
        body = {"assistant_id": assistant, "stream": True}
        with client.stream("POST", f"/threads/{thread}/runs", json=body) as response:
            assert next(response.iter_lines()) == "event: thread.run.created"
        deadline = time.monotonic() + 30
        while (streams := client.get(f"{admin}/streams").json()) != {
            "open": 0, "finished": 0, "disconnected": 1,
        }:  # fmt: skip
            assert time.monotonic() < deadline, streams
            time.sleep(0.05)
        entry = client.get(f"{admin}/requests").json()[-1]
        assert entry["stream"]["disconnected"] is True
        assert entry["stream"]["events"] < 10


async def streamed_reply(config: EmulatorConfig) -> tuple[list[str], str]:
    """The texts of a streamed run's `thread.message.delta`s, and the completed message's text."""
    app = create_app(config)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator/v1", headers=V2) as rest:
        assistant, thread = await start(rest)
        body = {"assistant_id": assistant, "stream": True}
        events = parse_sse((await rest.post(f"/threads/{thread}/runs", json=body)).text)
        listed = (await ok(rest.get(f"/threads/{thread}/messages")))["data"][0]
    deltas = [json.loads(data)["delta"] for name, data in events if name == "thread.message.delta"]
    [completed] = [json.loads(data) for name, data in events if name == "thread.message.completed"]
    assert completed["content"] == listed["content"]
    return [d["content"][0]["text"]["value"] for d in deltas], completed["content"][0]["text"]["value"]


@pytest.mark.parametrize("deltas", [1, 2, 8, 9, 200])
async def test_reply_deltas_sets_how_many_deltas_write_the_reply(deltas: int) -> None:
    pieces, text = await streamed_reply(EmulatorConfig(step_seconds=0, reply_deltas=deltas))
    assert len(pieces) == deltas
    assert all(pieces)
    assert "".join(pieces) == text
    assert text.startswith("Hello from the emulator")


async def test_by_default_the_reply_is_written_one_word_a_delta() -> None:
    pieces, text = await streamed_reply(EmulatorConfig(step_seconds=0))
    assert pieces == ["Hello ", "from ", "the ", "emulator, ", "here ", "is ", "the ", "answer."]
    assert text == "Hello from the emulator, here is the answer."


def test_the_reply_deltas_flag() -> None:
    assert parse_config(["--reply-deltas", "40", "--step-seconds", "0"]).reply_deltas == 40
    assert parse_config([]).reply_deltas == 0
    with pytest.raises(SystemExit):
        parse_config(["--reply-deltas", "-1"])
    with pytest.raises(ValueError, match="reply_deltas"):
        EmulatorConfig(reply_deltas=-1)


def test_with_step_seconds_0_a_stream_never_pauses_between_events() -> None:
    # Each event is driven by hand: an `await` that suspended (a sleep, even of 0) would hand control back
    # here before the event is ready, which the loop refuses. No clock is read, so no machine is too slow.
    store = EmulatorConfig(step_seconds=0, reply_deltas=500).new_store()
    assistant = store.create_assistant({"model": "gpt-4o", "tools": [FUNCTION]}, "v2")
    thread = store.create_thread({})["id"]
    state = store.create_run(thread, {"assistant_id": assistant["id"]}, "v2", stream=True)
    assert names(parse_sse(drive(store, state)))[-2:] == ["thread.run.requires_action", "done"]
    [call] = state.obj["required_action"]["submit_tool_outputs"]["tool_calls"]
    outputs = {"tool_outputs": [{"tool_call_id": call["id"], "output": "3"}]}
    state = store.submit_tool_outputs(thread, state.obj["id"], outputs, "v2", stream=True)
    kinds = names(parse_sse(drive(store, state)))
    assert (kinds.count("thread.message.delta"), kinds[-2:]) == (500, ["thread.run.completed", "done"])


def drive(store: Store, state: RunState) -> str:
    """A run's whole stream, each event taken without letting its generator suspend."""
    chunks = stream.events(store, state, frozenset(), stream.StreamFault(), lambda: None)
    received = b""
    while True:
        step = chunks.__anext__()
        try:
            step.send(None)
        except StopIteration as ready:
            received += ready.value
            continue
        except StopAsyncIteration:
            return received.decode()
        step.close()
        raise AssertionError(f"the stream paused after {received.count(b'event: ')} events")


def test_a_run_cancelled_while_streamed_records_openais_events() -> None:
    # A hand-turned clock: each transition happens when the test says, not when a machine gets to it.
    clock = [0.0]
    store = Store(step_seconds=1, clock=lambda: clock[0])
    assistant = store.create_assistant(
        {"model": "gpt-4o", "instructions": "Help.", "tools": [FUNCTION]}, "v2"
    )
    thread = store.create_thread({})["id"]
    state = store.create_run(thread, {"assistant_id": assistant["id"]}, "v2", stream=True)
    clock[0] = 2
    store.advance(state)
    store.cancel_run(thread, state.obj["id"])
    clock[0] = 3
    store.advance(state)
    events = [(name, json.dumps(render(obj, "v2"))) for name, obj in state.events or []]
    assert names(events)[-4:] == [
        "thread.run.requires_action", "thread.run.cancelling", "thread.run.step.cancelled",
        "thread.run.cancelled",
    ]  # fmt: skip
    assert_spec_events(events)
