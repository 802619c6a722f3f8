"""Store URLs: which backend, where, and the URL as it may be shown (its password redacted).

- `sqlite:///runs-gateway.db`: a file relative to the working directory (three slashes, as SQLAlchemy reads
  them); `sqlite:////var/lib/runs-gateway/runs.db`: an absolute path (four); `sqlite:///:memory:` (or
  `sqlite://:memory:`, `sqlite://`): a database in memory, gone when the store closes.
- `postgresql://user:password@host:port/database` (or `postgres://`), with libpq's query parameters
  (`?sslmode=require`, `?host=/run/postgresql` for a Unix socket ...), read by asyncpg.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from gateway.store.errors import StoreUnavailable

DEFAULT_URL = "sqlite:///runs-gateway.db"
MEMORY = ":memory:"
SCHEMES: dict[str, Literal["sqlite", "postgresql"]] = {
    "sqlite": "sqlite",
    "postgresql": "postgresql",
    "postgres": "postgresql",
}


@dataclass(frozen=True, slots=True)
class StoreURL:
    """A parsed store URL. `text` is the URL as given (secret: never in a message); `redacted` is for show."""

    backend: Literal["sqlite", "postgresql"]
    text: str = field(repr=False)
    redacted: str
    password: str | None = field(repr=False)
    path: str = ""
    """The SQLite database: a file path, or `:memory:`."""


def parse(url: str) -> StoreURL:
    """Read a store URL; StoreUnavailable, naming the redacted URL, when it is none."""
    shown = redact(url)
    try:
        parts = urlsplit(url)
        password = _password(url)
    except ValueError as exc:
        raise StoreUnavailable(f"run store URL {shown} cannot be read: {exc}") from None
    backend = SCHEMES.get(parts.scheme.lower())
    if backend is None:
        raise StoreUnavailable(
            f"run store URL {shown}: unknown scheme {parts.scheme!r}; "
            "expected sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
        )
    if backend == "postgresql":
        return StoreURL(backend, url, shown, password)
    return StoreURL(backend, url, shown, None, _sqlite_path(parts.netloc, parts.path, shown))


def _sqlite_path(netloc: str, path: str, shown: str) -> str:
    if netloc == MEMORY or (not netloc and path in ("", "/", "/" + MEMORY)):
        return MEMORY
    if netloc:
        raise StoreUnavailable(f"run store URL {shown}: a SQLite URL names no host (sqlite:///PATH)")
    return unquote(path[1:])


def _password(url: str) -> str | None:
    """The password in the URL's user info or its `password=` query parameter."""
    parts = urlsplit(url)
    if parts.password:
        return unquote(parts.password)
    query = dict(parse_qsl(parts.query))
    return query.get("password") or None


def redact(url: str) -> str:
    """`url` with its password (user info and `password=` query parameter) replaced by `***`."""
    try:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        has_query_password = any(key == "password" for key, _ in query)
        if parts.password is None and not has_query_password:
            return url  # as it is: urlunsplit would drop the empty host of sqlite:////PATH
        netloc = parts.netloc
        if parts.password is not None:
            userinfo, _, host = netloc.rpartition("@")
            netloc = f"{userinfo.partition(':')[0]}:***@{host}"
        if has_query_password:
            query = [(key, "***" if key == "password" else value) for key, value in query]
            return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, safe="*/")))
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "<a URL that cannot be read>"
