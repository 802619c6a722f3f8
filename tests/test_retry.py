"""Retries: the policy's decisions as a table, then the upstream client retrying (or not) against a fake.

The rule that matters most: a call that creates or changes state is repeated only where the upstream
provably did not act, so one CreateRun can never become two runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from factories import rest_error, rest_run

from gateway.errors import DeadlineExceeded, UpstreamError
from gateway.retry import RetryPolicy, is_safe, retry_after, retryable_error, retryable_status
from gateway.upstream import CallOptions, Upstream

FAST = RetryPolicy(initial_delay=0.01, max_delay=0.02)
CREATE_BODY = b'{"assistant_id":"a"}'
REQUEST = httpx.Request("GET", "http://upstream.test/v1")


@pytest.mark.parametrize(
    ("status", "safe", "expected"),
    [
        (408, True, True),
        (409, True, True),
        (429, True, True),
        (500, True, True),
        (502, True, True),
        (503, True, True),
        (504, True, True),
        (400, True, False),
        (401, True, False),
        (404, True, False),
        # A state-changing POST: only a refusal that provably did nothing is retried.
        (429, False, True),
        (408, False, False),
        (409, False, False),
        (500, False, False),
        (503, False, False),
    ],
)
def test_which_statuses_are_retried(status: int, safe: bool, expected: bool) -> None:
    assert retryable_status(status, safe, {}) is expected


def test_the_upstream_can_say_do_not_retry() -> None:
    assert not retryable_status(503, True, {"x-should-retry": "false"})
    assert not retryable_status(429, False, {"x-should-retry": "False"})


@pytest.mark.parametrize(
    ("error", "safe", "expected"),
    [
        (httpx.ConnectError("refused", request=REQUEST), False, True),
        (httpx.ConnectTimeout("slow connect", request=REQUEST), False, True),
        (httpx.PoolTimeout("pool full", request=REQUEST), False, True),
        # Sent, then lost: the upstream may have acted.
        (httpx.ReadError("reset", request=REQUEST), False, False),
        (httpx.RemoteProtocolError("disconnected", request=REQUEST), False, False),
        (httpx.ReadTimeout("slow answer", request=REQUEST), False, False),
        (httpx.ReadError("reset", request=REQUEST), True, True),
        (httpx.RemoteProtocolError("disconnected", request=REQUEST), True, True),
        (TimeoutError(), True, True),
        (TimeoutError(), False, False),
    ],
)
def test_which_transport_errors_are_retried(error: Exception, safe: bool, expected: bool) -> None:
    assert retryable_error(error, safe) is expected


def test_safe_calls_are_reads_and_keyed_writes() -> None:
    assert is_safe("GET", {})
    assert not is_safe("POST", {"authorization": "Bearer x"})
    assert is_safe("POST", {"idempotency-key": "k-1"})


def test_retry_after_headers() -> None:
    assert retry_after({"retry-after-ms": "250"}) == 0.25
    assert retry_after({"retry-after": "3"}) == 3.0
    assert retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({"retry-after": "nan"}) is None
    assert retry_after({}) is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < (retry_after({"retry-after": later}) or 0) <= 30


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    policy = RetryPolicy()
    for retries_done, full in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0)]:
        delays = [policy.delay(retries_done) for _ in range(50)]
        assert all(0.75 * full <= delay <= full for delay in delays)
        assert len(set(delays)) > 1  # jittered


def test_a_hint_within_a_minute_wins_over_the_backoff() -> None:
    policy = RetryPolicy()
    assert policy.delay(0, {"retry-after-ms": "20"}) == 0.02
    assert policy.delay(0, {"retry-after": "7"}) == 7.0
    assert 0.375 <= policy.delay(0, {"retry-after": "3600"}) <= 0.5  # not believed: backoff instead
    assert 0.375 <= policy.delay(0, {"retry-after": "0"}) <= 0.5


Answer = Callable[[httpx.Request], httpx.Response]


class Flaky:
    """A fake upstream answering from a script, one entry per attempt, then 200 with a run."""

    def __init__(
        self, *script: int | type[httpx.TransportError], headers: dict[str, str] | None = None
    ) -> None:
        self.script = list(script)
        self.headers = headers or {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.script:
            return httpx.Response(200, json=rest_run())
        step = self.script.pop(0)
        if isinstance(step, int):
            return httpx.Response(step, json=rest_error("Try again."), headers=self.headers)
        raise step("scripted failure", request=request)


def upstream(flaky: Flaky, policy: RetryPolicy = FAST) -> Upstream:
    return Upstream(
        "http://upstream.test/v1",
        "sk-key-0123456789",
        retry_policy=policy,
        transport=httpx.MockTransport(flaky),
    )


async def test_a_get_is_retried_until_it_succeeds() -> None:
    flaky = Flaky(503, httpx.ReadError)
    data = await upstream(flaky).request("GET", "/threads/t/runs/r", CallOptions())
    assert data["id"] == "run_1"
    assert len(flaky.requests) == 3


async def test_a_get_gives_up_after_max_retries_with_the_last_error() -> None:
    flaky = Flaky(500, 502, 503, 504)
    with pytest.raises(UpstreamError) as error:
        await upstream(flaky).request("GET", "/threads/t/runs/r", CallOptions())
    assert error.value.status == 503
    assert len(flaky.requests) == 3


async def test_no_retries_when_turned_off() -> None:
    flaky = Flaky(503)
    with pytest.raises(UpstreamError):
        await upstream(flaky, RetryPolicy(max_retries=0)).request("GET", "/x", CallOptions())
    assert len(flaky.requests) == 1


@pytest.mark.parametrize(
    "failure", [500, 503, 409, httpx.ReadError, httpx.RemoteProtocolError, httpx.ReadTimeout]
)
async def test_a_create_run_that_may_have_acted_is_never_repeated(
    failure: int | type[httpx.TransportError],
) -> None:
    flaky = Flaky(failure)
    with pytest.raises((UpstreamError, httpx.TransportError)):
        await upstream(flaky).request("POST", "/threads/t/runs", CallOptions(), content=CREATE_BODY)
    assert len(flaky.requests) == 1


@pytest.mark.parametrize("failure", [429, httpx.ConnectError, httpx.ConnectTimeout])
async def test_a_create_run_the_upstream_did_not_act_on_is_retried(
    failure: int | type[httpx.TransportError],
) -> None:
    flaky = Flaky(failure)
    data = await upstream(flaky).request("POST", "/threads/t/runs", CallOptions(), content=CREATE_BODY)
    assert data["id"] == "run_1"
    assert [r.method for r in flaky.requests] == ["POST", "POST"]
    assert flaky.requests[0].content == flaky.requests[1].content


async def test_a_keyed_post_is_retried_and_keeps_its_key() -> None:
    flaky = Flaky(500, 503)
    options = CallOptions(headers={"idempotency-key": "create-42"})
    await upstream(flaky).request("POST", "/threads/t/runs", options, content=CREATE_BODY)
    assert [r.headers["idempotency-key"] for r in flaky.requests] == ["create-42"] * 3


async def test_retry_after_ms_is_honoured() -> None:
    flaky = Flaky(429, headers={"retry-after-ms": "300"})
    started = time.monotonic()
    await upstream(flaky, RetryPolicy(initial_delay=0.001)).request("GET", "/x", CallOptions())
    assert time.monotonic() - started >= 0.3
    assert len(flaky.requests) == 2


async def test_a_retry_never_outlives_the_deadline() -> None:
    # The upstream asks for 30 s; the client has 20 s left: the 429 is returned now, not after the deadline.
    flaky = Flaky(429, headers={"retry-after": "30"})
    started = time.monotonic()
    with pytest.raises(UpstreamError) as error:
        await upstream(flaky).request("GET", "/x", CallOptions(deadline=started + 20.0))
    # It takes milliseconds: waiting for a fair part of the time left (or of the hint) would show.
    assert time.monotonic() - started < 5.0
    assert error.value.status == 429
    assert error.value.retry_after == 30.0
    assert len(flaky.requests) == 1


async def test_an_expired_deadline_makes_no_call() -> None:
    flaky = Flaky()
    with pytest.raises(DeadlineExceeded):
        await upstream(flaky).request("GET", "/x", CallOptions(deadline=time.monotonic() - 0.1))
    assert flaky.requests == []
