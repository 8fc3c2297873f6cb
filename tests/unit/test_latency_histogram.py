"""Streaming latency statistics (issue 19): the HdrHistogram-layout histogram, the bounded per-run stream, and
figures read from them against exact ones on the same latencies (recorded and synthetic heavy-tailed)."""

from __future__ import annotations

import json
import sqlite3
import tracemalloc
from array import array
from pathlib import Path

import numpy as np
import pytest

from workbench.core.bench.confidence import early_stopping, order_stat_ranks, percentile_ci
from workbench.core.bench.hist_stats import (
    PooledHistogram,
    hist_early_stopping,
    hist_latency_stats,
    hist_percentile_ci,
)
from workbench.core.bench.histogram import (
    COUNTS_LEN,
    MAX_TRACKABLE_NS,
    RELATIVE_ERROR,
    LatencyHistogram,
    bucket_bounds,
    counts_index,
)
from workbench.core.bench.stats import latency_stats_sorted
from workbench.core.bench.stream import LatencyStream

RECORDED = Path(__file__).parents[1] / "fixtures" / "results" / "v0.1.0" / "results.sqlite3"
PCTS = (50.0, 90.0, 95.0, 99.0, 99.9)


def _recorded_ns() -> np.ndarray:
    """The 20 000 latencies of a real run of the bundled model (0.1.0's database), as integer ns."""
    with sqlite3.connect(RECORDED) as c:
        for (doc,) in c.execute("select json from results"):
            lat = json.loads(doc).get("latencies_ms")
            if lat and len(lat) == 20_000:
                return np.rint(np.asarray(lat) * 1e6).astype(np.int64)
    raise AssertionError("the recorded 20 000-latency result is missing from the fixture")


def _heavy_tailed_ns(n: int, seed: int) -> np.ndarray:
    """Lognormal body around 30 us with a Pareto tail (alpha 1.5) in 2 % of the queries: a CPU benchmark's shape."""
    rng = np.random.default_rng(seed)
    body = rng.lognormal(np.log(30_000), 0.15, n)
    tail = rng.random(n) < 0.02
    body[tail] += (rng.pareto(1.5, int(tail.sum())) + 1) * 50_000
    return np.rint(body).astype(np.int64)


def _stream(ns: np.ndarray, cap: int = 0, batch: int = 5000) -> LatencyStream:
    s = LatencyStream(cap)
    for i in range(0, len(ns), batch):
        s.add(ns[i : i + batch].tolist())
    return s


def test_every_value_lies_in_its_bucket_and_the_bucket_is_within_the_stated_resolution():
    rng = np.random.default_rng(3)
    v = np.concatenate([np.arange(0, 5000), rng.integers(0, MAX_TRACKABLE_NS, 100_000), _heavy_tailed_ns(50_000, 1)])
    idx = counts_index(v)
    lo, width = bucket_bounds(idx)
    assert idx.min() >= 0 and idx.max() < COUNTS_LEN
    assert np.all((lo <= v) & (v <= lo + width - 1))
    # the middle of a bucket is within 2**-11 of every value in it
    assert np.all(np.abs(lo + (width - 1) / 2 - v) <= RELATIVE_ERROR * v + 1e-9)
    assert np.all(np.diff(counts_index(np.sort(v))) >= 0)  # indices are monotonic in the value
    assert bucket_bounds(int(counts_index(np.array([2047]))[0])) == (2047, 1)  # below 2048 ns: exact
    assert bucket_bounds(int(counts_index(np.array([30_001]))[0])) == (30_000, 16)


@pytest.mark.parametrize("source", ["recorded", "synthetic"])
def test_histogram_figures_agree_with_exact_ones_within_the_resolution(source):
    ns = _recorded_ns() if source == "recorded" else _heavy_tailed_ns(300_000, 7)
    exact_sorted = np.sort(ns) / 1e6
    exact = latency_stats_sorted(exact_sorted, PCTS)
    pooled = PooledHistogram([_stream(ns)])
    hist = hist_latency_stats(pooled, PCTS)
    assert hist.count == exact.count == len(ns)
    assert (hist.min, hist.max) == (exact.min, exact.max)
    assert hist.mean == pytest.approx(exact.mean, rel=1e-12)  # exact integer sums
    assert hist.std == pytest.approx(exact.std, rel=1e-9)
    assert abs(hist.median - exact.median) <= RELATIVE_ERROR * exact.median
    for (p, h), (q, e) in zip(hist.percentiles, exact.percentiles, strict=True):
        assert p == q
        assert abs(h - e) <= RELATIVE_ERROR * e, (p, h, e)
    for p in PCTS:
        ex = percentile_ci(exact_sorted, p, exact.get(p))
        hc = hist_percentile_ci(pooled, p, hist.get(p))
        assert (hc.lo_rank, hc.hi_rank) == (ex.lo_rank, ex.hi_rank)
        # the same order statistics, widened by at most one bucket each side: never narrower than the exact one
        assert hc.lo_ms <= ex.lo_ms and hc.lo_ms >= ex.lo_ms * (1 - 2 * RELATIVE_ERROR)
        assert hc.hi_ms >= ex.hi_ms and hc.hi_ms <= ex.hi_ms * (1 + 2 * RELATIVE_ERROR)
    for p in (90.0, 99.0):
        ee, he = early_stopping(exact_sorted, p), hist_early_stopping(pooled, p)
        assert (he.t, he.effective_percentile) == (ee.t, ee.effective_percentile)
        assert ee.value_ms <= he.value_ms <= ee.value_ms * (1 + 2 * RELATIVE_ERROR)


