"""Runs v2 over the Responses API end to end, over real sockets: a gRPC client of the v2 service → the
gateway with `--upstream-api responses --assistants FILE --store URL` → the emulator's Responses and
Conversations APIs, a real HTTP server on loopback. Threads are conversations the test creates over REST.

A run with a function tool through requires_action and back (unary and watched), its steps; a cancel; two
concurrent SubmitToolOutputs (one wins); ListRuns across pages of one; a streamed run event by event (a valid
order, the text rebuilt from its deltas) and its streamed submit; a client that leaves a stream stops
nothing; an unknown assistant (NOT_FOUND as the Assistants API), a request the Responses API cannot serve
(INVALID_ARGUMENT with its reason), a v1 call (UNIMPLEMENTED naming v2); the assistants file reread when it
changes, a broken edit keeping the old one; a bad assistants file at start (exit 2, the file named); a
gateway process killed with SIGKILL mid-run and started again on the same SQLite file (GetRun, ListRuns and
WatchRun see the run, finished while the gateway was down).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from loopback import serving
from runs_gateway.assistants.v1 import runs_service_pb2 as v1
from runs_gateway.assistants.v1 import runs_service_pb2_grpc as v1_grpc
from runs_gateway.assistants.v2 import resources_pb2 as res
from runs_gateway.assistants.v2 import runs_service_pb2 as pb
from runs_gateway.assistants.v2 import runs_service_pb2_grpc as pb_grpc
from test_dialects import exercise_v2, outputs, watch_to_rest

from emulator import EmulatorConfig, EmulatorServer
from gateway.config import Settings
from gateway.responses.adapter import STREAMED, UNARY, ResponsesUpstream
from gateway.responses.catalog import AssistantsFile
from gateway.responses.chains import PENDING
from gateway.routes import ROUTES_V2
from gateway.server import build_server
from gateway.store.opening import open_store
from gateway.upstream import CallOptions, Upstream

Code = grpc.StatusCode
KEY = "sk-responses-e2e-key-0123456789"
ROOT = Path(__file__).resolve().parent.parent
ADD = {
    "type": "function",
    "function": {
        "name": "add",
        "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}},
    },
}
ASSISTANTS = {
    "assistants": {
        "asst_adder": {"model": "gpt-4o", "instructions": "Add numbers.", "tools": [ADD]},
        "asst_plain": {"model": "gpt-4o", "instructions": "Answer briefly."},
    }
}


class Emulated:
    """The emulator and a REST client of its Conversations API (threads are made there)."""

    def __init__(self, server: EmulatorServer) -> None:
        self.base_url = server.base_url
        self.admin = server.root_url + "/_emulator"
        self.rest = httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"})

    def thread(self) -> str:
        answer = self.rest.post("/conversations", json={"items": [{"role": "user", "content": "1 + 2?"}]})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["id"])

    def fault(self, fault: dict[str, Any]) -> None:
        httpx.post(self.admin + "/faults", json=fault).raise_for_status()

    def items(self, thread: str) -> list[dict[str, Any]]:
        answer = self.rest.get(f"/conversations/{thread}/items", params={"order": "asc", "limit": 100})
        return list(answer.json()["data"])


@contextmanager
def emulated(step_seconds: float = 0) -> Iterator[Emulated]:
    config = EmulatorConfig(step_seconds=step_seconds, api_keys=frozenset({KEY}))
    with EmulatorServer(config) as server:
        emulator = Emulated(server)
        try:
            yield emulator
        finally:
            emulator.rest.close()


def assistants_file(folder: Path, document: Any = ASSISTANTS) -> Path:
    path = folder / "assistants.json"
    path.write_text(json.dumps(document))
    return path


@asynccontextmanager
async def gateway(emulator: Emulated, folder: Path, **fields: Any) -> AsyncIterator[grpc.aio.Channel]:
    """The gateway over the emulator's Responses API, served on a loopback port, and a channel to it."""
    given = {
        "assistants": str(fields.pop("assistants", None) or assistants_file(folder)),
        "store": f"sqlite:///{folder / 'runs.db'}",
        "watch_interval": 0.05,
        **fields,
    }
    settings = Settings(
        listen="127.0.0.1:0", base_url=emulator.base_url, api_key=KEY, upstream_api="responses", **given
    )
    async with serving(build_server(settings)) as target, grpc.aio.insecure_channel(target) as channel:
        yield channel


