"""Errors: what can go wrong in the gateway core, and the one place that turns it into a gRPC status.

The core raises the exceptions defined here (or lets httpx's transport errors through); the servicer wraps
every RPC in `translate(context)`, which maps the exception to a gRPC code with two tables, the most specific
match winning, the way httpcore's `map_exceptions` does:

- `HTTP_TO_GRPC`: an upstream HTTP error status to the code Google APIs use for it (the inverse of
  googleapis `google/rpc/code.proto`, as grpc-gateway's `runtime/errors.go` does). Not gRPC's "intermediary"
  table (`doc/http-grpc-status-mapping.md`), which is for responses without a grpc-status and maps 404 to
  UNIMPLEMENTED.
- `TRANSPORT_TO_GRPC`: a failure to get any HTTP answer (timeout, refused connection, reset).
- `EVENT_ERROR_STATUS`: the error type of a streamed run's `error` event to the HTTP status that type comes
  with, so the event goes through `HTTP_TO_GRPC` like the answer it stands for.

Every status carries AIP-193 details (`google.rpc.Status` in the `grpc-status-details-bin` trailer, packed
by grpcio-status): always an `ErrorInfo` (a machine-readable reason in UPPER_SNAKE_CASE, the domain
`DOMAIN`, metadata such as the HTTP status and the upstream's `param`), and where they apply a `BadRequest`
with field violations, a `RetryInfo` from the upstream's retry-after, a `RequestInfo` with the upstream
request id and a `ResourceInfo` naming what was not found.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

import grpc
import httpx
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from gateway.dialects import ROUTE_NOT_FOUND
from gateway.routes import APIS, Api

log = logging.getLogger(__name__)

DOMAIN = "runs-gateway"
"""The `ErrorInfo.domain` of every error the gateway returns, its own and the upstream's."""

HTTP_TO_GRPC: dict[int, grpc.StatusCode] = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    # A conflict with the resource's current state: Google maps ABORTED to 409, so the client may retry the
    # whole read-modify-write sequence (FAILED_PRECONDITION would say "do not retry until fixed").
    409: grpc.StatusCode.ABORTED,
    # The upstream waited too long for the request itself: nothing was done, the call may be made again.
    408: grpc.StatusCode.DEADLINE_EXCEEDED,
    410: grpc.StatusCode.NOT_FOUND,
    412: grpc.StatusCode.FAILED_PRECONDITION,
    # The request itself is what the server will not take: too large, of a type it does not read, or (422,
    # FastAPI's and pydantic's answer) valid JSON that fails its validation.
    413: grpc.StatusCode.INVALID_ARGUMENT,
    415: grpc.StatusCode.INVALID_ARGUMENT,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    500: grpc.StatusCode.INTERNAL,
    501: grpc.StatusCode.UNIMPLEMENTED,
    502: grpc.StatusCode.UNAVAILABLE,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}
"""HTTP status of an upstream error answer → gRPC code; any other status is UNKNOWN."""

EVENT_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "rate_limit_error": 429,
    "rate_limit_exceeded": 429,
    "server_error": 500,
}
"""The error `type` of an `error` event → the HTTP status an error of that type comes with, so the event
maps to the same gRPC code as the answer it stands for (any other type: 500)."""


class Answered(Protocol):
    """What the upstream answered within one RPC (`upstream.Exchange` is one)."""

    @property
    def request_id(self) -> str | None: ...
    @property
    def metadata(self) -> Sequence[tuple[str, str]]: ...


class GatewayError(Exception):
    """Base of the errors the core raises; `code` is the gRPC status it maps to, `reason` its ErrorInfo
    reason."""

    code = grpc.StatusCode.UNKNOWN
    reason = "UNKNOWN"


class InvalidArgument(GatewayError):
    """The request is refused before any REST call: `field` is the request field at fault."""

    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "INVALID_ARGUMENT"

    def __init__(self, field: str, description: str) -> None:
        super().__init__(f"{field}: {description}")
        self.field = field
        self.description = description


class Unmapped(InvalidArgument):
    """A request the Responses API cannot carry out as the Assistants API would (`--upstream-api
    responses`): refused with the mapping's stable reason (`TRUNCATION_LAST_MESSAGES_UNSUPPORTED` ...)."""

    def __init__(self, field: str, description: str, reason: str) -> None:
        super().__init__(field, description)
        self.reason = reason


