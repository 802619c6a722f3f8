"""WatchRun end to end: real gRPC clients → a real gateway → the emulator, over loopback sockets.

A run is driven the way an application drives it: watch it, submit the tool outputs on another call when a
message shows `requires_action`, keep reading the same stream until it ends. What is checked is what a
watcher may rely on (every change once, in order, the steps in their final state before the final run, the
stream's status) and what the upstream sees (one poll loop per run and credentials, whatever the number of
watchers; none once the last watcher left), read from the emulator's request log and the gateway's gauges.

Nothing here times the machine: waits are for events, with generous caps, and the only bounds on time are
the ones a watch would otherwise hit (a deadline, a 600 s interval), far away.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass
from typing import Any, cast

import grpc
import httpx
import pytest
from conftest import GatewayThread
from google.protobuf.message import Message
from google.rpc import error_details_pb2 as ed
from grpc_status import rpc_status
from loopback import serving, until
from runs_gateway.assistants.v1 import resources_pb2 as res
from runs_gateway.assistants.v1 import runs_service_pb2 as pb
from runs_gateway.assistants.v1 import runs_service_pb2_grpc as pb_grpc

from emulator import EmulatorConfig, EmulatorServer
from gateway.config import Settings
from gateway.core import Gateway
from gateway.server import build_server

Code = grpc.StatusCode
Change = res.Run | res.RunStep
KEY = "sk-watch-gateway-key-0123456789"
"""The gateway's own key: the emulator accepts any key, so whose GETs they were shows in the request log."""
KEY_A, KEY_B = "sk-watch-client-a-0123456789", "sk-watch-client-b-0123456789"
INTERVAL = 0.02
"""The poll interval of the module's gateway: small, so a run's states are seen as it goes through them."""
FUNCTION_TOOL = {
    "type": "function",
    "function": {
        "name": "lookup",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
    },
}
DRIVEN = (
    res.RUN_STATUS_QUEUED,
    res.RUN_STATUS_IN_PROGRESS,
    res.RUN_STATUS_REQUIRES_ACTION,
    res.RUN_STATUS_QUEUED,
    res.RUN_STATUS_IN_PROGRESS,
    res.RUN_STATUS_COMPLETED,
)
"""The lifecycle of a run with a function tool, through its tool outputs, in the emulator."""
PLAIN = (res.RUN_STATUS_QUEUED, res.RUN_STATUS_IN_PROGRESS, res.RUN_STATUS_COMPLETED)
"""The lifecycle of a run without tools."""


# The upstream: one emulator for the module (any key accepted), its admin API, and what it logged.


