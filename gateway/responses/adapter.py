"""The Responses upstream: the Assistants v2 runs calls the core makes, served over the Responses and
Conversations APIs and the run store (`--upstream-api responses`).

`ResponsesUpstream` stands where the REST client stands (`upstream.RestClient`): the core calls
`request(method, path, ..., route=template)` and `events(...)` as it would call the Assistants API and gets
Assistants-v2-shaped JSON back. Which handler serves a call is data: `UNARY` and `STREAMED` map (HTTP
method, route template) to a handler. Each handler is a few lines over `Runs` (the store and the chain's
responses, `chains.py`) and the pure mapping (`mapping`, `steps`, `requests`, `events`). Upstream calls go
through the existing `Upstream` client: its retries, credentials, dialect and error mapping apply.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote

from gateway import convert
from gateway.errors import Unmapped, UpstreamError
from gateway.responses.assistants import effective_settings
from gateway.responses.catalog import AssistantsFile
from gateway.responses.chains import (
    START_SECONDS,
    Runs,
    as_read,
    in_flight,
    not_found,
    pending_leg,
    refused,
    without_claim,
)
from gateway.responses.keeper import SWEEP_SECONDS, Keeper
from gateway.responses.mapping import JSON, TERMINAL_RUN, RunRecord, run_object, run_status
from gateway.responses.requests import Unmappable, response_request, tool_outputs_request
from gateway.responses.steps import run_steps, step_page
from gateway.responses.streaming import LegStream
from gateway.routes import ROUTES_V2
from gateway.store import StoredRun
from gateway.upstream import CallOptions, Upstream

log = logging.getLogger(__name__)

EXPIRES_AFTER = 600
"""Seconds a run may wait (queued, in progress, requiring action) before it expires: the Assistants API's
ten minutes."""
ATTEMPTS = 5
"""Reads and writes of one call before it gives up a compare-and-swap race (each lost race is another
replica's or call's write, read again)."""
DEFAULT_PAGE = {"limit": 20, "order": "desc"}
"""The Assistants API's list defaults."""
CREATE_RESPONSE = "/responses"
CLOSING_SECONDS = 5.0
"""How long closing waits for legs being started (their callers gone) to be held by their runs."""


@dataclass(frozen=True, slots=True)
class Call:
    """One call of the core, read: its path parameters, query, JSON body and options."""

    path: Mapping[str, str]
    query: Mapping[str, Any]
    body: JSON
    options: CallOptions

    @property
    def thread_id(self) -> str:
        return self.path["thread_id"]

    @property
    def run_id(self) -> str:
        return self.path["run_id"]


def _call(path: str, options: CallOptions, given: Mapping[str, Any]) -> Call:
    """The call read: its path parameters (by its route template), query and JSON body."""
    route, content = str(given.get("route", "")), given.get("content")
    values = {
        name[1:-1]: unquote(value)
        for name, value in zip(route.split("/"), path.split("/"), strict=False)
        if name.startswith("{")
    }
    body = convert.loads(content) if content else {}
    return Call(values, dict(given.get("params") or {}), body if isinstance(body, dict) else {}, options)


@contextmanager
def mapped() -> Iterator[None]:
    """A request the Responses API cannot serve as the Assistants API would: INVALID_ARGUMENT, its reason."""
    try:
        yield
    except Unmappable as exc:
        raise Unmapped(exc.field, str(exc), exc.reason) from None


