"""Human-readable summaries (trtexec-like) of result entries. Pure formatting, stdlib only."""

from __future__ import annotations

from typing import Any


def _f(value: Any, fmt: str = ".4f", unit: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value:{fmt}}{unit}"


def summary(entry: dict[str, Any], verbose: bool = False) -> str:
    lat = entry["latency_ms"]
    w = entry.get("warmup") or {}
    lines = [
        f"=== {entry['precision'].upper()} — {entry.get('backend')} — profile {entry.get('profile')} ===",
        f"Model: {entry.get('model')}",
        f"Artifact: {entry.get('artifact')}{' (cached)' if entry.get('artifact_cached') else ''}",
        f"Inputs: {entry.get('inputs')} {entry.get('input_shapes')}  batch {entry.get('batch')}",
        f"Warm-up: {w.get('iterations', 0)} iterations in {_f(w.get('duration_ms'), '.1f', ' ms')}"
        + (f" (first {_f(w['latency_ms']['first'], '.4f', ' ms')})" if w.get("latency_ms") else ""),
        f"Timed: {entry['iterations']} iterations in {_f(entry.get('wall_s'), '.3f', ' s')} (host wall time)",
        f"Throughput: {_f(entry.get('throughput_ips'), '.1f')} inferences/s",
        "Latency: min = {} ms, max = {} ms, mean = {} ms, median = {} ms".format(
            _f(lat["min"]), _f(lat["max"]), _f(lat["mean"]), _f(lat["median"])
        ),
        "         "
        + ", ".join(f"{k.replace('_', '.')} = {_f(v)} ms" for k, v in lat.items() if k.startswith("p"))
        + f", std = {_f(lat['std'])} ms, CoV = {_f(lat['cov_pct'], '.2f')} %",
    ]
    splits = entry.get("timing_splits_ms") or {}
    parts = [
        f"{label} {splits[k]['median']:.4f} ms"
        for k, label in (("h2d_ms", "H2D"), ("compute_ms", "GPU compute"), ("d2h_ms", "D2H"))
        if isinstance(splits.get(k), dict)
    ]
    if parts:
        opts = f"CUDA graph {'on' if splits.get('cuda_graph') else 'off'}, transfers {'included' if splits.get('include_transfers', True) else 'excluded'}"
        lines.append("Per query (median): " + ", ".join(parts) + f" ({opts})")
    rep = entry.get("repeat")
    if rep:
        meds = ", ".join(f"{m:.4f}" for m in rep["medians_ms"])
        lines.append(
            f"Repeats: {rep['runs']} processes, per-run medians [{meds}] ms, CV {rep['cv_pct']:.2f} %, "
            f"{rep['outliers']} outliers (MAD rule, {rep['outlier_pct']:.2f} %)"
        )
        for w in rep.get("warnings") or []:
            lines.append(f"[W] {w}")
    if entry.get("until_stable") and entry["until_stable"].get("reached"):
        lines.append(f"Until stable: {entry['until_stable']['message']}")
    cred = credibility_line(entry)
    if cred:
        lines.append(cred)
    if verbose:
        lines.extend(percentile_table(entry))
    if entry.get("inferences_per_j") is not None:
        lines.append(f"Energy efficiency: {entry['inferences_per_j']:.1f} inferences/J")
    idle = entry.get("idle_power") or {}
    if idle:
        w = idle.get("mean_power_w")
        lines.append(
            f"Idle power ({idle.get('seconds'):g} s before the run): "
            + (f"{w:.2f} W (not subtracted)" if w is not None else f"n/a ({idle.get('reason')})")
        )
    if entry.get("above_idle"):
        a = entry["above_idle"]
        lines.append(
            f"Above idle [{a['label']}]: {a['mean_power_w']:.2f} W, {_f(a.get('mj_per_inference'), '.3f', ' mJ/inference')}"
        )
    tel = entry.get("telemetry") or {}
    if tel:
        lines.append(_telemetry_line(tel))
    acc = entry.get("accuracy")
    if acc:
        lines.append(accuracy_line(acc))
    if entry.get("layers"):
        from workbench.core.bench.layers import top_table

        lines.extend(top_table(entry["layers"], 10))
    for w_ in entry.get("warnings") or []:
        lines.append(f"[W] {w_}")
    if entry.get("result_id") is not None:
        lines.append(f"Stored as result {entry['result_id']}")
    return "\n".join(lines)


def percentile_table(entry: dict[str, Any]) -> list[str]:
    """Every percentile with its 95 % interval, run-length verdict and ranks (``--verbose``)."""
    lat = entry.get("latency_ms") or {}
    ci = lat.get("ci95") or {}
    rl = entry.get("run_length") or {}
    out = [f"  {'pct':<7} {'value ms':>10} {'95 % CI ms':>24} {'+-':>7}  verdict"]
    for key, (lo, hi) in ci.items():
        info = rl.get(key) or {}
        rel = info.get("rel_half_width")
        interval = f"[{_f(lo)}, {_f(hi)}]"
        verdict = "long enough" if info.get("long_enough") else (info.get("note") or "run longer")
        out.append(
            f"  {key.replace('_', '.'):<7} {_f(lat.get(key)):>10} {interval:>24} {(f'{rel * 100:.1f}%' if rel is not None else 'n/a'):>7}  {verdict}"
        )
    for key, es in (entry.get("early_stopping") or {}).items():
        if es.get("value_ms") is not None:
            out.append(
                f"  MLPerf early stopping {key}: {es['value_ms']:.4f} ms (effective p{es['effective_percentile']:.2f}, {es['overlatency_queries_t']} queries over)"
            )
        else:
            out.append(f"  MLPerf early stopping {key}: needs >= {es.get('min_queries')} queries")
    return out


