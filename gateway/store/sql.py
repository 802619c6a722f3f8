"""The statements of the store, written once for both backends.

They are PostgreSQL's text with numbered parameters (`$1`); SQLite reads the same text with `?1`
(`for_sqlite`), as both speak the same SQL for everything here: `INSERT ... ON CONFLICT DO NOTHING
RETURNING`, row values, partial indexes. The one difference, the clock of a lease, is a placeholder
(`{now}`): the server's own clock on PostgreSQL, so that replicas on machines whose clocks differ agree on
when a lease ends; the caller's on SQLite, whose callers share one machine.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import orjson

from gateway.store.errors import StoreError
from gateway.store.model import TERMINAL_STATUSES, Order, StoredRun

COLUMNS = "id, thread_id, created_at, status, version, document, updated_at"
UNFINISHED_WHERE = "status NOT IN ({})".format(", ".join(f"'{s}'" for s in sorted(TERMINAL_STATUSES)))
"""Also the predicate of the partial index the migrations make, word for word, so PostgreSQL uses it."""

INSERT = (
    f"INSERT INTO runs ({COLUMNS}) VALUES ($1, $2, $3, $4, 1, $5, $6) "
    f"ON CONFLICT (id) DO NOTHING RETURNING {COLUMNS}"
)
GET = f"SELECT {COLUMNS} FROM runs WHERE thread_id = $1 AND id = $2"
REPLACE = (
    "UPDATE runs SET status = $4, document = $5, updated_at = $6, version = version + 1 "
    f"WHERE id = $1 AND thread_id = $2 AND version = $3 RETURNING {COLUMNS}"
)
UNFINISHED = (
    f"SELECT {COLUMNS} FROM runs WHERE {UNFINISHED_WHERE} "
    "AND seq > COALESCE((SELECT seq FROM runs WHERE id = $2), 0) ORDER BY seq LIMIT $1"
)
"""$2: the run the page comes after ('' for the first page; a run that is gone starts over)."""
CLAIM = (
    "UPDATE runs SET lease_owner = $2, lease_expires = {now} + $3 "
    "WHERE id = $1 AND (lease_owner IS NULL OR lease_owner = $2 OR lease_expires <= {now}) RETURNING id"
)
POSTGRESQL_NOW = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)"


def page(order: Order, after: bool, before: bool) -> str:
    """The page statement of one order and set of cursors: $1 the thread, then `after`'s id and `before`'s
    if given, then the limit (one more than the page's, to learn whether more follow). A cursor's position
    is looked up in the same statement; an unknown one compares as NULL, so the page is empty. One statement
    per case, not `$2 IS NULL OR ...`: a prepared plan must keep the cursors as index bounds, or a page
    costs a scan of the thread up to the cursor."""
    past, short, direction = (">", "<", "ASC") if order == "asc" else ("<", ">", "DESC")
    cursor = "(SELECT created_at, seq FROM runs WHERE thread_id = $1 AND id = ${})"
    where, number = [f"SELECT {COLUMNS} FROM runs WHERE thread_id = $1"], 2
    for given, operator in ((after, past), (before, short)):
        if given:
            where.append(f"(created_at, seq) {operator} {cursor.format(number)}")
            number += 1
    return " AND ".join(where) + f" ORDER BY created_at {direction}, seq {direction} LIMIT ${number}"


PAGES: dict[tuple[Order, bool, bool], str] = {
    (order, after, before): page(order, after, before)
    for order in ("asc", "desc")
    for after in (False, True)
    for before in (False, True)
}


def page_arguments(thread_id: str, limit: int, after: str | None, before: str | None) -> tuple[Any, ...]:
    """The parameters of the page statement of these cursors."""
    cursors = tuple(cursor for cursor in (after, before) if cursor is not None)
    return (thread_id, *cursors, limit + 1)


def for_sqlite(statement: str) -> str:
    """The statement with SQLite's numbered parameters."""
    return re.sub(r"\$(\d+)", r"?\1", statement)


def insert_arguments(run: StoredRun, document: str, now: float) -> tuple[Any, ...]:
    """INSERT's parameters."""
    return (run.id, run.thread_id, run.created_at, run.status, document, now)


def replace_arguments(run: StoredRun, expected_version: int, document: str, now: float) -> tuple[Any, ...]:
    """REPLACE's parameters."""
    return (run.id, run.thread_id, expected_version, run.status, document, now)


def dump(document: dict[str, Any]) -> str:
    """A run's document as the text both backends keep; StoreError when it is no JSON (orjson's rules: string
    keys, integers within 64 bits)."""
    try:
        return orjson.dumps(document).decode()
    except TypeError as exc:
        raise StoreError(f"a run's document must be JSON: {exc}") from None


def to_run(row: Iterable[Any]) -> StoredRun:
    """A row of COLUMNS as a StoredRun."""
    run_id, thread_id, created_at, status, version, document, updated_at = row
    return StoredRun(
        id=run_id,
        thread_id=thread_id,
        created_at=int(created_at),
        status=status,
        document=orjson.loads(document),
        version=int(version),
        updated_at=float(updated_at),
    )
