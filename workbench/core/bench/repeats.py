"""Several independent benchmark processes of one artifact, pooled (``--repeat K``).

Each repeat is its own child process with its own warm-up, so what the per-run medians spread over is the
run-to-run variation that a single run's interval cannot see.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from workbench.core.bench.hist_stats import PooledHistogram, hist_outliers
from workbench.core.bench.parent import BenchOutcome
from workbench.core.bench.stats import median
from workbench.core.bench.stream import all_complete
from workbench.core.bench.units import sorted_ms
from workbench.core.results.result import RepeatReport


@dataclass(frozen=True)
class PooledRun:
    """What K outcomes add up to (latencies stay in the outcomes: they are never copied into one array here).

    Counts and wall times are summed; warm-up, inputs and the start come from the first run, the end and the
    per-layer profile from the last; ``peak_rss_mb`` is the largest; ``queries_per_call`` the first run's."""

    iterations: int
    wall_ns: int
    batches_received: int
    batches_lost: int
    peak_rss_mb: float | None
    stopped_by_parent: bool
    queries_per_call: int
    first: BenchOutcome
    last: BenchOutcome


def pool(outcomes: Sequence[BenchOutcome]) -> PooledRun:
    """Raises ValueError for no outcome."""
    if not outcomes:
        raise ValueError("no benchmark outcome to pool")
    return PooledRun(
        iterations=sum(o.iterations for o in outcomes),
        wall_ns=sum(o.wall_ns for o in outcomes),
        batches_received=sum(o.batches_received for o in outcomes),
        batches_lost=sum(o.batches_lost for o in outcomes),
        peak_rss_mb=max((o.peak_rss_mb for o in outcomes if o.peak_rss_mb is not None), default=None),
        stopped_by_parent=any(o.stopped_by_parent for o in outcomes),
        queries_per_call=max(1, outcomes[0].queries_per_call),
        first=outcomes[0],
        last=outcomes[-1],
    )


def repeat_report(outcomes: Sequence[BenchOutcome], pooled_sorted_ms=None) -> RepeatReport:
    """Per-run medians of independent processes and pyperf's warnings (pyperf docs, "Analyze results").

    Warnings: std >= 10 % of the mean; min or max >= 50 % away from the mean; the processes needed for
    a < 1 % error, ceil(4 * 1.96^2 * CV^2 / 0.01^2), exceed those run. Outliers among all pooled latencies
    by hyperfine's rule: |x - median| / (1.4826 * MAD) > 14.8. ``pooled_sorted_ms``: every latency of the
    outcomes, ascending, in ms (computed here when not given), or their :class:`PooledHistogram` when the runs
    were longer than the exact cap (bench/stream.py): medians and outliers are then read from the histograms,
    within their resolution (bench/hist_stats.py).
    """
    import numpy as np

    if isinstance(pooled_sorted_ms, PooledHistogram) or not all_complete([o.stream for o in outcomes]):
        return _report(
            [PooledHistogram([o.stream]).median_ms() for o in outcomes],
            pooled_sorted_ms
            if isinstance(pooled_sorted_ms, PooledHistogram)
            else PooledHistogram([o.stream for o in outcomes]),
        )
    medians = [median(sorted_ms(o.latencies_ns)) for o in outcomes]
    pooled = pooled_sorted_ms if pooled_sorted_ms is not None else sorted_ms(*(o.latencies_ns for o in outcomes))
    med = median(pooled)
    dev = np.sort(np.abs(pooled - med))
    mad = median(dev)
    outliers = int(np.count_nonzero(dev / (1.4826 * mad) > 14.8)) if mad > 0 else 0
    return _report(medians, None, outliers, len(pooled))


def _report(medians: list[float], hist: PooledHistogram | None, outliers: int = 0, n: int = 0) -> RepeatReport:
    """The report of the per-run ``medians``; outliers counted in ``hist`` when given (else ``outliers`` of n)."""
    if hist is not None:
        outliers, n = hist_outliers(hist, hist.median_ms()), hist.n
    mean = statistics.fmean(medians)
    std = statistics.pstdev(medians)
    cv = std / mean if mean > 0 else 0.0
    needed = math.ceil(4 * 1.96**2 * cv**2 / 0.01**2) if cv > 0 else 1
    warnings = []
    if std >= 0.10 * mean:
        warnings.append(f"the per-run medians vary a lot: std {std:.4f} ms is {cv * 100:.1f} % of the mean (>= 10 %)")
    if min(medians) <= 0.5 * mean or max(medians) >= 1.5 * mean:
        warnings.append("the minimum or maximum per-run median is at least 50 % away from the mean")
    if needed > len(medians):
        warnings.append(f"{needed} runs are needed for an error below 1 % (ran {len(medians)})")
    return RepeatReport(
        runs=len(medians),
        medians_ms=tuple(medians),
        mean_of_medians_ms=mean,
        std_of_medians_ms=std,
        cv_pct=cv * 100,
        runs_needed_for_1pct_error=needed,
        outliers=outliers,
        outlier_pct=100.0 * outliers / n if n else 0.0,
        warnings=tuple(warnings),
    )
