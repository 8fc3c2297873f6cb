"""Calibration peak RSS with 2000 vs 200 samples (minmax, same model), measured side by side in one run.

Each calibration runs in a fresh child process (``python benchmarks/calib_memory.py --child ...``)
with its own empty cache folder, so nothing is reused; the child reports its own peak resident set
size, ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (KiB on Linux), after ``quantize_qdq`` returns.
Samples are seeded random ``.npy`` files (one sample per file) generated into a temp folder; the
small run uses the first 200 of the same files.

Model: the ResNet-18-shaped network (``workbench.core.models.resnet.build_resnet18_onnx``) when it is
available, else a mid-size conv net built here. ``--image`` sets the input size (default 224; use a
smaller one such as 112 on a slow machine — say so when you quote the result).

Target (issue 2): peak(2000) / peak(200) <= 1.10. Exit status 1 when missed.

Usage: python benchmarks/calib_memory.py [--image 224] [--large 2000] [--small 200] [--chunk 16]
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

TARGET = 1.10


def _fallback_convnet(path: Path, image: int) -> Path:
    """A mid-size conv net (stem + 4 stages of two 3x3 convs, global pool, fc 1000), seeded weights."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, inits = [], []
    cur, cin = "input", 3

    def conv(name: str, cout: int, k: int, stride: int) -> None:
        nonlocal cur, cin
        w = (rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k))).astype(np.float32)
        inits.extend(
            [numpy_helper.from_array(w, f"{name}.w"), numpy_helper.from_array(np.zeros(cout, np.float32), f"{name}.b")]
        )
        p = k // 2
        nodes.append(
            helper.make_node(
                "Conv", [cur, f"{name}.w", f"{name}.b"], [f"{name}.y"], name=name, strides=[stride] * 2, pads=[p] * 4
            )
        )
        nodes.append(helper.make_node("Relu", [f"{name}.y"], [f"{name}.r"], name=f"{name}.relu"))
        cur, cin = f"{name}.r", cout

    conv("stem", 64, 7, 2)
    for i, (c, s) in enumerate([(64, 1), (128, 2), (256, 2), (512, 2)]):
        conv(f"s{i}a", c, 3, s)
        conv(f"s{i}b", c, 3, 1)
    nodes.append(helper.make_node("GlobalAveragePool", [cur], ["gap"], name="gap"))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"))
    fw = (rng.standard_normal((1000, cin)) * 0.01).astype(np.float32)
    inits.extend([numpy_helper.from_array(fw, "fc.w"), numpy_helper.from_array(np.zeros(1000, np.float32), "fc.b")])
    nodes.append(helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], name="fc", transB=1))
    graph = helper.make_graph(
        nodes,
        "convnet",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, image, image])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1000])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _build_model(path: Path, image: int) -> tuple[Path, str]:
    try:
        from workbench.core.models.resnet import build_resnet18_onnx
    except ImportError:
        return _fallback_convnet(path, image), f"fallback conv net ({image}x{image}; resnet builder not available)"
    return build_resnet18_onnx(path, image=image), f"ResNet-18-shaped ({image}x{image})"


def child(model: Path, calib: Path, limit: int, chunk: int) -> int:
    import resource
    import threading

    import psutil

    from workbench.core.precision import quantize as qmod
    from workbench.core.precision.datasets import model_inputs, open_dataset

    # Also watch the calibration phase alone (RSS polled every 10 ms): the whole-process peak is set by
    # quant_pre_process (shape inference + optimizer), which does not depend on the sample count.
    proc = psutil.Process()
    phase = {"on": False, "start": 0, "peak": 0}

    def poll() -> None:
        while True:
            if phase["on"]:
                phase["peak"] = max(phase["peak"], proc.memory_info().rss)
            time.sleep(0.01)

    threading.Thread(target=poll, daemon=True).start()
    real_calibrate = qmod._calibrate

    def watched(*a, **k):  # type: ignore[no-untyped-def]
        phase["start"] = proc.memory_info().rss
        phase["peak"] = phase["start"]
        phase["on"] = True
        try:
            return real_calibrate(*a, **k)
        finally:
            time.sleep(0.02)
            phase["on"] = False

    qmod._calibrate = watched
    ds = open_dataset(calib, model_inputs(model), limit=limit)
    t0 = time.perf_counter()
    res = qmod.quantize_qdq(model, ds, {"method": "minmax", "chunk_size": chunk})
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    doc = {
        "samples": res.samples,
        "peak_rss_kib": peak_kib,
        "seconds": time.perf_counter() - t0,
        "calib_start_kib": phase["start"] // 1024,
        "calib_peak_kib": phase["peak"] // 1024,
    }
    print(json.dumps(doc))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", type=int, default=224)
    ap.add_argument("--large", type=int, default=2000)
    ap.add_argument("--small", type=int, default=200)
    ap.add_argument("--chunk", type=int, default=16)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--calib", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.model, args.calib, args.limit, args.chunk)

    import numpy as np

    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        model, what = _build_model(tmp / "model.onnx", args.image)
        calib = tmp / "calib"
        calib.mkdir()
        rng = np.random.default_rng(0)
        for i in range(args.large):
            np.save(calib / f"s{i:05d}.npy", rng.standard_normal((1, 3, args.image, args.image), dtype=np.float32))
        results = {}
        for n in (args.small, args.large):
            env = dict(os.environ, WORKBENCH_HOME=str(tmp / f"home{n}"))
            cmd = [sys.executable, __file__, "--child", "--model", str(model), "--calib", str(calib)]
            cmd += ["--limit", str(n), "--chunk", str(args.chunk)]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                print(out.stderr[-3000:], file=sys.stderr)
                print(f"child for {n} samples failed (exit {out.returncode})", file=sys.stderr)
                return 2
            results[n] = json.loads(out.stdout.strip().splitlines()[-1])
    small, large = results[args.small], results[args.large]
    ratio = large["peak_rss_kib"] / small["peak_rss_kib"]
    print(f"model: {what}; minmax, chunk {args.chunk}, one .npy sample per file")
    for n, r in ((args.small, small), (args.large, large)):
        grow = (r["calib_peak_kib"] - r["calib_start_kib"]) / 1024
        print(
            f"  {n:5d} samples: peak RSS {r['peak_rss_kib'] / 1024:8.1f} MiB  ({r['seconds']:.1f} s); "
            f"calibration phase: {r['calib_start_kib'] / 1024:.1f} -> {r['calib_peak_kib'] / 1024:.1f} MiB (+{grow:.1f})"
        )
    ok = ratio <= TARGET
    print(
        f"ratio peak({args.large}) / peak({args.small}) = {ratio:.3f}  (target <= {TARGET:.2f}: {'PASS' if ok else 'FAIL'})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
