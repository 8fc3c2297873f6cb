"""MLPerf-style scenarios on top of the single benchmark run (shared/design/benchmark-definitions.md).

- single-stream: the next query when the previous completes (the default run; p90/p99 latency).
- offline: maximum throughput; a batch sweep 1, 2, 4, ... up to the model's / profile's max batch, reported
  in samples/s.
- server: seeded Poisson arrivals at an offered QPS, latency measured from the scheduled arrival (so queueing
  counts); ``find_max_qps`` searches the highest QPS whose p99 meets a bound.
- multi-stream: N samples per query (one batch-N query where the batch dim is dynamic); query latency is the
  latency of the whole query, i.e. of its slowest sample.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workbench.core.errors import UsageError

SCENARIOS = ("single-stream", "offline", "server", "multi-stream")


def _dynamic_batch(ctx) -> bool:
    return all(not isinstance(i.shape[0], int) or i.shape[0] <= 0 for i in ctx.model_info.inputs if i.shape)


def offline(ctx, artifact, *, max_batch: int, bench: Callable[..., dict]) -> dict[str, Any]:
    """Batch sweep; returns {"rows": [{batch, samples_per_s, median_ms}], "best": row}.

    Raises:
        UsageError: the model's batch dimension is fixed (offline then runs at that batch only: say so).
    """
    if not _dynamic_batch(ctx):
        raise UsageError(
            f"{ctx.model_path.name} has a fixed batch dimension; the offline batch sweep needs a dynamic one",
            hint="export the model with a dynamic batch (workbench export --dynamic-batch) or use --scenario single-stream",
        )
    batches = []
    b = 1
    while b <= max_batch:
        batches.append(b)
        b *= 2
    if batches[-1] != max_batch:
        batches.append(max_batch)
    rows = []
    entries = []
    for b in batches:
        e = bench(cfg_overrides={"batch": b})
        entries.append(e)
        rows.append({"batch": b, "samples_per_s": e["throughput_ips"], "median_ms": e["latency_ms"]["median"]})
    best = max(rows, key=lambda r: r["samples_per_s"] or 0)
    return {"rows": rows, "best": best, "entries": entries}


def server(ctx, artifact, *, qps: float, bench: Callable[..., dict], queries: int | None = None) -> dict:
    if qps <= 0:
        raise UsageError("--qps must be > 0 for the server scenario")
    return bench(cfg_overrides={"scenario": "server", "qps": qps, "server_queries": queries})


def find_max_qps(
    ctx,
    artifact,
    *,
    p99_bound_ms: float,
    bench: Callable[..., dict],
    start_qps: float,
    queries_per_try: int = 2000,
    tries: int = 7,
    on_try: Callable[[float, float, bool], None] | None = None,
) -> dict[str, Any]:
    """Bisect the offered QPS: the highest one whose p99 (from the scheduled arrival) is <= ``p99_bound_ms``.

    ``start_qps`` is the upper end (e.g. the single-stream throughput: one runner cannot serve more).
    Returns {"max_qps": float | None, "tries": [{qps, p99_ms, meets}], "p99_bound_ms": ...}.
    """
    lo, hi = 0.0, start_qps
    log = []
    best = None
    for _ in range(tries):
        qps = (lo + hi) / 2
        e = bench(cfg_overrides={"scenario": "server", "qps": qps, "server_queries": queries_per_try})
        p99 = e["latency_ms"]["p99"]
        meets = p99 <= p99_bound_ms
        log.append({"qps": qps, "p99_ms": p99, "meets": meets, "median_ms": e["latency_ms"]["median"]})
        if on_try:
            on_try(qps, p99, meets)
        if meets:
            best = qps if best is None else max(best, qps)
            lo = qps
        else:
            hi = qps
    return {"max_qps": best, "tries": log, "p99_bound_ms": p99_bound_ms}


def multi_stream(ctx, artifact, *, samples_per_query: int, bench: Callable[..., dict]) -> dict:
    if not _dynamic_batch(ctx):
        raise UsageError(
            f"{ctx.model_path.name} has a fixed batch dimension; multi-stream sends {samples_per_query} samples per query",
            hint="export the model with a dynamic batch, or use --scenario single-stream",
        )
    e = bench(cfg_overrides={"batch": samples_per_query})
    e["multi_stream"] = {
        "samples_per_query": samples_per_query,
        "query_latency": "one batch-N query: its latency is that of its slowest sample",
    }
    return e
