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


def resnet_like(path: Path, *, hw: int = 16, seed: int = 0) -> Path:
    """A two-block ResNet-style classifier: image [N,3,hw,hw] -> logits [N,10].

    stem Conv(8)+BN+Relu -> block 1 (identity shortcut: Conv+Relu+Conv+BN, Add with the block input, Relu) ->
    block 2 (projection shortcut: Conv(16, stride 2)+Relu+Conv(16) added to a 1x1 stride-2 Conv of the block input,
    Relu) -> GlobalAveragePool -> Flatten -> Gemm(10, transB=1). Residual Adds: ``b1_add`` (residual input ``x0``,
    the stem's output; fused input ``b1_bn2_out``) and ``b2_add`` (residual input ``b2_down_out``; fused input
    ``b2_conv2_out``, the longer path from the block input).
    """
    rng = np.random.default_rng(seed)
    inits: list[onnx.TensorProto] = []

    def conv(name: str, x: str, cin: int, cout: int, k: int = 3, stride: int = 1) -> tuple[onnx.NodeProto, str]:
        w = rng.normal(0, (2.0 / (cin * k * k)) ** 0.5, (cout, cin, k, k)).astype(np.float32)
        b = rng.normal(0, 0.05, (cout,)).astype(np.float32)
        inits.extend([numpy_helper.from_array(w, f"{name}_w"), numpy_helper.from_array(b, f"{name}_b")])
        pad = k // 2
        out = f"{name}_out"
        node = helper.make_node(
            "Conv", [x, f"{name}_w", f"{name}_b"], [out], name=name, pads=[pad] * 4, strides=[stride, stride]
        )
        return node, out

    def bn(name: str, x: str, c: int) -> tuple[onnx.NodeProto, str]:
        vals = {
            "scale": rng.uniform(0.5, 1.5, c),
            "bias": rng.normal(0, 0.1, c),
            "mean": rng.normal(0, 0.1, c),
            "var": rng.uniform(0.5, 1.5, c),
        }
        inits.extend(numpy_helper.from_array(v.astype(np.float32), f"{name}_{k}") for k, v in vals.items())
        out = f"{name}_out"
        ins = [x, *(f"{name}_{k}" for k in vals)]
        return helper.make_node("BatchNormalization", ins, [out], name=name), out

    def relu(name: str, x: str) -> tuple[onnx.NodeProto, str]:
        return helper.make_node("Relu", [x], [name], name=name), name

    nodes: list[onnx.NodeProto] = []

    def add(pair: tuple[onnx.NodeProto, str]) -> str:
        nodes.append(pair[0])
        return pair[1]

    t = add(conv("stem", "image", 3, 8))
    t = add(bn("stem_bn", t, 8))
    x0 = add(relu("x0", t))
    t = add(conv("b1_conv1", x0, 8, 8))
    t = add(relu("b1_relu1", t))
    t = add(conv("b1_conv2", t, 8, 8))
    t = add(bn("b1_bn2", t, 8))
    nodes.append(helper.make_node("Add", [t, x0], ["b1_sum"], name="b1_add"))
    x1 = add(relu("x1", "b1_sum"))
    t = add(conv("b2_conv1", x1, 8, 16, stride=2))
    t = add(relu("b2_relu1", t))
    t = add(conv("b2_conv2", t, 16, 16))
    down = add(conv("b2_down", x1, 8, 16, k=1, stride=2))
    nodes.append(helper.make_node("Add", [t, down], ["b2_sum"], name="b2_add"))
    x2 = add(relu("x2", "b2_sum"))
    nodes.append(helper.make_node("GlobalAveragePool", [x2], ["gap"], name="gap"))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], name="flatten", axis=1))
    fw = rng.normal(0, 0.3, (10, 16)).astype(np.float32)
    fb = rng.normal(0, 0.05, (10,)).astype(np.float32)
    inits.extend([numpy_helper.from_array(fw, "fc_w"), numpy_helper.from_array(fb, "fc_b")])
    nodes.append(helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], name="fc", transB=1))
    graph = helper.make_graph(
        nodes,
        "resnet_like",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, hw, hw])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def axes_net(path: Path, *, seed: int = 0) -> Path:
    """Weighted ops whose per-channel axis is not 0: x [N,4,8,8] -> ConvTranspose(4->6, k2, stride 2) (weight
    [4,6,2,2], out-channel axis 1) -> Relu -> GlobalAveragePool -> Flatten -> MatMul (weight [6,5], axis 1) -> Relu
    -> Gemm transB=0 (weight [5,3], axis 1) -> out [N,3]."""
    rng = np.random.default_rng(seed)
    arrays = {
        "ct_w": rng.normal(0, 0.4, (4, 6, 2, 2)),
        "ct_b": rng.normal(0, 0.05, (6,)),
        "mm_w": rng.normal(0, 0.4, (6, 5)),
        "g_w": rng.normal(0, 0.4, (5, 3)),
        "g_b": rng.normal(0, 0.05, (3,)),
    }
    nodes = [
        helper.make_node("ConvTranspose", ["x", "ct_w", "ct_b"], ["ct"], name="deconv", strides=[2, 2]),
        helper.make_node("Relu", ["ct"], ["ct_r"], name="deconv_relu"),
        helper.make_node("GlobalAveragePool", ["ct_r"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten", axis=1),
        helper.make_node("MatMul", ["flat", "mm_w"], ["mm"], name="matmul"),
        helper.make_node("Relu", ["mm"], ["mm_r"], name="matmul_relu"),
        helper.make_node("Gemm", ["mm_r", "g_w", "g_b"], ["out"], name="gemm", transB=0),
    ]
    graph = helper.make_graph(
        nodes,
        "axes_net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 8, 8])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 3])],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in arrays.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
