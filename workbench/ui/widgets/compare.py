"""Render a core comparison (core/results/compare.py: metric rows, settings that differ, the ratio-of-medians
verdict with its bootstrap interval) as a Rich table — the same engine and the same verdict as
`workbench results compare`."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from workbench.core.results.compare import Comparison, column_heads, compare, verdict_lines
from workbench.core.results.result import BenchmarkResult


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 100 else f"{v:,.1f}"
    s = str(v)
    return s.rsplit("/", 1)[-1] if "/" in s and len(s) > 32 else s


# Figures from power telemetry: no B/A ratio unless both sides are measurements of this machine.
POWER_ROWS = frozenset({"mean power W", "peak power W", "energy mJ/inf", "max temp °C"})
# Rows the TUI leaves out: the two timestamps do not fit beside each other at 80 columns (the detail view has them).
SKIP_ROWS = frozenset({"created (UTC)"})


def comparison_view(doc: Comparison, titles: tuple[str, str]) -> Group:
    """Table A | B | B/A (numbers), the differing settings, then the verdict lines of `workbench results compare`
    (core/results/compare.py ``verdict_lines``: significance, contention, drift). Column titles are the core's
    ``column_heads``: a result that is not a measurement of this machine says what it is ([replayed], [recorded],
    [imported])."""
    t = Table(box=None, pad_edge=False, expand=False, show_edge=False)
    t.add_column("metric", style="bold", no_wrap=True)
    for head in column_heads(doc, titles):
        t.add_column(escape(head), justify="right", no_wrap=True)
    t.add_column("B/A", justify="right", no_wrap=True)
    for r in doc.rows:
        if r.metric in SKIP_ROWS:
            continue
        a, b = r.values[0], r.values[1]
        ratio = ""
        both_measured = all(doc.measurements or (True, True))
        if r.metric in POWER_ROWS and not both_measured:
            ratio = "n/a (not measured)"
        elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and a:
            ratio = f"{b / a:.2f}x"
        t.add_row(r.metric, _fmt(a), _fmt(b), ratio)
    for d in doc.differing_settings:
        t.add_row(f"≠ {d.setting}", _fmt(d.values[0]), _fmt(d.values[1]), "", style="dim")
    parts: list[Any] = [t]
    rv = doc.ratio_of_medians
    text = Text()
    for line in verdict_lines(doc):
        if text:
            text.append("\n")
        if line.startswith("Verdict: "):
            text.append("Verdict: ", style="bold")
            text.append(line[len("Verdict: ") :], style="bold green" if rv is not None and rv.significant else "")
        else:
            text.append(line, style="dim")
    if text:
        parts.append(text)
    return Group(*parts)


def compare_view(a: BenchmarkResult, b: BenchmarkResult, *, title_a: str = "A", title_b: str = "B") -> Group:
    """Two results side by side with the verdict on their medians (A is the reference)."""
    return comparison_view(compare([a, b]), (title_a, title_b))
