"""Workbench harness vs a bare ONNX Runtime loop, same model, same threads, measured in one run.

Both run in child processes with the same session options; the bare loop is the textbook
``for _ in range(n): t0 = perf_counter_ns(); sess.run(None, feeds); ...``. The two are interleaved
(A B A B ...) so drift of the machine (frequency, other load) hits both alike; we compare the median
of the per-round medians. Target: workbench / bare <= 1.02.

Usage: python benchmarks/harness_overhead.py [--rounds 3] [--iterations 2000] [--threads 1] [--model PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

# Both sides of every comparison run with onnxruntime's telemetry off, as every workbench process does
# (workbench/__init__.py): set before any onnxruntime import here, and inherited by the child processes.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

BARE = r"""
import json, sys, time
import numpy as np, onnxruntime as ort

path, threads, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
so = ort.SessionOptions(); so.intra_op_num_threads = threads; so.log_severity_level = 3
s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
rng = np.random.default_rng(seed)
feeds = {i.name: rng.standard_normal([d if isinstance(d, int) else 1 for d in i.shape]).astype(np.float32) for i in s.get_inputs()}
t_end = time.perf_counter() + 0.2
while time.perf_counter() < t_end:
    s.run(None, feeds)
lat = []
for _ in range(n):
    t0 = time.perf_counter_ns(); s.run(None, feeds); lat.append(time.perf_counter_ns() - t0)
lat.sort(); print(json.dumps({"median_ms": (lat[n // 2 - 1] + lat[n // 2]) / 2e6 if n % 2 == 0 else lat[n // 2] / 1e6}))
"""


def workbench_median(model: Path, threads: int, n: int) -> float:
    from workbench.core.bench.config import BenchConfig
    from workbench.core.bench.parent import run_child
    from workbench.core.bench.stats import latency_stats

    out = run_child(BenchConfig(artifact_path=str(model), intra_op_threads=threads, iterations=n, warmup_ms=200))
    return latency_stats([v / 1e6 for v in out.latencies_ns]).median


def bare_median(model: Path, threads: int, n: int) -> float:
    res = subprocess.run(
        [sys.executable, "-c", BARE, str(model), str(threads), str(n), "0"], capture_output=True, text=True, check=True
    )
    return json.loads(res.stdout)["median_ms"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--image", type=int, default=64, help="ResNet-18-shaped model input size (default 64)")
    ap.add_argument("--model", type=Path, help="ONNX model (default: ResNet-18-shaped, built now)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            from workbench.core.models.resnet import build_resnet18_onnx

            model = build_resnet18_onnx(Path(tmp) / "resnet18.onnx", image=args.image)
        wb, bare = [], []
        for r in range(args.rounds):
            bare.append(bare_median(model, args.threads, args.iterations))
            wb.append(workbench_median(model, args.threads, args.iterations))
            print(f"round {r + 1}: bare ORT {bare[-1]:.4f} ms, workbench {wb[-1]:.4f} ms", flush=True)
    ratio = statistics.median(wb) / statistics.median(bare)
    print(
        f"model {model.name if args.model else f'resnet18-shaped {args.image}x{args.image}'}, threads {args.threads}, {args.iterations} iterations x {args.rounds} rounds"
    )
    print(f"workbench median / bare ORT median = {ratio:.4f} (target <= 1.02)")
    return 0 if ratio <= 1.02 else 1


if __name__ == "__main__":
    sys.exit(main())