def test_rank_based_intervals_from_the_histogram_keep_their_coverage():
    """400 seeded samples of 2 000 lognormal latencies: the 95 % intervals for p50 and p99 read from the
    histogram contain the true quantile at least as often as 95 % allows (binomial noise: sd 1.1 %)."""
    rng = np.random.default_rng(2024)
    mu, sigma = np.log(30_000), 0.3
    z = {50.0: 0.0, 99.0: 2.3263478740408408}  # standard normal quantiles
    truth = {p: float(np.exp(mu + sigma * zp)) / 1e6 for p, zp in z.items()}
    covered = {p: 0 for p in z}
    trials = 400
    for _ in range(trials):
        ns = np.rint(rng.lognormal(mu, sigma, 2000)).astype(np.int64)
        s = LatencyStream(0)
        s.add(ns.tolist())
        pooled = PooledHistogram([s])
        for p in z:
            ci = hist_percentile_ci(pooled, p, 0.0)
            covered[p] += ci.lo_ms <= truth[p] <= ci.hi_ms
    for p in z:
        assert covered[p] / trials >= 0.93, (p, covered[p])


def test_merged_histograms_equal_the_histogram_of_the_union_and_survive_json():
    a, b = _heavy_tailed_ns(20_000, 1), _heavy_tailed_ns(30_000, 2)
    ha, hb, hu = LatencyHistogram(), LatencyHistogram(), LatencyHistogram()
    ha.record_ns(a)
    hb.record_ns(b)
    hu.record_ns(np.concatenate([a, b]))
    merged = LatencyHistogram.merged([ha, hb])
    assert merged.total == hu.total == 50_000
    assert np.array_equal(merged.counts, hu.counts)
    back = LatencyHistogram.from_dict(json.loads(json.dumps(merged.to_dict())))
    assert np.array_equal(back.counts, hu.counts) and back.total == 50_000
    with pytest.raises(ValueError, match="cannot merge"):
        LatencyHistogram.from_dict({**merged.to_dict(), "significant_digits": 2})
    with pytest.raises(ValueError, match="do not fit"):
        LatencyHistogram.from_dict({**merged.to_dict(), "index": [COUNTS_LEN], "counts": [1]})


def test_a_value_past_the_trackable_range_is_counted_in_the_top_bucket_and_said():
    h = LatencyHistogram()
    h.record_ns([1000, MAX_TRACKABLE_NS + 5])
    assert h.total == 2 and h.clamped == 1
    assert h.rank_bounds_ns(1)[1] == MAX_TRACKABLE_NS


def test_the_stream_keeps_the_first_latencies_exact_sums_and_an_order_preserving_sample():
    ns = list(range(1, 100_001))
    s = LatencyStream(1000, sample_size=100)
    for i in range(0, len(ns), 777):
        s.add(ns[i : i + 777])
    assert list(s.raw) == ns[:1000] and not s.complete
    assert s.count == 100_000 and s.sum_ns == sum(ns) and s.sumsq_ns == sum(v * v for v in ns)
    assert (s.min_ns, s.max_ns) == (1, 100_000)
    # positions 0, stride, 2 * stride, ... of the run (values 1, 1 + stride, ...): the first from raw, the rest
    # stored (at most 2 * sample_size of them)
    assert s.stride == 512 and s.systematic_sample() == ns[:: s.stride]
    assert len(s.sample) == len(ns[1024::512]) <= 200


def test_the_stream_memory_is_flat_past_the_cap():
    """Python-side allocations (numpy's included, which tracemalloc sees) after 100 000 latencies and after
    2 000 000 differ by less than 64 KiB: nothing grows with the run past the cap (the order-preserving sample
    moves between 1 000 and 2 000 values, 16 KiB)."""
    rng = np.random.default_rng(0)
    batches = [rng.integers(20_000, 40_000, 20_000).tolist() for _ in range(5)]
    s = LatencyStream(50_000, sample_size=1000)
    tracemalloc.start()
    try:
        for k in range(100):
            s.add(batches[k % 5])
            if k == 4:
                early = tracemalloc.get_traced_memory()[0]
        late = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert s.count == 2_000_000 and len(s.raw) == 50_000
    assert late - early < 64 * 1024, (early, late)


