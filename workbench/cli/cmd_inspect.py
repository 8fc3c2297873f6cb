"""``workbench inspect MODEL [--json]``: what a model file is and what is inside it.

ONNX: inputs/outputs (symbolic dims kept), opset, IR version, producer, operator histogram, parameter count, size,
external data files. PyTorch files: the detected kind, and the ONNX export when shapes are given
(``--input-shape``) or known (an ExportedProgram's saved example inputs). A TensorRT plan is recognised by its
bytes. Module top imports stdlib only.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from workbench.cli.common import add_trust_args
from workbench.cli.tables import table
from workbench.core.results.format import human_bytes
from workbench.core.textsafe import block, field


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "inspect",
        help="describe a model: inputs/outputs, opset, operators, parameters, size",
        description=(
            "Sniff the file's type from its bytes (whatever its name) and describe it. ONNX models are checked "
            "(onnx.checker, external data, shape inference). TorchScript / ExportedProgram files are exported to "
            "ONNX first when input shapes are known. TorchScript, ExportedProgram and full-pickle files can run code "
            "when loaded: they are refused unless --trust-model."
        ),
    )
    p.add_argument("model", help="model file (.onnx, .pt, .pt2, .engine, ...)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    add_trust_args(p)
    p.add_argument(
        "--input-shape",
        action="append",
        default=[],
        metavar="NAME:DxD",
        help="example input shape for exporting a PyTorch file, e.g. x:1x3x224x224 (repeatable or comma list)",
    )
    p.add_argument(
        "--opset",
        type=int,
        default=None,
        help="ONNX opset for PyTorch exports (default: the exporter's own; TorchScript 17)",
    )
    p.add_argument("--factory", metavar="MODULE:FUNC", help="for a state dict: a function returning the nn.Module")
    p.add_argument(
        "--target",
        metavar="PROFILE",
        help="pre-flight check against PROFILE's TensorRT release(s): unsupported ops/attributes, opset, DOUBLE, "
        "INT64 weights, dynamic inputs without shapes, DLA layers (exit 8 when the build would fail)",
    )
    p.add_argument(
        "--trt-version",
        action="append",
        metavar="X.Y",
        help="with --target: check these TensorRT releases instead of the profile's list (repeatable)",
    )
    p.add_argument("--dla", action="store_true", help="with --target: check DLA placement even if dla_core is -1")
    p.add_argument("--verbose", action="store_true", help="with --target: also list restrictions to check by hand")
    p.set_defaults(handler="workbench.cli.cmd_inspect:run")


def _dims(shape: list[Any]) -> str:
    if not shape:
        return "[] (scalar)"
    return "[" + ", ".join("?" if d is None else field(d) for d in shape) + "]"


def _batch_text(inputs: list[dict[str, Any]]) -> str:
    """Where a benchmark's batch goes in these inputs (core/models/dims.py ``batch_layout``)."""
    from types import SimpleNamespace

    from workbench.core.models.dims import batch_layout

    lay = batch_layout([SimpleNamespace(name=t["name"], shape=tuple(t["shape"])) for t in inputs])
    if lay.lead is None:
        return "none (every input is a scalar)"
    if lay.fixed is not None:
        return f"fixed at {lay.fixed} ({field(lay.lead)} dim 0)"
    where = ", ".join(f"{field(n)} dim {a}" for n, a in lay.axes.items() if a is not None)
    named = f"dim '{field(lay.symbol)}'" if lay.symbol else "unnamed"
    return f"{where} ({named}; --batch N sets it)"


def render_info(doc: dict[str, Any]) -> str:
    """Human report of ``ModelInfo.to_dict()`` (plus an optional ``export`` section). Everything from the file
    (names, dims, producer, paths) is shown escaped (``textsafe.field``): the model's author chose it."""
    lines = []
    src = doc.get("source_format", "onnx")
    lines.append(f"Model        {field(doc.get('source_path') or doc['path'])}")
    if src != "onnx":
        lines.append(f"Detected     {doc.get('source_description', src)}")
        lines.append(f"Exported to  {field(doc['path'])}")
    lines.append(f"Format       ONNX, IR version {doc['ir_version']}, opset {doc['opset']}")
    lines.append(f"Producer     {field(doc['producer'] or '-')}")
    ext = doc.get("external_data") or []
    size = human_bytes(doc["size_bytes"])
    lines.append(
        f"Size         {size}" + (f" (with {len(ext)} external data file{'s' if len(ext) != 1 else ''})" if ext else "")
    )
    lines.append(f"Parameters   {doc['param_count']:,}")
    from workbench.core.precision.explicit import explicit_quantization

    q = doc.get("explicit_quantization")
    eq = explicit_quantization(doc["op_histogram"], tuple(q.get("types") or ())) if q else None
    if eq is not None and eq.integer:  # already INT8: it benchmarks as --precision int8, with its own scales
        lines.append(f"Precision    INT8 ({eq.describe()}): bench with --precision int8, no calibration")
    elif eq is not None:  # FP8 / INT4 / FP4 Q/DQ: not the int8 precision
        lines.append(f"Precision    {eq.width}, not INT8 ({eq.describe()}): not benchmarked by the workbench")
    lines.append(f"SHA-256      {doc['sha256']}")
    from workbench.core.models.torch_export import opset_origin

    exp = doc.get("export")
    if exp:
        took = "reused from cache" if exp["cached"] else "{:.1f} s".format(exp["seconds"])
        lines.append(
            f"Export       {exp['exporter']} exporter, opset {exp['opset']}"
            f"{opset_origin(exp['exporter'], exp.get('opset_asked'))}, {took}; vs torch: "
            f"max-abs {exp['max_abs']:.3g}, cosine {exp['cosine']:.6f}"
        )
    for title, key in (("Inputs", "inputs"), ("Outputs", "outputs")):
        lines.append("")
        lines.append(f"{title} ({len(doc[key])})")
        rows = [[t["name"], t["dtype"], _dims(t["shape"])] for t in doc[key]]
        lines.extend("  " + r for r in table(["name", "dtype", "shape"], rows))
        if key == "inputs" and doc[key]:
            lines.append(f"  batch: {_batch_text(doc[key])}")
    hist = doc["op_histogram"]
    lines.append("")
    lines.append(f"Operators ({sum(hist.values())} nodes, {len(hist)} types)")
    lines.extend("  " + r for r in table(["op", "count"], [[k, str(v)] for k, v in hist.items()], right={1}))
    if ext:
        lines.append("")
        lines.append("External data")
        lines.extend(f"  {field(e)}" for e in ext)
    if doc.get("warnings"):
        lines.append("")
        lines.append("Warnings")
        lines.extend(f"  {block(w)}" for w in doc["warnings"])
    return "\n".join(lines)


