"""Long runs at bounded memory (issue 19), on real benchmark children of a real model: the parent keeps the first
latencies up to the exact cap and a histogram past it, the result and --export-times say which, and the result
carries a bounded per-second series of p50 / p99 / throughput."""

from __future__ import annotations

import json

import pytest

from workbench.core import workflow
from workbench.core.bench.confidence import order_stat_ranks
from workbench.core.bench.config import BenchConfig
from workbench.core.bench.parent import BenchOutcome, run_child
from workbench.core.bench.series import LatencySeries


def _job(**kw):
    return workflow.prepare(workflow.JobRequest(profile="cpu-x86_64", warmup_ms=20, **kw))


def test_the_parent_keeps_the_first_latencies_up_to_its_cap_and_counts_every_one(tiny_matmul_model):
    out = run_child(
        BenchConfig(artifact_path=str(tiny_matmul_model), iterations=3000, warmup_ms=10, flush_ms=5),
        outcome=BenchOutcome(raw_cap=1000),
    )
    s = out.stream
    assert out.iterations == s.count == 3000  # nothing lost: every latency counted in the histogram and sums
    assert len(out.latencies_ns) == 1000 and out.latencies_ns is s.raw and not s.complete
    assert s.hist.total == 3000 and s.min_ns <= min(out.latencies_ns) and s.max_ns >= max(out.latencies_ns)


def test_a_run_past_the_cap_reads_the_histogram_and_exports_the_first_latencies(monkeypatch, tmp_path):
    monkeypatch.setattr("workbench.core.bench.run.EXACT_CAP", 500)
    target = tmp_path / "t.json"
    r = workflow.bench_and_store(_job(iterations=3000, export_times=str(target), store=False), "fp32")
    m = r.latency_method
    assert (m.percentile_method, m.exact_cap, m.latencies_kept, m.latencies_total) == ("histogram", 500, 500, 3000)
    assert m.histogram_relative_error == 2**-11
    assert r.throughput.iterations == 3000
    p99 = r.latency.get(99.0)
    assert (
        p99.ranks == order_stat_ranks(3000, 99.0) == (2959, 2981) and p99.ci95_ms[0] <= p99.value_ms <= p99.ci95_ms[1]
    )
    doc = json.loads(target.read_text())
    assert (doc["latencies_kept"], doc["latencies_total"], len(doc["latencies_ms"])) == ("first", 3000, 500)
    assert doc["precision"] == "fp32"


def test_a_short_run_is_exact_and_exports_every_latency(tmp_path):
    target = tmp_path / "t.json"
    r = workflow.bench_and_store(_job(iterations=300, export_times=str(target), store=False), "fp32")
    m = r.latency_method
    assert (m.percentile_method, m.latencies_kept, m.latencies_total) == ("exact", 300, 300)
    doc = json.loads(target.read_text())
    assert (doc["latencies_kept"], doc["latencies_total"], len(doc["latencies_ms"])) == ("all", 300, 300)
    series = r.latency_series
    assert series is not None and series.interval_s == 1.0 and sum(series.queries) == 300


def test_repeats_share_the_exact_cap(monkeypatch):
    monkeypatch.setattr("workbench.core.bench.run.EXACT_CAP", 500)
    r = workflow.bench_and_store(_job(iterations=400, repeat=2, store=False), "fp32")
    m = r.latency_method
    # the first run keeps its 400, the second the 100 left of the cap
    assert (m.percentile_method, m.latencies_kept, m.latencies_total) == ("histogram", 500, 800)
    assert r.repeat is not None and len(r.repeat.medians_ms) == 2


def test_the_series_summarises_each_second_and_stays_bounded():
    s = LatencySeries(interval_s=1.0, max_points=4)
    s.start(100.0)
    for sec in range(10):
        for k in range(4):  # four batches a second
            s.add([(sec + 1) * 1_000_000 + k] * 25 + [50_000_000], 100.0 + sec + k * 0.25)
    s.finish()
    r = s.result()
    # 10 one-second windows, at most 4 kept: every 4th second (0, 4, 8) once the spacing doubled twice
    assert r.every_s == 4.0 and r.t_s == (0.0, 4.0, 8.0)
    assert r.queries == (104, 104, 104) and r.qps == (104.0, 104.0, 104.0)
    assert r.p50_ms == pytest.approx((1.000001, 5.000001, 9.000001))
    assert r.p99_ms == (50.0, 50.0, 50.0)  # the window's slowest 1 %: the four 50 ms latencies


def test_the_last_partial_window_counts_over_the_time_the_run_lasted():
    # a run ending 0.25 s into its last second showed a quarter of its real throughput there (a false drop)
    s = LatencySeries(interval_s=1.0)
    s.start(100.0)
    for k in range(8):  # 4 batches of 100 queries a second for 2 s
        s.add([20_000] * 100, 100.0 + k * 0.25)
    s.add([20_000] * 100, 102.1)  # the last batch, in the third window
    s.finish(102.25)  # TimedEnd: the run lasted 0.25 s into that window
    r = s.result()
    assert r.t_s == (0.0, 1.0, 2.0) and r.queries == (400, 400, 100)
    assert r.qps == (400.0, 400.0, pytest.approx(400.0))
    s2 = LatencySeries(interval_s=1.0)
    s2.start(0.0)
    s2.add([1] * 10, 0.5)
    s2.finish()  # no end time known (old callers): a whole window, as before
    assert s2.result().qps == (10.0,)


