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

from workbench.ui.screens.base import WorkbenchScreen
from workbench.ui.widgets.latency_plot import LatencyPlot
from workbench.ui.widgets.telemetry_panel import TelemetryPanel

DURATIONS_S = (1.0, 3.0, 5.0, 10.0, 30.0, 60.0)
THREADS = (None, 1, 2, 4, 8)


def stats_text(snap: Any, entry: dict | None) -> Text:
    """One or two lines: iterations, rolling p50/p99, throughput (live), or the stored figures (finished)."""
    t = Text()
    if entry is not None and (snap is None or snap.finished):
        lat = entry["latency_ms"]
        t.append("p50 ", style="bold")
        t.append(f"{lat['p50']:.4f} ms  ")
        t.append("p99 ", style="bold")
        t.append(f"{lat['p99']:.4f} ms  ", style="bold")
        t.append("thr ", style="bold")
        t.append(f"{entry['throughput_ips']:.1f} inf/s  " if entry.get("throughput_ips") is not None else "n/a  ")
        t.append("iter ", style="bold")
        t.append(f"{entry['iterations']:,}")
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
        app: Any = self.app
        ctx = app.state.ctx
        if ctx is None:
            return ""
        o = ctx.options
        dur = o.duration_s if o.duration_s is not None else ctx.profile.benchmark.duration_s
        thr = o.threads if o.threads is not None else ctx.profile.build.intra_op_threads
        return f"{dur:g} s ([ ]) · threads {thr or 'auto'} (t) · batch {o.batch or ctx.profile.benchmark.batch}"

    def state_changed(self, what: str) -> None:
        app: Any = self.app
        st = app.state
        head = Text()
        if st.ctx is None:
            head.append(st.context_error or "loading model…", style="red" if st.context_error else "dim")
        else:
            head.append(f"Benchmark {st.precision.upper()} ", style="bold")
            head.append(f"· {st.ctx.backend.name} · {self._settings_text()}")
        self.query_one("#bench-head", Static).update(head)
        if what == "mount":
            self._show_final()

    def _show_final(self) -> None:
        from workbench.cli.report import summary

        app: Any = self.app
        st = app.state
        entry = st.last_entry
        snap = self.live.snapshot() if self.live is not None else None
        self.query_one("#bench-stats", Static).update(stats_text(snap, entry))
        if entry is None:
            self.query_one("#bench-summary", Static).update("")
            return
        if self.live is None:
            plot = self.query_one(LatencyPlot)
            plot.empty_text = "recorded result (no live samples)" if st.recorded_entry else "no live samples"
            plot.refresh()
        t = Text()
        if st.recorded_entry:
            t.append("[recorded result — not measured in this session]\n", style="bold yellow")
        if self._show_compare and st.previous_entry is not None:
            from rich.console import Group

            from workbench.ui.widgets.compare import compare_table

            self.query_one("#bench-summary", Static).update(
                Group(
                    Text("Previous run (A) vs this run (B)", style="bold"),
                    compare_table(st.previous_entry, entry, title_a="previous", title_b="this run"),
                )
            )
            return
        t.append(summary(entry))
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

    def job_event(self, msg: Any) -> None:
        from workbench.ui.messages import JobDone, JobFailed, StepMsg

        if msg.job != "bench":
            return
        if isinstance(msg, StepMsg):
            self.query_one("#bench-summary", Static).update(Text(f"[{msg.step.step}] {msg.step.message}", style="dim"))
        elif isinstance(msg, (JobDone, JobFailed)):
            self._poll()
            self.query_one(TelemetryPanel).ips = None
            if self._timer is not None:
                self._timer.stop()
                self._timer = None
            if isinstance(msg, JobFailed):
                self.query_one("#bench-summary", Static).update(
                    Text(
                        ("stopped: " if msg.cancelled else "failed: ")
                        + msg.message
                        + (f"\nhint: {msg.hint}" if msg.hint else ""),
                        style="red",
                    )
                )
            else:
                self._show_compare = False
                self._show_final()

    # --- actions ---------------------------------------------------------------------------------------
    def action_start(self) -> None:
        from workbench.core.live import LiveLatency

        app: Any = self.app
        st = app.state
        if st.ctx is None:
            self.notify("no model loaded", severity="warning")
            return
        cancel = app.begin_job("bench")
        if cancel is None:
            return
        batch = st.ctx.options.batch or st.ctx.profile.benchmark.batch
        self.live = LiveLatency(batch=batch)
        self._version = -1
        self.query_one(LatencyPlot).set_points(())
        self.query_one(LatencyPlot).empty_text = "waiting for samples…"
        self.query_one(LatencyPlot).refresh()
        self.query_one("#bench-summary", Static).update(Text("starting…", style="dim"))
        self._timer = self.set_interval(1.0 / app.plot_hz, self._poll)
        art = st.artifact if st.artifact is not None and st.artifact.precision == st.precision else None
        acc = st.accuracy if st.accuracy_precision == st.precision else None
        app.job_bench(
            st.ctx, st.precision, art, acc, dict(st.build_extra) if art is not None else {}, self.live, cancel
        )

    def action_attach(self) -> None:
        """Follow the newest running detached job (started with `workbench run/bench` from a shell)."""
        from workbench.core import jobs
        from workbench.core.live import LiveLatency

        app: Any = self.app
        running = [j for j in jobs.list_jobs() if j.state() == "running"]
        if not running:
            self.notify(
                "no running job: `workbench bench` / `run` in a shell start one that survives a dropped SSH session"
            )
            return
        job = running[0]
        cancel = app.begin_job("bench")
        if cancel is None:
            return
        self.live = LiveLatency()
        self._version = -1
        self.query_one(LatencyPlot).set_points(())
        self.query_one(LatencyPlot).empty_text = f"attached to job {job.id}…"
        self.query_one(LatencyPlot).refresh()
        self.query_one("#bench-summary", Static).update(Text(f"attached to {' '.join(job.argv)}", style="dim"))
        self._timer = self.set_interval(1.0 / app.plot_hz, self._poll)
        app.job_attach(job, self.live, cancel)

    def _change(self, **changes: Any) -> None:
        app: Any = self.app
        if app.busy == "bench":
            self.notify("stop the run first (x)", severity="warning")
            return
        app.set_options(**changes)

    def action_duration(self, step: int) -> None:
        app: Any = self.app
        ctx = app.state.ctx
        if ctx is None:
            return
        cur = ctx.options.duration_s if ctx.options.duration_s is not None else ctx.profile.benchmark.duration_s
        idx = min(range(len(DURATIONS_S)), key=lambda i: abs(DURATIONS_S[i] - cur))
        nxt = DURATIONS_S[max(0, min(len(DURATIONS_S) - 1, idx + step))]
        self._change(duration_s=nxt, iterations=None)

    def action_threads(self) -> None:
        app: Any = self.app
        ctx = app.state.ctx
        if ctx is None:
            return
        cur = ctx.options.threads
        nxt = THREADS[(THREADS.index(cur) + 1) % len(THREADS)] if cur in THREADS else None
        self._change(threads=nxt)

    def action_compare(self) -> None:
        app: Any = self.app
        if app.state.previous_entry is None or app.state.last_entry is None:
            self.notify(
                "no previous run in this session to compare with (Results screen compares stored runs)", timeout=4
            )
            return
        self._show_compare = not self._show_compare
        self._show_final()
