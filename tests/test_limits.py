"""What the gateway takes and what it refuses, under load and from hostile peers: a burst of calls is
served, not CANCELLED by gRPC core; beyond `--max-concurrent-rpcs` calls are refused RESOURCE_EXHAUSTED
with RetryInfo, logged and counted; upstream bodies held together stay within `--max-upstream-bytes`,
decompressed bytes counted, a gzip bomb cut off a step at a time; client connections are bounded in number,
in handshake time and in idle time.

No timing bounds on the machine's speed: waits are for events, with caps of a minute or more.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from conftest import FakeUpstream, serve_channel
from factories import rest_run
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from runs_gateway.assistants.v1 import runs_service_pb2 as pb
from runs_gateway.assistants.v1 import runs_service_pb2_grpc as pb_grpc

from gateway.config import Settings
from gateway.server import HANDSHAKE_SECONDS, build_server

Code = grpc.StatusCode
MiB = 1024 * 1024
GET = pb.GetRunRequest(thread_id="thread_1", run_id="run_1")


def reason_and_retry(error: grpc.aio.AioRpcError) -> tuple[str, float | None]:
    status = rpc_status.from_call(error)
    assert status is not None
    reason, retry = "", None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = info.reason
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            delay = error_details_pb2.RetryInfo()
            detail.Unpack(delay)
            retry = delay.retry_delay.ToTimedelta().total_seconds()
    return reason, retry


async def outcome(call: Any) -> str:
    try:
        await call
    except grpc.aio.AioRpcError as error:
        return error.code().name
    return "OK"


async def test_a_burst_of_calls_is_served_not_cancelled_by_grpc_core() -> None:
    upstream = FakeUpstream(lambda request: httpx.Response(200, json=rest_run()))
    async with serve_channel(transport=upstream.transport) as channel:
        stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
        outcomes = await asyncio.gather(*(outcome(stub.GetRun(GET, timeout=120)) for _ in range(2_000)))
    assert outcomes.count("OK") == 2_000, {name: outcomes.count(name) for name in set(outcomes)}
    assert len(upstream.requests) == 2_000


class Gate:
    """An upstream whose answers wait until the test opens the gate."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.waiting = 0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.waiting += 1
        await self.open.wait()
        return httpx.Response(200, json=rest_run())


async def until(condition: Any, cap: float = 60.0) -> None:
    deadline = time.monotonic() + cap
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.01)


async def test_beyond_the_rpc_limit_a_call_is_refused_to_be_retried_logged_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gate = Gate()
    caplog.set_level("INFO")
    async with serve_channel(transport=httpx.MockTransport(gate.handle), max_concurrent_rpcs=10) as channel:
        stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
        held = [asyncio.ensure_future(outcome(stub.GetRun(GET, timeout=120))) for _ in range(10)]
        await until(lambda: gate.waiting == 10)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.GetRun(GET, timeout=60)
        streamed = stub.ListRuns(pb.ListRunsRequest(thread_id="thread_1"), timeout=60)
        assert await outcome(streamed.read()) == "RESOURCE_EXHAUSTED"
        health = health_pb2_grpc.HealthStub(channel)  # type: ignore[no-untyped-call]
        checked = await health.Check(health_pb2.HealthCheckRequest(), timeout=60)
        assert checked.status == health_pb2.HealthCheckResponse.SERVING  # probes are never refused
        gate.open.set()
        assert await asyncio.gather(*held) == ["OK"] * 10
        assert await outcome(stub.GetRun(GET, timeout=60)) == "OK"  # room again
    assert refused.value.code() == Code.RESOURCE_EXHAUSTED
    assert reason_and_retry(refused.value) == ("GATEWAY_OVERLOADED", 1.0)
    lines = [r for r in caplog.records if r.name == "gateway.access" and "RunsService" in r.fields["method"]]  # type: ignore[attr-defined]
    codes = [line.fields["code"] for line in lines]  # type: ignore[attr-defined]
    assert codes.count("RESOURCE_EXHAUSTED") == 2
    assert codes.count("OK") == 11


class Held(httpx.AsyncByteStream):
    """A body that sends `size` bytes of a JSON run padded with spaces, then waits for `gate` to end it."""

    def __init__(self, size: int, gate: asyncio.Event, sent: list[int]) -> None:
        self.size, self.gate, self.sent = size, gate, sent

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"id": "run_1", "object": "thread.run"'
        for _ in range(self.size // MiB):
            yield b" " * MiB
        self.sent.append(self.size)
        await self.gate.wait()
        yield b"}"


async def test_upstream_bodies_held_together_stay_within_the_budget() -> None:
    gate, sent = asyncio.Event(), []
    stream = Held(20 * MiB, gate, sent)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "application/json"}, stream=stream)

    transport = httpx.MockTransport(handler)
    async with serve_channel(transport=transport, max_upstream_bytes=64 * MiB) as channel:
        stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
        calls = [asyncio.ensure_future(outcome(stub.GetRun(GET, timeout=120))) for _ in range(8)]
        await until(lambda: sum(call.done() for call in calls) == 5)  # refused while three hold 60 MiB
        await until(lambda: len(sent) == 3)  # the three read their whole 20 MiB
        gate.set()
        outcomes = await asyncio.gather(*calls)
    assert sorted(outcomes) == ["OK"] * 3 + ["RESOURCE_EXHAUSTED"] * 5


