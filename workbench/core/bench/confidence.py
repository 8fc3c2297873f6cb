"""How far to trust a percentile: distribution-free confidence intervals and MLPerf early stopping.

Facts from shared/design/benchmark-definitions.md ("Beyond trtexec"):

- The number of samples at or below the true q-quantile is Binomial(n, q). A two-sided 100(1-a) %
  interval is [X(l), X(u)] (1-based order statistics) with l = binom.ppf(a/2, n, q) and
  u = binom.ppf(1 - a/2, n, q) + 1. Not clipped: u > n means no upper bound, l < 1 no lower bound.
  (95 %: a p99 upper bound needs n >= 299, the two-sided interval n >= 368; n = 1,000 gives ranks
  983..997.)
- MLPerf early stopping (mlcommons/inference loadgen/early_stopping.cc): with confidence c = 0.99,
  for t queries over the target percentile find the smallest h with I_p(h, t + 1) <= 1 - c
  (regularized incomplete beta; I_p(h, t+1) = P[Binomial(h + t, p) >= h]); take the largest t with
  h(t) + t <= n, drop the t - 1 slowest queries and report the maximum of the rest. Minimum query
  counts: 64 for p90, 662 for p99.

Binomial tail sums are computed exactly in log space (math.lgamma), so no SciPy is needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache


def _log_pmf(k: int, n: int, q: float) -> float:
    if q <= 0.0:
        return 0.0 if k == 0 else -math.inf
    if q >= 1.0:
        return 0.0 if k == n else -math.inf
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(q) + (n - k) * math.log1p(-q)


def binom_cdf(k: int, n: int, q: float) -> float:
    """P[Binomial(n, q) <= k], summed in log space from the side with the smaller mass.

    Terms more than 40 standard deviations from the mean are below 1e-300 and skipped, so the cost
    is O(sqrt(n)) per call even for millions of samples.
    """
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    mean = n * q
    span = int(40 * math.sqrt(max(n * q * (1 - q), 1.0))) + 1
    if k < mean:
        start = max(0, int(mean) - span)
        return min(1.0, math.fsum(math.exp(_log_pmf(i, n, q)) for i in range(start, k + 1)))
    stop = min(n, int(mean) + span)
    return max(0.0, 1.0 - math.fsum(math.exp(_log_pmf(i, n, q)) for i in range(k + 1, stop + 1)))


def binom_ppf(prob: float, n: int, q: float) -> int:
    """Smallest k with P[Binomial(n, q) <= k] >= prob (SciPy's ``binom.ppf`` convention), by bisection."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) // 2
        if binom_cdf(mid, n, q) >= prob:
            hi = mid
        else:
            lo = mid + 1
    return lo


def order_stat_ranks(n: int, p_pct: float, confidence: float = 0.95) -> tuple[int | None, int | None]:
    """1-based ranks (l, u) of the two-sided distribution-free interval for the p-th percentile.

    None for a side that does not exist at this n (never clipped).
    """
    q = p_pct / 100.0
    a = 1.0 - confidence
    lo = binom_ppf(a / 2, n, q)
    hi = binom_ppf(1 - a / 2, n, q) + 1
    return (lo if lo >= 1 else None, hi if hi <= n else None)


def min_samples_upper(p_pct: float, confidence: float = 0.95) -> int:
    """Smallest n with a one-sided upper bound for the p-th percentile: q**n <= 1 - confidence."""
    q = p_pct / 100.0
    return math.ceil(math.log(1 - confidence) / math.log(q) - 1e-12)


def min_samples_two_sided(p_pct: float, confidence: float = 0.95) -> int:
    """Smallest n with both bounds of the two-sided interval (upper side: q**n <= (1 - confidence) / 2)."""
    q = p_pct / 100.0
    n = math.ceil(math.log((1 - confidence) / 2) / math.log(q) - 1e-12)
    while order_stat_ranks(n, p_pct, confidence)[0] is None:  # lower side (matters only for small p)
        n += 1
    return n


@dataclass(frozen=True)
class PercentileCI:
    """A 95 % interval (ms) for one percentile; ``lo_ms``/``hi_ms`` None where that side is undefined."""

    p: float
    value_ms: float
    lo_ms: float | None
    hi_ms: float | None
    lo_rank: int | None
    hi_rank: int | None
    n: int

    @property
    def rel_half_width(self) -> float | None:
        """Half the interval's width relative to the value; None without both bounds."""
        if self.lo_ms is None or self.hi_ms is None or self.value_ms <= 0:
            return None
        return (self.hi_ms - self.lo_ms) / 2 / self.value_ms

    def note(self) -> str | None:
        """Why a bound is missing, e.g. "p99: needs >= 299 samples for a 95 % upper bound; ran 187"."""
        if self.hi_ms is None:
            need_upper = min_samples_upper(self.p)
            if self.n < need_upper:
                return f"p{self.p:g}: needs >= {need_upper} samples for a 95 % upper bound; ran {self.n}"
            return f"p{self.p:g}: needs >= {min_samples_two_sided(self.p)} samples for a two-sided 95 % interval; ran {self.n}"
        if self.lo_ms is None:
            return f"p{self.p:g}: too few samples for a 95 % lower bound; ran {self.n}"
        return None


def percentile_ci(sorted_ms: Sequence[float], p: float, value_ms: float, confidence: float = 0.95) -> PercentileCI:
    n = len(sorted_ms)
    lo, hi = order_stat_ranks(n, p, confidence)
    return PercentileCI(
        p=p,
        value_ms=value_ms,
        lo_ms=float(sorted_ms[lo - 1]) if lo is not None else None,
        hi_ms=float(sorted_ms[hi - 1]) if hi is not None else None,
        lo_rank=lo,
        hi_rank=hi,
        n=n,
    )


@lru_cache(maxsize=4096)
def _early_h(t: int, p: float, c: float) -> int:
    """Smallest h with P[Binomial(h + t, p) >= h] <= 1 - c (I_p(h, t+1) <= 1 - c)."""
    # P[Bin(h+t, p) >= h] = 1 - cdf(h - 1; h + t, p) decreases in h; walk up from a normal estimate.
    target = 1 - c

    def tail(h: int) -> float:
        return 1.0 - binom_cdf(h - 1, h + t, p)

    # At h = p*t/(1-p) the binomial mean equals h and the tail is about 1/2 > 1 - c: a lower bracket.
    lo = max(1, int(p * t / (1 - p)))
    step = max(1, int(math.sqrt(t + 1) / (1 - p)))
    hi = lo + step
    while tail(hi) > target:
        lo, hi, step = hi, hi + 2 * step, 2 * step
    while lo < hi:
        mid = (lo + hi) // 2
        if tail(mid) <= target:
            hi = mid
        else:
            lo = mid + 1
    return lo


def early_stopping_min_queries(p_pct: float, confidence: float = 0.99) -> int:
    """MLPerf's minimum query count for a percentile target: h(t=1) + 1 (64 for p90, 662 for p99)."""
    return _early_h(1, p_pct / 100.0, confidence) + 1


@dataclass(frozen=True)
class EarlyStopping:
    """MLPerf early-stopping estimate: ``value_ms`` is reported in place of the percentile."""

    p: float
    n: int
    t: int | None
    value_ms: float | None
    effective_percentile: float | None
    min_queries: int

    def to_dict(self) -> dict:
        return {
            "target_percentile": self.p,
            "value_ms": self.value_ms,
            "effective_percentile": self.effective_percentile,
            "overlatency_queries_t": self.t,
            "min_queries": self.min_queries,
            "enough_queries": self.value_ms is not None,
        }


def early_stopping(sorted_ms: Sequence[float], p_pct: float, confidence: float = 0.99) -> EarlyStopping:
    """MLPerf SingleStream early-stopping estimate for ``p_pct`` from ascending latencies."""
    n = len(sorted_ms)
    t, need = early_stopping_t(n, p_pct, confidence)
    if t is None:
        return EarlyStopping(p_pct, n, None, None, None, need)
    index = n - t  # drop the t - 1 slowest, take the max of the rest: 0-based index n - t
    return EarlyStopping(p_pct, n, t, float(sorted_ms[index]), 100.0 * (index + 1) / n, need)


def early_stopping_t(n: int, p_pct: float, confidence: float = 0.99) -> tuple[int | None, int]:
    """(t, minimum query count) of MLPerf early stopping for ``n`` queries; t None below the minimum. The estimate
    is the 0-based order statistic ``n - t``."""
    q = p_pct / 100.0
    need = early_stopping_min_queries(p_pct, confidence)
    if n < need:
        return None, need
    # h(t) + t grows with t: binary search for the largest t with h(t) + t <= n.
    # h(t) >= p*t/(1-p), so h(t) + t <= n implies t <= n*(1-p): bracket t there.
    lo, hi = 1, max(1, min(n, int(n * (1 - q)) + 1))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _early_h(mid, q, confidence) + mid <= n:
            lo = mid
        else:
            hi = mid - 1
    return lo, need
