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

from workbench.core.textsafe import block, field
from workbench.ui.messages import Change
from workbench.ui.screens.base import WorkbenchScreen
from workbench.ui.screens.dialogs import FilePickerScreen
from workbench.ui.state import AppState


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


def model_text(state: AppState) -> Text:
    """The model's inspection. Names, dims, the producer and paths come from the file: shown escaped
    (``textsafe.field``), always as Text (never markup)."""
    t = Text()
    t.append(field(state.model_title) + "\n", style="bold")
    ctx = state.job
    if ctx is None:
        if state.context_error:
            t.append(block(state.context_error) + "\n", style="bold red")
            t.append("Press o to open another model, or 2 to pick another profile.", style="dim")
        else:
            t.append("inspecting…", style="dim")
        return t
    from workbench.core.job import bench_batch

    info = ctx.model_info
    src = Path(state.request.model) if state.request.model else ctx.model_path
    t.append("File    ", style="bold")
    t.append(f"{field(short_path(src))}  ({info.format}, {_size(info.size_bytes)}, sha256 {info.sha256[:12]}…)\n")
    if Path(src).resolve() != Path(ctx.model_path).resolve():
        t.append("ONNX    ", style="bold")
        t.append(f"exported to {field(short_path(ctx.model_path))}\n")
        check = export_check(Path(ctx.model_path))
        if check:
            t.append("Export  ", style="bold")
            t.append(block(check) + "\n")
    t.append("Graph   ", style="bold")
    t.append(
        f"opset {info.opset} · IR {info.ir_version} · producer {field(info.producer or '?')} · {info.param_count:,} parameters\n"
    )
    for title, specs in (("Inputs", info.inputs), ("Outputs", info.outputs)):
        for i, s in enumerate(specs):
            t.append(f"{title if i == 0 else '':<8}", style="bold")
            t.append(f"{field(s.name)}  {s.dtype}  {field(s.shape_str())}")
            dyn = ["?" if d is None else field(d) for d in s.shape if not isinstance(d, int)]
            if dyn:
                t.append(f"  dynamic: {', '.join(dyn)}", style="yellow")
            t.append("\n")
    ops = sorted(info.op_histogram.items(), key=lambda kv: (-kv[1], kv[0]))
    t.append("Ops     ", style="bold")
    t.append(", ".join(f"{field(k)}×{v}" for k, v in ops) + "\n")
    if info.external_data:
        t.append("Data    ", style="bold")
        t.append(", ".join(map(field, info.external_data)) + "\n")
    t.append("Checks  ", style="bold")
    notes = []
    dyn_inputs = [field(s.name) for s in info.inputs if s.is_dynamic]
    if dyn_inputs:
        notes.append(
            f"dynamic input(s) {', '.join(dyn_inputs)}: benchmark batch {bench_batch(ctx)} (profile {field(ctx.profile.name)})"
        )
    if ctx.spec is None and not ctx.bundled_default:
        notes.append(f"no {field(Path(src).name)}.workbench.toml spec: INT8 needs a calibration set (Calibrate screen)")
    if ctx.bundled_default:
        notes.append("calibration set calib/digits, held-out eval set eval/digits")
    t.append("; ".join(notes) if notes else "none")
    t.append("\n")
    t.append("Preflt  ", style="bold")
    if state.preflight is not None:
        from workbench.core.models.preflight import render

        rep = state.preflight
        colour = {"ok": "green", "warnings": "yellow", "errors": "red"}[rep.verdict]
        lines = block(render(rep)).splitlines()  # node names from the file
        t.append(lines[0] + "\n")
        for line in lines[1:]:
            t.append("  " + line.strip() + "\n", style=colour if line.startswith("Result") else "")
        t.rstrip()
    else:
        t.append(block(state.preflight_note or "n/a"), style="dim")
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

    def refresh_view(self, what: Change) -> None:
        self.query_one("#model-info", Static).update(model_text(self.wb.state))

    def action_open(self) -> None:
        wb = self.wb

        def picked(path: str | None) -> None:
            if path:
                wb.set_model(path)

        wb.push_screen(FilePickerScreen(), picked)

    def action_reload(self) -> None:
        self.wb.prepare()

    def action_export_options(self) -> None:
        from workbench.ui.screens.dialogs import TextPromptScreen

        wb = self.wb
        opts = wb.state.request
        current = ",".join(f"{k}:{'x'.join(map(str, v))}" for k, v in (opts.input_shapes or {}).items())
        current += (f"; opset={opts.export_opset}" if opts.export_opset is not None else "") + (
            "; dynamic-batch" if opts.export_dynamic_batch else ""
        )

        def entered(value: str | None) -> None:
            if value is None:
                return
            from workbench.core.bench.inputs import parse_shapes
            from workbench.core.errors import WorkbenchError

            try:
                shapes, opset, dynamic = parse_export_options(value)
                shapes = parse_shapes(shapes)
            except WorkbenchError as exc:
                self.notify(str(exc), severity="error")
                return
            wb.set_options(
                invalidate="calibration",
                input_shapes={k: tuple(v) for k, v in shapes.items()},
                export_opset=opset,
                export_dynamic_batch=dynamic,
            )

        wb.push_screen(
            TextPromptScreen(
                "PyTorch -> ONNX export: shapes name:1x3x224x224,... ; opset=N ; dynamic-batch",
                value=current,
            ),
            entered,
        )

    def action_default(self) -> None:
        self.wb.set_model(None)


def parse_export_options(text: str) -> tuple[str, int | None, bool]:
    """``"x:1x3x224x224; opset=17; dynamic-batch"`` -> (shapes text, opset, dynamic batch). Without ``opset=`` (or
    with ``opset=auto``) the opset is None: the exporter's own.

    Raises:
        UsageError: an unknown option or a bad opset (the message names it).
    """
    from workbench.core.errors import UsageError

    parts = [p.strip() for p in text.split(";")]
    shapes: str = parts[0]
    opset: int | None = None
    dynamic = False
    for part in parts[1:]:
        if not part:
            continue
        if part.replace("_", "-") in ("dynamic-batch", "dynamic"):
            dynamic = True
        elif part in ("opset=auto", "opset="):
            opset = None
        elif part.startswith("opset="):
            try:
                opset = int(part.split("=", 1)[1])
            except ValueError:
                raise UsageError(
                    f"opset must be an integer: {part!r}",
                    hint="write the opset as a number, e.g. opset=17, or opset=auto",
                ) from None
        else:
            raise UsageError(
                f"unknown export option {part!r}: use opset=N or dynamic-batch",
                hint="write the options as a comma list, e.g. opset=17,dynamic-batch",
            )
    return shapes, opset, dynamic


def export_check(onnx_path: Path) -> str | None:
    """The PyTorch -> ONNX verification stored beside an exported model (ORT vs torch), or None."""
    import json

    from workbench.core.models.torch_export import opset_origin

    try:
        meta = json.loads(onnx_path.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return None
    text = (
        f"{meta.get('exporter', '?')} exporter, opset {meta.get('opset')}"
        f"{opset_origin(str(meta.get('exporter')), meta.get('opset_asked'))}: ORT vs torch max-abs "
        f"{meta.get('max_abs', float('nan')):.3g}, cosine {meta.get('cosine', float('nan')):.6f}"
    )
    if meta.get("dynamic_batch"):
        b2 = meta.get("batch2_max_abs")
        text += f"; dynamic batch checked at batch 2 (max-abs {b2:.3g})" if b2 is not None else "; dynamic batch"
    return text
