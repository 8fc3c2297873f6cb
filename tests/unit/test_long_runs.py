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
