"""Issue 18, item 1: no child process of ours imports a Python file from the folder the user runs us in.

Each test puts stand-ins for modules the children import early (``json.py``, ``signal.py``, ``uuid.py``,
``selectors.py``) in a folder, runs a real command with that folder as the current folder, and asserts that none of
them ran. A stand-in that runs drops a marker naming its process's command line, then hands over to the real module
(so a failure shows which child imported it instead of a confusing crash).

The top-level command itself is started here with its own current-folder entry removed from ``sys.path`` (as the
installed ``workbench`` script runs): only the children the workbench starts are under test.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DIGITS = REPO / "workbench" / "data" / "models" / "digits_cnn.onnx"
SHADOWED = ("json", "signal", "uuid", "selectors")

# How `workbench` starts when installed (its script's folder, not the current one, is sys.path[0]); independent of
# the code under test, so these tests reproduce the problem on the code before the fix.
TOP_LEVEL = "import sys, runpy\ndel sys.path[0]\nrunpy.run_module('workbench', run_name='__main__', alter_sys=True)\n"

STAND_IN = """\
import os, sys
with open(os.path.join({markers!r}, __name__ + "." + str(os.getpid())), "w") as _fh:
    _fh.write(repr(sys.argv))
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
del sys.modules[__name__]
import importlib
sys.modules[__name__] = importlib.import_module(__name__)
"""


def _user_folder(tmp_path: Path) -> tuple[Path, Path]:
    """(a folder holding the stand-ins and a copy of the digits model as ``model.onnx``, the markers folder)."""
    work, markers = tmp_path / "downloaded-model", tmp_path / "markers"
    work.mkdir()
    markers.mkdir()
    for name in SHADOWED:
        (work / f"{name}.py").write_text(STAND_IN.format(markers=str(markers)))
    shutil.copy2(DIGITS, work / "model.onnx")
    return work, markers


def _ran(markers: Path) -> list[str]:
    return [f"{p.name}: {p.read_text()}" for p in sorted(markers.iterdir())]


def test_bench_child_never_imports_from_the_current_folder(tmp_path, cli_env):
    work, markers = _user_folder(tmp_path)
    res = subprocess.run(
        [sys.executable, "-c", TOP_LEVEL, "bench", "model.onnx", "--iterations", "20", "--warmup-ms", "0",
         "--no-store", "--json", "--foreground"],
        capture_output=True, text=True, cwd=work, env=cli_env, timeout=300,
    )  # fmt: skip
    assert _ran(markers) == []
    assert res.returncode == 0, res.stderr
    assert '"iterations": 20' in res.stdout  # the relative model path still meant ./model.onnx


def test_detached_job_never_imports_from_the_current_folder(tmp_path, cli_env):
    """The job runner, then the benchmark child it starts; the job still ran in the folder it was started from."""
    from workbench.core import jobs

    work, markers = _user_folder(tmp_path)
    run = [sys.executable, "-c", TOP_LEVEL]
    res = subprocess.run(
        [*run, "bench", "model.onnx", "--iterations", "20", "--warmup-ms", "0", "--no-store", "--detach"],
        capture_output=True, text=True, cwd=work, env=cli_env, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    job_id = res.stdout.strip()
    att = subprocess.run(
        [*run, "jobs", "attach", job_id], capture_output=True, text=True, cwd=work, env=cli_env, timeout=300
    )
    assert _ran(markers) == []
    assert att.returncode == 0, att.stderr
    job = jobs.get(job_id)
    assert job.state() == "finished" and job.cwd == str(work)
    assert "=== FP32" in att.stdout


def test_build_child_never_imports_from_the_current_folder(tmp_path, monkeypatch, tiny_matmul_model):
    """The TensorRT build child, really started: without TensorRT here it reports that as a typed error; with it
    the tiny model builds. Either way its imports come from the workbench, not from the current folder."""
    from workbench.core.backends.tensorrt.build_child import run_build_child
    from workbench.core.backends.tensorrt.builder import BuildSettings
    from workbench.core.errors import WorkbenchError

    work, markers = _user_folder(tmp_path)
    shutil.copy2(tiny_matmul_model, work / "tiny.onnx")
    settings = BuildSettings(
        precision="fp32", network_flags=(), builder_flags=(), workspace_bytes=1 << 26, dla_core=None,
        gpu_fallback=False, optimization_level=None, timing_cache=False, hardware_compatibility=None,
        version_compatible=False, max_aux_streams=None, shapes={"x": ((1, 16), (1, 16), (1, 16))},
        strongly_typed=False, calibration=None, progress="phases",
    )  # fmt: skip
    monkeypatch.chdir(work)
    try:
        report = run_build_child(Path("tiny.onnx"), settings, Path("tiny.plan"))
    except WorkbenchError as exc:
        assert "TensorRT" in str(exc) or "tensorrt" in str(exc), exc
        assert not isinstance(exc.__cause__, ImportError)
    else:
        assert report and (work / "tiny.plan").is_file()  # relative paths still meant this folder
    assert _ran(markers) == []
