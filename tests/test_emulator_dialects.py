"""The emulator behaves as each server of the protocol it has a dialect for, over real HTTP (an
`EmulatorServer` on loopback, an httpx client): Azure AI Foundry, Azure OpenAI, open-assistant-api,
astra-assistants-api, and OpenAI itself.

For each: a run's happy path at the dialect's base path (an assistant, a thread, a run read, listed, its
steps where the server has them, a run streamed); every refusal with the server's exact status and body
(`api-version` missing or other, tokens missing, expired, malformed or for another audience, keys missing,
astra's token missing); how answers write timestamps (open-assistant's floats in JSON and integers in its
stream, astra's milliseconds); the 422 bodies of the FastAPI servers; the bodies of an unknown route; the
stream quirks; astra's missing operations; open-assistant's paging by id over an order by whole seconds
(`coarse_order`); the Entra test tokens; the command line. Table-driven where the servers differ only in
data. No timing bounds: runs advance at `step_seconds=0`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from emulator import EmulatorConfig, EmulatorServer
from emulator.dialects import DIALECTS, entra_token
from emulator.entra import COGNITIVE_AUDIENCE, FOUNDRY_AUDIENCE, claims_of, refusal
from emulator.model import Listing
from emulator.server import parse_config

KEY = "emulator-test-key-0123456789"
FUNCTION = {
    "type": "function",
    "function": {"name": "add", "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}},
}
V2 = {"OpenAI-Beta": "assistants=v2"}


@dataclass(frozen=True)
class Client:
    """What a well-behaved client of a dialect's server sends on every request."""

    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


def clients() -> dict[str, Client]:
    # Built per call: the Entra tokens expire an hour after they are minted.
    return {
        "openai": Client({"Authorization": f"Bearer {KEY}", **V2}),
        "azure-foundry": Client(
            {"Authorization": f"Bearer {entra_token(FOUNDRY_AUDIENCE)}"}, {"api-version": "v1"}
        ),
        "azure-openai": Client({"api-key": KEY}, {"api-version": "2024-05-01-preview"}),
        "open-assistant": Client(),
        "astra": Client({"astra-api-token": KEY, "api-key": "sk-provider-key", "llm-param-top-k": "3", **V2}),
    }


@contextmanager
def serve(dialect: str, **settings: Any) -> Iterator[tuple[EmulatorServer, httpx.Client]]:
    """The emulator as `dialect` on loopback, and a client sending what that server wants."""
    client = clients()[dialect]
    config = EmulatorConfig(step_seconds=0, dialect=dialect, **settings)
    with (
        EmulatorServer(config) as server,
        httpx.Client(base_url=server.base_url, headers=client.headers, params=client.params) as http,
    ):
        yield server, http


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return dict(response.json())


def start(http: httpx.Client, *tools: dict[str, Any]) -> tuple[str, str]:
    assistant = ok(
        http.post("/assistants", json={"model": "gpt-4o", "instructions": "Help.", "tools": list(tools)})
    )
    return assistant["id"], ok(http.post("/threads", json={}))["id"]


def frames(raw: str) -> list[tuple[str, str]]:
    """(event, data) of each server-sent event, whatever the line ends; astra's data-only envelopes
    (`data: {"event": ..., "data": ...}`) are unwrapped."""
    found = []
    *blocks, _rest = raw.replace("\r\n", "\n").split("\n\n")
    for block in blocks:
        fields = dict(line.split(": ", 1) for line in block.split("\n") if line)
        if "event" in fields:
            found.append((fields["event"], fields["data"]))
        else:
            envelope = json.loads(fields["data"])
            found.append((envelope["event"], json.dumps(envelope["data"])))
    return found


def events(raw: str) -> list[str]:
    return [name for name, _ in frames(raw)]


def data(raw: str, name: str) -> list[dict[str, Any]]:
    return [json.loads(text) for event, text in frames(raw) if event == name]


# The base URL and the happy path, in every dialect.


