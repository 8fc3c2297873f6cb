"""``workbench profiles ...``: exit codes, stdout data, and no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "profiles"


def wb(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, WORKBENCH_HOME=str(home))
    env.pop("WORKBENCH_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "workbench", "profiles", *args], capture_output=True, text=True, env=env, timeout=60
    )


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


def _no_traceback(r: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout


def test_validate_two_typos_exit_3_and_both_printed(home):
    f = FIX / "two-typos.toml"
    r = wb("validate", str(f), home=home)
    _no_traceback(r)
    assert r.returncode == 3
    lines = r.stdout.splitlines()
    assert f"{f}:6: unknown key in [build]: 'precison'; did you mean 'precisions'?" in lines
    assert f"{f}:9: unknown key in [benchmark]: 'warmup_msec'; did you mean 'warmup_ms'?" in lines


def test_validate_valid_files_exit_0(home):
    r = wb("validate", str(FIX / "child-ok.toml"), "cpu-x86_64", home=home)
    _no_traceback(r)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == ""


def test_validate_mixed_and_missing_file(home, tmp_path):
    r = wb(
        "validate", str(FIX / "child-ok.toml"), str(FIX / "syntax-error.toml"), str(tmp_path / "nope.toml"), home=home
    )
    _no_traceback(r)
    assert r.returncode == 3
    assert "syntax-error.toml:5: TOML syntax error" in r.stdout
    assert "nope.toml" in r.stdout


def test_list_shows_invalid_user_profile_and_exits_0(home):
    user = home / "config" / "profiles"
    user.mkdir(parents=True)
    (user / "broken.toml").write_text((FIX / "two-typos.toml").read_text())
    r = wb("list", home=home)
    _no_traceback(r)
    assert r.returncode == 0
    rows = {line.split()[0]: line for line in r.stdout.splitlines() if line and not line.startswith(" ")}
    assert "INVALID" in rows["broken"]
    assert " ok " in rows["cpu-x86_64"]
    assert "did you mean 'precisions'" in r.stdout
    j = json.loads(wb("list", "--json", home=home).stdout)
    names = {p["name"]: p for p in j["profiles"]}
    assert names["broken"]["valid"] is False and names["cpu-aarch64"]["valid"] is True


def test_show_json_resolved(home):
    r = wb("show", "cpu-x86_64", "--json", home=home)
    _no_traceback(r)
    assert r.returncode == 0
    d = json.loads(r.stdout)
    assert d["name"] == "cpu-x86_64"
    assert d["quantization"]["activation_type"] == "uint8"
    assert d["accuracy"]["max_top1_drop_pts"] == 0.5
    assert len(d["content_hash"]) == 64


def test_show_text_and_invalid(home):
    r = wb("show", "cpu-aarch64", home=home)
    assert r.returncode == 0 and "[quantization]" in r.stdout and 'cpu_recipe = "auto"' in r.stdout
    r = wb("show", str(FIX / "cycle-a.toml"), home=home)
    _no_traceback(r)
    assert r.returncode == 3
    assert "extends cycle: cycle-a -> cycle-b -> cycle-a" in r.stderr
    r = wb("show", "no-such-profile", home=home)
    assert r.returncode == 3 and "no profile named 'no-such-profile'" in r.stderr


def test_detect_empty_root_json(home, tmp_path):
    r = wb("detect", "--root", str(tmp_path), "--no-nvml", "--json", home=home)
    _no_traceback(r)
    assert r.returncode == 0
    d = json.loads(r.stdout)
    assert d["kind"] == "cpu" and d["profile_name"].startswith("cpu-")
