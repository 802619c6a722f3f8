"""`python -m bench.store`: what a call of the run store costs on this machine, on SQLite and PostgreSQL.

For each backend: the median over `--repeat` calls of `create`, `get`, `replace` and a `page` of 20, one
call at a time (latency, not throughput), each a real write or read of a store made for the run: a SQLite
file in a temporary folder (WAL, synchronous=FULL) and a PostgreSQL database, on the server at
`--postgresql URL` or else on a throwaway server started here (tools/postgres.py) with PostgreSQL's default
durability (fsync on). Figures in docs/store.md.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import asyncpg

from bench.stats import median_seconds
from gateway.store import RunStore, StoredRun
from gateway.store.opening import open_store
from tools import postgres

OPERATIONS = ("create", "get", "replace", "page of 20")


async def _timed(calls: Sequence[Callable[[], Awaitable[object]]]) -> float:
    """The median of the calls' durations, in microseconds."""
    return await median_seconds(calls) * 1e6


async def measure(url: str, repeat: int) -> dict[str, float]:
    """Median microseconds per operation on the store at `url`."""
    store: RunStore = await open_store(url)
    try:
        document = {
            "chain": ["resp_0123456789abcdef"],
            "model": "gpt-4o",
            "tools": [],
            "metadata": {"k": "v"},
        }
        runs = [
            StoredRun(f"run_{n:06}", "thread_bench", 1_700_000_000 + n // 10, "queued", document)
            for n in range(repeat)
        ]
        done = {**document, "chain": [*document["chain"], "resp_next"]}
        return {
            "create": await _timed([lambda r=r: store.create(r) for r in runs]),  # type: ignore[misc]
            "get": await _timed([lambda r=r: store.get(r.thread_id, r.id) for r in runs]),  # type: ignore[misc]
            "replace": await _timed(
                [
                    lambda r=r: store.replace(  # type: ignore[misc]
                        StoredRun(r.id, r.thread_id, r.created_at, "in_progress", done), expected_version=1
                    )
                    for r in runs
                ]
            ),
            "page of 20": await _timed(
                [
                    lambda r=r: store.page("thread_bench", limit=20, order="desc", after=r.id, before=None)  # type: ignore[misc]
                    for r in runs[-repeat // 2 :]
                ]
            ),
        }
    finally:
        await store.close()


async def _on_postgresql(url: str | None, repeat: int) -> dict[str, float]:
    if url is not None:
        return await measure(url, repeat)
    with postgres.start(durable=True) as server:
        admin = await asyncpg.connect(server.url("postgres"))
        await admin.execute("CREATE DATABASE bench")
        await admin.close()
        return await measure(server.url("bench"), repeat)


async def run(postgresql: str | None, repeat: int) -> tuple[dict[str, dict[str, float]], str | None]:
    """Both backends' medians, and why PostgreSQL was left out (None: it was not): no server could start
    here and none was given."""
    with tempfile.TemporaryDirectory() as folder:
        figures = {"SQLite": await measure(f"sqlite:///{Path(folder) / 'runs.db'}", repeat)}
    try:
        figures["PostgreSQL"] = await _on_postgresql(postgresql, repeat)
    except postgres.Unavailable as exc:
        return figures, str(exc)
    return figures, None


def main(argv: Sequence[str] | None = None) -> None:
    """The `python -m bench.store` command."""
    parser = argparse.ArgumentParser(prog="python -m bench.store", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=500, help="calls of each operation (default 500)")
    parser.add_argument(
        "--postgresql", metavar="URL", help="a database to measure (default: a throwaway server)"
    )
    args = parser.parse_args(argv)
    results, left_out = asyncio.run(run(args.postgresql, max(args.repeat, 40)))
    print(f"{'median µs per call':<20}" + "".join(f"{name:>14}" for name in OPERATIONS))
    for backend, figures in results.items():
        print(f"{backend:<20}" + "".join(f"{figures[name]:>14.0f}" for name in OPERATIONS))
    if left_out:
        print(f"PostgreSQL left out: {left_out}")


if __name__ == "__main__":
    main()
