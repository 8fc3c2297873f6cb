"""A multi-row line/bar plot of recent latencies (ms), drawn with block characters.

Redrawn only when given new data (``set_points``), and the caller polls at <= 10 Hz, so the drawing rate
does not follow the inference rate. The y range is [0, p95 of the points shown] so a single outlier does
not flatten the line; clipped values are drawn in full height.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widget import Widget

from workbench.core.bench.stats import percentile

_BLOCKS = " ▁▂▃▄▅▆▇█"


def _num(v: float) -> str:
    """At most 6 characters: 0.0642, 8.27, 100."""
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.4f}"


class LatencyPlot(Widget):
    DEFAULT_CSS = """
    LatencyPlot { height: 6; min-height: 3; }
    """

    def __init__(self, *, unit: str = "ms", id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._points: tuple[float, ...] = ()
        self.unit = unit
        self.empty_text = "no data yet"

    def set_points(self, points: Sequence[float]) -> None:
        pts = tuple(points)
        if pts != self._points:
            self._points = pts
            self.refresh()

    def render(self) -> Text:
        width = max(self.size.width, 1)
        rows = max(self.size.height, 1)
        if not self._points:
            return Text(self.empty_text, style="dim")
        label_w = 9
        cols = max(width - label_w, 1)
        pts = self._points[-cols:]
        top = percentile(sorted(pts), 95) or max(pts)
        top = top if top > 0 else 1.0
        levels = rows * 8
        heights = [min(levels, max(1, round(v / top * levels))) for v in pts]
        lines = []
        for r in range(rows):
            floor = (rows - 1 - r) * 8
            chars = []
            for h in heights:
                fill = h - floor
                chars.append(_BLOCKS[8] if fill >= 8 else _BLOCKS[max(fill, 0)])
            if r == 0:
                label = f"{_num(top):>6}{self.unit[:2]:<2} "
            elif r == rows - 1:
                label = f"{0:>6}{self.unit[:2]:<2} "
            else:
                label = " " * label_w
            lines.append(label[:label_w].ljust(label_w) + "".join(chars))
        text = Text("\n".join(lines))
        return text
