"""Build the typed :class:`~workbench.core.results.result.BenchmarkResult` of a benchmark run, once, here.

Input: the child outcome(s) (latencies in ns, kept bounded by the parent: bench/stream.py) and what the run knows
about itself (:class:`RunContext`, telemetry, idle power, …). While every latency was kept (at most
``stream.EXACT_CAP`` over all repeats), they are converted to ms and sorted once (bench/units.py) and every
statistic — trtexec's (bench/stats.py), the 95 % order-statistic intervals and MLPerf early stopping
(bench/confidence.py), the repeat spread — reads that one array. Past the cap the same statistics are read from
the merged histogram (bench/hist_stats.py); ``latency_method`` in the result says which, and the resolution.

throughput: inferences per second = queries x batch / host wall time of the timed window; queries per second
= queries / wall time (trtexec's "Throughput" for explicit-batch engines). The batch is the one actually fed
(the leading dim of the first non-scalar input the child built), not the one asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from workbench.core.accuracy import AccuracyReport
from workbench.core.bench.confidence import early_stopping, percentile_ci
from workbench.core.bench.hist_stats import (
    PooledHistogram,
    hist_early_stopping,
    hist_latency_stats,
    hist_percentile_ci,
)
from workbench.core.bench.histogram import RELATIVE_ERROR, SIGNIFICANT_DIGITS, LatencyHistogram
from workbench.core.bench.parent import BenchOutcome
from workbench.core.bench.repeats import pool, repeat_report
from workbench.core.bench.stats import COV_WARN_PCT, latency_stats_sorted
from workbench.core.bench.stream import all_complete
from workbench.core.bench.units import ms_list, ns_to_ms, sorted_ms
from workbench.core.errors import BenchmarkError
from workbench.core.results.result import (
    AboveIdle,
    ArtifactRef,
    BenchmarkResult,
    BenchSettings,
    CalibrationInfo,
    Contention,
    EarlyStoppingEstimate,
    IdlePower,
    InputsUsed,
    LatencyMethod,
    LatencySummary,
    ModelRef,
    MultiStream,
    PercentileEstimate,
    PowerModeRef,
    PowerState,
    Provenance,
    ServerScenario,
    Settle,
    StabilityVerdict,
    Throughput,
    TimingSplits,
    Warmup,
)
from workbench.core.telemetry.recorder import TelemetrySummary

MAX_STORED_LATENCIES = 20_000  # per-query latencies kept in the result (a systematic subsample beyond)
STABLE_REL_HALF_WIDTH = 0.05  # a percentile is "long enough" when its 95 % interval is within +-5 % of it
EARLY_STOPPING_PERCENTILES = (90.0, 99.0)
ABOVE_IDLE_LABEL = "energy above idle power (idle subtracted)"


@dataclass(frozen=True)
class RunContext:
    """What a result records about the run besides its timings: what ran, where, with which settings."""

    precision: str
    backend: str
    profile: str
    profile_reason: str
    device: str
    versions: dict[str, str]
    model: ModelRef
    artifact: ArtifactRef
    settings: BenchSettings
    batch_requested: int
    percentiles: tuple[float, ...]
    scenario: str = "single-stream"
    server: ServerScenario | None = None
    multi_stream: MultiStream | None = None
    accuracy: AccuracyReport | None = None
    calibration: CalibrationInfo | None = None
    power_mode: PowerModeRef | None = None
    notes: tuple[str, ...] = ()  # lines every result of this run carries in its warnings (an already-INT8 model)


@dataclass(frozen=True)
class RunMeasurements:
    """What was measured beside the latencies: telemetry over the timed window, idle power before it, the
    settle wait, the board's power state, the per-layer profile, the --until-stable verdict."""

    telemetry: TelemetrySummary
    power_state: PowerState
    contention: Contention | None = None
    idle_power: IdlePower | None = None
    settle: Settle | None = None
    subtract_idle: bool = False
    until_stable: StabilityVerdict | None = None
    layers: object | None = None  # results.result.LayerProfile
    layer_warning: str | None = None
    latency_series: object | None = None  # results.result.LatencySeries (bench/series.py)


