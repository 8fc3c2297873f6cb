"""6. Benchmark: the live view. A latency plot fed by the core's child process, rolling p50/p99, throughput and
iterations, beside the telemetry panel; the final summary in the CLI's layout; start / stop / re-run with
changed settings; compare with the previous run.

The worker passes ``LiveLatency.feed`` as ``on_event``; this screen polls ``snapshot()`` at <= app.plot_hz
(10 Hz) while a run is in progress and not at all otherwise.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static

from workbench.core.live import LiveStats
from workbench.core.results.result import BenchmarkResult
from workbench.ui.messages import Attached, BenchFinished, Change, Compared, JobFailed, JobKind, ProgressMsg
from workbench.ui.screens.base import WorkbenchScreen
from workbench.ui.widgets.latency_plot import LatencyPlot
from workbench.ui.widgets.telemetry_panel import TelemetryPanel

DURATIONS_S = (1.0, 3.0, 5.0, 10.0, 30.0, 60.0)
THREADS = (None, 1, 2, 4, 8)


def _ms(v: float | None) -> str:
    return f"{v:.4f} ms  " if v is not None else "n/a  "


def stats_text(snap: LiveStats | None, result: BenchmarkResult | None) -> Text:
    """One or two lines: iterations, rolling p50/p99, throughput (live), or the stored figures (finished)."""
    t = Text()
    if result is not None and (snap is None or snap.finished):
        t.append("p50 ", style="bold")
        t.append(_ms(result.latency.p50_ms))
        t.append("p99 ", style="bold")
        t.append(_ms(result.latency.p99_ms), style="bold")
        t.append("thr ", style="bold")
        ips = result.throughput.inferences_per_s
        t.append(f"{ips:.1f} inf/s  " if ips is not None else "n/a  ")
        t.append("iter ", style="bold")
        t.append(f"{result.throughput.iterations or 0:,}")
        return t
    if snap is None:
        t.append("press s to start a benchmark", style="dim")
        return t
    t.append(f"[{snap.phase}] ", style="bold yellow" if not snap.finished else "bold")
    t.append("p50 ", style="bold")
    t.append(f"{snap.p50_ms:.4f} ms  " if snap.p50_ms is not None else "…  ")
    t.append("p99 ", style="bold")
    t.append(f"{snap.p99_ms:.4f} ms  " if snap.p99_ms is not None else "…  ")
    t.append("thr ", style="bold")
    t.append(f"{snap.throughput_ips:.1f} inf/s  " if snap.throughput_ips is not None else "…  ")
    t.append("iter ", style="bold")
    t.append(f"{snap.iterations:,}")
    if snap.elapsed_s is not None:
        t.append(f"  {snap.elapsed_s:.1f} s", style="dim")
    return t


class BenchScreen(WorkbenchScreen):
    MODE = "bench"
    BINDINGS = [
        Binding("s", "start", "Start/re-run", id="bench.start"),
        Binding("left_square_bracket", "duration(-1)", "Shorter", id="bench.shorter", key_display="["),
        Binding("right_square_bracket", "duration(1)", "Longer", id="bench.longer", key_display="]"),
        Binding("t", "threads", "Threads", id="bench.threads"),
        Binding("v", "compare", "Vs previous", id="bench.compare"),
        Binding("a", "attach", "Attach job", id="bench.attach", tooltip="follow a running detached job"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.live: Any = None
        self._timer: Any = None
        self._version = -1
        self._show_compare = False
        self._compare_token = 0
        self._best = None  # the last 'best' outcome, for its candidates line

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="body", classes="bench"):
            with Vertical(id="bench-left"):
                yield Static(id="bench-head")
                yield LatencyPlot(id="bench-plot")
                yield Static(id="bench-stats")
                with VerticalScroll(id="bench-summary-scroll"):
                    yield Static(id="bench-summary")
            yield TelemetryPanel(id="bench-telemetry")

    def on_mount(self) -> None:
        super().on_mount()
        self._layout()
        live = self.wb.followed_live
        if self.wb.busy == JobKind.BENCH and live is not None and self.live is None:
            # a job re-attached from the Jobs screen before this screen existed: follow its live view
            self.live = live
            self._timer = self.set_interval(1.0 / self.wb.plot_hz, self._poll)

    def on_resize(self) -> None:
        self._layout()

    def _layout(self) -> None:
        narrow = self.size.width < 100
        self.set_class(narrow, "narrow")
        panel = self.query_one(TelemetryPanel)
        if panel.compact != narrow:
            panel.compact = narrow
            panel.poll()

    # --- view ------------------------------------------------------------------------------------------
    def _settings_text(self) -> str:
        ctx = self.wb.state.job
        if ctx is None:
            return ""
        o = ctx.request
        dur = o.duration_s if o.duration_s is not None else ctx.profile.benchmark.duration_s
        thr = o.threads if o.threads is not None else ctx.profile.build.intra_op_threads
        from workbench.core.job import bench_batch

        return f"{dur:g} s ([ ]) · threads {thr or 'auto'} (t) · batch {bench_batch(ctx)}"

    def _job_head(self, head: Text) -> bool:
        """The followed (or last shown) detached job's own settings, when it has reported them: model, profile,
        precision, backend, length, threads and batch of that job, not this TUI's current ones."""
        st = self.wb.state
        js = st.job_settings
        if js is None:
            return False
        length = f"{js.iterations} iterations" if js.iterations else f"{js.duration_s:g} s"
        head.append(f"Benchmark {js.precision.upper()} ", style="bold")
        head.append(f"· {js.backend} · {length} · threads {js.threads or 'auto'} · batch {js.batch}")
        head.append(f"\njob {st.job_id} · {js.model} · {js.profile}", style="dim")
        return True

    def refresh_view(self, what: Change) -> None:
        st = self.wb.state
        job = st.job
        head = Text()
        if self._job_head(head):
            pass
        elif job is None:
            head.append(st.context_error or "loading model…", style="red" if st.context_error else "dim")
        else:
            head.append(f"Benchmark {st.precision.upper()} ", style="bold")
            head.append(f"· {job.backend.name} · {self._settings_text()}")
        self.query_one("#bench-head", Static).update(head)
        if what == Change.MOUNT:
            self._show_final()

    def _show_final(self) -> None:
        from workbench.core.results.summary import summary

        st = self.wb.state
        result = st.last_result
        snap = self.live.snapshot() if self.live is not None else None
        self.query_one("#bench-stats", Static).update(stats_text(snap, result))
        if result is None:
            self.query_one("#bench-summary", Static).update("")
            return
        if self.live is None:
            plot = self.query_one(LatencyPlot)
            plot.empty_text = "recorded result (no live samples)" if st.recorded_result else "no live samples"
            plot.refresh()
        t = Text()
        if self._show_compare and st.previous_result is not None:
            self._compare_token += 1
            self.query_one("#bench-summary", Static).update(Text("comparing…", style="dim"))
            self.wb.start_compare(
                st.previous_result,
                result,
                ("previous", "this run"),
                "Previous run (A) vs this run (B)",
                self._compare_token,
            )
            return
        for line in summary(result).splitlines(keepends=True):
            # the core's summary says on its second line when the figures are not this machine's: highlight it
            t.append(line, style="bold yellow" if line.startswith("Provenance:") else "")
        best = self._best
        if best is not None and best.chosen is result:
            from workbench.core.results.summary import best_line

            t.append("\n" + best_line(best.chosen, best.candidates, best.skipped, best.reasons), style="bold")
        self.query_one("#bench-summary", Static).update(t)

    def _poll(self) -> None:
        if self.live is None:
            return
        snap = self.live.snapshot()
        if snap.version == self._version:
            return
        self._version = snap.version
        self.query_one(LatencyPlot).set_points(snap.points_ms)
        self.query_one("#bench-stats", Static).update(stats_text(snap, None))
        # the live energy estimate needs a live rate: none once the run has ended
        self.query_one(TelemetryPanel).ips = None if snap.finished else snap.throughput_ips

    def on_compared(self, msg: Compared) -> None:
        if msg.token != self._compare_token or not self._show_compare:
            return
        from rich.console import Group

        from workbench.ui.widgets.compare import comparison_view

        self.query_one("#bench-summary", Static).update(
            Group(Text(msg.heading, style="bold"), comparison_view(msg.comparison, msg.titles))
        )

    def on_progress_msg(self, msg: ProgressMsg) -> None:
        if msg.kind == JobKind.BENCH:
            p = msg.progress
            self.query_one("#bench-summary", Static).update(Text(f"[{p.step}] {p.message}", style="dim"))

    def _ended(self) -> None:
        self._poll()
        self.query_one(TelemetryPanel).ips = None
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def on_bench_finished(self, msg: BenchFinished) -> None:
        self._ended()
        self._show_compare = False
        self._best = msg.best
        self._show_final()

    def on_job_failed(self, msg: JobFailed) -> None:
        if msg.kind != JobKind.BENCH:
            return
        self._ended()
        self.query_one("#bench-summary", Static).update(
            Text(
                ("stopped: " if msg.cancelled else "failed: ")
                + msg.message
                + (f"\nhint: {msg.hint}" if msg.hint else ""),
                style="red",
            )
        )

    # --- actions ---------------------------------------------------------------------------------------
    def action_start(self) -> None:
        from workbench.core.job import bench_batch
        from workbench.core.live import LiveLatency

        wb = self.wb
        st = wb.state
        job = st.job
        if job is None:
            self.notify("no model loaded", severity="warning")
            return
        cancel = wb.begin_job(JobKind.BENCH)
        if cancel is None:
            return
        self.live = LiveLatency(batch=bench_batch(job))
        self._version = -1
        self.query_one(LatencyPlot).set_points(())
        self.query_one(LatencyPlot).empty_text = "waiting for samples…"
        self.query_one(LatencyPlot).refresh()
        self.query_one("#bench-summary", Static).update(Text("starting…", style="dim"))
        self._timer = self.set_interval(1.0 / wb.plot_hz, self._poll)
        wb.followed_live = self.live
        # `workbench bench` as a detached job, built from this TUI's request: it outlives the TUI (workers.py)
        wb.start_bench(st.request, self.live, cancel)

    def action_attach(self) -> None:
        """Follow the newest running detached job (started with `workbench run/bench` from a shell). The jobs are
        listed in the worker, off the UI thread; the screen changes only once one is found (on_attached)."""
        from workbench.core.live import LiveLatency

        wb = self.wb
        cancel = wb.begin_job(JobKind.BENCH)
        if cancel is None:
            return
        live = LiveLatency()
        wb.followed_live = live
        wb.start_attach(live, cancel)

    def on_attached(self, msg: Attached) -> None:
        if msg.kind != JobKind.BENCH or msg.live is None:
            return
        if msg.live is self.live:  # the run this screen started: its plot is already set up
            return
        self.live = msg.live
        self._version = -1
        plot = self.query_one(LatencyPlot)
        plot.set_points(())
        plot.empty_text = f"attached to job {msg.job_id}…"
        plot.refresh()
        self.query_one("#bench-summary", Static).update(Text(f"attached to {msg.command}", style="dim"))
        if self._timer is None:
            self._timer = self.set_interval(1.0 / self.wb.plot_hz, self._poll)

    def _change(self, **changes: Any) -> None:
        if self.wb.busy == JobKind.BENCH:
            self.notify("stop the run first (x)", severity="warning")
            return
        self.wb.set_options(**changes)

    def action_duration(self, step: int) -> None:
        ctx = self.wb.state.job
        if ctx is None:
            return
        cur = ctx.request.duration_s if ctx.request.duration_s is not None else ctx.profile.benchmark.duration_s
        idx = min(range(len(DURATIONS_S)), key=lambda i: abs(DURATIONS_S[i] - cur))
        nxt = DURATIONS_S[max(0, min(len(DURATIONS_S) - 1, idx + step))]
        self._change(duration_s=nxt, iterations=None)

    def action_threads(self) -> None:
        ctx = self.wb.state.job
        if ctx is None:
            return
        cur = ctx.request.threads
        nxt = THREADS[(THREADS.index(cur) + 1) % len(THREADS)] if cur in THREADS else None
        self._change(threads=nxt)

    def action_compare(self) -> None:
        st = self.wb.state
        if st.previous_result is None or st.last_result is None:
            self.notify(
                "no previous run in this session to compare with (Results screen compares stored runs)", timeout=4
            )
            return
        self._show_compare = not self._show_compare
        self._show_final()
