"""Thin workers: each runs one workflow call (core/workflow.py) off the UI thread and posts one typed message.

Every worker is ``@work(thread=True, exit_on_error=False)``; expected failures (WorkbenchError) become a
``JobFailed`` with the core's message and hint, anything else one line (never a traceback in the app).
State is never mutated here: the app's message handlers (UI thread) do that.
"""

from __future__ import annotations

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
    JobFailed,
    JobKind,
    NothingToAttach,
    Prepared,
    ProgressMsg,
    ResultsLoaded,
    SweepFinished,
    SweepRowFinished,
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

    @work(thread=True, exit_on_error=False, group="jobs")
    def start_calibrate(self, job: Any, cancel: threading.Event) -> None:
        def run() -> WorkbenchMessage:
            from workbench.core import workflow

            cal, report = workflow.calibrate_and_check(job, self._progress(JobKind.CALIBRATE), cancel)
            return Calibrated(cal, report)

        self._guard(JobKind.CALIBRATE, run)

    @work(thread=True, exit_on_error=False, group="jobs")
    def start_build(self, job: Any, precision: str, cancel: threading.Event) -> None:
        def run() -> WorkbenchMessage:
            from workbench.core import workflow

            return BuildFinished(workflow.build(job, precision, self._progress(JobKind.BUILD), cancel))

        self._guard(JobKind.BUILD, run)

    @work(thread=True, exit_on_error=False, group="jobs")
    def start_bench(
        self, job: Any, precision: str, built: Any, report: Any, live: Any, cancel: threading.Event
    ) -> None:
        """build (unless this session built it) -> accuracy (unless the Calibrate screen checked it) -> bench in
        the core's child process -> store: ``workflow.bench_and_store``, as `workbench bench` runs it."""

        def run() -> WorkbenchMessage:
            from workbench.core import workflow

            progress = self._progress(JobKind.BENCH)
            if precision == "best":
                best = workflow.bench_best(job, on_progress=progress, on_event=live.feed, cancel=cancel)
                return BenchFinished(best.chosen, best=best)
            b = built if built is not None else workflow.build(job, precision, progress, cancel)
            result = workflow.bench_and_store(
                job, precision, built=b, report=report, on_progress=progress, on_event=live.feed, cancel=cancel
            )
            return BenchFinished(result, b)

        self._guard(JobKind.BENCH, run)

    @work(thread=True, exit_on_error=False, group="jobs")
    def start_attach(self, live: Any, cancel: threading.Event) -> None:
        """Re-attach to the newest running detached job (`workbench run/bench` from a shell, possibly one whose SSH
        session dropped): replay its stored event stream into ``live``, follow it until the job ends, then show its
        stored result. Cancel here only detaches; the job keeps running."""

        def run() -> WorkbenchMessage:
            import time

            from workbench.core import jobs as core_jobs
            from workbench.core.errors import Cancelled, WorkbenchError
            from workbench.core.results.store import ResultStore

            running = [j for j in core_jobs.list_jobs() if j.state() == "running"]
            if not running:
                return NothingToAttach(
                    "no running job: `workbench bench` / `run` in a shell start one that survives a dropped SSH session"
                )
            job = running[0]
            self.post_message(Attached(job.id, "workbench " + " ".join(job.argv), live))  # type: ignore[attr-defined]
            offset = 0
            while True:
                still = job.state() == "running"
                events, offset = core_jobs.read_events(job, offset)
                for event in events:
                    live.feed(event)
                if not still:
                    break
                if cancel.is_set():
                    raise Cancelled(f"detached from job {job.id}; it keeps running (workbench jobs)")
                time.sleep(0.2)
            ids = core_jobs.result_ids(job.dir)
            if not ids:
                raise WorkbenchError(f"job {job.id} ended ({job.state()}) without a stored result")
            with ResultStore() as db:
                stored = db.get(ids[-1])
            return BenchFinished(replace(stored, result_id=stored.id))  # shown as "Stored as result N", as a run

        self._guard(JobKind.BENCH, run)

    @work(thread=True, exit_on_error=False, group="jobs")
    def start_sweep(self, job: Any, modes: Any, conf: Any, settings: Any, cancel: threading.Event) -> None:
        """The power-mode sweep as `workbench sweep` runs it (workflow.sweep): rows arrive as they finish."""

        def run() -> WorkbenchMessage:
            from workbench.core import workflow

            result = workflow.sweep(
                job,
                modes,
                conf,
                settings,
                on_row=lambda row: self.post_message(SweepRowFinished(row)),  # type: ignore[attr-defined]
                on_progress=self._progress(JobKind.SWEEP),
                cancel=cancel,
            )
            return SweepFinished(result)

        self._guard(JobKind.SWEEP, run)

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