def reset_peak_rss() -> None:
    """Make the peak RSS what is resident now (Linux: clear_refs 5)."""
    Path("/proc/self/clear_refs").write_text("5")


def peak_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc to read peak RSS")
async def test_gzip_bombs_inflate_a_step_at_a_time_and_within_the_budget() -> None:
    bomb = gzip.compress(b"\0" * (256 * MiB), compresslevel=9)  # 256 KiB on the wire, 256 MiB inflated

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "application/json", "content-encoding": "gzip"}
        return httpx.Response(200, headers=headers, stream=httpx.ByteStream(bomb))

    async with serve_channel(transport=httpx.MockTransport(handler), max_upstream_bytes=64 * MiB) as channel:
        stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
        await outcome(stub.GetRun(GET, timeout=120))  # warm: imports, the channel, the pool
        reset_peak_rss()
        before = peak_rss()
        errors = []
        for call in [stub.GetRun(GET, timeout=120) for _ in range(8)]:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call
            errors.append(refused.value)
        grown = peak_rss() - before
    assert {error.code() for error in errors} <= {Code.UNAVAILABLE, Code.RESOURCE_EXHAUSTED}
    assert any("over 67108864 bytes" in (error.details() or "") for error in errors)
    # 8 bombs of 256 MiB inflated at once, bounded by one 64 MiB budget (a grown bytearray may briefly be
    # copied once): an ordinary decoder inflates each 64 KiB read up to 64 MiB at a time, 8 at once.
    assert grown < 200 * MiB, f"peak RSS grew by {grown / MiB:.0f} MiB"


def raw_connections(port: int, count: int) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        sock.setblocking(False)
        sockets.append(sock)
    return sockets


def closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1024) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


async def test_connections_beyond_the_limit_or_silent_past_the_handshake_are_closed() -> None:
    settings = Settings(listen="127.0.0.1:0", base_url="http://upstream.test/v1", max_client_connections=4)
    built = build_server(
        settings, transport=FakeUpstream(lambda r: httpx.Response(200, json=rest_run())).transport
    )
    port = built.server.add_insecure_port("127.0.0.1:0")
    await built.server.start()
    try:
        sockets = raw_connections(port, 12)
        await until(lambda: sum(closed(s) for s in sockets) >= 8)  # over the limit: closed as they come
        # The ones within the limit never speak HTTP/2: closed at the handshake timeout, not held forever.
        await until(lambda: all(closed(s) for s in sockets), cap=HANDSHAKE_SECONDS + 60)
        for sock in sockets:
            sock.close()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:  # room again, and served
            assert await outcome(pb_grpc.RunsServiceStub(channel).GetRun(GET, timeout=60)) == "OK"  # type: ignore[no-untyped-call]
    finally:
        await built.server.stop(0)
        await built.gateway.upstream.aclose()


async def test_an_idle_connection_is_closed_after_the_idle_timeout() -> None:
    upstream = FakeUpstream(lambda request: httpx.Response(200, json=rest_run()))
    async with serve_channel(transport=upstream.transport, idle_timeout=1.0) as channel:
        stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
        assert await outcome(stub.GetRun(GET, timeout=60)) == "OK"
        assert channel.get_state() is grpc.ChannelConnectivity.READY
        await until(lambda: channel.get_state() is grpc.ChannelConnectivity.IDLE)  # the server's GOAWAY
        assert await outcome(stub.GetRun(GET, timeout=60)) == "OK"  # and a new connection serves


