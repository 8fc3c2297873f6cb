"""Tiny ONNX models built with onnx.helper for the calibration tests (seeded, no files needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def conv_net(path: Path, *, opset: int = 17, seed: int = 0, batch: int | str = "N", hw: int = 8) -> Path:
    """image [batch,1,hw,hw] -> Conv(4,3x3,pad 1) -> Relu -> Flatten -> Gemm(10) -> logits [batch,10]."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.5, (4, 1, 3, 3)).astype(np.float32)
    b = rng.normal(0, 0.1, (4,)).astype(np.float32)
    gw = rng.normal(0, 0.2, (10, 4 * hw * hw)).astype(np.float32)
    gb = rng.normal(0, 0.1, (10,)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["image", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("Flatten", ["r"], ["f"], name="flatten", axis=1),
        helper.make_node("Gemm", ["f", "gw", "gb"], ["logits"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "conv_net",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, 1, hw, hw])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 10])],
        [numpy_helper.from_array(a, n) for a, n in ((w, "w"), (b, "b"), (gw, "gw"), (gb, "gb"))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8 if opset <= 17 else 10
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def masked_net(path: Path) -> Path:
    """x [1,4] float, mask [1,4] float (0 or -inf) -> MatMul(W) + mask -> Softmax -> out [1,4].

    The mask input carries -inf like a transformer attention mask, which gives infinite ranges.
    """
    w = np.eye(4, dtype=np.float32) * 2.0
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["m"], name="matmul"),
        helper.make_node("Add", ["m", "mask"], ["a"], name="add_mask"),
        helper.make_node("Softmax", ["a"], ["out"], name="softmax", axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "masked",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]),
            helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 4]),
        ],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 4])],
        [numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def write_npy_samples(folder: Path, n: int, shape: tuple[int, ...] = (1, 8, 8), seed: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        np.save(folder / f"s{i:04d}.npy", rng.random(shape, dtype=np.float32))
    return folder


def detector_head(path: Path, *, classes: int = 6, hw: int = 16, seed: int = 0) -> Path:
    """A YOLO-style head: image [N,3,hw,hw] -> Conv(8,3x3)+Relu -> two 1x1 branches, concatenated on axis 1.

    boxes: Relu(Conv(4)) reshaped to [N,4,hw*hw], values 0 .. ~320 (pixel coordinates of a 320-pixel input);
    scores: Sigmoid(Conv(classes)) reshaped to [N,classes,hw*hw], values 0 .. 1;
    output ``output`` = Concat([boxes, scores], axis=1): [N, 4+classes, hw*hw] — channels 0:4 boxes, 4: scores.
    One per-tensor INT8 scale on the Concat has a step of ~1.25, which rounds every score to 0 or 1.25.
    """
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, 0.6, (8, 3, 3, 3)).astype(np.float32)
    b1 = rng.normal(0, 0.1, (8,)).astype(np.float32)
    wb = rng.normal(0, 40.0, (4, 8, 1, 1)).astype(np.float32)
    bb = np.full((4,), 160.0, np.float32)
    ws = rng.normal(0, 1.5, (classes, 8, 1, 1)).astype(np.float32)
    bs = np.full((classes,), -0.5, np.float32)
    nodes = [
        helper.make_node("Conv", ["image", "w1", "b1"], ["c1"], name="stem", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["f"], name="stem_relu"),
        helper.make_node("Conv", ["f", "wb", "bb"], ["braw"], name="box_conv"),
        helper.make_node("Relu", ["braw"], ["bpos"], name="box_relu"),
        helper.make_node("Reshape", ["bpos", "bshape"], ["boxes"], name="box_reshape"),
        helper.make_node("Conv", ["f", "ws", "bs"], ["logits"], name="cls_conv"),
        helper.make_node("Sigmoid", ["logits"], ["sig"], name="cls_sigmoid"),
        helper.make_node("Reshape", ["sig", "sshape"], ["scores"], name="cls_reshape"),
        helper.make_node("Concat", ["boxes", "scores"], ["output"], name="head_concat", axis=1),
    ]
    inits = [
        numpy_helper.from_array(a, n)
        for a, n in ((w1, "w1"), (b1, "b1"), (wb, "wb"), (bb, "bb"), (ws, "ws"), (bs, "bs"))
    ]
    inits += [
        numpy_helper.from_array(np.array([0, 4, -1], np.int64), "bshape"),
        numpy_helper.from_array(np.array([0, classes, -1], np.int64), "sshape"),
    ]
    graph = helper.make_graph(
        nodes,
        "detector_head",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, hw, hw])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 4 + classes, hw * hw])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
