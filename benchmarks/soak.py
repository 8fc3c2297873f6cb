"""Soak: a long benchmark with 10 Hz telemetry replayed from a tegrastats log; memory growth and lost samples.

What runs: the workbench's own pieces, as ``workbench bench`` wires them (bench.run.run_benchmark): the benchmark
child (``run_child``) streaming latency batches, and a telemetry ``Recorder`` sampling a replay source
(``replay:FILE,interval_ms=100``) in this process. Meanwhile a monitor thread, once a second, records this
process's and the child's RSS (psutil) and every telemetry sequence number it sees in the recorder's history
(the ring buffer holds ``capacity`` samples, far more than one second's worth, so none slips past unseen).

Reported:

- RSS growth after the ring buffers filled: (RSS at the end - RSS when the history first held ``capacity``
  samples) / the latter, for this process (the parent) and for the child. Goal <= 5 %. The parent keeps the
  first ``EXACT_CAP`` (1 000 000) latencies it receives in a buffer reserved when the run starts (8 MB, 8 bytes
  a latency) and a fixed-size histogram of all of them (core/bench/stream.py): at the default 200 QPS a
  30-minute soak keeps 360 000 (2.7 MiB) inside that reserve, so they do not grow the process; the report gives
  the kept latencies' share and the counts kept.
- lost samples: benchmark batches missing from the child's ``Samples.seq`` sequence (BenchOutcome.batches_lost)
  and telemetry samples missing from ``TelemetrySample.seq`` (gaps between the first and last seen). Goal 0.
  Read errors and skipped sampler ticks are shown beside them.

Usage: python benchmarks/soak.py [--duration 600] [--interval-ms 100] [--capacity 3000] [--qps 200]
                                 [--scenario server|single-stream] [--log FILE] [--model PATH] [--json]
Exit status 0 when both goals are met (RSS only when the buffers filled), else 1.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEFAULT_LOG = REPO / "tests" / "fixtures" / "tegrastats" / "orin-nano-8gb-super-jp62-interval100-hokwangchoi.log"
RAW_BYTES = 8  # a kept latency: one int64 in the parent's reserved buffer (core/bench/stream.py), up to its cap


class Monitor(threading.Thread):
    """Samples RSS of this process and the child, and the recorder's telemetry seq numbers, every ``period_s``."""

    def __init__(self, recorder, control, period_s: float = 1.0) -> None:
        super().__init__(name="soak-monitor", daemon=True)
        import psutil

        self.psutil = psutil
        self.me = psutil.Process()
        self.recorder = recorder
        self.control = control
        self.period_s = period_s
        self.stop_event = threading.Event()
        self.rows: list[tuple[float, int, int | None, int]] = []  # (t, parent rss, child rss, history length)
        self.seqs: set[int] = set()
        self.filled_at: float | None = None
        self._child = None

    def _child_rss(self) -> int | None:
        proc = getattr(self.control, "_proc", None)
        if proc is None or proc.poll() is not None:
            return None
        try:
            if self._child is None or self._child.pid != proc.pid:
                self._child = self.psutil.Process(proc.pid)
            return self._child.memory_info().rss
        except self.psutil.Error:
            return None

    def tick(self) -> None:
        hist = self.recorder.snapshot()
        self.seqs.update(s.seq for s in hist)
        now = time.monotonic()
        if self.filled_at is None and len(hist) >= (self.recorder.history.maxlen or 0):
            self.filled_at = now
        self.rows.append((now, self.me.memory_info().rss, self._child_rss(), len(hist)))

    def run(self) -> None:
        while not self.stop_event.wait(self.period_s):
            self.tick()


def _growth(rows: list, col: int, since: float | None) -> tuple[float | None, float | None, float | None]:
    """(% growth, start MiB, end MiB) of column ``col`` from the fill time to the end (medians of 3 readings)."""
    if since is None:
        return None, None, None
    after = [r[col] for r in rows if r[0] >= since and r[col] is not None]
    if len(after) < 4:
        return None, None, None
    start = statistics.median(after[:3])
    end = statistics.median(after[-3:])
    return 100.0 * (end - start) / start, start / 2**20, end / 2**20


def _machine() -> str:
    """The machine in a few words (CPU model, cores, RAM), for the report's figure."""
    import platform

    import psutil

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    ram_gib = psutil.virtual_memory().total / 2**30
    return f"{model}, {os.cpu_count()} cores, {ram_gib:.0f} GiB RAM, {platform.system()} {platform.machine()}"


