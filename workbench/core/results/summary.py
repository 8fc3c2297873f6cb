"""Text renderings of results that both faces show: the trtexec-like benchmark summary, its confidence and
percentile tables, the accuracy line, the speed-up line, a stored result's detail view and the per-layer table.

Pure formatting of typed results (results/result.py); stdlib only. The CLI prints these strings, the TUI puts them
in its panes, so the two faces always say the same thing.

A result holds text from outside: the model's path and input names, the profile and device names, layer names from
the runtime's profile, an imported log's fields. Single-line fields are shown escaped (``textsafe.field``) and every
rendering is returned through ``textsafe.block``: no control character or bidi override reaches either face.
"""

from __future__ import annotations

from collections.abc import Sequence

from workbench.core.accuracy import AccuracyReport
from workbench.core.results.format import fmt_num, human_bytes
from workbench.core.results.format import fmt_opt as _f
from workbench.core.results.result import IMPORTED, RECORDED, BenchmarkResult, LayerProfile
from workbench.core.telemetry.recorder import TelemetrySummary
from workbench.core.textsafe import block, field

# The statistics `results show` lists, in this order (JSON names).
SHOW_LATENCY_KEYS = ("min", "mean", "median", "p50", "p90", "p95", "p99", "max", "std", "cov_pct")


def summary(r: BenchmarkResult, verbose: bool = False) -> str:
    """The benchmark summary the CLI prints after a run and the TUI shows when one ends (``verbose`` adds the
    table of every percentile with its 95 % interval)."""
    lat = r.latency
    w = r.warmup
    t = r.throughput
    shapes = {k: list(v) for k, v in r.inputs.shapes.items()} if r.inputs is not None else None
    lines = [
        f"=== {field(r.precision.upper())} — {field(r.backend)} — profile {field(r.profile)} ===",
        f"Model: {field(r.model.path)}",
        f"Artifact: {field(r.artifact.path) if r.artifact else None}{' (cached)' if r.artifact and r.artifact.cached else ''}",
        f"Inputs: {field(r.inputs.source) if r.inputs else None} {field(shapes)}  batch {t.batch}",
        f"Warm-up: {w.iterations if w else 0} iterations in {_f(w.duration_ms if w else None, '.1f', ' ms')}"
        + (f" (first {_f(w.first_ms, '.4f', ' ms')})" if w is not None and w.first_ms is not None else ""),
        f"Timed: {t.iterations} iterations in {_f(t.wall_s, '.3f', ' s')} (host wall time"
        + (f"; contended: {r.contention.describe()})" if r.contended and r.contention else ")"),
        f"Throughput: {_f(t.inferences_per_s, '.1f')} inferences/s",
        f"Latency: min = {_f(lat.min_ms)} ms, max = {_f(lat.max_ms)} ms, mean = {_f(lat.mean_ms)} ms, median = {_f(lat.median_ms)} ms",
        "         "
        + ", ".join(f"{e.key.replace('_', '.')} = {_f(e.value_ms)} ms" for e in lat.percentiles)
        + f", std = {_f(lat.std_ms)} ms, CoV = {_f(lat.cov_pct, '.2f')} %",
    ]
    if r.provenance.kind in (IMPORTED, RECORDED):
        # Figures not measured here say so next to them (a replay says it on the telemetry line).
        lines.insert(1, f"Provenance: {field(r.provenance.describe())}")
    splits = r.timing_splits
    if splits is not None:
        parts = [
            f"{label} {s.median_ms:.4f} ms"
            for k, label in (
                ("h2d_ms", "H2D"),
                ("gpu_compute_ms", "GPU compute"),
                ("d2h_ms", "D2H"),
                ("latency_ms", "Latency (H2D+compute+D2H)"),
            )
            if (s := splits.splits.get(k)) is not None
        ]
        if parts:
            opts = splits.options
            mode = f"CUDA graph {'on' if opts.get('cuda_graph') else 'off'}, transfers {'included' if opts.get('include_transfers', True) else 'excluded'}"
            lines.append("Per query (median): " + ", ".join(parts) + f" ({mode})")
    rep = r.repeat
    if rep is not None:
        meds = ", ".join(f"{m:.4f}" for m in rep.medians_ms)
        lines.append(
            f"Repeats: {rep.runs} processes, per-run medians [{meds}] ms, CV {rep.cv_pct:.2f} %, "
            f"{rep.outliers} outliers (MAD rule, {rep.outlier_pct:.2f} %)"
        )
        for text in rep.warnings:
            lines.append(f"[W] {text}")
    if r.until_stable is not None and r.until_stable.reached:
        lines.append(f"Until stable: {r.until_stable.message}")
    cred = credibility_line(r)
    if cred:
        lines.append(cred)
    if verbose:
        lines.extend(percentile_table(r))
    tag = power_tag(r)
    if r.inferences_per_j is not None:
        lines.append(f"Energy efficiency: {r.inferences_per_j:.1f} inferences/J{tag}")
    idle = r.idle_power
    if idle is not None:
        shown = (
            f"{idle.mean_power_w:.2f} W (not subtracted){tag}"
            if idle.mean_power_w is not None
            else f"n/a ({idle.reason})"
        )
        lines.append(f"Idle power ({idle.seconds:g} s before the run): {shown}")
    if r.above_idle is not None:
        a = r.above_idle
        lines.append(
            f"Above idle [{a.label}]: {a.mean_power_w:.2f} W, {_f(a.mj_per_inference, '.3f', ' mJ/inference')}{tag}"
        )
    if r.telemetry is not None:
        lines.append(telemetry_line(r.telemetry))
    kept = float_kept_line(r.calibration.float_kept) if r.calibration is not None else ""
    if kept:
        lines.append(kept)
    if r.accuracy is not None:
        cal = r.calibration
        lines.append(accuracy_line(r.accuracy, nothing_quantized=cal is not None and cal.quantized_tensors == 0))
    if r.layers is not None:
        lines.extend(layer_table(r.layers, 10))
    for text in r.warnings:
        lines.append(f"[W] {text}")
    if r.result_id is not None:
        lines.append(f"Stored as result {r.result_id}")
    return block("\n".join(lines))


