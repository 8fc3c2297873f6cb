"""The Benchmark screen's plots, drawn with plotext (through textual-plotext).

Two views of one run:

* **time** — latency over time (the median of each batch of samples the child sends, and the batch's slowest
  query as dots) with the rolling p50 and p99 as lines labelled on the right axis; below it, on the same time
  axis (seconds since start was pressed), board power (W, left axis) and the hottest temperature sensor (°C, right
  axis). The latency range fits the data (not from 0); a value more than :data:`OFF_SCALE_FACTOR` x the p99 is
  drawn at the top edge and the legend line says how many are off-scale and the largest. While a run goes, the
  p50/p99 lines are the rolling window's; once it has finished, the run's own (all its queries).
* **histogram** — the latencies behind the rolling percentiles (up to 2000), with p50 and p99 marked; the range
  ends at :func:`hist_cut` (p50 + 3 x (p99 - p50), or the largest value if smaller) and the legend line says how
  many queries are beyond it and the largest.

A legend line above the plot names every series with its unit and carries the data's label when it is not a
live measurement ("recorded", "replay"). Redrawn only when :meth:`BenchPlot.show` gets different data; the caller
polls at <= 10 Hz and not at all while idle.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

OFF_SCALE_FACTOR = 4.0
TEMP_MIN_SPAN_C = 10.0  # a few degrees' drift does not fill the panel (and does not hide under the power line)  # a latency above this x p99 is drawn at the top edge and counted as off-scale
LEFT_W = 6  # y tick label width, left axis (both panels, so the time axes line up)
RIGHT_W = 4  # y tick label width, right axis


@dataclass(frozen=True)
class PlotData:
    """What the plots show. Times in seconds since the run started, latencies in ms, power in W, temperature in °C.

    ``lat_t_s``/``lat_ms``/``lat_max_ms``: one point per batch (median, slowest). ``window_ms``: latencies for the
    histogram. ``temp_name``: the sensor plotted. ``latency_label``/``telemetry_label``: None for live
    measurements, else a short label ("recorded", "replay") shown on the plot. ``telemetry_note``: why there is no
    power/temperature line (None when there is one). ``span_s``: the time axis' end (None = the last point)."""

    lat_t_s: tuple[float, ...] = ()
    lat_ms: tuple[float, ...] = ()
    lat_max_ms: tuple[float, ...] = ()
    p50_ms: float | None = None
    p99_ms: float | None = None
    window_ms: tuple[float, ...] = ()
    power_t_s: tuple[float, ...] = ()
    power_w: tuple[float, ...] = ()
    temp_t_s: tuple[float, ...] = ()
    temp_c: tuple[float, ...] = ()
    temp_name: str | None = None
    latency_label: str | None = None
    telemetry_label: str | None = None
    telemetry_note: str | None = None
    span_s: float | None = None


@dataclass(frozen=True)
class YRange:
    """A y range that fits ``values``: ``lo``..``hi``; ``off_scale`` values above ``hi`` (largest ``max_value``)."""

    lo: float
    hi: float
    off_scale: int
    max_value: float


def fit_range(
    values: Sequence[float], marks: Sequence[float | None] = (), p99: float | None = None, min_span: float = 0.0
) -> YRange:
    """The range of ``values`` and ``marks`` with 5 % head-room, not from 0, at least ``min_span`` wide (centred).
    With ``p99``, values above ``OFF_SCALE_FACTOR`` x p99 are left out of the range and counted in ``off_scale``."""
    vals = [v for v in values if v is not None and math.isfinite(v)]
    ms = [m for m in marks if m is not None]
    if not vals and not ms:
        return YRange(0.0, 1.0, 0, 0.0)
    top_all = max(vals + ms)
    cap = OFF_SCALE_FACTOR * p99 if p99 else None
    inside = [v for v in vals if cap is None or v <= cap]
    if not inside and not ms:  # everything beyond the cap and nothing to anchor on: show it all
        inside = vals
    off = len(vals) - len(inside)
    lo = min(inside + ms)
    hi = max(inside + ms)
    if hi - lo < min_span:
        mid = (hi + lo) / 2
        lo, hi = mid - min_span / 2, mid + min_span / 2
    pad = (hi - lo) * 0.05 or max(abs(hi) * 0.05, 1e-6)
    return YRange(max(lo - pad, 0.0) if lo >= 0 else lo - pad, hi + pad, off, top_all)