class RunStoreUnavailable(GatewayError):
    """The run store (`--upstream-api responses`) failed or did not answer in time: nothing was changed
    that the call reports, and it may be made again."""

    code = grpc.StatusCode.UNAVAILABLE
    reason = "RUN_STORE_UNAVAILABLE"


class UpstreamError(GatewayError):
    """The upstream answered an HTTP error; the fields come from its OpenAI error body, if it had one.

    `retry_after` is the wait (seconds) the upstream asked for; `addressed` maps each resource type the
    call's path named to its name (set by the core), so a NOT_FOUND can name what was not found.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        param: str | None = None,
        error_code: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        api_error: bool = True,
        in_stream: bool = False,
        beta: str | None = None,
        violations: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.violations = violations
        """The request fields a validation error (a 422) names: (field path, description)."""
        self.beta = beta
        """The `OpenAI-Beta` header of the call (`assistants=v1`): what an `invalid_beta` refused."""
        self.api_error = api_error
        self.in_stream = in_stream
        """From an `error` event of a streamed answer: `status` is the one errors of its type come with."""
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.error_code = error_code
        self.request_id = request_id
        self.retry_after = retry_after
        self.addressed: dict[str, str] = {}

    @property
    def resource(self) -> tuple[str, str] | None:
        """(type, name) of what the upstream says it did not find, or None when its message does not say.

        OpenAI's message names it (`No run found with id 'run_x'.`): a resource the call's path named gets
        its full name (`threads/t/runs/run_x`), another one its REST collection and id, an unknown kind its
        id alone. Nothing is guessed from the path: an assistant or a thread may be what is missing.
        """
        found = _MISSING.search(self.message)
        if found is None:
            return None
        kind, name = found["kind"].lower().replace(" ", "_"), found["id"]
        if kind in self.addressed and self.addressed[kind].endswith("/" + name):
            return kind, self.addressed[kind]
        return kind, f"{COLLECTIONS[kind]}/{name}" if kind in COLLECTIONS else name

    def __str__(self) -> str:
        if self.error_code == "invalid_beta" and self.beta:
            return _version_unsupported(self.beta, f"it answered HTTP {self.status}: {self.message}")
        return (
            f"{UNSUPPORTED} (it answered HTTP {self.status}: {self.message})"
            if self.unsupported
            else self.message
        )

    @property
    def unsupported(self) -> bool:
        """The upstream does not serve this API: it refused the `OpenAI-Beta` version the gateway sent
        (400 `invalid_beta`, OpenAI's answer to v1 since December 2024), or it has no such path (a 404 or
        405 that is not an OpenAI error about a resource: OpenAI's `Invalid URL (...)`, a web server's page).
        """
        if self.error_code == "invalid_beta":
            return True
        if self.status not in (404, 405):
            return False
        message = self.message
        if not self.api_error or message.startswith("Invalid URL"):
            return True
        # OpenAI's errors always have a type; a web framework's "no such route" has none.
        return not self.type and _names_no_resource(message)

    @property
    def code(self) -> grpc.StatusCode:  # type: ignore[override]
        """The gRPC code of this HTTP status, from `HTTP_TO_GRPC`; UNIMPLEMENTED when `unsupported`."""
        if self.unsupported:
            return grpc.StatusCode.UNIMPLEMENTED
        return HTTP_TO_GRPC.get(self.status, grpc.StatusCode.UNKNOWN)

    @property
    def reason(self) -> str:  # type: ignore[override]
        """The upstream's error code, else its error type, in UPPER_SNAKE_CASE; else `HTTP_<status>`;
        `UPSTREAM_API_UNSUPPORTED` when `unsupported`."""
        if self.unsupported:
            return "UPSTREAM_API_UNSUPPORTED"
        return _upper_snake(self.error_code or self.type or "") or f"HTTP_{self.status}"


UNSUPPORTED = (
    "the upstream does not serve this API at the configured base URL: point the gateway's --upstream "
    "(OPENAI_BASE_URL) at a server of the OpenAI Assistants API, such as the project's emulator or a "
    "self-hosted one (OpenAI's own api.openai.com serves it no more)"
)
"""The message of an `unsupported` error: the fix is in the gateway's configuration, not in the call."""


def _version_unsupported(beta: str, answer: str) -> str:
    """The message for an upstream that serves the API but refused this version of it: the server may well
    serve another version, a service of its own on the same gateway."""
    others = ", ".join(api.service for api in APIS if api.beta != beta)
    return (
        f"the upstream does not serve `OpenAI-Beta: {beta}` ({answer}): call the service of a version it "
        f"serves ({others}), or point the gateway's --upstream (OPENAI_BASE_URL) at a server of this version"
    )