def power_tag(r: BenchmarkResult) -> str:
    """`` [label]`` for a figure derived from power that was not measured on this machine (replayed or recorded
    telemetry, an imported result), so every such figure says so on its own line; "" for a measurement."""
    tel = r.telemetry
    if tel is not None and not tel.measured:
        return f" [{tel.label or 'replayed telemetry — not measured on this machine'}]"
    if not r.is_measurement:
        return f" [{r.provenance.describe()}]"
    return ""


def percentile_table(r: BenchmarkResult) -> list[str]:
    """Every percentile with its 95 % interval, run-length verdict and ranks (``--verbose``)."""
    out = [f"  {'pct':<7} {'value ms':>10} {'95 % CI ms':>24} {'+-':>7}  verdict"]
    for e in r.latency.percentiles:
        if e.ci95_ms is None:
            continue
        lo, hi = e.ci95_ms
        rel = e.rel_half_width
        interval = f"[{_f(lo)}, {_f(hi)}]"
        verdict = "long enough" if e.long_enough else (e.note or "run longer")
        out.append(
            f"  {e.key.replace('_', '.'):<7} {_f(e.value_ms):>10} {interval:>24} {(f'{rel * 100:.1f}%' if rel is not None else 'n/a'):>7}  {verdict}"
        )
    for es in r.latency.early_stopping:
        key = "p" + f"{es.target_percentile:g}"
        if es.value_ms is not None:
            out.append(
                f"  MLPerf early stopping {key}: {es.value_ms:.4f} ms (effective p{es.effective_percentile:.2f}, {es.overlatency_queries_t} queries over)"
            )
        else:
            out.append(f"  MLPerf early stopping {key}: needs >= {es.min_queries} queries")
    return out


