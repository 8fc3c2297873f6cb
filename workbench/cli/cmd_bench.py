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
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="fp32 (default), fp16, bf16 (torch backend only), int8, best",
    )
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
    from workbench.cli.common import StepPrinter, dump_json, request_from_args
    from workbench.core import workflow
    from workbench.core.results.summary import best_line, summary

    step = StepPrinter(job_dir=args.job_dir)
    job = workflow.prepare(request_from_args(args), step)
    if args.scenario != "single-stream":
        return _scenario(args, job, step)
    if job.request.precision == "best":
        best = workflow.bench_best(job, on_progress=step)
        if args.job_dir is not None:  # a face following this job shows the choice (core/jobs.py outcome)
            from workbench.core import jobs

            jobs.write_outcome(args.job_dir, {"command": "bench", "best": best.ids_dict()})
        if args.json:
            dump_json(best.to_dict())
            return 0
        print(summary(best.chosen, verbose=args.verbose))
        print(best_line(best.chosen, best.candidates, best.skipped, best.reasons))
        return 0
    result = workflow.bench_and_store(job, job.request.precision, on_progress=step)
    if args.job_dir is not None and result.stored_id is None:
        # --no-store: a face following this job reads the result from here instead of the results database
        from workbench.core import jobs

        jobs.write_outcome(args.job_dir, {"command": "bench", "result": result.to_dict()})
    if args.json:
        dump_json(result.to_dict(latencies=False))
    else:
        print(summary(result, verbose=args.verbose))
    return 0


def _scenario(args: argparse.Namespace, job, step) -> int:
    from workbench.cli.common import dump_json
    from workbench.core import workflow
    from workbench.core.errors import UsageError
    from workbench.core.results.summary import summary

    if args.scenario == "offline":
        res = workflow.offline(job, max_batch=args.max_batch, on_progress=step)
        if args.json:
            dump_json(res.to_dict())
        else:
            print(f"Offline (max throughput) batch sweep, {job.request.precision}, {job.backend.name}:")
            print(f"{'batch':>6} {'samples/s':>12} {'median ms':>10}")
            for r in res.rows:
                print(f"{r.batch:>6} {r.samples_per_s:>12.1f} {r.median_ms:>10.4f}")
            print(f"Best: batch {res.best.batch} at {res.best.samples_per_s:.1f} samples/s")
        return 0
    if args.scenario == "multi-stream":
        r = workflow.multi_stream(job, samples_per_query=args.samples_per_query, on_progress=step)
        dump_json(r.to_dict(latencies=False)) if args.json else print(summary(r))
        return 0
    # server
    if args.find_max_qps:
        if args.p99_bound is None:
            raise UsageError(
                "--find-max-qps needs --p99-bound MS",
                hint="add --p99-bound MS: the p99 latency the searched rate must meet",
            )

        def on_try(qps, p99, meets):
            print(
                f"[server] {qps:.1f} QPS offered: p99 {p99:.4f} ms -> {'meets' if meets else 'misses'} the bound",
                file=sys.stderr,
            )

        res = workflow.find_max_qps(
            job, p99_bound_ms=args.p99_bound, queries=args.queries, on_try=on_try, on_progress=step
        )
        if args.json:
            dump_json({"scenario": "server", "find_max_qps": res.to_dict()})
        else:
            start = res.single_stream_qps or 0.0
            print(f"Server scenario, p99 bound {args.p99_bound:g} ms (single-stream capacity {start:.1f} QPS):")
            print(f"{'offered QPS':>12} {'median ms':>10} {'p99 ms':>10}  verdict")
            for t in sorted(res.tries, key=lambda t: t.qps):
                print(f"{t.qps:>12.1f} {t.median_ms:>10.4f} {t.p99_ms:>10.4f}  {'meets' if t.meets else 'misses'}")
            mq = res.max_qps
            print(
                f"Max QPS meeting p99 <= {args.p99_bound:g} ms: " + (f"{mq:.1f}" if mq else "none of the tried rates")
            )
        return 0
    if args.qps is None:
        raise UsageError(
            "--scenario server needs --qps Q (or --find-max-qps --p99-bound MS)",
            hint="add --qps Q (queries per second to send), or --find-max-qps --p99-bound MS to search for it",
        )
    r = workflow.server(job, qps=args.qps, queries=args.queries, on_progress=step)
    if args.json:
        dump_json(r.to_dict(latencies=False))
    else:
        print(summary(r, verbose=args.verbose))
        print(
            f"Server: {r.server.queries} queries offered at {args.qps:g} QPS (seed {r.server.seed}); "
            "latency counted from each query's scheduled arrival"
        )
    return 0
