"""The one workflow layer: import -> precision -> INT8 calibration -> build -> accuracy -> benchmark -> store, and
the orchestrations built on them (the main job, 'best', MLPerf-style scenarios, the power-mode sweep).

Both faces call these functions and nothing below them: the CLI in its command handlers (which run inside a
detached job's process), the TUI in its workers. Each function reports through ``on_progress(Progress)`` and
honours a ``threading.Event`` for cancellation; nothing here prints. Results are typed
(:class:`~workbench.core.results.result.BenchmarkResult`); dicts appear only where the faces write JSON.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from workbench.core import paths
from workbench.core.errors import BackendUnavailable, CalibrationError, UsageError
from workbench.core.job import (
    PRECISIONS,
    JobRequest,
    PreparedJob,
    bench_config,
    cpu_recipe_choice,
    dataset_path,
    device_name,
    feed_values,
    metric,
    preprocess_overrides,
    quant_settings,
    resolve_inputs,
    thresholds,
    versions,
)
from workbench.core.progress import Progress, ProgressFn, no_progress
from workbench.core.results.result import BenchmarkResult

EventFn = Callable[[object], None]

__all__ = [
    "PRECISIONS", "JobRequest", "PreparedJob", "Progress", "Built", "Calibration", "BestOutcome", "MainRun",
    "prepare", "store_fetched", "calibrate", "calibrate_and_check", "precision_model", "build", "accuracy", "check_accuracy",
    "localize_int8", "bench", "bench_and_store", "check_bench_inputs",
    "check_request", "check_bench_job", "check_telemetry", "check_export_target", "check_results_db",
    "bench_best", "run_main", "offline", "server", "find_max_qps", "multi_stream", "sweep", "tune", "store",
    "dataset_path", "quant_settings", "thresholds",
]  # fmt: skip


# --- prepare --------------------------------------------------------------------------------------------------
def _detect():
    """The device detection (profiles/match.py), or None when it fails: it only names things, it must not stop a job."""
    from workbench.core.profiles.match import detect_device

    try:
        return detect_device()
    except Exception:  # noqa: BLE001 - a name for the record must not stop a job
        return None


def prepare(request: JobRequest, on_progress: ProgressFn = no_progress, *, backend_needed: bool = True) -> PreparedJob:
    """Resolve the profile (detecting the device once for the whole job), the model (exporting PyTorch inputs to
    ONNX), its spec and the backend; check ``--batch``/``--shapes`` and the spec's ``[inputs]`` against the model.

    ``backend_needed=False`` (calibrate, compare: they run on ONNX Runtime whatever the target): a profile whose
    backend is not installed here (TensorRT on a PC) still prepares; only build and bench then need it
    (``PreparedJob.require_backend``). Calibrating offline and building on the board is the field workflow.

    Raises:
        ConfigError (also a spec ``[inputs.<name>]`` the model does not fit), ModelError, BackendUnavailable
        (only with ``backend_needed``), UsageError (also ``--batch``/``--shapes`` that disagree with each other or
        the model).
    """
    from workbench.core.backends import get_backend
    from workbench.core.models.load import ensure_onnx, inspect_model
    from workbench.core.profiles import load_profile
    from workbench.core.spec import load_spec

    if request.precision not in PRECISIONS:
        raise UsageError(
            f"unknown precision {request.precision!r}; choose one of {', '.join(PRECISIONS)}",
            hint="precision names are lower case (e.g. --precision fp16); `workbench profiles show PROFILE` lists "
            "what a profile allows",
        )
    if request.until_stable and request.repeat > 1:
        raise UsageError(
            "--until-stable runs one process until its interval is narrow enough; --repeat K runs K processes of a "
            "fixed length: choose one",
            hint="drop --repeat to stop when the p99 interval is narrow enough, or drop --until-stable to compare K "
            "independent runs (their CV says how much runs differ)",
        )
    detection = _detect()
    if request.profile or detection is None:
        profile = load_profile(request.profile)
        reason = f"--profile {request.profile}" if request.profile else "auto-detected"
    else:
        profile = load_profile(detection.profile_name)
        reason = detection.reason
    on_progress(Progress("profile", f"profile {profile.name} ({reason})"))
    bundled = request.model is None
    model = Path(request.model) if request.model else paths.default_model_path()
    on_progress(Progress("import", f"model {model}" + (" (bundled default)" if bundled else "")))
    onnx_path = ensure_onnx(
        model,
        trust_model=request.trust_model,
        input_shapes=request.input_shapes or None,
        opset=request.export_opset,
        dynamic_batch=request.export_dynamic_batch,
    )
    info = inspect_model(onnx_path)
    spec = load_spec(onnx_path if onnx_path == model else model, Path(request.spec) if request.spec else None)
    backend_name = request.backend or profile.build.backend
    missing = None
    try:
        if backend_name == "torch":
            # PyTorch runs the original TorchScript / ExportedProgram; the ONNX export only describes its inputs.
            shapes = {k: list(v) for k, v in (request.input_shapes or {}).items()} or None
            backend = get_backend(backend_name, input_shapes=shapes, trust_model=request.trust_model)
            onnx_path = model
        else:
            backend = get_backend(backend_name)
    except BackendUnavailable as exc:
        if backend_needed:
            raise
        backend, missing = None, (str(exc), exc.hint or "")
        on_progress(Progress("profile", f"{backend_name} is not installed here: only build and bench need it"))
    if spec is not None:
        spec.check_inputs(info.inputs)
    job = PreparedJob(
        request, profile, reason, onnx_path, info, spec, backend, bundled, detection, device_name(detection), missing
    )
    resolve_inputs(job)  # --batch / --shapes against the model: a conflict stops here, before anything runs
    if request.job_dir is not None:
        _record_settings(job)
    return job


def _record_settings(job: PreparedJob) -> None:
    """Inside a detached job: what its request resolved to (core/jobs.py ``JobSettings``), for a face that follows
    the job (its header shows the job's settings, not the face's own)."""
    from workbench.core import jobs
    from workbench.core.errors import WorkbenchError
    from workbench.core.job import bench_batch

    o = job.request
    settings = jobs.JobSettings(
        model=job.title,
        profile=job.profile.name,
        backend=job.backend.name if job.backend is not None else (o.backend or job.profile.build.backend),
        precision=o.precision,
        duration_s=None
        if o.iterations
        else (o.duration_s if o.duration_s is not None else job.profile.benchmark.duration_s),
        iterations=o.iterations,
        threads=o.threads if o.threads is not None else job.profile.build.intra_op_threads,
        batch=bench_batch(job),
    )
    try:
        jobs.write_settings(o.job_dir, settings)  # type: ignore[arg-type]
    except (OSError, WorkbenchError):
        pass  # a courtesy for faces: never stop the job over it


# --- precision ------------------------------------------------------------------------------------------------
def _recipe_fields(choice: dict[str, Any] | None) -> tuple[str | None, str | None, str | None]:
    """(cpu_recipe, isa, reason) of a QuantResult's ``cpu_recipe`` record (cpu_recipes.RecipeChoice.to_dict())."""
    if not choice:
        return None, None, None
    return choice.get("cpu_recipe"), choice.get("isa"), choice.get("reason")


