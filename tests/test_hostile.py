"""Hostile upstreams over real sockets: the gateway in front of an HTTP/1.1 server that misbehaves on purpose.

`HostileUpstream` is `asyncio.start_server` on 127.0.0.1:0 in a thread of its own, speaking HTTP/1.1 by
hand: no framework in the way, so it can reset a connection (SO_LINGER 0), close it mid-body, stall, drip
bytes, lie about sizes, or answer something that is not the REST API. Each test gives it a script (the
request, and how many times its method and path have arrived → what to do) and reads back every request it
received, so a test can count attempts.

Every case asserts the documented gRPC code (and the AIP-193 ErrorInfo reason where one is documented), that
the answer arrives within the client's deadline, that a stream delivered exactly the expected prefix with no
repeats, and that the same gateway then serves a healthy call. Retries are kept fast with small
`max_retries` and `retry-after-ms: 10` hints; transport errors carry no hint, so they cost one 0.5 s backoff.

No assertion depends on how fast the machine is (CI runs on shared, loaded machines): a call that must end
by itself gets a deadline far beyond what it needs (`PATIENT`), a call the deadline must end is allowed
`SLOWER` times its deadline, which is still far less than the upstream's stall, and a test that needs
something to have happened waits for it rather than for a fixed time.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import socket
import struct
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import grpc
import pytest
from conftest import GatewayThread
from factories import rest_error, rest_page, rest_run
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from runs_gateway.assistants.v1 import runs_service_pb2 as pb
from runs_gateway.assistants.v1 import runs_service_pb2_grpc as pb_grpc

from gateway.config import Settings
from gateway.errors import DOMAIN

Code = grpc.StatusCode
KEY = "sk-hostile-test-key-0123456789"
THREAD, RUN = "thread_1", "run_1"
RUN_PATH = f"/v1/threads/{THREAD}/runs/{RUN}"
RUNS_PATH = f"/v1/threads/{THREAD}/runs"
HEALTHY_PATH = "/v1/threads/thread_ok/runs/run_ok"
REQUEST_ID = "req_hostile_0123"
FAST = {"retry-after-ms": "10"}
MiB = 1024 * 1024
SLOWER = 10
"""How many times slower than a quiet developer machine a CI machine may be: every time bound allows it."""
PATIENT = 30.0
"""The client's deadline (and the longest wait) where the call must end by itself: what it needs is a 0.5 s
backoff at most and milliseconds of work, so a loaded machine ends it far inside this."""
SHORT = 2.0
"""The client's deadline where the upstream stalls and the deadline must end the call. The request still
reaches the upstream first (that takes milliseconds), so the attempts are counted."""


# --- the hostile server ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One request as it arrived: method, path, query parameters, headers (lower-case names), body."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


class Reply:
    """The connection a request arrived on, as an action sees it; `finished` stops reading more requests."""

    def __init__(
        self, upstream: HostileUpstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.upstream, self.reader, self.writer = upstream, reader, writer
        self.finished = False
        self._epoch = upstream.epoch

    def release(self) -> None:
        """The peer gave up on this connection: count it, unless it belongs to an earlier test's script."""
        if self._epoch == self.upstream.epoch:
            self.upstream.released += 1
        self.finished = True

    async def send(
        self,
        status: int,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        length: int | None = None,
    ) -> None:
        """An HTTP answer; `length` overrides the Content-Length (a lie, when it differs from the body)."""
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
        lines.append(f"content-length: {len(body) if length is None else length}")
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await self.writer.drain()

    def reset(self) -> None:
        """Drop the connection with a TCP RST (SO_LINGER 0), not a FIN."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()
        self.finished = True

    async def close(self) -> None:
        """Close the connection cleanly (FIN)."""
        self.writer.close()
        self.finished = True

    async def stall(self) -> None:
        """Answer nothing; return when the peer gives up and closes the connection."""
        while await self.reader.read(65536):
            pass
        self.release()


Action = Callable[[Reply], Awaitable[None]]
Script = Callable[[Received, int], Action]
"""(the request, how many requests with its method and path arrived so far, this one included) → action."""


def answer(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Action:
    """A JSON answer."""

    async def act(reply: Reply) -> None:
        body = json.dumps(payload).encode()
        await reply.send(status, body, {"content-type": "application/json", **(headers or {})})

    return act


def fail(status: int, headers: Mapping[str, str] | None = None, **error: Any) -> Action:
    """An OpenAI error body with the request id OpenAI sends; `error` overrides its fields."""
    body = {"error": {**rest_error(f"Hostile HTTP {status}.", "server_error")["error"], **error}}
    return answer(status, body, {"x-request-id": REQUEST_ID, **(headers or {})})


def raw(status: int, body: bytes, content_type: str, *, length: int | None = None) -> Action:
    """An answer with the given body, content type and (possibly lying) Content-Length."""

    async def act(reply: Reply) -> None:
        await reply.send(status, body, {"content-type": content_type}, length=length)

    return act


def then_close(action: Action) -> Action:
    async def act(reply: Reply) -> None:
        await action(reply)
        await reply.close()

    return act


async def reset(reply: Reply) -> None:
    reply.reset()


async def close(reply: Reply) -> None:
    await reply.close()


async def stall(reply: Reply) -> None:
    await reply.stall()


async def not_http(reply: Reply) -> None:
    reply.writer.write(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
    await reply.writer.drain()
    await reply.close()


async def drip(reply: Reply) -> None:
    """A 200 that promises 10,000 bytes and sends one every 50 ms: every read is quick, the whole takes over
    8 minutes."""
    await reply.send(200, b"{", {"content-type": "application/json"}, length=10_000)
    try:
        for _ in range(9_999):
            await asyncio.sleep(0.05)
            reply.writer.write(b" ")
            await reply.writer.drain()
    except ConnectionError:
        pass
    reply.release()


async def endless(reply: Reply) -> None:
    """A chunked 200 that never ends, 1 MiB per chunk, until the peer stops reading and closes."""
    reply.writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    chunk = b"%x\r\n%s\r\n" % (MiB, b" " * MiB)
    try:
        while True:
            reply.writer.write(chunk)
            await reply.writer.drain()
            reply.upstream.sent += MiB
    except ConnectionError:
        pass
    reply.release()


@dataclass
class HostileUpstream:
    """A raw HTTP/1.1 server on 127.0.0.1:0, on its own event loop in a background thread.

    A GET of `HEALTHY_PATH` always answers a run; any other request goes to `script`. Connections are kept
    alive (several requests each) unless an action finishes them.
    """

    script: Script = field(default=lambda request, n: answer(200, rest_run()))
    requests: list[Received] = field(default_factory=list)
    released: int = 0  # connections of `stall`, `drip` or `endless` the peer gave up on
    epoch: int = 0  # bumped by play(): a connection left over from an earlier script is not counted
    sent: int = 0  # body bytes `endless` managed to write
    base_url: str = ""

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="hostile-upstream", daemon=True)
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = threading.Lock()

    def __enter__(self) -> HostileUpstream:
        self._thread.start()
        start = asyncio.start_server(self._accept, "127.0.0.1", 0)
        self._server = asyncio.run_coroutine_threadsafe(start, self._loop).result(10)
        self.base_url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/v1"
        return self

    def __exit__(self, *exc_info: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def play(self, script: Script) -> None:
        """Answer with `script` from now on, with an empty record."""
        with self._lock:
            self.script, self.requests, self.released, self.sent = script, [], 0, 0
            self.epoch += 1

    def attempts(self, method: str, path: str) -> list[Received]:
        """The requests received with this method and path (the healthy path excluded), in order."""
        with self._lock:
            return [r for r in self.requests if (r.method, r.path) == (method, path)]

    def pages(self) -> list[str | None]:
        """The `after` cursor of every list request received, in order."""
        return [r.query.get("after") for r in self.attempts("GET", RUNS_PATH)]

    async def _shutdown(self) -> None:
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = self._loop.create_task(self._connection(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (request := await _read_request(reader)) is not None:
                reply = Reply(self, reader, writer)
                await self._choose(request)(reply)
                if reply.finished:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the gateway went away mid-request: nothing to answer
        finally:
            writer.close()

    def _choose(self, request: Received) -> Action:
        if (request.method, request.path) == ("GET", HEALTHY_PATH):
            return answer(200, rest_run("run_ok", "thread_ok"))
        with self._lock:
            self.requests.append(request)
            count = sum((r.method, r.path) == (request.method, request.path) for r in self.requests)
            return self.script(request, count)


async def _read_request(reader: asyncio.StreamReader) -> Received | None:
    line = await reader.readline()
    if not line:
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    url = urlsplit(target)
    return Received(method, url.path, dict(parse_qsl(url.query)), headers, body)


# --- the gateway and its client ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def upstream() -> Iterator[HostileUpstream]:
    with HostileUpstream() as server:
        yield server


@contextmanager
def gateway(base_url: str, **fields: Any) -> Iterator[pb_grpc.RunsServiceStub]:
    """A gateway in front of `base_url` (further `Settings` fields: max_retries=...) and a stub to it."""
    settings = Settings(
        **{"listen": "127.0.0.1:0", "base_url": base_url, "api_key": KEY, "grace": 0.0, **fields}
    )
    with GatewayThread(settings) as target, grpc.insecure_channel(target) as channel:
        yield pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]


def details(call: Any) -> tuple[str | None, str | None]:
    """The ErrorInfo reason (checking its domain) and the RequestInfo request id of a failed call; (None,
    None) when the status has no details (a status the client made itself, when its deadline passed)."""
    status: status_pb2.Status | None = rpc_status.from_call(call)
    reason = request_id = None
    if status is None:
        return reason, request_id
    for packed in status.details:
        if packed.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            packed.Unpack(info)
            assert info.domain == DOMAIN
            reason = info.reason
        elif packed.Is(error_details_pb2.RequestInfo.DESCRIPTOR):
            request = error_details_pb2.RequestInfo()
            packed.Unpack(request)
            request_id = request.request_id
    return reason, request_id


def within(started: float, deadline: float, code: Code) -> None:
    """The status arrived within the client's deadline; when the deadline itself ended the call, within
    `SLOWER` times it: however late a loaded machine fires the timer, long before the upstream's stall (for
    ever, or minutes of dripping) would have ended it."""
    elapsed = time.monotonic() - started
    assert elapsed < (SLOWER * deadline if code is Code.DEADLINE_EXCEEDED else deadline), elapsed


def eventually(condition: Callable[[], bool]) -> bool:
    """Whether `condition` holds, waiting up to `PATIENT` seconds for it (it takes milliseconds)."""
    give_up = time.monotonic() + PATIENT
    while not condition() and time.monotonic() < give_up:
        time.sleep(0.02)
    return condition()


def assert_still_serving(stub: pb_grpc.RunsServiceStub) -> None:
    """The same gateway answers a healthy call right after the hostile one."""
    response = stub.GetRun(pb.GetRunRequest(thread_id="thread_ok", run_id="run_ok"), timeout=PATIENT)
    assert response.run.id == "run_ok"


def runs(*numbers: int) -> list[dict[str, Any]]:
    return [rest_run(f"run_{n:03d}") for n in numbers]


def ids(*numbers: int) -> list[str]:
    return [f"run_{n:03d}" for n in numbers]


# --- unary calls ----------------------------------------------------------------------------------------


KNOWN_BUGS: dict[str, str] = {}
"""Cases that show a known gateway bug, by name, with the bug: each is a strict xfail until fixed."""


def params(cases: Mapping[str, Any]) -> list[Any]:
    """The cases of a table as pytest params named by their keys; a known gateway bug is a strict xfail."""
    return [
        pytest.param(case, id=name, marks=[pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[name])])
        if name in KNOWN_BUGS
        else pytest.param(case, id=name)
        for name, case in cases.items()
    ]


@dataclass(frozen=True)
class Case:
    """A unary RPC against a scripted upstream, and what must come of it."""

    script: Script
    code: Code
    reason: str | None
    attempts: int
    rpc: str = "GetRun"  # or CreateRun, or CreateRun with an idempotency key: "CreateRun+key"
    max_retries: int = 1
    deadline: float = PATIENT
    timeout: float = 30.0  # the gateway's --timeout
    message: str | None = None
    request_id: str | None = None


def always(action: Action) -> Script:
    return lambda request, n: action


def first(count: int, action: Action, then: Action) -> Script:
    return lambda request, n: action if n <= count else then


OK_RUN = answer(200, rest_run())
UNARY_CASES: dict[str, Case] = {
    # Reads are retried on 5xx, within max_retries, with the upstream's hint as the wait.
    "get 503 retried until exhausted": Case(
        always(fail(503, FAST)), Code.UNAVAILABLE, "SERVER_ERROR", 3, max_retries=2, request_id=REQUEST_ID
    ),
    "get 503 then 200": Case(first(1, fail(503, FAST), OK_RUN), Code.OK, None, 2),
    "get html 502 page": Case(
        always(raw(502, b"<html><body>Bad Gateway</body></html>", "text/html")),
        Code.UNAVAILABLE,
        "HTTP_502",
        2,
        message="upstream answered HTTP 502 Bad Gateway",
    ),
    "get 503 x-should-retry false": Case(
        always(fail(503, {"x-should-retry": "false"})), Code.UNAVAILABLE, "SERVER_ERROR", 1, max_retries=2
    ),
    # A hint of 30 s does not fit a 10 s deadline: the error is returned at once, not after 30 s (nor at the
    # deadline, which would be DEADLINE_EXCEEDED).
    "get 503 retry-after past the deadline": Case(
        always(fail(503, {"retry-after": "30"})), Code.UNAVAILABLE, "SERVER_ERROR", 1, deadline=10.0
    ),
    "get 504": Case(always(fail(504, FAST)), Code.DEADLINE_EXCEEDED, "SERVER_ERROR", 2),
    "get 429 rate limited": Case(
        always(fail(429, FAST, type="requests", code="rate_limit_exceeded")),
        Code.RESOURCE_EXHAUSTED,
        "RATE_LIMIT_EXCEEDED",
        2,
    ),
    # No HTTP answer: reads are retried (one 0.5 s backoff), then UNAVAILABLE.
    # No retry hidden below the gateway (aiohttp re-sends a GET once after a reset, unasked): one attempt.
    "get reset, no retries": Case(always(reset), Code.UNAVAILABLE, "UPSTREAM_UNAVAILABLE", 1, max_retries=0),
    "get closed, no retries": Case(always(close), Code.UNAVAILABLE, "UPSTREAM_UNAVAILABLE", 1, max_retries=0),
    "get reset after the request": Case(always(reset), Code.UNAVAILABLE, "UPSTREAM_UNAVAILABLE", 2),
    "get closed without an answer": Case(always(close), Code.UNAVAILABLE, "UPSTREAM_UNAVAILABLE", 2),
    "get content-length larger than the body": Case(
        always(then_close(raw(200, b'{"id": "run_1"', "application/json", length=4096))),
        Code.UNAVAILABLE,
        "UPSTREAM_UNAVAILABLE",
        2,
    ),
    "get an answer that is not http": Case(always(not_http), Code.UNAVAILABLE, "UPSTREAM_UNAVAILABLE", 2),
    "get reset once then 200": Case(first(1, reset, OK_RUN), Code.OK, None, 2),
    # A 2xx that is not the REST API: never retried, a bad gateway.
    "get truncated json": Case(
        always(raw(200, json.dumps(rest_run()).encode()[:-40], "application/json")),
        Code.UNAVAILABLE,
        "UPSTREAM_PROTOCOL_ERROR",
        1,
    ),
    "get html 200": Case(
        always(raw(200, b"<html>Welcome to nginx!</html>", "text/html")),
        Code.UNAVAILABLE,
        "UPSTREAM_PROTOCOL_ERROR",
        1,
    ),
    "get a json array": Case(
        always(answer(200, [rest_run()])), Code.UNAVAILABLE, "UPSTREAM_PROTOCOL_ERROR", 1
    ),
    "get a run of the wrong shape": Case(
        always(answer(200, rest_run(tools="not a list"))), Code.UNAVAILABLE, "UPSTREAM_PROTOCOL_ERROR", 1
    ),
    # Refused on its declared size alone, before any body byte is read.
    "get declared 100 MiB body": Case(
        always(raw(200, b"{", "application/json", length=100 * MiB)),
        Code.UNAVAILABLE,
        "UPSTREAM_PROTOCOL_ERROR",
        1,
    ),
    # Time: the client's deadline bounds the whole call, however the upstream spreads its bytes.
    "get stalled past the client deadline": Case(
        always(stall), Code.DEADLINE_EXCEEDED, None, 1, max_retries=2, deadline=SHORT
    ),
    "get dripping past the client deadline": Case(
        always(drip), Code.DEADLINE_EXCEEDED, None, 1, max_retries=2, deadline=SHORT
    ),
    # The gateway's --timeout (1 s: a healthy call needs milliseconds) ends the attempt, long before the
    # client's deadline; the reason tells it was the gateway's timeout, not the client's.
    "get stalled past the gateway timeout": Case(
        always(stall), Code.DEADLINE_EXCEEDED, "UPSTREAM_TIMEOUT", 1, max_retries=0, timeout=1.0
    ),
    # The gateway's --timeout cut the attempt off, but the client's deadline leaves room for the retry a read
    # gets after a transport error.
    "get stalled past the gateway timeout, client has time to retry": Case(
        always(stall), Code.DEADLINE_EXCEEDED, "UPSTREAM_TIMEOUT", 2, max_retries=1, timeout=1.0
    ),
    # State-changing POSTs: repeated only where the upstream provably did nothing (429).
    "create reset after the request": Case(
        always(reset), Code.UNAVAILABLE, "UPSTREAM_UNAVAILABLE", 1, rpc="CreateRun", max_retries=2
    ),
    "create closed without an answer": Case(
        always(close), Code.UNAVAILABLE, "UPSTREAM_UNAVAILABLE", 1, rpc="CreateRun", max_retries=2
    ),
    "create 500": Case(
        always(fail(500, FAST)), Code.INTERNAL, "SERVER_ERROR", 1, rpc="CreateRun", max_retries=2
    ),
    "create 503": Case(
        always(fail(503, FAST)), Code.UNAVAILABLE, "SERVER_ERROR", 1, rpc="CreateRun", max_retries=2
    ),
    "create 409": Case(
        always(fail(409, FAST, type="invalid_request_error")),
        Code.ABORTED,
        "INVALID_REQUEST_ERROR",
        1,
        rpc="CreateRun",
        max_retries=2,
    ),
    "create stalled past the deadline": Case(
        always(stall), Code.DEADLINE_EXCEEDED, None, 1, rpc="CreateRun", max_retries=2, deadline=SHORT
    ),
    "create 429 then 200": Case(first(1, fail(429, FAST), OK_RUN), Code.OK, None, 2, rpc="CreateRun"),
    "create 429 always": Case(
        always(fail(429, FAST, type="requests", code="rate_limit_exceeded")),
        Code.RESOURCE_EXHAUSTED,
        "RATE_LIMIT_EXCEEDED",
        3,
        rpc="CreateRun",
        max_retries=2,
    ),
    # With the client's idempotency key a POST is safe to repeat: retried like a read.
    "keyed create 500 then 200": Case(
        first(1, fail(500, FAST), OK_RUN), Code.OK, None, 2, rpc="CreateRun+key", max_retries=2
    ),
    "keyed create 500 always": Case(
        always(fail(500, FAST)), Code.INTERNAL, "SERVER_ERROR", 3, rpc="CreateRun+key", max_retries=2
    ),
    "keyed create reset then 200": Case(first(1, reset, OK_RUN), Code.OK, None, 2, rpc="CreateRun+key"),
}


def call_unary(stub: pb_grpc.RunsServiceStub, rpc: str, deadline: float) -> tuple[Any, Any]:
    """(the response, None) or (None, the failed call) of `rpc` made with this deadline."""
    metadata = (("idempotency-key", "create-7f3a"),) if rpc == "CreateRun+key" else ()
    try:
        if rpc == "GetRun":
            return stub.GetRun(pb.GetRunRequest(thread_id=THREAD, run_id=RUN), timeout=deadline), None
        request = pb.CreateRunRequest(thread_id=THREAD, assistant_id="asst_1")
        return stub.CreateRun(request, timeout=deadline, metadata=metadata), None
    except grpc.RpcError as error:
        return None, error


@pytest.mark.parametrize("case", params(UNARY_CASES))
def test_a_hostile_answer_to_a_unary_call(upstream: HostileUpstream, case: Case) -> None:
    upstream.play(case.script)
    with gateway(upstream.base_url, max_retries=case.max_retries, timeout=case.timeout) as stub:
        started = time.monotonic()
        response, error = call_unary(stub, case.rpc, case.deadline)
        within(started, case.deadline, case.code)
        if case.code is Code.OK:
            assert error is None, error.details()
            assert response.run.id == RUN
        else:
            assert error is not None
            assert error.code() == case.code, error.details()
            if case.message is not None:
                assert error.details() == case.message
            reason, request_id = details(error)
            if case.reason is not None:
                assert reason == case.reason
            if case.request_id is not None:
                assert request_id == case.request_id
        method, path = ("GET", RUN_PATH) if case.rpc == "GetRun" else ("POST", RUNS_PATH)
        attempts = upstream.attempts(method, path)
        assert len(attempts) == case.attempts
        if case.rpc == "CreateRun+key":
            assert {a.headers.get("idempotency-key") for a in attempts} == {"create-7f3a"}
        if case.rpc.startswith("CreateRun"):
            assert len({a.body for a in attempts}) == 1  # a retry repeats the same request
        assert_still_serving(stub)


def test_a_stalled_upstream_connection_is_closed_when_the_client_gives_up(upstream: HostileUpstream) -> None:
    upstream.play(always(stall))
    # The gateway's own --timeout is far past the wait below: only the client giving up can close it.
    with gateway(upstream.base_url, timeout=10 * PATIENT) as stub:
        with pytest.raises(grpc.RpcError) as error:
            stub.GetRun(pb.GetRunRequest(thread_id=THREAD, run_id=RUN), timeout=SHORT)
        assert error.value.code() == Code.DEADLINE_EXCEEDED
        # The gateway aborts the REST request in flight: the upstream sees its connection closed.
        assert eventually(lambda: upstream.released >= 1)
        assert upstream.released == 1
        assert_still_serving(stub)


def test_an_endless_body_is_cut_off_at_the_size_cap(upstream: HostileUpstream) -> None:
    upstream.play(always(endless))
    with gateway(upstream.base_url) as stub:
        # UNAVAILABLE, not DEADLINE_EXCEEDED: the cap, not the deadline, ended the endless body.
        with pytest.raises(grpc.RpcError) as error:
            stub.GetRun(pb.GetRunRequest(thread_id=THREAD, run_id=RUN), timeout=PATIENT)
        assert error.value.code() == Code.UNAVAILABLE
        assert details(error.value)[0] == "UPSTREAM_PROTOCOL_ERROR"
        assert "over 67108864 bytes" in str(error.value.details())
        assert eventually(lambda: upstream.released >= 1)
        # It stopped reading at the cap: what was written is the cap plus what socket buffers hold.
        assert upstream.released == 1
        assert 64 * MiB <= upstream.sent < 96 * MiB
        assert len(upstream.attempts("GET", RUN_PATH)) == 1
        assert_still_serving(stub)


def test_a_reset_on_a_reused_connection_is_one_attempt(upstream: HostileUpstream) -> None:
    # The kept-alive connection of the first GET is reset under the second: exactly one request reaches
    # the upstream for it, as the Retries section counts (RFC 9112 lets a client re-send; this one must not).
    upstream.play(lambda request, n: OK_RUN if n == 1 else reset)
    with gateway(upstream.base_url, max_retries=0) as stub:
        assert call_unary(stub, "GetRun", PATIENT)[1] is None
        _, error = call_unary(stub, "GetRun", PATIENT)
        assert error is not None
        assert error.code() == Code.UNAVAILABLE
        assert details(error)[0] == "UPSTREAM_UNAVAILABLE"
        assert len(upstream.attempts("GET", RUN_PATH)) == 2
        assert_still_serving(stub)


def test_a_refused_connection_is_unavailable() -> None:
    with HostileUpstream() as closed:
        base_url = closed.base_url  # the port is free again once the server is gone
    with gateway(base_url, max_retries=0) as stub:
        # UNAVAILABLE, not DEADLINE_EXCEEDED: the refusal ended the call, not a connect timeout.
        with pytest.raises(grpc.RpcError) as error:
            stub.GetRun(pb.GetRunRequest(thread_id=THREAD, run_id=RUN), timeout=PATIENT)
        assert error.value.code() == Code.UNAVAILABLE
        assert details(error.value) == ("UPSTREAM_UNAVAILABLE", None)


# --- one CreateRun never makes two runs -----------------------------------------------------------------


class Creator:
    """An upstream that creates the run (records it) and then fails the way `after` says; with an
    idempotency key it creates at most one run per key and answers a repeat with that run."""

    def __init__(self, after: Action) -> None:
        self.after = after
        self.created: list[str] = []
        self.by_key: dict[str, str] = {}

    def __call__(self, request: Received, n: int) -> Action:
        key = request.headers.get("idempotency-key")
        if key is not None and key in self.by_key:
            return answer(200, rest_run(self.by_key[key]))
        run_id = f"run_created_{len(self.created) + 1}"
        self.created.append(run_id)
        if key is not None:
            self.by_key[key] = run_id
        return self.after


@pytest.mark.parametrize(
    ("after", "code"),
    [
        (reset, Code.UNAVAILABLE),
        (close, Code.UNAVAILABLE),
        (fail(500, FAST), Code.INTERNAL),
        (fail(502, FAST), Code.UNAVAILABLE),
        (
            then_close(raw(200, b'{"id": "run_created_1", "obj', "application/json", length=900)),
            Code.UNAVAILABLE,
        ),
        (raw(200, b'{"id": "run_created_1", "obj', "application/json"), Code.UNAVAILABLE),
        (stall, Code.DEADLINE_EXCEEDED),
    ],
    ids=["reset", "closed", "500", "502", "short body", "truncated json", "stalled"],
)
def test_the_flaky_upstream_never_yields_two_runs_for_one_create_run(
    upstream: HostileUpstream, after: Action, code: Code
) -> None:
    creator = Creator(after)
    upstream.play(creator)
    deadline = SHORT if code is Code.DEADLINE_EXCEEDED else PATIENT
    with gateway(upstream.base_url, max_retries=2) as stub:
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as error:
            stub.CreateRun(pb.CreateRunRequest(thread_id=THREAD, assistant_id="asst_1"), timeout=deadline)
        within(started, deadline, code)
        assert error.value.code() == code
        assert creator.created == ["run_created_1"]
        assert len(upstream.attempts("POST", RUNS_PATH)) == 1
        assert_still_serving(stub)


@pytest.mark.parametrize(
    "after", [reset, close, fail(500, FAST), fail(503, FAST)], ids=["reset", "closed", "500", "503"]
)
def test_a_keyed_create_run_is_retried_and_still_makes_one_run(
    upstream: HostileUpstream, after: Action
) -> None:
    creator = Creator(after)
    upstream.play(creator)
    with gateway(upstream.base_url, max_retries=2) as stub:
        response = stub.CreateRun(
            pb.CreateRunRequest(thread_id=THREAD, assistant_id="asst_1"),
            timeout=PATIENT,
            metadata=(("idempotency-key", "create-once"),),
        )
        assert response.run.id == "run_created_1"
        assert creator.created == ["run_created_1"]
        attempts = upstream.attempts("POST", RUNS_PATH)
        assert [a.headers["idempotency-key"] for a in attempts] == ["create-once"] * 2
        assert_still_serving(stub)


# --- streams --------------------------------------------------------------------------------------------


def listing(pages: Mapping[str | None, Action | list[Action]]) -> Script:
    """Answer a list request by its `after` cursor: one action, or one per attempt (the last repeats)."""
    tries: dict[str | None, int] = {}

    def script(request: Received, n: int) -> Action:
        after = request.query.get("after")
        tries[after] = tries.get(after, 0) + 1
        chosen = pages[after]
        return chosen[min(tries[after], len(chosen)) - 1] if isinstance(chosen, list) else chosen

    return script


def page(numbers: list[int] | tuple[int, ...], has_more: bool, **fields: Any) -> Action:
    return answer(200, {**rest_page(runs(*numbers), has_more), **fields})


class FreshCursors(dict[str | None, Action]):
    """Pages for any cursor: always runs 1-3 with has_more, and a `last_id` never seen before."""

    served = 0

    def __missing__(self, after: str | None) -> Action:
        self.served += 1
        return page((1, 2, 3), True, last_id=f"cursor_{self.served}")


@dataclass(frozen=True)
class StreamCase:
    """A ListRuns stream against a scripted upstream: the items that must arrive, then the status."""

    pages: Mapping[str | None, Action | list[Action]]
    received: list[str]
    code: Code
    reason: str | None
    requests: list[str | None] | None  # the `after` of every page request, in order (None: not counted)
    max_retries: int = 1
    deadline: float = PATIENT
    ahead: str | None = None  # the page fetched ahead when the error was found: requested or not, by timing


P1 = (1, 2, 3)
STREAM_CASES: dict[str, StreamCase] = {
    "page 2 answers 503 until retries run out": StreamCase(
        {None: page(P1, True), "run_003": fail(503, FAST)},
        ids(*P1),
        Code.UNAVAILABLE,
        "SERVER_ERROR",
        [None, "run_003", "run_003"],
    ),
    "page 2 answers 503 once": StreamCase(
        {None: page(P1, True), "run_003": [fail(503, FAST), page((4, 5), False)]},
        ids(1, 2, 3, 4, 5),
        Code.OK,
        None,
        [None, "run_003", "run_003"],
    ),
    "page 2 resets the connection": StreamCase(
        {None: page(P1, True), "run_003": reset},
        ids(*P1),
        Code.UNAVAILABLE,
        "UPSTREAM_UNAVAILABLE",
        [None, "run_003", "run_003"],
    ),
    "page 2 is truncated json": StreamCase(
        {
            None: page(P1, True),
            "run_003": raw(200, b'{"object": "list", "data": [{"id": "ru', "application/json"),
        },
        ids(*P1),
        Code.UNAVAILABLE,
        "UPSTREAM_PROTOCOL_ERROR",
        [None, "run_003"],
    ),
    "page 2 has no data": StreamCase(
        {None: page(P1, True), "run_003": answer(200, {"object": "list", "has_more": False})},
        ids(*P1),
        Code.UNAVAILABLE,
        "UPSTREAM_PROTOCOL_ERROR",
        [None, "run_003"],
    ),
    # A page is the unit of the stream: one that cannot be converted is refused whole, after the pages before.
    "a non-object item": StreamCase(
        {None: answer(200, {**rest_page(runs(1, 2, 3), False), "data": [*runs(1, 2), 7, *runs(3)]})},
        ids(),
        Code.UNAVAILABLE,
        "UPSTREAM_PROTOCOL_ERROR",
        [None],
    ),
    "a non-object item on the second page": StreamCase(
        {None: page(P1, True), "run_003": answer(200, {**rest_page(runs(4), False), "data": [*runs(4), 7]})},
        ids(*P1),
        Code.UNAVAILABLE,
        "UPSTREAM_PROTOCOL_ERROR",
        [None, "run_003"],
    ),
    "an empty page that says has_more": StreamCase(
        {None: page(P1, True), "run_003": page((), True)},
        ids(*P1),
        Code.UNAVAILABLE,
        "UPSTREAM_PROTOCOL_ERROR",
        [None, "run_003"],
    ),
    "has_more forever with a cursor that does not advance": StreamCase(
        {None: page(P1, True), "run_003": page(P1, True)},
        ids(*P1),
        Code.UNAVAILABLE,
        "UPSTREAM_PROTOCOL_ERROR",
        [None, "run_003"],
    ),
    "has_more forever with a cursor cycling A, B, A": StreamCase(
        {None: page(P1, True), "run_003": page((4, 5), True), "run_005": page(P1, True)},
        ids(1, 2, 3, 4, 5),
        Code.UNAVAILABLE,
        "UPSTREAM_PROTOCOL_ERROR",
        [None, "run_003", "run_005"],
    ),
    "pages that overlap": StreamCase(
        {
            None: page((1, 2, 3, 3), True),
            "run_003": page((2, 3, 4, 5, 5), True),
            "run_005": page((5, 6), False),
        },
        ids(1, 2, 3, 4, 5, 6),
        Code.OK,
        None,
        [None, "run_003", "run_005"],
    ),
    "pages that overlap by two": StreamCase(
        {None: page(P1, True), "run_003": page((2, 3, 4), True), "run_004": page((3, 4, 5), False)},
        ids(1, 2, 3, 4, 5),
        Code.OK,
        None,
        [None, "run_003", "run_004"],
    ),
    # Cursors that advance but lead nowhere: fresh cursors cannot be told from a long list, but a page that
    # brings nothing new can only repeat, so the second page ends the list (else only the deadline would).
    "has_more forever with fresh cursors and the same items": StreamCase(
        FreshCursors(),
        ids(*P1),
        Code.UNAVAILABLE,
        "UPSTREAM_PROTOCOL_ERROR",
        [None, "cursor_1"],
        # The next page's request leaves before a page is judged (one page ahead); the error cancels it.
        ahead="cursor_2",
    ),
    "page 2 stalls past the deadline": StreamCase(
        {None: page(P1, True), "run_003": stall},
        ids(*P1),
        Code.DEADLINE_EXCEEDED,
        None,
        [None, "run_003"],
        deadline=SHORT,
    ),
}


@pytest.mark.parametrize("case", params(STREAM_CASES))
def test_a_hostile_list_streams_the_expected_prefix_then_the_status(
    upstream: HostileUpstream, case: StreamCase
) -> None:
    upstream.play(listing(case.pages))
    with gateway(upstream.base_url, max_retries=case.max_retries) as stub:
        received: list[str] = []
        started = time.monotonic()
        call = stub.ListRuns(pb.ListRunsRequest(thread_id=THREAD, limit=3), timeout=case.deadline)
        try:
            for message in call:
                received.extend(run.id for run in message.runs)
        except grpc.RpcError:
            pass
        within(started, case.deadline, case.code)
        assert received == case.received
        assert call.code() == case.code, call.details()
        if case.reason is not None:
            assert details(call)[0] == case.reason
        if case.requests is not None:
            ahead = [] if case.ahead is None else [[*case.requests, case.ahead]]
            assert upstream.pages() in [case.requests, *ahead]
        assert_still_serving(stub)


def huge_run(number: int) -> dict[str, Any]:
    return rest_run(f"run_{number:03d}", instructions="x" * 60_000)


def test_a_page_too_large_for_one_message_still_streams(upstream: HostileUpstream) -> None:
    big = [huge_run(n) for n in range(100)]  # about 6 MB as one message, 60 kB each
    upstream.play(always(answer(200, rest_page(big, False))))
    with gateway(upstream.base_url) as stub:
        with pytest.raises(grpc.RpcError) as error:
            stub.ListRunsPage(pb.ListRunsPageRequest(thread_id=THREAD, limit=100), timeout=PATIENT)
        assert error.value.code() == Code.RESOURCE_EXHAUSTED
        assert details(error.value)[0] == "RESPONSE_TOO_LARGE"
        request = pb.ListRunsRequest(thread_id=THREAD, limit=100)
        messages = list(stub.ListRuns(request, timeout=PATIENT))
        streamed = [run for message in messages for run in message.runs]
        assert [r.id for r in streamed] == [r["id"] for r in big]
        assert len(messages) > 1  # the page, split across messages under the 4 MiB limit
        assert all(len(r.instructions) == 60_000 for r in streamed)
        assert_still_serving(stub)


def test_a_stream_whose_client_stops_reading_ends_cleanly_at_its_deadline(
    upstream: HostileUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.access")
    big = [huge_run(n) for n in range(100)]  # 6 MB: more than HTTP/2 flow control lets through unread
    upstream.play(always(answer(200, rest_page(big, False))))
    with gateway(upstream.base_url) as stub:
        assert_still_serving(stub)  # connected: the deadline below is all for the list
        # The first message needs the 6 MB page fetched and parsed: under 0.1 s here.
        deadline = 3.0
        started = time.monotonic()
        call = stub.ListRuns(pb.ListRunsRequest(thread_id=THREAD, limit=100), timeout=deadline)
        assert next(call).runs[0].id == "run_000"
        # Read nothing more: code() waits for the end, and the deadline passes while the gateway is blocked
        # sending.
        assert call.code() == Code.DEADLINE_EXCEEDED
        within(started, deadline, Code.DEADLINE_EXCEEDED)
        assert_still_serving(stub)
        gc.collect()  # what the gateway dropped is finalized now, on the gateway's loop ...
        assert_still_serving(stub)  # ... which has run what that scheduled once it answers a call after it
        gc.collect()
    errors = [r for r in caplog.records if r.name == "asyncio" and r.levelno >= logging.ERROR]
    assert not errors, errors[0].getMessage()
    methods = [
        getattr(r, "fields", {}).get("method", "") for r in caplog.records if r.name == "gateway.access"
    ]
    assert [m for m in methods if m.endswith("/ListRuns")] == [
        f"/{pb.DESCRIPTOR.package}.RunsService/ListRuns"
    ]
