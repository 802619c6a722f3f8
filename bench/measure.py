"""How a block of work is measured: wall-clock and CPU time of every process, RSS over time, fair turns.

- `Meter.measure()` times a block and says how much CPU this process (the clients) and each child process
  (the gateway, the emulator) spent during it, so every figure can say which process the time went to.
- `RssSampler` samples a process's resident memory in a background thread while a block runs.
- `rotation` orders the clients of a repetition so that each goes first in turn: on a shared machine a
  neighbour's burst then does not always land on the same client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType

from bench.harness import cpu_seconds, rss_kib

CLIENT = "client"  # this process, where every client of the benchmark runs


@dataclass(frozen=True)
class Usage:
    """The wall-clock seconds of a measured block and the CPU seconds each process spent during it."""

    wall: float
    cpu: dict[str, float]  # by role: "client" (this process), "gateway", "emulator"


@dataclass
class Measured:
    """What `Meter.measure()` found, once its block has ended."""

    usage: Usage | None = None

    def result(self) -> Usage:
        """The usage of the block (which must have ended)."""
        if self.usage is None:
            raise RuntimeError("the measured block has not ended")
        return self.usage


@dataclass(frozen=True)
class Meter:
    """Measures blocks of code: wall-clock time, and CPU time of this process and of the child processes."""

    pids: Mapping[str, int]  # role -> process id, for the children ("gateway", "emulator")

    @contextmanager
    def measure(self) -> Iterator[Measured]:
        """Measure the block; the `Measured` it yields has its usage once the block ends."""
        measured = Measured()
        cpu = self._cpu()
        started = time.perf_counter()
        yield measured
        wall = time.perf_counter() - started
        measured.usage = Usage(wall, {role: spent - cpu[role] for role, spent in self._cpu().items()})

    def _cpu(self) -> dict[str, float]:
        return {CLIENT: time.process_time(), **{role: cpu_seconds(pid) for role, pid in self.pids.items()}}


def rotation(names: Sequence[str], repetition: int) -> list[str]:
    """The order in which the clients take their turn in a repetition: each goes first in turn."""
    shift = repetition % len(names)
    return [*names[shift:], *names[:shift]]


@dataclass
class RssSampler:
    """Samples a process's RSS every `interval` seconds in a background thread, for a `with` block.

    Each sample is (seconds since the start, RSS in KiB, `progress[0]` at that moment), so memory can be
    read against how far the work had gone.
    """

    pid: int
    interval: float = 0.05
    progress: list[int] = field(default_factory=lambda: [0])  # a one-cell counter the measured code bumps
    samples: list[tuple[float, int, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _started: float = 0.0

    def sample(self) -> None:
        """Take one sample now."""
        now = time.perf_counter() - self._started
        self.samples.append((now, rss_kib(self.pid), self.progress[0]))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> RssSampler:
        self._started = time.perf_counter()
        self.sample()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()
