"""The Node.js client (examples/node/client.js) against a real gateway and emulator on loopback sockets.

A client in another language, loading the project's protos at run time with @grpc/proto-loader: on v1 it
must drive a run through requires_action to completed over one WatchRun stream (submitting the tool outputs
on a call of its own while the stream stays open; no GetRun polling) and stream the thread's runs, each
exactly once; on v2 it must stream a run's events (CreateRunStream, then SubmitToolOutputsStream), every
event once and in the upstream's order. The gateway has no key of its own here, so every call also proves
that the client's `authorization` metadata reaches the upstream. Skipped where `node` or the client's
node_modules (`make setup`) is missing.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import GatewayThread
from httpx_sse import connect_sse

from emulator import EmulatorConfig, EmulatorServer
from gateway.config import Settings

NODE_DIR = Path(__file__).resolve().parent.parent / "examples" / "node"
NODE = shutil.which("node")
KEY = "sk-node-client-key-0123456789"
FUNCTION_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
# Variables the client reads: never inherited from the developer's shell.
CLIENT_VARIABLES = (
    "GATEWAY_ADDR",
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "ASSISTANT_ID",
    "THREAD_ID",
    "LIST_PAGE_SIZE",
)

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node is not on PATH"),
    pytest.mark.skipif(
        not (NODE_DIR / "node_modules" / "@grpc" / "grpc-js").is_dir(),
        reason="examples/node/node_modules is missing: run make setup",
    ),
]


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    # A small step, so the client really watches a run that moves on its own.
    with EmulatorServer(EmulatorConfig(step_seconds=0.01, api_keys=frozenset({KEY}))) as server:
        yield server


@pytest.fixture(scope="module")
def metrics() -> str:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture(scope="module")
def gateway(emulator: EmulatorServer, metrics: str) -> Iterator[str]:
    settings = Settings(
        listen="127.0.0.1:0",
        base_url=emulator.base_url,
        api_key=None,
        timeout=10,
        watch_interval=0.02,  # the run's states as they come, and no second's wait for its end
        metrics_listen=metrics,
    )
    with GatewayThread(settings) as target:
        yield target


def started(metrics: str, method: str, version: str = "v1") -> float:
    """How many calls of `method` of that version's service the gateway has started (its
    grpc_server_started_total)."""
    labels = f'grpc_method="{method}",grpc_service="runs_gateway.assistants.{version}.RunsService"'
    for line in httpx.get(f"http://{metrics}/metrics", timeout=10).text.splitlines():
        if line.startswith(f"grpc_server_started_total{{{labels},"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture(scope="module")
def rest(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "assistants=v1"}
    with httpx.Client(base_url=emulator.base_url, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def rest_v2(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "assistants=v2"}
    with httpx.Client(base_url=emulator.base_url, headers=headers, timeout=10) as client:
        yield client


def run_node(gateway: str, emulator: EmulatorServer, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name not in CLIENT_VARIABLES}
    env |= {"GATEWAY_ADDR": gateway, "OPENAI_BASE_URL": emulator.base_url, "OPENAI_API_KEY": KEY, **variables}
    assert NODE is not None
    return subprocess.run(
        [NODE, str(NODE_DIR / "client.js")], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def summary_of(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The JSON summary, the last line of stdout (the lines before it show the streamed run)."""
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines, result.stdout
    summary: dict[str, Any] = json.loads(lines[-1])
    return summary


def created(rest: httpx.Client, path: str, body: dict[str, Any]) -> str:
    response = rest.post(path, json=body)
    response.raise_for_status()
    return str(response.json()["id"])


def assert_went_through_requires_action(statuses: list[str]) -> None:
    assert statuses[0] == "RUN_STATUS_QUEUED"
    assert statuses[-1] == "RUN_STATUS_COMPLETED"
    assert statuses.count("RUN_STATUS_REQUIRES_ACTION") == 1
    # The outputs were submitted while it required action, and it completed only after that.
    assert statuses.index("RUN_STATUS_REQUIRES_ACTION") < len(statuses) - 1
    # Each change of status once, in the order the run went through them (the stream never goes back).
    assert all(a != b for a, b in itertools.pairwise(statuses)), statuses
    lifecycle = ["QUEUED", "IN_PROGRESS", "REQUIRES_ACTION", "QUEUED", "IN_PROGRESS", "COMPLETED"]
    position = -1
    for status in statuses:
        later = [i for i, name in enumerate(lifecycle) if f"RUN_STATUS_{name}" == status and i > position]
        assert later, f"out of the lifecycle's order: {statuses}"
        position = later[0]


