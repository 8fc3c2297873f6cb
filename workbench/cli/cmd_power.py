"""``workbench power list|query|set|clocks``: Jetson power modes (nvpmodel) and jetson_clocks.

Only stdlib at module top; power modules are imported in handlers.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("power", help="Jetson power modes: list, query, set (nvpmodel) and jetson_clocks")
    psub = p.add_subparsers(dest="power_cmd", metavar="ACTION", required=True)

    pl = psub.add_parser("list", help="list the power modes of the board's nvpmodel.conf")
    pl.add_argument("--conf", help="nvpmodel.conf to read (default /etc/nvpmodel.conf)")
    pl.add_argument("--json", action="store_true", help="print [{id, name, default}]")
    pl.set_defaults(handler="workbench.cli.cmd_power:run_list")

    pq = psub.add_parser("query", help="current power mode (nvpmodel -q)")
    pq.add_argument("--json", action="store_true", help="print {id, name, partial}")
    pq.add_argument("--verbose", action="store_true", help="use nvpmodel -q --verbose")
    pq.add_argument("--timeout", type=float, default=15.0, help="seconds before nvpmodel is stopped (default 15)")
    pq.set_defaults(handler="workbench.cli.cmd_power:run_query")

    ps = psub.add_parser("set", help="switch power mode by name, id or 'max' (sudo -n nvpmodel -m ID)")
    ps.add_argument("mode", help="mode name (as in the board's conf), numeric id, or 'max'")
    ps.add_argument("--conf", help="nvpmodel.conf to resolve names against (default /etc/nvpmodel.conf)")
    ps.add_argument("--dry-run", action="store_true", help="print the exact command and do nothing")
    ps.add_argument("--timeout", type=float, default=15.0, help="seconds before nvpmodel is stopped (default 15)")
    ps.set_defaults(handler="workbench.cli.cmd_power:run_set")

    pc = psub.add_parser("clocks", help="jetson_clocks: pin clocks to max (on) or restore the saved state (off)")
    pc.add_argument("state", nargs="?", choices=("on", "off"), help="on = pin clocks to max; off = restore")
    pc.add_argument("--restore", action="store_true", help="same as 'off'")
    pc.add_argument("--dry-run", action="store_true", help="print the exact commands and do nothing")
    pc.add_argument("--timeout", type=float, default=30.0, help="seconds before jetson_clocks is stopped (default 30)")
    pc.set_defaults(handler="workbench.cli.cmd_power:run_clocks")


def run_list(args: argparse.Namespace) -> int:
    from workbench.core.power.nvpmodel import highest_power_mode, load_conf

    conf = load_conf(args.conf)
    for p in conf.problems:
        print(f"warning: {p}", file=sys.stderr)
    if args.json:
        print(json.dumps([m.to_dict() for m in conf.modes]))
        return 0
    best, why = highest_power_mode(conf)
    print(f"{'ID':>3}  {'NAME':<20} {'BUDGET':>7}  {'CORES':>5}  NOTE")
    for m in conf.modes:
        notes = []
        if m.default:
            notes.append("default")
        if m.id == best.id:
            notes.append(f"max ({why})")
        watts = f"{m.watts:g} W" if m.watts is not None else "-"
        cores = str(m.cores_online) if m.cores_online is not None else "-"
        print(f"{m.id:>3}  {m.name:<20} {watts:>7}  {cores:>5}  {', '.join(notes)}")
    return 0


def run_query(args: argparse.Namespace) -> int:
    from workbench.core.power.nvpmodel import Nvpmodel

    q = Nvpmodel(timeout_s=args.timeout).query(verbose=args.verbose)
    for e in q.errors:
        print(e, file=sys.stderr)
    if args.json:
        print(json.dumps(q.to_dict()))
    elif q.state == "unset":
        print("no power mode set yet")
    else:
        print(f"power mode: {q.name} (id {q.id if q.id is not None else 'n/a'})")
    if q.partial:
        print("partial answer: run as root (sudo) for the full query", file=sys.stderr)
    return 0


def run_set(args: argparse.Namespace) -> int:
    from workbench.core.power.nvpmodel import Nvpmodel, load_conf, resolve_mode

    conf = load_conf(args.conf)
    mode = resolve_mode(conf, args.mode)
    res = Nvpmodel(timeout_s=args.timeout).set_mode(mode, dry_run=args.dry_run)
    if res.dry_run:
        print(" ".join(res.command))
        return 0
    if res.reboot_required:
        print(f"{mode.name} (id {mode.id}) needs a reboot to take effect; not rebooted", file=sys.stderr)
        print(json.dumps({"id": mode.id, "name": mode.name, "reboot_required": True}))
        return 0
    print(f"power mode set to {mode.name} (id {mode.id})", file=sys.stderr)
    return 0


def run_clocks(args: argparse.Namespace) -> int:
    from workbench.core.errors import UsageError
    from workbench.core.power.clocks import JetsonClocks

    restore = args.restore or args.state == "off"
    if not restore and args.state != "on":
        raise UsageError("say 'on', 'off' or --restore", hint="workbench power clocks on | off | --restore")
    jc = JetsonClocks(timeout_s=args.timeout)
    res = jc.restore(dry_run=args.dry_run) if restore else jc.on(dry_run=args.dry_run)
    if res.dry_run:
        for cmd in res.commands:
            print(" ".join(cmd))
    else:
        print(
            "clocks restored" if restore else f"clocks pinned to max (previous state saved in {jc.store})",
            file=sys.stderr,
        )
    return 0
