"""Smoke test of the benchmarks (bench/): the quick mode's code path, `suite.run_all`, on tiny sizes.

Benchmarks are not tests: nothing here is timed, and nothing depends on how fast the machine is. This only
keeps the harness from rotting: the emulator and the gateway start as processes, every scenario and every
client runs, every list is read whole (each pass is checked against the list by the harness itself), and
the report, the README table and the JSON come out of what was measured. The Node clients (bench/node) run
where `node` and bench/node/node_modules are installed (`make bench`); elsewhere their test is skipped and
the others check that they were left out. The emulator's latency option, which the slow-upstream scenario
relies on, is checked in-process, and so is the bare SSE reader the streamed-run scenario takes its reference
from.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bench import events, nodeclient, readers, report, slow_upstream, store, streaming, suite, unary
from bench.events import Reference
from bench.listing import Listing, digest
from bench.sizes import Sizes
from bench.streaming import StreamSample
from bench.suite import Results
from emulator import EmulatorConfig
from emulator.app import create_app

TINY = Sizes(
    repetitions=2,
    concurrency=(1, 2),
    requests=4,
    requests_per_caller=2,
    stream_runs=250,  # three pages of 100: the cursors are followed across pages
    page_size=100,
    latency_runs=250,  # three pages of 100 for the gateway, thirteen of 20 for the SDKs at their default
    latency_ms=1,  # the delay's code path, not its length
    latency_repetitions=2,
    memory_runs=150,
    memory_repetitions=1,
    startup_repetitions=1,
    sample_interval=0.01,
    watchers=(1, 3),
    watched_runs=2,
    watch_window=0.5,
    event_runs=2,
    reply_deltas=20,
    responses_calls=3,
    store_calls=4,
)
NODE_SKIPPED = nodeclient.unavailable()
GATEWAY_STREAM_MESSAGES = 3  # one message per upstream page of 100: 100, 100, 50


@pytest.fixture(scope="module")
def results() -> Results:
    return suite.run_all(TINY, "smoke", log=lambda line: None)


def expected_clients(names: dict[str, str], sdk: tuple[str, ...], node: tuple[str, ...]) -> set[str]:
    """The clients of a scenario that can run here: the SDK's need the `bench` extra, Node's bench/node."""
    expected = set(names)
    if readers.sdk_version() is None:  # a plain `dev` install: the SDK's clients are left out
        expected -= set(sdk)
    if NODE_SKIPPED is not None:
        expected -= set(node)
    return expected


def assert_every_pass_read_all(samples: dict[str, list[StreamSample]], runs: int, repetitions: int) -> None:
    for samples_of_client in samples.values():
        assert [sample.items for sample in samples_of_client] == [runs] * repetitions
        for sample in samples_of_client:
            assert sample.usage.wall > 0
            assert set(sample.usage.cpu) == {"client", "gateway", "emulator"}


def test_unary_has_every_client_at_every_concurrency(results: Results) -> None:
    assert [level.concurrency for level in results.unary.levels] == [1, 2]
    everywhere = set(unary.CLIENTS) - set(unary.FLOORS) - set(unary.SYNC)
    # The sync clients at the lowest concurrency, the limits at the lowest and the highest (here both).
    expected = [everywhere | set(unary.FLOORS) | set(unary.SYNC), everywhere | set(unary.FLOORS)]
    assert [set(level.samples) for level in results.unary.levels] == expected
    for level in results.unary.levels:
        assert level.requests == max(TINY.requests, TINY.requests_per_caller * level.concurrency)
        for samples in level.samples.values():
            assert len(samples) == TINY.repetitions
            for sample in samples:
                assert sample.requests == level.requests
                assert 0 < sample.p50_ms <= sample.p99_ms
                assert sample.rps > 0
                assert sample.usage.wall > 0
                assert set(sample.usage.cpu) == {"client", "gateway", "emulator"}


def test_every_streaming_client_reads_every_seeded_run(results: Results) -> None:
    result = results.streaming
    expected = expected_clients(streaming.CLIENTS, streaming.SDK_CLIENTS, streaming.NODE_CLIENTS)
    assert set(result.samples) == expected
    assert result.sdk_version == readers.sdk_version()
    assert result.node_skipped == NODE_SKIPPED
    assert_every_pass_read_all(result.samples, TINY.stream_runs, TINY.repetitions)
    for name in ("gateway", "gateway_sync", "floor"):  # the stream carries a page per message
        assert [s.messages for s in result.samples[name]] == [GATEWAY_STREAM_MESSAGES] * TINY.repetitions
    assert result.page_size == TINY.page_size
    assert result.page_bytes > 0
    assert min(result.convert_us, result.encode_us, result.decode_us) > 0


def test_every_slow_upstream_client_reads_every_seeded_run(results: Results) -> None:
    result = results.slow_upstream
    expected = expected_clients(slow_upstream.CLIENTS, slow_upstream.SDK_CLIENTS, slow_upstream.NODE_CLIENTS)
    assert set(result.samples) == expected
    assert (result.runs, result.latency_ms) == (TINY.latency_runs, TINY.latency_ms)
    assert_every_pass_read_all(result.samples, TINY.latency_runs, TINY.latency_repetitions)
    # No limit set: the gateway asks for pages of 100.
    assert [s.messages for s in result.samples["gateway"]] == [GATEWAY_STREAM_MESSAGES] * 2


def test_node_clients_read_every_seeded_run(results: Results) -> None:
    if NODE_SKIPPED is not None:
        pytest.skip(f"the Node clients of the benchmarks cannot run here: {NODE_SKIPPED}")
    for name in streaming.NODE_CLIENTS:
        assert [s.items for s in results.streaming.samples[name]] == [TINY.stream_runs] * TINY.repetitions
        assert all(s.usage.cpu["client"] > 0 for s in results.streaming.samples[name])
    node_gateway = results.streaming.samples["node_gateway"] + results.slow_upstream.samples["node_gateway"]
    assert {s.messages for s in node_gateway} == {GATEWAY_STREAM_MESSAGES}
    for name in slow_upstream.NODE_CLIENTS:
        assert [s.items for s in results.slow_upstream.samples[name]] == [TINY.latency_runs] * 2
    assert {"node", "openai (node)", "@grpc/grpc-js (node)"} <= set(results.meta.versions)


def test_runs_over_responses_are_measured_beside_the_sdk_and_the_store_per_call(results: Results) -> None:
    result = results.responses
    assert len(result.samples) == TINY.repetitions
    assert result.calls == TINY.responses_calls
    for sample in result.samples:
        assert min(vars(sample).values()) > 0
    expected = {"SQLite", "PostgreSQL"} if result.store_left_out is None else {"SQLite"}
    assert set(result.store_us) == expected
    for costs in result.store_us.values():
        assert list(costs) == list(store.OPERATIONS)
        assert min(costs.values()) > 0
    names = [figure.name for figure in report.figures(results)]
    assert sum(name.startswith("Responses: ") for name in names) == 2


def test_memory_is_sampled_over_the_whole_stream(results: Results) -> None:
    (sample,) = results.memory.repetitions
    assert sample.items == TINY.memory_runs
    assert 0 < sample.start_kib <= sample.peak_kib
    assert sample.end_kib > 0
    assert sample.samples[-1][2] == TINY.memory_runs  # the last sample saw every run streamed


def test_every_watcher_reads_its_run_to_the_end(results: Results) -> None:
    samples = results.watch.samples
    assert [(s.runs, s.watchers) for s in samples] == [(1, 1), (1, 3), (2, 2)]
    assert all(s.completed == s.watchers for s in samples)
    assert all(s.rss_during_kib > 0 and s.rss_before_kib > 0 and s.seconds >= 0.5 for s in samples)


def test_every_streamed_run_brings_every_event_to_every_client(results: Results) -> None:
    result = results.events
    assert set(result.samples) == expected_clients(events.CLIENTS, events.SDK_CLIENTS, ())
    assert result.sdk_version == readers.sdk_version()
    assert (result.runs, result.reply_deltas) == (TINY.event_runs, TINY.reply_deltas)
    names = result.event_names
    assert names[events.DELTA] == TINY.reply_deltas
    assert names["thread.run.created"] == names["thread.run.completed"] == 1
    assert "done" not in names
    assert sum(names.values()) == result.events_per_run
    for samples in result.samples.values():  # every client saw every event of every run (checked by name)
        assert [s.events for s in samples] == [TINY.event_runs * result.events_per_run] * TINY.repetitions
        for sample in samples:
            assert len(sample.first_event_s) == len(sample.last_event_s) == sample.runs == TINY.event_runs
            pairs = zip(sample.first_event_s, sample.last_event_s, strict=True)
            assert all(0 < first <= last for first, last in pairs)
            assert set(sample.usage.cpu) == {"client", "gateway", "emulator"}
    # The time to the first event, on paced runs: every client but the prebuilt floor, every repetition, every
    # run.
    assert set(result.first_event) == set(result.samples) - {"floor"}
    for paced in result.first_event.values():
        assert [len(p.first_event_s) for p in paced] == [TINY.event_runs] * TINY.repetitions
        assert all(seconds > 0 for p in paced for seconds in p.first_event_s)


def test_startup_reaches_serving(results: Results) -> None:
    started = results.startup
    assert len(started.serving_s) == len(started.announced_s) == TINY.startup_repetitions
    assert 0 < started.announced_s[0] <= started.serving_s[0]
    assert min(started.interpreter_s + started.imports_s) > 0


def test_figures_are_positive_ratios_against_their_targets(results: Results) -> None:
    figures = report.figures(results)
    names = [figure.name for figure in figures]
    assert any("p50 latency" in name for name in names)
    assert any("requests/s" in name for name in names)
    with_sdk, with_node = readers.sdk_version() is not None, NODE_SKIPPED is None
    assert any("loopback: gateway (grpc" in name for name in names) == with_sdk
    assert any("loopback: gateway (Node" in name for name in names) == with_node
    assert sum("upstream" in name for name in names) == 2 * with_sdk + 2 * with_node
    assert any("gateway CPU per call" in name for name in names)
    assert any("first event, gateway (grpc.aio) - openai-python" in name for name in names) == with_sdk
    assert any("events/s, gateway (grpc.aio) / openai-python" in name for name in names) == with_sdk
    assert any("gateway CPU per event" in name for name in names)
    # Every GetRun figure and every streamed-run figure has its limits beside it, the lean server's and
    # gRPC's floor's; a list on loopback the floor's, a slow upstream the round trips'.
    by_name = {figure.name: figure for figure in figures}
    for name, figure in by_name.items():
        if name.startswith("GetRun") or ("event" in name and "first event" not in name):
            assert "lean server" in figure.floor, name
            assert "gRPC floor" in figure.floor, name
        if "loopback" in name:
            assert "gRPC floor" in figure.floor, name
        if "upstream:" in name:
            assert "round trips alone" in figure.floor, name
    paced = next((f for n, f in by_name.items() if "time to first event" in n), None)
    if paced is not None:  # no prebuilt floor for a paced run: it has no pace to follow
        assert "lean server" in paced.floor
        assert "gRPC floor" not in paced.floor
    for figure in figures:
        assert math.isfinite(figure.value.median)
        if "CPU" in figure.name:  # counted in clock ticks (10 ms): a smoke run's few calls may count none
            assert figure.value.median >= 0
            assert 0 <= figure.value.low <= figure.value.high
        elif "time to first event" in figure.name:  # a difference: the gateway may be the quicker
            assert figure.value.low <= figure.value.median <= figure.value.high
        elif "WatchRun" in figure.name:  # half a second of watching: a poll more or less, or none at all
            assert figure.value.median >= 0
        elif "memory" not in figure.name:  # the RSS growth may be zero or negative
            assert figure.value.median > 0
            assert 0 < figure.value.low <= figure.value.high
        assert figure.verdict() in ("", "met") or figure.verdict().startswith("missed by")


def test_report_table_and_json_come_out(results: Results) -> None:
    text = report.text(results)
    headings = (
        "1. Unary GetRun",
        "2. Streaming",
        "3. Slow upstream",
        "4. Memory",
        "5. Start-up",
        "6. Streamed",
    )
    headings += ("Targets",)
    for heading in headings:
        assert heading in text
    assert "load average (1, 5, 15 min): before the run" in text
    assert len(results.load_average_after) == 3
    table = report.markdown(results)
    assert table.count("\n|") == len(report.figures(results)) + 2  # the header, its rule, a row each
    for limit in ("lean server", "gRPC floor", "round trips"):
        assert f"limits: {limit}" in text
    for label in ("grpc.aio client", "grpc sync client", "httpx sync", "AsyncOpenAI", "OpenAI (sync)"):
        assert label in text  # every row says which client it uses
    data = json.loads(json.dumps(suite.to_json(results)))
    assert data["meta"]["mode"] == "smoke"
    assert set(data["clients"]) == {"unary", "streaming", "slow_upstream", "events"}
    assert set(data["unary"]["levels"][0]["samples"]) == set(unary.CLIENTS)  # the limits' rows in the JSON


def test_plot_is_drawn(results: Results, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the plot needs the bench extra")
    from bench.plot import plot

    path = plot(results.unary, tmp_path / "plot.png", "smoke")
    assert path.read_bytes().startswith(b"\x89PNG")


def test_a_pass_that_read_another_list_is_refused() -> None:
    listing = Listing("thread_x", ["run_a", "run_b"])
    listing.check("ok", ["run_a", "run_b"])
    listing.check_digest("ok", 2, digest(["run_a", "run_b"]), "run_a", "run_b")
    for ids in (["run_a"], ["run_b", "run_a"], ["run_a", "run_b", "run_b"]):
        with pytest.raises(RuntimeError, match="not the 2 runs of thread thread_x"):
            listing.check("client", ids)
        with pytest.raises(RuntimeError, match="not the 2 runs"):
            listing.check_digest("client", len(ids), digest(ids), ids[0], ids[-1])


def test_a_run_with_other_events_is_refused() -> None:
    reference = Reference(["thread.run.created", events.DELTA, "thread.run.completed"])
    reference.check("ok", ["thread.run.created", events.DELTA, "thread.run.completed"])
    wrong = (
        ["thread.run.created", "thread.run.completed"],
        [*reference.names, events.DELTA],
        reference.names[::-1],
    )
    for names in wrong:
        with pytest.raises(RuntimeError, match="not the 3 of a run"):
            reference.check("client", names)


async def test_sse_reader_counts_every_event_of_a_run_but_done() -> None:
    app = create_app(EmulatorConfig(step_seconds=0, reply_deltas=7))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://emulator/v1", headers=events.V2_HEADERS
    ) as rest:
        assistant = (await rest.post("/assistants", json={"model": "gpt-4o"})).json()["id"]
        thread = (await rest.post("/threads", json={})).json()["id"]
        names = [name async for name in events.sse_events(rest, thread, assistant)]
        log = (await rest.get("http://emulator/_emulator/requests")).json()
    assert names[0] == "thread.run.created"
    assert names[-1] == "thread.run.completed"
    assert names.count(events.DELTA) == 7
    assert [entry["stream"]["events"] for entry in log if "stream" in entry] == [len(names)]


@pytest.fixture
async def admin() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(EmulatorConfig(step_seconds=0, latency=0.002))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
        yield client


async def test_emulator_latency_is_set_by_config_and_admin_api(admin: httpx.AsyncClient) -> None:
    assert (await admin.get("/_emulator/latency")).json() == {"seconds": 0.002}
    assert (await admin.post("/_emulator/latency", json={"seconds": 0.05})).json() == {"seconds": 0.05}
    assert (await admin.get("/_emulator/latency")).json() == {"seconds": 0.05}
    for wrong in (-1, 61, "1", True, None):
        assert (await admin.post("/_emulator/latency", json={"seconds": wrong})).status_code == 400
    await admin.post("/_emulator/reset")
    assert (await admin.get("/_emulator/latency")).json() == {"seconds": 0.002}  # the config's again


async def test_emulator_latency_delays_the_api_not_the_admin_api(admin: httpx.AsyncClient) -> None:
    await admin.post("/_emulator/latency", json={"seconds": 60})
    api = asyncio.ensure_future(admin.get("/v1/assistants/asst_x", headers={"Authorization": "Bearer sk-x"}))
    assert (await admin.get("/_emulator/requests")).json() == []  # answered while the API request sleeps
    done, _ = await asyncio.wait({api}, timeout=0.2)
    assert not done  # sleeping its minute: the request is not even logged yet
    api.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await api
