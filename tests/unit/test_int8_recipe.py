"""Recipe 2 of the INT8 QDQ model: graph outputs and mixed-range Concats stay float, everything else as before.

The detector head (tests/unit/_calib_models.py ``detector_head``) concatenates boxes (0 … ~450) and sigmoid
scores (0 … 1): with the old recipe (one scale on the Concat) the scores collapse; the new default keeps them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).parent))
from _calib_models import detector_head, write_npy_samples  # noqa: E402

from workbench.core.errors import CalibrationError  # noqa: E402
from workbench.core.precision.datasets import model_inputs, open_dataset  # noqa: E402
from workbench.core.precision.float_keep import plan_float_tensors, strip_qdq  # noqa: E402
from workbench.core.precision.quantize import QuantOptions, quantize_qdq  # noqa: E402

OLD = {"keep_float_outputs": False, "concat_range_ratio": 0}  # recipe 1: quantize_static's placement untouched


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))


def _run(path: Path, feed: dict) -> np.ndarray:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feed)[0]


def _detector(tmp_path: Path, n: int = 24):
    model = detector_head(tmp_path / "det.onnx")
    ds = open_dataset(write_npy_samples(tmp_path / "calib", n, shape=(1, 3, 16, 16)), model_inputs(model))
    return model, ds


def _producers(path: Path) -> dict[str, str]:
    return {o: n.op_type for n in onnx.load(str(path)).graph.node for o in n.output}


def _top_class_agreement(model: Path, qdq: Path, ds, threshold: float = 0.25) -> float:
    agree = total = 0
    for feed in ds.iter_feeds():
        a, b = _run(model, feed)[:, 4:], _run(qdq, feed)[:, 4:]
        conf = a.max(axis=1) > threshold
        agree += int(np.sum((a.argmax(axis=1) == b.argmax(axis=1)) & conf))
        total += int(np.sum(conf))
    assert total > 1000  # the head is confident on many anchors: the figure means something
    return 100.0 * agree / total


def test_old_recipe_collapses_the_detector_scores(tmp_path: Path) -> None:
    model, ds = _detector(tmp_path)
    old = quantize_qdq(model, ds, OLD)
    assert old.float_kept == ()
    assert _producers(old.path)["output"] == "DequantizeLinear"  # one INT8 scale on the Concat output
    feed = next(ds.iter_feeds())
    fp32, int8 = _run(model, feed), _run(old.path, feed)
    scores = int8[:, 4:]
    assert np.unique(scores).size <= 2  # every score rounded onto the boxes' grid (step > 1)
    assert np.unique(fp32[:, 4:]).size > 100
    cos = float(np.dot(fp32.ravel(), int8.ravel()) / (np.linalg.norm(fp32) * np.linalg.norm(int8)))
    assert cos > 0.999  # ... while the whole output still looks perfect
    assert _top_class_agreement(model, old.path, ds) < 90.0  # the bar the new recipe meets


def test_new_default_keeps_the_scores(tmp_path: Path) -> None:
    model, ds = _detector(tmp_path)
    new = quantize_qdq(model, ds)
    assert [f.tensor for f in new.float_kept] == ["output"]
    why = new.float_kept[0].reason
    assert "graph output" in why and "Concat 'head_concat' joins ranges" in why and "concat_range_ratio 16" in why
    prod = _producers(new.path)
    assert prod["output"] == "Concat"  # the Concat writes the output itself: no Q/DQ after it
    q = onnx.load(str(new.path))
    concat = next(n for n in q.graph.node if n.op_type == "Concat")
    assert all(prod[i] == "DequantizeLinear" for i in concat.input)  # its inputs keep their own scales
    assert {n.op_type for n in q.graph.node if n.op_type == "Conv"} == {"Conv"}
    assert sum(1 for n in q.graph.node if n.op_type == "QuantizeLinear") >= 4  # the rest is still INT8
    assert _top_class_agreement(model, new.path, ds) >= 90.0
    # the sidecar carries it: a cache hit reports the same
    again = quantize_qdq(model, ds)
    assert again.cached and again.float_kept == new.float_kept
    assert again.to_dict()["float_kept"] == [{"tensor": "output", "reason": why}]


def test_recipe_options_are_part_of_the_cache_key(tmp_path: Path) -> None:
    model, ds = _detector(tmp_path, n=8)
    keys = {
        quantize_qdq(model, ds, opts).key
        for opts in ({}, OLD, {"keep_float_outputs": False}, {"concat_range_ratio": 64.0})
    }
    assert len(keys) == 4
    only_ratio = quantize_qdq(model, ds, {"keep_float_outputs": False})
    assert [f.tensor for f in only_ratio.float_kept] == ["output"]  # the Concat rule alone catches the head
    assert "graph output" not in only_ratio.float_kept[0].reason
    wide = quantize_qdq(model, ds, {"keep_float_outputs": False, "concat_range_ratio": 1e6})
    assert wide.float_kept == ()  # ranges ~450x apart are within a 1e6 ratio


def test_concat_range_ratio_must_be_off_or_above_one() -> None:
    from pydantic import ValidationError

    from workbench.core.profiles import load_profile
    from workbench.core.profiles.schema import QuantSection

    assert QuantOptions.from_any({"concat_range_ratio": 0}).concat_range_ratio == 0
    with pytest.raises(CalibrationError, match="concat_range_ratio must be 0 \\(off\\) or > 1"):
        QuantOptions.from_any({"concat_range_ratio": 0.5})
    with pytest.raises(ValidationError, match="must be 0 \\(off\\) or > 1"):
        QuantSection(concat_range_ratio=0.5)
    q = QuantOptions.from_any(load_profile("cpu-x86_64").quantization)
    assert (q.keep_float_outputs, q.concat_range_ratio) == (True, 16.0)  # the shipped default


def _residual_net(path: Path) -> Path:
    """image [N,4,8,8] -> Conv+Relu -> Conv -> Add(skip) -> Relu -> Concat with a twin branch (same ranges)
    -> Conv -> GlobalAveragePool -> Flatten -> Gemm -> logits [N,10]: a ResNet block, a YOLO-neck-like Concat of
    like ranges, and a classifier."""
    rng = np.random.default_rng(0)

    def w(*shape, s=0.3):
        return rng.normal(0, s, shape).astype(np.float32)

    inits = {
        "w1": w(4, 4, 3, 3), "b1": w(4), "w2": w(4, 4, 3, 3), "b2": w(4), "w3": w(4, 4, 3, 3), "b3": w(4),
        "w4": w(8, 8, 1, 1), "b4": w(8), "gw": w(10, 8), "gb": w(10),
    }  # fmt: skip
    nodes = [
        helper.make_node("Conv", ["image", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "image"], ["s"], name="residual_add"),
        helper.make_node("Relu", ["s"], ["r2"], name="relu2"),
        helper.make_node("Conv", ["r2", "w3", "b3"], ["c3"], name="twin", pads=[1, 1, 1, 1]),
        helper.make_node("Concat", ["r2", "c3"], ["cat"], name="neck_concat", axis=1),
        helper.make_node("Conv", ["cat", "w4", "b4"], ["c4"], name="conv4"),
        helper.make_node("GlobalAveragePool", ["c4"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "gw", "gb"], ["logits"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "residual",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 4, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        [numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_residual_adds_and_like_range_concats_stay_quantized(tmp_path: Path) -> None:
    model = _residual_net(tmp_path / "res.onnx")
    ds = open_dataset(write_npy_samples(tmp_path / "calib", 16, shape=(1, 4, 8, 8)), model_inputs(model))
    new, old = quantize_qdq(model, ds), quantize_qdq(model, ds, OLD)
    assert [(f.tensor, f.reason) for f in new.float_kept] == [("logits", "graph output")]
    for res in (new, old):
        g = onnx.load(str(res.path)).graph
        prod = {o: n.op_type for n in g.node for o in n.output}
        readers = {}
        for n in g.node:
            for i in n.input:
                readers.setdefault(i, []).append(n.op_type)
        for op in ("Add", "Concat"):
            (node,) = [n for n in g.node if n.op_type == op]
            assert all(prod[i] == "DequantizeLinear" for i in node.input), (res.key, op)
            assert readers[node.output[0]] == ["QuantizeLinear"], (res.key, op)  # INT8 group: QLinearAdd/Concat
    # only the final requantization differs between the two recipes
    count = {r.key: sum(n.op_type == "QuantizeLinear" for n in onnx.load(str(r.path)).graph.node) for r in (new, old)}
    assert count[old.key] - count[new.key] == 1
    assert _producers(new.path)["logits"] == "Gemm"  # DQ -> Gemm with float output: ORT's QGemm, no requantize
    feed = next(ds.iter_feeds())
    np.testing.assert_allclose(_run(new.path, feed), _run(model, feed), atol=0.1)


def _graph(nodes, outputs, value_infos=()):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_plan_follows_mixed_ranges_through_layout_ops_only() -> None:
    nodes = [
        helper.make_node("Relu", ["x"], ["boxes"], name="b"),
        helper.make_node("Sigmoid", ["x"], ["scores"], name="s"),
        helper.make_node("Concat", ["boxes", "scores"], ["mixed"], name="cat", axis=1),
        helper.make_node("Transpose", ["mixed"], ["t"], name="tr", perm=[0, 2, 1]),
        helper.make_node("Concat", ["t", "t"], ["both"], name="cat2", axis=1),
        helper.make_node("Sigmoid", ["mixed"], ["squashed"], name="after"),
        helper.make_node("Concat", ["scores", "scores"], ["same"], name="cat3", axis=1),
    ]
    model = _graph(nodes, ["both", "squashed", "same"])
    ranges = {"boxes": [0.0, 320.0], "scores": [0.0, 1.0], "mixed": [0.0, 320.0], "t": [0.0, 320.0]}
    plan = plan_float_tensors(model, ranges, keep_outputs=False, ratio=16.0)
    assert list(plan) == ["mixed", "t", "both"]  # not 'squashed' (a computed op), not 'same' (like ranges)
    assert plan["mixed"] == "Concat 'cat' joins ranges 320x apart (> concat_range_ratio 16)"
    assert plan["both"] == "Concat 'cat' joins ranges 320x apart (> concat_range_ratio 16); carried by Concat 'cat2'"
    assert plan_float_tensors(model, ranges, keep_outputs=False, ratio=0) == {}
    with_outputs = plan_float_tensors(model, ranges, keep_outputs=True, ratio=400.0)
    assert list(with_outputs) == ["both", "squashed", "same"] and set(with_outputs.values()) == {"graph output"}


def test_strip_keeps_the_int8_input_of_a_weighted_consumer(tmp_path: Path) -> None:
    """A mixed Concat that feeds a Conv: the Conv keeps its INT8 input (its own input quantization); other readers
    get the float tensor, and the report says so."""
    rng = np.random.default_rng(1)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])
    nodes = [
        helper.make_node("Mul", ["x", "big"], ["boxes"], name="scale"),
        helper.make_node("Sigmoid", ["x"], ["scores"], name="sig"),
        helper.make_node("Concat", ["boxes", "scores"], ["mixed"], name="cat", axis=1),
        helper.make_node("Conv", ["mixed", "w"], ["conv_out"], name="conv"),
        helper.make_node("Relu", ["mixed"], ["relu_out"], name="relu"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [x],
        [
            helper.make_tensor_value_info("conv_out", TensorProto.FLOAT, [1, 2, 4, 4]),
            helper.make_tensor_value_info("relu_out", TensorProto.FLOAT, [1, 4, 4, 4]),
        ],
        [
            numpy_helper.from_array(np.array(300.0, np.float32), "big"),
            numpy_helper.from_array(rng.normal(0, 0.1, (2, 4, 1, 1)).astype(np.float32), "w"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    ds = open_dataset(write_npy_samples(tmp_path / "calib", 8, shape=(1, 2, 4, 4)), model_inputs(path))
    res = quantize_qdq(path, ds, {"keep_float_outputs": False})
    (kept,) = res.float_kept
    assert kept.tensor == "mixed" and "still quantized for Conv 'conv'" in kept.reason
    g = onnx.load(str(res.path)).graph
    prod = {o: n.op_type for n in g.node for o in n.output}
    relu = next(n for n in g.node if n.name == "relu")
    conv = next(n for n in g.node if n.name == "conv")
    assert relu.input[0] == "mixed" and prod["mixed"] == "Concat"  # float
    assert prod[conv.input[0]] == "DequantizeLinear"  # INT8 input kept
    assert strip_qdq(res.path, {"mixed": "again"}) == ()  # nothing left to strip: idempotent


def _dense_head(path: Path, act: str) -> Path:
    """x[1,16] → MatMul → Add → Relu / Clip(0, 6) → y: the activation writes the graph output."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.standard_normal((16, 8)).astype(np.float32), "W"),
        numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), "B"),
    ]
    nodes = [helper.make_node("MatMul", ["x", "W"], ["m"], name="mm"), helper.make_node("Add", ["m", "B"], ["a"])]
    if act == "Relu":
        nodes.append(helper.make_node("Relu", ["a"], ["y"], name="act"))
    else:
        inits += [
            numpy_helper.from_array(np.array(0.0, np.float32), "lo"),
            numpy_helper.from_array(np.array(6.0, np.float32), "hi"),
        ]
        nodes.append(helper.make_node("Clip", ["a", "lo", "hi"], ["y"], name="act"))
    g = helper.make_graph(
        nodes,
        "dense",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
        inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return path


@pytest.mark.parametrize("act", ["Relu", "Clip"])
def test_an_activation_folded_into_a_kept_output_is_put_back(tmp_path: Path, act: str) -> None:
    # quantize_static folds the final Relu/Clip into the output's Q (its range clips); taking that pair off
    # used to drop the activation: the INT8 model gave negative outputs (cosine 0.24 vs FP32).
    model = _dense_head(tmp_path / "dense.onnx", act)
    ds = open_dataset(write_npy_samples(tmp_path / "calib", 16, shape=(1, 16)), model_inputs(model))
    q = quantize_qdq(model, ds)
    assert [f.tensor for f in q.float_kept] == ["y"]
    assert _producers(q.path)["y"] == act
    for feed in ds.iter_feeds():
        fp32, int8 = _run(model, feed), _run(q.path, feed)
        assert fp32.min() >= 0.0 and int8.min() >= 0.0
        if act == "Clip":
            assert int8.max() <= 6.0
        assert np.abs(fp32 - int8).max() < 0.1