def soak(args: argparse.Namespace) -> dict:
    from workbench.core.backends.ort import OrtBackend
    from workbench.core.bench import events as ev
    from workbench.core.bench.config import BenchConfig
    from workbench.core.bench.parent import ChildControl, run_child
    from workbench.core.profiles import load_profile
    from workbench.core.telemetry import Recorder, open_source

    os.environ.setdefault("WORKBENCH_HOME", tempfile.mkdtemp(prefix="wb-soak-"))
    model = Path(args.model) if args.model else REPO / "workbench" / "data" / "models" / "digits_cnn.onnx"
    artifact = OrtBackend().build(model, "fp32", load_profile("cpu-x86_64"))
    source = open_source(f"replay:{args.log},interval_ms={args.interval_ms}")
    recorder = Recorder(source, interval_ms=args.interval_ms, capacity=args.capacity)
    control = ChildControl()
    cfg = BenchConfig(
        artifact_path=str(artifact.path),
        intra_op_threads=1,
        duration_s=args.duration,
        warmup_ms=200,
        scenario=args.scenario,
        qps=args.qps if args.scenario == "server" else None,
    )
    monitor = Monitor(recorder, control)
    received = {"latencies_after_fill": 0}

    def on_event(event: object) -> None:
        if isinstance(event, ev.TimedStart):
            recorder.mark_window_start()
        elif isinstance(event, ev.TimedEnd):
            recorder.mark_window_end()
        elif isinstance(event, ev.Samples) and monitor.filled_at is not None:
            received["latencies_after_fill"] += len(event.latencies_ns)

    recorder.start()
    monitor.start()
    t0 = time.monotonic()
    try:
        outcome = run_child(cfg, on_event=on_event, control=control)
    finally:
        monitor.stop_event.set()
        monitor.join()
        monitor.tick()
        summary = recorder.stop()
        source.close()
    wall = time.monotonic() - t0
    seqs = sorted(monitor.seqs)
    tel_lost = (seqs[-1] - seqs[0] + 1 - len(seqs)) if seqs else None
    tel_expected = int(wall * 1000 / args.interval_ms)
    parent = _growth(monitor.rows, 1, monitor.filled_at)
    child = _growth(monitor.rows, 2, monitor.filled_at)
    # kept after the fill: what of the latencies received since then went into the capped raw array
    kept_after_fill = max(0, len(outcome.latencies_ns) - (outcome.stream.count - received["latencies_after_fill"]))
    retained_mib = kept_after_fill * RAW_BYTES / 2**20
    doc = {
        "duration_s": args.duration,
        "wall_s": round(wall, 1),
        "scenario": args.scenario,
        "qps": cfg.qps,
        "interval_ms": args.interval_ms,
        "capacity": args.capacity,
        "buffers_filled_after_s": round(monitor.filled_at - t0, 1) if monitor.filled_at else None,
        "iterations": outcome.iterations,
        "batches_received": outcome.batches_received,
        "batches_lost": outcome.batches_lost,
        "telemetry_samples_seen": len(seqs),
        "telemetry_lost": tel_lost,
        "telemetry_read_errors": recorder.read_errors,
        "telemetry_ticks_expected": tel_expected,
        "telemetry_ticks_skipped": max(0, tel_expected - len(seqs)),
        "telemetry_window_samples": summary.samples,
        "parent_rss_growth_pct": parent[0],
        "parent_rss_mib": [parent[1], parent[2]],
        "child_rss_growth_pct": child[0],
        "child_rss_mib": [child[1], child[2]],
        "retained_latencies_mib_after_fill": round(retained_mib, 2),
        "latencies_kept": len(outcome.latencies_ns),
        "latencies_total": outcome.stream.count,
        "source": source.name,
        "machine": _machine(),
    }
    filled = parent[0] is not None
    doc["rss_ok"] = (parent[0] <= args.max_growth_pct and (child[0] or 0) <= args.max_growth_pct) if filled else None
    doc["lost_ok"] = doc["batches_lost"] == 0 and tel_lost == 0
    return doc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=600.0, help="timed seconds (default 600)")
    ap.add_argument("--interval-ms", type=int, default=100, help="telemetry interval (default 100 = 10 Hz)")
    ap.add_argument("--capacity", type=int, default=3000, help="telemetry history ring size (Recorder default 3000)")
    ap.add_argument("--scenario", choices=("server", "single-stream"), default="server")
    ap.add_argument("--qps", type=float, default=200.0, help="server scenario: queries per second (default 200)")
    ap.add_argument("--log", type=Path, default=DEFAULT_LOG, help="tegrastats log replayed as telemetry")
    ap.add_argument("--model", help="ONNX model (default: the bundled digits CNN)")
    ap.add_argument("--max-growth-pct", type=float, default=5.0)
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    args = ap.parse_args(argv)
    doc = soak(args)
    if args.json:
        print(json.dumps(doc))
    else:

        def pct(v):
            return "n/a (buffers not filled: run longer or lower --capacity)" if v is None else f"{v:+.2f} %"

        print(f"soak {doc['wall_s']} s, {doc['scenario']}, telemetry {doc['source']} every {doc['interval_ms']} ms")
        print(f"ring buffers ({doc['capacity']} samples) filled after {doc['buffers_filled_after_s']} s")
        print(
            f"parent RSS growth after fill: {pct(doc['parent_rss_growth_pct'])} "
            f"(latencies kept since, inside the reserved buffer: {doc['retained_latencies_mib_after_fill']} MiB)"
        )
        print(f"child RSS growth after fill:  {pct(doc['child_rss_growth_pct'])}")
        print(f"latencies kept by the parent: {doc['latencies_kept']} of {doc['latencies_total']} (histogram of all)")
        print(
            f"lost benchmark batches: {doc['batches_lost']} of {doc['batches_received']} received; "
            f"lost telemetry samples: {doc['telemetry_lost']} of {doc['telemetry_samples_seen']} seen "
            f"(read errors {doc['telemetry_read_errors']}, ticks skipped {doc['telemetry_ticks_skipped']})"
        )
        print(f"goals: RSS growth <= {args.max_growth_pct:g} % ({doc['rss_ok']}), lost samples = 0 ({doc['lost_ok']})")
        print(f"machine: {doc['machine']}")
    return 0 if doc["lost_ok"] and doc["rss_ok"] is not False else 1


if __name__ == "__main__":
    sys.exit(main())
