"""``workbench sweep [MODEL] --modes all|NAME,...``: benchmark every nvpmodel power mode, recommend one."""

from __future__ import annotations

import argparse

from workbench.cli.common import add_calib_args, add_model_args, positive_float, positive_int, telemetry_spec


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="power-mode sweep (Jetson): set each nvpmodel mode, settle, benchmark, recommend the most efficient",
        description=(
            "For each mode: nvpmodel -m (via sudo -n), wait for temperatures to settle, benchmark, record latency, "
            "throughput, mean W and mJ/inference. The original mode is restored at the end, also on error or Ctrl-C. "
            "Recommends the mode with the least energy per inference that meets --p99-max and/or --power-max."
        ),
    )
    add_model_args(p, model_optional=True)
    p.add_argument(
        "--modes", default="all", help="all (default) or a comma list of mode names/ids (max = highest power)"
    )
    p.add_argument("--conf", metavar="FILE", help="nvpmodel.conf to read the modes from (default /etc/nvpmodel.conf)")
    p.add_argument("--precision", choices=("fp32", "fp16", "bf16", "int8"), default="fp32")
    add_calib_args(p)
    p.add_argument("--p99-max", type=positive_float, metavar="MS", help="latency target: p99 <= MS")
    p.add_argument("--power-max", type=positive_float, metavar="W", help="power budget: mean power <= W")
    p.add_argument(
        "--duration", type=positive_float, default=10.0, metavar="S", help="benchmark seconds per mode (default 10)"
    )
    p.add_argument("--iterations", type=positive_int, metavar="N", help="exactly N timed iterations per mode instead")
    p.add_argument("--cooldown-target", type=float, metavar="C", help="wait until the hottest zone is <= C °C")
    p.add_argument(
        "--cooldown-timeout", type=positive_float, default=120.0, metavar="S", help="give up settling after S s"
    )
    p.add_argument(
        "--telemetry", metavar="SOURCE", type=telemetry_spec, help="telemetry source (a replay source is refused)"
    )
    p.add_argument("--nvpmodel-timeout", type=positive_float, default=15.0, metavar="S")
    p.add_argument("--no-store", action="store_true", help="do not save the per-mode results")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler="workbench.cli.cmd_sweep:run")


def run(args: argparse.Namespace) -> int:
    import sys

    from workbench.cli.common import StepPrinter, dump_json, request_from_args
    from workbench.core import workflow
    from workbench.core.power.nvpmodel import load_conf
    from workbench.core.power.sweep import format_table, select_modes

    conf = load_conf(args.conf)
    modes = select_modes(conf, args.modes)
    step = StepPrinter(job_dir=args.job_dir)
    job = workflow.prepare(request_from_args(args, duration_s=None if args.iterations else args.duration), step)
    settings = workflow.SweepSettings(
        p99_max_ms=args.p99_max,
        power_max_w=args.power_max,
        cooldown_target_c=args.cooldown_target,
        cooldown_timeout_s=args.cooldown_timeout,
        nvpmodel_timeout_s=args.nvpmodel_timeout,
    )

    from workbench.core import jobs
    from workbench.core.bench import events as ev
    from workbench.core.errors import Cancelled

    def on_row(row) -> None:
        print(f"[sweep] {row.mode}: {row.status}", file=sys.stderr)
        if args.job_dir is not None:  # a face following this job shows the row as it comes
            jobs.append_event(args.job_dir, ev.SweepRowDone(row.to_dict()))

    try:
        result = workflow.sweep(job, modes, conf, settings, on_row=on_row, on_progress=step)
    except Cancelled as exc:  # Ctrl-C / `workbench jobs cancel`: the original mode is back; keep the partial table
        partial = getattr(exc, "result", None)
        if partial is not None:
            if args.job_dir is not None:
                jobs.write_outcome(args.job_dir, {"command": "sweep", "sweep": partial.to_dict()})
            print(format_table(partial))
        raise
    if args.job_dir is not None:
        jobs.write_outcome(args.job_dir, {"command": "sweep", "sweep": result.to_dict()})
    if args.json:
        dump_json(result.to_dict())
    else:
        print(format_table(result))
    return 0
