"""Reading the error bodies real servers write, liberally.

OpenAI writes `{"error": {"message", "type", "param", "code"}}`. The servers that still speak the protocol
write other things, all read here into one shape (`ErrorBody`), so that the client gets the server's own
words and, for a validation error, the fields at fault:

- FastAPI's own `{"detail": "Not Found"}` and its 422 `{"detail": [{"loc": [...], "msg": ..., "type": ...}]}`
  (astra-assistants-api);
- open-assistant-api's `{"error": {"code": "request_validation_error", "message": "[{'type': 'missing',
  'loc': ('body', 'assistant_id'), ...}]"}}`: FastAPI's list written as Python's repr in the message;
- a bare `{"message": ...}` (astra's 501, Azure's `{"statusCode": 401, "message": ...}`).

A body none of these reads (a proxy's HTML page) gives no message: the caller says what HTTP status came.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from typing import Any

MAX_REPR = 16 * 1024
"""The longest Python repr of a validation error list that is parsed (a larger one stays a message)."""
_LOCATIONS = frozenset({"body", "query", "path", "header"})


@dataclass(frozen=True, slots=True)
class ErrorBody:
    """What an error body says: its message (None: not readable), OpenAI's fields where it had them, and
    the request fields a validation error names, as (field path, description)."""

    message: str | None
    type: str | None = None
    param: str | None = None
    code: str | None = None
    violations: tuple[tuple[str, str], ...] = ()


def read_error(body: bytes | bytearray) -> ErrorBody:
    """The error an answer's body describes."""
    try:
        payload = json.loads(body)
    except ValueError:
        return ErrorBody(None)
    if not isinstance(payload, dict):
        return ErrorBody(None)
    error = payload.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        code = _text(error.get("code"))
        violations = _from_repr(error["message"]) if code == "request_validation_error" else ()
        return ErrorBody(
            error["message"], _text(error.get("type")), _text(error.get("param")), code, violations
        )
    detail = payload.get("detail")
    if isinstance(detail, str):
        return ErrorBody(detail)
    if isinstance(detail, list):
        violations = _violations(detail)
        return ErrorBody(
            "; ".join(f"{f}: {d}" if f else d for f, d in violations) or None, None, None, None, violations
        )
    message = payload.get("message")
    return ErrorBody(message if isinstance(message, str) else None)


def _from_repr(message: str) -> tuple[tuple[str, str], ...]:
    """The violations of a validation error list written as Python's repr (literals only, size-bounded)."""
    if len(message) > MAX_REPR or not message.startswith("["):
        return ()
    try:
        items = ast.literal_eval(message)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return ()
    return _violations(items) if isinstance(items, list) else ()


def _violations(items: list[Any]) -> tuple[tuple[str, str], ...]:
    """(field path, message) of each of FastAPI's / pydantic's error dicts: `loc` ('body', 'tools', 0,
    'type') is the field `tools[0].type`."""
    found = []
    for item in items[:100]:
        if not isinstance(item, dict) or not isinstance(item.get("msg"), str):
            continue
        location = item.get("loc")
        parts = list(location) if isinstance(location, list | tuple) else []
        if parts and parts[0] in _LOCATIONS:
            parts = parts[1:]
        found.append((_path(parts), item["msg"]))
    return tuple(found)


def _path(parts: list[Any]) -> str:
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
