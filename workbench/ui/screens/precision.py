"""3. Precision: FP32 / FP16 / BF16 / INT8 / best, each greyed out with the reason where the backend or the profile
lacks it, with the backend's caveats."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from workbench.ui.messages import Change
from workbench.ui.screens.base import WorkbenchScreen

LABELS = {"fp32": "FP32", "fp16": "FP16", "bf16": "BF16", "int8": "INT8", "best": "best"}
BLURB = {
    "fp32": "reference precision; no calibration",
    "fp16": "half precision copy (inputs/outputs kept FP32)",
    "bf16": "bfloat16 autocast (torch backend only)",
    "int8": "QDQ quantization calibrated on a dataset; accuracy checked vs FP32",
    "best": "fastest precision whose accuracy passes (benchmarks each)",
}


class PrecisionScreen(WorkbenchScreen):
    MODE = "precision"
    BINDINGS = [
        Binding("f", "pick('fp32')", "FP32", id="precision.fp32"),
        Binding("h", "pick('fp16')", "FP16", id="precision.fp16"),
        Binding("i", "pick('int8')", "INT8", id="precision.int8"),
        Binding("a", "pick('best')", "best", id="precision.best"),
    ]

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="body"):
            yield Static(id="precision-head")
            yield OptionList(id="precision-list")

    def refresh_view(self, what: Change) -> None:
        st = self.wb.state
        head = Text()
        head.append("Precision ", style="bold")
        head.append(LABELS.get(st.precision, st.precision), style="bold reverse")
        job = st.job
        if job is not None:
            head.append(f"   {job.backend.name} on profile {job.profile.name}", style="dim")
        self.query_one("#precision-head", Static).update(head)
        ol = self.query_one(OptionList)
        keep = ol.highlighted
        ol.clear_options()
        for c in st.choices:
            mark = "●" if c.name == st.precision else "○"
            body = Text.assemble((f"{mark} {LABELS[c.name]:<5}", "bold"), f" {BLURB[c.name]}")
            if c.reason:
                body.append(f"\n  unavailable: {c.reason}", style="red")
            elif c.note:
                body.append(f"\n  note: {c.note}", style="yellow")
            ol.add_option(Option(body, id=c.name, disabled=not c.available))
        if ol.option_count:
            ol.highlighted = keep if keep is not None and keep < ol.option_count else 0

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_pick(event.option.id)

    def action_pick(self, precision: str) -> None:
        wb = self.wb
        choice = next((c for c in wb.state.choices if c.name == precision), None)
        if choice is None:
            self.notify("the model is not loaded yet", severity="warning")
            return
        if not choice.available:
            self.notify(f"{LABELS[precision]} is not available: {choice.reason}", severity="warning")
            return
        wb.set_precision(precision)
        msg = {"int8": "INT8 selected: calibrate next (4)", "best": "best selected: benchmark next (6)"}.get(
            precision, f"{LABELS[precision]} selected: build next (5)"
        )
        self.notify(msg, timeout=3)