class Upstream:
    """The emulator's REST side for setting things up, and its admin API (faults, the request log)."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.rest = httpx.Client(
            base_url=server.base_url,
            headers={"Authorization": "Bearer sk-watch-test-setup-0123", "OpenAI-Beta": "assistants=v1"},
            timeout=30,
        )
        self.admin = httpx.Client(base_url=server.base_url.removesuffix("/v1") + "/_emulator", timeout=30)

    def assistant(self, *tools: dict[str, Any], instructions: str = "Help.") -> str:
        body = {"model": "gpt-4", "instructions": instructions, "tools": list(tools)}
        return str(self._post("/assistants", body)["id"])

    def thread(self) -> str:
        return str(self._post("/threads", {})["id"])

    def run(self, thread: str, assistant: str) -> str:
        return str(self._post(f"/threads/{thread}/runs", {"assistant_id": assistant})["id"])

    def get_run(self, thread: str, run: str) -> dict[str, Any]:
        response = self.rest.get(f"/threads/{thread}/runs/{run}")
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def resting(self, thread: str, tools: Sequence[dict[str, Any]] = (FUNCTION_TOOL,)) -> str:
        """A run that rests in `requires_action` (or, without tools, `completed`): it changes no more until
        its tool outputs are submitted."""
        run = self.run(thread, self.assistant(*tools))
        give_up = time.monotonic() + 30
        while self.get_run(thread, run)["status"] not in ("requires_action", "completed"):
            assert time.monotonic() < give_up, "the run never came to rest"
            time.sleep(0.02)
        return run

    def fault(self, **fault: Any) -> None:
        self.admin.post("/faults", json=fault).raise_for_status()

    def gets(self, run: str, key: str | None = KEY) -> int:
        """GETs of the run (not of its steps) the upstream received, from the gateway (`key` None: any)."""
        return sum(
            1
            for r in self.admin.get("/requests").json()
            if r["method"] == "GET"
            and r["path"].endswith(f"/runs/{run}")
            and (key is None or r["headers"].get("authorization") == f"Bearer {key}")
        )

    def requests(self) -> list[dict[str, Any]]:
        log: list[dict[str, Any]] = self.admin.get("/requests").json()
        return log

    def clear(self) -> None:
        self.admin.delete("/faults").raise_for_status()
        self.admin.delete("/requests").raise_for_status()

    def close(self) -> None:
        self.rest.close()
        self.admin.close()

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.rest.post(path, json=body)
        response.raise_for_status()
        created: dict[str, Any] = response.json()
        return created


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with EmulatorServer(EmulatorConfig(step_seconds=0.05)) as server, closing(Upstream(server)) as upstream:
        yield upstream


@pytest.fixture(autouse=True)
def _clean(upstream: Upstream) -> Iterator[None]:
    upstream.clear()
    yield
    upstream.clear()


# The gateway: `runs-gateway`'s own serve() in a thread, with its metrics served, for the module.


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings(base_url: str, **fields: Any) -> Settings:
    defaults: dict[str, Any] = {"listen": "127.0.0.1:0", "base_url": base_url, "api_key": KEY, "timeout": 10}
    return Settings(**(defaults | fields))


@dataclass
class Served:
    target: str
    metrics: str

    def gauge(self, name: str) -> float:
        for line in httpx.get(self.metrics, timeout=10).text.splitlines():
            if line.startswith(f"{name} "):
                return float(line.split()[1])
        raise AssertionError(f"no gauge {name}")

    def idle(self) -> bool:
        """Whether no watcher is connected and no run is polled (waiting up to 30 s for it)."""
        gauges = ("runs_gateway_watchers", "runs_gateway_watch_loops")
        return until(lambda: all(self.gauge(name) == 0 for name in gauges))


@pytest.fixture(scope="module")
def served(upstream: Upstream) -> Iterator[Served]:
    port = free_port()
    with GatewayThread(
        settings(upstream.server.base_url, watch_interval=INTERVAL, metrics_listen=f"127.0.0.1:{port}")
    ) as target:
        yield Served(target, f"http://127.0.0.1:{port}/metrics")


@pytest.fixture(scope="module")
def stub(served: Served) -> Iterator[pb_grpc.RunsServiceStub]:
    with grpc.insecure_channel(served.target) as channel:
        yield pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]


@asynccontextmanager
async def in_process(base_url: str, **fields: Any) -> AsyncIterator[tuple[Gateway, str]]:
    """The gateway served on this event loop, for a test that looks at its state (`Gateway.watches`)."""
    built = build_server(settings(base_url, **fields))
    async with serving(built) as target:
        yield built.gateway, target


async def until_async(condition: Callable[[], bool]) -> bool:
    give_up = time.monotonic() + 30
    while not condition():
        if time.monotonic() > give_up:
            return False
        await asyncio.sleep(0.01)
    return True


# Watching, the way a client does.


def change_of(message: pb.WatchRunResponse) -> Change:
    kind = message.WhichOneof("change")
    assert kind in ("run", "run_step"), f"a message without a change: {message}"
    change: Change = message.run if kind == "run" else message.run_step
    return change


def outputs_for(run: res.Run) -> pb.SubmitToolOutputsRequest:
    calls = run.required_action.submit_tool_outputs.tool_calls
    outputs = [pb.ToolOutput(tool_call_id=call.id, output='{"answer": 42}') for call in calls]
    return pb.SubmitToolOutputsRequest(thread_id=run.thread_id, run_id=run.id, tool_outputs=outputs)


def watch(
    stub: pb_grpc.RunsServiceStub,
    thread: str,
    run: str,
    *,
    include_steps: bool = False,
    timeout: float = 60,
    submit: bool = True,
    on_change: Callable[[Change], None] = lambda change: None,
) -> tuple[list[Change], grpc.RpcError | None]:
    """Read a WatchRun stream to its end, submitting the tool outputs (when `submit`) the first time a
    message shows the run requires action; the changes received, and the error that ended it (None: OK)."""
    request = pb.WatchRunRequest(thread_id=thread, run_id=run, include_steps=include_steps)
    changes: list[Change] = []
    try:
        for message in stub.WatchRun(request, timeout=timeout):
            change = change_of(message)
            changes.append(change)
            on_change(change)
            if submit and _first_requires_action(changes):
                stub.SubmitToolOutputs(outputs_for(change), timeout=30)  # type: ignore[arg-type]
    except grpc.RpcError as error:
        return changes, error
    return changes, None


def _first_requires_action(changes: list[Change]) -> bool:
    last = changes[-1]
    return (
        isinstance(last, res.Run)
        and last.status == res.RUN_STATUS_REQUIRES_ACTION
        and not any(isinstance(c, res.Run) and c.status == last.status for c in changes[:-1])
    )


def runs_of(changes: Sequence[Change]) -> list[res.Run]:
    return [change for change in changes if isinstance(change, res.Run)]


def statuses(changes: Sequence[Change]) -> list[str]:
    return [res.RunStatus.Name(run.status) for run in runs_of(changes)]


def assert_in_order(changes: Sequence[Change], lifecycle: Sequence[int]) -> None:
    """Each change once: the run's statuses a walk forward through `lifecycle` (states may be skipped, none
    repeated or gone back to), no run message the same as the one before it, each step's changes forward.

    (Two run messages may be equal when not consecutive: the emulator's run is the same object when in
    progress before its tool call and after.)"""
    runs = runs_of(changes)
    assert all(a != b for a, b in itertools.pairwise(runs)), f"a repeat: {statuses(changes)}"
    position = -1
    for run in runs:
        later = [i for i, status in enumerate(lifecycle) if status == run.status and i > position]
        assert later, f"statuses out of lifecycle order: {statuses(changes)}"
        position = later[0]
    steps: dict[str, list[int]] = {}
    for change in changes:
        if isinstance(change, res.RunStep):
            steps.setdefault(change.id, []).append(change.status)
    for step_statuses in steps.values():
        assert step_statuses in ([res.RUN_STEP_STATUS_IN_PROGRESS], [res.RUN_STEP_STATUS_COMPLETED]) or (
            step_statuses == [res.RUN_STEP_STATUS_IN_PROGRESS, res.RUN_STEP_STATUS_COMPLETED]
        ), f"a step's changes out of order: {step_statuses}"


def assert_whole_story(changes: Sequence[Change], lifecycle: Sequence[int]) -> res.Run:
    """In order (see `assert_in_order`), ending with the run in its final state after every step in its
    own; returns that run."""
    assert_in_order(changes, lifecycle)
    final = changes[-1]
    assert isinstance(final, res.Run), f"the last message is not the run: {final}"
    assert final.status == lifecycle[-1]
    assert isinstance(changes[0], res.Run), "the first message is not the run"
    last_of_step = {change.id: change for change in changes if isinstance(change, res.RunStep)}
    for step in last_of_step.values():
        assert step.status == res.RUN_STEP_STATUS_COMPLETED, f"step {step.id} not in its final state"
    return final


def steps_now(stub: pb_grpc.RunsServiceStub, thread: str, run: str) -> list[res.RunStep]:
    request = pb.ListRunStepsRequest(thread_id=thread, run_id=run, order=pb.LIST_ORDER_ASC)
    return [step for page in stub.ListRunSteps(request, timeout=30) for step in page.run_steps]


def run_now(stub: pb_grpc.RunsServiceStub, thread: str, run: str) -> res.Run:
    response: pb.GetRunResponse = stub.GetRun(pb.GetRunRequest(thread_id=thread, run_id=run), timeout=30)
    return response.run


def details(error: grpc.RpcError) -> dict[type[Message], Any]:
    """The AIP-193 details of a failed call, by type."""
    status = rpc_status.from_call(cast(grpc.Call, error))
    assert status is not None, "no grpc-status-details-bin trailer"
    found: dict[type[Message], Any] = {}
    for packed in status.details:
        for kind in (ed.ErrorInfo, ed.BadRequest, ed.RequestInfo, ed.ResourceInfo, ed.RetryInfo):
            if packed.Is(kind.DESCRIPTOR):
                found[kind] = kind()
                packed.Unpack(found[kind])
    return found


def code_of(error: grpc.RpcError | None) -> Code:
    return Code.OK if error is None else error.code()


# A run followed to its end.


def test_a_run_through_requires_action_arrives_change_by_change(
    stub: pb_grpc.RunsServiceStub, upstream: Upstream
) -> None:
    thread, assistant = upstream.thread(), upstream.assistant(FUNCTION_TOOL)
    run = stub.CreateRun(pb.CreateRunRequest(thread_id=thread, assistant_id=assistant), timeout=30).run

    changes, error = watch(stub, thread, run.id)

    assert code_of(error) == Code.OK
    assert not any(isinstance(change, res.RunStep) for change in changes)
    final = assert_whole_story(changes, DRIVEN)
    # The watcher saw it rest in requires_action (it answered from there), and saw it once.
    assert statuses(changes).count("RUN_STATUS_REQUIRES_ACTION") == 1
    assert final == run_now(stub, thread, run.id)


def test_with_steps_each_step_arrives_and_ends_in_its_final_state_before_the_final_run(
    stub: pb_grpc.RunsServiceStub, upstream: Upstream
) -> None:
    thread = upstream.thread()
    assistant = upstream.assistant({"type": "code_interpreter"}, FUNCTION_TOOL)
    run = stub.CreateRun(pb.CreateRunRequest(thread_id=thread, assistant_id=assistant), timeout=30).run

    changes, error = watch(stub, thread, run.id, include_steps=True)

    assert code_of(error) == Code.OK
    final = assert_whole_story(changes, DRIVEN)
    assert statuses(changes).count("RUN_STATUS_REQUIRES_ACTION") == 1
    assert final == run_now(stub, thread, run.id)
    # Every step of the run (code, function call, message) arrived, each last in the state it ended in,
    # and every step message came before the final run's.
    steps = steps_now(stub, thread, run.id)
    assert [step.type for step in steps] == [
        res.RUN_STEP_TYPE_TOOL_CALLS,
        res.RUN_STEP_TYPE_TOOL_CALLS,
        res.RUN_STEP_TYPE_MESSAGE_CREATION,
    ]
    last_of_step = {change.id: change for change in changes if isinstance(change, res.RunStep)}
    assert list(last_of_step.values()) == steps
    assert changes.index(final) == len(changes) - 1
    # The function call's step was seen in progress while the run required action: steps arrive as they
    # change, not only at the end.
    function_step = steps[1]
    seen = [c.status for c in changes if isinstance(c, res.RunStep) and c.id == function_step.id]
    assert seen == [res.RUN_STEP_STATUS_IN_PROGRESS, res.RUN_STEP_STATUS_COMPLETED]


def test_a_finished_run_is_one_message(stub: pb_grpc.RunsServiceStub, upstream: Upstream) -> None:
    thread = upstream.thread()
    seeded = upstream.admin.post(f"/threads/{thread}/runs:seed", json={"count": 1}).json()["first_id"]

    changes, error = watch(stub, thread, seeded)

    assert code_of(error) == Code.OK
    assert upstream.gets(seeded) == 1  # one poll, which saw it had ended
    assert changes == [run_now(stub, thread, seeded)]
    assert changes[0].status == res.RUN_STATUS_COMPLETED


def test_a_finished_run_with_steps_is_its_steps_then_the_run(
    stub: pb_grpc.RunsServiceStub, upstream: Upstream
) -> None:
    thread = upstream.thread()
    run = upstream.resting(thread, tools=())  # no tools: it completes on its own, with a message step

    changes, error = watch(stub, thread, run, include_steps=True)

    assert code_of(error) == Code.OK
    assert changes == [*steps_now(stub, thread, run), run_now(stub, thread, run)]
    assert len(changes) == 2


# One poll loop per run and credentials, however many watch.


async def _watched_by(
    count: int, stub: pb_grpc.RunsServiceStub, upstream: Upstream, interval: float
) -> tuple[list[list[Change]], int, float]:
    """Create a run and watch it with `count` watchers; once every one has seen it require action, submit
    its outputs; read every stream to its end. The stories, the GETs of the run, the seconds it all took."""
    thread, assistant = upstream.thread(), upstream.assistant(FUNCTION_TOOL)
    started = time.monotonic()
    created = await stub.CreateRun(pb.CreateRunRequest(thread_id=thread, assistant_id=assistant), timeout=30)
    request = pb.WatchRunRequest(thread_id=thread, run_id=created.run.id)
    stories: list[list[Change]] = [[] for _ in range(count)]
    waiting = asyncio.Event()
    asked: list[res.Run] = []

    async def watcher(story: list[Change]) -> Code:
        call = stub.WatchRun(request, timeout=60)
        async for message in call:
            story.append(change_of(message))
            if _first_requires_action(story):
                asked.append(story[-1])  # type: ignore[arg-type]
                if len(asked) == count:
                    waiting.set()
        return await call.code()  # type: ignore[no-any-return]

    watchers = [asyncio.create_task(watcher(story)) for story in stories]
    await asyncio.wait_for(waiting.wait(), 60)
    await stub.SubmitToolOutputs(outputs_for(asked[0]), timeout=30)
    codes = await asyncio.gather(*watchers)
    elapsed = time.monotonic() - started
    assert set(codes) == {Code.OK}
    gets = await asyncio.to_thread(upstream.gets, created.run.id)
    return stories, gets, elapsed


async def test_a_hundred_watchers_share_one_upstream_poll(upstream: Upstream) -> None:
    interval = 0.5  # large beside the run's own steps (0.05 s): the number of polls counts events, not time
    with GatewayThread(settings(upstream.server.base_url, watch_interval=interval)) as target:
        async with grpc.aio.insecure_channel(target) as channel:
            stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
            [alone], gets_alone, elapsed_alone = await _watched_by(1, stub, upstream, interval)
            stories, gets, elapsed = await _watched_by(100, stub, upstream, interval)

    for story in [alone, *stories]:
        assert_whole_story(story, DRIVEN)
        assert statuses(story).count("RUN_STATUS_REQUIRES_ACTION") == 1
    assert all(story[-1] == stories[0][-1] for story in stories)  # the same run, as it ended
    # One loop polls once per interval (plus the first poll, and one slow poll's worth): a hundred watchers
    # cost the upstream what one does over the same time, not a hundred times as much.
    assert gets <= elapsed / interval + 3, (gets, elapsed)
    assert gets_alone <= elapsed_alone / interval + 3, (gets_alone, elapsed_alone)
    assert gets <= 2 * gets_alone + 3, f"{gets} GETs for 100 watchers, {gets_alone} for one"


def test_watchers_with_different_keys_never_share_a_loop(
    stub: pb_grpc.RunsServiceStub, served: Served, upstream: Upstream
) -> None:
    thread = upstream.thread()
    run = upstream.resting(thread)
    request = pb.WatchRunRequest(thread_id=thread, run_id=run)
    calls = [
        stub.WatchRun(request, timeout=60, metadata=[("authorization", f"Bearer {key}")])
        for key in (KEY_A, KEY_A, KEY_B)
    ]
    try:
        firsts = [change_of(next(call)) for call in calls]
        assert {first.status for first in firsts} == {res.RUN_STATUS_REQUIRES_ACTION}
        assert until(lambda: served.gauge("runs_gateway_watchers") == 3)
        # Two keys, two loops: the two watchers with key A share one, B has its own.
        assert served.gauge("runs_gateway_watch_loops") == 2
        # Each loop polls with its own key; none with the gateway's.
        before = upstream.gets(run, KEY_A), upstream.gets(run, KEY_B)
        assert until(lambda: upstream.gets(run, KEY_A) > before[0] and upstream.gets(run, KEY_B) > before[1])
        assert served.gauge("runs_gateway_watch_loops") == 2
        assert upstream.gets(run, KEY) == 0
    finally:
        for call in calls:
            call.cancel()
    assert served.idle()


# The end of a watch: the client's cancel, its deadline, an error.


def test_a_cancelled_watch_stops_polling(
    stub: pb_grpc.RunsServiceStub, served: Served, upstream: Upstream
) -> None:
    thread = upstream.thread()
    run = upstream.resting(thread)  # it would be polled forever
    call = stub.WatchRun(pb.WatchRunRequest(thread_id=thread, run_id=run), timeout=60)
    assert change_of(next(call)).status == res.RUN_STATUS_REQUIRES_ACTION
    assert until(lambda: upstream.gets(run) >= 5), "the watched run is not polled"

    call.cancel()

    assert call.code() == Code.CANCELLED
    assert served.idle()
    # A poll in flight when the loop was cancelled may still reach the upstream just after: let it, then
    # the log must stay as it is for fifty intervals.
    time.sleep(50 * INTERVAL)
    polled = upstream.gets(run)
    time.sleep(50 * INTERVAL)
    assert upstream.gets(run) == polled


def test_a_deadline_ends_a_watch_after_what_was_sent(
    stub: pb_grpc.RunsServiceStub, served: Served, upstream: Upstream
) -> None:
    thread = upstream.thread()
    run = upstream.resting(thread)  # it never ends unless answered

    changes, error = watch(stub, thread, run, timeout=4, submit=False)

    assert code_of(error) == Code.DEADLINE_EXCEEDED
    assert changes == [run_now(stub, thread, run)]
    assert changes[0].status == res.RUN_STATUS_REQUIRES_ACTION
    assert served.idle()


def test_an_unknown_run_or_thread_is_not_found_at_once(
    stub: pb_grpc.RunsServiceStub, upstream: Upstream
) -> None:
    thread = upstream.thread()

    changes, error = watch(stub, thread, "run_missing")
    assert (code_of(error), changes) == (Code.NOT_FOUND, [])
    assert error is not None
    assert "run_missing" in (error.details() or "")
    assert upstream.gets("run_missing") == 1  # a 404 is not retried, nor polled again

    changes, error = watch(stub, "thread_missing", "run_missing")
    assert (code_of(error), changes) == (Code.NOT_FOUND, [])
    assert details(error)[ed.ResourceInfo].resource_type == "thread"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("failures", "code"),
    [(2, Code.OK), (3, Code.INTERNAL)],
    ids=["as-many-as-the-retries-go-on", "one-more-ends-the-watch"],
)
def test_an_upstream_500_in_the_middle(
    stub: pb_grpc.RunsServiceStub, upstream: Upstream, failures: int, code: Code
) -> None:
    """The gateway retries a read twice (`--max-retries` 2): two failures in a row are absorbed, three end
    the watch with the 500's code and details, after the messages already sent."""
    thread, assistant = upstream.thread(), upstream.assistant(FUNCTION_TOOL)
    run = stub.CreateRun(pb.CreateRunRequest(thread_id=thread, assistant_id=assistant), timeout=30).run
    answered: list[res.Run] = []

    def on_change(change: Change) -> None:
        # While it rests in requires_action, before answering: the next polls fail.
        if isinstance(change, res.Run) and change.status == res.RUN_STATUS_REQUIRES_ACTION and not answered:
            answered.append(change)
            upstream.fault(method="GET", path=f"/runs/{run.id}$", status=500, times=failures)

    changes, error = watch(stub, thread, run.id, on_change=on_change)

    assert code_of(error) == code
    assert answered, "the run never required action"
    if code == Code.OK:
        assert_whole_story(changes, DRIVEN)
        return
    assert error is not None
    assert_in_order(changes, DRIVEN)
    assert changes[-1] == answered[0]  # the stream ended after what it had sent, nothing after
    found = details(error)
    info = found[ed.ErrorInfo]
    assert (info.domain, info.metadata["httpStatus"]) == ("runs-gateway", "500")
    assert info.reason == "SERVER_ERROR"
    assert found[ed.RequestInfo].request_id.startswith("req_")
    assert "Injected fault: HTTP 500." in (error.details() or "")


