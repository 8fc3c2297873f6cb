"""Server scenario on the ResNet-18-shaped model: p99 against offered QPS, and the max QPS under a p99 bound.

Seeded Poisson arrivals (the same seed gives the same schedule); latency counts from each query's
scheduled arrival, so queueing shows as the offered load nears the single-stream capacity.

Usage: python benchmarks/server_scenario.py [--image 224] [--queries 300] [--p99-bound MS]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", type=int, default=224)
    ap.add_argument("--queries", type=int, default=300, help="queries per offered rate")
    ap.add_argument(
        "--p99-bound", type=float, default=None, help="p99 bound in ms (default: 2x the single-stream median)"
    )
    ap.add_argument(
        "--loads", default="0.2,0.5,0.8,0.95", help="offered QPS as fractions of the single-stream capacity"
    )
    args = ap.parse_args()

    from workbench.core import scenarios, workflow
    from workbench.core.models.resnet import build_resnet18_onnx

    with tempfile.TemporaryDirectory() as tmp:
        model = build_resnet18_onnx(Path(tmp) / "resnet18.onnx", image=args.image)
        job = workflow.prepare(workflow.JobRequest(model=str(model), store=False, warmup_ms=500))
        built = workflow.build(job, "fp32")

        def bench(cfg_overrides=None):
            return workflow.bench(job, built, cfg_overrides=cfg_overrides)

        probe = bench(cfg_overrides={"iterations": 50, "duration_s": 1.0})
        capacity = probe.throughput.queries_per_s
        median = probe.latency.median_ms
        print(
            f"ResNet-18-shaped {args.image}x{args.image}, fp32, single-stream: median {median:.2f} ms, capacity {capacity:.1f} QPS"
        )
        print(f"{'offered QPS':>12} {'load':>6} {'p50 ms':>9} {'p99 ms':>9}")
        rows = []
        for frac in (float(x) for x in args.loads.split(",")):
            r = scenarios.server(qps=capacity * frac, queries=args.queries, bench=bench)
            rows.append((capacity * frac, r.latency.p50_ms, r.latency.p99_ms))
            print(f"{capacity * frac:>12.2f} {frac:>6.2f} {rows[-1][1]:>9.2f} {rows[-1][2]:>9.2f}", flush=True)
        bound = args.p99_bound or 2 * median
        res = scenarios.find_max_qps(
            p99_bound_ms=bound, bench=bench, start_qps=capacity, queries_per_try=args.queries, tries=5
        )
        mq = res.max_qps
        print(
            f"max QPS with p99 <= {bound:.2f} ms: "
            + (f"{mq:.2f} ({mq / capacity:.0%} of capacity)" if mq else "none of the tried rates")
        )
    grows = rows[-1][2] > rows[0][2]
    print(
        f"p99 grows with offered load: {'yes' if grows else 'NO'} ({rows[0][2]:.2f} ms at {rows[0][0]:.1f} QPS -> {rows[-1][2]:.2f} ms at {rows[-1][0]:.1f} QPS)"
    )
    return 0 if grows else 1


if __name__ == "__main__":
    sys.exit(main())
