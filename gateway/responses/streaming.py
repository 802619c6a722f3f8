"""One leg of a streamed run: a background response created with `stream: true`, its events translated.

The leg's run is persisted as soon as the response's id is known (its first event): from then on the run
is the store's and the upstream's, so a client that goes away stops nothing (the response is in the
background) and GetRun, WatchRun and a restarted gateway see it. The events are translated by
`events.RunStream`; its `done` ends the stream, as the Assistants API's does. A stream that breaks before
the response's end is read again after its last event (`starting_after`, a few times at most); when that
brings nothing more (a cancelled response sends no event of its own), the response is read once more: at
rest, it ends the run's stream whole; still running, the stream is broken (StreamBroken), the run going on.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from urllib.parse import quote

from gateway import convert
from gateway.errors import GatewayError, StreamBroken
from gateway.responses.chains import RESPONSE_ROUTE, Runs
from gateway.responses.events import TERMINAL_EVENTS, Event, RunStream
from gateway.responses.mapping import JSON, RESTING, RunRecord
from gateway.upstream import CallOptions, Params

log = logging.getLogger(__name__)

REATTACH = 3
"""Times a leg's stream is read again after it broke before the response's end."""
Started = Callable[[str], Awaitable[RunRecord]]
"""Persist the run once its leg's response id is known; the record, that id last in its chain."""


class LegStream:
    """The translated stream of one leg. `previous`: the chain's responses before this leg."""

    def __init__(
        self,
        runs: Runs,
        options: CallOptions,
        clock: Callable[[], float],
        started: Started,
        previous: list[JSON],
    ) -> None:
        self._runs = runs
        self._options = options
        self._clock = clock
        self._started = started
        self._previous = previous
        self._translator: RunStream | None = None
        self._sequence = -1
        """The `sequence_number` of the last event received: where a stream read again starts after."""
        self.started = False
        """Whether the leg's response exists and the run holds it."""

    def creating(self, body: JSON) -> AsyncGenerator[tuple[str, str], None]:
        """The upstream stream of a leg created with `body` (`stream: true`)."""
        return self._runs.upstream.events(
            "POST",
            "/responses",
            self._options,
            content=convert.json_text({**body, "stream": True}).encode(),
            route="/responses",
        )

    def following(self, response_id: str, after: int = -1) -> AsyncGenerator[tuple[str, str], None]:
        """The upstream stream of a background response that exists, from its first event or after the
        event `after` (`GET /responses/{id}?stream=true&starting_after=N`)."""
        params: Params = {"stream": "true"} if after < 0 else {"stream": "true", "starting_after": after}
        path = f"/responses/{quote(response_id, safe='')}"
        return self._runs.upstream.events("GET", path, self._options, params=params, route=RESPONSE_ROUTE)

    async def events(
        self, source: AsyncGenerator[tuple[str, str], None]
    ) -> AsyncGenerator[tuple[str, str], None]:
        """The run's events (name, JSON text) of the leg `source` streams (`creating`, `following`),
        until its `done`."""
        for attempt in range(REATTACH + 1):
            fed = 0
            try:
                async with aclosing(source):
                    async for name, text in source:
                        fed += 1
                        for event in await self._feed(name, text):
                            if event.name == "done":
                                await self._settle()
                                return
                            yield event.name, convert.json_text(event.data)
            except StreamBroken:
                if self._translator is None:
                    raise  # no response yet: nothing to read again
            if attempt and not fed:
                break  # read again, nothing more came: the response may have ended without an event
            response_id = self._translator.response["id"] if self._translator is not None else ""
            source = self.following(response_id, self._sequence)
        for event in await self._ending():
            if event.name == "done":
                await self._settle()
                return
            yield event.name, convert.json_text(event.data)

    async def _feed(self, name: str, text: str) -> list[Event]:
        data = convert.loads(text)
        if not isinstance(data, dict):
            return []
        response = data.get("response")
        if isinstance(data.get("sequence_number"), int):
            self._sequence = data["sequence_number"]
        if self._translator is None:
            if not isinstance(response, dict) or not isinstance(response.get("id"), str):
                return []  # nothing before the response exists has a run event
            record = await self._started(response["id"])
            self.started = True
            self._translator = RunStream(record, self._previous)
        if name in TERMINAL_EVENTS and isinstance(response, dict):
            self._runs.remember(response)
        return self._translator.feed(name, data, int(self._clock()))

    async def _ending(self) -> list[Event]:
        """The run's last events when its stream closed for good before the response's end event: the
        response read once more, at rest (a cancelled one sends no event of its own); StreamBroken when it
        is still running (the run goes on; GetRun and WatchRun follow it)."""
        translator = self._translator
        if translator is None or translator.finished:
            raise StreamBroken(0)
        response = await self._runs.response(translator.response["id"], self._options)
        status = response.get("status")
        if status not in RESTING:
            raise StreamBroken(0)
        return translator.feed(f"response.{status}", {"response": response}, int(self._clock()))

    async def _settle(self) -> None:
        """Write the run's end back now (the next GetRun would, else); a failure here is only logged: the
        stream was whole, and the next read settles the run."""
        translator = self._translator
        if translator is None:
            return
        record = translator.record
        try:
            stored = await self._runs.stored(record.thread_id, record.id)
            current = RunRecord.from_json(stored.document)
            responses = await self._runs.chain(current, self._options)
            await self._runs.settle(stored, current, responses, int(self._clock()))
        except GatewayError as exc:
            log.warning("streamed run %s not settled at its end: %s", record.id, exc)
