"""``workbench build MODEL --precision P``: produce (or reuse) the runnable artifact."""

from __future__ import annotations

import argparse

from workbench.cli.common import add_calib_args, add_model_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build",
        help="build the artifact (optimized ONNX model / engine) for a precision, cached",
        description="Build or reuse the artifact. INT8 calibrates first (cached by model + dataset + recipe).",
    )
    add_model_args(p, model_optional=True)
    p.add_argument(
        "--precision", choices=("fp32", "fp16", "bf16", "int8"), default="fp32", help="bf16: torch backend only"
    )
    add_calib_args(p)
    p.add_argument("--rebuild", action="store_true", help="rebuild even when a cached artifact exists")
    p.add_argument("--json", action="store_true", help="print the artifact record as JSON")
    p.set_defaults(handler="workbench.cli.cmd_build:run")


def run(args: argparse.Namespace) -> int:
    import json

    from workbench.cli.common import StepPrinter, dump_json, request_from_args
    from workbench.core import workflow

    step = StepPrinter(job_dir=args.job_dir)
    job = workflow.prepare(request_from_args(args), step)
    built = workflow.build(job, job.request.precision, step)
    if args.job_dir is not None:  # a face following this job reads the typed outcome back (core/jobs.py)
        from workbench.core import jobs

        jobs.write_outcome(args.job_dir, {"command": "build", "built": built.to_dict()})
    artifact = built.artifact
    record = {
        "artifact": str(artifact.path),
        "sidecar": str(artifact.sidecar_path),
        "backend": artifact.backend,
        "precision": artifact.precision,
        "profile": job.profile.name,
        "cached": artifact.cached,
        "build_s": artifact.build_s,
        "meta": json.loads(artifact.sidecar_path.read_text()),
    }
    if args.json:
        dump_json(record)
    else:
        state = "cached (reused)" if artifact.cached else f"built in {artifact.build_s:.2f} s"
        print(f"{artifact.precision} artifact for {job.model_path.name} on {job.profile.name}: {state}")
        print(f"  {artifact.path}")
        print(f"  sidecar {artifact.sidecar_path}")
    return 0
