"""MLPerf-style scenarios on top of the single benchmark run (shared/design/benchmark-definitions.md).

- single-stream: the next query when the previous completes (the default run; p90/p99 latency).
- offline: maximum throughput; a batch sweep 1, 2, 4, ... up to the model's / profile's max batch, reported
  in samples/s.
- server: seeded Poisson arrivals at an offered QPS, latency measured from the scheduled arrival (so queueing
  counts); ``find_max_qps`` searches the highest QPS whose p99 meets a bound.
- multi-stream: N samples per query (one batch-N query where the batch dim is dynamic); query latency is the
  latency of the whole query, i.e. of its slowest sample.

Each function gets ``bench(cfg_overrides=None, **extra) -> BenchmarkResult`` (core/workflow.py wires the real
benchmark), so the search logic is testable without running one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workbench.core.errors import UsageError
from workbench.core.results.result import BenchmarkResult, MultiStream

SCENARIOS = ("single-stream", "offline", "server", "multi-stream")

Bench = Callable[..., BenchmarkResult]


def dynamic_batch(job: Any) -> bool:
    """The model's batch can change (models/dims.py: the first non-scalar input leads with a symbol or an unknown;
    a state input batched on another axis does not make it fixed)."""
    from workbench.core.models.dims import batch_layout

    layout = batch_layout(job.model_info.inputs)
    return layout.lead is not None and layout.fixed is None


@dataclass(frozen=True)
class OfflineRow:
    """One batch of the offline sweep: samples (inferences) per second and the median latency of a batch (ms)."""

    batch: int
    samples_per_s: float | None
    median_ms: float | None


@dataclass(frozen=True)
class OfflineSweep:
    rows: tuple[OfflineRow, ...]
    best: OfflineRow
    results: tuple[BenchmarkResult, ...]

    def to_dict(self) -> dict[str, Any]:
        def row(r: OfflineRow) -> dict[str, Any]:
            return {"batch": r.batch, "samples_per_s": r.samples_per_s, "median_ms": r.median_ms}

        return {
            "scenario": "offline",
            "rows": [row(r) for r in self.rows],
            "best": row(self.best),
            "results": [r.to_dict(latencies=False) for r in self.results],
        }


def offline(job: Any, *, max_batch: int, bench: Bench) -> OfflineSweep:
    """Batch sweep 1, 2, 4, … ``max_batch``.

    Raises:
        UsageError: the model's batch dimension is fixed (offline then runs at that batch only: say so).
    """
    if not dynamic_batch(job):
        raise UsageError(
            f"{job.model_path.name} has a fixed batch dimension; the offline batch sweep needs a dynamic one",
            hint="re-export the model with a dynamic batch dim (from PyTorch: workbench export MODEL --dynamic-batch), "
            "or use --scenario single-stream",
        )
    batches = []
    b = 1
    while b <= max_batch:
        batches.append(b)
        b *= 2
    if batches[-1] != max_batch:
        batches.append(max_batch)
    rows = []
    results = []
    for b in batches:
        r = bench(cfg_overrides={"batch": b})
        results.append(r)
        rows.append(OfflineRow(b, r.throughput.inferences_per_s, r.latency.median_ms))
    best = max(rows, key=lambda r: r.samples_per_s or 0)
    return OfflineSweep(tuple(rows), best, tuple(results))


def server(*, qps: float, bench: Bench, queries: int | None = None) -> BenchmarkResult:
    """Raises UsageError for qps <= 0."""
    if qps <= 0:
        raise UsageError("--qps must be > 0 for the server scenario", hint="pass a positive rate, e.g. --qps 100")
    return bench(cfg_overrides={"scenario": "server", "qps": qps, "server_queries": queries})


@dataclass(frozen=True)
class QpsTry:
    qps: float
    p99_ms: float | None
    meets: bool
    median_ms: float | None


@dataclass(frozen=True)
class MaxQpsSearch:
    """The highest offered QPS whose p99 (from the scheduled arrival) met the bound (None if none did), every try,
    and the single-stream capacity the search started from."""

    max_qps: float | None
    tries: tuple[QpsTry, ...]
    p99_bound_ms: float
    single_stream_qps: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_qps": self.max_qps,
            "tries": [
                {"qps": t.qps, "p99_ms": t.p99_ms, "meets": t.meets, "median_ms": t.median_ms} for t in self.tries
            ],
            "p99_bound_ms": self.p99_bound_ms,
            "single_stream_qps": self.single_stream_qps,
        }


def find_max_qps(
    *,
    p99_bound_ms: float,
    bench: Bench,
    start_qps: float,
    queries_per_try: int = 2000,
    tries: int = 7,
    on_try: Callable[[float, float, bool], None] | None = None,
) -> MaxQpsSearch:
    """Bisect the offered QPS between 0 and ``start_qps`` (e.g. the single-stream throughput: one runner cannot
    serve more) for the highest one whose p99 is <= ``p99_bound_ms``."""
    lo, hi = 0.0, start_qps
    log = []
    best = None
    for _ in range(tries):
        qps = (lo + hi) / 2
        r = bench(cfg_overrides={"scenario": "server", "qps": qps, "server_queries": queries_per_try})
        p99 = r.latency.p99_ms
        meets = p99 is not None and p99 <= p99_bound_ms
        log.append(QpsTry(qps, p99, meets, r.latency.median_ms))
        if on_try:
            on_try(qps, p99 if p99 is not None else float("nan"), meets)
        if meets:
            best = qps if best is None else max(best, qps)
            lo = qps
        else:
            hi = qps
    return MaxQpsSearch(best, tuple(log), p99_bound_ms, start_qps)


def multi_stream(job: Any, *, samples_per_query: int, bench: Bench) -> BenchmarkResult:
    """Raises UsageError for a fixed batch dimension."""
    if not dynamic_batch(job):
        raise UsageError(
            f"{job.model_path.name} has a fixed batch dimension; multi-stream sends {samples_per_query} samples per query",
            hint="export the model with a dynamic batch, or use --scenario single-stream",
        )
    info = MultiStream(samples_per_query, "one batch-N query: its latency is that of its slowest sample")
    return bench(cfg_overrides={"batch": samples_per_query}, multi_stream=info)
