"""INT8/FP32 of every plain onnxruntime CPU recipe and of the one `--precision int8` picks, side by side in one run.

Why: `--precision int8` on a CPU profile picks its recipe for the CPU it runs on (precision/cpu_recipes.py:
``cpu_recipe = "auto"`` -> the instruction set from /proc/cpuinfo -> a plain recipe). That choice must be as fast as
the best plain ``onnxruntime.quantization.quantize_static`` recipe here: its INT8/FP32 latency ratio within 5 % of
the best one's. (The old goal, INT8 <= 0.40 x FP32, held only on a VNNI CPU.)

What runs: the ResNet-18-shaped model is built now (workbench.core.models.resnet, seeded weights) with seeded random
calibration samples (minmax). ``chosen`` is what ``workbench calibrate/bench --precision int8 --profile P`` makes:
the job is prepared and calibrated by the workflow (its recipe, plus recipe 2: graph outputs kept float). Each plain
recipe (cpu_recipes.PLAIN_RECIPES: QDQ U8S8 per-tensor and per-channel, QOperator U8S8, reduce_range, S8S8
symmetric) is ``quantize_static`` on the same ``quant_pre_process``-ed model with a reader over the same samples.
Every model, FP32 included, is optimized by the ONNX Runtime backend as ``workbench build`` does and timed by the
workbench's benchmark child, all variants in turn within each of ``--rounds`` rounds (alternating, so drift hits
them alike). A variant's figure is the median of its per-round medians; ratio = that / FP32's.

Target: chosen ratio <= 1.05 x the best plain ratio. Exit status 1 when missed.

Usage: python benchmarks/int8_speedup.py [--image 224] [--rounds 5] [--iterations 100] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

# Both sides of every comparison run with onnxruntime's telemetry off, as every workbench process does
# (workbench/__init__.py): set before any onnxruntime import here, and inherited by the child processes.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

TARGET = 1.05


class _Reader:
    """onnxruntime's CalibrationDataReader over .npy files (input name "input")."""

    def __init__(self, files: list[Path]) -> None:
        import numpy as np

        self._it = iter([{"input": np.load(f)} for f in files])

    def get_next(self) -> dict[str, Any] | None:
        return next(self._it, None)


