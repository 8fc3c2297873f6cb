"""Dashboard: live telemetry only, like a small jtop (available at any time, also during a run)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from workbench.ui.screens.base import WorkbenchScreen
from workbench.ui.widgets.latency_plot import LatencyPlot
from workbench.ui.widgets.telemetry_panel import TelemetryPanel


class DashboardScreen(WorkbenchScreen):
    MODE = "dashboard"

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="body"):
            yield TelemetryPanel(id="dash-telemetry")
            with Vertical(id="dash-plots"):
                yield Static("CPU load (%)", classes="plot-title")
                yield LatencyPlot(unit="%", id="dash-cpu")
                yield Static("Board power (W)", classes="plot-title")
                yield LatencyPlot(unit="W", id="dash-power")

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
        cpu = [s.cpu_load_mean_pct for s in hist if s.cpu_load_mean_pct is not None]
        power = [s.total_power_mw / 1000 for s in hist if s.total_power_mw is not None]
        cp = self.query_one("#dash-cpu", LatencyPlot)
        pp = self.query_one("#dash-power", LatencyPlot)
        cp.empty_text = "n/a"
        pp.empty_text = (
            "n/a ("
            + next((v for k, v in feed.unavailable.items() if k in ("total_power_mw", "power")), "no power reading")
            + ")"
        )
        cp.set_points(cpu)
        pp.set_points(power)
        cp.refresh()
        pp.refresh()
