"""The run store on SQLite: the standard library's sqlite3 on a thread of its own.

One store is one connection, used by one worker thread, so the event loop never waits on the disk and each
store operation is one hop to that thread (a whole statement, not one per cursor call, as aiosqlite would
cost). Writes take the write lock first (`BEGIN IMMEDIATE`), so that two stores on one file (two processes)
wait for each other within the busy timeout instead of failing on a stale snapshot; the file is in WAL mode
with `synchronous=FULL`: a write that returned is on disk. Several processes of one machine may share a
file; replicas on several machines cannot (SQLite's locks do not work over network file systems): they need
PostgreSQL.

A call that outlives its timeout is interrupted (`Connection.interrupt`) if it is running, or never run if
it is still queued, so the thread is not left working for a caller that is gone.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from gateway.store import sql
from gateway.store.errors import RunExists, StoreUnavailable, translating
from gateway.store.migrations import CREATE_VERSIONS, CURRENT_VERSION, RECORD_VERSION, Migration, pending
from gateway.store.model import Order, StoredRun
from gateway.store.urls import MEMORY, StoreURL

T = TypeVar("T")
BUSY_SHARE = 0.8
"""The busy timeout, as a share of the call timeout."""
Row = tuple[Any, ...]
_INSERT, _GET, _REPLACE = sql.for_sqlite(sql.INSERT), sql.for_sqlite(sql.GET), sql.for_sqlite(sql.REPLACE)
_UNFINISHED = sql.for_sqlite(sql.UNFINISHED)
_CLAIM = sql.for_sqlite(sql.CLAIM.format(now="$4"))
_PAGES = {order: sql.for_sqlite(text) for order, text in sql.PAGES.items()}


# SQLite's primary result codes of a database that cannot be used (not of a statement that is wrong):
# PERM, BUSY, LOCKED, READONLY, INTERRUPT (a timeout), IOERR, CORRUPT, FULL, CANTOPEN, PROTOCOL, NOTADB.
_UNAVAILABLE_CODES = frozenset({3, 5, 6, 8, 9, 10, 11, 13, 14, 15, 26})


def _unavailable(exc: BaseException) -> str | None:
    """Why a sqlite3 error makes the store unavailable, or None when it is another (a bug of a statement)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(exc, sqlite3.Error) and isinstance(code, int) and code & 0xFF in _UNAVAILABLE_CODES:
        return "the database cannot be used"
    return None


