"""Scenarios and repeats: seeded Poisson arrivals, server latency from the scheduled arrival, offline sweep, repeats."""

import math
import statistics

import pytest

from workbench.core import pipeline
from workbench.core.bench.arrivals import poisson_arrivals


def test_poisson_arrivals_reproducible_with_right_rate():
    a = poisson_arrivals(500.0, 20_000, seed=7)
    assert a == poisson_arrivals(500.0, 20_000, seed=7)
    assert a != poisson_arrivals(500.0, 20_000, seed=8)
    gaps = [b - x for x, b in zip([0.0, *a[:-1]], a, strict=True)]
    assert all(g > 0 for g in gaps)
    # mean gap 1/qps; the sample mean of n exponentials has sd (1/qps)/sqrt(n): allow 4 sd
    assert statistics.fmean(gaps) == pytest.approx(1 / 500, abs=4 * (1 / 500) / math.sqrt(len(gaps)))
    # exponential: sd == mean (within sampling error)
    assert statistics.pstdev(gaps) == pytest.approx(1 / 500, rel=0.05)
    with pytest.raises(ValueError):
        poisson_arrivals(0, 10)


@pytest.fixture(scope="module")
def ctx_and_artifact(tmp_path_factory):
    import os

    os.environ["WORKBENCH_HOME"] = str(tmp_path_factory.mktemp("scen"))
    ctx = pipeline.prepare(pipeline.Options(store=False, warmup_ms=20))
    art, _ = pipeline.build(ctx, "fp32")
    return ctx, art


def test_server_scenario_counts_queueing(ctx_and_artifact):
    ctx, art = ctx_and_artifact
    e = pipeline.bench_artifact(ctx, art, cfg_overrides={"scenario": "server", "qps": 200.0, "server_queries": 300})
    assert e["scenario"] == "server" and e["iterations"] == 300
    s = e["server"]
    assert s["queries"] == 300 and s["seed"] == 0 and len(s["arrivals_s"]) == 300
    assert s["arrivals_s"] == poisson_arrivals(200.0, 300, 0)
    # 300 queries at 200 QPS take about 1.5 s of wall time (the arrivals span), far more than the compute
    assert e["wall_s"] == pytest.approx(s["arrivals_s"][-1], rel=0.2)


def test_repeat_reports_per_run_medians(ctx_and_artifact):
    ctx, art = ctx_and_artifact
    rctx = pipeline.with_options(ctx, repeat=3, iterations=200)
    e = pipeline.bench_artifact(rctx, art)
    r = e["repeat"]
    assert r["runs"] == 3 and len(r["medians_ms"]) == 3
    assert e["iterations"] == 600
    assert r["cv_pct"] == pytest.approx(statistics.pstdev(r["medians_ms"]) / statistics.fmean(r["medians_ms"]) * 100)
    assert r["runs_needed_for_1pct_error"] >= 1


def test_repeat_report_warnings_exact():
    from workbench.core.bench.parent import BenchOutcome

    def out(values_ms):
        o = BenchOutcome()
        o.latencies_ns = [int(v * 1e6) for v in values_ms]
        return o

    rep = pipeline.repeat_report([out([1.0] * 5), out([2.0] * 5), out([3.0] * 5)])
    assert rep["medians_ms"] == [1.0, 2.0, 3.0]
    assert rep["cv_pct"] == pytest.approx(statistics.pstdev([1, 2, 3]) / 2 * 100)
    # ceil(4 * 1.96^2 * CV^2 / 0.01^2) with CV = 0.40825
    assert rep["runs_needed_for_1pct_error"] == math.ceil(
        4 * 1.96**2 * (statistics.pstdev([1, 2, 3]) / 2) ** 2 / 0.01**2
    )
    assert len(rep["warnings"]) == 3
    spread = [1.0 + 0.01 * i for i in range(100)]  # median 1.495, MAD 0.25
    rep = pipeline.repeat_report([out(spread + [1000.0]), out(spread + [6.0])])
    # |1000 - med| / (1.4826 * MAD) >> 14.8 is an outlier; |6 - 1.5| / 0.37 = 12.1 is not
    assert rep["outliers"] == 1


def test_offline_sweep_needs_dynamic_batch(ctx_and_artifact):
    from workbench.core import scenarios

    ctx, art = ctx_and_artifact
    calls = []

    def bench(cfg_overrides=None):
        calls.append(cfg_overrides["batch"])
        return {"throughput_ips": 100.0 * cfg_overrides["batch"], "latency_ms": {"median": 1.0}}

    res = scenarios.offline(ctx, art, max_batch=12, bench=bench)
    assert calls == [1, 2, 4, 8, 12]
    assert res["best"]["batch"] == 12
