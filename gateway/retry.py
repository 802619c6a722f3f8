"""Retries: which failed upstream calls may be made again, and how long to wait before each.

The timing is the official SDK's (openai-python `_base_client.py`): 2 retries, exponential backoff from
0.5 s doubling up to 8 s with up to 25 % jitter, and the upstream's own `retry-after-ms` / `retry-after`
when it asks for 0-60 s. What differs is *which* calls are retried. The SDK retries any request; a gateway
in front of state-changing POSTs must never turn one CreateRun into two runs, so:

- a safe call (a GET, or any call that carries the client's `idempotency-key`) is retried after a transport
  error and after HTTP 408, 409, 429 and 5xx;
- any other call only where the upstream provably did not act: the connection was never made (connect
  error or timeout, no pooled connection free in time) or it answered 429.

An upstream's `x-should-retry: false` stops retries. A retry never outlives the client's deadline: the
caller checks the wait against it before sleeping (see `Upstream.request`).
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRIED_STATUSES = frozenset({408, 409, 429})
"""Besides every 5xx: the statuses a safe call is retried after."""

NOT_SENT: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport errors raised before any byte of the request reached the upstream."""

MAX_HINT = 60.0
"""An upstream's retry-after above this (seconds) is ignored in favour of the backoff, as the SDK does."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many times and how soon a failed upstream call is made again."""

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.25

    def delay(self, retries_done: int, headers: Mapping[str, str] | None = None) -> float:
        """Seconds to wait before retry number `retries_done + 1`: the upstream's hint, else the backoff."""
        hinted = retry_after(headers) if headers is not None else None
        if hinted is not None and 0 < hinted <= MAX_HINT:
            return hinted
        backoff = min(self.initial_delay * 2.0**retries_done, self.max_delay)
        return backoff * (1 - self.jitter * random.random())


def is_safe(method: str, headers: Mapping[str, str]) -> bool:
    """Whether a call may be repeated whatever the upstream did: a read, or a write with an idempotency
    key."""
    return method in SAFE_METHODS or "idempotency-key" in headers


def retryable_error(error: Exception, safe: bool) -> bool:
    """Whether a call that got no HTTP answer may be made again (TimeoutError: the attempt's own time bound,
    `--timeout`, ran out; the client's deadline is checked before any retry)."""
    return isinstance(error, NOT_SENT) or (safe and isinstance(error, httpx.TransportError | TimeoutError))


def retryable_status(status: int, safe: bool, headers: Mapping[str, str]) -> bool:
    """Whether a call answered with the HTTP error `status` may be made again."""
    if headers.get("x-should-retry", "").lower() == "false":
        return False
    if status == 429:  # the upstream refused before doing anything
        return True
    return safe and (status in RETRIED_STATUSES or status >= 500)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the upstream asked to wait: `retry-after-ms`, else `retry-after` in seconds or as a date."""
    value = headers.get("retry-after-ms")
    if value is not None:
        seconds = _number(value)
        return None if seconds is None else seconds / 1000
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _number(value)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - time.time()


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