@pytest.mark.parametrize(
    ("dialect", "base"),
    [
        ("openai", "/v1"),
        ("azure-foundry", "/api/projects/demo"),
        ("azure-openai", "/openai"),
        ("open-assistant", "/api/v1"),
        ("astra", "/v1"),
    ],
)
def test_the_base_url_is_where_the_dialects_server_has_its_api(dialect: str, base: str) -> None:
    with serve(dialect) as (server, _):
        assert server.base_url == f"http://127.0.0.1:{server.port}{base}"
        assert server.root_url == f"http://127.0.0.1:{server.port}"
    assert set(DIALECTS) == {"openai", "azure-foundry", "azure-openai", "open-assistant", "astra"}


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_a_run_from_start_to_end_at_the_dialects_base_path(dialect: str) -> None:
    with serve(dialect) as (server, http):
        assistant, thread = start(http)
        run = ok(http.post(f"/threads/{thread}/runs", json={"assistant_id": assistant}))
        done = ok(http.get(f"/threads/{thread}/runs/{run['id']}"))
        assert (done["id"], done["status"], done["object"]) == (run["id"], "completed", "thread.run")
        listed = ok(http.get(f"/threads/{thread}/runs"))
        assert [r["id"] for r in listed["data"]] == [run["id"]]
        if dialect != "astra":  # astra-assistants-api has no run steps
            steps = ok(http.get(f"/threads/{thread}/runs/{run['id']}/steps"))["data"]
            assert [s["type"] for s in steps] == ["message_creation"]
            assert ok(http.get(f"/threads/{thread}/runs/{run['id']}/steps/{steps[0]['id']}")) == steps[0]
        messages = ok(http.get(f"/threads/{thread}/messages"))["data"]
        assert messages[0]["role"] == "assistant"
        streamed = http.post(f"/threads/{thread}/runs", json={"assistant_id": assistant, "stream": True})
        assert streamed.status_code == 200
        assert streamed.headers["content-type"].startswith("text/event-stream")
        assert events(streamed.text)[:2] == ["thread.run.created", "thread.run.queued"]
        assert "thread.message.delta" in events(streamed.text)
        log = http.get(f"{server.root_url}/_emulator/requests").json()
    base = httpx.URL(server.base_url).path
    assert all(entry["path"].startswith(base + "/") for entry in log)
    assert len(log) == (7 if dialect == "astra" else 9)


@pytest.mark.parametrize("dialect", ["azure-foundry", "azure-openai"])
def test_the_request_log_shows_the_api_version_sent_on_every_request(dialect: str) -> None:
    with serve(dialect) as (server, http):
        assistant, thread = start(http)
        ok(http.post(f"/threads/{thread}/runs", json={"assistant_id": assistant}))
        log = http.get(f"{server.root_url}/_emulator/requests").json()
    version = clients()[dialect].params["api-version"]
    assert len(log) == 3
    assert all(entry["query"] == {"api-version": version} for entry in log)
    assert all(entry["query_string"] == f"api-version={version}" for entry in log)
    if dialect == "azure-foundry":
        assert all(entry["headers"]["authorization"].startswith("Bearer ey") for entry in log)
    else:
        assert all(entry["headers"]["api-key"] == KEY for entry in log)


def test_astra_records_the_model_providers_keys_sent_in_headers() -> None:
    with serve("astra") as (server, http):
        ok(
            http.post(
                "/threads", json={}, headers={"Authorization": "Bearer sk-openai", "base-url": "http://llm"}
            )
        )
        [entry] = http.get(f"{server.root_url}/_emulator/requests").json()
    assert entry["provider_keys"] == {
        "api-key": "sk-provider-key",
        "llm-param-top-k": "3",
        "authorization": "Bearer sk-openai",
        "base-url": "http://llm",
    }
    assert entry["headers"]["astra-api-token"] == KEY


def test_a_foundry_project_is_any_project_name_and_the_beta_header_is_ignored() -> None:
    with serve("azure-foundry") as (server, http):
        other = f"{server.root_url}/api/projects/another-project"
        thread = ok(http.post(f"{other}/threads", json={}, headers={"OpenAI-Beta": "assistants=v1"}))
        assert "tool_resources" in thread  # a v2 thread, whatever the header said
        assert ok(http.get(f"/threads/{thread['id']}"))["id"] == thread["id"]
        missing = http.get(f"{server.root_url}/threads/{thread['id']}")  # no project, no /api
    assert (missing.status_code, missing.json()) == (
        404,
        {"error": {"code": "404", "message": "Resource not found"}},
    )


