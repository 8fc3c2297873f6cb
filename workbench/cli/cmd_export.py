"""``workbench export MODEL -o OUT.onnx``: PyTorch (TorchScript, ExportedProgram and full pickles with
``--trust-model``; state dict + factory) to a verified ONNX file.

The export itself is :func:`workbench.core.models.torch_export.export_to_onnx` (cached by source hash and
settings); this command copies the verified file to ``-o`` atomically and reports the check against torch.
Module top imports stdlib only.
"""

from __future__ import annotations

import argparse
import sys

from workbench.cli.common import add_trust_args


def _opset(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an opset number") from None
    if not 7 <= n <= 30:
        raise argparse.ArgumentTypeError(f"opset {n} is outside 7..30")
    return n


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a PyTorch model to ONNX and verify it against torch",
        description=(
            "TorchScript (torch.jit.save), ExportedProgram (.pt2, torch.export.save) or a full pickle, each with "
            "--trust-model (loading them can run code from the file), or a state dict with --factory "
            "module:function. Every export is run in ONNX Runtime "
            "and compared with torch on the same input (max-abs, cosine); with --dynamic-batch it is also run at "
            "batch 2, and an export whose batch is really fixed is an error naming the input."
        ),
    )
    p.add_argument("model", help="PyTorch model file (.pt, .pt2, .pth; the type is read from the bytes)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.onnx", help="where to write the ONNX model")
    p.add_argument(
        "--opset",
        type=_opset,
        default=None,
        help="ONNX opset to produce (checked). Default: the exporter's own — for an ExportedProgram what the dynamo "
        "exporter writes (20 in torch 2.13), for TorchScript 17",
    )
    p.add_argument(
        "--target",
        metavar="PROFILE",
        help="device profile whose TensorRT parser limits the opset is checked against (default: this device's)",
    )
    p.add_argument("--dynamic-batch", action="store_true", help="make axis 0 of every input dynamic ('batch')")
    p.add_argument(
        "--input-shape",
        action="append",
        default=[],
        metavar="NAME:DxD",
        help="example input shape, e.g. x:1x3x224x224 (repeatable or comma list; in argument order)",
    )
    p.add_argument("--factory", metavar="MODULE:FUNC", help="for a state dict: a function returning the nn.Module")
    add_trust_args(p)
    p.add_argument("--json", action="store_true", help="print the export record as one JSON document")
    p.set_defaults(handler="workbench.cli.cmd_export:run")


def _target_profile(name: str | None):
    """``--target`` loaded, else the profile auto-detection picks for this device (profiles/match.py).

    Raises:
        ConfigError: an unknown or invalid profile name."""
    from workbench.core.profiles import load_profile

    if name:
        return load_profile(name)
    from workbench.core.profiles.match import detect_device

    return load_profile(detect_device().profile_name)


def run(args: argparse.Namespace) -> int:
    import json
    import shutil
    from pathlib import Path

    from workbench.core.errors import StorageError, UsageError
    from workbench.core.fsutil import atomic_writer, resolve_output
    from workbench.core.models.preflight import opset_check_line, opset_checks
    from workbench.core.models.shapes import format_shapes, parse_input_shapes
    from workbench.core.models.sniff import FileKind, sniff
    from workbench.core.models.torch_export import export_to_onnx

    src = Path(args.model)
    out = Path(args.output)
    if not src.is_file():
        raise UsageError(
            f"model file {src} does not exist", hint="check the path (relative paths start from the current folder)"
        )
    resolve_output(out)  # a planted symbolic link is refused before exporting, not after
    shapes = parse_input_shapes(args.input_shape)
    kind = sniff(src)
    if kind is FileKind.ONNX:
        raise UsageError(
            f"{src} is already an ONNX model; nothing to export",
            hint="use it directly, or `workbench inspect` it",
        )
    if kind is FileKind.TORCH_ZIP_WEIGHTS and not args.factory:
        pass  # export_to_onnx raises the ModelError explaining --factory
    result = export_to_onnx(
        src,
        kind,
        trust_model=args.trust_model,
        opset=args.opset,
        input_shapes=shapes or None,
        factory=args.factory,
        dynamic_batch=args.dynamic_batch,
    )
    if out.resolve() != result.path.resolve():
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"cannot create {out.parent}: {exc.strerror or exc}", hint="pick an --output in a writable folder"
            ) from None
        with open(result.path, "rb") as fin, atomic_writer(out) as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
    profile = _target_profile(args.target)
    checks = opset_checks(result.opset, profile)
    doc = result.to_dict()
    doc.update(source=str(src), output=str(out), cache_path=str(result.path))
    doc["tensorrt_opset"] = {"profile": profile.name, "checks": [c.to_dict() for c in checks]}
    if shapes:
        doc["input_shape_spec"] = format_shapes(shapes)
    if args.json:
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    took = "reused from cache" if result.cached else f"{result.seconds:.1f} s"
    print(f"Exported     {src} ({kind.describe()}) -> {out}")
    chosen = "asked" if result.opset_asked is not None else "the exporter's own; no --opset given"
    print(f"Exporter     {result.exporter}, opset {result.opset} ({chosen}), {took}")
    print(f"TensorRT     {opset_check_line(checks, profile.name, result.opset)}")
    shapes_txt = ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in result.input_shapes.items())
    print(f"Inputs       {shapes_txt}" + ("  (axis 0 dynamic: batch)" if result.dynamic_batch else ""))
    print(f"Verified     ONNX Runtime vs torch: max-abs {result.max_abs:.3g}, cosine {result.cosine:.6f}")
    if result.dynamic_batch:
        print(
            f"Batch 2      max-abs {result.batch2_max_abs:.3g}, cosine {result.batch2_cosine:.6f} (dynamic batch works)"
        )
    return 0
