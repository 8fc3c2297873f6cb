"""Run every benchmark script in benchmarks/ and print one table of measured ratios, each beside its goal.

Each script runs in its own process with the settings of the chosen mode, and its own printed summary line is
parsed (the scripts stay usable alone). ``--quick`` (the default) uses short settings that finish in a few
minutes on a 2-core machine and says which ones in the table; ``--full`` uses each script's own defaults (the
settings the goals are stated for: ResNet-18-shaped 224x224 for INT8, 2000 vs 200 calibration samples, a
10-minute soak), which takes much longer. The machine the table was measured on is printed under it.

Usage: python benchmarks/run_all.py [--quick | --full] [--only NAME[,NAME...]] [--markdown] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# Both sides of every comparison run with onnxruntime's telemetry off, as every workbench process does
# (workbench/__init__.py): set before any onnxruntime import here, and inherited by the child processes.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


@dataclass(frozen=True)
class Row:
    """One table row: a regex over the script's output whose group ``value`` is the measured figure."""

    measure: str
    pattern: str
    goal: str
    ok: object  # callable(float) -> bool
    unit: str = ""


@dataclass(frozen=True)
class Bench:
    name: str
    script: str
    quick: list[str]
    full: list[str]
    rows: list[Row]
    quick_note: str = ""
    full_note: str = ""
    timeout_quick_s: int = 600
    timeout_full_s: int = 7200
    json_rows: dict = field(default_factory=dict)  # for --json scripts: measure -> (key, goal, ok)


def _le(limit: float):
    return lambda v: v <= limit


def _eq(target: float):
    return lambda v: v == target


