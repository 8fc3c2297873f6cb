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

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.core.errors import ResultsError
from workbench.core.results.result import BenchmarkResult
from workbench.core.textsafe import field

SMALL_PCT = 2.0


def _acc(get: Callable[[Any], Any]) -> Callable[[BenchmarkResult], Any]:
    return lambda r: get(r.accuracy) if r.accuracy is not None else None


def _tel(get: Callable[[Any], Any]) -> Callable[[BenchmarkResult], Any]:
    return lambda r: get(r.telemetry) if r.telemetry is not None else None


def trtexec_latency_ms(r: BenchmarkResult) -> float | None:
    """trtexec's "Latency" median (ms): H2D + GPU compute + D2H of one query from CUDA events. An imported trtexec
    summary's latency is that figure; a run measured here carries it beside its host wall time
    (``timing_splits_ms.latency_ms``, GPU backends only). None otherwise."""
    if r.imported is not None:
        return r.latency.median_ms
    s = r.timing_splits.splits.get("latency_ms") if r.timing_splits is not None else None
    return s.median_ms if s is not None else None


def gpu_compute_ms(r: BenchmarkResult) -> float | None:
    """trtexec's "GPU Compute Time" median (ms): an import's section, or a GPU run's ``timing_splits_ms``."""
    if r.imported is not None:
        sec = r.imported.sections.get("gpu_compute_ms")
        v = sec.get("median") if isinstance(sec, dict) else None
        return float(v) if isinstance(v, (int, float)) else None
    s = r.timing_splits.splits.get("gpu_compute_ms") if r.timing_splits is not None else None
    return s.median_ms if s is not None else None


# (label, typed getter): the comparison table's rows, in order.
METRICS: tuple[tuple[str, Callable[[BenchmarkResult], Any]], ...] = (
    ("source", lambda r: r.source),
    ("model", lambda r: r.model.path),
    ("precision", lambda r: r.precision),
    ("backend", lambda r: r.backend),
    ("profile", lambda r: r.profile),
    ("device", lambda r: r.device),
    ("host", lambda r: r.host),  # fleet runs only (a row of all None is left out)
    ("created (UTC)", lambda r: r.created_at),
    ("iterations", lambda r: r.throughput.iterations),
    ("batch", lambda r: r.throughput.batch),
    ("median ms", lambda r: r.latency.median_ms),
    ("mean ms", lambda r: r.latency.mean_ms),
    ("min ms", lambda r: r.latency.min_ms),
    ("p90 ms", lambda r: r.latency.value(90.0)),
    ("p95 ms", lambda r: r.latency.value(95.0)),
    ("p99 ms", lambda r: r.latency.value(99.0)),
    ("max ms", lambda r: r.latency.max_ms),
    ("trtexec Latency median ms", trtexec_latency_ms),
    ("GPU compute median ms", gpu_compute_ms),
    ("CoV %", lambda r: r.latency.cov_pct),
    ("throughput inf/s", lambda r: r.throughput.inferences_per_s),
    ("throughput qps", lambda r: r.throughput.queries_per_s),
    ("mean power W", _tel(lambda t: t.mean_power_w)),
    ("peak power W", _tel(lambda t: t.peak_power_w)),
    ("energy mJ/inf", _tel(lambda t: t.mj_per_inference)),
    ("max temp °C", _tel(lambda t: t.temp_max_c)),
    ("telemetry", _tel(lambda t: t.source)),
    ("top-1 %", _acc(lambda a: a.top1_other)),
    ("cosine min", _acc(lambda a: a.vs_fp32.cosine_min)),
    ("accuracy", _acc(lambda a: a.verdict)),
    ("artifact bytes", lambda r: r.artifact.bytes if r.artifact else None),
    ("peak RSS MB", lambda r: r.peak_rss_mb),
)
# Settings compared for "what differs" (besides everything under ``settings`` and ``versions``).
SETTING_GETTERS: tuple[tuple[str, Callable[[BenchmarkResult], Any]], ...] = (
    ("backend", lambda r: r.backend),
    ("profile", lambda r: r.profile),
    ("precision", lambda r: r.precision),
    ("batch", lambda r: r.throughput.batch),
    ("input_shapes", lambda r: {k: list(v) for k, v in r.inputs.shapes.items()} if r.inputs else None),
    ("inputs", lambda r: r.inputs.source if r.inputs else None),
    ("device", lambda r: r.device),
    ("host", lambda r: r.host),
    ("model_sha256", lambda r: r.model.sha256),
)


