"""``workbench tui [MODEL]`` (and a bare ``workbench``): the Textual app.

It runs as root as it runs as a normal user: on Jetson boards people often work as root inside containers (jtop and
nvitop run as root too). Privileged actions (nvpmodel, jetson_clocks) run directly as root and through ``sudo -n``
otherwise (core/power/nvpmodel.py, core/power/clocks.py), so nothing here depends on who runs the UI.
"""

from __future__ import annotations

import argparse
import sys

from workbench.cli.common import add_trust_args, telemetry_spec


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tui",
        help="the terminal UI (what a bare `workbench` opens): model -> profile -> precision -> calibrate -> build -> benchmark",
        description=(
            "Keyboard-driven guided flow with live latency next to power and temperature. With no MODEL it opens on "
            "the bundled digits CNN, ready to run. Keys: ? or F1 for help, ctrl+p for the command palette, ctrl+q quits."
        ),
    )
    p.add_argument(
        "model", nargs="?", help="ONNX / TorchScript / ExportedProgram file (default: the bundled digits CNN)"
    )
    p.add_argument("--profile", help="device profile name or TOML path (default: auto-detected)")
    p.add_argument(
        "--telemetry",
        metavar="SOURCE",
        type=telemetry_spec,
        help="telemetry source: auto, host, sysfs, tegrastats, nvml, replay:FILE",
    )
    add_trust_args(p)  # the request the UI holds carries it: every preparation (any model opened) may load such files
    p.set_defaults(handler="workbench.cli.cmd_tui:run")


def run(args: argparse.Namespace) -> int:
    from workbench.core.errors import UsageError

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            "the workbench UI needs a terminal (stdin and stdout are not a TTY)",
            hint="run it in a terminal, or use the headless commands: `workbench run`, `workbench bench ...`",
        )
    try:
        from workbench.ui.app import make_app
    except ImportError as exc:
        raise UsageError(
            f"the terminal UI needs Textual ({exc})",
            hint="install it: .venv/bin/pip install -c constraints.txt -e '.[tui]'",
        ) from None
    app = make_app(args.model, profile=args.profile, telemetry=args.telemetry, trust_model=args.trust_model)
    rc = app.run()
    return int(rc or 0)
