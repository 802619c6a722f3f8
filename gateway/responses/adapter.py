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
from gateway.responses.chains import Runs, in_flight, not_found, pending_leg, refused
from gateway.responses.mapping import JSON, TERMINAL_RUN, RunRecord, run_object, run_status
from gateway.responses.requests import Unmappable, response_request, tool_outputs_request
from gateway.responses.steps import run_steps, step_page
from gateway.responses.streaming import LegStream
from gateway.routes import ROUTES_V2
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
    """The Assistants v2 runs API over a Responses upstream (`upstream`) and a run store (`store_url`)."""

    def __init__(
        self,
        upstream: Upstream,
        assistants: AssistantsFile,
        store_url: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.upstream = upstream
        self.assistants = assistants
        self.runs = Runs(upstream, store_url)
        self._clock = clock

    async def open(self) -> None:
        """Open the run store now (at start: a bad store fails the start, not the first call)."""
        await self.runs.open()

    async def aclose(self) -> None:
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
                "POST", CREATE_RESPONSE, call.options, content=convert.encode(body), route=CREATE_RESPONSE
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
        data = [run_object(record, chain, now) for record, chain in zip(records, chains, strict=True)]
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

    async def _swap(self, call: Call, pending: str, response_id: str | None) -> RunRecord:
        """Put the leg's response in place of its pending id (or, with None, give the claim back: the
        outputs and the pending leg removed, the run waiting for them again). A cancel asked meanwhile
        cancels the new response."""
        for _ in range(ATTEMPTS):
            stored = await self.runs.stored(call.thread_id, call.run_id)
            record = RunRecord.from_json(stored.document)
            if response_id is None:
                legs = tuple(leg for leg in record.responses if leg != pending)
                outputs = {k: v for k, v in record.tool_outputs.items() if k not in _answered(call)}
                changed = replace(record, responses=legs, tool_outputs=outputs)
            else:
                legs = tuple(response_id if leg == pending else leg for leg in record.responses)
                changed = replace(record, responses=legs)
            status = "queued" if response_id else "requires_action"
            if await self.runs.write(stored, changed, status) is not None:
                return changed
        raise _raced()

    async def submit_tool_outputs(self, call: Call) -> JSON:
        record, responses, pending, leg = await self._claim(call)
        try:
            response = await self._post_response(leg, call)
        except BaseException:
            await self._swap(call, pending, None)
            raise
        record = await self._swap(call, pending, response["id"])
        if record.cancel_requested_at is not None and in_flight(response):
            response = await self.runs.cancel(response, call.options)
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
        async for event in stream.events({**leg, "stream": True}):
            yield event

    async def submit_tool_outputs_stream(self, call: Call) -> AsyncGenerator[tuple[str, str], None]:
        _, responses, pending, leg = await self._claim(call)

        async def started(response_id: str) -> RunRecord:
            return await self._swap(call, pending, response_id)

        stream = LegStream(self.runs, call.options, self._clock, started, responses)
        try:
            async for event in stream.events({**leg, "stream": True}):
                yield event
        except BaseException:
            if not stream.started:
                await self._swap(call, pending, None)
            raise


def _answered(call: Call) -> set[str]:
    return {str(output.get("tool_call_id")) for output in call.body.get("tool_outputs") or []}


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