def credibility_line(r: BenchmarkResult) -> str | None:
    """95 % intervals of p50 and p99 and whether the run was long enough for them."""
    parts = []
    for p in (50.0, 99.0):
        e = r.latency.get(p)
        if e is None or e.ci95_ms is None:
            continue
        lo, hi = e.ci95_ms
        if lo is None or hi is None:
            parts.append(e.note or f"{e.key}: no 95 % interval at this sample count")
            continue
        rel = e.rel_half_width
        verdict = "long enough" if e.long_enough else "run longer for a tighter interval"
        parts.append(f"{e.key} 95 % CI [{lo:.4f}, {hi:.4f}] ms (+-{rel * 100:.1f} %, {verdict})")
    es = r.latency.early(99.0)
    if es is not None and es.value_ms is not None:
        parts.append(f"MLPerf early-stopping p99 estimate {es.value_ms:.4f} ms (= p{es.effective_percentile:.2f})")
    if not parts:
        return None
    return "Confidence: " + "; ".join(parts)


def telemetry_line(tel: TelemetrySummary) -> str:
    """One line: CPU, RAM, power and energy per inference, temperature — each with the reason when n/a."""
    reasons = tel.reasons or {}
    label = f" [{field(tel.label)}]" if tel.label else ""
    parts = [f"Telemetry ({field(tel.source)}{label}):"]
    parts.append(f"CPU {_f(tel.cpu_pct_mean, '.0f', ' %')}")
    if tel.ram_used_mb_max is not None:
        parts.append(f"RAM {tel.ram_used_mb_max:.0f}/{_f(tel.ram_total_mb, '.0f')} MB")
    if tel.mean_power_w is not None:
        parts.append(f"power mean {tel.mean_power_w:.2f} W, peak {_f(tel.peak_power_w, '.2f', ' W')}")
        parts.append(f"energy {_f(tel.mj_per_inference, '.3f', ' mJ/inference')}")
    else:
        parts.append(f"power n/a ({reasons.get('power') or reasons.get('mean_power_w') or 'unavailable'})")
    if tel.temp_max_c is not None:
        parts.append(f"temp max {tel.temp_max_c:.1f} °C")
    else:
        parts.append(f"temperature n/a ({reasons.get('temps') or reasons.get('temp_max_c') or 'unavailable'})")
    return block(" ".join(parts[:1]) + " " + "; ".join(parts[1:]))


def accuracy_line(acc: AccuracyReport, *, nothing_quantized: bool = False) -> str:
    """The accuracy comparison with FP32 and its verdict (reasons, and advice when it failed). Top-1 figures and
    agreement are percent (core/accuracy.py). ``nothing_quantized``: the INT8 model has no quantized tensor
    (precision/coverage.py), so the verdict line says it compared FP32 with FP32."""
    vs = acc.vs_fp32
    scope = "held-out eval set" if acc.held_out else "calibration samples (not held-out)"
    if acc.reference:
        top = f"top-1 {acc.top1_other:.2f} %" if acc.top1_other is not None else "no labels: top-1 n/a"
        return f"Accuracy (FP32 reference) on {acc.samples} samples of the {scope}: {top}"
    top = ""
    if acc.top1_other is not None and acc.top1_fp32 is not None:
        drop = acc.top1_fp32 - acc.top1_other
        top = f"top-1 {acc.top1_other:.2f} % vs FP32 {acc.top1_fp32:.2f} % ({drop:+.2f} pts drop); "
    elif acc.top1_other is not None:
        top = f"top-1 {acc.top1_other:.2f} %; "
    lines = [
        f"Accuracy vs FP32 on {acc.samples} {scope}: {top}"
        f"cosine min {_f(vs.cosine_min, '.5f')} mean {_f(vs.cosine_mean, '.5f')}, "
        f"max-abs {_f(vs.max_abs, '.4g')}, top-1 agreement {_f(vs.top1_agreement, '.2f', ' %')}"
        f" -> {str(acc.verdict).upper()}"
        + (" (nothing was quantized: this compares FP32 with FP32)" if nothing_quantized else "")
    ]
    lines.extend(f"  {x}" for x in accuracy_detail_lines(acc))
    for reason in acc.reasons:
        lines.append(f"  reason: {reason}")
    if acc.verdict == "fail":
        for a in acc.advice:
            lines.append(f"  advice: {a}")
    return block("\n".join(lines))


