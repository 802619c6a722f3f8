"""Server-sent events for v2's `"stream": true`: a run's events in OpenAI's wire form
(`event: thread.run.created\\ndata: {...}\\n\\n`), ending after the run's resting event
(`thread.run.requires_action` or a terminal one) with `event: done\\ndata: [DONE]`.

The store records each change of a streamed run (`RunState.events`); `events` sends them as the run
advances, `step_seconds` apart, and applies a stream fault: an `error` event after N events, or the
connection cut in the middle of event N + 1. `SSEResponse` notices a client that leaves mid-stream.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from starlette.responses import StreamingResponse
from starlette.types import Receive

from emulator.store import JSON, ApiError, RunState, Store
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


class StreamCut(Exception):
    """Raised to drop the connection in the middle of an event (a `cut_after` fault)."""


@dataclass(frozen=True)
class StreamFault:
    """What to do to a stream: `error_after` events then an `error` event and the end (no `done`), or
    `cut_after` events then half of the next one and the connection closed."""

    error_after: int | None = None
    cut_after: int | None = None


def frame(event: str, data: JSON | str) -> bytes:
    """One server-sent event, as OpenAI writes it."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"event: {event}\ndata: {text}\n\n".encode()


async def events(
    store: Store, state: RunState, include: frozenset[str], fault: StreamFault, sent: Callable[[], None]
) -> AsyncIterator[bytes]:
    """The run's events from where its recording starts, `step_seconds` apart, until it rests; `sent` is
    called after each event that went out whole."""
    log, count = state.events or [], 0
    while True:
        store.advance(state)
        for name, obj in log[count:]:
            if fault.error_after == count:
                error = ApiError(
                    500, "The server had an error while processing your request.", type="server_error"
                )
                yield frame("error", error.body()["error"])
                return
            data = frame(name, render(obj, "v2", include))
            if fault.cut_after == count:
                yield data[: len(data) // 2]
                raise StreamCut(f"cut after {count} events, as a fault asked")
            yield data
            count += 1
            sent()
            if name in ENDING:
                yield DONE
                return
            if store.step_seconds > 0:
                await asyncio.sleep(store.step_seconds)
        await asyncio.sleep(max(store.step_seconds, 0.001))


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
