"""5. Build: phases, elapsed time, a log pane, cancel; "cached" when an artifact is reused."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import RichLog, Static

from workbench.core.textsafe import block, field
from workbench.ui.messages import BuildFinished, Change, JobFailed, JobKind, ProgressMsg
from workbench.ui.screens.base import WorkbenchScreen
from workbench.ui.screens.model import short_path


def artifact_text(art: Any) -> Text:
    t = Text()
    t.append("Artifact ", style="bold")
    t.append(f"{art.precision.upper()} · {art.backend} · ")
    t.append("cached" if art.cached else f"built in {art.build_s:.2f} s", style="bold green" if art.cached else "bold")
    t.append(f"\n         {field(short_path(art.path))}")
    return t


class BuildScreen(WorkbenchScreen):
    MODE = "build"
    BINDINGS = [
        Binding("s", "start", "Build", id="build.start"),
        Binding("f", "force", "Rebuild", id="build.force", tooltip="rebuild even when a cached artifact exists"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._t0: float | None = None
        self._phase = ""
        self._timer = None

    def compose_body(self) -> ComposeResult:
        with Vertical(id="body"):
            yield Static(id="build-head")
            yield Static(id="build-phase")
            yield RichLog(id="build-log", wrap=True, markup=False, max_lines=500)

    def refresh_view(self, what: Change) -> None:
        st = self.wb.state
        job = st.job
        head = Text()
        if job is None:
            head.append(block(st.context_error or "loading model…"), style="red" if st.context_error else "dim")
        else:
            head.append("Build ", style="bold")
            head.append(f"{st.precision.upper()} with {job.backend.name} for profile {field(job.profile.name)}")
            if st.precision == "int8" and st.calibration is None:
                head.append("\n      INT8 calibrates first (cached when done on the Calibrate screen)", style="dim")
            if st.precision == "best":
                head.append("\n      'best' builds every precision on the Benchmark screen", style="yellow")
            if st.built is not None:
                head.append("\n")
                head.append_text(artifact_text(st.built.artifact))
        self.query_one("#build-head", Static).update(head)

    def _tick(self) -> None:
        if self._t0 is None:
            return
        el = time.monotonic() - self._t0
        running = self.wb.busy == JobKind.BUILD
        # Two times once done: the artifact's own build time (in the phase) and the whole step since s was pressed
        # (preparation, calibration, cache lookup included), each labelled.
        self.query_one("#build-phase", Static).update(
            Text(
                f"{self._phase} · {el:.1f} s elapsed" if running else f"{self._phase} · step total {el:.1f} s",
                style="bold" if running else "",
            )
        )
        if not running and self._timer is not None:
            self._timer.stop()
            self._timer = None

    def on_progress_msg(self, msg: ProgressMsg) -> None:
        if msg.kind != JobKind.BUILD:
            return
        log = self.query_one(RichLog)
        if self._t0 is None:  # a build job re-attached from the Jobs screen
            self._t0 = time.monotonic()
            if self._timer is None:
                self._timer = self.set_interval(0.5, self._tick)
        s = msg.progress
        if s.total:
            pct = 100 * (s.done or 0) / s.total
            self._phase = f"{s.step}: {s.done}/{s.total} ({pct:.0f} %)"
            if (s.done or 0) in (0, s.total):
                log.write(Text(block(f"[{s.step}] {s.message} {s.done}/{s.total}")))
        else:
            self._phase = f"{s.step}: {s.message}"
            log.write(Text(block(f"[{s.step}] {s.message}")))
        self._tick()

    def on_build_finished(self, msg: BuildFinished) -> None:
        art = msg.built.artifact
        self._phase = "done — " + ("cached artifact" if art.cached else f"artifact built in {art.build_s:.2f} s")
        self.query_one(RichLog).write(Text(f"[done] {'cached' if art.cached else 'built'}: {field(art.path)}"))
        self._tick()

    def on_job_failed(self, msg: JobFailed) -> None:
        if msg.kind != JobKind.BUILD:
            return
        log = self.query_one(RichLog)
        self._phase = "cancelled" if msg.cancelled else "failed"
        log.write(Text(block(f"[{'cancelled' if msg.cancelled else 'error'}] {msg.message}")))
        if msg.hint:
            log.write(Text(block(f"hint: {msg.hint}")))
        self._tick()

    def _start(self, force: bool) -> None:
        wb = self.wb
        st = wb.state
        job = st.job
        if job is None:
            self.notify("no model loaded", severity="warning")
            return
        if st.precision == "best":
            self.notify(
                "'best' is resolved by benchmarking every precision: use the Benchmark screen (6)", severity="warning"
            )
            return
        cancel = wb.begin_job(JobKind.BUILD)
        if cancel is None:
            return
        self._t0 = time.monotonic()
        self._phase = "starting"
        self.query_one(RichLog).write(f"--- build {st.precision.upper()}{' (forced)' if force else ''} ---")
        if self._timer is None:
            self._timer = self.set_interval(0.5, self._tick)
        wb.start_build(replace(st.request, force_build=force), cancel)

    def action_start(self) -> None:
        self._start(False)

    def action_force(self) -> None:
        self._start(True)
