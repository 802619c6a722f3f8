"""Logs never stop serving (issue 18): JSON lines written off the event loop through a bounded queue, what the
queue cannot take dropped and counted, and gRPC core's own lines (written by C to fd 2) JSON lines too.

The end-to-end tests run `runs-gateway` as a process whose stderr is a pipe the test leaves unread for a
while, as a log driver that backs up would; the others drive `gateway.logs` in this process, on pipes of
their own (never this process's stderr).
"""

from __future__ import annotations

import array
import fcntl
import json
import logging
import os
import re
import select
import signal
import socket
import subprocess
import sys
import termios
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import closing, suppress
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from loopback import until
from runs_gateway.assistants.v1 import runs_service_pb2 as pb
from runs_gateway.assistants.v1 import runs_service_pb2_grpc as pb_grpc

from emulator import EmulatorConfig, EmulatorServer
from gateway import logs

KEY = "sk-logs-test-key-0123456789"
CAP = 120.0
"""Every call's deadline and every wait's cap: a hung gateway fails the test, a slow machine does not."""
QUEUE = 100
"""The gateway's log queue in the back-pressure test (10,000 by default): small, for the burst to overflow."""
SERVING = health_pb2.HealthCheckResponse.SERVING
ACCESS_KEYS = {"time", "level", "logger", "message", "method", "code", "duration_ms"}
ACCESS_KEYS |= {"upstream_status", "upstream_request_id", "upstream_attempts"}
Popen = subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(step_seconds=0.0, api_keys=frozenset({KEY}))) as server:
        yield server


def start(upstream: str, *flags: str, prelude: str = "", stderr: int = subprocess.PIPE, **env: str) -> Popen:
    """`runs-gateway` on a free loopback port; `prelude` runs first in the process (to set a constant)."""
    program = ["-c", f"{prelude}\nfrom gateway.server import main\nmain()"] if prelude else ["-m", "gateway"]
    command = [sys.executable, *program, "--listen", "127.0.0.1:0", "--upstream", upstream, *flags]
    environment = {**os.environ, "OPENAI_API_KEY": KEY, **env}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, env=environment)


