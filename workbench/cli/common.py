"""Arguments shared by several commands and their translation into a workflow JobRequest (stdlib only)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

PRECISIONS = ("fp32", "fp16", "bf16", "int8", "best")
METHODS = ("minmax", "entropy", "percentile")


def telemetry_spec(text: str) -> str:
    """``--telemetry`` value: non-empty (an empty one read as "auto" and hid a typo such as ``--telemetry $SRC``)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("empty: give auto, host, sysfs, tegrastats, nvml or replay:FILE")
    return text


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 0")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 0 or value != value:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 0")
    return value


def positive_float(text: str) -> float:
    try:
        value = non_negative_float(text)
    except argparse.ArgumentTypeError as exc:  # a negative value: say the same bound as for 0
        raise argparse.ArgumentTypeError(str(exc).replace("must be >= 0", "must be > 0")) from None
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


TRUST_HELP = (
    "load TorchScript, ExportedProgram (.pt2) and full-pickle files, which can run code stored in the file "
    "(refused without it); only for files from a source you trust. Old name: --trust-pickle"
)


def add_trust_args(p: argparse.ArgumentParser) -> None:
    """``--trust-model`` and its old name ``--trust-pickle`` (hidden from --help, kept so scripts and jobs written
    for 0.1.0 still run): both set ``args.trust_model``."""
    p.add_argument("--trust-model", dest="trust_model", action="store_true", help=TRUST_HELP)
    p.add_argument("--trust-pickle", dest="trust_model", action="store_true", help=argparse.SUPPRESS)


def add_model_args(p: argparse.ArgumentParser, *, model_optional: bool = False) -> None:
    if model_optional:
        p.add_argument(
            "model", nargs="?", help="ONNX / TorchScript / ExportedProgram file (default: the bundled digits CNN)"
        )
    else:
        p.add_argument("model", help="ONNX / TorchScript / ExportedProgram file")
    p.add_argument("--profile", help="device profile name or TOML path (default: auto-detected)")
    p.add_argument("--spec", help="model spec TOML (default: <model>.workbench.toml next to the model)")
    add_trust_args(p)
    p.add_argument("--backend", choices=("onnxruntime", "tensorrt", "torch"), help="override the profile's backend")
    p.add_argument(
        "--opset",
        type=int,
        default=None,
        metavar="N",
        help="opset for PyTorch -> ONNX export (default: the exporter's own; TorchScript 17)",
    )
    p.add_argument(
        "--dynamic-batch", action="store_true", help="PyTorch -> ONNX: dynamic batch dim (checked at batch 2)"
    )
    p.add_argument(
        "--input-shape",
        action="append",
        default=[],
        metavar="NAME:DxD",
        help="example input shape for PyTorch -> ONNX export (repeatable)",
    )


def add_calib_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--calib", metavar="DIR", help="calibration set folder or bundled name (e.g. digits)")
    p.add_argument("--method", choices=METHODS, help="calibration method (default: the profile's)")
    p.add_argument("--calib-samples", type=positive_int, metavar="N", help="use at most N calibration samples")


