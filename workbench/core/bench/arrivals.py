"""Seeded Poisson arrivals for the server scenario (MLPerf "Server": queries arrive at random at a target QPS).

Inter-arrival gaps are exponential with mean 1/qps (a Poisson process), drawn from Python's
``random.Random(seed)`` so the same seed gives the same schedule on any machine and the run can be
repeated exactly; the schedule is stored with the result.
"""

from __future__ import annotations

import random


def poisson_arrivals(qps: float, count: int, seed: int = 0) -> list[float]:
    """Arrival offsets in seconds from the start of the window, ascending; ``count`` queries at ``qps``.

    Raises:
        ValueError: qps <= 0 or count < 1.
    """
    if qps <= 0:
        raise ValueError(f"qps must be > 0, got {qps}")
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    rng = random.Random(seed)
    t = 0.0
    out = []
    for _ in range(count):
        t += rng.expovariate(qps)
        out.append(t)
    return out