def test_the_series_round_trips_through_the_result_json():
    from workbench.core.results.result import LatencySeries as Part

    s = LatencySeries()
    s.start(0.0)
    s.add([1_000_000, 2_000_000, 3_000_000], 0.5)
    s.add([4_000_000], 1.5)
    s.finish()
    part = s.result()
    assert part.t_s == (0.0, 1.0) and part.queries == (3, 1) and part.p50_ms == (2.0, 4.0)
    assert Part.from_dict(json.loads(json.dumps(part.to_dict()))) == part


def test_planning_a_long_server_run_does_not_build_its_whole_arrival_schedule():
    """A 5-minute server run at 10 000 QPS has 3 million arrivals; the plan keeps the first 20 000 (stored with the
    result) and never holds the rest: Python allocations while planning stay under 8 MiB (the whole list of
    floats would be about 100 MiB)."""
    import tracemalloc

    from workbench.core.bench.arrivals import iter_poisson_arrivals, poisson_arrivals

    job = _job(store=False)
    built = workflow.build(job, "fp32")
    tracemalloc.start()
    try:
        plan = workflow._plan(job, built, cfg_overrides={"scenario": "server", "qps": 10_000.0, "duration_s": 300.0})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    s = plan.context.server
    assert s.queries == 3_000_000 and len(s.arrivals_s) == 20_000
    assert list(s.arrivals_s[:100]) == poisson_arrivals(10_000.0, 100, 0)
    assert peak < 8 * 2**20, peak
    assert list(iter_poisson_arrivals(500.0, 50, 3)) == poisson_arrivals(500.0, 50, 3)


def test_the_progress_line_of_an_until_stable_run_names_its_ceiling():
    # it said "at least 60 s" for a run that may stop at 39 s: --max-duration is a ceiling there
    from workbench.core.bench.config import BenchConfig
    from workbench.core.bench.run import run_length_text

    cfg = BenchConfig(artifact_path="m.onnx", duration_s=60.0)
    assert run_length_text(cfg, until_stable=True) == "until stable, at most 60 s"
    assert run_length_text(cfg) == "at least 60 s"


def test_export_times_is_written_in_pieces_with_the_bytes_json_dumps_gives(monkeypatch, tmp_path):
    # a million latencies were one list of floats and one string (~70 MB at the cap, measured by a trial run)
    from workbench.core.bench import run as run_mod
    from workbench.core.bench.units import ms_list

    monkeypatch.setattr(run_mod, "TIMES_CHUNK", 7)  # many pieces, one partly filled
    job = _job(iterations=50, repeat=2, store=False)
    run = workflow._measure(job, workflow.build(job, "fp32"))
    target = tmp_path / "t.json"
    assert run.write_times(str(target)) == 100
    want = {
        "precision": "fp32",
        "latencies_ms": [v for o in run.outcomes for v in ms_list(o.latencies_ns)],
        "latencies_kept": "all",
        "latencies_total": 100,
    }
    assert target.read_text() == json.dumps(want)


def test_export_times_memory_does_not_grow_with_the_latencies_written(tmp_path):
    import tracemalloc
    from types import SimpleNamespace

    from workbench.core.bench.run import BenchRun
    from workbench.core.bench.stream import RawBuffer

    raw = RawBuffer(400_000)
    raw.extend(list(range(20_000, 420_000)))
    outcome = SimpleNamespace(latencies_ns=raw, stream=SimpleNamespace(count=400_000))
    run = BenchRun(SimpleNamespace(precision="fp32"), (outcome,))
    tracemalloc.start()
    try:
        assert run.write_times(str(tmp_path / "t.json")) == 400_000
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the whole list of 400 000 floats and its JSON string would be about 20 MB; pieces of 64 Ki stay near 5 MB
    assert peak < 8 << 20, peak
    doc = json.loads((tmp_path / "t.json").read_text())
    assert len(doc["latencies_ms"]) == 400_000 and doc["latencies_ms"][-1] == 0.419999


def test_a_long_warmup_is_summarised_in_the_child_not_kept():
    # every warm-up latency was kept in a list and sent as one event line: a 10-minute warm-up of a 30 µs model
    # is 20 million calls (~700 MB in the child, a 200 MB line)
    import numpy as np

    from workbench.core.bench.child import WarmupFold
    from workbench.core.bench.histogram import RELATIVE_ERROR
    from workbench.core.bench.stats import median

    rng = np.random.default_rng(5)
    lat = (20_000 + rng.pareto(2.5, 250_000) * 5_000).astype(np.int64).tolist()
    fold = WarmupFold()
    for start in range(0, len(lat), 100_000):
        fold.add(lat[start : start + 100_000])
    sm = fold.summary()
    assert (sm["count"], sm["sum_ns"], sm["min_ns"], sm["max_ns"], sm["first_ns"]) == (
        250_000,
        sum(lat),
        min(lat),
        max(lat),
        lat[0],
    )
    exact = median(sorted(v / 1e6 for v in lat))
    assert abs(sm["median_ms"] - exact) <= exact * RELATIVE_ERROR * 1.01


def test_a_real_warmup_past_the_kept_count_reports_its_summary(tiny_matmul_model):
    from workbench.core.bench.child import WARMUP_KEEP
    from workbench.core.bench.result import _warmup

    out = run_child(
        BenchConfig(artifact_path=str(tiny_matmul_model), iterations=50, warmup_ms=0, warmup_iterations=WARMUP_KEEP + 5)
    )
    assert out.warmup_latencies_ns == [] and out.warmup_summary["count"] >= WARMUP_KEEP + 5
    w = _warmup(out)
    assert w.iterations == out.warmup_summary["count"]
    assert 0 < w.min_ms <= w.median_ms <= w.max_ms and w.min_ms <= w.mean_ms <= w.max_ms and w.first_ms > 0
