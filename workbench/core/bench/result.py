"""Turn a child's BenchOutcome into the result entry every face prints and the results DB stores.

The entry's shape is the JSON contract of ``workbench bench --json`` (README, "JSON output"):
precision, latency_ms {min, mean, median, p50, p90, p95, p99, max, std, cov_pct}, throughput_ips,
iterations, batch, accuracy, backend, profile, artifact, warmup {...}, telemetry, ...
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from workbench.core.bench.parent import BenchOutcome
from workbench.core.bench.stats import COV_WARN_PCT, latency_stats
from workbench.core.errors import BenchmarkError

_NS_PER_MS = 1e6


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
    stats = latency_stats(_ms(outcome.latencies_ns), percentiles)
    wall_s = outcome.wall_ns / 1e9
    qps = outcome.iterations / wall_s if wall_s > 0 else None
    warnings: list[str] = []
    if stats.unstable:
        warnings.append(
            f"latency is unstable: coefficient of variation {stats.cov_pct:.2f} % > {COV_WARN_PCT} % "
            "(close other programs, fix CPU frequency, or run longer)"
        )
    entry: dict[str, Any] = {
        "precision": precision,
        "latency_ms": stats.to_dict(),
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
