"""The keeper: unfinished runs looked after even when no client reads them.

A run over Responses changes only when it is read (`ResponsesUpstream._current`: its status written back,
an expired run's leg in flight cancelled, a stale claim given back). A run nobody reads would keep a
response running past its expiry, or a claim of a gateway that died, or a status in the store that lists
it as unfinished long after it ended. Every `every` seconds the keeper walks the store's unfinished runs,
a page at a time, and reads each one it holds the lease of (`RunStore.claim`, for one period): of replicas
on one store, one at a time reads a run, and a replica that stops has its runs taken by another within a
period. A failure is logged and the walk goes on; the next sweep tries again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable

from gateway.errors import GatewayError
from gateway.store import RunStore, StoredRun, StoreError

log = logging.getLogger(__name__)

SWEEP_SECONDS = 30.0
"""How often the keeper walks the unfinished runs (and how long its lease on each one lasts)."""
PAGE = 100
"""Unfinished runs read from the store at a time, and looked after concurrently."""

Look = Callable[[StoredRun], Awaitable[object]]
"""Read one run as a client's read would, writing back what it learns."""


def replica_name() -> str:
    """This process's name as a lease owner: its host, its pid and a random part (a pid is reused)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"


class Keeper:
    """Sweeps the unfinished runs of `store` every `every` seconds, `look` at each one it holds."""

    def __init__(
        self, store: Callable[[], Awaitable[RunStore]], look: Look, every: float = SWEEP_SECONDS
    ) -> None:
        self._store = store
        self._look = look
        self._every = every
        self.owner = replica_name()

    async def run(self) -> None:
        """Sweep until cancelled, the first sweep a period after the start."""
        while True:
            await asyncio.sleep(self._every)
            try:
                await self.sweep()
            except Exception as exc:  # the keeper goes on: the next sweep tries again
                log.warning(
                    "keeper: sweep failed: %s; trying again in %.0f s", exc, self._every, exc_info=_odd(exc)
                )

    async def sweep(self) -> int:
        """One walk over the unfinished runs; how many were looked at."""
        store = await self._store()
        looked, after = 0, None
        while True:
            page = await store.unfinished(limit=PAGE, after=after)
            held = await asyncio.gather(*(store.claim(run.id, self.owner, self._every) for run in page))
            mine = [run for run, ours in zip(page, held, strict=True) if ours]
            await asyncio.gather(*(self._look_at(run) for run in mine))
            looked += len(mine)
            if len(page) < PAGE:
                return looked
            after = page[-1].id

    async def _look_at(self, run: StoredRun) -> None:
        try:
            await self._look(run)
        except Exception as exc:  # one run's failure is not the others'
            log.warning("keeper: run %s not looked after: %s", run.id, exc, exc_info=_odd(exc))


def _odd(exc: Exception) -> bool:
    """Whether an error is no gateway's or store's own (a bug: its traceback is logged)."""
    return not isinstance(exc, GatewayError | StoreError)