def test_an_unknown_status_ends_the_watch_after_that_run(
    stub: pb_grpc.RunsServiceStub, served: Served, upstream: Upstream
) -> None:
    thread = upstream.thread()
    run = upstream.resting(thread)
    paused = {**upstream.get_run(thread, run), "status": "paused"}
    sent: list[Change] = []

    def on_change(change: Change) -> None:
        if not sent:  # after the first message, the upstream says the run is paused
            upstream.fault(method="GET", path=f"/runs/{run}$", status=200, body=json.dumps(paused), times=1)
        sent.append(change)

    changes, error = watch(stub, thread, run, submit=False, on_change=on_change)

    assert code_of(error) == Code.FAILED_PRECONDITION
    assert error is not None
    assert [change.status for change in changes] == [
        res.RUN_STATUS_REQUIRES_ACTION,
        res.RUN_STATUS_UNSPECIFIED,  # "paused", a status this version does not know
    ]
    assert changes[1].id == run
    assert details(error)[ed.ErrorInfo].reason == "RUN_STATUS_UNKNOWN"
    assert "'paused'" in (error.details() or "")
    assert served.idle()  # nothing polls it any more


@pytest.mark.parametrize(
    ("thread", "run", "field"),
    [
        ("", "run_x", "thread_id"),
        ("thread_x", "", "run_id"),
        ("../x", "run_x", "thread_id"),
        ("thread_x", "a/b", "run_id"),
        ("thread_x", "r" * 129, "run_id"),
    ],
)
def test_bad_ids_are_refused_before_any_rest_call(
    stub: pb_grpc.RunsServiceStub, upstream: Upstream, thread: str, run: str, field: str
) -> None:
    changes, error = watch(stub, thread, run)

    assert (code_of(error), changes) == (Code.INVALID_ARGUMENT, [])
    [violation] = details(error)[ed.BadRequest].field_violations  # type: ignore[arg-type]
    assert violation.field == field
    assert upstream.requests() == []


