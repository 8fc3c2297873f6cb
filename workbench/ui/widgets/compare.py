"""Render two result entries side by side (rows from core/runs_compare.py)."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 100 else f"{v:,.1f}"
    return str(v)


def compare_table(a: dict[str, Any], b: dict[str, Any], *, title_a: str = "A", title_b: str = "B") -> Table:
    from workbench.core.runs_compare import compare_entries, measured

    t = Table(box=None, pad_edge=False, expand=False, show_edge=False)
    t.add_column("metric", style="bold", no_wrap=True)
    t.add_column(title_a + ("" if measured(a) else " [recorded]"), justify="right", no_wrap=True)
    t.add_column(title_b + ("" if measured(b) else " [recorded]"), justify="right", no_wrap=True)
    t.add_column("B/A", justify="right", no_wrap=True)
    for r in compare_entries(a, b):
        t.add_row(r.metric, _fmt(r.a), _fmt(r.b), f"{r.ratio:.2f}x" if r.ratio is not None else "")
    return t
