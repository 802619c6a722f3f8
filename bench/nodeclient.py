"""The Node.js clients of the benchmarks: a worker process running bench/node/list.js, driven over its pipes.

bench/node is a Node project of its own (package.json and package-lock.json, exact versions: openai-node
4.x, the last major with `beta.threads.runs.list`, and the example client's @grpc/grpc-js and
@grpc/proto-loader), installed by `make bench` into bench/node/node_modules. The worker stays up for the
whole run: each read is one JSON command on its stdin and one JSON answer on its stdout, with the elapsed
time and the CPU time (`process.cpuUsage()`) of the read alone, the count of ids and their SHA-256. The
gateway's and the emulator's CPU are read from /proc around the command (`Meter`), as for every client.
"""

from __future__ import annotations

import json
import select
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bench.harness import API_KEY, START_TIMEOUT, stop
from bench.listing import Listing
from bench.measure import CLIENT, Meter, Usage

NODE_DIR = Path(__file__).resolve().parent / "node"
SCRIPT = NODE_DIR / "list.js"
PACKAGES = ("openai", "@grpc/grpc-js", "@grpc/proto-loader")
READ_TIMEOUT = 600.0


def unavailable() -> str | None:
    """Why the Node clients cannot run here, or None when they can."""
    if shutil.which("node") is None:
        return "node is not on PATH"
    missing = [name for name in PACKAGES if not (NODE_DIR / "node_modules" / name / "package.json").is_file()]
    if missing:
        return f"bench/node/node_modules lacks {', '.join(missing)}: run `make bench` (or `make bench-quick`)"
    return None


def versions() -> dict[str, str]:
    """Node's version and the installed versions of the worker's packages (empty when unavailable)."""
    if unavailable() is not None:
        return {}
    node = subprocess.run(("node", "--version"), capture_output=True, text=True, check=True)
    found = {"node": node.stdout.strip().removeprefix("v")}
    for name in PACKAGES:
        manifest = json.loads((NODE_DIR / "node_modules" / name / "package.json").read_text())
        found[f"{name} (node)"] = str(manifest["version"])
    return found


@dataclass(frozen=True)
class NodeRead:
    """What the worker says of one read: the ids as a count, their SHA-256 and the ends of the list."""

    items: int
    messages: int | None
    ids_sha256: str
    first_id: str | None
    last_id: str | None
    usage: Usage


class NodeWorker:
    """A running `node bench/node/list.js`: send it a read, get its answer."""

    def __init__(self, process: subprocess.Popen[str], log: IO[bytes]) -> None:
        self.process, self._log = process, log

    def gateway(self, target: str, listing: Listing, limit: int, meter: Meter) -> NodeRead:
        """Every run of a thread through the gateway's ListRuns, with @grpc/grpc-js (`limit` 0: unset)."""
        return self._read({"client": "gateway", "target": target, "limit": limit}, listing, meter)

    def sdk(self, base_url: str, listing: Listing, limit: int, meter: Meter) -> NodeRead:
        """Every run of a thread with openai-node's auto-pagination (`limit` 0: the SDK's default)."""
        command = {"client": "sdk", "base_url": base_url, "api_key": API_KEY, "limit": limit}
        return self._read(command, listing, meter)

    def _read(self, command: dict[str, Any], listing: Listing, meter: Meter) -> NodeRead:
        """Read `listing`'s thread as `command` says; the worker checks it read exactly the list."""
        expect = {"items": len(listing.ids), "ids_sha256": listing.digest}
        command = {**command, "thread_id": listing.thread_id, "expect": expect}
        with meter.measure() as measured:
            answer = self._ask(command)
        if "error" in answer:
            raise RuntimeError(f"the Node {command['client']} client failed: {answer['error']}")
        usage = measured.result()
        # The worker's own timing: without the pipes, and its CPU in place of this (idle) process's.
        usage = Usage(float(answer["elapsed_s"]), {**usage.cpu, CLIENT: float(answer["cpu_s"])})
        return NodeRead(
            int(answer["items"]),
            answer["messages"],
            str(answer["ids_sha256"]),
            answer["first_id"],
            answer["last_id"],
            usage,
        )

    def _ask(self, command: dict[str, Any]) -> dict[str, Any]:
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(json.dumps(command) + "\n")
        stdin.flush()
        return self.answer(READ_TIMEOUT)

    def answer(self, timeout: float) -> dict[str, Any]:
        """The worker's next line, parsed; an error with its stderr if none comes in `timeout` seconds."""
        stdout = self.process.stdout
        assert stdout is not None
        ready, _, _ = select.select([stdout], [], [], timeout)
        line = stdout.readline() if ready else ""
        if not line:
            self._log.seek(0)
            tail = self._log.read()[-2000:].decode(errors="replace")
            raise RuntimeError(f"the Node worker did not answer (exit code {self.process.poll()}):\n{tail}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        """End the worker: its stdin closed, it finishes; killed if it does not."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        stop(self.process)
        self._log.close()


@contextmanager
def optional_worker() -> Iterator[NodeWorker | None]:
    """A Node worker for the duration of the block, or None where `unavailable()` says why not."""
    if unavailable() is not None:
        yield None
        return
    with worker() as running:
        yield running


@contextmanager
def worker() -> Iterator[NodeWorker]:
    """A Node worker for the duration of the block (check `unavailable()` first)."""
    log = tempfile.TemporaryFile()  # noqa: SIM115 (the worker owns it and closes it)
    argv = ("node", str(SCRIPT))
    child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
    running = NodeWorker(child, log)
    try:
        if not running.answer(START_TIMEOUT).get("ready"):
            raise RuntimeError("the Node worker did not say it was ready")
        yield running
    finally:
        running.close()
