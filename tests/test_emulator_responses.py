"""The emulator's Responses and Conversations APIs over real sockets, driven by openai-python's own
`client.responses` and `client.conversations` (sync and async) and by raw httpx where the SDK hides the wire.

A conversation's lifecycle and its items; a response through function calls and back, with
`previous_response_id` or in a conversation (whose items it writes in order); tool_choice and
parallel_tool_calls; built-in tools and `include`; `text.format`; `incomplete` and `failed` responses;
`store: false`; background responses polled through queued / in_progress / completed, cancelled, and
streamed, left, and read again with `starting_after`; streamed events in OpenAI's order with sequence
numbers, a text rebuilt from its deltas; OpenAI's errors; the admin API's log and faults on the new paths.
Every answer and event is checked against the OpenAPI description's schema (`tests/openapi_spec.py`;
skipped with the reason when ../shared is absent).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import openai
import pytest
from test_emulator_v2 import SPEC_PATH, parse_sse, spec

from emulator import EmulatorConfig, EmulatorServer

KEY = "sk-emulator-test-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
ADD = {
    "type": "function",
    "name": "add",
    "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}},
}
WEATHER = {"type": "function", "name": "weather", "parameters": {"type": "object", "properties": {}}}
MESSAGE_EVENTS = [
    "response.output_item.added",
    "response.content_part.added",
    *["response.output_text.delta"] * 8,
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
]
"""A message item's events, its reply (the emulator's, of 8 words) one delta a word."""
DESCRIPTION_GAPS = {
    "$.user: null": "the server writes null for the deprecated `user`; the description types it a string",
    "$.usage: null": "a response that has not ended has no usage yet; the description does not say null",
}
"""Where the server's answers (and so the emulator's) leave the description, and why."""


class Served:
    """A real emulator: its admin URL, a raw client, and openai-python's sync client of it."""

    def __init__(self, server: EmulatorServer) -> None:
        self.admin = server.root_url + "/_emulator"
        self.base_url = server.base_url
        self.http = httpx.Client(base_url=server.base_url, headers=AUTH, timeout=30)
        self.sdk = openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0)

    def aio(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=self.base_url, api_key=KEY, max_retries=0)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.http.post(path, json=body)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def events(self, path: str, body: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The events of a stream (POST with `body`, else GET), each checked against its schema."""
        method = "GET" if body is None else "POST"
        with self.http.stream(method, path, json=body) as answer:
            assert answer.headers["content-type"].startswith("text/event-stream")
            found = [(name, json.loads(data)) for name, data in parse_sse(answer.read().decode())]
        assert all(name == event["type"] for name, event in found)
        for _, event in found:
            assert_event(event)
        return [event for _, event in found]


@contextmanager
def served(step_seconds: float = 0, **fields: Any) -> Iterator[Served]:
    config = EmulatorConfig(step_seconds=step_seconds, api_keys=frozenset({KEY}), **fields)
    with EmulatorServer(config) as server:
        emulator = Served(server)
        try:
            yield emulator
        finally:
            emulator.http.close()
            emulator.sdk.close()


@pytest.fixture(scope="module")
def emulator() -> Iterator[Served]:
    with served() as running:
        yield running


# The OpenAPI description, beside the repository: the schema of each answer and event.


@functools.cache
def event_schemas() -> dict[str, dict[str, Any]]:
    """Each event `type` of `ResponseStreamEvent` → its schema."""
    found = {}
    for member in spec().schemas["ResponseStreamEvent"]["anyOf"]:
        found[spec().resolve(member)["properties"]["type"]["enum"][0]] = member
    return found


def gaps(errors: list[str]) -> list[str]:
    """`errors` less the known gaps between the description and the server (at any depth)."""
    return [e for e in errors if not any(e.endswith(gap.removeprefix("$")) for gap in DESCRIPTION_GAPS)]


def assert_spec(value: Any, schema: str) -> None:
    """`value` is valid against the description's `schema` (where the description is at hand: without it,
    `test_the_description_is_at_hand` says so, skipped, and the behaviour is still tested)."""
    if not SPEC_PATH.is_file():
        return
    assert gaps(spec().errors(value, spec().schemas[schema])) == [], schema


def assert_event(event: dict[str, Any]) -> None:
    if event["type"] == "response.future_event" or not SPEC_PATH.is_file():
        return  # the unknown event a fault slips in, or no description to check against
    assert event["type"] in event_schemas(), f"{event['type']} is not an event of the description"
    assert gaps(spec().errors(event, event_schemas()[event["type"]])) == [], event["type"]


def raw(response: Any) -> dict[str, Any]:
    """What the server sent for an SDK object."""
    return dict(response.model_dump(mode="json", exclude_unset=True))


def types(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


def wait_for(condition: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the emulator never got there"
        time.sleep(0.02)


def test_the_description_is_at_hand() -> None:
    """Skipped where ../shared is absent: the answers' and events' schemas are then not checked."""
    assert {"Response", "ConversationResource", "ConversationItemList"} <= set(spec().schemas)
    assert {"response.created", "response.output_text.delta", "error"} <= set(event_schemas())


# Conversations.


def test_a_conversation_is_created_read_updated_and_deleted(emulator: Served) -> None:
    sdk = emulator.sdk
    items = [
        {"type": "message", "role": "user", "content": "Hello?"},
        {"role": "assistant", "content": "Hi."},
    ]
    conversation = sdk.conversations.create(metadata={"topic": "demo"}, items=items)
    assert conversation.id.startswith("conv_")
    assert (conversation.object, conversation.metadata) == ("conversation", {"topic": "demo"})
    assert_spec(raw(conversation), "ConversationResource")
    assert sdk.conversations.retrieve(conversation.id) == conversation
    updated = sdk.conversations.update(conversation.id, metadata={"topic": "other"})
    assert updated.metadata == {"topic": "other"}
    deleted = sdk.conversations.delete(conversation.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (conversation.id, True, "conversation.deleted")
    assert_spec(raw(deleted), "DeletedConversationResource")
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.conversations.retrieve(conversation.id)
    assert caught.value.body == {
        "message": f"Conversation with id '{conversation.id}' not found.",
        "type": "invalid_request_error", "param": None, "code": None,
    }  # fmt: skip


def test_a_conversations_items_are_added_listed_read_and_deleted(emulator: Served) -> None:
    items = emulator.sdk.conversations.items
    conversation = emulator.sdk.conversations.create(items=[{"role": "user", "content": "one"}])
    added = items.create(conversation.id, items=[{"role": "user", "content": t} for t in ("two", "three")])
    assert [item.content[0].text for item in added.data] == ["two", "three"]
    assert_spec(raw(added), "ConversationItemList")
    listed = items.list(conversation.id)  # newest first, as OpenAI lists them
    texts = [item.content[0].text for item in listed.data]
    assert texts == ["three", "two", "one"]
    assert_spec(raw(listed), "ConversationItemList")
    first = items.list(conversation.id, order="asc", limit=1)
    assert (len(first.data), first.has_more) == (1, True)
    rest = items.list(conversation.id, order="asc", after=first.data[0].id)
    assert [item.id for item in rest.data] == [listed.data[1].id, listed.data[0].id]
    one = items.retrieve(listed.data[1].id, conversation_id=conversation.id)
    assert raw(one) == {
        "id": listed.data[1].id, "type": "message", "status": "completed", "role": "user",
        "content": [{"type": "input_text", "text": "two"}],
    }  # fmt: skip
    assert items.delete(one.id, conversation_id=conversation.id).id == conversation.id  # the conversation
    assert [item.id for item in items.list(conversation.id).data] == [listed.data[0].id, listed.data[2].id]
    with pytest.raises(openai.NotFoundError, match=f"Item with id '{one.id}' not found."):
        items.retrieve(one.id, conversation_id=conversation.id)


# Responses: the deterministic model.


def test_a_response_asks_for_its_functions_then_answers_with_their_outputs(emulator: Served) -> None:
    sdk = emulator.sdk
    asked = sdk.responses.create(model="gpt-4o", input="What is 1 + 2?", tools=[ADD, WEATHER])
    assert (asked.status, asked.error, asked.incomplete_details) == ("completed", None, None)
    assert [(item.type, item.status) for item in asked.output] == [("function_call", "completed")] * 2
    calls = asked.output
    assert [(c.name, c.arguments) for c in calls] == [("add", '{"a": 1, "b": 1}'), ("weather", "{}")]
    assert all(c.id.startswith("fc_") and c.call_id.startswith("call_") for c in calls)
    assert asked.tools[0].strict is True  # a Responses function is strict by default
    assert_spec(raw(asked), "Response")
    outputs = [
        {"type": "function_call_output", "call_id": call.call_id, "output": value}
        for call, value in zip(calls, ("3", "sunny"), strict=True)
    ]
    answered = sdk.responses.create(
        model="gpt-4o",
        input=outputs,
        tools=[ADD, WEATHER],
        previous_response_id=asked.id,
    )
    assert answered.status == "completed"
    [message] = answered.output
    assert (message.type, message.role, message.status) == ("message", "assistant", "completed")
    assert answered.output_text == "The tools answered 3, sunny, so that is the answer."
    assert answered.previous_response_id == asked.id
    assert answered.completed_at is not None
    assert answered.completed_at >= answered.created_at
    usage = answered.usage
    assert usage is not None
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens > 0
    assert_spec(raw(answered), "Response")


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        pytest.param({"parallel_tool_calls": False}, ["add"], id="one-call-at-a-time"),
        pytest.param({"tool_choice": "none"}, ["message"], id="tool-choice-none"),
        pytest.param({"tool_choice": {"type": "function", "name": "weather"}}, ["weather"], id="named"),
        pytest.param({"tool_choice": "required"}, ["add", "weather"], id="required"),
    ],
)
def test_tool_choice_and_parallel_tool_calls_decide_the_calls(
    emulator: Served, settings: dict[str, Any], expected: list[str]
) -> None:
    body = {"model": "gpt-4o", "input": "Go.", "tools": [ADD, WEATHER], **settings}
    response = emulator.post("/responses", body)
    assert [item.get("name", item["type"]) for item in response["output"]] == expected
    assert {k: response[k] for k in settings} == settings


def test_built_in_tools_write_their_calls_and_include_shows_their_details(emulator: Served) -> None:
    tools = [
        {"type": "file_search", "vector_store_ids": ["vs_1"]},
        {"type": "code_interpreter", "container": {"type": "auto"}},
    ]
    body = {"model": "gpt-4o", "input": "Look it up.", "tools": tools}
    plain = emulator.post("/responses", body)
    assert [item["type"] for item in plain["output"]] == [
        "file_search_call",
        "code_interpreter_call",
        "message",
    ]
    search, code, _ = plain["output"]
    assert (search["queries"], search["results"], code["outputs"]) == (["Look it up."], None, None)
    assert code["code"] == "print(1 + 1)"
    include = ["file_search_call.results", "code_interpreter_call.outputs"]
    full = emulator.post("/responses", {**body, "include": include})
    assert [r["filename"] for r in full["output"][0]["results"]] == ["notes-0.txt", "notes-1.txt"]
    assert full["output"][1]["outputs"] == [{"type": "logs", "logs": "2\n"}]
    assert_spec(full, "Response")


def test_text_format_asks_for_json(emulator: Served) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}}
    fmt = {"type": "json_schema", "name": "trip", "schema": schema}
    answered = emulator.sdk.responses.create(model="gpt-4o", input="Plan.", text={"format": fmt})
    assert json.loads(answered.output_text) == {"city": "example", "days": 1}
    answered = emulator.sdk.responses.create(
        model="gpt-4o", input="Plan.", text={"format": {"type": "json_object"}}
    )
    assert json.loads(answered.output_text) == {"answer": "Hello from the emulator, here is the answer."}


def test_a_response_short_of_output_tokens_ends_incomplete(emulator: Served) -> None:
    response = emulator.sdk.responses.create(model="gpt-4o", input="Hi.", max_output_tokens=16)
    assert (response.status, raw(response)["incomplete_details"]) == (
        "incomplete",
        {"reason": "max_output_tokens"},
    )
    assert (response.output[0].status, response.output_text) == ("incomplete", "Hello from the emulator,")
    assert response.completed_at is None
    assert_spec(raw(response), "Response")


def test_metadata_asks_for_a_failure(emulator: Served) -> None:
    response = emulator.sdk.responses.create(
        model="gpt-4o", input="Hi.", metadata={"emulator_error": "rate_limit_exceeded"}
    )
    assert (response.status, response.output) == ("failed", [])
    assert response.error is not None
    assert response.error.code == "rate_limit_exceeded"
    other = emulator.post("/responses", {"model": "gpt-4o", "metadata": {"emulator_error": "anything"}})
    assert other["error"]["code"] == "server_error"
    events = emulator.events(
        "/responses", {"model": "gpt-4o", "stream": True, "metadata": {"emulator_error": "x"}}
    )
    assert types(events) == ["response.created", "response.in_progress", "response.failed"]
    assert_spec(raw(response), "Response")


def test_every_setting_is_echoed_with_openais_defaults(emulator: Served) -> None:
    defaults = emulator.post("/responses", {"model": "gpt-4o", "input": "Hi."})
    assert {k: defaults[k] for k in ("temperature", "top_p", "tool_choice", "parallel_tool_calls")} == {
        "temperature": 1.0, "top_p": 1.0, "tool_choice": "auto", "parallel_tool_calls": True,
    }  # fmt: skip
    assert (defaults["text"], defaults["store"], defaults["background"]) == (
        {"format": {"type": "text"}, "verbosity": "medium"}, True, False,
    )  # fmt: skip
    assert (defaults["service_tier"], defaults["conversation"], defaults["instructions"]) == (
        "default",
        None,
        None,
    )
    given = {
        "instructions": "Be brief.", "temperature": 0.5, "top_p": 0.9, "max_output_tokens": 500,
        "metadata": {"k": "v"}, "tool_choice": "required", "parallel_tool_calls": False,
    }  # fmt: skip
    echoed = emulator.post("/responses", {"model": "gpt-4o", "input": "Hi.", **given})
    assert {k: echoed[k] for k in given} == given


# Conversations and responses together.


async def test_responses_in_a_conversation_write_their_items_into_it_in_order(emulator: Served) -> None:
    async with emulator.aio() as sdk:
        conversation = await sdk.conversations.create(items=[{"role": "developer", "content": "Be kind."}])
        asked = await sdk.responses.create(
            model="gpt-4o",
            input="Add 1 and 2.",
            tools=[ADD],
            conversation=conversation.id,
        )
        assert asked.conversation is not None
        assert asked.conversation.id == conversation.id
        [call] = asked.output
        output = {"type": "function_call_output", "call_id": call.call_id, "output": "3"}
        answered = await sdk.responses.create(
            model="gpt-4o",
            input=[output],
            tools=[ADD],
            conversation={"id": conversation.id},
        )
        listed = await sdk.conversations.items.list(conversation.id, order="asc")
        items = [raw(item) for item in listed.data]
        inputs = await sdk.responses.input_items.list(answered.id)
    assert [item["type"] for item in items] == [
        "message", "message", "function_call", "function_call_output", "message",
    ]  # fmt: skip
    assert (items[2]["id"], items[4]["id"]) == (asked.output[0].id, answered.output[0].id)
    assert items[1]["content"] == [{"type": "input_text", "text": "Add 1 and 2."}]
    assert items[3]["call_id"] == call.call_id
    assert [raw(item)["type"] for item in inputs.data] == ["function_call_output"]
    assert_spec({"object": "list", **raw(listed)}, "ConversationItemList")
    assert_spec(raw(inputs), "ResponseItemList")


def test_a_response_with_store_false_is_kept_nowhere(emulator: Served) -> None:
    response = emulator.sdk.responses.create(model="gpt-4o", input="Hi.", store=False)
    assert response.status == "completed"
    with pytest.raises(openai.NotFoundError, match=f"Response with id '{response.id}' not found."):
        emulator.sdk.responses.retrieve(response.id)


def test_a_response_is_read_listed_and_deleted(emulator: Served) -> None:
    sdk = emulator.sdk
    response = sdk.responses.create(
        model="gpt-4o", input=[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    )
    assert sdk.responses.retrieve(response.id) == response
    inputs = sdk.responses.input_items.list(response.id)
    assert [item.content[0].text for item in inputs.data] == ["b", "a"]
    assert sdk.responses.delete(response.id) is None  # the SDK reads nothing of the answer
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(response.id)


# Background responses.


def test_a_background_response_is_polled_through_queued_and_in_progress_to_completed() -> None:
    with served(step_seconds=0.3) as emulator:
        response = emulator.sdk.responses.create(model="gpt-4o", input="Take your time.", background=True)
        assert (response.status, response.background, response.output) == ("queued", True, [])
        assert_spec(raw(response), "Response")
        seen = [response.status]
        while response.status in ("queued", "in_progress"):
            time.sleep(0.05)
            response = emulator.sdk.responses.retrieve(response.id)
            if response.status != seen[-1]:
                seen.append(response.status)
    assert seen == ["queued", "in_progress", "completed"]
    assert response.output_text == "Hello from the emulator, here is the answer."


def test_only_a_background_response_is_cancelled() -> None:
    with served(step_seconds=5) as emulator:
        sdk = emulator.sdk
        response = sdk.responses.create(model="gpt-4o", input="Long.", background=True)
        cancelled = sdk.responses.cancel(response.id)
        assert (cancelled.status, cancelled.output) == ("cancelled", [])
        assert sdk.responses.retrieve(response.id).status == "cancelled"
        assert sdk.responses.cancel(response.id).status == "cancelled"  # again: the same answer
        foreground = sdk.responses.create(model="gpt-4o", input="Short.")
        with pytest.raises(openai.BadRequestError) as caught:
            sdk.responses.cancel(foreground.id)
    assert caught.value.body == {
        "message": "Cannot cancel a synchronous response.", "type": "invalid_request_error", "param": None,
        "code": None,
    }  # fmt: skip


def test_cancelling_an_ended_background_response_answers_it_unchanged(emulator: Served) -> None:
    response = emulator.sdk.responses.create(model="gpt-4o", input="Hi.", background=True)
    wait_for(lambda: emulator.sdk.responses.retrieve(response.id).status == "completed")
    assert emulator.sdk.responses.cancel(response.id).status == "completed"


# Streams.


def test_a_streamed_response_sends_openais_events_in_order(emulator: Served) -> None:
    events = emulator.events("/responses", {"model": "gpt-4o", "input": "Hi.", "stream": True})
    assert types(events) == [
        "response.created",
        "response.in_progress",
        *MESSAGE_EVENTS,
        "response.completed",
    ]
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    assert events[0]["response"]["status"] == "in_progress"
    final = events[-1]["response"]
    text = final["output"][0]["content"][0]["text"]
    deltas = [event["delta"] for event in events if event["type"] == "response.output_text.delta"]
    assert (
        "".join(deltas)
        == text
        == events[-3]["part"]["text"]
        == "Hello from the emulator, here is the answer."
    )
    assert events[2]["item"] == {**final["output"][0], "status": "in_progress", "content": []}
    assert emulator.sdk.responses.retrieve(final["id"]).model_dump(mode="json", exclude_unset=True) == final


async def test_a_streamed_function_call_writes_its_arguments_in_deltas(emulator: Served) -> None:
    async with emulator.aio() as sdk:
        stream = await sdk.responses.create(model="gpt-4o", input="Add.", tools=[ADD], stream=True)
        events = [raw(event) for event in [event async for event in stream]]
    for event in events:
        assert_event(event)
    assert types(events) == [
        "response.created", "response.in_progress", "response.output_item.added",
        "response.function_call_arguments.delta", "response.function_call_arguments.delta",
        "response.function_call_arguments.done", "response.output_item.done", "response.completed",
    ]  # fmt: skip
    added, done = events[2]["item"], events[6]["item"]
    assert (added["status"], added["arguments"], done["status"]) == ("in_progress", "", "completed")
    deltas = "".join(event["delta"] for event in events[3:5])
    assert deltas == events[5]["arguments"] == done["arguments"] == '{"a": 1, "b": 1}'
    assert events[5]["name"] == "add"


def test_the_reply_is_written_in_reply_deltas_deltas() -> None:
    with served(reply_deltas=3) as emulator:
        events = emulator.events("/responses", {"model": "gpt-4o", "input": "Hi.", "stream": True})
    deltas = [event["delta"] for event in events if event["type"] == "response.output_text.delta"]
    assert len(deltas) == 3
    assert "".join(deltas) == events[-1]["response"]["output"][0]["content"][0]["text"]


def test_a_background_stream_left_by_its_client_goes_on_and_is_read_again_from_a_sequence_number() -> None:
    with served(step_seconds=0.2) as emulator:
        body = {"model": "gpt-4o", "input": "Hi.", "stream": True, "background": True}
        with emulator.http.stream("POST", "/responses", json=body) as answer:
            lines = answer.iter_lines()
            first = [next(lines) for _ in range(9)]  # three whole events, then the client goes
        seen = [json.loads(line.removeprefix("data: ")) for line in first if line.startswith("data: ")]
        assert types(seen) == ["response.created", "response.queued", "response.in_progress"]
        assert seen[0]["response"]["status"] == "queued"
        response_id = seen[0]["response"]["id"]
        wait_for(lambda: emulator.sdk.responses.retrieve(response_id).status == "completed")
        rest = emulator.events(f"/responses/{response_id}?stream=true&starting_after=2")
        wait_for(lambda: emulator.http.get(f"{emulator.admin}/streams").json()["disconnected"] == 1)
    assert types(rest) == [*MESSAGE_EVENTS, "response.completed"]
    assert [event["sequence_number"] for event in rest] == list(range(3, 3 + len(rest)))


def test_a_foreground_response_is_not_streamed_again(emulator: Served) -> None:
    response = emulator.sdk.responses.create(model="gpt-4o", input="Hi.")
    answer = emulator.http.get(f"/responses/{response.id}", params={"stream": "true"})
    assert (answer.status_code, answer.json()["error"]["param"]) == (400, "stream")


# Errors, as OpenAI words them.

BAD_REQUESTS = [
    pytest.param({"input": "Hi."}, "model", "Missing required parameter: 'model'.", id="no-model"),
    pytest.param({"model": "gpt-4o", "colour": 1}, "colour", "Unknown parameter: 'colour'.", id="unknown"),
    pytest.param(
        {"model": "gpt-4o", "max_output_tokens": 10},
        "max_output_tokens",
        "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got 10 "
        "instead.",
        id="few-tokens",
    ),
    pytest.param(
        {"model": "gpt-4o", "tools": [{"type": "web_search"}]},
        "tools[0].type",
        "Invalid value: 'web_search'. Supported values are: 'function', 'file_search', and "
        "'code_interpreter'.",
        id="tool-not-emulated",
    ),
    pytest.param(
        {"model": "gpt-4o", "input": [{"type": "function_call_output", "call_id": "call_x", "output": "1"}]},
        "input",
        "No tool call found for function call output with call_id call_x.",
        id="output-of-no-call",
    ),
    pytest.param(
        {"model": "gpt-4o", "previous_response_id": "resp_gone"},
        "previous_response_id",
        "Previous response with id 'resp_gone' not found.",
        id="no-previous",
    ),
    pytest.param(
        {"model": "gpt-4o", "include": ["everything"]},
        "include",
        "Invalid value for 'include': 'everything'.",
        id="include",
    ),
]


@pytest.mark.parametrize(("body", "param", "message"), BAD_REQUESTS)
def test_a_bad_request_is_400_naming_its_parameter(
    emulator: Served, body: dict[str, Any], param: str, message: str
) -> None:
    answer = emulator.http.post("/responses", json=body)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["param"], error["message"], error["type"]) == (param, message, "invalid_request_error")
    assert_spec(error, "Error")


def test_a_conversation_and_a_previous_response_together_are_refused(emulator: Served) -> None:
    conversation = emulator.sdk.conversations.create()
    previous = emulator.sdk.responses.create(model="gpt-4o", input="Hi.")
    with pytest.raises(openai.BadRequestError) as caught:
        emulator.sdk.responses.create(
            model="gpt-4o", input="Again.", conversation=conversation.id, previous_response_id=previous.id
        )
    assert "'previous_response_id' or 'conversation'" in caught.value.message
    assert emulator.sdk.conversations.items.list(conversation.id).data == []  # nothing ran


@pytest.mark.parametrize(
    ("method", "path", "message"),
    [
        ("GET", "/responses/resp_nope", "Response with id 'resp_nope' not found."),
        ("POST", "/responses/resp_nope/cancel", "Response with id 'resp_nope' not found."),
        ("DELETE", "/responses/resp_nope", "Response with id 'resp_nope' not found."),
        ("GET", "/responses/resp_nope/input_items", "Response with id 'resp_nope' not found."),
        ("GET", "/conversations/conv_nope", "Conversation with id 'conv_nope' not found."),
        ("GET", "/conversations/conv_nope/items", "Conversation with id 'conv_nope' not found."),
    ],
)
def test_an_unknown_id_is_404(emulator: Served, method: str, path: str, message: str) -> None:
    answer = emulator.http.request(method, path)
    assert (answer.status_code, answer.json()["error"]["message"]) == (404, message)
    assert answer.headers["x-request-id"].startswith("req_")


def test_a_missing_key_is_401_and_no_beta_header_is_asked_for(emulator: Served) -> None:
    answer = httpx.post(emulator.base_url + "/responses", json={"model": "gpt-4o"})
    assert answer.status_code == 401
    assert "API key" in answer.json()["error"]["message"]
    assert emulator.http.post("/conversations", json={}).status_code == 200  # AUTH only, no OpenAI-Beta


# The admin API sees the new paths as the old.


def test_the_request_log_and_faults_cover_the_new_paths() -> None:
    with served() as emulator:
        fault = {"path": "/responses$", "method": "POST", "status": 500}
        emulator.http.post(f"{emulator.admin}/faults", json=fault).raise_for_status()
        with pytest.raises(openai.InternalServerError):
            emulator.sdk.responses.create(model="gpt-4o", input="Hi.")
        assert emulator.sdk.responses.create(model="gpt-4o", input="Hi.").status == "completed"  # used once
        log = emulator.http.get(f"{emulator.admin}/requests").json()
        assert [(entry["method"], entry["path"]) for entry in log] == [("POST", "/v1/responses")] * 2
        assert json.loads(log[-1]["body"]) == {"model": "gpt-4o", "input": "Hi."}
        assert "openai-beta" not in log[-1]["headers"]
        emulator.http.post(f"{emulator.admin}/faults", json={"path": "/responses$", "stream_error_after": 3})
        events = emulator.events("/responses", {"model": "gpt-4o", "input": "Hi.", "stream": True})
        assert types(events)[-1] == "error"
        assert (len(events), events[-1]["sequence_number"], events[-1]["code"]) == (4, 3, "server_error")
        assert emulator.http.get(f"{emulator.admin}/requests").json()[-1]["stream"]["events"] == 3
        conversation = emulator.sdk.conversations.create()
        emulator.http.post(f"{emulator.admin}/reset").raise_for_status()
        with pytest.raises(openai.NotFoundError):
            emulator.sdk.conversations.retrieve(conversation.id)  # a reset forgets conversations too


def test_a_background_stream_ends_when_its_response_is_cancelled() -> None:
    with served(step_seconds=0.5) as emulator:
        body = {"model": "gpt-4o", "input": "Long.", "stream": True, "background": True}
        with emulator.http.stream("POST", "/responses", json=body) as answer:
            lines = answer.iter_lines()
            assert next(lines) == "event: response.created"
            response_id = json.loads(next(lines).removeprefix("data: "))["response"]["id"]
            assert emulator.sdk.responses.cancel(response_id).status == "cancelled"
            rest = "\n".join(lines)  # the stream ends: no event follows the cancel
        assert "response.output_item.added" not in rest
        assert emulator.sdk.responses.retrieve(response_id).status == "cancelled"


def test_a_cut_fault_closes_a_response_stream_in_the_middle_of_an_event() -> None:
    with served() as emulator:
        fault = {"path": "/responses$", "stream_cut_after": 2}
        emulator.http.post(f"{emulator.admin}/faults", json=fault).raise_for_status()
        received = b""
        body = {"model": "gpt-4o", "input": "Hi.", "stream": True}
        with (
            pytest.raises(httpx.RemoteProtocolError),
            emulator.http.stream("POST", "/responses", json=body) as answer,
        ):
            for chunk in answer.iter_bytes():
                received += chunk
    text = received.decode()
    assert [name for name, _ in parse_sse(text)] == ["response.created", "response.in_progress"]
    assert text.split("\n\n")[-1].startswith("event: response.output_item.added\ndata: {")
