"""The emulator's state: the objects it keeps (`Listing`, `Thread`, `RunState`), their ids and timestamps,
the message object both a request and a run write, and `ApiError`, the refusal every layer raises.

The REST objects are plain dicts holding the union of the v1 and v2 fields (`versions.render` cuts them to
one version's shape); nothing here knows HTTP or the run lifecycle.
"""

from __future__ import annotations

import copy
import secrets
import string
import time
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]
ALPHABET = string.ascii_letters + string.digits


class ApiError(Exception):
    """A request the REST API refuses: the HTTP status and the fields of the OpenAI error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.type = status, message, param, code, type

    def body(self) -> JSON:
        """The OpenAI error body."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def new_id(prefix: str) -> str:
    """An id like OpenAI's: a prefix and 24 random letters and digits."""
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(24))


def now() -> int:
    """A REST timestamp: whole seconds since the epoch."""
    return int(time.time())


@dataclass
class Listing:
    """Objects in creation order with an id → position index: each page costs O(limit), not O(total)."""

    items: list[JSON] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)

    def add(self, item: JSON) -> None:
        self.index[item["id"]] = len(self.items)
        self.items.append(item)

    def page(self, query: JSON, kind: str) -> tuple[list[JSON], bool]:
        """The items of one REST list page and whether more follow, per limit / order / after / before."""
        limit, order = _limit(query.get("limit")), query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise ApiError(
                400, f"Invalid value for 'order': expected 'asc' or 'desc', got '{order}'.", param="order"
            )
        after, before = self._position(query, "after", kind), self._position(query, "before", kind)
        if order == "asc":
            lo = 0 if after is None else after + 1
            hi = len(self.items) if before is None else before
            return self.items[lo : min(hi, lo + limit)], hi - lo > limit
        hi = len(self.items) if after is None else after
        lo = 0 if before is None else before + 1
        return self.items[max(lo, hi - limit) : hi][::-1], hi - lo > limit

    def _position(self, query: JSON, name: str, kind: str) -> int | None:
        cursor = query.get(name)
        if cursor is None:
            return None
        if cursor not in self.index:
            raise ApiError(400, f"Invalid '{name}': no {kind} with id '{cursor}' in this list.", param=name)
        return self.index[cursor]


def _limit(raw: str | None) -> int:
    if raw is None:
        return 20
    if not raw.lstrip("-").isdigit() or not 1 <= int(raw) <= 100:
        raise ApiError(
            400, f"Invalid 'limit': expected an integer between 1 and 100, got '{raw}'.", param="limit"
        )
    return int(raw)


@dataclass
class RunState:
    """A run's REST object, its steps, and where it is in its lifecycle."""

    obj: JSON
    steps: Listing = field(default_factory=Listing)
    messages: Listing = field(default_factory=Listing)
    """The messages of the run's thread, where its reply goes."""
    changed: float = field(default_factory=time.monotonic)
    submitted: bool = False
    function_step: JSON | None = None
    events: list[tuple[str, JSON]] | None = None
    """While streamed: (event name, snapshot of the object) for each change, in order; None otherwise."""

    def emit(self, name: str, obj: JSON) -> None:
        if self.events is not None:
            self.events.append((name, copy.deepcopy(obj)))

    def listen(self) -> list[tuple[str, JSON]]:
        """Start recording events afresh (a stream begins) and return the list they go to."""
        self.events = []
        return self.events


@dataclass
class Thread:
    obj: JSON
    runs: Listing = field(default_factory=Listing)
    states: dict[str, RunState] = field(default_factory=dict)
    messages: Listing = field(default_factory=Listing)


def message_object(thread_id: str, role: str, content: list[JSON], **fields: Any) -> JSON:
    """A thread message with every field of both versions; `fields` set the ones that differ."""
    message: JSON = {
        "id": new_id("msg_"),
        "object": "thread.message",
        "created_at": now(),
        "thread_id": thread_id,
        "role": role,
        "content": content,
        "assistant_id": None,
        "run_id": None,
        "file_ids": [],
        "metadata": {},
        "status": "completed",
        "incomplete_details": None,
        "completed_at": None,
        "incomplete_at": None,
        "attachments": [],
    }
    message.update(fields)
    return message
