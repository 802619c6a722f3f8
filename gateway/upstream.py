"""The upstream client: one shared `httpx.AsyncClient` that calls the REST API and reads its answers.

Its bytes travel over aiohttp (`transport.py`), chosen by measurement: the same calls cost the gateway about a
quarter less CPU than over httpcore, with every guarantee below kept.

It owns the connection pool and keep-alive, the `OpenAI-Beta: assistants=v1` header, the credentials (the
client's `authorization` if it sent one, else the configured API key), the time bound of each call, the
retries (`retry.py` says which and when), and the reading of an answer into JSON or into an `UpstreamError`
built from the OpenAI error body (with a fallback for bodies that are not JSON, such as a proxy's HTML 502
page). A body larger than `max_body_bytes` is refused as it streams in, so a hostile upstream cannot exhaust
the gateway's memory. Secrets never leave this module in a message.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import httpx

from gateway import metadata, retry
from gateway.errors import DeadlineExceeded, UpstreamError, UpstreamProtocolError
from gateway.retry import RetryPolicy
from gateway.transport import AiohttpTransport

log = logging.getLogger(__name__)

BETA_HEADERS = {"OpenAI-Beta": "assistants=v1"}
MAX_BODY_BYTES = 64 * 1024 * 1024
"""The default cap on an upstream answer's body: a full page of the largest runs is well under it."""

Observe = Callable[[str, str, str, float], None]
"""Told of every REST attempt: (HTTP method, path template, HTTP status or transport error name, seconds)."""


@dataclass
class Exchange:
    """What the upstream last answered within one RPC: its HTTP status, `x-request-id`, the response
    metadata to return to the client, how many REST attempts the RPC made (retries included), and how long
    it asked a poller to wait."""

    status: int | None = None
    request_id: str | None = None
    metadata: tuple[tuple[str, str], ...] = ()
    attempts: int = 0
    poll_after: float | None = None
    """Seconds the upstream asked a poller to wait (`openai-poll-after-ms`), when it said."""


current_exchange: ContextVar[Exchange | None] = ContextVar("current_exchange", default=None)
"""The Exchange of the RPC being served, if whoever serves it wants one (a mutable record, so the tasks
that fetch pages ahead share it with the RPC's own task)."""


@dataclass(frozen=True, slots=True)
class CallOptions:
    """What one RPC brings to its REST calls: forwarded headers and an absolute deadline (time.monotonic)."""

    headers: Mapping[str, str] = field(default_factory=dict)
    deadline: float | None = None

    @classmethod
    def from_metadata(
        cls, request_metadata: Iterable[tuple[str, str]], time_remaining: float | None
    ) -> CallOptions:
        """Options from a client's request metadata pairs (keys lower-case) and its remaining time in
        seconds; raise InvalidArgument for a forwarded value that is not a valid header value."""
        headers = metadata.forwarded_headers(request_metadata)
        deadline = None if time_remaining is None else time.monotonic() + time_remaining
        return cls(headers, deadline)


@dataclass(frozen=True, slots=True)
class _Answer:
    response: httpx.Response
    body: bytes


