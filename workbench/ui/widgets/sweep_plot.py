"""Latency vs power of a power-mode sweep: a character scatter of p99 (ms, up) against mean power (W, right).

One mark per mode whose row is a measurement (status "ok", ``measured`` true, p99 and mean W present); replayed
or unmeasured rows are never plotted. The mark is the mode id (0-9) or a letter, listed in the legend line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.widget import Widget

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_LABEL_W = 8  # y-axis label column: "12.3 ms" + the axis character


@dataclass(frozen=True)
class PlotPoint:
    mark: str
    name: str
    power_w: float
    p99_ms: float


def plot_points(rows: Sequence[object]) -> list[PlotPoint]:
    """Plottable points of SweepRow-like rows: measured, ok, with p99_ms and mean_power_w (see module doc)."""
    out: list[PlotPoint] = []
    for k, r in enumerate(rows):
        if getattr(r, "status", None) != "ok" or not getattr(r, "measured", False):
            continue
        p99, watts = getattr(r, "p99_ms", None), getattr(r, "mean_power_w", None)
        if p99 is None or watts is None:
            continue
        mode_id = getattr(r, "mode_id", None)
        mark = str(mode_id) if isinstance(mode_id, int) and 0 <= mode_id <= 9 else _LETTERS[k % len(_LETTERS)]
        out.append(PlotPoint(mark, str(getattr(r, "mode", "?")), float(watts), float(p99)))
    return out


def _fmt(v: float) -> str:
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def _span(lo: float, hi: float) -> tuple[float, float]:
    """A range with 5 % padding each side; a single value gets ±10 % (±1 when it is 0)."""
    if hi - lo <= 0:
        pad = abs(lo) * 0.1 or 1.0
        return lo - pad, hi + pad
    pad = (hi - lo) * 0.05
    return lo - pad, hi + pad


def scatter_lines(points: Sequence[PlotPoint], width: int, height: int) -> list[str]:
    """The plot as ``height`` lines of at most ``width`` characters: rows of the grid (top = highest p99) with
    the y labels, the x axis, then the x labels. Two modes in one cell show ``+``. Needs height >= 3."""
    cols = max(width - _LABEL_W, 4)
    rows = max(height - 2, 1)
    x0, x1 = _span(min(p.power_w for p in points), max(p.power_w for p in points))
    y0, y1 = _span(min(p.p99_ms for p in points), max(p.p99_ms for p in points))
    grid = [[" "] * cols for _ in range(rows)]
    for p in points:
        c = round((p.power_w - x0) / (x1 - x0) * (cols - 1))
        r = rows - 1 - round((p.p99_ms - y0) / (y1 - y0) * (rows - 1))
        grid[r][c] = p.mark if grid[r][c] == " " else "+"
    lines = []
    for r in range(rows):
        if r == 0:
            label = f"{_fmt(y1)}ms"
        elif r == rows - 1:
            label = f"{_fmt(y0)}ms"
        else:
            label = ""
        lines.append(label.rjust(_LABEL_W - 1)[: _LABEL_W - 1] + "│" + "".join(grid[r]))
    lines.append(" " * (_LABEL_W - 1) + "└" + "─" * cols)
    left, right = f"{_fmt(x0)} W", f"{_fmt(x1)} W"
    gap = max(cols - len(left) - len(right), 1)
    lines.append(" " * _LABEL_W + left + " " * gap + right)
    return lines


class SweepPlot(Widget):
    DEFAULT_CSS = """
    SweepPlot { height: 10; min-height: 4; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.points: list[PlotPoint] = []
        self.empty_text = "no sweep yet"

    def set_rows(self, rows: Sequence[object], empty_text: str) -> None:
        self.points = plot_points(rows)
        self.empty_text = empty_text
        self.refresh()

    def render(self) -> Text:
        width, height = max(self.size.width, 1), max(self.size.height, 1)
        if not self.points:
            return Text(self.empty_text, style="dim")
        legend = "p99 ms ↑ vs mean W →   " + "  ".join(f"{p.mark}={p.name}" for p in self.points)
        t = Text(legend[:width] + "\n", style="bold", no_wrap=True, overflow="ellipsis")
        t.append("\n".join(line[:width] for line in scatter_lines(self.points, width, max(height - 1, 3))))
        return t