def credibility_line(entry: dict[str, Any]) -> str | None:
    """95 % intervals of p50 and p99 and whether the run was long enough for them (issue: benchmark rigor)."""
    ci = (entry.get("latency_ms") or {}).get("ci95") or {}
    rl = entry.get("run_length") or {}
    parts = []
    for key in ("p50", "p99"):
        if key not in ci:
            continue
        lo, hi = ci[key]
        info = rl.get(key) or {}
        if lo is None or hi is None:
            parts.append(info.get("note") or f"{key}: no 95 % interval at this sample count")
            continue
        rel = info.get("rel_half_width")
        verdict = "long enough" if info.get("long_enough") else "run longer for a tighter interval"
        parts.append(f"{key} 95 % CI [{lo:.4f}, {hi:.4f}] ms (+-{rel * 100:.1f} %, {verdict})")
    es = (entry.get("early_stopping") or {}).get("p99") or {}
    if es.get("value_ms") is not None:
        parts.append(
            f"MLPerf early-stopping p99 estimate {es['value_ms']:.4f} ms (= p{es['effective_percentile']:.2f})"
        )
    if not parts:
        return None
    return "Confidence: " + "; ".join(parts)


def _telemetry_line(tel: dict[str, Any]) -> str:
    reasons = tel.get("reasons") or {}
    label = f" [{tel['label']}]" if tel.get("label") else ""
    parts = [f"Telemetry ({tel.get('source')}{label}):"]
    parts.append(f"CPU {_f(tel.get('cpu_pct_mean'), '.0f', ' %')}")
    if tel.get("ram_used_mb_max") is not None:
        parts.append(f"RAM {tel['ram_used_mb_max']:.0f}/{_f(tel.get('ram_total_mb'), '.0f')} MB")
    if tel.get("mean_power_w") is not None:
        parts.append(f"power mean {tel['mean_power_w']:.2f} W, peak {_f(tel.get('peak_power_w'), '.2f', ' W')}")
        parts.append(f"energy {_f(tel.get('mj_per_inference'), '.3f', ' mJ/inference')}")
    else:
        parts.append(f"power n/a ({reasons.get('power') or reasons.get('mean_power_w') or 'unavailable'})")
    if tel.get("temp_max_c") is not None:
        parts.append(f"temp max {tel['temp_max_c']:.1f} °C")
    else:
        parts.append(f"temperature n/a ({reasons.get('temps') or reasons.get('temp_max_c') or 'unavailable'})")
    return " ".join(parts[:1]) + " " + "; ".join(parts[1:])


def accuracy_line(acc: dict[str, Any]) -> str:
    vs = acc.get("vs_fp32") or {}
    scope = "held-out eval set" if acc.get("held_out") else "calibration samples (not held-out)"
    if acc.get("reference"):
        top = f"top-1 {acc['top1']:.2f} %" if acc.get("top1") is not None else "no labels: top-1 n/a"
        return f"Accuracy (FP32 reference) on {acc.get('samples')} samples of the {scope}: {top}"
    top = ""
    # top-1 figures and agreement are percent (0-100); see core/accuracy.py
    if acc.get("top1") is not None and acc.get("top1_fp32") is not None:
        drop = acc["top1_fp32"] - acc["top1"]
        top = f"top-1 {acc['top1']:.2f} % vs FP32 {acc['top1_fp32']:.2f} % ({drop:+.2f} pts drop); "
    elif acc.get("top1") is not None:
        top = f"top-1 {acc['top1']:.2f} %; "
    lines = [
        f"Accuracy vs FP32 on {acc.get('samples')} {scope}: {top}"
        f"cosine min {_f(vs.get('cosine_min'), '.5f')} mean {_f(vs.get('cosine_mean'), '.5f')}, "
        f"max-abs {_f(vs.get('max_abs'), '.4g')}, top-1 agreement {_f(vs.get('top1_agreement'), '.2f', ' %')}"
        f" -> {str(acc.get('verdict', '?')).upper()}"
    ]
    for r in acc.get("reasons") or []:
        lines.append(f"  reason: {r}")
    if acc.get("verdict") == "fail":
        for a in acc.get("advice") or []:
            lines.append(f"  advice: {a}")
    return "\n".join(lines)


def speedup_line(fp32: dict[str, Any], other: dict[str, Any]) -> str:
    a = fp32["latency_ms"]["median"]
    b = other["latency_ms"]["median"]
    ratio = a / b if b else float("nan")
    name = other["precision"].upper()
    text = f"Speed-up {name} vs FP32 (median latency): {ratio:.2f}x ({a:.4f} ms -> {b:.4f} ms)"
    if a < 1.0:
        text += (
            f"\n  Note: at {a * 1000:.0f} µs per query this model is too small for {name} to pay off much on this"
            " backend: per-call overhead and quantize/dequantize at the edges cost about as much as the"
            " arithmetic saves, so a ratio near 1x is expected (and varies with load). Compute-bound nets show"
            " the real gain: benchmarks/int8_speedup.py measures a ResNet-18-shaped model."
        )
    elif ratio < 1.0:
        text += f"\n  Note: {name} is slower than FP32 here; keep FP32 on this device."
    return text
