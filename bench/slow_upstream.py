"""A distant upstream: the same lists with every REST request answered `latency_ms` later (the emulator's
admin API), read through the gateway and with the SDKs, in Python and in Node.

With 50 ms a request, a list costs about one round trip per page whoever reads it, so what counts is how many
pages a client asks for and whether it waits for one page before asking for the next. The gateway's stream
sets no `limit` (the gateway then asks for pages of 100, and fetches each next page while it streams this
one); each SDK reads at its default page size (20, no `limit` sent) and at `limit` 100, the largest page.
Every pass is checked against the list, as on loopback (`streaming`). Only the sync SDK client runs here: with
50 ms a request the round trips set the time, whichever client waits for them (on loopback, where the client's
CPU counts, `streaming` runs both).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bench import nodeclient, readers
from bench.harness import Emulator, Server
from bench.listing import seed
from bench.measure import Meter
from bench.nodeclient import NodeWorker
from bench.sizes import Sizes
from bench.streaming import Reader, StreamSample, from_node, python, take_turns

DEFAULT = 0  # no `limit`: the gateway asks for pages of 100, the SDKs get the API's default page (20)
LARGEST = 100

CLIENTS = {
    "gateway": "gateway ListRuns stream, no limit (pages of 100), grpc.aio client",
    "sdk_default": "openai-python auto-pagination, OpenAI (sync), default page size (20)",
    "sdk_100": "openai-python auto-pagination, OpenAI (sync), limit 100",
    "node_gateway": "gateway ListRuns stream, no limit (pages of 100), Node @grpc/grpc-js client",
    "node_sdk_default": "openai-node auto-pagination, default page size (20)",
    "node_sdk_100": "openai-node auto-pagination, limit 100",
}
# Each gateway client against each SDK client of its language: (gateway, SDK, what the target is).
PAIRS = (
    ("gateway", "sdk_default"),
    ("gateway", "sdk_100"),
    ("node_gateway", "node_sdk_default"),
    ("node_gateway", "node_sdk_100"),
)
SDK_CLIENTS = ("sdk_default", "sdk_100")
NODE_CLIENTS = ("node_gateway", "node_sdk_default", "node_sdk_100")


@dataclass(frozen=True)
class SlowUpstreamResult:
    """The slow-upstream scenario: every client's passes over a list of `runs` runs."""

    runs: int
    latency_ms: float
    sdk_version: str | None  # None: no SDK with `beta.threads.runs` installed, its clients were left out
    node_skipped: str | None  # why the Node clients were left out (None: they ran)
    samples: dict[str, list[StreamSample]]  # keys of CLIENTS


def run(emulator: Emulator, gateway: Server, node: NodeWorker | None, sizes: Sizes) -> SlowUpstreamResult:
    """Every run of a thread of `sizes.latency_runs` runs, each REST request `sizes.latency_ms` late."""
    listing, warm = seed(emulator, sizes.latency_runs), seed(emulator, 1)
    with emulator.latency(sizes.latency_ms / 1000):
        samples = take_turns(_clients(emulator, gateway, node), listing, warm, sizes.latency_repetitions)
    emulator.forget_requests()
    skipped = None if node is not None else nodeclient.unavailable() or "not asked for"
    return SlowUpstreamResult(sizes.latency_runs, sizes.latency_ms, readers.sdk_version(), skipped, samples)


def _clients(emulator: Emulator, gateway: Server, node: NodeWorker | None) -> dict[str, Reader]:
    target, base_url = gateway.target, emulator.base_url
    meter = Meter({"gateway": gateway.process.pid, "emulator": emulator.process.pid})
    clients: dict[str, Reader] = {
        "gateway": python(
            "gateway", lambda t: asyncio.run(readers.gateway_stream(target, t, DEFAULT, meter))
        ),
    }
    if readers.sdk_version() is not None:
        clients["sdk_default"] = python("sdk_default", lambda t: readers.sdk(base_url, t, DEFAULT, meter))
        clients["sdk_100"] = python("sdk_100", lambda t: readers.sdk(base_url, t, LARGEST, meter))
    if node is not None:
        clients["node_gateway"] = from_node(
            "node_gateway", lambda listing: node.gateway(target, listing, DEFAULT, meter)
        )
        clients["node_sdk_default"] = from_node(
            "node_sdk_default", lambda listing: node.sdk(base_url, listing, DEFAULT, meter)
        )
        clients["node_sdk_100"] = from_node(
            "node_sdk_100", lambda listing: node.sdk(base_url, listing, LARGEST, meter)
        )
    return clients
