"""`workbench --help` stays light: none of the heavy libraries is imported (issue 2, "Lazy imports")."""

import json
import subprocess
import sys

import pytest

HEAVY = ("numpy", "onnx", "onnxruntime", "torch", "tensorrt", "textual", "pydantic", "rich", "pynvml")

PROBE = r"""
import json, sys
from workbench.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in %r)), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["bench", "--help"],
        ["run", "--help"],
        ["profiles", "--help"],
        ["results", "--help"],
        ["inspect", "--help"],
    ],
)
def test_help_imports_no_heavy_library(argv):
    res = subprocess.run([sys.executable, "-c", PROBE % (HEAVY,), *argv], capture_output=True, text=True, timeout=60)
    loaded = json.loads(res.stderr.strip().splitlines()[-1])
    assert loaded == [], f"workbench {' '.join(argv)} imported {loaded}"
    assert "usage:" in res.stdout


def test_every_command_help_exits_zero(run_cli):
    from workbench.cli.main import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert {"run", "bench", "build", "calibrate", "compare"} <= set(commands)
    for name in commands:
        res = run_cli(name, "--help")
        assert res.returncode == 0, (name, res.stderr)
        assert "Traceback" not in res.stderr


def test_core_never_imports_a_face():
    """harlequin's rule: importing every core module leaves textual and the CLI/UI unloaded."""
    code = r"""
import importlib, pkgutil, sys, json
import workbench.core as core
for m in pkgutil.walk_packages(core.__path__, "workbench.core."):
    if m.name.endswith("__main__") or m.name == "workbench.core.bench.child":
        continue
    importlib.import_module(m.name)
print(json.dumps(sorted(n for n in sys.modules if n.split(".")[0] == "textual" or n.startswith(("workbench.cli", "workbench.ui")))))
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1]) == []
