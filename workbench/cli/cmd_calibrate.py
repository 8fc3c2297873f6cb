"""``workbench calibrate MODEL --calib DIR``: write the QDQ INT8 model (explicit quantization)."""

from __future__ import annotations

import argparse

from workbench.cli.common import add_calib_args, add_model_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate",
        help="INT8 calibration: write a QDQ model with ONNX Runtime's quantize_static (cached)",
        description=(
            "Streams the calibration set through ONNX Runtime's calibrator (minmax, entropy or percentile) and "
            "writes a QDQ model with the profile's recipe (U8/S8 on x86 CPU; symmetric S8/S8 for TensorRT targets)."
        ),
    )
    add_model_args(p, model_optional=True)
    add_calib_args(p)
    p.add_argument("--eval", metavar="DIR", help="held-out evaluation set for --check (labels.csv gives top-1)")
    p.add_argument(
        "--check",
        action="store_true",
        help="then compare the INT8 model with FP32: the accuracy verdict `workbench bench --precision int8` gives",
    )
    p.add_argument("-o", "--output", metavar="FILE", help="also copy the QDQ model here")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="workbench.cli.cmd_calibrate:run")


def run(args: argparse.Namespace) -> int:
    from workbench.cli.common import StepPrinter, dump_json, request_from_args
    from workbench.core import workflow

    if args.output:  # a planted symbolic link is refused before calibrating, not after (fsutil.resolve_output)
        from workbench.core.fsutil import resolve_output

        resolve_output(args.output)
    step = StepPrinter(job_dir=args.job_dir)
    job = workflow.prepare(request_from_args(args, precision="int8"), step, backend_needed=False)
    if args.check:
        cal, report = workflow.calibrate_and_check(job, step)
    else:
        cal, report = workflow.calibrate(job, step), None
    if args.job_dir is not None:  # a face following this job reads the typed outcome back (core/jobs.py)
        from workbench.core import jobs

        jobs.write_outcome(
            args.job_dir,
            {"command": "calibrate", "calibration": cal.to_dict(), "accuracy": report.to_dict() if report else None},
        )
    result, ds = cal.result, cal.dataset
    coverage = cal.coverage()
    out = result.path
    if args.output:
        from workbench.core.fsutil import write_bytes_atomic

        write_bytes_atomic(args.output, result.path.read_bytes())
        out = args.output
    record = {
        "qdq_model": str(out),
        "cached": result.cached,
        "method": result.method,
        "samples": result.samples,
        "excluded_nodes": list(result.excluded_nodes),
        "float_kept": [f.to_dict() for f in result.float_kept],
        "quantized_tensors": coverage.quantized_tensors,
        "unreached_compute": coverage.unreached_compute,
        "seconds": result.seconds,
        "skipped_files": [list(s) for s in ds.skipped],
        "placement": result.placement,
        "quantizer": result.quantizer,
        "residual_adds": [r.to_dict() for r in result.residual_adds],
        "agreement": result.agreement.to_dict() if result.agreement is not None else None,
        "quant_format": result.quant_format,
        "cpu_recipe": result.cpu_recipe,  # which plain CPU recipe and why (precision/cpu_recipes.py); None: profile keys
    }
    if args.check:
        record["accuracy"] = report.to_dict() if report is not None else None
    if coverage.warning():
        import sys

        print(f"warning: {coverage.warning()}", file=sys.stderr)
    if args.json:
        dump_json(record)
    else:
        state = "reused from the calibration cache" if result.cached else f"calibrated in {result.seconds:.2f} s"
        where = f", {result.placement} Q/DQ placement" if result.placement else ""
        print(f"INT8 QDQ model ({result.method}, {result.samples} samples{where}, {state}): {out}")
        from workbench.core.results.summary import float_kept_line

        if result.cpu_recipe:
            from workbench.core.precision.cpu_recipes import RecipeChoice

            choice = RecipeChoice.from_dict(result.cpu_recipe)
            if choice is not None:
                print(choice.line())
        kept = float_kept_line([(f.tensor, f.reason) for f in result.float_kept])
        if kept:
            print(kept)
        if result.agreement is not None:
            print(result.agreement.line())
        for name, why in ds.skipped:
            print(f"  skipped {name}: {why}")
        if args.check:
            from workbench.core.results.summary import accuracy_line

            print(accuracy_line(report) if report is not None else "accuracy: no evaluation set to check on")
    return 0
