"""8. Power sweep: the board's nvpmodel modes, a sweep run in a worker (set mode, settle, benchmark, restore the
original mode — core.power.sweep.start_sweep), the table as rows arrive, the recommendation and a latency-vs-power
scatter. Off a Jetson (no nvpmodel.conf) it says so and starts nothing. A recorded SweepResult injected through
``make_app(recorded=Recorded(sweep=...))`` is shown labelled "recorded — not measured on this machine".
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from workbench.core.textsafe import block
from workbench.ui.messages import Change, JobFailed, JobKind, ProgressMsg, SweepFinished, SweepRowFinished
from workbench.ui.screens.base import WorkbenchScreen
from workbench.ui.widgets.sweep_plot import SweepPlot

COLUMNS: tuple[tuple[str, str], ...] = (
    ("mode", "mode"),
    ("id", "id"),
    ("p50", "p50 ms"),
    ("p99", "p99 ms"),
    ("ips", "inf/s"),
    ("watts", "mean W"),
    ("mj", "mJ/inf"),
    ("status", "status"),
)
RECORDED_LABEL = "[recorded — not measured on this machine]"


def _f(v: float | None, spec: str) -> str:
    return "n/a" if v is None else format(v, spec)


def row_cells(r: Any) -> tuple[str, ...]:
    """Table cells of a SweepRow (n/a for missing values; the reason beside any status other than ok)."""
    status = r.status
    if r.throttle_reasons:
        status += f" (throttled: {'; '.join(r.throttle_reasons)})"
    if r.reason and r.status != "ok":
        status += f" — {r.reason}"
    return (
        r.mode,
        str(r.mode_id),
        _f(r.p50_ms, ".3f"),
        _f(r.p99_ms, ".3f"),
        _f(r.throughput_ips, ".1f"),
        _f(r.mean_power_w, ".2f"),
        _f(r.mj_per_inference, ".3f"),
        status,
    )


def _parse_limit(value: str) -> float | None:
    """'' / 'none' -> None; a positive number -> float. Raises ValueError otherwise."""
    v = value.strip().lower()
    if v in ("", "none", "-"):
        return None
    x = float(v)
    if not x > 0:
        raise ValueError(value)
    return x


class SweepScreen(WorkbenchScreen):
    MODE = "sweep"
    BINDINGS = [
        Binding("s", "start", "Start sweep", id="sweep.start"),
        Binding("m", "modes", "Modes", id="sweep.modes"),
        Binding("l", "p99_target", "p99 target", id="sweep.p99"),
        Binding("w", "power_budget", "Power budget", id="sweep.power"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.conf: Any = None  # NvpmodelConf, None when there is none to read
        self.conf_problem: str | None = None
        self.modes_spec = "all"
        self.p99_max_ms: float | None = None
        self.power_max_w: float | None = None
        self.cooldown_timeout_s = 120.0  # as `workbench sweep --cooldown-timeout`
        self.live_rows: list[Any] = []
        self.running = False

    def compose_body(self) -> ComposeResult:
        with Vertical(id="body"):
            yield Static(id="sweep-modes")
            yield Static(id="sweep-settings")
            yield DataTable(id="sweep-table", cursor_type="row", zebra_stripes=True, show_cursor=False)
            yield Static(id="sweep-rec")
            yield SweepPlot(id="sweep-plot")

    def on_mount(self) -> None:
        t = self.query_one(DataTable)
        for key, header in COLUMNS:
            t.add_column(header, key=key)
        self.load_conf()
        super().on_mount()

    # --- board modes -----------------------------------------------------------------------------------
    def conf_path(self) -> Path:
        from workbench.core.power.nvpmodel import DEFAULT_CONF

        conf = self.wb.nvpmodel_conf
        return Path(conf) if conf is not None else Path("/") / DEFAULT_CONF

    def load_conf(self) -> None:
        from workbench.core.errors import WorkbenchError
        from workbench.core.power.nvpmodel import load_conf

        path = self.conf_path()
        self.conf, self.conf_problem = None, None
        if not path.exists():
            self.conf_problem = f"not a Jetson: nvpmodel.conf not found ({path}); power modes exist only on Jetson"
        else:
            try:
                self.conf = load_conf(path)
            except WorkbenchError as exc:
                self.conf_problem = str(exc) + (f"\nhint: {exc.hint}" if getattr(exc, "hint", "") else "")
        t = Text()
        if self.conf is None:
            t.append(block(self.conf_problem or ""), style="bold red")
        else:
            t.append(f"Board modes ({path}): ", style="bold")
            t.append(
                " · ".join(
                    f"{m.id} {m.name}" + (" (default)" if m.id == self.conf.default_id else "") for m in self.conf.modes
                )
            )
            for p in self.conf.problems:
                t.append(f"\n{block(p)}", style="yellow")
        self.query_one("#sweep-modes", Static).update(t)

    # --- view ------------------------------------------------------------------------------------------
    def _settings_text(self) -> Text:
        st = self.wb.state
        ctx = st.job
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f"sweep {self.modes_spec} (m)", style="bold")
        t.append(" · p99 ≤ " + (f"{self.p99_max_ms:g} ms" if self.p99_max_ms else "—") + " (l)")
        t.append(" · power ≤ " + (f"{self.power_max_w:g} W" if self.power_max_w else "—") + " (w)")
        if ctx is not None:
            o = ctx.request
            per = (
                f"{o.iterations} iterations"
                if o.iterations
                else f"{o.duration_s if o.duration_s is not None else ctx.profile.benchmark.duration_s:g} s"
            )
            t.append(f" · {st.precision.upper()}, {per} per mode · s starts, x cancels", style="dim")
        return t

    def refresh_view(self, what: Change) -> None:
        self.query_one("#sweep-settings", Static).update(self._settings_text())
        if what in (Change.MOUNT, Change.SWEEP) and not self.running:
            self.show_result()

    def _fill(self, rows: Any) -> None:
        t = self.query_one(DataTable)
        t.clear()
        for k, r in enumerate(rows):
            t.add_row(*row_cells(r), key=f"{k}:{r.mode_id}")

    def show_result(self) -> None:
        st = self.wb.state
        res = st.sweep
        plot = self.query_one(SweepPlot)
        rec = self.query_one("#sweep-rec", Static)
        if res is None:
            self._fill(())
            rec.update(Text("no sweep yet: s runs one over the modes above", style="dim"))
            plot.set_rows((), "the latency-vs-power plot appears after a sweep")
            return
        self._fill(res.rows)
        t = Text()
        if st.sweep_recorded:
            t.append(RECORDED_LABEL + "\n", style="bold yellow")
        r = res.recommendation
        t.append("Recommendation: ", style="bold")
        t.append(f"{r.mode} — {r.reason}" if r.mode else f"none — {r.reason}", style="bold green" if r.mode else "")
        limits = [f"p99 ≤ {r.p99_max_ms:g} ms"] if r.p99_max_ms is not None else []
        limits += [f"mean power ≤ {r.power_max_w:g} W"] if r.power_max_w is not None else []
        if limits:
            t.append(f" ({', '.join(limits)})", style="dim")
        if res.cancelled:
            t.append("\nsweep cancelled", style="yellow")
        if res.error:
            t.append(f"\nsweep stopped: {block(res.error)}", style="red")
        if res.original_mode is not None:
            t.append(f"\nOriginal mode {res.original_mode} (id {res.original_id}): ")
            t.append(
                "restored" if res.restored else f"NOT restored ({res.restore_error})",
                style="" if res.restored else "bold red",
            )
        for n in res.notes:
            t.append(f"\nnote: {n}", style="dim")
        rec.update(t)
        plot.set_rows(res.rows, self._empty_plot_text(res.rows))

    @staticmethod
    def _empty_plot_text(rows: Any) -> str:
        if not rows:
            return "no modes were benchmarked"
        if any(r.status == "not_measured" for r in rows):
            return "nothing to plot: replayed telemetry is not a measurement"
        if not any(r.status == "ok" for r in rows):
            return "nothing to plot: no mode was benchmarked"
        return "nothing to plot: no mode has a measured mean power (the telemetry source has no power reading)"

    def on_sweep_row_finished(self, msg: SweepRowFinished) -> None:
        self.live_rows.append(msg.row)
        self._fill(self.live_rows)
        self.query_one(SweepPlot).set_rows(self.live_rows, "waiting for a mode with measured power…")

    def on_progress_msg(self, msg: ProgressMsg) -> None:
        if msg.kind == JobKind.SWEEP:
            p = msg.progress
            self.query_one("#sweep-rec", Static).update(Text(block(f"[{p.step}] {p.message}"), style="dim"))

    def on_sweep_finished(self, msg: SweepFinished) -> None:
        self.running = False
        self.show_result()

    def on_job_failed(self, msg: JobFailed) -> None:
        if msg.kind != JobKind.SWEEP:
            return
        self.running = False
        self.query_one("#sweep-rec", Static).update(
            Text(
                ("stopped: " if msg.cancelled else "failed: ")
                + block(msg.message + (f"\nhint: {msg.hint}" if msg.hint else "")),
                style="red",
            )
        )

    # --- actions ---------------------------------------------------------------------------------------
    def action_start(self) -> None:
        from workbench.core.errors import WorkbenchError
        from workbench.core.power.sweep import select_modes

        wb = self.wb
        st = wb.state
        if self.conf is None:
            self.notify(self.conf_problem or "no nvpmodel.conf", severity="warning", timeout=6)
            return
        job = st.job
        if job is None:
            self.notify("no model loaded", severity="warning")
            return
        try:
            select_modes(self.conf, self.modes_spec)  # a bad list is refused here, before a job starts
        except WorkbenchError as exc:
            self.notify(str(exc) + (f"\nhint: {exc.hint}" if getattr(exc, "hint", "") else ""), severity="error")
            return
        cancel = wb.begin_job(JobKind.SWEEP)
        if cancel is None:
            return
        self.running = True
        self.live_rows = []
        self._fill(())
        self.query_one(SweepPlot).set_rows((), "waiting for the first mode…")
        self.query_one("#sweep-rec", Static).update(Text("starting…", style="dim"))
        wb.start_sweep(self.job_request(job), self.sweep_argv(), cancel)

    def job_request(self, job: Any) -> Any:
        """The request the sweep job runs: this TUI's, with the per-mode length resolved as shown (the profile's
        duration when none is set; `workbench sweep` alone would use its own 10 s)."""
        o = job.request
        if o.iterations or o.duration_s is not None:
            return o
        return replace(o, duration_s=job.profile.benchmark.duration_s)

    def sweep_argv(self) -> tuple[str, ...]:
        """The sweep's own options of `workbench sweep` (the modes, the board's conf, targets, cooling)."""
        argv = ["--modes", self.modes_spec, "--conf", str(self.conf_path())]
        argv += ["--cooldown-timeout", repr(float(self.cooldown_timeout_s))]
        if self.p99_max_ms:
            argv += ["--p99-max", repr(float(self.p99_max_ms))]
        if self.power_max_w:
            argv += ["--power-max", repr(float(self.power_max_w))]
        return tuple(argv)

    def _prompt(self, title: str, value: str, apply: Any) -> None:
        self.prompt_setting(
            title,
            value,
            apply,
            busy="a sweep is running: cancel it first (x)" if self.running else None,
            invalid="not a positive number",
            after=lambda: self.query_one("#sweep-settings", Static).update(self._settings_text()),
        )

    def action_modes(self) -> None:
        def apply(text: str) -> None:
            from workbench.core.errors import WorkbenchError
            from workbench.core.power.sweep import select_modes

            spec = text.strip() or "all"
            if self.conf is not None:
                try:
                    select_modes(self.conf, spec)
                except WorkbenchError as exc:
                    self.notify(str(exc) + (f"\nhint: {exc.hint}" if exc.hint else ""), severity="error")
                    return
            self.modes_spec = spec

        self._prompt(
            "Modes to sweep: all, or names/ids separated by commas (max = highest power)", self.modes_spec, apply
        )

    def action_p99_target(self) -> None:
        def apply(text: str) -> None:
            self.p99_max_ms = _parse_limit(text)

        self._prompt(
            "Latency target: p99 <= ms (empty = none)", f"{self.p99_max_ms:g}" if self.p99_max_ms else "", apply
        )

    def action_power_budget(self) -> None:
        def apply(text: str) -> None:
            self.power_max_w = _parse_limit(text)

        self._prompt(
            "Power budget: mean W <= (empty = none)", f"{self.power_max_w:g}" if self.power_max_w else "", apply
        )
