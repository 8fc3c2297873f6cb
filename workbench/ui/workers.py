"""Thin workers. Quick work (prepare, a dataset, results, compare, export) runs one workflow call (core/workflow.py)
off the UI thread; long work (calibrate, build, bench, sweep, tune, fleet run / check) starts a detached job
(core/jobs.py) and follows it. Each posts one typed message.

Every worker is ``@work(thread=True, exit_on_error=False)``; expected failures (WorkbenchError) become a
``JobFailed`` with the core's message and hint, anything else one line (never a traceback in the app).
State is never mutated here: the app's message handlers (UI thread) do that (the one exception: a started job is
registered in ``own_jobs`` at once, so that quitting a moment later asks about it).
"""

from __future__ import annotations

import shlex
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from textual import work

from workbench.core.progress import Progress
from workbench.ui.messages import (
    Attached,
    BenchFinished,
    BuildFinished,
    Calibrated,
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
    SweepFinished,
    SweepRowFinished,
    TuneFinished,
    TuneProgressed,
    TuneRowFinished,
    WorkbenchMessage,
)


def _preflight(job: Any) -> tuple[Any, str | None]:
    """The TensorRT pre-flight for the profile (as `workbench inspect --preflight`), or why there is none."""
    from workbench.core.errors import WorkbenchError

    if not getattr(job.profile.device, "tensorrt", None):
        return None, f"profile {job.profile.name} builds with {job.backend.name}: no TensorRT pre-flight"
    from workbench.core.models.preflight import preflight

    try:
        return preflight(job.model_path, job.profile), None
    except WorkbenchError as exc:
        return None, f"pre-flight not run: {exc}"


def _tune_row(row: Any) -> Any:
    """A TuneCandidateDone row as a CandidateOutcome; None for a row this version cannot read (skipped: the
    final outcome carries every candidate)."""
    from workbench.core.tune.types import CandidateOutcome

    try:
        return CandidateOutcome.from_dict(row)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _fleet_row(row: Any) -> Any:
    """A FleetHostDone row as a HostRun; None for a row this version cannot read (skipped: the final outcome carries
    every host)."""
    from workbench.core.fleet.types import HostRun

    try:
        return HostRun.from_dict(row)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _outcome(kind: JobKind, job: Any) -> WorkbenchMessage:
    """The typed message for a finished job: its stored result (bench, run) or its outcome.json (calibrate, build).

    Raises:
        WorkbenchError: the job ended without what its command leaves (no stored result, no outcome).
    """
    from workbench.core import jobs as core_jobs
    from workbench.core.errors import WorkbenchError

    outcome = core_jobs.read_outcome(job) or {}
    if kind == JobKind.FLEET:
        from workbench.ui.fleetdoc import fleet_run_from_dict

        if not isinstance(outcome.get("fleet"), dict):
            raise WorkbenchError(
                f"job {job.id} ended without a fleet run outcome",
                hint=f"`workbench jobs show {job.id}` shows what the job printed (its stderr names the failure); "
                "start it again",
            )
        return FleetFinished(fleet_run_from_dict(outcome["fleet"], f"job {job.id}: {job.dir / 'outcome.json'}"))
    if kind == JobKind.FLEET_CHECK:
        from workbench.ui.fleetdoc import check_facts_of_job

        return FleetChecked(check_facts_of_job(job))
    if kind == JobKind.TUNE:
        from workbench.ui.tunedoc import tune_result_from_dict

        if not isinstance(outcome.get("tune"), dict):
            raise WorkbenchError(
                f"job {job.id} ended without a tune outcome",
                hint=f"`workbench jobs show {job.id}` shows what the job printed (its stderr names the failure); "
                "start it again",
            )
        return TuneFinished(tune_result_from_dict(outcome["tune"], f"job {job.id}: {job.dir / 'outcome.json'}"))
    if kind == JobKind.SWEEP:
        from workbench.core.power.sweep import SweepResult

        if "sweep" not in outcome:
            raise WorkbenchError(
                f"job {job.id} ended without a sweep outcome",
                hint=f"`workbench jobs show {job.id}` shows what the job printed (its stderr names the failure); "
                "start it again",
            )
        return SweepFinished(SweepResult.from_dict(outcome["sweep"]))
    if kind == JobKind.CALIBRATE:
        from workbench.core.accuracy import AccuracyReport
        from workbench.core.workflow import Calibration

        if "calibration" not in outcome:
            raise WorkbenchError(
                f"job {job.id} ended without a calibration outcome",
                hint=f"`workbench jobs show {job.id}` shows what the job printed (its stderr names the failure); "
                "start it again",
            )
        acc = outcome.get("accuracy")
        return Calibrated(Calibration.from_dict(outcome["calibration"]), AccuracyReport.from_dict(acc) if acc else None)
    if kind == JobKind.BUILD:
        from workbench.core.workflow import Built

        if "built" not in outcome:
            raise WorkbenchError(
                f"job {job.id} ended without a build outcome",
                hint=f"`workbench jobs show {job.id}` shows what the job printed (its stderr names the failure); "
                "start it again",
            )
        return BuildFinished(Built.from_dict(outcome["built"]))
    from workbench.core.results.store import ResultStore

    ids = core_jobs.result_ids(job.dir)
    if not ids and isinstance(outcome.get("result"), dict):  # a --no-store run: its result is in the outcome
        from workbench.core.results.result import result_from_dict

        return BenchFinished(result_from_dict(outcome["result"]))
    if not ids:
        raise WorkbenchError(
            f"job {job.id} ended ({job.state()}) without a stored result",
            hint=f"`workbench jobs show {job.id}` shows what the job printed; a job started with --no-store keeps no "
            "result",
        )
    with ResultStore() as db:
        if isinstance(outcome.get("best"), dict):
            from workbench.core.workflow import BestOutcome

            best = BestOutcome.from_ids(outcome["best"], db.get)
            return BenchFinished(best.chosen, best=best)
        stored = db.get(ids[-1])
    return BenchFinished(replace(stored, result_id=stored.id))  # shown as "Stored as result N", as a run


