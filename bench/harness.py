"""The processes under measurement: the REST emulator and the gateway, each a child process on loopback.

Both are started the way a user starts them (`python -m emulator`, `python -m gateway`), so what is measured
includes their real servers and sockets and nothing of the benchmark's own process. The gateway runs with
its defaults (access log at INFO included, written to a scratch file) except for its address and upstream.
This module also drives the emulator through its admin API (seeding runs, the latency it adds to every
request), lists a thread's run ids as the reference every client's reading is checked against, and reads
from /proc what a process uses: its resident memory and its CPU time.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

API_KEY = "sk-bench-0123456789abcdef"
REST_HEADERS = {"Authorization": f"Bearer {API_KEY}", "OpenAI-Beta": "assistants=v1"}
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port that was free on loopback a moment ago (the emulator's CLI needs a fixed port)."""
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(child: subprocess.Popen[str]) -> None:
    """SIGTERM, then SIGKILL if the child has not exited in time; always reap it and close its pipe."""
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    if child.stdout is not None:
        child.stdout.close()


def rss_kib(pid: int) -> int:
    """The resident set size of process `pid` in KiB (VmRSS in /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process `pid` (all its threads) has used so far, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime and stime, fields 14 and 15


# The emulator -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    """A thread of the emulator filled with `count` completed runs, oldest `first_id`."""

    thread_id: str
    count: int
    first_id: str


@dataclass(frozen=True)
class Emulator:
    """A running `python -m emulator` process and the URLs it serves."""

    process: subprocess.Popen[str]
    base_url: str  # the REST API, http://127.0.0.1:PORT/v1
    admin_url: str  # the admin API, http://127.0.0.1:PORT/_emulator

    def seed(self, count: int) -> Seeded:
        """A new thread with `count` completed runs (the admin API creates them at once)."""
        with httpx.Client(headers=REST_HEADERS, timeout=120, trust_env=False) as rest:
            thread = rest.post(f"{self.base_url}/threads", json={}).raise_for_status().json()
            url = f"{self.admin_url}/threads/{thread['id']}/runs:seed"
            answer = rest.post(url, json={"count": count}).raise_for_status().json()
        return Seeded(thread["id"], answer["count"], answer["first_id"])

    def forget_requests(self) -> None:
        """Empty the emulator's log of the requests it received (it keeps every one)."""
        httpx.delete(f"{self.admin_url}/requests", trust_env=False).raise_for_status()

    def run_ids(self, thread_id: str) -> list[str]:
        """The ids of every run of a thread, oldest first: what a client reading the list must get."""
        ids: list[str] = []
        params: dict[str, str | int] = {"limit": 100, "order": "asc"}
        with httpx.Client(base_url=self.base_url, headers=REST_HEADERS, timeout=60, trust_env=False) as rest:
            while True:
                page = rest.get(f"/threads/{thread_id}/runs", params=params).raise_for_status().json()
                ids += [run["id"] for run in page["data"]]
                if not page["has_more"]:
                    return ids
                params = {**params, "after": page["last_id"]}

    @contextmanager
    def latency(self, seconds: float) -> Iterator[None]:
        """Every API request answered `seconds` later for the duration of the block (the admin API)."""
        url = f"{self.admin_url}/latency"
        httpx.post(url, json={"seconds": seconds}, trust_env=False).raise_for_status()
        try:
            yield
        finally:
            httpx.post(url, json={"seconds": 0}, trust_env=False).raise_for_status()


@contextmanager
def emulator(reply_deltas: int | None = None, step_seconds: float = 0.0) -> Iterator[Emulator]:
    """Run the emulator for the duration of the block: runs complete at once (`--step-seconds 0`) unless
    `step_seconds` paces them; a streamed run's reply in `reply_deltas` `thread.message.delta` events (None:
    the emulator's default)."""
    port = free_port()
    argv = [
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--step-seconds",
        str(step_seconds),
        "--api-key",
        API_KEY,
    ]
    if reply_deltas is not None:
        argv += ["--reply-deltas", str(reply_deltas)]
    child = subprocess.Popen((sys.executable, "-m", "emulator", *argv), stdout=subprocess.DEVNULL, text=True)
    try:
        running = Emulator(child, f"http://127.0.0.1:{port}/v1", f"http://127.0.0.1:{port}/_emulator")
        _wait_until_answering(running)
        yield running
    finally:
        stop(child)


