"""``workbench fleet run -i INVENTORY [MODEL] [bench options]``: the same benchmark on every host of an Ansible
inventory, each host's result stored here with ``host`` set, and one comparison table (core/fleet/run.py).

Registered under ``workbench fleet`` by cli/cmd_fleet.py (``register_run``). Module top imports stdlib only: the
Ansible layer is imported when the command runs, so ``workbench --help`` and ``workbench fleet --help`` work without
the ``fleet`` extra.
"""

from __future__ import annotations

import argparse
import sys

from workbench.cli.common import (
    PRECISIONS,
    add_bench_args,
    add_calib_args,
    add_model_args,
    positive_float,
    positive_int,
)


def register_run(fleet_sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``run`` to the ``workbench fleet`` subcommands; returns its parser."""
    p = fleet_sub.add_parser(
        "run",
        help="benchmark a model on every inventory host; results stored here with their host, compared side by side",
        description=(
            "Ships the model (and any dataset folder that is not a bundled one) to each host, content-hashed, only "
            "when it changed; starts `workbench bench` there as a detached job (it survives a dropped connection), "
            "waits for it, fetches the result and stores it here with `host` = the inventory name. A failed or "
            "unreachable host is reported without losing the others. Run again, it collects the jobs an earlier "
            "run started instead of running them again (--force runs them again). Exit status 0 when every host "
            "gave a result, 14 otherwise (the others' results are stored)."
        ),
    )
    p.add_argument("-i", "--inventory", required=True, metavar="INVENTORY", help="Ansible inventory (INI or YAML)")
    add_model_args(p, model_optional=True)
    p.add_argument("--precision", choices=[x for x in PRECISIONS if x != "best"], default="fp32",
                   help="fp32 (default), fp16, bf16 (torch backend only), int8")  # fmt: skip
    add_calib_args(p)
    p.add_argument("--eval", metavar="DIR", help="evaluation set for the accuracy check (labels.csv gives top-1)")
    add_bench_args(p)
    f = p.add_argument_group("fleet")
    f.add_argument(
        "--limit", metavar="PATTERN", help="only the hosts matching this Ansible pattern (group, name, glob)"
    )
    f.add_argument("--forks", type=positive_int, default=5, metavar="N",
                   help="SSH connections at once (Ansible forks, default 5); benchmarks on different machines run at "
                   "once, entries with the same ansible_host and port one after another")  # fmt: skip
    f.add_argument("--force", action="store_true", help="run again where an earlier run's job is running or finished")
    f.add_argument("--calibrate-here", action="store_true",
                   help="with --precision int8 --calib DIR --profile NAME: calibrate the INT8 model once on this "
                   "machine for that profile, check it against FP32 here, and ship it (no calibration on the boards)")  # fmt: skip
    f.add_argument("--wait-min", type=positive_float, default=60.0, metavar="MIN",
                   help="longest wait for a host's job (default 60 minutes); the job goes on, a re-run collects it")  # fmt: skip
    g = p.add_argument_group("job control").add_mutually_exclusive_group()  # one or the other, or neither
    g.add_argument("--detach", action="store_true", help="start as a background job, print its id and return")
    g.add_argument("--foreground", action="store_true",
                   help="run in this process (by default the work runs as a job that survives a dropped terminal)")  # fmt: skip
    # cli/main.py runs commands marked job_command as detached jobs followed from the terminal, as bench and tune.
    p.set_defaults(handler="workbench.cli.cmd_fleet_run:run", job_command=True)
    return p


def run(args: argparse.Namespace) -> int:
    from workbench.cli.common import StepPrinter, dump_json, request_from_args
    from workbench.core import jobs
    from workbench.core.bench.events import FleetHostState
    from workbench.core.errors import Cancelled
    from workbench.core.fleet.run import FleetOptions, fleet_run
    from workbench.core.fleet.table import comparison_lines
    from workbench.core.textsafe import field

    request = request_from_args(args)
    opts = FleetOptions(limit=args.limit, forks=args.forks, force=args.force, wait_s=float(args.wait_min) * 60.0,
                        calibrate_here=args.calibrate_here)  # fmt: skip

    def on_event(event) -> None:
        if args.job_dir is not None:  # a face following this job shows each host's progress and row
            jobs.append_event(args.job_dir, event)
        if isinstance(event, FleetHostState) and event.state not in ("pending",):
            tail = f" ({field(event.message)})" if event.message else ""
            print(f"[fleet] {field(event.host)}: {event.state}{tail}", file=sys.stderr)

    try:
        result = fleet_run(
            args.inventory, request, opts, on_event=on_event, on_progress=StepPrinter(job_dir=args.job_dir)
        )
    except (KeyboardInterrupt, Cancelled):
        # Only this follower stops: the benchmark jobs already started on the hosts are detached there.
        raise Cancelled(
            "fleet run cancelled: benchmark jobs it already started on the hosts go on there",
            hint="run the same `workbench fleet run` again to collect them (--force runs them again)",
        ) from None
    if args.job_dir is not None:
        jobs.write_outcome(args.job_dir, {"command": "fleet run", "fleet": result.to_dict()})
    if args.json:
        dump_json(result.to_dict())
    else:
        for note in result.notes:
            print(note)
        if result.notes:
            print()
        for line in comparison_lines(result.hosts):
            print(line)
        ids = [str(h.result_id) for h in result.hosts if h.result_id is not None]
        if len(ids) >= 2:
            print(f"\n`workbench results compare {' '.join(ids)}` compares them in full.")
    from workbench.cli.exitcodes import Exit

    return 0 if result.hosts and all(h.status == "ok" for h in result.hosts) else int(Exit.HOSTS_FAILED)