_ENDED: dict[str, str] = {}  # job folder -> outcome line of an ended job (it never changes again)


def job_outcome_line(job: Any) -> str:
    """One line about a job's outcome for the Jobs list: its stored results' p99, its calibration verdict, its
    build, or the error it ended with ("" while it runs)."""
    if job.state() == "running":
        return ""
    key = str(job.dir)
    if key not in _ENDED:
        _ENDED[key] = _ended_line(job)
    return _ENDED[key]


def _ended_line(job: Any) -> str:
    from workbench.core import jobs as core_jobs

    state = job.state()
    if job.argv[:1] == ("fleet",):
        from workbench.ui.fleetdoc import fleet_job_line

        line = fleet_job_line(job)  # a run where a host failed ends "failed", with every host's row in its outcome
        if line is not None:
            return line
    if state in ("failed", "died"):
        message, _ = core_jobs.error_text(job)
        return message or state
    if state == "cancelled":
        return "cancelled"
    outcome = core_jobs.read_outcome(job) or {}
    if outcome.get("command") == "calibrate":
        acc = outcome.get("accuracy") or {}
        return f"INT8 QDQ model; accuracy {str(acc.get('verdict', 'n/a')).upper()}"
    if outcome.get("command") == "tune":
        return _tune_line(job, outcome)
    if outcome.get("command") == "build":
        art = outcome.get("built", {}).get("artifact", {})
        return f"{str(art.get('precision', '?')).upper()} artifact " + ("cached" if art.get("cached") else "built")
    ids = core_jobs.result_ids(job.dir)
    if not ids and isinstance(outcome.get("result"), dict):
        lat = outcome["result"].get("latency_ms") or {}
        prec = str(outcome["result"].get("precision", "?")).upper()
        return f"not stored: {prec} p50 {lat.get('p50', 0):.4f} ms · p99 {lat.get('p99', 0):.4f} ms"
    if not ids:
        return "no stored result"
    from workbench.core.errors import WorkbenchError
    from workbench.core.results.store import ResultStore

    try:
        with ResultStore() as db:
            r = db.get(ids[-1])
    except WorkbenchError as exc:
        return f"result {ids[-1]}: {exc}"
    return f"result {r.id}: {r.precision.upper()} p50 {r.latency.p50_ms:.4f} ms · p99 {r.latency.p99_ms:.4f} ms"