def _names_no_resource(message: str) -> bool:
    """A 404's message that names no resource, in the forms web frameworks write for a route they do not
    have (`{"error": {"code": "http_error", "message": "Not Found"}}`, Azure's `Resource not found`)."""
    return message.strip().rstrip(".").lower() in ROUTE_NOT_FOUND


_MISSING = re.compile(r"\bNo (?P<kind>[A-Za-z][A-Za-z ]{0,40}?) found with id '(?P<id>[^']{1,256})'")
COLLECTIONS = {
    "assistant": "assistants",
    "thread": "threads",
    "file": "files",
    "vector_store": "vector_stores",
}
"""Kinds of resource that live outside a thread's runs → their REST collection (`assistants/asst_1`)."""


class UpstreamProtocolError(GatewayError):
    """The upstream answered, but not as the REST API does (unreadable body, a cursor that does not advance).

    A bad gateway in HTTP terms, hence the code of 502.
    """

    code = grpc.StatusCode.UNAVAILABLE
    reason = "UPSTREAM_PROTOCOL_ERROR"


class StreamBroken(GatewayError):
    """The upstream's event stream ended (or its connection broke) before its `done` event."""

    code = grpc.StatusCode.UNAVAILABLE
    reason = "UPSTREAM_STREAM_BROKEN"

    def __init__(self, events: int) -> None:
        super().__init__(
            f"the upstream's event stream broke off after {events} events, before its end; the run may go on "
            "upstream: look it up (GetRun, ListRuns) rather than create it again"
        )
        self.events = events


class DeadlineExceeded(GatewayError):
    """The client's deadline passed before the upstream answered."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED
    reason = "DEADLINE_EXCEEDED"


class ResponseTooLarge(GatewayError):
    """A response message would exceed the gRPC message size limit."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "RESPONSE_TOO_LARGE"


class BodiesOverBudget(GatewayError):
    """The upstream's answers in flight together hold as much memory as the gateway allows them: this one
    is refused rather than let the gateway run out (RetryInfo: try again shortly)."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "UPSTREAM_BODIES_OVER_BUDGET"
    retry_after = 1.0

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the upstream's answers in flight hold the {limit} bytes the gateway allows them; try again "
            "shortly"
        )


class Overloaded(GatewayError):
    """More RPCs are in flight than the gateway takes (`--max-concurrent-rpcs`): refused at once, to be
    retried (RetryInfo), rather than queued without bound."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "GATEWAY_OVERLOADED"
    retry_after = 1.0

    def __init__(self, limit: int) -> None:
        super().__init__(f"the gateway is serving its limit of {limit} RPCs at once; try again shortly")


class ShuttingDown(GatewayError):
    """The gateway is stopping: a watch ends at once rather than when the grace period runs out."""

    code = grpc.StatusCode.UNAVAILABLE
    reason = "SHUTTING_DOWN"


class VersionNotServed(GatewayError):
    """A call of a version of the API that the upstream's dialect does not serve: refused before any REST
    call, with the service to call instead."""

    code = grpc.StatusCode.UNIMPLEMENTED
    reason = "UPSTREAM_API_UNSUPPORTED"

    def __init__(self, api: Api, served: Sequence[Api]) -> None:
        services = ", ".join(other.service for other in served)
        super().__init__(
            f"the upstream serves no Assistants {api.version} (its --dialect, or --upstream-api responses, "
            f"which serves v2 alone): call {services} instead"
        )


