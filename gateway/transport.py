"""What carries the upstream client's bytes: the `Transport` seam, on aiohttp in production.

`Upstream` builds each request itself (its URL joined once per call from a base split once, its headers a
plain dict) and hands it to a `Transport`, which returns a `Response`: a status, case-insensitive headers,
the raw body chunk by chunk as it arrives, and `aclose`. Production's is `AiohttpTransport`, one
`aiohttp.ClientSession` (C parser, one connection pool) with no httpx in between: measured, httpx's request
building and response wrapping were a quarter of the gateway's busy time. `HttpxTransport` runs any
`httpx.AsyncBaseTransport` (the tests' `httpx.MockTransport` fakes) behind the same seam.

The errors stay httpx's classes, the one vocabulary `retry.py` and `errors.py` reason about. aiohttp's are
mapped as httpcore distinguishes them, and every promise the Retries section makes of a transport is kept:

- no retry of its own: aiohttp re-sends a GET/HEAD/OPTIONS/TRACE/PUT/DELETE once, unasked, after
  `ServerDisconnectedError` or `ClientOSError` while sending or awaiting the answer
  (`ClientSession._request`, aio-libs/aiohttp#7363) and has no public option to stop it (#10790). Here it
  is switched off by `_retry_connection`, the private switch added for aiohttp's own tests (#9396); the
  session refuses to start if that switch is gone, and tests count one request per attempt. Every attempt
  is `Upstream._attempt`'s, counted once;
- only an error raised before any request byte left names itself a connect error (`ConnectError`,
  `ConnectTimeout`), the only ones `retry.py` repeats for a write without a key; a reset or a close after
  the request went out is a `ReadError` / `RemoteProtocolError`, never retried for a POST;
- the response body is streamed chunk by chunk (at most 64 KiB each) as it arrives, so the body cap is
  enforced while it streams; a body not read to its end closes its connection instead of returning it to
  the pool;
- the timeouts: the pool wait and the connect are bounded by `connect` (the attempt's time), each read
  by `read` (none for a stream, whose silences `Upstream.events` bounds); the deadline of a whole attempt
  stays `Upstream`'s `asyncio.timeout`, and cancelling the attempt aborts the connection;
- at most `max_connections` connections, idle ones closed after `keepalive_expiry`, TCP_NODELAY;
- no cookies, no proxies from the environment, no redirects, no decompression (`decoding.py` inflates).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Mapping
from typing import Protocol

import aiohttp
import httpx
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

KEEPALIVE_EXPIRY = 5.0
"""Seconds an idle pooled connection is kept: httpx's default, within what servers commonly allow."""
CHUNK = 64 * 1024
"""The most bytes handed up per read. aiohttp's `readany` returns everything buffered, which for an event
stream sent in a burst is the whole run: the events behind the first would be split into lines before it
leaves. 64 KiB is what httpcore reads at a time."""

Headers = CIMultiDictProxy[str] | CIMultiDict[str]
"""A response's headers: case-insensitive, every value of a repeated name kept (`getall`, `items`)."""


class Response(Protocol):
    """An upstream's answer, its body not read yet."""

    @property
    def status(self) -> int: ...

    @property
    def reason(self) -> str: ...

    @property
    def headers(self) -> Headers: ...

    def chunks(self) -> AsyncIterator[bytes]:
        """The raw body (still encoded), chunk by chunk as it arrives; read it once."""
        ...

    async def aclose(self) -> None:
        """Give the connection back to the pool when the body was read to its end, else close it."""
        ...


class Transport(Protocol):
    """Sends one request, once: no retry, no redirect followed, no cookie kept."""

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        *,
        connect: float,
        read: float | None,
    ) -> Response:
        """The answer to `method url`; `connect` bounds the pool wait and the connect, `read` each read."""
        ...

    async def aclose(self) -> None:
        """Close the pooled connections."""
        ...


