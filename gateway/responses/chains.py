"""Runs as the adapter keeps them: records in the run store, their chains' responses read from the upstream.

`Runs` reads a run (its stored record and the Response objects of its chain), writes it back by
compare-and-swap (a write that lost a race is None: the caller reads again), and keeps the responses that
finished in a bounded cache, since a finished response never changes: a GetRun of a finished run costs one
store read and no upstream call. The store is opened on first use (or by `open`, at start).

A SubmitToolOutputs claims its run before it creates the next response: its outputs and a *pending* leg
(`pending_<unix time>_<hex>`) are written in one compare-and-swap, so that of two concurrent submits one
wins and creates a response, the other reads a run that is `queued` and is refused as the Assistants API
refuses it. The pending leg reads as a queued response until the real id replaces it.

A claim is held for `CLAIM_SECONDS` at most: the claimant gives up creating the response well before
(`START_SECONDS`), so a claim older than that is one whose gateway died between its claim and its swap.
Every read sees such a stale claim given back (`as_read`: the pending leg and its outputs gone, the run
waiting for them again), and the first write after it, or the keeper's sweep, stores that.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from gateway.errors import RunStoreUnavailable, UpstreamError
from gateway.responses.mapping import JSON, RESTING, TERMINAL_RUN, RunRecord, run_status
from gateway.store import RunStore, StoredRun, StoreError
from gateway.store.opening import open_store
from gateway.upstream import CallOptions, Upstream

PENDING = "pending_"
"""The prefix of a claimed leg whose response is being created."""
CLAIM_SECONDS = 120
"""How old a pending leg may be before it is given back (its claimant is gone)."""
START_SECONDS = 60.0
"""How long a claimant may take to create its leg's response (its POST, retries included): half a claim's
life, a margin for the clocks of replicas that differ."""
CACHED_RESPONSES = 4096
"""Finished responses kept in memory (about 4 KB each for a short answer)."""
RESPONSE_ROUTE = "/responses/{response_id}"
log = logging.getLogger(__name__)


def not_found(kind: str, identifier: str) -> UpstreamError:
    """The Assistants API's 404 for a missing resource (`No run found with id 'run_x'.`)."""
    return UpstreamError(404, f"No {kind} found with id '{identifier}'.", type="invalid_request_error")


def refused(message: str, param: str | None = None) -> UpstreamError:
    """The Assistants API's 400 for a request the resource's state does not allow."""
    return UpstreamError(400, message, type="invalid_request_error", param=param)


def pending_leg(now: int) -> str:
    """The id of a claimed leg, its time in it (a queued response's `created_at`)."""
    return f"{PENDING}{now}_{secrets.token_hex(8)}"


def claimed_at(leg: str) -> int:
    """The unix time of a pending leg's claim (0 for an id of another form)."""
    created = leg.removeprefix(PENDING).partition("_")[0]
    return int(created) if created.isdigit() else 0


def _pending_response(leg: str) -> JSON:
    return {"id": leg, "status": "queued", "output": [], "created_at": claimed_at(leg)}


def without_claim(record: RunRecord, pending: str, responses: list[JSON]) -> RunRecord:
    """The record with the claim of `pending` given back: that leg gone from the chain and the outputs it
    carried (those of the function calls of the response before it, in `responses`) forgotten, so that the
    run waits for them again. `pending` is a leg of the record's chain."""
    legs = tuple(leg for leg in record.responses if leg != pending)
    before = next((r for r in reversed(responses) if r.get("id") == legs[-1]), {}) if legs else {}
    answered = {
        item.get("call_id") for item in before.get("output") or [] if item.get("type") == "function_call"
    }
    outputs = {call: output for call, output in record.tool_outputs.items() if call not in answered}
    return replace(record, responses=legs, tool_outputs=outputs)


def as_read(record: RunRecord, responses: list[JSON], now: int) -> tuple[RunRecord, list[JSON]]:
    """The run as a read shows it: a stale claim (older than CLAIM_SECONDS) given back."""
    last = record.responses[-1] if record.responses else ""
    if not last.startswith(PENDING) or now - claimed_at(last) < CLAIM_SECONDS:
        return record, responses
    return without_claim(record, last, responses), responses[:-1]


def in_flight(response: JSON | None) -> bool:
    """Whether a response of the chain may still change (and can be cancelled upstream)."""
    return (
        response is not None
        and response.get("status") not in RESTING
        and not str(response.get("id", "")).startswith(PENDING)
    )


@contextmanager
def storing() -> Iterator[None]:
    """A store failure as the gateway's error (UNAVAILABLE), at the boundary."""
    try:
        yield
    except StoreError as exc:
        raise RunStoreUnavailable(str(exc)) from None


