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
        default=None,
        help="comma list of precisions to run (fp32 always first; default fp32,int8, or fp32,fp16 on a backend "
        "without INT8 such as torch)",
    )
    add_bench_args(p)
    p.set_defaults(handler="workbench.cli.cmd_run:run")


def run(args: argparse.Namespace) -> int:
    from workbench.cli.common import StepPrinter, dump_json, request_from_args
    from workbench.core import workflow
    from workbench.core.errors import UsageError
    from workbench.core.results.summary import speedup_line, summary

    wanted = [p.strip() for p in (args.precisions or "").split(",") if p.strip()]
    for p in wanted:
        if p not in ("fp32", "fp16", "bf16", "int8"):
            raise UsageError(
                f"--precisions: {p!r} is not one of fp32, fp16, bf16, int8", hint="e.g. --precisions fp32,int8"
            )
    step = StepPrinter(job_dir=args.job_dir)
    job = workflow.prepare(request_from_args(args), step)
    main = workflow.run_main(job, wanted, on_progress=step)
    if args.json:
        dump_json(main.to_dict())
        return 0
    for r in main.results:
        print(summary(r, verbose=args.verbose))
        print()
    if main.fp32 is not None:
        for r in main.results[1:]:
            print(speedup_line(main.fp32, r))
    return 0
