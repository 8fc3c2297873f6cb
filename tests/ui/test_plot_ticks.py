"""Tick labels of the Benchmark and Tune plots (ui/widgets/bench_plot.py ``num``): at most 6 characters, and distinct
for distinct ticks down to microsecond latencies in ms (four decimals showed 0.0000 for all of them)."""

from __future__ import annotations

from workbench.ui.widgets.bench_plot import num


def test_tick_labels_stay_short_and_tell_tiny_values_apart():
    assert [num(v) for v in (0.0, 0.0642, 0.5, 8.27, 12.34, 250.0)] == ["0.0000", "0.0642", "0.500", "8.27", "12.3",
                                                                       "250"]  # fmt: skip
    ticks = [1.2e-5, 2.85e-5, 4.5e-5]  # 12-45 ns latencies, in ms
    labels = [num(v) for v in ticks]
    assert labels == ["1.2e-5", "2.9e-5", "4.5e-5"]
    assert all(len(s) <= 6 for s in labels) and len(set(labels)) == 3
    assert float(num(9.9e-4)) == 9.9e-4
