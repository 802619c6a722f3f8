"""Serving the emulator over HTTP with uvicorn: `EmulatorServer` for tests and tools, `main()` for the CLI."""

from __future__ import annotations

import argparse
import socket
import threading
import time
from collections.abc import Sequence
from types import TracebackType

import uvicorn

from emulator.app import EmulatorConfig, create_app
from emulator.dialects import DIALECTS


class EmulatorServer:
    """The emulator on a loopback port in a background thread, for the duration of a `with` block.

    The socket is bound before the thread starts, so `base_url` (the dialect's base path included) and
    `root_url` are known and connectable at once.
    """

    def __init__(self, config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = create_app(config)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit this. uvicorn does not set it on connections of a socket it was handed,
        # and without it every response waits ~40 ms on Nagle and the peer's delayed ACK.
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.bind((host, port))
        self.host, self.port = host, int(self._socket.getsockname()[1])
        self.root_url = f"http://{host}:{self.port}"
        """Where the admin API is (`/_emulator/...`), whatever the dialect."""
        self.base_url = self.root_url + (config or EmulatorConfig()).profile.served_base
        """The base URL a client of the dialect's server is given (`.../v1`, `.../api/projects/demo`...)."""
        self._server = uvicorn.Server(
            uvicorn.Config(self.app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
        )
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def __enter__(self) -> EmulatorServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the emulator did not start")
            time.sleep(0.01)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


def main(argv: Sequence[str] | None = None) -> None:
    """The `python -m emulator` command."""
    args = _parser().parse_args(argv)
    config = _config(args)
    base = config.profile.served_base
    print(f"emulator ({config.dialect}) listening on http://{args.host}:{args.port}{base}", flush=True)
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="warning")


def parse_config(argv: Sequence[str]) -> EmulatorConfig:
    """The config the command line `argv` asks for (exits with the usage on a bad value, as `main` does)."""
    return _config(_parser().parse_args(argv))


def _config(args: argparse.Namespace) -> EmulatorConfig:
    """The config of parsed arguments; a value out of range exits with the usage."""
    if not 0 <= args.latency_ms <= 60_000:
        _parser().error("--latency-ms must be from 0 to 60000")
    if args.reply_deltas < 0:
        _parser().error("--reply-deltas must be 0 or more")
    try:
        return EmulatorConfig(
            args.step_seconds,
            frozenset(args.api_keys) if args.api_keys else None,
            frozenset({"v2"} if args.without_v1 else {"v1", "v2"}),
            latency=args.latency_ms / 1000,
            poll_after_ms=args.poll_after_ms,
            reply_deltas=args.reply_deltas,
            dialect=args.dialect,
            api_version=args.api_version,
            coarse_order=args.coarse_order,
        )
    except ValueError as exc:
        _parser().error(str(exc))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m emulator",
        description="In-memory OpenAI Assistants v1 and v2 REST API, or another server of it (--dialect), "
        "with the Responses and Conversations APIs beside it.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    parser.add_argument(
        "--step-seconds",
        type=float,
        default=0.05,
        help="seconds between two transitions of a run (default 0.05; 0: at once, and a stream's events "
        "go out with no pause between them)",
    )
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        help="an accepted API key (repeatable; default: any non-empty key); the astra dialect's "
        "astra-api-token, open-assistant's bearer token",
    )
    parser.add_argument(
        "--poll-after-ms",
        type=int,
        help="send openai-poll-after-ms with this value on every answer about a run (default: none)",
    )
    parser.add_argument(
        "--without-v1",
        action="store_true",
        help="answer `OpenAI-Beta: assistants=v1` as OpenAI has since December 2024 (400 invalid_beta)",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="milliseconds added to every API request before it is handled, as a distant upstream would "
        "(default 0; the admin API /_emulator/latency changes it while serving)",
    )
    parser.add_argument(
        "--dialect",
        choices=list(DIALECTS),
        default="openai",
        help="the server to behave as: its base path, query, credentials, error bodies, timestamps and "
        "stream (default openai)",
    )
    parser.add_argument(
        "--api-version",
        help="the api-version query value accepted, for the azure dialects (default: the dialect's own, "
        "v1 for azure-foundry, 2024-05-01-preview for azure-openai)",
    )
    parser.add_argument(
        "--coarse-order",
        action="store_true",
        help="order lists by whole seconds of created_at and page them by id, as open-assistant-api does "
        "(pages of runs created within one second repeat or skip some)",
    )
    parser.add_argument(
        "--reply-deltas",
        type=int,
        default=0,
        metavar="N",
        help="write the assistant's reply in N thread.message.delta events, its text lengthened as needed "
        "(default 0: one per word of a short reply)",
    )
    return parser