@pytest.mark.parametrize("dialect", ["azure-openai", "open-assistant"])
def test_v2_objects_whatever_openai_beta_says(dialect: str) -> None:
    with serve(dialect) as (_, http):
        assistant, thread = start(http)
        run = ok(
            http.post(
                f"/threads/{thread}/runs",
                json={"assistant_id": assistant},
                headers={"OpenAI-Beta": "assistants=v1"},
            )
        )
    assert "temperature" in run
    assert "file_ids" not in run


# Refusals: each server's status and body, word for word.


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def azure(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def token_refused(audience: str) -> dict[str, Any]:
    return {
        "statusCode": 401,
        "message": "Unauthorized. Access token is missing, invalid, audience is incorrect "
        f"({audience}), or have expired.",
    }


HOUR_AGO = time.time() - 3600
FOUNDRY_TOKEN = token_refused("https://ai.azure.com")
AZURE_KEY = azure(
    "401",
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
    "for an active subscription and use a correct regional API endpoint for your resource.",
)
ASTRA_TOKEN = {
    "detail": "\nUnauthorized to connect to AstraDB. Please ensure you're passing a token starting with "
    "`ASTRACS:...` from https://astra.datastax.com and ensure it has the right scope.\n"
    "{'errors': [{'message': 'JWT not valid'}]}"
}
UNAUTHORIZED = {"error": {"code": "unauthorized", "message": "Unauthorized", "type": None, "param": None}}
UNSUPPORTED = "Unsupported api version '2024-05-01-preview'. The supported versions are 'v1'"

REFUSALS: list[tuple[str, dict[str, str], dict[str, str], int, Any]] = [
    # (dialect, headers and query over the client's (a name with an empty value: left out), status, body)
    (
        "azure-foundry",
        {},
        {"api-version": ""},
        400,
        azure("BadRequest", "Missing required query parameter: api-version"),
    ),
    (
        "azure-foundry",
        {},
        {"api-version": "2024-05-01-preview"},
        400,
        azure("UnsupportedApiVersionValue", UNSUPPORTED),
    ),
    ("azure-foundry", {"Authorization": ""}, {}, 401, FOUNDRY_TOKEN),
    ("azure-foundry", bearer(entra_token(FOUNDRY_AUDIENCE, HOUR_AGO)), {}, 401, FOUNDRY_TOKEN),
    ("azure-foundry", bearer(entra_token(COGNITIVE_AUDIENCE)), {}, 401, FOUNDRY_TOKEN),
    ("azure-foundry", bearer("not-a-jwt"), {}, 401, FOUNDRY_TOKEN),
    ("azure-foundry", bearer("a.b.c"), {}, 401, FOUNDRY_TOKEN),
    ("azure-foundry", {"Authorization": "", "api-key": KEY}, {}, 401, FOUNDRY_TOKEN),
    ("azure-openai", {}, {"api-version": ""}, 404, azure("404", "Resource not found")),
    ("azure-openai", {}, {"api-version": "v1"}, 400, azure("BadRequest", "API version not supported")),
    ("azure-openai", {"api-key": ""}, {}, 401, AZURE_KEY),
    ("azure-openai", {"api-key": "wrong-key"}, {}, 401, AZURE_KEY),
    (
        "astra",
        {"astra-api-token": ""},
        {},
        403,
        {"detail": "Must pass an astradb token in the astra-api-token header"},
    ),
    ("astra", {"astra-api-token": "wrong-token"}, {}, 400, ASTRA_TOKEN),
    ("astra", {"OpenAI-Beta": "assistants=v3"}, {}, 400, "Unsupported version: assistants=v3)"),
    ("open-assistant", {}, {}, 401, UNAUTHORIZED),
    ("open-assistant", bearer("wrong-key"), {}, 401, UNAUTHORIZED),
    ("openai", {"Authorization": ""}, {}, 401, None),
]


@pytest.mark.parametrize(("dialect", "headers", "params", "status", "body"), REFUSALS)
def test_each_refusal_is_the_servers_status_and_body(
    dialect: str, headers: dict[str, str], params: dict[str, str], status: int, body: Any
) -> None:
    client = clients()[dialect]
    sent = {name: value for name, value in {**client.headers, **headers}.items() if value}
    query = {name: value for name, value in {**client.params, **params}.items() if value}
    with serve(dialect, api_keys=frozenset({KEY})) as (server, http), httpx.Client() as bare:
        response = bare.post(f"{server.base_url}/threads", json={}, headers=sent, params=query)
        log = http.get(f"{server.root_url}/_emulator/requests").json()
    assert response.status_code == status, response.text
    if isinstance(body, str):
        assert response.headers["content-type"].startswith("text/plain")
        assert response.text == body
    elif body is not None:
        assert response.json() == body
    else:
        assert response.json()["error"]["message"].startswith("You didn't provide an API key.")
    assert len(log) == 1  # a refused request is in the log too
    assert log[0]["query"] == query


def test_an_empty_astra_token_is_a_wrong_one() -> None:
    with serve("astra") as (_, http):
        response = http.post("/threads", json={}, headers={"astra-api-token": ""})
    assert (response.status_code, response.json()) == (400, ASTRA_TOKEN)


def test_with_no_keys_configured_any_non_empty_credential_is_accepted() -> None:
    for dialect, headers in [
        ("azure-openai", {"api-key": "any-key-at-all"}),
        ("astra", {"astra-api-token": "AstraCS:anything"}),
        ("open-assistant", {}),
    ]:
        with serve(dialect) as (_, http):
            ok(http.post("/threads", json={}, headers=headers))


def test_azure_openai_takes_an_entra_token_for_cognitive_services_instead_of_a_key() -> None:
    with serve("azure-openai", api_keys=frozenset({KEY})) as (server, _), httpx.Client() as bare:
        url, params = f"{server.base_url}/threads", {"api-version": "2024-05-01-preview"}
        good = bare.post(url, json={}, params=params, headers=bearer(entra_token(COGNITIVE_AUDIENCE)))
        expired = bare.post(
            url, json={}, params=params, headers=bearer(entra_token(COGNITIVE_AUDIENCE, HOUR_AGO))
        )
        foundry = bare.post(url, json={}, params=params, headers=bearer(entra_token(FOUNDRY_AUDIENCE)))
    assert good.status_code == 200, good.text
    assert (expired.status_code, expired.json()) == (401, token_refused(COGNITIVE_AUDIENCE))
    assert (foundry.status_code, foundry.json()) == (401, token_refused(COGNITIVE_AUDIENCE))


def test_the_accepted_api_version_is_configurable() -> None:
    with serve("azure-foundry", api_version="2025-05-01") as (_, http):
        refused = http.post("/threads", json={})  # the client's api-version=v1
        accepted = http.post("/threads", json={}, params={"api-version": "2025-05-01"})
    assert (
        refused.json()["error"]["message"]
        == "Unsupported api version 'v1'. The supported versions are '2025-05-01'"
    )
    assert accepted.status_code == 200
    with pytest.raises(ValueError, match="reads no api-version"):
        EmulatorConfig(dialect="openai", api_version="v1")
    with pytest.raises(ValueError, match="unknown dialect"):
        EmulatorConfig(dialect="bedrock")


def test_astra_serves_v1_when_no_beta_header_is_sent() -> None:
    with serve("astra") as (server, http), httpx.Client(headers={"astra-api-token": KEY}) as bare:
        thread = ok(bare.post(f"{server.base_url}/threads", json={}))
        empty = bare.post(f"{server.base_url}/threads", json={}, headers={"OpenAI-Beta": ""})
        assert "tool_resources" in ok(http.post("/threads", json={}))  # the client's assistants=v2
    assert "tool_resources" not in thread
    assert (empty.status_code, empty.text) == (400, "Unsupported version: )")  # a header, if empty


# Timestamps.


def test_open_assistant_writes_every_json_timestamp_as_a_float() -> None:
    with serve("open-assistant") as (_, http):
        assistant, thread = start(http)
        run = ok(http.post(f"/threads/{thread}/runs", json={"assistant_id": assistant}))
        response = http.get(f"/threads/{thread}/runs/{run['id']}")
        listed = ok(http.get(f"/threads/{thread}/runs"))
        steps = ok(http.get(f"/threads/{thread}/runs/{run['id']}/steps"))
    done = response.json()
    for name in ("created_at", "started_at", "completed_at"):
        assert isinstance(done[name], float)
        assert done[name] == int(done[name])
    assert f'"created_at":{int(done["created_at"])}.0' in response.text
    assert (done["cancelled_at"], done["failed_at"], done["expires_at"]) == (None, None, None)
    assert isinstance(listed["data"][0]["created_at"], float)
    assert isinstance(steps["data"][0]["completed_at"], float)


def test_open_assistant_streams_integer_timestamps() -> None:
    with serve("open-assistant") as (_, http):
        assistant, thread = start(http)
        streamed = http.post(f"/threads/{thread}/runs", json={"assistant_id": assistant, "stream": True})
    created = data(streamed.text, "thread.run.created")[0]
    assert isinstance(created["created_at"], int)
    assert f'"created_at":{created["created_at"]},' in streamed.text


def test_astra_writes_timestamps_in_milliseconds() -> None:
    with serve("astra") as (_, http):
        assistant, thread = start(http)
        run = ok(http.post(f"/threads/{thread}/runs", json={"assistant_id": assistant}))
        streamed = http.post(f"/threads/{thread}/runs", json={"assistant_id": assistant, "stream": True})
    now_ms = time.time() * 1000
    assert abs(run["created_at"] - now_ms) < 3_600_000  # milliseconds: within an hour of now
    assert isinstance(run["created_at"], int)
    assert abs(data(streamed.text, "thread.run.created")[0]["created_at"] - now_ms) < 3_600_000


def test_openai_and_azure_write_integer_seconds() -> None:
    for dialect in ("openai", "azure-foundry", "azure-openai"):
        with serve(dialect) as (_, http):
            thread = ok(http.post("/threads", json={}))
        assert isinstance(thread["created_at"], int)
        assert abs(thread["created_at"] - time.time()) < 3600


# Request validation and unknown routes.


@pytest.mark.parametrize(
    ("dialect", "body", "expected"),
    [
        (
            "open-assistant",
            {"model": "gpt-4o"},
            {
                "error": {
                    "code": "request_validation_error",
                    "message": "[{'type': 'missing', 'loc': ('body', 'assistant_id'), "
                    "'msg': 'Field required', "
                    "'input': {'model': 'gpt-4o'}}]",
                    "type": None,
                    "param": None,
                }
            },
        ),
        (
            "astra",
            {"model": "gpt-4o"},
            {
                "detail": [
                    {
                        "type": "missing",
                        "loc": ["body", "assistant_id"],
                        "msg": "Field required",
                        "input": {"model": "gpt-4o"},
                    }
                ]
            },
        ),
        (
            "open-assistant",
            b"{not json",
            {
                "error": {
                    "code": "request_validation_error",
                    "message": "[{'type': 'json_invalid', 'loc': ('body', 1), 'msg': 'JSON decode error', "
                    "'input': {}, 'ctx': {'error': 'Expecting property name enclosed in double quotes'}}]",
                    "type": None,
                    "param": None,
                }
            },
        ),
        (
            "astra",
            [1],
            {
                "detail": [
                    {
                        "type": "model_attributes_type",
                        "loc": ["body"],
                        "msg": "Input should be a valid dictionary or object to extract fields from",
                        "input": [1],
                    }
                ]
            },
        ),
    ],
)
def test_the_fastapi_servers_refuse_bad_bodies_with_their_422(dialect: str, body: Any, expected: Any) -> None:
    with serve(dialect) as (_, http):
        _, thread = start(http)
        sent = {"content": body} if isinstance(body, bytes) else {"json": body}
        response = http.post(f"/threads/{thread}/runs", **sent)
    assert (response.status_code, response.json()) == (422, expected)


@pytest.mark.parametrize(
    ("dialect", "body"),
    [
        (
            "open-assistant",
            {
                "error": {
                    "code": "resource_not_found",
                    "message": "run run_nope not found",
                    "type": "not_found_error",
                    "param": None,
                }
            },
        ),
        ("astra", {"detail": "RunObject not found."}),
        (
            "azure-openai",
            {
                "error": {
                    "message": "No run found with id 'run_nope'.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                }
            },
        ),
    ],
)
def test_a_missing_run_in_the_servers_words(dialect: str, body: Any) -> None:
    with serve(dialect) as (_, http):
        _, thread = start(http)
        response = http.get(f"/threads/{thread}/runs/run_nope")
    assert (response.status_code, response.json()) == (404, body)


def test_open_assistant_words_its_other_refusals_as_bad_requests() -> None:
    with serve("open-assistant") as (_, http):
        missing = http.get("/threads/thread_nope")
        _, thread = start(http)
        bad = http.get(f"/threads/{thread}/runs", params={"order": "sideways"})
    assert missing.json()["error"] == {
        "code": "resource_not_found", "message": "thread thread_nope not found", "type": "not_found_error",
        "param": None,
    }  # fmt: skip
    assert (bad.status_code, bad.json()["error"]["code"], bad.json()["error"]["type"]) == (
        400,
        "bad_request",
        "invalid_request_error",
    )


@pytest.mark.parametrize(
    ("dialect", "method", "path", "status", "body"),
    [
        (
            "openai",
            "GET",
            "/v1/nothing",
            404,
            {
                "error": {
                    "message": "Invalid URL (GET /v1/nothing)",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                }
            },
        ),
        (
            "azure-foundry",
            "GET",
            "/api/projects/demo/nothing",
            404,
            {"error": {"code": "404", "message": "Resource not found"}},
        ),
        (
            "azure-openai",
            "DELETE",
            "/openai/threads/thread_1/runs",
            404,
            {"error": {"code": "404", "message": "Resource not found"}},
        ),
        (
            "open-assistant",
            "GET",
            "/api/v1/nothing",
            404,
            {"error": {"code": "http_error", "message": "Not Found", "type": None, "param": None}},
        ),
        (
            "open-assistant",
            "DELETE",
            "/api/v1/threads/thread_1/runs",
            405,
            {"error": {"code": "http_error", "message": "Method Not Allowed", "type": None, "param": None}},
        ),
        ("astra", "GET", "/v1/nothing", 501, {"message": "This feature is not yet implemented"}),
        ("astra", "GET", "/v9/threads", 501, {"message": "This feature is not yet implemented"}),
    ],
)
def test_an_unknown_route_in_the_servers_words(
    dialect: str, method: str, path: str, status: int, body: Any
) -> None:
    with serve(dialect) as (server, _), httpx.Client() as bare:
        response = bare.request(method, server.root_url + path)
    assert (response.status_code, response.json()) == (status, body)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/runs/{run}"),
        ("POST", "/runs/{run}/cancel"),
        ("GET", "/runs/{run}/steps"),
        ("GET", "/runs/{run}/steps/step_1"),
    ],
)
def test_astra_has_no_route_to_modify_or_cancel_a_run_nor_to_its_steps(method: str, path: str) -> None:
    with serve("astra") as (_, http):
        assistant, thread = start(http)
        run = ok(http.post(f"/threads/{thread}/runs", json={"assistant_id": assistant}))
        response = http.request(
            method, f"/threads/{thread}" + path.format(run=run["id"]), json={"metadata": {}}
        )
        assert ok(http.get(f"/threads/{thread}/runs/{run['id']}"))["metadata"] == {}
    assert (response.status_code, response.json()) == (
        501,
        {"message": "This feature is not yet implemented"},
    )


