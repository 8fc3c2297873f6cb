"""What the parent keeps of one run's latencies, bounded however long the run: the first ``raw_cap`` latencies
exactly, a histogram of all of them, exact integer sums, and an order-preserving systematic sample.

Per timed query the parent used to keep 8 bytes (``array('q')``) for ever and sort a copy at the end, so an
hour of a 30 us model (120 million queries) needed about 2 GB for the array and as much again for the sort.
Now:

- ``raw``: the first ``raw_cap`` latencies (ns, run order; :data:`EXACT_CAP` = 1 000 000 by default, 8 MB).
  While every latency of a run is kept (``complete``), every statistic is computed from them exactly as before
  (bench/stats.py, bench/confidence.py): the figures are the same bytes. A benchmark's outcome reserves this
  buffer when it is created (:class:`RawBuffer`, every page touched), so the parent's memory does not grow while
  the run fills it: flat from the start of the timed window, not only past the cap.
- ``hist``: every latency in a :class:`~workbench.core.bench.histogram.LatencyHistogram` (HdrHistogram layout,
  3 significant digits, relative error <= 2**-11, 296 KiB). Past the cap, percentiles, their intervals and the
  early-stopping estimates are read from it (:mod:`workbench.core.bench.hist_stats`), and the result says so.
- ``count``, ``sum_ns``, ``sumsq_ns``, ``min_ns``, ``max_ns``: Python integers, so the mean, the population
  standard deviation, the minimum and the maximum stay exact at any length.
- a systematic sample (:meth:`LatencyStream.systematic_sample`): positions 0, stride, 2 * stride, ... of the run,
  at most ``2 * sample_size`` of them; the stride doubles as the run grows. Positions inside ``raw`` are read
  from it; only those past the cap are stored (``sample``). The result's kept latencies come from it past the
  cap (a systematic subsample, as before).

Memory: ``raw_cap`` x 8 B + 296 KiB + at most ``2 * sample_size`` x 8 B, whatever the run's length.
"""

from __future__ import annotations

import operator
from array import array
from collections.abc import Sequence

from workbench.core.bench.histogram import LatencyHistogram

EXACT_CAP = 1_000_000  # raw latencies kept per run (8 MB as int64): exact statistics up to here
SAMPLE_SIZE = 20_000  # order-preserving sample size (the result keeps at most 20 000 latencies: bench/result.py)


class RawBuffer:
    """A fixed-capacity buffer of int64 latencies (ns) that reads like the ``array('q')`` it replaces: ``len``,
    iteration (Python ints), indexing and slicing, ``extend``, and numpy's ``__array__`` (a view, no copy).

    The whole capacity is allocated and written once, when the buffer is made (``capacity`` x 8 bytes), so
    filling it later does not grow the process (no reallocation, no pages touched for the first time).

    Raises (``extend``): ValueError past the capacity.
    """

    def __init__(self, capacity: int) -> None:
        import numpy as np

        self._buf = np.empty(max(0, int(capacity)), dtype=np.int64)
        self._buf.fill(0)  # touch every page now (np.empty/np.zeros pages are mapped lazily)
        self._n = 0

    @property
    def capacity(self) -> int:
        return int(self._buf.shape[0])

    def __len__(self) -> int:
        return self._n

    def __array__(self, dtype=None, copy=None):
        view = self._buf[: self._n]
        return view if dtype is None else view.astype(dtype, copy=False)

    def __iter__(self):
        return iter(self._buf[: self._n].tolist())

    def __getitem__(self, index):
        got = self._buf[: self._n][index]
        return got.tolist() if isinstance(index, slice) else int(got)

    def extend(self, values: Sequence[int]) -> None:
        import numpy as np

        v = np.asarray(values, dtype=np.int64)
        end = self._n + v.shape[0]
        if end > self.capacity:
            raise ValueError(f"raw latency buffer full ({self.capacity})")
        self._buf[self._n : end] = v
        self._n = end

    def trim(self) -> None:
        """Give back the unused capacity (a run that ended below its cap): keep a right-sized copy."""
        if self._n < self.capacity:
            self._buf = self._buf[: self._n].copy()


class LatencyStream:
    """One run's latencies as they stream in (integer ns from ``perf_counter_ns``); see the module docstring.

    ``reserve``: keep ``raw`` in a :class:`RawBuffer` of ``raw_cap`` allocated now (what a benchmark does), else
    in a growing ``array('q')`` (``raw`` given: that sequence).
    """

    def __init__(
        self,
        raw_cap: int = EXACT_CAP,
        *,
        raw: array | RawBuffer | None = None,
        sample_size: int = SAMPLE_SIZE,
        reserve: bool = False,
    ) -> None:
        self.raw_cap = max(0, int(raw_cap))
        if raw is None:
            raw = RawBuffer(self.raw_cap) if reserve else array("q")
        self.raw = raw
        self.hist = LatencyHistogram()
        self.count = 0
        self.sum_ns = 0
        self.sumsq_ns = 0
        self.min_ns: int | None = None
        self.max_ns: int | None = None
        self.sample = array("q")  # the sampled positions past raw_cap: _sample_p0, + stride, ...
        self.stride = 1
        self._sample_p0 = 0
        self._sample_size = max(1, sample_size)

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
        # this batch is positions start .. count - 1; the sample stores the multiples of stride past raw_cap
        start = self.count
        self.count += len(batch_ns)
        first = max(start, self.raw_cap)
        first += (-first) % self.stride
        if first < self.count:
            if not self.sample:
                self._sample_p0 = first
            self.sample.extend(batch_ns[first - start :: self.stride])
        while self.count > 2 * self._sample_size * self.stride:
            self._halve()

    def _halve(self) -> None:
        """Double the stride: keep the stored positions that are multiples of the new one."""
        if self.sample:
            skip = (self._sample_p0 // self.stride) % 2  # 1: the first stored position is an odd multiple
            self.sample = self.sample[skip::2]
            self._sample_p0 += skip * self.stride
        self.stride *= 2

    def systematic_sample(self) -> list[int]:
        """Positions 0, stride, 2 * stride, ... of the run (ns, run order): from ``raw``, then the stored ones."""
        import numpy as np

        head = np.asarray(self.raw, dtype=np.int64)[: self.raw_cap : self.stride].tolist()
        return head + self.sample.tolist()

    @property
    def complete(self) -> bool:
        """Every latency of the run is in ``raw`` (exact statistics possible)."""
        return len(self.raw) == self.count


def all_complete(streams: Sequence[LatencyStream]) -> bool:
    return all(s.complete for s in streams)


__all__ = ["EXACT_CAP", "LatencyStream", "RawBuffer", "SAMPLE_SIZE", "all_complete"]