# The pace: openai-poll-after-ms, when the upstream sends it, instead of the interval.


def test_the_upstreams_poll_after_replaces_a_long_interval() -> None:
    with (
        EmulatorServer(EmulatorConfig(step_seconds=0.05, poll_after_ms=50)) as server,
        closing(Upstream(server)) as upstream,
    ):
        thread, assistant = upstream.thread(), upstream.assistant(FUNCTION_TOOL)
        run = upstream.run(thread, assistant)
        # At 600 s between polls, the run could not end within the watch's 60 s deadline: after the tool
        # outputs, at least one more poll must see it complete, and only the header can make it come soon.
        with (
            GatewayThread(settings(server.base_url, watch_interval=600)) as target,
            grpc.insecure_channel(target) as channel,
        ):
            stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
            changes, error = watch(stub, thread, run, timeout=60)
        assert code_of(error) == Code.OK
        assert_whole_story(changes, DRIVEN)
        assert upstream.gets(run) >= 2


def test_a_long_poll_after_replaces_a_short_interval() -> None:
    with (
        EmulatorServer(EmulatorConfig(step_seconds=0.05, poll_after_ms=60_000)) as server,
        closing(Upstream(server)) as upstream,
    ):
        thread = upstream.thread()
        run = upstream.resting(thread)
        with (
            GatewayThread(settings(server.base_url, watch_interval=INTERVAL)) as target,
            grpc.insecure_channel(target) as channel,
        ):
            stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
            call = stub.WatchRun(pb.WatchRunRequest(thread_id=thread, run_id=run), timeout=60)
            assert change_of(next(call)).status == res.RUN_STATUS_REQUIRES_ACTION
            # At the interval, fifty more polls would come in this time; the upstream asked for a minute.
            time.sleep(50 * INTERVAL)
            assert upstream.gets(run) == 1
            call.cancel()


