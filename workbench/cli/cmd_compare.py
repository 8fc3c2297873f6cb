"""``workbench compare MODEL --precision int8|fp16``: accuracy of a precision against FP32."""

from __future__ import annotations

import argparse
import sys

from workbench.cli.common import add_calib_args, add_model_args, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="compare INT8/FP16 outputs with FP32: max-abs, cosine, top-1 agreement, accuracy, verdict",
        description=(
            "Runs FP32 and the chosen precision on the eval set (held out) or, without one, on calibration "
            "samples (labelled not held-out). A failed verdict is reported with advice; the exit status stays 0."
        ),
    )
    add_model_args(p, model_optional=True)
    p.add_argument("--precision", choices=("int8", "fp16", "bf16"), default="int8")
    add_calib_args(p)
    p.add_argument("--eval", metavar="DIR", help="held-out evaluation set (labels.csv gives top-1)")
    p.add_argument(
        "--per-layer",
        action="store_true",
        help="INT8: rank the quantized activations (and recognised LayerNorm/Softmax/GELU subgraphs) by how much "
        "leaving each in float recovers the output, measured like the deployed model",
    )
    p.add_argument(
        "--auto-exclude",
        action="store_true",
        help="INT8: re-quantize keeping the most helpful layers in FP32 while each improves the accuracy check, "
        "until it passes or the budget is used (implies --per-layer)",
    )
    p.add_argument(
        "--max-excluded",
        type=positive_int,
        default=8,
        metavar="N",
        help="budget of units --auto-exclude may leave in FP32: a recognised LayerNorm/Softmax/GELU subgraph "
        "counts as one, any other node as one (default 8)",
    )
    p.add_argument("--top", type=positive_int, default=10, metavar="N", help="rows of the per-layer table (default 10)")
    p.add_argument(
        "--layer-samples",
        type=positive_int,
        default=16,
        metavar="N",
        help="samples used for the per-layer ranking (default 16)",
    )
    p.add_argument(
        "--layer-candidates",
        type=positive_int,
        default=256,
        metavar="N",
        help="at most N candidates (layer groups, units) are re-run with that candidate in FP32 (default 256)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="workbench.cli.cmd_compare:run")


def run(args: argparse.Namespace) -> int:
    from workbench.cli.common import StepPrinter, dump_json, request_from_args
    from workbench.core import workflow
    from workbench.core.errors import UsageError
    from workbench.core.precision.localize import render, render_auto
    from workbench.core.results.summary import accuracy_line

    step = StepPrinter()
    job = workflow.prepare(request_from_args(args), step, backend_needed=False)
    precision = job.request.precision
    per_layer = args.per_layer or args.auto_exclude
    if per_layer and precision != "int8":
        raise UsageError(
            "--per-layer and --auto-exclude localise INT8 error: use them with --precision int8",
            hint="add --precision int8 (and --calib DIR), or drop --per-layer / --auto-exclude",
        )
    check = workflow.check_accuracy(job, precision, step)
    doc = check.report.to_dict()
    doc["precision"] = precision
    lines: list[str] = []
    if per_layer:
        found = workflow.localize_int8(
            job,
            check,
            samples=args.layer_samples,
            candidates=args.layer_candidates,
            auto_exclude=args.auto_exclude,
            max_excluded=args.max_excluded,
            on_progress=step,
        )
        doc["per_layer"] = found.localisation.to_dict()
        lines = [*render(found.localisation, args.top)]
        ae = found.auto
        if ae is not None:
            doc["auto_exclude"] = ae.to_dict()
            lines.extend(render_auto(ae))
            if ae.excluded:
                lines.append(
                    "  to keep this: add to the model spec or profile [quantization] nodes_to_exclude = ["
                    + ", ".join(f'"{n}"' for n in (*found.base_excluded, *ae.excluded))
                    + "]"
                )
    if args.json:
        dump_json(doc)
    else:
        print(f"{precision.upper()} vs FP32 for {job.model_path.name}:")
        cov = check.calibration.coverage() if check.calibration is not None else None
        if cov is not None and cov.warning():
            print(f"warning: {cov.warning()}", file=sys.stderr)
        print(accuracy_line(check.report, nothing_quantized=cov is not None and cov.quantized_tensors == 0))
        for line in lines:
            print(line)
    return 0
