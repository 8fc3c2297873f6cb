"""`workbench tune` end to end on small models (issue 16): the planted INT8-hostile layer kept in FP32 (must-show
2), kill -9 of the job and resume without re-measuring (must-show 3), the --json keys and the tuned profile
benchmarking with `bench --profile PATH`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from _waiting import wait_until  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
ARGS = ["--budget-min", "2", "--short-s", "0.5", "--confirm-s", "1", "--foreground"]


def _profile(folder: Path, recipes: list[str], *, kept_layers: bool = True) -> Path:
    p = folder / "tune-test.toml"
    p.write_text(
        'extends = "cpu-x86_64"\n[tune]\nprecisions = ["fp32", "int8"]\n'
        f'recipes = {json.dumps(recipes)}\nmethods = ["minmax"]\nthreads = [1]\n'
        f"kept_layers = {'true' if kept_layers else 'false'}\n"
    )
    return p


def _hostile(folder: Path, rows: int = 128, width: int = 512) -> tuple[Path, Path, Path]:
    """x -> MatMul(W1) -> Add(B) = "hot" -> MatMul(W3) -> MatMul(W4) -> MatMul(W5) -> y, wide enough that INT8 is
    faster than FP32 on a CPU. B puts channel 0 of "hot" at 1e4 (the others near 1) and W3's row 0 is zero: per-tensor
    INT8 of "hot" rounds every small channel to the zero point (output cosine ≈ 0) while channel 0 does not matter
    downstream (tests/unit/test_localize.py has the same layer, narrow)."""
    rng = np.random.default_rng(0)

    def w() -> np.ndarray:
        return (rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32)

    w1, w3, w4, w5 = w(), w(), w(), w()
    w3[0, :] = 0.0
    b = np.zeros(width, np.float32)
    b[0] = 1e4
    nodes = [
        helper.make_node("MatMul", ["x", "W1"], ["h1"], name="mm1"),
        helper.make_node("Add", ["h1", "B"], ["hot"], name="add_hot"),
        helper.make_node("MatMul", ["hot", "W3"], ["h3"], name="mm3"),
        helper.make_node("MatMul", ["h3", "W4"], ["h4"], name="mm4"),
        helper.make_node("MatMul", ["h4", "W5"], ["y"], name="mm5"),
    ]
    inits = [numpy_helper.from_array(a, n) for a, n in ((w1, "W1"), (b, "B"), (w3, "W3"), (w4, "W4"), (w5, "W5"))]
    g = helper.make_graph(
        nodes,
        "hostile",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, rows, width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, rows, width])],
        inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path = folder / "hostile.onnx"
    onnx.save(m, path)
    sets = []
    for name, seed in (("calib", 1), ("eval", 2)):
        d = folder / name
        d.mkdir()
        r = np.random.default_rng(seed)
        for i in range(16):
            np.save(d / f"s{i:03d}.npy", r.standard_normal((1, rows, width)).astype(np.float32))
        sets.append(d)
    return path, sets[0], sets[1]


def _tune_runs() -> list[dict]:
    """The tune links of the stored results (the results database of this test's WORKBENCH_HOME)."""
    from workbench.core.results.store import ResultStore

    with ResultStore() as db:
        found = db.read_many().results
    return [r.extras["tune"] for r in found if isinstance((r.extras or {}).get("tune"), dict)]


def test_hostile_layer_kept_fp32_meets_the_bound_and_beats_fp32(run_cli, tmp_path):
    """Must-show 2: plain INT8 fails the cosine bound; the localisation keeps the hostile layer's consumer in FP32;
    that candidate meets the bound and is recommended over FP32 only because it is significantly faster."""
    model, calib, ev = _hostile(tmp_path)
    prof = _profile(tmp_path, ["qdq-u8s8-tensor"])
    res = run_cli("tune", str(model), "--calib", str(calib), "--eval", str(ev), "--min-cosine", "0.98",
                  "--profile", str(prof), "--json", *ARGS, timeout=600)  # fmt: skip
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    by_label = {c["label"]: c for c in doc["candidates"]}
    plain = by_label["INT8 per-tensor U8S8 QDQ (minmax), 1 thread"]
    assert plain["status"] == "rejected-accuracy" and plain["cosine_min"] < 0.5
    kept = [c for c in doc["candidates"] if c["candidate"]["recipe"].get("nodes_to_exclude")]
    assert len(kept) == 1 and "mm3" in kept[0]["candidate"]["recipe"]["nodes_to_exclude"]
    assert kept[0]["cosine_min"] >= 0.98 and kept[0]["status"] in ("measured", "confirmed")
    rec = doc["recommendation"]
    fp32 = by_label["FP32, 1 thread"]
    if rec["precision"] == "fp32":  # only when the CPU was shared beyond the noise rule's trust: then it must say so
        assert any("contended" in r for r in rec["reasons"]), rec["reasons"]
    else:
        assert rec["key"] == kept[0]["key"]
        assert rec["reasons"][0].split("×")[0].replace(".", "").isdigit() and "faster than FP32" in rec["reasons"][0]
        assert kept[0]["p50_ms"] < fp32["p50_ms"]


def test_kill9_mid_tune_then_resume_measures_nothing_twice(cli_env, workbench_home, tmp_path):
    """Must-show 3: kill -9 the tune job's process group after its second finished candidate; the same tune run
    again finishes, and no (candidate, phase) was stored twice."""
    from workbench.core import jobs

    prof = _profile(tmp_path, ["qdq-u8s8-tensor", "qdq-u8s8-channel"], kept_layers=False)
    argv = ["tune", "--min-cosine", "0.9", "--profile", str(prof), "--budget-min", "3", "--short-s", "0.5",
            "--confirm-s", "1"]  # fmt: skip
    res = subprocess.run([sys.executable, "-m", "workbench", *argv, "--detach"], capture_output=True, text=True,
                         env=cli_env, cwd=REPO, timeout=60)  # fmt: skip
    assert res.returncode == 0, res.stderr
    job = jobs.get(res.stdout.strip())

    def second_done():
        events, _ = jobs.read_events(job)
        return sum(type(e).__name__ == "TuneCandidateDone" for e in events) >= 2

    wait_until(second_done, timeout=300, what="the second finished candidate")
    os.killpg(job.pid, signal.SIGKILL)
    wait_until(lambda: job.runner_is_ours() is not True, timeout=30, what="the job's end")
    before = _tune_runs()
    assert len(before) >= 2
    again = subprocess.run([sys.executable, "-m", "workbench", *argv, "--foreground", "--json"], capture_output=True,
                           text=True, env=cli_env, cwd=REPO, timeout=600)  # fmt: skip
    assert again.returncode == 0, again.stderr
    doc = json.loads(again.stdout)
    after = _tune_runs()
    counts = Counter((t["candidate_key"], t["phase"]) for t in after)
    assert max(counts.values()) == 1, counts
    assert {t["tune_id"] for t in after} == {doc["tune_id"]}
    assert {(t["candidate_key"], t["phase"]) for t in before} <= set(counts)
    assert "resuming" in again.stderr
    assert all(c["status"] != "not-run" for c in doc["candidates"])


def test_json_keys_and_the_tuned_profile_benchmarks(run_cli, tmp_path):
    prof = _profile(tmp_path, ["qdq-u8s8-tensor"], kept_layers=False)
    out = tmp_path / "tuned.toml"
    res = run_cli("tune", "--min-cosine", "0.9", "--profile", str(prof), "--tuned-profile", str(out), "--json",
                  *ARGS, timeout=600)  # fmt: skip
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert {"recommendation", "front", "candidates", "profile_path"} <= set(doc)
    rec = doc["recommendation"]
    assert {"precision", "settings", "result_id", "reasons"} <= set(rec) and rec["reasons"]
    assert doc["profile_path"] == str(out) and out.is_file()
    assert isinstance(rec["result_id"], int)
    assert doc["front"] and all(f["key"] in {c["key"] for c in doc["candidates"]} for f in doc["front"])
    text = out.read_text()
    assert "extends = " in text and "[build]\nintra_op_threads = 1" in text
    bench = run_cli("bench", "--profile", str(out), "--precision", rec["precision"], "--iterations", "50",
                    "--foreground", "--json", timeout=300)  # fmt: skip
    assert bench.returncode == 0, bench.stderr
    b = json.loads(bench.stdout)
    assert b["profile"] == out.stem and b["settings"]["threads"] == 1


def test_bad_inputs_are_one_clear_error_before_anything_runs(run_cli, tmp_path):
    bad = tmp_path / "sweep.json"
    bad.write_text('{"modes": []}')
    res = run_cli("tune", "--power-sweep", str(bad), "--budget-min", "0.05", "--foreground", timeout=120)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert f"error: --power-sweep {bad}: not a power sweep JSON (no 'rows' list)" in res.stderr
    assert _tune_runs() == []  # refused before FP32 was measured
    res = run_cli("tune", "--min-cosine", "2", "--foreground", timeout=60)
    assert res.returncode == 2 and "argument --min-cosine: 2 must be between -1 and 1" in res.stderr
    assert "Traceback" not in res.stderr


def test_an_int8_candidate_with_every_layer_kept_fp32_is_not_measured_as_int8(run_cli, tmp_path):
    """A bound no INT8 model meets made the localisation keep all 5 of the bundled model's layers in FP32: the
    "INT8 … 5 layers FP32" candidates were the FP32 graph, measured and stored as INT8 once per method."""
    prof = _profile(tmp_path, ["qdq-u8s8-tensor"])
    res = run_cli("tune", "--min-cosine", "0.999999", "--profile", str(prof), "--json", *ARGS, timeout=600)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    kept = [c for c in doc["candidates"] if c["candidate"]["recipe"].get("nodes_to_exclude")]
    assert kept, "the localisation added no kept-layer candidate"
    for c in kept:
        if len(c["candidate"]["recipe"]["nodes_to_exclude"]) >= 5:
            assert c["status"] == "rejected-bound" and "it is the FP32 model" in c["reason"]
            assert c["result_id"] is None
    plain = next(c for c in doc["candidates"] if c["status"] == "rejected-accuracy")
    assert "< 0.999999" in plain["reason"] and "1.0000 <" not in plain["reason"]