class ResponsesUpstream:
    """The Assistants v2 runs API over a Responses upstream (`upstream`) and a run store (`store_url`).

    `keep`: whether `open` starts the keeper's sweeps (every `sweep_every` seconds); off, `keeper.sweep()`
    is called by whoever wants one (a test)."""

    def __init__(
        self,
        upstream: Upstream,
        assistants: AssistantsFile,
        store_url: str,
        *,
        clock: Callable[[], float] = time.time,
        keep: bool = True,
        sweep_every: float = SWEEP_SECONDS,
    ) -> None:
        self.upstream = upstream
        self.assistants = assistants
        self.runs = Runs(upstream, store_url, clock=clock)
        self._clock = clock
        self._starting: set[asyncio.Task[tuple[RunRecord, JSON]]] = set()
        """Legs being started whose callers may have gone (held so that they are not collected)."""
        self.keeper = Keeper(self.runs.open, self._look_after, sweep_every)
        self._keep = keep
        self._keeping: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Open the run store now (at start: a bad store fails the start, not the first call), and start
        the keeper."""
        await self.runs.open()
        if not self._keep or self._keeping is not None:
            return
        if not self.upstream.has_credential:
            # Its reads would go up with no key: nobody's request carries one.
            log.warning(
                "the keeper is off: the gateway has no credential of its own (--api-key, OPENAI_API_KEY, "
                "--auth entra); a run is looked after only when a client reads it"
            )
            return
        self._keeping = asyncio.create_task(self.keeper.run(), name="runs-gateway-keeper")

    @property
    def keeping(self) -> bool:
        """Whether the keeper's sweeps run."""
        return self._keeping is not None and not self._keeping.done()

    async def aclose(self) -> None:
        """Stop the keeper, give the legs being started a few seconds, close the store and the client."""
        if self._keeping is not None:
            self._keeping.cancel()
            await asyncio.gather(self._keeping, return_exceptions=True)
        if self._starting:
            await asyncio.wait(self._starting, timeout=CLOSING_SECONDS)
        await self.runs.aclose()
        await self.upstream.aclose()

    async def request(self, method: str, path: str, options: CallOptions, **given: Any) -> dict[str, Any]:
        """Serve one Assistants REST call (by its method and `route` template) as that API answers it;
        `given` are `RestClient.request`'s keywords (`params`, `content`, `route`, `headers`)."""
        handler = UNARY.get((method, given.get("route", "")))
        if handler is None:
            raise UpstreamError(404, f"Invalid URL ({method} {path})", api_error=False)
        return await handler(self, _call(path, options, given))

    async def events(
        self, method: str, path: str, options: CallOptions, **given: Any
    ) -> AsyncGenerator[tuple[str, str], None]:
        """Serve one streamed Assistants REST call: its run events, (name, data), until the run's `done`."""
        handler = STREAMED.get((method, given.get("route", "")))
        if handler is None:
            raise UpstreamError(404, f"Invalid URL ({method} {path})", api_error=False)
        async for event in handler(self, _call(path, options, given)):
            yield event

    def _now(self) -> int:
        return int(self._clock())

    async def _look_after(self, run: StoredRun) -> None:
        """The keeper's read of a run: a GetRun's, without a client."""
        await self._current(Call({"thread_id": run.thread_id, "run_id": run.id}, {}, {}, CallOptions()))

    # ---- runs -----------------------------------------------------------------------------------------

    async def _new_run(self, call: Call) -> tuple[RunRecord, JSON]:
        """The record of a new run (no response yet) and its first leg's CreateResponse body."""
        assistant_id = str(call.body.get("assistant_id", ""))
        assistant = await self.assistants.get(assistant_id)
        if assistant is None:
            raise not_found("assistant", assistant_id)
        with mapped():
            settings = effective_settings(assistant, call.body)
            leg = response_request(settings, call.thread_id, call.body.get("additional_messages"))
        now = self._now()
        include = call.query.get("include[]") or ()
        record = RunRecord(
            id=f"run_{secrets.token_hex(12)}",
            thread_id=call.thread_id,
            assistant_id=assistant_id,
            created_at=now,
            settings=settings,
            expires_at=now + EXPIRES_AFTER,
            include=tuple([include] if isinstance(include, str) else include),
        )
        return record, leg

    async def _post_response(self, body: JSON, call: Call) -> JSON:
        try:
            response = await self.upstream.request(
                "POST",
                CREATE_RESPONSE,
                call.options,
                content=convert.json_text(body).encode(),
                route=CREATE_RESPONSE,
            )
        except UpstreamError as exc:
            if exc.status == 404 and "onversation" in exc.message:
                raise not_found("thread", call.thread_id) from exc
            raise
        return self.runs.remember(response)

    async def create_run(self, call: Call) -> JSON:
        record, leg = await self._new_run(call)
        response = await self._post_response(leg, call)
        record = record.with_response(response["id"])
        now = self._now()
        try:
            await self.runs.create(record, run_status(record, [response], now)[0])
        except BaseException:
            await self._abandon(response, call)
            raise
        return run_object(record, [response], now)

    async def _abandon(self, response: JSON, call: Call) -> None:
        """Cancel a response no run record holds (the store refused it): it would run for nobody."""
        try:
            await self.runs.cancel(response, call.options)
        except Exception:  # the store's error is the one to report
            log.warning("could not cancel response %s of a run never stored", response.get("id"))

    async def get_run(self, call: Call) -> JSON:
        record, responses, now = await self._current(call)
        return run_object(record, responses, now)

    async def _current(self, call: Call) -> tuple[RunRecord, list[JSON], int]:
        """The run as it is now, written back when its status changed (a lost race: read again); a run
        that expired with a leg in flight has that leg cancelled."""
        for _ in range(ATTEMPTS):
            stored, record, responses = await self.runs.read(call.thread_id, call.run_id, call.options)
            now = self._now()
            settled = await self.runs.settle(stored, record, responses, now)
            if settled is not None:
                await self._expire(settled, responses, now, call)
                return settled, responses, now
        return record, responses, now  # every write lost: what was read is still the run as it is now

    async def _expire(self, record: RunRecord, responses: list[JSON], now: int, call: Call) -> None:
        """Cancel the leg in flight of a run that expired: nothing runs on for it. A cancel that fails is
        logged and tried again by the next read; the run reads expired either way."""
        if responses and in_flight(responses[-1]) and run_status(record, responses, now)[0] == "expired":
            try:
                responses[-1] = await self.runs.cancel(responses[-1], call.options)
            except UpstreamError as exc:
                log.warning(
                    "could not cancel response %s of expired run %s: %s", responses[-1]["id"], record.id, exc
                )

    async def list_runs(self, call: Call) -> JSON:
        query = {**DEFAULT_PAGE, **call.query}
        stored, more = await self.runs.page(
            call.thread_id,
            limit=int(query["limit"]),
            order=query["order"],
            after=query.get("after") or None,
            before=query.get("before") or None,
        )
        records = [RunRecord.from_json(run.document) for run in stored]
        chains = await asyncio.gather(*(self.runs.chain(record, call.options) for record in records))
        now = self._now()
        shown = [as_read(record, chain, now) for record, chain in zip(records, chains, strict=True)]
        data = [run_object(record, chain, now) for record, chain in shown]
        first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
        return {"object": "list", "data": data, "first_id": first, "last_id": last, "has_more": more}

    async def modify_run(self, call: Call) -> JSON:
        for _ in range(ATTEMPTS):
            stored, record, responses = await self.runs.read(call.thread_id, call.run_id, call.options)
            settings = {**record.settings, "metadata": dict(call.body.get("metadata") or {})}
            changed = replace(record, settings=settings)
            if await self.runs.write(stored, changed, stored.status) is not None:
                return run_object(changed, responses, self._now())
        raise _raced()

    async def cancel_run(self, call: Call) -> JSON:
        for _ in range(ATTEMPTS):
            stored, record, responses = await self.runs.read(call.thread_id, call.run_id, call.options)
            now = self._now()
            status = run_status(record, responses, now)[0]
            if status in TERMINAL_RUN:
                raise refused(f"Cannot cancel run with status '{status}'.")
            asked = record.with_cancel_request(now)
            if await self.runs.write(stored, asked, run_status(asked, responses, now)[0]) is None:
                continue
            if responses and in_flight(responses[-1]):
                responses[-1] = await self.runs.cancel(responses[-1], call.options)
            return run_object(asked, responses, now)
        raise _raced()

    # ---- tool outputs ---------------------------------------------------------------------------------

    async def _claim(self, call: Call) -> tuple[RunRecord, list[JSON], str, JSON]:
        """Claim the run for the next leg: the outputs and a pending leg written by compare-and-swap.
        The record as claimed, the chain before, the pending leg's id and the next leg's body."""
        for _ in range(ATTEMPTS):
            stored, record, responses = await self.runs.read(call.thread_id, call.run_id, call.options)
            now = self._now()
            status = run_status(record, responses, now)[0]
            if status != "requires_action":
                raise refused(f'Runs in status "{status}" do not accept tool outputs.')
            outputs = list(call.body.get("tool_outputs") or [])
            with mapped():
                leg = tool_outputs_request(record, responses, outputs)
            pending = pending_leg(now)
            claimed = record.with_outputs(outputs).with_response(pending)
            if await self.runs.write(stored, claimed, "queued") is not None:
                return claimed, responses, pending, leg
        raise _raced()

    async def _swap(self, call: Call, pending: str, response: JSON | None, before: list[JSON]) -> RunRecord:
        """Put the leg's response in place of its pending id (or, with None, give the claim back: the run
        waiting for the outputs again). A claim given back meanwhile (it went stale: `chains.as_read`) is
        lost: the response is cancelled, as nobody's, and the call ABORTED."""
        for _ in range(ATTEMPTS):
            stored = await self.runs.stored(call.thread_id, call.run_id)
            record = RunRecord.from_json(stored.document)
            if pending not in record.responses:
                if response is None:
                    return record
                await self._abandon(response, call)
                raise _claim_lost()
            if response is None:
                changed, chain = without_claim(record, pending, before), before
            else:
                legs = tuple(response["id"] if leg == pending else leg for leg in record.responses)
                changed, chain = replace(record, responses=legs), [*before, response]
            status = run_status(changed, chain, self._now())[0]
            if await self.runs.write(stored, changed, status) is not None:
                return changed
        raise _raced()

    async def _submit(self, call: Call) -> tuple[RunRecord, list[JSON], JSON]:
        """Claim the run and create its next leg, in a task of its own: a caller that leaves (a client's
        cancel or deadline) does not stop it between a response created upstream and a chain that holds it.
        The record, the chain before the leg and the leg's response."""
        record, responses, pending, leg = await self._claim(call)
        task = asyncio.ensure_future(self._start_leg(call, responses, pending, leg))
        self._starting.add(task)
        task.add_done_callback(self._started)
        record, response = await asyncio.shield(task)
        return record, responses, response

    async def _start_leg(
        self, call: Call, before: list[JSON], pending: str, leg: JSON
    ) -> tuple[RunRecord, JSON]:
        # Within START_SECONDS, so that a live claim never goes stale; not within the call's deadline: a
        # client that gave up does not stop the leg halfway, any more than one that cancelled.
        bounded = replace_options(call, time.monotonic() + START_SECONDS)
        try:
            response = await self._post_response(leg, bounded)
        except BaseException:
            await self._swap(call, pending, None, before)
            raise
        record = await self._swap(call, pending, response, before)
        if record.cancel_requested_at is not None and in_flight(response):
            response = await self.runs.cancel(response, call.options)
        return record, response

    def _started(self, task: asyncio.Task[tuple[RunRecord, JSON]]) -> None:
        self._starting.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("a leg's start ended in %r (its caller had gone, or was told)", task.exception())

    async def submit_tool_outputs(self, call: Call) -> JSON:
        record, responses, response = await self._submit(call)
        return run_object(record, [*responses, response], self._now())

    # ---- steps ----------------------------------------------------------------------------------------

    async def _steps(self, call: Call) -> list[JSON]:
        record, responses, now = await self._current(call)
        include = call.query.get("include[]") or ()
        shown = replace(record, include=tuple([include] if isinstance(include, str) else include))
        return run_steps(shown, responses, now)

    async def list_run_steps(self, call: Call) -> JSON:
        query = {**DEFAULT_PAGE, **call.query}
        steps = await self._steps(call)
        return step_page(
            steps,
            limit=int(query["limit"]),
            order=str(query["order"]),
            after=query.get("after") or None,
            before=query.get("before") or None,
        )

    async def get_run_step(self, call: Call) -> JSON:
        step_id = call.path["step_id"]
        for step in await self._steps(call):
            if step["id"] == step_id:
                return step
        raise not_found("run step", step_id)

    # ---- streamed runs --------------------------------------------------------------------------------

    async def create_run_stream(self, call: Call) -> AsyncGenerator[tuple[str, str], None]:
        record, leg = await self._new_run(call)

        async def started(response_id: str) -> RunRecord:
            started_record = record.with_response(response_id)
            try:
                await self.runs.create(started_record, "queued")
            except BaseException:
                await self._abandon({"id": response_id}, call)
                raise
            return started_record

        stream = LegStream(self.runs, call.options, self._clock, started, [])
        async for event in stream.events(stream.creating(leg)):
            yield event

    async def submit_tool_outputs_stream(self, call: Call) -> AsyncGenerator[tuple[str, str], None]:
        # The leg is created as a unary submit creates it, then its stream followed from its first event:
        # a round trip more than a streamed create, so that a client that leaves before the first event
        # cannot leave a response upstream that no chain holds.
        record, responses, response = await self._submit(call)

        async def started(_: str) -> RunRecord:
            return record

        stream = LegStream(self.runs, call.options, self._clock, started, responses)
        async for event in stream.events(stream.following(response["id"])):
            yield event


