"""The list every client must read: a seeded thread's run ids in order, and the check of what a client read.

A benchmark that reads the wrong list measures nothing, so every measured pass is checked: a Python client
returns the ids it read; the Node worker returns their count, their SHA-256 (joined with "\n") and the first
and last, so 10,000 ids need not cross its pipe.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from bench.harness import Emulator


@dataclass(frozen=True)
class Listing:
    """A thread of the emulator and the ids of its runs, oldest first."""

    thread_id: str
    ids: list[str]

    @cached_property
    def digest(self) -> str:
        """The SHA-256 of the ids joined with newlines, as the Node worker computes it."""
        return digest(self.ids)

    def check(self, client: str, ids: Sequence[str]) -> None:
        """Raise unless `ids` are exactly this list, in order."""
        if list(ids) != self.ids:
            self._mismatch(client, len(ids), ids[0] if ids else None, ids[-1] if ids else None)

    def check_digest(self, client: str, count: int, sha256: str, first: str | None, last: str | None) -> None:
        """Raise unless `count` ids with the SHA-256 `sha256` are exactly this list, in order."""
        if count != len(self.ids) or sha256 != self.digest:
            self._mismatch(client, count, first, last)

    def _mismatch(self, client: str, count: int, first: str | None, last: str | None) -> None:
        ends = (self.ids[0], self.ids[-1]) if self.ids else (None, None)
        raise RuntimeError(
            f"{client} read {count} runs ({first} ... {last}), not the {len(self.ids)} runs of thread "
            f"{self.thread_id} ({ends[0]} ... {ends[1]})"
        )


def seed(emulator: Emulator, count: int) -> Listing:
    """A new thread of `count` completed runs, and its ids as the REST API lists them."""
    seeded = emulator.seed(count)
    ids = emulator.run_ids(seeded.thread_id)
    if len(ids) != count or (ids and ids[0] != seeded.first_id):
        raise RuntimeError(f"the emulator lists {len(ids)} runs of the {count} it seeded")
    return Listing(seeded.thread_id, ids)


def digest(ids: Sequence[str]) -> str:
    """The SHA-256 of `ids` joined with newlines, in hex."""
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()
