"""Streamed runs (Assistants v2 server-sent events): the gateway's CreateRunStream against openai-python's
streaming helper, side by side on the same emulator.

The emulator writes each run's reply in `Sizes.reply_deltas` `thread.message.delta` events and, with
`--step-seconds 0`, sends a run's events as fast as it can. The clients, each in turn (`measure.rotation`),
stream `Sizes.event_runs` runs one after the other on one open connection (a run first, not measured, to
open it), `Sizes.repetitions` times:

- `gateway`: CreateRunStream of runs_gateway.assistants.v2 with a grpc.aio client, a message per event;
- `sdk`: openai-python's `client.beta.threads.runs.stream(...)` with its asyncio client (the default
  AsyncAssistantEventHandler, which also keeps the snapshots of the run, its steps and its messages),
  straight to the emulator, `OpenAI-Beta: assistants=v2` sent by the SDK itself;
- `gateway_sync`, `sdk_sync`: the same two with synchronous clients (a grpc sync channel; openai-python's
  OpenAI client and its AssistantEventHandler), each read on the loop's thread, which has nothing else to do;
- `rest_sse`: where the time goes, the bare server-sent events read with httpx (lines split, each event's
  JSON parsed, no models);
- the limits (`floor`), read with a grpc.aio client, their server's CPU counted as the gateway's: `lean`, a
  bare grpc.aio server posting the run with aiohttp and converting each event as it comes (`json.loads`, the
  gateway's conversion), nothing else; `floor`, gRPC alone, streaming the prebuilt messages of one run (in
  the burst only: prebuilt, it has no pace to follow).

What is counted, on every side: each server-sent event of a run, from `thread.run.created` to
`thread.run.completed`, but the closing `done` (`data: [DONE]`), which ends the stream and carries nothing.
Before the clients run, one run read with httpx gives the reference: the names of its events, in order, and
their number, checked against the number the emulator says it sent (its request log). Every measured run of
every client is checked against that reference, name by name.

Per run, the time from the call to its first and to its last event; per repetition, the median time to the
first event, the events per second (its events over the sum of its runs' times from the call to the last
event), and the CPU each process spent (the gateway's via /proc: `harness.cpu_seconds`).

The time to first event that the target judges is measured apart, on runs as a live upstream streams them:
a second emulator paces each run's steps `PACE` apart (a model writing its reply), behind a gateway of its
own; each client, in turn, starts `Sizes.event_runs` runs and closes each stream at its first event. In the
burst above, every event of a run is sent at once, and on a machine of two CPUs the gateway converting the
rest of the burst competes with the client for a CPU: that measures a burst, not the first event.

`python -m bench.events` runs it alone; `suite.run_all` runs it with the other benchmarks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import statistics
import time
import warnings
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, aclosing, asynccontextmanager
from dataclasses import asdict, dataclass
from functools import partial
from typing import NamedTuple

import grpc
import httpx
from runs_gateway.assistants.v2 import runs_service_pb2 as pb
from runs_gateway.assistants.v2 import runs_service_pb2_grpc as pb_grpc

from bench import floor, harness, readers
from bench.harness import API_KEY, REST_HEADERS, Emulator, Server
from bench.measure import Meter, Usage, rotation
from bench.sizes import FULL, Sizes

CLIENTS = {
    "gateway": "gateway CreateRunStream (v2), grpc.aio client",
    "gateway_sync": "gateway CreateRunStream (v2), grpc sync client",
    "sdk": "openai-python runs.stream(), AsyncOpenAI (async)",
    "sdk_sync": "openai-python runs.stream(), OpenAI (sync)",
    "rest_sse": "server-sent events, httpx async, JSON parsed, no models",
    "lean": "lean server (grpc.aio + aiohttp SSE), grpc.aio client",
    "floor": "gRPC floor (prebuilt events), grpc.aio client",
}
SDK_CLIENTS = ("sdk", "sdk_sync")
FLOORS = ("lean", "floor")
PAIR = ("gateway", "sdk")  # the clients the targets compare (both async)
V2_HEADERS = {**REST_HEADERS, "OpenAI-Beta": "assistants=v2"}
DELTA = "thread.message.delta"
Events = Callable[[], AsyncGenerator[str, None]]  # one streamed run, started when iterated: its events' names


@dataclass(frozen=True)
class EventsSample:
    """One client's repetition: `runs` runs streamed one after the other, each from the call on."""

    runs: int
    events: int  # in all (every run's, each checked against the reference)
    first_event_s: list[float]  # per run: from the call to the first event received
    last_event_s: list[float]  # per run: from the call to the last event received
    usage: Usage  # the whole block: its wall time, and the CPU of each process during it

    @property
    def first_event_ms(self) -> float:
        """The median time to the first event of the repetition's runs, in ms."""
        return statistics.median(self.first_event_s) * 1e3

    @property
    def events_per_second(self) -> float:
        """Events over the sum of the runs' times from the call to the last event."""
        return self.events / sum(self.last_event_s)

    def cpu_us_per_event(self, role: str) -> float:
        """Microseconds of CPU process `role` ("client", "gateway", "emulator") spent per event."""
        return self.usage.cpu.get(role, 0.0) / max(self.events, 1) * 1e6


