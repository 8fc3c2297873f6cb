"""Latency with the TUI showing live plots / the same benchmark headless, interleaved rounds in one run.

Each round runs the same artifact twice, in alternating order: headless (``workflow.bench`` with no
listener, as the CLI does) and inside the Textual app at 80x24 (Benchmark screen, live plot and telemetry
panel refreshing, ``run_test`` headless driver: the app lays out and renders every frame, it only does not
write the bytes to a terminal). Both benchmarks run in the core's child process (the TUI's inside the detached
job it starts, which the app follows through the job's event stream); what the UI can cost is CPU time taken from
it on this machine. Reported: median and p90 latency of each, and the ratio of the medians of
the per-round figures (goal <= 1.05). A figure to report, not a pass/fail test: exit status 0 either way.

Usage: python benchmarks/tui_overhead.py [--rounds 5] [--duration 2] [--threads 1] [--precision fp32] [--model PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

GOAL = 1.05


def headless(job, built) -> tuple[float, float, int]:
    from workbench.core import workflow

    r = workflow.bench(job, built)
    return r.latency.median_ms, r.latency.value(90.0), r.throughput.iterations


async def in_tui(args) -> tuple[float, float, int, int]:
    """One benchmark started with keys on the Benchmark screen; returns median, p90, iterations, plot redraws."""
    from workbench.ui.app import make_app
    from workbench.ui.widgets.bench_plot import BenchPlot

    app = make_app(args.model, profile=args.profile)
    async with app.run_test(size=(80, 24)) as pilot:
        while app.busy is not None or app.state.job is None:
            await pilot.pause(0.05)
        app.set_options(duration_s=args.duration, threads=args.threads, store=False)
        app.set_precision(args.precision)
        await pilot.press("6")
        plot = app.screen.query_one(BenchPlot)  # plotext: latency, power and temperature on one time axis
        before = plot.draws
        await pilot.press("s")
        while app.busy is not None:
            await pilot.pause(0.05)
        redraws = plot.draws - before
        r = app.state.last_result
        await pilot.press("ctrl+q")
    return r.latency.median_ms, r.latency.value(90.0), r.throughput.iterations, redraws


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=float, default=2.0, help="timed seconds per benchmark")
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads of the benchmarked model")
    ap.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "int8"))
    ap.add_argument("--profile", default=None)
    ap.add_argument("--model", default=None, help="default: the bundled digits CNN")
    args = ap.parse_args(argv)
    os.environ.setdefault("WORKBENCH_HOME", tempfile.mkdtemp(prefix="wb-tui-overhead-"))

    from workbench.core import workflow

    ctx = workflow.prepare(
        workflow.JobRequest(model=args.model, profile=args.profile, precision=args.precision, duration_s=args.duration,
                            threads=args.threads, store=False)
    )  # fmt: skip
    artifact = workflow.build(ctx, args.precision)
    rows = []
    for r in range(args.rounds):
        order = ("headless", "tui") if r % 2 == 0 else ("tui", "headless")
        got = {}
        for which in order:
            t0 = time.monotonic()
            if which == "headless":
                got[which] = headless(ctx, artifact)
            else:
                got[which] = asyncio.run(in_tui(args))
            got[which + "_s"] = time.monotonic() - t0
        h, t = got["headless"], got["tui"]
        rows.append((h, t))
        print(
            f"round {r + 1}/{args.rounds} ({order[0]} first): headless median {h[0]:.4f} ms p90 {h[1]:.4f} ms "
            f"({h[2]} it) | TUI median {t[0]:.4f} ms p90 {t[1]:.4f} ms ({t[2]} it, {t[3]} plot redraws "
            f"in {got['tui_s']:.1f} s)"
        )
    med_h = statistics.median(h[0] for h, _ in rows)
    med_t = statistics.median(t[0] for _, t in rows)
    p90_h = statistics.median(h[1] for h, _ in rows)
    p90_t = statistics.median(t[1] for _, t in rows)
    ratio_med, ratio_p90 = med_t / med_h, p90_t / p90_h
    print(
        f"model {ctx.model_path.name}, {args.precision}, {args.threads} thread(s), {args.duration:g} s x {args.rounds} rounds, {os.cpu_count()} CPUs"
    )
    print(f"median latency: headless {med_h:.4f} ms, TUI {med_t:.4f} ms -> TUI/headless {ratio_med:.3f}")
    print(f"p90 latency:    headless {p90_h:.4f} ms, TUI {p90_t:.4f} ms -> TUI/headless {ratio_p90:.3f}")
    print(
        f"goal <= {GOAL}: {'met' if max(ratio_med, ratio_p90) <= GOAL else 'not met'} on this run (a figure, not a test)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
