"""The Benchmark screen's plot maths (widgets/bench_plot.py): a y range that fits the data and says what is
off-scale, the histogram's cut, the hottest sensor's series and the legend's labels."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from workbench.ui.widgets.bench_plot import (
    OFF_SCALE_FACTOR,
    PlotData,
    fit_range,
    hist_cut,
    legend,
    power_series,
    temp_series,
)


def test_range_fits_the_data_not_from_zero():
    r = fit_range([0.61, 0.65, 0.70], marks=(0.63, 0.69), p99=0.69)
    assert r.off_scale == 0
    assert 0.60 < r.lo < 0.61 and 0.70 < r.hi < 0.71  # 5 % head-room each side of 0.61..0.70
    assert r.max_value == 0.70


def test_spike_beyond_factor_times_p99_is_off_scale_and_counted():
    vals = [0.014, 0.015, 0.016, 4.1, 8.13]
    r = fit_range(vals, marks=(0.014, 0.029), p99=0.029)
    assert r.off_scale == 2  # 4.1 and 8.13 > 4 x 0.029
    assert r.hi < OFF_SCALE_FACTOR * 0.029
    assert r.max_value == 8.13
    text = str(legend(PlotData(lat_t_s=(0, 1, 2), lat_ms=(0.014, 0.015, 0.016), lat_max_ms=(0.016, 4.1, 8.13),
                               p50_ms=0.014, p99_ms=0.029), "time"))  # fmt: skip
    assert "▲2 off-scale (max 8.13)" in text


def test_min_span_widens_a_flat_series():
    r = fit_range([50.0, 52.0], min_span=10.0)
    assert r.lo < 46.0 and r.hi > 56.0


def test_histogram_cut_and_legend_count_beyond():
    window = tuple(sorted([1.0] * 90 + [1.1] * 8 + [1.2, 40.0]))
    cut = hist_cut(window, 1.0, 1.2)
    assert cut == pytest.approx(1.6)  # p50 + 3 x (p99 - p50)
    text = str(legend(PlotData(window_ms=window, p50_ms=1.0, p99_ms=1.2, latency_label="recorded"), "hist"))
    assert text.startswith("[recorded] histogram, last 100: p50 p99")
    assert "▶1 off-scale > 1.60 (max 40.0)" in text


def test_series_pick_the_hottest_sensor_and_power_in_watts():
    s = [
        SimpleNamespace(timestamp_s=10.0, temps_c={"cpu": 50.0, "gpu": 55.0}, total_power_mw=5000.0),
        SimpleNamespace(timestamp_s=10.5, temps_c={"cpu": 51.0, "gpu": None}, total_power_mw=None),
        SimpleNamespace(timestamp_s=11.0, temps_c={"cpu": 52.0, "gpu": 56.0}, total_power_mw=7500.0),
    ]
    assert temp_series(s, 10.0) == ((0.0, 1.0), (55.0, 56.0), "gpu")
    assert power_series(s, 10.0) == ((0.0, 1.0), (5.0, 7.5))


def test_legend_labels_replayed_telemetry_and_names_missing_power():
    text = str(legend(PlotData(lat_t_s=(0.0,), lat_ms=(1.0,), lat_max_ms=(1.0,), telemetry_label="replay",
                               telemetry_note="no power rails"), "time"))  # fmt: skip
    assert text.startswith("[replay] ms: median")
    assert "W/°C n/a (no power rails)" in text


def test_all_values_beyond_the_cap_without_marks_are_shown_not_dropped():
    r = fit_range([5.0, 6.0], p99=1.0)
    assert r.off_scale == 0 and r.lo < 5.0 and r.hi > 6.0