@dataclass(frozen=True)
class FirstEventSample:
    """One client's repetition on paced runs: per run, seconds from the call to its first event."""

    first_event_s: list[float]

    @property
    def first_event_ms(self) -> float:
        """The median of the repetition's runs, in ms."""
        return statistics.median(self.first_event_s) * 1e3


PACE = 0.02
"""Seconds between two steps of a paced run: a model streaming its reply."""


@dataclass(frozen=True)
class EventsResult:
    """The streamed-run scenario: what a run's stream holds, and every client's repetitions."""

    runs: int  # streamed runs per client and repetition
    reply_deltas: int  # `thread.message.delta` events in a run
    events_per_run: int  # every event of a run but `done`, as the emulator sent them
    event_names: dict[str, int]  # how many events of each name a run has
    sdk_version: str | None  # None: no SDK with `beta.threads.runs` installed, its client was left out
    samples: dict[str, list[EventsSample]]  # keys of CLIENTS
    first_event: dict[str, list[FirstEventSample]]  # keys of CLIENTS: on paced runs


@dataclass(frozen=True)
class Reference:
    """The events every run must bring, by name and in order."""

    names: list[str]

    def check(self, client: str, names: Sequence[str]) -> None:
        """Raise unless `names` are exactly the reference's, in order."""
        if list(names) != self.names:
            raise RuntimeError(
                f"{client} received {len(names)} events ({names[:1]} ... {names[-1:]}), not the "
                f"{len(self.names)} of a run ({self.names[:1]} ... {self.names[-1:]})"
            )


def run(emulator: Emulator, gateway: Server, sizes: Sizes) -> EventsResult:
    """Each client streams `sizes.event_runs` runs per repetition, the clients taking turns; then, on a
    paced emulator and a gateway of its own, the time to each client's first event."""
    thread, assistant = _thread_and_assistant(emulator)
    upstream = emulator.base_url
    with (
        floor.server("lean-events", upstream=upstream) as lean,
        floor.server("events", upstream=upstream, thread=thread, assistant=assistant) as bare,
    ):
        servers = {"gateway": gateway, "lean": lean, "floor": bare}
        result = asyncio.run(_run(emulator, servers, sizes, thread, assistant))
    with (
        harness.emulator(step_seconds=PACE) as paced,
        harness.gateway(paced.base_url) as paced_gateway,
        floor.server("lean-events", upstream=paced.base_url) as paced_lean,
    ):
        thread, assistant = _thread_and_assistant(paced)
        servers = {"gateway": paced_gateway, "lean": paced_lean}
        first = asyncio.run(_first_events(paced, servers, sizes, thread, assistant))
    return dataclasses.replace(result, first_event=first)


async def _first_events(
    emulator: Emulator, servers: dict[str, Server], sizes: Sizes, thread: str, assistant: str
) -> dict[str, list[FirstEventSample]]:
    clients = _clients(emulator, servers, thread, assistant)
    samples: dict[str, list[FirstEventSample]] = {name: [] for name in clients}
    for repetition in range(sizes.repetitions):
        for name in rotation(list(clients), repetition):
            async with clients[name]() as events:
                await _first(events)  # to open the connection
                times = [await _first(events) for _ in range(sizes.event_runs)]
            samples[name].append(FirstEventSample(times))
    return samples


async def _first(events: Events) -> float:
    """Seconds from the call to the first event of a run; the stream is closed there."""
    started = time.perf_counter()
    async with aclosing(events()) as stream:
        async for name in stream:
            if name != "thread.run.created":
                raise RuntimeError(f"a run's first event was {name}")
            return time.perf_counter() - started
    raise RuntimeError("a run's stream ended before its first event")


