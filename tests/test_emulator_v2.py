"""The emulator speaks Assistants v2 beside v1 on the same paths, chosen by `OpenAI-Beta`, and streams runs.

Shapes side by side, every v2 field, v2's refusal of `retrieval`, `file_search` results and `include[]`,
`additional_messages`, an `incomplete` run, and server-sent events: a function tool's run streamed to
`requires_action`, the streamed submit to completion, an `error` fault, a cut in the middle of an event, and
a client leaving mid-stream (over a real socket). SSE is parsed here in a few lines, not with a library.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from emulator import EmulatorConfig, EmulatorServer, create_app
from emulator.versions import FILE_SEARCH_CONTENT

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
    run = json.loads(events[0][1])
    assert (set(run), run["status"]) == (RUN_V2_FIELDS, "queued")
    step = json.loads(events[3][1])
    assert set(step) == STEP_FIELDS
    deltas = [json.loads(data)["delta"]["step_details"]["tool_calls"][0] for _, data in events[5:8]]
    arguments = "".join(d["function"]["arguments"] for d in deltas)
    waiting = json.loads(events[8][1])
    [call] = waiting["required_action"]["submit_tool_outputs"]["tool_calls"]
    assert (deltas[0]["id"], arguments) == (call["id"], call["function"]["arguments"])

    outputs = {"tool_outputs": [{"tool_call_id": call["id"], "output": "3"}], "stream": True}
    resumed = await rest.post(f"/threads/{thread}/runs/{run['id']}/submit_tool_outputs", json=outputs)
    events = parse_sse(resumed.text)
    kinds = names(events)
    deltas = [json.loads(data) for name, data in events if name == "thread.message.delta"]
    assert len(deltas) >= 3
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
    error = json.loads(events[-1][1])
    assert (error["type"], set(error)) == ("server_error", {"message", "type", "param", "code"})


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
