"""The Node.js client (examples/node/client.js) against a real gateway and emulator on loopback sockets.

A client in another language, loading the project's protos at run time with @grpc/proto-loader: it must
drive a run through requires_action to completed over one WatchRun stream (submitting the tool outputs on a
call of its own while the stream stays open; no GetRun polling) and stream the thread's runs, each exactly
once. The gateway has no key of its own here, so every call also proves that the client's `authorization`
metadata reaches the upstream. Skipped where `node` or the client's node_modules (`make setup`) is missing.
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


def started(metrics: str, method: str) -> float:
    """How many calls of `method` the gateway has started (its grpc_server_started_total)."""
    labels = f'grpc_method="{method}",grpc_service="runs_gateway.assistants.v1.RunsService"'
    for line in httpx.get(f"http://{metrics}/metrics", timeout=10).text.splitlines():
        if line.startswith(f"grpc_server_started_total{{{labels},"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture(scope="module")
def rest(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "assistants=v1"}
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
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    summary: dict[str, Any] = json.loads(lines[0])
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
