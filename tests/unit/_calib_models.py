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
