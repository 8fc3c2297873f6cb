"""``workbench bench MODEL --precision P``: build (cached) and benchmark one precision."""

from __future__ import annotations

import argparse
import sys

from workbench.cli.common import PRECISIONS, add_bench_args, add_calib_args, add_model_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="build (cached) and benchmark a model at one precision",
        description=(
            "Build (or reuse) the artifact and time it in a child process: trtexec-style statistics "
            "(min/mean/median/p50/p90/p95/p99/max, std, CoV), throughput, warm-up apart, host telemetry. "
            "INT8/FP16 runs are compared with FP32 for accuracy first."
        ),
    )
    add_model_args(p, model_optional=True)
    p.add_argument("--precision", choices=PRECISIONS, default="fp32", help="fp32 (default), fp16, int8, best")
    add_calib_args(p)
    p.add_argument("--eval", metavar="DIR", help="evaluation set for the accuracy check (labels.csv gives top-1)")
    add_bench_args(p)
    p.set_defaults(handler="workbench.cli.cmd_bench:run")


def run(args: argparse.Namespace) -> int:
    from workbench.cli.common import StepPrinter, dump_json, options_from_args, public_entry
    from workbench.cli.report import summary
    from workbench.core import pipeline

    opts = options_from_args(args)
    step = StepPrinter()
    ctx = pipeline.prepare(opts, step)
    times: list[int] = []

    def on_event(event) -> None:
        lat = getattr(event, "latencies_ns", None)
        if lat is not None and type(event).__name__ == "Samples":
            times.extend(lat)

    if opts.precision == "best":
        entry, candidates = pipeline.bench_best(ctx, on_step=step, on_event=on_event)
        entry["candidates"] = [
            {
                "precision": c["precision"],
                "median_ms": c["latency_ms"]["median"],
                "verdict": (c.get("accuracy") or {}).get("verdict"),
            }
            for c in candidates
        ]
    else:
        entry = pipeline.bench_precision(ctx, opts.precision, on_step=step, on_event=on_event, reference_accuracy=True)
    if args.export_times:
        import json

        from workbench.core.fsutil import write_text_atomic

        write_text_atomic(
            args.export_times, json.dumps({"precision": entry["precision"], "latencies_ms": [t / 1e6 for t in times]})
        )
        print(f"[bench] wrote {len(times)} latencies to {args.export_times}", file=sys.stderr)
    if args.json:
        dump_json(public_entry(entry))
    else:
        print(summary(entry))
        if opts.precision == "best":
            print(
                "Best: "
                + entry["precision"]
                + " — candidates: "
                + ", ".join(
                    f"{c['precision']} {c['median_ms']:.4f} ms ({c['verdict'] or 'reference'})"
                    for c in entry["candidates"]
                )
            )
    return 0
