"""The emulator speaks the Assistants v1 REST API as OpenAI does: lifecycle, pagination, errors, admin API.

Most tests call the ASGI app in-process (httpx.ASGITransport); one goes through a real loopback socket.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from emulator import EmulatorConfig, EmulatorServer, create_app

KEY = "sk-emulator-test-key-0123456789"
HEADERS = {"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "assistants=v1"}
FUNCTION = {
    "type": "function",
    "function": {"name": "add", "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}},
}


@pytest.fixture
async def rest() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(EmulatorConfig(step_seconds=0, api_keys=frozenset({KEY})))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator", headers=HEADERS) as client:
        yield client


async def post(rest: httpx.AsyncClient, path: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    response = await rest.post(f"/v1{path}", json=body)
    assert response.status_code == status, response.text
    return dict(response.json())


async def get(rest: httpx.AsyncClient, path: str, status: int = 200, **params: Any) -> dict[str, Any]:
    response = await rest.get(f"/v1{path}", params=params)
    assert response.status_code == status, response.text
    return dict(response.json())


async def start(rest: httpx.AsyncClient, *tools: dict[str, Any]) -> tuple[str, str]:
    assistant = await post(
        rest, "/assistants", {"model": "gpt-4", "instructions": "Help.", "tools": list(tools)}
    )
    thread = await post(rest, "/threads", {})
    return assistant["id"], thread["id"]


async def test_missing_and_wrong_keys_are_401(rest: httpx.AsyncClient) -> None:
    missing = await rest.get("/v1/threads/thread_x", headers={"Authorization": ""})
    assert missing.status_code == 401
    assert missing.json()["error"]["message"].startswith("You didn't provide an API key.")
    wrong = await rest.get("/v1/threads/thread_x", headers={"Authorization": "Bearer sk-wrong-1234"})
    assert wrong.status_code == 401
    error = wrong.json()["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "invalid_api_key",
        None,
    )
    assert "sk-wrong-1234" not in error["message"]
    assert "sk-******1234" in error["message"]


async def test_the_beta_header_is_required(rest: httpx.AsyncClient) -> None:
    response = await rest.post("/v1/threads", json={}, headers={"OpenAI-Beta": ""})
    assert response.status_code == 400
    error = response.json()["error"]
    assert "OpenAI-Beta: assistants=v2" in error["message"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_beta")
    unknown = await rest.post("/v1/threads", json={}, headers={"OpenAI-Beta": "assistants=v9"})
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (400, "invalid_beta")


async def test_without_v1_it_answers_v1_as_openai_does_since_its_retirement() -> None:
    app = create_app(EmulatorConfig(api_keys=frozenset({KEY}), versions=frozenset({"v2"})))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://emulator", headers=HEADERS
    ) as client:
        response = await client.get("/v1/threads/thread_1/runs")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_beta"
    assert error["message"].startswith(
        "The v1 Assistants API has been deprecated. Please try again by setting"
    )
    assert "'OpenAI-Beta: assistants=v2'" in error["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/nothing/here"), ("GET", "/threads/thread_1/runs"), ("DELETE", "/v1/threads/thread_1/runs")],
)
async def test_an_unknown_path_or_method_is_openais_invalid_url(
    rest: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await rest.request(method, path)
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": f"Invalid URL ({method} {path})",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }


async def test_run_with_function_tool_goes_through_requires_action(rest: httpx.AsyncClient) -> None:
    assistant, thread = await start(rest, FUNCTION)
    run = await post(rest, f"/threads/{thread}/runs", {"assistant_id": assistant, "metadata": {"a": "b"}})
    assert run["status"] == "queued"
    assert set(run) == {
        "id", "object", "created_at", "thread_id", "assistant_id", "status", "required_action", "last_error",
        "expires_at", "started_at", "cancelled_at", "failed_at", "completed_at", "model", "instructions",
        "tools", "file_ids", "metadata", "usage",
    }  # fmt: skip
    assert (run["object"], run["model"], run["instructions"], run["usage"]) == (
        "thread.run",
        "gpt-4",
        "Help.",
        None,
    )
    waiting = await get(rest, f"/threads/{thread}/runs/{run['id']}")
    assert waiting["status"] == "requires_action"
    [call] = waiting["required_action"]["submit_tool_outputs"]["tool_calls"]
    assert (call["type"], call["function"]["name"], json.loads(call["function"]["arguments"])) == (
        "function", "add", {"a": 1},
    )  # fmt: skip
    wrong = {"tool_outputs": [{"tool_call_id": "call_other", "output": "3"}]}
    refused = await post(rest, f"/threads/{thread}/runs/{run['id']}/submit_tool_outputs", wrong, 400)
    assert refused["error"]["param"] == "tool_outputs"
    body = {"tool_outputs": [{"tool_call_id": call["id"], "output": "3"}]}
    resumed = await post(rest, f"/threads/{thread}/runs/{run['id']}/submit_tool_outputs", body)
    assert (resumed["status"], resumed["required_action"]) == ("queued", None)
    done = await get(rest, f"/threads/{thread}/runs/{run['id']}")
    assert done["status"] == "completed"
    assert (
        done["usage"]["total_tokens"] == done["usage"]["prompt_tokens"] + done["usage"]["completion_tokens"]
    )
    assert done["expires_at"] is None
    steps = await get(rest, f"/threads/{thread}/runs/{run['id']}/steps", order="asc")
    kinds = [s["step_details"]["type"] for s in steps["data"]]
    assert kinds == ["tool_calls", "message_creation"]
    assert steps["data"][0]["step_details"]["tool_calls"][0]["function"]["output"] == "3"
    assert all(s["status"] == "completed" for s in steps["data"])
    one = await get(rest, f"/threads/{thread}/runs/{run['id']}/steps/{steps['data'][1]['id']}")
    assert one == steps["data"][1]


async def test_code_interpreter_and_retrieval_steps(rest: httpx.AsyncClient) -> None:
    assistant, thread = await start(rest, {"type": "code_interpreter"}, {"type": "retrieval"})
    run = await post(rest, f"/threads/{thread}/runs", {"assistant_id": assistant})
    assert (await get(rest, f"/threads/{thread}/runs/{run['id']}"))["status"] == "completed"
    steps = (await get(rest, f"/threads/{thread}/runs/{run['id']}/steps", order="asc"))["data"]
    code, retrieval, message = (s["step_details"] for s in steps)
    outputs = code["tool_calls"][0]["code_interpreter"]["outputs"]
    assert [o["type"] for o in outputs] == ["logs", "image"]
    assert outputs[1]["image"]["file_id"].startswith("file-")
    assert retrieval["tool_calls"][0] == {
        "id": retrieval["tool_calls"][0]["id"],
        "type": "retrieval",
        "retrieval": {},
    }
    assert message["message_creation"]["message_id"].startswith("msg_")


async def test_cancel_and_modify(rest: httpx.AsyncClient) -> None:
    assistant, thread = await start(rest, FUNCTION)
    run = await post(rest, f"/threads/{thread}/runs", {"assistant_id": assistant})
    assert (await post(rest, f"/threads/{thread}/runs/{run['id']}/cancel", {}))["status"] == "cancelling"
    cancelled = await get(rest, f"/threads/{thread}/runs/{run['id']}")
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelled_at"] is not None
    again = await post(rest, f"/threads/{thread}/runs/{run['id']}/cancel", {}, 400)
    assert again["error"]["message"] == "Cannot cancel run with status 'cancelled'."
    modified = await post(rest, f"/threads/{thread}/runs/{run['id']}", {"metadata": {"x": "y"}})
    assert modified["metadata"] == {"x": "y"}


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/threads/thread_nope/runs/run_x", "No thread found with id 'thread_nope'."),
        ("/threads/{thread}/runs/run_nope", "No run found with id 'run_nope'."),
        ("/assistants/asst_nope", "No assistant found with id 'asst_nope'."),
    ],
)
async def test_404s(rest: httpx.AsyncClient, path: str, message: str) -> None:
    _, thread = await start(rest)
    error = await get(rest, path.format(thread=thread), 404)
    assert error == {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}
    }


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"assistant_id": "{assistant}", "foo": 1}, "foo"),
        ({}, "assistant_id"),
        ({"assistant_id": "{assistant}", "metadata": {str(i): "v" for i in range(17)}}, "metadata"),
        ({"assistant_id": "{assistant}", "metadata": {"k": "v" * 513}}, "metadata"),
        ({"assistant_id": "{assistant}", "tools": [{"type": "code_interpreter"}] * 21}, "tools"),
        ({"assistant_id": "{assistant}", "tools": [{"type": "browser"}]}, "tools[0].type"),
    ],
)
async def test_bad_create_run_bodies_are_400(
    rest: httpx.AsyncClient, body: dict[str, Any], param: str
) -> None:
    assistant, thread = await start(rest)
    body = {k: (v.format(assistant=assistant) if isinstance(v, str) else v) for k, v in body.items()}
    error = await post(rest, f"/threads/{thread}/runs", body, 400)
    assert error["error"]["param"] == param


async def test_invalid_json_is_400(rest: httpx.AsyncClient) -> None:
    response = await rest.post("/v1/threads", content=b"{not json")
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"order": "up"}, "order"),
        ({"after": "run_nope"}, "after"),
    ],
)
async def test_bad_list_parameters_are_400(
    rest: httpx.AsyncClient, params: dict[str, Any], param: str
) -> None:
    _, thread = await start(rest)
    assert (await get(rest, f"/threads/{thread}/runs", 400, **params))["error"]["param"] == param


async def seeded(rest: httpx.AsyncClient, count: int) -> tuple[str, list[str]]:
    _, thread = await start(rest)
    response = await rest.post(f"/_emulator/threads/{thread}/runs:seed", json={"count": count})
    assert response.status_code == 200
    ids = [r["id"] for r in (await get(rest, f"/threads/{thread}/runs", order="asc", limit=100))["data"]]
    after = ids[-1]
    while len(ids) < count:
        page = await get(rest, f"/threads/{thread}/runs", order="asc", limit=100, after=after)
        ids += [r["id"] for r in page["data"]]
        after = page["last_id"]
    assert response.json() == {"count": count, "first_id": ids[0], "last_id": ids[-1]}
    return thread, ids


async def walk(rest: httpx.AsyncClient, thread: str, limit: int, **params: Any) -> list[str]:
    ids: list[str] = []
    while True:
        page = await get(rest, f"/threads/{thread}/runs", limit=limit, **params)
        ids += [r["id"] for r in page["data"]]
        assert (page["first_id"], page["last_id"]) == (
            (ids[-len(page["data"])], ids[-1]) if page["data"] else (None, None)
        )
        if not page["has_more"]:
            return ids
        params["after"] = page["last_id"]


async def test_pagination_windows_in_both_orders(rest: httpx.AsyncClient) -> None:
    thread, ids = await seeded(rest, 250)
    assert len(set(ids)) == 250
    assert await walk(rest, thread, 7, order="asc") == ids
    assert await walk(rest, thread, 7, order="desc") == ids[::-1]
    assert await walk(rest, thread, 20) == ids[::-1]
    assert await walk(rest, thread, 30, order="asc", after=ids[9], before=ids[200]) == ids[10:200]
    assert await walk(rest, thread, 30, order="desc", after=ids[200], before=ids[9]) == ids[10:200][::-1]
    first = await get(rest, f"/threads/{thread}/runs", order="asc", limit=5, before=ids[100])
    assert [r["id"] for r in first["data"]] == ids[:5]
    assert first["has_more"] is True
    empty = await get(rest, f"/threads/{thread}/runs", order="asc", after=ids[-1])
    assert (empty["data"], empty["first_id"], empty["last_id"], empty["has_more"]) == ([], None, None, False)


async def test_faults_and_request_log(rest: httpx.AsyncClient) -> None:
    _, thread = await start(rest)
    await rest.delete("/_emulator/requests")
    fault = {
        "method": "GET",
        "path": "/runs$",
        "status": 502,
        "body": "<html>502 Bad Gateway</html>",
        "skip": 1,
        "times": 2,
    }
    assert (await rest.post("/_emulator/faults", json=fault)).status_code == 200
    statuses = [(await rest.get(f"/v1/threads/{thread}/runs")).status_code for _ in range(4)]
    assert statuses == [200, 502, 502, 200]
    bad = await rest.get(f"/v1/threads/{thread}/runs")
    await rest.post("/_emulator/faults", json={"path": "/runs$", "status": 500})
    injected = await rest.get(f"/v1/threads/{thread}/runs", headers={"OpenAI-Organization": "org-1"})
    assert injected.status_code == 500
    assert injected.json()["error"]["type"] == "server_error"
    assert bad.status_code == 200
    log = (await rest.get("/_emulator/requests")).json()
    assert len(log) == 6
    assert log[-1]["headers"]["openai-organization"] == "org-1"
    assert log[-1]["headers"]["authorization"] == f"Bearer {KEY}"
    assert log[-1]["path"] == f"/v1/threads/{thread}/runs"
    assert log[-1]["body"] == ""
    written = '{"metadata": {"b": "2",  "a": "1"}}'
    await rest.post(f"/v1/threads/{thread}/runs/run_none", content=written)
    assert (await rest.get("/_emulator/requests")).json()[-1]["body"] == written  # as it arrived


def test_a_real_server_on_loopback_with_a_delay_fault() -> None:
    with EmulatorServer(EmulatorConfig(step_seconds=0)) as server, httpx.Client(headers=HEADERS) as client:
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        thread = client.post(f"{server.base_url}/threads", json={}).json()["id"]
        root = server.base_url.removesuffix("/v1")
        client.post(f"{root}/_emulator/faults", json={"path": "/threads/", "delay": 0.3}).raise_for_status()
        response = client.get(f"{server.base_url}/threads/{thread}")
        assert response.status_code == 200
        assert response.elapsed.total_seconds() >= 0.3
        assert response.json()["id"] == thread
