"""6. Benchmark: the live view. Latency over time with p50/p99 and, on the same time axis, power and temperature
from the telemetry feed — or, on ``h``, the latency histogram (widgets/bench_plot.py); rolling p50/p99,
throughput and iterations, beside the telemetry panel; the final summary in the CLI's layout (PgUp/PgDn scroll
it); start / stop / re-run with changed settings; compare with the previous run. Before a run of its own, an
injected recorded latency trace (ui/recorded.py) is plotted, labelled "recorded".

The worker passes ``LiveLatency.feed`` as ``on_event``; this screen polls ``snapshot()`` at <= app.plot_hz
(10 Hz) while a run is in progress and not at all otherwise.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static

from workbench.core.live import LiveStats
from workbench.core.results.result import BenchmarkResult
from workbench.core.textsafe import block, field
from workbench.ui.messages import Attached, BenchFinished, Change, Compared, JobFailed, JobKind, ProgressMsg
from workbench.ui.screens.base import WorkbenchScreen
from workbench.ui.widgets.bench_plot import BenchPlot, PlotData, power_series, short_label, temp_series
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
    if snap.phase == "done":
        # The live figures are the rolling window's (the last 2000 queries); the run's own, over all its queries,
        # arrive with the stored result a moment later. Showing the window's here would show other numbers.
        t.append(f"iter {snap.iterations:,} · building and storing the result…", style="dim")
        return t
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
        Binding("s", "start", "Start", id="bench.start", tooltip="start or re-run the benchmark"),
        # [ ] and t are named in the header line ("3 s ([ ]) · threads auto (t)"), so not in the footer
        Binding("left_square_bracket", "duration(-1)", "Shorter", id="bench.shorter", key_display="[", show=False),
        Binding("right_square_bracket", "duration(1)", "Longer", id="bench.longer", key_display="]", show=False),
        Binding("t", "threads", "Threads", id="bench.threads", show=False),
        Binding("h", "histogram", "Histogram", id="bench.histogram", tooltip="latency over time / histogram"),
        Binding("v", "compare", "Vs prev", id="bench.compare", tooltip="compare with the previous run"),
        Binding("a", "attach", "Attach", id="bench.attach", tooltip="follow a running detached job"),
        Binding("pagedown", "summary(1)", "Summary down", id="bench.summary_down", show=False),
        Binding("pageup", "summary(-1)", "Summary up", id="bench.summary_up", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.live: Any = None
        self._timer: Any = None
        self._version = -1
        self._show_compare = False
        self._compare_token = 0
        self._best = None  # the last 'best' outcome, for its candidates line
        self._view = "time"

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="body", classes="bench"):
            with Vertical(id="bench-left"):
                yield Static(id="bench-head")
                yield BenchPlot(id="bench-plot")
                yield Static(id="bench-stats")
                with VerticalScroll(id="bench-summary-scroll") as sc:
                    sc.border_title = "Summary · PgUp/PgDn scroll"
                    sc.can_focus = False
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
        head.append(f"\njob {field(st.job_id)} · {field(js.model)} · {field(js.profile)}", style="dim")
        return True

    def refresh_view(self, what: Change) -> None:
        st = self.wb.state
        job = st.job
        head = Text()
        if self._job_head(head):
            pass
        elif job is None:
            head.append(block(st.context_error or "loading model…"), style="red" if st.context_error else "dim")
        else:
            head.append(f"Benchmark {st.precision.upper()} ", style="bold")
            head.append(f"· {job.backend.name} · {field(self._settings_text())}")
        self.query_one("#bench-head", Static).update(head)
        if what == Change.MOUNT:
            self._show_final()

    def _show_final(self) -> None:
        from workbench.core.results.summary import summary

        st = self.wb.state
        result = st.last_result
        snap = self.live.snapshot() if self.live is not None else None
        self.query_one("#bench-stats", Static).update(stats_text(snap, result))
        if self.live is None:
            self._show_recorded_trace()
        if result is None:
            self.query_one("#bench-summary", Static).update("")
            return
        if self.live is None and self.wb.recorded_trace() is None:
            self.query_one(BenchPlot).show(
                empty_text="recorded result (no live samples)" if st.recorded_result else "no live samples"
            )
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
        self.query_one(BenchPlot).show(self._plot_data(snap))
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
            self.query_one("#bench-summary", Static).update(Text(block(f"[{p.step}] {p.message}"), style="dim"))

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
        plot = self.query_one(BenchPlot)
        if plot.data.lat_ms and msg.result is not None:
            # The run's own p50/p99 (all its queries, as the stats line and the summary say), not the last window's.
            lat = msg.result.latency
            plot.show(replace(plot.data, p50_ms=lat.p50_ms, p99_ms=lat.p99_ms))
        self._show_final()

    def on_job_failed(self, msg: JobFailed) -> None:
        if msg.kind != JobKind.BENCH:
            return
        self._ended()
        word = "stopped" if msg.cancelled else "failed"
        plot = self.query_one(BenchPlot)
        if not plot.data.lat_ms:  # nothing measured: say so where "waiting for samples…" was
            plot.show(PlotData(), empty_text=f"no samples: the run {word} (see below)")
        self.query_one("#bench-stats", Static).update(Text(f"[{word}] before any result was stored", style="red"))
        self.query_one("#bench-summary", Static).update(
            Text(
                ("stopped: " if msg.cancelled else "failed: ")
                + block(msg.message + (f"\nhint: {msg.hint}" if msg.hint else "")),
                style="red",
            )
        )

    # --- plot data -------------------------------------------------------------------------------------
    def _telemetry(self, t0: float | None) -> dict[str, Any]:
        """Power and temperature series on the latency's time axis. Live samples are placed by their monotonic
        time relative to ``t0`` (the run's start); recorded samples by their own first time stamp."""
        feed = self.wb.telemetry
        if feed is None:
            return {"telemetry_note": "starting"}
        if getattr(feed, "error", None):
            return {"telemetry_note": feed.error}
        hist = feed.history()
        recorded = feed.label is not None and feed.label.startswith("recorded")
        if recorded or t0 is None:
            t0 = hist[0].timestamp_s if hist else 0.0
        else:
            hist = [s for s in hist if s.timestamp_s >= t0]
        pt, pw = power_series(hist, t0)
        tt, tc, name = temp_series(hist, t0)
        note = None
        if not pw and not tc:
            un = getattr(feed, "unavailable", {}) or {}
            note = next(iter(un.values()), None) or ("no readings yet" if not hist else "no power or temperature")
        return {
            "power_t_s": pt,
            "power_w": pw,
            "temp_t_s": tt,
            "temp_c": tc,
            "temp_name": name,
            "telemetry_label": short_label(feed.label),
            "telemetry_note": note,
        }

    def _plot_data(self, snap: LiveStats) -> PlotData:
        return PlotData(
            lat_t_s=snap.points_t_s,
            lat_ms=snap.points_ms,
            lat_max_ms=snap.points_max_ms,
            p50_ms=snap.p50_ms,
            p99_ms=snap.p99_ms,
            window_ms=snap.window_ms,
            **self._telemetry(snap.started_s),
        )

    def _show_recorded_trace(self) -> None:
        """Before a run of its own, the app's recorded latency trace (if any) with the recorded telemetry."""
        tr = self.wb.recorded_trace()
        if tr is None or self.live is not None:
            return
        self.query_one("#bench-stats", Static).update(
            Text.assemble(
                ("[recorded trace] ", "bold yellow"),
                ("p50 ", "bold"),
                _ms(tr.p50_ms),
                ("p99 ", "bold"),
                _ms(tr.p99_ms),
                (f"{len(tr.window_ms)} queries", ""),
            )
        )
        self.query_one(BenchPlot).show(
            PlotData(
                lat_t_s=tr.t_s,
                lat_ms=tr.ms,
                lat_max_ms=tr.max_ms,
                p50_ms=tr.p50_ms,
                p99_ms=tr.p99_ms,
                window_ms=tr.window_ms,
                latency_label="recorded",
                **self._telemetry(None),
            )
        )

    # --- actions ---------------------------------------------------------------------------------------
    def action_histogram(self) -> None:
        """Toggle the plot between latency over time (with power and temperature) and the latency histogram."""
        self._view = "hist" if self._view == "time" else "time"
        self.query_one(BenchPlot).show(view=self._view)

    def action_summary(self, direction: int) -> None:
        sc = self.query_one("#bench-summary-scroll", VerticalScroll)
        if direction > 0:
            sc.scroll_page_down(animate=False)
        else:
            sc.scroll_page_up(animate=False)

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
        self.query_one(BenchPlot).show(PlotData(), empty_text="waiting for samples…")
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
        self.query_one(BenchPlot).show(PlotData(), empty_text=f"attached to job {msg.job_id}…")
        self.query_one("#bench-summary", Static).update(Text(f"attached to {field(msg.command)}", style="dim"))
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
