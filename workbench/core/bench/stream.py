"""What the parent keeps of one run's latencies, bounded however long the run: the first ``raw_cap`` latencies
exactly, a histogram of all of them, exact integer sums, and an order-preserving systematic sample.

Per timed query the parent used to keep 8 bytes (``array('q')``) for ever and sort a copy at the end, so an
hour of a 30 us model (120 million queries) needed about 2 GB for the array and as much again for the sort.
Now:

- ``raw``: the first ``raw_cap`` latencies (ns, run order; :data:`EXACT_CAP` = 1 000 000 by default, 8 MB).
  While every latency of a run is kept (``complete``), every statistic is computed from them exactly as before
  (bench/stats.py, bench/confidence.py): the figures are the same bytes.
- ``hist``: every latency in a :class:`~workbench.core.bench.histogram.LatencyHistogram` (HdrHistogram layout,
  3 significant digits, relative error <= 2**-11, 296 KiB). Past the cap, percentiles, their intervals and the
  early-stopping estimates are read from it (:mod:`workbench.core.bench.hist_stats`), and the result says so.
- ``count``, ``sum_ns``, ``sumsq_ns``, ``min_ns``, ``max_ns``: Python integers, so the mean, the population
  standard deviation, the minimum and the maximum stay exact at any length.
- ``sample``: every ``stride``-th latency in run order (positions 0, stride, 2 * stride, ...), at most
  ``2 * sample_size``; when it fills, every other one is dropped and the stride doubles. The result's kept
  latencies come from it past the cap (a systematic subsample, as before).

Memory: at most ``raw_cap`` x 8 B + 296 KiB + ``2 * sample_size`` x 8 B, whatever the run's length.
"""

from __future__ import annotations

import operator
from array import array
from collections.abc import Sequence

from workbench.core.bench.histogram import LatencyHistogram

EXACT_CAP = 1_000_000  # raw latencies kept per run (8 MB as int64): exact statistics up to here
SAMPLE_SIZE = 20_000  # order-preserving sample size (the result keeps at most 20 000 latencies: bench/result.py)


class LatencyStream:
    """One run's latencies as they stream in (integer ns from ``perf_counter_ns``); see the module docstring."""

    def __init__(self, raw_cap: int = EXACT_CAP, *, raw: array | None = None, sample_size: int = SAMPLE_SIZE) -> None:
        self.raw_cap = max(0, int(raw_cap))
        self.raw = raw if raw is not None else array("q")
        self.hist = LatencyHistogram()
        self.count = 0
        self.sum_ns = 0
        self.sumsq_ns = 0
        self.min_ns: int | None = None
        self.max_ns: int | None = None
        self.sample = array("q")
        self.stride = 1
        self._sample_size = max(1, sample_size)

    @classmethod
    def from_raw(cls, raw: array, raw_cap: int = EXACT_CAP) -> LatencyStream:
        """A stream whose ``raw`` is ``raw`` (already filled, kept as is even past ``raw_cap``)."""
        s = cls(max(raw_cap, len(raw)), raw=raw)
        s.account(raw)
        return s

    def add(self, batch_ns: Sequence[int]) -> None:
        """Take one batch of latencies (integer ns, run order)."""
        if not batch_ns:
            return
        room = self.raw_cap - len(self.raw)
        if room > 0:
            self.raw.extend(batch_ns if len(batch_ns) <= room else batch_ns[:room])
        self.account(batch_ns)

    def account(self, batch_ns: Sequence[int]) -> None:
        """Count a batch in the histogram, sums and sample without adding it to ``raw`` (already there, or past
        the cap)."""
        if not batch_ns:
            return
        self.hist.record_ns(batch_ns)
        self.sum_ns += sum(batch_ns)
        self.sumsq_ns += sum(map(operator.mul, batch_ns, batch_ns))
        lo, hi = min(batch_ns), max(batch_ns)
        self.min_ns = lo if self.min_ns is None else min(self.min_ns, lo)
        self.max_ns = hi if self.max_ns is None else max(self.max_ns, hi)
        # positions count .. count + len - 1; keep the multiples of stride
        first = (-self.count) % self.stride
        self.sample.extend(batch_ns[first :: self.stride])
        self.count += len(batch_ns)
        while len(self.sample) > 2 * self._sample_size:
            self.sample = self.sample[::2]
            self.stride *= 2

    @property
    def complete(self) -> bool:
        """Every latency of the run is in ``raw`` (exact statistics possible)."""
        return len(self.raw) == self.count


def all_complete(streams: Sequence[LatencyStream]) -> bool:
    return all(s.complete for s in streams)


__all__ = ["EXACT_CAP", "LatencyStream", "SAMPLE_SIZE", "all_complete"]
