"""Seeded Poisson arrivals for the server scenario (MLPerf "Server": queries arrive at random at a target QPS).

Inter-arrival gaps are exponential with mean 1/qps (a Poisson process), drawn from Python's
``random.Random(seed)`` so the same seed gives the same schedule on any machine and the run can be
repeated exactly; the schedule is stored with the result.
"""

from __future__ import annotations

import random
from collections.abc import Iterator


def iter_poisson_arrivals(qps: float, count: int, seed: int = 0) -> Iterator[float]:
    """:func:`poisson_arrivals` one at a time: the same offsets, without a list as long as the run (an hour at
    10 000 QPS is 36 million of them, over 1 GB as a list).

    Raises:
        ValueError: qps <= 0 or count < 1 (when the first offset is asked for).
    """
    if qps <= 0:
        raise ValueError(f"qps must be > 0, got {qps}")
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    rng = random.Random(seed)
    t = 0.0
    for _ in range(count):
        t += rng.expovariate(qps)
        yield t


def poisson_arrivals(qps: float, count: int, seed: int = 0) -> list[float]:
    """Arrival offsets in seconds from the start of the window, ascending; ``count`` queries at ``qps``.

    Raises:
        ValueError: qps <= 0 or count < 1.
    """
    return list(iter_poisson_arrivals(qps, count, seed))