@dataclass(frozen=True)
class Calibration:
    """The calibrated QDQ INT8 model (precision/quantize.py QuantResult) and the dataset it was calibrated on."""

    result: Any  # precision.quantize.QuantResult
    dataset: Any  # precision.datasets.Dataset (None when read back from a job's outcome)
    folder: str | None = None  # the dataset's folder, kept when the dataset itself is not (from_dict)

    def coverage(self):
        """precision.coverage.QdqCoverage of the QDQ model: how much of it is quantized at all."""
        from workbench.core.precision.coverage import qdq_coverage

        return qdq_coverage(self.result.path)

    def info(self):
        from workbench.core.results.result import CalibrationInfo

        r = self.result
        kept = tuple((f.tensor, f.reason) for f in getattr(r, "float_kept", ()))
        cov = self.coverage()
        folder = getattr(self.dataset, "folder", None) or self.folder
        return CalibrationInfo(
            r.method,
            r.samples,
            r.cached,
            str(r.path),
            kept,
            cov.quantized_tensors,
            cov.unreached_compute,
            os.path.abspath(folder) if folder else None,  # a stored result outlives the cwd it ran in
            *_recipe_fields(getattr(r, "cpu_recipe", None)),
        )

    def to_dict(self) -> dict[str, Any]:
        """The calibration's record (a detached job's outcome); the dataset is named, not kept."""
        return {"result": self.result.to_dict(), "dataset": str(getattr(self.dataset, "folder", "") or "")}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibration:
        """A calibration read back from a job's outcome: its QDQ model and figures; ``dataset`` is None (the set
        stays on disk; a step that needs it opens it again)."""
        from workbench.core.precision.quantize import QuantResult

        return cls(QuantResult.from_dict(d["result"]), None, str(d.get("dataset") or "") or None)


