"""Throughput of a batch set only through ``--shapes``: the workbench's stored figure vs a bare ONNX Runtime loop.

``workbench bench MODEL --shapes x:4x256 --threads 1 --json`` must store batch 4 and inferences/s = queries x 4 /
wall time (issue "Numbers you can trust on real pretrained models", item 4: it used to run batch 4 and store
batch 1). The bare loop is ``sess.run(None, feeds)`` on the same model, batch and thread count, timed as
inferences / wall time. The two are interleaved (bare, workbench, bare, …) so drift of the machine hits both
alike; the ratio of the medians over the rounds must be within 5 % of 1.

Usage: python benchmarks/batch_throughput.py [--rounds 3] [--duration 2] [--batch 4] [--threads 1]
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

HERE = Path(__file__).resolve().parent

BARE = r"""
import json, sys, time
import numpy as np, onnxruntime as ort

# Both sides of every comparison run with onnxruntime's telemetry off, as every workbench process does
# (workbench/__init__.py): set before any onnxruntime import here, and inherited by the child processes.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
path, threads, batch, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
so = ort.SessionOptions(); so.intra_op_num_threads = threads; so.inter_op_num_threads = 1; so.log_severity_level = 3
s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
feeds = {"x": np.random.default_rng(0).standard_normal((batch, 256)).astype(np.float32)}
t_end = time.perf_counter() + 0.2
while time.perf_counter() < t_end:
    s.run(None, feeds)
n = 0; t0 = time.perf_counter()
while time.perf_counter() - t0 < seconds:
    s.run(None, feeds); n += 1
print(json.dumps({"ips": n * batch / (time.perf_counter() - t0)}))
"""


def bare_ips(model: Path, threads: int, batch: int, seconds: float) -> float:
    res = subprocess.run(
        [sys.executable, "-c", BARE, str(model), str(threads), str(batch), str(seconds)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(res.stdout)["ips"]


def workbench_entry(model: Path, threads: int, batch: int, seconds: float, env: dict) -> dict:
    argv = ["bench", str(model), "--shapes", f"x:{batch}x256", "--threads", str(threads), "--duration", str(seconds)]
    argv += ["--warmup-ms", "200", "--json", "--no-store", "--foreground"]
    res = subprocess.run(
        [sys.executable, "-m", "workbench", *argv], capture_output=True, text=True, env=env, cwd=HERE.parent
    )
    if res.returncode != 0:
        raise SystemExit(f"workbench bench failed: {res.stderr}")
    return json.loads(res.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=2.0, help="seconds per run (default 2)")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    sys.path.insert(0, str(HERE.parent / "tests" / "unit"))
    from _export_models import heavy_matmul  # x [batch, 256] through four 256x256 MatMuls

    with tempfile.TemporaryDirectory() as tmp:
        model = heavy_matmul(Path(tmp) / "heavy.onnx")
        env = dict(os.environ, WORKBENCH_HOME=str(Path(tmp) / "home"))
        bare, wb = [], []
        for r in range(args.rounds):
            bare.append(bare_ips(model, args.threads, args.batch, args.duration))
            e = workbench_entry(model, args.threads, args.batch, args.duration, env)
            if e["batch"] != args.batch:
                raise SystemExit(f"stored batch {e['batch']}, fed {e['input_shapes']}: expected {args.batch}")
            defined = e["iterations"] * args.batch / e["wall_s"]
            if abs(e["throughput_ips"] - defined) > 1e-6 * defined:
                raise SystemExit(f"throughput_ips {e['throughput_ips']} != queries x batch / wall {defined}")
            wb.append(e["throughput_ips"])
            print(f"round {r + 1}: bare ORT {bare[-1]:.1f} inf/s, workbench {wb[-1]:.1f} inf/s (batch {e['batch']})")
    ratio = statistics.median(wb) / statistics.median(bare)
    print(f"MatMul 4x256x256, --shapes x:{args.batch}x256, threads {args.threads}, {args.rounds} x {args.duration:g} s")
    print(f"workbench inferences/s / bare ORT inferences/s = {ratio:.4f} (target 0.95 .. 1.05)")
    return 0 if 0.95 <= ratio <= 1.05 else 1


if __name__ == "__main__":
    sys.exit(main())
