"""The bound on each wait for a streamed run's next event, kept by one timer for the whole stream.

Each wait for an event is bounded by `--timeout`, and by the client's deadline when it comes first. An
`asyncio.timeout` around each read schedules and cancels a timer per event; here one timer is armed for the
end of the wait under way, and does nothing per event: when it fires it either finds that events came
meanwhile (and is armed again for the end of the wait now under way) or ends that wait, through the one
`asyncio.Timeout` the stream is read in, with the TimeoutError an `asyncio.timeout` would raise. Only the
time spent waiting counts: while the caller holds an event (the gRPC client may be slow to take it), no
wait is under way, but a deadline that passes meanwhile ends the stream at the next wait.
"""

from __future__ import annotations

import asyncio
import time

from gateway.errors import DeadlineExceeded

SLACK = 0.002
"""Seconds by which the loop may run a timer early (its clock's resolution: uvloop's is a millisecond)."""


class Silences:
    """Call `waiting()` before each wait for an event and `came()` after it, within `bound` (an
    `asyncio.timeout(None)` around the stream); `close()` when the stream ends."""

    __slots__ = (
        "_bound",
        "_deadline",
        "_fired",
        "_handle",
        "_loop",
        "_passed",
        "_since",
        "_timeout",
        "_waiting",
    )

    def __init__(self, bound: asyncio.Timeout, timeout: float, deadline: float | None) -> None:
        """`timeout`: seconds a wait may last; `deadline`: the client's, on `time.monotonic`'s clock."""
        loop = self._loop = asyncio.get_running_loop()
        self._bound, self._timeout = bound, timeout
        self._deadline = None if deadline is None else loop.time() + (deadline - time.monotonic())
        self._waiting = self._fired = self._passed = False
        self._since = loop.time()
        self._handle = loop.call_at(self._end(), self._check)

    def waiting(self) -> None:
        """A wait for the next event begins; raise DeadlineExceeded if the deadline passed already."""
        if self._passed:
            raise DeadlineExceeded("the deadline passed while the run was streaming")
        self._since = self._loop.time()
        self._waiting = True

    def came(self) -> None:
        """The wait ended: an event (or the stream's end) came."""
        self._waiting = False
        if self._fired:  # the timer ended the wait in the very turn the event came: the event wins
            self._fired = False
            self._bound.reschedule(None)

    def close(self) -> None:
        """Disarm the timer."""
        self._handle.cancel()

    def _end(self) -> float:
        end = self._since + self._timeout
        return end if self._deadline is None or end < self._deadline else self._deadline

    def _check(self) -> None:
        now = self._loop.time()
        if not self._waiting:
            if self._deadline is not None and now + SLACK >= self._deadline:
                self._passed = True  # the next wait raises
                return
            self._since = now  # no wait is under way: the next can end no sooner than this
        end = self._end()
        if not self._waiting or end - now > SLACK:
            self._handle = self._loop.call_at(end, self._check)
            return
        self._fired = True
        self._bound.reschedule(now)  # ends the wait: the stream's Timeout cancels it into TimeoutError
