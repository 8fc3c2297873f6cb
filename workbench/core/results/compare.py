"""Side-by-side comparison of stored results, and a verdict on the ratio of medians for two of them.

Table: latency percentiles, throughput, power and energy, accuracy, memory, then every setting whose value differs
between the entries (``settings.*``, batch, input shapes, backend, profile, device, versions …).

Verdict (two entries A, B; ratio = median(B) / median(A), < 1 means B is faster):

- With per-iteration latencies in both entries (``latencies_ms``, possibly subsampled by the benchmark to
  ≤ 20 000 values: ``latencies_subsampled``): a percentile bootstrap. Each run is resampled with replacement
  ``n_boot`` times (default 2000, seeded), the ratio of the two resampled medians is taken, and its 2.5th and
  97.5th percentiles are the 95 % interval (Efron & Tibshirani, "An Introduction to the Bootstrap", ch. 13).
- Otherwise, from summary statistics (``latency_ms.std`` and ``iterations``): the median's standard error is
  approximated as 1.2533·σ/√n (its large-sample value for normal data; latencies are skewed, so this is rough),
  and the interval of the log ratio is log(mB/mA) ± 1.96·√(seA²/mA² + seB²/mB²) (delta method). Said so in
  ``method``.
- An interval that contains 1 gives "no significant difference". Both the bootstrap and the approximation see only
  the variation inside each run; drift between runs (clocks, temperature, other load) is not in them, so two runs
  of the same settings often differ "significantly" by a per cent or so. A difference under 2 % (``small``) is
  therefore reported as "no significant difference beyond run-to-run drift" (``significant`` False,
  ``statistically_significant`` True), never as a speed-up.
"""

from __future__ import annotations

import math
from typing import Any

from workbench.core.errors import ResultsError

SMALL_PCT = 2.0

# (label, dotted path, kind) — kind "num" is formatted as a number, "text" as is.
METRICS: tuple[tuple[str, str], ...] = (
    ("source", "source"),
    ("model", "model"),
    ("precision", "precision"),
    ("backend", "backend"),
    ("profile", "profile"),
    ("device", "device"),
    ("created (UTC)", "created_at"),
    ("iterations", "iterations"),
    ("batch", "batch"),
    ("median ms", "latency_ms.median"),
    ("mean ms", "latency_ms.mean"),
    ("min ms", "latency_ms.min"),
    ("p90 ms", "latency_ms.p90"),
    ("p95 ms", "latency_ms.p95"),
    ("p99 ms", "latency_ms.p99"),
    ("max ms", "latency_ms.max"),
    ("CoV %", "latency_ms.cov_pct"),
    ("throughput inf/s", "throughput_ips"),
    ("throughput qps", "throughput_qps"),
    ("mean power W", "telemetry.mean_power_w"),
    ("peak power W", "telemetry.peak_power_w"),
    ("energy mJ/inf", "telemetry.mj_per_inference"),
    ("max temp °C", "telemetry.temp_max_c"),
    ("telemetry", "telemetry.source"),
    ("top-1 %", "accuracy.top1"),
    ("cosine min", "accuracy.vs_fp32.cosine_min"),
    ("accuracy", "accuracy.verdict"),
    ("artifact bytes", "artifact_bytes"),
    ("peak RSS MB", "peak_rss_mb"),
)
# Settings compared for "what differs" (besides everything under ``settings``).
SETTING_PATHS = ("backend", "profile", "precision", "batch", "input_shapes", "inputs", "device", "model_sha256")


def get(entry: dict[str, Any], dotted: str) -> Any:
    cur: Any = entry
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    if isinstance(cur, dict) and "name" in cur and dotted in ("model", "backend", "profile", "device"):
        return cur["name"]  # some producers store {"name": ..., ...} for these
    return cur


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = value


def differing_settings(entries: list[dict[str, Any]]) -> list[tuple[str, list[Any]]]:
    """``[(setting, [value per entry]), …]`` for every setting whose values are not all equal."""
    flat: list[dict[str, Any]] = []
    for e in entries:
        d: dict[str, Any] = {}
        _flatten("settings", e.get("settings") or {}, d)
        _flatten("versions", e.get("versions") or {}, d)
        for p in SETTING_PATHS:
            d[p] = get(e, p)
        flat.append(d)
    keys = sorted({k for d in flat for k in d})
    out = []
    for k in keys:
        vals = [d.get(k) for d in flat]
        if any(v != vals[0] for v in vals[1:]):
            out.append((k, vals))
    return out


