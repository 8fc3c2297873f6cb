"""INT8 (QDQ, CPU profile recipe) vs FP32 on the ResNet-18-shaped model, measured side by side in one run.

The model is built now with seeded random weights (workbench.core.models.resnet), calibrated with
the profile's recipe (cpu-x86_64: U8 activations / S8 weights, minmax) on seeded random samples,
optimized by the ONNX Runtime backend exactly as `workbench build` does, then both artifacts are
timed by the workbench's own child process, alternating FP32 / INT8 for ``--rounds`` rounds.
Target (issue 2): INT8 median <= 0.40 x FP32 median at 224x224.

Usage: python benchmarks/int8_speedup.py [--image 224] [--rounds 2] [--iterations 40] [--profile cpu-x86_64]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", type=int, default=224)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=40)
    ap.add_argument("--calib-samples", type=int, default=16)
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0 = ORT default)")
    ap.add_argument("--profile", default=None, help="device profile (default: auto-detected)")
    args = ap.parse_args()

    import numpy as np

    from workbench.core.backends.ort import OrtBackend
    from workbench.core.bench.config import BenchConfig
    from workbench.core.bench.parent import run_child
    from workbench.core.bench.stats import latency_stats
    from workbench.core.models.load import inspect_model
    from workbench.core.models.resnet import build_resnet18_onnx
    from workbench.core.precision.datasets import open_dataset
    from workbench.core.precision.quantize import quantize_qdq
    from workbench.core.profiles import load_profile

    profile = load_profile(args.profile)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = build_resnet18_onnx(tmp / "resnet18.onnx", image=args.image)
        calib = tmp / "calib"
        calib.mkdir()
        rng = np.random.default_rng(0)
        for i in range(args.calib_samples):
            np.save(calib / f"s{i:03d}.npy", rng.standard_normal((1, 3, args.image, args.image)).astype(np.float32))
        ds = open_dataset(calib, inspect_model(model).inputs)
        q = quantize_qdq(model, ds, profile.quantization)
        backend = OrtBackend()
        arts = {"fp32": backend.build(model, "fp32", profile), "int8": backend.build(q.path, "int8", profile)}
        med: dict[str, list[float]] = {"fp32": [], "int8": []}
        for r in range(args.rounds):
            for prec, art in arts.items():
                out = run_child(
                    BenchConfig(
                        artifact_path=str(art.path),
                        intra_op_threads=args.threads,
                        graph_optimization_level=profile.build.graph_optimization_level,
                        iterations=args.iterations,
                        warmup_ms=500,
                    )
                )
                med[prec].append(latency_stats([v / 1e6 for v in out.latencies_ns]).median)
            print(f"round {r + 1}: fp32 {med['fp32'][-1]:.3f} ms, int8 {med['int8'][-1]:.3f} ms", flush=True)
    fp32 = statistics.median(med["fp32"])
    int8 = statistics.median(med["int8"])
    ratio = int8 / fp32
    print(
        f"profile {profile.name} ({profile.quantization.activation_type} activations / {profile.quantization.weight_type} weights, "
        f"{q.method}), ResNet-18-shaped {args.image}x{args.image}, batch 1"
    )
    print(f"INT8 median / FP32 median = {int8:.3f} / {fp32:.3f} ms = {ratio:.3f} (target <= 0.40)")
    return 0 if ratio <= 0.40 else 1


if __name__ == "__main__":
    sys.exit(main())
