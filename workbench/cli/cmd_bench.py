"""``workbench bench MODEL --precision P``: build (cached) and benchmark one precision."""

from __future__ import annotations

import argparse
import sys

from workbench.cli.common import (
    PRECISIONS,
    add_bench_args,
    add_calib_args,
    add_model_args,
    positive_float,
    positive_int,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="build (cached) and benchmark a model at one precision",
        description=(
            "Build (or reuse) the artifact and time it in a child process: trtexec-style statistics "
            "(min/mean/median/p50/p90/p95/p99/max, std, CoV), throughput, warm-up apart, host telemetry. "
            "INT8/FP16 runs are compared with FP32 for accuracy first."
        ),
    )
    add_model_args(p, model_optional=True)
    p.add_argument("--precision", choices=PRECISIONS, default="fp32", help="fp32 (default), fp16, int8, best")
    add_calib_args(p)
    p.add_argument("--eval", metavar="DIR", help="evaluation set for the accuracy check (labels.csv gives top-1)")
    add_bench_args(p)
    sc = p.add_argument_group("scenarios (MLPerf-style)")
    sc.add_argument(
        "--scenario",
        choices=("single-stream", "offline", "server", "multi-stream"),
        default="single-stream",
        help="single-stream (default), offline (batch sweep, samples/s), server (Poisson arrivals), multi-stream",
    )
    sc.add_argument("--qps", type=positive_float, metavar="Q", help="server: offered queries per second")
    sc.add_argument(
        "--queries", type=positive_int, metavar="N", help="server: number of queries (default qps x duration)"
    )
    sc.add_argument("--find-max-qps", action="store_true", help="server: search the highest QPS meeting --p99-bound")
    sc.add_argument(
        "--p99-bound", type=positive_float, metavar="MS", help="server: p99 latency bound for --find-max-qps"
    )
    sc.add_argument(
        "--max-batch",
        type=positive_int,
        default=32,
        metavar="N",
        help="offline: largest batch of the sweep (default 32)",
    )
    sc.add_argument(
        "--samples-per-query",
        type=positive_int,
        default=8,
        metavar="N",
        help="multi-stream: samples per query (default 8)",
    )
    p.set_defaults(handler="workbench.cli.cmd_bench:run")


def run(args: argparse.Namespace) -> int:
    from workbench.cli.common import StepPrinter, dump_json, options_from_args, public_entry
    from workbench.cli.report import summary
    from workbench.core import pipeline

    opts = options_from_args(args)
    step = StepPrinter()
    ctx = pipeline.prepare(opts, step)
    times: list[int] = []

    def on_event(event) -> None:
        lat = getattr(event, "latencies_ns", None)
        if lat is not None and type(event).__name__ == "Samples":
            times.extend(lat)

    if args.scenario != "single-stream":
        return _scenario(args, ctx, step, on_event)
    if opts.precision == "best":
        entry, candidates = pipeline.bench_best(ctx, on_step=step, on_event=on_event)
        entry["candidates"] = [
            {
                "precision": c["precision"],
                "median_ms": c["latency_ms"]["median"],
                "verdict": (c.get("accuracy") or {}).get("verdict"),
            }
            for c in candidates
        ]
    else:
        entry = pipeline.bench_precision(ctx, opts.precision, on_step=step, on_event=on_event, reference_accuracy=True)
    if args.export_times:
        import json

        from workbench.core.fsutil import write_text_atomic

        write_text_atomic(
            args.export_times, json.dumps({"precision": entry["precision"], "latencies_ms": [t / 1e6 for t in times]})
        )
        print(f"[bench] wrote {len(times)} latencies to {args.export_times}", file=sys.stderr)
    if args.json:
        dump_json(public_entry(entry))
    else:
        print(summary(entry, verbose=args.verbose))
        if opts.precision == "best":
            print(
                "Best: "
                + entry["precision"]
                + " — candidates: "
                + ", ".join(
                    f"{c['precision']} {c['median_ms']:.4f} ms ({c['verdict'] or 'reference'})"
                    for c in entry["candidates"]
                )
            )
    return 0


