"""``workbench`` entry point: builds the argparse tree from light command modules and dispatches.

Every command module exposes ``register(subparsers)``; it adds its parser and sets ``handler`` to a
``"module:function"`` string, imported only when that command runs. So ``workbench --help`` imports
no numpy/onnx/onnxruntime (tests/cli/test_startup.py checks it).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from pathlib import Path

from workbench import __version__

# Order is the order shown in --help.
COMMAND_MODULES = (
    "workbench.cli.cmd_run",
    "workbench.cli.cmd_inspect",
    "workbench.cli.cmd_calibrate",
    "workbench.cli.cmd_compare",
    "workbench.cli.cmd_build",
    "workbench.cli.cmd_bench",
    "workbench.cli.cmd_profiles",
    "workbench.cli.cmd_results",
)


def _optional_modules() -> list[str]:
    # Command groups contributed by later issues register here when their module exists.
    extra = []
    for name in (
        "cmd_telemetry",
        "cmd_power",
        "cmd_sweep",
        "cmd_tune",
        "cmd_export",
        "cmd_doctor",
        "cmd_jobs",
        "cmd_fleet",
        "cmd_tui",
    ):
        spec = importlib.util.find_spec(f"workbench.cli.{name}")
        if spec is not None:
            extra.append(f"workbench.cli.{name}")
    return extra


# Long commands run as detached jobs followed from the terminal (so a dropped SSH session loses nothing).
JOB_COMMANDS = ("run", "bench", "build", "calibrate", "sweep", "tune")


def _add_job_flags(sub: argparse._SubParsersAction) -> None:
    for name in JOB_COMMANDS:
        p = sub.choices.get(name)
        if p is None:
            continue
        g = p.add_argument_group("job control").add_mutually_exclusive_group()  # one or the other, or neither
        g.add_argument("--detach", action="store_true", help="start as a background job, print its id and return")
        g.add_argument(
            "--foreground",
            action="store_true",
            help="run in this process (by default the work runs as a job that survives a dropped terminal)",
        )


def build_parser() -> argparse.ArgumentParser:
    from workbench.cli.argparser import WorkbenchParser

    parser = WorkbenchParser(
        prog="workbench",
        description=(
            "Edge Workbench: import -> precision -> INT8 calibration -> build -> benchmark. "
            "Runs on ONNX Runtime (CPU) everywhere; TensorRT where installed."
        ),
    )
    parser.add_argument("--version", action="version", version=f"edge-workbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for modname in (*COMMAND_MODULES, *_optional_modules()):
        if importlib.util.find_spec(modname) is None:  # a command group not built yet
            continue
        importlib.import_module(modname).register(sub)
    _add_job_flags(sub)
    return parser


def _print_error(err: BaseException) -> None:
    print(f"error: {err}", file=sys.stderr)
    problems = getattr(err, "problems", None) or []
    for p in problems:
        print(f"  {p}", file=sys.stderr)
    hint = getattr(err, "hint", None)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)


def main(argv: list[str] | None = None, *, job_dir: Path | None = None) -> int:
    """Run one command. ``job_dir``: set by the detached job's process (jobrunner) — the command runs in the
    foreground of that process and keeps its event stream and result ids in that folder.

    Everything the command prints goes through ``safeout.escaped_output`` (control characters from models, paths
    and logs shown escaped), except ``workbench tui``, whose terminal output is Textual's own escape sequences."""
    from workbench.cli.safeout import escaped_output

    with escaped_output():  # argparse's errors quote the user's words: escaped too
        args = _parse(argv)
    if args is None:
        return 0
    args.job_dir = job_dir
    if args.command == "tui":
        return _dispatch(args, argv, job_dir)
    with escaped_output():
        return _dispatch(args, argv, job_dir)


def _parse(argv: list[str] | None) -> argparse.Namespace | None:
    """The parsed command line (a bare ``workbench`` is ``workbench tui``); None when only help was printed."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        if args.command is None and importlib.util.find_spec("workbench.cli.cmd_tui") is not None:
            return parser.parse_args(["tui", *(argv or [])])
        parser.print_help()
        return None
    return args


def _dispatch(args: argparse.Namespace, argv: list[str] | None, job_dir: Path | None) -> int:
    modname, funcname = args.handler.split(":")
    from workbench.core.errors import WorkbenchError

    # A subcommand may mark itself a job command too (`fleet run`: set_defaults(job_command=True)).
    is_job = args.command in JOB_COMMANDS or getattr(args, "job_command", False)
    if is_job and not args.foreground and job_dir is None:
        try:
            _check_early(args)
        except WorkbenchError as err:
            _print_error(err)
            return err.exit_code
        return _run_as_job(args, list(sys.argv[1:] if argv is None else argv))
    try:
        func = getattr(importlib.import_module(modname), funcname)
        return int(func(args) or 0)
    except WorkbenchError as err:
        _print_error(err)
        return err.exit_code
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # stdout closed by a pager/head: not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as err:  # noqa: BLE001 - last line of defence: one line, no traceback unless asked
        if os.environ.get("WORKBENCH_DEBUG"):
            raise
        print(f"internal error: {type(err).__name__}: {err}", file=sys.stderr)
        print("hint: this is a bug; rerun with WORKBENCH_DEBUG=1 for the traceback and report it", file=sys.stderr)
        return 1


# Commands that benchmark: their --telemetry, --export-times and the results database are checked before a job starts.
BENCH_COMMANDS = ("run", "bench", "sweep", "tune")


def _check_early(args: argparse.Namespace) -> None:
    """Checks that need no model (workflow.check_request), made in this process before a job is started, so a typo
    in --telemetry or an unwritable --export-times path is reported at once, not after calibration and build. The
    job makes them again (workflow.check_bench_job), with the profile's telemetry source too.

    Raises:
        WorkbenchError subclasses (UsageError, TelemetryError, StorageError, ResultsError)."""
    if args.command not in BENCH_COMMANDS:
        return
    from workbench.cli.common import request_from_args
    from workbench.core.workflow import check_request

    check_request(request_from_args(args))


def _run_as_job(args: argparse.Namespace, argv: list[str]) -> int:
    from workbench.core import jobs
    from workbench.core.errors import WorkbenchError

    try:
        job = jobs.start([a for a in argv if a != "--detach"])
    except WorkbenchError as err:
        _print_error(err)
        return err.exit_code
    if args.detach:
        print(job.id)
        print(
            f"started job {job.id}: `workbench jobs attach {job.id}` follows it, `workbench jobs` lists jobs",
            file=sys.stderr,
        )
        return 0
    from workbench.cli.follow import follow

    return follow(job)


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