# A slow watcher beside a fast one.


async def test_a_slow_watcher_skips_to_the_latest_state_and_delays_no_one(upstream: Upstream) -> None:
    thread = upstream.thread()
    # Runs of 300 kB (long instructions), and a watcher whose flow-control window stays at HTTP/2's 64 kB:
    # the gateway's first write to it cannot complete until it reads.
    assistant = upstream.assistant(
        {"type": "code_interpreter"}, FUNCTION_TOOL, instructions="Be thorough. " * 25_000
    )
    async with (
        in_process(upstream.server.base_url, watch_interval=INTERVAL) as (gateway, target),
        grpc.aio.insecure_channel(target) as channel,
        grpc.aio.insecure_channel(target, options=[("grpc.http2.bdp_probe", 0)]) as slow_channel,
    ):
        stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
        created = await stub.CreateRun(pb.CreateRunRequest(thread_id=thread, assistant_id=assistant))
        request = pb.WatchRunRequest(thread_id=thread, run_id=created.run.id, include_steps=True)
        slow = pb_grpc.RunsServiceStub(slow_channel).WatchRun(request, timeout=60)  # type: ignore[no-untyped-call]
        assert await until_async(lambda: gateway.watches.watchers == 1)

        fast: list[Change] = []
        async for message in stub.WatchRun(request, timeout=60):
            fast.append(change_of(message))
            if _first_requires_action(fast):
                await stub.SubmitToolOutputs(outputs_for(fast[-1]), timeout=30)  # type: ignore[arg-type]

        # The fast watcher had the whole story while the slow one read nothing.
        final = assert_whole_story(fast, DRIVEN)
        assert statuses(fast).count("RUN_STATUS_REQUIRES_ACTION") == 1
        # The slow watcher is still connected; what the gateway holds for it is the run's latest state (one
        # run, each step once), not the messages it has not read.
        assert (gateway.watches.watchers, gateway.watches.loops) == (1, 1)
        [loop] = gateway.watches._loops.values()
        assert loop.run is not None
        assert loop.run.message == pb.WatchRunResponse(run=final)
        fast_steps = {change.id: change for change in fast if isinstance(change, res.RunStep)}
        assert [version.message for version in loop.steps.values()] == [
            pb.WatchRunResponse(run_step=step) for step in fast_steps.values()
        ]

        slow_story = [change_of(message) async for message in slow]
        assert await slow.code() == Code.OK

    # A valid story that ends as the fast one did; states it could not take in time were skipped.
    assert assert_whole_story(slow_story, DRIVEN) == final
    assert {c.id: c for c in slow_story if isinstance(c, res.RunStep)} == fast_steps
    assert (gateway.watches.watchers, gateway.watches.loops) == (0, 0)