def _wait_until_answering(target: Emulator) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    with httpx.Client(headers=REST_HEADERS, timeout=1, trust_env=False) as rest:
        while True:
            try:
                rest.get(f"{target.base_url}/assistants/none")  # any HTTP answer (a 404) will do
                return
            except httpx.TransportError:
                if target.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the emulator did not start") from None
                time.sleep(0.05)


# The gateway ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    """A running child process that serves gRPC (the gateway), its address and its stderr (a file)."""

    process: subprocess.Popen[str]
    target: str  # 127.0.0.1:PORT
    log: IO[bytes]

    def rss_kib(self) -> int:
        """The process's resident memory now, in KiB."""
        return rss_kib(self.process.pid)

    def stop(self) -> None:
        """Stop the process and drop its log."""
        stop(self.process)
        self.log.close()


def launch(argv: Sequence[str], env: Mapping[str, str] | None = None) -> Server:
    """Start a process that prints "... listening on HOST:PORT" once it serves; return once it has."""
    log = tempfile.TemporaryFile()  # noqa: SIM115 (the Server owns it and closes it in stop())
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    running = Server(child, "", log)
    try:
        return Server(child, _announced_target(running), log)
    except BaseException:
        running.stop()
        raise


def _announced_target(running: Server) -> str:
    stdout = running.process.stdout
    assert stdout is not None
    ready, _, _ = select.select([stdout], [], [], START_TIMEOUT)
    line = stdout.readline() if ready else ""
    if "listening on" not in line:  # "runs-gateway listening on 127.0.0.1:PORT"
        running.log.seek(0)
        tail = running.log.read()[-2000:].decode(errors="replace")
        raise RuntimeError(f"{running.process.args!r} did not start: {line!r}\n{tail}")
    return line.rsplit(" ", 1)[-1].strip()


def gateway_argv(upstream: str, *, wrapper: Sequence[str] = (), flags: Sequence[str] = ()) -> list[str]:
    """The command line of a gateway in front of `upstream` on a free loopback port; `wrapper` goes
    between the interpreter and `-m gateway` (a profiler such as `-m pyinstrument -o FILE`), `flags` after
    the gateway's own."""
    return [
        *(sys.executable, *wrapper, "-m", "gateway"),
        *("--listen", "127.0.0.1:0", "--upstream", upstream, "--grace", "1", *flags),
    ]


def launch_gateway(upstream: str, *, wrapper: Sequence[str] = (), flags: Sequence[str] = ()) -> Server:
    """Start a gateway and return once it has announced its port, which it does after reporting SERVING."""
    # Only the flags configure it: settings a developer has in the environment would change what is measured.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNS_GATEWAY_", "OPENAI_"))}
    env["OPENAI_API_KEY"] = API_KEY
    return launch(gateway_argv(upstream, wrapper=wrapper, flags=flags), env)


@contextmanager
def gateway(upstream: str, *, wrapper: Sequence[str] = (), flags: Sequence[str] = ()) -> Iterator[Server]:
    """Run a gateway in front of `upstream` for the duration of the block, SERVING from the start."""
    running = launch_gateway(upstream, wrapper=wrapper, flags=flags)
    try:
        if not is_serving(running.target):
            raise RuntimeError("the gateway announced its port but is not SERVING")
        yield running
    finally:
        running.stop()


def is_serving(target: str, timeout: float = 5.0) -> bool:
    """Whether the gRPC health service at `target` answers SERVING for the whole server."""
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        answer = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout, wait_for_ready=True)
    return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)
