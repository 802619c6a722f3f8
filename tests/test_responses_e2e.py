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

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import grpc
import httpx
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from runs_gateway.assistants.v2 import resources_pb2 as res
from runs_gateway.assistants.v2 import runs_service_pb2 as pb
from runs_gateway.assistants.v2 import runs_service_pb2_grpc as pb_grpc
from test_dialects import outputs

from emulator import EmulatorConfig, EmulatorServer
from gateway.config import Settings
from gateway.server import build_server

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
        self.rest = httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"})

    def thread(self) -> str:
        answer = self.rest.post("/conversations", json={"items": [{"role": "user", "content": "1 + 2?"}]})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["id"])

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
    built = build_server(settings)
    port = built.server.add_insecure_port("127.0.0.1:0")
    await built.server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield channel
    finally:
        await built.server.stop(0)
        await built.gateway.upstream.aclose()


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


async def test_a_run_goes_through_requires_action_and_back_with_its_steps(tmp_path: Path) -> None:
    with emulated() as emulator:
        thread = emulator.thread()
        async with gateway(emulator, tmp_path) as channel:
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
