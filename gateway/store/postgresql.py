"""The run store on PostgreSQL: asyncpg and its bounded pool.

Every call takes a connection from the pool, runs one statement and gives it back, all within the store's
timeout (a query still running then is cancelled by asyncpg, its connection reset). Each write is one
statement, atomic on its own: a create that loses the race for an id inserts nothing (`ON CONFLICT DO
NOTHING`); a replace or a claim is one conditional `UPDATE`, and under READ COMMITTED a writer that waited
for another's row lock re-reads the row before it decides, so of N concurrent replaces at one version
exactly one matches. Leases are timed by the server's clock. The schema is migrated at open under an
advisory lock, so replicas that start together migrate once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import asyncpg

from gateway.store import sql
from gateway.store.errors import RunExists, StoreUnavailable, translating
from gateway.store.migrations import (
    ADVISORY_LOCK_KEY,
    CREATE_VERSIONS,
    CURRENT_VERSION,
    RECORD_VERSION,
    Migration,
    pending,
)
from gateway.store.model import Order, StoredRun
from gateway.store.urls import StoreURL

_CLAIM = sql.CLAIM.format(now=sql.POSTGRESQL_NOW)
# SQLSTATE classes of a server that cannot be used: connection exceptions, bad credentials, no such
# database, too many connections or out of resources, a server shutting down or starting.
_UNAVAILABLE_CLASSES = ("08", "28", "3D", "53", "57")


def _unavailable(exc: BaseException) -> str | None:
    """Why an error makes the store unavailable, or None when it is another (a bug of a statement)."""
    if isinstance(exc, asyncpg.PostgresError):
        state = str(getattr(exc, "sqlstate", "") or "")
        return "the server refused" if state[:2] in _UNAVAILABLE_CLASSES else None
    if isinstance(exc, OSError | asyncpg.InterfaceError | asyncpg.ClientConfigurationError | ValueError):
        return "the server cannot be reached"
    return None


class PostgresStore:
    """A RunStore on one PostgreSQL database. Open it with `open_store`."""

    def __init__(self, url: StoreURL, timeout: float, pool_size: int) -> None:
        self._url = url
        self._timeout = timeout
        self._pool_size = pool_size
        self._pool: asyncpg.Pool[asyncpg.Record] | None = None

    async def open(self, migrations: Sequence[Migration]) -> None:
        """Make the pool (its first connection proves the URL and credentials) and migrate the schema."""
        with self._translating():
            async with asyncio.timeout(self._timeout):
                self._pool = await asyncpg.create_pool(
                    self._url.text, min_size=1, max_size=self._pool_size, timeout=self._timeout
                )
        try:
            await self._migrate(migrations)
        except BaseException:
            await self.close()
            raise

    async def _migrate(self, migrations: Sequence[Migration]) -> None:
        pool = self._open_pool()
        with self._translating():
            async with asyncio.timeout(self._timeout), pool.acquire() as connection, connection.transaction():
                # Held to the end of the transaction: a second replica opening now waits, then finds
                # nothing left to apply.
                await connection.execute("SELECT pg_advisory_xact_lock($1)", ADVISORY_LOCK_KEY)
                await connection.execute(CREATE_VERSIONS)
                current = await connection.fetchval(CURRENT_VERSION)
                for migration in pending(current, migrations, self._url.redacted):
                    for statement in migration.statements("postgresql"):
                        await connection.execute(statement)
                    record = (migration.version, migration.description, time.time())
                    await connection.execute(RECORD_VERSION, *record)

    async def create(self, run: StoredRun) -> StoredRun:
        """See RunStore.create."""
        row = await self._fetchrow(
            sql.INSERT, *sql.insert_arguments(run, sql.dump(run.document), time.time())
        )
        if row is None:
            raise RunExists(f"run {run.id!r} is already stored")
        return sql.to_run(row)

    async def get(self, thread_id: str, run_id: str) -> StoredRun | None:
        """See RunStore.get."""
        row = await self._fetchrow(sql.GET, thread_id, run_id)
        return None if row is None else sql.to_run(row)

    async def page(
        self, thread_id: str, *, limit: int, order: Order, after: str | None, before: str | None
    ) -> tuple[list[StoredRun], bool]:
        """See RunStore.page."""
        statement = sql.PAGES[order, after is not None, before is not None]
        rows = await self._fetch(statement, *sql.page_arguments(thread_id, limit, after, before))
        return [sql.to_run(row) for row in rows[:limit]], len(rows) > limit

    async def replace(self, run: StoredRun, *, expected_version: int) -> StoredRun | None:
        """See RunStore.replace."""
        arguments = sql.replace_arguments(run, expected_version, sql.dump(run.document), time.time())
        row = await self._fetchrow(sql.REPLACE, *arguments)
        return None if row is None else sql.to_run(row)

    async def unfinished(self, *, limit: int, after: str | None = None) -> list[StoredRun]:
        """See RunStore.unfinished."""
        return [sql.to_run(row) for row in await self._fetch(sql.UNFINISHED, limit, after or "")]

    async def claim(self, run_id: str, owner: str, seconds: float) -> bool:
        """See RunStore.claim."""
        return await self._fetchrow(_CLAIM, run_id, owner, float(seconds)) is not None

    async def close(self) -> None:
        """See RunStore.close."""
        pool, self._pool = self._pool, None
        if pool is not None:
            with self._translating():
                async with asyncio.timeout(self._timeout):
                    await pool.close()

    async def _fetchrow(self, statement: str, *arguments: Any) -> asyncpg.Record | None:
        pool = self._open_pool()
        with self._translating():
            async with asyncio.timeout(self._timeout):
                return await pool.fetchrow(statement, *arguments)

    async def _fetch(self, statement: str, *arguments: Any) -> list[asyncpg.Record]:
        pool = self._open_pool()
        with self._translating():
            async with asyncio.timeout(self._timeout):
                return await pool.fetch(statement, *arguments)

    def _open_pool(self) -> asyncpg.Pool[asyncpg.Record]:
        if self._pool is None:
            raise StoreUnavailable(f"run store {self._url.redacted} is closed")
        return self._pool

    def _translating(self) -> Any:
        return translating(self._url.redacted, self._url.password, _unavailable, self._timeout)
