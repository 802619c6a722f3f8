"""Settings: one frozen object built once, at start, from command-line flags over environment variables.

A bad value fails at start with a message naming the flag or variable, never later in a request. The API key
is read from the environment only: a flag would show it to anyone who can list processes.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_LISTEN = "127.0.0.1:50051"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the gateway process is configured with."""

    listen: str = DEFAULT_LISTEN
    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 60.0
    grace: float = 5.0
    max_connections: int = 100
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        url = urlsplit(self.base_url)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise ValueError(f"upstream base URL must be an http(s) URL, got {self.base_url!r}")
        host, sep, port = self.listen.rpartition(":")
        if not sep or not host or not port.isdigit() or int(port) > 65535:
            raise ValueError(f"listen address must be HOST:PORT, got {self.listen!r}")
        if self.timeout <= 0 or self.grace < 0 or self.max_connections < 1:
            raise ValueError("timeout must be > 0, grace >= 0 and max connections >= 1")

    @classmethod
    def load(cls, argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> Settings:
        """Settings from `argv` flags, else `environ`, else defaults; a bad value exits with a message."""
        parser = _parser(environ)
        args = parser.parse_args(argv)
        try:
            return cls(
                listen=args.listen,
                base_url=args.upstream,
                api_key=environ.get("OPENAI_API_KEY") or None,
                timeout=args.timeout,
                grace=args.grace,
                max_connections=args.max_connections,
                log_level=args.log_level,
            )
        except ValueError as exc:
            parser.error(str(exc))


def _parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="runs-gateway",
        description="gRPC gateway in front of the OpenAI Assistants v1 Runs REST API. "
        "The API key used when a client sends no `authorization` metadata is read from OPENAI_API_KEY.",
    )
    env = environ.get
    parser.add_argument(
        "--listen",
        default=env("RUNS_GATEWAY_LISTEN", DEFAULT_LISTEN),
        help="HOST:PORT to serve gRPC on; port 0 picks a free one (env RUNS_GATEWAY_LISTEN, "
        f"default {DEFAULT_LISTEN})",
    )
    parser.add_argument(
        "--upstream",
        default=env("OPENAI_BASE_URL", DEFAULT_BASE_URL),
        help=f"base URL of the REST API (env OPENAI_BASE_URL, default {DEFAULT_BASE_URL})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=env("RUNS_GATEWAY_TIMEOUT", "60"),
        help="seconds an upstream call may take when the client sets no shorter deadline "
        "(env RUNS_GATEWAY_TIMEOUT, default 60)",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=env("RUNS_GATEWAY_GRACE", "5"),
        help="seconds in-flight RPCs get to finish on shutdown (env RUNS_GATEWAY_GRACE, default 5)",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=env("RUNS_GATEWAY_MAX_CONNECTIONS", "100"),
        help="size of the upstream connection pool (env RUNS_GATEWAY_MAX_CONNECTIONS, default 100)",
    )
    parser.add_argument(
        "--log-level",
        default=env("RUNS_GATEWAY_LOG_LEVEL", "INFO"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level (env RUNS_GATEWAY_LOG_LEVEL, default INFO)",
    )
    return parser