@dataclass(frozen=True)
class Built:
    """A built (or cached) artifact and, for INT8, the calibration behind it."""

    artifact: Any  # backends.base.Artifact
    calibration: Calibration | None = None

    @property
    def precision(self) -> str:
        return self.artifact.precision

    def to_dict(self) -> dict[str, Any]:
        """The build's record (a detached job's outcome): the artifact and, for INT8, its calibration."""
        a = self.artifact
        return {
            "artifact": {
                "path": str(a.path),
                "backend": a.backend,
                "precision": a.precision,
                "source_model": str(a.source_model),
                "sidecar_path": str(a.sidecar_path),
                "cached": a.cached,
                "build_s": a.build_s,
            },
            "calibration": self.calibration.to_dict() if self.calibration is not None else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Built:
        """Inverse of :meth:`to_dict` (the artifact's sidecar metadata is not carried: it stays on disk)."""
        from workbench.core.backends.base import Artifact

        a = d["artifact"]
        artifact = Artifact(
            Path(a["path"]),
            str(a["backend"]),
            str(a["precision"]),
            Path(a["source_model"]),
            Path(a["sidecar_path"]),
            bool(a["cached"]),
            float(a["build_s"]),
        )
        cal = d.get("calibration")
        return cls(artifact, Calibration.from_dict(cal) if isinstance(cal, dict) else None)


def calibrate(job: PreparedJob, on_progress: ProgressFn = no_progress, cancel: threading.Event | None = None):
    """Produce the QDQ INT8 model (cached by model + dataset + recipe). Returns a :class:`Calibration`.

    Raises:
        CalibrationError: no calibration set; DatasetError for a bad one; Cancelled.
    """
    from workbench.core.precision.datasets import open_dataset
    from workbench.core.precision.quantize import quantize_qdq

    eq = explicit_int8(job)
    if eq is not None:
        raise CalibrationError(
            f"{_already_int8(job, eq)}: there is nothing to calibrate",
            hint="benchmark it with --precision int8 (its own scales), or calibrate the FP32 model it came from",
        )
    folder = dataset_path(job, "calib")
    if folder is None:
        raise CalibrationError(
            f"INT8 needs a calibration set for {job.model_path.name}",
            hint="pass --calib DIR (images with preprocess.toml, or .npy/.npz tensors), or set [datasets] calib in the model spec",
        )
    choice = cpu_recipe_choice(job)
    q = quant_settings(job, choice=choice)
    ds = open_dataset(
        folder, job.model_info.inputs, limit=q.calibration_samples, preprocess_overrides=preprocess_overrides(job)
    )
    if choice is not None:
        on_progress(Progress("calibrate", choice.line()))
    on_progress(Progress("calibrate", f"calibrating on {ds.count} samples from {folder} ({q.method})", 0, ds.count))

    def progress(done: int, total: int) -> None:
        on_progress(Progress("calibrate", "calibrating", done, total))

    result = quantize_qdq(job.model_path, ds, q, progress=progress, cancel=cancel)
    if choice is not None:  # the options are in the cache key; which recipe named them and why is this job's record
        result = replace(result, cpu_recipe=choice.to_dict())
    on_progress(Progress("calibrate", ("reused cached " if result.cached else "wrote ") + f"QDQ model {result.path}"))
    return Calibration(result, ds)


def calibrate_and_check(job: PreparedJob, on_progress: ProgressFn = no_progress, cancel=None):
    """Calibrate, then compare the INT8 model with FP32 (the Calibrate screen's one action).
    Returns (Calibration, AccuracyReport | None). Raises as :func:`calibrate`, and Cancelled."""
    from workbench.core.errors import Cancelled

    cal = calibrate(job, on_progress, cancel)
    if cancel is not None and cancel.is_set():
        raise Cancelled("calibration cancelled")
    return cal, accuracy(job, cal.result.path, cal.dataset, on_progress, calib_samples=cal.result.samples)


def precision_model(
    job: PreparedJob, precision: str, on_progress: ProgressFn = no_progress, cancel: threading.Event | None = None
) -> tuple[Path, Calibration | None]:
    """The model file that carries ``precision``: the source (fp32), an FP16 copy, or the calibrated QDQ model.

    On the torch backend the precision is ``torch.autocast`` in the runner (backends/torch_backend.py), so fp32, fp16
    and bf16 all run the source PyTorch file (an ONNX FP16 conversion of a .pt failed: it is not ONNX).

    Raises:
        UsageError: a precision with no single model here ('best', bf16 off the torch backend, int8 on torch);
        CalibrationError (int8, see :func:`calibrate`).
    """
    if _precision_is_autocast(job):
        if precision in ("fp32", "fp16", "bf16"):
            return job.model_path, None
        raise UsageError(
            f"the torch backend runs fp32, fp16 and bf16, not {precision}",
            hint="for int8 use an onnxruntime or tensorrt profile (--profile), or pick --precision fp16 / bf16",
        )
    eq = explicit_int8(job)
    if eq is not None:
        if precision != "int8":
            _refuse_float_of_int8(job, precision, eq)
        _refuse_non_integer(job, eq)
        on_progress(Progress("calibrate", f"{_already_int8(job, eq)}: no calibration"))
        return job.model_path, None
    if precision == "fp32":
        return job.model_path, None
    if precision == "fp16":
        from workbench.core.precision.fp16 import to_fp16

        route = fp16_route_of(job)
        if route.typed:  # TensorRT 11 / strongly_typed: precision lives in the ONNX (precision/autocast.py)
            return typed_fp16(job, route, on_progress, cancel).path, None
        on_progress(Progress("convert", "converting to FP16 (inputs/outputs kept FP32)"))
        return to_fp16(job.model_path), None
    if precision == "int8":
        cal = calibrate(job, on_progress, cancel)
        return cal.result.path, cal
    if precision == "bf16":
        raise UsageError("bf16 runs on the torch backend only (torch.autocast)", hint="add --backend torch")
    raise UsageError(
        f"precision {precision!r} has no single model; 'best' is resolved by bench",
        hint="pass --precision fp32, fp16 or int8 here; `best` is for `workbench bench`",
    )


def _precision_is_autocast(job: PreparedJob) -> bool:
    """True when the job's backend is torch, whose precision is autocast over the source model (not a model file)."""
    name = job.backend.name if job.backend is not None else (job.request.backend or job.profile.build.backend)
    return name == "torch"


#: Seeded random feeds the FP16 range check runs when there is no calibration set (seeds 0 … n-1).
RANDOM_REFERENCE_FEEDS = 8


def fp16_route_of(job: PreparedJob):
    """How ``job``'s FP16 model is made (precision/autocast.py ``Fp16Route``): from the profile's backend and
    ``strongly_typed`` and, when the TensorRT backend is loaded, the installed TensorRT's precision mode."""
    from workbench.core.precision.autocast import fp16_route

    compat = getattr(job.backend, "compat", None)  # TensorRTBackend only; None: not TensorRT, or not loaded here
    b = job.profile.build
    return fp16_route(
        b.backend,
        compat.precision_mode() if compat is not None else None,
        b.strongly_typed,
        compat.has("strongly_typed") if compat is not None else None,
        getattr(compat, "version_string", ""),
    )


def typed_fp16(job: PreparedJob, route, on_progress: ProgressFn = no_progress, cancel=None):
    """The FP16 ONNX for a strongly typed build (precision/autocast.py ``TypedFp16``): nodes whose values leave
    FP16's safe range stay FP32, measured on the calibration set (``calibration_samples`` of it, as INT8), else on
    :data:`RANDOM_REFERENCE_FEEDS` seeded random feeds at the benchmark's shapes.

    Raises:
        DatasetError (bad calibration set), UsageError (random feeds: a shape or scalar value missing), ModelError,
        BuildError, Cancelled.
    """
    import json

    from workbench.core.precision.autocast import FeedSource, kept_summary, to_fp16_typed

    folder = dataset_path(job, "calib")
    if folder is not None:
        from workbench.core.precision.datasets import open_dataset

        ds = open_dataset(
            folder,
            job.model_info.inputs,
            limit=quant_settings(job).calibration_samples,
            preprocess_overrides=preprocess_overrides(job),
        )
        source = FeedSource(
            f"calibration set {folder} ({ds.count} samples)", f"calib:{ds.fingerprint()}", ds.iter_feeds
        )
    else:
        from workbench.core.bench.inputs import random_feeds

        meta = [(i.name, i.dtype, i.shape) for i in job.model_info.inputs]
        resolved = resolve_inputs(job)
        shapes = resolved.require_all()
        values = feed_values(job)
        n = RANDOM_REFERENCE_FEEDS
        source = FeedSource(
            f"{n} seeded random feeds (standard normal; no calibration set: --calib DIR measures real activations)",
            json.dumps({"random": n, "shapes": shapes, "values": values}, sort_keys=True, default=str),
            lambda: (random_feeds(meta, resolved.batch, shapes, seed, values=values) for seed in range(n)),
        )
    on_progress(Progress("convert", f"FP16 for a strongly typed build ({route.reason}); measuring on {source.label}"))
    result = to_fp16_typed(job.model_path, source, cancel=cancel)
    on_progress(Progress("convert", ("reused cached " if result.cached else "wrote ") + f"FP16 model {result.path}"))
    on_progress(Progress("convert", kept_summary(result)))
    return result


def explicit_int8(job: PreparedJob):
    """The job's model's own quantization (precision/explicit.py ``ExplicitQuantization``) when the ONNX file is
    already INT8 (Q/DQ pairs or integer operators), else None."""
    from workbench.core.precision.explicit import model_quantization

    return model_quantization(job.model_path, job.model_info.op_histogram)


def _already_int8(job: PreparedJob, eq) -> str:
    """ "model.onnx is already INT8 (explicit quantization, …)": the start of every message about such a model."""
    return f"{job.model_path.name} is already INT8 ({eq.describe()})"


def _refuse_float_of_int8(job: PreparedJob, precision: str, eq) -> None:
    raise UsageError(
        f"{_already_int8(job, eq)}: it cannot run as {precision}",
        hint="bench it with --precision int8 (its own scales, no calibration); for FP32 or FP16 use the model before "
        "it was quantized",
    )


def _refuse_non_integer(job: PreparedJob, eq) -> None:
    """An FP8 / INT4 / FP4 Q/DQ model is not INT8: the int8 precision (and its label on results) would misname it."""
    if not eq.integer:
        raise UsageError(
            f"{job.model_path.name} is quantized to {eq.width} ({eq.describe()}), not INT8: the workbench benchmarks "
            "integer (8-bit, or A16W8) quantized models as --precision int8 only",
            hint="benchmark the float model it came from, or quantize it to INT8 (`workbench calibrate`)",
        )


def explicit_note(job: PreparedJob, eq) -> str:
    """The line a result of an already-INT8 model carries: how it runs and why it has no accuracy verdict."""
    return (
        f"{_already_int8(job, eq)}: benchmarked with its own scales, no calibration; "
        "no accuracy verdict against FP32 (the FP32 model is not here: `workbench compare FP32_MODEL --precision "
        "int8 --eval DIR` checks a calibration of it)"
    )


def check_precision(job: PreparedJob, precision: str) -> None:
    """Raises UsageError when the backend cannot run ``precision`` or the profile does not allow it, or when the model
    is already INT8 (explicit quantization) and ``precision`` is not int8; BackendUnavailable when the profile's
    backend is not installed here."""
    eq = explicit_int8(job)
    if eq is not None and precision != "int8":
        _refuse_float_of_int8(job, precision, eq)
    if eq is not None:
        _refuse_non_integer(job, eq)
    backend = job.require_backend()
    support = backend.precision_support()
    reason = support.get(precision, f"unknown precision {precision}")
    if reason:
        raise UsageError(
            f"{backend.name} on profile {job.profile.name} cannot run {precision}: {reason}",
            hint="pick another --precision, or a profile for hardware that runs it (`workbench profiles list`)",
        )
    if precision not in job.profile.build.precisions:
        raise UsageError(
            f"profile {job.profile.name} does not allow {precision} (allowed: {', '.join(job.profile.build.precisions)})",
            hint="pick one of the allowed precisions with --precision, or add it to [build] precisions in the profile",
        )


def _bench_shapes(job: PreparedJob, batches: Sequence[int] = ()) -> dict[str, tuple[tuple[int, ...], ...]]:
    """{input: (min, opt, max)} of the shapes a benchmark of ``job`` feeds: opt at the resolved ``--batch``/
    ``--shapes`` (:func:`resolve_inputs`), min/max over it and ``batches`` (a scenario's other batches). Inputs
    without every size are left out (the TensorRT build then names what to give)."""
    runs = [resolve_inputs(job)] + [resolve_inputs(job, batch=b) for b in batches]
    out: dict[str, tuple[tuple[int, ...], ...]] = {}
    for name, opt in runs[0].shapes.items():
        seen = [r.shapes[name] for r in runs if name in r.shapes and len(r.shapes[name]) == len(opt)]
        lo, hi = (tuple(pick(d) for d in zip(*seen, strict=True)) for pick in (min, max))
        out[name] = (lo, tuple(opt), hi)
    return out


def build(
    job: PreparedJob,
    precision: str,
    on_progress: ProgressFn = no_progress,
    cancel: threading.Event | None = None,
    *,
    batches: Sequence[int] = (),
) -> Built:
    """Build (or reuse) the artifact for ``precision``. ``batches``: other batches the benchmark will feed (a
    scenario's sweep); a TensorRT plan of a dynamic model is built for them and the request's own.

    Raises:
        UsageError (precision not offered), CalibrationError, BuildError, Cancelled.
    """
    check_precision(job, precision)
    path, cal = precision_model(job, precision, on_progress, cancel)
    backend = job.require_backend()
    if backend.name == "tensorrt":  # dynamic inputs without profile shapes are built for the benchmark's (trtexec)
        backend = backend.with_options(bench_shapes=_bench_shapes(job, batches))
    on_progress(Progress("build", f"building {precision} artifact with {backend.name}"))

    def relay(message: str, done: int | None = None, total: int | None = None) -> None:
        on_progress(Progress("build", message, done, total))

    artifact = backend.build(
        path, precision, job.profile, force=job.request.force_build, on_progress=relay, cancel=cancel
    )
    on_progress(Progress("build", ("cached: " if artifact.cached else "built: ") + str(artifact.path)))
    return Built(artifact, cal)


def _accuracy_session_options(job: PreparedJob) -> Any:
    """The onnxruntime SessionOptions the accuracy check runs both models with, and INT8 localisation measures every
    variant with (so its "all quantized" figure is the check's). None: onnxruntime's defaults — graph optimisation
    "all", the level the ORT backend loads the deployed artifact at (backends/ort.py)."""
    return None


def accuracy(
    job: PreparedJob,
    other_path: Path,
    calib_dataset=None,
    on_progress: ProgressFn = no_progress,
    *,
    calib_samples: int | None = None,
    precision: str | None = None,
):
    """FP32 vs ``other_path`` on the eval set (held out) or, without one, on calibration samples, with the model
    spec's task and output parts. ``calib_samples``: the calibration behind ``other_path`` (named in the advice).
    ``precision``: what ``other_path`` carries; on the torch backend (PyTorch files onnxruntime cannot load) both
    sides are PyTorch runs of the source model, FP32 and ``precision`` autocast (``TorchSession``).
    Returns an AccuracyReport, or None when there is no dataset at all."""
    from workbench.core.accuracy import compare_models
    from workbench.core.precision.datasets import open_dataset

    folder = dataset_path(job, "eval")
    held_out = folder is not None
    if folder is not None:
        ds = open_dataset(folder, job.model_info.inputs, preprocess_overrides=preprocess_overrides(job))
    elif calib_dataset is not None:
        ds = calib_dataset
    else:
        cfolder = dataset_path(job, "calib")
        if cfolder is None:
            return None
        ds = open_dataset(cfolder, job.model_info.inputs, preprocess_overrides=preprocess_overrides(job))
    scope = "held-out" if held_out else "calibration (not held-out)"
    on_progress(Progress("accuracy", f"comparing with FP32 on {ds.count} {scope} samples"))
    kwargs = dict(
        thresholds=thresholds(job),
        held_out=held_out,
        metric=metric(job),
        quant=quant_settings(job),
        spec=job.spec,
        calib_samples=calib_samples,
        precision=precision if precision != "fp32" else None,
    )
    if job.backend is None or job.backend.name != "torch":
        return compare_models(job.model_path, other_path, ds, session_options=_accuracy_session_options(job), **kwargs)
    with contextlib.ExitStack() as stack:
        sessions = tuple(_torch_session(job, p, stack) for p in ("fp32", precision or "fp32"))
        return compare_models(job.model_path, other_path, ds, sessions=sessions, **kwargs)


def _torch_session(job: PreparedJob, precision: str, stack: contextlib.ExitStack) -> Any:
    """An active PyTorch run of the job's model in ``precision`` (its recipe built or reused), held by ``stack``."""
    from workbench.core.backends.base import RunnerSettings
    from workbench.core.backends.torch_backend import TorchSession

    backend = job.require_backend()
    artifact = backend.build(job.model_path, precision, job.profile)
    runner = stack.enter_context(backend.runner(artifact.path, RunnerSettings()))
    return TorchSession(runner, [i.name for i in job.model_info.inputs])


@dataclass(frozen=True)
class PrecisionCheck:
    """A precision compared with FP32: the model that carries it, its calibration (INT8), the accuracy report."""

    precision: str
    model_path: Path
    calibration: Calibration | None
    report: Any  # core.accuracy.AccuracyReport


def check_accuracy(
    job: PreparedJob, precision: str, on_progress: ProgressFn = no_progress, cancel=None
) -> PrecisionCheck:
    """Make the ``precision`` model (calibrating INT8) and compare it with FP32 (`workbench compare`).

    Raises:
        DatasetError: no samples to compare on (neither an eval nor a calibration set); as :func:`precision_model`.
    """
    from workbench.core.errors import DatasetError

    eq = explicit_int8(job)
    if eq is not None:  # compared "with FP32" it would be compared with itself: a PASS that says nothing
        raise UsageError(
            f"{_already_int8(job, eq)}: there is no FP32 model here to compare it with",
            hint="run the check on the FP32 model it came from (`workbench compare FP32_MODEL --precision int8`)",
        )
    path, cal = precision_model(job, precision, on_progress, cancel)
    report = accuracy(
        job,
        path,
        cal.dataset if cal is not None else None,
        on_progress,
        calib_samples=cal.result.samples if cal is not None else None,
        precision=precision,
    )
    if report is None:
        raise DatasetError(
            f"no samples to compare {job.model_path.name} on",
            hint="pass --eval DIR (held-out, with labels.csv) or --calib DIR",
        )
    return PrecisionCheck(precision, path, cal, report)


@dataclass(frozen=True)
class Int8Localisation:
    """Which quantized layers hurt the output (precision/localize.py ``Localisation``) and, when asked, the
    auto-exclude search that re-quantized with the worst in FP32 (``AutoExclude``); ``base_excluded`` are the
    nodes the recipe already kept in FP32 (what a spec or profile must list to keep the result)."""

    localisation: Any
    auto: Any = None
    base_excluded: tuple[str, ...] = ()


def localize_int8(
    job: PreparedJob,
    check: PrecisionCheck,
    *,
    samples: int = 16,
    candidates: int = 256,
    auto_exclude: bool = False,
    max_excluded: int = 8,
    on_progress: ProgressFn = no_progress,
) -> Int8Localisation:
    """Rank the INT8 model's quantized activations by their effect on the output (on the eval set, else the
    calibration samples), measured with the accuracy check's session options; with ``auto_exclude``, re-quantize
    keeping candidates in FP32 while each improves the accuracy check, until it passes or ``max_excluded`` units
    are out (precision/localize.py has the method).

    Raises:
        UsageError: ``check`` is not an INT8 check.
    """
    from workbench.core.precision import localize as loc_mod
    from workbench.core.precision.datasets import open_dataset
    from workbench.core.precision.quantize import QuantOptions, quantize_qdq

    if check.precision != "int8" or check.calibration is None:
        raise UsageError(
            "--per-layer and --auto-exclude localise INT8 error: use them with --precision int8",
            hint="add --precision int8 (and --calib DIR), or drop --per-layer / --auto-exclude",
        )
    if getattr(check.calibration.result, "quant_format", "QDQ") == "QOperator":
        raise UsageError(
            "--per-layer and --auto-exclude localise INT8 error by its Q/DQ pairs; this model is in QOperator format",
            hint="set quantization.quant_format = 'QDQ' (or a qdq-* cpu_recipe) in the profile or model spec",
        )
    calib_ds = check.calibration.dataset
    eval_dir = dataset_path(job, "eval")
    rank_ds = (  # the accuracy check's samples, preprocessed as it preprocesses them
        open_dataset(eval_dir, job.model_info.inputs, preprocess_overrides=preprocess_overrides(job))
        if eval_dir is not None
        else calib_ds
    )
    on_progress(Progress("accuracy", f"ranking quantized layers on {min(rank_ds.count, samples)} samples"))
    so = _accuracy_session_options(job)

    def rank(qdq_path: Path):
        return loc_mod.localize(
            job.model_path,
            qdq_path,
            rank_ds.iter_feeds(),
            max_samples=samples,
            max_candidates=candidates,
            session_options=so,
        )

    loc = rank(check.model_path)
    q = quant_settings(job)
    base = tuple(getattr(q, "nodes_to_exclude", ()) or ())
    if not auto_exclude:
        return Int8Localisation(loc, None, base)

    def requantize(excluded: tuple[str, ...]):
        shown = ", ".join(excluded[:6]) + (f" and {len(excluded) - 6} more" if len(excluded) > 6 else "")
        on_progress(Progress("calibrate", f"re-quantizing with {len(excluded)} node(s) in FP32: {shown}"))
        opts = QuantOptions.from_any(q, nodes_to_exclude=[*base, *excluded])
        return quantize_qdq(job.model_path, calib_ds, opts).path

    def evaluate(p):
        return accuracy(job, p, calib_ds, calib_samples=check.calibration.result.samples)

    def rerank(p: Path):
        on_progress(Progress("accuracy", "re-ranking the layers still quantized"))
        return rank(p)

    ae = loc_mod.auto_exclude(
        job.model_path,
        loc,
        requantize,
        evaluate,
        max_excluded=max_excluded,
        first=(check.model_path, check.report),
        timing_feed=next(iter(rank_ds.iter_feeds())),
        rerank=rerank,
        session_options=so,
    )
    return Int8Localisation(loc, ae, base)


# --- benchmark ------------------------------------------------------------------------------------------------
def _artifact_bytes(path: Any, companions: Any = ()) -> int | None:
    """Size on disk of a built artifact (a file, or a folder's files summed), plus its external data when the cache
    lists ``<name>.data`` among its ``companions`` (an optimized external-data model, backends/ort.py); None when it
    cannot be read."""
    p = Path(path)
    try:
        if p.is_dir():
            return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
        data = f"{p.name}.data"  # ort.py's name for it; other companions (a build report) are not the artifact
        return p.stat().st_size + ((p.parent / data).stat().st_size if data in companions else 0)
    except OSError:
        return None


def _plan(job: PreparedJob, built: Built, *, report=None, cfg_overrides: dict | None = None, power_mode=None):
    from itertools import islice

    from workbench.core.bench.arrivals import iter_poisson_arrivals
    from workbench.core.bench.result import RunContext
    from workbench.core.bench.run import BenchPlan, TelemetryPlan
    from workbench.core.results.result import ArtifactRef, BenchSettings, ModelRef, ServerScenario

    o = job.request
    cfg = bench_config(job, built.artifact.path)
    if cfg_overrides:
        if "batch" in cfg_overrides:  # a scenario's batch (offline sweep, multi-stream) must fit --shapes too
            resolve_inputs(job, batch=cfg_overrides["batch"])
        cfg = replace(cfg, **cfg_overrides)
    server = None
    if cfg.scenario == "server":
        count = cfg.server_query_count
        # the first 20 000 only: the whole schedule of a long run would be a list as long as the run
        arrivals = list(islice(iter_poisson_arrivals(cfg.qps or 1.0, count, cfg.seed), 20_000))
        server = ServerScenario(cfg.qps, count, cfg.seed, tuple(arrivals), "scheduled arrival (queueing included)")
    art = built.artifact
    context = RunContext(
        precision=art.precision,
        backend=job.require_backend().name,
        profile=job.profile.name,
        profile_reason=job.profile_reason,
        device=job.device or device_name(None),
        versions={**versions(), **job.require_backend().versions()},
        model=ModelRef(str(o.model or job.model_path), str(job.model_path), job.model_info.sha256),
        artifact=ArtifactRef(
            str(art.path), _artifact_bytes(art.path, (art.meta or {}).get("companions") or ()), art.cached, art.build_s
        ),
        settings=BenchSettings(
            threads=cfg.intra_op_threads,
            graph_optimization_level=cfg.graph_optimization_level,
            execution_mode=cfg.execution_mode,
            warmup_ms=cfg.warmup_ms,
            duration_s=None if cfg.iterations else cfg.duration_s,
            iterations_requested=cfg.iterations,
            min_iterations=cfg.min_iterations,
            seed=cfg.seed,
            cuda_graph=cfg.cuda_graph,
            include_transfers=cfg.include_transfers,
            streams=cfg.streams,
            profile_layers=cfg.profile_layers,
        ),
        batch_requested=cfg.batch,
        percentiles=tuple(job.profile.benchmark.percentiles),
        scenario=cfg.scenario,
        server=server,
        accuracy=report,
        calibration=built.calibration.info() if built.calibration is not None else None,
        power_mode=power_mode,
        notes=(explicit_note(job, eq),) if (eq := explicit_int8(job)) is not None else (),
    )
    return BenchPlan(
        config=cfg,
        context=context,
        telemetry=TelemetryPlan(
            source=o.telemetry or job.profile.telemetry.source,
            interval_ms=job.profile.telemetry.interval_ms,
            total_rule=job.profile.power.total_rule,
            max_temp_c=job.profile.power.max_temp_c,
        ),
        repeat=max(1, o.repeat),
        idle_s=o.idle_s,
        subtract_idle=o.subtract_idle,
        settle=o.settle,
        settle_target_c=o.settle_target_c,
        settle_timeout_s=o.settle_timeout_s,
        until_stable=o.until_stable,
        stable_target=o.stable_target,
        stable_rel_width=o.stable_rel_width,
        events_path=Path(o.job_dir) / "events.jsonl" if o.job_dir else None,
    )


def store(job: PreparedJob, result: BenchmarkResult, on_progress: ProgressFn = no_progress) -> BenchmarkResult:
    """Store ``result`` in the results database (and, inside a detached job, note its id in the job's folder).
    Returns the result with its ``result_id``. Raises ResultsError."""
    from workbench.core import jobs
    from workbench.core.results.store import ResultStore

    with ResultStore() as db:
        rid = db.add(result)
    if job.request.job_dir is not None:
        jobs.record_result(job.request.job_dir, rid)
    on_progress(Progress("store", f"stored as result {rid}"))
    return result.with_id(rid)


def store_fetched(result: BenchmarkResult) -> int:
    """Store a result measured elsewhere and fetched here (`fleet run`: a board's result with ``host`` set); its id.
    Raises ResultsError."""
    from workbench.core.results.store import ResultStore

    with ResultStore() as db:
        return db.add(result)


def check_bench_inputs(job: PreparedJob, *, batch: int | None = None, flag: str | None = None) -> None:
    """Check what a benchmark of ``job`` will feed before anything is built: the ``--inputs`` dataset against the
    model, or, for random inputs, every input's size and the values of integer scalar inputs.

    ``batch``/``flag``: a scenario's own largest batch (the offline sweep's ``--max-batch``, multi-stream's
    ``--samples-per-query``) instead of the request's, and the option the messages name for it.

    Raises:
        DatasetError: the ``--inputs`` folder is empty or does not match the model (names the file).
        UsageError: ``--batch`` (or ``flag``) would stack the ``--inputs`` samples past a quarter of the memory
            available; an input without a size (names the ``--shapes`` forms that set it); random inputs that would
            take more than a quarter of the memory available (``--batch``/``--shapes`` too large, named with the
            size: bench/inputs.py ``check_feed_size``); ``batch`` disagrees with ``--shapes`` or a fixed batch dim;
            an integer scalar input without a value (names the model spec key to set).
    """
    from workbench.core.bench.inputs import check_dataset_feed_size, check_feed_size

    o = job.request
    resolved = resolve_inputs(job, batch=batch)
    if o.bench_dataset:
        from workbench.core.precision.datasets import open_dataset

        ds = open_dataset(paths.resolve_dataset(o.bench_dataset, "calib"), job.model_info.inputs)
        check_dataset_feed_size(ds, resolved.batch, flag=flag or "--batch")
        return
    meta = [(i.name, i.dtype, i.shape) for i in job.model_info.inputs]
    if flag:
        check_feed_size(meta, resolved.require_all(), hint=f"use a smaller {flag}")
    else:
        check_feed_size(meta, resolved.require_all())
    feed_values(job)


def check_export_target(job: PreparedJob | JobRequest) -> None:
    """Refuse an ``--export-times`` path that cannot take a file before anything runs: a folder, a missing folder,
    a file where its folder should be, a folder this process cannot create files in (tried with a temporary file,
    removed at once: permission bits alone say nothing for root or read-only mounts).

    A symbolic link another user could have planted on the way is refused here too (fsutil.resolve_output), not
    after the run.

    Raises:
        StorageError: naming the path and what to give instead.
    """
    import tempfile

    from workbench.core.errors import StorageError
    from workbench.core.fsutil import require_existing_folder, resolve_output

    request = job.request if isinstance(job, PreparedJob) else job
    target = request.export_times
    if not target:
        return
    p = Path(target).expanduser()
    resolve_output(p)
    if p.is_dir():
        raise StorageError(f"--export-times {target} is a folder", hint="give a file name, e.g. times.json")
    parent = require_existing_folder(p, f"--export-times {target}")
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".wb-write-test-"):
            pass
    except OSError as exc:
        raise StorageError(
            f"--export-times {target}: cannot write in {parent} ({exc.strerror or exc})",
            hint="give a path in a folder you can write to",
        ) from None
    if p.exists() and not os.access(p, os.W_OK):
        raise StorageError(f"--export-times {target}: the file is not writable", hint="give another file name")


