"""The plot of the unary scenario: latency and throughput against concurrency, gateway vs direct.

Left, p50 latency as a solid line with p99 dashed; right, requests per second. Each point is the median over
repetitions. matplotlib is imported here only, with its file-only backend, so the rest of the benchmark
(and its smoke test) runs without it.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from bench.unary import CLIENTS, UnaryResult

COLOURS = {"gateway": "tab:blue", "direct": "tab:orange", "direct_per_caller": "tab:gray"}


def plot(result: UnaryResult, path: Path, title: str) -> Path:
    """Draw the levels of `result` into a PNG at `path` (its folder created if need be)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    concurrency = [level.concurrency for level in result.levels]
    figure, (latency, throughput) = pyplot.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
    for name, colour in COLOURS.items():
        label = CLIENTS[name]
        latency.plot(concurrency, _medians(result, name, "p50_ms"), "o-", color=colour, label=f"{label}, p50")
        latency.plot(
            concurrency, _medians(result, name, "p99_ms"), "v--", color=colour, alpha=0.6, label="p99"
        )
        throughput.plot(concurrency, _medians(result, name, "rps"), "o-", color=colour, label=label)
    for axes, ylabel in ((latency, "latency, ms (log scale)"), (throughput, "requests/s")):
        axes.set_xscale("log", base=2)
        axes.set_xticks(concurrency, [str(c) for c in concurrency])
        axes.set_xlabel("concurrent callers")
        axes.set_ylabel(ylabel)
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=7)
    latency.set_yscale("log")
    throughput.set_ylim(bottom=0)
    figure.suptitle(title, fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
    return path


def _medians(result: UnaryResult, client: str, field: str) -> list[float]:
    return [statistics.median(getattr(s, field) for s in level.samples[client]) for level in result.levels]
