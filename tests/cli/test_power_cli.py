"""`workbench power list|query|set|clocks` through the real CLI with a fake nvpmodel on PATH."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "nvpmodel"
CONF = FIX / "orin-nx-16gb-super-p3767-0000-jp62.conf"


@pytest.fixture
def board_env(tmp_path, cli_env):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, script in (("nvpmodel", "fake_nvpmodel.py"), ("sudo", "fake_sudo.py")):
        exe = bin_dir / name
        exe.write_text(f"#!{sys.executable}\n" + (FIX / script).read_text())
        exe.chmod(0o755)
    (tmp_path / "state").write_text("4\n")
    env = dict(cli_env)
    env["PATH"] = f"{bin_dir}:{os.environ['PATH']}"
    env["FAKE_NVPM_CONF"] = str(CONF)
    env["FAKE_NVPM_STATE"] = str(tmp_path / "state")
    return env


def test_list_json_every_conf(run_cli):
    res = run_cli("power", "list", "--conf", str(CONF), "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == [
        {"id": 0, "name": "MAXN_SUPER", "default": False},
        {"id": 1, "name": "10W", "default": False},
        {"id": 2, "name": "15W", "default": False},
        {"id": 3, "name": "25W", "default": False},
        {"id": 4, "name": "40W", "default": True},
    ]
    for conf in FIX.glob("*.conf"):
        res = run_cli("power", "list", "--conf", str(conf), "--json")
        rows = json.loads(res.stdout)
        assert all(isinstance(r["id"], int) and isinstance(r["default"], bool) for r in rows)
        assert sum(r["default"] for r in rows) == 1


def test_list_human_marks_max(run_cli):
    res = run_cli("power", "list", "--conf", str(FIX / "xavier-nx-t194-p3668.conf"))
    line = next(x for x in res.stdout.splitlines() if "MODE_20W_6CORE" in x)
    assert "max" in line and "20 W" in line


def test_list_missing_conf(run_cli, tmp_path):
    res = run_cli("power", "list", "--conf", str(tmp_path / "none.conf"), "--json")
    assert res.returncode == 13 and res.stdout == "" and "none.conf" in res.stderr


def test_query_json(run_cli, board_env):
    res = run_cli("power", "query", "--json", env=board_env)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"id": 4, "name": "40W", "partial": False}


def test_query_partial(run_cli, board_env):
    board_env["FAKE_NVPM_BEHAVIOUR"] = "partial"
    res = run_cli("power", "query", "--json", env=board_env)
    assert json.loads(res.stdout) == {"id": 4, "name": "40W", "partial": True}
    assert "run as root" in res.stderr


def test_set_dry_run_and_real(run_cli, board_env, tmp_path):
    res = run_cli("power", "set", "max", "--conf", str(CONF), "--dry-run", env=board_env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().endswith("nvpmodel -m 0")
    assert (tmp_path / "state").read_text().strip() == "4"
    res = run_cli("power", "set", "15W", "--conf", str(CONF), env=board_env)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "state").read_text().strip() == "2"


def test_set_unknown_name_lists_modes(run_cli, board_env):
    res = run_cli("power", "set", "MAXN", "--conf", str(CONF), env=board_env)
    assert res.returncode == 13
    assert "0=MAXN_SUPER" in res.stderr and "Traceback" not in res.stderr


def test_set_hang_times_out(run_cli, board_env):
    board_env["FAKE_NVPM_BEHAVIOUR"] = "hang"
    res = run_cli("power", "set", "10W", "--conf", str(CONF), "--timeout", "0.5", env=board_env, timeout=30)
    assert res.returncode == 13 and "did not finish within 0.5 s" in res.stderr


def test_clocks_dry_run(run_cli):
    res = run_cli("power", "clocks", "on", "--dry-run")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split()[-2] == "--store" and lines[-1].endswith("jetson_clocks")
    res = run_cli("power", "clocks")
    assert res.returncode == 2