def check_telemetry(spec: str | None) -> None:
    """Open and close the telemetry source ``spec`` names (``--telemetry`` or the profile's), so a typo, a missing
    replay file or a source this machine lacks stops a job before calibration and build. ``auto`` and None are not
    opened here: auto never fails on a machine with a host source, and picks what works.

    Raises:
        UsageError: unknown source or malformed replay options. TelemetryError: the source cannot be used here.
    """
    spec = (spec or "auto").strip()
    if spec == "auto":
        return
    from workbench.core.telemetry import open_source

    open_source(spec).close()


def check_results_db(request: JobRequest) -> None:
    """With ``request.store``: open the results database (creating it if absent) and read its table, so a corrupt,
    locked or foreign file stops the job before anything is built rather than after the benchmark.

    Raises:
        ResultsError: the database is corrupt, locked, newer than this workbench, or cannot be created.
    """
    if not request.store:
        return
    from workbench.core.results.store import ResultStore

    with ResultStore() as db:
        db.count()


def check_request(request: JobRequest) -> None:
    """The checks of a benchmarking request that need no model: ``--telemetry``, ``--export-times``, the results
    database. The CLI runs them before it starts a job; :func:`check_bench_job` runs them again in the job.

    Raises:
        UsageError, TelemetryError, StorageError, ResultsError (each naming what to fix).
    """
    check_telemetry(request.telemetry)
    check_export_target(request)
    check_results_db(request)


