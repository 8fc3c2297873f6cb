"""What a job asks for (:class:`JobRequest`) and what it resolved to (:class:`PreparedJob`), and the resolution
rules both faces rely on: which dataset, which quantization recipe, which accuracy thresholds, which benchmark
configuration. No work happens here; core/workflow.py does the work.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core import paths

if TYPE_CHECKING:  # annotations only: importing these at run time would load pydantic/onnx for every face
    from workbench.core.backends.base import Backend
    from workbench.core.models.info import ModelInfo
    from workbench.core.profiles.match import Detection
    from workbench.core.profiles.schema import Profile
    from workbench.core.spec import ModelSpec

PRECISIONS = ("fp32", "fp16", "bf16", "int8", "best")


@dataclass(frozen=True)
class JobRequest:
    """Everything a calibrate / build / bench / sweep request can set. ``None`` = the profile's (or spec's) default.

    Model: ``model`` (None = the bundled digits CNN), ``spec`` (model spec TOML), ``trust_model`` (load TorchScript,
    ExportedProgram and full pickles, which can run code from the file: ``--trust-model``), PyTorch export
    options (``input_shapes``, ``export_opset``, ``export_dynamic_batch``). Device: ``profile`` (None = detected),
    ``backend`` override. Precision: ``precision``, ``calib``/``eval`` folders, calibration ``method`` and
    ``calib_samples``. Benchmark: ``iterations`` or ``duration_s``, warm-up, ``threads``, ``batch``, ``shapes``
    (whole shapes per input) and ``symbols`` (sizes per named dim; both from ``--shapes``), ``seed``,
    ``bench_dataset`` (real inputs), ``telemetry`` source, GPU options, ``repeat``, idle power,
    settling, ``until_stable``. Bookkeeping: ``store`` in the results database, ``export_times`` (a file for every
    latency), ``job_dir`` (the detached job's folder, where its event stream and result ids are kept).
    """

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
    symbols: dict = field(default_factory=dict)  # --shapes batch=4,height=320: size per named dim
    seed: int = 0
    bench_dataset: str | None = None
    telemetry: str | None = None
    force_build: bool = False
    trust_model: bool = False  # --trust-model (old name --trust-pickle): see models/torch_export.py
    spec: str | None = None
    profile_layers: bool = False
    store: bool = True
    input_shapes: dict = field(default_factory=dict)  # for PyTorch -> ONNX export
    export_opset: int | None = None  # PyTorch -> ONNX export opset; None = the exporter's own (torch_export)
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
    export_times: str | None = None  # write every timed latency (ms) of the run as JSON here
    job_dir: Path | None = None  # set in a detached job's process: its folder (events.jsonl, results)


@dataclass(frozen=True)
class PreparedJob:
    """A request resolved: the profile (and why it was chosen), the ONNX model (exported from PyTorch when
    needed), its inspection and spec, the backend, and the device detection made once for the whole job."""

    request: JobRequest
    profile: Profile
    profile_reason: str
    model_path: Path
    model_info: ModelInfo
    spec: ModelSpec | None
    backend: Backend | None  # None when prepared without it (see workflow.prepare's ``backend_needed``)
    bundled_default: bool
    detection: Detection | None = None  # the device detection (None when it failed: it only names things)
    device: str = ""  # what results record as the device
    backend_missing: tuple[str, str] | None = None  # (message, hint) of why the profile's backend is not here

    def require_backend(self) -> Backend:
        """The backend, for the steps that need the target (build, bench).

        Raises:
            BackendUnavailable: the profile's backend is not installed here (the message says what to install).
        """
        if self.backend is None:
            from workbench.core.errors import BackendUnavailable

            msg, hint = self.backend_missing or ("no backend was prepared", "")
            raise BackendUnavailable(msg, hint=hint or None)
        return self.backend

    def with_request(self, **changes: Any) -> PreparedJob:
        """The same prepared job with request fields changed (bench-only settings need no new preparation)."""
        return replace(self, request=replace(self.request, **changes))

    @property
    def title(self) -> str:
        """ "digits CNN — bundled default" or the model file's name."""
        if self.bundled_default:
            return "digits CNN — bundled default"
        return str(self.request.model or self.model_path.name)


def versions() -> dict[str, str]:
    """The versions every result records (the backend adds its own)."""
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


def device_name(detection: Any) -> str:
    """The device name results record: the Jetson model, the GPU, else "<cpu> CPU"."""
    if detection is None:
        return platform.machine()
    return detection.model or detection.gpu_name or f"{platform.processor() or platform.machine()} CPU"


def _dataset_name(job: PreparedJob, kind: str) -> str | None:
    explicit = job.request.calib if kind == "calib" else job.request.eval
    if explicit:
        return explicit
    if job.spec is not None:
        value = getattr(job.spec, kind, None)
        if value:
            return value
    if job.bundled_default:
        return "digits"
    return None


def dataset_path(job: PreparedJob, kind: str) -> Path | None:
    """The calibration ("calib") or evaluation ("eval") folder for this job: --calib/--eval, the model spec
    (paths relative to the spec file's folder: spec.spec_dataset), the bundled set for the bundled model, else None."""
    name = _dataset_name(job, kind)
    if name is None:
        return None
    return paths.resolve_dataset(name, kind)


def cpu_recipe_choice(job: PreparedJob, *, root: Path = Path("/")):
    """The plain CPU INT8 recipe this job uses and why (precision/cpu_recipes.RecipeChoice), or None when the profile's
    own keys are the recipe (``quantization.cpu_recipe = "profile"``) or the backend is not onnxruntime.

    "auto" picks the recipe for the CPU's instruction set (hw/cpu_isa.py, ``<root>/proc/cpuinfo``). A profile for the
    other architecture family than this host (cpu-aarch64 on an x86 machine) gets that family's baseline level
    ("neon" / "unknown"), not the host's: the recipe is for the device the profile describes.
    """
    from workbench.core.hw.cpu_isa import detect
    from workbench.core.precision.cpu_recipes import choose

    q = job.profile.quantization
    setting = getattr(q, "cpu_recipe", "profile")
    if setting == "profile" or job.profile.build.backend != "onnxruntime":
        return None
    isa = detect(root).isa
    arm_profile = job.profile.device.arch in ("aarch64", "arm64", "armv7l")
    arm_host = isa.startswith("neon")
    if isa != "unknown" and arm_profile != arm_host:
        isa = "neon" if arm_profile else "unknown"
    spec_keys = tuple(job.spec.quantization) if job.spec is not None and getattr(job.spec, "quantization", None) else ()
    return choose(setting, isa, spec_keys)


def quant_settings(job: PreparedJob, *, choice: Any = False):
    """The profile's quantization section with the CPU recipe (:func:`cpu_recipe_choice`; pass ``choice`` when it is
    already known), then spec and request overrides applied (profiles.schema)."""
    q = job.profile.quantization
    if choice is False:
        choice = cpu_recipe_choice(job)
    if choice is not None:
        q = q.model_copy(update=choice.options)
    if job.spec is not None and getattr(job.spec, "quantization", None):
        overrides = {k: v for k, v in job.spec.quantization.items() if v is not None}
        q = q.model_copy(update=overrides)
    updates: dict[str, Any] = {}
    if job.request.method:
        updates["method"] = job.request.method
    if job.request.calib_samples:
        updates["calibration_samples"] = job.request.calib_samples
    return q.model_copy(update=updates) if updates else q


def thresholds(job: PreparedJob):
    """The accuracy thresholds (max top-1 drop in points, min cosine): the profile's, overridden by the spec."""
    acc = job.profile.accuracy
    if job.spec is not None and getattr(job.spec, "accuracy", None):
        overrides = {
            k: v for k, v in job.spec.accuracy.items() if k in ("max_top1_drop_pts", "min_cosine") and v is not None
        }
        acc = acc.model_copy(update=overrides)
    return acc


def preprocess_overrides(job: PreparedJob) -> dict | None:
    """The model spec's [preprocess] overrides for image datasets (None without a spec)."""
    return (getattr(job.spec, "preprocess", None) or None) if job.spec is not None else None


def metric(job: PreparedJob) -> str:
    """The accuracy metric the verdict uses: the spec's, else "top1"."""
    return (getattr(job.spec, "metric", None) if job.spec is not None else None) or "top1"


def resolve_inputs(job: PreparedJob, *, batch: int | None = None):
    """The batch and shapes a benchmark of ``job`` feeds (bench/resolve.py ``Resolved``): ``--batch`` (or ``batch``,
    a scenario's), ``--shapes`` and the model's dims; the profile's batch when none of them decides.

    Raises:
        UsageError: ``--shapes`` names an input or dim the model lacks, or the sources disagree on the batch or a dim.
    """
    from workbench.core.bench.resolve import resolve

    o = job.request
    return resolve(
        job.model_info.inputs,
        batch=batch if batch is not None else o.batch,
        shapes=o.shapes,
        symbols=o.symbols,
        default_batch=job.profile.benchmark.batch,
    )


def bench_batch(job: PreparedJob) -> int:
    """The batch a benchmark of ``job`` feeds (what the faces show before the run); the request's or profile's when
    the request does not resolve (the run itself then reports why)."""
    from workbench.core.errors import UsageError

    try:
        return resolve_inputs(job).batch
    except UsageError:
        return job.request.batch or job.profile.benchmark.batch


def spec_file(job: PreparedJob) -> Path:
    """The model spec file of ``job``: the one read, else where one would be looked for first."""
    if job.spec is not None:
        return Path(job.spec.source)
    model = Path(job.request.model) if job.request.model else job.model_path
    return model.with_name(model.stem + ".workbench.toml")


def feed_values(job: PreparedJob) -> dict[str, Any]:
    """Values for inputs random feeds must not make up: the spec's ``[inputs.<name>] value``; for an integer scalar
    the spec leaves out, the value the first file of the calibration (else evaluation) set holds.

    Raises:
        UsageError: an integer scalar input with none of them (names the input and the spec key to set).
        DatasetError: the calibration/evaluation set does not match the model.
    """
    from workbench.core.bench.inputs import needs_value, value_needed_error

    values: dict[str, Any] = dict(getattr(job.spec, "input_values", None) or {}) if job.spec is not None else {}
    for spec in job.model_info.inputs:
        if spec.name in values or not needs_value(spec.dtype, spec.shape):
            continue
        found = _dataset_value(job, spec.name)
        if found is None:
            raise value_needed_error(spec.name, spec.dtype, str(spec_file(job)))
        values[spec.name] = found
    return values


def _dataset_value(job: PreparedJob, name: str) -> int | None:
    """The value the first file of the calibration (else evaluation) set holds for the scalar input ``name``."""
    from workbench.core.precision.datasets import open_dataset

    for kind in ("calib", "eval"):
        folder = dataset_path(job, kind)
        if folder is None:
            continue
        ds = open_dataset(folder, job.model_info.inputs, limit=1, preprocess_overrides=preprocess_overrides(job))
        arr = next(iter(ds.iter_feeds()))[name]
        if arr.size == 1:
            return arr.reshape(()).item()
    return None


def bench_config(job: PreparedJob, artifact_path: Path | str):
    """The benchmark child's configuration (bench/config.py) from the profile and the request: the batch resolved
    once (:func:`resolve_inputs`), and, for random feeds, the values of inputs that must not be random
    (:func:`feed_values`).

    Raises:
        UsageError: as :func:`resolve_inputs` and :func:`feed_values`.
    """
    from workbench.core.bench.config import BenchConfig

    b = job.profile.build
    bp = job.profile.benchmark
    o = job.request
    return BenchConfig(
        artifact_path=str(artifact_path),
        backend=job.require_backend().name,
        intra_op_threads=o.threads if o.threads is not None else b.intra_op_threads,
        inter_op_threads=b.inter_op_threads,
        execution_mode=b.execution_mode,
        graph_optimization_level=b.graph_optimization_level,
        batch=resolve_inputs(job).batch,
        shapes={k: list(v) for k, v in o.shapes.items()},
        symbols=dict(o.symbols),
        values={} if o.bench_dataset else feed_values(job),
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