async def _run(
    emulator: Emulator, servers: dict[str, Server], sizes: Sizes, thread: str, assistant: str
) -> EventsResult:
    reference = await _reference(emulator, thread, assistant)
    deltas = reference.names.count(DELTA)
    if deltas != sizes.reply_deltas:
        raise RuntimeError(f"a run has {deltas} {DELTA} events, not {sizes.reply_deltas}: --reply-deltas?")
    # A floor's server stands in the gateway's role: its CPU is counted as the gateway's.
    meters = {
        n: Meter({"gateway": s.process.pid, "emulator": emulator.process.pid}) for n, s in servers.items()
    }
    clients = _clients(emulator, servers, thread, assistant)
    samples: dict[str, list[EventsSample]] = {name: [] for name in clients}
    for repetition in range(sizes.repetitions):
        for name in rotation(list(clients), repetition):
            meter = meters.get(name, meters["gateway"])
            async with clients[name]() as events:
                samples[name].append(await _repetition(name, events, reference, sizes.event_runs, meter))
    emulator.forget_requests()
    names = dict(Counter(reference.names))
    return EventsResult(
        sizes.event_runs, deltas, len(reference.names), names, readers.sdk_version(), samples, {}
    )


async def _repetition(
    name: str, events: Events, reference: Reference, runs: int, meter: Meter
) -> EventsSample:
    """A run to open the connection, then `runs` runs measured; every run checked against `reference`."""
    reference.check(name, (await _timed(events())).names)
    with meter.measure() as measured:
        timed = [await _timed(events()) for _ in range(runs)]
    for one in timed:
        reference.check(name, one.names)
    first, last = [t.first for t in timed], [t.last for t in timed]
    return EventsSample(runs, sum(len(t.names) for t in timed), first, last, measured.result())


class Timed(NamedTuple):
    """One streamed run: seconds from the call to its first and to its last event, its events' names."""

    first: float
    last: float
    names: list[str]


async def _timed(events: AsyncIterator[str]) -> Timed:
    """Time a streamed run. The call is made when the iteration starts (the clients' generators do nothing
    before), so the time from the call includes sending the request."""
    names: list[str] = []
    started = first = last = time.perf_counter()
    async for name in events:
        last = time.perf_counter()
        if not names:
            first = last
        names.append(name)
    return Timed(first - started, last - started, names)


# The clients ------------------------------------------------------------------------------------------------

Client = Callable[[], AbstractAsyncContextManager[Events]]  # its connection held for a repetition


def _clients(
    emulator: Emulator, servers: dict[str, Server], thread: str, assistant: str
) -> dict[str, Client]:
    """Each client of CLIENTS that can run here (the SDK's need the `bench` extra; a floor, its server)."""
    target, base_url = servers["gateway"].target, emulator.base_url
    clients: dict[str, Client] = {
        "gateway": lambda: _gateway(target, thread, assistant),
        "gateway_sync": lambda: _gateway_sync(target, thread, assistant),
        "sdk": lambda: _sdk(base_url, thread, assistant),
        "sdk_sync": lambda: _sdk_sync(base_url, thread, assistant),
        "rest_sse": lambda: _rest_sse(base_url, thread, assistant),
    }
    for name in FLOORS:
        if name in servers:
            clients[name] = partial(_gateway, servers[name].target, thread, assistant)
    if readers.sdk_version() is None:
        return {name: client for name, client in clients.items() if name not in SDK_CLIENTS}
    return clients


@asynccontextmanager
async def _gateway(target: str, thread: str, assistant: str) -> AsyncIterator[Events]:
    async with grpc.aio.insecure_channel(target) as channel:
        await channel.channel_ready()
        stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
        request = pb.CreateRunStreamRequest(thread_id=thread, assistant_id=assistant)

        async def events() -> AsyncGenerator[str, None]:
            call = stub.CreateRunStream(request)
            try:
                async for message in call:
                    yield message.event
            finally:
                call.cancel()  # a no-op once the stream ended; else it closes the stream left early

        yield events


@asynccontextmanager
async def _gateway_sync(target: str, thread: str, assistant: str) -> AsyncIterator[Events]:
    with grpc.insecure_channel(target) as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
        request = pb.CreateRunStreamRequest(thread_id=thread, assistant_id=assistant)

        async def events() -> AsyncGenerator[str, None]:
            call = stub.CreateRunStream(request)
            try:
                for message in call:  # blocks the loop, which has nothing else to do
                    yield message.event
            finally:
                call.cancel()

        yield events


