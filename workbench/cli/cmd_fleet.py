"""``workbench fleet``: the same workbench on many boards, through an Ansible inventory (core/fleet/).

This module imports nothing of Ansible: ``workbench fleet --help`` works without the ``fleet`` extra and says how to
install it; the commands say it too (one UsageError) when they run without it.
"""

from __future__ import annotations

import argparse
import sys

from workbench.cli.common import positive_int
from workbench.cli.exitcodes import Exit

EXTRA_NOTE = (
    "Needs the optional extra `fleet` (ansible-core >= 2.17 and ansible-runner on this machine, the controller; "
    "ansible-core 2.17 is the line that still runs on Python 3.10): pip install -c constraints.txt -e '.[fleet]'. "
    "The boards need only SSH (key authentication), Python 3 and tar."
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fleet",
        help="check, set up and benchmark many boards listed in an Ansible inventory (over SSH)",
        description=(
            "Work on the hosts of a standard Ansible inventory (INI or YAML; ansible_host, ansible_port, "
            "ansible_user, ansible_ssh_private_key_file, ansible_ssh_common_args). Each entry keeps everything "
            "the workbench stores on that host under its `workbench_home` (default "
            "~/.local/share/edge-workbench-fleet/<inventory name>), so two entries on one machine never share state; "
            "`workbench_python` (default python3) is the host's Python the workbench is installed with; if Ansible cannot find "
            'the host\'s Python for its own modules ("set the interpreter"), set ansible_python_interpreter for that '
            "host. Host keys are checked as your SSH and inventory say; the workbench never turns checking off."
        ),
        epilog=EXTRA_NOTE,
    )
    p.set_defaults(handler="workbench.cli.cmd_fleet:show_help", fleet_parser=p)
    fleet = p.add_subparsers(dest="fleet_command", metavar="ACTION")

    c = fleet.add_parser(
        "check",
        help="per host: reachable, Python, workbench version, profile, JetPack/TensorRT, free disk",
        description="Ask each host for its facts (changes nothing there). Exit status 14 when a host could not be "
        "reached or asked; the others are still reported.",
        epilog=EXTRA_NOTE,
    )
    _common(c)
    c.set_defaults(handler="workbench.cli.cmd_fleet:check")

    s = fleet.add_parser(
        "setup",
        help="install or update the workbench on each host from this checkout (idempotent)",
        description=(
            "Ship this checkout's package files to each host's workbench_home/src and run its install.sh there "
            "(a venv in workbench_home/src/.venv; no root needed, nothing is installed system-wide). A host whose "
            "installed copy matches is left alone. Exit status 14 when a host failed; the others are still set up."
        ),
        epilog=EXTRA_NOTE,
    )
    _common(s)
    s.add_argument(
        "--wheelhouse",
        metavar="DIR",
        help="a folder of wheels for the hosts' platform (e.g. aarch64, their Python), shipped and installed from "
        "offline (pip --no-index); include setuptools and wheel",
    )
    s.set_defaults(handler="workbench.cli.cmd_fleet:setup")

    # ---- `fleet run` (helper "fleetrun" registers its parser here) -------------------------------------------------
    from workbench.cli.cmd_fleet_run import register_run

    register_run(fleet)
    # ---- end of `fleet run` ----------------------------------------------------------------------------------------


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-i", "--inventory", required=True, metavar="INVENTORY", help="Ansible inventory file (INI/YAML)")
    p.add_argument(
        "--limit", metavar="PATTERN", help="only the hosts matching this Ansible pattern (names, groups, nx*, a:!b)"
    )
    p.add_argument(
        "--forks", type=positive_int, default=5, metavar="N", help="hosts worked on at once (Ansible forks, default 5)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def show_help(args: argparse.Namespace) -> int:
    args.fleet_parser.print_help()
    return 0


def _inventory(args: argparse.Namespace):
    from workbench.core.fleet.ansible import load_inventory, require_ansible

    require_ansible()
    return load_inventory(args.inventory, args.limit)


def _cancelled(what: str, hint: str):
    from workbench.core.errors import Cancelled

    return Cancelled(f"{what} cancelled", hint=hint)


def _gib(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def _facts_rows(rows) -> list[list[str]]:
    out = []
    for f in rows:
        jp = f.jetpack or "-"
        if f.l4t:
            jp = f"{jp} (L4T {f.l4t})"
        out.append(
            [
                f.host,
                "yes" if f.reachable else "NO",
                f.python or "-",
                # a probe that failed (a wrong workbench_python) could not look: unknown, not "not installed"
                (f.workbench or ("?" if f.error else "not installed")) if f.reachable else "-",
                f.profile or "-",
                jp,
                f.tensorrt or "-",
                _gib(f.free_disk_gib),
            ]
        )
    return out


FACT_HEADER = ["HOST", "REACHABLE", "PYTHON", "WORKBENCH", "PROFILE", "JETPACK", "TENSORRT", "FREE GiB"]


def _print_errors(pairs) -> None:
    for host, error in pairs:
        if error:
            print(f"{host}: {error}", file=sys.stderr)


def check(args: argparse.Namespace) -> int:
    from workbench.cli.common import dump_json
    from workbench.cli.tables import table
    from workbench.core.fleet.check import fleet_check

    inv = _inventory(args)
    try:
        rows = fleet_check(inv, forks=args.forks)
    except KeyboardInterrupt:
        raise _cancelled("fleet check", "it changes nothing on the hosts; run it again") from None
    bad = any(not f.reachable or f.error for f in rows)
    if args.json:
        dump_json({"inventory": str(inv.path), "hosts": [f.to_dict() for f in rows]})
    else:
        for line in table(FACT_HEADER, _facts_rows(rows), right={7}):
            print(line)
        _print_errors((f.host, f.error) for f in rows)
    return int(Exit.HOSTS_FAILED) if bad or not rows else 0


def setup(args: argparse.Namespace) -> int:
    from workbench.cli.common import dump_json
    from workbench.cli.tables import table
    from workbench.core.fleet.setup import fleet_setup

    inv = _inventory(args)

    def progress(ev) -> None:
        if ev.kind in ("changed", "failed", "unreachable"):
            print(f"[{ev.host}] {ev.task}: {ev.kind}", file=sys.stderr)

    try:
        rows = fleet_setup(inv, wheelhouse=args.wheelhouse, forks=args.forks, on_event=progress)
    except KeyboardInterrupt:
        raise _cancelled(
            "fleet setup",
            "a host may be half set up: run `workbench fleet setup` again, it redoes what was cut off (a host is "
            "marked installed only at the end)",
        ) from None
    if args.json:
        dump_json({"inventory": str(inv.path), "hosts": [r.to_dict() for r in rows]})
    else:
        body = [
            [r.host, r.status, "installed/updated" if r.changed else "up to date" if r.status == "ok" else "-",
             r.facts.workbench or "-", r.facts.profile or "-", r.facts.workbench_home or "-"]
            for r in rows
        ]  # fmt: skip
        for line in table(["HOST", "STATUS", "CHANGE", "WORKBENCH", "PROFILE", "WORKBENCH_HOME"], body):
            print(line)
        _print_errors((r.host, r.error) for r in rows)
    return 0 if rows and all(r.status == "ok" for r in rows) else int(Exit.HOSTS_FAILED)
