"""Errors: what can go wrong in the gateway core, and the one place that turns it into a gRPC status.

The core raises the exceptions defined here (or lets httpx's transport errors through); the servicer wraps
every RPC in `translate(context)`, which maps the exception to a gRPC code with two tables, the most specific
match winning, the way httpcore's `map_exceptions` does:

- `HTTP_TO_GRPC`: an upstream HTTP error status to the code Google APIs use for it (the inverse of
  googleapis `google/rpc/code.proto`, as grpc-gateway's `runtime/errors.go` does). Not gRPC's "intermediary"
  table (`doc/http-grpc-status-mapping.md`), which is for responses without a grpc-status and maps 404 to
  UNIMPLEMENTED.
- `TRANSPORT_TO_GRPC`: a failure to get any HTTP answer (timeout, refused connection, reset).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import httpx

log = logging.getLogger(__name__)

HTTP_TO_GRPC: dict[int, grpc.StatusCode] = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    # A conflict with the resource's current state: Google maps ABORTED to 409, so the client may retry the
    # whole read-modify-write sequence (FAILED_PRECONDITION would say "do not retry until fixed").
    409: grpc.StatusCode.ABORTED,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    500: grpc.StatusCode.INTERNAL,
    502: grpc.StatusCode.UNAVAILABLE,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}
"""HTTP status of an upstream error answer → gRPC code; any other status is UNKNOWN."""


class GatewayError(Exception):
    """Base of the errors the core raises; `code` is the gRPC status it maps to."""

    code = grpc.StatusCode.UNKNOWN


class InvalidArgument(GatewayError):
    """The request is refused before any REST call: `field` is the request field at fault."""

    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, field: str, description: str) -> None:
        super().__init__(f"{field}: {description}")
        self.field = field
        self.description = description


class UpstreamError(GatewayError):
    """The upstream answered an HTTP error; the fields come from its OpenAI error body, if it had one."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        param: str | None = None,
        error_code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.error_code = error_code
        self.request_id = request_id

    @property
    def code(self) -> grpc.StatusCode:  # type: ignore[override]
        """The gRPC code of this HTTP status, from `HTTP_TO_GRPC`."""
        return HTTP_TO_GRPC.get(self.status, grpc.StatusCode.UNKNOWN)


class UpstreamProtocolError(GatewayError):
    """The upstream answered, but not as the REST API does (unreadable body, a cursor that does not advance).

    A bad gateway in HTTP terms, hence the code of 502.
    """

    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(GatewayError):
    """The client's deadline passed before the upstream answered."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED


TRANSPORT_TO_GRPC: tuple[tuple[type[BaseException], grpc.StatusCode, str], ...] = (
    # Most specific first: httpx.TimeoutException is an httpx.TransportError.
    (httpx.TimeoutException, grpc.StatusCode.DEADLINE_EXCEEDED, "upstream did not answer in time"),
    (TimeoutError, grpc.StatusCode.DEADLINE_EXCEEDED, "upstream did not answer in time"),
    (httpx.TransportError, grpc.StatusCode.UNAVAILABLE, "upstream unreachable"),
)
"""Exceptions raised when no HTTP answer arrived → gRPC code and the message the client sees."""


def status_of(exc: Exception) -> tuple[grpc.StatusCode, str]:
    """The gRPC code and message for an exception raised by the core (INTERNAL for anything unexpected)."""
    if isinstance(exc, GatewayError):
        return exc.code, str(exc)
    for kind, code, message in TRANSPORT_TO_GRPC:
        if isinstance(exc, kind):
            # The exception text may name hosts or internals; the client gets the fixed message only.
            return code, f"{message} ({type(exc).__name__})"
    return grpc.StatusCode.INTERNAL, "internal error in the gateway"


@asynccontextmanager
async def translate(context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[None]:
    """Run an RPC's body; abort the RPC with the mapped status when the core raises.

    Cancellation (the client went away) is a BaseException and passes through untouched.
    """
    try:
        yield
    except Exception as exc:
        code, message = status_of(exc)
        if code is grpc.StatusCode.INTERNAL and not isinstance(exc, GatewayError):
            log.exception("unexpected error in the gateway")
        await context.abort(code, message)
