"""Watching a run: one upstream poll loop per watched run, shared by every watcher with the same credentials.

The Runs API has no push, so a run is followed by polling `GET .../runs/{run_id}` (and, with steps, its
steps list). A `_Loop` polls one run for all its watchers: it starts with the first watcher, stops (its
request in flight cancelled) when the last one leaves, and keeps only the latest state: the run, and each
step by id, each with a version that grows when it changes (any field: REST objects are compared whole).
A watcher keeps only the versions it has sent, so one that reads slowly never stalls the loop or the other
watchers and never makes memory grow: it skips to the run's latest state, and gets every step in its
latest state. Watchers with different credentials (`authorization`, `openai-organization`,
`openai-project`) never share a loop, so no key sees what another key fetched.

A loop polls every `interval` seconds, or after the upstream's `openai-poll-after-ms` whenever it sends
one, and ends after the poll that shows a terminal status (`completed`, `failed`, `cancelled`,
`expired`, `incomplete`) or a status this version does not know, which it cannot tell will ever change:
the watchers then end with `RunStatusUnknown` after the run that shows it, rather than poll forever. Polls
are reads, retried as `retry.py` allows; an error that outlives the retries ends the loop, and each watcher
ends with it after the messages it has sent (a run that does not exist: at once). When the gateway stops,
every watch ends at once with `ShuttingDown` (UNAVAILABLE), so its client can watch again elsewhere.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import Message

from gateway.errors import DeadlineExceeded, RunStatusUnknown, ShuttingDown, UpstreamProtocolError
from gateway.upstream import CallOptions, Exchange, current_exchange

TERMINAL = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})
"""Run statuses after which a run never changes again."""
ACTIVE = frozenset({"queued", "in_progress", "requires_action", "cancelling"})
"""Run statuses a run moves on from."""
CREDENTIALS = ("authorization", "openai-organization", "openai-project")
"""The request headers that say whose run it is: watchers share a loop only when these are the same."""
MAX_POLL_AFTER = 60.0
"""An `openai-poll-after-ms` above this (in seconds) is not believed: the interval applies instead."""
MIN_POLL = 0.01
"""The shortest wait between two polls, whatever the upstream asks (`openai-poll-after-ms: 0`)."""

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Target:
    """What a loop polls, and for whom: watchers of the same target share one loop.

    `path` is the resource's REST path, `parts` the path of the list of its parts (a run's steps) or None
    when they are not wanted, `rpc` the RPC whose messages the watchers send.
    """

    rpc: str
    path: str
    parts: str | None
    credentials: tuple[str | None, ...]


Poll = Callable[[Target, CallOptions], Awaitable[tuple[JSON, list[JSON] | None]]]
"""Fetches the resource, and its parts when wanted (None when not), with the given options."""
Convert = Callable[[Target, str, JSON], Message]
"""Turns (target, "run" | "run_step", REST object) into the message a watcher sends."""


@dataclass
class _Version:
    number: int
    rest: JSON
    message: Message


@dataclass(eq=False)
class _Loop:
    """The latest state of one watched run, and the task that polls for it."""

    run: _Version | None = None
    steps: dict[str, _Version] = field(default_factory=dict)  # in the order they appeared
    finished: bool = False
    error: Exception | None = None
    watchers: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        """Wake every watcher waiting for a change; later waiters wait for the next one."""
        self.changed.set()
        self.changed = asyncio.Event()


class Watches:
    """Every run being watched through this gateway, each polled by one loop.

    `poll` fetches a run (and its steps), `convert` makes the messages (once per version, whatever the
    number of watchers), `interval` is the seconds between polls unless the upstream says otherwise.
    """

    def __init__(self, poll: Poll, convert: Convert, interval: float = 1.0) -> None:
        self._poll = poll
        self._convert = convert
        self.interval = interval
        self._loops: dict[Target, _Loop] = {}
        self._closed = False
        self.polls = 0

    @property
    def watchers(self) -> int:
        """Watchers connected now, over every run."""
        return sum(loop.watchers for loop in self._loops.values())

    @property
    def loops(self) -> int:
        """Runs being polled now."""
        return len(self._loops)

    async def watch(self, target: Target, options: CallOptions) -> AsyncGenerator[Message, None]:
        """The run's messages for one watcher until the run ends; raise what ended the loop otherwise.

        `options` carries the watcher's credentials (for a loop it starts) and its deadline, which bounds
        this watcher only.
        """
        loop = self._join(target, options)
        sent_run, sent_steps = 0, dict[str, int]()
        try:
            while True:
                changed = loop.changed  # taken before reading: a change after the read wakes it
                pending = list(_unsent(loop, sent_run, sent_steps))
                for version, key in pending:
                    if key is None:
                        sent_run = version.number
                    else:
                        sent_steps[key] = version.number
                    yield version.message
                if pending:
                    continue  # the loop may have moved on while they were sent: read again
                if loop.finished:
                    self._end(loop)
                    return
                await _wait(changed, options.deadline)
        finally:
            self._leave(target, loop)

    def close(self) -> None:
        """End every watch now with `ShuttingDown` (after what each has sent) and refuse new ones."""
        self._closed = True
        for loop in self._loops.values():
            if loop.finished:
                continue  # its watchers are sending its end already
            if loop.task is not None:
                loop.task.cancel()
            loop.error, loop.finished = ShuttingDown("the gateway is shutting down: watch again"), True
            loop.notify()

    def _join(self, target: Target, options: CallOptions) -> _Loop:
        if self._closed:
            raise ShuttingDown("the gateway is shutting down: watch again")
        loop = self._loops.get(target)
        if loop is None or loop.finished:  # a finished loop's end is no news: a new watcher polls afresh
            loop = self._loops[target] = _Loop()
            headers = {k: v for k, v in options.headers.items() if k in CREDENTIALS}
            loop.task = asyncio.create_task(self._follow(loop, target, CallOptions(headers)))
        loop.watchers += 1
        return loop

    def _leave(self, target: Target, loop: _Loop) -> None:
        loop.watchers -= 1
        if loop.watchers == 0:
            if self._loops.get(target) is loop:
                del self._loops[target]
            if loop.task is not None and not loop.task.done():
                loop.task.cancel()  # the poll in flight too: its HTTP request is closed

    @staticmethod
    def _end(loop: _Loop) -> None:
        if loop.error is not None:
            raise loop.error.with_traceback(None)  # shared by the loop's watchers: no traceback piles up
        status = loop.run.rest.get("status") if loop.run is not None else None
        if status not in TERMINAL:
            raise RunStatusUnknown(
                f"the run's status {status!r} is unknown to this version of the gateway, which cannot tell "
                "whether it will change again: the run as last seen was sent; poll GetRun to follow it"
            )

    async def _follow(self, loop: _Loop, target: Target, options: CallOptions) -> None:
        exchange = Exchange()
        current_exchange.set(exchange)  # this task's own: the upstream records its poll-after header here
        try:
            while True:
                self.polls += 1
                run, steps = await self._poll(target, options)
                self._update(loop, target, run, steps)
                if run.get("status") not in ACTIVE:
                    loop.finished = True
                    return
                loop.notify()
                await asyncio.sleep(_delay(exchange, self.interval))
        except Exception as exc:  # what ends the loop ends every watch, after what each has sent
            loop.error, loop.finished = exc, True
        finally:
            loop.notify()

    def _update(self, loop: _Loop, target: Target, run: JSON, steps: list[JSON] | None) -> None:
        for step in steps or ():
            key = step.get("id")
            if not isinstance(key, str):
                raise UpstreamProtocolError("upstream run step has no id")
            loop.steps[key] = self._next(loop.steps.get(key), target, "run_step", step)
        loop.run = self._next(loop.run, target, "run", run)

    def _next(self, current: _Version | None, target: Target, kind: str, rest: JSON) -> _Version:
        if current is not None and current.rest == rest:
            return current
        return _Version((current.number if current else 0) + 1, rest, self._convert(target, kind, rest))


def _unsent(loop: _Loop, sent_run: int, sent_steps: dict[str, int]) -> Iterator[tuple[_Version, str | None]]:
    """What a watcher has not sent yet, in order: the run first, except a final run, which comes last (after
    every step in its final state)."""
    run = loop.run if loop.run is not None and loop.run.number > sent_run else None
    final = run is not None and loop.finished
    if run is not None and not final:
        yield run, None
    for key, step in loop.steps.items():
        if step.number > sent_steps.get(key, 0):
            yield step, key
    if run is not None and final:
        yield run, None


async def _wait(changed: asyncio.Event, deadline: float | None) -> None:
    if deadline is None:
        await changed.wait()
        return
    try:
        async with asyncio.timeout_at(_loop_time(deadline)):
            await changed.wait()
    except TimeoutError:
        raise DeadlineExceeded("the deadline passed while watching the run") from None


def _loop_time(deadline: float) -> float:
    # CallOptions deadlines are time.monotonic(); the event loop's clock is monotonic too, but not always the
    # same one (uvloop), so convert through the remaining time.
    return asyncio.get_running_loop().time() + (deadline - time.monotonic())


def _delay(exchange: Exchange, interval: float) -> float:
    after = exchange.poll_after
    return max(after, MIN_POLL) if after is not None and after <= MAX_POLL_AFTER else interval
