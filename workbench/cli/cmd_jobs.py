"""``workbench jobs``: list, show, attach to and cancel detached jobs (they survive a dropped SSH session)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "jobs",
        help="list running and finished jobs; attach to, show or cancel one",
        description=(
            "run/bench/build/calibrate/sweep run as detached jobs in their own session: closing the terminal or "
            "losing the SSH connection does not stop them, and their results are stored. `--detach` starts one "
            "and returns at once; `--foreground` runs in the terminal's process instead."
        ),
    )
    p.add_argument("action", nargs="?", default="list", choices=("list", "show", "attach", "cancel"))
    p.add_argument("job", nargs="?", help="job id (a unique part of it is enough)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(handler="workbench.cli.cmd_jobs:run")


def run(args: argparse.Namespace) -> int:
    from workbench.cli.common import dump_json
    from workbench.core import jobs
    from workbench.core.errors import UsageError
    from workbench.core.textsafe import block, field

    if args.action == "list":
        rows = [j.to_dict() for j in jobs.list_jobs(args.limit)]
        if args.json:
            dump_json(rows)
            return 0
        if not rows:
            print("no jobs yet")
            return 0
        print(f"{'JOB':<24} {'STATE':<10} {'STARTED':<21} {'RESULTS':<10} COMMAND")
        for r in rows:
            ids = ",".join(map(str, r["result_ids"])) or "-"
            print(f"{r['id']:<24} {r['state']:<10} {r['started_at']:<21} {ids:<10} {field(r['command'])}")
        return 0
    if not args.job:
        raise UsageError(
            f"`workbench jobs {args.action}` needs a job id (see `workbench jobs`)",
            hint=f"run `workbench jobs` to list the ids, then `workbench jobs {args.action} JOB_ID`",
        )
    job = jobs.get(args.job)
    if args.action == "show":
        d = job.to_dict()
        if args.json:
            d["stdout"] = job.stdout_path.read_text(errors="replace")[-20000:]
            d["stderr"] = job.stderr_path.read_text(errors="replace")[-20000:]
            dump_json(d)
            return 0
        for k in ("id", "state", "command", "started_at", "ended_at", "exit_code", "result_ids", "dir"):
            print(f"{k}: {field(d[k])}")  # the command holds the user's paths: one line, escaped
        print("--- output ---")
        print(block(job.stdout_path.read_text(errors="replace")[-5000:]), end="")
        return 0
    if args.action == "attach":
        from workbench.cli.follow import follow

        return follow(job)
    if not jobs.cancel(job):
        print(f"job {job.id} is not running ({job.state()}): nothing to cancel")
        return 0
    print(f"sent SIGINT to job {job.id} (pid {job.pid})")
    return 0
