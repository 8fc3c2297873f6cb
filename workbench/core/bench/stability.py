"""``--until-stable``: decide, as latencies stream in, when a percentile's 95 % interval is narrow enough.

The watcher reads the latencies where the parent already keeps them (the outcomes' arrays); it holds no copy.
"""

from __future__ import annotations

from array import array

from workbench.core.bench.confidence import min_samples_two_sided, percentile_ci
from workbench.core.bench.stats import percentile
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
        self._arrays: list[array] = []

    def watch(self, latencies_ns: array) -> None:
        """Follow one run's latency array (ns) as the parent fills it."""
        self._arrays.append(latencies_ns)

    def batch_arrived(self) -> bool:
        """Called once per received batch; True once the target interval is narrow enough."""
        self.batches += 1
        if self.reached or self.batches % self.check_every:
            return False
        n = sum(len(a) for a in self._arrays)
        if n < min_samples_two_sided(self.target_p):
            return False
        s = sorted_ms(*self._arrays)
        ci = percentile_ci(s, self.target_p, percentile(s, self.target_p))
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
