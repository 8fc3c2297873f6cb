"""`workbench tune` on a ResNet-18-shaped model, and its recommendation re-measured against the plain recipes.

Issue 16, "what it must show" 1: with ``--min-cosine 0.98 --budget-min 12`` on this machine, tune measures at least
6 distinct candidates covering the plain recipe families, and its recommendation, re-benchmarked through the tuned
profile in rounds alternating with FP32, has an INT8/FP32 ratio within 5 % of the best plain
``onnxruntime.quantization.quantize_static`` recipe measured in the same run.

What runs:

1. The ResNet-18-shaped model (workbench.core.models.resnet, seeded weights) and seeded random calibration and
   evaluation samples (.npy; no labels, so the bound is the per-sample output cosine vs FP32).
2. ``workbench tune MODEL --calib C --eval E --min-cosine 0.98 --budget-min B --json --foreground`` in a private
   WORKBENCH_HOME. The script reads its JSON: candidates measured, recipe families covered, the recommendation,
   the tuned profile.
3. Re-measurement, every variant in turn within each of ``--rounds`` rounds (alternating, so drift hits them alike),
   all at the recommendation's thread count: FP32; the recommendation built through the tuned profile
   (``workflow.prepare(profile=<tuned profile>)`` + ``workflow.build``, as ``bench --profile PATH`` does); and each
   plain recipe (benchmarks/int8_speedup.py ``plain_quantize``). A variant's figure is the median of its per-round
   medians; ratio = that / FP32's.

Checks printed (exit 1 when one fails): >= 6 distinct candidates measured; every plain recipe family measured; the
recommendation's INT8/FP32 ratio <= 1.05 x the best plain recipe's.

Usage: python benchmarks/tune_resnet.py [--image 224] [--budget-min 12] [--rounds 5] [--iterations 60]
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

TARGET = 1.05
MIN_CANDIDATES = 6


def families(doc: dict) -> set[str]:
    """The plain recipe names (cpu_recipes.PLAIN_RECIPES) whose settings some measured INT8 candidate used."""
    from workbench.core.precision.cpu_recipes import PLAIN_RECIPES

    seen = set()
    for c in doc["candidates"]:
        if c["status"] not in ("measured", "confirmed") or c["candidate"]["precision"] != "int8":
            continue
        r = c["candidate"]["recipe"]
        for name, plain in PLAIN_RECIPES.items():
            if all(r.get(k, v) == v for k, v in plain.items()):
                seen.add(name)
    return seen


def checks(doc: dict, ratio_rec: float, best_plain: float) -> list[tuple[str, bool, str]]:
    """(check, passed, figure) for the tune document and the re-measured ratios (pure: unit-testable)."""
    from workbench.core.precision.cpu_recipes import PLAIN_RECIPES

    measured = [c for c in doc["candidates"] if c["status"] in ("measured", "confirmed")]
    fam = families(doc)
    rel = ratio_rec / best_plain
    return [
        (f"distinct candidates measured >= {MIN_CANDIDATES}", len(measured) >= MIN_CANDIDATES, str(len(measured))),
        ("every plain recipe family measured", fam == set(PLAIN_RECIPES), ", ".join(sorted(fam)) or "none"),
        (
            f"recommendation INT8/FP32 <= {TARGET:.2f} x best plain",
            rel <= TARGET,
            f"{ratio_rec:.3f} / {best_plain:.3f} = {rel:.3f}",
        ),
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", type=int, default=224)
    ap.add_argument("--budget-min", type=float, default=12.0)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iterations", type=int, default=60)
    ap.add_argument("--samples", type=int, default=16, help="calibration and evaluation samples each")
    ap.add_argument("--profile", default="cpu-x86_64")
    args = ap.parse_args()

    import contextlib
    import io
    import logging

    import numpy as np
    from int8_speedup import plain_quantize
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from workbench.core import workflow
    from workbench.core.backends.ort import OrtBackend
    from workbench.core.bench.config import BenchConfig
    from workbench.core.bench.parent import run_child
    from workbench.core.bench.stats import latency_stats
    from workbench.core.hw.cpu_isa import detect
    from workbench.core.models.resnet import build_resnet18_onnx
    from workbench.core.precision.cpu_recipes import PLAIN_RECIPES

    logging.getLogger().setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        os.environ["WORKBENCH_HOME"] = str(tmp / "home")  # this run's caches and results only
        model = build_resnet18_onnx(tmp / "resnet18.onnx", image=args.image)
        rng = np.random.default_rng(0)
        dirs = {}
        for kind in ("calib", "eval"):
            d = dirs[kind] = tmp / kind
            d.mkdir()
            for i in range(args.samples):
                np.save(d / f"s{i:03d}.npy", rng.standard_normal((1, 3, args.image, args.image)).astype(np.float32))
        argv = [sys.executable, "-m", "workbench", "tune", str(model), "--profile", args.profile,
                "--calib", str(dirs["calib"]), "--eval", str(dirs["eval"]), "--min-cosine", "0.98",
                "--budget-min", f"{args.budget_min:g}", "--json", "--foreground"]  # fmt: skip
        print(f"running: workbench tune ... --min-cosine 0.98 --budget-min {args.budget_min:g}", flush=True)
        res = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(HERE.parent)})
        if res.returncode != 0:
            print(res.stderr[-3000:], file=sys.stderr)
            print(f"workbench tune failed (exit {res.returncode})")
            return 1
        doc = json.loads(res.stdout)
        rec = doc["recommendation"]
        if rec is None:
            print(f"no recommendation: {doc.get('no_recommendation')}")
            return 1
        print(f"tune: {len(doc['candidates'])} candidates, stopped: {doc['stopped']}, {doc['elapsed_s']:.0f} s")
        print(f"recommended: {rec['label']}")
        for why in rec["reasons"]:
            print(f"  - {why}")
        threads = rec["settings"].get("threads") or 0

        # The recommendation through the tuned profile, as `bench --profile PATH` builds it.
        job = workflow.prepare(
            workflow.JobRequest(
                model=str(model), profile=doc["profile_path"], precision=rec["precision"], calib=str(dirs["calib"])
            )
        )
        arts = {
            "fp32": workflow.build(job, "fp32").artifact,
            "recommended": workflow.build(job, rec["precision"]).artifact,
        }
        pre = tmp / "pre.onnx"
        backend = OrtBackend()
        with contextlib.redirect_stdout(io.StringIO()):
            quant_pre_process(str(model), str(pre), skip_symbolic_shape=True)
            files = sorted(dirs["calib"].glob("*.npy"))
            for name, recipe in PLAIN_RECIPES.items():
                q = plain_quantize(pre, tmp / f"{name}.onnx", files, recipe)
                arts[name] = backend.build(q, "int8", job.profile)
        med: dict[str, list[float]] = {k: [] for k in arts}
        for r in range(args.rounds):
            for name, art in arts.items():
                out = run_child(
                    BenchConfig(
                        artifact_path=str(art.path),
                        intra_op_threads=threads,
                        graph_optimization_level=job.profile.build.graph_optimization_level,
                        iterations=args.iterations,
                        warmup_ms=300,
                    )
                )
                med[name].append(latency_stats([v / 1e6 for v in out.latencies_ns]).median)
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in med.items()) + " ms", flush=True)
    fig = {k: statistics.median(v) for k, v in med.items()}
    ratio = {k: fig[k] / fig["fp32"] for k in fig if k != "fp32"}
    plain = {k: v for k, v in ratio.items() if k != "recommended"}
    best = min(plain, key=lambda k: plain[k])
    isa = detect()
    print(
        f"ResNet-18-shaped {args.image}x{args.image}, batch 1, threads {threads or 'ORT default'}, "
        f"{args.rounds} alternating rounds x {args.iterations} iterations; {isa.model or 'unknown CPU'} ({isa.isa})"
    )
    print(f"  {'variant':<24} {'median ms':>10} {'INT8/FP32':>10}")
    print(f"  {'fp32':<24} {fig['fp32']:>10.3f}")
    for k, v in ratio.items():
        print(f"  {k:<24} {fig[k]:>10.3f} {v:>10.3f}" + ("  <- best plain" if k == best else ""))
    ok = True
    for name, passed, figure in checks(doc, ratio["recommended"], plain[best]):
        ok &= passed
        print(f"  {'PASS' if passed else 'FAIL'}  {name}: {figure}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
