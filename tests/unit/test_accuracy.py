"""compare_models on constructed models with hand-computed metrics."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from workbench.core.accuracy import compare_models
from workbench.core.precision.datasets import model_inputs, open_dataset


def _linear(path: Path, w: np.ndarray) -> Path:
    """x [N,10] -> MatMul(w) -> logits [N,10]."""
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["logits"], name="mm")],
        "lin",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 10])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        [numpy_helper.from_array(w.astype(np.float32), "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _swap01() -> np.ndarray:
    p = np.eye(10, dtype=np.float32)
    p[[0, 1]] = p[[1, 0]]
    return p


def _dataset(tmp_path: Path, classes: list[int], labels: list[int] | None, model: Path):
    folder = tmp_path / "eval"
    folder.mkdir()
    for i, k in enumerate(classes):
        x = np.zeros((1, 10), np.float32)
        x[0, k] = 1.0
        np.save(folder / f"s{i}.npy", x)
    if labels is not None:
        rows = "".join(f"s{i}.npy,{lab}\n" for i, lab in enumerate(labels))
        (folder / "labels.csv").write_text("file,label\n" + rows)
    return open_dataset(folder, model_inputs(model))


def test_identical_models_pass_with_perfect_scores(tmp_path: Path) -> None:
    ref = _linear(tmp_path / "a.onnx", np.eye(10))
    other = _linear(tmp_path / "b.onnx", np.eye(10))
    ds = _dataset(tmp_path, [0, 2, 3, 1], [0, 2, 5, 1], ref)
    rep = compare_models(ref, other, ds, thresholds=None, held_out=True)
    assert rep.verdict == "pass" and rep.reasons == () and rep.advice == ()
    assert rep.top1_fp32 == 75.0 and rep.top1_other == 75.0 and rep.labeled == 4
    assert rep.vs_fp32.cosine_min == 1.0 and rep.vs_fp32.max_abs == 0.0 and rep.vs_fp32.top1_agreement == 100.0


def test_swapped_classes_give_exact_metrics_and_fail(tmp_path: Path) -> None:
    ref = _linear(tmp_path / "a.onnx", np.eye(10))
    other = _linear(tmp_path / "b.onnx", _swap01())
    ds = _dataset(tmp_path, [0, 2, 3, 1], [0, 2, 5, 1], ref)
    thr = types.SimpleNamespace(max_top1_drop_pts=0.5, min_cosine=0.99)
    rep = compare_models(ref, other, ds, thresholds=thr, held_out=False, quant={"per_channel": False})
    assert rep.top1_fp32 == 75.0 and rep.top1_other == 25.0
    v = rep.vs_fp32
    assert v.top1_agreement == 50.0
    assert v.cosine_min == 0.0 and v.cosine_mean == 0.5
    assert v.max_abs == 1.0 and v.mean_abs == pytest.approx(0.1)
    assert rep.verdict == "fail"
    assert any("dropped 50.00 points" in r for r in rep.reasons)
    assert any("cosine" in r for r in rep.reasons)
    assert any("per_channel = true" in a for a in rep.advice)
    assert any("fp16" in a for a in rep.advice)
    d = rep.to_dict()
    assert d["top1"] == 25.0 and d["top1_fp32"] == 75.0 and d["held_out"] is False and d["samples"] == 4
    assert set(d["vs_fp32"]) == {"cosine_min", "cosine_mean", "max_abs", "mean_abs", "top1_agreement"}
    assert d["verdict"] == "fail" and d["reasons"] and d["advice"]


def test_without_labels_uses_agreement(tmp_path: Path) -> None:
    ref = _linear(tmp_path / "a.onnx", np.eye(10))
    other = _linear(tmp_path / "b.onnx", _swap01())
    ds = _dataset(tmp_path, [2, 3, 4, 5, 6, 7, 8, 9, 2, 0], None, ref)  # 1 of 10 disagrees
    rep = compare_models(ref, other, ds, thresholds={"max_top1_drop_pts": 10.0, "min_cosine": 0.5}, held_out=False)
    assert rep.top1_fp32 is None and rep.top1_other is None
    assert rep.vs_fp32.top1_agreement == 90.0 and rep.vs_fp32.cosine_mean == pytest.approx(0.9)
    assert rep.verdict == "pass"
    rep2 = compare_models(ref, other, ds, thresholds={"max_top1_drop_pts": 5.0, "min_cosine": 0.5}, held_out=False)
    assert rep2.verdict == "fail" and "disagreement 10.00 points" in rep2.reasons[0]


def test_cosine_metric_ignores_top1(tmp_path: Path) -> None:
    ref = _linear(tmp_path / "a.onnx", np.eye(10))
    other = _linear(tmp_path / "b.onnx", np.eye(10) * 3.0)  # same direction, 3x magnitude
    ds = _dataset(tmp_path, [0, 1], [0, 1], ref)
    rep = compare_models(ref, other, ds, thresholds={"min_cosine": 0.999}, held_out=True, metric="cosine")
    assert rep.verdict == "pass" and rep.vs_fp32.cosine_min == pytest.approx(1.0)
    assert rep.vs_fp32.max_abs == pytest.approx(2.0)


def test_transformer_like_model_gets_dynamic_quantization_advice(tmp_path: Path) -> None:
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["m"], name="mm"),
            helper.make_node("Softmax", ["m"], ["logits"], name="sm", axis=-1),
        ],
        "tr",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 10])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        [numpy_helper.from_array(np.eye(10, dtype=np.float32), "w")],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    ref = tmp_path / "t.onnx"
    onnx.save(m, str(ref))
    other = _linear(tmp_path / "b.onnx", _swap01())
    ds = _dataset(tmp_path, [0, 1], None, ref)
    rep = compare_models(ref, other, ds, thresholds=None, held_out=False)
    assert rep.verdict == "fail"
    assert "dynamic INT8" in rep.advice[0]
