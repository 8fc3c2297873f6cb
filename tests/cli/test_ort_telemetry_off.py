"""onnxruntime 1.32's Linux telemetry (a device id and an event database under
$XDG_CACHE_HOME/Microsoft/DeveloperTools/.onnxruntime/, uploads to Microsoft) is off in every workbench process unless
the user set ORT_DISABLE_TELEMETRY themselves (workbench/__init__.py)."""

from __future__ import annotations

import subprocess
import sys


def test_a_benchmark_leaves_no_onnxruntime_telemetry_files(run_cli, cli_env, tmp_path):
    cache = tmp_path / "xdg-cache"
    env = {k: v for k, v in cli_env.items() if k != "ORT_DISABLE_TELEMETRY"}
    env["XDG_CACHE_HOME"] = str(cache)
    res = run_cli("bench", "--iterations", "100", "--warmup-ms", "20", "--foreground", "--no-store", env=env)
    assert res.returncode == 0, res.stderr
    assert not (cache / "Microsoft").exists()


def test_the_users_own_setting_is_kept(cli_env):
    code = "import os, workbench; print(os.environ['ORT_DISABLE_TELEMETRY'])"
    env = {k: v for k, v in cli_env.items() if k != "ORT_DISABLE_TELEMETRY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip()
    assert out == "1"
    out = subprocess.run([sys.executable, "-c", code], env={**env, "ORT_DISABLE_TELEMETRY": "0"},
                         capture_output=True, text=True).stdout.strip()  # fmt: skip
    assert out == "0"
