"""benchmarks/gpu_check.py: its PASS/FAIL checks on faked outputs, its parsers, and the no-GPU exit (no GPU here)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "gpu_check.py"


def _load():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


gc = _load()


def bench_json(*, device="cuda", iterations=1000, count=1000, compute=0.8, split_latency=0.9, p50=1.0, w=250.0, mj=0.2):
    """The parts of a `workbench bench --json` result the checks read."""
    return {
        "backend": "torch",
        "iterations": iterations,
        "latency_ms": {"p50": p50},
        "timing_splits_ms": {
            "device": device,
            "gpu_compute_ms": {"median": compute, "mean": compute, "max": compute, "count": count},
            "latency_ms": {"median": split_latency, "mean": split_latency, "max": split_latency, "count": count},
        },
        "telemetry": {"mean_power_w": w, "mj_per_inference": mj},
    }


def test_ran_on_cuda():
    assert gc.check_ran_on_cuda("m", bench_json()).ok
    c = gc.check_ran_on_cuda("m", bench_json(device="cpu"))
    assert not c.ok and c.figure == "device cpu"
    c = gc.check_ran_on_cuda("m", None, "timed out after 60 s")
    assert not c.ok and c.figure == "not measured: timed out after 60 s"


def test_split_count_equals_iterations():
    assert gc.check_split_count("m", bench_json()).ok
    c = gc.check_split_count("m", bench_json(count=1001))  # one warm-up query counted: the defect
    assert not c.ok and c.figure == "1001 splits, 1000 iterations"
    assert not gc.check_split_count("m", {"iterations": 5, "timing_splits_ms": None}).ok


def test_compute_within_latency():
    assert gc.check_compute_le_latency("m", bench_json()).ok
    assert not gc.check_compute_le_latency("m", bench_json(compute=0.95, split_latency=0.9)).ok
    assert not gc.check_compute_le_latency("m", bench_json(compute=1.2, split_latency=1.3, p50=1.0)).ok


def test_ratio_and_overhead():
    c = gc.check_ratio("r", 1.04, 1.0)
    assert c.ok and c.figure.startswith("1.0400")
    assert not gc.check_ratio("r", 1.06, 1.0).ok
    assert not gc.check_ratio("r", None, 1.0).ok
    c = gc.check_overhead("d", 0.130, 0.090)  # 40 µs
    assert c.ok and c.figure.startswith("+40.0 µs")
    assert not gc.check_overhead("d", 0.150, 0.090).ok  # 60 µs


def test_energy_within_30_percent():
    assert gc.check_within("m", "mean W", 260.0, 250.0).ok
    c = gc.check_within("m", "mJ/inference", 0.139, 0.2)
    assert not c.ok and c.figure == "0.139 vs 0.2 (-30.5%)"
    assert gc.check_within("m", "mJ/inference", 0.141, 0.2).ok  # -29.5 %
    assert not gc.check_within("m", "mean W", 330.0, 250.0).ok  # +32 %
    assert not gc.check_within("m", "mean W", None, 250.0).ok


def test_pytest_summary_and_check():
    out = "....s.F\nFAILED tests/gpu/test_x.py::test_y - AssertionError\n1 failed, 5 passed, 1 skipped in 12.3s\n"
    s = gc.parse_pytest(out, 1)
    assert (s["passed"], s["failed"], s["skipped"]) == (5, 1, 1)
    assert s["failures"] == ["tests/gpu/test_x.py::test_y - AssertionError"]
    assert not gc.check_tests(s).ok
    ok = gc.parse_pytest("15 passed in 80.1s\n", 0)
    assert gc.check_tests(ok).ok and gc.check_tests(ok).figure == "15 passed, 0 failed, 0 skipped, 0 error"
    assert not gc.check_tests(gc.parse_pytest("15 skipped in 1.0s\n", 0)).ok  # nothing ran on the GPU


def test_trtexec_summary():
    out = (
        "[I] Throughput: 1234.5 qps\n"
        "[I] Latency: min = 0.70 ms, max = 1.20 ms, mean = 0.80 ms, median = 0.79 ms, percentile(90%) = 0.9 ms\n"
        "[I] GPU Compute Time: min = 0.60 ms, max = 1.0 ms, mean = 0.65 ms, median = 0.64 ms, percentile(90%) = 0.7 ms\n"
    )
    assert gc.parse_trtexec(out) == {"latency_ms": 0.79, "gpu_compute_ms": 0.64, "throughput_qps": 1234.5}


def test_table_prints_every_check_and_the_count():
    t = gc.table([gc.Check("a", True, "1"), gc.Check("bb", False, "not measured: x")])
    assert t.splitlines() == ["PASS  a   1", "FAIL  bb  not measured: x", "1/2 checks pass; 1 FAIL"]


def _no_gpu_here():
    present, _ = gc.gpu_present()
    if present:
        pytest.skip("a CUDA device is here: the script would run the whole check")


@pytest.mark.parametrize(
    "argv",
    [
        [str(SCRIPT)],
        # torch unimportable: the no-GPU answer must not need it
        ["-c", f"import sys, runpy; sys.modules['torch'] = None; sys.argv = ['x']; runpy.run_path({str(SCRIPT)!r}, run_name='__main__')"],
        ["-I", str(SCRIPT)],  # isolated: no PYTHONPATH, no user site
    ],
    ids=["plain", "torch-hidden", "isolated"],
)  # fmt: skip
def test_without_a_gpu_it_says_so_and_exits_0_within_seconds(argv):
    _no_gpu_here()
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("no GPU: nothing run")
    assert time.monotonic() - t0 < 10


def test_wheels_are_installed_from_the_folder_only(monkeypatch, tmp_path):
    """pip runs isolated (no pip.conf / PIP_* find-links joining DIR), offline, into the private folder."""
    seen = {}

    def fake_run(cmd, **kw):
        seen["cmd"] = cmd
        return subprocess.CompletedProcess(cmd, 0, "ok", "")

    monkeypatch.setattr(gc.subprocess, "run", fake_run)
    gc.install_from_wheels(["pydantic"], tmp_path / "wheels", tmp_path / "site")
    cmd = seen["cmd"]
    assert cmd[1:5] == ["-m", "pip", "--isolated", "install"]
    assert "--no-index" in cmd and cmd[cmd.index("--find-links") + 1] == str(tmp_path / "wheels")
    assert cmd[cmd.index("--target") + 1] == str(tmp_path / "site") and cmd[-1] == "pydantic"


@pytest.mark.parametrize("argv", [["--wheels", "/nonexistent-wheels"], ["--seconds", "-1"], ["--budget", "0"]])
def test_bad_arguments_are_refused_before_anything_runs(argv):
    r = subprocess.run([sys.executable, str(SCRIPT), *argv], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "error:" in r.stderr and "no GPU" not in r.stdout
