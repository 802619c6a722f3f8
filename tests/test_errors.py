"""The status table: HTTP statuses and transport failures map to the codes Google APIs use."""

from __future__ import annotations

import grpc
import httpx
import pytest

from gateway.errors import (
    DeadlineExceeded,
    InvalidArgument,
    UpstreamError,
    UpstreamProtocolError,
    status_of,
)

Code = grpc.StatusCode


HTTP_CASES = [
    (400, Code.INVALID_ARGUMENT),
    (401, Code.UNAUTHENTICATED),
    (403, Code.PERMISSION_DENIED),
    (404, Code.NOT_FOUND),
    (409, Code.ABORTED),
    (429, Code.RESOURCE_EXHAUSTED),
    (500, Code.INTERNAL),
    (502, Code.UNAVAILABLE),
    (503, Code.UNAVAILABLE),
    (504, Code.DEADLINE_EXCEEDED),
    (408, Code.DEADLINE_EXCEEDED),
    (410, Code.NOT_FOUND),
    (412, Code.FAILED_PRECONDITION),
    (413, Code.INVALID_ARGUMENT),
    (415, Code.INVALID_ARGUMENT),
    (422, Code.INVALID_ARGUMENT),
    (501, Code.UNIMPLEMENTED),
    (405, Code.UNKNOWN),
    (418, Code.UNKNOWN),
]
"""The expected mapping, written out (not read from the table under test); test_servicer.py reuses it."""


@pytest.mark.parametrize(("http_status", "code"), HTTP_CASES)
def test_http_status_to_grpc_code(http_status: int, code: grpc.StatusCode) -> None:
    error = UpstreamError(http_status, "No run found with id 'run_x'.")
    assert status_of(error) == (code, "No run found with id 'run_x'.")


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (httpx.ConnectError("refused"), Code.UNAVAILABLE),
        (httpx.RemoteProtocolError("reset"), Code.UNAVAILABLE),
        (httpx.ReadError("reset by peer"), Code.UNAVAILABLE),
        (httpx.ReadTimeout("slow"), Code.DEADLINE_EXCEEDED),
        (httpx.ConnectTimeout("slow"), Code.DEADLINE_EXCEEDED),
        (httpx.PoolTimeout("busy"), Code.DEADLINE_EXCEEDED),
        (TimeoutError(), Code.DEADLINE_EXCEEDED),
    ],
)
def test_transport_failures(exc: Exception, code: grpc.StatusCode) -> None:
    got, message = status_of(exc)
    assert got == code
    # The exception's own text (hosts, internals) is not passed on, only its kind.
    assert str(exc) not in message or not str(exc)
    assert type(exc).__name__ in message


def test_gateway_errors_carry_their_code_and_message() -> None:
    assert status_of(InvalidArgument("run_id", "bad")) == (Code.INVALID_ARGUMENT, "run_id: bad")
    assert status_of(UpstreamProtocolError("not JSON")) == (Code.UNAVAILABLE, "not JSON")
    assert status_of(DeadlineExceeded("late")) == (Code.DEADLINE_EXCEEDED, "late")


def test_unexpected_exceptions_are_internal_without_details() -> None:
    assert status_of(KeyError("sk-secret")) == (Code.INTERNAL, "internal error in the gateway")