def test_the_other_dialects_modify_and_cancel_runs() -> None:
    for dialect in ("azure-foundry", "azure-openai", "open-assistant"):
        with serve(dialect) as (_, http):
            assistant, thread = start(http, FUNCTION)
            run = ok(http.post(f"/threads/{thread}/runs", json={"assistant_id": assistant}))
            path = f"/threads/{thread}/runs/{run['id']}"
            assert ok(http.post(path, json={"metadata": {"a": "b"}}))["metadata"] == {"a": "b"}
            assert ok(http.post(f"{path}/cancel"))["status"] == "cancelling"


# Streams.


def test_azure_streams_as_openai_does() -> None:
    for dialect in ("azure-foundry", "azure-openai"):
        with serve(dialect) as (_, http):
            assistant, thread = start(http)
            streamed = http.post(f"/threads/{thread}/runs", json={"assistant_id": assistant, "stream": True})
        assert "\r" not in streamed.text
        assert events(streamed.text)[-2:] == ["thread.run.completed", "done"]
        assert frames(streamed.text)[-1] == ("done", "[DONE]")


def test_open_assistant_streams_with_crlf_and_no_done_and_messages_still_in_progress() -> None:
    with serve("open-assistant") as (_, http):
        assistant, thread = start(http)
        streamed = http.post(f"/threads/{thread}/runs", json={"assistant_id": assistant, "stream": True})
    assert streamed.text.startswith("event: thread.run.created\r\ndata: {")
    assert streamed.text.endswith("\r\n\r\n")
    assert "\n" not in streamed.text.replace("\r\n", "")
    names = events(streamed.text)
    assert names[-1] == "thread.run.completed"
    assert "done" not in names
    [message] = data(streamed.text, "thread.message.completed")
    assert message["status"] == "in_progress"
    assert message["content"][0]["text"]["value"]


