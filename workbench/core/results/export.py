"""Render result entries as CSV, JSON or a Markdown table.

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
from typing import Any

from workbench.core.errors import UsageError

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
)  # fmt: skip


def _get(entry: dict[str, Any], dotted: str) -> Any:
    cur: Any = entry
    for part in dotted.split("."):
        if isinstance(cur, list) and part in ("lo", "hi") and len(cur) == 2:  # a [lo, hi] interval
            cur = cur[0 if part == "lo" else 1]
            continue
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _name(v: Any) -> Any:
    return v.get("name") if isinstance(v, dict) else v


def _measured(entry: dict[str, Any]) -> bool:
    if "measured" in entry:
        return bool(entry["measured"])
    tel = entry.get("telemetry")
    return bool(tel.get("measured", True)) if isinstance(tel, dict) else True


def _csv_value(entry: dict[str, Any], col: str) -> str:
    if col == "measured":
        return "1" if _measured(entry) else "0"
    v = _get(entry, col)
    if col in ("model", "backend", "profile", "device"):
        v = _name(v)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True)
    return str(v)


def to_csv(entries: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for e in entries:
        w.writerow([_csv_value(e, c) for c in CSV_COLUMNS])
    return buf.getvalue()


def to_json(entries: list[dict[str, Any]]) -> str:
    return json.dumps(entries, indent=2, sort_keys=True) + "\n"


def fmt_num(v: Any, *, unit_digits: int = 3) -> str:
    """Readable number: ``-`` for missing, 3 decimals in 1..100, 4 significant digits below 1, 1 decimal above."""
    if v is None or isinstance(v, bool):
        return "-" if v is None else str(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if f == 0:
        return "0"
    if abs(f) >= 100:
        return f"{f:.1f}"
    if abs(f) >= 1:
        return f"{f:.{unit_digits}f}"
    return f"{f:.4g}"


def _md_cell(v: Any) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


MD_HEADER = ("id", "created (UTC)", "model", "precision", "backend", "profile", "p50 ms", "p99 ms",
             "throughput/s", "top-1", "cosine min", "verdict", "measured")  # fmt: skip


def to_md(entries: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(MD_HEADER) + " |", "|" + "|".join("---" for _ in MD_HEADER) + "|"]
    for e in entries:
        top1 = _get(e, "accuracy.top1")
        row = (
            e.get("id", ""),
            e.get("created_at", ""),
            _name(e.get("model")) or "-",
            e.get("precision") or "-",
            _name(e.get("backend")) or "-",
            _name(e.get("profile")) or "-",
            fmt_num(_get(e, "latency_ms.p50")),
            fmt_num(_get(e, "latency_ms.p99")),
            fmt_num(e.get("throughput_ips")),
            "-" if top1 is None else f"{float(top1) * 100:.2f} %" if float(top1) <= 1 else f"{float(top1):.2f} %",
            fmt_num(_get(e, "accuracy.vs_fp32.cosine_min"), unit_digits=4),
            _get(e, "accuracy.verdict") or "-",
            "yes" if _measured(e) else "no",
        )
        lines.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
    return "\n".join(lines) + "\n"


def render(entries: list[dict[str, Any]], fmt: str) -> str:
    """Dispatch on ``fmt`` (``csv``/``json``/``md``). Raises UsageError for another format."""
    f = (fmt or "").lower()
    if f == "csv":
        return to_csv(entries)
    if f == "json":
        return to_json(entries)
    if f in ("md", "markdown"):
        return to_md(entries)
    raise UsageError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
