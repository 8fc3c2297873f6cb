"""A ResNet-18-shaped ONNX model with seeded random weights, for performance work (no torch needed).

Layer shapes follow ResNet-18 (He et al., "Deep Residual Learning for Image Recognition", 2015, table 1, and
torchvision's ``resnet18``): conv 7x7/2 (64) + ReLU, max-pool 3x3/2, four stages of two BasicBlocks with 64, 128,
256 and 512 channels (stages 2-4 start with stride 2 and a 1x1/2 projection on the shortcut), global average
pool, fully connected 512 → 1000. Batch normalization is folded into each convolution's bias, as an inference
export does, so the graph is only Conv, Relu, Add, MaxPool, GlobalAveragePool, Flatten and Gemm.

Parameter count: torchvision's resnet18 has 11,689,512 parameters; folding removes the 4,800 BatchNorm
scale/shift pairs and adds one bias per conv output channel (4,800), so this graph holds 11,684,712 weights
(within 0.05 % of ResNet-18).

The weights are random (He-normal), so the outputs mean nothing: the model is for timing, memory and
quantization-speed work, where only shapes and op mix matter. It is built at run time, never committed.
"""

from __future__ import annotations

import os
from pathlib import Path

from workbench.core.errors import UsageError
from workbench.core.fsutil import write_bytes_atomic

# (channels, first stride) of ResNet-18's four stages, two BasicBlocks each (He et al. 2015, table 1).
_STAGES = ((64, 1), (128, 2), (256, 2), (512, 2))
_NUM_CLASSES = 1000
_MIN_OPSET = 11  # Conv/MaxPool/Gemm attributes used here are all present from opset 11 on.


def build_resnet18_onnx(
    path: str | os.PathLike[str],
    *,
    batch: int = 1,
    image: int = 224,
    seed: int = 0,
    opset: int = 17,
    dynamic_batch: bool = False,
) -> Path:
    """Write a ResNet-18-shaped ONNX model to ``path`` (atomically) and return the path.

    Args:
        path: output ``.onnx`` file (one self-contained file, about 47 MB of float32 weights).
        batch: fixed batch size of the input and output (ignored for the shape when ``dynamic_batch``).
        image: input height and width in pixels (224 for ImageNet; any positive size works).
        seed: seed of the NumPy generator that draws the weights; the same seed gives the same bytes.
        opset: default-domain opset to declare (11 .. the installed onnx's newest).
        dynamic_batch: make the batch dimension symbolic (``"batch"``) instead of ``batch``.

    Model: input ``input`` float32 ``[batch, 3, image, image]``; output ``output`` float32
    ``[batch, 1000]`` (unnormalized scores). Initializer names follow torchvision
    (``layer2.0.conv1.weight``, ``layer2.0.downsample.0.bias``, ``fc.weight``), so node/op exclusion can be tried
    on familiar names.

    Raises:
        UsageError: ``batch``/``image`` not positive integers or ``opset`` out of range.
        StorageError: the file cannot be written.
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    for name, value in (("batch", batch), ("image", image)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UsageError(
                f"build_resnet18_onnx: {name} must be a positive integer, got {value!r}",
                hint="pass a whole number of 1 or more",
            )
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not _MIN_OPSET <= opset <= newest:
        raise UsageError(
            f"build_resnet18_onnx: opset must be {_MIN_OPSET}..{newest} (installed onnx {onnx.__version__}), "
            f"got {opset!r}",
            hint="pass an opset in that range, or leave opset at its default",
        )

    rng = np.random.default_rng(seed)
    inits: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []

    def conv(x: str, prefix: str, cin: int, cout: int, k: int, stride: int, gain: float = 2.0) -> str:
        # He-normal: std = sqrt(gain / fan_in) keeps activation variance about constant through ReLU layers
        # (He et al., "Delving Deep into Rectifiers", 2015). The folded-BN bias is small and random.
        std = np.float32(np.sqrt(gain / (cin * k * k)))
        w = rng.standard_normal((cout, cin, k, k), dtype=np.float32) * std
        b = rng.standard_normal(cout, dtype=np.float32) * np.float32(0.01)
        inits.append(numpy_helper.from_array(w, f"{prefix}.weight"))
        inits.append(numpy_helper.from_array(b, f"{prefix}.bias"))
        y = f"{prefix}_out"
        nodes.append(
            helper.make_node(
                "Conv",
                [x, f"{prefix}.weight", f"{prefix}.bias"],
                [y],
                name=prefix,
                kernel_shape=[k, k],
                strides=[stride, stride],
                pads=[k // 2] * 4,
            )
        )
        return y

    def relu(x: str, name: str) -> str:
        nodes.append(helper.make_node("Relu", [x], [f"{name}_out"], name=name))
        return f"{name}_out"

    x = relu(conv("input", "conv1", 3, 64, 7, 2), "relu")
    nodes.append(
        helper.make_node(
            "MaxPool", [x], ["maxpool_out"], name="maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4
        )
    )
    x = "maxpool_out"
    cin = 64
    for s, (cout, first_stride) in enumerate(_STAGES, start=1):
        for blk in range(2):
            p = f"layer{s}.{blk}"
            stride = first_stride if blk == 0 else 1
            y = relu(conv(x, f"{p}.conv1", cin, cout, 3, stride), f"{p}.relu1")
            # gain 1 on the branch's last conv: the residual sum should not double the variance at every block.
            y = conv(y, f"{p}.conv2", cout, cout, 3, 1, gain=1.0)
            shortcut = x
            if stride != 1 or cin != cout:
                shortcut = conv(x, f"{p}.downsample.0", cin, cout, 1, stride, gain=1.0)
            nodes.append(helper.make_node("Add", [y, shortcut], [f"{p}.add_out"], name=f"{p}.add"))
            x = relu(f"{p}.add_out", f"{p}.relu2")
            cin = cout
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["avgpool_out"], name="avgpool"))
    nodes.append(helper.make_node("Flatten", ["avgpool_out"], ["flatten_out"], name="flatten", axis=1))
    fc_w = rng.standard_normal((_NUM_CLASSES, 512), dtype=np.float32) * np.float32(np.sqrt(1.0 / 512))
    fc_b = np.zeros(_NUM_CLASSES, dtype=np.float32)
    inits += [numpy_helper.from_array(fc_w, "fc.weight"), numpy_helper.from_array(fc_b, "fc.bias")]
    nodes.append(helper.make_node("Gemm", ["flatten_out", "fc.weight", "fc.bias"], ["output"], name="fc", transB=1))

    n_dim: int | str = "batch" if dynamic_batch else batch
    graph = helper.make_graph(
        nodes,
        "resnet18_shaped",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [n_dim, 3, image, image])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [n_dim, _NUM_CLASSES])],
        initializer=inits,
    )
    opset_ids = [helper.make_opsetid("", opset)]
    # The oldest IR version that can carry this opset, so older runtimes (JetPack's onnxruntime) accept the file.
    model = helper.make_model(
        graph,
        opset_imports=opset_ids,
        ir_version=helper.find_min_ir_version_for(opset_ids),
        producer_name="edge-workbench",
        doc_string=f"ResNet-18-shaped, BN folded, random He-normal weights (seed {seed}); for performance work only",
    )
    onnx.checker.check_model(model)
    out = Path(path)
    write_bytes_atomic(out, model.SerializeToString())
    return out