def check_bench_job(job: PreparedJob) -> None:
    """Everything a benchmark of ``job`` can fail on that is known before calibration and build: the request's
    checks (:func:`check_request`, with the profile's telemetry source when none was asked for) and the inputs
    (:func:`check_bench_inputs`).

    Raises:
        as :func:`check_request` and :func:`check_bench_inputs`.
    """
    check_telemetry(job.request.telemetry or job.profile.telemetry.source)
    check_export_target(job)
    check_results_db(job.request)
    check_bench_inputs(job)


def _refuse_export(job: PreparedJob, what: str) -> None:
    if job.request.export_times:
        raise UsageError(
            f"--export-times writes the latencies of one run, and {what} makes several",
            hint="use `workbench bench --precision P --export-times FILE` (or --scenario server / multi-stream)",
        )


def _measure(
    job: PreparedJob,
    built: Built,
    *,
    report=None,
    on_progress: ProgressFn = no_progress,
    on_event: EventFn | None = None,
    cancel: threading.Event | None = None,
    cfg_overrides: dict | None = None,
    power_mode=None,
    multi_stream=None,
):
    """Benchmark a built artifact and store the result (when the request says so). Returns a bench.run.BenchRun
    (the result and the outcomes holding every latency)."""
    from workbench.core.bench.run import run_benchmark

    plan = _plan(job, built, report=report, cfg_overrides=cfg_overrides, power_mode=power_mode)
    if multi_stream is not None:
        plan = replace(plan, context=replace(plan.context, multi_stream=multi_stream))
    run = run_benchmark(plan, on_progress=on_progress, on_event=on_event, cancel=cancel)
    if job.request.store:
        run = run.with_result(store(job, run.result, on_progress))
    return run