HISTOGRAM_TEXT = f"HdrHistogram log-linear buckets, {SIGNIFICANT_DIGITS} significant digits, 1 ns unit"


def latency_summary(s, percentiles: Sequence[float]) -> LatencySummary:
    """Statistics, 95 % intervals, run-length verdicts and early-stopping estimates of an ascending float64 array
    of ms (bench/confidence.py has the sources), or of a :class:`PooledHistogram` (bench/hist_stats.py: the same
    definitions read from the histogram, within its resolution)."""
    if isinstance(s, PooledHistogram):
        stats = hist_latency_stats(s, percentiles)

        def ci_of(p, value):
            return hist_percentile_ci(s, p, value)

        def early_of(p):
            return hist_early_stopping(s, p)
    else:
        stats = latency_stats_sorted(s, percentiles)

        def ci_of(p, value):
            return percentile_ci(s, p, value)

        def early_of(p):
            return early_stopping(s, p)

    pcts = []
    for p, value in stats.percentiles:
        ci = ci_of(p, value)
        rel = ci.rel_half_width
        pcts.append(
            PercentileEstimate(
                p=p,
                value_ms=value,
                ci95_ms=(ci.lo_ms, ci.hi_ms),
                ranks=(ci.lo_rank, ci.hi_rank),
                rel_half_width=rel,
                long_enough=rel is not None and rel <= STABLE_REL_HALF_WIDTH,
                note=ci.note(),
            )
        )
    early = []
    for p in EARLY_STOPPING_PERCENTILES:
        es = early_of(p)
        early.append(EarlyStoppingEstimate(p, es.value_ms, es.effective_percentile, es.t, es.min_queries))
    return LatencySummary(
        min_ms=stats.min,
        max_ms=stats.max,
        mean_ms=stats.mean,
        median_ms=stats.median,
        std_ms=stats.std,
        cov_pct=stats.cov_pct,
        percentiles=tuple(pcts),
        early_stopping=tuple(early),
    )


def _warmup(o: BenchOutcome) -> Warmup:
    w = o.warmup_latencies_ns
    sm = getattr(o, "warmup_summary", None)
    if sm:  # a long warm-up, summarised in the child (bench/child.py WarmupFold)
        n = int(sm["count"])
        return Warmup(
            n,
            ns_to_ms(o.warmup_duration_ns),
            ns_to_ms(sm["min_ns"]),
            ns_to_ms(sm["sum_ns"]) / n,
            float(sm["median_ms"]),
            ns_to_ms(sm["max_ns"]),
            ns_to_ms(sm["first_ns"]),
        )
    if not w:
        return Warmup(len(w), ns_to_ms(o.warmup_duration_ns))
    s = sorted_ms(w)
    st = latency_stats_sorted(s, ())
    return Warmup(len(w), ns_to_ms(o.warmup_duration_ns), st.min, st.mean, st.median, st.max, ns_to_ms(w[0]))


def _settings_used(settings: BenchSettings, info: dict) -> BenchSettings:
    """The settings with what the runtime reported using (torch's thread counts), so a result records what ran."""
    if not info:
        return settings
    math = info.get("math_mode")
    return replace(
        settings,
        threads_used=info.get("threads"),
        interop_threads_used=info.get("interop_threads"),
        math_mode=dict(math) if isinstance(math, dict) else None,
    )


def _timing_splits(summary: dict | None) -> TimingSplits | None:
    return TimingSplits.from_dict(summary) if isinstance(summary, dict) else None


def _batch_run(shapes: dict, requested: int) -> int:
    """The batch the model really ran: the leading dim of the first fed input that is not a scalar (the batch axis,
    models/dims.py; ``shapes`` is in the model's input order), else the requested batch."""
    for dims in shapes.values():
        if dims:
            return int(dims[0]) if isinstance(dims[0], int) and dims[0] > 0 else requested
    return requested


