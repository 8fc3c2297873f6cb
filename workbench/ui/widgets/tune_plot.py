"""The Tune screen's plot, drawn with plotext (through textual-plotext) like the Benchmark screen's plots.

Latency (ms, up: p99 for the p99 objective, else p50) against accuracy (right: the top-1 drop in points when any
candidate has one, else the minimum per-sample output cosine vs FP32). Every candidate with both figures is drawn as
its mark from the table (1-9, then a-z); the Pareto front is joined by a line and drawn green, the recommended
candidate cyan, figures not measured on this run (recorded, replayed) yellow. When any plotted candidate has a
measured energy per inference, a second panel below shows mJ against the same accuracy axis. A legend line above
names the axes, the colours and the data's label when it is not a measurement of this machine ("recorded").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from workbench.ui.widgets.bench_plot import LEFT_W, fit_range, num

_MARKS = "123456789abcdefghijklmnopqrstuvwxyz"


def mark_for(index: int) -> str:
    """The one-character mark of the ``index``-th table row (0-based): 1-9, then a-z, then ``+``."""
    return _MARKS[index] if 0 <= index < len(_MARKS) else "+"


@dataclass(frozen=True)
class TunePoint:
    """One candidate on the plot: ``x`` accuracy (points of top-1 drop, or cosine), ``ms`` latency,
    ``mj`` energy per inference (None where not measured)."""

    mark: str
    x: float
    ms: float
    mj: float | None
    front: bool
    recommended: bool
    measured: bool


@dataclass(frozen=True)
class TunePlotData:
    """What the plot shows: its points, the axis names and the data's label (None for a live measurement)."""

    points: tuple[TunePoint, ...] = ()
    x_name: str = "cosine min"
    y_name: str = "p50 ms"
    label: str | None = None

    @property
    def energy(self) -> bool:
        return any(p.mj is not None and p.measured for p in self.points)


def plot_data(
    outcomes: Sequence[Any],
    marks: Mapping[str, str],
    front: Sequence[str] = (),
    recommended: str | None = None,
    objective: str = "p50",
    label: str | None = None,
) -> TunePlotData:
    """The plot of ``outcomes`` (core.tune.types.CandidateOutcome), each drawn as ``marks[candidate.key]``; ``front``
    and ``recommended`` are candidate keys. Outcomes without a latency or an accuracy figure are left out."""
    use_drop = any(o.top1_drop_pts is not None for o in outcomes)
    points = []
    for o in outcomes:
        key = o.candidate.key
        x = o.top1_drop_pts if use_drop else o.cosine_min
        y = o.p99_ms if objective == "p99" else o.p50_ms
        if x is None or y is None or key not in marks:
            continue
        points.append(
            TunePoint(
                marks[key], float(x), float(y), o.mj_per_inference, key in front, key == recommended, bool(o.measured)
            )
        )
    return TunePlotData(
        tuple(points),
        "top-1 drop pts" if use_drop else "cosine min",
        "p99 ms" if objective == "p99" else "p50 ms",
        label,
    )


def legend(data: TunePlotData) -> Text:
    """The line above the plot: the data's label first (never cut off), the axes, the colours."""
    t = Text(no_wrap=True, overflow="ellipsis")
    if data.label:
        t.append(f"[{data.label}] ", style="bold yellow")
    t.append(data.y_name, style="bold cyan")
    t.append(f" ↑ vs {data.x_name} →")
    if data.energy:
        t.append(" (mJ below)")
    t.append(" · ")
    t.append("front", style="green")
    rec = next((p.mark for p in data.points if p.recommended), None)
    if rec is not None:
        t.append(" · ")
        t.append(f"{rec} recommended", style="cyan")
    if any(not p.measured for p in data.points):
        t.append(" · ")
        t.append("not measured", style="yellow")
    return t


def _colour(p: TunePoint) -> str:
    if not p.measured:
        return "yellow"
    if p.recommended:
        return "cyan"
    return "green" if p.front else "default"


def _panel(ax: Any, points: Sequence[TunePoint], ys: Sequence[float], x_lo: float, x_hi: float, unit: str) -> None:
    """One panel: the front joined (left to right), every point as its mark, 3 y ticks labelled with ``unit``."""
    ax.frame(False)
    front = sorted((p.x, y) for p, y in zip(points, ys, strict=True) if p.front and p.measured)
    if len(front) >= 2:
        ax.plot([x for x, _ in front], [y for _, y in front], marker="braille", color="green")
    for p, y in zip(points, ys, strict=True):
        ax.scatter([p.x], [y], marker=p.mark, color=_colour(p))
    r = fit_range(ys)
    ax.ylim(r.lo, r.hi)
    ticks = [r.lo, (r.lo + r.hi) / 2, r.hi]
    ax.yticks(ticks, [(num(v) + unit).rjust(LEFT_W) for v in ticks])
    ax.xlim(x_lo, x_hi)


def draw(plt: Any, data: TunePlotData, width: int, height: int) -> None:
    """Latency vs accuracy, and energy vs accuracy below when measured (plotext figure ``plt``)."""
    plt.clear_figure()
    pts = list(data.points)
    xr = fit_range([p.x for p in pts])
    xt = [xr.lo, (xr.lo + xr.hi) / 2, xr.hi]
    xl = [num(v) for v in xt]
    energy = [p for p in pts if p.mj is not None and p.measured]
    plt.subplots(2 if energy else 1, 1)
    top = plt.subplot(1, 1)
    top_h = max(3, (height * 3) // 5) if energy else height
    top.plotsize(width, top_h)
    _panel(top, pts, [p.ms for p in pts], xr.lo, xr.hi, "")
    if energy:
        top.xticks([])
        bottom = plt.subplot(2, 1)
        bottom.plotsize(width, height - top_h)
        _panel(bottom, energy, [float(p.mj) for p in energy], xr.lo, xr.hi, "mJ")  # type: ignore[arg-type]
        bottom.xticks(xt, xl)
    else:
        top.xticks(xt, xl)


class TunePlot(Vertical):
    """Legend line + plotext canvas; :meth:`show` sets the data (redrawn only when it changed)."""

    DEFAULT_CSS = """
    TunePlot { height: 10; }
    TunePlot > #tune-plot-legend { height: 1; }
    TunePlot > PlotextPlot { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.data = TunePlotData()
        self.empty_text = "the front plot appears when candidates are measured"
        self._key: object = None

    def compose(self) -> ComposeResult:
        yield Static(id="tune-plot-legend")
        yield _Canvas(self)

    def show(self, data: TunePlotData, empty_text: str | None = None) -> None:
        if empty_text is not None:
            self.empty_text = empty_text
        key = (data, self.empty_text)
        if key == self._key:
            return
        self._key = key
        self.data = data
        self.query_one("#tune-plot-legend", Static).update(
            legend(data) if data.points else Text(self.empty_text, style="dim")
        )
        self.query_one(_Canvas).refresh()

    def legend_text(self) -> str:
        return str(self.query_one("#tune-plot-legend", Static).render())


class _Canvas(PlotextPlot):
    def __init__(self, owner: TunePlot) -> None:
        super().__init__(id="tune-plot-canvas")
        self._owner = owner

    def render(self):
        o = self._owner
        if not o.data.points:
            return Text("")
        draw(self.plt, o.data, max(self.size.width, 10), max(self.size.height, 2))
        return super().render()