def replace_options(call: Call, deadline: float) -> Call:
    """The call with its upstream calls bounded by `deadline` (time.monotonic)."""
    return replace(call, options=replace(call.options, deadline=deadline))


def _claim_lost() -> UpstreamError:
    """A claimant that found its claim given back (ABORTED): the outputs were not taken."""
    return UpstreamError(
        409,
        "The run's claim on these tool outputs expired before their response was made; read the run "
        "and submit them again.",
        type="conflict",
    )


def _raced() -> UpstreamError:
    """Every compare-and-swap of a call lost: the run is being changed by others right now (ABORTED)."""
    return UpstreamError(409, "The run was changed by another request meanwhile; try again.", type="conflict")


Unary = Callable[[ResponsesUpstream, Call], Awaitable[JSON]]
Streamed = Callable[[ResponsesUpstream, Call], AsyncGenerator[tuple[str, str], None]]


def _routes(handlers: Mapping[str, Any]) -> dict[tuple[str, str], Any]:
    return {(ROUTES_V2[rpc].method, ROUTES_V2[rpc].path): handler for rpc, handler in handlers.items()}


UNARY: dict[tuple[str, str], Unary] = _routes(
    {
        "CreateRun": ResponsesUpstream.create_run,
        "GetRun": ResponsesUpstream.get_run,
        "ModifyRun": ResponsesUpstream.modify_run,
        "ListRuns": ResponsesUpstream.list_runs,  # ListRunsPage: the same route
        "CancelRun": ResponsesUpstream.cancel_run,
        "SubmitToolOutputs": ResponsesUpstream.submit_tool_outputs,
        "GetRunStep": ResponsesUpstream.get_run_step,
        "ListRunSteps": ResponsesUpstream.list_run_steps,  # ListRunStepsPage and WatchRun's steps too
    }
)
"""(HTTP method, route template) of each Assistants v2 call → the handler that serves it."""
STREAMED: dict[tuple[str, str], Streamed] = _routes(
    {
        "CreateRunStream": ResponsesUpstream.create_run_stream,
        "SubmitToolOutputsStream": ResponsesUpstream.submit_tool_outputs_stream,
    }
)
"""(HTTP method, route template) of each streamed Assistants v2 call → the handler that serves it."""
