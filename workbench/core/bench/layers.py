"""Per-layer time from a runtime profiler, as one report shape every backend fills.

ONNX Runtime (``SessionOptions.enable_profiling``) writes a Chrome-trace JSON list of events: ``cat == "Session"``
events named ``model_run`` span one ``InferenceSession.run``; ``cat == "Node"`` events named
``<node name>_kernel_time`` are one kernel execution, with ``dur`` in microseconds and ``args.op_name`` /
``args.provider`` (fused nodes carry the name of the fusion, e.g. ``…_nchwc``). Nodes are assigned to the run
whose interval contains their start, so the warm-up runs can be skipped (``skip_runs``: the child profiles the
whole session, warm-up included).

Report (JSON-ready dict, read into results.result.LayerProfile; TensorRT's profiler fills the same keys):

- ``source``: "onnxruntime profiler"; ``file``: the profile path; ``runs``: runs counted; ``skipped_runs``.
- ``total_ms``: mean per run of the summed node times (ms); ``run_ms``: mean ``model_run`` duration (ms) — the
  difference is framework overhead between kernels.
- ``layers``: one row per node, slowest first: ``name``, ``op``, ``provider``, ``calls`` (per run),
  ``mean_ms`` (per run), ``share_pct`` (of ``total_ms``); at most ``max_layers`` rows (``layers_total`` counts all).
- ``by_op``: per op type: ``op``, ``nodes``, ``mean_ms``, ``share_pct``, slowest first.
"""

from __future__ import annotations

import bisect
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from workbench.core.errors import BenchmarkError

_SUFFIX = "_kernel_time"


def parse_ort_profile(
    path: str | os.PathLike[str], *, skip_runs: int = 0, keep_last: int | None = None, max_layers: int = 200
) -> dict[str, Any]:
    """Per-node time of an ONNX Runtime profile file (see module docstring for the report).

    Args:
        skip_runs: ignore the first N ``model_run`` events (warm-up).
        keep_last: count only the last N runs (the timed iterations; overrides ``skip_runs``).
        max_layers: keep at most this many rows in ``layers`` (slowest first).

    Raises:
        BenchmarkError: the file is missing, not JSON, not an ORT profile, or has no node event after skipping.
    """
    p = Path(path)
    try:
        with open(p, encoding="utf-8") as fh:
            events = json.load(fh)
    except FileNotFoundError:
        raise BenchmarkError(
            f"layer profile {p} does not exist",
            hint="run the benchmark again with --profile-layers (ONNX Runtime writes a fresh profile each run)",
        ) from None
    except (OSError, ValueError) as exc:
        raise BenchmarkError(
            f"layer profile {p} cannot be read as JSON: {exc}",
            hint="run the benchmark again with --profile-layers (ONNX Runtime writes a fresh profile each run)",
        ) from None
    if not isinstance(events, list):
        raise BenchmarkError(
            f"layer profile {p} is not an ONNX Runtime profile (expected a JSON list of events)",
            hint="give the JSON file ONNX Runtime wrote with enable_profiling, or run the benchmark again with "
            "--profile-layers (ONNX Runtime writes a fresh profile each run)",
        )
    runs = sorted(
        (int(e["ts"]), int(e["ts"]) + int(e.get("dur", 0)))
        for e in events
        if isinstance(e, dict) and e.get("cat") == "Session" and e.get("name") == "model_run" and "ts" in e
    )
    nodes = [
        e
        for e in events
        if isinstance(e, dict) and e.get("cat") == "Node" and str(e.get("name", "")).endswith(_SUFFIX) and "ts" in e
    ]
    if keep_last is not None and runs:
        skip_runs = max(0, len(runs) - int(keep_last))
    kept = runs[skip_runs:] if runs else []
    starts = [r[0] for r in kept]
    per: dict[str, dict[str, Any]] = {}
    counted = 0
    for e in nodes:
        ts = int(e["ts"])
        if runs:
            i = bisect.bisect_right(starts, ts) - 1
            if i < 0 or ts > kept[i][1]:
                continue  # inside a skipped (warm-up) run, or outside any run
        name = str(e["name"])[: -len(_SUFFIX)]
        args = e.get("args") or {}
        row = per.setdefault(
            name, {"name": name, "op": args.get("op_name", "?"), "provider": args.get("provider", "?"), "us": 0, "n": 0}
        )
        row["us"] += int(e.get("dur", 0))
        row["n"] += 1
        counted += 1
    if not counted:
        why = f" after skipping {skip_runs} warm-up run(s)" if skip_runs else ""
        raise BenchmarkError(
            f"layer profile {p} has no node timings{why}",
            hint="run more iterations (--iterations), or fewer warm-up runs, so the profile has timed runs left",
        )
    n_runs = len(kept) if runs else max(r["n"] for r in per.values())
    total_us = sum(r["us"] for r in per.values())
    layers = sorted(per.values(), key=lambda r: (-r["us"], r["name"]))

    def share(us: float) -> float:
        return round(100.0 * us / total_us, 3) if total_us else 0.0

    by_op: dict[str, dict[str, Any]] = defaultdict(lambda: {"nodes": 0, "us": 0})
    for r in layers:
        by_op[r["op"]]["nodes"] += 1
        by_op[r["op"]]["us"] += r["us"]
    return {
        "source": "onnxruntime profiler",
        "file": str(p),
        "runs": n_runs,
        "skipped_runs": min(skip_runs, len(runs)),
        "total_ms": total_us / n_runs / 1000.0,
        "run_ms": (sum(b - a for a, b in kept) / len(kept) / 1000.0) if kept else None,
        "layers_total": len(layers),
        "layers": [
            {
                "name": r["name"],
                "op": r["op"],
                "provider": r["provider"],
                "calls": r["n"] / n_runs,
                "mean_ms": r["us"] / n_runs / 1000.0,
                "share_pct": share(r["us"]),
            }
            for r in layers[:max_layers]
        ],
        "by_op": [
            {"op": op, "nodes": v["nodes"], "mean_ms": v["us"] / n_runs / 1000.0, "share_pct": share(v["us"])}
            for op, v in sorted(by_op.items(), key=lambda kv: (-kv[1]["us"], kv[0]))
        ],
    }
