"""ONNX Runtime backend (CPU execution provider): the embedded default, and what CI exercises.

Build = an offline-optimized ONNX model (``SessionOptions.optimized_model_filepath``). ONNX Runtime's
docs (onnxruntime.ai, "Graph Optimizations") say a model saved at ORT_ENABLE_ALL may hold
hardware-specific layout ops, so the saved artifact stops at "extended" and the session applies the
profile's level (normally "all") at load time; the cache key includes this machine's description
anyway.

A model with ONNX external data gets an artifact with external data of its own, ``<artifact>.data`` next to it
(ORT's session config ``session.optimized_model_external_initializers_file_name``): left alone, ORT saves the
optimized model still naming the source's relative ``weights.bin``, which does not exist in the cache folder, so
the artifact failed to load ("External data path does not exist"). Its own file rather than embedding: a model
usually has external data because it is over protobuf's 2 GiB limit, where embedding is impossible.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.backends.base import Artifact, Backend, ProgressFn, Runner, RunnerSettings
from workbench.core.errors import BuildError, Cancelled, ModelError, StorageError

if TYPE_CHECKING:
    import threading

_LEVELS = ("disable", "basic", "extended", "all")


def _ort():
    import onnxruntime

    return onnxruntime


def _graph_level(ort, name: str):
    table = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }
    return table[name]


def session_options(settings: RunnerSettings):
    """ORT SessionOptions from our settings. Threads 0 = ORT's default (one per physical core)."""
    ort = _ort()
    so = ort.SessionOptions()
    so.graph_optimization_level = _graph_level(ort, settings.graph_optimization_level)
    so.intra_op_num_threads = int(settings.intra_op_threads)
    so.inter_op_num_threads = int(settings.inter_op_threads)
    so.execution_mode = (
        ort.ExecutionMode.ORT_PARALLEL if settings.execution_mode == "parallel" else ort.ExecutionMode.ORT_SEQUENTIAL
    )
    so.log_severity_level = 3  # errors only: ORT's warnings would pollute our stderr
    if settings.profiling:
        from workbench.core import paths

        # ORT writes its profile JSON into the cwd unless told otherwise: keep it in our cache.
        prof_dir = paths.cache_dir() / "profiles"
        prof_dir.mkdir(parents=True, exist_ok=True)
        so.enable_profiling = True
        so.profile_file_prefix = str(prof_dir / "ort")
    return so


def open_session(model_path: Path, settings: RunnerSettings):
    """An InferenceSession on the CPU execution provider.

    Raises:
        ModelError: ORT refuses the model (names the file and ORT's reason).
    """
    ort = _ort()
    try:
        return ort.InferenceSession(
            str(model_path), sess_options=session_options(settings), providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # noqa: BLE001 - ORT raises bare RuntimeError/Fail/InvalidGraph subclasses
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"ONNX Runtime cannot load {model_path}: {msg}",
            hint="run `workbench inspect MODEL`; re-export the model with an --opset this onnxruntime supports, or "
            "upgrade onnxruntime",
        ) from None


_NP_OF_ORT = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(bool)": "bool",
}


class OrtRunner(Runner):
    """An InferenceSession on the CPU execution provider. No timing splits; a layer profile when
    ``settings.profiling`` is on (ORT's own profiler, see :func:`session_options`)."""

    def __init__(self, model_path: Path, settings: RunnerSettings) -> None:
        self.model_path = Path(model_path)
        self.settings = settings
        self.session = None
        self.has_layer_profile = bool(settings.profiling)

    def _activate(self) -> None:
        self.session = open_session(self.model_path, self.settings)

    def _deactivate(self) -> None:
        self.session = None

    def _input_metadata(self) -> list[tuple[str, str, tuple]]:
        out = []
        for i in self.session.get_inputs():
            shape = tuple(d if isinstance(d, int) else (d or None) for d in i.shape)
            out.append((i.name, _NP_OF_ORT.get(i.type, i.type), shape))
        return out

    def output_names(self) -> list[str]:
        """The model's output names, in order. Raises RunnerStateError when inactive."""
        self._require_active("output_names")
        return [o.name for o in self.session.get_outputs()]

    def _infer(self, feeds: Mapping[str, Any]) -> dict[str, Any]:
        names = self.output_names()
        return dict(zip(names, self.session.run(names, dict(feeds)), strict=True))

    def _prepare(self, feeds: Mapping[str, Any]) -> Callable[[], Any]:
        run = self.session.run
        bound = dict(feeds)

        # The same call a bare ORT loop makes: run(None, feeds). Nothing else is timed.
        def call():
            return run(None, bound)

        return call

    def end_profiling(self) -> str | None:
        """Path of ORT's profile JSON (written into the cache's profiles folder), or None without profiling."""
        if self.session is not None and self.settings.profiling:
            return self.session.end_profiling()
        return None