# Shutdown.


def test_sigterm_ends_every_watch_and_the_process_exits_zero(upstream: Upstream) -> None:
    thread = upstream.thread()
    run = upstream.resting(thread)  # the watches would never end on their own
    command = [sys.executable, "-m", "gateway", "--listen", "127.0.0.1:0", "--upstream"]
    # A grace far longer than the test waits: the watches must end because the gateway ends them, at once.
    command += [upstream.server.base_url, "--grace", "120", "--watch-interval", str(INTERVAL)]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OPENAI_API_KEY": KEY},
    )
    try:
        assert process.stdout is not None
        target = process.stdout.readline().rsplit(" ", 1)[-1].strip()
        with grpc.insecure_channel(target) as channel, ThreadPoolExecutor(max_workers=3) as pool:
            stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
            request = pb.WatchRunRequest(thread_id=thread, run_id=run)
            calls = [stub.WatchRun(request, timeout=60) for _ in range(3)]
            for call in calls:
                assert change_of(next(call)).status == res.RUN_STATUS_REQUIRES_ACTION

            process.send_signal(signal.SIGTERM)

            ends = [pool.submit(_rest_of, call) for call in calls]
            endings = [end.result(timeout=60) for end in ends]
        _, stderr = process.communicate(
            timeout=60
        )  # half the grace: it did not wait for the grace to run out
        assert process.returncode == 0, stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    # Nothing more arrived; each stream was ended by the gateway as it stopped: UNAVAILABLE, watch again.
    for more, code in endings:
        assert more == []
        assert code is Code.UNAVAILABLE, code
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    watches = [e for e in lines if e["logger"] == "gateway.access" and e["method"].endswith("/WatchRun")]
    assert [e["code"] for e in watches] == ["UNAVAILABLE"] * 3


def _rest_of(call: Any) -> tuple[list[Change], Code]:
    """What else a stream brings before it ends, and its code."""
    more: list[Change] = []
    try:
        for message in call:
            more.append(change_of(message))
    except grpc.RpcError as error:
        return more, error.code()
    return more, Code.OK