def num(v: float) -> str:
    """A tick label of at most 6 characters (7 when negative): 0.0642, 8.27, 100, and below 0.001 a short scientific
    form (3.2e-5: four decimals would show every tick of such a range as 0.0000)."""
    a = abs(v)
    if 0 < a < 0.001:
        mantissa, exponent = f"{v:.1e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.4f}" if a < 0.1 else f"{v:.3f}"


def _ticks(lo: float, hi: float, n: int) -> list[float]:
    if n <= 1 or hi <= lo:
        return [lo]
    return [lo + (hi - lo) * k / (n - 1) for k in range(n)]


def _time_ticks(span: float) -> tuple[list[float], list[str]]:
    vals = _ticks(0.0, span, 5)
    labels = [f"{v:.3g}" for v in vals]
    labels[-1] += " s"
    return vals, labels


def short_label(label: str | None) -> str | None:
    """The first words of a data label for the plot ("recorded — not measured …" -> "recorded")."""
    if not label:
        return None
    return label.split(" —")[0].split(" -")[0].strip() or label


def temp_series(samples: Sequence, t0: float) -> tuple[tuple[float, ...], tuple[float, ...], str | None]:
    """(times since ``t0``, °C, sensor name) of the sensor that was hottest over ``samples`` (TelemetrySample)."""
    best: dict[str, float] = {}
    for s in samples:
        for k, v in s.temps_c.items():
            if v is not None and v > best.get(k, -1e9):
                best[k] = v
    if not best:
        return (), (), None
    name = max(best, key=lambda k: best[k])
    pts = [(s.timestamp_s - t0, s.temps_c.get(name)) for s in samples]
    pts = [(t, v) for t, v in pts if v is not None]
    return tuple(t for t, _ in pts), tuple(v for _, v in pts), name


