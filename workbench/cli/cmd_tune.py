"""``workbench tune [MODEL] --calib DIR --eval DIR``: search for the fastest deployment that keeps its accuracy,
measure it, recommend it with its reasons and write a tuned profile (core/tune/)."""

from __future__ import annotations

import argparse

from workbench.cli.common import add_model_args, non_negative_float, positive_float, positive_int, telemetry_spec


def _cosine(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not -1.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} must be between -1 and 1 (e.g. 0.98)")
    return v


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tune",
        help="search precisions, INT8 recipes, layers kept FP32, threads (and power modes / GPU options) for the "
        "fastest deployment meeting the accuracy bound; writes a tuned profile",
        description=(
            "Accuracy first (cached per artifact), then a short benchmark of every candidate that passes, then "
            "longer confirmation runs with intervals for the front-runners. A candidate is called faster only "
            "when the difference is significant (the `results compare` rule). At the budget it recommends the best "
            "measured candidate meeting the bounds, with its reasons, and writes a profile that extends the device "
            "profile (use it with --profile PATH). Every run is stored, linked to the tune; running the same tune "
            "again resumes from the stored runs."
        ),
    )
    add_model_args(p, model_optional=True)
    p.add_argument("--calib", metavar="DIR", help="calibration set folder or bundled name (INT8 candidates)")
    p.add_argument("--calib-samples", type=positive_int, metavar="N", help="use at most N calibration samples")
    p.add_argument("--eval", metavar="DIR", help="held-out evaluation set (labels.csv gives top-1)")
    bound = p.add_mutually_exclusive_group()
    bound.add_argument(
        "--max-drop", type=non_negative_float, metavar="PTS", help="top-1 may drop at most PTS points vs FP32"
    )
    bound.add_argument(
        "--min-cosine", type=_cosine, metavar="C", help="minimum per-sample output cosine vs FP32 over the eval set"
    )
    p.add_argument("--p99-max", type=positive_float, metavar="MS", help="latency bound: p99 <= MS")
    p.add_argument("--power-max", type=positive_float, metavar="W", help="power bound: mean power <= W")
    p.add_argument(
        "--objective", choices=("p50", "p99", "throughput", "energy"), default="p50", help="what to minimise / "
        "maximise (default p50, single-stream batch 1; batch joins the search only for throughput)",
    )  # fmt: skip
    p.add_argument(
        "--budget-min", type=positive_float, default=10.0, metavar="N", help="stop after N minutes (fractions "
        "allowed; default 10) and recommend from what was measured",
    )  # fmt: skip
    p.add_argument(
        "--short-s", type=positive_float, metavar="S", help="seconds of each short run (default: from the budget)"
    )
    p.add_argument("--confirm-s", type=positive_float, metavar="S", help="seconds of each confirmation run")
    p.add_argument(
        "--confirm-top", type=positive_int, default=3, metavar="K", help="front-runners confirmed (default 3)"
    )
    p.add_argument(
        "--power-sweep", metavar="FILE", help="a recorded power sweep (`workbench sweep --json`): its modes are shown "
        "in the front, labelled recorded, never recommended",
    )  # fmt: skip
    p.add_argument("--tuned-profile", metavar="PATH", help="where to write the tuned profile (default: user profiles)")
    p.add_argument("--fresh", action="store_true", help="measure everything again (do not resume stored runs)")
    p.add_argument("--telemetry", metavar="SOURCE", type=telemetry_spec, help="telemetry source")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.set_defaults(handler="workbench.cli.cmd_tune:run")


def options_from_args(args: argparse.Namespace):
    """The engine's TuneOptions for a parsed command line."""
    from workbench.core.tune.engine import TuneOptions
    from workbench.core.tune.types import TuneBounds

    return TuneOptions(
        objective=args.objective,
        bounds=TuneBounds(args.max_drop, args.min_cosine, args.p99_max, args.power_max),
        budget_s=float(args.budget_min) * 60.0,
        short_s=args.short_s or 0.0,
        confirm_s=args.confirm_s or 0.0,
        confirm_top=args.confirm_top,
        recorded_sweep=args.power_sweep,
        profile_out=args.tuned_profile,
        fresh=args.fresh,
    )


def run(args: argparse.Namespace) -> int:
    from workbench.cli.common import StepPrinter, dump_json, request_from_args
    from workbench.core import jobs, workflow
    from workbench.core.tune.render import render_text

    step = StepPrinter(job_dir=args.job_dir)
    opts = options_from_args(args)
    job = workflow.prepare(request_from_args(args), step)

    def on_event(event) -> None:
        if args.job_dir is not None:  # a face following this job shows progress and rows as they come
            jobs.append_event(args.job_dir, event)

    result = workflow.tune(job, opts, on_progress=step, on_event=on_event)
    if args.job_dir is not None:
        jobs.write_outcome(args.job_dir, {"command": "tune", "tune": result.to_dict()})
    if args.json:
        dump_json(result.to_dict())
    else:
        print(render_text(result))
    return 0
