"""The emulator's state: the objects it keeps (`Listing`, `Thread`, `RunState`), their ids and timestamps
(and how a dialect writes them: `written_times`), the message object both a request and a run write,
`ApiError`, the refusal every layer raises, and `Refusal`, one whose body a dialect wrote whole.

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
    """A request the REST API refuses: the HTTP status and the fields of the OpenAI error body; `subject`
    names what was not found (`("run", "run_x")`), for a dialect that words a 404 its own way."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str = "invalid_request_error",
        subject: tuple[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.type = status, message, param, code, type
        self.subject = subject

    def body(self) -> JSON:
        """The OpenAI error body."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


class Refusal(Exception):
    """A request refused before it reaches the store (credentials, `api-version`, request validation of a
    FastAPI server): the status and the body, a JSON object or text, exactly as the dialect's server writes
    it."""

    def __init__(self, status: int, body: JSON | str) -> None:
        super().__init__(body if isinstance(body, str) else str(body))
        self.status, self.body = status, body


def new_id(prefix: str) -> str:
    """An id like OpenAI's: a prefix and 24 random letters and digits."""
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(24))


def now() -> int:
    """A REST timestamp: whole seconds since the epoch."""
    return int(time.time())


TIMESTAMPS = frozenset(
    {"created_at", "started_at", "completed_at", "cancelled_at", "failed_at", "expires_at", "expired_at"}
    | {"incomplete_at"}
)
"""The fields that hold a timestamp, in every object of both versions (nested ones too)."""


def written_times(obj: Any, style: str) -> Any:
    """`obj` with each timestamp written as a dialect writes it: `seconds` (OpenAI's integers, `obj`
    itself), `float` (`1796603244.0`, open-assistant-api's JSON) or `milliseconds` (astra-assistants-api)."""
    if style == "seconds":
        return obj
    if isinstance(obj, list):
        return [written_times(item, style) for item in obj]
    if not isinstance(obj, dict):
        return obj
    return {
        key: _time(value, style) if key in TIMESTAMPS else written_times(value, style)
        for key, value in obj.items()
    }


def _time(value: Any, style: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        return value
    return float(value) if style == "float" else value * 1000


def list_page(data: list[JSON], has_more: bool) -> JSON:
    """A REST list page of `data`, as every list of the APIs answers it."""
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }


@dataclass
class Listing:
    """Objects in creation order with an id → position index: each page costs O(limit), not O(total)."""

    items: list[JSON] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)

    def add(self, item: JSON) -> None:
        self.index[item["id"]] = len(self.items)
        self.items.append(item)

    def page(self, query: JSON, kind: str, coarse: bool = False) -> tuple[list[JSON], bool]:
        """The items of one REST list page and whether more follow, per limit / order / after / before;
        `coarse`: as open-assistant-api pages (`coarse_page`)."""
        limit, order = _limit(query.get("limit")), query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise ApiError(
                400, f"Invalid value for 'order': expected 'asc' or 'desc', got '{order}'.", param="order"
            )
        after, before = self._position(query, "after", kind), self._position(query, "before", kind)
        if coarse:
            return self.coarse_page(limit, order, after, before)
        if order == "asc":
            lo = 0 if after is None else after + 1
            hi = len(self.items) if before is None else before
            return self.items[lo : min(hi, lo + limit)], hi - lo > limit
        hi = len(self.items) if after is None else after
        lo = 0 if before is None else before + 1
        return self.items[max(lo, hi - limit) : hi][::-1], hi - lo > limit

    def coarse_page(
        self, limit: int, order: str, after: int | None, before: int | None
    ) -> tuple[list[JSON], bool]:
        """A page as MLT-OSS/open-assistant-api cuts it (`app/libs/paginate.py`, `cursor_page`): the cursors
        filter by id (`id < after` in `desc`, `id > after` in `asc`; its ids grow with creation, as positions
        do here) but the rows are ordered by `created_at` alone, whole seconds in its database. Rows of the
        same second come in creation order in both directions (a stable sort), so a `desc` walk of runs made
        within one second skips some (`limit=1`) or repeats some (`limit=2`)."""
        indexes = range(len(self.items))
        if order == "desc":
            kept = [n for n in indexes if (after is None or n < after) and (before is None or n > before)]
        else:
            kept = [n for n in indexes if (after is None or n > after) and (before is None or n < before)]
        ordered = sorted(kept, key=lambda n: self.items[n]["created_at"], reverse=order == "desc")
        return [self.items[n] for n in ordered[:limit]], len(ordered) > limit

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
