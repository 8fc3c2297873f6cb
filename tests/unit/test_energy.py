"""Energy integration over a benchmark window (trapezoid and counter)."""

from __future__ import annotations

import pytest

from workbench.core.telemetry.energy import energy_from_counter, integrate_power


def ramp(t: float) -> float:
    # P(t) = 1000 + 500 t mW: a linear ramp, so the trapezoid rule is exact.
    return 1000.0 + 500.0 * t


def test_ramp_matches_exact_integral_with_interpolated_edges():
    samples = [(i * 0.2, ramp(i * 0.2)) for i in range(0, 51)]  # 0..10 s every 200 ms
    t0, t1 = 1.05, 7.33  # edges between samples
    res = integrate_power(samples, t0, t1)
    exact_mj = 1000.0 * (t1 - t0) + 250.0 * (t1**2 - t0**2)  # ∫(1000+500t)dt in mW·s = mJ
    assert res.energy_mj == pytest.approx(exact_mj, rel=1e-12)
    assert res.mean_power_w == pytest.approx(exact_mj / (t1 - t0) / 1000.0)
    assert res.peak_power_w == pytest.approx(ramp(t1) / 1000.0)
    assert res.coverage == 1.0 and res.method == "trapezoid" and res.reason is None
    assert res.samples == sum(1 for t, _ in samples if t0 <= t <= t1)
    assert res.mj_per_inference(100) == pytest.approx(exact_mj / 100)


def test_nonlinear_power_trapezoid_value():
    # Square wave: 2 W for [0,1), 4 W after; samples at 0, 1, 2 → trapezoid (2+4)/2*1 + 4*1 = 7 J.
    res = integrate_power([(0.0, 2000.0), (1.0, 4000.0), (2.0, 4000.0)], 0.0, 2.0)
    assert res.energy_mj == pytest.approx(7000.0)
    assert res.mean_power_w == pytest.approx(3.5)
    assert res.peak_power_w == pytest.approx(4.0)


def test_missing_values_are_skipped_and_order_does_not_matter():
    res = integrate_power([(2.0, 3000.0), (1.0, None), (0.0, 1000.0)], 0.0, 2.0)
    assert res.energy_mj == pytest.approx(4000.0)


def test_window_not_bracketed_holds_edges_and_reports_coverage():
    res = integrate_power([(1.0, 2000.0), (2.0, 2000.0)], 0.0, 4.0)
    assert res.energy_mj == pytest.approx(8000.0)
    assert res.coverage == pytest.approx(0.25)
    assert "25%" in res.reason


def test_no_power_and_empty_window():
    assert integrate_power([(0.0, None)], 0.0, 1.0).energy_mj is None
    assert integrate_power([(0.0, None)], 0.0, 1.0).reason == "no power samples"
    assert integrate_power([(0.0, 1.0)], 1.0, 1.0).reason == "empty benchmark window"
    assert integrate_power([(0.0, 1.0)], 1.0, 1.0).mj_per_inference(5) is None


def test_counter_interpolates_edges():
    counter = [(0.0, 0.0), (1.0, 5000.0), (2.0, 10000.0), (3.0, 15000.0)]  # 5 W constant
    res = energy_from_counter(counter, 0.5, 2.5, power=[(t, 5000.0) for t, _ in counter])
    assert res.method == "counter"
    assert res.energy_mj == pytest.approx(10000.0)
    assert res.mean_power_w == pytest.approx(5.0)
    assert res.peak_power_w == pytest.approx(5.0)


def test_counter_not_bracketing_falls_back_to_power():
    res = energy_from_counter([(1.0, 0.0)], 0.0, 2.0, power=[(0.0, 1000.0), (2.0, 1000.0)])
    assert res.method == "trapezoid"
    assert res.energy_mj == pytest.approx(2000.0)
