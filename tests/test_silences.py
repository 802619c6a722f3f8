"""The one timer that bounds each wait for a streamed run's next event (gateway/silences.py)."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.errors import DeadlineExceeded
from gateway.silences import Silences


async def _waits(pauses: list[float], held: float, limit: float, deadline: float | None = None) -> int:
    """Wait `pauses` in turn for "events", holding each for `held` seconds; the number of events that came."""
    came = 0
    async with asyncio.timeout(None) as bound:
        silences = Silences(bound, limit, deadline)
        try:
            for pause in pauses:
                silences.waiting()
                await asyncio.sleep(pause)
                silences.came()
                came += 1
                await asyncio.sleep(held)  # the caller holds the event: no wait is under way
        finally:
            silences.close()
    return came


async def test_waits_shorter_than_the_timeout_pass_however_long_the_stream() -> None:
    assert await _waits([0.05] * 8, 0.0, limit=0.2) == 8  # 0.4 s in all, every wait under 0.2 s


async def test_a_wait_longer_than_the_timeout_is_a_timeout_error() -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await _waits([0.01, 0.01, 5.0], 0.0, limit=0.2)
    assert 0.2 <= time.monotonic() - started < 1.0


async def test_time_spent_holding_an_event_is_no_wait() -> None:
    assert await _waits([0.01, 0.01, 0.01], 0.3, limit=0.2) == 3


async def test_the_deadline_bounds_a_wait_before_the_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await _waits([0.01, 5.0], 0.0, limit=3.0, deadline=time.monotonic() + 0.2)
    assert time.monotonic() - started < 1.0


async def test_a_deadline_passed_while_an_event_is_held_ends_the_next_wait_at_once() -> None:
    with pytest.raises(DeadlineExceeded):
        await _waits([0.01, 0.01], 0.3, limit=3.0, deadline=time.monotonic() + 0.1)


async def test_an_event_that_comes_in_the_turn_the_timer_fires_wins() -> None:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(None) as bound:
        silences = Silences(bound, 0.05, None)
        silences.waiting()
        event = loop.create_future()
        loop.call_at(loop.time() + 0.01, event.set_result, None)
        # Both timers fall due in one turn of the loop, the event's first: the wait ends with the event.
        time.sleep(0.1)  # noqa: ASYNC251 (the loop must not run meanwhile)
        await event
        silences.came()
        await asyncio.sleep(0.01)
        silences.close()
    assert not bound.expired()