class RunStatusUnknown(GatewayError):
    """The run reached a status this version does not know: whether it will change again cannot be told."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "RUN_STATUS_UNKNOWN"


TRANSPORT_TO_GRPC: tuple[tuple[type[BaseException], grpc.StatusCode, str, str], ...] = (
    # Most specific first: httpx.TimeoutException is an httpx.TransportError.
    (
        httpx.TimeoutException,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        "upstream did not answer in time",
        "UPSTREAM_TIMEOUT",
    ),
    (TimeoutError, grpc.StatusCode.DEADLINE_EXCEEDED, "upstream did not answer in time", "UPSTREAM_TIMEOUT"),
    (httpx.TransportError, grpc.StatusCode.UNAVAILABLE, "upstream unreachable", "UPSTREAM_UNAVAILABLE"),
)
"""Exceptions raised when no HTTP answer arrived → gRPC code, the message the client sees, the reason."""


def status_of(exc: Exception) -> tuple[grpc.StatusCode, str]:
    """The gRPC code and message for an exception raised by the core (INTERNAL for anything unexpected)."""
    code, message, _ = _classify(exc)
    return code, message


def _classify(exc: Exception) -> tuple[grpc.StatusCode, str, str]:
    if isinstance(exc, GatewayError):
        return exc.code, str(exc), exc.reason
    for kind, code, message, reason in TRANSPORT_TO_GRPC:
        if isinstance(exc, kind):
            # The exception text may name hosts or internals; the client gets the fixed message only.
            return code, f"{message} ({type(exc).__name__})", reason
    return grpc.StatusCode.INTERNAL, "internal error in the gateway", "INTERNAL"


def rich_status(exc: Exception, request_id: str | None = None) -> grpc.Status:
    """The status for `exc`, with its AIP-193 details in the trailing metadata (see the module docstring).

    `request_id` is the upstream request id of the RPC's last REST call, when the error itself has none.
    """
    code, message, reason = _classify(exc)
    details: list[Message] = [error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN, metadata=_info(exc))]
    if isinstance(exc, InvalidArgument):
        details.append(_bad_request(exc.field, exc.description))
    if isinstance(exc, UpstreamError):
        details += _upstream_details(exc)
        request_id = exc.request_id or request_id
    elif isinstance(exc, BodiesOverBudget | Overloaded):
        details.append(error_details_pb2.RetryInfo(retry_delay=_duration(exc.retry_after)))
    if request_id:
        details.append(error_details_pb2.RequestInfo(request_id=request_id))
    status = status_pb2.Status(code=code.value[0], message=message, details=[_pack(d) for d in details])
    return rpc_status.to_status(status)


def _info(exc: Exception) -> dict[str, str]:
    if not isinstance(exc, UpstreamError):
        return {}
    info = {"type": exc.type, "code": exc.error_code, "param": exc.param}
    info = {"event": "error", **info} if exc.in_stream else {"httpStatus": str(exc.status), **info}
    return {key: value for key, value in info.items() if value}


def _upstream_details(exc: UpstreamError) -> list[Message]:
    details: list[Message] = []
    if exc.violations and exc.code is grpc.StatusCode.INVALID_ARGUMENT:
        violations = [
            error_details_pb2.BadRequest.FieldViolation(field=f, description=d) for f, d in exc.violations
        ]
        details.append(error_details_pb2.BadRequest(field_violations=violations))
    elif exc.param and exc.code is grpc.StatusCode.INVALID_ARGUMENT:
        details.append(_bad_request(exc.param, exc.message))
    if exc.retry_after is not None and exc.retry_after >= 0:
        details.append(error_details_pb2.RetryInfo(retry_delay=_duration(exc.retry_after)))
    resource = exc.resource if exc.code is grpc.StatusCode.NOT_FOUND else None
    if resource is not None:
        kind, name = resource
        details.append(
            error_details_pb2.ResourceInfo(resource_type=kind, resource_name=name, description=exc.message)
        )
    return details


def _duration(seconds: float) -> duration_pb2.Duration:
    delay = duration_pb2.Duration()
    delay.FromNanoseconds(int(seconds * 1e9))
    return delay


def _bad_request(field: str, description: str) -> error_details_pb2.BadRequest:
    violation = error_details_pb2.BadRequest.FieldViolation(field=field, description=description)
    return error_details_pb2.BadRequest(field_violations=[violation])


def _pack(detail: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(detail)
    return packed


def _upper_snake(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper()


@asynccontextmanager
async def translate(context: grpc.aio.ServicerContext[Any, Any], exchange: Any = None) -> AsyncIterator[None]:
    """Run an RPC's body; abort the RPC with the mapped rich status when the core raises.

    `exchange` (an `upstream.Exchange`, when given) adds the upstream request id to the details and its
    returned metadata to the trailers. Cancellation (the client went away) is a BaseException and passes
    through untouched.
    """
    try:
        yield
    except Exception as exc:
        request_id = exchange.request_id if exchange is not None else None
        status = rich_status(exc, request_id)
        if status.code is grpc.StatusCode.INTERNAL and not isinstance(exc, GatewayError):
            log.exception("unexpected error in the gateway")
        returned = tuple(exchange.metadata) if exchange is not None else ()
        await context.abort(status.code, status.details, returned + tuple(status.trailing_metadata))
