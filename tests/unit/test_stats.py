"""Golden statistics, computed by hand from the trtexec rule (shared/design/benchmark-definitions.md)."""

import math

import pytest

from workbench.core.bench.stats import latency_stats, percentile


def test_one_to_ten():
    s = latency_stats([float(i) for i in range(1, 11)], percentiles=[90, 95, 99])
    assert s.count == 10
    assert s.min == 1 and s.max == 10
    assert s.mean == 5.5 and s.median == 5.5
    assert s.get(90) == 9  # sorted[9 - 1]; float64 int((1-0.9)*10) would give the max
    assert s.get(95) == 10
    assert s.get(99) == 10
    assert s.std == pytest.approx(2.8722813232690143)
    assert s.cov_pct == pytest.approx(52.2233, abs=1e-4)
    assert s.unstable


def test_one_to_hundred():
    values = [float(i) for i in range(100, 0, -1)]  # order must not matter
    s = latency_stats(values)
    assert s.get(90) == 90
    assert s.get(99) == 99  # trtexec's float32 exclude gives 100; exact integer arithmetic gives 99
    assert s.get(95) == 95
    assert s.get(50) == 50
    assert s.median == 50.5
    assert s.mean == 50.5
    assert s.std == pytest.approx(math.sqrt((100**2 - 1) / 12))


def test_dict_keys_and_fractional_percentile():
    s = latency_stats([float(i) for i in range(1, 1001)], percentiles=[99.9])
    d = s.to_dict()
    assert set(d) >= {"min", "max", "mean", "median", "std", "cov_pct", "p50", "p90", "p95", "p99", "p99_9"}
    assert d["p99_9"] == 999.0  # exclude = floor(0.1 * 1000 / 100) = 1 -> sorted[998]


def test_single_value_and_empty():
    s = latency_stats([2.5])
    assert s.get(99) == 2.5 and s.std == 0 and s.cov_pct == 0
    with pytest.raises(ValueError):
        latency_stats([])
    with pytest.raises(ValueError):
        percentile([1.0], 101)