def _scenario(args: argparse.Namespace, ctx, step, on_event) -> int:
    from workbench.cli.common import dump_json, public_entry
    from workbench.cli.report import summary
    from workbench.core import pipeline, scenarios
    from workbench.core.errors import UsageError

    if ctx.options.precision == "best":
        raise UsageError("--precision best runs single-stream only; pick fp32, fp16 or int8 for other scenarios")
    artifact, _ = pipeline.build(ctx, ctx.options.precision, step)

    def bench(cfg_overrides=None):
        e = pipeline.bench_artifact(ctx, artifact, on_step=step, on_event=on_event, cfg_overrides=cfg_overrides)
        if ctx.options.store:
            e["result_id"] = pipeline.store(e)
        return e

    if args.scenario == "offline":
        res = scenarios.offline(ctx, artifact, max_batch=args.max_batch, bench=bench)
        if args.json:
            dump_json(
                {
                    "scenario": "offline",
                    "rows": res["rows"],
                    "best": res["best"],
                    "results": [public_entry(e) for e in res["entries"]],
                }
            )
        else:
            print(f"Offline (max throughput) batch sweep, {ctx.options.precision}, {ctx.backend.name}:")
            print(f"{'batch':>6} {'samples/s':>12} {'median ms':>10}")
            for r in res["rows"]:
                print(f"{r['batch']:>6} {r['samples_per_s']:>12.1f} {r['median_ms']:>10.4f}")
            print(f"Best: batch {res['best']['batch']} at {res['best']['samples_per_s']:.1f} samples/s")
        return 0
    if args.scenario == "multi-stream":
        e = scenarios.multi_stream(ctx, artifact, samples_per_query=args.samples_per_query, bench=bench)
        dump_json(public_entry(e)) if args.json else print(summary(e))
        return 0
    # server
    if args.find_max_qps:
        if args.p99_bound is None:
            raise UsageError("--find-max-qps needs --p99-bound MS")
        probe = bench(cfg_overrides={"iterations": 300, "duration_s": 1.0})
        start = probe["throughput_qps"]

        def on_try(qps, p99, meets):
            print(
                f"[server] {qps:.1f} QPS offered: p99 {p99:.4f} ms -> {'meets' if meets else 'misses'} the bound",
                file=sys.stderr,
            )

        res = scenarios.find_max_qps(
            ctx,
            artifact,
            p99_bound_ms=args.p99_bound,
            bench=bench,
            start_qps=start,
            queries_per_try=args.queries or 2000,
            on_try=on_try,
        )
        res["single_stream_qps"] = start
        if args.json:
            dump_json({"scenario": "server", "find_max_qps": res})
        else:
            print(f"Server scenario, p99 bound {args.p99_bound:g} ms (single-stream capacity {start:.1f} QPS):")
            print(f"{'offered QPS':>12} {'median ms':>10} {'p99 ms':>10}  verdict")
            for t in sorted(res["tries"], key=lambda t: t["qps"]):
                print(
                    f"{t['qps']:>12.1f} {t['median_ms']:>10.4f} {t['p99_ms']:>10.4f}  {'meets' if t['meets'] else 'misses'}"
                )
            mq = res["max_qps"]
            print(
                f"Max QPS meeting p99 <= {args.p99_bound:g} ms: " + (f"{mq:.1f}" if mq else "none of the tried rates")
            )
        return 0
    if args.qps is None:
        raise UsageError("--scenario server needs --qps Q (or --find-max-qps --p99-bound MS)")
    e = scenarios.server(ctx, artifact, qps=args.qps, queries=args.queries, bench=bench)
    if args.json:
        dump_json(public_entry(e))
    else:
        print(summary(e, verbose=args.verbose))
        print(
            f"Server: {e['server']['queries']} queries offered at {args.qps:g} QPS (seed {e['server']['seed']}); "
            "latency counted from each query's scheduled arrival"
        )
    return 0
