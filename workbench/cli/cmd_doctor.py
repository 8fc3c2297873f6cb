"""``workbench doctor``: versions, NVIDIA stack, Jetson/L4T, jtop, NVML, usable telemetry sources and backends.

Module top imports stdlib only.
"""

from __future__ import annotations

import argparse
import sys

from workbench.cli.common import root_dir


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "doctor",
        help="what this machine has and what the workbench can use here (paste it into bug reports)",
        description=(
            "Versions of Python, onnx, onnxruntime, torch, TensorRT, CUDA, the NVIDIA driver, JetPack/L4T; which "
            "TensorRT line (10 with precision flags, 11 strongly typed) applies and why; the "
            "jtop service state; NVML; which telemetry sources and backends are usable here, and why not."
        ),
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--no-backends", action="store_true", help="skip constructing the backends (faster)")
    p.add_argument(
        "--root",
        default="/",
        type=root_dir,
        metavar="DIR",
        help="read the device files (/etc/nv_tegra_release, /proc/device-tree, /var/lib/dpkg/status, /sys) under "
        "DIR instead of / (a copied board image; tests)",
    )
    p.set_defaults(handler="workbench.cli.cmd_doctor:run")


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from workbench.core.doctor import environment_for_report, render, run_doctor

    report = run_doctor(Path(args.root), backends=not args.no_backends)
    if args.json:
        doc = report.to_dict()
        doc["environment"] = environment_for_report()
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(render(report))
    return 0
