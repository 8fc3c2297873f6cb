"""9. Tune: search the deployments of the loaded model for the fastest that keeps its accuracy (`workbench tune`).

``s`` starts ``workbench tune [MODEL] --calib DIR --eval DIR --min-cosine C|--max-drop P --objective O
--budget-min N`` (plus ``--p99-max`` / ``--power-max`` when set) as a detached job, built from the app's request (the
model and its model options, the calibration and eval folders the Calibrate screen shows) and this screen's settings
(``o`` objective, ``b`` budget, ``c`` / ``t`` the accuracy bound, ``l`` / ``w`` the latency and power bounds). The
job's events feed the screen: ``TuneProgress`` (candidates done / left, ETA) and ``StepProgress`` on the progress
line, ``TuneCandidateDone`` as table rows; its outcome (``{"command": "tune", "tune": TuneResult.to_dict()}``) gives
the front (★ in the table, joined on the plot), the recommendation with its reasons and the tuned profile's path.
``u`` loads the tuned profile into the app (``set_profile``: a path, as ``--profile`` takes), so the Benchmark screen
benchmarks it. ``x`` cancels (the app's cancel: SIGINT to the job, which restores a power mode it changed). Rows whose figures were
not measured on this run (recorded, replayed) say so in their status cell. A recorded TuneResult injected through
``make_app(recorded=Recorded(tune=...))`` is shown labelled "recorded — not measured on this machine".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from workbench.core.textsafe import block, field
from workbench.ui.messages import (
    Attached,
    Change,
    JobFailed,
    JobKind,
    ProgressMsg,
    TuneFinished,
    TuneProgressed,
    TuneRowFinished,
)
from workbench.ui.screens.base import WorkbenchScreen
from workbench.ui.widgets.tune_plot import TunePlot, mark_for, plot_data

OBJECTIVES = ("p50", "p99", "throughput", "energy")  # core/tune/types.py OBJECTIVES, in the order `o` cycles them
RECORDED_LABEL = "[recorded — not measured on this machine]"
# Request fields that say which model is tuned and how it is read (core/jobs.py _MODEL_FIELDS): the tune job needs
# these from the app's request; precision, calibration method and benchmark settings are what the tune searches.
MODEL_FIELDS = ("profile", "spec", "trust_model", "backend", "export_opset", "export_dynamic_batch", "input_shapes")
COLUMNS: tuple[tuple[str, str], ...] = (
    ("mark", "#"),
    ("status", "status"),
    ("p50", "p50 ms"),
    ("p99", "p99 ms"),
    ("acc", "accuracy"),
    ("watts", "W"),
    ("mj", "mJ/inf"),
    ("label", "candidate"),
)
# Status words in the table, short enough for 80 columns; a rejection's reason follows the candidate's label.
STATUS_WORDS = {"rejected-accuracy": "rejected", "rejected-bound": "rejected", "not-run": "not run"}
STOPPED_WORDS = {"done": "search done", "budget": "stopped at the budget", "cancelled": "cancelled"}


@dataclass(frozen=True)
class TuneSettings:
    """This screen's options of `workbench tune`: ``objective`` (one of OBJECTIVES), ``budget_min`` (minutes, may be
    fractional), the accuracy bound (``min_cosine``: minimum per-sample output cosine vs FP32, or ``max_drop_pts``:
    top-1 drop in points; one of them), ``p99_max_ms`` (ms) and ``power_max_w`` (W), None = no bound. Defaults: the
    issue's example run (`--min-cosine 0.98 --budget-min 12`, objective p50)."""

    objective: str = "p50"
    budget_min: float = 12.0
    min_cosine: float | None = 0.98
    max_drop_pts: float | None = None
    p99_max_ms: float | None = None
    power_max_w: float | None = None