def accuracy_detail_lines(acc: AccuracyReport) -> list[str]:
    """The per-slice and task figures worth a line (both faces; none for reports stored before they existed):
    declared parts always, otherwise the worst channels only when one is below the cosine threshold; the task
    line when the spec declares a task. Collapsed slices are in the reasons already."""
    out: list[str] = []
    min_cos = acc.thresholds.get("min_cosine", 0.99)
    for name, o in (acc.per_slice or {}).items():
        if o.selection == "parts":
            body = ", ".join(f"{s.name} cos {s.cosine:.5f} max-abs {s.max_abs:.4g}" for s in o.slices)
            out.append(f"slices of '{name}': {body}")
        elif any(s.cosine < min_cos for s in o.slices):
            body = ", ".join(f"{s.name} cos {s.cosine:.5f}" for s in o.slices if s.cosine < min_cos)
            out.append(f"channels of '{name}' (axis {o.axis}) below cosine {min_cos:g}: {body} (of {o.channels})")
    if acc.task is not None:
        out.append(acc.task.describe())
    return out


def float_kept_line(kept: Sequence[tuple[str, str]] | None) -> str:
    """What the INT8 recipe kept in float (``QuantResult.float_kept`` / ``CalibrationInfo.float_kept``), one
    line; empty when nothing was."""
    if not kept:
        return ""
    return "Kept in float: " + "; ".join(f"{field(t)} ({field(why)})" for t, why in kept)


def speedup_line(fp32: BenchmarkResult, other: BenchmarkResult) -> str:
    """Median-latency speed-up of ``other`` over FP32, with a note when the model is too small to gain."""
    a = fp32.latency.median_ms or 0.0
    b = other.latency.median_ms or 0.0
    ratio = a / b if b else float("nan")
    name = other.precision.upper()
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


def candidate_state(r: BenchmarkResult) -> str:
    """What a 'best' candidate's accuracy check said: the FP32 reference, pass/fail, or unchecked (no data set)."""
    if r.precision == "fp32":
        return "reference"
    if r.accuracy is None:
        return "unchecked: no eval or calibration set, so it cannot be chosen"
    return r.accuracy.verdict


def best_line(
    chosen: BenchmarkResult,
    candidates: Sequence[BenchmarkResult],
    skipped: Sequence[str] = (),
    reasons: Sequence[str] = (),
) -> str:
    """``--precision best``: the chosen precision, each candidate's median and accuracy state, what was skipped,
    then one line per decision (significance, contention)."""
    text = f"Best: {chosen.precision} — candidates: " + ", ".join(
        f"{c.precision} {_f(c.latency.median_ms)} ms ({candidate_state(c)})" for c in candidates
    )
    if skipped:
        text += "; skipped: " + "; ".join(skipped)
    return "\n".join([text, *(f"  {r}" for r in reasons)])


def layer_table(report: LayerProfile, n: int = 10) -> list[str]:
    """The top-``n`` layers as text lines (rank, share, mean ms, op, name) plus a summary line."""
    rows = report.layers
    lines = [
        f"Per-layer profile ({report.source}, {report.runs} runs): "
        f"{report.total_ms:.4f} ms in {report.layers_total} layers per run"
        + (f" (run {report.run_ms:.4f} ms)" if report.run_ms is not None else ""),
        f"  {'#':>3}  {'share':>7}  {'mean ms':>9}  {'op':<18} layer",
    ]
    cum = 0.0
    for i, row in enumerate(rows[:n], 1):
        cum += row.share_pct
        lines.append(
            f"  {i:>3}  {row.share_pct:>6.2f}%  {row.mean_ms:>9.4f}  {field(row.op)[:18]:<18} {field(row.name)}"
        )
    if len(rows) > n:
        lines.append(f"  top {n} = {cum:.1f} % of layer time; {report.layers_total - n} more")
    return [block(line) for line in lines]


SCENARIO_SHORT = {"single-stream": "single", "multi-stream": "multi", "server": "server", "offline": "offline"}


