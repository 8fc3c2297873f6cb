"""``workbench compare MODEL --precision int8|fp16``: accuracy of a precision against FP32."""

from __future__ import annotations

import argparse

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
    p.add_argument("--precision", choices=("int8", "fp16"), default="int8")
    add_calib_args(p)
    p.add_argument("--eval", metavar="DIR", help="held-out evaluation set (labels.csv gives top-1)")
    p.add_argument(
        "--per-layer",
        action="store_true",
        help="INT8: rank the quantized activations by how much each one hurts the output (SQNR, cosine)",
    )
    p.add_argument(
        "--auto-exclude",
        action="store_true",
        help="INT8: re-quantize with the worst layers left in FP32 until the accuracy check passes (implies --per-layer)",
    )
    p.add_argument(
        "--max-excluded",
        type=positive_int,
        default=8,
        metavar="N",
        help="budget of nodes --auto-exclude may leave in FP32 (default 8)",
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
        help="at most N layer groups are re-run with that layer in FP32 (default 256)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="workbench.cli.cmd_compare:run")


def run(args: argparse.Namespace) -> int:
    from workbench.cli.common import StepPrinter, dump_json, request_from_args
    from workbench.core import workflow
    from workbench.core.errors import DatasetError
    from workbench.core.results.summary import accuracy_line

    step = StepPrinter()
    job = workflow.prepare(request_from_args(args), step)
    precision = job.request.precision
    path, cal = workflow.precision_model(job, precision, step)
    report = workflow.accuracy(job, path, cal.dataset if cal is not None else None, step)
    if report is None:
        raise DatasetError(
            f"no samples to compare {job.model_path.name} on",
            hint="pass --eval DIR (held-out, with labels.csv) or --calib DIR",
        )
    doc = report.to_dict()
    doc["precision"] = precision
    per_layer = args.per_layer or args.auto_exclude
    if per_layer and precision != "int8":
        from workbench.core.errors import UsageError

        raise UsageError("--per-layer and --auto-exclude localise INT8 error: use them with --precision int8")
    lines: list[str] = []
    if per_layer:
        lines = _per_layer(job, path, cal, report, args, doc, step)
    if args.json:
        dump_json(doc)
    else:
        print(f"{precision.upper()} vs FP32 for {job.model_path.name}:")
        print(accuracy_line(report))
        for line in lines:
            print(line)
    return 0


def _per_layer(job, qdq_path, cal, report, args, doc, step) -> list[str]:
    """Rank the INT8 layers (and with --auto-exclude re-quantize without the worst); fills ``doc``."""
    from workbench.core import workflow
    from workbench.core.precision.datasets import open_dataset
    from workbench.core.precision.localize import auto_exclude, localize, render, render_auto
    from workbench.core.precision.quantize import QuantOptions, quantize_qdq
    from workbench.core.progress import Progress

    calib_ds = cal.dataset
    eval_dir = workflow.dataset_path(job, "eval")
    rank_ds = open_dataset(eval_dir, job.model_info.inputs) if eval_dir is not None else calib_ds
    step(Progress("accuracy", f"ranking quantized layers on {min(rank_ds.count, args.layer_samples)} samples"))
    loc = localize(
        job.model_path,
        qdq_path,
        rank_ds.iter_feeds(),
        max_samples=args.layer_samples,
        max_candidates=args.layer_candidates,
    )
    doc["per_layer"] = loc.to_dict()
    lines = [*render(loc, args.top)]
    if not args.auto_exclude:
        return lines
    q = workflow.quant_settings(job)
    base = tuple(getattr(q, "nodes_to_exclude", ()) or ())

    def requantize(excluded: tuple[str, ...]):
        step(Progress("calibrate", f"re-quantizing with {len(excluded)} node(s) in FP32: {', '.join(excluded)}"))
        opts = QuantOptions.from_any(q, nodes_to_exclude=[*base, *excluded])
        return quantize_qdq(job.model_path, calib_ds, opts).path

    def evaluate(p):
        return workflow.accuracy(job, p, calib_ds)

    ae = auto_exclude(
        job.model_path,
        loc,
        requantize,
        evaluate,
        max_excluded=args.max_excluded,
        first=(qdq_path, report),
        timing_feed=next(iter(rank_ds.iter_feeds())),
    )
    doc["auto_exclude"] = ae.to_dict()
    lines.extend(render_auto(ae))
    if ae.excluded:
        lines.append(
            "  to keep this: add to the model spec or profile [quantization] nodes_to_exclude = ["
            + ", ".join(f'"{n}"' for n in (*base, *ae.excluded))
            + "]"
        )
    return lines