@dataclass(frozen=True)
class CompareRow:
    """One metric across the compared results (numbers stay numbers: the renderer formats them)."""

    metric: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class SettingDiff:
    """A setting whose values are not all equal across the compared results."""

    setting: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class RatioVerdict:
    """Ratio of medians B/A (< 1: B is faster) with its 95 % interval and the verdict (module docstring).

    ``significant`` is None without an interval; ``small`` None without a ratio; ``statistically_significant``
    is set only when there is an interval."""

    ratio: float | None
    ci95: tuple[float, float] | None
    method: str | None
    n: tuple[int, int] | None
    significant: bool | None
    small: bool | None
    verdict: str
    statistically_significant: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "ratio": self.ratio,
            "ci95": list(self.ci95) if self.ci95 is not None else None,
            "method": self.method,
            "n": list(self.n) if self.n is not None else None,
            "significant": self.significant,
            "small": self.small,
            "verdict": self.verdict,
        }
        if self.statistically_significant is not None:
            d["statistically_significant"] = self.statistically_significant
        return d


@dataclass(frozen=True)
class Comparison:
    """Results side by side: their ids and labels, the metric rows, the settings that differ, and for two
    results the ratio verdict. Provenance is kept per result (``measured``): figures that are not measurements
    of this machine are marked wherever the comparison is shown."""

    ids: tuple[int | None, ...]
    labels: tuple[str | None, ...]
    rows: tuple[CompareRow, ...]
    differing_settings: tuple[SettingDiff, ...]
    ratio_of_medians: RatioVerdict | None = None
    measurements: tuple[bool, ...] = ()
    provenances: tuple[str, ...] = ()  # results.result.Provenance.kind of each result
    warnings: tuple[str, ...] = ()  # different networks or workloads: the figures are not of one thing

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "ids": list(self.ids),
            "labels": list(self.labels),
            "rows": [{"metric": r.metric, "values": list(r.values)} for r in self.rows],
            "differing_settings": [{"setting": x.setting, "values": list(x.values)} for x in self.differing_settings],
            "warnings": list(self.warnings),
        }
        if self.ratio_of_medians is not None:
            d["ratio_of_medians"] = self.ratio_of_medians.to_dict()
        return d


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = value


def differing_settings(results: Sequence[BenchmarkResult]) -> list[SettingDiff]:
    """Every setting (``settings.*``, ``versions.*``, backend, profile, batch …) whose values are not all equal."""
    flat: list[dict[str, Any]] = []
    for r in results:
        d: dict[str, Any] = {}
        _flatten("settings", r.settings.to_dict() if r.settings is not None else {}, d)
        _flatten("versions", dict(r.versions), d)
        for name, get in SETTING_GETTERS:
            d[name] = get(r)
        flat.append(d)
    keys = sorted({k for d in flat for k in d})
    out = []
    for k in keys:
        vals = tuple(d.get(k) for d in flat)
        if any(v != vals[0] for v in vals[1:]):
            out.append(SettingDiff(k, vals))
    return out


def _latencies(r: BenchmarkResult) -> list[float] | None:
    v = r.latencies_ms
    return list(v) if v is not None and len(v) >= 2 else None


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


