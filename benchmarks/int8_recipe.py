"""The workbench's INT8 recipe against plain `quantize_static` recipes on the ResNet-18-shaped model, side by side.

Why: recipe 2 keeps graph outputs and mixed-range Concats in float (precision/float_keep.py). That must not cost
speed on an ordinary CNN: residual Adds stay quantized, and the model's INT8/FP32 latency ratio must stay within
5 % of the best plain ``onnxruntime.quantization.quantize_static`` recipe.

What runs: the model is built now (workbench.core.models.resnet, seeded weights), ``quant_pre_process`` is run once
and the plain recipes quantize that same pre-processed model with a reader over the same seeded calibration
samples (minmax):

  qdq_u8s8       QDQ, U8 activations / S8 weights, per-tensor       (ORT's x86 CPU advice)
  qdq_u8s8_pc    QDQ, U8/S8, per-channel weights
  qop_u8s8       QOperator (QLinearConv ...), U8/S8
  qdq_u8s8_rr    QDQ, U8/S8, reduce_range (7-bit weights, ORT's advice for CPUs without VNNI)
  qdq_s8s8_sym   QDQ, S8 activations (symmetric) / S8 weights

and ``workbench`` is ``quantize_qdq`` with the profile's recipe (cpu-x86_64: QDQ U8/S8 per-tensor, minmax, plus
recipe 2). Every model, FP32 included, is optimized by the ONNX Runtime backend exactly as ``workbench build``
does and timed by the workbench's benchmark child, all variants in turn within each of ``--rounds`` rounds (so
drift hits them alike). A variant's figure is the median of its per-round medians; ratio = that / FP32's.

Target: workbench ratio <= 1.05 x the best plain ratio. Exit status 1 when missed.

Usage: python benchmarks/int8_recipe.py [--image 224] [--rounds 5] [--iterations 100] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

# Both sides of every comparison run with onnxruntime's telemetry off, as every workbench process does
# (workbench/__init__.py): set before any onnxruntime import here, and inherited by the child processes.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

TARGET = 1.05
PLAIN = {
    "qdq_u8s8": {"quant_format": "QDQ"},
    "qdq_u8s8_pc": {"quant_format": "QDQ", "per_channel": True},
    "qop_u8s8": {"quant_format": "QOperator"},
    "qdq_u8s8_rr": {"quant_format": "QDQ", "reduce_range": True},
    "qdq_s8s8_sym": {"quant_format": "QDQ", "activation_type": "int8", "symmetric": True},
}


def cpu_line() -> str:
    """lscpu's model name and the INT8 dot-product flags this CPU has (from /proc/cpuinfo)."""
    name, flags = "unknown CPU", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, val = line.partition(":")
            if key.strip() == "model name" and name == "unknown CPU":
                name = val.strip()
            elif key.strip() in ("flags", "Features") and not flags:
                flags = set(val.split())
    except OSError:
        pass
    wanted = ("avx512_vnni", "avx_vnni", "avx2", "asimddp")
    have = [f for f in wanted if f in flags]
    return f"{name}; flags: {', '.join(have) if have else 'none of ' + ', '.join(wanted)}"


def quantized_adds(model) -> str:
    """ "INT8 Adds / Adds": QLinearAdd, or an Add whose inputs all come from DequantizeLinear and whose output
    goes to a QuantizeLinear (ORT fuses that group into QLinearAdd)."""
    g = model.graph
    made_by = {o: n.op_type for n in g.node for o in n.output}
    read_by: dict[str, list[str]] = {}
    for n in g.node:
        for i in n.input:
            read_by.setdefault(i, []).append(n.op_type)
    adds = [n for n in g.node if n.op_type in ("Add", "QLinearAdd")]
    q = [
        n
        for n in adds
        if n.op_type == "QLinearAdd"
        or (
            all(made_by.get(i) == "DequantizeLinear" for i in n.input)
            and read_by.get(n.output[0], []) == ["QuantizeLinear"]
        )
    ]
    return f"{len(q)}/{len(adds)}"


class _Reader:
    def __init__(self, files: list[Path]) -> None:
        import numpy as np

        self._it = iter([{"input": np.load(f)} for f in files])

    def get_next(self):
        return next(self._it, None)