def test_open_assistant_completes_a_run_still_requiring_action() -> None:
    with serve("open-assistant") as (_, http):
        assistant, thread = start(http, FUNCTION)
        streamed = http.post(f"/threads/{thread}/runs", json={"assistant_id": assistant, "stream": True})
    names = events(streamed.text)
    assert names[-2:] == ["thread.run.requires_action", "thread.run.completed"]
    [waiting], [completed] = (
        data(streamed.text, "thread.run.requires_action"),
        data(streamed.text, "thread.run.completed"),
    )
    assert completed == waiting
    assert completed["status"] == "requires_action"
    assert completed["required_action"]["type"] == "submit_tool_outputs"


def test_astra_streams_data_only_envelopes_ending_with_the_last_delta() -> None:
    with serve("astra") as (_, http):
        assistant, thread = start(http)
        streamed = http.post(f"/threads/{thread}/runs", json={"assistant_id": assistant, "stream": True})
        calling, thread = start(http, FUNCTION)
        waiting = http.post(f"/threads/{thread}/runs", json={"assistant_id": calling, "stream": True})
    assert streamed.text.startswith('data: {"event": "thread.run.created", "data": {')
    assert "\nevent:" not in streamed.text
    assert "[DONE]" not in streamed.text
    names = events(streamed.text)
    assert names[-1] == "thread.message.delta"
    assert not {"thread.message.completed", "thread.run.step.completed", "thread.run.completed"} & set(names)
    assert events(waiting.text)[-1] == "thread.run.requires_action"


