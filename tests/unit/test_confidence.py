"""Percentile intervals and MLPerf early stopping against exact values (shared/design/benchmark-definitions.md)."""

import pytest

from workbench.core.bench.confidence import (
    binom_cdf,
    binom_ppf,
    early_stopping,
    early_stopping_min_queries,
    min_samples_two_sided,
    min_samples_upper,
    order_stat_ranks,
    percentile_ci,
)


def test_order_statistic_ranks_for_p99():
    assert order_stat_ranks(1000, 99) == (983, 997)
    assert order_stat_ranks(10_000, 99) == (9880, 9920)


def test_no_upper_bound_below_299_and_no_two_sided_below_368():
    assert min_samples_upper(99) == 299
    assert min_samples_two_sided(99) == 368
    assert order_stat_ranks(367, 99)[1] is None
    assert order_stat_ranks(368, 99) == (360, 368)
    ci = percentile_ci([float(i) for i in range(1, 188)], 99, 186.0)
    assert ci.hi_ms is None and ci.lo_ms is not None
    assert ci.note() == "p99: needs >= 299 samples for a 95 % upper bound; ran 187"
    ci = percentile_ci([float(i) for i in range(1, 301)], 99, 297.0)
    assert ci.note() == "p99: needs >= 368 samples for a two-sided 95 % interval; ran 300"


def test_interval_values_are_order_statistics():
    values = [float(i) for i in range(1, 1001)]
    ci = percentile_ci(values, 99, 990.0)
    assert (ci.lo_ms, ci.hi_ms) == (983.0, 997.0)
    assert ci.rel_half_width == pytest.approx(7 / 990)


def test_binomial_helpers_match_closed_forms():
    # P[Bin(10, 0.5) <= 5] = 638/1024
    assert binom_cdf(5, 10, 0.5) == pytest.approx(638 / 1024)
    assert binom_ppf(0.5, 10, 0.5) == 5
    assert binom_cdf(-1, 10, 0.5) == 0 and binom_cdf(10, 10, 0.5) == 1


def test_early_stopping_minimum_counts_and_effective_percentile():
    assert early_stopping_min_queries(90) == 64
    assert early_stopping_min_queries(99) == 662
    es = early_stopping([float(i) for i in range(1, 1001)], 90)
    assert es.effective_percentile == pytest.approx(92.3, abs=0.05)
    assert es.value_ms == 923.0
    assert early_stopping([float(i) for i in range(10_000)], 90).effective_percentile == pytest.approx(90.7, abs=0.05)
    short = early_stopping([1.0] * 600, 99)
    assert short.value_ms is None and short.min_queries == 662
