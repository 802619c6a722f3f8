"""The run store (gateway/store/): one suite, run on SQLite and on a real PostgreSQL server.

The PostgreSQL server is started once for the session (conftest's `postgres_server`, tools/postgres.py, from
the binaries the dev lock installs); each test gets a database of its own. Where none can start, its tests
are skipped with the reason, except in CI (CI set), where that is a failure.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import time
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest

from bench import store as bench_store
from gateway.store import (
    RunExists,
    RunStore,
    SchemaTooNew,
    StoredRun,
    StoreError,
    StoreUnavailable,
    redact,
)
from gateway.store.migrations import MIGRATIONS, Migration
from gateway.store.opening import open_store
from gateway.store.urls import parse
from tools import postgres

TIMEOUT = 10.0


@pytest.fixture
def url(store: str) -> str:
    """A store URL no test has used, on each backend (conftest's `store`)."""
    return store


@asynccontextmanager
async def opened(url: str, **options: object) -> AsyncIterator[RunStore]:
    store = await open_store(url, call_timeout=options.pop("call_timeout", TIMEOUT), **options)  # type: ignore[arg-type]
    try:
        yield store
    finally:
        await store.close()


def run(
    run_id: str, *, thread: str = "thread_a", created_at: int = 1_700_000_000, status: str = "queued"
) -> StoredRun:
    return StoredRun(run_id, thread, created_at, status, {"chain": [f"resp_{run_id}"], "n": 0})


# --- Reading back what was written -----------------------------------------------------------------------


async def test_a_created_run_reads_back_at_version_1_in_its_thread_only(url: str) -> None:
    async with opened(url) as store:
        before = time.time()
        created = await store.create(run("run_1"))
        assert (created.id, created.thread_id, created.version, created.status) == (
            "run_1",
            "thread_a",
            1,
            "queued",
        )
        assert created.document == {"chain": ["resp_run_1"], "n": 0}
        assert before <= created.updated_at <= time.time()
        assert await store.get("thread_a", "run_1") == created
        assert await store.get("thread_b", "run_1") is None
        assert await store.get("thread_a", "run_2") is None


async def test_a_document_of_every_json_type_survives(url: str) -> None:
    document = {
        "s": 'é\u2603\n"',
        "i": 2**62,
        "f": 0.1,
        "b": True,
        "z": None,
        "l": [1, [2, {}]],
        "o": {"k": []},
    }
    async with opened(url) as store:
        await store.create(StoredRun("run_1", "thread_a", 1, "queued", document))
        stored = await store.get("thread_a", "run_1")
        assert stored is not None
        assert stored.document == document


async def test_a_document_that_is_no_json_is_refused_and_nothing_is_stored(url: str) -> None:
    async with opened(url) as store:
        with pytest.raises(StoreError, match="must be JSON"):
            await store.create(StoredRun("run_1", "thread_a", 1, "queued", {"x": object()}))
        assert await store.get("thread_a", "run_1") is None


async def test_sqlite_in_memory_is_a_store_too() -> None:
    async with opened("sqlite:///:memory:") as store:
        await store.create(run("run_1"))
        assert (await store.get("thread_a", "run_1")) is not None


async def test_nothing_is_lost_on_reopen(url: str) -> None:
    async with opened(url) as store:
        for n in range(30):
            await store.create(run(f"run_{n:02}", created_at=1000 + n // 3))
        first = await store.get("thread_a", "run_05")
        assert first is not None
        assert await store.replace(first, expected_version=1) is not None
    async with opened(url) as store:
        runs, more = await store.page("thread_a", limit=100, order="asc", after=None, before=None)
        assert [r.id for r in runs] == [f"run_{n:02}" for n in range(30)]
        assert not more
        assert [r.version for r in runs if r.id == "run_05"] == [2]


# --- Races between replicas ------------------------------------------------------------------------------


async def test_two_replicas_creating_the_same_id_one_succeeds(url: str) -> None:
    async with opened(url) as one, opened(url) as two:
        for n in range(20):
            results = await asyncio.gather(
                *(store.create(run(f"run_{n}")) for store in (one, two, one, two)), return_exceptions=True
            )
            assert sum(isinstance(r, StoredRun) for r in results) == 1, results
            assert sum(isinstance(r, RunExists) for r in results) == 3, results


async def test_concurrent_replaces_at_one_version_exactly_one_wins(url: str) -> None:
    async with opened(url) as one, opened(url) as two:
        stored = await one.create(run("run_1"))
        attempts = [
            StoredRun(stored.id, stored.thread_id, stored.created_at, "in_progress", {"writer": n})
            for n in range(20)
        ]
        results = await asyncio.gather(
            *((one, two)[n % 2].replace(attempt, expected_version=1) for n, attempt in enumerate(attempts))
        )
        winners = [r for r in results if r is not None]
        assert len(winners) == 1
        assert winners[0].version == 2
        assert await two.get("thread_a", "run_1") == winners[0]


async def test_no_update_is_lost_when_replicas_retry_on_conflict(url: str) -> None:
    async def increment(store: RunStore, times: int) -> None:
        for _ in range(times):
            while True:
                current = await store.get("thread_a", "run_1")
                assert current is not None
                document = {**current.document, "n": current.document["n"] + 1}
                new = StoredRun(current.id, current.thread_id, current.created_at, current.status, document)
                if await store.replace(new, expected_version=current.version) is not None:
                    break

    async with opened(url) as one, opened(url) as two:
        await one.create(run("run_1"))
        await asyncio.gather(increment(one, 15), increment(two, 15), increment(one, 15))
        final = await two.get("thread_a", "run_1")
        assert final is not None
        assert final.document["n"] == 45
        assert final.version == 46


async def test_a_replace_of_a_stale_version_or_a_missing_run_is_none(url: str) -> None:
    async with opened(url) as store:
        stored = await store.create(run("run_1"))
        assert await store.replace(stored, expected_version=2) is None
        assert await store.replace(run("run_2"), expected_version=1) is None
        assert await store.replace(run("run_1", thread="thread_b"), expected_version=1) is None
        moved = StoredRun("run_1", "thread_a", 5, "completed", {"x": 1})
        replaced = await store.replace(moved, expected_version=1)
        assert replaced is not None
        assert replaced.created_at == stored.created_at
        assert (replaced.status, replaced.document, replaced.version) == ("completed", {"x": 1}, 2)


# --- Paging ----------------------------------------------------------------------------------------------


async def walk(store: RunStore, order: str, limit: int, thread: str = "thread_a") -> list[str]:
    seen: list[str] = []
    after: str | None = None
    while True:
        page, more = await store.page(thread, limit=limit, order=order, after=after, before=None)  # type: ignore[arg-type]
        seen.extend(r.id for r in page)
        assert len(page) <= limit
        if not more:
            return seen
        after = page[-1].id


async def test_pages_walk_every_run_once_in_order_same_second_runs_in_insertion_order(url: str) -> None:
    # Ids that do not sort like creation, several runs a second, and a run created "earlier" stored last.
    names = [f"run_{secrets.token_hex(3)}" for _ in range(25)]
    async with opened(url) as store:
        for n, name in enumerate(names[:-1]):
            await store.create(run(name, created_at=1000 + n // 4))
        await store.create(run(names[-1], created_at=999))
        await store.create(run("run_other", thread="thread_b", created_at=1001))
        expected = [names[-1], *names[:-1]]
        for limit in (1, 7, 24, 25, 100):
            assert await walk(store, "asc", limit) == expected
            assert await walk(store, "desc", limit) == expected[::-1]
        assert await walk(store, "asc", 10, thread="thread_b") == ["run_other"]
        assert await walk(store, "asc", 10, thread="thread_none") == []


async def test_after_and_before_bound_a_page_as_cursors(url: str) -> None:
    async with opened(url) as store:
        for n in range(10):
            await store.create(run(f"run_{n}", created_at=1000))
        ids = lambda runs: [r.id for r in runs]  # noqa: E731
        page, more = await store.page("thread_a", limit=3, order="asc", after="run_2", before=None)
        assert (ids(page), more) == (["run_3", "run_4", "run_5"], True)
        page, more = await store.page("thread_a", limit=3, order="asc", after="run_2", before="run_6")
        assert (ids(page), more) == (["run_3", "run_4", "run_5"], False)
        page, more = await store.page("thread_a", limit=3, order="desc", after="run_7", before="run_2")
        assert (ids(page), more) == (["run_6", "run_5", "run_4"], True)
        page, more = await store.page("thread_a", limit=5, order="desc", after=None, before="run_7")
        assert (ids(page), more) == (["run_9", "run_8"], False)


async def test_an_unknown_cursor_gives_an_empty_page(url: str) -> None:
    async with opened(url) as store:
        await store.create(run("run_1"))
        await store.create(run("run_2", thread="thread_b"))
        for after, before in (("run_x", None), (None, "run_x"), ("run_2", None), ("run_1", "run_x")):
            assert await store.page("thread_a", limit=5, order="asc", after=after, before=before) == (
                [],
                False,
            )


# --- Unfinished runs and leases --------------------------------------------------------------------------


async def test_unfinished_lists_non_terminal_runs_oldest_stored_first(url: str) -> None:
    statuses = ["queued", "completed", "in_progress", "failed", "requires_action", "cancelled", "cancelling"]
    statuses += ["expired", "incomplete", "queued"]
    async with opened(url) as store:
        for n, status in enumerate(statuses):
            await store.create(run(f"run_{n}", thread=f"thread_{n % 3}", status=status))
        unfinished = await store.unfinished(limit=100)
        assert [r.id for r in unfinished] == ["run_0", "run_2", "run_4", "run_6", "run_9"]
        assert [r.id for r in await store.unfinished(limit=2)] == ["run_0", "run_2"]
        assert [r.id for r in await store.unfinished(limit=2, after="run_2")] == ["run_4", "run_6"]
        assert [r.id for r in await store.unfinished(limit=2, after="run_6")] == ["run_9"]
        assert [r.id for r in await store.unfinished(limit=2, after="run_3")] == ["run_4", "run_6"]
        done = StoredRun("run_0", "thread_0", 0, "completed", {})
        await store.replace(done, expected_version=1)
        assert [r.id for r in await store.unfinished(limit=1)] == ["run_2"]


async def test_a_lease_is_exclusive_renewable_by_its_owner_and_expires(url: str) -> None:
    async with opened(url) as one, opened(url) as two:
        await one.create(run("run_1"))
        assert await one.claim("run_1", "replica-a", 0.6)
        assert not await two.claim("run_1", "replica-b", 30)
        assert await two.claim("run_1", "replica-a", 0.6)  # renewed by its owner, from anywhere
        assert not await one.claim("run_1", "replica-b", 30)
        await asyncio.sleep(0.8)
        assert await two.claim("run_1", "replica-b", 30)
        assert not await one.claim("run_1", "replica-a", 30)
        assert not await one.claim("run_missing", "replica-a", 30)


async def test_of_concurrent_claims_one_wins(url: str) -> None:
    async with opened(url) as one, opened(url) as two:
        for n in range(10):
            await one.create(run(f"run_{n}"))
            claims = [(one, two)[k % 2].claim(f"run_{n}", f"owner-{k}", 30) for k in range(6)]
            assert sum(await asyncio.gather(*claims)) == 1


async def test_a_lease_does_not_bump_the_version(url: str) -> None:
    async with opened(url) as store:
        stored = await store.create(run("run_1"))
        assert await store.claim("run_1", "replica-a", 30)
        assert await store.replace(stored, expected_version=1) is not None


# --- Migrations ------------------------------------------------------------------------------------------

EXTRA = Migration(
    2,
    "a test column",
    sqlite=("ALTER TABLE runs ADD COLUMN extra TEXT",),
    postgresql=("ALTER TABLE runs ADD COLUMN extra TEXT",),
)
BROKEN = Migration(
    2,
    "breaks half-way",
    sqlite=("CREATE TABLE half (x INTEGER)", "NOT SQL"),
    postgresql=("CREATE TABLE half (x INTEGER)", "NOT SQL"),
)


async def schema(url: str) -> tuple[list[int], list[str]]:
    """The versions recorded and the tables there are, read with the driver itself."""
    tables = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
    if url.startswith("sqlite"):
        with sqlite3.connect(parse(url).path) as connection:
            versions = [
                v for (v,) in connection.execute("SELECT version FROM schema_migrations ORDER BY version")
            ]
            return versions, [t for (t,) in connection.execute(tables)]
    connection = await asyncpg.connect(url)
    try:
        versions = [
            r[0] for r in await connection.fetch("SELECT version FROM schema_migrations ORDER BY version")
        ]
        names = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        )
        return versions, [r[0] for r in names]
    finally:
        await connection.close()


async def test_replicas_opening_a_new_database_at_once_migrate_it_once(url: str) -> None:
    stores = await asyncio.gather(*(open_store(url, call_timeout=TIMEOUT) for _ in range(4)))
    try:
        await stores[0].create(run("run_1"))
        assert all([await s.get("thread_a", "run_1") is not None for s in stores])
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    assert await schema(url) == ([1], ["runs", "schema_migrations"])


async def test_a_later_migration_applies_in_order_and_older_code_refuses_the_newer_schema(url: str) -> None:
    async with opened(url) as store:
        await store.create(run("run_1"))
    async with opened(url, migrations=(*MIGRATIONS, EXTRA)) as store:
        assert await store.get("thread_a", "run_1") is not None
    assert (await schema(url))[0] == [1, 2]
    with pytest.raises(SchemaTooNew, match="version 2, newer than the 1"):
        await open_store(url, call_timeout=TIMEOUT)


async def test_a_failing_migration_leaves_the_schema_as_it_was(url: str) -> None:
    async with opened(url):
        pass
    with pytest.raises(StoreError) as caught:
        await open_store(url, call_timeout=TIMEOUT, migrations=(*MIGRATIONS, BROKEN))
    assert not isinstance(caught.value, StoreUnavailable)
    assert await schema(url) == ([1], ["runs", "schema_migrations"])


# --- Errors, timeouts, secrets ---------------------------------------------------------------------------


def shown(exc: BaseException) -> str:
    """Everything a caller could print of an exception: its message and its whole traceback."""
    return "".join(traceback.format_exception(exc)) + repr(exc)


@pytest.mark.parametrize(
    "bad",
    [
        "mysql://user:hunter2-secret@db/runs",
        "sqlite://host:hunter2-secret@db/runs.db",
        "postgresql://user:hunter2-secret@127.0.0.1:notaport/runs",
        "postgresql://user:hunter2-secret@127.0.0.1:1/runs",  # nothing listens on port 1
        "postgresql://user@127.0.0.1:1/runs?password=hunter2-secret",
    ],
)
async def test_a_bad_url_or_unreachable_server_is_unavailable_without_the_password(bad: str) -> None:
    with pytest.raises(StoreUnavailable) as caught:
        await open_store(bad, call_timeout=TIMEOUT)
    assert "hunter2-secret" not in shown(caught.value)
    assert "***" in str(caught.value)


async def test_bad_credentials_or_no_such_database_are_unavailable_without_the_password(
    postgres_server: postgres.Server,
) -> None:
    for url in (
        postgres_server.url("postgres", password="wrong-hunter2-secret"),
        postgres_server.url("no_such_database").replace(postgres_server.password, "x") + "",
    ):
        with pytest.raises(StoreUnavailable, match="refused") as caught:
            await open_store(url, call_timeout=TIMEOUT)
        assert "hunter2-secret" not in shown(caught.value)
    with pytest.raises(StoreUnavailable, match="refused") as caught:
        await open_store(postgres_server.url("no_such_database"), call_timeout=TIMEOUT)
    assert postgres_server.password not in shown(caught.value)


async def test_a_sqlite_file_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="cannot be used"):
        await open_store(f"sqlite:///{tmp_path}/missing/folder/runs.db", call_timeout=TIMEOUT)
    (tmp_path / "junk.db").write_bytes(b"not a database" * 100)
    with pytest.raises(StoreUnavailable, match="cannot be used"):
        await open_store(f"sqlite:///{tmp_path}/junk.db", call_timeout=TIMEOUT)


@asynccontextmanager
async def writer_holding_the_lock(url: str) -> AsyncIterator[None]:
    """Another client in a transaction that holds run_1's row (PostgreSQL) or the database (SQLite)."""
    if url.startswith("sqlite"):
        connection = sqlite3.connect(parse(url).path, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
        return
    other = await asyncpg.connect(url)
    try:
        async with other.transaction():
            await other.execute("SELECT 1 FROM runs WHERE id = 'run_1' FOR UPDATE")
            yield
    finally:
        await other.close()


async def test_a_call_stuck_behind_a_lock_ends_unavailable_within_its_timeout(url: str) -> None:
    async with opened(url) as store:
        stored = await store.create(run("run_1"))
    async with opened(url, call_timeout=0.5) as store:
        async with writer_holding_the_lock(url):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable):
                await store.replace(stored, expected_version=1)
            assert time.monotonic() - started < 5
        # The store goes on working once the lock is gone, and the stuck write did not happen.
        replaced = await store.replace(stored, expected_version=1)
        assert replaced is not None
        assert replaced.version == 2


async def test_calls_after_close_are_unavailable(url: str) -> None:
    store = await open_store(url, call_timeout=TIMEOUT)
    await store.close()
    await store.close()
    with pytest.raises(StoreUnavailable, match="closed"):
        await store.get("thread_a", "run_1")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p%40ss@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgres://u@h/db?sslmode=require&password=pw", "postgres://u@h/db?sslmode=require&password=***"),
        ("postgresql://h/db", "postgresql://h/db"),
        ("sqlite:///runs-gateway.db", "sqlite:///runs-gateway.db"),
    ],
)
def test_redact(url: str, expected: str) -> None:
    assert redact(url) == expected


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///runs-gateway.db", "runs-gateway.db"),
        ("sqlite:////var/lib/runs.db", "/var/lib/runs.db"),
        ("sqlite:///:memory:", ":memory:"),
        ("sqlite://:memory:", ":memory:"),
        ("sqlite://", ":memory:"),
    ],
)
def test_sqlite_urls(url: str, path: str) -> None:
    assert parse(url).path == path
    assert parse(url).backend == "sqlite"


async def test_the_benchmark_measures_each_operation() -> None:
    figures = await bench_store.measure("sqlite:///:memory:", 40)
    assert set(figures) == set(bench_store.OPERATIONS)
    assert all(value > 0 for value in figures.values())