class OrtBackend(Backend):
    """ONNX Runtime on the CPU execution provider; takes no construction options."""

    name = "onnxruntime"

    def versions(self) -> dict[str, str]:
        import onnx

        return {"onnxruntime": _ort().__version__, "onnx": onnx.__version__}

    def precision_support(self) -> dict[str, str | None]:
        return {
            "fp32": None,
            "fp16": None,
            "bf16": "the workbench makes no BF16 ONNX model and ONNX Runtime's CPU provider has few BF16 kernels: "
            "use --backend torch for bf16 (torch.autocast)",
            "int8": None,
            "best": None,
        }

    def precision_notes(self) -> dict[str, str]:
        return {
            "fp16": "ONNX Runtime CPU runs FP16 models but computes most ops in FP32: it is rarely faster",
            "int8": "QDQ model (explicit quantization); faster than FP32 only when compute dominates",
        }

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
        """Write the offline-optimized ONNX model (or reuse it): see the module doc.

        The optimization is one ONNX Runtime call: ``on_progress`` hears nothing, and ``cancel`` is checked
        once, before it starts.

        Raises:
            BuildError: ONNX Runtime cannot optimize the model. StorageError: the optimized model cannot be
            written. Cancelled: ``cancel`` was set before the build started.
        """
        from workbench.core.backends.cache import get_or_build
        from workbench.core.models.fingerprint import external_data_locations

        level = profile.build.graph_optimization_level
        saved_level = level if level != "all" else "extended"
        external = bool(external_data_locations(model_path))

        def build_fn(tmp: Path) -> None:
            if cancel is not None and cancel.is_set():
                raise Cancelled("build cancelled before ONNX Runtime started")
            ort = _ort()
            so = ort.SessionOptions()
            so.graph_optimization_level = _graph_level(ort, saved_level)
            so.optimized_model_filepath = str(tmp)
            so.log_severity_level = 3
            if external:  # see the module doc; the file lands next to the artifact, a companion for the cache
                so.add_session_config_entry(
                    "session.optimized_model_external_initializers_file_name", f"{tmp.name}.data"
                )
            try:
                ort.InferenceSession(str(model_path), sess_options=so, providers=["CPUExecutionProvider"])
            except Exception as exc:  # noqa: BLE001 - see open_session
                msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                if tmp.exists() and "serializ" in msg.lower():
                    # ORT had started writing the optimized model and the write failed: the disk, not the model.
                    raise StorageError(
                        f"cannot write {tmp.parent}: ONNX Runtime failed saving the optimized model ({msg})",
                        hint="free disk space or raise the file size limit (ulimit -f); models over 2 GiB need "
                        "external data",
                    ) from None
                raise BuildError(
                    f"ONNX Runtime could not optimize {model_path}: {msg}",
                    hint="set [build] graph_optimization_level = 'basic' (or 'disable') in the profile and rebuild",
                ) from None
            if not tmp.is_file():
                raise BuildError(
                    f"ONNX Runtime wrote no optimized model for {model_path}",
                    hint="rebuild with --rebuild; if it repeats, set [build] graph_optimization_level = 'basic' in "
                    "the profile",
                )

        return get_or_build(
            backend=self.name,
            precision=precision,
            model_path=Path(model_path),
            profile_name=profile.name,
            profile_hash=profile.content_hash(),
            versions=self.versions(),
            filename=f"model.{precision}.opt.onnx",
            build_fn=build_fn,
            force=force,
            extra_key={"saved_level": saved_level},
        )

    def runner(self, artifact_path: Path, settings: RunnerSettings) -> Runner:
        return OrtRunner(artifact_path, settings)
