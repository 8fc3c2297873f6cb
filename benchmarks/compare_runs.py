"""`results compare` verdicts measured in one run: FP32 vs FP32 (same settings) and FP32 vs INT8.

On the ResNet-18-shaped model: two FP32 runs with identical settings should give "no significant
difference"; FP32 vs INT8 (CPU profile recipe) a significant ratio with its bootstrap 95 % interval.

Usage: python benchmarks/compare_runs.py [--image 224] [--iterations 60]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", type=int, default=224)
    ap.add_argument("--iterations", type=int, default=60)
    args = ap.parse_args()

    import numpy as np

    from workbench.core import workflow
    from workbench.core.models.resnet import build_resnet18_onnx
    from workbench.core.results.compare import ratio_verdict

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = build_resnet18_onnx(tmp / "resnet18.onnx", image=args.image)
        calib = tmp / "calib"
        calib.mkdir()
        rng = np.random.default_rng(0)
        for i in range(16):
            np.save(calib / f"s{i:02d}.npy", rng.standard_normal((1, 3, args.image, args.image)).astype(np.float32))
        job = workflow.prepare(
            workflow.JobRequest(
                model=str(model), calib=str(calib), store=False, iterations=args.iterations, warmup_ms=500
            )
        )
        fp32 = workflow.build(job, "fp32")
        int8 = workflow.build(job, "int8")
        a = workflow.bench(job, fp32)
        b = workflow.bench(job, fp32)
        c = workflow.bench(job, int8)
    same = ratio_verdict(a, b)
    diff = ratio_verdict(a, c)
    print(f"FP32 vs FP32 (same settings): {same.verdict}")
    print(f"FP32 vs INT8:                 {diff.verdict}")
    ok = not same.significant and diff.significant
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