class SqliteStore:
    """A RunStore on one SQLite file (or in memory). Open it with `open_store`."""

    def __init__(self, url: StoreURL, timeout: float) -> None:
        self._url = url
        self._timeout = timeout
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="run-store-sqlite")
        self._connection: sqlite3.Connection | None = None
        self._closed = False

    async def open(self, migrations: Sequence[Migration]) -> None:
        """Connect, set WAL and the busy timeout, and migrate the schema to the last of `migrations`."""
        self._connection = await self._call(self._connect)
        await self._call(lambda connection, _: _migrate(connection, migrations, self._url.redacted))

    def _connect(self, _: sqlite3.Connection | None, __: threading.Event) -> sqlite3.Connection:
        # isolation_level=None: autocommit, each transaction opened explicitly. The busy timeout ends a wait
        # for the lock a little before the call's own, so the thread gives up rather than the caller alone.
        connection = sqlite3.connect(
            self._url.path, timeout=self._timeout * BUSY_SHARE, isolation_level=None, check_same_thread=False
        )
        if self._url.path != MEMORY:
            _write_ahead(connection, self._timeout * BUSY_SHARE)
        connection.execute("PRAGMA synchronous=FULL")
        return connection

    async def create(self, run: StoredRun) -> StoredRun:
        """See RunStore.create."""
        arguments = sql.insert_arguments(run, sql.dump(run.document), time.time())
        row = await self._call(lambda c, gone: _write(c, _INSERT, arguments, gone))
        if row is None:
            raise RunExists(f"run {run.id!r} is already stored")
        return sql.to_run(row)

    async def get(self, thread_id: str, run_id: str) -> StoredRun | None:
        """See RunStore.get."""
        row = await self._call(lambda c, _: c.execute(_GET, (thread_id, run_id)).fetchone())
        return None if row is None else sql.to_run(row)

    async def page(
        self, thread_id: str, *, limit: int, order: Order, after: str | None, before: str | None
    ) -> tuple[list[StoredRun], bool]:
        """See RunStore.page."""
        statement = _PAGES[order, after is not None, before is not None]
        arguments = sql.page_arguments(thread_id, limit, after, before)
        rows = await self._call(lambda c, _: c.execute(statement, arguments).fetchall())
        return [sql.to_run(row) for row in rows[:limit]], len(rows) > limit

    async def replace(self, run: StoredRun, *, expected_version: int) -> StoredRun | None:
        """See RunStore.replace."""
        arguments = sql.replace_arguments(run, expected_version, sql.dump(run.document), time.time())
        row = await self._call(lambda c, gone: _write(c, _REPLACE, arguments, gone))
        return None if row is None else sql.to_run(row)

    async def unfinished(self, *, limit: int, after: str | None = None) -> list[StoredRun]:
        """See RunStore.unfinished."""
        arguments = (limit, after or "")
        rows = await self._call(lambda c, _: c.execute(_UNFINISHED, arguments).fetchall())
        return [sql.to_run(row) for row in rows]

    async def claim(self, run_id: str, owner: str, seconds: float) -> bool:
        """See RunStore.claim."""
        arguments = (run_id, owner, seconds, time.time())
        return await self._call(lambda c, gone: _write(c, _CLAIM, arguments, gone)) is not None

    async def close(self) -> None:
        """See RunStore.close."""
        if self._closed:
            return
        self._closed = True
        connection, self._connection = self._connection, None
        if connection is not None:
            await asyncio.wrap_future(self._thread.submit(connection.close))
        self._thread.shutdown(wait=False)

    async def _call(self, work: Callable[[Any, threading.Event], T]) -> T:
        """`work(connection, gone)` on the store's thread, within the timeout, its errors translated;
        `gone` is set when the caller stopped waiting."""
        if self._closed:
            raise StoreUnavailable(f"run store {self._url.redacted} is closed")
        with translating(self._url.redacted, None, _unavailable, self._timeout):
            gone = threading.Event()
            future = self._thread.submit(work, self._connection, gone)
            try:
                async with asyncio.timeout(self._timeout):
                    return await asyncio.wrap_future(future)
            except (TimeoutError, asyncio.CancelledError):
                # Cancelling the wrapper cancelled the job if it was still queued; a running one is stopped.
                gone.set()
                if future.running() and self._connection is not None:
                    self._connection.interrupt()
                raise


def _write(
    connection: sqlite3.Connection, statement: str, arguments: Sequence[Any], gone: threading.Event
) -> Row | None:
    """One write statement in its own transaction, holding the write lock from the start; not made if the
    caller stopped waiting while the lock was awaited (an interrupt does not end that wait)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        if gone.is_set():
            raise TimeoutError
        row: Row | None = connection.execute(statement, arguments).fetchone()
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
    return row


def _write_ahead(connection: sqlite3.Connection, seconds: float) -> None:
    """Put the file in WAL mode. Of stores opening a new file at once, one may find it being turned to WAL
    by another, which SQLite answers "database is locked" at once, without its busy wait (seen: 8 of 300
    rounds of four stores opening one new file): that is tried again, for the busy timeout at most."""
    give_up = time.monotonic() + seconds
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > give_up:
                raise
            time.sleep(0.01)


def _migrate(connection: sqlite3.Connection, migrations: Sequence[Migration], where: str) -> None:
    """Apply what is pending in one transaction; the write lock makes a concurrent opener wait."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.execute(CREATE_VERSIONS)
        (current,) = connection.execute(CURRENT_VERSION).fetchone()
        for migration in pending(current, migrations, where):
            for statement in migration.statements("sqlite"):
                connection.execute(statement)
            record = (migration.version, migration.description, time.time())
            connection.execute(sql.for_sqlite(RECORD_VERSION), record)
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