def _tune_line(job: Any, outcome: dict) -> str:
    """The Jobs list's line for a tune job: what it recommends (or why nothing), and how many candidates."""
    from workbench.core.errors import WorkbenchError
    from workbench.ui.tunedoc import tune_result_from_dict

    try:
        res = tune_result_from_dict(outcome.get("tune") or {}, f"job {job.id}")
    except WorkbenchError as exc:
        return str(exc)
    n = len(res.outcomes)
    if res.recommendation is None:
        return f"tune: no recommendation ({res.no_recommendation or 'no candidate meets the bounds'}); {n} candidates"
    return f"tune: {res.recommendation.candidate.label()}; {n} candidates"


class WorkersMixin:
    """Mixed into the App: the workers, and the guard that turns their outcome into one message."""

    def _progress(self, kind: JobKind) -> Callable[[Progress], None]:
        def emit(progress: Progress) -> None:
            self.post_message(ProgressMsg(kind, progress))  # type: ignore[attr-defined]

        return emit

    def _guard(self, kind: JobKind, fn: Callable[[], WorkbenchMessage]) -> None:
        from workbench.core.errors import Cancelled, WorkbenchError

        post = self.post_message  # type: ignore[attr-defined]
        try:
            message = fn()
        except Cancelled as exc:
            post(JobFailed(kind, str(exc) or "cancelled", cancelled=True))
        except WorkbenchError as exc:
            post(JobFailed(kind, str(exc), getattr(exc, "hint", "") or ""))
        except Exception as exc:  # noqa: BLE001 - the app must survive anything a job raises, as one readable line
            post(JobFailed(kind, f"internal error: {type(exc).__name__}: {exc}", "this is a bug; please report it"))
        else:
            post(message)

    @work(thread=True, exit_on_error=False, group="jobs")
    def prepare_job(self, request: Any) -> None:
        def run() -> WorkbenchMessage:
            from workbench.core import workflow
            from workbench.core.live import precision_choices

            job = workflow.prepare(request, self._progress(JobKind.PREPARE))
            preflight, note = _preflight(job)
            return Prepared(job, precision_choices(job), preflight, note)

        self._guard(JobKind.PREPARE, run)

    @work(thread=True, exit_on_error=False, group="aux")
    def read_dataset(self, folder: Any, inputs: Any) -> None:
        def run() -> WorkbenchMessage:
            from workbench.core.precision.datasets import open_dataset

            return DatasetRead(folder, open_dataset(folder, inputs))

        self._guard(JobKind.DATASET, run)

    # --- detached jobs ----------------------------------------------------------------------------------------
    # Calibrate, build and bench run as detached jobs (core/jobs.py), exactly as `workbench calibrate/build/bench`
    # run from a shell: the job's argv is built from the app's JobRequest by the core (jobs.argv_for), it starts in
    # its own session the moment the key is pressed, and the worker only follows it: its events.jsonl feeds the live
    # view and the progress, and its stored result (or outcome.json) becomes the same typed message a run in this
    # process gave. Killing the TUI (or its SSH session, or tmux) leaves the job running; it stores its result.

    def _start_and_follow(self, kind: JobKind, command: str, request: Any, live: Any, cancel: threading.Event,
                          extra: tuple[str, ...] = ()) -> None:  # fmt: skip
        def run() -> WorkbenchMessage:
            from workbench.core import jobs as core_jobs

            job = core_jobs.start(core_jobs.argv_for(request, command, extra))
            self.own_jobs[job.id] = job  # type: ignore[attr-defined] - at once: quitting now asks about it
            return self._follow(kind, job, live, cancel)

        self._guard(kind, run)

    @work(thread=True, exit_on_error=False, group="jobs")
    def start_calibrate(self, request: Any, cancel: threading.Event) -> None:
        """`workbench calibrate --check` as a job: calibrate, then the INT8-vs-FP32 verdict (Calibrated)."""
        self._start_and_follow(JobKind.CALIBRATE, "calibrate", request, None, cancel, ("--check",))

    @work(thread=True, exit_on_error=False, group="jobs")
    def start_build(self, request: Any, cancel: threading.Event) -> None:
        """`workbench build` as a job (BuildFinished)."""
        self._start_and_follow(JobKind.BUILD, "build", request, None, cancel)

    @work(thread=True, exit_on_error=False, group="jobs")
    def start_bench(self, request: Any, live: Any, cancel: threading.Event) -> None:
        """`workbench bench` as a job: build (cached) -> accuracy -> bench in the core's child process -> store, the
        live view fed from the job's event stream (BenchFinished with the stored result)."""
        self._start_and_follow(JobKind.BENCH, "bench", request, live, cancel)

    @work(thread=True, exit_on_error=False, group="jobs")
    def follow_job(self, job: Any, kind: JobKind, live: Any, cancel: threading.Event) -> None:
        """Re-attach to a detached job (started here earlier, from another TUI, or with `workbench run/bench` in a
        shell): replay its stream, follow it until it ends, then show its outcome; a finished job shows its result
        at once. Cancel (x) cancels the job; quitting with "keep running" only stops following it."""
        self._guard(kind, lambda: self._follow(kind, job, live, cancel))

    @work(thread=True, exit_on_error=False, group="jobs")
    def start_attach(self, live: Any, cancel: threading.Event) -> None:
        """Follow the newest running benchmark job (`workbench run/bench` from a shell, or a TUI's), if any."""

        def run() -> WorkbenchMessage:
            from workbench.core import jobs as core_jobs

            running = [
                j for j in core_jobs.list_jobs() if j.argv[:1] in (("bench",), ("run",)) and j.state() == "running"
            ]
            if not running:
                return NothingToAttach(
                    "no running job: `workbench bench` / `run` in a shell start one that survives a dropped SSH session"
                )
            return self._follow(JobKind.BENCH, running[0], live, cancel)

        self._guard(JobKind.BENCH, run)

    def _follow(self, kind: JobKind, job: Any, live: Any, cancel: threading.Event) -> WorkbenchMessage:
        import time

        from workbench.core import jobs as core_jobs
        from workbench.core.bench import events as ev
        from workbench.core.errors import Cancelled, WorkbenchError

        post = self.post_message  # type: ignore[attr-defined]
        detach: threading.Event = self.detach_event  # type: ignore[attr-defined]
        post(Attached(job.id, "workbench " + shlex.join(job.argv), live, kind, job))
        offset, settings, cancelling = 0, None, False
        while True:
            ended = job.state() != "running"
            before = offset
            events, offset = core_jobs.read_events(job, offset)
            caught_up = offset == before  # (read in pieces: an hour-long job's log replays over several calls)
            for event in events:
                if isinstance(event, ev.StepProgress):
                    post(ProgressMsg(kind, Progress(event.step, event.message, event.done, event.total)))
                elif isinstance(event, ev.SweepRowDone):
                    from workbench.core.power.sweep import SweepRow

                    post(SweepRowFinished(SweepRow.from_dict(event.row)))
                elif isinstance(event, ev.TuneProgress):
                    post(TuneProgressed(event))
                elif isinstance(event, ev.TuneCandidateDone):
                    row = _tune_row(event.row)
                    if row is not None:
                        post(TuneRowFinished(row))
                elif isinstance(event, ev.FleetHostState):
                    post(FleetHostChanged(event))
                elif isinstance(event, ev.FleetHostDone):
                    host_row = _fleet_row(event.row)
                    if host_row is not None:
                        post(FleetHostFinished(host_row))
                elif live is not None:
                    live.feed(event)
            if settings is None:
                settings = core_jobs.read_settings(job)
                if settings is not None:
                    post(JobSettingsKnown(job.id, settings))
            if ended and caught_up:
                break
            if cancel.is_set() and not cancelling:
                cancelling = True
                core_jobs.cancel(job)  # SIGINT to its process group; it ends as "cancelled" and we report that
            if detach.is_set():
                raise Cancelled(f"detached from job {job.id}; it keeps running (j lists jobs)")
            if caught_up:
                time.sleep(0.1)
        state = job.state()
        if kind == JobKind.SWEEP and "sweep" in (core_jobs.read_outcome(job) or {}):
            return _outcome(kind, job)  # also cancelled: the partial table, the original mode restored
        if kind == JobKind.TUNE and "tune" in (core_jobs.read_outcome(job) or {}):
            return _outcome(kind, job)  # also cancelled: the candidates measured so far, a power mode restored
        if kind == JobKind.FLEET and "fleet" in (core_jobs.read_outcome(job) or {}):
            # also failed (a host failed or was unreachable: the others' rows still count) or cancelled
            return _outcome(kind, job)
        if kind == JobKind.FLEET_CHECK and state == "failed":
            # `fleet check` exits 1 when a host could not be reached; the document it printed has every host
            try:
                return _outcome(kind, job)
            except WorkbenchError:
                pass  # it printed none (a bad inventory, a refused option): its error, below
        if state == "cancelled":
            raise Cancelled(f"job {job.id} cancelled")
        if state != "finished":
            message, hint = core_jobs.error_text(job)
            raise WorkbenchError(message or f"job {job.id} {state} without a message", hint=hint or None)
        return _outcome(kind, job)

    @work(thread=True, exit_on_error=False, group="jobs")
    def start_sweep(self, request: Any, sweep_argv: tuple[str, ...], cancel: threading.Event) -> None:
        """`workbench sweep` as a job (``sweep_argv``: --modes, --conf, targets): rows arrive as they finish
        (SweepRowFinished), then SweepFinished; cancelled, the partial table with the original mode restored."""
        self._start_and_follow(JobKind.SWEEP, "sweep", request, None, cancel, sweep_argv)

    @work(thread=True, exit_on_error=False, group="jobs")
    def start_tune(self, argv: tuple[str, ...], cancel: threading.Event) -> None:
        """`workbench tune …` as a job (``argv``: the command and its options, screens/tune.py ``tune_argv``):
        progress (TuneProgressed), each candidate as it ends (TuneRowFinished), then TuneFinished with the result
        (cancelled: the candidates done so far). Until `workbench tune` exists the job fails with the parser's
        message, shown as a JobFailed like any job's error."""
        self._start_argv_and_follow(JobKind.TUNE, argv, cancel)

    def _start_argv_and_follow(self, kind: JobKind, argv: tuple[str, ...], cancel: threading.Event) -> None:
        """Start ``workbench <argv>`` as a detached job (a command whose argv a screen builds) and follow it."""

        def run() -> WorkbenchMessage:
            from workbench.core import jobs as core_jobs

            job = core_jobs.start(list(argv))
            self.own_jobs[job.id] = job  # type: ignore[attr-defined] - at once: quitting now asks about it
            return self._follow(kind, job, None, cancel)

        self._guard(kind, run)

    @work(thread=True, exit_on_error=False, group="jobs")
    def start_fleet_run(self, argv: tuple[str, ...], cancel: threading.Event) -> None:
        """`workbench fleet run …` as a job (``argv``: screens/fleet.py ``fleet_run_argv``): each host's state
        (FleetHostChanged), each host's row as it ends (FleetHostFinished), then FleetFinished with every host's
        row — also when some hosts failed or the run was cancelled. A job that ends without its outcome (the command
        refused its arguments, the inventory is bad) is a JobFailed with its message."""
        self._start_argv_and_follow(JobKind.FLEET, argv, cancel)

    @work(thread=True, exit_on_error=False, group="jobs")
    def start_fleet_check(self, argv: tuple[str, ...], cancel: threading.Event) -> None:
        """`workbench fleet check -i INV --json` as a job (FleetChecked with the document it printed)."""
        self._start_argv_and_follow(JobKind.FLEET_CHECK, argv, cancel)

    @work(thread=True, exit_on_error=False, group="joblist", exclusive=True)
    def list_jobs(self) -> None:
        """This user's jobs (core/jobs.py), newest first, with a one-line outcome each (JobsListed)."""

        def run() -> WorkbenchMessage:
            from workbench.core import jobs as core_jobs

            return JobsListed(tuple((j, j.state(), job_outcome_line(j)) for j in core_jobs.list_jobs(50)))

        self._guard(JobKind.JOBS, run)

    @work(thread=True, exit_on_error=False, group="aux")
    def start_export(self, source: Any, fmt: str, path: Any, ids: Any) -> None:
        self._guard(JobKind.EXPORT, lambda: Exported(str(source.export_to_file(fmt, path, ids))))

    @work(thread=True, exit_on_error=False, group="compare", exclusive=True)
    def start_compare(self, a: Any, b: Any, titles: tuple[str, str], heading: str, token: int) -> None:
        """results.compare.compare([a, b]) — its bootstrap takes about a second on 2 x 20 000 latencies."""

        def run() -> WorkbenchMessage:
            from workbench.core.results.compare import compare

            return Compared(compare([a, b]), titles, heading, token)

        self._guard(JobKind.COMPARE, run)

    @work(thread=True, exit_on_error=False, group="results", exclusive=True)
    def load_results(self, source: Any) -> None:
        def run() -> WorkbenchMessage:
            results = tuple(source.results())
            return ResultsLoaded(results, source.label, tuple(source.unreadable))

        self._guard(JobKind.RESULTS, run)
