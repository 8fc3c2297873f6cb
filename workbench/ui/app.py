"""The Edge Workbench app: screens as modes (one per step of the guided flow), shared state, job dispatch.

Build it with :func:`make_app` (the entry point and the tests use the same factory). Keys are remapped from
``<config dir>/keymap.toml`` (keymap.py). Workers live in jobs.py; screens in screens/.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from textual.app import App
from textual.binding import Binding

from workbench.ui.commands import WorkbenchCommands
from workbench.ui.feeds import FrozenFeed, LiveFeed, TelemetryFeed
from workbench.ui.jobs import JobsMixin
from workbench.ui.keymap import SCREENS, app_bindings, load_keymap
from workbench.ui.messages import JobDone, JobFailed, StepMsg, SweepRowMsg
from workbench.ui.recorded import Recorded, RecordedResults, StoreResults
from workbench.ui.screens.bench import BenchScreen
from workbench.ui.screens.build import BuildScreen
from workbench.ui.screens.calibrate import CalibrateScreen
from workbench.ui.screens.dashboard import DashboardScreen
from workbench.ui.screens.dialogs import ConfirmScreen
from workbench.ui.screens.help import HelpScreen
from workbench.ui.screens.model import ModelScreen
from workbench.ui.screens.precision import PrecisionScreen
from workbench.ui.screens.profile import ProfileScreen
from workbench.ui.screens.results import ResultsScreen
from workbench.ui.screens.sweep import SweepScreen
from workbench.ui.state import AppState

SCREEN_CLASSES = {
    "model": ModelScreen,
    "profile": ProfileScreen,
    "precision": PrecisionScreen,
    "calibrate": CalibrateScreen,
    "build": BuildScreen,
    "bench": BenchScreen,
    "results": ResultsScreen,
    "sweep": SweepScreen,
    "dashboard": DashboardScreen,
}


def all_binding_ids() -> set[str]:
    ids = {b.id for b in app_bindings() if isinstance(b, Binding) and b.id}
    for cls in (*SCREEN_CLASSES.values(), HelpScreen):
        for b in getattr(cls, "BINDINGS", []):
            if isinstance(b, Binding) and b.id:
                ids.add(b.id)
    return ids


class WorkbenchApp(JobsMixin, App):
    CSS_PATH = "app.tcss"
    TITLE = "Edge Workbench"
    MODES = SCREEN_CLASSES
    BINDINGS = app_bindings()
    COMMANDS = App.COMMANDS | {WorkbenchCommands}
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        model: str | None = None,
        *,
        profile: str | None = None,
        telemetry: str | None = None,
        recorded: Recorded | None = None,
        keymap_file: Path | None = None,
        results_db: Path | None = None,
        plot_hz: float = 10.0,
        nvpmodel_conf: Path | None = None,
    ) -> None:
        super().__init__()
        from workbench.core.pipeline import Options

        self.state = AppState(Options(model=model, profile=profile, telemetry=telemetry))
        self.recorded = recorded
        self.keymap_file = keymap_file
        self.results_db = results_db
        self.plot_hz = min(float(plot_hz), 10.0)  # the plot's redraw cap (issue: <= 10 Hz)
        self.nvpmodel_conf = nvpmodel_conf  # None = the board's /etc/nvpmodel.conf (Power sweep screen)
        self.telemetry: TelemetryFeed | None = None
        self.keys: dict[str, str] = {b.id: b.key for b in app_bindings() if b.id}
        for cls in SCREEN_CLASSES.values():
            for b in cls.BINDINGS:
                if isinstance(b, Binding) and b.id:
                    self.keys[b.id] = b.key
        self.cancel_event = threading.Event()
        self._wb_screens: list[Any] = []
        self.keymap_problems: tuple[str, ...] = ()
        self.preparing = False
        if recorded is not None and recorded.bench_entry is not None:
            self.state.last_entry = dict(recorded.bench_entry)
            self.state.recorded_entry = True
        if recorded is not None and recorded.detection is not None:
            self.state.detection = recorded.detection
        if recorded is not None and recorded.sweep is not None:
            self.state.sweep = recorded.sweep
            self.state.sweep_recorded = True

    # --- lifecycle -------------------------------------------------------------------------------------
    def on_mount(self) -> None:
        self._apply_keymap()
        if self.recorded is not None and self.recorded.telemetry:
            self.telemetry = FrozenFeed(
                self.recorded.telemetry,
                name=self.recorded.telemetry_name,
                unavailable=self.recorded.telemetry_unavailable,
            )
        else:
            self._open_telemetry()
        self.switch_mode("model")
        self.prepare()

    def _apply_keymap(self) -> None:
        from workbench.core.errors import WorkbenchError

        try:
            loaded = load_keymap(all_binding_ids(), self.keymap_file)
        except WorkbenchError as exc:
            self.keymap_problems = (str(exc),)
        else:
            self.keymap_problems = loaded.problems
            if loaded.keymap:
                self.keys.update(loaded.keymap)
                self.set_keymap(loaded.keymap)
        for p in self.keymap_problems:
            self.notify(p, title="key map", severity="warning", timeout=10)

    def _open_telemetry(self) -> None:
        spec = self.state.options.telemetry or "auto"

        def open_feed() -> None:
            feed = LiveFeed(spec)
            self.call_from_thread(self._set_feed, feed)

        self.run_worker(open_feed, thread=True, exit_on_error=False, group="telemetry")

    def _set_feed(self, feed: TelemetryFeed) -> None:
        if self.telemetry is not None:
            self.telemetry.close()
        self.telemetry = feed

    def on_unmount(self) -> None:
        self.cancel_event.set()
        if self.telemetry is not None:
            self.telemetry.close()

    # --- screens ---------------------------------------------------------------------------------------
    def register_screen(self, screen: Any) -> None:
        if screen not in self._wb_screens:
            self._wb_screens.append(screen)

    def broadcast_state(self, what: str) -> None:
        for s in list(self._wb_screens):
            if s.is_attached:
                s.notify_status()
                s.state_changed(what)

    def on_busy_changed(self) -> None:
        self.broadcast_state("busy")

    def action_goto(self, mode: str) -> None:
        if mode in SCREEN_CLASSES and self.current_mode != mode:
            self.switch_mode(mode)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_cancel_job(self) -> None:
        if self.busy is None:
            self.notify("nothing is running", timeout=2)
            return
        self.cancel_event.set()
        self.notify(f"cancelling {self.busy}…", timeout=3)

    async def action_quit(self) -> None:
        self.action_request_quit()

    def action_request_quit(self) -> None:
        if self.busy in (None, "prepare"):  # inspecting a model writes nothing: no need to ask
            self.cancel_event.set()
            self.exit(0)
            return

        def answer(yes: bool | None) -> None:
            if yes:
                # The core removes partial outputs when cancelled (atomic writes); stop the job, then leave.
                self.cancel_event.set()
                self.exit(0)

        self.push_screen(
            ConfirmScreen(f"{self.busy} is running. Stop it and quit?", yes="Stop and quit", no="Keep running"),
            answer,
        )

    # --- shared state changes (called by screens) ---------------------------------------------------------
    def prepare(self) -> None:
        """(Re)resolve model + profile in a worker; the screens refresh on completion."""
        if self.busy is not None:
            self.notify(f"{self.busy} is running: cancel it first (x)", severity="warning")
            return
        self.preparing = True
        self.state.context_error = None
        self.busy = "prepare"
        self.cancel_event = threading.Event()
        self.broadcast_state("busy")
        self.job_prepare(self.state.options, detect=self.state.detection is None)

    def set_model(self, path: str | None) -> None:
        from dataclasses import replace

        self.state.options = replace(self.state.options, model=path)
        self.state.invalidate()
        self.prepare()

    def set_profile(self, name: str | None) -> None:
        from dataclasses import replace

        self.state.options = replace(self.state.options, profile=name)
        self.state.invalidate()
        self.prepare()

    def set_precision(self, precision: str) -> None:
        if precision != self.state.precision:
            self.state.precision = precision
            self.state.artifact = None
            self.state.build_extra = {}
        self.broadcast_state("precision")

    def set_options(self, *, invalidate: str | None = None, **changes: Any) -> None:
        """Change Options fields; ``invalidate`` = "calibration" drops calibration and build outcomes, "build"
        only the artifact, None nothing (bench-only settings)."""
        from dataclasses import replace

        from workbench.core import pipeline

        self.state.options = replace(self.state.options, **changes)
        if self.state.ctx is not None:
            self.state.ctx = pipeline.with_options(self.state.ctx, **changes)
        if invalidate == "calibration":
            self.state.invalidate()
        elif invalidate == "build":
            self.state.invalidate(keep_calibration=True)
        self.broadcast_state("options")

    def results_source(self) -> Any:
        if self.recorded is not None and self.recorded.results is not None:
            return RecordedResults(tuple(self.recorded.results))
        return StoreResults(self.results_db)

    # --- messages from workers ----------------------------------------------------------------------------
    def on_step_msg(self, msg: StepMsg) -> None:
        for s in list(self._wb_screens):
            if s.is_attached:
                s.job_event(msg)

    def on_sweep_row_msg(self, msg: SweepRowMsg) -> None:
        for s in list(self._wb_screens):
            if s.is_attached:
                s.job_event(msg)

    def on_job_done(self, msg: JobDone) -> None:
        st = self.state
        r = msg.result
        if msg.job == "prepare":
            self.preparing = False
            st.ctx = r["ctx"]
            if r.get("detection") is not None:
                st.detection = r["detection"]
            st.choices = r["choices"]
            st.preflight = r.get("preflight")
            st.preflight_note = r.get("preflight_note")
            allowed = {c.name for c in r["choices"] if c.available}
            if st.precision not in allowed:
                st.precision = "fp32"
        elif msg.job == "calibrate":
            st.calibration = r["calibration"]
            st.calib_dataset = r["dataset"]
            st.accuracy = r["accuracy"]
            st.accuracy_precision = r["precision"]
        elif msg.job == "build":
            st.artifact = r["artifact"]
            st.build_extra = r["extra"]
        elif msg.job == "bench":
            if r.get("artifact") is not None:
                st.artifact = r["artifact"]
                st.build_extra = r.get("extra") or {}
            if st.last_entry is not None and not st.recorded_entry:
                st.previous_entry = st.last_entry
            st.last_entry = r["entry"]
            st.recorded_entry = False
        elif msg.job == "sweep":
            st.sweep = r
            st.sweep_recorded = False
        elif msg.job == "export":
            self.notify(f"exported to {r}", timeout=5)
        self._job_finished(msg)

    def on_job_failed(self, msg: JobFailed) -> None:
        if msg.job == "prepare":
            self.preparing = False
            self.state.ctx = None
            self.state.context_error = msg.message + (f"\nhint: {msg.hint}" if msg.hint else "")
        if msg.cancelled:
            self.notify(f"{msg.job}: cancelled", timeout=4)
        else:
            self.notify(
                msg.message + (f"\nhint: {msg.hint}" if msg.hint else ""),
                title=f"{msg.job} failed",
                severity="error",
                timeout=12,
            )
        self._job_finished(msg)

    def _job_finished(self, msg: Any) -> None:
        if msg.job in ("prepare", "calibrate", "build", "bench", "sweep") and self.busy == msg.job:
            self.busy = None
        for s in list(self._wb_screens):
            if s.is_attached:
                s.job_event(msg)
        self.broadcast_state(msg.job)


def make_app(model: str | None = None, **kw: Any) -> WorkbenchApp:
    """The one factory the entry point and the tests use."""
    return WorkbenchApp(model, **kw)


__all__ = ["SCREENS", "WorkbenchApp", "make_app"]
