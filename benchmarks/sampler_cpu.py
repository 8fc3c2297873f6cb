"""CPU cost of the telemetry sampler: the Recorder thread reading the host source at 10 Hz, in % of one core.

Method: this process opens the host source (psutil: per-CPU load and frequency, RAM, temperatures, RAPL where
readable), starts a ``Recorder`` at ``--interval-ms`` and sleeps on the main thread for ``--duration`` seconds.
CPU % = process CPU time (user + system, ``time.process_time``) spent during that span / wall time x 100. The
same span slept without a recorder first gives the idle baseline, which is subtracted. Also printed: CPU time
per sample (ms). Goal: <= 1 % of one core at 10 Hz (our goal: the sampler must not compete with the model for
a core of a 4-core Jetson; not a figure from the issues).

Usage: python benchmarks/sampler_cpu.py [--duration 10] [--interval-ms 100] [--source host] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GOAL_PCT = 1.0


def _cpu_over(seconds: float, work=None) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of this process while the main thread sleeps ``seconds``."""
    c0, w0 = time.process_time(), time.perf_counter()
    time.sleep(seconds)
    return time.process_time() - c0, time.perf_counter() - w0


def measure(source_spec: str, interval_ms: int, duration_s: float) -> dict:
    from workbench.core.telemetry import Recorder, open_source

    idle_cpu, idle_wall = _cpu_over(min(duration_s, 3.0))
    source = open_source(source_spec)
    rec = Recorder(source, interval_ms=interval_ms)
    rec.start()
    time.sleep(2 * interval_ms / 1000)  # past the first reads (psutil primes its counters)
    n0 = len(rec.snapshot())
    cpu, wall = _cpu_over(duration_s)
    n1 = len(rec.snapshot())
    rec.stop()
    source.close()
    idle_pct = 100.0 * idle_cpu / idle_wall
    pct = 100.0 * cpu / wall - idle_pct
    samples = max(1, n1 - n0)
    return {
        "source": source.name,
        "interval_ms": interval_ms,
        "duration_s": round(wall, 2),
        "samples": samples,
        "cpu_pct": round(pct, 3),
        "idle_pct": round(idle_pct, 3),
        "cpu_ms_per_sample": round(1000.0 * cpu / samples, 3),
        "goal_pct": GOAL_PCT,
        "ok": pct <= GOAL_PCT,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=10.0, help="measured seconds (default 10)")
    ap.add_argument("--interval-ms", type=int, default=100, help="sampling interval (default 100 = 10 Hz)")
    ap.add_argument("--source", default="host", help="telemetry source (default host)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    doc = measure(args.source, args.interval_ms, args.duration)
    if args.json:
        print(json.dumps(doc))
    else:
        print(
            f"{doc['source']} at {1000 / doc['interval_ms']:g} Hz: {doc['samples']} samples in {doc['duration_s']} s, "
            f"{doc['cpu_ms_per_sample']} ms CPU per sample"
        )
        print(f"sampler CPU = {doc['cpu_pct']:.3f} % of one core (idle baseline {doc['idle_pct']:.3f} % subtracted)")
        print(f"target <= {GOAL_PCT:g} %: {'met' if doc['ok'] else 'MISSED'}")
    return 0 if doc["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