BENCHES = [
    Bench(
        "harness",
        "harness_overhead.py",
        ["--rounds", "3", "--iterations", "300"],
        [],
        [
            Row(
                "harness / bare ONNX Runtime loop (median)",
                r"bare ORT median = (?P<value>[\d.]+)",
                "<= 1.02",
                _le(1.02),
            )
        ],
        quick_note="ResNet-18-shaped 64x64, 3 x 300 it",
        full_note="ResNet-18-shaped 64x64, 3 x 2000 it",
    ),
    Bench(
        "batch",
        "batch_throughput.py",
        ["--rounds", "3", "--duration", "1"],
        [],
        [
            Row(
                "inferences/s, batch from --shapes / bare ONNX Runtime loop",
                r"bare ORT inferences/s = (?P<value>[\d.]+)",
                "0.95 .. 1.05",
                lambda v: 0.95 <= v <= 1.05,
            )
        ],
        quick_note="MatMul 4x256x256, batch 4, 3 x 1 s",
        full_note="MatMul 4x256x256, batch 4, 3 x 2 s",
    ),
    Bench(
        "tui",
        "tui_overhead.py",
        ["--rounds", "2", "--duration", "1"],
        [],
        [
            Row("TUI / headless (median)", r"median latency:.*TUI/headless (?P<value>[\d.]+)", "<= 1.05", _le(1.05)),
            Row("TUI / headless (p90)", r"p90 latency:.*TUI/headless (?P<value>[\d.]+)", "<= 1.05", _le(1.05)),
        ],
        quick_note="digits CNN, 2 rounds x 1 s",
        full_note="digits CNN, 5 rounds x 2 s",
    ),
    Bench(
        "int8",
        "int8_speedup.py",
        ["--image", "112", "--rounds", "3", "--iterations", "60", "--calib-samples", "8"],
        [],
        [
            Row(
                "INT8/FP32: recipe picked for this CPU / best plain quantize_static",
                r"chosen INT8/FP32 .* = (?P<value>[\d.]+) \(target",
                "<= 1.05",
                _le(1.05),
            )
        ],
        quick_note="ResNet-18-shaped 112x112, 1 thread, 3 rounds x 60 it, 5 plain recipes side by side",
        full_note="ResNet-18-shaped 224x224, 1 thread, 5 rounds x 100 it, 5 plain recipes side by side",
    ),
    Bench(
        "int8_recipe",
        "int8_recipe.py",
        ["--image", "112", "--rounds", "5", "--iterations", "100", "--calib-samples", "8"],
        [],
        [
            Row(
                "INT8/FP32: workbench recipe / best plain quantize_static",
                r"workbench INT8/FP32 .* = (?P<value>[\d.]+) \(target",
                "<= 1.05",
                _le(1.05),
            )
        ],
        quick_note="ResNet-18-shaped 112x112, 1 thread, 5 rounds x 100 it, 5 plain recipes side by side",
        full_note="ResNet-18-shaped 224x224, 1 thread, 5 rounds x 100 it",
        timeout_quick_s=1200,
    ),
    Bench(
        "startup",
        "startup.py",
        ["5"],
        ["10"],
        [
            Row(
                "`workbench --help` / `python -c pass`",
                r"worst ratio (?P<value>[\d.]+)x",
                "<= 5 (goal 3)",
                _le(5.0),
                "x",
            )
        ],
        quick_note="best of 5",
        full_note="best of 10",
    ),
    Bench(
        "sampler",
        "sampler_cpu.py",
        ["--duration", "5"],
        ["--duration", "30"],
        [
            Row(
                "sampler CPU at 10 Hz (host source)",
                r"sampler CPU = (?P<value>[\d.]+) %",
                "<= 1 % of a core",
                _le(1.0),
                " %",
            )
        ],
        quick_note="5 s",
        full_note="30 s",
    ),
    Bench(
        "calib",
        "calib_memory.py",
        ["--image", "32", "--large", "400", "--small", "40"],
        [],
        [
            Row(
                "calibration peak RSS, many / few samples",
                r"ratio peak\(\d+\) / peak\(\d+\) = (?P<value>[\d.]+)",
                "<= 1.10",
                _le(1.10),
            )
        ],
        quick_note="400 vs 40 samples at 32x32 (goal stated for 2000 vs 200 at 224x224)",
        full_note="2000 vs 200 samples at 224x224",
    ),
    Bench(
        "localize",
        "localize_runtime.py",
        ["--blocks", "6"],
        [],
        [
            Row(
                "per-layer + auto-exclude wall time (recogniser-shaped CNN, 48x192)",
                r"wall time = (?P<value>[\d.]+) s",
                "<= 600 s",
                _le(600.0),
                " s",
            )
        ],
        quick_note="6 blocks (about 80 Q/DQ pairs; goal stated for about 150)",
        full_note="11 blocks, about 150 Q/DQ pairs",
        timeout_quick_s=900,
    ),
    Bench(
        "long_run_memory",
        "long_run_memory.py",
        ["--short", "3", "--long", "15"],
        [],
        [
            Row(
                "parent peak RSS growth per million queries (bundled model, foreground bench)",
                r"parent peak growth = (?P<value>-?[\d.]+) MB per million",
                "<= 2 MB",
                _le(2.0),
                " MB",
            )
        ],
        quick_note="3 s vs 15 s runs (goal stated for 10 s vs 90 s)",
        full_note="10 s vs 90 s runs",
        timeout_quick_s=900,
    ),
    Bench(
        "soak",
        "soak.py",
        ["--duration", "30", "--capacity", "100", "--json"],
        ["--json"],
        [],
        quick_note="30 s, ring of 100 samples",
        full_note="600 s, ring of 3000 samples",
        json_rows={
            "soak: parent RSS growth after buffers filled": ("parent_rss_growth_pct", "<= 5 %", _le(5.0), " %"),
            "soak: child RSS growth after buffers filled": ("child_rss_growth_pct", "<= 5 %", _le(5.0), " %"),
            "soak: lost benchmark batches (by seq)": ("batches_lost", "0", _eq(0), ""),
            "soak: lost telemetry samples (by seq)": ("telemetry_lost", "0", _eq(0), ""),
        },
    ),
]


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware")):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        import psutil

        mem = round(psutil.virtual_memory().total / 2**30, 1)
    except Exception:  # noqa: BLE001 - optional detail
        pass
    model = None
    for p in ("/proc/device-tree/model", "/sys/firmware/devicetree/base/model"):
        try:
            model = Path(p).read_bytes().rstrip(b"\0").decode()
            break
        except OSError:
            continue
    try:
        import onnxruntime

        ort = onnxruntime.__version__
    except ImportError:
        ort = None
    return {
        "board": model,
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "ram_gib": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "onnxruntime": ort,
    }


