"""The upstream client: one shared `httpx.AsyncClient` that calls the REST API and reads its answers.

It owns the connection pool and keep-alive, the `OpenAI-Beta: assistants=v1` header, the credentials (the
client's `authorization` if it sent one, else the configured API key), the time bound of each call, and the
reading of an answer into JSON or into an `UpstreamError` built from the OpenAI error body (with a fallback
for bodies that are not JSON, such as a proxy's HTML 502 page). Secrets never leave this module in a message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import httpx

from gateway.errors import DeadlineExceeded, InvalidArgument, UpstreamError, UpstreamProtocolError

FORWARDED_HEADERS = ("authorization", "openai-organization")
"""Request metadata forwarded to the upstream as HTTP headers; nothing else is."""

BETA_HEADERS = {"OpenAI-Beta": "assistants=v1"}

Observe = Callable[[str, str, str, float], None]
"""Told of every REST call: (HTTP method, path template, HTTP status or transport error name, seconds)."""


@dataclass
class Exchange:
    """What the upstream last answered within one RPC: its HTTP status and `x-request-id`."""

    status: int | None = None
    request_id: str | None = None


current_exchange: ContextVar[Exchange | None] = ContextVar("current_exchange", default=None)
"""The Exchange of the RPC being served, if whoever serves it wants one (a mutable record, so the tasks
that fetch pages ahead share it with the RPC's own task)."""


@dataclass(frozen=True, slots=True)
class CallOptions:
    """What one RPC brings to its REST calls: forwarded headers and an absolute deadline (time.monotonic)."""

    headers: Mapping[str, str] = field(default_factory=dict)
    deadline: float | None = None

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str], time_remaining: float | None) -> CallOptions:
        """Options from a client's request metadata (keys lower-case) and its remaining time in seconds."""
        headers = {k: metadata[k] for k in FORWARDED_HEADERS if k in metadata}
        deadline = None if time_remaining is None else time.monotonic() + time_remaining
        return cls(headers, deadline)


class Upstream:
    """Calls the REST API at `base_url` (for example https://api.openai.com/v1) over one pooled client."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
        observe: Observe | None = None,
    ) -> None:
        self._api_key = api_key
        self._timeout = timeout
        self._observe = observe
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={**BETA_HEADERS, "User-Agent": "runs-gateway"},
            timeout=timeout,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
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
        json: Any = None,
        route: str = "",
    ) -> dict[str, Any]:
        """Make one REST call and return its JSON object; raise UpstreamError for an HTTP error answer.

        The call is bounded by the client's deadline (or the default timeout) as a whole, not per read.
        `route` is the path template the call was made from, for metrics.
        """
        timeout = self._time_left(options)
        headers = self._headers(options)
        started, outcome = time.perf_counter(), "unknown"
        try:
            async with asyncio.timeout(timeout):
                response = await self._client.request(
                    method, path, params=params, json=json, headers=headers, timeout=timeout
                )
            outcome = str(response.status_code)
        except BaseException as exc:
            outcome = type(exc).__name__
            raise
        finally:
            if self._observe is not None:
                self._observe(method, route or path, outcome, time.perf_counter() - started)
        exchange = current_exchange.get()
        if exchange is not None:
            exchange.status, exchange.request_id = response.status_code, response.headers.get("x-request-id")
        if response.is_error:
            raise self._error(response, headers)
        return self._json(response)

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._client.aclose()

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
        for name, value in headers.items():
            if not value.isprintable() or not value.isascii():
                raise InvalidArgument(name, "metadata value must be printable ASCII")
        return headers

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError as exc:
            raise UpstreamProtocolError(
                f"upstream answered HTTP {response.status_code} with a body that is not JSON"
            ) from exc
        if not isinstance(data, dict):
            raise UpstreamProtocolError(
                f"upstream answered HTTP {response.status_code} with a non-object body"
            )
        return data

    @staticmethod
    def _error(response: httpx.Response, headers: Mapping[str, str]) -> UpstreamError:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        error = payload.get("error") if isinstance(payload, dict) else None
        if not isinstance(error, dict) or not isinstance(error.get("message"), str):
            error = {
                "message": f"upstream answered HTTP {response.status_code} {response.reason_phrase}".strip()
            }
        return UpstreamError(
            response.status_code,
            _redact(error["message"], headers),
            type=_str_or_none(error.get("type")),
            param=_str_or_none(error.get("param")),
            error_code=_str_or_none(error.get("code")),
            request_id=response.headers.get("x-request-id"),
        )


def _redact(message: str, headers: Mapping[str, str]) -> str:
    # An upstream may echo the credentials it was sent; they must not reach the client or a log.
    secret = headers.get("authorization", "").removeprefix("Bearer ").strip()
    return message.replace(secret, "[redacted]") if len(secret) >= 8 else message


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
