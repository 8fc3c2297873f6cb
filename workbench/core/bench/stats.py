"""Latency statistics exactly as trtexec defines them (shared/design/benchmark-definitions.md).

Source: NVIDIA/TensorRT ``samples/common/sampleReporting.cpp`` (release/10.16) and the TensorRT
"Command-Line Programs" page.

- percentile p: ``sorted[max(n - 1 - exclude, 0)]`` with ``exclude = floor((100 - p) * n / 100)``.
  trtexec computes ``exclude`` in float32 (``int((1 - p/100.f) * n)``), which for some n is one
  smaller (n = 100, p = 99 gives the max). We use exact integer/rational arithmetic instead
  (``fractions.Fraction``), so for latencies 1..100 ms p99 = 99 ms.
- median: middle value, mean of the two middle values for an even count.
- std: population standard deviation; CoV = std / mean * 100 %, with trtexec's warning threshold of
  2.5 % (TensorRT >= 10; 1.0 % in 8.6 and earlier).
- throughput = inferences / host wall time of the timed window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

COV_WARN_PCT = 2.5
DEFAULT_PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)


def _key(p: float) -> str:
    # 99.9 -> "p99_9"; 50 -> "p50"
    text = f"{p:g}".replace(".", "_")
    return f"p{text}"


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """trtexec percentile of ascending ``sorted_values`` (ms) at ``p`` in [0, 100].

    Raises:
        ValueError: empty input or p outside [0, 100].
    """
    return float(sorted_values[percentile_rank(len(sorted_values), p)])


def percentile_rank(n: int, p: float) -> int:
    """The 0-based rank in ascending order of trtexec's percentile ``p`` of ``n`` values (see the module doc).

    Raises:
        ValueError: n = 0 or p outside [0, 100].
    """
    if n == 0:
        raise ValueError("percentile of an empty run")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} outside [0, 100]")
    exclude = math.floor((Fraction(100) - Fraction(str(p))) * n / 100)
    return max(n - 1 - exclude, 0)


def median(sorted_values: Sequence[float]) -> float:
    n = len(sorted_values)
    if n == 0:
        raise ValueError("median of an empty run")
    mid = n // 2
    if n % 2:
        return float(sorted_values[mid])
    return (float(sorted_values[mid - 1]) + float(sorted_values[mid])) / 2.0


@dataclass(frozen=True)
class LatencyStats:
    """Summary of per-query latencies, all in milliseconds; ``cov_pct`` in percent."""

    count: int
    min: float
    max: float
    mean: float
    median: float
    std: float
    cov_pct: float
    percentiles: tuple[tuple[float, float], ...]  # ((p, value_ms), ...)

    def get(self, p: float) -> float:
        for q, v in self.percentiles:
            if q == p:
                return v
        raise KeyError(p)

    @property
    def unstable(self) -> bool:
        """True when the coefficient of variation exceeds trtexec's 2.5 % warning threshold."""
        return self.cov_pct > COV_WARN_PCT

    def to_dict(self) -> dict[str, float]:
        d = {k: v for k, v in asdict(self).items() if k not in ("percentiles", "count")}
        for p, v in self.percentiles:
            d[_key(p)] = v
        return d


def latency_stats(values_ms: Sequence[float], percentiles: Sequence[float] = DEFAULT_PERCENTILES) -> LatencyStats:
    """Compute :class:`LatencyStats` from per-query latencies in ms (any order).

    The median and p50 are both reported (they differ for even counts: p50 is an order statistic).

    Raises:
        ValueError: no values (an empty run has no statistics).
    """
    import numpy as np

    if len(values_ms) == 0:
        raise ValueError("no timed iterations: an empty run has no statistics")
    return latency_stats_sorted(np.sort(np.asarray(values_ms, dtype=np.float64)), percentiles)


def latency_stats_sorted(s: Any, percentiles: Sequence[float] = DEFAULT_PERCENTILES) -> LatencyStats:
    """:func:`latency_stats` of an ascending float64 numpy array of ms (no copy of it is made). Mean and
    variance use numpy's pairwise summation (relative error ~1e-16, far below any latency's resolution).

    Raises:
        ValueError: empty array.
    """
    import numpy as np

    n = len(s)
    if n == 0:
        raise ValueError("no timed iterations: an empty run has no statistics")
    mean = float(np.mean(s))
    std = math.sqrt(float(np.mean(np.square(s - mean))))
    cov = (std / mean * 100.0) if mean > 0 else 0.0
    ps = sorted({*DEFAULT_PERCENTILES, *map(float, percentiles)})
    return LatencyStats(
        count=n,
        min=float(s[0]),
        max=float(s[-1]),
        mean=mean,
        median=median(s),
        std=std,
        cov_pct=cov,
        percentiles=tuple((p, percentile(s, p)) for p in ps),
    )
