"""2. Profile: the detected device and why this profile was chosen, the profile's key settings, and every
profile to switch to (invalid ones listed with their error, not selectable)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from workbench.core.textsafe import block, field
from workbench.ui.messages import Change
from workbench.ui.screens.base import WorkbenchScreen
from workbench.ui.state import AppState

AUTO = "(auto-detect)"


def profile_text(state: AppState) -> Text:
    t = Text()
    d = state.detection
    if d is not None:
        t.append("Detected ", style="bold")
        t.append(field(f"{d.kind} · {d.model or d.gpu_name or d.arch}"))  # the board's own strings
        if d.l4t:
            t.append(f" · L4T {d.l4t} (JetPack {d.jetpack or '?'})")
        t.append(f"\n          {field(d.reason)}\n", style="dim")
    ctx = state.job
    if ctx is None:
        t.append(block(state.context_error or "loading profile…"), style="red" if state.context_error else "dim")
        return t
    p = ctx.profile
    b, q, bench, acc = p.build, p.quantization, p.benchmark, p.accuracy
    t.append("Profile   ", style="bold")
    t.append(f"{field(p.name)} — {field(p.description)}\n")  # a user's TOML
    chosen = ctx.profile_reason
    if d is not None and chosen == d.reason:
        chosen = "auto-detected (see above)"
    t.append(f"          chosen: {field(chosen)}\n", style="dim")
    rows = [
        ("Backend", f"{b.backend} · graph opt {b.graph_optimization_level} · threads {b.intra_op_threads or 'auto'}"),
        ("Allowed", ", ".join(b.precisions)),
        (
            "INT8",
            f"{q.method}, {q.calibration_samples} samples, act {q.activation_type}, w {q.weight_type}"
            + (", per-channel" if q.per_channel else ""),
        ),
        ("Accuracy", f"max top-1 drop {acc.max_top1_drop_pts} pts, min cosine {acc.min_cosine}"),
        (
            "Bench",
            f"warm-up {bench.warmup_ms} ms, {bench.duration_s} s, batch {bench.batch}, "
            f"p{'/p'.join(f'{x:g}' for x in bench.percentiles)}",
        ),
        ("Telemetry", f"{p.telemetry.source} every {p.telemetry.interval_ms} ms"),
    ]
    for k, v in rows:
        t.append(f"{k:<10}", style="bold")
        t.append(v + "\n")
    t.rstrip()
    return t


class ProfileScreen(WorkbenchScreen):
    MODE = "profile"
    BINDINGS = [Binding("enter", "choose", "Use profile", id="profile.use", show=True)]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="body", classes="split"):
            with VerticalScroll(classes="main"):
                yield Static(id="profile-info")
            yield OptionList(id="profile-list", classes="side")

    def on_mount(self) -> None:
        super().on_mount()
        self._fill_list()

    def _fill_list(self) -> None:
        from workbench.core.profiles import list_profiles

        ol = self.query_one(OptionList)
        ol.clear_options()
        ol.add_option(Option(AUTO, id="__auto__"))
        for e in list_profiles():
            if e.error:
                ol.add_option(
                    Option(Text.assemble((e.name, "strike"), ("\n  " + e.error, "red")), id=e.name, disabled=True)
                )
            else:
                desc = e.description or ""
                desc = desc if len(desc) <= 22 else desc[:21] + "…"
                ol.add_option(Option(Text.assemble((e.name, "bold"), ("\n  " + desc, "dim")), id=e.name))
        ol.highlighted = 0

    def refresh_view(self, what: Change) -> None:
        self.query_one("#profile-info", Static).update(profile_text(self.wb.state))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        name = None if event.option.id == "__auto__" else event.option.id
        self.wb.set_profile(name)

    def action_choose(self) -> None:
        ol = self.query_one(OptionList)
        if ol.highlighted is not None:
            ol.action_select()
