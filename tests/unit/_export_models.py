"""Small ONNX models shaped like real exports (issue "Numbers you can trust on real pretrained models", items 3-5).

- :func:`paddle_cls`: PP-OCR's text-direction classifier in miniature, as Paddle2ONNX writes it: input
  ``x [-1, 3, ?, ?]`` (a ``-1`` batch, two dims both named ``?``), every weight in a Constant node, no initializer.
- :func:`silero_like`: silero-VAD's interface: ``input [batch, samples]``, ``state [2, batch, 128]`` (batch on
  axis 1), ``sr`` an int64 scalar that picks a branch (If), outputs ``output [batch, 1]`` and
  ``stateN [2, batch, 128]``.
- :func:`if_only`: all compute inside an If branch, so the quantizer reaches none of it.
- :func:`fixed_batch`: ``x [1, 16] @ W`` with a batch fixed at 1.
- :func:`heavy_matmul`: ``x [batch, 256]`` through four 256x256 MatMuls (long enough per call to compare throughput
  against a bare ONNX Runtime loop).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PADDLE_CLS_PARAMS = 4 * 3 * 3 * 3 + 4 + 4 * 2 + 2  # conv W + b, fc W + b, all in Constant nodes


def _save(graph, path: Path, opset: int = 17) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="unit-test")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def _const(name: str, arr: np.ndarray):
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(arr, name + "_value"), name=name)


def paddle_cls(path: Path) -> Path:
    """x [-1, 3, ?, ?] float32 -> Conv 3x3 (4 ch) -> Relu -> GlobalAveragePool -> Flatten -> Gemm -> [-1, 2]."""
    rng = np.random.default_rng(7)
    nodes = [
        _const("conv_w", rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.3),
        _const("conv_b", rng.standard_normal(4).astype(np.float32) * 0.1),
        _const("fc_w", rng.standard_normal((4, 2)).astype(np.float32)),
        _const("fc_b", np.array([0.1, -0.1], np.float32)),
        helper.make_node("Conv", ["x", "conv_w", "conv_b"], ["c"], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], axis=1, name="flatten"),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["logits"], name="fc"),
    ]
    graph = helper.make_graph(
        nodes,
        "paddle_cls",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [-1, 3, "?", "?"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [-1, 2])],
    )
    return _save(graph, path, opset=13)


def silero_like(path: Path, *, named: bool = True) -> Path:
    """input [batch, samples], state [2, batch, 128], sr int64 scalar -> output [batch, 1], stateN [2, batch, 128].

    ``sr == 16000`` takes the model's own branch; any other rate takes a different one (Neg), as silero's If does.
    The batches of ``input`` and ``state`` meet in a Concat, so a state of another batch fails at run time.
    ``named=False``: the dims carry no names, as in silero_vad.onnx itself (input [?, ?], state [2, ?, 128]).
    """
    b, n = ("batch", "samples") if named else (None, None)
    rng = np.random.default_rng(3)
    w = numpy_helper.from_array(rng.standard_normal((128, 128)).astype(np.float32) * 0.05, "W")
    then_g = helper.make_graph(
        [helper.make_node("Identity", ["m"], ["b_then"])],
        "then",
        [],
        [helper.make_tensor_value_info("b_then", TensorProto.FLOAT, [b, 1])],
    )
    else_g = helper.make_graph(
        [helper.make_node("Neg", ["m"], ["b_else"])],
        "else",
        [],
        [helper.make_tensor_value_info("b_else", TensorProto.FLOAT, [b, 1])],
    )
    nodes = [
        _const("axes1", np.array([1], np.int64)),
        _const("rate16k", np.array(16000, np.int64)),
        helper.make_node("ReduceMean", ["input"], ["m"], axes=[1], keepdims=1),  # [batch, 1]
        helper.make_node("ReduceMean", ["state"], ["s0"], axes=[0, 2], keepdims=0),  # [batch]
        helper.make_node("Unsqueeze", ["s0", "axes1"], ["s"]),  # [batch, 1]
        helper.make_node("Equal", ["sr", "rate16k"], ["is16k"]),
        helper.make_node("If", ["is16k"], ["branch"], then_branch=then_g, else_branch=else_g),
        helper.make_node("Concat", ["branch", "s"], ["bs"], axis=1),  # [batch, 2]: both batches must agree
        helper.make_node("ReduceMean", ["bs"], ["z"], axes=[1], keepdims=1),
        helper.make_node("Sigmoid", ["z"], ["output"]),
        helper.make_node("MatMul", ["state", "W"], ["sw"]),  # [2, batch, 128]
        helper.make_node("Tanh", ["sw"], ["stateN"]),
    ]
    graph = helper.make_graph(
        nodes,
        "silero_like",
        [
            helper.make_tensor_value_info("input", TensorProto.FLOAT, [b, n]),
            helper.make_tensor_value_info("state", TensorProto.FLOAT, [2, b, 128]),
            helper.make_tensor_value_info("sr", TensorProto.INT64, []),
        ],
        [
            helper.make_tensor_value_info("output", TensorProto.FLOAT, [b, 1]),
            helper.make_tensor_value_info("stateN", TensorProto.FLOAT, [2, b, 128]),
        ],
        [w],
    )
    return _save(graph, path)


def if_only(path: Path) -> Path:
    """x [batch, 64], sr int64 scalar -> y [batch, 64]: every MatMul sits inside an If branch (as in silero_vad.onnx,
    whose 8 kHz / 16 kHz paths are If subgraphs), so onnxruntime's quantizer, which walks the main graph only,
    quantizes nothing."""
    rng = np.random.default_rng(4)
    w = numpy_helper.from_array(rng.standard_normal((64, 64)).astype(np.float32) * 0.1, "W")
    then_g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["xw"]), helper.make_node("Relu", ["xw"], ["y_then"])],
        "then",
        [],
        [helper.make_tensor_value_info("y_then", TensorProto.FLOAT, ["batch", 64])],
    )
    else_g = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["y_else"])],
        "else",
        [],
        [helper.make_tensor_value_info("y_else", TensorProto.FLOAT, ["batch", 64])],
    )
    nodes = [
        _const("rate16k", np.array(16000, np.int64)),
        helper.make_node("Equal", ["sr", "rate16k"], ["is16k"]),
        helper.make_node("If", ["is16k"], ["y"], then_branch=then_g, else_branch=else_g),
    ]
    graph = helper.make_graph(
        nodes,
        "if_only",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 64]),
            helper.make_tensor_value_info("sr", TensorProto.INT64, []),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 64])],
        [w],
    )
    return _save(graph, path)


def fixed_batch(path: Path) -> Path:
    """x [1, 16] float32 @ W [16, 16] -> y [1, 16]: the batch is fixed at 1."""
    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((16, 16)).astype(np.float32), "W")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])],
        "fixed",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])],
        [w],
    )
    return _save(graph, path)


def heavy_matmul(path: Path, width: int = 256, layers: int = 4) -> Path:
    """x [batch, width] through ``layers`` MatMul+Relu of width x width (seeded): y [batch, width]."""
    rng = np.random.default_rng(1)
    inits, nodes, prev = [], [], "x"
    for i in range(layers):
        inits.append(numpy_helper.from_array(rng.standard_normal((width, width)).astype(np.float32) * 0.05, f"W{i}"))
        out = "y" if i == layers - 1 else f"h{i}"
        nodes.append(helper.make_node("MatMul", [prev, f"W{i}"], [f"m{i}"]))
        nodes.append(helper.make_node("Relu", [f"m{i}"], [out]))
        prev = out
    graph = helper.make_graph(
        nodes,
        "heavy",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", width])],
        inits,
    )
    return _save(graph, path)


def silero_samples(folder: Path, count: int, *, sr: int = 16000, with_batch: bool = False) -> list[dict]:
    """``count`` .npz samples for :func:`silero_like` (seeded): input (512,), state (2, 128), sr () — without the
    batch dim (the dataset adds it, on axis 1 for ``state``), or with it when ``with_batch``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    out = []
    for i in range(count):
        sample = {
            "input": rng.standard_normal(512).astype(np.float32),
            "state": rng.standard_normal((2, 128)).astype(np.float32),
            "sr": np.array(sr, np.int64),
        }
        if with_batch:
            sample["input"] = sample["input"][None]
            sample["state"] = sample["state"][:, None]
        np.savez(folder / f"s{i:02d}.npz", **sample)
        out.append(sample)
    return out
