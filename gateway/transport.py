"""What carries the upstream client's bytes: an `httpx.AsyncBaseTransport` over an `aiohttp.ClientSession`.

The gateway keeps `httpx.AsyncClient` as its interface (requests, responses, the timeout and error types that
`retry.py` and `errors.py` reason about); this transport only moves the bytes, on aiohttp's HTTP/1.1 client
(C parser, one connection pool), which costs the event loop about half of what httpcore + h11 + anyio do.

It keeps every promise the Retries section makes of a transport:

- no retry of its own: aiohttp re-sends a GET/HEAD/OPTIONS/TRACE/PUT/DELETE once, unasked, after
  `ServerDisconnectedError` or `ClientOSError` while sending or awaiting the answer
  (`ClientSession._request`, aio-libs/aiohttp#7363) and has no public option to stop it (#10790). Here it
  is switched off by `_retry_connection`, the private switch added for aiohttp's own tests (#9396); the
  session refuses to start if that switch is gone, and tests count one request per attempt. Every attempt
  is `Upstream._attempt`'s, counted once;
- errors are httpx's, and only an error raised before any request byte left names itself a connect error
  (`ConnectError`, `ConnectTimeout`), the only ones `retry.py` repeats for a write without a key; a reset
  or a close after the request went out is a `ReadError` / `RemoteProtocolError`, never retried for a POST;
- the response body is streamed chunk by chunk as it arrives, so the body cap is enforced while it streams;
  a body not read to its end closes its connection instead of returning it to the pool;
- httpx's per-request timeouts map to aiohttp's (pool wait, connect, each read); the deadline of a whole
  attempt stays `Upstream`'s `asyncio.timeout`, and cancelling the attempt aborts the connection;
- at most `max_connections` connections, idle ones closed after `keepalive_expiry` (httpx's defaults);
- no cookies, no proxies from the environment, no redirects, no decompression (httpx decodes).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import aiohttp
import httpx
from yarl import URL

KEEPALIVE_EXPIRY = 5.0
CHUNK = 64 * 1024
"""The most bytes handed up per read. aiohttp's `readany` returns everything buffered, which for an event
stream sent in a burst is the whole run: the events behind the first would be split into lines before it
leaves. 64 KiB is what httpcore reads at a time."""
"""Seconds an idle pooled connection is kept: httpx's default, within what servers commonly allow."""


def _mapped(exc: aiohttp.ClientError, request: httpx.Request) -> httpx.TransportError:
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
    return kind(message, request=request)


class _Body(httpx.AsyncByteStream):
    """An aiohttp response's body, chunk by chunk as it arrives."""

    __slots__ = ("_request", "_response")

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        content = self._response.content
        try:
            while chunk := await content.read(CHUNK):
                yield chunk
        except aiohttp.ClientError as exc:
            raise _mapped(exc, self._request) from exc

    async def aclose(self) -> None:
        response = self._response
        if response.content.is_eof():
            response.release()  # read to its end: the connection goes back to the pool
        else:
            response.close()  # not read to its end (cap, cancel, error): never reuse the connection


class AiohttpTransport(httpx.AsyncBaseTransport):
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
            cookie_jar=aiohttp.DummyCookieJar(),  # httpx.AsyncClient keeps the cookies, if anyone
            timeout=aiohttp.ClientTimeout(total=None),
            auto_decompress=False,
            trust_env=False,
        )
        # aiohttp's hidden retry of idempotent requests (see the module docstring). A slotted attribute:
        # should aiohttp rename it, this line raises instead of leaving the retry silently on.
        if not hasattr(session, "_retry_connection"):
            raise RuntimeError("this aiohttp cannot have its hidden retry switched off")
        session._retry_connection = False
        return session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session
        if session is None:
            session = self._session = self._open()
        timeout = request.extensions.get("timeout", {})
        body = await request.aread()
        try:
            response = await session.request(
                request.method,
                URL(str(request.url), encoded=True),
                headers=request.headers.multi_items(),
                data=body or None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=timeout.get("pool"),
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
                server_hostname=request.extensions.get("sni_hostname"),
            )
        except aiohttp.ClientError as exc:
            raise _mapped(exc, request) from exc
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=_Body(response, request),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode()},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
