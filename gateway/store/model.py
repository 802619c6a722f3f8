"""What the store holds (`StoredRun`) and what every backend does with it (`RunStore`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

Order = Literal["asc", "desc"]
TERMINAL_STATUSES = frozenset({"cancelled", "failed", "completed", "incomplete", "expired"})
"""The statuses a run never leaves; every other one is unfinished (`RunStore.unfinished`)."""


@dataclass(frozen=True, slots=True)
class StoredRun:
    """One run as the store keeps it.

    The store invents nothing but `version` and `updated_at`: the caller picks the id, the thread and the
    creation time. `document` is everything else the adapter keeps (the chain of response ids, the run's
    settings, tool outputs ...): a JSON object the store writes and reads back, never looks into.
    """

    id: str
    thread_id: str
    created_at: int
    """Unix seconds."""
    status: str
    document: dict[str, Any]
    version: int = 0
    """1 once created, bumped by every `replace`: what compare-and-swap compares."""
    updated_at: float = 0.0
    """Unix seconds of the last write, stamped by the store."""


class RunStore(Protocol):
    """The run store: runs by thread, paged as the Assistants API pages them; writes by compare-and-swap;
    leases so that one replica at a time drives a run. Every call is bounded by the store's timeout and
    raises only StoreError and its subclasses."""

    async def create(self, run: StoredRun) -> StoredRun:
        """Store a new run at version 1 and return it as stored; RunExists when its id is taken."""
        ...

    async def get(self, thread_id: str, run_id: str) -> StoredRun | None:
        """The run, or None when there is no such run in that thread."""
        ...

    async def page(
        self, thread_id: str, *, limit: int, order: Order, after: str | None, before: str | None
    ) -> tuple[list[StoredRun], bool]:
        """Up to `limit` runs of the thread in creation order (`asc`) or its reverse (`desc`), the first ones
        that come after `after` and before `before` in that order, and whether more follow before `before`
        (or the end). A cursor that is no run of the thread gives an empty page, as the Assistants API
        answers. Runs created in the same second keep the order they were stored in."""
        ...

    async def replace(self, run: StoredRun, *, expected_version: int) -> StoredRun | None:
        """Write the run's `status` and `document` if it is still at `expected_version`, and return it at the
        next version; None when it is not (someone else wrote first, or there is no such run). The id,
        thread and creation time of a run never change."""
        ...

    async def unfinished(self, *, limit: int, after: str | None = None) -> list[StoredRun]:
        """Up to `limit` runs not in a terminal status, oldest stored first, those stored after the run
        `after` when given (the last of the previous page): what the adapter's keeper looks after."""
        ...

    async def claim(self, run_id: str, owner: str, seconds: float) -> bool:
        """Take or renew the lease on a run for `seconds`: True when `owner` now holds it (it was free,
        expired, or already `owner`'s), False when another owner holds it or there is no such run."""
        ...

    async def close(self) -> None:
        """Release the store's connections; calls after it raise StoreUnavailable."""
        ...
