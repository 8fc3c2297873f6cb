"""The Edge Workbench app: screens as modes (one per step of the guided flow), typed shared state, typed messages.

Build it with :func:`make_app` (the entry point and the tests use the same factory). Keys are remapped from
``<config dir>/keymap.toml`` (keymap.py). Workers live in workers.py (each calls one core/workflow.py function and
posts one typed message, messages.py); the app's handlers update :class:`~workbench.ui.state.AppState` on the UI
thread and forward a copy of the message to the screens, which react to what they show. Screens in screens/.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from textual.app import App
from textual.binding import Binding

from workbench.ui.commands import WorkbenchCommands
from workbench.ui.feeds import FrozenFeed, LiveFeed, TelemetryFeed
from workbench.ui.keymap import SCREENS, app_bindings, load_keymap
from workbench.ui.messages import (
    Attached,
    BenchFinished,
    BuildFinished,
    Calibrated,
    Change,
    Compared,
    DatasetRead,
    Exported,
    JobFailed,
    JobKind,
    NothingToAttach,
    Prepared,
    ProgressMsg,
    ResultsLoaded,
    StateChanged,
    SweepFinished,
    SweepRowFinished,
    WorkbenchMessage,
)
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
from workbench.ui.workers import WorkersMixin

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


class WorkbenchApp(WorkersMixin, App):
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
        from workbench.core.job import JobRequest

        self.state = AppState(JobRequest(model=model, profile=profile, telemetry=telemetry))
        self.recorded = recorded
        self.keymap_file = keymap_file
        self.results_db = results_db
        self.plot_hz = min(float(plot_hz), 10.0)  # the plot's redraw cap (issue: <= 10 Hz)
        self.nvpmodel_conf = nvpmodel_conf  # None = the board's /etc/nvpmodel.conf (Power sweep screen)
        self.telemetry: TelemetryFeed | None = None
        self.busy: JobKind | None = None
        self.cancel_event = threading.Event()
        self.keys: dict[str, str] = {b.id: b.key for b in app_bindings() if b.id}
        for cls in SCREEN_CLASSES.values():
            for b in cls.BINDINGS:
                if isinstance(b, Binding) and b.id:
                    self.keys[b.id] = b.key
        self._wb_screens: list[Any] = []
        self.keymap_problems: tuple[str, ...] = ()
        if recorded is not None and recorded.bench_result is not None:
            self.state.last_result = recorded.bench_result
        if recorded is not None and recorded.detection is not None:
            self.state.detection = recorded.detection
        if recorded is not None and recorded.sweep is not None:
            self.state.sweep = recorded.sweep
            self.state.sweep_recorded = True

    # --- lifecycle -------------------------------------------------------------------------------------
    @staticmethod
    def _preload_core() -> None:
        """Import, on the UI thread and before any worker starts, the core packages whose ``__init__`` imports their
        own modules. Two workers importing one of them for the first time at the same moment (prepare and
        telemetry at start, dataset and calibrate later) can deadlock on Python's per-module import locks
        (``_DeadlockError``); imported once here, the workers only find them in ``sys.modules``. About 0.2 s."""
        import workbench.core.precision  # noqa: F401
        import workbench.core.profiles.match  # noqa: F401
        import workbench.core.results.result  # noqa: F401
        import workbench.core.telemetry  # noqa: F401
        import workbench.core.workflow  # noqa: F401

    def on_mount(self) -> None:
        self._preload_core()
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
        spec = self.state.request.telemetry or "auto"

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

    def _forward(self, msg: WorkbenchMessage) -> None:
        """A copy of ``msg`` to every mounted workbench screen (each reacts if it shows that)."""
        for s in list(self._wb_screens):
            if s.is_attached:
                s.post_message(msg.copy())

    def changed(self, what: Change) -> None:
        self._forward(StateChanged(what))

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
        if self.busy in (None, JobKind.PREPARE):  # inspecting a model writes nothing: no need to ask
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

    # --- shared state changes (called by screens, UI thread) -------------------------------------------------
    def begin_job(self, kind: JobKind) -> threading.Event | None:
        """Mark ``kind`` running. None (and a notice) when another job runs."""
        if self.busy is not None:
            self.notify(f"{self.busy} is running: wait for it or press x to cancel it", severity="warning")
            return None
        self.busy = kind
        self.cancel_event = threading.Event()
        self.changed(Change.BUSY)
        return self.cancel_event

    def prepare(self) -> None:
        """(Re)resolve model + profile in a worker; the screens refresh on completion."""
        if self.busy is not None:
            self.notify(f"{self.busy} is running: cancel it first (x)", severity="warning")
            return
        self.state.context_error = None
        self.state.prepared = None
        self.busy = JobKind.PREPARE
        self.cancel_event = threading.Event()
        self.changed(Change.BUSY)
        self.prepare_job(self.state.request)

    def set_model(self, path: str | None) -> None:
        # The data sets belong to the model: the new one's remembered sets (if any) come with its preparation.
        self.set_options(invalidate="calibration", model=path, calib=None, eval=None)

    def set_profile(self, name: str | None) -> None:
        self.set_options(invalidate="calibration", profile=name)

    def set_precision(self, precision: str) -> None:
        if precision != self.state.precision:
            self.state.precision = precision
            self.state.built = None
        self.changed(Change.PRECISION)

    def set_options(self, *, invalidate: str | None = None, **changes: Any) -> None:
        """Change request fields; ``invalidate`` = "calibration" drops calibration and build outcomes, "build"
        only the artifact, None nothing (bench-only settings). A field that changes what prepare() resolves
        (model, profile, export options, …) prepares the job again."""
        reprepare = self.state.update_request(**changes)
        if invalidate == "calibration" or reprepare:
            self.state.invalidate()
        elif invalidate == "build":
            self.state.invalidate(keep_calibration=True)
        self.changed(Change.OPTIONS)
        if reprepare:
            self.prepare()

    def results_source(self) -> Any:
        if self.recorded is not None and self.recorded.results is not None:
            return RecordedResults(self.recorded.results)
        return StoreResults(self.results_db)

    # --- messages from workers (UI thread) ----------------------------------------------------------------
    def _finished(self, kind: JobKind, msg: WorkbenchMessage, change: Change | None = None) -> None:
        if self.busy == kind:
            self.busy = None
        self._forward(msg)
        self.changed(change or Change.BUSY)

    def on_progress_msg(self, msg: ProgressMsg) -> None:
        self._forward(msg)

    def on_sweep_row_finished(self, msg: SweepRowFinished) -> None:
        self._forward(msg)

    def on_prepared(self, msg: Prepared) -> None:
        st = self.state
        st.prepared = msg.job
        self._remembered_sets(msg.job)
        if st.detection is None:  # the job's own detection (a recorded one, injected, is kept)
            st.detection = msg.job.detection
        st.choices = list(msg.choices)
        st.preflight = msg.preflight
        st.preflight_note = msg.preflight_note
        allowed = {c.name for c in msg.choices if c.available}
        if st.precision not in allowed:
            st.precision = "fp32"
        self._finished(JobKind.PREPARE, msg, Change.PREPARED)

    def _remembered_sets(self, job: Any) -> None:
        """Use the calibration / eval folders chosen for this model in an earlier session (core/dataset_choice.py)
        where the request names none."""
        from workbench.core.dataset_choice import remembered

        choice = remembered(job.model_info.sha256)
        changes = {k: getattr(choice, k) for k in ("calib", "eval")}
        changes = {k: v for k, v in changes.items() if v and getattr(self.state.request, k) is None}
        if changes:
            self.state.update_request(**changes)

    def on_dataset_read(self, msg: DatasetRead) -> None:
        self._forward(msg)

    def on_calibrated(self, msg: Calibrated) -> None:
        st = self.state
        st.calibration = msg.calibration
        st.accuracy = msg.accuracy
        st.accuracy_precision = "int8"
        self._finished(JobKind.CALIBRATE, msg, Change.CALIBRATION)

    def on_build_finished(self, msg: BuildFinished) -> None:
        self.state.built = msg.built
        self._finished(JobKind.BUILD, msg, Change.BUILD)

    def on_bench_finished(self, msg: BenchFinished) -> None:
        st = self.state
        if msg.built is not None:
            st.built = msg.built
        if st.last_result is not None and not st.recorded_result:
            st.previous_result = st.last_result
        st.last_result = msg.result
        self._finished(JobKind.BENCH, msg, Change.BENCH)

    def on_sweep_finished(self, msg: SweepFinished) -> None:
        self.state.sweep = msg.result
        self.state.sweep_recorded = False
        self._finished(JobKind.SWEEP, msg, Change.SWEEP)

    def on_attached(self, msg: Attached) -> None:
        self._forward(msg)

    def on_compared(self, msg: Compared) -> None:
        self._forward(msg)

    def on_nothing_to_attach(self, msg: NothingToAttach) -> None:
        if self.busy == JobKind.BENCH:
            self.busy = None
        self.notify(msg.message, timeout=6)
        self.changed(Change.BUSY)

    def on_exported(self, msg: Exported) -> None:
        self.notify(f"exported to {msg.path}", timeout=5)

    def on_results_loaded(self, msg: ResultsLoaded) -> None:
        self._forward(msg)

    def on_job_failed(self, msg: JobFailed) -> None:
        if msg.kind == JobKind.PREPARE:
            self.state.prepared = None
            self.state.context_error = msg.message + (f"\nhint: {msg.hint}" if msg.hint else "")
        if msg.cancelled:
            self.notify(f"{msg.kind}: cancelled", timeout=4)
        else:
            self.notify(
                msg.message + (f"\nhint: {msg.hint}" if msg.hint else ""),
                title=f"{msg.kind} failed",
                severity="error",
                timeout=12,
            )
        self._finished(msg.kind, msg)


def make_app(model: str | None = None, **kw: Any) -> WorkbenchApp:
    """The one factory the entry point and the tests use."""
    return WorkbenchApp(model, **kw)


__all__ = ["SCREENS", "WorkbenchApp", "make_app"]