class Upstream:
    """Calls the REST API at `base_url` (for example https://api.openai.com/v1) over one pooled client."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        max_connections: int = 100,
        retry_policy: RetryPolicy | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
        observe: Observe | None = None,
    ) -> None:
        self._api_key = api_key
        self._timeout = timeout
        self._retry = retry_policy or RetryPolicy()
        self._max_body = max_body_bytes
        self._observe = observe
        if transport is None:
            transport = AiohttpTransport(max_connections=max_connections)
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={**BETA_HEADERS, "User-Agent": "runs-gateway"},
            timeout=timeout,
            transport=transport,
            # Credentials are explicit per call; never read from ~/.netrc or the environment's proxies.
            trust_env=False,
        )

    async def request(
        self,
        method: str,
        path: str,
        options: CallOptions,
        *,
        params: Mapping[str, str | int] | None = None,
        content: bytes | None = None,
        route: str = "",
    ) -> dict[str, Any]:
        """Make a REST call (retried as `retry.py` allows) and return its JSON object; raise UpstreamError
        for an HTTP error answer, or the transport error when no answer came.

        `content` is the JSON body, already encoded (`convert.encode`), sent as it is.

        Each attempt is bounded by the client's deadline (or the default timeout) as a whole, not per read;
        no retry starts when its wait would end past the deadline. `route` is the path template, for metrics.
        """
        headers = self._headers(options)
        if content is not None:
            headers["content-type"] = "application/json"
        safe = retry.is_safe(method, headers)
        retries = 0
        while True:
            try:
                answer = await self._attempt(method, path, options, params, content, headers, route or path)
            except (httpx.TransportError, TimeoutError) as exc:
                if not await self._backoff(options, retries, retry.retryable_error(exc, safe), None, exc):
                    raise
            else:
                if not answer.response.is_error:
                    return self._json(answer)
                error = self._error(answer, headers)
                again = retry.retryable_status(answer.response.status_code, safe, answer.response.headers)
                if not await self._backoff(options, retries, again, answer.response.headers, error):
                    raise error
            retries += 1

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._client.aclose()

    async def _attempt(
        self,
        method: str,
        path: str,
        options: CallOptions,
        params: Mapping[str, str | int] | None,
        content: bytes | None,
        headers: dict[str, str],
        route: str,
    ) -> _Answer:
        timeout = self._time_left(options)
        exchange = current_exchange.get()
        if exchange is not None:
            exchange.attempts += 1
        started, outcome = time.perf_counter(), "unknown"
        try:
            async with asyncio.timeout(timeout):
                request = self._client.build_request(
                    method, path, params=params, content=content, headers=headers, timeout=timeout
                )
                response = await self._client.send(request, stream=True)
                try:
                    body = await self._read(response)
                finally:
                    await response.aclose()
            outcome = str(response.status_code)
        except BaseException as exc:
            outcome = type(exc).__name__
            raise
        finally:
            if self._observe is not None:
                self._observe(method, route, outcome, time.perf_counter() - started)
        if exchange is not None:
            exchange.status = response.status_code
            exchange.request_id = response.headers.get("x-request-id")
            exchange.metadata = metadata.returned_metadata(response.headers.multi_items())
            exchange.poll_after = _milliseconds(response.headers.get("openai-poll-after-ms"))
        return _Answer(response, body)

    async def _read(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_body:
            raise self._too_large(response)
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self._max_body:
                raise self._too_large(response)
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, response: httpx.Response) -> UpstreamProtocolError:
        return UpstreamProtocolError(
            f"upstream answered HTTP {response.status_code} with a body over {self._max_body} bytes"
        )

    async def _backoff(
        self,
        options: CallOptions,
        retries: int,
        retryable: bool,
        headers: Mapping[str, str] | None,
        failure: Exception,
    ) -> bool:
        """Wait before the next attempt and say True, or say False when there must be none."""
        if not retryable or retries >= self._retry.max_retries:
            return False
        wait = self._retry.delay(retries, headers)
        if options.deadline is not None and time.monotonic() + wait >= options.deadline:
            return False
        log.info(
            "retrying upstream call",
            extra={
                "fields": {"retry": retries + 1, "after": type(failure).__name__, "wait_s": round(wait, 3)}
            },
        )
        await asyncio.sleep(wait)
        return True

    def _time_left(self, options: CallOptions) -> float:
        if options.deadline is None:
            return self._timeout
        left = min(options.deadline - time.monotonic(), self._timeout)
        if left <= 0:
            raise DeadlineExceeded("the deadline passed before the upstream call")
        return left

    def _headers(self, options: CallOptions) -> dict[str, str]:
        headers = dict(options.headers)
        if "authorization" not in headers and self._api_key:
            headers["authorization"] = f"Bearer {self._api_key}"
        return headers

    @staticmethod
    def _json(answer: _Answer) -> dict[str, Any]:
        status = answer.response.status_code
        try:
            data = jsonlib.loads(answer.body)
        except ValueError as exc:
            raise UpstreamProtocolError(
                f"upstream answered HTTP {status} with a body that is not JSON"
            ) from exc
        if not isinstance(data, dict):
            raise UpstreamProtocolError(f"upstream answered HTTP {status} with a non-object body")
        return data

    @staticmethod
    def _error(answer: _Answer, headers: Mapping[str, str]) -> UpstreamError:
        response = answer.response
        try:
            payload = jsonlib.loads(answer.body)
        except ValueError:
            payload = None
        error = payload.get("error") if isinstance(payload, dict) else None
        api_error = isinstance(error, dict) and isinstance(error.get("message"), str)
        if not isinstance(error, dict) or not api_error:
            error = {
                "message": f"upstream answered HTTP {response.status_code} {response.reason_phrase}".strip()
            }
        param = _str_or_none(error.get("param"))
        return UpstreamError(
            response.status_code,
            _redact(error["message"], headers),
            type=_str_or_none(error.get("type")),
            param=_redact(param, headers) if param else None,
            error_code=_str_or_none(error.get("code")),
            request_id=response.headers.get("x-request-id"),
            retry_after=retry.retry_after(response.headers),
            api_error=api_error,
        )


def _redact(message: str, headers: Mapping[str, str]) -> str:
    # An upstream may echo the credentials it was sent; they must not reach the client or a log.
    secret = headers.get("authorization", "").removeprefix("Bearer ").strip()
    return message.replace(secret, "[redacted]") if len(secret) >= 8 else message


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _milliseconds(value: str | None) -> float | None:
    """Seconds from a header in whole milliseconds, or None when it is absent or not a number."""
    return int(value) / 1000 if value is not None and value.strip().isdigit() else None