# Paging by id over an order by whole seconds (open-assistant-api), when asked.


def listing(*seconds: int) -> Listing:
    items = Listing()
    for n, second in enumerate(seconds):
        items.add({"id": f"run_{n}", "created_at": second})
    return items


def walk(items: Listing, limit: int, order: str, coarse: bool) -> list[str]:
    ids: list[str] = []
    query: dict[str, Any] = {"limit": str(limit), "order": order}
    while True:
        page, more = items.page(query, "run", coarse)
        ids += [item["id"] for item in page]
        if not more or not page:
            return ids
        query["after"] = page[-1]["id"]


@pytest.mark.parametrize(
    ("seconds", "limit", "order", "expected"),
    [
        ((100, 100, 100), 1, "desc", ["run_0"]),  # skips two
        ((100, 100, 100), 2, "desc", ["run_0", "run_1", "run_0"]),  # repeats one, skips one
        ((100, 100, 100), 1, "asc", ["run_0", "run_1", "run_2"]),
        ((100, 100, 101), 1, "desc", ["run_2", "run_0"]),
        ((100, 101, 102), 1, "desc", ["run_2", "run_1", "run_0"]),  # a second apart: no harm
    ],
)
def test_coarse_pages_order_by_whole_seconds_and_page_by_id(
    seconds: tuple[int, ...], limit: int, order: str, expected: list[str]
) -> None:
    assert walk(listing(*seconds), limit, order, coarse=True) == expected
    exact = [f"run_{n}" for n in range(len(seconds))]
    assert walk(listing(*seconds), limit, order, coarse=False) == (exact if order == "asc" else exact[::-1])


