"""Runs over the Responses API (`--upstream-api responses`), side by side with the openai SDK calling the
Responses API directly, on the same emulator; and what a call of the run store costs.

A gateway process over the emulator's Responses API (SQLite store, as by default) serves a v2 client of
this process; the SDK (`openai.AsyncOpenAI`) calls the same emulator from the same process. One call at a
time (latency, not throughput), in milliseconds, the median of `Sizes.responses_calls` calls of each kind per
repetition, the gateway's and the SDK's calls alternated repetition by repetition:

- GetRun of a finished run (a store read, its response from the adapter's cache) against
  `responses.retrieve` of a finished response;
- the first event of a streamed run: `CreateRunStream` to `thread.run.created` (a response created with
  `stream` and `background`, the run stored at its first event) against `responses.create(stream=True,
  background=True)` to `response.created`.

The store: the median microseconds of `create`, `get`, `replace` and a `page` of 20 on SQLite (a file,
WAL, synchronous=FULL) and on PostgreSQL (a throwaway server with its default durability), `bench.store`.

`python -m bench.responses` runs this alone and prints the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
import openai
from runs_gateway.assistants.v2 import runs_service_pb2 as pb
from runs_gateway.assistants.v2 import runs_service_pb2_grpc as pb_grpc

from bench import harness
from bench import store as store_bench
from bench.sizes import QUICK, Sizes
from bench.stats import median_seconds

ASSISTANTS = {"assistants": {"asst_plain": {"model": "gpt-4o", "instructions": "Answer briefly."}}}


@dataclass(frozen=True)
class ResponsesSample:
    """One repetition's medians, in milliseconds."""

    get_run_ms: float
    retrieve_ms: float
    first_event_ms: float
    first_direct_event_ms: float


@dataclass(frozen=True)
class ResponsesResult:
    """Every repetition, and the store's medians (backend → operation → µs)."""

    samples: list[ResponsesSample]
    calls: int
    store_us: dict[str, dict[str, float]]
    store_left_out: str | None
    """Why PostgreSQL's store figures are missing (no server could start here), or None."""


def gateway_flags(folder: Path) -> list[str]:
    """The flags of a gateway over Responses with its assistants file and a SQLite store in `folder`."""
    (folder / "assistants.json").write_text(json.dumps(ASSISTANTS))
    return [
        *("--upstream-api", "responses", "--assistants", str(folder / "assistants.json")),
        *("--store", f"sqlite:///{folder / 'runs.db'}"),
    ]


async def measure(base_url: str, target: str, sizes: Sizes) -> list[ResponsesSample]:
    """Each repetition's medians: the gateway at `target` and the SDK, both on the emulator at `base_url`."""
    sdk = openai.AsyncOpenAI(base_url=base_url, api_key=harness.API_KEY, max_retries=0)
    try:
        conversation = (await sdk.conversations.create()).id
        async with grpc.aio.insecure_channel(target) as channel:
            stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
            create = pb.CreateRunRequest(thread_id=conversation, assistant_id="asst_plain")
            run = (await stub.CreateRun(create, timeout=30)).run
            get = pb.GetRunRequest(thread_id=conversation, run_id=run.id)
            await stub.GetRun(get, timeout=30)  # the run finishes (the emulator advances at once)
            response = await sdk.responses.create(model="gpt-4o", input="Hi.", background=True)
            await sdk.responses.retrieve(response.id)

            async def first_event() -> None:
                request = pb.CreateRunStreamRequest(thread_id=conversation, assistant_id="asst_plain")
                call = stub.CreateRunStream(request, timeout=30)
                await call.read()
                call.cancel()

            async def first_direct_event() -> None:
                stream = await sdk.responses.create(model="gpt-4o", input="Hi.", background=True, stream=True)
                await anext(aiter(stream))
                await stream.close()

            samples = []
            for repetition in range(sizes.repetitions):
                pairs = [
                    (lambda: stub.GetRun(get, timeout=30), lambda: sdk.responses.retrieve(response.id)),
                    (first_event, first_direct_event),
                ]
                medians = []
                for ours, theirs in pairs:
                    order = (ours, theirs) if repetition % 2 == 0 else (theirs, ours)
                    timed = [await median_seconds([call] * sizes.responses_calls) * 1e3 for call in order]
                    medians.extend(timed if repetition % 2 == 0 else timed[::-1])
                samples.append(ResponsesSample(*medians))
            return samples
    finally:
        await sdk.close()


def run(sizes: Sizes) -> ResponsesResult:
    """The side-by-side figures on an emulator and a gateway process of their own, then the store's. Its own
    emulator: the suite's writes every streamed reply in 500 deltas at once, which a response's first event
    would wait behind (about 6 ms more on both sides)."""
    with (
        harness.emulator() as emulator,
        tempfile.TemporaryDirectory() as folder,
        harness.gateway(emulator.base_url, flags=gateway_flags(Path(folder))) as gateway,
    ):
        samples = asyncio.run(measure(emulator.base_url, gateway.target, sizes))
    store_us, left_out = asyncio.run(store_bench.run(None, max(sizes.store_calls, 2)))
    return ResponsesResult(samples, sizes.responses_calls, store_us, left_out)


def main(argv: Sequence[str] | None = None) -> None:
    """The `python -m bench.responses` command."""
    parser = argparse.ArgumentParser(prog="python -m bench.responses", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="calls of each kind a repetition (200)")
    args = parser.parse_args(argv)
    sizes = Sizes(**{**QUICK.__dict__, "responses_calls": args.calls})
    result = run(sizes)
    for field in ResponsesSample.__dataclass_fields__:
        values = [getattr(sample, field) for sample in result.samples]
        print(f"{field:24} {statistics.median(values):8.2f} ms  [{min(values):.2f}, {max(values):.2f}]")
    for backend, figures in result.store_us.items():
        print(f"{backend:12} " + "  ".join(f"{name} {value:.0f} µs" for name, value in figures.items()))
    if result.store_left_out:
        print(f"PostgreSQL left out: {result.store_left_out}")


if __name__ == "__main__":
    main()
