"""`open_store`: the one way to get a RunStore, from a URL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from gateway.store.errors import StoreUnavailable
from gateway.store.migrations import MIGRATIONS, Migration
from gateway.store.model import RunStore
from gateway.store.sqlite import SqliteStore
from gateway.store.urls import parse

if TYPE_CHECKING:  # asyncpg is imported only when a postgresql URL is opened
    from gateway.store.postgresql import PostgresStore as PostgresStoreType

DEFAULT_TIMEOUT = 5.0
DEFAULT_POOL_SIZE = 10


async def open_store(
    url: str,
    *,
    call_timeout: float = DEFAULT_TIMEOUT,
    pool_size: int = DEFAULT_POOL_SIZE,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> RunStore:
    """Open the store at `url` (`sqlite:///PATH`, `postgresql://...`; see gateway.store.urls), migrate its
    schema to the latest version, and return it. `call_timeout` bounds every call, the open included (and is
    SQLite's busy timeout); `pool_size` bounds PostgreSQL's connections. `migrations` is for tests.

    Raises StoreUnavailable (a bad URL, a server that cannot be reached or refuses, a file that cannot be
    opened, asyncpg not installed for a postgresql URL) or SchemaTooNew; no message holds the password."""
    if call_timeout <= 0 or pool_size < 1:
        raise ValueError(f"call_timeout must be > 0 and pool_size >= 1, got {call_timeout}, {pool_size}")
    parsed = parse(url)
    store: SqliteStore | PostgresStoreType
    if parsed.backend == "sqlite":
        store = SqliteStore(parsed, call_timeout)
    else:
        store = _postgresql(parsed.redacted)(parsed, call_timeout, pool_size)
    try:
        await store.open(migrations)
    except BaseException:
        await store.close()
        raise
    return store


def _postgresql(where: str) -> type[PostgresStoreType]:
    """The PostgreSQL backend, imported only when asked for: asyncpg is the `postgresql` extra."""
    try:
        from gateway.store.postgresql import PostgresStore
    except ImportError as exc:
        raise StoreUnavailable(
            f"run store {where}: PostgreSQL needs asyncpg: pip install 'runs-gateway[postgresql]' ({exc})"
        ) from None
    return PostgresStore
