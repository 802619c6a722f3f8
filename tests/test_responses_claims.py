"""Runs over Responses that nobody finishes: claims whose gateway died, callers that leave, the keeper.

A SubmitToolOutputs claims its run (a pending leg) before it creates the next response. These tests put a run
in the state a gateway killed between the claim and its swap leaves it (the claim written, no response made),
and check that a read after CLAIM_SECONDS, or the keeper without any read, gives the claim back (the run waits
for its outputs again, and takes them); that a claimant whose claim was given back meanwhile cancels the
response it made and is refused; that a client that leaves a submit before its answer (a streamed one
cancelled before its first event, a unary one past its deadline) loses nothing (the leg is made and held); and
that the keepers of two replicas on one store look after each run once, a stopped one's runs taken by the
other when its leases end. The adapter runs in-process over the emulator's Responses API on loopback (real
HTTP), on both stores; the clients that leave, over gRPC.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from runs_gateway.assistants.v2 import resources_pb2 as res
from runs_gateway.assistants.v2 import runs_service_pb2 as pb
from test_dialects import outputs
from test_responses_e2e import (
    KEY,
    Clock,
    Emulated,
    assistants_file,
    emulated,
    gateway,
    get,
    responses_created,
    stub_of,
    until_claimed,
)

from gateway.errors import UpstreamError
from gateway.responses.adapter import ResponsesUpstream
from gateway.responses.catalog import AssistantsFile
from gateway.responses.chains import CLAIM_SECONDS, PENDING, pending_leg
from gateway.responses.mapping import RunRecord
from gateway.routes import ROUTES_V2
from gateway.upstream import CallOptions, Upstream

JSON = dict[str, Any]


@asynccontextmanager
async def adapter(
    emulator: Emulated, folder: Path, store_url: str, clock: Clock, sweep_every: float = 30
) -> AsyncIterator[ResponsesUpstream]:
    """The adapter over the emulator, its store open, its keeper not started (the test sweeps)."""
    files = AssistantsFile(assistants_file(folder))
    upstream = Upstream(emulator.base_url, KEY)
    runs = ResponsesUpstream(upstream, files, store_url, clock=clock, keep=False, sweep_every=sweep_every)
    await runs.open()
    try:
        yield runs
    finally:
        await runs.aclose()


async def call(runs: ResponsesUpstream, rpc: str, body: JSON | None = None, **path: str) -> JSON:
    """One Assistants v2 REST call of `rpc`, as the core makes it."""
    route = ROUTES_V2[rpc]
    given: JSON = {"route": route.path}
    if body is not None:
        given["content"] = json.dumps(body).encode()
    return await runs.request(route.method, route.path.format(**path), CallOptions(), **given)


def answers(run: JSON) -> list[JSON]:
    calls = run["required_action"]["submit_tool_outputs"]["tool_calls"]
    return [{"tool_call_id": c["id"], "output": '{"sum": 3}'} for c in calls]


async def waiting_run(runs: ResponsesUpstream, thread: str) -> JSON:
    """A run of the adder, read once it requires action."""
    run = await call(runs, "CreateRun", {"assistant_id": "asst_adder"}, thread_id=thread)
    waiting = await call(runs, "GetRun", thread_id=thread, run_id=run["id"])
    assert waiting["status"] == "requires_action", waiting["status"]
    return waiting


async def die_after_claim(runs: ResponsesUpstream, run: JSON, clock: Clock) -> None:
    """Leave the run as a gateway killed between a submit's claim and its swap leaves it: the outputs and a
    pending leg stored, no response made."""
    stored = await runs.runs.stored(run["thread_id"], run["id"])
    record = RunRecord.from_json(stored.document)
    claimed = record.with_outputs(answers(run)).with_response(pending_leg(int(clock())))
    assert await runs.runs.write(stored, claimed, "queued") is not None


async def stored_status(runs: ResponsesUpstream, run: JSON) -> tuple[str, list[str]]:
    stored = await runs.runs.stored(run["thread_id"], run["id"])
    return stored.status, list(stored.document["responses"])


@asynccontextmanager
async def one_waiting(folder: Path, store_url: str, clock: Clock) -> AsyncIterator[tuple[Any, ...]]:
    """The emulator, the adapter over it and a run of the adder requiring action, with its ids."""
    with emulated() as emulator:
        async with adapter(emulator, folder, store_url, clock) as runs:
            waiting = await waiting_run(runs, emulator.thread())
            yield emulator, runs, waiting, {"thread_id": waiting["thread_id"], "run_id": waiting["id"]}


def requests(emulator: Emulated) -> list[JSON]:
    return list(httpx.get(emulator.admin + "/requests").json())


async def test_a_claim_whose_gateway_died_is_given_back_by_a_read_and_the_outputs_taken_again(
    tmp_path: Path, store: str
) -> None:
    clock = Clock()
    async with one_waiting(tmp_path, store, clock) as (emulator, runs, waiting, ids):
        await die_after_claim(runs, waiting, clock)
        assert (await call(runs, "GetRun", **ids))["status"] == "queued"  # a live claim is held
        clock.now += CLAIM_SECONDS - 1
        assert (await call(runs, "GetRun", **ids))["status"] == "queued"
        clock.now += 1
        listed = await call(runs, "ListRuns", thread_id=ids["thread_id"])  # a list shows it so too
        assert [run["status"] for run in listed["data"]] == ["requires_action"]
        again = await call(runs, "GetRun", **ids)
        assert again["status"] == "requires_action"
        assert again["required_action"] == waiting["required_action"]
        status, legs = await stored_status(runs, waiting)
        assert status == "requires_action"
        assert not any(leg.startswith(PENDING) for leg in legs)
        steps = await call(runs, "ListRunSteps", **ids)
        assert [step["status"] for step in steps["data"]] == ["in_progress"]  # the call, unanswered
        await call(runs, "SubmitToolOutputs", {"tool_outputs": answers(waiting)}, **ids)
        done = await call(runs, "GetRun", **ids)
        assert done["status"] == "completed"
        assert responses_created(emulator) == 2


async def test_a_claimant_whose_claim_was_given_back_cancels_its_response_and_is_aborted(
    tmp_path: Path, store: str
) -> None:
    clock = Clock()
    async with one_waiting(tmp_path, store, clock) as (emulator, runs, waiting, ids):
        emulator.fault({"path": "/responses$", "method": "POST", "delay": 3.0})
        body = {"tool_outputs": answers(waiting)}
        submit = asyncio.create_task(call(runs, "SubmitToolOutputs", body, **ids))
        await until_claimed(store, ids["thread_id"], ids["run_id"])
        clock.now += CLAIM_SECONDS  # its claimant looks dead to the next read, which gives the claim back
        assert (await call(runs, "GetRun", **ids))["status"] == "requires_action"
        with pytest.raises(UpstreamError) as lost:
            await submit
        assert lost.value.status == 409
        assert "claim" in lost.value.message
        made = [e for e in requests(emulator) if e["method"] == "POST" and e["path"].endswith("/responses")]
        cancels = [e for e in requests(emulator) if e["path"].endswith("/cancel")]
        assert len(made) == 2
        assert len(cancels) == 1  # the response made for nobody, cancelled
        status, legs = await stored_status(runs, waiting)
        assert status == "requires_action"
        assert len(legs) == 1
        await call(runs, "SubmitToolOutputs", body, **ids)
        assert (await call(runs, "GetRun", **ids))["status"] == "completed"


async def test_the_keepers_of_two_replicas_look_after_each_run_once_and_take_a_stopped_ones_runs(
    tmp_path: Path, store: str
) -> None:
    clock = Clock()
    with emulated() as emulator:
        async with (
            adapter(emulator, tmp_path, store, clock, sweep_every=3) as one,
            adapter(emulator, tmp_path, store, clock) as two,
        ):
            plain = await call(one, "CreateRun", {"assistant_id": "asst_plain"}, thread_id=emulator.thread())
            claimed = await waiting_run(one, emulator.thread())
            await die_after_claim(one, claimed, clock)
            idle = await waiting_run(one, emulator.thread())
            assert (await stored_status(one, plain))[0] == "queued"  # finished upstream, never read since
            clock.now += CLAIM_SECONDS
            assert await one.keeper.sweep() == 3
            assert (await stored_status(one, plain))[0] == "completed"
            assert (await stored_status(one, claimed))[0] == "requires_action"  # the claim given back
            assert (await stored_status(one, idle))[0] == "requires_action"
            assert await two.keeper.sweep() == 0  # one's leases on the two runs still unfinished hold
            await asyncio.sleep(3.2)  # one stops sweeping: its leases (3 s, a sweep's period) end
            assert await two.keeper.sweep() == 2
            clock.now += 600  # past both runs' expires_at, nobody reading them
            assert await one.keeper.sweep() == 0  # two's leases hold now
            assert await two.keeper.sweep() == 2
            assert [(await stored_status(two, run))[0] for run in (claimed, idle)] == ["expired", "expired"]
            assert await two.keeper.sweep() == 0  # nothing unfinished is left
            before = len(requests(emulator))
            assert await one.keeper.sweep() == await two.keeper.sweep() == 0
            assert len(requests(emulator)) == before


Claimed = Callable[[], Awaitable[None]]


async def leave_a_streamed_submit(stub: Any, request: Any, claimed: Claimed) -> None:
    """Cancel a SubmitToolOutputsStream once it claimed the run, before its first event."""
    stream = stub.SubmitToolOutputsStream(pb.SubmitToolOutputsStreamRequest(**request), timeout=30)
    await claimed()  # its response being created
    stream.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stream.read()


async def leave_a_unary_submit(stub: Any, request: Any, claimed: Claimed) -> None:
    """A SubmitToolOutputs whose deadline ends after its claim, before its answer."""
    submit = stub.SubmitToolOutputs(pb.SubmitToolOutputsRequest(**request), timeout=1.5)
    await claimed()
    with pytest.raises(grpc.aio.AioRpcError) as late:
        await submit
    assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


@pytest.mark.parametrize("leave", [leave_a_streamed_submit, leave_a_unary_submit])
async def test_a_client_that_leaves_a_submit_before_its_answer_loses_nothing(
    tmp_path: Path, store: str, leave: Callable[[Any, Any, Claimed], Awaitable[None]]
) -> None:
    with emulated() as emulator:
        thread = emulator.thread()
        async with gateway(emulator, tmp_path, store=store) as channel:
            stub = stub_of(channel)
            created = await stub.CreateRun(pb.CreateRunRequest(thread_id=thread, assistant_id="asst_adder"))
            waiting = await get(stub, thread, created.run.id)
            emulator.fault({"path": "/responses$", "method": "POST", "delay": 3.0})
            request = {"thread_id": thread, "run_id": waiting.id, "tool_outputs": outputs(waiting)}
            await leave(stub, request, lambda: until_claimed(store, thread, waiting.id))
            for _ in range(500):
                run = await get(stub, thread, waiting.id)
                if run.status not in (res.RUN_STATUS_QUEUED, res.RUN_STATUS_IN_PROGRESS):
                    break
                await asyncio.sleep(0.02)
            assert run.status == res.RUN_STATUS_COMPLETED, run  # the leg was made and held
            assert responses_created(emulator) == 2


async def test_the_keeper_runs_with_the_gateways_own_key_and_is_off_without_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files = AssistantsFile(assistants_file(tmp_path))
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    with emulated() as emulator:
        for key, keeping in ((KEY, True), (None, False)):
            runs = ResponsesUpstream(Upstream(emulator.base_url, key), files, url, sweep_every=0.05)
            caplog.clear()
            await runs.open()
            try:
                assert runs.keeping is keeping
                assert ("the keeper is off" in caplog.text) is not keeping
            finally:
                await runs.aclose()
