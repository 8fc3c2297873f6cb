"""Dashboard: live telemetry only, like a small jtop (available at any time, also during a run): the panel's
figures, then CPU load over board power and the hottest temperature on one time axis (widgets/bench_plot.py)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll

from workbench.ui.screens.base import WorkbenchScreen
from workbench.ui.widgets.bench_plot import PlotData, TelemetryPlot, power_series, short_label, temp_series
from workbench.ui.widgets.telemetry_panel import TelemetryPanel


class DashboardScreen(WorkbenchScreen):
    MODE = "dashboard"

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="body"):
            yield TelemetryPanel(id="dash-telemetry")
            yield TelemetryPlot(id="dash-plot")

    def on_mount(self) -> None:
        super().on_mount()
        self._seq = None
        self._poll()
        self.set_interval(1.0, self._poll)

    def _poll(self) -> None:
        feed = self.wb.telemetry
        if feed is None:
            return
        hist = feed.history()
        seq = hist[-1].seq if hist else None
        if seq == self._seq:
            return
        self._seq = seq
        t0 = hist[0].timestamp_s if hist else 0.0
        pt, pw = power_series(hist, t0)
        tt, tc, name = temp_series(hist, t0)
        load = [(s.timestamp_s - t0, s.cpu_load_mean_pct) for s in hist if s.cpu_load_mean_pct is not None]
        un = getattr(feed, "unavailable", {}) or {}
        note = next((v for k, v in un.items() if k in ("total_power_mw", "power")), None) or getattr(
            feed, "error", None
        )
        data = PlotData(
            power_t_s=pt,
            power_w=pw,
            temp_t_s=tt,
            temp_c=tc,
            temp_name=name,
            telemetry_label=short_label(feed.label),
            telemetry_note=note,
        )
        self.query_one(TelemetryPlot).show(data, tuple(t for t, _ in load), tuple(v for _, v in load))
