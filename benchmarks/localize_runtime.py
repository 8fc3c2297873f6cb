"""Wall time of ``workbench compare --per-layer --auto-exclude`` on a PP-OCR-recogniser-shaped CNN at 48x192.

The model is built here with onnx.helper (seeded random weights): a MobileNetV3-style backbone of inverted
residual blocks (1x1 expand, 3x3 depthwise, 1x1 project, residual Add) with Relu and hard-swish
(``x * Clip(x + 3, 0, 6) / 6``, so the quantizer folds a Clip into the pair), squeeze-excite blocks
(GlobalAveragePool, 1x1 convs, HardSigmoid, Mul), a height-collapsing pool, and a CTC-style head (Transpose to
[1, T, C], MatMul to 97 classes, Softmax) — about 150 activation Q/DQ pairs — with one planted INT8-hostile
activation (see :func:`build_rec_cnn`), so auto-exclude has work to do. Calibration (64) and evaluation (40)
samples are seeded random images normalised to [-1, 1] as PP-OCR expects. The model spec asks for a mean cosine
of 0.9999, so auto-exclude searches to its budget (the slow case) rather than stopping at the first pass.

The command runs as the CLI runs it (``python -m workbench compare ... --json``) in a fresh WORKBENCH_HOME, so
calibration is part of the time; the figure reported is that process's wall time, with the per-layer and
auto-exclude results it printed.

Target (issue "Numbers you can trust on real pretrained models", item 2): <= 600 s on 2 cores. Exit status 1 when
missed.

Usage: python benchmarks/localize_runtime.py [--blocks 11] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 600.0


def build_rec_cnn(path: Path, blocks: int = 11, seed: int = 0, hostile: bool = True) -> Path:
    """Write the recogniser-shaped CNN (input ``x`` float32 [1, 3, 48, 192], output ``probs`` [1, 24, 97]).

    ``hostile``: block 0's depthwise conv gets a bias of 1000 on channel 0 and its project conv ignores that channel,
    so per-tensor INT8 of that activation rounds the other 63 channels to zero (the layer auto-exclude must find).
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes: list = []
    inits: list = []
    k = [0]

    def name(p: str) -> str:
        k[0] += 1
        return f"{p}{k[0]}"

    def const(v: float) -> str:
        n = name("c")
        inits.append(numpy_helper.from_array(np.array(v, np.float32), n))
        return n

    def conv(x: str, cin: int, cout: int, ksize: int = 1, stride=(1, 1), group: int = 1, big_in=False, big_out=False):
        w = name("W")
        fan = cin // group * ksize * ksize
        wv = (rng.standard_normal((cout, cin // group, ksize, ksize)) * np.sqrt(2.0 / fan)).astype(np.float32)
        bv = (rng.standard_normal(cout) * 0.05).astype(np.float32)
        if big_in:
            wv[:, 0] = 0.0  # ignores input channel 0
        if big_out:
            bv[0] = 1000.0  # output channel 0 sits at 1000
        inits.append(numpy_helper.from_array(wv, w))
        b = name("B")
        inits.append(numpy_helper.from_array(bv, b))
        y = name("conv")
        pad = ksize // 2
        nodes.append(
            helper.make_node(
                "Conv",
                [x, w, b],
                [y],
                name=y,
                kernel_shape=[ksize, ksize],
                strides=list(stride),
                pads=[pad, pad, pad, pad],
                group=group,
            )  # fmt: skip
        )
        return y

    def act(x: str, kind: str) -> str:
        if kind == "relu":
            y = name("relu")
            nodes.append(helper.make_node("Relu", [x], [y], name=y))
            return y
        a, c, d, y = name("hs_add"), name("hs_clip"), name("hs_div"), name("hs_mul")
        nodes.append(helper.make_node("Add", [x, const(3.0)], [a], name=a))
        nodes.append(helper.make_node("Clip", [a, const(0.0), const(6.0)], [c], name=c))
        nodes.append(helper.make_node("Div", [c, const(6.0)], [d], name=d))
        nodes.append(helper.make_node("Mul", [x, d], [y], name=y))
        return y

    def se(x: str, ch: int) -> str:
        p = name("gap")
        nodes.append(helper.make_node("GlobalAveragePool", [x], [p], name=p))
        h = act(conv(p, ch, max(8, ch // 4)), "relu")
        g = conv(h, max(8, ch // 4), ch)
        s = name("hsig")
        nodes.append(helper.make_node("HardSigmoid", [g], [s], name=s, alpha=0.2, beta=0.5))
        y = name("se_mul")
        nodes.append(helper.make_node("Mul", [x, s], [y], name=y))
        return y

    x = act(conv("x", 3, 16, 3, (2, 2)), "hswish")
    cin, height = 16, 24
    # (expand, out, stride (h, w), activation, squeeze-excite), cycled to ``blocks`` blocks
    plan = [
        (64, 24, (2, 1), "relu", False), (72, 24, (1, 1), "relu", False), (96, 40, (2, 1), "hswish", True),
        (240, 40, (1, 1), "hswish", True), (120, 48, (1, 1), "hswish", True), (144, 48, (1, 1), "hswish", True),
        (288, 96, (2, 1), "hswish", True), (576, 96, (1, 1), "hswish", True),
    ]  # fmt: skip
    for i in range(blocks):
        cexp, cout, stride, kind, with_se = plan[min(i, len(plan) - 1)]  # further blocks: stride 1
        planted = hostile and i == 0
        h = act(conv(x, cin, cexp), kind)
        h = act(conv(h, cexp, cexp, 3, stride, group=cexp, big_out=planted), kind)
        if with_se:
            h = se(h, cexp)
        h = conv(h, cexp, cout, big_in=planted)
        if stride == (1, 1) and cin == cout:
            y = name("res")
            nodes.append(helper.make_node("Add", [x, h], [y], name=y))
            h = y
        x, cin, height = h, cout, (height - 1) // stride[0] + 1  # 3x3, pad 1
    x = act(conv(x, cin, 288), "hswish")
    p = name("pool")
    nodes.append(helper.make_node("AveragePool", [x], [p], name=p, kernel_shape=[height, 4], strides=[height, 4]))
    sq = name("squeeze")
    nodes.append(helper.make_node("Squeeze", [p, "sq_axes"], [sq], name=sq))
    inits.append(numpy_helper.from_array(np.array([2], np.int64), "sq_axes"))
    t = name("transpose")
    nodes.append(helper.make_node("Transpose", [sq], [t], name=t, perm=[0, 2, 1]))
    w = name("Wfc")
    # Scaled so that the logits spread (std ≈ 3) and the softmax is peaked, as a trained recogniser's is.
    inits.append(numpy_helper.from_array((rng.standard_normal((288, 97)) * 3.5).astype(np.float32), w))
    m = name("fc")
    nodes.append(helper.make_node("MatMul", [t, w], [m], name=m))
    nodes.append(helper.make_node("Softmax", [m], ["probs"], name="softmax", axis=-1))
    g = helper.make_graph(
        nodes, "rec_cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 48, 192])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 24, 97])], inits,
    )  # fmt: skip
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def _images(folder: Path, count: int, seed: int) -> Path:
    """Seeded text-line-like images: dark strokes on a light background, normalised (x / 255 - 0.5) / 0.5."""
    import numpy as np

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        img = np.full((3, 48, 192), rng.uniform(0.6, 1.0), np.float32)
        for _ in range(rng.integers(8, 24)):  # strokes
            y0, x0 = rng.integers(8, 40), rng.integers(0, 184)
            h, w = rng.integers(2, 16), rng.integers(1, 8)
            img[:, y0 : y0 + h, x0 : x0 + w] = rng.uniform(0.0, 0.3)
        img += rng.normal(0, 0.03, img.shape).astype(np.float32)
        np.save(folder / f"s{i:03d}.npy", ((np.clip(img, 0, 1) - 0.5) / 0.5).astype(np.float32))
    return folder


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=11, help="inverted-residual blocks (11: about 150 Q/DQ pairs)")
    ap.add_argument("--keep", metavar="DIR", help="write the model and samples here (default: a temp folder)")
    args = ap.parse_args()
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="wb-localize-"))
    root.mkdir(parents=True, exist_ok=True)
    model = build_rec_cnn(root / "rec_cnn.onnx", args.blocks)
    # A strict bar, so the search does not stop early: the time of a search that runs to its budget.
    (root / "rec_cnn.workbench.toml").write_text('[accuracy]\nmetric = "cosine"\nmin_cosine = 0.9999\n')
    calib, ev = _images(root / "calib", 64, 1), _images(root / "eval", 40, 2)
    env = dict(os.environ, WORKBENCH_HOME=str(root / "home"))
    argv = [
        sys.executable, "-m", "workbench", "compare", str(model), "--precision", "int8", "--calib", str(calib),
        "--eval", str(ev), "--profile", "cpu-x86_64", "--per-layer", "--auto-exclude", "--json",
    ]  # fmt: skip
    t0 = time.perf_counter()
    res = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[1])
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        print(res.stderr, file=sys.stderr)
        return 2
    doc = json.loads(res.stdout)
    pl, ae = doc["per_layer"], doc["auto_exclude"]
    print(f"model: {model} ({pl['pairs']} activation Q/DQ pairs, {pl['groups']} candidates, {pl['tried']} tested)")
    print(f"cpus: {os.cpu_count()}; samples: calib 64, eval 40, ranking {pl['samples']}")
    print(f"all quantized: cosine mean {doc['vs_fp32']['cosine_mean']:.5f} ({doc['verdict']})")
    fin = ae["final"]
    print(
        f"auto-exclude: {len(ae['steps']) - 1} re-quantization(s); final cosine mean {fin['cosine_mean']:.5f}, "
        f"{fin['units']} unit(s) in FP32, {fin['verdict']}; {ae['stopped_because']}"
    )
    ok = wall <= TARGET_S
    print(
        f"per-layer + auto-exclude wall time = {wall:.1f} s (target <= {TARGET_S:.0f} s) -> {'met' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