def ratio_verdict(a: BenchmarkResult, b: BenchmarkResult, *, n_boot: int = 2000, seed: int = 0) -> RatioVerdict:
    """Ratio of medians B/A with a 95 % interval and a verdict (see module docstring).

    An imported trtexec summary against a GPU run of ours compares like with like: trtexec's "Latency" (CUDA
    events, H2D + compute + D2H) on both sides, not our host wall time (which adds the Python call and the
    synchronize); without per-query data for the import there is no interval."""
    if (a.imported is None) != (b.imported is None):
        ta, tb = trtexec_latency_ms(a), trtexec_latency_ms(b)
        if ta and tb:
            ratio = tb / ta
            faster = "B faster" if ratio < 1 else "B slower"
            speed = f"{1 / ratio:.3f}x" if ratio < 1 else f"{ratio:.3f}x"
            return RatioVerdict(
                ratio,
                None,
                "trtexec Latency on both sides (H2D + GPU compute + D2H from CUDA events; the measured run's host "
                "wall time is not what trtexec reports); the import has no per-query latencies, so no interval",
                None,
                None,
                abs(ratio - 1.0) * 100 < SMALL_PCT,
                f"median trtexec Latency B/A = {ratio:.4f} ({faster}, {speed}); significance unknown",
            )
    la, lb = _latencies(a), _latencies(b)
    ma, mb = a.latency.median_ms, b.latency.median_ms
    if la is not None and lb is not None:
        ratio, lo, hi = bootstrap_ratio(la, lb, n_boot=n_boot, seed=seed)
        sub = a.latencies_subsampled or b.latencies_subsampled
        ci: tuple[float, float] | None = (lo, hi)
        n: tuple[int, int] | None = (len(la), len(lb))
        method = f"bootstrap over the stored per-iteration latencies ({n_boot} resamples, seed {seed})" + (
            " (subsampled by the benchmark)" if sub else ""
        )
    elif ma and mb:
        ratio = mb / ma
        sa, sb = a.latency.std_ms, b.latency.std_ms
        na, nb = a.throughput.iterations, b.throughput.iterations
        if sa and sb and na and nb:
            se = math.sqrt((1.2533 * sa / math.sqrt(na) / ma) ** 2 + (1.2533 * sb / math.sqrt(nb) / mb) ** 2)
            ci = (ratio * math.exp(-1.96 * se), ratio * math.exp(1.96 * se))
            n = (na, nb)
            method = (
                "from summary statistics (no per-iteration latencies stored): median's standard error "
                "≈ 1.2533·σ/√n, normal approximation — rough for skewed latencies"
            )
        else:
            ci, n = None, None
            lacking = [k for k, r in (("A", a), ("B", b)) if not (r.latency.std_ms and r.throughput.iterations)]
            method = (
                f"no interval: {' and '.join(lacking)} {'has' if len(lacking) == 1 else 'have'} neither per-iteration "
                "latencies nor std and iterations"
            )
    else:
        return RatioVerdict(None, None, "no ratio: a median is missing", None, None, None, "cannot compare medians")
    small = abs(ratio - 1.0) * 100 < SMALL_PCT
    faster = "B faster" if ratio < 1 else "B slower"
    speed = f"{1 / ratio:.3f}x" if ratio < 1 else f"{ratio:.3f}x"
    if ci is None:
        return RatioVerdict(
            ratio, None, method, n, None, small, f"median B/A = {ratio:.4f} ({faster}, {speed}); significance unknown"
        )
    lo, hi = ci
    statistically = not (lo <= 1.0 <= hi)
    contended = [(k, r) for k, r in (("A", a), ("B", b)) if r.contended]
    if contended:
        # Other work shared the CPU: the interval sees that load as if it were the model's, so no difference is
        # claimed (bench/contention.py).
        why = "; ".join(f"{k} was contended ({r.contention.describe()})" for k, r in contended)  # type: ignore[union-attr]
        verdict = f"no significant difference claimed: {why} (median B/A = {ratio:.4f}, 95 % CI [{lo:.4f}, {hi:.4f}])"
        return RatioVerdict(ratio, ci, method, n, False, small, verdict, statistically)
    # The interval sees only the noise inside each run; separate runs of the same settings also differ by drift
    # (clock, temperature, other load) of a few per cent. A difference smaller than SMALL_PCT is therefore not
    # called significant even when the within-run interval excludes 1 — and the verdict says so.
    significant = statistically and not small
    if not statistically:
        verdict = f"no significant difference (median B/A = {ratio:.4f}, 95 % CI [{lo:.4f}, {hi:.4f}] spans 1)"
    elif small:
        verdict = (
            f"no significant difference beyond run-to-run drift (median B/A = {ratio:.4f}, 95 % CI [{lo:.4f}, {hi:.4f}]: "
            f"under {SMALL_PCT:g} %, which separate runs of the same settings also show)"
        )
    else:
        verdict = f"significant: median B/A = {ratio:.4f}, 95 % CI [{lo:.4f}, {hi:.4f}] — {faster} ({speed})"
    return RatioVerdict(ratio, ci, method, n, significant, small, verdict, statistically)


def compare(results: Sequence[BenchmarkResult], *, n_boot: int = 2000, seed: int = 0) -> Comparison:
    """The comparison of two or more results (the first is A).

    Raises:
        ResultsError: fewer than two results.
    """
    if len(results) < 2:
        raise ResultsError("compare needs at least two results", hint="workbench results compare ID ID [ID ...]")
    rows = []
    for label, get in METRICS:
        vals = [get(r) for r in results]
        if label == "source":
            vals = [v or "workbench" for v in vals]
            if all(v == "workbench" for v in vals):
                continue
        if all(v is None for v in vals):
            continue
        rows.append(CompareRow(label, tuple(vals)))
    return Comparison(
        ids=tuple(r.stored_id for r in results),
        labels=tuple(r.label for r in results),
        rows=tuple(rows),
        differing_settings=tuple(differing_settings(results)),
        ratio_of_medians=ratio_verdict(results[0], results[1], n_boot=n_boot, seed=seed) if len(results) == 2 else None,
        measurements=tuple(r.is_measurement for r in results),
        provenances=tuple(r.provenance.kind for r in results),
        warnings=workload_warnings(results),
    )


