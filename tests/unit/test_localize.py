"""INT8 error localisation (issue 3, "What it must show" 3): a model with one INT8-hostile activation.

The model: x -> MatMul(W1) -> Add(B) = "hot" -> MatMul(W3) -> MatMul(W4) -> y. B puts channel 0 of "hot" at 1e4
while the other channels stay near 1; W3's row 0 is zero, so channel 0 does not matter downstream. Per-tensor
8-bit quantization of "hot" (scale ≈ 1e4 / 255 ≈ 39) rounds every small channel to the zero point, so INT8
output is garbage (cosine ≈ 0), although the global SQNR of "hot" is excellent (≈ 59 dB: channel 0 dominates
the signal power) — the reason the ranking uses the output-impact test, not SQNR alone.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from workbench.core.accuracy import compare_models
from workbench.core.models.load import inspect_model
from workbench.core.precision.datasets import open_dataset
from workbench.core.precision.localize import activation_pairs, auto_exclude, localize
from workbench.core.precision.quantize import QuantOptions, quantize_qdq


def build_hostile(folder, rank3: bool = True):
    rng = np.random.default_rng(0)
    w1 = rng.standard_normal((16, 16)).astype(np.float32) * 0.5
    b = np.zeros(16, np.float32)
    b[0] = 1e4
    w3 = rng.standard_normal((16, 16)).astype(np.float32) * 0.5
    w3[0, :] = 0.0
    w4 = rng.standard_normal((16, 8)).astype(np.float32) * 0.5
    lead = [1, 1] if rank3 else [1]
    nodes = [
        helper.make_node("MatMul", ["x", "W1"], ["h1"], name="mm1"),
        helper.make_node("Add", ["h1", "B"], ["hot"], name="add_hot"),
        helper.make_node("MatMul", ["hot", "W3"], ["h3"], name="mm3"),
        helper.make_node("MatMul", ["h3", "W4"], ["y"], name="mm4"),
    ]
    g = helper.make_graph(
        nodes,
        "hostile",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [*lead, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [*lead, 8])],
        [numpy_helper.from_array(a, n) for a, n in ((w1, "W1"), (b, "B"), (w3, "W3"), (w4, "W4"))],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "hostile.onnx"
    onnx.save(m, path)
    cal = folder / "calib"
    cal.mkdir()
    for i in range(32):
        np.save(cal / f"s{i:03d}.npy", rng.standard_normal((*lead, 16)).astype(np.float32))
    return path, cal


@pytest.mark.parametrize("rank3", [False, True], ids=["2d-fused-gemm", "3d-reshape-chain"])
def test_hostile_layer_ranked_first_and_auto_exclude_passes(tmp_path, rank3):
    model, cal = build_hostile(tmp_path, rank3)
    ds = open_dataset(cal, inspect_model(model).inputs)
    q0 = quantize_qdq(model, ds)
    thresholds = {"max_top1_drop_pts": 100.0, "min_cosine": 0.99}

    def evaluate(p):
        return compare_models(model, p, ds, thresholds=thresholds, held_out=False, metric="cosine")

    rep0 = evaluate(q0.path)
    assert rep0.verdict == "fail" and rep0.vs_fp32.cosine_mean < 0.2

    loc = localize(model, q0.path, ds.iter_feeds(), max_samples=16)
    assert loc.output_cosine < 0.2
    worst = loc.layers[0]
    assert worst.tensor == "hot"
    assert worst.sqnr_db > 50  # good global SQNR: SQNR alone would not have found it
    assert worst.zeroed_pct > 80  # ... but most positive values round to zero
    assert all(r.zeroed_pct < 10 for r in loc.layers[1:])
    assert worst.output_cosine_if_float > 0.99 and worst.gain > 0.8
    assert all(r.gain is None or r.gain < 0.1 for r in loc.layers[1:])  # no other layer matters
    assert "mm3" in worst.exclude_nodes  # the consumer of "hot"
    if rank3:  # ORT's pre-processing wraps the fused Gemm in Reshapes: the chain is one group
        assert len(worst.tensors) == 2 and worst.tensors[-1] == "hot"

    def requantize(excluded):
        return quantize_qdq(model, ds, QuantOptions.from_any(None, nodes_to_exclude=list(excluded))).path

    ae = auto_exclude(model, loc, requantize, evaluate, max_excluded=4, first=(q0.path, rep0),
                      timing_feed=next(iter(ds.iter_feeds())))  # fmt: skip
    assert ae.passed
    assert len(ae.steps) == 2 and ae.steps[1].added_for == "hot"
    assert ae.excluded == worst.exclude_nodes
    assert ae.steps[1].cosine_mean > 0.99
    # "hot" is no longer quantized in the final model, the other layers still are.
    final = onnx.load(ae.final_model)
    left = {p.tensor for p in activation_pairs(final)}
    assert "hot" not in left and left
    assert ae.latency_ms["fp32"] > 0 and ae.latency_ms["int8_final"] > 0 and ae.speed_cost_pct is not None
    json.dumps(ae.to_dict())
    json.dumps(loc.to_dict())


def test_candidate_preselection_keeps_the_zeroed_tensor(tmp_path):
    """With a candidate budget of 1 the bypass test still reaches "hot" (chosen by zeroed_pct, not SQNR)."""
    model, cal = build_hostile(tmp_path, rank3=False)
    ds = open_dataset(cal, inspect_model(model).inputs)
    q0 = quantize_qdq(model, ds)
    loc = localize(model, q0.path, ds.iter_feeds(), max_samples=8, max_candidates=1)
    assert loc.tried == 1 and loc.layers[0].tensor == "hot" and loc.layers[0].gain > 0.8


def test_budget_stops_auto_exclude(tmp_path):
    model, cal = build_hostile(tmp_path)
    ds = open_dataset(cal, inspect_model(model).inputs)
    q0 = quantize_qdq(model, ds)

    def evaluate(p):
        return compare_models(model, p, ds, thresholds={"min_cosine": 0.99}, held_out=False, metric="cosine")

    loc = localize(model, q0.path, ds.iter_feeds(), max_samples=8)
    ae = auto_exclude(model, loc, lambda ex: pytest.fail("must not re-quantize"), evaluate, max_excluded=1)
    assert not ae.passed and ae.excluded == ()
    assert ae.stopped_because.startswith("budget of 1 excluded unit(s) reached (next: hot needs")


def test_cli_compare_per_layer_auto_exclude(run_cli, tmp_path):
    model, cal = build_hostile(tmp_path)
    res = run_cli(
        "compare", str(model), "--precision", "int8", "--calib", str(cal), "--profile", "cpu-x86_64",
        "--per-layer", "--auto-exclude", "--max-excluded", "4", "--json",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["verdict"] == "fail"  # the all-INT8 model
    assert doc["per_layer"]["layers"][0]["tensor"] == "hot"
    ae = doc["auto_exclude"]
    assert ae["passed"] is True and "mm3" in ae["excluded"]
    assert ae["steps"][-1]["verdict"] == "pass"
    text = run_cli(
        "compare", str(model), "--precision", "int8", "--calib", str(cal), "--profile", "cpu-x86_64",
        "--auto-exclude",
    ).stdout  # fmt: skip
    assert "Per-layer INT8 error" in text
    assert "result: PASS" in text and "nodes_to_exclude = [" in text
