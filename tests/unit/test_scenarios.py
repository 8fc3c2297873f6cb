"""Scenarios and repeats: seeded Poisson arrivals, server latency from the scheduled arrival, offline sweep, repeats."""

import math
import statistics

import pytest

from workbench.core import workflow
from workbench.core.bench.arrivals import poisson_arrivals
from workbench.core.bench.repeats import repeat_report


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
def job_and_built(tmp_path_factory):
    import os

    os.environ["WORKBENCH_HOME"] = str(tmp_path_factory.mktemp("scen"))
    job = workflow.prepare(workflow.JobRequest(store=False, warmup_ms=20))
    return job, workflow.build(job, "fp32")


def test_server_scenario_counts_queueing(job_and_built):
    job, built = job_and_built
    r = workflow.bench(job, built, cfg_overrides={"scenario": "server", "qps": 200.0, "server_queries": 300})
    assert r.scenario == "server" and r.throughput.iterations == 300
    s = r.server
    assert s.queries == 300 and s.seed == 0 and len(s.arrivals_s) == 300
    assert list(s.arrivals_s) == poisson_arrivals(200.0, 300, 0)
    # 300 queries at 200 QPS take about 1.5 s of wall time (the arrivals span), far more than the compute
    assert r.throughput.wall_s == pytest.approx(s.arrivals_s[-1], rel=0.2)


def test_repeat_reports_per_run_medians(job_and_built):
    job, built = job_and_built
    r = workflow.bench(job.with_request(repeat=3, iterations=200), built)
    rep = r.repeat
    assert rep.runs == 3 and len(rep.medians_ms) == 3
    assert r.throughput.iterations == 600 and len(r.latencies_ms) == 600  # pooled
    assert rep.cv_pct == pytest.approx(statistics.pstdev(rep.medians_ms) / statistics.fmean(rep.medians_ms) * 100)
    assert rep.runs_needed_for_1pct_error >= 1


def test_repeat_report_warnings_exact():
    from workbench.core.bench.parent import BenchOutcome

    def out(values_ms):
        o = BenchOutcome()
        o.latencies_ns.extend(int(round(v * 1e6)) for v in values_ms)
        return o

    rep = repeat_report([out([1.0] * 5), out([2.0] * 5), out([3.0] * 5)])
    assert rep.medians_ms == (1.0, 2.0, 3.0)
    assert rep.cv_pct == pytest.approx(statistics.pstdev([1, 2, 3]) / 2 * 100)
    # ceil(4 * 1.96^2 * CV^2 / 0.01^2) with CV = 0.40825
    assert rep.runs_needed_for_1pct_error == math.ceil(4 * 1.96**2 * (statistics.pstdev([1, 2, 3]) / 2) ** 2 / 0.01**2)
    assert len(rep.warnings) == 3
    spread = [1.0 + 0.01 * i for i in range(100)]  # median 1.495, MAD 0.25
    rep = repeat_report([out(spread + [1000.0]), out(spread + [6.0])])
    # |1000 - med| / (1.4826 * MAD) >> 14.8 is an outlier; |6 - 1.5| / 0.37 = 12.1 is not
    assert rep.outliers == 1


def test_offline_sweep_picks_the_fastest_batch(job_and_built):
    from workbench.core import scenarios
    from workbench.core.results.result import result_from_dict

    job, _ = job_and_built
    calls = []

    def bench(cfg_overrides=None):
        calls.append(cfg_overrides["batch"])
        b = cfg_overrides["batch"]
        return result_from_dict({"throughput_ips": 100.0 * min(b, 8), "latency_ms": {"median": 1.0}})

    res = scenarios.offline(job, max_batch=12, bench=bench)
    assert calls == [1, 2, 4, 8, 12]
    assert res.best.batch == 8  # 12 is no faster than 8: the first maximum wins
    assert [r.samples_per_s for r in res.rows] == [100.0, 200.0, 400.0, 800.0, 800.0]


def test_find_max_qps_bisects_to_the_bound():
    from workbench.core import scenarios
    from workbench.core.results.result import result_from_dict

    def bench(cfg_overrides=None):  # p99 grows with the offered rate: the bound 5 ms is met up to 50 QPS
        qps = cfg_overrides["qps"]
        return result_from_dict({"latency_ms": {"median": qps / 20, "p99": qps / 10}})

    res = scenarios.find_max_qps(p99_bound_ms=5.0, bench=bench, start_qps=100.0, tries=7)
    assert [t.qps for t in res.tries] == [50.0, 75.0, 62.5, 56.25, 53.125, 51.5625, 50.78125]
    assert res.max_qps == 50.0 and res.tries[0].meets and not res.tries[1].meets
    assert res.to_dict()["single_stream_qps"] == 100.0
