"""A bounded time series of a benchmark's latency: p50, p99 and throughput per interval, for the plots and the
thermal story beside the power and temperature samples (however long the run).

Each point summarises the latencies of the batches the child sent during one ``interval_s`` window (a batch
counts in the window its ``sent_monotonic_s`` falls in; batches leave the child about every 50 ms): its query
count, queries per second (count / ``interval_s``; the run's last, partial window: count / the part of it the run
lasted), and the trtexec p50 and p99 (bench/stats.py) of exactly those
latencies. Times ``t_s`` are the window's start in seconds since the first timed window began, on
``time.monotonic`` (CLOCK_MONOTONIC, the telemetry Recorder's clock).

Bounded: at most ``max_points`` points. When full, every other point is dropped and the spacing ``every_s``
doubles: the series stays a systematic sample of whole windows (each point is still exactly one
``interval_s`` window), so an hour at 1 s windows and 1 800 points keeps one window every 2 s. Memory: the
current window's batches (references to the decoded lists) plus five numbers a point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from workbench.core.bench.stats import percentile_rank
from workbench.core.results.result import LatencySeries as ResultSeries

MAX_POINTS = 1800
INTERVAL_S = 1.0
METHOD = "per window: the latencies of the batches sent in it; p50/p99 exact (trtexec) over them"


@dataclass(frozen=True)
class SeriesPoint:
    t_s: float
    queries: int
    qps: float
    p50_ms: float
    p99_ms: float


class LatencySeries:
    """Feed it every ``Samples`` batch (:meth:`add`) and close it at the end (:meth:`finish`)."""

    def __init__(self, interval_s: float = INTERVAL_S, max_points: int = MAX_POINTS) -> None:
        self.interval_s = float(interval_s)
        self.max_points = max(2, int(max_points))
        self.every = 1  # windows between kept points
        self.points: list[SeriesPoint] = []
        self._t0: float | None = None
        self._window: int | None = None  # index of the window being filled
        self._batches: list[Sequence[int]] = []

    def start(self, monotonic_s: float) -> None:
        """The first timed window's start (TimedStart); later starts (repeats) keep the first origin."""
        if self._t0 is None:
            self._t0 = monotonic_s

    def add(self, latencies_ns: Sequence[int], sent_monotonic_s: float | None) -> None:
        """One batch of latencies (ns) and when the child sent it (None in old event lines: ignored)."""
        if self._t0 is None or sent_monotonic_s is None or not latencies_ns:
            return
        w = max(0, int((sent_monotonic_s - self._t0) // self.interval_s))
        if self._window is not None and w != self._window:
            self._close()
        self._window = w
        self._batches.append(latencies_ns)

    def finish(self, end_monotonic_s: float | None = None) -> None:
        """Close the window being filled at the end of the run (``end_monotonic_s``: the last TimedEnd). The last
        window usually ends early: its ``qps`` is its count over the part of the window the run lasted, not over a
        whole ``interval_s`` (which showed a false drop at the end)."""
        if self._window is not None:
            span = None
            if end_monotonic_s is not None and self._t0 is not None:
                span = end_monotonic_s - (self._t0 + self._window * self.interval_s)
            self._close(span if span is not None and 0 < span < self.interval_s else None)
        self._window = None

    def _close(self, span_s: float | None = None) -> None:
        import numpy as np

        w, batches = self._window, self._batches
        self._batches = []
        if w is None or not batches or w % self.every:
            return  # a window between kept points (the series is a systematic sample once it has filled)
        ns = np.sort(np.concatenate([np.asarray(b, dtype=np.int64) for b in batches]))
        n = len(ns)
        self.points.append(
            SeriesPoint(
                t_s=w * self.interval_s,
                queries=n,
                qps=n / (span_s or self.interval_s),
                p50_ms=float(ns[percentile_rank(n, 50.0)]) / 1e6,
                p99_ms=float(ns[percentile_rank(n, 99.0)]) / 1e6,
            )
        )
        while len(self.points) > self.max_points:
            self.every *= 2
            self.points = [p for p in self.points if round(p.t_s / self.interval_s) % self.every == 0]

    def result(self) -> ResultSeries:
        """The typed result part (JSON ``latency_series``: columns, one value per point)."""
        pts = self.points
        return ResultSeries(
            interval_s=self.interval_s,
            every_s=self.interval_s * self.every,
            method=METHOD,
            t_s=tuple(p.t_s for p in pts),
            queries=tuple(p.queries for p in pts),
            qps=tuple(p.qps for p in pts),
            p50_ms=tuple(p.p50_ms for p in pts),
            p99_ms=tuple(p.p99_ms for p in pts),
        )


__all__ = ["INTERVAL_S", "LatencySeries", "MAX_POINTS", "SeriesPoint"]
