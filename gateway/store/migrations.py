"""The schema, as numbered migrations, and what is left to apply to a database.

Each migration is applied once, in order, with its number recorded in `schema_migrations` in the same
transaction, so a database is always at one numbered version. The backends run them at open, under a lock
that makes concurrent openers wait (PostgreSQL's advisory lock, SQLite's write lock), and refuse a
database whose version is newer than the last one here (`SchemaTooNew`). A migration, once released, is
never edited: a change is a new migration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from gateway.store.errors import SchemaTooNew
from gateway.store.sql import UNFINISHED_WHERE

Backend = Literal["sqlite", "postgresql"]

CREATE_VERSIONS = (
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
)
CURRENT_VERSION = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"
RECORD_VERSION = "INSERT INTO schema_migrations (version, description, applied_at) VALUES ($1, $2, $3)"
ADVISORY_LOCK_KEY = 0x72756E73  # "runs": PostgreSQL's lock of the migrations, one per database


@dataclass(frozen=True, slots=True)
class Migration:
    """One step of the schema: its number, what it does, its statements on each backend."""

    version: int
    description: str
    sqlite: tuple[str, ...]
    postgresql: tuple[str, ...]

    def statements(self, backend: Backend) -> tuple[str, ...]:
        """Its statements on `backend`."""
        return self.sqlite if backend == "sqlite" else self.postgresql


def _runs_table(seq: str, integer: str, real: str) -> str:
    # `seq`, the order runs were stored in, breaks ties between runs created in the same second; the lease
    # lives on the run's row so that claiming it is one conditional UPDATE.
    return (
        f"CREATE TABLE runs (seq {seq}, id TEXT NOT NULL UNIQUE, thread_id TEXT NOT NULL, "
        f"created_at {integer} NOT NULL, status TEXT NOT NULL, version {integer} NOT NULL, "
        f"document TEXT NOT NULL, updated_at {real} NOT NULL, lease_owner TEXT, lease_expires {real})"
    )


_INDEXES = (
    "CREATE UNIQUE INDEX runs_by_thread ON runs (thread_id, created_at, seq)",
    f"CREATE INDEX runs_unfinished ON runs (seq) WHERE {UNFINISHED_WHERE}",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "runs: by thread in creation order, unfinished ones, leases",
        sqlite=(_runs_table("INTEGER PRIMARY KEY", "INTEGER", "REAL"), *_INDEXES),
        postgresql=(
            _runs_table("BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "BIGINT", "DOUBLE PRECISION"),
            *_INDEXES,
        ),
    ),
)


def pending(current: int, migrations: Sequence[Migration], where: str) -> list[Migration]:
    """The migrations a database at version `current` still needs, in order; SchemaTooNew when it is past
    the last of `migrations`."""
    latest = migrations[-1].version if migrations else 0
    if current > latest:
        raise SchemaTooNew(
            f"run store {where}: its schema is at version {current}, newer than the {latest} this gateway "
            "knows; a newer gateway migrated it: run that one, or restore a backup taken before"
        )
    return sorted((m for m in migrations if m.version > current), key=lambda m: m.version)