def stub_of(channel: grpc.aio.Channel) -> pb_grpc.RunsServiceStub:
    return pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]


async def get(stub: pb_grpc.RunsServiceStub, thread: str, run: str) -> res.Run:
    return (await stub.GetRun(pb.GetRunRequest(thread_id=thread, run_id=run), timeout=30)).run


async def create(stub: pb_grpc.RunsServiceStub, thread: str, assistant: str = "asst_adder") -> res.Run:
    request = pb.CreateRunRequest(thread_id=thread, assistant_id=assistant)
    return (await stub.CreateRun(request, timeout=30)).run


def reason(error: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason
    return ""


# Unary RPCs and steps.


async def test_the_client_of_every_assistants_server_works_unchanged_over_responses(
    tmp_path: Path, store: str
) -> None:
    # The very calls test_dialects makes of each Assistants server, every v2 RPC, over a Responses upstream.
    with emulated() as emulator:
        thread = emulator.thread()
        async with gateway(emulator, tmp_path, store=store) as channel:
            await exercise_v2(stub_of(channel), thread, "asst_adder", "openai")


async def test_a_run_goes_through_requires_action_and_back_with_its_steps(tmp_path: Path, store: str) -> None:
    with emulated() as emulator:
        thread = emulator.thread()
        async with gateway(emulator, tmp_path, store=store) as channel:
            stub = stub_of(channel)
            created = await create(stub, thread)
            assert created.id.startswith("run_")
            assert (created.thread_id, created.assistant_id, created.model) == (
                thread,
                "asst_adder",
                "gpt-4o",
            )
            assert created.instructions == "Add numbers."
            assert created.status in (res.RUN_STATUS_QUEUED, res.RUN_STATUS_IN_PROGRESS)
            assert created.expires_at >= created.created_at + 600
            waiting = await get(stub, thread, created.id)
            assert waiting.status == res.RUN_STATUS_REQUIRES_ACTION
            calls = waiting.required_action.submit_tool_outputs.tool_calls
            assert [call.function.name for call in calls] == ["add"]
            assert json.loads(calls[0].function.arguments).keys() == {"a", "b"}
            request = pb.SubmitToolOutputsRequest(
                thread_id=thread, run_id=created.id, tool_outputs=outputs(waiting)
            )
            submitted = (await stub.SubmitToolOutputs(request, timeout=30)).run
            assert submitted.status in (
                res.RUN_STATUS_QUEUED,
                res.RUN_STATUS_IN_PROGRESS,
                res.RUN_STATUS_COMPLETED,
            )
            done = await get(stub, thread, created.id)
            assert done.status == res.RUN_STATUS_COMPLETED
            assert done.completed_at >= done.created_at
            assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens > 0
            steps = await stub.ListRunStepsPage(
                pb.ListRunStepsPageRequest(thread_id=thread, run_id=created.id, order=pb.LIST_ORDER_ASC),
                timeout=30,
            )
            kinds = [step.type for step in steps.data]
            assert kinds == [res.RUN_STEP_TYPE_TOOL_CALLS, res.RUN_STEP_TYPE_MESSAGE_CREATION], kinds
            tools, message = steps.data
            assert tools.status == message.status == res.RUN_STEP_STATUS_COMPLETED
            call = tools.step_details.tool_calls[0]
            assert (call.function.name, call.function.output) == ("add", '{"sum": 3}')
            message_id = message.step_details.message_creation.message_id
            assert message_id in [item["id"] for item in emulator.items(thread)]  # the thread's message
            one = await stub.GetRunStep(
                pb.GetRunStepRequest(thread_id=thread, run_id=created.id, step_id=tools.id), timeout=30
            )
            assert one.run_step == tools
            assert sum(step.usage.total_tokens for step in steps.data) == done.usage.total_tokens


def logged(emulator: Emulated) -> int:
    """How many requests the emulator received."""
    return len(httpx.get(emulator.admin + "/requests").json())


def responses_created(emulator: Emulated) -> int:
    """How many responses the gateway created (the emulator's log of requests)."""
    log = httpx.get(emulator.admin + "/requests").json()
    return sum(1 for entry in log if entry["method"] == "POST" and entry["path"].endswith("/responses"))


async def test_a_watched_run_goes_to_requires_action_and_to_its_end(tmp_path: Path, store: str) -> None:
    with emulated(step_seconds=0.05) as emulator:
        thread = emulator.thread()
        async with gateway(emulator, tmp_path, store=store) as channel:
            stub = stub_of(channel)
            created = await create(stub, thread)
            waiting = await watch_to_rest(stub, thread, created.id)
            assert waiting.status == res.RUN_STATUS_REQUIRES_ACTION
            request = pb.SubmitToolOutputsRequest(
                thread_id=thread, run_id=created.id, tool_outputs=outputs(waiting)
            )
            await stub.SubmitToolOutputs(request, timeout=30)
            done = await watch_to_rest(stub, thread, created.id, action=False)
            assert done.status == res.RUN_STATUS_COMPLETED
            watched = pb.WatchRunRequest(thread_id=thread, run_id=created.id, include_steps=True)
            changes = [change async for change in stub.WatchRun(watched, timeout=30)]
            steps = {
                c.run_step.id: c.run_step.status for c in changes if c.WhichOneof("change") == "run_step"
            }
            assert len(steps) == 2
            assert set(steps.values()) == {res.RUN_STEP_STATUS_COMPLETED}
            assert changes[-1].run.status == res.RUN_STATUS_COMPLETED
            texts = [item for item in emulator.items(thread) if item["type"] == "function_call_output"]
            assert [item["output"] for item in texts] == ['{"sum": 3}']  # the outputs are the thread's


async def test_of_two_concurrent_submits_one_makes_the_next_response(tmp_path: Path, store: str) -> None:
    with emulated() as emulator:
        thread = emulator.thread()
        async with gateway(emulator, tmp_path, store=store) as channel:
            stub = stub_of(channel)
            created = await create(stub, thread)
            waiting = await get(stub, thread, created.id)
            request = pb.SubmitToolOutputsRequest(
                thread_id=thread, run_id=created.id, tool_outputs=outputs(waiting)
            )
            answers = await asyncio.gather(
                stub.SubmitToolOutputs(request, timeout=30),
                stub.SubmitToolOutputs(request, timeout=30),
                return_exceptions=True,
            )
            refused = [answer for answer in answers if isinstance(answer, grpc.aio.AioRpcError)]
            assert len(refused) == 1, answers
            assert (
                refused[0].code() == Code.INVALID_ARGUMENT
            )  # as the Assistants API's 400 through the gateway
            assert "do not accept tool outputs" in (refused[0].details() or "")
            assert responses_created(emulator) == 2  # the run's first leg and one next leg
            assert (await get(stub, thread, created.id)).status == res.RUN_STATUS_COMPLETED


async def test_a_run_in_flight_is_cancelled(tmp_path: Path, store: str) -> None:
    with emulated(step_seconds=5) as emulator:
        thread = emulator.thread()
        async with gateway(emulator, tmp_path, store=store) as channel:
            stub = stub_of(channel)
            created = await create(stub, thread, "asst_plain")
            cancel = pb.CancelRunRequest(thread_id=thread, run_id=created.id)
            cancelled = (await stub.CancelRun(cancel, timeout=30)).run
            assert cancelled.status in (res.RUN_STATUS_CANCELLING, res.RUN_STATUS_CANCELLED)
            again = await get(stub, thread, created.id)
            assert again.status == res.RUN_STATUS_CANCELLED
            assert again.cancelled_at >= again.created_at
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.CancelRun(cancel, timeout=30)
            assert caught.value.code() == Code.INVALID_ARGUMENT
            assert "Cannot cancel run with status 'cancelled'" in (caught.value.details() or "")


async def test_list_runs_walks_pages_with_the_assistants_cursors(tmp_path: Path, store: str) -> None:
    with emulated() as emulator:
        thread = emulator.thread()
        async with gateway(emulator, tmp_path, store=store) as channel:
            stub = stub_of(channel)
            made = [(await create(stub, thread, "asst_plain")).id for _ in range(3)]
            pages = [
                [run.id for run in page.runs]
                async for page in stub.ListRuns(pb.ListRunsRequest(thread_id=thread, limit=1), timeout=30)
            ]
            assert pages == [[run] for run in reversed(made)]  # newest first, a page of one each
            first = await stub.ListRunsPage(pb.ListRunsPageRequest(thread_id=thread, limit=2), timeout=30)
            assert ([run.id for run in first.data], first.has_more) == (made[:0:-1], True)
            rest = await stub.ListRunsPage(
                pb.ListRunsPageRequest(thread_id=thread, limit=2, after=first.last_id), timeout=30
            )
            assert ([run.id for run in rest.data], rest.has_more) == ([made[0]], False)
            assert all(run.status == res.RUN_STATUS_COMPLETED for run in rest.data)
            other = await stub.ListRunsPage(pb.ListRunsPageRequest(thread_id=emulator.thread()), timeout=30)
            assert list(other.data) == []


async def test_refusals_as_the_assistants_api_answers_them(tmp_path: Path) -> None:
    with emulated() as emulator:
        thread = emulator.thread()
        async with gateway(emulator, tmp_path) as channel:
            stub = stub_of(channel)
            with pytest.raises(grpc.aio.AioRpcError) as missing:
                await create(stub, thread, "asst_nobody")
            assert missing.value.code() == Code.NOT_FOUND
            assert missing.value.details() == "No assistant found with id 'asst_nobody'."
            with pytest.raises(grpc.aio.AioRpcError) as no_run:
                await get(stub, thread, "run_nobody")
            assert no_run.value.code() == Code.NOT_FOUND
            with pytest.raises(grpc.aio.AioRpcError) as no_thread:
                await create(stub, "conv_nobody")
            assert no_thread.value.code() == Code.NOT_FOUND
            assert "No thread found with id 'conv_nobody'" in (no_thread.value.details() or "")
            last = res.TruncationStrategy(type=res.TRUNCATION_TYPE_LAST_MESSAGES, last_messages=2)
            request = pb.CreateRunRequest(
                thread_id=thread, assistant_id="asst_plain", truncation_strategy=last
            )
            with pytest.raises(grpc.aio.AioRpcError) as unmappable:
                await stub.CreateRun(request, timeout=30)
            assert unmappable.value.code() == Code.INVALID_ARGUMENT
            assert reason(unmappable.value) == "TRUNCATION_LAST_MESSAGES_UNSUPPORTED"
            old = v1_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
            with pytest.raises(grpc.aio.AioRpcError) as version:
                await old.GetRun(v1.GetRunRequest(thread_id=thread, run_id="run_1"), timeout=30)
            assert version.value.code() == Code.UNIMPLEMENTED
            assert "runs_gateway.assistants.v2.RunsService" in (version.value.details() or "")


async def test_the_assistants_file_is_reread_when_it_changes_and_a_broken_edit_keeps_the_old(
    tmp_path: Path,
) -> None:
    path = assistants_file(tmp_path)
    with emulated() as emulator:
        thread = emulator.thread()
        async with gateway(emulator, tmp_path, assistants=path) as channel:
            stub = stub_of(channel)
            grown = {"assistants": {**ASSISTANTS["assistants"], "asst_new": {"model": "gpt-4o-mini"}}}
            assistants_file(tmp_path, grown)
            await asyncio.sleep(1.2)  # the file is looked at once a second
            assert (await create(stub, thread, "asst_new")).model == "gpt-4o-mini"
            path.write_text('{"assistants": {"asst_new": {"temperature": 9}}}')
            await asyncio.sleep(1.2)
            assert (await create(stub, thread, "asst_new")).model == "gpt-4o-mini"  # the old file's, kept


# Streamed runs.


async def streamed(call: Any) -> list[pb.StreamRunResponse]:
    return [event async for event in call]


def check_order(events: list[pb.StreamRunResponse], created: set[str]) -> None:
    """Every step and message is created (in this stream, or in `created` before it) before anything else
    is said of it; the run's end is the last event."""
    for event in events:
        kind = event.WhichOneof("data")
        if kind in ("run_step", "message"):
            obj = getattr(event, kind)
            if event.event.endswith(".created"):
                assert obj.id not in created, event.event
                created.add(obj.id)
            else:
                assert obj.id in created, event.event
        elif kind in ("run_step_delta", "message_delta"):
            assert getattr(event, kind).id in created, event.event
    ends = [n for n, e in enumerate(events) if e.WhichOneof("data") == "run" and e.run.status in RESTING]
    assert ends == [len(events) - 1], [event.event for event in events]


RESTING = {res.RUN_STATUS_REQUIRES_ACTION, res.RUN_STATUS_COMPLETED, res.RUN_STATUS_CANCELLED}


async def test_a_streamed_run_event_by_event_and_its_streamed_submit(tmp_path: Path, store: str) -> None:
    with emulated() as emulator:
        thread = emulator.thread()
        async with gateway(emulator, tmp_path, store=store) as channel:
            stub = stub_of(channel)
            request = pb.CreateRunStreamRequest(thread_id=thread, assistant_id="asst_adder")
            first = await streamed(stub.CreateRunStream(request, timeout=30))
            names = [event.event for event in first]
            assert names[:2] == ["thread.run.created", "thread.run.queued"], names
            assert names[-1] == "thread.run.requires_action"
            assert "thread.run.step.delta" in names
            seen: set[str] = set()
            check_order(first, seen)
            waiting = first[-1].run
            assert await get(stub, thread, waiting.id) == waiting
            submit = pb.SubmitToolOutputsStreamRequest(
                thread_id=thread, run_id=waiting.id, tool_outputs=outputs(waiting)
            )
            second = await streamed(stub.SubmitToolOutputsStream(submit, timeout=30))
            names = [event.event for event in second]
            assert "thread.run.created" not in names
            assert names[-1] == "thread.run.completed"
            assert "thread.run.step.completed" in names[: names.index("thread.run.in_progress") + 1]
            check_order(second, seen)
            deltas = [
                e.message_delta.delta.content[0].text.value
                for e in second
                if e.event == "thread.message.delta"
            ]
            finished = [e.message for e in second if e.event == "thread.message.completed"]
            assert len(finished) == 1
            assert len(deltas) > 1
            assert "".join(deltas) == finished[0].content[0].text.value
            done = await get(stub, thread, waiting.id)
            assert done.status == res.RUN_STATUS_COMPLETED
            assert done == second[-1].run
            steps = await stub.ListRunStepsPage(
                pb.ListRunStepsPageRequest(thread_id=thread, run_id=done.id, order=pb.LIST_ORDER_ASC),
                timeout=30,
            )
            streamed_steps = {e.run_step.id for e in [*first, *second] if e.WhichOneof("data") == "run_step"}
            assert {step.id for step in steps.data} == streamed_steps  # the same ids on a later read


@asynccontextmanager
async def plain_stream(folder: Path, store: str, step_seconds: float) -> AsyncIterator[tuple[Any, ...]]:
    """A streamed run of the plain assistant through a gateway: the stub, the thread, the call and the
    first event read."""
    with emulated(step_seconds=step_seconds) as emulator:
        thread = emulator.thread()
        async with gateway(emulator, folder, store=store) as channel:
            stub = stub_of(channel)
            request = pb.CreateRunStreamRequest(thread_id=thread, assistant_id="asst_plain")
            call = stub.CreateRunStream(request)
            yield stub, thread, call, await call.read()


async def test_a_client_that_leaves_a_stream_does_not_stop_the_run(tmp_path: Path, store: str) -> None:
    async with plain_stream(tmp_path, store, 0.1) as (stub, thread, call, first):
        assert first.event == "thread.run.created"
        call.cancel()
        done = await watch_to_rest(stub, thread, first.run.id, action=False)
        assert done.status == res.RUN_STATUS_COMPLETED


# The gateway as a process: started, killed, started again.


@contextmanager
def gateway_process(
    emulator: Emulated, assistants: Path, database: Path | str
) -> Iterator[subprocess.Popen[str]]:
    """The gateway as a process over the emulator; `database`: a store URL, or a SQLite file."""
    store = database if isinstance(database, str) else f"sqlite:///{database}"
    command = [
        sys.executable, "-m", "gateway", "--listen", "127.0.0.1:0", "--upstream", emulator.base_url,
        "--upstream-api", "responses", "--assistants", str(assistants), "--store", store,
    ]  # fmt: skip
    environment = {**os.environ, "OPENAI_API_KEY": KEY, "RUNS_GATEWAY_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def address(process: subprocess.Popen[str]) -> str:
    """Where the gateway process listens, from the line it prints once it serves."""
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("runs-gateway listening on "), line + (
        process.stderr.read() if process.stderr else ""
    )
    return line.split()[-1]


async def test_a_run_survives_the_gateway_killed_mid_run_and_started_again(
    tmp_path: Path, store: str
) -> None:
    assistants, database = assistants_file(tmp_path), store
    with emulated(step_seconds=1) as emulator:
        thread = emulator.thread()
        with gateway_process(emulator, assistants, database) as first:
            async with grpc.aio.insecure_channel(address(first)) as channel:
                created = await create(stub_of(channel), thread, "asst_plain")
            assert created.status == res.RUN_STATUS_QUEUED
            first.send_signal(signal.SIGKILL)
            assert first.wait(timeout=30) == -signal.SIGKILL
        await asyncio.sleep(
            2.2
        )  # the response runs to its end (in progress at 1 s, completed at 2 s) meanwhile
        with gateway_process(emulator, assistants, database) as second:
            async with grpc.aio.insecure_channel(address(second)) as channel:
                stub = stub_of(channel)
                done = await get(stub, thread, created.id)
                assert (done.id, done.status, done.created_at) == (
                    created.id,
                    res.RUN_STATUS_COMPLETED,
                    created.created_at,
                )
                listed = await stub.ListRunsPage(pb.ListRunsPageRequest(thread_id=thread), timeout=30)
                assert [run.id for run in listed.data] == [created.id]
                assert listed.data[0] == done
                watched = await watch_to_rest(stub, thread, created.id, action=False)
                assert watched == done


def test_a_bad_assistants_file_stops_the_start_naming_the_file_and_the_field(tmp_path: Path) -> None:
    broken = assistants_file(tmp_path, {"assistants": {"asst_x": {"model": "gpt-4o", "temperature": 7}}})
    with emulated() as emulator, gateway_process(emulator, broken, tmp_path / "runs.db") as process:
        assert process.wait(timeout=60) == 2
        assert process.stderr is not None
        error = process.stderr.read()
    assert "--assistants cannot be used" in error, error
    assert str(broken) in error
    assert "assistant 'asst_x': field 'temperature' must be between 0 and 2" in error
    assert not (tmp_path / "runs.db").exists()  # nothing was opened


def test_responses_without_an_assistants_file_stops_the_start() -> None:
    with pytest.raises(ValueError, match="--assistants is required with --upstream-api responses"):
        Settings(base_url="http://127.0.0.1:1/v1", upstream_api="responses")


def test_the_adapter_serves_every_v2_route_and_no_other() -> None:
    """The dispatch tables and the v2 route table agree both ways (ListRunsPage shares ListRuns' route)."""
    served = set(UNARY) | set(STREAMED)
    routes = {(route.method, route.path) for route in ROUTES_V2.values()}
    assert served == routes
    streamed = {(route.method, route.path) for route in ROUTES_V2.values() if route.events}
    assert set(STREAMED) == streamed
    assert set(UNARY) == {(route.method, route.path) for route in ROUTES_V2.values() if not route.events}


class Clock:
    """A clock the test moves (the adapter's `now`)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def test_a_run_past_expires_at_is_expired_and_its_leg_in_flight_cancelled(tmp_path: Path) -> None:
    clock = Clock()
    with emulated(step_seconds=30) as emulator:
        thread = emulator.thread()
        adapter = ResponsesUpstream(
            Upstream(emulator.base_url, KEY),
            AssistantsFile(assistants_file(tmp_path)),
            f"sqlite:///{tmp_path / 'runs.db'}",
            clock=clock,
        )
        template = ROUTES_V2["CreateRun"].path
        runs, options = template.format(thread_id=thread), CallOptions()
        try:
            body = json.dumps({"assistant_id": "asst_plain"}).encode()
            run = await adapter.request(
                "POST", runs, options, content=body, route=ROUTES_V2["CreateRun"].path
            )
            assert run["status"] == "queued"
            clock.now += 601
            path, route = f"{runs}/{run['id']}", ROUTES_V2["GetRun"].path
            expired = await adapter.request("GET", path, options, route=route)
            assert (expired["status"], expired["expires_at"]) == ("expired", None)
            record = (await adapter.runs.stored(thread, run["id"])).document
            response = emulator.rest.get(f"/responses/{record['responses'][0]}").json()
            assert response["status"] == "cancelled"  # nothing runs on for a run that expired
            assert (await adapter.request("GET", path, options, route=route))["status"] == "expired"
        finally:
            await adapter.aclose()


async def test_a_finished_run_is_read_without_an_upstream_call(tmp_path: Path) -> None:
    with emulated() as emulator:
        thread = emulator.thread()
        async with gateway(emulator, tmp_path) as channel:
            stub = stub_of(channel)
            created = await create(stub, thread, "asst_plain")
            assert (await get(stub, thread, created.id)).status == res.RUN_STATUS_COMPLETED
            before = logged(emulator)
            for _ in range(3):
                assert (await get(stub, thread, created.id)).status == res.RUN_STATUS_COMPLETED
            await stub.ListRunStepsPage(pb.ListRunStepsPageRequest(thread_id=thread, run_id=created.id))
            assert logged(emulator) == before  # the finished response came from the cache


def stream_requests(emulator: Emulated) -> list[dict[str, Any]]:
    """The streamed reads of a response again (`GET /responses/{id}?stream=true`) the emulator received."""
    log = httpx.get(emulator.admin + "/requests").json()
    return [entry for entry in log if entry["method"] == "GET" and entry["query"].get("stream") == "true"]


async def test_a_stream_cut_in_the_middle_is_read_again_after_its_last_event(
    tmp_path: Path, store: str
) -> None:
    with emulated() as emulator:
        emulator.fault({"path": "/responses$", "method": "POST", "stream_cut_after": 6})
        thread = emulator.thread()
        async with gateway(emulator, tmp_path, store=store) as channel:
            stub = stub_of(channel)
            request = pb.CreateRunStreamRequest(thread_id=thread, assistant_id="asst_plain")
            events = await streamed(stub.CreateRunStream(request, timeout=30))
            names = [event.event for event in events]
            assert names[0] == "thread.run.created"
            assert names[-1] == "thread.run.completed", names
            check_order(events, set())
            deltas = [
                e.message_delta.delta.content[0].text.value
                for e in events
                if e.event == "thread.message.delta"
            ]
            finished = [e.message for e in events if e.event == "thread.message.completed"]
            assert "".join(deltas) == finished[0].content[0].text.value
            assert names.count("thread.message.created") == 1  # nothing said twice, nothing missed
        again = stream_requests(emulator)
        assert [entry["query"]["starting_after"] for entry in again] == ["5"], again


async def test_a_streamed_run_cancelled_midway_ends_its_stream_cancelled(tmp_path: Path, store: str) -> None:
    async with plain_stream(tmp_path, store, 0.2) as (stub, thread, call, first):
        await stub.CancelRun(pb.CancelRunRequest(thread_id=thread, run_id=first.run.id), timeout=30)
        rest: list[pb.StreamRunResponse] = []
        while (event := await call.read()) is not grpc.aio.EOF:
            rest.append(event)
        assert rest[-1].event == "thread.run.cancelled", [event.event for event in rest]
        assert (await get(stub, thread, first.run.id)).status == res.RUN_STATUS_CANCELLED


async def test_two_gateways_on_one_store_serve_the_same_runs(tmp_path: Path, store: str) -> None:
    with emulated() as emulator:
        thread = emulator.thread()
        async with (
            gateway(emulator, tmp_path, store=store) as one,
            gateway(emulator, tmp_path, store=store) as other,
        ):
            first, second = stub_of(one), stub_of(other)
            created = await create(first, thread)
            waiting = await get(second, thread, created.id)
            assert waiting.status == res.RUN_STATUS_REQUIRES_ACTION
            request = pb.SubmitToolOutputsRequest(
                thread_id=thread, run_id=created.id, tool_outputs=outputs(waiting)
            )
            answers = await asyncio.gather(
                first.SubmitToolOutputs(request, timeout=30),
                second.SubmitToolOutputs(request, timeout=30),
                return_exceptions=True,
            )
            assert len([answer for answer in answers if isinstance(answer, grpc.aio.AioRpcError)]) == 1, (
                answers
            )
            assert responses_created(emulator) == 2
            assert await get(first, thread, created.id) == await get(second, thread, created.id)
            listed = [await s.ListRunsPage(pb.ListRunsPageRequest(thread_id=thread)) for s in (first, second)]
            assert listed[0] == listed[1]


async def until_claimed(store_url: str, thread: str, run_id: str) -> None:
    """Wait (30 s at most) until a SubmitToolOutputs has claimed the run: its pending leg is stored."""
    kept = await open_store(store_url)
    try:
        for _ in range(3000):
            found = await kept.get(thread, run_id)
            if found is not None and found.document["responses"][-1].startswith(PENDING):
                return
            await asyncio.sleep(0.01)
    finally:
        await kept.close()
    pytest.fail("the submit never claimed the run")


@pytest.mark.parametrize("first", ["submit", "cancel"])
async def test_a_cancel_on_one_gateway_and_a_submit_on_another_lose_no_update(
    tmp_path: Path, store: str, first: str
) -> None:
    # Whichever wins, the cancel is not lost: the run ends cancelled and no response it made runs on. (The
    # emulator's responses take a second, so that the one the submit makes is in flight when cancelled.)
    with emulated(step_seconds=0.5) as emulator:
        thread = emulator.thread()
        async with (
            gateway(emulator, tmp_path, store=store) as one,
            gateway(emulator, tmp_path, store=store) as other,
        ):
            submitter, canceller = stub_of(one), stub_of(other)
            waiting = await watch_to_rest(canceller, thread, (await create(submitter, thread)).id)
            emulator.fault({"path": "/responses$", "method": "POST", "delay": 2.0})
            ids = {"thread_id": thread, "run_id": waiting.id}
            submit = pb.SubmitToolOutputsRequest(**ids, tool_outputs=outputs(waiting))
            cancel = pb.CancelRunRequest(**ids)
            if first == "submit":
                submitted = asyncio.ensure_future(submitter.SubmitToolOutputs(submit, timeout=30))
                await until_claimed(store, thread, waiting.id)  # its response being made
                await canceller.CancelRun(cancel, timeout=30)
                assert (await submitted).run.id == waiting.id
            else:
                await canceller.CancelRun(cancel, timeout=30)
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await submitter.SubmitToolOutputs(submit, timeout=30)
                assert refused.value.code() == Code.INVALID_ARGUMENT
            assert (await get(submitter, thread, waiting.id)).status == res.RUN_STATUS_CANCELLED
            assert (await get(canceller, thread, waiting.id)).status == res.RUN_STATUS_CANCELLED
            kept = await open_store(store)
            try:
                made = (await kept.get(thread, waiting.id)).document["responses"]  # type: ignore[union-attr]
            finally:
                await kept.close()
            assert len(made) == responses_created(emulator) == (2 if first == "submit" else 1)
            for response in made:
                status = emulator.rest.get(f"/responses/{response}").json()["status"]
                assert status in ("completed", "cancelled"), status


def test_a_store_that_cannot_be_opened_stops_the_start(tmp_path: Path) -> None:
    with (
        emulated() as emulator,
        gateway_process(emulator, assistants_file(tmp_path), tmp_path / "no" / "such" / "runs.db") as process,
    ):
        assert process.wait(timeout=60) == 2
        assert process.stderr is not None
        error = process.stderr.read()
    assert "runs-gateway: --store: run store" in error, error


def created_bodies(emulator: Emulated) -> list[dict[str, Any]]:
    """The CreateResponse bodies the emulator received."""
    log = httpx.get(emulator.admin + "/requests").json()
    return [json.loads(e["body"]) for e in log if e["method"] == "POST" and e["path"].endswith("/responses")]


async def test_create_runs_overrides_and_messages_reach_the_response(tmp_path: Path) -> None:
    with emulated() as emulator:
        thread = emulator.thread()
        async with gateway(emulator, tmp_path) as channel:
            message = pb.AdditionalMessage(
                role=res.MESSAGE_ROLE_USER,
                content=[pb.InputContent(type=res.MESSAGE_CONTENT_TYPE_TEXT, text="And 2 + 2?")],
            )
            request = pb.CreateRunRequest(
                thread_id=thread,
                assistant_id="asst_plain",
                model="gpt-4o-mini",
                additional_instructions="Be kind.",
                additional_messages=[message],
                metadata={"k": "v"},
            )
            run = (await stub_of(channel).CreateRun(request, timeout=30)).run
        assert (run.model, run.instructions) == ("gpt-4o-mini", "Answer briefly.\n\nBe kind.")
        assert dict(run.metadata) == {"k": "v"}
        [body] = created_bodies(emulator)
        assert (body["background"], body["store"], body["conversation"]) == (True, True, thread)
        assert (body["model"], body["instructions"], body["metadata"]) == (
            run.model,
            run.instructions,
            {"k": "v"},
        )
        assert body["input"] == [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "And 2 + 2?"}]}
        ]
