"""Energy figures of a result entry (MLPerf's definitions) and the short/verbose summaries."""

import pytest

from workbench.cli.report import percentile_table, summary
from workbench.core.pipeline import _energy_figures


def test_inferences_per_joule_and_above_idle():
    entry = {"throughput_ips": 500.0, "telemetry": {"mean_power_w": 10.0}}
    _energy_figures(entry, {"mean_power_w": 6.0, "seconds": 3}, subtract_idle=True)
    assert entry["inferences_per_j"] == pytest.approx(50.0)  # 500 inf/s / 10 W
    assert entry["above_idle"]["mean_power_w"] == pytest.approx(4.0)
    assert entry["above_idle"]["mj_per_inference"] == pytest.approx(8.0)  # 4 W / 500 inf/s = 8 mJ
    assert "idle subtracted" in entry["above_idle"]["label"]


def test_no_power_means_no_energy_figures():
    entry = {"throughput_ips": 500.0, "telemetry": {"mean_power_w": None}}
    _energy_figures(entry, {"mean_power_w": None}, subtract_idle=True)
    assert entry["inferences_per_j"] is None and "above_idle" not in entry


def test_verbose_table_lists_every_percentile():
    entry = {
        "precision": "fp32",
        "iterations": 10,
        "latency_ms": {
            "min": 1.0,
            "max": 10.0,
            "mean": 5.5,
            "median": 5.5,
            "std": 2.87,
            "cov_pct": 52.2,
            "p50": 5.0,
            "p99": 10.0,
            "ci95": {"p50": [2.0, 9.0], "p99": [9.0, None]},
        },
        "run_length": {
            "p50": {"rel_half_width": 0.7, "long_enough": False},
            "p99": {"note": "p99: needs >= 299 samples for a 95 % upper bound; ran 10"},
        },
        "early_stopping": {"p99": {"value_ms": None, "min_queries": 662}},
    }
    rows = percentile_table(entry)
    assert any("p50" in r and "[2.0000, 9.0000]" in r and "70.0%" in r for r in rows)
    assert any("needs >= 299 samples" in r for r in rows)
    assert any("needs >= 662 queries" in r for r in rows)
    assert "95 % CI ms" in summary(entry, verbose=True)
    assert "95 % CI ms" not in summary(entry)
