"""Side-by-side comparison of two stored result entries (the TUI's "compare runs"; usable by any face).

Ratios are B / A: for latencies < 1 means B is faster, for throughput > 1 means B is faster. Entries whose
``measured`` is False (replayed telemetry) are flagged: their power figures are not measurements.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CompareRow:
    metric: str  # label with unit, e.g. "p99 (ms)"
    a: float | str | None
    b: float | str | None
    ratio: float | None  # b / a for numbers, else None


# (label, dotted path in the entry). Latency statistics: bench/stats.py; telemetry: telemetry/recorder.py.
METRICS: tuple[tuple[str, str], ...] = (
    ("precision", "precision"),
    ("backend", "backend"),
    ("profile", "profile"),
    ("median (ms)", "latency_ms.median"),
    ("p90 (ms)", "latency_ms.p90"),
    ("p99 (ms)", "latency_ms.p99"),
    ("mean (ms)", "latency_ms.mean"),
    ("CoV (%)", "latency_ms.cov_pct"),
    ("throughput (inf/s)", "throughput_ips"),
    ("iterations", "iterations"),
    ("mean power (W)", "telemetry.mean_power_w"),
    ("energy (mJ/inf)", "telemetry.mj_per_inference"),
    ("max temp (°C)", "telemetry.temp_max_c"),
    ("accuracy", "accuracy.verdict"),
)


def _get(entry: dict[str, Any], dotted: str) -> Any:
    cur: Any = entry
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def compare_entries(a: dict[str, Any], b: dict[str, Any]) -> list[CompareRow]:
    """Rows for every metric either entry has. Numbers stay numbers (the face formats them)."""
    rows = []
    for label, path in METRICS:
        va, vb = _get(a, path), _get(b, path)
        if va is None and vb is None:
            continue
        ratio = None
        if isinstance(va, (int, float)) and isinstance(vb, (int, float)) and not isinstance(va, bool) and va:
            ratio = vb / va
        rows.append(CompareRow(label, va, vb, ratio))
    return rows


def measured(entry: dict[str, Any]) -> bool:
    if "measured" in entry:
        return bool(entry["measured"])
    return bool((entry.get("telemetry") or {}).get("measured", True))