def _pytorch_report(path: str, kind: Any, hint: str) -> dict[str, Any]:
    import os

    return {
        "path": path,
        "format": kind.value,
        "description": kind.describe(),
        "size_bytes": os.path.getsize(path),
        "exported": False,
        "how_to_export": hint,
    }


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from workbench.core.errors import BackendUnavailable, ModelError
    from workbench.core.models.load import inspect_model, load_onnx
    from workbench.core.models.shapes import format_shapes, parse_input_shapes
    from workbench.core.models.sniff import FileKind, sniff, trt_plan_version

    path = Path(args.model)
    shapes = parse_input_shapes(args.input_shape)
    kind = sniff(path)

    if kind is FileKind.ONNX:
        from workbench.core.precision.explicit import model_quantization

        info = inspect_model(path)
        doc = info.to_dict()
        eq = model_quantization(path, info.op_histogram)  # already INT8: Q/DQ or integer operators, with their types
        doc["explicit_quantization"] = eq.to_dict() if eq is not None else None
    elif kind is FileKind.TRT_PLAN:
        import importlib.util

        with open(path, "rb") as fh:
            ver = trt_plan_version(fh.read(64))
        built = f" (built by TensorRT {'.'.join(map(str, ver))})" if ver else ""
        if importlib.util.find_spec("tensorrt") is None:
            raise BackendUnavailable(
                f"{path} is a TensorRT engine{built}; TensorRT is not available here to inspect it",
                hint="inspect it on the machine it was built for, or inspect the ONNX model it came from",
            )
        raise ModelError(
            f"{path} is a TensorRT engine{built}; inspecting engines is not supported yet",
            hint="inspect the ONNX model it was built from",
        )
    elif kind in (FileKind.EMPTY, FileKind.UNKNOWN):
        load_onnx(path)  # raises the ModelError naming the file
        return 4  # pragma: no cover - load_onnx always raises for these kinds
    else:
        from workbench.core.models.torch_export import export_to_onnx, refuse_untrusted

        if kind.needs_trust and not args.trust_model:
            raise refuse_untrusted(path, kind)  # like export: nothing of the file is loaded without the flag
        needs_shapes = kind in (FileKind.TORCHSCRIPT, FileKind.TORCH_PICKLE) or (
            kind is FileKind.TORCH_ZIP_WEIGHTS and args.factory
        )
        if kind is FileKind.TORCH_ZIP_WEIGHTS and not args.factory:
            hint = (
                "the file holds weights only (no network code); export it with a module factory: "
                f"workbench inspect {path} --factory mypkg.nets:build --input-shape NAME:1x3x224x224"
            )
            doc = _pytorch_report(str(path), kind, hint)
            return _emit_pytorch(doc, args.json)
        if needs_shapes and not shapes:
            hint = (
                f"give example input shapes to export it to ONNX: workbench inspect {path} "
                + ("--trust-model " if kind.needs_trust else "")
                + "--input-shape NAME:1x3x224x224 (one per input, in argument order)"
            )
            doc = _pytorch_report(str(path), kind, hint)
            return _emit_pytorch(doc, args.json)
        result = export_to_onnx(
            path,
            kind,
            trust_model=args.trust_model,
            opset=args.opset,
            input_shapes=shapes or None,
            factory=args.factory,
        )
        doc = inspect_model(result.path).to_dict()
        doc["source_format"] = kind.value
        doc["source_description"] = kind.describe()
        doc["source_path"] = str(path)
        doc["export"] = result.to_dict()
        if shapes:
            doc["export"]["input_shape_spec"] = format_shapes(shapes)

    report = None
    if args.target:
        from workbench.core.models.preflight import preflight
        from workbench.core.models.preflight import render as render_preflight
        from workbench.core.profiles import load_profile

        profile = load_profile(args.target)
        report = preflight(doc["path"], profile, releases=args.trt_version, dla=True if args.dla else None)
        doc["preflight"] = report.to_dict()
    if args.json:
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(render_info(doc))
        if report is not None:
            print("")
            print(render_preflight(report, show_info=args.verbose))
    if report is not None and report.verdict == "errors":
        from workbench.cli.exitcodes import Exit

        return int(Exit.BUILD)  # the TensorRT build would fail: scripts can stop before a long build
    return 0


def _emit_pytorch(doc: dict[str, Any], as_json: bool) -> int:
    import json

    if as_json:
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(f"Model        {field(doc['path'])}")
        print(f"Detected     {doc['description']}")
        print(f"Size         {human_bytes(doc['size_bytes'])}")
        print("Not exported: " + block(doc["how_to_export"]))
    return 0
