"""How much each benchmark does: the `Sizes` of a run, and the two presets of `python -m bench`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    """How much each scenario does. The CLI has two presets; the smoke test passes tiny ones."""

    repetitions: int  # of each unary and loopback streaming measurement
    concurrency: tuple[int, ...]  # concurrent callers of the unary scenario, one level after another
    requests: int  # unary requests per repetition and level, at least...
    requests_per_caller: int  # ...and at least this many per concurrent caller
    stream_runs: int  # runs in the thread of the streaming scenario
    page_size: int  # REST page size (`limit`) of every list on loopback
    latency_runs: int  # runs in the thread of the slow-upstream scenario...
    latency_ms: float  # ...where every REST request is answered this much later
    latency_repetitions: int
    memory_runs: int  # runs streamed while the gateway's memory is sampled
    memory_repetitions: int
    startup_repetitions: int
    sample_interval: float = 0.05  # seconds between two RSS samples
    watchers: tuple[int, ...] = (1, 100, 1000)  # WatchRun: watchers of one run, one scenario each...
    watched_runs: int = 100  # ...then this many runs watched at once, one watcher each
    watch_window: float = 5.0  # seconds the watchers are held open and measured
    event_runs: int = 20  # streamed runs (v2 server-sent events) per client and repetition...
    reply_deltas: int = 500  # ...each replying in this many `thread.message.delta` events
    responses_calls: int = 200  # Runs over Responses: calls of each kind (gateway, SDK) per repetition
    store_calls: int = 500  # the run store: calls of each operation per backend


FULL = Sizes(
    repetitions=5,
    concurrency=(1, 2, 4, 8, 16, 32, 64),
    requests=2000,
    requests_per_caller=50,
    stream_runs=10_000,
    page_size=100,
    latency_runs=5_000,
    latency_ms=50,
    latency_repetitions=3,
    memory_runs=100_000,
    memory_repetitions=3,
    startup_repetitions=10,
    event_runs=20,
    reply_deltas=500,
)
QUICK = Sizes(
    repetitions=3,
    concurrency=(1, 4, 16, 64),
    requests=300,
    requests_per_caller=20,
    stream_runs=10_000,
    page_size=100,
    latency_runs=1_000,
    latency_ms=50,
    latency_repetitions=3,
    memory_runs=20_000,
    memory_repetitions=1,
    startup_repetitions=3,
    event_runs=10,
    reply_deltas=500,
)