def plain_quantize(pre: Path, out: Path, files: list[Path], opts: dict) -> Path:
    """``quantize_static`` as its docstring shows it, with one of :data:`PLAIN`'s settings."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    act = QuantType.QInt8 if opts.get("activation_type") == "int8" else QuantType.QUInt8
    quantize_static(
        str(pre),
        str(out),
        _Reader(files),
        quant_format=QuantFormat.QDQ if opts["quant_format"] == "QDQ" else QuantFormat.QOperator,
        per_channel=bool(opts.get("per_channel")),
        reduce_range=bool(opts.get("reduce_range")),
        activation_type=act,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        extra_options={"ActivationSymmetric": bool(opts.get("symmetric")), "WeightSymmetric": True},
    )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", type=int, default=224)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--calib-samples", type=int, default=16)
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="intra-op threads (0 = ORT default). Default 1: the figure compares recipes, and one thread keeps a "
        "shared 2-core machine's other work from landing inside the timed loop",
    )
    ap.add_argument("--profile", default="cpu-x86_64", help="device profile whose recipe is the workbench's")
    args = ap.parse_args()

    import contextlib
    import io
    import logging

    import numpy as np
    import onnx
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from workbench.core.backends.ort import OrtBackend
    from workbench.core.bench.config import BenchConfig
    from workbench.core.bench.parent import run_child
    from workbench.core.bench.stats import latency_stats
    from workbench.core.models.load import inspect_model
    from workbench.core.models.resnet import build_resnet18_onnx
    from workbench.core.precision.datasets import open_dataset
    from workbench.core.precision.quantize import quantize_qdq
    from workbench.core.profiles import load_profile

    logging.getLogger().setLevel(logging.ERROR)  # quantize_static's warnings are not figures
    profile = load_profile(args.profile)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = build_resnet18_onnx(tmp / "resnet18.onnx", image=args.image)
        calib = tmp / "calib"
        calib.mkdir()
        rng = np.random.default_rng(0)
        files = []
        for i in range(args.calib_samples):
            files.append(calib / f"s{i:03d}.npy")
            np.save(files[-1], rng.standard_normal((1, 3, args.image, args.image)).astype(np.float32))
        print(f"quantizing {len(PLAIN) + 1} INT8 variants ...", file=sys.stderr, flush=True)
        q = quantize_qdq(model, open_dataset(calib, inspect_model(model).inputs), profile.quantization)
        models = {"fp32": model, "workbench": q.path}
        pre = tmp / "pre.onnx"
        with contextlib.redirect_stdout(io.StringIO()):
            quant_pre_process(str(model), str(pre), skip_symbolic_shape=True)
            for name, opts in PLAIN.items():
                models[name] = plain_quantize(pre, tmp / f"{name}.onnx", files, opts)
        adds = {k: quantized_adds(onnx.load(str(p), load_external_data=False)) for k, p in models.items()}
        backend = OrtBackend()
        arts = {k: backend.build(p, "fp32" if k == "fp32" else "int8", profile) for k, p in models.items()}
        med: dict[str, list[float]] = {k: [] for k in arts}
        for r in range(args.rounds):
            for name, art in arts.items():
                out = run_child(
                    BenchConfig(
                        artifact_path=str(art.path),
                        intra_op_threads=args.threads,
                        graph_optimization_level=profile.build.graph_optimization_level,
                        iterations=args.iterations,
                        warmup_ms=300,
                    )
                )
                med[name].append(latency_stats([v / 1e6 for v in out.latencies_ns]).median)
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in med.items()) + " ms", flush=True)
    fig = {k: statistics.median(v) for k, v in med.items()}
    ratio = {k: fig[k] / fig["fp32"] for k in fig if k != "fp32"}
    print(f"ResNet-18-shaped {args.image}x{args.image}, batch 1, threads {args.threads or 'ORT default'}")
    print(f"machine: {cpu_line()}")
    print(f"  {'variant':<13} {'median ms':>10} {'INT8/FP32':>10}  INT8 Adds / Adds")
    print(f"  {'fp32':<13} {fig['fp32']:>10.3f} {'':>10}  -")
    for k, v in ratio.items():
        print(f"  {k:<13} {fig[k]:>10.3f} {v:>10.3f}  {adds[k]}")
    best = min(PLAIN, key=lambda k: ratio[k])
    rel = ratio["workbench"] / ratio[best]
    kept = ", ".join(f"{f.tensor} ({f.reason})" for f in q.float_kept) or "nothing"
    print(f"workbench recipe kept in float: {kept}")
    print(
        f"workbench INT8/FP32 {ratio['workbench']:.3f} / best plain ({best}) {ratio[best]:.3f} = {rel:.3f} "
        f"(target <= {TARGET:.2f})"
    )
    return 0 if rel <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