def plain_quantize(pre: Path, out: Path, files: list[Path], recipe: dict[str, Any]) -> Path:
    """``quantize_static`` as its docstring shows it, with one cpu_recipes.PLAIN_RECIPES entry (minmax)."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    qt = {"uint8": QuantType.QUInt8, "int8": QuantType.QInt8}
    quantize_static(
        str(pre),
        str(out),
        _Reader(files),
        quant_format=QuantFormat.QOperator if recipe["quant_format"] == "QOperator" else QuantFormat.QDQ,
        per_channel=recipe["per_channel"],
        reduce_range=recipe["reduce_range"],
        activation_type=qt[recipe["activation_type"]],
        weight_type=qt[recipe["weight_type"]],
        calibrate_method=CalibrationMethod.MinMax,
        extra_options={
            "ActivationSymmetric": recipe["activation_symmetric"],
            "WeightSymmetric": recipe["weight_symmetric"],
        },
    )
    return out


def verdict(ratios: dict[str, float], chosen: str = "chosen") -> tuple[str, float]:
    """(best plain variant, chosen ratio / best plain ratio) from INT8/FP32 ratios keyed by variant name."""
    plain = {k: v for k, v in ratios.items() if k != chosen}
    best = min(plain, key=lambda k: plain[k])
    return best, ratios[chosen] / plain[best]


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
        "shared machine's other work out of the timed loop",
    )
    ap.add_argument("--profile", default="cpu-x86_64", help="CPU device profile whose `--precision int8` is 'chosen'")
    args = ap.parse_args()

    import contextlib
    import io
    import logging
    import os

    import numpy as np
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from workbench.core import workflow
    from workbench.core.backends.ort import OrtBackend
    from workbench.core.bench.config import BenchConfig
    from workbench.core.bench.parent import run_child
    from workbench.core.bench.stats import latency_stats
    from workbench.core.hw.cpu_isa import detect
    from workbench.core.models.resnet import build_resnet18_onnx
    from workbench.core.precision.cpu_recipes import PLAIN_RECIPES

    logging.getLogger().setLevel(logging.ERROR)  # quantize_static's warnings are not figures
    isa = detect()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ.setdefault("WORKBENCH_HOME", str(tmp / "home"))  # the calibration cache of this run only
        model = build_resnet18_onnx(tmp / "resnet18.onnx", image=args.image)
        calib = tmp / "calib"
        calib.mkdir()
        rng = np.random.default_rng(0)
        files = []
        for i in range(args.calib_samples):
            files.append(calib / f"s{i:03d}.npy")
            np.save(files[-1], rng.standard_normal((1, 3, args.image, args.image)).astype(np.float32))
        print(f"quantizing {len(PLAIN_RECIPES) + 1} INT8 variants ...", file=sys.stderr, flush=True)
        job = workflow.prepare(
            workflow.JobRequest(model=str(model), profile=args.profile, precision="int8", calib=str(calib)),
            backend_needed=False,
        )
        cal = workflow.calibrate(job)
        choice = cal.result.cpu_recipe or {}
        models = {"fp32": model, "chosen": cal.result.path}
        pre = tmp / "pre.onnx"
        with contextlib.redirect_stdout(io.StringIO()):
            quant_pre_process(str(model), str(pre), skip_symbolic_shape=True)
            for name, recipe in PLAIN_RECIPES.items():
                models[name] = plain_quantize(pre, tmp / f"{name}.onnx", files, recipe)
        backend = OrtBackend()
        arts = {k: backend.build(p, "fp32" if k == "fp32" else "int8", job.profile) for k, p in models.items()}
        med: dict[str, list[float]] = {k: [] for k in arts}
        for r in range(args.rounds):
            for name, art in arts.items():
                out = run_child(
                    BenchConfig(
                        artifact_path=str(art.path),
                        intra_op_threads=args.threads,
                        graph_optimization_level=job.profile.build.graph_optimization_level,
                        iterations=args.iterations,
                        warmup_ms=300,
                    )
                )
                med[name].append(latency_stats([v / 1e6 for v in out.latencies_ns]).median)
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in med.items()) + " ms", flush=True)
    fig = {k: statistics.median(v) for k, v in med.items()}
    ratio = {k: fig[k] / fig["fp32"] for k in fig if k != "fp32"}
    name = choice.get("cpu_recipe") or "the profile's own keys"
    print(
        f"ResNet-18-shaped {args.image}x{args.image}, batch 1, threads {args.threads or 'ORT default'}, "
        f"{args.rounds} alternating rounds x {args.iterations} iterations"
    )
    print(f"machine: {isa.model or 'unknown CPU'}; INT8 instruction set: {isa.isa}")
    print(f"chosen = `--precision int8 --profile {args.profile}`: {name} ({choice.get('reason', 'no CPU recipe')})")
    print(f"  {'variant':<22} {'median ms':>10} {'INT8/FP32':>10}")
    print(f"  {'fp32':<22} {fig['fp32']:>10.3f} {'':>10}")
    for k, v in ratio.items():
        mark = "  <- chosen recipe" if k == choice.get("cpu_recipe") else ""
        print(f"  {k:<22} {fig[k]:>10.3f} {v:>10.3f}{mark}")
    best, rel = verdict(ratio)
    ok = rel <= TARGET
    print(
        f"chosen INT8/FP32 {ratio['chosen']:.3f} / best plain ({best}) {ratio[best]:.3f} = {rel:.3f} "
        f"(target <= {TARGET:.2f}: {'met' if ok else 'MISSED'})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
