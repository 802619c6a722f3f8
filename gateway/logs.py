"""Logging off the event loop: JSON lines on stderr written by a thread of their own, through a bounded queue.

`configure()` puts a `QueueHandler` on the root logger, so a log call costs its caller (the event loop) a
record and a `put_nowait`, never a write: when the queue is full the record is dropped and counted
(`runs_gateway_log_records_dropped_total`, and a `gateway.logs` line once lines flow again). A writer
thread takes what is queued every 50 ms (it is not woken per record), formats each record (`JsonFormatter`,
once) and writes them to stderr in one write; a stderr that nobody reads blocks that thread only.

gRPC core writes its own lines from C straight to file descriptor 2, where no Python handler sees them. So fd
2 becomes a pipe, drained by a thread that turns each line into a record on the same queue: logger `grpc`,
its level from the line's first letter, `source` the file and line of the core; any other line (a
traceback of an uncaught exception) logger `stderr`. The listener writes to a duplicate of the real stderr.
At exit, what is queued is written within a bounded wait (a stuck stderr cannot hold the process).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import re
import select
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import suppress
from logging.handlers import QueueHandler

import orjson
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

QUEUE_SIZE = 10_000
"""Records waiting for the writer thread at most; a record that finds the queue full is dropped."""
FLUSH_SECONDS = 5.0
"""How long exit waits for the queued records to be written: a stuck stderr is not waited on any longer."""
REPORT_SECONDS = 1.0
"""While records are being dropped, a `gateway.logs` line says how many at most this often (and at exit)."""
BATCH_SECONDS = 0.05
"""How often the writer thread takes what was queued: a line reaches stderr at most this late."""
BATCH_RECORDS = 1000
"""The most records written at once."""
PIPE_BYTES = 1 << 20
"""The capacity asked for the pipe behind fd 2 (Linux's default ceiling for a user): see `Capture`."""
LINE_BYTES = 64 * 1024
"""A line longer than this, without its newline yet, is cut into records of this size."""
CORE_LINE = re.compile(rb"([DIWEF])\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ ([^ \]]+:\d+)\] ?(.*)", re.DOTALL)
"""gRPC core's line (absl's format): `E1207 02:15:58.192422   23795 hpack_encoder.cc:618] message`."""
EMPTY: Mapping[str, object] = {}
Records = queue.Queue[logging.LogRecord | None]
"""The log queue: records, then None, the listener's end marker."""
MARK = b"runs-gateway-logs-mark "
"""How the line starts that `Capture.sync()` writes to know when the lines written before it were read."""
MESSAGE_STARTS = (b"Traceback (most recent call last):", b"Exception in thread ", b"Exception ignored in")
"""How Python starts the messages of several lines it writes to stderr itself."""
CORE_LEVELS = {
    b"D": logging.DEBUG,
    b"I": logging.INFO,
    b"W": logging.WARNING,
    b"E": logging.ERROR,
    b"F": logging.CRITICAL,
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the record's `fields`.

    orjson writes it (the standard library for what orjson refuses: a lone surrogate, an integer beyond 64
    bits), and the time's text is made once a second: the writer thread holds the GIL while it formats."""

    def __init__(self) -> None:
        super().__init__()
        self._second, self._stamp = -1, ""

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second:
            self._second, self._stamp = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        entry = {
            "time": f"{self._stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        try:
            return orjson.dumps(entry, default=str).decode()
        except (TypeError, orjson.JSONEncodeError):
            return json.dumps(entry, default=str)


class Drops:
    """A count, safe across threads, of the records that never reached the sink."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def add(self) -> None:
        with self._lock:
            self.count += 1


class DroppingQueueHandler(QueueHandler):
    """A QueueHandler that never waits and formats nothing: a record the full queue cannot take is dropped
    and counted; the writer thread formats the rest (time, `fields`, the exception)."""

    def __init__(self, records: Records, drops: Drops) -> None:
        super().__init__(records)
        self.drops = drops
        self.direct: logging.Handler | None = None
        """Once set (when the writer thread has stopped, at exit), the handler each record goes to at once."""

    def handle(self, record: logging.LogRecord) -> bool:
        # No handler lock: the queue has its own, and a lock held while `handleError` writes to fd 2 (a pipe
        # whose reader hands records here too) could wait on that reader for ever.
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        # Only the arguments are merged here, as they may change once the call returns; the base class
        # formats the whole record (and then the writer would format it again).
        if record.args:
            record.msg, record.args = record.getMessage(), None
        return record

    def enqueue(self, record: logging.LogRecord) -> None:
        if self.direct is not None:
            self.direct.handle(record)
            return
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.drops.add()


class FdWriter(logging.Handler):
    """Formats each record and writes it to a file descriptor: the writer thread's handler."""

    def __init__(self, fd: int, drops: Drops) -> None:
        super().__init__()
        self.fd = fd
        self.drops = drops
        self.setFormatter(JsonFormatter())
        self._reported = 0
        self._reported_at = 0.0

    def handle(self, record: logging.LogRecord) -> bool:
        # Called by one thread at a time (the listener's, then exit's once it stopped), so without the handler
        # lock: `logging.shutdown()` at exit takes that lock, and must not wait on a write that is stuck.
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        self.write_all([record])

    def write_all(self, records: list[logging.LogRecord]) -> None:
        """Format `records` and write them in one write."""
        lines = []
        for record in records:
            try:
                lines.append(self.format(record))
            except Exception:  # a record that cannot be formatted: printing it would loop
                self.drops.add()
        if lines:
            try:
                self.write("\n".join(lines))
            except Exception:  # a closed stderr
                for _ in lines:
                    self.drops.add()
                return
        self.report()

    def write(self, line: str) -> None:
        data = (line + "\n").encode("utf-8", "backslashreplace")
        while data:
            try:
                data = data[os.write(self.fd, data) :]
            except BlockingIOError:  # a stderr its parent made non-blocking: wait for room, in this thread
                select.select([], [self.fd], [])

    def report(self, *, final: bool = False) -> None:
        """A `gateway.logs` line with the records dropped since the last one, if any (at most once a
        `REPORT_SECONDS` unless `final`)."""
        dropped, now = self.drops.count, time.monotonic()
        if dropped == self._reported or (not final and now - self._reported_at < REPORT_SECONDS):
            return
        fields = {"dropped": dropped - self._reported, "dropped_total": dropped}
        self._reported, self._reported_at = dropped, now
        try:
            self.write(self.format(_record("gateway.logs", logging.WARNING, "log records dropped", fields)))
        except OSError:
            return


def _record(name: str, level: int, message: str, fields: Mapping[str, object] = EMPTY) -> logging.LogRecord:
    extra = {"fields": fields} if fields else {}
    made = {"name": name, "levelno": level, "levelname": logging.getLevelName(level), "msg": message}
    return logging.makeLogRecord(made | extra)


def line_record(line: bytes) -> logging.LogRecord:
    """The record of an entry written to fd 2: gRPC core's (logger `grpc`, its level, its `source`), or any
    other text (logger `stderr`, level ERROR: mostly tracebacks)."""
    core = CORE_LINE.fullmatch(line)
    if core is None:
        return _record("stderr", logging.ERROR, line.decode("utf-8", "backslashreplace"))
    source = core[2].decode("utf-8", "backslashreplace")
    message = core[3].decode("utf-8", "backslashreplace")
    return _record("grpc", CORE_LEVELS[core[1]], message, {"source": source})


def split_lines(pending: bytes, chunk: bytes) -> tuple[list[bytes], bytes]:
    """The entries of `pending + chunk`, and what is left of a line not ended yet.

    An entry is a line (without its line end; blank lines are none), with the lines that follow it in the
    chunk when it opens a message of several: a line of gRPC core (its metadata dumps follow it), or the start
    of a Python traceback. Such a message is written at once, so it arrives in one chunk."""
    *lines, rest = (pending + chunk).split(b"\n")
    if len(rest) > LINE_BYTES:
        lines, rest = [*lines, rest], b""
    entries: list[bytes] = []
    joins = False
    for line in (line.rstrip(b"\r") for line in lines if line.strip()):
        opens = CORE_LINE.match(line) is not None or line.startswith(MESSAGE_STARTS)
        if joins and not opens and not line.startswith(MARK):
            entries[-1] += b"\n" + line
        else:
            entries.append(line)
            joins = opens
    return entries, rest


class Capture:
    """Whatever is written to file descriptor `fd` from now on, as records handed to `handler`.

    `fd` becomes the write end of a pipe that a thread drains continuously, so a writer (gRPC core, from any
    thread) never waits for the sink: the handler drops what the queue cannot take. The pipe is grown to
    `PIPE_BYTES`, so that a writer holding the GIL (gRPC core called from Python) cannot fill it while the
    reader waits for the GIL. `fd` is never given back (unless reading the pipe fails): a line written to it
    is a JSON line or none at all.
    """

    def __init__(self, fd: int, restore: int, handler: logging.Handler) -> None:
        self.handler = handler
        self._fd, self._restore = fd, restore
        self._mark = MARK + os.urandom(8).hex().encode()
        self._marked = threading.Event()
        read, write = os.pipe()
        _grow(write)
        os.dup2(write, fd)
        os.close(write)
        self._thread = threading.Thread(target=self._drain, args=(read,), name="log-capture", daemon=True)
        self._thread.start()

    def _drain(self, read: int) -> None:
        try:
            for line in _lines(read):
                if line == self._mark:
                    self._marked.set()
                    continue
                try:
                    self.handler.handle(line_record(line))
                except Exception:  # never stop draining: a pipe nobody drains would stop its writers
                    continue
        except OSError:  # the read failed: no writer may wait on a pipe that nobody drains
            os.dup2(self._restore, self._fd)
        finally:
            os.close(read)

    def sync(self, timeout: float) -> bool:
        """Wait until what was written to `fd` so far has been handed over, `timeout` seconds at most."""
        if not self._thread.is_alive():
            return False
        self._marked.clear()
        os.write(self._fd, self._mark + b"\n")  # a pipe keeps order: the reader sees it after the rest
        return self._marked.wait(timeout)


def _lines(read: int) -> Iterator[bytes]:
    pending = b""
    while chunk := os.read(read, PIPE_BYTES):  # all that is there: a message is cut only while being written
        lines, pending = split_lines(pending, chunk)
        yield from lines
    if pending.strip():
        yield pending


def _grow(pipe: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(pipe, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):
        return  # elsewhere than Linux, or above the system's ceiling: the default size


class _Listener:
    """The writer thread: every `BATCH_SECONDS` it takes all the records queued and writes them at once.

    It is not woken per record: a wake-up per line (a lock, a thread switch, the GIL handed over and back)
    cost the event loop's process more than the line itself, about 0.08 ms of CPU per RPC at one line each
    (measured with GetRun, access log on and off)."""

    def __init__(self, records: Records, handler: FdWriter) -> None:
        self._records = records
        self._handler = handler
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = threading.Thread(
            target=self._run, name="log-writer", daemon=True
        )

    def start(self) -> None:
        if self._thread is not None:
            self._thread.start()

    def _run(self) -> None:
        while True:
            batch: list[logging.LogRecord] = []
            ended = False
            with suppress(queue.Empty):
                while len(batch) < BATCH_RECORDS:
                    record = self._records.get_nowait()
                    if record is None:
                        ended = True
                        break
                    batch.append(record)
            if batch:
                self._handler.write_all(batch)
            if ended:
                return
            if len(batch) < BATCH_RECORDS:
                self._stopping.wait(BATCH_SECONDS)

    def stop_within(self, seconds: float) -> bool:
        """Stop after the records queued so far, waiting `seconds` at most (a full queue behind a stuck
        write would make a plain stop wait for ever). True when the thread has written them all and ended."""
        deadline = time.monotonic() + seconds
        try:
            self._records.put(None, timeout=seconds)
        except queue.Full:
            return False
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
        return self._thread is None or not self._thread.is_alive()


class Logs:
    """The bounded queue, the handler that fills it, the writer thread that empties it into `out` (a file
    descriptor), and the capture of a file descriptor into it once `capture()` is called."""

    def __init__(self, out: int, capacity: int = QUEUE_SIZE) -> None:
        self.drops = Drops()
        self.queue: Records = queue.Queue(capacity)
        self.handler = DroppingQueueHandler(self.queue, self.drops)
        self.writer = FdWriter(out, self.drops)
        self._listener = _Listener(self.queue, self.writer)
        self._listener.start()
        self._capture: Capture | None = None

    def capture(self, fd: int) -> None:
        """What is written to `fd` (gRPC core's lines on fd 2) goes through the queue too."""
        self._capture = Capture(fd, self.writer.fd, self.handler)

    def close(self, timeout: float = FLUSH_SECONDS) -> bool:
        """Write what was logged (and written to the captured fd) so far, waiting `timeout` seconds at most,
        then the count of the dropped records; True when all of it was written.

        Then (the process is ending) each record is written at once by the thread that makes it: there is no
        writer thread any more. When the wait ran out, the sink is stuck: records are queued or dropped."""
        deadline = time.monotonic() + timeout
        if self._capture is not None:
            self._capture.sync(timeout)
        if not self._listener.stop_within(max(0.0, deadline - time.monotonic())):
            return False
        self.handler.direct = self.writer
        with suppress(queue.Empty):
            while True:  # what was queued behind the end marker
                if (record := self.queue.get_nowait()) is not None:
                    self.writer.handle(record)
        self.writer.report(final=True)
        return True


_active: Logs | None = None


def configure(level: str) -> None:
    """JSON lines on stderr at `level`, off the event loop; gRPC core's lines and any other text written to
    stderr among them; httpx's own request lines only when debugging. Flushed at exit."""
    global _active
    out = os.dup(2) if _active is None else _active.writer.fd  # fd 2 is the capture's pipe once configured
    if _active is not None:
        atexit.unregister(_active.close)
        _active.close()
    sys.stderr.flush()
    logs = Logs(out, QUEUE_SIZE)
    logs.capture(2)
    root = logging.getLogger()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
        handler.close()
    root.addHandler(logs.handler)
    root.setLevel(level)
    if level != "DEBUG":
        logging.getLogger("httpx").setLevel(logging.WARNING)
    _lighter_records()
    atexit.register(logs.close)
    _active = logs


def _lighter_records() -> None:
    # What a record would gather and no line shows (the calling frame, thread, process): the documented
    # optimizations of the logging HOWTO, which spare the event loop a stack walk per line.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def dropped() -> int:
    """Log records dropped since `configure()` (a queue full, or a write that failed)."""
    return 0 if _active is None else _active.drops.count


class _DroppedCollector(Collector):
    def collect(self) -> Iterator[CounterMetricFamily]:
        help_text = "Log records dropped, not written: the log queue was full (stderr slow or stuck)."
        yield CounterMetricFamily("runs_gateway_log_records_dropped", help_text, value=dropped())


def observe(registry: CollectorRegistry) -> None:
    """Report `runs_gateway_log_records_dropped_total` in `registry`."""
    registry.register(_DroppedCollector())
