"""4. Calibrate: the calibration and evaluation sets (any folder: typed or picked in a tree, remembered per model;
count, shapes, preprocessing), method and sample count; progress with samples/s and ETA; cancel; then the accuracy
comparison vs FP32 with a pass/fail verdict and advice."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import OptionList, ProgressBar, Static
from textual.widgets.option_list import Option

from workbench.core.accuracy import AccuracyReport
from workbench.core.results.summary import accuracy_detail_lines, float_kept_line
from workbench.core.textsafe import block, field
from workbench.ui.messages import Calibrated, Change, DatasetRead, JobFailed, JobKind, ProgressMsg
from workbench.ui.screens.base import WorkbenchScreen
from workbench.ui.screens.model import short_path

METHODS = ("minmax", "entropy", "percentile")


def verdict_text(report: AccuracyReport, precision: str = "int8") -> Text:
    """The accuracy comparison as the CLI states it (core/results/summary.py, accuracy_line), coloured."""
    t = Text()
    vs = report.vs_fp32
    scope = "held-out eval set" if report.held_out else "calibration samples (not held-out)"
    verdict = str(report.verdict).upper()
    t.append(f"Accuracy {precision.upper()} vs FP32: ", style="bold")
    t.append(f" {verdict} ", style="bold reverse green" if verdict == "PASS" else "bold reverse red")
    t.append(f"  on {report.samples} {scope}\n")
    if report.top1_other is not None and report.top1_fp32 is not None:
        drop = report.top1_fp32 - report.top1_other
        t.append(f"top-1 {report.top1_other:.2f} % vs FP32 {report.top1_fp32:.2f} % ({drop:+.2f} pts drop)\n")
    agree = vs.top1_agreement
    t.append(
        f"cosine min {vs.cosine_min:.5f} mean {vs.cosine_mean:.5f}, max-abs {vs.max_abs:.4g}"
        + (f", top-1 agreement {agree:.2f} %" if agree is not None else "")
        + "\n"
    )
    for line in accuracy_detail_lines(report):
        t.append(block(line) + "\n")
    for r in report.reasons:
        t.append(block(f"reason: {r}") + "\n", style="yellow")
    if report.verdict == "fail":
        for a in report.advice:
            t.append(f"advice: {a}\n", style="cyan")
    t.rstrip()
    return t


_UNREAD = object()  # an eval folder not read yet (None means: no eval set)


class CalibrateScreen(WorkbenchScreen):
    MODE = "calibrate"
    BINDINGS = [
        Binding("s", "start", "Calibrate", id="calibrate.start"),
        Binding("o", "pick('calib')", "Calib set", id="calibrate.pick_calib", tooltip="choose the calibration folder"),
        Binding("e", "pick('eval')", "Eval set", id="calibrate.pick_eval", tooltip="choose the evaluation folder"),
        Binding("m", "method", "Method", id="calibrate.method"),
        Binding(
            "plus,equals_sign",
            "samples(2)",
            "More",
            id="calibrate.more",
            key_display="+",
            tooltip="double the calibration sample count",
        ),  # fmt: skip
        Binding(
            "minus", "samples(0.5)", "Fewer", id="calibrate.fewer", key_display="-", tooltip="halve the sample count"
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._t0: float | None = None
        self._dataset: Any = None
        self._dataset_path: Path | None = None
        self._eval_path: Path | None | object = None

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="body", classes="split"):
            with VerticalScroll(classes="main"):
                yield Static(id="calib-head")
                yield Static(id="calib-set")
                yield Static(id="calib-eval")
                yield ProgressBar(id="calib-bar", show_eta=False)
                yield Static(id="calib-progress")
                yield Static(id="calib-verdict")
            yield OptionList(id="calib-sets", classes="side")

    def on_mount(self) -> None:
        super().on_mount()
        from workbench.core.live import list_datasets

        self.query_one(ProgressBar).display = False
        for d in list_datasets("calib"):
            self._add_set(d)

    def _add_set(self, folder: Path) -> None:
        """List ``folder`` on the right (once)."""
        ol = self.query_one(OptionList)
        if any(ol.get_option_at_index(i).id == str(folder) for i in range(ol.option_count)):
            return
        ol.add_option(
            Option(Text.assemble((folder.name, "bold"), ("\n  " + short_path(folder), "dim")), id=str(folder))
        )

    # --- state -----------------------------------------------------------------------------------------
    def _current_folder(self, kind: str = "calib") -> Path | None:
        from workbench.core.live import dataset_for

        job = self.wb.state.job
        return dataset_for(job, kind) if job is not None else None

    def refresh_view(self, what: Change) -> None:
        wb = self.wb
        st = wb.state
        head = Text()
        ctx = st.job
        if ctx is None:
            head.append(block(st.context_error or "loading model…"), style="red" if st.context_error else "dim")
            self.query_one("#calib-head", Static).update(head)
            return
        from workbench.core.job import quant_settings

        q = quant_settings(ctx)
        folder = self._current_folder()
        head.append("INT8 calibration", style="bold")
        if st.precision != "int8":
            head.append(f"  (selected precision is {st.precision.upper()}; s selects INT8)", style="yellow")
        head.append(f"\nSet      {field(short_path(folder)) if folder else 'none — o chooses a folder'}  (o)\n")
        eval_folder = self._current_folder("eval")
        head.append(
            f"Eval     {field(short_path(eval_folder)) if eval_folder else 'none — checked on calibration samples'}  (e)\n"
        )
        head.append(f"Method   {q.method} (m)   samples ≤ {q.calibration_samples} (+/-)")
        self.query_one("#calib-head", Static).update(head)
        if folder is not None and folder != self._dataset_path:
            self._dataset_path = folder
            self._dataset = None
            self.query_one("#calib-set", Static).update(Text("reading the set…", style="dim"))
            wb.read_dataset(folder, ctx.model_info.inputs)
        if eval_folder != self._eval_path:
            self._eval_path = eval_folder
            self.query_one("#calib-eval", Static).update(
                Text("reading the eval set…", style="dim") if eval_folder is not None else ""
            )
            if eval_folder is not None:
                wb.read_dataset(eval_folder, ctx.model_info.inputs)
        if folder is not None:
            self._add_set(folder)
        ol = self.query_one(OptionList)
        for i in range(ol.option_count):
            if folder is not None and ol.get_option_at_index(i).id == str(folder):
                ol.highlighted = i
        v = self.query_one("#calib-verdict", Static)
        if st.accuracy is not None and st.accuracy_precision == "int8":
            v.update(verdict_text(st.accuracy, "int8"))
        elif wb.busy != JobKind.CALIBRATE:
            v.update("")

    def on_dataset_read(self, msg: DatasetRead) -> None:
        from workbench.core.live import describe_dataset

        if msg.folder == self._eval_path:
            rows = describe_dataset(msg.dataset)
            t = Text()
            t.append(f"{'Eval set':<9}", style="bold")
            t.append(field(rows[0][1]) + (" (held out)" if msg.folder != self._dataset_path else " (same folder)"))
            self.query_one("#calib-eval", Static).update(t)
        if msg.folder != self._dataset_path:
            return  # a set that is no longer the chosen one
        self._dataset = msg.dataset
        t = Text()
        for k, v in describe_dataset(msg.dataset):
            t.append(f"{k:<9}", style="bold")
            t.append(field(v) + "\n")
        t.rstrip()
        self.query_one("#calib-set", Static).update(t)

    def on_progress_msg(self, msg: ProgressMsg) -> None:
        if msg.kind != JobKind.CALIBRATE:
            return
        bar = self.query_one(ProgressBar)
        bar.display = True  # also for a calibration job re-attached from the Jobs screen
        prog = self.query_one("#calib-progress", Static)
        s = msg.progress
        if s.total:
            if self._t0 is None or (s.done or 0) == 0:
                self._t0 = time.monotonic()
            bar.update(total=s.total, progress=s.done or 0)
            el = time.monotonic() - self._t0
            rate = (s.done or 0) / el if el > 0 and s.done else None
            eta = (s.total - (s.done or 0)) / rate if rate else None
            prog.update(
                f"{s.done}/{s.total} samples"
                + (f" · {rate:.0f} samples/s" if rate else "")
                + (f" · ETA {eta:.0f} s" if eta is not None else "")
            )
        else:
            prog.update(Text(block(s.message), style="dim"))

    def on_calibrated(self, msg: Calibrated) -> None:
        cal = msg.calibration.result
        kept = float_kept_line([(f.tensor, f.reason) for f in getattr(cal, "float_kept", ())])
        self.query_one("#calib-progress", Static).update(
            Text(  # Text, not a str (markup): the kept tensors' names are the model's
                f"{'reused cached' if cal.cached else 'calibrated'} QDQ model: {cal.samples} samples, {cal.method}, "
                f"{cal.seconds:.1f} s" + (f"\n{kept}" if kept else "")
            )
        )
        bar = self.query_one(ProgressBar)
        if bar.total:
            bar.update(progress=bar.total)

    def on_job_failed(self, msg: JobFailed) -> None:
        if msg.kind == JobKind.DATASET:
            self.query_one("#calib-set", Static).update(Text(block(msg.message), style="red"))
        elif msg.kind == JobKind.CALIBRATE:
            self.query_one("#calib-progress", Static).update(
                Text("cancelled" if msg.cancelled else f"failed: {block(msg.message)}", style="red")
            )

    # --- actions ---------------------------------------------------------------------------------------
    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.choose("calib", event.option.id or "")

    def action_pick(self, kind: str) -> None:
        """A folder picker (typed path or directory tree) for the calibration ("calib") or evaluation ("eval") set."""
        from workbench.ui.screens.dialogs import FilePickerScreen

        what = "calibration" if kind == "calib" else "evaluation"

        def picked(value: str | None) -> None:
            if value:
                self.choose(kind, value)

        self.wb.push_screen(FilePickerScreen(title=f"Choose the {what} folder", folders=True), picked)

    def choose(self, kind: str, value: str) -> None:
        """Use ``value`` (a folder; relative to the cwd, ``~`` expanded) as the ``kind`` set of this model and
        remember it for the next session (core/dataset_choice.py). A path that is not a folder is refused."""
        from workbench.core.dataset_choice import remember
        from workbench.core.errors import WorkbenchError

        folder = Path(value).expanduser()
        folder = (folder if folder.is_absolute() else Path.cwd() / folder).resolve()
        if not folder.is_dir():
            self.notify(f"{value}: not a folder", severity="error")
            return
        wb = self.wb
        # Picking a folder reads it again, also when it is the one already chosen: its contents may have changed
        # (a preprocess.toml added after the first read failed), and a stale error must not stay on screen.
        if kind == "calib":
            self._dataset_path = None
        else:
            self._eval_path = _UNREAD
        wb.set_options(invalidate="calibration", **{kind: str(folder)})
        self.refresh_view(Change.OPTIONS)
        job = wb.state.job
        if job is not None:
            try:
                remember(job.model_info.sha256, job.model_path, kind, folder)
            except WorkbenchError as exc:
                self.notify(f"not remembered: {exc}", severity="warning")

    def action_method(self) -> None:
        from workbench.core.job import quant_settings

        job = self.wb.state.job
        if job is None:
            return
        cur = quant_settings(job).method
        nxt = METHODS[(METHODS.index(cur) + 1) % len(METHODS)] if cur in METHODS else METHODS[0]
        self.wb.set_options(method=nxt, invalidate="calibration")

    def action_samples(self, factor: float) -> None:
        from workbench.core.job import quant_settings

        job = self.wb.state.job
        if job is None:
            return
        cur = quant_settings(job).calibration_samples
        n = max(8, min(int(cur * factor), 100_000))
        self.wb.set_options(calib_samples=n, invalidate="calibration")

    def action_start(self) -> None:
        wb = self.wb
        st = wb.state
        if st.job is None:
            self.notify("no model loaded", severity="warning")
            return
        choice = next((c for c in st.choices if c.name == "int8"), None)
        if choice is not None and not choice.available:
            self.notify(f"INT8 is not available: {choice.reason}", severity="warning")
            return
        if st.precision != "int8":
            wb.set_precision("int8")
        cancel = wb.begin_job(JobKind.CALIBRATE)
        if cancel is None:
            return
        self._t0 = None
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(total=100, progress=0)
        self.query_one("#calib-verdict", Static).update("")
        self.query_one("#calib-progress", Static).update(Text("starting…", style="dim"))
        wb.start_calibrate(st.request, cancel)