def tune_argv(request: Any, calib: Any, eval_: Any, s: TuneSettings) -> tuple[str, ...]:
    """The argv of ``workbench tune`` for ``request`` (core.job.JobRequest: its model and model options only), the
    ``calib`` and ``eval_`` folders and the settings ``s``.

    The model part comes from the core's one request-to-argv rule (``jobs.argv_for`` of a request that keeps only the
    model fields, whose options every model command shares); the tune options follow.

    Raises:
        UsageError: the request holds a model field the command line cannot express (``jobs.argv_for``).
    """
    from workbench.core import jobs as core_jobs
    from workbench.core.job import JobRequest

    base = JobRequest(model=request.model, **{f: getattr(request, f) for f in MODEL_FIELDS})
    argv = ["tune", *core_jobs.argv_for(base, "build")[1:], "--calib", str(calib), "--eval", str(eval_)]
    if s.max_drop_pts is not None:
        argv += ["--max-drop", repr(float(s.max_drop_pts))]
    elif s.min_cosine is not None:
        argv += ["--min-cosine", repr(float(s.min_cosine))]
    if s.p99_max_ms is not None:
        argv += ["--p99-max", repr(float(s.p99_max_ms))]
    if s.power_max_w is not None:
        argv += ["--power-max", repr(float(s.power_max_w))]
    argv += ["--objective", s.objective, "--budget-min", repr(float(s.budget_min))]
    return tuple(argv)


def duration(seconds: float | None) -> str:
    """Seconds in plain words: "45 s", "3 min 20 s", "1 h 05 min"; "—" for None."""
    if seconds is None:
        return "—"
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def progress_text(p: Any) -> str:
    """A TuneProgress as one line: "4 done · 8 left · ETA 3 min 20 s — measuring …"."""
    eta = duration(p.eta_s) if p.eta_s is not None else "after the first candidate"
    line = f"{p.done} done · {p.left} left · ETA {eta}"
    return line + (f" — {p.message}" if p.message else "")


def _f(v: float | None, spec: str) -> str:
    return "n/a" if v is None else format(v, spec)


def accuracy_cell(o: Any, use_drop: bool) -> str:
    """The figure the bound uses: top-1 drop in points ("0.30 pt", positive = worse) with ``use_drop``, else the
    minimum output cosine ("0.9912"); the other figure when only that one was measured; "n/a" for neither."""
    drop, cos = o.top1_drop_pts, o.cosine_min
    if drop is not None and (use_drop or cos is None):
        return f"{drop:.2f} pt"
    if cos is not None:
        return f"{cos:.4f}"
    return "n/a"


def row_cells(o: Any, mark: str, *, front: bool, recommended: bool, use_drop: bool) -> tuple[Any, ...]:
    """Table cells of a CandidateOutcome: its mark (★ on the front; bold cyan when recommended), status (STATUS_WORDS,
    with the provenance of figures not measured on this run), p50, p99, accuracy, W, mJ, and the label (with the
    reason of a candidate that was rejected, failed or not run)."""
    status = STATUS_WORDS.get(o.status, o.status)
    if not o.measured:
        status += f" [{o.provenance or 'not measured'}]"
    label = o.candidate.label()
    if o.reason and o.status not in ("measured", "confirmed"):
        label += f" — {o.reason}"
    return (
        Text(mark + ("★" if front else ""), style="bold cyan" if recommended else ("green" if front else "")),
        Text(status, style="" if o.measured else "yellow"),
        _f(o.p50_ms, ".3f"),
        _f(o.p99_ms, ".3f"),
        accuracy_cell(o, use_drop),
        _f(o.mean_power_w, ".1f"),
        _f(o.mj_per_inference, ".2f"),
        Text(block(label).replace("\n", " "), no_wrap=True, overflow="ellipsis"),
    )


def summary_text(res: Any, recorded: bool) -> Text:
    """How a tune ended, one line: "[recorded …] stopped at the budget: 11 of 12 candidates in 12 min 00 s (budget
    12 min 00 s) · objective p50"."""
    t = Text(no_wrap=True, overflow="ellipsis")
    if recorded:
        t.append(RECORDED_LABEL + " ", style="bold yellow")
    run = sum(1 for o in res.outcomes if o.status != "not-run")
    t.append(
        f"{STOPPED_WORDS.get(res.stopped, res.stopped)}: {run} of {len(res.outcomes)} candidates in "
        f"{duration(res.elapsed_s)} (budget {duration(res.budget_s)}) · objective {res.objective}"
    )
    return t


