"""The comparison `workbench fleet run` prints across hosts, and the figures each host's row carries.

:func:`host_summary` reads a stored result's typed fields into the plain figures ``HostRun.summary`` keeps (so the
``--json`` document and the TUI show the same numbers without reading the results database again);
:func:`comparison_lines` renders one row per host: status, device, p50 and p99 (ms) each with its 95 %
order-statistic interval (core/bench/confidence.py), inferences/s, mean power (W), energy (mJ/inference) and the
accuracy verdict. A failed or unreachable host keeps its row, with its error instead of figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from workbench.core.fleet.types import HostRun
from workbench.core.results.format import fmt_num
from workbench.core.textsafe import field

#: Column headings of the comparison, in order (units in the names).
HEADINGS = ("host", "status", "device", "p50 ms [95% CI]", "p99 ms [95% CI]", "inf/s", "W", "mJ/inf", "accuracy")


def host_summary(result: Any) -> dict[str, Any]:
    """The figures of one host's stored ``BenchmarkResult``: ``p50_ms``/``p99_ms`` (float | None) with
    ``p50_ci95_ms``/``p99_ci95_ms`` ([lo, hi], a side None where the sample count has no such order statistic; None
    without an interval), ``inferences_per_s``, ``mean_power_w`` and ``mj_per_inference`` (None without power
    telemetry), ``accuracy`` (the verdict, None without an accuracy check), ``result_id``."""
    lat = result.latency
    out: dict[str, Any] = {}
    for p, key in ((50.0, "p50"), (99.0, "p99")):
        est = lat.get(p)
        value = est.value_ms if est is not None else (lat.median_ms if p == 50.0 else None)
        out[f"{key}_ms"] = value
        out[f"{key}_ci95_ms"] = list(est.ci95_ms) if est is not None and est.ci95_ms is not None else None
    out["inferences_per_s"] = result.throughput.inferences_per_s
    tel = result.telemetry
    out["mean_power_w"] = tel.mean_power_w if tel is not None else None
    out["mj_per_inference"] = tel.mj_per_inference if tel is not None else None
    out["accuracy"] = result.accuracy.verdict if result.accuracy is not None else None
    out["result_id"] = result.stored_id
    return out


def _with_ci(value: Any, ci: Any) -> str:
    if value is None:
        return "-"
    text = fmt_num(value)
    if isinstance(ci, Sequence) and len(ci) == 2:
        lo, hi = ci
        text += f" [{fmt_num(lo) if lo is not None else '?'}, {fmt_num(hi) if hi is not None else '?'}]"
    return text


def row_cells(row: HostRun) -> list[str]:
    """The cells of one host's row (text, not yet escaped: ``cli/tables.table`` and the TUI's table escape)."""
    s: Mapping[str, Any] = row.summary or {}
    status = row.status + (" (collected)" if row.reused else "")
    if row.status != "ok":
        return [row.host, status, row.device or "-", *("-" for _ in HEADINGS[3:])]
    return [
        row.host,
        status,
        row.device or "-",
        _with_ci(s.get("p50_ms"), s.get("p50_ci95_ms")),
        _with_ci(s.get("p99_ms"), s.get("p99_ci95_ms")),
        fmt_num(s.get("inferences_per_s")),
        fmt_num(s.get("mean_power_w")),
        fmt_num(s.get("mj_per_inference")),
        str(s.get("accuracy") or "-"),
    ]


def comparison_lines(rows: Sequence[HostRun]) -> list[str]:
    """The comparison table (aligned, numbers right-aligned, every cell escaped with ``textsafe.field``) and under
    it one ``host: error`` line per host that did not finish."""
    cells = [list(HEADINGS)] + [row_cells(r) for r in rows]
    cells = [[field(c) for c in r] for r in cells]
    widths = [max(len(r[i]) for r in cells) for i in range(len(HEADINGS))]
    right = set(range(3, 8))
    lines = ["  ".join(c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(r)).rstrip()
             for r in cells]  # fmt: skip
    for r in rows:
        if r.status != "ok" and r.error:
            lines.append(f"{field(r.host)}: {r.status}: {field(r.error)}")
    return lines
