"""Turn a child's BenchOutcome into the result entry every face prints and the results DB stores.

The entry's shape is the JSON contract of ``workbench bench --json`` (README, "JSON output"):
precision, latency_ms {min, mean, median, p50, p90, p95, p99, max, std, cov_pct}, throughput_ips,
iterations, batch, accuracy, backend, profile, artifact, warmup {...}, telemetry, ...
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from workbench.core.bench.confidence import early_stopping, percentile_ci
from workbench.core.bench.parent import BenchOutcome
from workbench.core.bench.stats import COV_WARN_PCT, LatencyStats, latency_stats
from workbench.core.errors import BenchmarkError

_NS_PER_MS = 1e6
MAX_STORED_LATENCIES = 20_000  # per-iteration latencies kept in the result (systematic subsample beyond)
STABLE_REL_HALF_WIDTH = 0.05  # a percentile is "trustworthy" when its 95 % interval is within +-5 % of it


def _ms(values_ns: Sequence[int]) -> list[float]:
    return [v / _NS_PER_MS for v in values_ns]


def build_entry(
    outcome: BenchOutcome,
    *,
    precision: str,
    batch: int,
    percentiles: Sequence[float],
    context: Mapping[str, Any],
) -> dict[str, Any]:
    """The result entry. ``context`` adds backend, profile, artifact, model, versions, settings, ...

    throughput_ips = queries x batch / host wall time of the timed window (inferences per second);
    throughput_qps = queries / wall time (trtexec's "Throughput" for explicit-batch engines).

    Raises:
        BenchmarkError: no timed iteration (an empty run has no statistics).
    """
    if not outcome.latencies_ns:
        raise BenchmarkError("the benchmark produced no timed iteration")
    values_ms = _ms(outcome.latencies_ns)
    stats = latency_stats(values_ms, percentiles)
    credibility = credibility_report(sorted(values_ms), stats)
    warnings: list[str] = []
    wall_s = outcome.wall_ns / 1e9
    # With N GPU streams each timed call runs N queries: throughput counts them all, and per-call
    # latency is then not a per-query latency (trtexec warns the same).
    qpc = max(1, outcome.queries_per_call)
    qps = outcome.iterations * qpc / wall_s if wall_s > 0 else None
    if qpc > 1:
        warnings.append(f"{qpc} concurrent streams: throughput is meaningful, per-query latency is not")
    if stats.unstable:
        warnings.append(
            f"latency is unstable: coefficient of variation {stats.cov_pct:.2f} % > {COV_WARN_PCT} % "
            "(close other programs, fix CPU frequency, or run longer)"
        )
    for note in credibility["notes"]:
        warnings.append(note)
    latency = stats.to_dict()
    latency["ci95"] = credibility["ci95"]
    stored = values_ms
    if len(values_ms) > MAX_STORED_LATENCIES:
        step = len(values_ms) / MAX_STORED_LATENCIES
        stored = [values_ms[int(i * step)] for i in range(MAX_STORED_LATENCIES)]
    entry: dict[str, Any] = {
        "precision": precision,
        "latency_ms": latency,
        "run_length": credibility["run_length"],
        "early_stopping": credibility["early_stopping"],
        "latencies_ms": stored,
        "latencies_subsampled": len(stored) < len(values_ms),
        "peak_rss_mb": outcome.peak_rss_mb,
        "timing_splits_ms": outcome.timing_splits,
        "queries_per_call": qpc,
        "stopped_by_parent": outcome.stopped_by_parent,
        "throughput_ips": qps * batch if qps is not None else None,
        "throughput_qps": qps,
        "iterations": outcome.iterations,
        "batch": batch,
        "wall_s": wall_s,
        "input_shapes": outcome.input_shapes,
        "inputs": outcome.input_source,
        "warmup": _warmup(outcome),
        "warnings": warnings,
        "measured": True,
    }
    entry.update(context)
    return entry


def _warmup(outcome: BenchOutcome) -> dict[str, Any]:
    w = outcome.warmup_latencies_ns
    d: dict[str, Any] = {"iterations": len(w), "duration_ms": outcome.warmup_duration_ns / _NS_PER_MS}
    if w:
        s = latency_stats(_ms(w))
        d["latency_ms"] = {"min": s.min, "mean": s.mean, "median": s.median, "max": s.max, "first": w[0] / _NS_PER_MS}
    return d


def credibility_report(sorted_ms: Sequence[float], stats: LatencyStats) -> dict[str, Any]:
    """95 % order-statistic intervals for every reported percentile, a run-length verdict for each, and
    the MLPerf early-stopping estimates for p90 and p99 (bench/confidence.py has the sources).

    ``ci95`` maps "p50", "p90", ... to [lo_ms, hi_ms] with None for an undefined side; ``run_length``
    maps them to {rel_half_width, long_enough, note}.
    """
    ci95: dict[str, list[float | None]] = {}
    run_length: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    for p, value in stats.percentiles:
        key = "p" + f"{p:g}".replace(".", "_")
        ci = percentile_ci(sorted_ms, p, value)
        ci95[key] = [ci.lo_ms, ci.hi_ms]
        rel = ci.rel_half_width
        note = ci.note()
        run_length[key] = {
            "rel_half_width": rel,
            "long_enough": rel is not None and rel <= STABLE_REL_HALF_WIDTH,
            "ranks": [ci.lo_rank, ci.hi_rank],
            "note": note,
        }
        if note and p in (99.0,):
            notes.append(note)
    es = {f"p{p:g}": early_stopping(sorted_ms, p).to_dict() for p in (90.0, 99.0)}
    return {"ci95": ci95, "run_length": run_length, "early_stopping": es, "notes": notes}
