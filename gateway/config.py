"""Settings: one frozen object built once, at start, from command-line flags over environment variables.

Every flag has an environment variable (`RUNS_GATEWAY_*`, or OpenAI's own `OPENAI_BASE_URL`); a flag wins.
A bad value fails at start with a message naming the flag, never later in a request. The API key is read
from the environment only: a flag would show it to anyone who can list processes.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_LISTEN = "127.0.0.1:50051"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the gateway process is configured with."""

    listen: str = DEFAULT_LISTEN
    uds: str | None = None
    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 60.0
    grace: float = 5.0
    max_connections: int = 100
    max_retries: int = 2
    max_message_bytes: int = 4 * 1024 * 1024
    log_level: str = "INFO"
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None
    metrics_listen: str | None = None

    def __post_init__(self) -> None:
        url = urlsplit(self.base_url)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise ValueError(f"--upstream must be an http(s) URL, got {self.base_url!r}")
        if not self.listen and not self.uds:
            raise ValueError("nothing to listen on: give --listen HOST:PORT or --uds PATH")
        for name in ("listen", "metrics_listen"):
            value = getattr(self, name)
            if value and not _is_host_port(value):
                raise ValueError(f"--{name.replace('_', '-')} must be HOST:PORT, got {value!r}")
        if self.timeout <= 0 or self.grace < 0 or self.max_connections < 1:
            raise ValueError("--timeout must be > 0, --grace >= 0 and --max-connections >= 1")
        if not 0 <= self.max_retries <= 10:
            raise ValueError(f"--max-retries must be 0-10, got {self.max_retries}")
        if self.max_message_bytes < 64 * 1024:
            raise ValueError(f"--max-message-bytes must be at least 65536, got {self.max_message_bytes}")
        if self.log_level not in LOG_LEVELS:
            raise ValueError(f"--log-level must be one of {', '.join(LOG_LEVELS)}, got {self.log_level!r}")
        self._check_tls()

    def _check_tls(self) -> None:
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("--tls-cert and --tls-key go together")
        if self.tls_client_ca and not self.tls_cert:
            raise ValueError("--tls-client-ca (mTLS) needs --tls-cert and --tls-key")
        for name in ("tls_cert", "tls_key", "tls_client_ca"):
            path = getattr(self, name)
            if path and not Path(path).is_file():
                raise ValueError(f"--{name.replace('_', '-')}: no such file: {path}")

    @classmethod
    def load(cls, argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> Settings:
        """Settings from `argv` flags, else `environ`, else defaults; a bad value exits with a message."""
        parser = _parser(environ)
        args = vars(parser.parse_args(argv))
        try:
            return cls(api_key=environ.get("OPENAI_API_KEY") or None, **args)
        except ValueError as exc:
            parser.error(str(exc))

    def read_tls(self) -> tuple[bytes, bytes, bytes | None] | None:
        """(certificate chain, private key, client CA or None) as bytes, or None when TLS is off."""
        if not self.tls_cert or not self.tls_key:
            return None
        ca = Path(self.tls_client_ca).read_bytes() if self.tls_client_ca else None
        return Path(self.tls_cert).read_bytes(), Path(self.tls_key).read_bytes(), ca


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
    ("base_url", "OPENAI_BASE_URL", str, f"base URL of the REST API (default {DEFAULT_BASE_URL})"),
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
)
"""Each flag: settings field, environment variable, parser, help."""

_FLAG_NAMES = {"base_url": "--upstream"}


def _parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="runs-gateway",
        description="gRPC gateway in front of the OpenAI Assistants v1 Runs REST API. The API key used "
        "when a client sends no `authorization` metadata is read from the environment variable "
        "OPENAI_API_KEY only.",
    )
    defaults = {f.name: f.default for f in fields(Settings)}
    for name, variable, kind, text in FLAGS:
        flag = _FLAG_NAMES.get(name, "--" + name.replace("_", "-"))
        # argparse converts a string default as if it had been given: a bad variable fails like a bad flag.
        default = environ.get(variable, defaults[name])
        parser.add_argument(flag, dest=name, type=kind, default=default, help=f"{text}; env {variable}")
    return parser
