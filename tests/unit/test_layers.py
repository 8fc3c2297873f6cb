"""Per-layer profile: ONNX Runtime profile JSON -> report (golden values), and bench --profile-layers end to end."""

from __future__ import annotations

import json

import pytest

from workbench.core.bench.layers import parse_ort_profile
from workbench.core.errors import BenchmarkError
from workbench.core.results.result import LayerProfile
from workbench.core.results.summary import layer_table


def _run(ts, dur):
    return {"cat": "Session", "name": "model_run", "ts": ts, "dur": dur, "ph": "X"}


def _node(name, op, ts, dur):
    return {"cat": "Node", "name": f"{name}_kernel_time", "ts": ts, "dur": dur, "ph": "X",
            "args": {"op_name": op, "provider": "CPUExecutionProvider"}}  # fmt: skip


@pytest.fixture
def profile(tmp_path):
    """Three runs: one warm-up (slow), two timed. conv: 60+40 us, relu 10+10, gemm 20+60 in the timed runs."""
    ev = [
        {"cat": "Session", "name": "session_initialization", "ts": 0, "dur": 900},
        _run(1000, 500), _node("conv", "Conv", 1001, 400), _node("relu", "Relu", 1402, 50),
        _run(2000, 120), _node("conv", "Conv", 2001, 60), _node("relu", "Relu", 2062, 10), _node("fc", "Gemm", 2073, 20),
        _node("conv_fence", "Conv", 2090, 5) | {"name": "conv_fence_before"},  # fences are not kernel time
        _run(3000, 130), _node("conv", "Conv", 3001, 40), _node("relu", "Relu", 3042, 10), _node("fc", "Gemm", 3053, 60),
    ]  # fmt: skip
    p = tmp_path / "prof.json"
    p.write_text(json.dumps(ev))
    return p


def test_golden_report_skipping_warmup(profile):
    rep = parse_ort_profile(profile, keep_last=2)
    assert rep["runs"] == 2 and rep["skipped_runs"] == 1
    assert rep["total_ms"] == pytest.approx(0.1)  # (100 + 20 + 80) us / 2 runs
    assert rep["run_ms"] == pytest.approx(0.125)
    assert [(r["name"], r["op"]) for r in rep["layers"]] == [("conv", "Conv"), ("fc", "Gemm"), ("relu", "Relu")]
    assert [r["share_pct"] for r in rep["layers"]] == [50.0, 40.0, 10.0]
    assert [r["mean_ms"] for r in rep["layers"]] == pytest.approx([0.05, 0.04, 0.01])
    assert rep["layers"][0]["calls"] == 1.0
    assert rep["by_op"][0] == {"op": "Conv", "nodes": 1, "mean_ms": pytest.approx(0.05), "share_pct": 50.0}
    lines = layer_table(LayerProfile.from_dict(rep), 2)  # the typed report every face renders
    assert lines[2].split() == ["1", "50.00%", "0.0500", "Conv", "conv"]
    assert lines[-1] == "  top 2 = 90.0 % of layer time; 1 more"


def test_all_runs_counted_without_skipping(profile):
    rep = parse_ort_profile(profile)
    assert rep["runs"] == 3
    conv = rep["layers"][0]
    assert conv["name"] == "conv" and conv["mean_ms"] == pytest.approx(0.5 / 3)


def test_bad_profiles_are_benchmark_errors(tmp_path, profile):
    with pytest.raises(BenchmarkError, match="does not exist"):
        parse_ort_profile(tmp_path / "nope.json")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(BenchmarkError, match="cannot be read as JSON"):
        parse_ort_profile(tmp_path / "x.json")
    (tmp_path / "d.json").write_text("{}")
    with pytest.raises(BenchmarkError, match="not an ONNX Runtime profile"):
        parse_ort_profile(tmp_path / "d.json")
    with pytest.raises(BenchmarkError, match="no node timings after skipping 3 warm-up"):
        parse_ort_profile(profile, skip_runs=3)


def test_real_onnxruntime_profile(tmp_path):
    import numpy as np
    import onnxruntime as ort

    from workbench.core import paths

    so = ort.SessionOptions()
    so.enable_profiling = True
    so.profile_file_prefix = str(tmp_path / "ort")
    sess = ort.InferenceSession(str(paths.default_model_path()), so, providers=["CPUExecutionProvider"])
    x = np.zeros((1, 1, 8, 8), np.float32)
    for _ in range(7):
        sess.run(None, {sess.get_inputs()[0].name: x})
    rep = parse_ort_profile(sess.end_profiling(), keep_last=5)
    assert rep["runs"] == 5 and rep["skipped_runs"] == 2
    ops = {r["op"] for r in rep["layers"]}
    assert {"Conv", "Gemm", "MaxPool"} <= ops
    assert sum(r["share_pct"] for r in rep["layers"]) == pytest.approx(100.0, abs=0.01)
    assert rep["layers"] == sorted(rep["layers"], key=lambda r: -r["mean_ms"])
    assert all(r["calls"] == 1.0 for r in rep["layers"])


def test_bench_profile_layers_stored_and_shown(run_cli, tmp_path):
    # cwd: onnxruntime writes its profile file into the working directory (no prefix set by the ORT backend)
    res = run_cli("bench", "--iterations", "40", "--warmup-ms", "10", "--profile-layers", "--json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    entry = json.loads(res.stdout)
    rep = entry["layers"]
    assert rep["runs"] == 40 and rep["source"] == "onnxruntime profiler"
    assert entry["layer_profile"] == rep["file"]
    assert entry["artifact_bytes"] > 0
    assert "Conv" in {r["op"] for r in rep["layers"]}
    rid = str(entry["result_id"])
    shown = run_cli("results", "show", rid, "--layers")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("Per-layer profile (onnxruntime profiler, 40 runs)")
    first = rep["layers"][0]
    assert first["name"] in shown.stdout.splitlines()[2]
    as_json = json.loads(run_cli("results", "show", rid, "--layers", "--json").stdout)
    assert as_json == rep
    csv_lines = run_cli("results", "show", rid, "--layers", "--csv").stdout.splitlines()
    assert csv_lines[0] == "rank,name,op,provider,calls,mean_ms,share_pct"
    assert len(csv_lines) == 1 + len(rep["layers"])
    full = run_cli("results", "show", rid).stdout
    assert "Per-layer profile" in full