def start_bench(b: Bench, full: bool) -> list[dict]:
    args = b.full if full else b.quick
    env = dict(os.environ)
    env.setdefault("WORKBENCH_HOME", tempfile.mkdtemp(prefix=f"wb-bench-{b.name}-"))
    t0 = time.monotonic()
    note = b.full_note if full else b.quick_note
    try:
        res = subprocess.run(
            [sys.executable, str(HERE / b.script), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=b.timeout_full_s if full else b.timeout_quick_s,
        )
        out, code = res.stdout, res.returncode
        err = res.stderr
    except subprocess.TimeoutExpired:
        out, code, err = "", None, "timed out"
    seconds = time.monotonic() - t0
    rows = []
    if b.json_rows:
        try:
            doc = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            doc = None
        for measure, (key, goal, ok, unit) in b.json_rows.items():
            value = doc.get(key) if doc else None
            rows.append(_row(b, measure, value, goal, ok, unit, note, seconds, code, err, doc is None))
    for r in b.rows:
        m = None
        for line in out.splitlines():
            m = re.search(r.pattern, line) or m
        value = float(m.group("value")) if m else None
        rows.append(_row(b, r.measure, value, r.goal, r.ok, r.unit, note, seconds, code, err, m is None))
    return rows


def _row(b, measure, value, goal, ok, unit, note, seconds, code, err, failed) -> dict:
    if failed:
        why = (err or "").strip().splitlines()[-1:] or [f"exit {code}"]
        status = f"no figure ({why[0][:80]})"
    elif value is None:
        status = "n/a"
    else:
        status = "met" if ok(value) else "missed"
    return {
        "bench": b.name,
        "measure": measure,
        "value": value,
        "unit": unit,
        "goal": goal,
        "status": status,
        "settings": note,
        "seconds": round(seconds, 1),
    }


def _fmt(v, unit: str) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}{unit}" if abs(v) < 100 else f"{v:.1f}{unit}"
    return f"{v}{unit}"


def table(rows: list[dict], markdown: bool) -> str:
    head = ["measure", "measured", "goal", "status", "settings"]
    body = [[r["measure"], _fmt(r["value"], r["unit"]), r["goal"], r["status"], r["settings"]] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(c) + " |" for c in body]
        return "\n".join(lines)
    widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(len(head))]
    fmt = "  ".join(f"{{:{'>' if i == 1 else '<'}{w}}}" for i, w in enumerate(widths))
    lines = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*c) for c in body]
    return "\n".join(line.rstrip() for line in lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="short settings (default)")
    mode.add_argument("--full", action="store_true", help="each script's own settings (long: the soak alone is 10 min)")
    ap.add_argument("--only", help="comma list of: " + ", ".join(b.name for b in BENCHES))
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown (for the README)")
    ap.add_argument("--json", metavar="FILE", help="also write the rows and the machine as JSON")
    args = ap.parse_args(argv)
    wanted = set(args.only.split(",")) if args.only else {b.name for b in BENCHES}
    unknown = wanted - {b.name for b in BENCHES}
    if unknown:
        ap.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    rows = []
    for b in BENCHES:
        if b.name in wanted:
            print(f"running {b.script} ({'full' if args.full else 'quick'}) ...", file=sys.stderr, flush=True)
            rows += start_bench(b, args.full)
    mach = machine()
    print(table(rows, args.markdown))
    print()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    board = f"{mach['board']}, " if mach["board"] else ""
    print(
        f"measured {when} ({'full' if args.full else 'quick'} settings) on {board}{mach['cpu']}, {mach['cpus']} CPUs, "
        f"{mach['ram_gib']} GiB RAM, {mach['os']}, Python {mach['python']}, onnxruntime {mach['onnxruntime']}"
    )
    if args.json:
        from workbench.core.fsutil import write_text_atomic

        doc = {"machine": mach, "when": when, "full": args.full, "rows": rows}
        write_text_atomic(args.json, json.dumps(doc, indent=1))
    missing = [r for r in rows if r["status"].startswith("no figure")]
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
