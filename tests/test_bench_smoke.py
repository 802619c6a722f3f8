"""Smoke test of the benchmarks (bench/): the quick mode's code path, `suite.run_all`, on tiny sizes.

Benchmarks are not tests: nothing here is timed. This only keeps the harness from rotting: the emulator and
the gateway start as processes, every scenario and every client runs, every list is read whole, and the
report, the README table and the JSON come out of what was measured.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench import report, streaming, suite, unary
from bench.sizes import Sizes
from bench.suite import Results

TINY = Sizes(
    repetitions=2,
    concurrency=(1, 2),
    requests=4,
    requests_per_caller=2,
    stream_runs=250,  # three pages of 100: the cursors are followed across pages
    page_size=100,
    memory_runs=150,
    memory_repetitions=1,
    startup_repetitions=1,
    sample_interval=0.01,
)


@pytest.fixture(scope="module")
def results() -> Results:
    return suite.run_all(TINY, "smoke", log=lambda line: None)


def test_unary_has_every_client_at_every_concurrency(results: Results) -> None:
    assert [level.concurrency for level in results.unary.levels] == [1, 2]
    for level in results.unary.levels:
        assert level.requests == max(TINY.requests, TINY.requests_per_caller * level.concurrency)
        assert set(level.samples) == set(unary.CLIENTS)
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
    expected = set(streaming.CLIENTS)
    if streaming.sdk_version() is None:  # a plain `dev` install: the SDK's clients are left out
        expected -= set(streaming.SDK_CLIENTS)
    assert set(result.samples) == expected
    assert result.sdk_version == streaming.sdk_version()
    for samples in result.samples.values():
        assert [sample.items for sample in samples] == [TINY.stream_runs] * TINY.repetitions
    assert result.page_size == TINY.page_size
    assert result.page_bytes > 0
    assert min(result.convert_us, result.encode_us, result.decode_us) > 0


def test_memory_is_sampled_over_the_whole_stream(results: Results) -> None:
    (sample,) = results.memory.repetitions
    assert sample.items == TINY.memory_runs
    assert 0 < sample.start_kib <= sample.peak_kib
    assert sample.end_kib > 0
    assert sample.samples[-1][2] == TINY.memory_runs  # the last sample saw every run streamed


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
    assert any("speed-up" in name for name in names) == (streaming.sdk_version() is not None)
    for figure in figures:
        assert math.isfinite(figure.value.median)
        if "memory" not in figure.name:  # the RSS growth may be zero or negative
            assert figure.value.median > 0
            assert 0 < figure.value.low <= figure.value.high
        assert figure.verdict() in ("", "met") or figure.verdict().startswith("missed by")


def test_report_table_and_json_come_out(results: Results) -> None:
    text = report.text(results)
    for heading in ("1. Unary GetRun", "2. Streaming", "3. Memory", "4. Start-up", "Targets"):
        assert heading in text
    table = report.markdown(results)
    assert table.count("\n|") == len(report.figures(results)) + 2  # the header, its rule, a row each
    data = json.loads(json.dumps(suite.to_json(results)))
    assert data["meta"]["mode"] == "smoke"


def test_plot_is_drawn(results: Results, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the plot needs the bench extra")
    from bench.plot import plot

    path = plot(results.unary, tmp_path / "plot.png", "smoke")
    assert path.read_bytes().startswith(b"\x89PNG")
