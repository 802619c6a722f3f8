"""Memory: the gateway's resident memory (RSS), sampled while a client streams a long list through it.

The gateway holds at most two pages of a list (the one it streams and the one it fetches ahead), so its RSS
should not grow with the length of the list: the highest RSS while the second half of the runs goes by
should be no higher than while the first half did.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bench.harness import Emulator, Seeded, Server
from bench.measure import Meter, RssSampler
from bench.readers import gateway_stream
from bench.sizes import Sizes


@dataclass(frozen=True)
class MemorySample:
    """The gateway's RSS (KiB) over one stream of a long list; `samples` are (seconds, KiB, runs so far)."""

    items: int
    seconds: float
    start_kib: int
    peak_kib: int
    end_kib: int
    first_half_peak_kib: int  # the highest RSS while the first half of the runs went by...
    second_half_peak_kib: int  # ...and while the second half did: equal when memory does not grow with N
    samples: list[tuple[float, int, int]]


@dataclass(frozen=True)
class MemoryResult:
    """The memory scenario: one sample per repetition."""

    runs: int
    page_size: int
    repetitions: list[MemorySample]


def run(emulator: Emulator, gateway: Server, sizes: Sizes) -> MemoryResult:
    """Sample the gateway's RSS every `sizes.sample_interval` s while a client streams a long list."""
    seeded = emulator.seed(sizes.memory_runs)
    meter = Meter({"gateway": gateway.process.pid, "emulator": emulator.process.pid})
    samples = []
    for _ in range(sizes.memory_repetitions):
        samples.append(asyncio.run(_once(gateway, seeded, sizes, meter)))
        emulator.forget_requests()
    return MemoryResult(sizes.memory_runs, sizes.page_size, samples)


async def _once(gateway: Server, seeded: Seeded, sizes: Sizes, meter: Meter) -> MemorySample:
    with RssSampler(gateway.process.pid, sizes.sample_interval) as sampler:
        streamed = await gateway_stream(
            gateway.target, seeded.thread_id, sizes.page_size, meter, sampler.progress
        )
    items = len(streamed.ids)
    if items != seeded.count:
        raise RuntimeError(f"the memory scenario's client read {items} runs, not {seeded.count}")
    rss = [kib for _, kib, _ in sampler.samples]
    half = items / 2
    first = [kib for _, kib, done in sampler.samples if done <= half]
    second = [kib for _, kib, done in sampler.samples if done > half] or rss[-1:]
    return MemorySample(
        items,
        streamed.usage.wall,
        rss[0],
        max(rss),
        rss[-1],
        max(first),
        max(second),
        sampler.samples,
    )
