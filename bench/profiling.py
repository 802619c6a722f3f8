"""`python -m bench.profiling`: where the gateway's time goes on the hot paths, under pyinstrument.

Two gateway processes run under `python -m pyinstrument`, one serving GetRun to concurrent callers, one
streaming a long ListRuns; each is stopped with SIGTERM (pyinstrument writes its session as the process
exits). For each, the report gives the share of the main thread's time by package (the gateway's own code,
httpx and its stack, protobuf, the asyncio loop ...), the functions with the most time of their own, and the
call tree. pyinstrument samples the main thread's Python frames: time in grpc's Cython and C core, which
makes no frames, is counted in the nearest Python frame, where the event loop calls it (`Context.run`) or
in the coroutine that awaits it (`servicer._unary`'s own time is mostly grpc's `send_initial_metadata`);
gRPC's own threads are not sampled. Profiling slows the gateway; read the shares, not the absolute times.
The benchmark itself (`python -m bench`) runs without a profiler.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import pstats
import re
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import grpc
from pyinstrument.renderers import ConsoleRenderer, PstatsRenderer
from pyinstrument.session import Session
from runs_gateway.assistants.v1 import runs_service_pb2 as pb
from runs_gateway.assistants.v1 import runs_service_pb2_grpc as pb_grpc

from bench import harness, readers, unary
from bench.measure import Meter


def _wrapper(out: Path) -> tuple[str, ...]:
    return ("-m", "pyinstrument", "--renderer", "pyisession", "--outfile", str(out))


def profile_unary(emulator: harness.Emulator, out: Path, requests: int, concurrency: int) -> Path:
    """Profile a gateway that serves `requests` GetRun calls from `concurrency` callers into `out`."""
    seeded = emulator.seed(1)
    request = pb.GetRunRequest(thread_id=seeded.thread_id, run_id=seeded.first_id)

    async def calls(target: str) -> None:
        async with grpc.aio.insecure_channel(target) as channel:
            stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
            await unary.load([partial(stub.GetRun, request)] * concurrency, requests)

    with harness.gateway(emulator.base_url, wrapper=_wrapper(out)) as gateway:
        asyncio.run(calls(gateway.target))
    return out


def profile_stream(emulator: harness.Emulator, out: Path, runs: int, page_size: int) -> Path:
    """Profile a gateway that streams a list of `runs` runs into `out`."""
    seeded = emulator.seed(runs)
    with harness.gateway(emulator.base_url, wrapper=_wrapper(out)) as gateway:
        asyncio.run(readers.gateway_stream(gateway.target, seeded.thread_id, page_size, Meter({})))
    return out


def stats(session: Session) -> pstats.Stats:
    """The session as pstats (own time and cumulative time per function)."""
    data = PstatsRenderer().render(session).encode("utf-8", errors="surrogateescape")
    with tempfile.NamedTemporaryFile(suffix=".pstats") as scratch:
        scratch.write(data)
        scratch.flush()
        return pstats.Stats(scratch.name, stream=io.StringIO())


IDLE = ("select", "poll")  # the event loop waiting for I/O: not work, left out of the shares


def by_package(profile: pstats.Stats) -> list[tuple[str, float]]:
    """Shares of the sampled time spent in each package's own code, largest first; waiting left out."""
    totals: dict[str, float] = defaultdict(float)
    for (file_name, _, function), row in profile.stats.items():  # type: ignore[attr-defined]
        if not function.endswith(IDLE):
            totals[package(file_name, function)] += row[2]  # tottime
    everything = sum(totals.values()) or 1.0
    return sorted(((name, spent / everything) for name, spent in totals.items()), key=lambda x: -x[1])


def package(file_name: str, function: str) -> str:
    """The package a profiled function belongs to, as the report names it."""
    if function.startswith("Context.run"):
        return "grpc's Cython and C core (run by the event loop; no Python frames)"
    installed = re.search(r"site-packages/([^/]+)", file_name)
    if installed:
        return {"google": "protobuf"}.get(installed.group(1), installed.group(1))
    for folder, name in (("/gateway/", "gateway (this project)"), ("/runs_gateway/", "generated stubs")):
        if folder in file_name:
            return name
    if file_name.startswith("<frozen") or "importlib" in file_name:
        return "imports (start-up)"
    stdlib = re.search(r"/python3\.\d+/([^/]+)", file_name)
    if stdlib:
        return f"stdlib {stdlib.group(1).removesuffix('.py')}"
    return "C functions called from Python" if file_name == "<built-in>" else file_name


def top(profile: pstats.Stats, count: int) -> str:
    """The `count` functions with the most time of their own."""
    text = io.StringIO()
    profile.stream = text  # type: ignore[attr-defined]
    profile.sort_stats("tottime").print_stats(count)
    lines = text.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if "tottime" in line), 0)
    return "\n".join(line for line in lines[start:] if line.strip())


def tree(session: Session, threshold: float) -> str:
    """The call tree, frames under `threshold` of the total time left out."""
    renderer = ConsoleRenderer(
        unicode=False,
        color=False,
        time="percent_of_total",
        processor_options={"filter_threshold": threshold},
    )
    return renderer.render(session)


def summary(title: str, path: Path, count: int) -> str:
    """The report of one profile."""
    session = Session.load(str(path))
    profile = stats(session)
    shares = "\n".join(f"  {share:6.1%}  {name}" for name, share in by_package(profile) if share >= 0.005)
    return (
        f"=== {title}\nOwn time by package (waiting for I/O left out):\n{shares}\n\n"
        f"Functions with the most time of their own:\n{top(profile, count)}\n\n"
        f"Call tree:\n{tree(session, 0.02)}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """The `python -m bench.profiling` command."""
    parser = argparse.ArgumentParser(prog="python -m bench.profiling", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000, help="GetRun calls (default 5000)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent callers (default 16)")
    parser.add_argument("--runs", type=int, default=20_000, help="runs in the streamed list (default 20000)")
    parser.add_argument("--top", type=int, default=20, help="functions listed per profile (default 20)")
    parser.add_argument("--keep", type=Path, help="a folder to keep the .pyisession files in")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch, harness.emulator() as emulator:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        unary_profile = profile_unary(emulator, folder / "getrun.pyisession", args.requests, args.concurrency)
        stream_profile = profile_stream(emulator, folder / "listruns.pyisession", args.runs, 100)
        print(
            summary(
                f"GetRun, {args.requests:,} calls from {args.concurrency} callers", unary_profile, args.top
            )
        )
        print(summary(f"ListRuns, {args.runs:,} runs streamed", stream_profile, args.top))


if __name__ == "__main__":
    main()