def recommendation_text(res: Any, marks: Mapping[str, str]) -> Text:
    """The recommendation (its table mark, label, stored confirmation run) with its reasons, one a line, and the
    tuned profile; or why there is no recommendation."""
    t = Text()
    rec = res.recommendation
    if rec is None:
        t.append("No recommendation: ", style="bold")
        t.append(block(res.no_recommendation or "no candidate meets the bounds"), style="yellow")
    else:
        t.append("Recommendation: ", style="bold")
        mark = marks.get(rec.candidate.key)
        t.append((f"{mark} " if mark else "") + block(rec.candidate.label()), style="bold green")
        if rec.result_id is not None:
            t.append(f" (result {rec.result_id})", style="dim")
        for r in rec.reasons:
            t.append(f"\n  {block(r)}")
        if res.profile_path:
            t.append("\nTuned profile: ", style="bold")
            t.append(field(res.profile_path))
            t.append(" (bench/build/run --profile PATH)", style="dim")
    return t


def _positive(value: str) -> float | None:
    """'' / 'none' / '-' -> None; a positive number -> float. Raises ValueError otherwise."""
    v = value.strip().lower()
    if v in ("", "none", "-"):
        return None
    x = float(v)
    if not x > 0:
        raise ValueError(value)
    return x


class TuneScreen(WorkbenchScreen):
    MODE = "tune"
    BINDINGS = [
        Binding("s", "start", "Start", id="tune.start", tooltip="start a tune of the loaded model"),
        Binding("o", "objective", "Objective", id="tune.objective", tooltip="p50 → p99 → throughput → energy"),
        Binding("b", "budget", "Budget", id="tune.budget", tooltip="the search's time budget in minutes"),
        Binding("c", "cosine", "Cosine", id="tune.cosine", tooltip="bound: minimum output cosine vs FP32"),
        Binding("t", "drop", "Top-1", id="tune.drop", tooltip="bound: maximum top-1 drop in points (needs labels)"),
        Binding("u", "use_profile", "Use profile", id="tune.use_profile", tooltip="load the tuned profile"),
        Binding("l", "p99", "p99 bound", id="tune.p99", show=False, tooltip="bound: p99 <= ms"),
        Binding("w", "power", "Power bound", id="tune.power", show=False, tooltip="bound: mean power <= W"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.settings = TuneSettings()
        self.live: dict[str, Any] = {}  # candidate key -> CandidateOutcome of the running (or followed) tune
        self.progress: Any = None  # the last TuneProgress
        self.note = ""  # the last step's words (StepProgress) or what was started
        self.running = False

    def compose_body(self) -> ComposeResult:
        with Vertical(id="body"):
            yield Static(id="tune-settings")
            yield Static(id="tune-progress")
            yield DataTable(id="tune-table", cursor_type="row", zebra_stripes=True, show_cursor=False)
            yield Static(id="tune-rec")
            yield TunePlot(id="tune-plot")

    def on_mount(self) -> None:
        t = self.query_one(DataTable)
        for key, header in COLUMNS:
            t.add_column(header, key=key)
        super().on_mount()

    # --- view ------------------------------------------------------------------------------------------
    def _settings_text(self) -> Text:
        s = self.settings
        t = Text()
        t.append(f"objective {s.objective} (o)", style="bold")
        t.append(f" · budget {s.budget_min:g} min (b)")
        t.append(" · cosine ≥ " + (f"{s.min_cosine:g}" if s.max_drop_pts is None and s.min_cosine else "—") + " (c)")
        t.append(" · top-1 drop ≤ " + (f"{s.max_drop_pts:g} pt" if s.max_drop_pts is not None else "—") + " (t)")
        t.append(" · p99 ≤ " + (f"{s.p99_max_ms:g} ms" if s.p99_max_ms else "—") + " (l)")
        t.append(" · W ≤ " + (f"{s.power_max_w:g}" if s.power_max_w else "—") + " (w)")
        t.append(" · s starts, x cancels", style="dim")
        return t

    def _progress_line(self) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        if self.progress is not None:
            t.append(block(progress_text(self.progress)).replace("\n", " "), style="bold" if self.running else "")
        if self.note:
            t.append((" · " if t.plain else "") + block(self.note).replace("\n", " "), style="dim")
        return t

    def refresh_view(self, what: Change) -> None:
        self.query_one("#tune-settings", Static).update(self._settings_text())
        if what in (Change.MOUNT, Change.TUNE) and not self.running:
            self.show_result()

    def _use_drop(self, bounds: Any = None) -> bool:
        if bounds is not None:
            return bounds.max_drop_pts is not None
        return self.settings.max_drop_pts is not None

    def _fill(self, outcomes: Sequence[Any], front: Sequence[str] = (), rec: str | None = None, bounds: Any = None):
        """The table of ``outcomes``; returns each candidate's mark (key -> "1".."9", "a"…)."""
        t = self.query_one(DataTable)
        t.clear()
        marks: dict[str, str] = {}
        use_drop = self._use_drop(bounds)
        for k, o in enumerate(outcomes):
            key = o.candidate.key
            marks[key] = mark_for(k)
            cells = row_cells(o, marks[key], front=key in front, recommended=key == rec, use_drop=use_drop)
            t.add_row(*cells, key=f"{k}:{key}")
        return marks

    def show_result(self) -> None:
        st = self.wb.state
        res = st.tune
        plot = self.query_one(TunePlot)
        rec = self.query_one("#tune-rec", Static)
        if res is None:
            self._fill(())
            rec.update(Text("no tune yet: s searches precision, INT8 recipe and threads for this model", style="dim"))
            plot.show(plot_data((), {}), "the front plot (latency vs accuracy) appears after a tune")
            self.query_one("#tune-progress", Static).update(self._progress_line())
            return
        rec_key = res.recommendation.candidate.key if res.recommendation is not None else None
        marks = self._fill(res.outcomes, res.front, rec_key, res.bounds)
        rec.update(recommendation_text(res, marks))
        label = "recorded" if st.tune_recorded else None
        plot.show(
            plot_data(res.outcomes, marks, res.front, rec_key, res.objective, label),
            "nothing to plot: no candidate has both a latency and an accuracy figure",
        )
        self.progress = None
        self.query_one("#tune-progress", Static).update(summary_text(res, st.tune_recorded))

    def _show_live(self) -> None:
        marks = self._fill(list(self.live.values()))
        self.query_one(TunePlot).show(
            plot_data(list(self.live.values()), marks, objective=self.settings.objective),
            "waiting for a candidate with latency and accuracy…",
        )

    # --- the job's messages ----------------------------------------------------------------------------
    def on_attached(self, msg: Attached) -> None:
        if msg.kind != JobKind.TUNE:
            return
        self.running = True
        self.live = {}
        self.progress = None
        self.note = f"job {msg.job_id}: {msg.command}"
        self._show_live()
        self.query_one("#tune-rec", Static).update(Text("the recommendation comes at the end", style="dim"))
        self.query_one("#tune-progress", Static).update(self._progress_line())

    def on_tune_progressed(self, msg: TuneProgressed) -> None:
        self.progress = msg.progress
        self.note = ""
        self.query_one("#tune-progress", Static).update(self._progress_line())

    def on_progress_msg(self, msg: ProgressMsg) -> None:
        if msg.kind == JobKind.TUNE:
            p = msg.progress
            self.note = f"[{p.step}] {p.message}"
            self.query_one("#tune-progress", Static).update(self._progress_line())

    def on_tune_row_finished(self, msg: TuneRowFinished) -> None:
        self.live[msg.outcome.candidate.key] = msg.outcome  # a later row (confirmed) replaces the earlier one
        self._show_live()

    def on_tune_finished(self, msg: TuneFinished) -> None:
        self.running = False
        self.note = ""
        self.show_result()

    def on_job_failed(self, msg: JobFailed) -> None:
        if msg.kind != JobKind.TUNE:
            return
        self.running = False
        self.query_one("#tune-rec", Static).update(
            Text(
                ("stopped: " if msg.cancelled else "failed: ")
                + block(msg.message + (f"\nhint: {msg.hint}" if msg.hint else "")),
                style="red",
            )
        )

    # --- actions ---------------------------------------------------------------------------------------
    def action_start(self) -> None:
        from workbench.core.errors import WorkbenchError
        from workbench.core.live import dataset_for

        wb = self.wb
        job = wb.state.job
        if job is None:
            self.notify("no model loaded", severity="warning")
            return
        calib, eval_ = dataset_for(job, "calib"), dataset_for(job, "eval")
        calibrate = wb.keys.get("screen.calibrate", "4")
        if calib is None:
            key = wb.keys.get("calibrate.pick_calib", "o")
            self.notify(
                f"tune needs a calibration folder: {key} on the Calibrate screen ({calibrate})", severity="warning"
            )
            return
        if eval_ is None:
            key = wb.keys.get("calibrate.pick_eval", "e")
            self.notify(f"tune needs an eval folder: {key} on the Calibrate screen ({calibrate})", severity="warning")
            return
        try:
            argv = tune_argv(job.request, calib, eval_, self.settings)
        except WorkbenchError as exc:
            self.notify(str(exc) + (f"\nhint: {exc.hint}" if exc.hint else ""), severity="error")
            return
        cancel = wb.begin_job(JobKind.TUNE)
        if cancel is None:
            return
        self.running = True
        self.live = {}
        self.progress = None
        self.note = "starting `workbench tune`…"
        self._show_live()
        self.query_one("#tune-rec", Static).update(Text("the recommendation comes at the end", style="dim"))
        self.query_one("#tune-progress", Static).update(self._progress_line())
        wb.start_tune(argv, cancel)

    def action_use_profile(self) -> None:
        """Load the latest tune's profile (a TOML that extends the device profile) as the app's profile."""
        st = self.wb.state
        res = st.tune
        if res is None or not res.profile_path:
            self.notify("no tuned profile yet: s runs a tune", severity="warning")
            return
        if st.tune_recorded:
            self.notify("this tune is recorded, not run here: its profile is not on this machine", severity="warning")
            return
        if self.running:
            self.notify("a tune is running: cancel it first (x)", severity="warning")
            return
        self.wb.set_profile(str(res.profile_path))
        bench = self.wb.keys.get("screen.bench", "6")
        self.notify(f"profile {res.profile_path}: {bench} benchmarks it", timeout=6)

    def _change(self, **changes: Any) -> None:
        self.settings = replace(self.settings, **changes)
        self.query_one("#tune-settings", Static).update(self._settings_text())

    def _prompt(self, title: str, value: str, apply: Any) -> None:
        self.prompt_setting(
            title,
            value,
            apply,
            busy="a tune is running: cancel it first (x)" if self.running else None,
            invalid="not a positive number",
        )

    def action_objective(self) -> None:
        if self.running:
            self.notify("a tune is running: cancel it first (x)", severity="warning")
            return
        k = OBJECTIVES.index(self.settings.objective) if self.settings.objective in OBJECTIVES else -1
        self._change(objective=OBJECTIVES[(k + 1) % len(OBJECTIVES)])

    def action_budget(self) -> None:
        def apply(text: str) -> None:
            v = _positive(text)
            if v is None:
                raise ValueError(text)
            self._change(budget_min=v)

        self._prompt("Time budget in minutes (fractions allowed, e.g. 0.5)", f"{self.settings.budget_min:g}", apply)

    def action_cosine(self) -> None:
        def apply(text: str) -> None:
            v = _positive(text)
            if v is not None and v > 1:
                raise ValueError(text)
            # one accuracy bound at a time: a cosine bound replaces a top-1 drop bound
            self._change(min_cosine=v, max_drop_pts=None if v is not None else self.settings.max_drop_pts)

        s = self.settings
        self._prompt(
            "Bound: minimum per-sample output cosine vs FP32, 0 < C <= 1 (empty = none)",
            f"{s.min_cosine:g}" if s.min_cosine is not None and s.max_drop_pts is None else "",
            apply,
        )

    def action_drop(self) -> None:
        def apply(text: str) -> None:
            v = _positive(text)
            self._change(max_drop_pts=v)

        s = self.settings
        self._prompt(
            "Bound: maximum top-1 drop in points, needs a labelled eval set (empty = the cosine bound)",
            f"{s.max_drop_pts:g}" if s.max_drop_pts is not None else "",
            apply,
        )

    def action_p99(self) -> None:
        def apply(text: str) -> None:
            self._change(p99_max_ms=_positive(text))

        v = self.settings.p99_max_ms
        self._prompt("Bound: p99 <= ms (empty = none)", f"{v:g}" if v else "", apply)

    def action_power(self) -> None:
        def apply(text: str) -> None:
            self._change(power_max_w=_positive(text))

        v = self.settings.power_max_w
        self._prompt("Bound: mean power <= W (empty = none)", f"{v:g}" if v else "", apply)
