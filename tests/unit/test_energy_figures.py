"""Energy figures of a result (MLPerf's definitions) and the short/verbose summaries, on typed results built by
core/bench/result.py from synthetic outcomes."""

import pytest
from _bench_fakes import result, telemetry

from workbench.core.results.result import IdlePower
from workbench.core.results.summary import percentile_table, summary


def test_inferences_per_joule_and_above_idle():
    # 100 queries of 2 ms in 0.2 s: 500 inf/s at 10 W -> 50 inferences/J; 4 W above idle -> 8 mJ per inference.
    r = result([2.0] * 100, tel=telemetry(mean_power_w=10.0), idle_power=IdlePower(3, 6.0, True), subtract_idle=True)
    assert r.throughput.inferences_per_s == pytest.approx(500.0)
    assert r.inferences_per_j == pytest.approx(50.0)
    assert r.above_idle.mean_power_w == pytest.approx(4.0)
    assert r.above_idle.mj_per_inference == pytest.approx(8.0)
    assert "idle subtracted" in r.above_idle.label
    assert r.to_dict()["above_idle"]["mj_per_inference"] == pytest.approx(8.0)


def test_idle_is_not_subtracted_unless_asked():
    r = result([2.0] * 100, tel=telemetry(mean_power_w=10.0), idle_power=IdlePower(3, 6.0, True))
    assert r.above_idle is None and r.inferences_per_j == pytest.approx(50.0)
    assert "Idle power (3 s before the run): 6.00 W (not subtracted)" in summary(r)


def test_no_power_means_no_energy_figures():
    r = result([2.0] * 100, idle_power=IdlePower(3, None, True, "no power"), subtract_idle=True)
    assert r.inferences_per_j is None and r.above_idle is None
    assert "above_idle" not in r.to_dict()


def test_verbose_table_lists_every_percentile():
    r = result([float(i) for i in range(1, 11)])  # 10 samples: no upper bound for p99, no early stopping
    rows = percentile_table(r)
    p50 = next(x for x in rows if x.strip().startswith("p50"))
    assert "[2.0000, 9.0000]" in p50  # ranks 2 and 9 of 10 (binomial, 95 %)
    assert any("needs >= 299 samples" in x for x in rows)
    assert any("needs >= 662 queries" in x for x in rows)
    assert "95 % CI ms" in summary(r, verbose=True)
    assert "95 % CI ms" not in summary(r)
