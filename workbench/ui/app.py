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

from workbench.core.textsafe import block, field
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
    FleetChecked,
    FleetFinished,
    FleetHostChanged,
    FleetHostFinished,
    JobFailed,
    JobKind,
    JobSettingsKnown,
    JobsListed,
    NothingToAttach,
    Prepared,
    ProgressMsg,
    ResultsLoaded,
    StateChanged,
    SweepFinished,
    SweepRowFinished,
    TuneFinished,
    TuneProgressed,
    TuneRowFinished,
    WorkbenchMessage,
)
from workbench.ui.recorded import Recorded, RecordedResults, StoreResults
from workbench.ui.screens.bench import BenchScreen
from workbench.ui.screens.build import BuildScreen
from workbench.ui.screens.calibrate import CalibrateScreen
from workbench.ui.screens.dashboard import DashboardScreen
from workbench.ui.screens.fleet import FleetScreen
from workbench.ui.screens.help import HelpScreen
from workbench.ui.screens.jobs import JobsScreen
from workbench.ui.screens.model import ModelScreen
from workbench.ui.screens.precision import PrecisionScreen
from workbench.ui.screens.profile import ProfileScreen
from workbench.ui.screens.results import ResultsScreen
from workbench.ui.screens.sweep import SweepScreen
from workbench.ui.screens.tune import TuneScreen
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
    "tune": TuneScreen,
    "fleet": FleetScreen,
    "jobs": JobsScreen,
    "dashboard": DashboardScreen,
}


