"""Thin workers: each runs one pipeline call off the UI thread and only posts messages.

Every worker is ``@work(thread=True, exit_on_error=False)``; expected failures (WorkbenchError) become a
``JobFailed`` with the core's message and hint, anything else one line (never a traceback in the app).
State is never mutated here: the app's message handlers (UI thread) do that.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from textual import work

from workbench.ui.messages import JobDone, JobFailed, StepMsg, SweepRowMsg


def _preflight(ctx: Any) -> dict[str, Any]:
    """The TensorRT pre-flight for the profile (as `workbench inspect --preflight`), or why there is none."""
    from workbench.core.errors import WorkbenchError

    if not getattr(ctx.profile.device, "tensorrt", None):
        return {
            "preflight": None,
            "preflight_note": f"profile {ctx.profile.name} builds with {ctx.backend.name}: no TensorRT pre-flight",
        }
    from workbench.core.models.preflight import preflight

    try:
        return {"preflight": preflight(ctx.model_path, ctx.profile), "preflight_note": None}
    except WorkbenchError as exc:
        return {"preflight": None, "preflight_note": f"pre-flight not run: {exc}"}


class JobsMixin:
    """Mixed into the App. ``busy`` names the running job (None when idle); ``cancel_event`` stops it."""

    busy: str | None = None
    cancel_event: threading.Event

    # --- plumbing -------------------------------------------------------------------------------------
    def begin_job(self, job: str) -> threading.Event | None:
        """Mark ``job`` running (UI thread). None (and a notice) when another job runs."""
        if self.busy is not None:
            self.notify(f"{self.busy} is running: wait for it or press x to cancel it", severity="warning")
            return None
        self.busy = job
        self.cancel_event = threading.Event()
        self.on_busy_changed()
        return self.cancel_event

    def on_busy_changed(self) -> None:  # overridden by the app
        return None

    def _step_fn(self, job: str) -> Callable[[Any], None]:
        def emit(step: Any) -> None:
            self.post_message(StepMsg(job, step))

        return emit

    def _guard(self, job: str, fn: Callable[[], Any]) -> None:
        from workbench.core.errors import Cancelled, WorkbenchError

        try:
            result = fn()
        except Cancelled as exc:
            self.post_message(JobFailed(job, str(exc) or "cancelled", cancelled=True))
        except WorkbenchError as exc:
            self.post_message(JobFailed(job, str(exc), getattr(exc, "hint", "") or ""))
        except Exception as exc:  # noqa: BLE001 - the app must survive anything a job raises, as one readable line
            self.post_message(
                JobFailed(job, f"internal error: {type(exc).__name__}: {exc}", "this is a bug; please report it")
            )
        else:
            self.post_message(JobDone(job, result))

    # --- jobs -----------------------------------------------------------------------------------------
    @work(thread=True, exit_on_error=False, group="jobs")
    def job_prepare(self, options: Any, detect: bool = True) -> None:
        def run() -> dict[str, Any]:
            from workbench.core import pipeline
            from workbench.core.live import precision_choices

            ctx = pipeline.prepare(options, self._step_fn("prepare"))
            detection = None
            if detect:
                from workbench.core.profiles.match import detect_device

                detection = detect_device()
            return {"ctx": ctx, "detection": detection, "choices": precision_choices(ctx), **_preflight(ctx)}

        self._guard("prepare", run)

    @work(thread=True, exit_on_error=False, group="aux")
    def job_dataset(self, folder: Any, inputs: Any) -> None:
        def run() -> Any:
            from workbench.core.precision.datasets import open_dataset

            return open_dataset(folder, inputs)

        self._guard("dataset", run)

    @work(thread=True, exit_on_error=False, group="jobs")
    def job_calibrate(self, ctx: Any, precision: str, cancel: threading.Event) -> None:
        def run() -> dict[str, Any]:
            from workbench.core import pipeline

            step = self._step_fn("calibrate")
            result, ds = pipeline.calibrate(ctx, step, cancel)
            if cancel.is_set():
                from workbench.core.errors import Cancelled

                raise Cancelled("calibration cancelled")
            report = pipeline.accuracy(ctx, result.path, ds, step)
            return {"calibration": result, "dataset": ds, "accuracy": report, "precision": precision}

        self._guard("calibrate", run)

    @work(thread=True, exit_on_error=False, group="jobs")
    def job_build(self, ctx: Any, precision: str, cancel: threading.Event) -> None:
        def run() -> dict[str, Any]:
            from workbench.core import pipeline

            artifact, extra = pipeline.build(ctx, precision, self._step_fn("build"), cancel)
            return {"artifact": artifact, "extra": extra, "precision": precision}

        self._guard("build", run)

    @work(thread=True, exit_on_error=False, group="jobs")
    def job_bench(
        self, ctx: Any, precision: str, artifact: Any, accuracy: Any, extra: dict, live: Any, cancel: threading.Event
    ) -> None:
        """build (cached when done already) -> bench in the core's child process -> store: as bench_precision,
        reusing the calibration/accuracy this session already has."""

        def run() -> dict[str, Any]:
            from workbench.core import pipeline

            step = self._step_fn("bench")
            if precision == "best":
                chosen, _all = pipeline.bench_best(ctx, on_step=step, on_event=live.feed, cancel=cancel)
                return {"entry": chosen, "artifact": None}
            art, ext = (artifact, extra) if artifact is not None else pipeline.build(ctx, precision, step, cancel)
            info: dict[str, Any] = {}
            cal = ext.get("calibration")
            if cal is not None:
                info["calibration"] = {
                    "method": cal.method,
                    "samples": cal.samples,
                    "cached": cal.cached,
                    "qdq_model": str(cal.path),
                }
            entry = pipeline.bench_artifact(
                ctx, art, on_step=step, on_event=live.feed, cancel=cancel, accuracy_report=accuracy, extra=info
            )
            if ctx.options.store:
                entry["result_id"] = pipeline.store(entry)
                step(pipeline.Step("store", f"stored as result {entry['result_id']}"))
            return {"entry": entry, "artifact": art, "extra": ext}

        self._guard("bench", run)

    @work(thread=True, exit_on_error=False, group="jobs")
    def job_attach(self, job: Any, live: Any, cancel: threading.Event) -> None:
        """Re-attach to a detached job (`workbench run/bench` from a shell, possibly one whose SSH session
        dropped): replay its stored event stream into ``live``, follow it until the job ends, then show its
        stored result. Cancel here only detaches; the job keeps running."""

        def run() -> dict[str, Any]:
            import time

            from workbench.core import jobs as core_jobs
            from workbench.core.errors import Cancelled, WorkbenchError
            from workbench.core.results.store import ResultStore

            offset = 0
            while True:
                running = job.state() == "running"
                events, offset = core_jobs.read_events(job, offset)
                for event in events:
                    live.feed(event)
                if not running:
                    break
                if cancel.is_set():
                    raise Cancelled(f"detached from job {job.id}; it keeps running (workbench jobs)")
                time.sleep(0.2)
            ids = core_jobs.result_ids(job.dir)
            if not ids:
                raise WorkbenchError(f"job {job.id} ended ({job.state()}) without a stored result")
            return {"entry": ResultStore().get(ids[-1]), "artifact": None}

        self._guard("bench", run)

    @work(thread=True, exit_on_error=False, group="jobs")
    def job_sweep(
        self, ctx: Any, precision: str, modes: Any, conf: Any, settings: dict[str, Any], cancel: threading.Event
    ) -> None:
        """Power-mode sweep as `workbench sweep` runs it: build once, then core.power.sweep.run_sweep sets each
        mode (nvpmodel via sudo -n), settles, benchmarks and restores the original mode (also on cancel).
        ``settings``: p99_max_ms, power_max_w, cooldown_timeout_s, nvpmodel_timeout_s. Returns the SweepResult."""

        def run() -> Any:
            from workbench.core import pipeline
            from workbench.core.power.nvpmodel import Nvpmodel
            from workbench.core.power.sweep import assert_measured_source, max_temp_reader, run_sweep
            from workbench.core.telemetry import open_source

            step = self._step_fn("sweep")
            tool = Nvpmodel(timeout_s=settings.get("nvpmodel_timeout_s", 15.0))
            probe = open_source(ctx.options.telemetry or ctx.profile.telemetry.source)
            try:
                assert_measured_source(probe)
                artifact, _ = pipeline.build(ctx, precision, step, cancel)

                def current() -> Any:
                    q = tool.query()
                    return conf.by_id(q.id) if q.id is not None else None

                def bench(mode: Any) -> dict[str, Any]:
                    step(pipeline.Step("sweep", f"benchmarking in power mode {mode.name} (id {mode.id})"))
                    entry = pipeline.bench_artifact(ctx, artifact, on_step=step, cancel=cancel)
                    entry["power_mode"] = {"id": mode.id, "name": mode.name}
                    if ctx.options.store:
                        entry["result_id"] = pipeline.store(entry)
                    return entry

                return run_sweep(
                    modes,
                    set_mode=tool.set_mode,
                    current_mode=current,
                    run_benchmark=bench,
                    read_temp_c=max_temp_reader(probe),
                    cooldown={"timeout_s": settings.get("cooldown_timeout_s", 120.0)},
                    p99_max_ms=settings.get("p99_max_ms"),
                    power_max_w=settings.get("power_max_w"),
                    cancel=cancel,
                    on_row=lambda row: self.post_message(SweepRowMsg(row)),
                )
            finally:
                probe.close()

        self._guard("sweep", run)

    @work(thread=True, exit_on_error=False, group="aux")
    def job_export(self, source: Any, fmt: str, path: Any, ids: Any) -> None:
        self._guard("export", lambda: source.export_to_file(fmt, path, ids))