def _name(i: int, r: BenchmarkResult) -> str:
    return f"#{r.stored_id}" if r.stored_id is not None else "AB"[i] if i < 2 else f"result {i + 1}"


def workload_warnings(results: Sequence[BenchmarkResult]) -> tuple[str, ...]:
    """Why the compared figures are not of one workload: a different source model (``model_sha256``: the ONNX the
    run started from, the same for an FP32 and an INT8 run of one model) or different input shapes (another image
    size or batch: latency is per batch). Results missing the field are not judged on it."""
    out = []
    shas = {_name(i, r): r.model.sha256 for i, r in enumerate(results) if r.model.sha256}
    if len(set(shas.values())) > 1:
        parts = ", ".join(f"{k} {v[:12]}" for k, v in shas.items())
        out.append(
            f"different model files (sha256 {parts}): different networks, or one a quantized export of the other — "
            "the figures are not settings of one model"
        )
    shapes = {
        _name(i, r): dict(r.inputs.shapes) for i, r in enumerate(results) if r.inputs is not None and r.inputs.shapes
    }
    distinct = {json.dumps(v, sort_keys=True) for v in shapes.values()}
    if len(distinct) > 1:
        parts = "; ".join(f"{k} {json.dumps(v, sort_keys=True)}" for k, v in shapes.items())
        out.append(f"different input shapes ({parts}): latency is of a different workload (per batch)")
    return tuple(out)


def _cell(v: Any) -> str:
    from workbench.core.results.format import fmt_num

    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return fmt_num(v, unit_digits=4)
    if isinstance(v, (list, dict)):
        import json

        return json.dumps(v, sort_keys=True)
    s = field(v)  # model paths, profile and device names, import labels: one cell, escaped
    return s.rsplit("/", 1)[-1] if len(s) > 48 and "/" in s else s


def column_heads(doc: Comparison, titles: Sequence[str] | None = None) -> list[str]:
    """One heading per compared result: ``#3 (label)`` (or the given title) and, for a result that is not a
    measurement of this machine, its provenance: ``[replayed]``, ``[recorded]``, ``[imported]``. Both faces head
    their columns with these; labels and titles (an import's label, a model's name) are escaped
    (``textsafe.field``)."""
    kinds = doc.provenances or ("measured",) * len(doc.ids)
    out = []
    for n, (i, lab, kind) in enumerate(zip(doc.ids, doc.labels, kinds, strict=True)):
        base = titles[n] if titles is not None else f"#{i}" + (f" ({lab})" if lab else "")
        out.append(field(base) + ("" if kind == "measured" else f" [{kind}]"))
    return out


def verdict_lines(doc: Comparison, fmt: str = "text") -> list[str]:
    """The comparison's closing lines as `workbench results compare` prints them (both faces show these):
    "Settings: identical in all results." when nothing differs, then for two results the ratio-of-medians verdict
    (significance, contention, drift) naming A and B, and how its interval was made. ``fmt``: text or md."""
    lines: list[str] = []
    if not doc.differing_settings:
        lines.append("Settings: identical in all results.")
    for w in doc.warnings:
        lines.append(("**Warning**: " if fmt == "md" else "Warning: ") + w)
    rv = doc.ratio_of_medians
    if rv is not None:
        prefix = "**Verdict**: " if fmt == "md" else "Verdict: "
        who = f"A = #{doc.ids[0]}, B = #{doc.ids[1]}: " if None not in doc.ids[:2] else ""
        lines.append(prefix + who + rv.verdict)
        lines.append(("_" if fmt == "md" else "  (") + str(rv.method) + ("_" if fmt == "md" else ")"))
    return lines


def render(doc: Comparison, fmt: str = "text") -> str:
    """``text`` (aligned columns) or ``md`` (GitHub pipe table) of a :class:`Comparison`."""
    heads = ["metric", *column_heads(doc)]
    body = [[r.metric, *(_cell(v) for v in r.values)] for r in doc.rows]
    diff = [[f"≠ {d.setting}", *(_cell(v) for v in d.values)] for d in doc.differing_settings]
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
    for line in verdict_lines(doc, fmt):
        if not line.startswith("  (") and not line.startswith("_"):
            lines.append("")
        lines.append(line)
    return "\n".join(lines) + "\n"