# The screen (mode) that follows a job of each kind, where the two names differ.
MODE_OF_KIND = {JobKind.FLEET_CHECK: "fleet"}


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
        trust_model: bool = False,
    ) -> None:
        super().__init__()
        from workbench.core.job import JobRequest

        # trust_model (`workbench tui --trust-model`): TorchScript / ExportedProgram / full pickles may be loaded;
        # without it their preparation fails with the refusal (shown on the Model screen) and nothing is loaded.
        self.state = AppState(JobRequest(model=model, profile=profile, telemetry=telemetry, trust_model=trust_model))
        self.recorded = recorded
        self.keymap_file = keymap_file
        self.results_db = results_db
        self.plot_hz = min(float(plot_hz), 10.0)  # the plot's redraw cap (issue: <= 10 Hz)
        self.nvpmodel_conf = nvpmodel_conf  # None = the board's /etc/nvpmodel.conf (Power sweep screen)
        self.telemetry: TelemetryFeed | None = None
        self.busy: JobKind | None = None
        self.cancel_event = threading.Event()
        # Detached jobs this TUI started or re-attached (id -> core.jobs.Job): quitting asks about those still
        # running, never about jobs started elsewhere. ``detach_event`` stops following without cancelling.
        self.own_jobs: dict[str, Any] = {}
        self.detach_event = threading.Event()
        self.followed_live: Any = None  # the LiveLatency of the followed benchmark job (the Benchmark screen adopts it)
        self._jobs_announced = False
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
        if recorded is not None and recorded.tune is not None:
            self.state.tune = recorded.tune
            self.state.tune_recorded = True
        if recorded is not None and recorded.fleet is not None:
            self.state.fleet = recorded.fleet
            self.state.fleet_recorded = True
        if recorded is not None and recorded.fleet_facts:
            self.state.fleet_facts = tuple(recorded.fleet_facts)
            self.state.fleet_facts_recorded = True

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: Any = "information",
        timeout: float | None = None,
        markup: bool = False,  # noqa: ARG002 - never markup: see below
    ) -> None:
        """Every notification of the app (screens' ``self.notify`` ends here): its text quotes paths, model names
        and error messages, so it is never parsed as markup (a folder named ``[bold]x`` or ``[/]`` is shown as
        named, not styled or a MarkupError) and its control characters are shown escaped (``textsafe``)."""
        super().notify(block(message), title=field(title), severity=severity, timeout=timeout, markup=False)

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
        self.list_jobs()  # this user's running and recent jobs: announced once (on_jobs_listed), listed on `j`

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
        # Stop following jobs; never cancel them here (quitting asked already; a killed terminal never gets here).
        self.detach_event.set()
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

    def running_own_jobs(self) -> list[Any]:
        """The detached jobs this TUI started or attached that still run."""
        return [j for j in self.own_jobs.values() if j.state() == "running"]

    def action_request_quit(self) -> None:
        running = self.running_own_jobs()
        if running:
            self._ask_about_jobs(running)
            return
        # Nothing of ours runs: all long work is a detached job, and inspecting a model writes nothing.
        self.detach_event.set()
        self.exit(0)

    def _ask_about_jobs(self, running: list[Any]) -> None:
        """Quit with jobs of this TUI still running: keep them running (detach) or cancel them; Escape stays."""
        from workbench.ui.screens.dialogs import JobsQuitScreen

        def answer(choice: str | None) -> None:
            if choice == "cancel":
                from workbench.core import jobs as core_jobs

                for job in running:
                    core_jobs.cancel(job)  # SIGINT to the job's process group, sent before we leave
            if choice in ("keep", "cancel"):
                self.detach_event.set()
                self.exit(0)

        names = ", ".join(f"{' '.join(j.argv[:1])} {j.id}" for j in running)
        self.push_screen(JobsQuitScreen(f"Still running, started or attached here: {names}"), answer)

    def attach_job(self, job: Any) -> None:
        """Follow ``job`` (from the Jobs screen) on its screen: bench/run on Benchmark, calibrate, build, sweep,
        tune, fleet run / check on Fleet; a finished job shows its outcome at once."""
        from workbench.core.live import LiveLatency

        kinds = {
            "bench": JobKind.BENCH,
            "run": JobKind.BENCH,
            "calibrate": JobKind.CALIBRATE,
            "build": JobKind.BUILD,
            "sweep": JobKind.SWEEP,
            "tune": JobKind.TUNE,
        }
        command = job.argv[0] if job.argv else ""
        kind = kinds.get(command)
        if command == "fleet":
            command = " ".join(job.argv[:2])
            kind = {"fleet run": JobKind.FLEET, "fleet check": JobKind.FLEET_CHECK}.get(command)
        if kind is None:
            self.notify(
                f"the TUI does not follow `{command}` jobs: `workbench jobs attach {job.id}` in a shell does",
                severity="warning",
            )
            return
        if self.busy == JobKind.PREPARE:
            # following a job needs nothing of this TUI's model: don't wait for its inspection (it goes on)
            self.busy = None
        cancel = self.begin_job(kind)
        if cancel is None:
            return
        live = LiveLatency() if kind == JobKind.BENCH else None
        self.followed_live = live
        self.switch_mode(MODE_OF_KIND.get(kind, str(kind)))
        self.follow_job(job, kind, live, cancel)

    # --- shared state changes (called by screens, UI thread) -------------------------------------------------
    def begin_job(self, kind: JobKind) -> threading.Event | None:
        """Mark ``kind`` running. None (and a notice) when another job runs."""
        if self.busy is not None:
            self.notify(f"{self.busy} is running: wait for it or press x to cancel it", severity="warning")
            return None
        self.busy = kind
        self.cancel_event = threading.Event()
        self.state.job_settings = None
        self.state.job_id = None
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
        self.state.job_settings = None  # the header shows this TUI's settings again
        self.state.job_id = None
        reprepare = self.state.update_request(**changes)
        if invalidate == "calibration" or reprepare:
            self.state.invalidate()
        elif invalidate == "build":
            self.state.invalidate(keep_calibration=True)
        self.changed(Change.OPTIONS)
        if reprepare:
            self.prepare()

    def recorded_trace(self) -> Any:
        """The injected latency trace (recorded.LatencyTrace) the Benchmark screen plots, or None."""
        return self.recorded.latency_trace if self.recorded is not None else None

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

    def on_tune_progressed(self, msg: TuneProgressed) -> None:
        self._forward(msg)

    def on_tune_row_finished(self, msg: TuneRowFinished) -> None:
        self._forward(msg)

    def on_fleet_host_changed(self, msg: FleetHostChanged) -> None:
        self._forward(msg)

    def on_fleet_host_finished(self, msg: FleetHostFinished) -> None:
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
        if st.precision not in allowed:  # fp32, or int8 alone for a model that is already INT8
            st.precision = "fp32" if "fp32" in allowed or "int8" not in allowed else "int8"
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

    def on_tune_finished(self, msg: TuneFinished) -> None:
        self.state.tune = msg.result
        self.state.tune_recorded = False
        self._finished(JobKind.TUNE, msg, Change.TUNE)

    def on_fleet_finished(self, msg: FleetFinished) -> None:
        self.state.fleet = msg.run
        self.state.fleet_recorded = False
        self._finished(JobKind.FLEET, msg, Change.FLEET)

    def on_fleet_checked(self, msg: FleetChecked) -> None:
        self.state.fleet_facts = tuple(msg.facts)
        self.state.fleet_facts_recorded = False
        self._finished(JobKind.FLEET_CHECK, msg, Change.FLEET)

    def on_attached(self, msg: Attached) -> None:
        if msg.job is not None:
            self.own_jobs[msg.job_id] = msg.job
        if msg.kind == JobKind.BENCH:  # the Benchmark screen's header shows this job's settings (JobSettingsKnown)
            self.state.job_id = msg.job_id
        self._forward(msg)
        self.changed(Change.JOB)

    def on_job_settings_known(self, msg: JobSettingsKnown) -> None:
        if self.state.job_id == msg.job_id:
            self.state.job_settings = msg.settings
            self.changed(Change.JOB)

    def on_jobs_listed(self, msg: JobsListed) -> None:
        self._forward(msg)
        if self._jobs_announced:
            return
        self._jobs_announced = True
        running = [r for r in msg.rows if r[1] == "running"]
        recent = [r for r in msg.rows if r[1] != "running" and _recent(r[0].started_at)]
        if running or recent:
            lines = [f"{state} {' '.join(job.argv[:1])} {job.id}" for job, state, _ in (running + recent)[:3]]
            key = self.keys.get("screen.jobs", "j")
            self.notify(
                "\n".join(lines) + f"\n{key}: Jobs (Enter re-attaches)",
                title=f"{len(running)} running, {len(recent)} recent job(s)",
                timeout=8,
            )

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


def _recent(started_at: str, hours: float = 24.0) -> bool:
    """A job started within ``hours`` (its ``started_at`` is UTC ``%Y-%m-%dT%H:%M:%SZ``)."""
    import calendar
    import time

    try:
        t = calendar.timegm(time.strptime(started_at, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return False
    return time.time() - t < hours * 3600


def make_app(model: str | None = None, **kw: Any) -> WorkbenchApp:
    """The one factory the entry point and the tests use."""
    return WorkbenchApp(model, **kw)


__all__ = ["SCREENS", "WorkbenchApp", "make_app"]
