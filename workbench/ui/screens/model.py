"""1. Model: which model, its inspection (inputs/outputs with dynamic dims, opset, ops, params, size)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from workbench.ui.screens.base import WorkbenchScreen
from workbench.ui.screens.dialogs import FilePickerScreen


def short_path(p: Any) -> str:
    """A path relative to the cwd when it is below it (shorter on an 80-column terminal)."""
    p = Path(p)
    try:
        return os.path.relpath(p) if p.is_absolute() and p.resolve().is_relative_to(Path.cwd().resolve()) else str(p)
    except (ValueError, OSError):
        return str(p)


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def model_text(state: Any) -> Text:
    t = Text()
    t.append(state.model_title + "\n", style="bold")
    ctx = state.ctx
    if ctx is None:
        if state.context_error:
            t.append(state.context_error + "\n", style="bold red")
            t.append("Press o to open another model, or 2 to pick another profile.", style="dim")
        else:
            t.append("inspecting…", style="dim")
        return t
    info = ctx.model_info
    src = Path(state.options.model) if state.options.model else ctx.model_path
    t.append("File    ", style="bold")
    t.append(f"{short_path(src)}  ({info.format}, {_size(info.size_bytes)}, sha256 {info.sha256[:12]}…)\n")
    if Path(src).resolve() != Path(ctx.model_path).resolve():
        t.append("ONNX    ", style="bold")
        t.append(f"exported to {short_path(ctx.model_path)}\n")
    t.append("Graph   ", style="bold")
    t.append(
        f"opset {info.opset} · IR {info.ir_version} · producer {info.producer or '?'} · {info.param_count:,} parameters\n"
    )
    for title, specs in (("Inputs", info.inputs), ("Outputs", info.outputs)):
        for i, s in enumerate(specs):
            t.append(f"{title if i == 0 else '':<8}", style="bold")
            t.append(f"{s.name}  {s.dtype}  {s.shape_str()}")
            dyn = [str(d) for d in s.shape if not isinstance(d, int)]
            if dyn:
                t.append(f"  dynamic: {', '.join(dyn)}", style="yellow")
            t.append("\n")
    ops = sorted(info.op_histogram.items(), key=lambda kv: (-kv[1], kv[0]))
    t.append("Ops     ", style="bold")
    t.append(", ".join(f"{k}×{v}" for k, v in ops) + "\n")
    if info.external_data:
        t.append("Data    ", style="bold")
        t.append(", ".join(info.external_data) + "\n")
    t.append("Checks  ", style="bold")
    notes = []
    dyn_inputs = [s.name for s in info.inputs if s.is_dynamic]
    if dyn_inputs:
        notes.append(
            f"dynamic input(s) {', '.join(dyn_inputs)}: benchmark batch {ctx.profile.benchmark.batch} "
            f"(profile {ctx.profile.name})"
        )
    if ctx.spec is None and not ctx.bundled_default:
        notes.append(f"no {Path(src).name}.workbench.toml spec: INT8 needs a calibration set (Calibrate screen)")
    if ctx.bundled_default:
        notes.append("calibration set calib/digits, held-out eval set eval/digits")
    t.append("; ".join(notes) if notes else "none")
    t.append("\n")
    t.append("Preflt  ", style="bold")
    if state.preflight is not None:
        from workbench.core.models.preflight import render

        rep = state.preflight
        colour = {"ok": "green", "warnings": "yellow", "errors": "red"}[rep.verdict]
        lines = render(rep).splitlines()
        t.append(lines[0] + "\n")
        for line in lines[1:]:
            t.append("  " + line.strip() + "\n", style=colour if line.startswith("Result") else "")
        t.rstrip()
    else:
        t.append(state.preflight_note or "n/a", style="dim")
    return t


class ModelScreen(WorkbenchScreen):
    MODE = "model"
    BINDINGS = [
        Binding("o", "open", "Open file", id="model.open", tooltip="pick a model file (tree rooted at the cwd)"),
        Binding("r", "reload", "Reload", id="model.reload"),
        Binding("u", "default", "Bundled default", id="model.default"),
        Binding(
            "e", "export_options", "Export shapes", id="model.export", tooltip="PyTorch -> ONNX example input shapes"
        ),
    ]

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="body"):
            yield Static(id="model-info")

    def state_changed(self, what: str) -> None:
        app: Any = self.app
        self.query_one("#model-info", Static).update(model_text(app.state))

    def action_open(self) -> None:
        app: Any = self.app

        def picked(path: str | None) -> None:
            if path:
                app.set_model(path)

        app.push_screen(FilePickerScreen(), picked)

    def action_reload(self) -> None:
        app: Any = self.app
        app.prepare()

    def action_export_options(self) -> None:
        from workbench.ui.screens.dialogs import TextPromptScreen

        app: Any = self.app
        current = ",".join(f"{k}:{'x'.join(map(str, v))}" for k, v in (app.state.options.input_shapes or {}).items())

        def entered(value: str | None) -> None:
            if value is None:
                return
            from workbench.core.bench.inputs import parse_shapes
            from workbench.core.errors import WorkbenchError

            try:
                shapes = parse_shapes(value)
            except WorkbenchError as exc:
                self.notify(str(exc), severity="error")
                return
            from dataclasses import replace

            app.state.options = replace(app.state.options, input_shapes={k: tuple(v) for k, v in shapes.items()})
            app.state.invalidate()
            app.prepare()

        app.push_screen(
            TextPromptScreen(
                "PyTorch -> ONNX export: example input shapes (name:1x3x224x224, comma separated; opset 17)",
                value=current,
            ),
            entered,
        )

    def action_default(self) -> None:
        app: Any = self.app
        app.set_model(None)