def test_coarse_order_over_http_skips_runs_created_within_one_second() -> None:
    with serve("open-assistant", coarse_order=True) as (server, http):
        for _ in range(5):  # three runs made at once share a second, unless a second began in between
            _, thread = start(http)
            http.post(
                f"{server.root_url}/_emulator/threads/{thread}/runs:seed", json={"count": 3}
            ).raise_for_status()
            runs = ok(http.get(f"/threads/{thread}/runs", params={"order": "asc"}))["data"]
            if len({run["created_at"] for run in runs}) == 1:
                break
        first = ok(http.get(f"/threads/{thread}/runs", params={"limit": 1}))
        after = ok(http.get(f"/threads/{thread}/runs", params={"limit": 1, "after": first["last_id"]}))
    assert first["data"][0]["id"] == runs[0]["id"]  # the oldest first, in a "desc" list
    assert first["has_more"] is True
    assert (after["data"], after["has_more"]) == ([], False)
    assert parse_config(["--dialect", "open-assistant", "--coarse-order"]).coarse_order is True
    assert EmulatorConfig().coarse_order is False


# Entra test tokens and the command line.


def test_entra_tokens_are_jwt_shaped_and_checked_for_audience_and_expiry() -> None:
    token = entra_token(FOUNDRY_AUDIENCE, 2_000_000_000, oid="someone")
    assert token.count(".") == 2
    assert "=" not in token
    assert claims_of(token) == {
        "aud": FOUNDRY_AUDIENCE, "iss": "https://sts.windows.net/emulator/", "exp": 2_000_000_000,
        "oid": "someone",
    }  # fmt: skip
    assert refusal(token, FOUNDRY_AUDIENCE, now=1_999_999_999) is None
    assert refusal(token, FOUNDRY_AUDIENCE + "/", now=1_999_999_999) is None
    assert refusal(token, FOUNDRY_AUDIENCE, now=2_000_000_000) == "expired"
    assert refusal(token, COGNITIVE_AUDIENCE, now=0) == "audience"
    assert refusal("x.y", FOUNDRY_AUDIENCE) == "malformed"
    assert refusal("e30.e30.!!", FOUNDRY_AUDIENCE) == "malformed"
    assert refusal(token.replace(".", ".é", 1), FOUNDRY_AUDIENCE) == "malformed"
    assert refusal(entra_token(FOUNDRY_AUDIENCE, exp="soon"), FOUNDRY_AUDIENCE) == "malformed"
    assert refusal(entra_token(FOUNDRY_AUDIENCE, aud=None), FOUNDRY_AUDIENCE) == "audience"
    assert refusal(entra_token(FOUNDRY_AUDIENCE), FOUNDRY_AUDIENCE) is None  # an hour from now by default


def test_the_command_line_picks_the_dialect_and_its_api_version() -> None:
    config = parse_config(["--dialect", "azure-foundry", "--api-version", "2025-05-01"])
    assert (config.dialect, config.api_version, config.profile.served_base) == (
        "azure-foundry",
        "2025-05-01",
        "/api/projects/demo",
    )
    assert parse_config([]).dialect == "openai"
    with pytest.raises(SystemExit):
        parse_config(["--dialect", "openai", "--api-version", "v1"])
    with pytest.raises(SystemExit):
        parse_config(["--dialect", "bedrock"])