def _export(job: PreparedJob, run, on_progress: ProgressFn) -> None:
    """Write the run's latencies to the request's --export-times file (after the result is stored, so a failed
    write never loses the run)."""
    target = job.request.export_times
    if target:
        n = run.write_times(target)
        total = run.times_total
        what = f"{n} latencies" if n == total else f"the first {n} of {total} latencies (the exact cap)"
        on_progress(Progress("bench", f"wrote {what} to {target}"))


def bench(
    job: PreparedJob,
    built: Built,
    *,
    report=None,
    on_progress: ProgressFn = no_progress,
    on_event: EventFn | None = None,
    cancel: threading.Event | None = None,
    cfg_overrides: dict | None = None,
    power_mode=None,
    multi_stream=None,
) -> BenchmarkResult:
    """Benchmark a built artifact (bench/run.py), store the result when the request says so, then write
    ``--export-times``.

    ``report``: the accuracy comparison the result carries. ``cfg_overrides``: benchmark config fields a scenario
    sets (batch, scenario, qps …). ``power_mode``/``multi_stream``: recorded with the result.
    """
    check_export_target(job)
    check_bench_inputs(job)
    run = _measure(
        job,
        built,
        report=report,
        on_progress=on_progress,
        on_event=on_event,
        cancel=cancel,
        cfg_overrides=cfg_overrides,
        power_mode=power_mode,
        multi_stream=multi_stream,
    )
    _export(job, run, on_progress)
    return run.result


def _bench_and_store_run(
    job: PreparedJob,
    precision: str,
    *,
    built: Built | None = None,
    report=None,
    with_accuracy: bool = True,
    reference_accuracy: bool = True,
    on_progress: ProgressFn = no_progress,
    on_event: EventFn | None = None,
    cancel: threading.Event | None = None,
):
    if built is None:
        built = build(job, precision, on_progress, cancel)
    if report is None and with_accuracy and explicit_int8(job) is None:  # an INT8 model has no FP32 reference here
        if precision in ("fp16", "bf16", "int8"):
            calib_ds = built.calibration.dataset if built.calibration else None
            n = built.calibration.result.samples if built.calibration else None
            report = accuracy(
                job, built.artifact.source_model, calib_ds, on_progress, calib_samples=n, precision=precision
            )
        elif reference_accuracy and precision == "fp32":
            # FP32 against itself: its own top-1 on the same samples; the vs_fp32 figures are the identity.
            report = accuracy(job, job.model_path, None, on_progress, precision="fp32")
            report = report.as_reference() if report is not None else None
    return _measure(job, built, report=report, on_progress=on_progress, on_event=on_event, cancel=cancel)


def bench_and_store(
    job: PreparedJob,
    precision: str,
    *,
    built: Built | None = None,
    report=None,
    with_accuracy: bool = True,
    reference_accuracy: bool = True,
    on_progress: ProgressFn = no_progress,
    on_event: EventFn | None = None,
    cancel: threading.Event | None = None,
) -> BenchmarkResult:
    """build -> accuracy (fp16/int8 against FP32; fp32 against itself with ``reference_accuracy``) -> bench -> store
    -> --export-times.

    ``built``/``report``: an artifact and accuracy comparison this session already has (the TUI's Build and
    Calibrate screens) are reused instead of being made again.
    """
    check_bench_job(job)
    run = _bench_and_store_run(
        job,
        precision,
        built=built,
        report=report,
        with_accuracy=with_accuracy,
        reference_accuracy=reference_accuracy,
        on_progress=on_progress,
        on_event=on_event,
        cancel=cancel,
    )
    _export(job, run, on_progress)
    return run.result


