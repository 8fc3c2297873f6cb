"""Energy over a benchmark window from sampled power or a cumulative energy counter.

Formula (design/benchmark-definitions.md "Ours in addition"; MLPerf power rules): energy = ∫ P dt over the
measured window only; mJ/inference = energy_mj / inferences; mean W = energy / window duration.

Power samples are integrated with the trapezoid rule after clipping to the window: the power at the window
edges is linearly interpolated between the two samples that bracket each edge. Where the samples do not reach
an edge, the nearest sample's value is held (and ``coverage`` < 1 says how much of the window had samples on both
sides). tegrastats' own running average is never an input here (it averages since tegrastats started).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class EnergyResult:
    """Energy over ``[t0_s, t1_s]``. ``energy_mj`` None with ``reason`` when it cannot be computed."""

    t0_s: float
    t1_s: float
    energy_mj: float | None
    mean_power_w: float | None
    peak_power_w: float | None
    samples: int  # power samples inside the window
    coverage: float  # fraction of the window bracketed by real samples (0..1)
    method: str  # "trapezoid" | "counter" | "none"
    reason: str | None = None

    @property
    def duration_s(self) -> float:
        return self.t1_s - self.t0_s

    def mj_per_inference(self, inferences: int) -> float | None:
        if self.energy_mj is None or inferences <= 0:
            return None
        return self.energy_mj / inferences


def _interp(p0: tuple[float, float], p1: tuple[float, float], t: float) -> float:
    (ta, va), (tb, vb) = p0, p1
    if tb == ta:
        return vb
    return va + (vb - va) * (t - ta) / (tb - ta)


def _clip_series(points: list[tuple[float, float]], t0: float, t1: float) -> tuple[list[tuple[float, float]], float]:
    """``points`` (sorted) restricted to [t0, t1] plus an edge point at t0 and t1; also the bracketed fraction.

    An edge with samples on both sides gets the linear interpolation; otherwise the nearest sample is held.
    """
    inside = [p for p in points if t0 < p[0] < t1]

    def edge(t: float) -> tuple[float, bool]:
        lo = [p for p in points if p[0] <= t]
        hi = [p for p in points if p[0] >= t]
        if lo and hi:
            return _interp(lo[-1], hi[0], t), True
        return (hi[0][1] if hi else lo[-1][1]), False

    v0, ok0 = edge(t0)
    v1, ok1 = edge(t1)
    out = [(t0, v0), *inside, (t1, v1)]
    # The bracketed part of the window runs from t0 (or the first real sample) to t1 (or the last one).
    lo_t = t0 if ok0 else min(max(points[0][0], t0), t1)
    hi_t = t1 if ok1 else max(min(points[-1][0], t1), t0)
    coverage = max(0.0, (hi_t - lo_t) / (t1 - t0))
    return out, coverage


def integrate_power(samples: Sequence[tuple[float, float | None]], t0_s: float, t1_s: float) -> EnergyResult:
    """Trapezoid energy of ``samples`` = ``[(t_s, power_mw | None), ...]`` over ``[t0_s, t1_s]``.

    Samples need not be sorted; ``None`` powers (missing readings) are skipped. mW × s = mJ.
    Returns ``energy_mj=None`` with a reason when there is no power sample or the window is empty.
    """
    if not t1_s > t0_s:
        return EnergyResult(t0_s, t1_s, None, None, None, 0, 0.0, "none", "empty benchmark window")
    pts = sorted((float(t), float(p)) for t, p in samples if p is not None)
    if not pts:
        return EnergyResult(t0_s, t1_s, None, None, None, 0, 0.0, "none", "no power samples")
    clipped, coverage = _clip_series(pts, t0_s, t1_s)
    energy = 0.0
    for (ta, va), (tb, vb) in zip(clipped[:-1], clipped[1:], strict=True):
        energy += (va + vb) * 0.5 * (tb - ta)
    n_inside = sum(1 for t, _ in pts if t0_s <= t <= t1_s)
    peak_mw = max(v for _, v in clipped)
    duration = t1_s - t0_s
    reason = None
    if coverage < 0.999:
        reason = f"power samples cover {coverage:.0%} of the window; edges held at the nearest sample"
    return EnergyResult(
        t0_s, t1_s, energy, energy / duration / 1000.0, peak_mw / 1000.0, n_inside, coverage, "trapezoid", reason
    )


def energy_from_counter(
    counter: Sequence[tuple[float, float | None]],
    t0_s: float,
    t1_s: float,
    power: Sequence[tuple[float, float | None]] = (),
) -> EnergyResult:
    """Energy from a cumulative counter ``[(t_s, energy_mj), ...]`` (NVML total energy, RAPL), interpolated at
    the window edges; needs samples on both sides of (or at) each edge, else falls back to
    :func:`integrate_power` over ``power``. Peak W comes from ``power`` samples when given."""
    pts = sorted((float(t), float(e)) for t, e in counter if e is not None)
    before = [p for p in pts if p[0] <= t0_s]
    after = [p for p in pts if p[0] >= t1_s]
    if not (t1_s > t0_s) or not before or not after:
        return integrate_power(power, t0_s, t1_s)

    def at(t: float) -> float:
        lo = max((p for p in pts if p[0] <= t), key=lambda p: p[0])
        hi = min((p for p in pts if p[0] >= t), key=lambda p: p[0])
        return _interp(lo, hi, t)

    e = at(t1_s) - at(t0_s)
    pw = integrate_power(power, t0_s, t1_s) if power else None
    peak = pw.peak_power_w if pw is not None else None
    n = sum(1 for t, _ in pts if t0_s <= t <= t1_s)
    return EnergyResult(t0_s, t1_s, e, e / (t1_s - t0_s) / 1000.0, peak, n, 1.0, "counter", None)