def add_bench_args(p: argparse.ArgumentParser) -> None:
    run = p.add_mutually_exclusive_group()
    run.add_argument("--iterations", type=positive_int, metavar="N", help="exactly N timed iterations")
    run.add_argument("--duration", type=positive_float, metavar="S", help="run for at least S seconds")
    p.add_argument(
        "--until-stable",
        action="store_true",
        help="keep timing until the --target percentile's 95 %% interval is within --rel-width (or --max-duration)",
    )
    p.add_argument("--target", default="p99", metavar="pNN", help="percentile watched by --until-stable (default p99)")
    p.add_argument(
        "--rel-width",
        type=positive_float,
        default=0.02,
        metavar="F",
        help="relative half-width to reach (default 0.02)",
    )
    p.add_argument(
        "--max-duration",
        type=positive_float,
        default=60.0,
        metavar="S",
        help="--until-stable gives up after S s (default 60)",
    )
    p.add_argument("--warmup-ms", type=non_negative_float, metavar="MS", help="warm-up time (default 200 ms)")
    p.add_argument("--warmup-iterations", type=int, metavar="N", help="at least N warm-up iterations")
    p.add_argument("--threads", type=non_negative_int, metavar="N", help="intra-op threads (0 = runtime default)")
    p.add_argument(
        "--batch",
        type=positive_int,
        metavar="N",
        help="batch to feed: the size of the first input's leading dim wherever it appears (default: the model's "
        "fixed batch, else the profile's, 1)",
    )
    p.add_argument(
        "--shapes",
        metavar="SPEC",
        help="sizes of dynamic dims: whole inputs (x:1x3x224x224) and/or named dims set in every input using them "
        "(batch=1,height=320), comma-separated",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    p.add_argument(
        "--inputs", metavar="DIR", dest="bench_dataset", help="feed real samples from a dataset instead of random data"
    )
    p.add_argument(
        "--telemetry",
        metavar="SOURCE",
        type=telemetry_spec,
        help="telemetry source: auto, host, sysfs, tegrastats, nvml, replay:FILE",
    )
    p.add_argument("--rebuild", action="store_true", help="rebuild the artifact even when cached")
    p.add_argument("--profile-layers", action="store_true", help="record ONNX Runtime's per-node profile")
    p.add_argument("--no-store", action="store_true", help="do not save the result in the results database")
    p.add_argument("--export-times", metavar="FILE", help="write every timed latency (ms) as JSON")
    p.add_argument(
        "--cuda-graph", action="store_true", default=None, help="GPU backends: replay queries as a CUDA graph"
    )
    p.add_argument(
        "--no-transfers",
        dest="include_transfers",
        action="store_false",
        default=None,
        help="GPU backends: time GPU compute only, without H2D/D2H (trtexec 11's default)",
    )
    p.add_argument(
        "--streams",
        type=positive_int,
        default=1,
        metavar="N",
        help="GPU backends: N concurrent streams (throughput only)",
    )
    p.add_argument(
        "--repeat",
        type=positive_int,
        default=1,
        metavar="K",
        help="K independent runs (processes), pooled; per-run spread reported",
    )
    p.add_argument(
        "--idle-s",
        type=non_negative_float,
        default=0.0,
        metavar="S",
        help="sample idle power for S s first (shown beside)",
    )
    p.add_argument(
        "--subtract-idle", action="store_true", help="with --idle-s: also report energy above idle (labelled)"
    )
    p.add_argument("--settle", action="store_true", help="wait until temperatures stop rising before timing")
    p.add_argument(
        "--settle-target", type=float, metavar="C", help="with --settle: wait until the hottest zone is <= C °C"
    )
    p.add_argument("--verbose", action="store_true", help="full table: every percentile with its 95 %% interval")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def _percentile_arg(text: str) -> float:
    from workbench.core.errors import UsageError

    t = text.strip().lower().lstrip("p").replace("_", ".")
    try:
        value = float(t)
    except ValueError:
        raise UsageError(
            f"--target {text!r} is not a percentile like p99 or p99.9",
            hint="write it as pNN, e.g. --target p99 or --target p99.9",
        ) from None
    if not 0 < value < 100:
        raise UsageError(
            f"--target {text!r} must be between p0 and p100 (exclusive)",
            hint="pass a percentile strictly between 0 and 100, e.g. --target p99",
        )
    return value


def request_from_args(args: argparse.Namespace, **overrides: Any):
    """The workflow's JobRequest (core/job.py) for a parsed command line; ``overrides`` replace fields."""
    from workbench.core.bench.resolve import parse_shape_spec
    from workbench.core.job import JobRequest
    from workbench.core.models.shapes import parse_input_shapes

    input_shapes = parse_input_shapes(getattr(args, "input_shape", []) or [])  # its errors name --input-shape
    shapes = parse_shape_spec(getattr(args, "shapes", None))
    kw: dict[str, Any] = dict(
        model=getattr(args, "model", None),
        profile=getattr(args, "profile", None),
        spec=getattr(args, "spec", None),
        trust_model=getattr(args, "trust_model", False),
        input_shapes=input_shapes,
        export_opset=getattr(args, "opset", None),
        export_dynamic_batch=getattr(args, "dynamic_batch", False),
        precision=getattr(args, "precision", None) or "fp32",
        calib=getattr(args, "calib", None),
        eval=getattr(args, "eval", None),
        method=getattr(args, "method", None),
        calib_samples=getattr(args, "calib_samples", None),
        iterations=getattr(args, "iterations", None),
        duration_s=getattr(args, "duration", None),
        warmup_ms=getattr(args, "warmup_ms", None),
        warmup_iterations=getattr(args, "warmup_iterations", None),
        threads=getattr(args, "threads", None),
        batch=getattr(args, "batch", None),
        shapes={k: list(v) for k, v in shapes.inputs.items()},
        symbols=dict(shapes.symbols),
        seed=getattr(args, "seed", 0) or 0,
        bench_dataset=getattr(args, "bench_dataset", None),
        telemetry=getattr(args, "telemetry", None),
        force_build=getattr(args, "rebuild", False),
        profile_layers=getattr(args, "profile_layers", False),
        store=not getattr(args, "no_store", False),
        repeat=getattr(args, "repeat", 1) or 1,
        backend=getattr(args, "backend", None),
        cuda_graph=getattr(args, "cuda_graph", None),
        include_transfers=getattr(args, "include_transfers", None),
        streams=getattr(args, "streams", 1) or 1,
        idle_s=getattr(args, "idle_s", 0.0) or 0.0,
        subtract_idle=getattr(args, "subtract_idle", False),
        settle=getattr(args, "settle", False),
        settle_target_c=getattr(args, "settle_target", None),
        until_stable=getattr(args, "until_stable", False),
        stable_target=_percentile_arg(getattr(args, "target", "p99") or "p99"),
        stable_rel_width=getattr(args, "rel_width", 0.02) or 0.02,
        max_duration_s=getattr(args, "max_duration", 60.0) or 60.0,
        export_times=getattr(args, "export_times", None),
        job_dir=getattr(args, "job_dir", None),
    )
    kw.update(overrides)
    return JobRequest(**kw)


class StepPrinter:
    """Progress (core/progress.py) on stderr — stdout stays clean for --json. Counted progress prints at most
    every 10 %. Inside a detached job (``job_dir``), every step and every whole percent of counted progress is
    also written to the job's events.jsonl (core/jobs.py ``append_progress``) for a face that follows the job."""

    def __init__(self, quiet: bool = False, *, job_dir=None) -> None:
        self.quiet = quiet
        self.job_dir = job_dir
        self._last_pct = -1
        self._logged: tuple[str, int] | None = None

    def _log(self, step) -> None:
        if step.total and step.done is not None:
            key = (step.step, int(step.done * 100 / step.total))
            if key == self._logged:
                return
            self._logged = key
        from workbench.core.jobs import append_progress

        append_progress(self.job_dir, step)

    def __call__(self, step) -> None:
        if self.job_dir is not None:
            self._log(step)
        if self.quiet:
            return
        if step.total and step.done is not None:
            pct = int(step.done * 100 / step.total) if step.total else 100
            if pct // 10 == self._last_pct // 10 and pct != 100:
                return
            self._last_pct = pct
            print(f"[{step.step}] {step.message} {step.done}/{step.total} ({pct} %)", file=sys.stderr)
            return
        print(f"[{step.step}] {step.message}", file=sys.stderr)


def dump_json(doc: Any) -> None:
    json.dump(doc, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def root_dir(text: str) -> str:
    """argparse type for ``--root DIR``: an existing folder (a copied board image), else a usage error naming it."""
    import argparse
    import os

    if not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a folder (give the root of a copied board image, or /)")
    return text
