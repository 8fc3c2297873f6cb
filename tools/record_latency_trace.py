"""Record a real latency trace for the TUI's snapshot tests (tests/fixtures/ui/latency-trace.json).

Runs the bundled digits CNN through the core workflow (FP32, 1 thread, 3 s, nothing stored) with a
``core.live.LiveLatency`` listening, as the Benchmark screen does, and writes what the screen plots: one point
per batch of samples (seconds since start, batch median ms, batch max ms), the rolling p50/p99 and the
latencies behind them (sorted, ms), plus where and when it was measured. The app shows it labelled "recorded".

Usage: .venv/bin/python tools/record_latency_trace.py [OUT]
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    from workbench.core import workflow
    from workbench.core.fsutil import write_text_atomic
    from workbench.core.job import JobRequest
    from workbench.core.live import LiveLatency

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "tests" / "fixtures" / "ui" / "latency-trace.json"
    job = workflow.prepare(JobRequest(profile="cpu-x86_64", duration_s=3.0, threads=1, store=False))
    built = workflow.build(job, "fp32")
    live = LiveLatency()
    result = workflow.bench(job, built, on_event=live.feed)
    snap = live.snapshot()
    doc = {
        "what": "latency trace of one TUI-style benchmark run (tools/record_latency_trace.py)",
        "host": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": job.title,
        "precision": "fp32",
        "p50_ms": snap.p50_ms,
        "p99_ms": snap.p99_ms,
        "median_ms_stored": result.latency.median_ms,
        "points": [
            [round(t, 4), m, x] for t, m, x in zip(snap.points_t_s, snap.points_ms, snap.points_max_ms, strict=True)
        ],
        "window_ms": list(snap.window_ms),
    }
    write_text_atomic(out, json.dumps(doc, indent=None) + "\n")
    print(f"wrote {len(doc['points'])} points, {len(doc['window_ms'])} latencies to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