@dataclass(frozen=True)
class BestOutcome:
    """'best': the lowest precision whose accuracy passes and that is significantly faster than the one above it
    (fp32 otherwise), every candidate, and why (see ``_choose_best``)."""

    chosen: BenchmarkResult
    candidates: tuple[BenchmarkResult, ...]
    skipped: tuple[str, ...] = ()  # "int8: no calibration set", …
    reasons: tuple[str, ...] = ()  # why each lower precision was or was not chosen (_choose_best)

    def to_dict(self) -> dict[str, Any]:
        """``bench --precision best --json``: the chosen entry with ``chosen_as_best`` and ``candidates``."""
        d = self.chosen.to_dict(latencies=False)
        d["chosen_as_best"] = True
        d["candidates"] = [
            {
                "precision": c.precision,
                "median_ms": c.latency.median_ms,
                "verdict": c.accuracy.verdict if c.accuracy is not None and not c.accuracy.reference else None,
            }
            for c in self.candidates
        ]
        d["skipped"] = list(self.skipped)
        d["choice"] = list(self.reasons)
        return d

    def ids_dict(self) -> dict[str, Any]:
        """The outcome by stored result ids (a detached job's outcome; :meth:`from_ids` reads it back)."""
        return {
            "chosen": self.chosen.stored_id,
            "candidates": [c.stored_id for c in self.candidates],
            "skipped": list(self.skipped),
            "reasons": list(self.reasons),
        }

    @classmethod
    def from_ids(cls, d: dict[str, Any], get: Callable[[int], BenchmarkResult]) -> BestOutcome:
        """Inverse of :meth:`ids_dict`; ``get`` reads one stored result (ResultStore.get).

        Raises:
            ResultsError: a result is no longer stored.
        """
        candidates = tuple(get(int(i)) for i in d.get("candidates") or ())
        chosen = next((c for c in candidates if c.id == d.get("chosen")), None) or get(int(d["chosen"]))
        return cls(chosen, candidates, tuple(d.get("skipped") or ()), tuple(d.get("reasons") or ()))


def bench_best(job: PreparedJob, **kw: Any) -> BestOutcome:
    """Benchmark every allowed precision and choose among those whose accuracy passes (see :class:`BestOutcome`).

    With ``job.request.export_times``, the file gets the chosen precision's latencies (only that file is written).
    """
    on_progress: ProgressFn = kw.get("on_progress", no_progress)
    kw.setdefault("reference_accuracy", False)  # fp32 always passes: no need to score it against itself
    eq = explicit_int8(job)
    if eq is not None:
        raise UsageError(
            f"--precision best chooses among precisions of an FP32 model; {_already_int8(job, eq)}",
            hint="bench it with --precision int8",
        )
    check_bench_job(job)
    candidates = [
        p
        for p in ("fp32", "fp16", "int8")
        if p in job.profile.build.precisions and not job.require_backend().precision_support().get(p)
    ]
    runs = []
    skipped: list[str] = []
    for p in candidates:
        try:
            runs.append(_bench_and_store_run(job, p, **kw))
        except CalibrationError as exc:
            skipped.append(f"{p}: {exc}")
            on_progress(Progress("bench", f"skipping {p}: {exc}"))
    chosen, reasons = _choose_best(runs)
    _export(job, chosen, on_progress)
    return BestOutcome(chosen.result, tuple(r.result for r in runs), tuple(skipped), tuple(reasons))


def _choose_best(runs: list) -> tuple[Any, list[str]]:
    """'best': start from FP32 and move to the next precision (FP16, then INT8) only when its accuracy passes and it
    is significantly faster than the current choice — by the same ratio-of-medians verdict `results compare` gives,
    which is never significant when either run was contended or the difference is within run-to-run drift. So a
    lower precision is never chosen on noise. Returns (the chosen run, one reason per step)."""
    from workbench.core.results.compare import ratio_verdict

    by_p = {r.result.precision: r for r in runs}
    current = by_p.get("fp32") or runs[0]
    reasons: list[str] = []
    for p in ("fp16", "int8"):
        cand = by_p.get(p)
        if cand is None or cand is current:
            continue
        acc = cand.result.accuracy
        if acc is None or acc.verdict != "pass":
            reasons.append(f"{p}: accuracy {'not checked (no data set)' if acc is None else acc.verdict}: not chosen")
            continue
        rv = ratio_verdict(current.result, cand.result)
        if rv.significant and rv.ratio is not None and rv.ratio < 1:
            reasons.append(f"{p} vs {current.result.precision}: {rv.verdict}: chosen")
            current = cand
        else:
            reasons.append(f"{p} vs {current.result.precision}: {rv.verdict}: {current.result.precision} kept")
    return current, reasons


@dataclass(frozen=True)
class MainRun:
    """``workbench run``: FP32 first, then each other precision, and each one's median speed-up over FP32. An
    already-INT8 model (explicit quantization) runs as INT8 alone: no FP32 and no speed-up."""

    results: tuple[BenchmarkResult, ...]

    @property
    def fp32(self) -> BenchmarkResult | None:
        return self.results[0] if self.results and self.results[0].precision == "fp32" else None

    def speedups(self) -> dict[str, float]:
        if self.fp32 is None:
            return {}
        base = self.fp32.latency.median_ms or float("nan")
        return {r.precision: base / (r.latency.median_ms or float("nan")) for r in self.results[1:]}

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.results[0].model.path,
            "profile": self.results[0].profile,
            "results": [r.to_dict(latencies=False) for r in self.results],
            "speedup_vs_fp32": self.speedups(),
        }


def default_run_precisions(job: PreparedJob) -> tuple[str, ...]:
    """What `workbench run` compares when --precisions is not given: FP32 and INT8, or FP32 and FP16 where the backend
    has no INT8 (the torch backend: autocast FP16), or FP32 alone."""
    if explicit_int8(job) is not None:
        return ("int8",)
    support = job.require_backend().precision_support()
    for other in ("int8", "fp16"):
        if not support.get(other, "unknown") and other in job.profile.build.precisions:
            return ("fp32", other)
    return ("fp32",)


def run_main(job: PreparedJob, precisions: Sequence[str] | None, **kw: Any) -> MainRun:
    """The main job: each precision (fp32 always first) built, checked against FP32, benchmarked and stored.
    ``precisions`` None or empty: :func:`default_run_precisions`.

    Raises:
        UsageError before anything runs when the backend or profile cannot run one of the precisions.
        CalibrationError before any benchmark when INT8 is asked for and there is no calibration set (so no FP32
        run is wasted on a job that cannot finish).
    """
    wanted = ["fp32"] + [p for p in dict.fromkeys(precisions or default_run_precisions(job)) if p != "fp32"]
    if explicit_int8(job) is not None and not precisions:  # already INT8: its own precision only, no FP32 to run
        wanted = ["int8"]
    _refuse_export(job, "`workbench run`")
    check_bench_job(job)
    for p in wanted:  # every precision before the first run: a refused one must not come after stored results
        check_precision(job, p)
    if "int8" in wanted and explicit_int8(job) is None and dataset_path(job, "calib") is None:
        raise CalibrationError(
            f"INT8 needs a calibration set for {job.model_path.name}",
            hint="pass --calib DIR (images with preprocess.toml, or .npy/.npz tensors), or run --precisions fp32",
        )
    return MainRun(tuple(bench_and_store(job, p, **kw) for p in wanted))