def test_follows_the_run_over_one_watch_and_prints_each_status_as_it_arrives(
    gateway: str, emulator: EmulatorServer, metrics: str
) -> None:
    before = {method: started(metrics, method) for method in ("WatchRun", "GetRun", "SubmitToolOutputs")}

    result = run_node(gateway, emulator)

    summary = summary_of(result)
    calls = {method: started(metrics, method) - count for method, count in before.items()}
    assert calls == {"WatchRun": 1, "GetRun": 0, "SubmitToolOutputs": 1}
    # A line on stderr for each status, as it arrived; stdout stays the one JSON line.
    run_id = summary["run_id"]
    assert result.stderr.splitlines() == [f"run {run_id} {status}" for status in summary["statuses"]]


def upstream_stream(rest: httpx.Client, path: str, body: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """The names of the events the upstream sends for `POST path` with `"stream": true`, read straight over
    REST until `done`, and the run as its last run event showed it."""
    names: list[str] = []
    run: dict[str, Any] = {}
    with connect_sse(rest, "POST", path, json={**body, "stream": True}) as source:
        for event in source.iter_sse():
            if event.event == "done":
                break
            names.append(event.event)
            if event.event.startswith("thread.run.") and not event.event.startswith("thread.run.step."):
                run = event.json()
    return names, run


def upstream_events_of_the_same_run(rest: httpx.Client, assistant: str, outputs: list[str]) -> list[str]:
    """The events of a run like the client's (same assistant, same tool outputs, so the same reply) streamed
    by the upstream straight to the test: the order and number the client must see through the gateway."""
    thread = created(rest, "/threads", {})
    before, run = upstream_stream(rest, f"/threads/{thread}/runs", {"assistant_id": assistant})
    calls = run["required_action"]["submit_tool_outputs"]["tool_calls"]
    tool_outputs = [{"tool_call_id": c["id"], "output": o} for c, o in zip(calls, outputs, strict=True)]
    path = f"/threads/{thread}/runs/{run['id']}/submit_tool_outputs"
    after, _ = upstream_stream(rest, path, {"tool_outputs": tool_outputs})
    return before + after


def printed_events(stdout: str) -> tuple[list[str], str, int]:
    """What the client printed of the streamed run: the event names, one line each (the deltas share a line:
    `event thread.message.delta: TEXT (N deltas)`), the text written on that line, and N."""
    names, text, deltas = [], "", 0
    for line in stdout.splitlines()[:-1]:
        if not line.startswith("event "):
            continue
        name, _, tail = line.removeprefix("event ").partition(": ")
        names.append(name)
        if name == "thread.message.delta":
            text, _, count = tail.rpartition(" (")
            deltas = int(count.removesuffix(" deltas)"))
    return names, text, deltas


def test_streams_a_v2_run_event_by_event_through_requires_action(
    gateway: str, emulator: EmulatorServer, metrics: str, rest_v2: httpx.Client
) -> None:
    methods = ("CreateRunStream", "SubmitToolOutputsStream", "CreateRun", "GetRun", "WatchRun")
    before = {method: started(metrics, method, "v2") for method in methods}

    result = run_node(gateway, emulator)

    summary = summary_of(result)
    stream = summary["stream"]
    thread, run_id, events = stream["thread_id"], stream["run_id"], stream["events"]
    assert stream["final_status"] == "RUN_STATUS_COMPLETED"
    # Two streams, and no polling: the first ends at requires_action, the second brings the reply and the end.
    calls = {method: started(metrics, method, "v2") - count for method, count in before.items()}
    assert calls == {
        "CreateRunStream": 1,
        "SubmitToolOutputsStream": 1,
        "CreateRun": 0,
        "GetRun": 0,
        "WatchRun": 0,
    }
    waiting = events.index("thread.run.requires_action")
    assert events[0] == "thread.run.created"
    assert "thread.message.delta" not in events[:waiting]
    assert events[waiting + 1 :].count("thread.message.delta") > 1
    assert events[-1] == "thread.run.completed"
    # The tool call answered is the one the run required, and its output reached the upstream.
    steps = rest_v2.get(f"/threads/{thread}/runs/{run_id}/steps", params={"order": "asc"}).json()["data"]
    assert [s["type"] for s in steps] == ["tool_calls", "message_creation"]
    tool_calls = steps[0]["step_details"]["tool_calls"]
    assert [(c["id"], c["function"]["name"]) for c in tool_calls] == [
        (call["id"], call["name"]) for call in stream["tool_calls"]
    ]
    outputs = [c["function"]["output"] for c in tool_calls]
    assert json.loads(outputs[0])["forecast"] == "sunny"
    # Every event, once, in the upstream's order: what the upstream streams for the same run, read directly.
    assert events == upstream_events_of_the_same_run(rest_v2, stream["assistant_id"], outputs)
    # The deltas add up to the message the upstream holds: no part lost, repeated or out of order.
    messages = rest_v2.get(f"/threads/{thread}/messages", params={"order": "asc"}).json()["data"]
    assert [(m["role"], m["run_id"]) for m in messages] == [("assistant", run_id)]
    assert messages[0]["id"] == steps[1]["step_details"]["message_creation"]["message_id"]
    assert stream["text"] == messages[0]["content"][0]["text"]["value"]
    # Printed as they came: each event's name, the message's deltas on one line with their text.
    one_line_of_deltas = [
        name
        for previous, name in itertools.pairwise(["", *events])
        if not previous == name == "thread.message.delta"
    ]
    assert printed_events(result.stdout) == (
        one_line_of_deltas,
        stream["text"],
        events.count("thread.message.delta"),
    )
    lines = result.stdout.splitlines()
    # The outputs were submitted once the first stream had ended with requires_action, before the second.
    submitted = lines.index("event thread.run.requires_action") + 1
    assert lines[submitted].startswith(f"submit {stream['tool_calls'][0]['id']} get_weather -> ")
    assert lines[submitted + 1] == f"event {events[waiting + 1]}"
    assert lines[-2] == f"run {run_id} RUN_STATUS_COMPLETED"


def test_the_streamed_calls_reach_the_upstream_once_with_the_clients_key(
    gateway: str, emulator: EmulatorServer
) -> None:
    summary = summary_of(run_node(gateway, emulator))

    thread, run_id = summary["stream"]["thread_id"], summary["stream"]["run_id"]
    log = httpx.get(f"{emulator.base_url.removesuffix('/v1')}/_emulator/requests", timeout=10).json()
    runs = f"/v1/threads/{thread}/runs"
    of_the_run = [entry for entry in log if entry["path"].startswith(runs)]
    # The two streamed calls and nothing else (no polling), each once (a streamed call is never retried).
    assert [(entry["method"], entry["path"]) for entry in of_the_run] == [
        ("POST", runs),
        ("POST", f"{runs}/{run_id}/submit_tool_outputs"),
    ]
    for entry in of_the_run:
        assert json.loads(entry["body"])["stream"] is True
        assert entry["headers"]["openai-beta"] == "assistants=v2"
        assert entry["headers"]["authorization"] == f"Bearer {KEY}"  # the client's: the gateway has none


def test_creates_a_thread_and_drives_a_run_through_requires_action(
    gateway: str, emulator: EmulatorServer, rest: httpx.Client
) -> None:
    summary = summary_of(run_node(gateway, emulator))

    assert_went_through_requires_action(summary["statuses"])
    assert summary["final_status"] == "RUN_STATUS_COMPLETED"
    thread, run_id = summary["thread_id"], summary["run_id"]
    upstream = rest.get(f"/threads/{thread}/runs/{run_id}").json()
    assert (upstream["status"], upstream["assistant_id"]) == ("completed", summary["assistant_id"])
    assert [t["type"] for t in upstream["tools"]] == ["function"]
    # The tool call the client answered is the one the run required, and its output reached the upstream.
    steps = rest.get(f"/threads/{thread}/runs/{run_id}/steps", params={"order": "asc"}).json()["data"]
    calls = [
        call for step in steps if step["type"] == "tool_calls" for call in step["step_details"]["tool_calls"]
    ]
    assert [(c["id"], c["function"]["name"]) for c in calls] == [
        (call["id"], call["name"]) for call in summary["tool_calls"]
    ]
    assert json.loads(calls[0]["function"]["output"])["forecast"] == "sunny"
    assert (summary["listed"], summary["listed_ids"]) == (1, [run_id])


def test_streams_every_run_of_the_thread_once_across_pages(
    gateway: str, emulator: EmulatorServer, rest: httpx.Client
) -> None:
    assistant = created(rest, "/assistants", {"model": "gpt-4", "tools": [FUNCTION_TOOL]})
    thread = created(rest, "/threads", {})
    seed = httpx.post(
        f"{emulator.base_url.removesuffix('/v1')}/_emulator/threads/{thread}/runs:seed", json={"count": 5}
    )
    seed.raise_for_status()

    summary = summary_of(
        run_node(gateway, emulator, ASSISTANT_ID=assistant, THREAD_ID=thread, LIST_PAGE_SIZE="2")
    )

    assert (summary["thread_id"], summary["assistant_id"]) == (thread, assistant)
    assert_went_through_requires_action(summary["statuses"])
    # What the upstream holds, read directly in one page: five seeded runs, then the client's, oldest first.
    expected = [
        run["id"]
        for run in rest.get(f"/threads/{thread}/runs", params={"order": "asc", "limit": 100}).json()["data"]
    ]
    assert len(expected) == 6
    assert expected[0] == seed.json()["first_id"]
    assert expected[-1] == summary["run_id"]
    assert summary["listed_ids"] == expected  # three pages of two, no run missing, repeated or out of order
    assert summary["listed"] == len(set(summary["listed_ids"])) == 6


def test_exits_non_zero_with_the_grpc_error(gateway: str, emulator: EmulatorServer) -> None:
    result = run_node(gateway, emulator, ASSISTANT_ID="asst_missing", THREAD_ID="thread_missing")

    assert result.returncode == 1
    assert result.stdout == ""
    assert "gRPC NOT_FOUND" in result.stderr
    assert "thread_missing" in result.stderr


def test_the_same_client_streams_a_run_over_a_responses_upstream(
    tmp_path: Path, emulator: EmulatorServer
) -> None:
    # The client's streamed v2 run, unchanged, through a gateway over the emulator's Responses API: the thread
    # a conversation, the assistant one of the gateway's --assistants file (a Responses upstream has none).
    assistants = tmp_path / "assistants.json"
    weather = {"model": "gpt-4o", "instructions": "Tell the weather.", "tools": [FUNCTION_TOOL]}
    assistants.write_text(json.dumps({"assistants": {"asst_weather": weather}}))
    settings = Settings(
        listen="127.0.0.1:0",
        base_url=emulator.base_url,
        api_key=None,
        timeout=10,
        upstream_api="responses",
        assistants=str(assistants),
        store=f"sqlite:///{tmp_path / 'runs.db'}",
    )
    with httpx.Client(base_url=emulator.base_url, headers={"Authorization": f"Bearer {KEY}"}) as rest:
        conversation = created(rest, "/conversations", {"items": [{"role": "user", "content": "Paris?"}]})
        with GatewayThread(settings) as target:
            result = run_node(
                target, emulator, VERSIONS="v2", V2_ASSISTANT_ID="asst_weather", V2_THREAD_ID=conversation
            )
        items = rest.get(f"/conversations/{conversation}/items", params={"order": "asc"}).json()["data"]
    summary = summary_of(result)
    assert set(summary) == {"stream"}  # v1 left out: a gateway over Responses serves v2
    stream = summary["stream"]
    assert (stream["thread_id"], stream["final_status"]) == (conversation, "RUN_STATUS_COMPLETED")
    events = stream["events"]
    waiting = events.index("thread.run.requires_action")
    assert events[0] == "thread.run.created"
    assert "thread.message.delta" not in events[:waiting]
    assert events[waiting + 1 :].count("thread.message.delta") > 1
    assert events[-1] == "thread.run.completed"
    assert [call["name"] for call in stream["tool_calls"]] == ["get_weather"]
    # The output reached the conversation, answering the call the run required, and so did the reply.
    answered = [item for item in items if item["type"] == "function_call_output"]
    assert [item["call_id"] for item in answered] == [stream["tool_calls"][0]["id"]]
    assert json.loads(answered[0]["output"])["forecast"] == "sunny"
    reply = [item for item in items if item["type"] == "message" and item["role"] == "assistant"]
    assert stream["text"] == reply[-1]["content"][0]["text"]
