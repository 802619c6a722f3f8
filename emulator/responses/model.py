"""The state of the Responses and Conversations side: a response (`ResponseState`: its REST object, its
input, the items it saw, its events) and a conversation (`Conversation`: its object and its items), and the
response object as OpenAI writes it, every field of `Response` there from the start.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

from emulator.model import JSON, Listing, new_id, now

RESTING = frozenset({"completed", "failed", "cancelled", "incomplete"})


@dataclass
class Conversation:
    """A conversation and its items, in the order they were added."""

    obj: JSON
    items: Listing = field(default_factory=Listing)


@dataclass
class ResponseState:
    """A response: its REST object, the items of its `input`, the items before them (the previous
    response's context, or the conversation's items), and its events (each numbered, `sequence_number`,
    from 0), all recorded so that a background stream can be read again from any point."""

    obj: JSON
    input: list[JSON]
    context: list[JSON]
    conversation: Conversation | None = None
    include: frozenset[str] = frozenset()
    changed: float = field(default_factory=time.monotonic)
    events: list[JSON] = field(default_factory=list)

    def emit(self, kind: str, **fields: object) -> None:
        """Record an event: its `type`, its fields (snapshots, as sent at that moment), its number."""
        event = {"type": kind, **copy.deepcopy(fields), "sequence_number": len(self.events)}
        self.events.append(event)

    def history(self) -> list[JSON]:
        """What a response continuing this one sees: this one's context, input and output."""
        return [*self.context, *self.input, *self.obj["output"]]

    @property
    def resting(self) -> bool:
        return self.obj["status"] in RESTING


def response_object(settings: JSON, model: str, conversation: str | None) -> JSON:
    """A new response, `queued`, with the settings of its request."""
    return {
        "id": new_id("resp_"),
        "object": "response",
        "created_at": now(),
        "status": "queued",
        "completed_at": None,
        "error": None,
        "incomplete_details": None,
        "model": model,
        "output": [],
        "usage": None,
        "conversation": {"id": conversation} if conversation else None,
        **settings,
    }