def scenario_text(r: BenchmarkResult, *, short: bool = False) -> str:
    """The scenario a result ran: ``single-stream`` (also for results stored before scenarios existed),
    ``server, 300 queries at 500 QPS``, ``multi-stream, 8 samples per query``, ``offline, batch 4``.
    ``short``: one word for a table column (single, server, multi, offline)."""
    name = r.scenario or "single-stream"
    if short:
        return SCENARIO_SHORT.get(name, name)
    if name == "server" and r.server is not None:
        qps = f" at {r.server.qps_offered:g} QPS" if r.server.qps_offered else ""
        return f"server, {r.server.queries} queries{qps}"
    if name == "multi-stream" and r.multi_stream is not None:
        return f"multi-stream, {r.multi_stream.samples_per_query} samples per query"
    if name == "offline":
        return f"offline, batch {r.throughput.batch}"
    return name


def _dash(v: object) -> str:
    return "-" if v in (None, "") else field(v)


def show_text(r: BenchmarkResult) -> str:
    """Readable multi-line view of one stored result (``workbench results show ID``)."""
    lines = [
        f"Result {r.id}   {r.created_at or ''}",
        f"Model       {_dash(r.model.path)}" + (f"  (sha256 {field(r.model.sha256[:16])}…)" if r.model.sha256 else ""),
        f"Precision   {_dash(r.precision)}   backend {_dash(r.backend)}   profile {_dash(r.profile)}",
        f"Device      {_dash(r.device)}",
    ]
    if r.host is not None:  # a fleet run: the inventory host that measured it
        lines.append(f"Host        {field(r.host)}")
    if r.artifact is not None and r.artifact.path:
        size = f"  ({human_bytes(r.artifact.bytes)})" if r.artifact.bytes is not None else ""
        lines.append(f"Artifact    {field(r.artifact.path)}{size}")
    if r.source and r.source != "workbench":
        lines.append(f"Source      {field(r.source)}" + (f" — {field(r.label)}" if r.label else ""))
    lat = dict(r.latency.stat_items())
    if lat:
        parts = [f"{k} {fmt_num(lat.get(k))}" for k in SHOW_LATENCY_KEYS if k in lat and k != "cov_pct"]
        lines.append("Latency ms  " + ", ".join(parts))
        if lat.get("cov_pct") is not None:
            lines.append(f"CoV         {fmt_num(lat['cov_pct'])} %")
    t = r.throughput
    if t.inferences_per_s is not None:
        lines.append(
            f"Throughput  {fmt_num(t.inferences_per_s)} inferences/s"
            + (f"  ({t.iterations} iterations, batch {t.batch})" if t.iterations else "")
        )
    acc = r.accuracy
    if acc is not None:
        bits = []
        if acc.top1_other is not None:
            bits.append(f"top-1 {acc.top1_other}")
        if acc.vs_fp32.cosine_min is not None:
            bits.append(f"cosine min {fmt_num(acc.vs_fp32.cosine_min, unit_digits=4)}")
        if acc.verdict:
            bits.append(f"verdict {acc.verdict}")
        if acc.held_out is False:
            bits.append("not held-out")
        lines.append("Accuracy    " + (", ".join(bits) or "-"))
    tel = r.telemetry
    if tel is not None:
        measured = tel.measured and r.measured
        bits = [f"source {field(tel.source)}" + ("" if measured else " (replay, not measured here)")]
        for value, label, unit in (
            (tel.mean_power_w, "mean power", "W"),
            (tel.energy_mj, "energy", "mJ"),
            (tel.temp_max_c, "max temp", "°C"),
            (tel.cpu_pct_mean, "CPU", "%"),
        ):
            if value is not None:
                bits.append(f"{label} {fmt_num(value)} {unit}")
        lines.append("Telemetry   " + ", ".join(bits))
    if r.versions:
        lines.append("Versions    " + ", ".join(f"{field(k)} {field(v)}" for k, v in sorted(r.versions.items())))
    if r.layers is not None:
        lines.extend(layer_table(r.layers, 10))
    lines.append(f"(full entry: workbench results show {r.id} --json)")
    return block("\n".join(lines))
