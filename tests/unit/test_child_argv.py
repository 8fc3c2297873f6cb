"""core/child_argv.py: the one way our Python children start (issue 18, item 1), on every supported Python."""

from __future__ import annotations

import ast
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.core import paths
from workbench.core.child_argv import child_cwd, python_argv, spawn

REPO = Path(__file__).resolve().parents[2]
PY310 = Path("/root/.pyenv/versions/3.10.13/bin/python3.10")


def _shadowing_json(folder: Path) -> Path:
    """A ``json.py`` in ``folder`` that leaves a marker when imported; returns the marker's path."""
    marker = folder.parent / "json-was-imported"
    (folder / "json.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    return marker


@pytest.mark.parametrize("safe_path_flag", [True, False], ids=["-P", "3.10-bootstrap"])
def test_the_current_folder_is_not_importable(tmp_path, safe_path_flag):
    if safe_path_flag and sys.version_info < (3, 11):
        pytest.skip("-P needs Python 3.11")
    work = tmp_path / "work"
    work.mkdir()
    marker = _shadowing_json(work)
    # json.tool imports json: from the standard library, not from the current folder; its arguments reach it.
    argv = python_argv("json.tool", "--compact", safe_path_flag=safe_path_flag)
    res = subprocess.run(argv, input='{"a": [1, 2]}', capture_output=True, text=True, cwd=work, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == '{"a":[1,2]}'
    assert not marker.exists()
    assert argv[argv.index("json.tool") + 1] == "--compact"  # the module, then its arguments (Job.alive reads this)


@pytest.mark.skipif(not PY310.exists(), reason=f"no Python 3.10 at {PY310}")
def test_the_bootstrap_on_python_3_10(tmp_path):
    """The oldest supported Python has no -P: the bootstrap removes the current folder before importing anything."""
    work = tmp_path / "work"
    work.mkdir()
    marker = _shadowing_json(work)
    argv = [str(PY310), *python_argv("json.tool", "--compact", safe_path_flag=False)[1:]]
    res = subprocess.run(argv, input='{"a": 1}', capture_output=True, text=True, cwd=work, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == '{"a":1}'
    assert not marker.exists()
    # the plain `-m` this replaces does import it: the reproduction is real on this interpreter
    subprocess.run([str(PY310), "-m", "json.tool"], input="{}", capture_output=True, text=True, cwd=work, timeout=60)
    assert marker.exists()


def test_spawn_starts_in_our_private_folder(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code = "import os, sys, json; print(json.dumps([os.getcwd(), sys.path]))"
    probe = tmp_path / "lib" / "cwd_probe.py"
    probe.parent.mkdir()
    probe.write_text(code)
    # no empty entry: an empty PYTHONPATH entry means "the current folder" to Python, whatever -P says
    extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(probe.parent), *extra])}
    proc = spawn("cwd_probe", stdout=subprocess.PIPE, env=env)
    out, _ = proc.communicate(timeout=60)
    cwd, sys_path = json.loads(out)
    assert cwd == str(paths.child_dir())
    assert stat.S_IMODE(os.stat(cwd).st_mode) == 0o700
    assert str(work) not in sys_path and "" not in sys_path and cwd not in sys_path
    with pytest.raises(TypeError, match="shell"):
        spawn("cwd_probe", shell=False)  # never through a shell, and spawn decides that, not its caller


def test_child_cwd_tightens_an_existing_folder_and_falls_back_to_root(tmp_path, monkeypatch):
    d = paths.child_dir()
    d.mkdir(parents=True)
    d.chmod(0o755)
    assert child_cwd() == d and stat.S_IMODE(d.stat().st_mode) == 0o700
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("WORKBENCH_HOME", str(blocker / "home"))  # nothing can be made below a file
    assert child_cwd() == Path("/")


def test_every_python_child_starts_through_child_argv():
    """No module but core/child_argv.py names the interpreter (``sys.executable``) or uses multiprocessing: a new
    spawn site cannot forget to keep the user's folder off the child's sys.path. doctor.py only shows the path."""
    allowed = {Path("workbench/core/child_argv.py"), Path("workbench/core/doctor.py")}
    bad = []
    for path in sorted((REPO / "workbench").rglob("*.py")):
        rel = path.relative_to(REPO)
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "executable"
                and isinstance(node.value, ast.Name)
                and node.value.id == "sys"
                and rel not in allowed
            ):
                bad.append(f"{rel}:{node.lineno}: sys.executable")
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                bad += [f"{rel}:{node.lineno}: import {n}" for n in names if n.split(".")[0] == "multiprocessing"]
    assert bad == []
