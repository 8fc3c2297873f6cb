"""Render results as CSV, JSON or a Markdown table.

- ``json``: a list of the full entries (as stored, plus ``id`` and ``created_at``), indented, keys sorted.
- ``csv``: one row per entry with the flat columns in :data:`CSV_COLUMNS` (dotted names for nested fields, e.g.
  ``latency_ms.p99``, ``accuracy.vs_fp32.cosine_min``); floats written in full precision (``repr``), missing
  values empty.
- ``md``: a GitHub pipe table of the headline figures, numbers rounded for reading.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from typing import Any

from workbench.core.errors import UsageError
from workbench.core.results.format import fmt_num
from workbench.core.results.result import BenchmarkResult

FORMATS = ("csv", "json", "md")

LATENCY_KEYS = ("min", "mean", "median", "p50", "p90", "p95", "p99", "max", "std", "cov_pct")

CSV_COLUMNS = (
    "id", "created_at", "model", "model_sha256", "precision", "backend", "profile", "device", "measured",
    "batch", "iterations",
    *(f"latency_ms.{k}" for k in LATENCY_KEYS),
    "throughput_ips",
    "accuracy.top1", "accuracy.held_out", "accuracy.verdict",
    "accuracy.vs_fp32.cosine_min", "accuracy.vs_fp32.cosine_mean", "accuracy.vs_fp32.max_abs",
    "accuracy.vs_fp32.top1_agreement",
    "throughput_qps",
    "telemetry.source", "telemetry.measured", "telemetry.mean_power_w", "telemetry.peak_power_w",
    "telemetry.energy_mj", "telemetry.mj_per_inference", "telemetry.temp_max_c",
    "artifact", "artifact_bytes", "source", "label",
    "latency_ms.ci95.p50.lo", "latency_ms.ci95.p50.hi", "latency_ms.ci95.p99.lo", "latency_ms.ci95.p99.hi",
    "run_length.p99.rel_half_width", "run_length.p99.long_enough", "early_stopping.p99.value_ms",
    "scenario", "inferences_per_j", "peak_rss_mb",
    "host",  # the fleet inventory name the result was measured on ("" for this machine); last: columns never move
)  # fmt: skip


def _ci(r: BenchmarkResult, p: float, side: int) -> float | None:
    e = r.latency.get(p)
    return e.ci95_ms[side] if e is not None and e.ci95_ms is not None else None


def _acc(r: BenchmarkResult, get: Callable[[Any], Any]) -> Any:
    return get(r.accuracy) if r.accuracy is not None else None


def _tel(r: BenchmarkResult, get: Callable[[Any], Any]) -> Any:
    return get(r.telemetry) if r.telemetry is not None else None


# CSV column -> its value in a result (typed reads; the column names are the historic dotted JSON paths).
_CSV_GETTERS: dict[str, Callable[[BenchmarkResult], Any]] = {
    "id": lambda r: r.id,
    "created_at": lambda r: r.created_at,
    "model": lambda r: r.model.path,
    "model_sha256": lambda r: r.model.sha256,
    "precision": lambda r: r.precision,
    "backend": lambda r: r.backend,
    "profile": lambda r: r.profile,
    "device": lambda r: r.device,
    "measured": lambda r: "1" if r.measured else "0",
    "batch": lambda r: r.throughput.batch,
    "iterations": lambda r: r.throughput.iterations,
    **{f"latency_ms.{k}": (lambda r, k=k: r.latency.stat(k)) for k in LATENCY_KEYS},
    "throughput_ips": lambda r: r.throughput.inferences_per_s,
    "accuracy.top1": lambda r: _acc(r, lambda a: a.top1_other),
    "accuracy.held_out": lambda r: _acc(r, lambda a: a.held_out),
    "accuracy.verdict": lambda r: _acc(r, lambda a: a.verdict),
    "accuracy.vs_fp32.cosine_min": lambda r: _acc(r, lambda a: a.vs_fp32.cosine_min),
    "accuracy.vs_fp32.cosine_mean": lambda r: _acc(r, lambda a: a.vs_fp32.cosine_mean),
    "accuracy.vs_fp32.max_abs": lambda r: _acc(r, lambda a: a.vs_fp32.max_abs),
    "accuracy.vs_fp32.top1_agreement": lambda r: _acc(r, lambda a: a.vs_fp32.top1_agreement),
    "throughput_qps": lambda r: r.throughput.queries_per_s,
    "telemetry.source": lambda r: _tel(r, lambda t: t.source),
    "telemetry.measured": lambda r: _tel(r, lambda t: t.measured),
    "telemetry.mean_power_w": lambda r: _tel(r, lambda t: t.mean_power_w),
    "telemetry.peak_power_w": lambda r: _tel(r, lambda t: t.peak_power_w),
    "telemetry.energy_mj": lambda r: _tel(r, lambda t: t.energy_mj),
    "telemetry.mj_per_inference": lambda r: _tel(r, lambda t: t.mj_per_inference),
    "telemetry.temp_max_c": lambda r: _tel(r, lambda t: t.temp_max_c),
    "artifact": lambda r: r.artifact.path if r.artifact else None,
    "artifact_bytes": lambda r: r.artifact.bytes if r.artifact else None,
    "source": lambda r: r.source,
    "label": lambda r: r.label,
    "latency_ms.ci95.p50.lo": lambda r: _ci(r, 50.0, 0),
    "latency_ms.ci95.p50.hi": lambda r: _ci(r, 50.0, 1),
    "latency_ms.ci95.p99.lo": lambda r: _ci(r, 99.0, 0),
    "latency_ms.ci95.p99.hi": lambda r: _ci(r, 99.0, 1),
    "run_length.p99.rel_half_width": lambda r: e.rel_half_width if (e := r.latency.get(99.0)) else None,
    "run_length.p99.long_enough": lambda r: (
        e.long_enough if (e := r.latency.get(99.0)) is not None and e.has_run_length else None
    ),
    "early_stopping.p99.value_ms": lambda r: e.value_ms if (e := r.latency.early(99.0)) else None,
    "scenario": lambda r: r.scenario,
    "inferences_per_j": lambda r: r.inferences_per_j,
    "peak_rss_mb": lambda r: r.peak_rss_mb,
    "host": lambda r: r.host,
}
assert set(_CSV_GETTERS) == set(CSV_COLUMNS)


def _csv_value(r: BenchmarkResult, col: str) -> str:
    v = _CSV_GETTERS[col](r)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True)
    return str(v)


def to_csv(results: Sequence[BenchmarkResult]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in results:
        w.writerow([_csv_value(r, c) for c in CSV_COLUMNS])
    return buf.getvalue()


def to_json(results: Sequence[BenchmarkResult]) -> str:
    return json.dumps([r.to_dict() for r in results], indent=2, sort_keys=True) + "\n"


def _md_cell(v: Any) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


MD_HEADER = ("id", "created (UTC)", "model", "precision", "backend", "profile", "host", "device", "p50 ms", "p99 ms",
             "throughput/s", "top-1", "cosine min", "verdict", "measured")  # fmt: skip


def to_md(results: Sequence[BenchmarkResult]) -> str:
    lines = ["| " + " | ".join(MD_HEADER) + " |", "|" + "|".join("---" for _ in MD_HEADER) + "|"]
    for r in results:
        top1 = r.accuracy.top1_other if r.accuracy is not None else None
        row = (
            r.id if r.id is not None else "",
            r.created_at or "",
            r.model.path or "-",
            r.precision or "-",
            r.backend or "-",
            r.profile or "-",
            r.host or "-",  # a fleet host's inventory name; "-": this machine
            r.device or "-",
            fmt_num(r.latency.p50_ms),
            fmt_num(r.latency.p99_ms),
            fmt_num(r.throughput.inferences_per_s),
            "-" if top1 is None else f"{float(top1) * 100:.2f} %" if float(top1) <= 1 else f"{float(top1):.2f} %",
            fmt_num(r.accuracy.vs_fp32.cosine_min if r.accuracy is not None else None, unit_digits=4),
            (r.accuracy.verdict if r.accuracy is not None else None) or "-",
            "yes" if r.measured else "no",
        )
        lines.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
    return "\n".join(lines) + "\n"


def render(results: Sequence[BenchmarkResult], fmt: str) -> str:
    """Dispatch on ``fmt`` (``csv``/``json``/``md``). Raises UsageError for another format."""
    f = (fmt or "").lower()
    if f == "csv":
        return to_csv(results)
    if f == "json":
        return to_json(results)
    if f in ("md", "markdown"):
        return to_md(results)
    raise UsageError(
        f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}", hint="pass --format csv, json or md"
    )
