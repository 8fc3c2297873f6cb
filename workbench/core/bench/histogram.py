"""A high-dynamic-range latency histogram with a stated relative error, mergeable, in numpy.

Layout: HdrHistogram's log-linear buckets (Gil Tene, HdrHistogram; the index arithmetic of
``AbstractHistogram.countsArrayIndex`` / ``valueFromIndex`` in HdrHistogram/HdrHistogram, Java) with a unit of
1 ns and 3 significant decimal digits: ``sub_bucket_count = 2 ** ceil(log2(2 * 10**3)) = 2048``. A value ``v``
(integer ns) lands in bucket ``b = floor(log2(v | 2047)) - 10`` at sub-bucket ``v >> b``; every bucket holds
values ``[lo, lo + 2**b)`` with ``lo >= 1024 * 2**b``, so the bucket width is at most ``lo / 1024``.

Resolution stated in every result (``histogram_relative_error``): a figure read from the histogram is the middle
of its bucket, ``lo + (width - 1) / 2``; the true order statistic lies in ``[lo, lo + width - 1]``, so the figure
is within ``(width - 1) / 2 <= lo / 2048`` of it: relative error at most ``2 ** -11`` (0.049 %). Values below
2048 ns are kept exactly (width 1). The range is 0 ns .. ``MAX_TRACKABLE_NS`` (2048 * 2**35 ns, about 19.5 h);
a larger value is counted in the top bucket and in ``clamped`` (a latency of a day is a hang, not a figure).

Why not the ``hdrhistogram`` package: it has x86-64 wheels only; on a Jetson (aarch64, often offline) it would
have to compile a C extension. The scheme is small: numpy gives vectorised batch insertion (``np.bincount`` of a
batch of indices) and merging (adding count arrays); both are exact on counts.

Memory: ``COUNTS_LEN`` int64 counts (37 888, 296 KiB) whatever the number of values recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

SIGNIFICANT_DIGITS = 3
SUB_BUCKET_HALF_MAGNITUDE = 10  # log2(sub_bucket_count / 2): 2**ceil(log2(2 * 10**3)) = 2048 -> 1024 -> 10
SUB_BUCKET_COUNT = 2 << SUB_BUCKET_HALF_MAGNITUDE  # 2048
SUB_BUCKET_MASK = SUB_BUCKET_COUNT - 1
MAX_BUCKET = 35  # the highest bucket index: values up to 2048 * 2**35 ns - 1 (about 19.5 hours)
MAX_TRACKABLE_NS = (SUB_BUCKET_COUNT << MAX_BUCKET) - 1
COUNTS_LEN = (MAX_BUCKET + 2) << SUB_BUCKET_HALF_MAGNITUDE  # 37 888
RELATIVE_ERROR = 2.0 ** -(SUB_BUCKET_HALF_MAGNITUDE + 1)  # half a bucket / the bucket's lowest value (see above)
LAYOUT = "hdr-log-linear"  # the name written beside a serialised histogram
NS_PER_MS = 1_000_000


def counts_index(values_ns: np.ndarray) -> np.ndarray:
    """Bucket indices (int64) of non-negative integer ns values (clamped to ``[0, MAX_TRACKABLE_NS]``)."""
    v = np.clip(np.asarray(values_ns, dtype=np.int64), 0, MAX_TRACKABLE_NS)
    # floor(log2(v | 2047)) from the float exponent: exact, as every value here is below 2**53
    _, exp = np.frexp((v | SUB_BUCKET_MASK).astype(np.float64))
    bucket = exp.astype(np.int64) - 1 - SUB_BUCKET_HALF_MAGNITUDE
    return (bucket << SUB_BUCKET_HALF_MAGNITUDE) + (v >> bucket)


def bucket_bounds(index: int | np.ndarray) -> tuple[Any, Any]:
    """(lowest ns, width ns) of bucket ``index``: it holds the integers ``lo .. lo + width - 1``."""
    i = np.asarray(index, dtype=np.int64)
    bucket = np.maximum((i >> SUB_BUCKET_HALF_MAGNITUDE) - 1, 0)
    sub = np.where(i < SUB_BUCKET_COUNT, i, (i & ((1 << SUB_BUCKET_HALF_MAGNITUDE) - 1)) + (SUB_BUCKET_COUNT >> 1))
    lo = sub << bucket
    width = np.left_shift(np.int64(1), bucket)
    if np.ndim(index) == 0:
        return int(lo), int(width)
    return lo, width


class LatencyHistogram:
    """Counts of integer-ns latencies in HdrHistogram buckets (3 significant digits; see the module docstring).

    ``record_ns`` takes a batch (any int sequence, ns); ``merge`` adds another histogram (repeats, streams,
    hosts); order statistics are read by 0-based rank from the cumulative counts (:meth:`rank_bounds_ns`).
    """

    def __init__(self) -> None:
        self.counts = np.zeros(COUNTS_LEN, dtype=np.int64)
        self.counts.fill(0)  # touch every page now: later buckets do not grow the process while a run goes on
        self.total = 0
        self.clamped = 0  # values above MAX_TRACKABLE_NS, counted in the top bucket
        self._cum: np.ndarray | None = None

    def record_ns(self, values_ns: Sequence[int] | np.ndarray) -> None:
        """Count a batch of latencies (integer ns, >= 0; negative values count as 0)."""
        v = np.asarray(values_ns, dtype=np.int64)
        if v.size == 0:
            return
        self.clamped += int(np.count_nonzero(v > MAX_TRACKABLE_NS))
        idx = counts_index(v)
        binned = np.bincount(idx)
        self.counts[: binned.size] += binned
        self.total += int(v.size)
        self._cum = None

    def merge(self, other: LatencyHistogram) -> None:
        """Add ``other``'s counts to these (the histogram of the union of both samples, exactly)."""
        self.counts += other.counts
        self.total += other.total
        self.clamped += other.clamped
        self._cum = None

    @classmethod
    def merged(cls, parts: Iterable[LatencyHistogram]) -> LatencyHistogram:
        out = cls()
        for h in parts:
            out.merge(h)
        return out

    def _cumulative(self) -> np.ndarray:
        if self._cum is None:
            self._cum = np.cumsum(self.counts)
        return self._cum

    def rank_bounds_ns(self, rank0: int) -> tuple[int, int]:
        """(lowest, highest) integer ns the 0-based order statistic ``rank0`` can be: its bucket's bounds.

        Raises:
            IndexError: rank outside ``0 .. total - 1``.
        """
        if not 0 <= rank0 < self.total:
            raise IndexError(f"rank {rank0} outside 0..{self.total - 1}")
        i = int(np.searchsorted(self._cumulative(), rank0, side="right"))
        lo, width = bucket_bounds(i)
        return lo, lo + width - 1

    def rank_ms(self, rank0: int) -> float:
        """The 0-based order statistic ``rank0`` in ms: the middle of its bucket (within RELATIVE_ERROR of it)."""
        lo, hi = self.rank_bounds_ns(rank0)
        return (lo + hi) / 2 / NS_PER_MS

    def nonzero(self) -> tuple[np.ndarray, np.ndarray]:
        """(bucket indices, counts) of the non-empty buckets, ascending."""
        idx = np.flatnonzero(self.counts)
        return idx, self.counts[idx]

    def to_dict(self) -> dict[str, Any]:
        """A sparse JSON form: the layout, its resolution, and the non-empty buckets (index, count)."""
        idx, cnt = self.nonzero()
        return {
            "layout": LAYOUT,
            "significant_digits": SIGNIFICANT_DIGITS,
            "unit_ns": 1,
            "relative_error": RELATIVE_ERROR,
            "count": self.total,
            "clamped": self.clamped,
            "index": idx.tolist(),
            "counts": cnt.tolist(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LatencyHistogram:
        """Read :meth:`to_dict`'s form back (for merging histograms from other hosts).

        Raises:
            ValueError: another layout or precision, or indices/counts that do not fit.
        """
        if d.get("layout") != LAYOUT or d.get("significant_digits") != SIGNIFICANT_DIGITS or d.get("unit_ns") != 1:
            raise ValueError(
                f"histogram layout {d.get('layout')!r}/{d.get('significant_digits')!r} digits/unit "
                f"{d.get('unit_ns')!r} ns is not {LAYOUT}/{SIGNIFICANT_DIGITS}/1: cannot merge"
            )
        idx = np.asarray(d.get("index", []), dtype=np.int64)
        cnt = np.asarray(d.get("counts", []), dtype=np.int64)
        if idx.shape != cnt.shape or idx.ndim != 1 or (idx.size and (idx.min() < 0 or idx.max() >= COUNTS_LEN)):
            raise ValueError("histogram index/counts do not fit the layout")
        if cnt.size and cnt.min() < 0:
            raise ValueError("histogram counts must be >= 0")
        h = cls()
        np.add.at(h.counts, idx, cnt)
        h.total = int(cnt.sum())
        h.clamped = int(d.get("clamped", 0) or 0)
        return h


__all__ = [
    "COUNTS_LEN",
    "LatencyHistogram",
    "MAX_TRACKABLE_NS",
    "RELATIVE_ERROR",
    "SIGNIFICANT_DIGITS",
    "bucket_bounds",
    "counts_index",
]
