"""import -> precision -> INT8 calibration -> build -> benchmark, as plain functions both faces call.

Each step reports progress through ``on_step(Step)`` (a typed event) and honours a
``threading.Event`` for cancellation. Nothing here prints; the CLI and the TUI decide how to show it.
"""

from __future__ import annotations

import platform
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from workbench.core import paths
from workbench.core.errors import CalibrationError, UsageError

PRECISIONS = ("fp32", "fp16", "int8", "best")


@dataclass(frozen=True)
class Step:
    """A progress event: ``step`` is import|profile|calibrate|convert|build|accuracy|bench|store."""

    step: str
    message: str
    done: int | None = None
    total: int | None = None


StepFn = Callable[[Step], None]


def _noop(_: Step) -> None:
    return None


@dataclass(frozen=True)
class Options:
    """Everything a bench/build/calibrate request can set. ``None`` = the profile's (or spec's) default."""

    model: str | None = None
    profile: str | None = None
    precision: str = "fp32"
    calib: str | None = None
    eval: str | None = None
    method: str | None = None
    calib_samples: int | None = None
    iterations: int | None = None
    duration_s: float | None = None
    warmup_ms: float | None = None
    warmup_iterations: int | None = None
    threads: int | None = None
    batch: int | None = None
    shapes: dict = field(default_factory=dict)
    seed: int = 0
    bench_dataset: str | None = None
    telemetry: str | None = None
    force_build: bool = False
    trust_pickle: bool = False
    spec: str | None = None
    profile_layers: bool = False
    store: bool = True
    input_shapes: dict = field(default_factory=dict)  # for PyTorch -> ONNX export
    export_opset: int = 17  # PyTorch -> ONNX export opset
    export_dynamic_batch: bool = False  # PyTorch -> ONNX: dynamic batch dim, verified at batch 2
    until_stable: bool = False  # keep timing until the target percentile's 95 % interval is narrow enough
    stable_target: float = 99.0  # percentile watched by until_stable
    stable_rel_width: float = 0.02  # stop when the interval's half-width / value <= this
    max_duration_s: float = 60.0  # until_stable gives up here (and says so)
    repeat: int = 1  # independent child processes, each with its own warm-up
    idle_s: float = 0.0  # sample idle power this long before the run
    subtract_idle: bool = False  # also report energy above idle (labelled), needs idle_s
    settle: bool = False  # wait until temperatures stop rising (or settle_target_c) before timing
    settle_target_c: float | None = None
    settle_timeout_s: float = 120.0
    backend: str | None = None  # override the profile's backend (onnxruntime, tensorrt, torch)
    cuda_graph: bool | None = None  # GPU backends; None = the profile's [benchmark] setting
    include_transfers: bool | None = None
    streams: int = 1


@dataclass
class Context:
    """Resolved inputs of one job: the profile, the ONNX model, its info and spec, the backend."""

    options: Options
    profile: Any
    profile_reason: str
    model_path: Path
    model_info: Any
    spec: Any
    backend: Any
    bundled_default: bool
    device: str = ""  # what the results record as the device (detected once per job)


