"""``workbench compare MODEL --precision int8|fp16``: accuracy of a precision against FP32."""

from __future__ import annotations

import argparse

from workbench.cli.common import add_calib_args, add_model_args


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
    p.add_argument("--precision", choices=("int8", "fp16"), default="int8")
    add_calib_args(p)
    p.add_argument("--eval", metavar="DIR", help="held-out evaluation set (labels.csv gives top-1)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="workbench.cli.cmd_compare:run")


def run(args: argparse.Namespace) -> int:
    from workbench.cli.common import StepPrinter, dump_json, options_from_args
    from workbench.cli.report import accuracy_line
    from workbench.core import pipeline
    from workbench.core.errors import DatasetError

    opts = options_from_args(args)
    step = StepPrinter()
    ctx = pipeline.prepare(opts, step)
    path, extra = pipeline.precision_model(ctx, opts.precision, step)
    report = pipeline.accuracy(ctx, path, extra.get("calib_dataset"), step)
    if report is None:
        raise DatasetError(
            f"no samples to compare {ctx.model_path.name} on",
            hint="pass --eval DIR (held-out, with labels.csv) or --calib DIR",
        )
    doc = report.to_dict()
    doc["precision"] = opts.precision
    if args.json:
        dump_json(doc)
    else:
        print(f"{opts.precision.upper()} vs FP32 for {ctx.model_path.name}:")
        print(accuracy_line(doc))
    return 0
