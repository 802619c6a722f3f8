"""`python -m bench.responses`: GetRun and the time to a streamed run's first event through the gateway over
the Responses API (`--upstream-api responses`, SQLite store), beside the same through a direct call of the
Responses API with the openai SDK, on the same emulator.

One call at a time (latency, not throughput), the median over `--repeat` calls, in milliseconds. Everything
runs in this process (the emulator's server thread, the gateway's server on this event loop, both clients):
the figures compare the two paths on one machine, they are not a server's capacity. GetRun reads a finished
run (one store read, its response from the adapter's cache) against `responses.retrieve` of a finished
response; the first event: `CreateRunStream` to `thread.run.created` against `responses.create(stream=True,
background=True)` to `response.created`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import grpc
import openai
from runs_gateway.assistants.v2 import runs_service_pb2 as pb
from runs_gateway.assistants.v2 import runs_service_pb2_grpc as pb_grpc

from emulator import EmulatorConfig, EmulatorServer
from gateway.config import Settings
from gateway.server import build_server

KEY = "sk-bench-responses-0123456789"
ASSISTANTS = {"assistants": {"asst_plain": {"model": "gpt-4o", "instructions": "Answer briefly."}}}


async def _median_ms(call: Callable[[], Awaitable[object]], repeat: int) -> float:
    durations = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations) * 1e3


async def measure(base_url: str, folder: Path, repeat: int) -> dict[str, float]:
    """Median milliseconds of each call, through the gateway and direct."""
    sdk = openai.AsyncOpenAI(base_url=base_url, api_key=KEY, max_retries=0)
    conversation = (await sdk.conversations.create()).id
    (folder / "assistants.json").write_text(json.dumps(ASSISTANTS))
    settings = Settings(
        listen="127.0.0.1:0", base_url=base_url, api_key=KEY, upstream_api="responses",
        assistants=str(folder / "assistants.json"), store=f"sqlite:///{folder / 'runs.db'}",
    )  # fmt: skip
    built = build_server(settings)
    port = built.server.add_insecure_port("127.0.0.1:0")
    await built.server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
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

            return {
                "GetRun (gateway)": await _median_ms(lambda: stub.GetRun(get, timeout=30), repeat),
                "responses.retrieve (SDK)": await _median_ms(
                    lambda: sdk.responses.retrieve(response.id), repeat
                ),
                "first event (gateway)": await _median_ms(first_event, repeat),
                "first event (SDK)": await _median_ms(first_direct_event, repeat),
            }
    finally:
        await sdk.close()
        await built.server.stop(0)
        await built.gateway.upstream.aclose()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.responses", description=__doc__)
    parser.add_argument("--repeat", type=int, default=200, help="calls of each kind (default 200)")
    args = parser.parse_args(argv)
    config = EmulatorConfig(step_seconds=0, api_keys=frozenset({KEY}))
    with EmulatorServer(config) as emulator, tempfile.TemporaryDirectory() as folder:
        figures = asyncio.run(measure(emulator.base_url, Path(folder), args.repeat))
    for name, value in figures.items():
        print(f"{name:28} {value:8.2f} ms")


if __name__ == "__main__":
    main()