def target_of(process: Popen) -> str:
    """Where the gateway listens, once it says so (it says so once it serves)."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], CAP)
    assert ready, "the gateway never said it was serving"
    line = process.stdout.readline().decode()
    assert line.startswith("runs-gateway listening on "), line
    return line.rsplit(" ", 1)[-1].strip()


def stop(process: Popen) -> list[dict[str, Any]]:
    """SIGTERM, exit 0, and every line of stderr, each of which must be a JSON object."""
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=CAP)
    assert process.returncode == 0, stderr
    return [json.loads(line) for line in stderr.splitlines()]


def burst(channel: grpc.Channel, gets: int, checks: int) -> int:
    """`gets` GetRun calls (of a run that does not exist: the upstream's 404) and `checks` health checks, all
    at once; every one must be answered. The number of RPCs made."""
    runs = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
    health = health_pb2_grpc.HealthStub(channel)
    request = pb.GetRunRequest(thread_id="thread_none", run_id="run_x")
    got = [runs.GetRun.future(request, timeout=CAP) for _ in range(gets)]
    checked = [health.Check.future(health_pb2.HealthCheckRequest(), timeout=CAP) for _ in range(checks)]
    assert [call.code() for call in got] == [grpc.StatusCode.NOT_FOUND] * gets
    assert [call.result().status for call in checked] == [SERVING] * checks
    return gets + checks


def stuck_pipe(room: int = 0) -> tuple[int, int]:
    """A pipe (read end, write end) already full of blank lines, as if nobody had read it for a while, but
    for `room` bytes (a multiple of the page size: a pipe frees its room a page at a time)."""
    read, write = os.pipe()
    os.set_blocking(write, False)
    with suppress(BlockingIOError):
        while True:
            os.write(write, b"\n" * select.PIPE_BUF)
    os.set_blocking(write, True)
    os.read(read, room)
    return read, write


def full(pipe: int) -> bool:
    """Whether the pipe has less than a page of room: its writer waits. (Linux adds a write to the last page
    only when all of the write's tail fits there, so a writer of many lines at once waits with up to a page
    of room left.)"""
    unread = array.array("i", [0])
    fcntl.ioctl(pipe, termios.FIONREAD, unread)
    return unread[0] > fcntl.fcntl(pipe, fcntl.F_GETPIPE_SZ) - select.PIPE_BUF


def read_all(pipe: int) -> bytes:
    data = bytearray()
    while chunk := os.read(pipe, 65536):
        data += chunk
    return bytes(data)


def dropped_metric(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=CAP).text
    [value] = re.findall(r"^runs_gateway_log_records_dropped_total (\S+)$", text, re.MULTILINE)
    return float(value)


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_stderr_nobody_reads_stops_no_rpc_and_the_lines_dropped_are_counted(
    emulator: EmulatorServer,
) -> None:
    port = free_port()
    prelude = f"import gateway.logs\ngateway.logs.QUEUE_SIZE = {QUEUE}"
    read, write = stuck_pipe(room=4096)  # the gateway's stderr: room for a dozen lines, then nobody reads it
    process = start(emulator.base_url, "--metrics-listen", f"127.0.0.1:{port}", prelude=prelude, stderr=write)
    os.close(write)
    output = Future[bytes]()
    try:
        with grpc.insecure_channel(target_of(process)) as channel:
            made = burst(channel, 600, 30)  # every call answered, though the log writer waits on stderr
            made += burst(channel, 100, 10)
            assert until(lambda: full(read), CAP)  # the writer takes what is queued every 50 ms
            dropped_meanwhile = dropped_metric(port)
            assert dropped_meanwhile > 0
        threading.Thread(target=lambda: output.set_result(read_all(read)), daemon=True).start()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=CAP) == 0
        lines = output.result(timeout=CAP).splitlines()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()  # type: ignore[union-attr]
        os.close(read)
    entries = [json.loads(line) for line in lines if line]  # every line a JSON object (the blank ones: ours)
    reports = [e for e in entries if e["logger"] == "gateway.logs"]
    records = [e for e in entries if e["logger"] != "gateway.logs"]
    dropped = reports[-1]["dropped_total"]
    assert sum(r["dropped"] for r in reports) == dropped >= dropped_meanwhile
    assert {e["logger"] for e in records} == {"gateway", "gateway.access"}
    # Every record made was written or counted: one per RPC, and the gateway's serving, stopping, stopped.
    assert len(records) + dropped == made + 3
    assert records[0]["message"] == "serving"  # written before the pipe filled
    assert all(set(e) == ACCESS_KEYS for e in records if e["logger"] == "gateway.access")


def test_grpc_cores_own_lines_come_out_as_json_lines(emulator: EmulatorServer) -> None:
    # GRPC_VERBOSITY=DEBUG: the core logs at start; GRPC_TRACE=api: it logs every call it is made, from the
    # event loop's thread among others.
    process = start(emulator.base_url, GRPC_VERBOSITY="DEBUG", GRPC_TRACE="api")
    try:
        with grpc.insecure_channel(target_of(process)) as channel:
            burst(channel, 3, 3)
        entries = stop(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    core = [e for e in entries if e["logger"] == "grpc"]
    assert any(e["message"].startswith("Log level DEBUG is not suitable") for e in core)
    assert sum(e["message"].startswith("grpc_call_start_batch(") for e in core) >= 6
    assert {e["level"] for e in core} <= {"DEBUG", "INFO", "WARNING", "ERROR"}
    assert all(re.fullmatch(r"[\w/.-]+\.cc:\d+", e["source"]) for e in core)
    assert [e for e in entries if e["logger"] == "stderr"] == []  # each of the core's lines was read as one
    assert [e["message"] for e in entries if e["logger"] == "gateway"] == ["serving", "stopping", "stopped"]
    assert len([e for e in entries if e["logger"] == "gateway.access"]) == 6


def test_a_failure_at_start_is_json_lines_too_the_cores_error_and_the_traceback() -> None:
    with closing(socket.socket()) as taken:  # the port is taken: gRPC core logs why it cannot bind
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        listen = f"127.0.0.1:{taken.getsockname()[1]}"
        done = subprocess.run(
            [sys.executable, "-m", "gateway", "--listen", listen, "--upstream", "http://127.0.0.1:9/v1"],
            capture_output=True,
            timeout=CAP,
            env={**os.environ, "OPENAI_API_KEY": KEY},
        )
    assert done.returncode == 1
    entries = [json.loads(line) for line in done.stderr.splitlines()]
    [core] = [e for e in entries if e["logger"] == "grpc"]
    assert (core["level"], core["message"][:28]) == ("ERROR", "Failed to add port to server")
    traceback = "\n".join(e["message"] for e in entries if e["logger"] == "stderr").splitlines()
    assert traceback[0] == "Traceback (most recent call last):"
    assert traceback[-1].startswith(f"RuntimeError: Failed to bind to address {listen}")


# `gateway.logs` in this process.


class Sink:
    """A pipe for a writer thread, full from the start when `stuck` (see `stuck_pipe`), read by a thread of
    the test once `drain()` is called."""

    def __init__(self, *, stuck: bool = False) -> None:
        self.read, self.write = stuck_pipe() if stuck else os.pipe()
        self._data = Future[bytes]()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def _read(self) -> None:
        self._data.set_result(read_all(self.read))

    def drain(self) -> None:
        self._thread.start()

    def entries(self) -> list[dict[str, Any]]:
        """Every line written, once the writer is done with the pipe; each must be a JSON object."""
        os.close(self.write)
        if self._thread.ident is None:
            self.drain()
        data = self._data.result(timeout=CAP)
        os.close(self.read)
        return [json.loads(line) for line in data.splitlines() if line]


@pytest.fixture
def logger() -> logging.Logger:
    """A logger of the test's own, outside logging's tree: pytest adds its handlers (which format on the
    caller's thread) to the root and to every logger that does not propagate."""
    return logging.Logger("test.logs", logging.INFO)


def test_a_full_queue_drops_and_counts_and_the_caller_never_waits(logger: logging.Logger) -> None:
    sink = Sink(stuck=True)  # the writer thread waits on its first line
    pipeline = logs.Logs(sink.write, capacity=10)
    logger.addHandler(pipeline.handler)
    for n in range(1000):
        logger.info(
            "line %d", n
        )  # returns: the queue takes 10, the writer holds a batch, the rest is dropped
    assert pipeline.drops.count >= 1000 - 2 * 10
    sink.drain()
    assert pipeline.close(CAP)
    entries = sink.entries()
    reports = [e for e in entries if e["logger"] == "gateway.logs"]
    assert sum(r["dropped"] for r in reports) == reports[-1]["dropped_total"] == pipeline.drops.count
    written = [int(e["message"].removeprefix("line ")) for e in entries if e["logger"] == "test.logs"]
    assert len(written) + pipeline.drops.count == 1000
    assert written == sorted(written)


class Noted:
    """A message that notes the threads that format it."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []

    def __str__(self) -> str:
        self.threads.append(threading.current_thread())
        return "noted"


def test_the_caller_formats_nothing_and_the_lines_keep_their_fields(logger: logging.Logger) -> None:
    sink = Sink()
    sink.drain()
    pipeline = logs.Logs(sink.write)
    logger.addHandler(pipeline.handler)
    message = Noted()
    logger.info(message, extra={"fields": {"method": "/a.B/C", "code": "OK"}})
    logger.warning("merged %s", "here")  # arguments are merged by the caller: they may change afterwards
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        logger.exception("failed")
    assert pipeline.close(CAP)
    first, merged, failed = sink.entries()
    assert message.threads
    assert threading.current_thread() not in message.threads
    assert set(first) == {"time", "level", "logger", "message", "method", "code"}
    assert (first["message"], first["method"], first["code"]) == ("noted", "/a.B/C", "OK")
    assert (merged["level"], merged["message"]) == ("WARNING", "merged here")
    assert failed["exception"].endswith("ZeroDivisionError: division by zero")


def test_closing_waits_a_bounded_time_on_a_stuck_sink(logger: logging.Logger) -> None:
    sink = Sink(stuck=True)
    pipeline = logs.Logs(sink.write, capacity=10)
    logger.addHandler(pipeline.handler)
    for _ in range(100):
        logger.info("x")
    assert not pipeline.close(0.5)  # the writer is stuck, the queue full: closing gives up, not waits
    sink.drain()
    assert pipeline.close(CAP)  # read again: everything queued is written
    entries = sink.entries()
    reports = [e for e in entries if e["logger"] == "gateway.logs"]
    assert len([e for e in entries if e["logger"] == "test.logs"]) + reports[-1]["dropped_total"] == 100


def test_what_is_written_to_a_captured_fd_becomes_json_lines() -> None:
    sink = Sink()
    sink.drain()
    pipeline = logs.Logs(sink.write)
    captured = os.dup(sink.write)  # stands for fd 2
    pipeline.capture(captured)
    os.write(captured, b"E1207 02:15:58.192422   23795 hpack_encoder.cc:618] Ignoring key value pair due")
    os.write(captured, b" to size limit\nI1207 02:15:58.192499   23795 src/core/lib/surface/init.cc:124] ")
    os.write(captured, b"grpc_init(void)\n\nTraceback (most recent call last):\r\n\xff not UTF-8\n")
    os.write(captured, b"I1207 02:15:58.192512   23795 call.cc:7] ops[1]: SEND\nkey=a value=61 'a'\n")
    assert pipeline.close(CAP)
    os.close(captured)  # the capture's pipe
    got = [(e["logger"], e["level"], e["message"], e.get("source")) for e in sink.entries()]
    assert got == [
        ("grpc", "ERROR", "Ignoring key value pair due to size limit", "hpack_encoder.cc:618"),
        ("grpc", "INFO", "grpc_init(void)", "src/core/lib/surface/init.cc:124"),
        ("stderr", "ERROR", "Traceback (most recent call last):\n\\xff not UTF-8", None),
        ("grpc", "INFO", "ops[1]: SEND\nkey=a value=61 'a'", "call.cc:7"),  # a message of several lines
    ]


@pytest.mark.parametrize(
    ("line", "name", "level", "message", "source"),
    [
        (b"W1207 02:18:12.280791   24825 log.cc:110] Log", "grpc", "WARNING", "Log", "log.cc:110"),
        (b"D0608 10:00:00.123456789  12 tcp_posix.cc:7] read", "grpc", "DEBUG", "read", "tcp_posix.cc:7"),
        (b"F1207 02:18:12.280791 1 check.cc:1] boom", "grpc", "CRITICAL", "boom", "check.cc:1"),
        (b"E1207 not the core's", "stderr", "ERROR", "E1207 not the core's", None),
        (b'  File "x.py", line 1, in <f>', "stderr", "ERROR", '  File "x.py", line 1, in <f>', None),
    ],
)  # fmt: skip
def test_an_entry_of_fd_2_as_a_record(
    line: bytes, name: str, level: str, message: str, source: str | None
) -> None:
    record = logs.line_record(line)
    assert (record.name, record.levelname, record.getMessage()) == (name, level, message)
    assert getattr(record, "fields", {}).get("source") == source


def test_lines_make_entries_and_a_line_without_its_end_is_cut_past_its_cap() -> None:
    assert logs.split_lines(b"ab", b"c\r\nd") == ([b"abc"], b"d")
    core = b"E1207 02:15:58.192422 1 a.cc:1] x"
    assert logs.split_lines(b"", b"one\ntwo\n" + core + b"\nthree\n" + core + b"\n") == (
        [b"one", b"two", core + b"\nthree", core],
        b"",
    )
    assert logs.split_lines(b"", b"x" * (logs.LINE_BYTES + 1)) == ([b"x" * (logs.LINE_BYTES + 1)], b"")