@asynccontextmanager
async def _sdk_sync(base_url: str, thread: str, assistant: str) -> AsyncIterator[Events]:
    import openai

    with openai.OpenAI(api_key=API_KEY, base_url=base_url, max_retries=0) as client:

        async def events() -> AsyncGenerator[str, None]:
            with warnings.catch_warnings():  # the SDK marks the Assistants API deprecated on every call
                warnings.simplefilter("ignore", DeprecationWarning)
                stream = client.beta.threads.runs.stream(thread_id=thread, assistant_id=assistant)
            with stream as handler:
                for event in handler:  # blocks the loop, which has nothing else to do
                    yield event.event

        yield events


@asynccontextmanager
async def _sdk(base_url: str, thread: str, assistant: str) -> AsyncIterator[Events]:
    import openai

    async with openai.AsyncOpenAI(api_key=API_KEY, base_url=base_url, max_retries=0) as client:

        async def events() -> AsyncGenerator[str, None]:
            with warnings.catch_warnings():  # the SDK marks the Assistants API deprecated on every call
                warnings.simplefilter("ignore", DeprecationWarning)
                stream = client.beta.threads.runs.stream(thread_id=thread, assistant_id=assistant)
            async with stream as handler:
                async for event in handler:
                    yield event.event

        yield events


@asynccontextmanager
async def _rest_sse(base_url: str, thread: str, assistant: str) -> AsyncIterator[Events]:
    async with httpx.AsyncClient(base_url=base_url, headers=V2_HEADERS, timeout=60, trust_env=False) as rest:
        yield lambda: sse_events(rest, thread, assistant)


async def sse_events(client: httpx.AsyncClient, thread: str, assistant: str) -> AsyncGenerator[str, None]:
    """A streamed run read as bare server-sent events: each event's name once its data is parsed; `done`
    (`data: [DONE]`) ends it and is not counted."""
    body = {"assistant_id": assistant, "stream": True}
    async with client.stream("POST", f"/threads/{thread}/runs", json=body) as response:
        response.raise_for_status()
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line.removeprefix("event:").strip()
            elif line.startswith("data:") and event != "done":
                json.loads(line.removeprefix("data:"))
                yield event


# The run every client streams -----------------------------------------------------------------------------


def _thread_and_assistant(emulator: Emulator) -> tuple[str, str]:
    """A v2 assistant without tools (its runs go straight to the reply) and a thread to run it on."""
    with httpx.Client(base_url=emulator.base_url, headers=V2_HEADERS, timeout=60, trust_env=False) as rest:
        assistant = rest.post("/assistants", json={"model": "gpt-4o"}).raise_for_status().json()["id"]
        thread = rest.post("/threads", json={}).raise_for_status().json()["id"]
    return thread, assistant


async def _reference(emulator: Emulator, thread: str, assistant: str) -> Reference:
    """One run read with httpx; its events must be as many as the emulator says it sent."""
    emulator.forget_requests()
    async with httpx.AsyncClient(base_url=emulator.base_url, headers=V2_HEADERS, trust_env=False) as rest:
        names = [name async for name in sse_events(rest, thread, assistant)]
        log = (await rest.get(f"{emulator.admin_url}/requests")).raise_for_status().json()
    [sent] = [entry["stream"]["events"] for entry in log if "stream" in entry]
    if sent != len(names) or names[:1] != ["thread.run.created"] or names[-1:] != ["thread.run.completed"]:
        raise RuntimeError(f"the reference run read {len(names)} events of {sent} sent: {names[:3]} ...")
    return Reference(names)


def main() -> None:
    """Run the scenario alone (full sizes) and print each repetition as a JSON line."""
    with (
        harness.emulator(reply_deltas=FULL.reply_deltas) as emulator,
        harness.gateway(emulator.base_url) as gw,
    ):
        result = run(emulator, gw, FULL)
    for name, samples in result.samples.items():
        for sample in samples:
            print(json.dumps({"client": name, **asdict(sample)}))
    for name, paced in result.first_event.items():
        for first in paced:
            print(json.dumps({"client": name, "paced": True, **asdict(first)}))


if __name__ == "__main__":
    main()
