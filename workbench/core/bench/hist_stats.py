"""Latency statistics of runs longer than the exact cap, read from their histograms (bench/stream.py).

The same definitions as the exact path, with order statistics read from the histogram's cumulative counts:

- percentile p (trtexec, bench/stats.py): the 0-based order statistic ``percentile_rank(n, p)``; the median the
  middle one (the mean of the two middle ones for an even count). Each is reported as the middle of its bucket,
  clamped to the exact [min, max]: within ``RELATIVE_ERROR`` (2**-11, bench/histogram.py) of the exact figure.
- 95 % interval (bench/confidence.py): the same ranks (l, u) from the binomial distribution, read as the
  lowest value of rank l's bucket and the highest value of rank u's bucket, so the histogram's resolution is
  added to the interval (it can only widen it, by at most one bucket on each side: coverage is kept).
- MLPerf early stopping: the same t; the order statistic ``n - t`` reported as the highest value of its bucket
  (conservative: never below the exact estimate).
- min, max, mean and the population std are exact at any length (integer sums kept by the stream).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from workbench.core.bench.confidence import EarlyStopping, PercentileCI, early_stopping_t, order_stat_ranks
from workbench.core.bench.histogram import NS_PER_MS, LatencyHistogram, bucket_bounds
from workbench.core.bench.stats import DEFAULT_PERCENTILES, LatencyStats, percentile_rank
from workbench.core.bench.stream import LatencyStream


class PooledHistogram:
    """The histogram of several streams (repeats) merged, with their exact min and max, for order statistics."""

    def __init__(self, streams: Sequence[LatencyStream]) -> None:
        live = [s for s in streams if s.count]
        if not live:
            raise ValueError("no timed iterations: an empty run has no statistics")
        self.hist = LatencyHistogram.merged(s.hist for s in live)
        self.n = self.hist.total
        self.min_ns = min(s.min_ns for s in live if s.min_ns is not None)
        self.max_ns = max(s.max_ns for s in live if s.max_ns is not None)
        self.sum_ns = sum(s.sum_ns for s in live)
        self.sumsq_ns = sum(s.sumsq_ns for s in live)

    def bounds_ns(self, rank0: int) -> tuple[int, int]:
        """(lowest, highest) ns the 0-based order statistic can be (its bucket, within the exact min/max)."""
        lo, hi = self.hist.rank_bounds_ns(rank0)
        return max(lo, self.min_ns), min(hi, self.max_ns)

    def order_ms(self, rank0: int) -> float:
        lo, hi = self.bounds_ns(rank0)
        return (lo + hi) / 2 / NS_PER_MS

    def median_ms(self) -> float:
        mid = self.n // 2
        if self.n % 2:
            return self.order_ms(mid)
        return (self.order_ms(mid - 1) + self.order_ms(mid)) / 2.0


def hist_latency_stats(pooled: PooledHistogram, percentiles: Sequence[float] = DEFAULT_PERCENTILES) -> LatencyStats:
    """:class:`~workbench.core.bench.stats.LatencyStats` (ms) from a pooled histogram (see the module doc)."""
    n = pooled.n
    mean_ns = pooled.sum_ns / n
    var_num = n * pooled.sumsq_ns - pooled.sum_ns * pooled.sum_ns  # n**2 x population variance, exact integers
    std_ms = math.sqrt(max(var_num, 0)) / n / NS_PER_MS
    mean_ms = mean_ns / NS_PER_MS
    ps = sorted({*DEFAULT_PERCENTILES, *map(float, percentiles)})
    return LatencyStats(
        count=n,
        min=pooled.min_ns / NS_PER_MS,
        max=pooled.max_ns / NS_PER_MS,
        mean=mean_ms,
        median=pooled.median_ms(),
        std=std_ms,
        cov_pct=(std_ms / mean_ms * 100.0) if mean_ms > 0 else 0.0,
        percentiles=tuple((p, pooled.order_ms(percentile_rank(n, p))) for p in ps),
    )


def hist_percentile_ci(pooled: PooledHistogram, p: float, value_ms: float, confidence: float = 0.95) -> PercentileCI:
    """The order-statistic interval of ``p`` with the bucket resolution added (see the module doc)."""
    n = pooled.n
    lo, hi = order_stat_ranks(n, p, confidence)
    return PercentileCI(
        p=p,
        value_ms=value_ms,
        lo_ms=pooled.bounds_ns(lo - 1)[0] / NS_PER_MS if lo is not None else None,
        hi_ms=pooled.bounds_ns(hi - 1)[1] / NS_PER_MS if hi is not None else None,
        lo_rank=lo,
        hi_rank=hi,
        n=n,
    )


def hist_early_stopping(pooled: PooledHistogram, p_pct: float, confidence: float = 0.99) -> EarlyStopping:
    """MLPerf early stopping from the histogram: the order statistic ``n - t`` as its bucket's highest value."""
    n = pooled.n
    t, need = early_stopping_t(n, p_pct, confidence)
    if t is None:
        return EarlyStopping(p_pct, n, None, None, None, need)
    index = n - t
    return EarlyStopping(p_pct, n, t, pooled.bounds_ns(index)[1] / NS_PER_MS, 100.0 * (index + 1) / n, need)


def hist_outliers(pooled: PooledHistogram, median_ms: float) -> int:
    """hyperfine's outlier count, |x - median| / (1.4826 * MAD) > 14.8, with every latency at its bucket's
    middle (bench/repeats.py has the exact rule)."""
    idx, cnt = pooled.hist.nonzero()
    lo, width = bucket_bounds(idx)
    mid_ms = (lo + (width - 1) / 2) / NS_PER_MS
    dev = np.abs(mid_ms - median_ms)
    order = np.argsort(dev, kind="stable")
    dev, cnt = dev[order], cnt[order]
    cum = np.cumsum(cnt)
    n = int(cum[-1])

    def at(rank0: int) -> float:
        return float(dev[int(np.searchsorted(cum, rank0, side="right"))])

    mad = at(n // 2) if n % 2 else (at(n // 2 - 1) + at(n // 2)) / 2.0
    if mad <= 0:
        return 0
    return int(cnt[dev / (1.4826 * mad) > 14.8].sum())


__all__ = ["PooledHistogram", "hist_early_stopping", "hist_latency_stats", "hist_outliers", "hist_percentile_ci"]