def _latencies(entry: dict[str, Any]) -> list[float] | None:
    v = entry.get("latencies_ms")
    if isinstance(v, list) and len(v) >= 2 and all(isinstance(x, (int, float)) for x in v[:10]):
        return [float(x) for x in v]
    return None


def bootstrap_ratio(
    a: list[float], b: list[float], *, n_boot: int = 2000, seed: int = 0, chunk: int = 100
) -> tuple[float, float, float]:
    """(median(b)/median(a), 2.5th, 97.5th percentile of the bootstrap ratio). Memory: ``chunk`` × len per step."""
    import numpy as np

    xa, xb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    rng = np.random.default_rng(seed)
    ratios = np.empty(n_boot)
    done = 0
    while done < n_boot:
        k = min(chunk, n_boot - done)
        ma = np.median(xa[rng.integers(0, xa.size, size=(k, xa.size))], axis=1)
        mb = np.median(xb[rng.integers(0, xb.size, size=(k, xb.size))], axis=1)
        ratios[done : done + k] = mb / ma
        done += k
    lo, hi = np.percentile(ratios, [2.5, 97.5])
    return float(np.median(xb) / np.median(xa)), float(lo), float(hi)


def ratio_verdict(a: dict[str, Any], b: dict[str, Any], *, n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Ratio of medians B/A with a 95 % interval and a verdict (see module docstring). JSON-ready.

    Keys: ratio, ci95 [lo, hi] or None, method, n [nA, nB], significant (bool or None), small, verdict (text).
    """
    la, lb = _latencies(a), _latencies(b)
    ma, mb = get(a, "latency_ms.median"), get(b, "latency_ms.median")
    doc: dict[str, Any] = {"ratio": None, "ci95": None, "method": None, "n": None, "significant": None}
    if la is not None and lb is not None:
        ratio, lo, hi = bootstrap_ratio(la, lb, n_boot=n_boot, seed=seed)
        sub = [bool(a.get("latencies_subsampled")), bool(b.get("latencies_subsampled"))]
        doc.update(
            ratio=ratio, ci95=[lo, hi], n=[len(la), len(lb)],
            method=f"bootstrap over the stored per-iteration latencies ({n_boot} resamples, seed {seed})"
            + (" (subsampled by the benchmark)" if any(sub) else ""),
        )  # fmt: skip
    elif ma and mb:
        ratio = mb / ma
        doc["ratio"] = ratio
        sa, sb = get(a, "latency_ms.std"), get(b, "latency_ms.std")
        na, nb = a.get("iterations"), b.get("iterations")
        if all(isinstance(x, (int, float)) and x for x in (sa, sb, na, nb)):
            se = math.sqrt((1.2533 * sa / math.sqrt(na) / ma) ** 2 + (1.2533 * sb / math.sqrt(nb) / mb) ** 2)
            doc.update(
                ci95=[ratio * math.exp(-1.96 * se), ratio * math.exp(1.96 * se)], n=[na, nb],
                method="from summary statistics (no per-iteration latencies stored): median's standard error "
                "≈ 1.2533·σ/√n, normal approximation — rough for skewed latencies",
            )  # fmt: skip
        else:
            doc["method"] = "no interval: the entries have neither per-iteration latencies nor std and iterations"
    else:
        doc["method"] = "no ratio: a median is missing"
        doc["verdict"] = "cannot compare medians"
        doc["small"] = None
        return doc
    ratio = doc["ratio"]
    doc["small"] = abs(ratio - 1.0) * 100 < SMALL_PCT
    faster = "B faster" if ratio < 1 else "B slower"
    speed = f"{1 / ratio:.3f}x" if ratio < 1 else f"{ratio:.3f}x"
    if doc["ci95"] is None:
        doc["verdict"] = f"median B/A = {ratio:.4f} ({faster}, {speed}); significance unknown"
        return doc
    lo, hi = doc["ci95"]
    statistically = not (lo <= 1.0 <= hi)
    doc["statistically_significant"] = statistically
    # The interval sees only the noise inside each run; separate runs of the same settings also differ by
    # drift (clock, temperature, other load) of a few per cent. A difference smaller than SMALL_PCT is
    # therefore not called significant even when the within-run interval excludes 1 — and the verdict says so.
    doc["significant"] = statistically and not doc["small"]
    if not statistically:
        doc["verdict"] = f"no significant difference (median B/A = {ratio:.4f}, 95 % CI [{lo:.4f}, {hi:.4f}] spans 1)"
    elif doc["small"]:
        doc["verdict"] = (
            f"no significant difference beyond run-to-run drift (median B/A = {ratio:.4f}, 95 % CI [{lo:.4f}, {hi:.4f}]: "
            f"under {SMALL_PCT:g} %, which separate runs of the same settings also show)"
        )
    else:
        doc["verdict"] = f"significant: median B/A = {ratio:.4f}, 95 % CI [{lo:.4f}, {hi:.4f}] — {faster} ({speed})"
    return doc


def compare(entries: list[dict[str, Any]], *, n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """The comparison document: ids, metric rows, differing settings, and (two entries) the ratio verdict.

    Raises:
        ResultsError: fewer than two entries.
    """
    if len(entries) < 2:
        raise ResultsError("compare needs at least two results", hint="workbench results compare ID ID [ID ...]")
    rows = []
    for label, path in METRICS:
        vals = [get(e, path) for e in entries]
        if label == "source":
            vals = [v or "workbench" for v in vals]
            if all(v == "workbench" for v in vals):
                continue
        if all(v is None for v in vals):
            continue
        rows.append({"metric": label, "values": vals})
    doc: dict[str, Any] = {
        "ids": [e.get("id") for e in entries],
        "labels": [e.get("label") for e in entries],
        "rows": rows,
        "differing_settings": [{"setting": k, "values": v} for k, v in differing_settings(entries)],
    }
    if len(entries) == 2:
        doc["ratio_of_medians"] = ratio_verdict(entries[0], entries[1], n_boot=n_boot, seed=seed)
    return doc


def _cell(v: Any) -> str:
    from workbench.core.results.export import fmt_num

    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return fmt_num(v, unit_digits=4)
    if isinstance(v, (list, dict)):
        import json

        return json.dumps(v, sort_keys=True)
    s = str(v)
    return s.rsplit("/", 1)[-1] if len(s) > 48 and "/" in s else s


def render(doc: dict[str, Any], fmt: str = "text") -> str:
    """``text`` (aligned columns) or ``md`` (GitHub pipe table) of :func:`compare`'s document."""
    heads = ["metric"] + [
        f"#{i}" + (f" ({lab})" if lab else "") for i, lab in zip(doc["ids"], doc["labels"], strict=True)
    ]
    body = [[r["metric"], *(_cell(v) for v in r["values"])] for r in doc["rows"]]
    diff = [[f"≠ {d['setting']}", *(_cell(v) for v in d["values"])] for d in doc["differing_settings"]]
    lines: list[str] = []
    if fmt == "md":

        def md(row: list[str]) -> str:
            return "| " + " | ".join(c.replace("|", "\\|") for c in row) + " |"

        lines.append(md(heads))
        lines.append("|" + "|".join("---" for _ in heads) + "|")
        lines.extend(md(r) for r in body + diff)
    else:
        cells = [heads, *body, *diff]
        widths = [max(len(r[i]) for r in cells) for i in range(len(heads))]
        for r in cells:
            lines.append("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)))
    if not doc["differing_settings"]:
        lines.append("")
        lines.append("Settings: identical in all results.")
    rv = doc.get("ratio_of_medians")
    if rv:
        lines.append("")
        prefix = "**Verdict**: " if fmt == "md" else "Verdict: "
        lines.append(prefix + f"A = #{doc['ids'][0]}, B = #{doc['ids'][1]}: {rv['verdict']}")
        lines.append(("_" if fmt == "md" else "  (") + str(rv["method"]) + ("_" if fmt == "md" else ")"))
    return "\n".join(lines) + "\n"