def _mapped(exc: aiohttp.ClientError) -> httpx.TransportError:
    """The httpx exception for an aiohttp one: the same distinctions httpcore makes."""
    message = str(exc) or type(exc).__name__
    kind: type[httpx.TransportError]
    if isinstance(exc, aiohttp.ConnectionTimeoutError):  # no pooled connection, or none made, in time
        kind = httpx.ConnectTimeout
    elif isinstance(exc, aiohttp.ServerTimeoutError):  # SocketTimeoutError: a read took too long
        kind = httpx.ReadTimeout
    elif isinstance(exc, aiohttp.ClientConnectorError):  # refused, DNS, TLS handshake: nothing was sent
        kind = httpx.ConnectError
    elif isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        kind = httpx.RemoteProtocolError  # closed before the answer or inside its body, as h11 says
    elif isinstance(exc, aiohttp.ClientResponseError):  # an answer that is not HTTP/1.1
        kind = httpx.RemoteProtocolError
    elif isinstance(exc, aiohttp.ClientOSError | aiohttp.ClientConnectionError):  # reset, broken pipe
        kind = httpx.ReadError
    elif isinstance(exc, aiohttp.InvalidURL):
        kind = httpx.UnsupportedProtocol
    else:
        kind = httpx.RemoteProtocolError
    return kind(message)


class _AiohttpResponse:
    __slots__ = ("_response", "headers", "reason", "status")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.reason = response.reason or ""
        self.headers: Headers = response.headers

    async def chunks(self) -> AsyncIterator[bytes]:
        content = self._response.content
        try:
            while chunk := await content.read(CHUNK):
                yield chunk
        except aiohttp.ClientError as exc:
            raise _mapped(exc) from exc

    async def aclose(self) -> None:
        response = self._response
        if response.content.is_eof():
            response.release()  # read to its end: the connection goes back to the pool
        else:
            response.close()  # not read to its end (cap, cancel, error): never reuse the connection


class AiohttpTransport:
    """HTTP/1.1 over one `aiohttp.ClientSession` (created on first use, on the running loop)."""

    def __init__(
        self,
        *,
        max_connections: int = 100,
        keepalive_expiry: float = KEEPALIVE_EXPIRY,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._max_connections = max_connections
        self._keepalive_expiry = keepalive_expiry
        self._ssl = ssl_context
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            limit_per_host=0,
            keepalive_timeout=self._keepalive_expiry,
            ssl=self._ssl or httpx.create_ssl_context(trust_env=False),
        )
        session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),  # an upstream's cookies are never sent back
            timeout=aiohttp.ClientTimeout(total=None),
            auto_decompress=False,
            trust_env=False,  # no proxies, no ~/.netrc: credentials are explicit per call
            # Its own defaults (Accept: */*, an aiohttp User-Agent, Accept-Encoding) are not added: the
            # gateway names what it sends.
            skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent"),
        )
        # aiohttp's hidden retry of idempotent requests (see the module docstring). A slotted attribute:
        # should aiohttp rename it, this line raises instead of leaving the retry silently on.
        if not hasattr(session, "_retry_connection"):
            raise RuntimeError("this aiohttp cannot have its hidden retry switched off")
        session._retry_connection = False
        return session

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        *,
        connect: float,
        read: float | None,
    ) -> Response:
        session = self._session
        if session is None:
            session = self._session = self._open()
        try:
            response = await session.request(
                method,
                URL(url, encoded=True),
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(
                    total=None, connect=connect, sock_connect=connect, sock_read=read
                ),
            )
        except aiohttp.ClientError as exc:
            raise _mapped(exc) from exc
        return _AiohttpResponse(response)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class _HttpxResponse:
    __slots__ = ("_response", "headers", "reason", "status")

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status = response.status_code
        self.reason = response.reason_phrase
        headers = CIMultiDict(response.headers.multi_items())
        if response.is_stream_consumed:  # read already, by a test's transport: its content is decoded
            headers.popall("content-encoding", None)
        self.headers: Headers = headers

    async def chunks(self) -> AsyncIterator[bytes]:
        response = self._response
        if response.is_stream_consumed:
            yield response.content
            return
        async for chunk in response.aiter_raw():
            yield chunk

    async def aclose(self) -> None:
        await self._response.aclose()


class HttpxTransport:
    """Any `httpx.AsyncBaseTransport` behind the seam: tests answer with `httpx.MockTransport` handlers,
    which see an `httpx.Request` as httpx would have built it."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self._transport = transport

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        *,
        connect: float,
        read: float | None,
    ) -> Response:
        timeouts = {"connect": connect, "pool": connect, "write": connect, "read": read}
        request = httpx.Request(method, url, headers=headers, content=body, extensions={"timeout": timeouts})
        response = await self._transport.handle_async_request(request)
        response.request = request
        return _HttpxResponse(response)

    async def aclose(self) -> None:
        await self._transport.aclose()
