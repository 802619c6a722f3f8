"""Metadata both ways: which request metadata becomes an upstream header, which upstream header comes back.

Both directions are allow-lists, so nothing a client or an upstream adds by accident (cookies, internal
hosts, hop-by-hop headers) crosses the gateway. A request value that would be an invalid or dangerous HTTP
header is refused with INVALID_ARGUMENT rather than dropped, so a client never believes a header went
through when it did not; an upstream value that is not valid gRPC metadata is dropped, since the client can
do nothing about it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gateway.errors import InvalidArgument

FORWARDED: tuple[str, ...] = (
    "authorization",
    "openai-organization",
    "openai-project",
    "idempotency-key",
    # W3C trace context: traceparent, and tracestate which is only meaningful beside it.
    "traceparent",
    "tracestate",
)
"""Request metadata forwarded to the upstream as HTTP headers of the same name; nothing else is."""

RETURNED: tuple[str, ...] = ("x-request-id", "openai-processing-ms")
RETURNED_PREFIXES: tuple[str, ...] = ("x-ratelimit-",)
"""Upstream response headers returned to the client as gRPC metadata (exact names, then prefixes)."""

MAX_VALUE = 4096
MAX_RETURNED = 16  # a hostile upstream could send thousands of x-ratelimit-* headers
MAX_RETURNED_VALUE = 256

_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
_FORMATS: dict[str, tuple[re.Pattern[str], str]] = {
    "traceparent": (_TRACEPARENT, "must be a W3C traceparent (version-traceid-parentid-flags, lower hex)"),
    "idempotency-key": (re.compile(r"^[\x21-\x7e]{1,255}$"), "must be 1-255 visible ASCII characters"),
}


def forwarded_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The upstream headers from a client's request metadata pairs (keys lower-case); raise InvalidArgument
    for a value that is not a valid header value, or a forwarded key sent more than once (which value was
    meant is not ours to guess)."""
    headers: dict[str, str] = {}
    for name, value in pairs:
        if name not in FORWARDED:
            continue
        if name in headers:
            raise InvalidArgument(f"metadata[{name}]", "must be sent at most once")
        headers[name] = _checked(name, value)
    return headers


def _checked(name: str, value: str) -> str:
    field = f"metadata[{name}]"
    if not value or len(value) > MAX_VALUE or not _is_visible_ascii(value):
        raise InvalidArgument(field, f"must be 1-{MAX_VALUE} printable ASCII characters")
    if value != value.strip(" "):
        # HTTP strips such spaces (RFC 9110 5.5) and h11 refuses to send them: refuse, never alter.
        raise InvalidArgument(field, "must not begin or end with a space")
    pattern = _FORMATS.get(name)
    if pattern is not None and not pattern[0].match(value):
        raise InvalidArgument(field, pattern[1])
    return value


def returned_metadata(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """The gRPC metadata to return from upstream response headers (names lower-case), in their order."""
    kept: list[tuple[str, str]] = []
    for name, value in headers:
        name = name.lower()
        if not (name in RETURNED or name.startswith(RETURNED_PREFIXES)):
            continue
        if len(value) <= MAX_RETURNED_VALUE and _is_visible_ascii(value) and _is_metadata_key(name):
            kept.append((name, value))
            if len(kept) == MAX_RETURNED:
                break
    return tuple(kept)


def _is_visible_ascii(value: str) -> bool:
    # Printable ASCII, space included (gRPC's rule for metadata values); no CR/LF, so no header injection.
    return value.isascii() and value.isprintable()


def _is_metadata_key(name: str) -> bool:
    return re.fullmatch(r"[0-9a-z_.-]+", name) is not None and not name.endswith("-bin")
