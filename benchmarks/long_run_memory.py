"""Long-run memory: the parent's peak memory growth per million timed queries between a short and a long run.

What runs: ``workbench bench`` of the bundled digits CNN in the foreground (``--foreground --no-store --json
--threads 1``, host telemetry), once for ``--short`` seconds and once for ``--long`` seconds, each in a fresh
Python process that calls the CLI in-process and then reads its own peak resident set (``getrusage(RUSAGE_SELF)
.ru_maxrss``: the parent only, not the benchmark child). The bundled model runs about 30 000 queries a second on
one core, so the long run times millions of queries.

Reported: each run's timed queries and the parent's peak RSS, and

    growth = (peak RSS long - peak RSS short) / (queries long - queries short), in MB (10**6 bytes) per million

Goal (issue 19): <= 2 MB per million queries (the parent used to keep 8 bytes a query for ever, and sort a copy
at the end). ``--repo PATH`` measures another checkout of the workbench (e.g. the main branch, for the figure
before) with this same script.

Usage: python benchmarks/long_run_memory.py [--short 10] [--long 90] [--repo PATH] [--json]
Exit status 0 when the goal is met, else 1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL_MB_PER_MILLION = 2.0

# Runs in a fresh process with the checkout first on sys.path: the CLI in-process, then the process's own peak.
WORKER = r"""
import contextlib, io, json, resource, sys
sys.path.insert(0, sys.argv[1])
from workbench.cli.main import main
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    code = main(["bench", "--duration", sys.argv[2], "--threads", "1", "--no-store", "--foreground", "--json",
                 "--telemetry", "host"])
doc = json.loads(buf.getvalue())
doc = doc[-1] if isinstance(doc, list) else doc
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux: KiB
print(json.dumps({"code": code, "iterations": doc.get("iterations"), "peak_rss_kib": peak_kib,
                  "latency_method": doc.get("latency_method")}))
"""


def run_once(repo: Path, seconds: float, home: str) -> dict:
    """One foreground benchmark of ``seconds`` in a fresh process; its queries and the parent's peak RSS (KiB).

    Raises:
        RuntimeError: the benchmark failed (its stderr's last lines in the message).
    """
    env = dict(os.environ, WORKBENCH_HOME=home, PYTHONPATH=str(repo))
    proc = subprocess.run(
        [sys.executable, "-c", WORKER, str(repo), f"{seconds:g}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=seconds * 3 + 600,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"benchmark of {seconds:g} s failed (exit {proc.returncode}): {tail}")
    return json.loads(lines[-1])


def measure(repo: Path, short_s: float, long_s: float) -> dict:
    home = tempfile.mkdtemp(prefix="wb-longrun-")
    run_once(repo, 1, home)  # builds and caches the artifact, so both measured runs reuse it
    short = run_once(repo, short_s, home)
    long = run_once(repo, long_s, home)
    dq = long["iterations"] - short["iterations"]
    d_bytes = (long["peak_rss_kib"] - short["peak_rss_kib"]) * 1024
    per_million = d_bytes / 1e6 / (dq / 1e6) if dq > 0 else None
    return {
        "repo": str(repo),
        "short": {"seconds": short_s, **short},
        "long": {"seconds": long_s, **long},
        "mb_per_million_queries": per_million,
        "goal_mb_per_million": GOAL_MB_PER_MILLION,
        "ok": per_million is not None and per_million <= GOAL_MB_PER_MILLION,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--short", type=float, default=10.0, help="the short run's seconds (default 10)")
    ap.add_argument("--long", type=float, default=90.0, help="the long run's seconds (default 90)")
    ap.add_argument("--repo", type=Path, default=REPO, help="the workbench checkout to measure (default: this one)")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    args = ap.parse_args(argv)
    doc = measure(args.repo.resolve(), args.short, args.long)
    if args.json:
        print(json.dumps(doc))
    else:
        for key in ("short", "long"):
            r = doc[key]
            method = (r.get("latency_method") or {}).get("percentile_method", "n/a")
            print(
                f"{r['seconds']:g} s run: {r['iterations']} queries, parent peak RSS {r['peak_rss_kib'] / 1024:.1f} MiB "
                f"(percentiles: {method})"
            )
        v = doc["mb_per_million_queries"]
        print(
            f"parent peak growth = {v:.2f} MB per million queries (goal <= {GOAL_MB_PER_MILLION:g}) [{doc['repo']}]"
            if v is not None
            else "parent peak growth: n/a (the long run timed no more queries than the short one)"
        )
    return 0 if doc["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
