"""`workbench sweep` end to end with a fake nvpmodel on PATH: every mode benchmarked, the original restored."""

import json
import os
import sys
from pathlib import Path

import pytest

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "nvpmodel"
CONF = FIX / "orin-nx-16gb-p3767-0000.conf"


def _install(bin_dir: Path, name: str, script: Path) -> None:
    exe = bin_dir / name
    exe.write_text(f"#!{sys.executable}\n" + script.read_text())
    exe.chmod(0o755)


@pytest.fixture
def board_env(tmp_path, cli_env):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _install(bin_dir, "nvpmodel", FIX / "fake_nvpmodel.py")
    _install(bin_dir, "sudo", FIX / "fake_sudo.py")
    state = tmp_path / "state"
    state.write_text("1\n")
    env = dict(cli_env)
    env.update(
        PATH=f"{bin_dir}:{os.environ['PATH']}",
        FAKE_NVPM_CONF=str(CONF),
        FAKE_NVPM_STATE=str(state),
        FAKE_NVPM_LOG=str(tmp_path / "calls.log"),
    )
    return env, state, tmp_path / "calls.log"


def test_sweep_benchmarks_each_mode_and_restores(run_cli, board_env):
    env, state, log = board_env
    res = run_cli(
        "sweep",
        "--conf",
        str(CONF),
        "--modes",
        "0,2",
        "--iterations",
        "100",
        "--cooldown-timeout",
        "1",
        "--json",
        "--no-store",
        env=env,
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert [r["mode_id"] for r in doc["rows"]] == [0, 2]
    assert all(r["status"] == "ok" and r["p99_ms"] > 0 for r in doc["rows"])
    assert doc["original_id"] == 1 and doc["restored"] is True
    assert state.read_text().strip() == "1"  # back in the original mode
    calls = [line.split() for line in log.read_text().splitlines()]
    assert ["-m", "0"] in calls and ["-m", "2"] in calls and calls[-1] == ["-m", "1"]
    # host telemetry here has no power: nothing can be recommended on energy, and it says why
    assert doc["recommendation"]["mode"] is None and doc["recommendation"]["reason"]


def test_sweep_refuses_replay_telemetry(run_cli, board_env):
    env, _, _ = board_env
    log = Path(__file__).resolve().parents[1] / "fixtures" / "tegrastats"
    replay = next(log.glob("orin-nx*.log"))
    res = run_cli("sweep", "--conf", str(CONF), "--telemetry", f"replay:{replay}", "--iterations", "10", env=env)
    assert res.returncode == 13, res.stderr
    assert "replay" in res.stderr and "Traceback" not in res.stderr
