"""Server-sent events for v2's `"stream": true`: a run's events in OpenAI's wire form
(`event: thread.run.created\\ndata: {...}\\n\\n`), ending after the run's resting event
(`thread.run.requires_action` or a terminal one) with `event: done\\ndata: [DONE]`, or in the form of a
dialect's server (`StreamStyle`: line ends, framing, the events it sends and how).

The store records each change of a streamed run (`RunState.events`); `events` sends them as the run
advances, `step_seconds` apart (at once when it is 0: no pause, so a benchmark measures the events' own
cost), and applies a stream fault: an `error` event after N events, the connection cut in the middle of
event N + 1, or an event no version of the API has (`thread.run.future_event`) slipped in after N events,
for clients that must skip what they do not know, as OpenAI asks them to. `SSEResponse` notices a client
that leaves mid-stream.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive

from emulator.model import JSON, ApiError, RunState, new_id, written_times
from emulator.store import Store
from emulator.versions import render

ENDING = frozenset(
    {
        "thread.run.requires_action",
        "thread.run.completed",
        "thread.run.incomplete",
        "thread.run.failed",
        "thread.run.cancelled",
        "thread.run.expired",
    }
)
DONE = b"event: done\ndata: [DONE]\n\n"
UNKNOWN_EVENT = "thread.run.future_event"
"""An event name the v2 description does not have: what a later version of the API might send."""


class StreamCut(Exception):
    """Raised to drop the connection in the middle of an event (a `cut_after` fault)."""


@dataclass(frozen=True)
class StreamFault:
    """What to do to a stream: `error_after` events then an `error` event and the end (no `done`),
    `cut_after` events then half of the next one and the connection closed, or `unknown_after` events then
    one `thread.run.future_event` and the rest of the stream as usual. N counts the run's own events."""

    error_after: int | None = None
    cut_after: int | None = None
    unknown_after: int | None = None


@dataclass(frozen=True)
class StreamStyle:
    """How a server writes a run's events; the default is OpenAI's.

    `line_end`: what ends each line (sse-starlette, open-assistant-api's, writes `\\r\\n`). `envelope`: no
    `event:` line, each event one `data:` line of `{"event": name, "data": object}` (astra-assistants-api).
    `done`: `event: done` / `data: [DONE]` after the resting event. `completed_after_action`: after
    `thread.run.requires_action`, a `thread.run.completed` carrying the run still `requires_action`
    (open-assistant-api). `message_completed_status`: the status `thread.message.completed` carries (None:
    the message's own). `omitted`: events the server never sends. `times`: how timestamps are written
    (`model.written_times`)."""

    line_end: str = "\n"
    envelope: bool = False
    done: bool = True
    completed_after_action: bool = False
    message_completed_status: str | None = None
    omitted: frozenset[str] = frozenset()
    times: str = "seconds"

    def frames(self, event: str, data: JSON) -> list[bytes]:
        """What the server sends for one recorded event: none, one, or (open-assistant-api after
        `requires_action`) two."""
        if event in self.omitted:
            return []
        if event == "thread.message.completed" and self.message_completed_status is not None:
            data = {**data, "status": self.message_completed_status}
        data = written_times(data, self.times)
        sent = [self.frame(event, data)]
        if self.completed_after_action and event == "thread.run.requires_action":
            sent.append(self.frame("thread.run.completed", data))
        return sent

    def frame(self, event: str, data: JSON | str) -> bytes:
        """One server-sent event in this style."""
        if self.envelope:
            # astra-assistants-api writes `f"data: {event.to_json()}\n\n"`, with json.dumps' own spacing.
            lines = [f"data: {json.dumps({'event': event, 'data': data})}"]
        else:
            text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
            lines = [f"event: {event}", f"data: {text}"]
        end = self.line_end
        return (end.join(lines) + end + end).encode()


OPENAI_STREAM = StreamStyle()


def frame(event: str, data: JSON | str) -> bytes:
    """One server-sent event, as OpenAI writes it."""
    return OPENAI_STREAM.frame(event, data)


async def events(
    store: Store,
    state: RunState,
    include: frozenset[str],
    fault: StreamFault,
    sent: Callable[[], None],
    style: StreamStyle = OPENAI_STREAM,
) -> AsyncIterator[bytes]:
    """The run's events from where its recording starts, `step_seconds` apart, until it rests, written in
    `style`; `sent` is called after each recorded event that went out whole (faults count those)."""
    log, count = state.events or [], 0
    while True:
        store.advance(state)
        for name, obj in log[count:]:
            if fault.unknown_after == count:
                yield style.frame(UNKNOWN_EVENT, _unknown(state))
                sent()
            if fault.error_after == count:
                yield style.frame("error", _server_error())
                return
            data = b"".join(style.frames(name, render(obj, "v2", include)))
            if fault.cut_after == count:
                yield data[: len(data) // 2]
                raise StreamCut(f"cut after {count} events, as a fault asked")
            if data:
                yield data
            count += 1
            sent()
            if name in ENDING:
                if style.done:
                    yield style.frame("done", "[DONE]")
                return
            if store.step_seconds > 0:
                await asyncio.sleep(store.step_seconds)
        await asyncio.sleep(max(store.step_seconds, 0.001))


def _unknown(state: RunState) -> JSON:
    return {
        "id": new_id("future_"),
        "object": "thread.run.future",
        "run_id": state.obj["id"],
        "detail": "an event this client does not know",
    }


def _server_error() -> JSON:
    error = ApiError(500, "The server had an error while processing your request.", type="server_error")
    return dict(error.body()["error"])


Chunks = Callable[["StreamFault", Callable[[], None]], AsyncIterator[bytes]]
"""A stream's body given the fault to apply and the callback counting each event sent."""


def counted(request: Request, streams: dict[str, int], chunks: Chunks) -> SSEResponse:
    """A streamed answer: `chunks` with the stream fault of the request (its `request.state.fault`), counted
    in `streams` (open, finished, disconnected) and in the request's log entry (`request.state.entry`)."""
    fault = request.state.fault
    entry = request.state.entry
    entry["stream"] = {"events": 0, "disconnected": False}
    streams["open"] += 1

    def sent() -> None:
        entry["stream"]["events"] += 1

    def left() -> None:
        entry["stream"]["disconnected"] = True
        streams["disconnected"] += 1

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in chunks(fault.stream_fault if fault else StreamFault(), sent):
                yield chunk
            streams["finished"] += 1
        finally:
            streams["open"] -= 1

    return SSEResponse(body(), request.state.headers, left)


class SSEResponse(StreamingResponse):
    """A `text/event-stream` answer that calls `on_disconnect` when the client leaves before its end."""

    media_type = "text/event-stream"

    def __init__(
        self, content: AsyncIterator[bytes], headers: dict[str, str], on_disconnect: Callable[[], None]
    ) -> None:
        super().__init__(self._whole(content), headers={**headers, "cache-control": "no-cache"})
        self.on_disconnect, self.ended = on_disconnect, False

    async def _whole(self, content: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for chunk in content:
            yield chunk
        self.ended = True

    async def listen_for_disconnect(self, receive: Receive) -> None:
        # Starlette runs this beside the body and cancels it when the body ends; a disconnect before the
        # body's last chunk is a client that left (after it, one that read everything and closed).
        await super().listen_for_disconnect(receive)
        if not self.ended:
            self.on_disconnect()