class Runs:
    """The runs of the Responses upstream: the store, the upstream client, the finished responses."""

    def __init__(
        self,
        upstream: Upstream,
        store_url: str,
        *,
        clock: Callable[[], float] = time.time,
        cached: int = CACHED_RESPONSES,
    ) -> None:
        self.upstream = upstream
        self._clock = clock
        self._url = store_url
        self._store: RunStore | None = None
        self._opening = asyncio.Lock()
        self._finished: OrderedDict[str, JSON] = OrderedDict()
        self._cached = cached

    async def open(self) -> RunStore:
        """The store, opened (and migrated) on first use."""
        if self._store is None:
            async with self._opening:
                if self._store is None:
                    with storing():
                        self._store = await open_store(self._url)
        return self._store

    async def aclose(self) -> None:
        if self._store is not None:
            store, self._store = self._store, None
            with storing():
                await store.close()

    # ---- the store ------------------------------------------------------------------------------------

    async def stored(self, thread_id: str, run_id: str) -> StoredRun:
        """The stored run; the Assistants API's 404 when the thread has no such run."""
        store = await self.open()
        with storing():
            found = await store.get(thread_id, run_id)
        if found is None:
            raise not_found("run", run_id)
        return found

    async def create(self, record: RunRecord, status: str) -> StoredRun:
        store = await self.open()
        run = StoredRun(record.id, record.thread_id, record.created_at, status, record.to_json())
        with storing():
            return await store.create(run)

    async def write(self, stored: StoredRun, record: RunRecord, status: str) -> StoredRun | None:
        """Write the record over `stored` if nobody wrote since it was read; None when somebody did."""
        store = await self.open()
        changed = replace(stored, status=status, document=record.to_json())
        with storing():
            return await store.replace(changed, expected_version=stored.version)

    async def page(self, thread_id: str, **cursor: Any) -> tuple[list[StoredRun], bool]:
        store = await self.open()
        with storing():
            return await store.page(thread_id, **cursor)

    # ---- the chain ------------------------------------------------------------------------------------

    async def read(
        self, thread_id: str, run_id: str, options: CallOptions
    ) -> tuple[StoredRun, RunRecord, list[JSON]]:
        """The stored run, its record and its chain's responses as they are now (`as_read`)."""
        stored = await self.stored(thread_id, run_id)
        record = RunRecord.from_json(stored.document)
        responses = await self.chain(record, options)
        return stored, *as_read(record, responses, int(self._clock()))

    async def chain(self, record: RunRecord, options: CallOptions) -> list[JSON]:
        """The Response objects of the chain, in order: finished ones from the cache, the others read."""
        return list(await asyncio.gather(*(self.response(leg, options) for leg in record.responses)))

    async def response(self, leg: str, options: CallOptions) -> JSON:
        if leg.startswith(PENDING):
            return _pending_response(leg)
        cached = self._finished.get(leg)
        if cached is not None:
            self._finished.move_to_end(leg)
            return cached
        path = f"/responses/{quote(leg, safe='')}"
        return self.remember(await self.upstream.request("GET", path, options, route=RESPONSE_ROUTE))

    def remember(self, response: JSON) -> JSON:
        """Keep a finished response (it never changes again); the response, as it is."""
        if response.get("status") in RESTING and isinstance(response.get("id"), str):
            self._finished[response["id"]] = response
            self._finished.move_to_end(response["id"])
            while len(self._finished) > self._cached:
                self._finished.popitem(last=False)
        return response

    async def cancel(self, response: JSON, options: CallOptions) -> JSON:
        """Cancel a response in flight; the response as it is after (an upstream that refuses because it
        finished meanwhile: read again)."""
        path = f"/responses/{quote(response['id'], safe='')}/cancel"
        try:
            answer = await self.upstream.request("POST", path, options, route=RESPONSE_ROUTE + "/cancel")
        except UpstreamError as exc:
            if exc.status != 400:
                raise
            answer = await self.response(response["id"], options)
        return self.remember(answer)

    async def settle(
        self, stored: StoredRun, record: RunRecord, responses: list[JSON], now: int
    ) -> RunRecord | None:
        """Write back what a read learned: the run's status (the store lists unfinished runs by it), its
        end the first time it is seen at rest, a stale claim given back (`read` gave the record so). The
        record as it now is; None when the write lost a race (read again)."""
        status, _ = run_status(record, responses, now)
        settled = record.with_end(now) if status in TERMINAL_RUN else record
        if status == stored.status and settled.to_json() == stored.document:
            return record
        if await self.write(stored, settled, status) is None:
            return None
        if len(settled.responses) < len(stored.document.get("responses") or ()):
            log.warning(
                "run %s: a stale claim given back (its gateway gone before its response was known)", record.id
            )
        return settled
