"""``--until-stable``: decide, as latencies stream in, when a percentile's 95 % interval is narrow enough.

The watcher reads the latencies where the parent already keeps them (the outcomes' streams, bench/stream.py); it
holds no copy of its own. While every latency is kept it sorts them (exact, as the result will be); past the exact
cap it reads the run's histogram (bench/hist_stats.py), so a check costs the same however long the run.
"""

from __future__ import annotations

from workbench.core.bench.confidence import min_samples_two_sided, percentile_ci
from workbench.core.bench.hist_stats import PooledHistogram, hist_percentile_ci
from workbench.core.bench.stats import percentile, percentile_rank
from workbench.core.bench.stream import LatencyStream, all_complete
from workbench.core.bench.units import sorted_ms
from workbench.core.results.result import LatencySummary, StabilityVerdict, percentile_key


class StabilityWatcher:
    """Re-checks at most every ``check_every_batches`` batches of samples (~0.5 s at the child's 50 ms flushes:
    sorting is O(n log n)); needs the minimum sample count for a two-sided interval first (368 for p99)."""

    def __init__(self, target_p: float, rel_width: float, check_every_batches: int = 10) -> None:
        self.target_p = target_p
        self.rel_width = rel_width
        self.check_every = check_every_batches
        self.batches = 0
        self.last_rel: float | None = None
        self.reached = False
        self._streams: list[LatencyStream] = []

    def watch(self, stream: LatencyStream) -> None:
        """Follow one run's latency stream as the parent fills it."""
        self._streams.append(stream)

    def batch_arrived(self) -> bool:
        """Called once per received batch; True once the target interval is narrow enough."""
        self.batches += 1
        if self.reached or self.batches % self.check_every:
            return False
        n = sum(st.count for st in self._streams)
        if n < min_samples_two_sided(self.target_p):
            return False
        if all_complete(self._streams):
            s = sorted_ms(*(st.raw for st in self._streams))
            ci = percentile_ci(s, self.target_p, percentile(s, self.target_p))
        else:
            h = PooledHistogram(self._streams)
            ci = hist_percentile_ci(h, self.target_p, h.order_ms(percentile_rank(h.n, self.target_p)))
        self.last_rel = ci.rel_half_width
        self.reached = self.last_rel is not None and self.last_rel <= self.rel_width
        return self.reached

    def verdict(self, latency: LatencySummary, iterations: int, max_duration_s: float) -> StabilityVerdict:
        """The verdict on the final statistics (the run's own interval, not the last check's)."""
        key = percentile_key(self.target_p)
        est = latency.get(self.target_p)
        final = est.rel_half_width if est is not None else None
        reached = final is not None and final <= self.rel_width
        msg = (
            f"stable: {key} 95 % interval within +-{self.rel_width * 100:g} % after {iterations} iterations"
            if reached
            else f"not stable: stopped at the {max_duration_s:g} s limit with {key}'s 95 % interval at "
            + (f"+-{final * 100:.1f} %" if final is not None else "undefined")
            + f" (asked +-{self.rel_width * 100:g} %)"
        )
        return StabilityVerdict(
            target=key,
            rel_width=self.rel_width,
            rel_half_width=final,
            interval_ms=est.ci95_ms if est is not None else None,
            reached=reached,
            max_duration_s=max_duration_s,
            message=msg,
        )