def test_exact_and_past_the_cap_results_say_how_they_were_computed():
    from _bench_fakes import context, outcome, telemetry

    from workbench.core.bench.parent import BenchOutcome
    from workbench.core.bench.result import RunMeasurements, build_result
    from workbench.core.results.result import PowerState, result_from_dict

    ms = (_heavy_tailed_ns(5000, 5) / 1e6).tolist()
    m = RunMeasurements(telemetry=telemetry(), power_state=PowerState(reason="test"))
    exact = build_result([outcome(ms)], context(), m)
    base = outcome(ms)
    capped = BenchOutcome(raw_cap=1000)
    for name in ("iterations", "wall_ns", "warmup_latencies_ns", "warmup_duration_ns", "input_shapes", "input_source"):
        setattr(capped, name, getattr(base, name))
    for i in range(0, 5000, 500):
        capped.stream.add(list(base.latencies_ns[i : i + 500]))
    hist = build_result([capped], context(), m)
    em, hm = exact.latency_method, hist.latency_method
    assert (em.percentile_method, em.latencies_kept, em.latencies_total) == ("exact", 5000, 5000)
    assert (hm.percentile_method, hm.latencies_kept, hm.latencies_total) == ("histogram", 1000, 5000)
    assert hm.histogram_relative_error == RELATIVE_ERROR == 2**-11
    for e in exact.latency.percentiles:
        h = hist.latency.get(e.p)
        assert abs(h.value_ms - e.value_ms) <= RELATIVE_ERROR * e.value_ms
        if e.ci95_ms[0] is not None and e.ci95_ms[1] is not None:
            assert h.ci95_ms[0] <= e.ci95_ms[0] and h.ci95_ms[1] >= e.ci95_ms[1]
    assert any("histogram" in w for w in hist.warnings) and not any("histogram" in w for w in exact.warnings)
    assert hist.latencies_subsampled and len(hist.latencies_ms) <= 20_000
    d = hist.to_dict()
    assert d["latency_method"]["percentile_method"] == "histogram"
    assert d["latency_method"]["histogram_relative_error"] == 2**-11
    back = result_from_dict(json.loads(json.dumps(d)))
    assert back.latency_method == hm
    # both results carry the histogram of all 5 000 latencies: the same counts, mergeable with other runs/hosts
    he = LatencyHistogram.from_dict(exact.to_dict()["latency_histogram"])
    hh = LatencyHistogram.from_dict(back.latency_histogram)
    assert he.total == hh.total == 5000 and np.array_equal(he.counts, hh.counts)
    assert "latency_histogram" not in hist.to_dict(latencies=False)


def test_repeats_past_the_cap_report_per_run_medians_from_their_histograms():
    from workbench.core.bench.parent import BenchOutcome
    from workbench.core.bench.repeats import repeat_report

    runs = [_heavy_tailed_ns(4000, k) for k in range(3)]
    exact = repeat_report([BenchOutcome(latencies_ns=array("q", r.tolist())) for r in runs])
    capped = []
    for r in runs:
        o = BenchOutcome(raw_cap=100)
        o.stream.add(r.tolist())
        capped.append(o)
    hist = repeat_report(capped)
    assert hist.runs == 3
    for h, e in zip(hist.medians_ms, exact.medians_ms, strict=True):
        assert abs(h - e) <= RELATIVE_ERROR * e
    assert abs(hist.outliers - exact.outliers) <= max(2, exact.outliers // 20)


def test_the_stability_watcher_reads_the_histogram_past_the_cap():
    from workbench.core.bench.stability import StabilityWatcher

    w = StabilityWatcher(99.0, 0.02, check_every_batches=1)
    s = LatencyStream(100)
    w.watch(s)
    s.add(np.rint(np.random.default_rng(1).normal(30_000, 300, 50_000)).astype(np.int64).tolist())
    assert not s.complete
    assert w.batch_arrived() and w.last_rel is not None and w.last_rel <= 0.02


def test_order_statistic_ranks_are_the_exact_paths_ones():
    # the histogram reads the same ranks as the exact interval (bench/confidence.py)
    ns = _heavy_tailed_ns(10_000, 9)
    pooled = PooledHistogram([_stream(ns)])
    ci = hist_percentile_ci(pooled, 99.0, 0.0)
    assert (ci.lo_rank, ci.hi_rank) == order_stat_ranks(10_000, 99.0) == (9880, 9920)


def test_a_reserved_raw_buffer_reads_like_the_array_it_replaces_and_refuses_past_its_capacity():
    from workbench.core.bench.stream import RawBuffer
    from workbench.core.bench.units import sorted_ms

    b = RawBuffer(5)
    b.extend([30, 10])
    b.extend(array("q", [20]))
    assert len(b) == 3 and list(b) == [30, 10, 20] and b[0] == 30 and b[1:] == [10, 20]
    assert all(type(v) is int for v in b)
    assert sorted_ms(b).tolist() == [1e-05, 2e-05, 3e-05]
    with pytest.raises(ValueError, match="full"):
        b.extend([1, 2, 3])
    b.trim()
    assert b.capacity == 3 and list(b) == [30, 10, 20]
    s = LatencyStream(4, reserve=True)
    s.add([5, 6, 7])
    s.add([8, 9, 10])
    assert list(s.raw) == [5, 6, 7, 8] and s.count == 6 and not s.complete