def power_series(samples: Sequence, t0: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(times since ``t0``, board power in W) of ``samples`` that report a total power."""
    pts = [(s.timestamp_s - t0, s.total_power_mw / 1000) for s in samples if s.total_power_mw is not None]
    return tuple(t for t, _ in pts), tuple(v for _, v in pts)


def hist_cut(window_ms: Sequence[float], p50: float | None, p99: float | None) -> float:
    """Where the histogram's range ends (ms): p50 + 3 x (p99 - p50), or the largest latency if smaller."""
    top = max(window_ms)
    if p50 is None or p99 is None:
        return top
    return min(top, p50 + 3 * max(p99 - p50, 0.0)) if p99 > p50 else top


def legend(data: PlotData, view: str) -> Text:
    """The line above the plot: series, units, off-scale counts and the data's label."""
    t = Text(no_wrap=True, overflow="ellipsis")
    labels = list(dict.fromkeys(x for x in (data.latency_label, data.telemetry_label) if x))
    if labels:  # first, so a narrow terminal never cuts it off
        t.append("[" + " · ".join(labels) + "] ", style="bold yellow")
    if view == "hist":
        n = len(data.window_ms)
        t.append("histogram", style="bold cyan")
        t.append(f", last {n}: ")
        t.append("p50", style="green")
        t.append(" ")
        t.append("p99", style="red")
        if n:
            cut = hist_cut(data.window_ms, data.p50_ms, data.p99_ms)
            beyond = sum(1 for v in data.window_ms if v > cut)
            if beyond:
                t.append(f" ▶{beyond} off-scale > {num(cut)} (max {num(max(data.window_ms))})", style="yellow")
    else:
        t.append("ms", style="bold cyan")
        t.append(": median")
        t.append(" •", style="blue")
        t.append("max ")
        t.append("p50", style="green")
        t.append(" ")
        t.append("p99", style="red")
        r = fit_range(data.lat_ms + data.lat_max_ms, (data.p50_ms, data.p99_ms), data.p99_ms)
        if r.off_scale:
            t.append(f" ▲{r.off_scale} off-scale (max {num(r.max_value)})", style="yellow")
        t.append(" │ ")
        if data.power_w:
            t.append("W", style="bold yellow")
            t.append(" ")
        if data.temp_c:
            t.append(f"°C {data.temp_name}", style="bold magenta")
        if not data.power_w and not data.temp_c:
            t.append(f"W/°C n/a ({data.telemetry_note or 'no readings yet'})", style="dim")
    return t


def _power_temp_panel(ax, data: PlotData, span: float) -> None:
    """Board power (W, left axis) and the hottest sensor (°C, right axis) on a 0..``span`` s time axis."""
    ax.frame(False)
    if data.power_w:
        pr = fit_range(data.power_w)
        ax.plot(list(data.power_t_s), list(data.power_w), marker="braille", color="yellow")
        ax.ylim(pr.lo, pr.hi)
        pt = _ticks(pr.lo, pr.hi, 2)
        ax.yticks(pt, [(num(v) + "W").rjust(LEFT_W) for v in pt])
    else:
        ax.plot([0.0], [0.0], marker=" ")
        ax.yticks([0.0], ["n/a W".rjust(LEFT_W)])
    if data.temp_c:
        tr = fit_range(data.temp_c, min_span=TEMP_MIN_SPAN_C)
        ax.plot(list(data.temp_t_s), list(data.temp_c), marker="braille", color="magenta", yside="right")
        ax.ylim(tr.lo, tr.hi, yside="right")
        tt = _ticks(tr.lo, tr.hi, 2)
        ax.yticks(tt, [f"{v:.0f}°".ljust(RIGHT_W) for v in tt], yside="right")
    else:
        ax.plot([0.0], [0.0], marker=" ", yside="right")
        ax.yticks([0.0], ["n/a".ljust(RIGHT_W)], yside="right")
    ax.xlim(0, span)
    xv, xl = _time_ticks(span)
    ax.xticks(xv, xl)


def draw_telemetry(plt, data: PlotData, load_t_s, load_pct, width: int, height: int) -> None:
    """The Dashboard's plot: CPU load (%) over power (W) and temperature (°C), one time axis (seconds since the
    first sample shown)."""
    plt.clear_figure()
    span = data.span_s or max([*data.power_t_s, *data.temp_t_s, *load_t_s, 1.0])
    plt.subplots(2, 1)
    top = plt.subplot(1, 1)
    top_h = max(3, height // 2)
    top.plotsize(width, top_h)
    top.frame(False)
    if load_pct:
        top.plot(list(load_t_s), list(load_pct), marker="braille", color="cyan")
    else:
        top.plot([0.0], [0.0], marker=" ")
    top.ylim(0, 100)
    top.yticks([0, 50, 100], [f"{v}%".rjust(LEFT_W) for v in (0, 50, 100)])
    top.plot([0.0], [0.0], marker=" ", yside="right")  # an empty right axis as wide as the panel below
    top.yticks([0.0], ["".ljust(RIGHT_W)], yside="right")
    top.xlim(0, span)
    top.xticks([])
    bottom = plt.subplot(2, 1)
    bottom.plotsize(width, height - top_h)
    _power_temp_panel(bottom, data, span)


def draw_time(plt, data: PlotData, width: int, height: int) -> None:
    """Latency panel over a power/temperature panel, one time axis (plotext figure ``plt``)."""
    plt.clear_figure()
    telem = bool(data.power_w or data.temp_c)
    span = data.span_s or max([*data.lat_t_s, *data.power_t_s, *data.temp_t_s, 1.0])
    plt.subplots(2 if telem else 1, 1)
    top = plt.subplot(1, 1)
    lat_h = max(3, (height * 3) // 5) if telem else height
    top.plotsize(width, lat_h)
    top.frame(False)
    r = fit_range(data.lat_ms + data.lat_max_ms, (data.p50_ms, data.p99_ms), data.p99_ms)
    rt, rl = [], []
    for name, v, colour in (("p50", data.p50_ms, "green"), ("p99", data.p99_ms, "red")):
        if v is not None:
            top.plot([0, span], [v, v], marker="braille", color=colour, yside="right")
            rt.append(v)
            rl.append(name.ljust(RIGHT_W))
    top.ylim(r.lo, r.hi, yside="right")
    if rt:
        top.yticks(rt, rl, yside="right")
    if data.lat_ms:
        top.plot(list(data.lat_t_s), list(data.lat_ms), marker="braille", color="cyan")
        inside = [(t, v) for t, v in zip(data.lat_t_s, data.lat_max_ms, strict=True) if v <= r.hi]
        over = [t for t, v in zip(data.lat_t_s, data.lat_max_ms, strict=True) if v > r.hi]
        if inside:
            top.scatter([t for t, _ in inside], [v for _, v in inside], marker="•", color="blue")
        if over:  # drawn at the top edge; the legend counts them
            top.scatter(over, [r.hi] * len(over), marker="▲", color="yellow")
    ticks = _ticks(r.lo, r.hi, 3 if lat_h >= 5 else 2)
    top.yticks(ticks, [num(v).rjust(LEFT_W) for v in ticks])
    top.ylim(r.lo, r.hi)
    top.xlim(0, span)
    if telem:
        top.xticks([])
        bottom = plt.subplot(2, 1)
        bottom.plotsize(width, height - lat_h)
        _power_temp_panel(bottom, data, span)
    else:
        xv, xl = _time_ticks(span)
        top.xticks(xv, xl)


def draw_hist(plt, data: PlotData, width: int, height: int) -> None:
    """A histogram of ``data.window_ms`` up to its p99.9, p50/p99 marked (plotext figure ``plt``)."""
    plt.clear_figure()
    plt.plotsize(width, height)
    plt.frame(False)
    vals = list(data.window_ms)
    if not vals:
        return
    cut = hist_cut(vals, data.p50_ms, data.p99_ms)
    inside = sorted(v for v in vals if v <= cut)
    lo, hi = inside[0], inside[-1]
    if hi <= lo:
        hi = lo + max(lo * 0.01, 1e-6)
    bins = max(5, min(60, (width - LEFT_W) // 2))
    plt.hist(inside, bins=bins, color="cyan")
    # whole-number count ticks (plotext's own are floats); the tallest bin counted the way plotext bins
    counts = [0] * bins
    for v in inside:
        counts[min(bins - 1, int((v - lo) / (hi - lo) * bins))] += 1
    top = max(counts)
    yt = sorted({0, top // 2, top})
    plt.yticks(yt, [str(v).rjust(LEFT_W) for v in yt])
    for v, colour in ((data.p50_ms, "green"), (data.p99_ms, "red")):
        if v is not None:
            plt.vline(v, colour)
    xt = _ticks(lo, hi, 4)
    plt.xticks(xt, [num(v) for v in xt[:-1]] + [num(xt[-1]) + " ms"])
    plt.xlim(lo, hi)


class BenchPlot(Vertical):
    """Legend line + plotext canvas. ``view`` is "time" or "hist"; :meth:`show` sets the data."""

    DEFAULT_CSS = """
    BenchPlot { height: 10; }
    BenchPlot > #plot-legend { height: 1; }
    BenchPlot > PlotextPlot { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.data = PlotData()
        self.view = "time"
        self.empty_text = "no data yet"
        self._key: object = None
        self.draws = 0  # how many times the canvas was rebuilt (tests, the overhead benchmark)

    def compose(self) -> ComposeResult:
        yield Static(id="plot-legend")
        yield _Canvas(self)

    def show(self, data: PlotData | None = None, view: str | None = None, empty_text: str | None = None) -> None:
        """Redraw when the data, the view or the empty text changed (nothing otherwise)."""
        if data is not None:
            self.data = data
        if view is not None:
            self.view = view
        if empty_text is not None:
            self.empty_text = empty_text
        key = (self.data, self.view, self.empty_text)
        if key == self._key:
            return
        self._key = key
        has = bool(self.data.window_ms if self.view == "hist" else self.data.lat_ms)
        self.query_one("#plot-legend", Static).update(
            legend(self.data, self.view) if has else Text(self.empty_text, style="dim")
        )
        self.query_one(_Canvas).refresh()

    def legend_text(self) -> str:
        return str(self.query_one("#plot-legend", Static).render())


class TelemetryPlot(Vertical):
    """The Dashboard's plot: legend line + CPU load over power and temperature (plotext). :meth:`show` sets it."""

    DEFAULT_CSS = """
    TelemetryPlot { height: 10; }
    TelemetryPlot > #tplot-legend { height: 1; }
    TelemetryPlot > PlotextPlot { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.data = PlotData()
        self.load: tuple[tuple[float, ...], tuple[float, ...]] = ((), ())
        self._key: object = None
        self.draws = 0

    def compose(self) -> ComposeResult:
        yield Static(id="tplot-legend")
        yield _TelemetryCanvas(self)

    def show(self, data: PlotData, load_t_s: tuple[float, ...], load_pct: tuple[float, ...]) -> None:
        key = (data, load_t_s, load_pct)
        if key == self._key:
            return
        self._key = key
        self.data, self.load = data, (load_t_s, load_pct)
        t = Text(no_wrap=True, overflow="ellipsis")
        if data.telemetry_label:
            t.append(f"[{data.telemetry_label}] ", style="bold yellow")
        t.append("CPU load %", style="bold cyan")
        t.append(" │ ")
        if data.power_w:
            t.append("W", style="bold yellow")
            t.append(" ")
        if data.temp_c:
            t.append(f"°C {data.temp_name}", style="bold magenta")
        if not data.power_w and not data.temp_c:
            t.append(f"W/°C n/a ({data.telemetry_note or 'no readings yet'})", style="dim")
        span = max([*data.power_t_s, *data.temp_t_s, *load_t_s, 0.0])
        t.append(f" · last {span:.0f} s", style="dim")
        self.query_one("#tplot-legend", Static).update(t)
        self.query_one(_TelemetryCanvas).refresh()


class _TelemetryCanvas(PlotextPlot):
    def __init__(self, owner: TelemetryPlot) -> None:
        super().__init__(id="tplot-canvas")
        self._owner = owner

    def render(self):
        o = self._owner
        d = o.data
        if not (d.power_w or d.temp_c or o.load[1]):
            return Text("no telemetry samples yet", style="dim")
        o.draws += 1
        draw_telemetry(self.plt, d, o.load[0], o.load[1], max(self.size.width, 10), max(self.size.height, 2))
        return super().render()


class _Canvas(PlotextPlot):
    def __init__(self, owner: BenchPlot) -> None:
        super().__init__(id="plot-canvas")
        self._owner = owner

    def render(self):
        o = self._owner
        w, h = max(self.size.width, 10), max(self.size.height, 2)
        has = bool(o.data.window_ms if o.view == "hist" else o.data.lat_ms)
        if not has:
            return Text("")
        o.draws += 1
        if o.view == "hist":
            draw_hist(self.plt, o.data, w, h)
        else:
            draw_time(self.plt, o.data, w, h)
        return super().render()
