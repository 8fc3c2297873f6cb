"""Latency units. The child times queries in integer nanoseconds (``time.perf_counter_ns``); everything a person
reads is milliseconds. The conversion happens here and nowhere else."""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence

NS_PER_MS = 1_000_000


def ns_to_ms(value_ns: int | float) -> float:
    """One latency: ns -> ms."""
    return value_ns / NS_PER_MS


def ms_list(values_ns: Iterable[int]) -> list[float]:
    """A (small) batch of latencies: ns -> ms."""
    return [v / NS_PER_MS for v in values_ns]


def sorted_ms(*chunks: Sequence[int] | array):
    """Every latency of ``chunks`` (ns; ``array('q')`` or int sequences), converted to ms and sorted ascending,
    as one float64 numpy array (8 bytes a latency: the only full copy the statistics need)."""
    import numpy as np

    parts = [np.asarray(c, dtype=np.int64) for c in chunks if len(c)]
    if not parts:
        return np.empty(0, dtype=np.float64)
    ns = np.concatenate(parts) if len(parts) > 1 else parts[0].copy()
    ns.sort(kind="stable")
    return ns / NS_PER_MS
