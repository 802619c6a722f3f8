"""A response's server-sent events in OpenAI's form: `event: response.output_text.delta` then `data:` the
event itself (its `type` and its `sequence_number` in it), no `[DONE]` at the end: the stream ends after the
response's last event once it has ended (`response.completed`, `.incomplete`, `.failed`; a cancelled one
has no event of its own).

Events are sent from `after + 1` on (a background stream read again with `starting_after`), `step_seconds`
apart, and the stream faults of the Assistants side apply (`emulator.stream.StreamFault`): an `error` event
after N events, the connection cut in the middle of event N + 1, an event no version knows slipped in.
A client that leaves stops nothing: the response advances whenever a request touches it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from emulator.model import JSON
from emulator.responses.model import ResponseState
from emulator.responses.store import ResponsesStore
from emulator.stream import StreamCut, StreamFault, frame

UNKNOWN_EVENT = "response.future_event"
"""An event name the description does not have: what a later version of the API might send."""


async def events(
    store: ResponsesStore, state: ResponseState, after: int, fault: StreamFault, sent: Callable[[], None]
) -> AsyncIterator[bytes]:
    """The response's events after `after`, until it has ended and each was sent."""
    position, count = after + 1, 0
    while True:
        store.lifecycle.advance(state)
        while position < len(state.events):
            event = state.events[position]
            if fault.unknown_after == count:
                yield frame(
                    UNKNOWN_EVENT, {"type": UNKNOWN_EVENT, "detail": "an event this client does not know"}
                )
                sent()
            if fault.error_after == count:
                yield frame("error", _server_error(event["sequence_number"]))
                return
            data = frame(event["type"], event)
            if fault.cut_after == count:
                yield data[: len(data) // 2]
                raise StreamCut(f"cut after {count} events, as a fault asked")
            yield data
            position, count = position + 1, count + 1
            sent()
            if store.step_seconds > 0:
                await asyncio.sleep(store.step_seconds)
        if state.resting:
            return
        await asyncio.sleep(max(store.step_seconds, 0.001))


def _server_error(sequence_number: int) -> JSON:
    return {
        "type": "error",
        "code": "server_error",
        "message": "The server had an error while processing your request.",
        "param": None,
        "sequence_number": sequence_number,
    }
