"""``workbench run``: the whole path on the bundled default (or a given model): FP32 and INT8, accuracy, speed-up."""

from __future__ import annotations

import argparse

from workbench.cli.common import add_bench_args, add_calib_args, add_model_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="the main job: import -> INT8 calibration -> build -> benchmark FP32 and INT8, with accuracy",
        description=(
            "With no arguments: the bundled digits CNN, calibrated on calib/digits and checked on eval/digits. "
            "Prints the FP32 and INT8 summaries, the accuracy comparison and the speed-up, and stores both results."
        ),
    )
    add_model_args(p, model_optional=True)
    add_calib_args(p)
    p.add_argument("--eval", metavar="DIR", help="held-out evaluation set (labels.csv gives top-1)")
    p.add_argument(
        "--precisions",
        default="fp32,int8",
        help="comma list of precisions to run (default fp32,int8; fp32 always first)",
    )
    add_bench_args(p)
    p.set_defaults(handler="workbench.cli.cmd_run:run")


def run(args: argparse.Namespace) -> int:
    from workbench.cli.common import StepPrinter, dump_json, options_from_args, public_entry
    from workbench.cli.report import speedup_line, summary
    from workbench.core import pipeline
    from workbench.core.errors import UsageError

    wanted = [p.strip() for p in args.precisions.split(",") if p.strip()]
    for p in wanted:
        if p not in ("fp32", "fp16", "int8"):
            raise UsageError(f"--precisions: {p!r} is not one of fp32, fp16, int8")
    if "fp32" not in wanted:
        wanted.insert(0, "fp32")
    wanted = ["fp32"] + [p for p in dict.fromkeys(wanted) if p != "fp32"]
    step = StepPrinter()
    ctx = pipeline.prepare(options_from_args(args), step)
    if "int8" in wanted and pipeline.resolve_dataset_path(ctx, "calib") is None:
        from workbench.core.errors import CalibrationError

        # Checked before any benchmark runs, so no FP32 run is wasted on a job that cannot finish.
        raise CalibrationError(
            f"INT8 needs a calibration set for {ctx.model_path.name}",
            hint="pass --calib DIR (images with preprocess.toml, or .npy/.npz tensors), or run --precisions fp32",
        )
    entries = [pipeline.bench_precision(ctx, p, on_step=step, reference_accuracy=True) for p in wanted]
    fp32 = entries[0]
    speedups = {e["precision"]: fp32["latency_ms"]["median"] / e["latency_ms"]["median"] for e in entries[1:]}
    if args.json:
        doc = {"model": fp32["model"], "profile": fp32["profile"], "results": [public_entry(e) for e in entries]}
        doc["speedup_vs_fp32"] = speedups
        dump_json(doc)
        return 0
    for e in entries:
        print(summary(e, verbose=args.verbose))
        print()
    for e in entries[1:]:
        print(speedup_line(fp32, e))
    return 0
