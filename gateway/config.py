"""Settings: one frozen object built once, at start, from command-line flags over environment variables.

Every flag has an environment variable (`RUNS_GATEWAY_*`, or OpenAI's own `OPENAI_BASE_URL`); a flag wins.
A bad value fails at start with a message naming what the user set (the flag, or the environment
variable), never later in a request. The API key is read from the environment only: a flag would show it
to anyone who can list processes.

The upstream has no default: OpenAI's own API stopped serving Assistants v1 in December 2024 and the whole
Assistants API on 2026-08-26, so no address would be right for everyone, and a sidecar pointed at nothing
must fail at start rather than answer UNAVAILABLE to every call.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from gateway.dialects import AUTH_MODES, DIALECTS, ENTRA, HEADER, Dialect
from gateway.store.urls import DEFAULT_URL

HEADERS_VARIABLE = "RUNS_GATEWAY_UPSTREAM_HEADERS"
"""Static upstream headers as a JSON object (environment only: they are secrets, like the key)."""
EXAMPLE_BASE_URL = "http://127.0.0.1:8080/v1"
"""Where `make emulator` serves the REST API: the example in messages and help."""
DEFAULT_LISTEN = "127.0.0.1:50051"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
ASSISTANTS_API, RESPONSES_API = "assistants", "responses"
UPSTREAM_APIS = (ASSISTANTS_API, RESPONSES_API)
"""What the upstream speaks: the Assistants REST API (runs passed through), or the Responses and
Conversations APIs (runs kept by the gateway's adapter, `gateway/responses/adapter.py`)."""
DEFAULT_STORE = DEFAULT_URL
"""The run store with `--upstream-api responses`: the store package's default, one SQLite file in the
working directory."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the gateway process is configured with."""

    listen: str = DEFAULT_LISTEN
    uds: str | None = None
    base_url: str = ""
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 60.0
    grace: float = 5.0
    max_connections: int = 100
    max_retries: int = 2
    max_message_bytes: int = 4 * 1024 * 1024
    watch_interval: float = 1.0
    log_level: str = "INFO"
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None
    metrics_listen: str | None = None
    dialect: str = "openai"
    auth: str | None = None
    api_key_header: str | None = None
    entra_scope: str | None = None
    upstream_headers_file: str | None = None
    upstream_headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Static headers sent with every upstream request (secrets: from the environment or a file only)."""
    max_concurrent_rpcs: int = 4096
    max_client_connections: int = 1024
    idle_timeout: float = 300.0
    max_upstream_bytes: int = 256 * 1024 * 1024
    upstream_api: str = ASSISTANTS_API
    assistants: str | None = None
    store: str = field(default=DEFAULT_STORE, repr=False)
    """The run store's URL (it may hold a password: kept out of the repr)."""

    def __post_init__(self) -> None:
        if not self.listen and not self.uds:
            raise ValueError("nothing to listen on: give --listen HOST:PORT or --uds PATH")
        for name in ("listen", "metrics_listen"):
            value = getattr(self, name)
            if value and not _is_host_port(value):
                raise SettingError(name, f"must be HOST:PORT, got {value!r}")
        for name, ok, rule in (
            ("timeout", self.timeout > 0, "> 0"),
            ("grace", self.grace >= 0, ">= 0"),
            ("max_connections", self.max_connections >= 1, ">= 1"),
            ("max_retries", 0 <= self.max_retries <= 10, "0-10"),
            ("max_message_bytes", self.max_message_bytes >= 64 * 1024, "at least 65536"),
            ("watch_interval", 0.01 <= self.watch_interval <= 3600, "0.01-3600"),
            ("max_concurrent_rpcs", self.max_concurrent_rpcs >= 1, ">= 1"),
            ("max_client_connections", self.max_client_connections >= 1, ">= 1"),
            ("idle_timeout", self.idle_timeout >= 1, ">= 1"),
            ("max_upstream_bytes", self.max_upstream_bytes >= 1024 * 1024, "at least 1048576"),
            ("log_level", self.log_level in LOG_LEVELS, f"one of {', '.join(LOG_LEVELS)}"),
        ):
            if not ok:
                raise SettingError(name, f"must be {rule}, got {getattr(self, name)!r}")
        self._check_tls()
        self._check_upstream()
        self._check_dialect()
        self._check_upstream_api()

    @property
    def versions(self) -> frozenset[str]:
        """The versions of the API served: the dialect's, or v2 alone over the Responses API (its mapping
        is of v2: v1's `file_ids` and `retrieval` have no counterpart there)."""
        if self.upstream_api == RESPONSES_API:
            return frozenset({"v2"})
        return self.upstream_dialect.versions

    @property
    def upstream_dialect(self) -> Dialect:
        """The dialect the upstream speaks."""
        return DIALECTS[self.dialect]

    @property
    def auth_mode(self) -> str:
        """How the gateway's own credential goes up: `--auth`, else the dialect's way."""
        return self.auth or self.upstream_dialect.auth

    @property
    def key_header(self) -> str:
        """The header that carries the key: `Authorization` (as a bearer token), or the dialect's own."""
        if self.auth_mode != HEADER:
            return "authorization"
        return (self.api_key_header or self.upstream_dialect.key_header).lower()

    @property
    def scope(self) -> str | None:
        """The Entra ID scope of the tokens, with `--auth entra`."""
        return self.entra_scope or self.upstream_dialect.entra_scope

    def all_upstream_headers(self) -> dict[str, str]:
        """The static headers: those of `--upstream-headers-file`, then RUNS_GATEWAY_UPSTREAM_HEADERS's."""
        found = _read_headers(self.upstream_headers_file) if self.upstream_headers_file else {}
        return {**found, **{name.lower(): value for name, value in self.upstream_headers.items()}}

    def _check_upstream(self) -> None:
        if not self.base_url:
            raise SettingError(
                "base_url",
                "is required: the base URL of a server of the Assistants REST API, such as "
                f"{EXAMPLE_BASE_URL} for `make emulator` (OpenAI's own API serves it no more)",
            )
        url = urlsplit(self.base_url)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise SettingError("base_url", f"must be an http(s) URL, got {self.base_url!r}")
        if url.username is not None or url.password is not None:
            raise SettingError(
                "base_url",
                "must not carry credentials: give the key in OPENAI_API_KEY (it would show in logs)",
            )
        if url.fragment:
            raise SettingError(
                "base_url",
                f"must have no #fragment (a URL's fragment never reaches a server), got {self.base_url!r}",
            )
        taken = sorted({name for name, _ in parse_qsl(url.query)} & ROUTE_PARAMETERS)
        if taken:
            raise SettingError(
                "base_url",
                f"has query parameters the gateway sets per call ({', '.join(taken)}): leave them out",
            )

    def _check_dialect(self) -> None:
        if self.dialect not in DIALECTS:
            raise SettingError("dialect", f"must be one of {', '.join(DIALECTS)}, got {self.dialect!r}")
        dialect = self.upstream_dialect
        if self.auth is not None and self.auth not in AUTH_MODES:
            raise SettingError("auth", f"must be one of {', '.join(AUTH_MODES)}, got {self.auth!r}")
        if self.api_key_header is not None and not _TOKEN.fullmatch(self.api_key_header):
            raise SettingError("api_key_header", f"must be a header name, got {self.api_key_header!r}")
        if self.auth_mode == ENTRA and not self.scope:
            raise SettingError(
                "entra_scope", f"is required with --auth entra (the {dialect.name} dialect has none)"
            )
        query = {name for name, _ in parse_qsl(urlsplit(self.base_url).query)} | set(dialect.query)
        missing = [name for name in dialect.required_query if name not in query]
        if missing:
            raise SettingError("base_url", f"needs ?{missing[0]}=... for the {dialect.name} dialect")
        headers = self.all_upstream_headers()
        absent = [name for name in dialect.required_headers if not headers.get(name)]
        if absent:
            raise SettingError(
                "upstream_headers",
                f"must give {', '.join(absent)}: the {dialect.name} dialect's server requires it",
            )

    def _check_upstream_api(self) -> None:
        if self.upstream_api not in UPSTREAM_APIS:
            raise SettingError(
                "upstream_api", f"must be one of {', '.join(UPSTREAM_APIS)}, got {self.upstream_api!r}"
            )
        if self.upstream_api != RESPONSES_API:
            return
        if not self.assistants:
            raise SettingError(
                "assistants",
                "is required with --upstream-api responses: a JSON file of the assistants (the Responses "
                "API has none), see docs/responses.md",
            )
        # Here, not at the top: a gateway in front of the Assistants API never reads an assistants file.
        from gateway.responses.assistants import AssistantsFileError, load_assistants

        try:
            load_assistants(Path(self.assistants))
        except AssistantsFileError as exc:
            raise SettingError("assistants", f"cannot be used: {exc}") from None

    def _check_tls(self) -> None:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("--tls-cert and --tls-key go together")
        if self.tls_client_ca and not self.tls_cert:
            raise ValueError("--tls-client-ca (mTLS) needs --tls-cert and --tls-key")
        for name in ("tls_cert", "tls_key", "tls_client_ca"):
            path = getattr(self, name)
            if path and not Path(path).is_file():
                raise SettingError(name, f"names no such file: {path}")

    @classmethod
    def load(cls, argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> Settings:
        """Settings from `argv` flags, else `environ`, else defaults; a bad value exits with a message that
        names what the user set: the flag, or the environment variable."""
        parser = _parser()
        given = vars(parser.parse_args(argv))
        try:
            from_environment = _from_environment(environ, given)
        except SettingError as exc:
            parser.error(exc.named(flag=False, variable=True))
        try:
            headers = parse_headers(environ.get(HEADERS_VARIABLE) or "{}", HEADERS_VARIABLE)
        except ValueError as exc:
            parser.error(str(exc))
        try:
            return cls(
                api_key=environ.get("OPENAI_API_KEY") or None,
                upstream_headers=headers,
                **from_environment,
                **given,
            )
        except SettingError as exc:
            parser.error(exc.named(flag=exc.field not in from_environment, variable=exc.field not in given))
        except ValueError as exc:
            parser.error(str(exc))

    def read_tls(self) -> tuple[bytes, bytes, bytes | None] | None:
        """(certificate chain, private key, client CA or None) as bytes, or None when TLS is off."""
        if not self.tls_cert or not self.tls_key:
            return None
        ca = Path(self.tls_client_ca).read_bytes() if self.tls_client_ca else None
        return Path(self.tls_cert).read_bytes(), Path(self.tls_key).read_bytes(), ca


ROUTE_PARAMETERS = frozenset({"limit", "order", "after", "before", "include[]", "include"})
"""Query parameters the routes set per call: a base URL may not fix them."""
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_RESERVED_HEADERS = frozenset(
    {"authorization", "content-type", "content-length", "accept", "host", "openai-beta"}
)


def parse_headers(text: str, where: str) -> dict[str, str]:
    """Static upstream headers from a JSON object of strings; ValueError naming `where` otherwise."""
    try:
        data = json.loads(text)
    except ValueError:
        raise ValueError(f"{where} must be a JSON object of header names to values") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError(f"{where} must be a JSON object of header names to string values")
    for name, value in data.items():
        if not _TOKEN.fullmatch(name) or name.lower() in _RESERVED_HEADERS:
            raise ValueError(
                f"{where}: {name!r} cannot be a static header (the gateway sets it, or it is no name)"
            )
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise ValueError(f"{where}: the value of {name!r} has control characters")
    return {name.lower(): value for name, value in data.items()}


def _read_headers(path: str) -> dict[str, str]:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise SettingError("upstream_headers_file", f"cannot be read: {exc.strerror}") from None
    try:
        return parse_headers(text, path)
    except ValueError as exc:
        raise SettingError("upstream_headers_file", f"is not valid: {exc}") from None


class SettingError(ValueError):
    """A bad value of one setting: says the rule it breaks, and is named by where the user set it."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(field, problem)
        self.field = field
        self.problem = problem

    def __str__(self) -> str:
        return self.named(flag=True, variable=False)

    def named(self, *, flag: bool, variable: bool) -> str:
        """The message, naming the setting by its flag, its environment variable, or both (when it was set
        by neither: a required setting)."""
        names = [_flag(self.field)] if flag else []
        names += [_VARIABLES[self.field]] if variable else []
        return f"{' or '.join(names)} {self.problem}"


def _is_host_port(value: str) -> bool:
    host, sep, port = value.rpartition(":")
    return bool(sep and host and port.isdigit() and int(port) <= 65535)


FLAGS: tuple[tuple[str, str, Callable[[str], Any], str], ...] = (
    (
        "listen",
        "RUNS_GATEWAY_LISTEN",
        str,
        "HOST:PORT to serve gRPC on over TCP; port 0 picks a free port, '' "
        f"turns TCP off (default {DEFAULT_LISTEN}: loopback only, never all interfaces unless asked)",
    ),
    ("uds", "RUNS_GATEWAY_UDS", str, "also serve on this Unix domain socket path (default: none)"),
    (
        "base_url",
        "OPENAI_BASE_URL",
        str,
        f"base URL of the REST API, required (for `make emulator`: {EXAMPLE_BASE_URL})",
    ),
    (
        "timeout",
        "RUNS_GATEWAY_TIMEOUT",
        float,
        "seconds an upstream call may take when the client's deadline is longer or absent (default 60)",
    ),
    (
        "grace",
        "RUNS_GATEWAY_GRACE",
        float,
        "seconds in-flight RPCs get to finish on SIGTERM/SIGINT (default 5)",
    ),
    (
        "max_connections",
        "RUNS_GATEWAY_MAX_CONNECTIONS",
        int,
        "size of the upstream connection pool (default 100)",
    ),
    (
        "max_retries",
        "RUNS_GATEWAY_MAX_RETRIES",
        int,
        "retries of a failed upstream call, where retrying is safe (default 2; 0 turns retries off)",
    ),
    (
        "max_message_bytes",
        "RUNS_GATEWAY_MAX_MESSAGE_BYTES",
        int,
        "largest gRPC message sent or received, in bytes (default 4194304, gRPC's own default)",
    ),
    (
        "watch_interval",
        "RUNS_GATEWAY_WATCH_INTERVAL",
        float,
        "seconds between two polls of a watched run, unless the upstream sends openai-poll-after-ms "
        "(default 1, the SDKs' own)",
    ),
    ("log_level", "RUNS_GATEWAY_LOG_LEVEL", str.upper, f"one of {', '.join(LOG_LEVELS)} (default INFO)"),
    ("tls_cert", "RUNS_GATEWAY_TLS_CERT", str, "PEM certificate chain: serve TCP with TLS (with --tls-key)"),
    ("tls_key", "RUNS_GATEWAY_TLS_KEY", str, "PEM private key of --tls-cert"),
    (
        "tls_client_ca",
        "RUNS_GATEWAY_TLS_CLIENT_CA",
        str,
        "PEM CA bundle: require client certificates signed by it (mTLS)",
    ),
    (
        "metrics_listen",
        "RUNS_GATEWAY_METRICS_LISTEN",
        str,
        "HOST:PORT to serve Prometheus metrics on over HTTP at /metrics (default: off)",
    ),
    (
        "max_concurrent_rpcs",
        "RUNS_GATEWAY_MAX_CONCURRENT_RPCS",
        int,
        "RPCs served at once (watches and streams included); beyond it RESOURCE_EXHAUSTED with RetryInfo "
        "(default 4096)",
    ),
    (
        "max_client_connections",
        "RUNS_GATEWAY_MAX_CLIENT_CONNECTIONS",
        int,
        "client connections held at once; more are closed as they come (default 1024)",
    ),
    (
        "idle_timeout",
        "RUNS_GATEWAY_IDLE_TIMEOUT",
        float,
        "seconds a client connection may stay open with no RPC before the gateway closes it (default 300)",
    ),
    (
        "max_upstream_bytes",
        "RUNS_GATEWAY_MAX_UPSTREAM_BYTES",
        int,
        "bytes all upstream answers being read may hold together, decompressed (default 268435456)",
    ),
    (
        "dialect",
        "RUNS_GATEWAY_DIALECT",
        str,
        f"the kind of server the upstream is, one of {', '.join(DIALECTS)} (default openai)",
    ),
    (
        "auth",
        "RUNS_GATEWAY_AUTH",
        str,
        f"how the gateway's credential goes up: {', '.join(AUTH_MODES)} (default: the dialect's)",
    ),
    (
        "api_key_header",
        "RUNS_GATEWAY_API_KEY_HEADER",
        str,
        "the header that carries OPENAI_API_KEY with --auth header (default: the dialect's, api-key)",
    ),
    (
        "entra_scope",
        "RUNS_GATEWAY_ENTRA_SCOPE",
        str,
        "the scope of the Entra ID tokens with --auth entra (default: the dialect's)",
    ),
    (
        "upstream_headers_file",
        "RUNS_GATEWAY_UPSTREAM_HEADERS_FILE",
        str,
        f"a JSON object of static headers sent with every upstream request (also {HEADERS_VARIABLE})",
    ),
    (
        "upstream_api",
        "RUNS_GATEWAY_UPSTREAM_API",
        str,
        f"what the upstream speaks: {', '.join(UPSTREAM_APIS)} (the Responses and Conversations APIs; "
        f"default {ASSISTANTS_API})",
    ),
    (
        "assistants",
        "RUNS_GATEWAY_ASSISTANTS",
        str,
        "with --upstream-api responses, required: the JSON file of the assistants (reread when it changes)",
    ),
    (
        "store",
        "RUNS_GATEWAY_STORE",
        str,
        f"with --upstream-api responses: the run store, sqlite:///PATH or postgresql://... "
        f"(default {DEFAULT_STORE})",
    ),
)
"""Each flag: settings field, environment variable, parser, help."""

_FLAG_NAMES = {"base_url": "--upstream", "upstream_headers": "--upstream-headers-file"}
_VARIABLES = {name: variable for name, variable, _, _ in FLAGS} | {"upstream_headers": HEADERS_VARIABLE}
_KINDS: dict[Callable[[str], Any], str] = {int: "a whole number", float: "a number"}


def _flag(name: str) -> str:
    return _FLAG_NAMES.get(name, "--" + name.replace("_", "-"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="runs-gateway",
        description="gRPC gateway in front of the OpenAI Assistants Runs REST API. The API key used "
        "when a client sends no `authorization` metadata is read from the environment variable "
        "OPENAI_API_KEY only.",
        # Only the flags given: the others come from the environment or the defaults (see _from_environment).
        argument_default=argparse.SUPPRESS,
    )
    for name, variable, kind, text in FLAGS:
        parser.add_argument(_flag(name), dest=name, type=kind, help=f"{text}; env {variable}")
    return parser


def _from_environment(environ: Mapping[str, str], given: Mapping[str, Any]) -> dict[str, Any]:
    """The settings set by environment variables and not by a flag, converted as their flags are."""
    values = {}
    for name, variable, kind, _ in FLAGS:
        if name in given or variable not in environ:
            continue
        try:
            values[name] = kind(environ[variable])
        except ValueError:
            error = SettingError(name, f"must be {_KINDS.get(kind, 'valid')}, got {environ[variable]!r}")
            raise error from None
    return values
