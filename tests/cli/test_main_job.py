"""The main job end to end on the bundled model, through the real CLI (issue 2, "What it must show" 1-2)."""

import json
from pathlib import Path

import pytest

LAT_KEYS = {"min", "mean", "median", "p50", "p90", "p95", "p99", "max", "std", "cov_pct"}
VS_KEYS = {"cosine_min", "cosine_mean", "max_abs", "top1_agreement"}


@pytest.fixture(scope="module")
def run_json(tmp_path_factory):
    """One `workbench run --json` shared by the tests below (calibration + two benchmarks)."""
    import os
    import subprocess
    import sys

    home = tmp_path_factory.mktemp("runhome")
    env = dict(os.environ, WORKBENCH_HOME=str(home))
    res = subprocess.run(
        [sys.executable, "-m", "workbench", "run", "--json", "--iterations", "300", "--warmup-ms", "50"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    return json.loads(res.stdout), res, env


def test_run_json_document(run_json):
    doc, _, _ = run_json
    results = doc["results"]
    assert [r["precision"] for r in results] == ["fp32", "int8"]
    for r in results:
        assert set(r["latency_ms"]) >= LAT_KEYS
        lat = r["latency_ms"]
        assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p95"] <= lat["p99"] <= lat["max"]
        assert r["iterations"] == 300 and r["batch"] == 1
        assert r["throughput_ips"] > 0
        assert r["backend"] == "onnxruntime"
        assert r["profile"].startswith("cpu-")
        assert Path(r["artifact"]).is_file()
        assert "precision" not in r["warmup"] and r["warmup"]["iterations"] >= 1
        acc = r["accuracy"]
        assert acc["held_out"] is True
        assert set(acc["vs_fp32"]) >= VS_KEYS
    fp32, int8 = results
    assert fp32["accuracy"]["top1"] >= 97.0  # percent
    # INT8 keeps the bundled CNN's accuracy: within 0.5 points on the held-out split
    assert abs(fp32["accuracy"]["top1"] - int8["accuracy"]["top1"]) <= 0.5
    assert int8["accuracy"]["vs_fp32"]["cosine_min"] > 0.95
    assert int8["accuracy"]["verdict"] == "pass"
    assert doc["speedup_vs_fp32"]["int8"] > 0


def test_results_were_stored(run_json, tmp_path):
    doc, _, env = run_json
    import subprocess
    import sys

    ids = [r["result_id"] for r in doc["results"]]
    res = subprocess.run(
        [sys.executable, "-m", "workbench", "results", "list", "--json"], capture_output=True, text=True, env=env
    )
    assert res.returncode == 0, res.stderr
    listed = json.loads(res.stdout)
    assert {row["id"] for row in listed} >= set(ids)
    out = tmp_path / "results.csv"
    res = subprocess.run(
        [sys.executable, "-m", "workbench", "results", "export", "--format", "csv", "-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert res.returncode == 0, res.stderr
    assert out.read_text().count("\n") >= 3


def test_bench_json_is_one_entry(run_cli, tmp_path):
    res = run_cli(
        "bench",
        "--precision",
        "fp32",
        "--iterations",
        "50",
        "--json",
        "--no-store",
        "--export-times",
        str(tmp_path / "t.json"),
    )
    assert res.returncode == 0, res.stderr
    entry = json.loads(res.stdout)
    assert entry["precision"] == "fp32" and entry["iterations"] == 50
    assert set(entry["latency_ms"]) >= LAT_KEYS
    times = json.loads((tmp_path / "t.json").read_text())
    assert len(times["latencies_ms"]) == 50
    assert min(times["latencies_ms"]) == pytest.approx(entry["latency_ms"]["min"])


def test_human_summary_has_speedup_and_percentiles(run_cli):
    res = run_cli("run", "--iterations", "100", "--warmup-ms", "20", "--no-store")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "=== FP32" in out and "=== INT8" in out
    assert "p99 =" in out and "inferences/s" in out
    assert "Speed-up INT8 vs FP32" in out
    assert "held-out" in out
