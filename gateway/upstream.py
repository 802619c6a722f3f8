"""The upstream client: calls the REST API over one pooled transport and reads its answers.

It builds each request itself (the base URL split once, a call's URL joined as text, its headers a plain
dict) and sends it over `transport.py`'s seam, on aiohttp in production: measured, httpx's request building
and response wrapping had been a quarter of the gateway's busy time; every guarantee below is kept.

It owns the connection pool and keep-alive, the credentials (the client's `authorization` if it sent one,
else the configured API key), the time bound of each call, the retries (`retry.py` says which and when), and
the reading of an answer into JSON or into an `UpstreamError` built from the OpenAI error body (with a
fallback for bodies that are not JSON, such as a proxy's HTML 502 page). The caller says which version of
the API a call is for (its `OpenAI-Beta` header). A body larger than `max_body_bytes` is refused as it
streams in, so a hostile upstream cannot exhaust the gateway's memory. Secrets never leave this module in a
message.

`events` makes a streamed call (`"stream": true`) and reads its server-sent events with httpx-sse (over an
`httpx.Response` made around the raw chunks: the parser reads one): each event is bounded by
`max_body_bytes`, and the wait for the next one by the timeout (and the client's deadline); `done` ends the
stream, an `error` event raises the UpstreamError it describes, and a stream that ends without `done` raises
`StreamBroken`. Retries stop once the upstream has answered a stream.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
import time
import urllib.parse
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping
from contextlib import aclosing
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import httpx
import httpx_sse

from gateway import convert, metadata, retry, tracing
from gateway.auth import Auth, NoAuth, StaticKey
from gateway.bodies import read_error
from gateway.decoding import Budget, Decoder, Unreadable
from gateway.dialects import OPENAI, Dialect
from gateway.errors import (
    EVENT_ERROR_STATUS,
    BodiesOverBudget,
    DeadlineExceeded,
    ShuttingDown,
    StreamBroken,
    UpstreamError,
    UpstreamProtocolError,
)
from gateway.retry import RetryPolicy
from gateway.silences import Silences
from gateway.transport import AiohttpTransport, HttpxTransport, Response, Transport

log = logging.getLogger(__name__)

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


Params = Mapping[str, str | int | list[str]]
"""Query parameters; a list is sent as one parameter per value (`include[]=a&include[]=b`)."""


@dataclass(slots=True)
class _Call:
    method: str
    path: str
    params: Params | None
    content: bytes | None
    headers: dict[str, str]
    route: str


_EVENT_STREAM = {"content-type": "text/event-stream"}
"""The headers of the httpx.Response the parser reads (it checks the media type, which `events` did)."""


class _CappedStream(httpx.AsyncByteStream):
    """A response body that refuses more than `cap` bytes between two events (`taken` marks an event)."""

    def __init__(self, chunks: AsyncIterator[bytes], cap: int) -> None:
        self._chunks = chunks
        self._cap, self._size = cap, 0

    def taken(self) -> None:
        self._size = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            self._size += len(chunk)
            if self._size > self._cap:
                raise UpstreamProtocolError(f"upstream sent an event over {self._cap} bytes")
            yield chunk


@dataclass(frozen=True, slots=True)
class _Answer:
    response: Response
    body: bytes | bytearray
    held: int = 0
    """Bytes of the shared body budget the body holds, given back once it has been read into JSON."""


class RestClient(Protocol):
    """What the core calls its upstream through: the Assistants REST API's calls, answered as that API
    answers them. `Upstream` is one (the REST API itself); `responses.adapter.ResponsesUpstream` another
    (the same calls served over the Responses and Conversations APIs and a run store)."""

    async def request(
        self,
        method: str,
        path: str,
        options: CallOptions,
        *,
        params: Params | None = None,
        content: bytes | None = None,
        route: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """A REST call's JSON object (see `Upstream.request`)."""
        ...

    def events(
        self,
        method: str,
        path: str,
        options: CallOptions,
        *,
        params: Params | None = None,
        content: bytes | None = None,
        route: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> AsyncGenerator[tuple[str, str], None]:
        """A streamed REST call's server-sent events, (name, data), until `done` (see `Upstream.events`)."""
        ...

    async def aclose(self) -> None:
        """Release what the client holds."""
        ...


class Upstream:
    """Calls the REST API at `base_url` (for example https://api.openai.com/v1) over one pooled client."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        auth: Auth | None = None,
        dialect: Dialect = OPENAI,
        headers: Mapping[str, str] | None = None,
        timeout: float = 60.0,
        max_connections: int = 100,
        retry_policy: RetryPolicy | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        budget: Budget | None = None,
        transport: Transport | httpx.AsyncBaseTransport | None = None,
        observe: Observe | None = None,
    ) -> None:
        """`auth` is the gateway's own credential (default: `api_key` as a bearer token, if given);
        `dialect`, how the server wants to be called; `headers`, static headers sent with every request
        (secrets, such as astra's `astra-api-token`: kept out of every message like a key); `transport`,
        what carries the bytes (an httpx transport, such as a test's `httpx.MockTransport`, is run behind
        `HttpxTransport`)."""
        self._auth: Auth = auth or (StaticKey(api_key) if api_key else NoAuth())
        self._dialect = dialect
        self._static = {name.lower(): value for name, value in (headers or {}).items()}
        self._base, query = split_base_url(base_url, dialect)
        self._query = urllib.parse.urlencode(query)
        url = httpx.URL(self._base)  # once, here: no request parses a URL
        self.server = (url.host, url.port or (443 if url.scheme == "https" else 80))
        """The upstream's host and port (for traces)."""
        self._timeout = timeout
        self._retry = retry_policy or RetryPolicy()
        self._max_body = max_body_bytes
        self._budget = budget or Budget()
        self._closed = False
        self._observe = observe
        if transport is None:
            transport = AiohttpTransport(max_connections=max_connections)
        elif isinstance(transport, httpx.AsyncBaseTransport):
            transport = HttpxTransport(transport)
        self._transport: Transport = transport

    @property
    def has_credential(self) -> bool:
        """Whether the gateway calls with a credential of its own (a key, Entra ID, static headers), not
        only with what clients forward."""
        return not isinstance(self._auth, NoAuth) or bool(self._static)

    async def request(
        self,
        method: str,
        path: str,
        options: CallOptions,
        *,
        params: Params | None = None,
        content: bytes | None = None,
        route: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Make a REST call (retried as `retry.py` allows) and return its JSON object; raise UpstreamError
        for an HTTP error answer, or the transport error when no answer came.

        `content` is the JSON body, already encoded (`convert.encode`), sent as it is; `headers`, the
        call's own (the API version's `OpenAI-Beta`).

        Each attempt is bounded by the client's deadline (or the default timeout) as a whole, not per read;
        no retry starts when its wait would end past the deadline. `route` is the path template, for metrics.
        """
        sent = await self._headers(options, headers, content)
        call = _Call(method, path, params, content, sent, route or path)
        call.headers["accept"] = "application/json"  # as the SDKs send it
        call.headers["accept-encoding"] = "gzip, deflate"  # what `decoding.py` inflates
        answer = await self._answered(call, options, stream=False)
        try:
            return self._json(answer)
        finally:
            self._budget.give(answer.held)

    async def events(
        self,
        method: str,
        path: str,
        options: CallOptions,
        *,
        params: Params | None = None,
        content: bytes | None = None,
        route: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> AsyncGenerator[tuple[str, str], None]:
        """Make a streamed REST call and yield (name, data) of each server-sent event, in order, until the
        upstream's `done`; raise as `request` does before the stream begins (retries included), then the
        UpstreamError of an `error` event, or StreamBroken for a stream that ends without `done`.

        Closing the iterator closes the upstream stream (the connection is not reused).
        """
        sent = await self._headers(options, headers, content)
        call = _Call(method, path, params, content, sent, route or path)
        call.headers["accept"] = "text/event-stream"
        # Events are never decoded here: a stream that is compressed anyway is refused (see below).
        call.headers["accept-encoding"] = "identity"
        answer = await self._answered(call, options, stream=True)
        response, count = answer.response, 0
        try:
            if response.headers.get("content-encoding", "identity").strip().lower() != "identity":
                raise UpstreamProtocolError("upstream compressed an event stream it was asked not to")
            media_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
            if media_type != "text/event-stream":
                raise UpstreamProtocolError(
                    f"upstream answered HTTP {response.status} to a streamed call with a body that is "
                    "not an event stream"
                )
            capped = _CappedStream(response.chunks(), self._max_body)
            # The parser reads an httpx.Response: one made here around the raw chunks, once per stream.
            wrapped = httpx.Response(response.status, headers=_EVENT_STREAM, stream=capped)
            async with (
                asyncio.timeout(None) as bound,
                aclosing(httpx_sse.EventSource(wrapped).aiter_sse()) as source,
            ):
                silences = Silences(bound, self._timeout, options.deadline)
                try:
                    while True:
                        silences.waiting()
                        event = await anext(source, None)
                        silences.came()
                        if event is None:
                            if self._dialect.closes_streams:
                                return
                            raise StreamBroken(count)
                        capped.taken()
                        name, data = self._event(event.event, event.data)
                        if name == "done":
                            return
                        if name == "error":
                            raise self._event_error(data, call.headers)
                        count += 1
                        yield name, data
                finally:
                    silences.close()
        except httpx_sse.SSEError as exc:
            raise UpstreamProtocolError(f"upstream sent a malformed event stream: {exc}") from None
        except httpx.TransportError as exc:
            raise StreamBroken(count) from exc
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections (and what the credential holds); nothing is retried from now on."""
        self._closed = True
        await self._transport.aclose()
        await self._auth.aclose()

    async def _answered(self, call: _Call, options: CallOptions, *, stream: bool) -> _Answer:
        """The first answer that is no error, after the retries `retry.py` allows; raise the last error.
        With `stream`, a successful answer's body is left open, unread."""
        if self._closed:
            raise ShuttingDown("the gateway is shutting down: its upstream client is closed")
        safe = retry.is_safe(call.method, call.headers)
        retries = 0
        while True:
            try:
                with tracing.client_span(self.server, call, retries) as span:
                    answer = await self._attempt(call, options, stream)
                    span.answered(answer.response.status)
            except (httpx.TransportError, TimeoutError) as exc:
                if not await self._backoff(options, retries, retry.retryable_error(exc, safe), None, exc):
                    raise
            else:
                status = answer.response.status
                if 200 <= status < 300:
                    return answer
                self._budget.give(answer.held)  # an error's body is read into the error here
                if 300 <= status < 400:
                    raise _redirected(answer.response)
                error = self._error(answer, call.headers)
                again = retry.retryable_status(status, safe, answer.response.headers)
                if not await self._backoff(options, retries, again, answer.response.headers, error):
                    raise error
            retries += 1

    async def _attempt(self, call: _Call, options: CallOptions, stream: bool) -> _Answer:
        timeout = self._time_left(options)
        exchange = current_exchange.get()
        if exchange is not None:
            exchange.attempts += 1
        started, outcome = time.perf_counter(), "unknown"
        try:
            async with asyncio.timeout(timeout):
                response = await self._transport.send(
                    call.method,
                    self._url(call),
                    call.headers,
                    call.content,
                    connect=timeout,
                    # A stream's reads are bounded per event by `events` (a read timeout would end a
                    # silence as a broken connection, not as the timeout it is).
                    read=None if stream else timeout,
                )
                body, held = bytearray(), 0
                if not stream or not 200 <= response.status < 300:
                    try:
                        body, held = await self._read(response)
                    finally:
                        try:
                            await response.aclose()
                        except BaseException:
                            self._budget.give(held)
                            raise
            outcome = str(response.status)
        except BaseException as exc:
            outcome = type(exc).__name__
            raise
        finally:
            if self._observe is not None:
                self._observe(call.method, call.route, outcome, time.perf_counter() - started)
        if exchange is not None:
            # An upstream may echo a credential in any header it returns: none reaches a trailer or a log.
            secrets = self._secrets(call.headers)
            returned = metadata.returned_metadata(response.headers.items())
            exchange.status = response.status
            exchange.request_id = _redact_all(response.headers.get("x-request-id"), secrets)
            exchange.metadata = tuple((name, _redact(value, secrets)) for name, value in returned)
            exchange.poll_after = _milliseconds(response.headers.get("openai-poll-after-ms"))
        return _Answer(response, body, held)

    def _url(self, call: _Call) -> str:
        """The call's URL: the base, its path (quoted already), the base's query, then the call's own."""
        query = self._query
        if call.params:
            own = urllib.parse.urlencode(_pairs(call.params))
            query = f"{query}&{own}" if query else own
        return f"{self._base}{call.path}?{query}" if query else f"{self._base}{call.path}"

    async def _read(self, response: Response) -> tuple[bytearray, int]:
        """The body, decoded, and the bytes of the shared budget it holds (give them back when done).

        It is inflated a step at a time and refused as soon as it passes the per-body cap, or as soon as
        all bodies held together would pass the budget: a hostile upstream cannot exhaust the memory."""
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_body:
            raise self._too_large(response)
        try:
            decoder = Decoder(response.headers.get("content-encoding"))
        except Unreadable as exc:
            raise UpstreamProtocolError(str(exc)) from None
        body = bytearray()
        try:
            async for raw in response.chunks():
                for piece in decoder.feed(raw):
                    if len(body) + len(piece) > self._max_body:
                        raise self._too_large(response)
                    if not self._budget.take(len(piece)):
                        raise BodiesOverBudget(self._budget.limit)
                    body += piece
        except BaseException as exc:
            # Given back now, and freed now: the exception's traceback keeps this frame, and so the body,
            # alive for as long as the error travels (eight refused bodies of 64 MiB were all still held).
            self._budget.give(len(body))
            body.clear()
            if isinstance(exc, Unreadable):
                raise UpstreamProtocolError(str(exc)) from None
            raise
        return body, len(body)

    def _too_large(self, response: Response) -> UpstreamProtocolError:
        return UpstreamProtocolError(
            f"upstream answered HTTP {response.status} with a body over {self._max_body} bytes"
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
        if not retryable or retries >= self._retry.max_retries or self._closed:
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
        return not self._closed  # closed meanwhile (the gateway is stopping): the last failure stands

    def _time_left(self, options: CallOptions) -> float:
        if options.deadline is None:
            return self._timeout
        left = min(options.deadline - time.monotonic(), self._timeout)
        if left <= 0:
            raise DeadlineExceeded("the deadline passed before the upstream call")
        return left

    async def _headers(
        self, options: CallOptions, extra: Mapping[str, str] | None, content: bytes | None
    ) -> dict[str, str]:
        headers = {"user-agent": "runs-gateway", **self._static, **options.headers}
        if extra:
            headers.update(extra)
            if not self._dialect.send_beta:
                headers.pop("openai-beta", None)
        if "authorization" not in headers:  # a client's own credential wins, else the gateway's
            credential = await self._auth.header()
            if credential is not None:
                headers[credential[0]] = credential[1]
        if content is not None:
            headers["content-type"] = "application/json"
        return headers

    def _secrets(self, headers: Mapping[str, str]) -> list[str]:
        """Every secret a call may have sent: the client's, the gateway's credential, static headers."""
        sent = headers.get("authorization", "").removeprefix("Bearer ").strip()
        return [sent, *self._auth.secrets(), *self._static.values()]

    def _event(self, name: str, data: str) -> tuple[str, str]:
        """An event's name and data as the API has them. An event without a name of its own whose data is
        `{"event": ..., "data": ...}` is unwrapped (astra writes its events so, on `data:` lines alone); a
        server's times in other units than seconds are scaled (its dialect says)."""
        if name != "message" or not data.startswith("{"):
            return (name, data) if self._dialect.time_scale == 1 else (name, self._scaled_text(data))
        try:
            envelope = jsonlib.loads(data)
        except ValueError:
            return name, data
        if (
            not isinstance(envelope, dict)
            or not isinstance(envelope.get("event"), str)
            or "data" not in envelope
        ):
            return name, data
        inner = envelope["data"]
        if self._dialect.time_scale != 1:
            inner = scaled_times(inner, self._dialect.time_scale)
        return envelope["event"], inner if isinstance(inner, str) else jsonlib.dumps(inner)

    def _scaled_text(self, data: str) -> str:
        try:
            return jsonlib.dumps(scaled_times(jsonlib.loads(data), self._dialect.time_scale))
        except ValueError:
            return data

    def _event_error(self, data: str, headers: Mapping[str, str]) -> UpstreamError:
        """The UpstreamError an `error` event describes: its data is an OpenAI error object, bare or
        wrapped in `{"error": ...}` (both are seen)."""
        try:
            payload = jsonlib.loads(data)
        except ValueError:
            payload = None
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
            payload = payload["error"]
        if not isinstance(payload, dict) or not isinstance(payload.get("message"), str):
            payload = {"message": "upstream sent an error event without an error object"}
        kind = _str_or_none(payload.get("type"))
        param = _str_or_none(payload.get("param"))
        secrets = self._secrets(headers)
        return UpstreamError(
            EVENT_ERROR_STATUS.get(kind or "", 500),
            _redact(payload["message"], secrets),
            type=kind,
            param=_redact(param, secrets) if param else None,
            error_code=_str_or_none(payload.get("code")),
            in_stream=True,
        )

    def _json(self, answer: _Answer) -> dict[str, Any]:
        status = answer.response.status
        try:
            data = convert.loads(answer.body)
        except ValueError as exc:
            raise UpstreamProtocolError(
                f"upstream answered HTTP {status} with a body that is not JSON"
            ) from exc
        if not isinstance(data, dict):
            raise UpstreamProtocolError(f"upstream answered HTTP {status} with a non-object body")
        return (
            data
            if self._dialect.time_scale == 1
            else cast(dict[str, Any], scaled_times(data, self._dialect.time_scale))
        )

    def _error(self, answer: _Answer, headers: Mapping[str, str]) -> UpstreamError:
        response = answer.response
        body = read_error(answer.body)
        secrets = self._secrets(headers)

        def clean(text: str | None) -> str | None:
            return _redact(text, secrets) if text else None

        fallback = f"upstream answered HTTP {response.status} {response.reason}".strip()
        return UpstreamError(
            response.status,
            clean(body.message) or fallback,
            type=clean(body.type),
            param=clean(body.param),
            error_code=clean(body.code),
            request_id=_redact_all(response.headers.get("x-request-id"), secrets),
            retry_after=retry.retry_after(response.headers),
            api_error=body.message is not None,
            beta=headers.get("openai-beta"),
            violations=tuple((field, _redact(text, secrets)) for field, text in body.violations),
        )


def _redact(message: str, secrets: Iterable[str]) -> str:
    # An upstream may echo the credentials it was sent; they must not reach the client or a log.
    for secret in secrets:
        if len(secret) >= 8:
            message = message.replace(secret, "[redacted]")
    return message


def _redirected(response: Response) -> UpstreamProtocolError:
    """Only a 2xx is an answer: a redirect is never followed (it may lead anywhere, a cloud's metadata
    address included), nor is its body taken for the answer."""
    where = response.headers.get("location", "")[:200]
    return UpstreamProtocolError(
        f"upstream answered HTTP {response.status}, a redirect{f' to {where}' if where else ''}: the "
        "gateway follows no redirects; point --upstream at the URL the API is served at"
    )


def scaled_times(value: Any, scale: int) -> Any:
    """`value` with every time (`*_at`) in whole seconds, from a server's units of 1/`scale` second."""
    if isinstance(value, dict):
        return {
            key: item // scale
            if key.endswith("_at") and type(item) in (int, float)
            else scaled_times(item, scale)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [scaled_times(item, scale) for item in value]
    return value


def _redact_all(value: str | None, secrets: Iterable[str]) -> str | None:
    return _redact(value, secrets) if value else value


def split_base_url(base_url: str, dialect: Dialect) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The base URL without its query, and the query every request carries: the dialect's defaults, then
    the URL's own (which win), in that order. (httpx would drop a base URL's query from every request.)"""
    url = httpx.URL(base_url)
    own = url.params.multi_items()
    given = {name for name, _ in own}
    defaults = [(name, value) for name, value in dialect.query.items() if name not in given]
    return str(url.copy_with(query=None)).rstrip("/"), (*defaults, *own)


def _pairs(params: Params) -> list[tuple[str, str | int]]:
    """A call's parameters as pairs (a list: one parameter per value)."""
    pairs: list[tuple[str, str | int]] = []
    for name, value in params.items():
        if isinstance(value, list):
            pairs.extend((name, item) for item in value)
        else:
            pairs.append((name, value))
    return pairs


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _milliseconds(value: str | None) -> float | None:
    """Seconds from a header in whole milliseconds, or None when it is absent or not a number."""
    return int(value) / 1000 if value is not None and value.strip().isdigit() else None