# --- scenarios (core/scenarios.py has the definitions) ----------------------------------------------------------
def _scenario_bench(job, built, on_progress, on_event, cancel):
    def run(cfg_overrides: dict | None = None, **extra: Any) -> BenchmarkResult:
        return bench(
            job, built, on_progress=on_progress, on_event=on_event, cancel=cancel, cfg_overrides=cfg_overrides, **extra
        )

    return run


def _scenario_build(job: PreparedJob, on_progress, cancel, batches: Sequence[int] = ()) -> Built:
    if job.request.precision == "best":
        raise UsageError(
            "--precision best runs single-stream only; pick fp32, fp16 or int8 for other scenarios",
            hint="run --precision best without --scenario, or pick --precision fp32, fp16 or int8 for this scenario",
        )
    check_bench_job(job)
    return build(job, job.request.precision, on_progress, cancel, batches=batches)


def offline(job: PreparedJob, *, max_batch: int, on_progress=no_progress, on_event=None, cancel=None):
    """Offline (maximum throughput): a batch sweep 1, 2, 4 … ``max_batch``. Returns scenarios.OfflineSweep."""
    from workbench.core import scenarios

    _refuse_export(job, "the offline batch sweep")
    if scenarios.dynamic_batch(job):  # (a fixed batch is refused by scenarios.offline, naming the fix)
        check_bench_inputs(job, batch=max_batch, flag="--max-batch")
    # the sweep feeds 1 … max_batch: a TensorRT plan of a dynamic model must take all of them
    built = _scenario_build(job, on_progress, cancel, (1, max_batch) if scenarios.dynamic_batch(job) else ())
    return scenarios.offline(job, max_batch=max_batch, bench=_scenario_bench(job, built, on_progress, on_event, cancel))


def server(
    job: PreparedJob, *, qps: float, queries: int | None = None, on_progress=no_progress, on_event=None, cancel=None
):
    """Server: seeded Poisson arrivals at ``qps``; latency counts from each query's scheduled arrival."""
    from workbench.core import scenarios

    built = _scenario_build(job, on_progress, cancel)
    return scenarios.server(qps=qps, queries=queries, bench=_scenario_bench(job, built, on_progress, on_event, cancel))


def find_max_qps(
    job: PreparedJob,
    *,
    p99_bound_ms: float,
    queries: int | None = None,
    on_try: Callable[[float, float, bool], None] | None = None,
    on_progress=no_progress,
    on_event=None,
    cancel=None,
):
    """The highest offered QPS whose p99 meets the bound (bisection from the single-stream capacity).
    Returns scenarios.MaxQpsSearch."""
    from workbench.core import scenarios

    _refuse_export(job, "--find-max-qps")
    built = _scenario_build(job, on_progress, cancel)
    run = _scenario_bench(job, built, on_progress, on_event, cancel)
    probe = run({"iterations": 300, "duration_s": 1.0})
    return scenarios.find_max_qps(
        p99_bound_ms=p99_bound_ms,
        bench=run,
        start_qps=probe.throughput.queries_per_s or 1.0,
        queries_per_try=queries or 2000,
        on_try=on_try,
    )


def multi_stream(job: PreparedJob, *, samples_per_query: int, on_progress=no_progress, on_event=None, cancel=None):
    """Multi-stream: ``samples_per_query`` samples in one batch-N query."""
    from workbench.core import scenarios

    if scenarios.dynamic_batch(job):  # (a fixed batch is refused by scenarios.multi_stream, naming the fix)
        check_bench_inputs(job, batch=samples_per_query, flag="--samples-per-query")
    built = _scenario_build(job, on_progress, cancel, (samples_per_query,) if scenarios.dynamic_batch(job) else ())
    return scenarios.multi_stream(
        job, samples_per_query=samples_per_query, bench=_scenario_bench(job, built, on_progress, on_event, cancel)
    )


# --- power-mode sweep -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepSettings:
    """How a sweep runs: latency target (p99 ≤ ms) and power budget (mean W) for the recommendation, the wait
    for temperatures to settle (target °C or stability; timeout s), and nvpmodel's timeout (s)."""

    p99_max_ms: float | None = None
    power_max_w: float | None = None
    cooldown_target_c: float | None = None
    cooldown_timeout_s: float = 120.0
    nvpmodel_timeout_s: float = 15.0


def sweep(
    job: PreparedJob,
    modes: Sequence[Any],
    conf: Any,
    settings: SweepSettings = SweepSettings(),
    *,
    on_row: Callable[[Any], None] | None = None,
    on_progress: ProgressFn = no_progress,
    cancel: threading.Event | None = None,
    nvpmodel: Any = None,
):
    """The power-mode sweep (power/sweep.py): build once, then for each mode set it (nvpmodel through sudo -n),
    settle, benchmark and store; restore the original mode at the end, also on error or cancel; recommend the
    mode with the least energy per inference meeting the targets. Returns a power.sweep.SweepResult.

    Raises:
        PowerError: a replay telemetry source (a sweep compares measured power), nvpmodel problems.
    """
    from workbench.core.power.nvpmodel import Nvpmodel
    from workbench.core.power.sweep import assert_measured_source, max_temp_reader, run_sweep
    from workbench.core.results.result import PowerModeRef
    from workbench.core.telemetry import open_source

    tool = nvpmodel if nvpmodel is not None else Nvpmodel(timeout_s=settings.nvpmodel_timeout_s)
    probe = open_source(job.request.telemetry or job.profile.telemetry.source)
    try:
        assert_measured_source(probe)
        check_results_db(job.request)
        check_bench_inputs(job)
        built = build(job, job.request.precision, on_progress, cancel)

        def current():
            q = tool.query()
            return conf.by_id(q.id) if q.id is not None else None

        def bench_mode(mode) -> BenchmarkResult:
            on_progress(Progress("sweep", f"benchmarking in power mode {mode.name} (id {mode.id})"))
            return bench(
                job, built, on_progress=on_progress, cancel=cancel, power_mode=PowerModeRef(mode.id, mode.name)
            )

        return run_sweep(
            modes,
            set_mode=tool.set_mode,
            current_mode=current,
            run_benchmark=bench_mode,
            read_temp_c=max_temp_reader(probe),
            cooldown={"target_c": settings.cooldown_target_c, "timeout_s": settings.cooldown_timeout_s},
            p99_max_ms=settings.p99_max_ms,
            power_max_w=settings.power_max_w,
            cancel=cancel,
            on_row=on_row,
        )
    finally:
        probe.close()


# --- tune -----------------------------------------------------------------------------------------------------
def tune(
    job: PreparedJob,
    options: Any,
    *,
    on_progress: ProgressFn = no_progress,
    on_event: EventFn | None = None,
    cancel: threading.Event | None = None,
):
    """``workbench tune``: search precisions, INT8 recipes, layers kept FP32, threads, batch, power modes and GPU
    options for the fastest deployment meeting the bounds (core/tune/engine.py has the method). ``options``: a
    tune.engine.TuneOptions. Returns a tune.types.TuneResult (its tuned profile written when there is a
    recommendation).

    Raises:
        as :func:`check_bench_job`; UsageError, ConfigError, Cancelled (stored runs stay: the same tune resumes).
    """
    from workbench.core.tune.engine import Steps, run_tune

    eq = explicit_int8(job)
    if eq is not None:
        raise UsageError(
            f"tune searches precisions and INT8 recipes of an FP32 model; {_already_int8(job, eq)}",
            hint="tune the FP32 model it came from, or benchmark this one with --precision int8",
        )
    check_bench_job(job)
    steps = Steps(precision_model, check_accuracy, localize_int8, build, bench, store)
    return run_tune(job, options, steps, on_progress=on_progress, on_event=on_event, cancel=cancel)
