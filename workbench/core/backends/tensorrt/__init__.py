"""TensorRT backend: ONNX → plan (engine) built per device profile; runs it with CUDA-event timing.

Modules: ``compat`` (the one place with version dispatch), ``builder`` (profile → settings, build), ``build_child``
(the build in a killable child process), ``runner`` (execute_async_v3), ``plan`` (plan sidecar compatibility,
non-plan detection), ``calibrator`` (legacy implicit INT8, TensorRT ≤ 10.x), ``cuda`` (ctypes over libcudart).
Importing this package imports no TensorRT: constructing :class:`TensorRTBackend` does, and raises
BackendUnavailable "TensorRT is not available here" when it cannot.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.backends.base import Artifact, Backend, ProgressFn, Runner, RunnerSettings

if TYPE_CHECKING:
    import threading


@dataclass(frozen=True)
class TensorRTOptions:
    """Construction options of :class:`TensorRTBackend` (``get_backend("tensorrt", **options)``), used by every
    build of the backend. The build settings derived from them, and ``calib_dir``, are part of the plan's cache
    key; ``calib_limit`` is not.

    ``calibration``: None (explicit quantization from the QDQ model) or "entropy"/"minmax" — the legacy implicit
    INT8 calibrator (TensorRT ≤ 10.x only; refused with CalibrationError elsewhere). ``calib_dir``: its dataset
    folder (streamed by the core's dataset reader in the build child); ``calib_limit``: at most this many samples.
    ``hardware_compatible``: AMPERE_PLUS plans (8.6+, discrete GPUs). ``version_compatible``: plans a later
    TensorRT of the same major can load (8.6+). ``max_aux_streams``: the builder's auxiliary stream limit
    (None = TensorRT's choice). ``bench_shapes``: {input: (min, opt, max)} concrete shapes the benchmark feeds
    (the workflow's resolved ``--batch``/``--shapes``; a single shape means min = opt = max): a dynamic input the
    profile gives no ``[build.shapes.<input>]`` is built for them, as trtexec does with ``--shapes``. They reach
    the cache key through the resolved optimization profile (``settings.shapes``), and the build report and
    sidecar say where each input's profile came from (``settings.shape_sources``).
    """

    calibration: str | None = None
    calib_dir: Path | None = None
    calib_limit: int | None = None
    hardware_compatible: bool = False
    version_compatible: bool = False
    max_aux_streams: int | None = None
    bench_shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]] | None = None

    def __post_init__(self) -> None:
        if self.calib_dir is not None and not isinstance(self.calib_dir, Path):
            object.__setattr__(self, "calib_dir", Path(self.calib_dir))  # accept a str from a CLI/TOML value
        if self.bench_shapes is not None:
            object.__setattr__(self, "bench_shapes", {k: _shape_range(k, v) for k, v in self.bench_shapes.items()})


def _shape_range(name: str, value: Any) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """``[4, 3, 224, 224]`` (min = opt = max) or ``(min, opt, max)`` → three int tuples.

    Raises:
        TypeError: anything else (a caller's bug: the workflow builds these from resolved shapes).
    """
    items = list(value)
    if items and all(isinstance(d, int) for d in items):
        shape = tuple(int(d) for d in items)
        return shape, shape, shape
    if len(items) == 3 and all(not isinstance(x, (int, str)) for x in items):
        lo, mid, hi = (tuple(int(d) for d in x) for x in items)
        return lo, mid, hi
    raise TypeError(f"bench_shapes[{name!r}] must be a shape or (min, opt, max), not {value!r}")


class TensorRTBackend(Backend):
    """TensorRT plans (engines) built per device profile.

    Keyword arguments: the fields of :class:`TensorRTOptions`. ``last_report`` is the build report of this
    backend's last non-cached build (None before one).

    Raises:
        BackendUnavailable: TensorRT is not importable here. TypeError: an unknown option.
    """

    name = "tensorrt"

    def __init__(self, **options: Any) -> None:
        from workbench.core.backends.tensorrt.compat import Compat

        self.options = TensorRTOptions(**options)
        self.compat = Compat()  # imports tensorrt or raises BackendUnavailable with the install hint
        self.last_report: dict[str, Any] | None = None

    def with_options(self, **changes: Any) -> TensorRTBackend:
        """This backend with some :class:`TensorRTOptions` changed (the TensorRT import is shared).

        Raises:
            TypeError: an unknown option.
        """
        import copy
        from dataclasses import replace

        other = copy.copy(self)
        other.options = replace(self.options, **changes)
        other.last_report = None
        return other

    def versions(self) -> dict[str, str]:
        return {"tensorrt": self.compat.version_string}

    def precision_support(self) -> dict[str, str | None]:
        reason = self.compat.supported()
        support = {p: reason for p in ("fp32", "fp16", "int8", "best")}
        # The builder knows the BF16 flag (10.0+), but no BF16 build was ever checked end to end here, and
        # TensorRT 11 (strongly typed only) would need a BF16 ONNX model, which the workbench does not make.
        support["bf16"] = reason or (
            "BF16 engines are not built by the workbench yet: use fp16, or --backend torch for bf16 (torch.autocast)"
        )
        return support

    def precision_notes(self) -> dict[str, str]:
        if self.compat.precision_mode() == "typed":
            return {
                "fp16": "strongly typed build from the FP16 ONNX model (TensorRT 11 has no FP16 flag)",
                "int8": "strongly typed build from the QDQ model (TensorRT 11 has no calibrators)",
            }
        return {
            "fp16": "FP16 builder flag",
            "int8": "explicit quantization: the QDQ model with INT8+FP16 flags (legacy calibrator on request)",
        }

    def environment(self) -> Any:
        from workbench.core.backends.tensorrt.cuda import Cuda
        from workbench.core.backends.tensorrt.runner import current_environment

        return current_environment(Cuda(), self.compat.version_string)

    def build(
        self,
        model_path: Path,
        precision: str,
        profile: Any,
        *,
        force: bool = False,
        on_progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> Artifact:
        """Build (or reuse) the plan for ``model_path`` (FP32, FP16 or QDQ ONNX) in ``precision``.

        The build runs in a child process (build_child.py): ``on_progress`` hears its phases ("parsing ONNX",
        TensorRT's IProgressMonitor phases with step counts, ...); setting ``cancel`` kills the child.

        Raises:
            ConfigError (missing shapes for dynamic inputs, DLA misuse), BuildError, ModelError (parser),
            CalibrationError, Cancelled.
        """
        import json

        import psutil

        from workbench.core import paths
        from workbench.core.backends.cache import get_or_build
        from workbench.core.backends.tensorrt.build_child import run_build_child
        from workbench.core.backends.tensorrt.builder import memory_preflight, timing_cache_filename, translate
        from workbench.core.backends.tensorrt.cuda import Cuda
        from workbench.core.backends.tensorrt.runner import current_environment
        from workbench.core.errors import CalibrationError
        from workbench.core.fsutil import write_text_atomic
        from workbench.core.models.fingerprint import model_sha256, model_size_bytes
        from workbench.core.precision.datasets import model_inputs

        opts = self.options
        model_path = Path(model_path)
        inputs = [(spec.name, spec.shape) for spec in model_inputs(model_path)]
        settings = translate(
            profile,
            precision,
            self.compat,
            inputs,
            calibration=opts.calibration,
            hardware_compatible=opts.hardware_compatible,
            version_compatible=opts.version_compatible,
            max_aux_streams=opts.max_aux_streams,
            bench_shapes=opts.bench_shapes,
        )
        cuda = Cuda()
        env = current_environment(cuda, self.compat.version_string)
        vm, sw = psutil.virtual_memory(), psutil.swap_memory()
        memory_preflight(
            settings.workspace_bytes,
            model_size_bytes(model_path),  # external data included: the builder reads the weights
            available_bytes=int(vm.available),
            swap_free_bytes=int(sw.free),
            unified_memory=cuda.integrated(),
        )
        timing_cache_file = None
        if settings.timing_cache:
            timing_cache_file = (
                paths.cache_dir()
                / "tensorrt"
                / timing_cache_filename(self.compat.version_string, env.gpu_name, env.compute_capability, env.l4t)
            )
            timing_cache_file.parent.mkdir(parents=True, exist_ok=True)

        calib_cache = None
        if settings.calibration is not None:
            if opts.calib_dir is None:
                raise CalibrationError(
                    "the TensorRT calibrator needs a calibration set", hint="pass --calib DIR (or use the QDQ default)"
                )
            calib_cache = (
                paths.cache_dir()
                / "tensorrt"
                / f"calib-{settings.calibration}-{self.compat.version_string}-{model_sha256(model_path)[:16]}.cache"
            )
            calib_cache.parent.mkdir(parents=True, exist_ok=True)

        def build_fn(tmp: Path) -> None:
            report = run_build_child(
                model_path,
                settings,
                tmp,
                timing_cache_path=timing_cache_file,
                calib_dir=opts.calib_dir,
                calib_limit=opts.calib_limit,
                calib_cache_path=calib_cache,
                on_progress=on_progress,
                cancel=cancel,
            )
            from workbench.core.precision.autocast import record_for

            kept = record_for(model_path)  # an FP16 ONNX for a strongly typed build: the nodes kept in FP32
            if kept is not None:
                report["fp16_kept_fp32"] = kept.to_dict()
            self.last_report = report
            write_text_atomic(tmp.parent / "build_report.json", json.dumps(report, indent=2))

        return get_or_build(
            backend=self.name,
            precision=precision,
            model_path=model_path,
            profile_name=profile.name,
            profile_hash=profile.content_hash(),
            versions=self.versions(),
            filename=f"model.{precision}.plan",
            build_fn=build_fn,
            force=force,
            extra_key={
                **env.to_dict(),
                "calib_dir": str(opts.calib_dir) if settings.calibration else None,
                "settings": settings.to_dict(),
                "version_compatible": settings.version_compatible,
                "hardware_compatibility": settings.hardware_compatibility,
                # BuilderFlag.TF32 as built (the runner reads it into runtime_info()["math_mode"]["tf32"])
                "tf32": settings.tf32,
            },
        )

    def runner(self, artifact_path: Path, settings: RunnerSettings) -> Runner:
        from workbench.core.backends.tensorrt.runner import TensorRTRunner

        return TensorRTRunner(artifact_path, settings)
