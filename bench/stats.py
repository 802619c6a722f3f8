"""Small statistics for the benchmarks: percentiles of one sample; median, spread and ratios over repetitions.

A ratio between two clients is the ratio of their medians; its spread is the range of the ratios of the
repetitions measured one right after the other (the same repetition of each client), which shows how much
a noisy machine moved it. A difference is the difference of the medians, with the range of the paired
differences.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0-100) of `values`, interpolated between the two nearest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


async def median_seconds(calls: Sequence[Callable[[], Awaitable[object]]]) -> float:
    """The median of the calls' durations, each awaited in turn, in seconds."""
    durations = []
    for call in calls:
        started = time.perf_counter()
        await call()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations)


@dataclass(frozen=True)
class Spread:
    """A central value over repetitions (the median, or a ratio of medians) and the range around it."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        """The median and min-max of `values` (at least one)."""
        if not values:
            raise ValueError("spread of no values")
        return cls(statistics.median(values), min(values), max(values))

    def format(self, digits: int = 2, unit: str = "") -> str:
        """`1.23 [1.20, 1.31]`: median [min, max] (the range left out after a single repetition)."""
        median = f"{self.median:,.{digits}f}{unit}"
        if len({round(self.low, digits), round(self.high, digits)}) == 1:
            return median
        return f"{median} [{self.low:,.{digits}f}, {self.high:,.{digits}f}]"


def ratio(ours: Sequence[float], theirs: Sequence[float]) -> Spread:
    """median(ours) / median(theirs), with the min-max of the ratios of paired repetitions."""
    if len(ours) != len(theirs) or not ours:
        raise ValueError("a ratio needs as many repetitions on both sides, at least one")
    paired = [a / b for a, b in zip(ours, theirs, strict=True)]
    return Spread(statistics.median(ours) / statistics.median(theirs), min(paired), max(paired))


def difference(ours: Sequence[float], theirs: Sequence[float]) -> Spread:
    """median(ours) - median(theirs), with the min-max of the differences of paired repetitions."""
    if len(ours) != len(theirs) or not ours:
        raise ValueError("a difference needs as many repetitions on both sides, at least one")
    paired = [a - b for a, b in zip(ours, theirs, strict=True)]
    return Spread(statistics.median(ours) - statistics.median(theirs), min(paired), max(paired))