def test_streams_still_running_when_the_grace_ends_are_unavailable_and_logged() -> None:
    import json
    import os
    import subprocess
    import sys

    from emulator import EmulatorConfig, EmulatorServer

    with EmulatorServer(EmulatorConfig(step_seconds=0, latency=0.3)) as emulator:
        headers = {"Authorization": "Bearer sk-limits-0123456789", "OpenAI-Beta": "assistants=v1"}
        thread = httpx.post(f"{emulator.base_url}/threads", json={}, headers=headers, timeout=60).json()["id"]
        seeded = httpx.post(f"{emulator.root_url}/_emulator/threads/{thread}/runs:seed", json={"count": 500})
        seeded.raise_for_status()
        environment = {**os.environ, "OPENAI_API_KEY": "sk-limits-0123456789"}
        command = [
            sys.executable,
            "-m",
            "gateway",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            emulator.base_url,
        ]
        process = subprocess.Popen(
            [*command, "--grace", "1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        try:
            assert process.stdout is not None
            target = process.stdout.readline().rsplit(" ", 1)[-1].strip()
            outcomes = asyncio.run(_streams_at_sigterm(target, thread, process))
            _, stderr = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 0
    assert sorted(set(outcomes)) == ["UNAVAILABLE"], outcomes  # pages of 5 every 0.3 s: none can finish
    lines = [json.loads(line) for line in stderr.splitlines()]  # every line is JSON
    access = [line for line in lines if line["logger"] == "gateway.access" and "ListRuns" in line["method"]]
    assert [line["code"] for line in access] == ["UNAVAILABLE"] * 20
    assert not [line for line in lines if line["level"] == "ERROR"]
    assert not [line for line in lines if line["message"] == "retrying upstream call"]


async def _streams_at_sigterm(target: str, thread: str, process: Any) -> list[str]:
    import signal

    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
        calls = [stub.ListRuns(pb.ListRunsRequest(thread_id=thread, limit=5), timeout=120) for _ in range(20)]
        for call in calls:
            await call.read()  # each has begun
        process.send_signal(signal.SIGTERM)
        outcomes = []
        for call in calls:
            try:
                while await call.read() is not grpc.aio.EOF:
                    pass
                outcomes.append("OK")
            except grpc.aio.AioRpcError as error:
                outcomes.append(error.code().name)
    return outcomes


async def test_nothing_is_retried_once_the_upstream_client_is_closed() -> None:
    from gateway.errors import ShuttingDown, UpstreamError
    from gateway.retry import RetryPolicy
    from gateway.upstream import CallOptions, Upstream

    upstream = FakeUpstream(lambda request: httpx.Response(503, json={"error": {"message": "busy"}}))
    client = Upstream(
        "http://upstream.test/v1",
        "sk-0123456789",
        retry_policy=RetryPolicy(max_retries=5),
        transport=upstream.transport,
    )
    call = asyncio.ensure_future(client.request("GET", "/threads/t/runs/r", CallOptions()))
    await until(lambda: len(upstream.requests) == 1)
    await client.aclose()  # while the call waits to retry
    with pytest.raises(UpstreamError, match="busy"):
        await call
    with pytest.raises(ShuttingDown):
        await client.request("GET", "/threads/t/runs/r", CallOptions())
    assert len(upstream.requests) == 1


def seeded_thread(emulator: Any, count: int) -> str:
    headers = {"Authorization": "Bearer sk-limits-0123456789", "OpenAI-Beta": "assistants=v1"}
    thread = str(httpx.post(f"{emulator.base_url}/threads", json={}, headers=headers).json()["id"])
    seeded = httpx.post(
        f"{emulator.root_url}/_emulator/threads/{thread}/runs:seed", json={"count": count}, timeout=60
    )
    seeded.raise_for_status()
    return thread


def pages_fetched(emulator: Any) -> int:
    requests = httpx.get(f"{emulator.root_url}/_emulator/requests", timeout=60).json()
    return len([r for r in requests if r["path"].endswith("/runs") and r["method"] == "GET"])


async def test_an_unread_stream_runs_one_page_ahead_of_what_the_clients_window_holds() -> None:
    # The gateway fetches a page ahead of what gRPC has accepted to send; gRPC accepts what the client's
    # HTTP/2 window takes. With a client that keeps its window at 64 KiB (no BDP growth), an unread ListRuns
    # over 20,000 runs (12 KB a page of 100) costs the upstream a handful of pages, not the list.
    from emulator import EmulatorConfig, EmulatorServer

    with EmulatorServer(EmulatorConfig(step_seconds=0)) as emulator:
        thread = seeded_thread(emulator, 20_000)
        settings = Settings(listen="127.0.0.1:0", base_url=emulator.base_url, api_key="sk-limits-0123456789")
        built = build_server(settings)
        port = built.server.add_insecure_port("127.0.0.1:0")
        await built.server.start()
        try:
            options = [("grpc.http2.bdp_probe", 0)]
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
                stub = pb_grpc.RunsServiceStub(channel)  # type: ignore[no-untyped-call]
                call = stub.ListRuns(pb.ListRunsRequest(thread_id=thread), timeout=120)
                await call.read()  # one message taken, then nothing
                await until(lambda: pages_fetched(emulator) >= 2)
                settled = -1
                while settled != pages_fetched(emulator):  # until the gateway stops: the window is full
                    settled = pages_fetched(emulator)
                    await asyncio.sleep(1)
                # A 64 KiB window holds about 5 pages; gRPC's send buffer some more; then the page ahead.
                assert settled <= 16, f"{settled} pages fetched for a client that took one message"
                following = await call.read()
                assert len(following.runs) == 100  # and the stream goes on when the client reads again
                call.cancel()
        finally:
            await built.server.stop(0)
            await built.gateway.upstream.aclose()