def _kept_latencies(outcomes: Sequence[BenchOutcome], total: int) -> tuple[tuple[float, ...], bool]:
    """At most MAX_STORED_LATENCIES per-query latencies (ms) in the order they ran: a systematic subsample (of
    every latency while all were kept; past the cap, of each run's order-preserving sample, bench/stream.py)."""
    if not all_complete([o.stream for o in outcomes]):
        samples = [o.stream.systematic_sample() for o in outcomes]
        n = sum(len(x) for x in samples)
        step = max(1.0, n / MAX_STORED_LATENCIES)
        flat = [v for x in samples for v in x]
        return tuple(ns_to_ms(flat[int(i * step)]) for i in range(min(n, MAX_STORED_LATENCIES))), True
    if total <= MAX_STORED_LATENCIES:
        return tuple(v for o in outcomes for v in ms_list(o.latencies_ns)), False
    step = total / MAX_STORED_LATENCIES
    offsets = []
    acc = 0
    for o in outcomes:
        offsets.append(acc)
        acc += len(o.latencies_ns)
    out = []
    k = 0
    for i in range(MAX_STORED_LATENCIES):
        idx = int(i * step)
        while k + 1 < len(outcomes) and idx >= offsets[k + 1]:
            k += 1
        out.append(ns_to_ms(outcomes[k].latencies_ns[idx - offsets[k]]))
    return tuple(out), True