def versions() -> dict[str, str]:
    import numpy
    import onnx
    import onnxruntime

    from workbench import __version__

    return {
        "workbench": __version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


def prepare(opts: Options, on_step: StepFn = _noop) -> Context:
    """Resolve profile, model (exporting PyTorch inputs), spec and backend.

    Raises:
        ConfigError, ModelError, BackendUnavailable, UsageError.
    """
    from workbench.core.backends import get_backend
    from workbench.core.models.load import ensure_onnx, inspect_model
    from workbench.core.profiles import load_profile
    from workbench.core.spec import load_spec

    if opts.precision not in PRECISIONS:
        raise UsageError(f"unknown precision {opts.precision!r}; choose one of {', '.join(PRECISIONS)}")
    detection = _detect()  # once per job: it names the device in every result and picks the profile
    if opts.profile or detection is None:
        profile = load_profile(opts.profile)
        reason = f"--profile {opts.profile}" if opts.profile else "auto-detected"
    else:
        profile = load_profile(detection.profile_name)
        reason = detection.reason
    on_step(Step("profile", f"profile {profile.name} ({reason})"))
    bundled = opts.model is None
    model = Path(opts.model) if opts.model else paths.default_model_path()
    on_step(Step("import", f"model {model}" + (" (bundled default)" if bundled else "")))
    onnx_path = ensure_onnx(
        model,
        trust_pickle=opts.trust_pickle,
        input_shapes=opts.input_shapes or None,
        opset=opts.export_opset,
        dynamic_batch=opts.export_dynamic_batch,
    )
    info = inspect_model(onnx_path)
    spec = load_spec(onnx_path if onnx_path == model else model, Path(opts.spec) if opts.spec else None)
    backend_name = opts.backend or profile.build.backend
    if backend_name == "torch":
        # PyTorch runs the original TorchScript / ExportedProgram; the ONNX export only describes its inputs.
        backend = get_backend(backend_name, input_shapes=dict(opts.input_shapes or {}) or None)
        onnx_path = model
    else:
        backend = get_backend(backend_name)
    return Context(opts, profile, reason, onnx_path, info, spec, backend, bundled, _device_name(detection))


def _dataset_name(ctx: Context, kind: str) -> str | None:
    explicit = ctx.options.calib if kind == "calib" else ctx.options.eval
    if explicit:
        return explicit
    if ctx.spec is not None:
        value = getattr(ctx.spec, kind, None)
        if value:
            return value
    if ctx.bundled_default:
        return "digits"
    return None


def resolve_dataset_path(ctx: Context, kind: str) -> Path | None:
    """The calibration ("calib") or evaluation ("eval") folder for this job: --calib/--eval, the model spec
    (relative to the model), the bundled set for the bundled model, else None."""
    name = _dataset_name(ctx, kind)
    if name is None:
        return None
    base = ctx.model_path.parent if ctx.spec is not None else None
    if base is not None and not Path(name).is_absolute() and (base / name).is_dir():
        return base / name
    return paths.resolve_dataset(name, kind)


def quant_settings(ctx: Context):
    """The profile's quantization section with spec and CLI overrides applied."""
    q = ctx.profile.quantization
    if ctx.spec is not None and getattr(ctx.spec, "quantization", None):
        overrides = {k: v for k, v in ctx.spec.quantization.items() if v is not None}
        q = q.model_copy(update=overrides)
    updates: dict[str, Any] = {}
    if ctx.options.method:
        updates["method"] = ctx.options.method
    if ctx.options.calib_samples:
        updates["calibration_samples"] = ctx.options.calib_samples
    return q.model_copy(update=updates) if updates else q


def thresholds(ctx: Context):
    acc = ctx.profile.accuracy
    if ctx.spec is not None and getattr(ctx.spec, "accuracy", None):
        overrides = {
            k: v for k, v in ctx.spec.accuracy.items() if k in ("max_top1_drop_pts", "min_cosine") and v is not None
        }
        acc = acc.model_copy(update=overrides)
    return acc


def _pre(ctx: Context) -> dict | None:
    """The model spec's [preprocess] overrides for image datasets (None without a spec)."""
    return (getattr(ctx.spec, "preprocess", None) or None) if ctx.spec is not None else None


def calibrate(ctx: Context, on_step: StepFn = _noop, cancel: threading.Event | None = None):
    """Produce the QDQ INT8 model (cached by model + dataset + recipe).

    Raises:
        CalibrationError: no calibration set given; DatasetError for a bad one; Cancelled.
    """
    from workbench.core.precision.datasets import open_dataset
    from workbench.core.precision.quantize import quantize_qdq

    folder = resolve_dataset_path(ctx, "calib")
    if folder is None:
        raise CalibrationError(
            f"INT8 needs a calibration set for {ctx.model_path.name}",
            hint="pass --calib DIR (images with preprocess.toml, or .npy/.npz tensors), or set [datasets] calib in the model spec",
        )
    q = quant_settings(ctx)
    ds = open_dataset(folder, ctx.model_info.inputs, limit=q.calibration_samples, preprocess_overrides=_pre(ctx))
    on_step(Step("calibrate", f"calibrating on {ds.count} samples from {folder} ({q.method})", 0, ds.count))

    def progress(done: int, total: int) -> None:
        on_step(Step("calibrate", "calibrating", done, total))

    result = quantize_qdq(ctx.model_path, ds, q, progress=progress, cancel=cancel)
    on_step(Step("calibrate", ("reused cached " if result.cached else "wrote ") + f"QDQ model {result.path}"))
    return result, ds


def precision_model(ctx: Context, precision: str, on_step: StepFn = _noop, cancel: threading.Event | None = None):
    """The ONNX model that carries ``precision``: the source (fp32), an FP16 copy, or the QDQ model.

    Returns (path, extra) where extra describes the conversion (calibration result, dataset).
    """
    if precision == "fp32":
        return ctx.model_path, {}
    if precision == "fp16":
        from workbench.core.precision.fp16 import to_fp16

        on_step(Step("convert", "converting to FP16 (inputs/outputs kept FP32)"))
        return to_fp16(ctx.model_path), {}
    if precision == "int8":
        result, ds = calibrate(ctx, on_step, cancel)
        return result.path, {"calibration": result, "calib_dataset": ds}
    raise UsageError(f"precision {precision!r} has no single model; 'best' is resolved by bench")


def build(ctx: Context, precision: str, on_step: StepFn = _noop, cancel: threading.Event | None = None):
    """Build (or reuse) the artifact for ``precision``. Returns (Artifact, extra)."""
    support = ctx.backend.precision_support()
    reason = support.get(precision, f"unknown precision {precision}")
    if reason:
        raise UsageError(f"{ctx.backend.name} on profile {ctx.profile.name} cannot run {precision}: {reason}")
    if precision not in ctx.profile.build.precisions:
        raise UsageError(
            f"profile {ctx.profile.name} does not allow {precision} (allowed: {', '.join(ctx.profile.build.precisions)})"
        )
    path, extra = precision_model(ctx, precision, on_step, cancel)
    on_step(Step("build", f"building {precision} artifact with {ctx.backend.name}"))
    artifact = ctx.backend.build(
        path,
        precision,
        ctx.profile,
        force=ctx.options.force_build,
        on_progress=lambda msg, done=None, total=None: on_step(Step("build", msg, done, total)),
        cancel=cancel,  # TensorRT builds run in a child process that Cancel kills
    )
    on_step(Step("build", ("cached: " if artifact.cached else "built: ") + str(artifact.path)))
    return artifact, extra


def accuracy(ctx: Context, other_path: Path, calib_ds=None, on_step: StepFn = _noop):
    """FP32 vs ``other_path`` on the eval set (held out) or, without one, on calibration samples."""
    from workbench.core.accuracy import compare_models
    from workbench.core.precision.datasets import open_dataset

    folder = resolve_dataset_path(ctx, "eval")
    held_out = folder is not None
    if folder is not None:
        ds = open_dataset(folder, ctx.model_info.inputs, preprocess_overrides=_pre(ctx))
    elif calib_ds is not None:
        ds = calib_ds
    else:
        cfolder = resolve_dataset_path(ctx, "calib")
        if cfolder is None:
            return None
        ds = open_dataset(cfolder, ctx.model_info.inputs, preprocess_overrides=_pre(ctx))
    on_step(
        Step(
            "accuracy",
            f"comparing with FP32 on {ds.count} {'held-out' if held_out else 'calibration (not held-out)'} samples",
        )
    )
    metric = (getattr(ctx.spec, "metric", None) if ctx.spec is not None else None) or "top1"
    report = compare_models(
        ctx.model_path,
        other_path,
        ds,
        thresholds=thresholds(ctx),
        held_out=held_out,
        metric=metric,
        quant=quant_settings(ctx),
    )
    return report


def _bench_config(ctx: Context, artifact) -> Any:
    from workbench.core.bench.config import BenchConfig

    b = ctx.profile.build
    bp = ctx.profile.benchmark
    o = ctx.options
    return BenchConfig(
        artifact_path=str(artifact.path),
        backend=ctx.backend.name,
        intra_op_threads=o.threads if o.threads is not None else b.intra_op_threads,
        inter_op_threads=b.inter_op_threads,
        execution_mode=b.execution_mode,
        graph_optimization_level=b.graph_optimization_level,
        batch=o.batch or bp.batch,
        shapes=dict(o.shapes),
        seed=o.seed,
        dataset=str(paths.resolve_dataset(o.bench_dataset, "calib")) if o.bench_dataset else None,
        warmup_ms=o.warmup_ms if o.warmup_ms is not None else bp.warmup_ms,
        warmup_iterations=o.warmup_iterations if o.warmup_iterations is not None else bp.warmup_iterations,
        iterations=None if o.until_stable else o.iterations,
        duration_s=o.max_duration_s
        if o.until_stable
        else (o.duration_s if o.duration_s is not None else bp.duration_s),
        min_iterations=bp.min_iterations,
        profile_layers=o.profile_layers,
        cuda_graph=bp.cuda_graph if o.cuda_graph is None else o.cuda_graph,
        include_transfers=bp.include_transfers if o.include_transfers is None else o.include_transfers,
        streams=o.streams,
    )


def bench_artifact(
    ctx: Context,
    artifact,
    *,
    on_step: StepFn = _noop,
    on_event: Callable[[object], None] | None = None,
    cancel: threading.Event | None = None,
    accuracy_report=None,
    extra: dict | None = None,
    cfg_overrides: dict | None = None,
) -> dict[str, Any]:
    """Benchmark a built artifact in a child process, with telemetry sampled in this process.

    ``options.repeat`` K > 1 runs K independent child processes (each with its own warm-up) and pools
    their latencies; the entry's ``repeat`` section has the per-run medians and their spread.
    ``options.idle_s`` > 0 samples idle power for that long first (shown beside, not subtracted).
    ``cfg_overrides`` replaces BenchConfig fields (scenarios: batch, qps, ...).

    Returns the result entry (bench/result.py).
    """
    from workbench.core.bench import events as ev
    from workbench.core.bench.parent import ChildControl, run_child
    from workbench.core.bench.result import build_entry
    from workbench.core.telemetry import Recorder, open_source

    cfg = _bench_config(ctx, artifact)
    if cfg_overrides:
        cfg = replace(cfg, **cfg_overrides)
    tel_spec = ctx.options.telemetry or ctx.profile.telemetry.source
    source = open_source(tel_spec)
    interval_ms = ctx.profile.telemetry.interval_ms
    idle = None
    if ctx.options.idle_s > 0:
        on_step(Step("bench", f"sampling idle power for {ctx.options.idle_s:g} s"))
        idle = _idle_power(source, interval_ms, ctx.options.idle_s, ctx.profile.power.total_rule)
    settle = None
    if ctx.options.settle:
        from workbench.core.power.sweep import max_temp_reader, wait_for_cooldown

        on_step(Step("bench", "waiting for temperatures to settle"))
        settled, temp = wait_for_cooldown(
            max_temp_reader(source),
            target_c=ctx.options.settle_target_c,
            timeout_s=ctx.options.settle_timeout_s,
            cancel=cancel,
        )
        settle = {
            "settled": settled,
            "temp_c": temp,
            "target_c": ctx.options.settle_target_c,
            "reason": None if temp is not None else "no temperature reading from this telemetry source",
        }
    recorder = Recorder(
        source,
        interval_ms=interval_ms,
        total_rule=ctx.profile.power.total_rule,
        max_temp_c=ctx.profile.power.max_temp_c,
    )
    recorder.start()
    length = f"exactly {cfg.iterations} iterations" if cfg.iterations else f"at least {cfg.duration_s:.3g} s"
    on_step(Step("bench", f"benchmarking {artifact.precision} ({length})"))

    control = ChildControl()
    watcher = (
        StabilityWatcher(ctx.options.stable_target, ctx.options.stable_rel_width) if ctx.options.until_stable else None
    )

    events_log = _job_events_log()

    def relay(event: object) -> None:
        if events_log is not None:
            # A detached job keeps its live stream on disk, so a face can re-attach and replay it.
            events_log.write(ev.encode(event))
            events_log.flush()
        if isinstance(event, ev.TimedStart):
            recorder.mark_window_start()
        elif isinstance(event, ev.TimedEnd):
            recorder.mark_window_end()
        elif watcher is not None and isinstance(event, ev.Samples) and watcher.add(event.latencies_ns):
            control.request_stop()
        if on_event is not None:
            on_event(event)

    outcomes = []
    window_started = False

    def relay_repeats(event: object) -> None:
        nonlocal window_started
        # One telemetry window over all repeats: from the first run's start to the last run's end.
        if isinstance(event, ev.TimedStart):
            if window_started:
                if on_event is not None:
                    on_event(event)
                return
            window_started = True
        elif isinstance(event, ev.TimedEnd) and len(outcomes) + 1 < repeat:
            if on_event is not None:
                on_event(event)
            return
        relay(event)

    repeat = max(1, ctx.options.repeat)
    try:
        for k in range(repeat):
            if repeat > 1:
                on_step(Step("bench", f"run {k + 1}/{repeat} (own process, own warm-up)", k, repeat))
            outcomes.append(run_child(cfg, on_event=relay_repeats, cancel=cancel, control=control))
    finally:
        summary = recorder.stop()
        source.close()
        if events_log is not None:
            events_log.close()
    outcome = merge_outcomes(outcomes)
    summary = summary.with_inferences(outcome.iterations * cfg.batch * max(1, outcome.queries_per_call))
    context = {
        "backend": ctx.backend.name,
        "profile": ctx.profile.name,
        "profile_reason": ctx.profile_reason,
        "artifact": str(artifact.path),
        "artifact_bytes": _artifact_bytes(artifact.path),
        "artifact_cached": artifact.cached,
        "build_s": artifact.build_s,
        "model": str(ctx.options.model or ctx.model_path),
        "model_onnx": str(ctx.model_path),
        "model_sha256": ctx.model_info.sha256,
        "device": ctx.device or _device_name(None),
        "versions": {**versions(), **ctx.backend.versions()},
        "settings": {
            "threads": cfg.intra_op_threads,
            "graph_optimization_level": cfg.graph_optimization_level,
            "execution_mode": cfg.execution_mode,
            "warmup_ms": cfg.warmup_ms,
            "duration_s": None if cfg.iterations else cfg.duration_s,
            "iterations_requested": cfg.iterations,
            "min_iterations": cfg.min_iterations,
            "seed": cfg.seed,
            "cuda_graph": cfg.cuda_graph,
            "include_transfers": cfg.include_transfers,
            "streams": cfg.streams,
            "profile_layers": cfg.profile_layers,
        },
        "telemetry": summary.to_dict(),
        "idle_power": idle,
        "settle": settle,
        "power_state": _power_state(),
        "scenario": cfg.scenario,
        "accuracy": accuracy_report.to_dict() if accuracy_report is not None else None,
    }
    if cfg.scenario == "server":
        from workbench.core.bench.arrivals import poisson_arrivals

        count = cfg.server_queries or max(1, int(round((cfg.qps or 1.0) * cfg.duration_s)))
        context["server"] = {
            "qps_offered": cfg.qps,
            "queries": count,
            "seed": cfg.seed,
            "arrivals_s": poisson_arrivals(cfg.qps or 1.0, count, cfg.seed)[:20_000],
            "latency_from": "scheduled arrival (queueing included)",
        }
    if repeat > 1:
        context["repeat"] = repeat_report(outcomes)
    if not summary.measured:
        context["measured"] = False
    if extra:
        context.update(extra)
    entry = build_entry(
        outcome,
        precision=artifact.precision,
        batch=cfg.batch,
        percentiles=ctx.profile.benchmark.percentiles,
        context=context,
    )
    if not summary.measured:
        entry["measured"] = False
    _energy_figures(entry, idle, ctx.options.subtract_idle)
    if watcher is not None:
        entry["until_stable"] = watcher.verdict(entry, ctx.options.max_duration_s)
        if not entry["until_stable"]["reached"]:
            entry["warnings"].append(entry["until_stable"]["message"])
    if cfg.profile_layers:
        entry["warnings"].append(
            "per-layer profiling was on: latencies include the profiler's overhead; do not compare them with unprofiled runs"
        )
    if outcome.layer_profile_path:
        entry["layer_profile"] = outcome.layer_profile_path
        from workbench.core.bench.layers import parse_ort_profile
        from workbench.core.errors import BenchmarkError

        try:  # per-node times of the timed runs only (the profile also holds the warm-up)
            entry["layers"] = parse_ort_profile(outcome.layer_profile_path, keep_last=outcome.iterations)
        except BenchmarkError as exc:
            entry.setdefault("warnings", []).append(f"per-layer profile not read: {exc}")
    return entry


def _energy_figures(entry: dict[str, Any], idle: dict | None, subtract_idle: bool) -> None:
    """MLPerf-style energy figures (inference_policies power_measurement.adoc): single-stream reports mJ per
    inference (in telemetry), offline/server inferences per joule = (inferences/s) / W. Idle power is shown
    beside and subtracted only when asked, then labelled "above idle"."""
    tel = entry.get("telemetry") or {}
    w = tel.get("mean_power_w")
    ips = entry.get("throughput_ips")
    entry["inferences_per_j"] = ips / w if (w and ips) else None
    if subtract_idle and idle and idle.get("mean_power_w") is not None and w is not None:
        above = max(0.0, w - idle["mean_power_w"])
        entry["above_idle"] = {
            "label": "energy above idle power (idle subtracted)",
            "mean_power_w": above,
            "mj_per_inference": above * 1000.0 / ips if ips else None,
        }


def _job_events_log():
    """Inside a detached job: the job's events.jsonl opened for appending, else None."""
    import os

    d = os.environ.get("WORKBENCH_JOB_DIR")
    if not d:
        return None
    try:
        return open(Path(d) / "events.jsonl", "ab")  # noqa: SIM115 - closed by bench_artifact
    except OSError:
        return None


def merge_outcomes(outcomes: list) -> Any:
    """Pool K child outcomes into one (latencies concatenated, wall times and counts summed)."""
    if len(outcomes) == 1:
        return outcomes[0]
    from workbench.core.bench.parent import BenchOutcome

    m = BenchOutcome()
    for o in outcomes:
        m.latencies_ns.extend(o.latencies_ns)
        m.wall_ns += o.wall_ns
        m.iterations += o.iterations
        m.batches_received += o.batches_received
        m.batches_lost += o.batches_lost
        m.peak_rss_mb = max(filter(None, [m.peak_rss_mb, o.peak_rss_mb]), default=None)
    first, last = outcomes[0], outcomes[-1]
    m.warmup_latencies_ns = first.warmup_latencies_ns
    m.warmup_duration_ns = first.warmup_duration_ns
    m.input_shapes, m.input_source = first.input_shapes, first.input_source
    m.start_monotonic_s, m.end_monotonic_s = first.start_monotonic_s, last.end_monotonic_s
    m.layer_profile_path = last.layer_profile_path
    m.stopped_by_parent = any(o.stopped_by_parent for o in outcomes)
    return m


def repeat_report(outcomes: list) -> dict[str, Any]:
    """Per-run medians of independent processes and pyperf's warnings (pyperf docs, "Analyze results").

    Warnings: std >= 10 % of the mean; min or max >= 50 % away from the mean; the processes needed for
    a < 1 % error, ceil(4 * 1.96^2 * CV^2 / 0.01^2), exceed those run. Outliers among all pooled latencies
    by hyperfine's rule: |x - median| / (1.4826 * MAD) > 14.8.
    """
    import math
    import statistics

    from workbench.core.bench.stats import median

    medians = [median(sorted(v / 1e6 for v in o.latencies_ns)) for o in outcomes]
    mean = statistics.fmean(medians)
    std = statistics.pstdev(medians)
    cv = std / mean if mean > 0 else 0.0
    needed = math.ceil(4 * 1.96**2 * cv**2 / 0.01**2) if cv > 0 else 1
    warnings = []
    if std >= 0.10 * mean:
        warnings.append(f"the per-run medians vary a lot: std {std:.4f} ms is {cv * 100:.1f} % of the mean (>= 10 %)")
    if min(medians) <= 0.5 * mean or max(medians) >= 1.5 * mean:
        warnings.append("the minimum or maximum per-run median is at least 50 % away from the mean")
    if needed > len(medians):
        warnings.append(f"{needed} runs are needed for an error below 1 % (ran {len(medians)})")
    pooled = sorted(v / 1e6 for o in outcomes for v in o.latencies_ns)
    med = median(pooled)
    mad = median(sorted(abs(x - med) for x in pooled))
    outliers = sum(1 for x in pooled if mad > 0 and abs(x - med) / (1.4826 * mad) > 14.8)
    return {
        "runs": len(medians),
        "medians_ms": medians,
        "mean_of_medians_ms": mean,
        "std_of_medians_ms": std,
        "cv_pct": cv * 100,
        "runs_needed_for_1pct_error": needed,
        "outliers": outliers,
        "outlier_pct": 100.0 * outliers / len(pooled) if pooled else 0.0,
        "warnings": warnings,
    }


def _idle_power(source, interval_ms: int, seconds: float, total_rule: str | None) -> dict[str, Any]:
    """Mean power over ``seconds`` with nothing running (shown beside the run, never subtracted silently)."""
    import time

    from workbench.core.telemetry import Recorder

    rec = Recorder(source, interval_ms=interval_ms, total_rule=total_rule)
    rec.start()
    rec.mark_window_start()
    time.sleep(seconds)
    rec.mark_window_end()
    s = rec.stop()
    return {
        "seconds": seconds,
        "mean_power_w": s.mean_power_w,
        "measured": s.measured,
        "reason": None if s.mean_power_w is not None else (s.reasons.get("mean_power_w") or "no power reading"),
    }


def _power_state() -> dict[str, Any]:
    from workbench.core.power.state import current_power_state

    return current_power_state()


def _artifact_bytes(path: Any) -> int | None:
    """Size on disk of a built artifact (a file, or a folder's files summed); None when it cannot be read."""
    p = Path(path)
    try:
        if p.is_dir():
            return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
        return p.stat().st_size
    except OSError:
        return None


def _detect():
    """The device detection (hw/detect.py), or None when it fails: detection only names things."""
    from workbench.core.profiles.match import detect_device

    try:
        return detect_device()
    except Exception:  # noqa: BLE001 - a name for the record must not stop a job
        return None


def _device_name(d) -> str:
    if d is None:
        return platform.machine()
    return d.model or d.gpu_name or f"{platform.processor() or platform.machine()} CPU"


def store(entry: dict[str, Any]) -> int:
    from workbench.core.jobs import record_result
    from workbench.core.results.store import ResultStore

    result_id = ResultStore().add(entry)
    record_result(result_id)
    return result_id


def bench_precision(
    ctx: Context,
    precision: str,
    *,
    on_step: StepFn = _noop,
    on_event: Callable[[object], None] | None = None,
    cancel: threading.Event | None = None,
    with_accuracy: bool = True,
    reference_accuracy: bool = False,
) -> dict[str, Any]:
    """build -> (accuracy for fp16/int8; for fp32 too with ``reference_accuracy``) -> bench -> store."""
    artifact, extra = build(ctx, precision, on_step, cancel)
    report = None
    if with_accuracy and precision in ("fp16", "int8"):
        report = accuracy(ctx, artifact.source_model, extra.get("calib_dataset"), on_step)
    elif reference_accuracy and precision == "fp32":
        # FP32 against itself: its own top-1 on the same samples; the vs_fp32 figures are the identity.
        report = accuracy(ctx, ctx.model_path, None, on_step)
    info: dict[str, Any] = {}
    if "calibration" in extra:
        c = extra["calibration"]
        info["calibration"] = {"method": c.method, "samples": c.samples, "cached": c.cached, "qdq_model": str(c.path)}
    entry = bench_artifact(
        ctx, artifact, on_step=on_step, on_event=on_event, cancel=cancel, accuracy_report=report, extra=info
    )
    if entry.get("accuracy") is not None and precision == "fp32":
        entry["accuracy"]["reference"] = True  # FP32 against itself: its own top-1, identity vs_fp32
    if ctx.options.store:
        entry["result_id"] = store(entry)
        on_step(Step("store", f"stored as result {entry['result_id']}"))
    return entry


def bench_best(ctx: Context, **kw) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """'best': the fastest allowed precision whose accuracy passes the thresholds (fp32 always passes).

    Returns (chosen entry, every candidate's entry).
    """
    candidates = [
        p
        for p in ("fp32", "fp16", "int8")
        if p in ctx.profile.build.precisions and not ctx.backend.precision_support().get(p)
    ]
    entries = []
    for p in candidates:
        try:
            entries.append(bench_precision(ctx, p, **kw))
        except CalibrationError as exc:
            kw.get("on_step", _noop)(Step("bench", f"skipping {p}: {exc}"))
    passing = [e for e in entries if e["precision"] == "fp32" or (e.get("accuracy") or {}).get("verdict") == "pass"]
    chosen = min(passing, key=lambda e: e["latency_ms"]["median"])
    chosen = dict(chosen, chosen_as_best=True)
    return chosen, entries


def with_options(ctx: Context, **changes) -> Context:
    return replace(ctx, options=replace(ctx.options, **changes))


class StabilityWatcher:
    """Decides, as latencies stream in, when a percentile's 95 % interval is narrow enough (--until-stable).

    Re-checks at most every 0.5 s worth of batches (sorting is O(n log n)); needs the minimum sample
    count for a two-sided interval first (368 for p99).
    """

    def __init__(self, target_p: float, rel_width: float, check_every_batches: int = 10) -> None:
        self.target_p = target_p
        self.rel_width = rel_width
        from array import array

        self.values_ms = array("d")  # 8 bytes a sample
        self.batches = 0
        self.check_every = check_every_batches
        self.last_rel: float | None = None
        self.reached = False

    def add(self, latencies_ns: list) -> bool:
        from workbench.core.bench.confidence import min_samples_two_sided, percentile_ci
        from workbench.core.bench.stats import percentile

        self.values_ms.extend(v / 1e6 for v in latencies_ns)
        self.batches += 1
        if self.reached or self.batches % self.check_every:
            return False
        if len(self.values_ms) < min_samples_two_sided(self.target_p):
            return False
        s = sorted(self.values_ms)
        ci = percentile_ci(s, self.target_p, percentile(s, self.target_p))
        self.last_rel = ci.rel_half_width
        self.reached = self.last_rel is not None and self.last_rel <= self.rel_width
        return self.reached

    def verdict(self, entry: dict, max_duration_s: float) -> dict:
        key = "p" + f"{self.target_p:g}".replace(".", "_")
        final = entry["run_length"][key]["rel_half_width"]
        reached = final is not None and final <= self.rel_width
        msg = (
            f"stable: {key} 95 % interval within +-{self.rel_width * 100:g} % after {entry['iterations']} iterations"
            if reached
            else f"not stable: stopped at the {max_duration_s:g} s limit with {key}'s 95 % interval at "
            + (f"+-{final * 100:.1f} %" if final is not None else "undefined")
            + f" (asked +-{self.rel_width * 100:g} %)"
        )
        return {
            "target": key,
            "rel_width": self.rel_width,
            "rel_half_width": final,
            "interval_ms": entry["latency_ms"]["ci95"].get(key),
            "reached": reached,
            "max_duration_s": max_duration_s,
            "message": msg,
        }