def build_result(
    outcomes: Sequence[BenchOutcome],
    context: RunContext,
    measured: RunMeasurements,
    *,
    judge_stability: Callable[[LatencySummary], StabilityVerdict] | None = None,
) -> BenchmarkResult:
    """The result of one benchmark run (K outcomes when repeated: latencies pooled, counts and wall times summed).
    ``judge_stability`` turns the final statistics into the --until-stable verdict.

    Raises:
        BenchmarkError: no timed iteration (an empty run has no statistics).
    """
    streams = [o.stream for o in outcomes]
    total = sum(st.count for st in streams)
    if not outcomes or total == 0:
        raise BenchmarkError(
            "the benchmark produced no timed iteration",
            hint="run longer: raise --iterations or --duration, and check the benchmark's output for a failure "
            "before timing began",
        )
    pooled = pool(outcomes)
    exact = all_complete(streams)
    # exact: every latency, sorted once (the only full copy); else the merged histogram (bounded memory)
    s = sorted_ms(*(o.latencies_ns for o in outcomes)) if exact else PooledHistogram(streams)
    latency = latency_summary(s, context.percentiles)
    method = LatencyMethod(
        percentile_method="exact" if exact else "histogram",
        histogram=HISTOGRAM_TEXT,
        histogram_relative_error=RELATIVE_ERROR,
        exact_cap=streams[0].raw_cap,  # the pooled run's cap: later repeats keep what the first ones left
        latencies_kept=sum(len(st.raw) for st in streams),
        latencies_total=total,
    )
    if not exact:
        warnings_hist = (
            f"{total} queries: past the {method.exact_cap} kept exactly, percentiles and their intervals are read "
            f"from a histogram (within {RELATIVE_ERROR * 100:.3g} %; its resolution is added to the intervals)"
        )
    until_stable = judge_stability(latency) if judge_stability is not None else measured.until_stable
    warnings: list[str] = [] if exact else [warnings_hist]
    wall_s = pooled.wall_ns / 1e9
    # With N GPU streams each timed call runs N queries: throughput counts them all, and per-call latency is then
    # not a per-query latency (trtexec warns the same).
    qpc = pooled.queries_per_call
    qps = pooled.iterations * qpc / wall_s if wall_s > 0 else None
    if qpc > 1:
        warnings.append(f"{qpc} concurrent streams: throughput is meaningful, per-query latency is not")
    if latency.cov_pct is not None and latency.cov_pct > COV_WARN_PCT:
        warnings.append(
            f"latency is unstable: coefficient of variation {latency.cov_pct:.2f} % > {COV_WARN_PCT} % "
            "(close other programs, fix CPU frequency, or run longer)"
        )
    p99 = latency.get(99.0)
    if p99 is not None and p99.note:
        warnings.append(p99.note)
    first = pooled.first
    batch = _batch_run(first.input_shapes, context.batch_requested)
    ips = qps * batch if qps is not None else None
    tel = measured.telemetry.with_inferences(pooled.iterations * batch * qpc)
    provenance = Provenance() if tel.measured else Provenance("replayed", tel.label)
    w = tel.mean_power_w
    above = None
    idle = measured.idle_power
    if measured.subtract_idle and idle is not None and idle.mean_power_w is not None and w is not None:
        # MLPerf power rules (inference_policies power_measurement.adoc): idle is shown beside and subtracted only
        # when asked, then labelled "above idle".
        above_w = max(0.0, w - idle.mean_power_w)
        above = AboveIdle(ABOVE_IDLE_LABEL, above_w, above_w * 1000.0 / ips if ips else None)
    if until_stable is not None and not until_stable.reached:
        warnings.append(until_stable.message)
    if context.settings.profile_layers:
        warnings.append(
            "per-layer profiling was on: latencies include the profiler's overhead; do not compare them with unprofiled runs"
        )
    if measured.layer_warning:
        warnings.append(measured.layer_warning)
    warnings.extend(context.notes)
    cal = context.calibration
    if cal is not None and cal.quantized_tensors == 0:
        from workbench.core.precision.coverage import QdqCoverage

        warnings.append(QdqCoverage(0, cal.unreached_compute or 0).warning() or "")
    if measured.contention is not None and measured.contention.contended:
        warnings.append(
            f"contended: {measured.contention.describe()} during the run; these latencies include that load, and "
            "comparisons will not call a difference involving this result significant"
        )
    kept, subsampled = _kept_latencies(outcomes, total)
    result = BenchmarkResult(
        precision=context.precision,
        latency=latency,
        throughput=Throughput(
            inferences_per_s=ips,
            queries_per_s=qps,
            iterations=pooled.iterations,
            batch=batch,
            wall_s=wall_s,
            queries_per_call=qpc,
            batch_requested=context.batch_requested,
        ),
        provenance=provenance,
        model=context.model,
        backend=context.backend,
        profile=context.profile,
        profile_reason=context.profile_reason,
        device=context.device,
        versions=dict(context.versions),
        artifact=context.artifact,
        inputs=InputsUsed({k: tuple(v) for k, v in first.input_shapes.items()}, first.input_source),
        warmup=_warmup(first),
        latencies_ms=kept,
        latencies_subsampled=subsampled,
        latency_method=method,
        latency_series=measured.latency_series,  # type: ignore[arg-type]
        latency_histogram=(s.hist if not exact else LatencyHistogram.merged(st.hist for st in streams)).to_dict(),
        peak_rss_mb=pooled.peak_rss_mb,
        stopped_by_parent=pooled.stopped_by_parent,
        timing_splits=_timing_splits(pooled.last.timing_splits),
        settings=_settings_used(context.settings, first.runtime_info),
        scenario=context.scenario,
        telemetry=tel,
        # MLPerf: single-stream reports mJ per inference (telemetry), offline/server inferences per joule =
        # (inferences/s) / W.
        inferences_per_j=ips / w if (w and ips) else None,
        above_idle=above,
        idle_power=idle,
        settle=measured.settle,
        power_state=measured.power_state,
        power_mode=context.power_mode,
        contention=measured.contention,
        accuracy=context.accuracy,
        calibration=context.calibration,
        repeat=repeat_report(outcomes, s) if len(outcomes) > 1 else None,
        until_stable=until_stable,
        server=context.server,
        multi_stream=context.multi_stream,
        layers=measured.layers,  # type: ignore[arg-type]
        layer_profile_path=pooled.last.layer_profile_path,
        warnings=tuple(warnings),
    )
    return result


__all__ = ["RunContext", "RunMeasurements", "build_result", "latency_summary", "MAX_STORED_LATENCIES"]
