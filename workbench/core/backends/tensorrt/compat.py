"""TensorRT version dispatch: the one place that knows which names exist in which release.

Supported releases: 8.5 (JetPack 5), 8.6 (JetPack 6.0 DP), 10.x (JetPack 6.x/7, desktop) and 11.x (JetPack 7.2+,
desktop). The name sets come from NVIDIA's pybind11 bindings (``python/src`` of NVIDIA/TensorRT per release
branch; our copy is ``tests/fixtures/trt/tensorrt-python-api.json``). Facts this module encodes, all read there:

* ``Builder.build_engine`` exists in 8.5/8.6 only, so we always use ``build_serialized_network`` (all releases).
* ``IProgressMonitor`` and ``IBuilderConfig.progress_monitor`` exist from 10.0 (9.x is not in the list).
* ``BuilderFlag.FP16``/``INT8``/``BF16``, the ``IInt8*Calibrator`` classes, ``IBuilderConfig.int8_calibrator`` and
  ``CalibrationAlgoType`` are gone in 11.0: TensorRT 11 networks are strongly typed, precision comes from the model.
* ``NetworkDefinitionCreationFlag.EXPLICIT_BATCH`` exists up to 10.x (required on 8.x, ignored from 10.0 on,
  removed in 11.0); ``STRONGLY_TYPED`` from 10.0.
* ``IBuilderConfig.builder_optimization_level``, ``max_aux_streams``, ``hardware_compatibility_level`` and
  ``BuilderFlag.VERSION_COMPATIBLE`` from 8.6.
* ``ParserError.node_name``/``node_operator`` from 10.0 (8.x has only the node index).

How the rest of the backend uses this module: it calls :meth:`Compat.has` with a feature name from
:data:`FEATURES` (each feature lists the binding names it needs, ``"Class"`` or ``"Class.member"``) or
:meth:`Compat.at_least`, and only touches a release-specific name inside such a guard. ``has`` probes the live
module by name (``hasattr``), never by version number, so a point release that adds or drops a name is handled.
``tests/unit/test_trt_api_names.py`` scans every ``trt.<Name>`` and member use of the backend and fails on an
unguarded release-specific one.

Receiver convention (so the name scan can type member uses without a type checker): TensorRT objects are held in
variables (or ``self.`` attributes) named as in :data:`RECEIVERS`, and nothing else uses those names.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# Releases the backend is written for (the reference name sets cover exactly these).
SUPPORTED_RELEASES = ("8.5", "8.6", "10.0", "10.3", "10.13", "10.16", "11.0", "11.1")
MIN_VERSION = (8, 5)

# feature -> binding names that must all exist for it.
FEATURES: dict[str, tuple[str, ...]] = {
    "explicit_batch_flag": ("NetworkDefinitionCreationFlag.EXPLICIT_BATCH",),
    "strongly_typed": ("NetworkDefinitionCreationFlag.STRONGLY_TYPED",),
    "fp16_flag": ("BuilderFlag.FP16",),
    "int8_flag": ("BuilderFlag.INT8",),
    "bf16_flag": ("BuilderFlag.BF16",),
    "tf32_flag": ("BuilderFlag.TF32",),
    "legacy_calibrator": (
        "IInt8EntropyCalibrator2",
        "IInt8MinMaxCalibrator",
        "IBuilderConfig.int8_calibrator",
        "IBuilderConfig.set_calibration_profile",
        "BuilderFlag.INT8",
    ),
    "progress_monitor": ("IProgressMonitor", "IBuilderConfig.progress_monitor"),
    "builder_optimization_level": ("IBuilderConfig.builder_optimization_level",),
    "hardware_compatibility": ("HardwareCompatibilityLevel.AMPERE_PLUS", "IBuilderConfig.hardware_compatibility_level"),
    "version_compatible": ("BuilderFlag.VERSION_COMPATIBLE", "Runtime.engine_host_code_allowed"),
    "max_aux_streams": ("IBuilderConfig.max_aux_streams",),
    "parser_node_names": ("ParserError.node_name", "ParserError.node_operator"),
    "fast_precision_query": ("Builder.platform_has_fast_fp16", "Builder.platform_has_fast_int8"),
    "device_memory_size_v2": ("ICudaEngine.device_memory_size_v2",),
}

# Variable / attribute names that hold TensorRT objects, and their binding class (see module doc).
RECEIVERS: dict[str, str] = {
    "builder": "Builder",
    "config": "IBuilderConfig",
    "network": "INetworkDefinition",
    "parser": "OnnxParser",
    "parser_error": "ParserError",
    "runtime": "Runtime",
    "engine": "ICudaEngine",
    "context": "IExecutionContext",
    "inspector": "EngineInspector",
    "opt_profile": "IOptimizationProfile",
    "timing_cache": "ITimingCache",
    "tensor": "ITensor",
    "layer": "ILayer",
    "logger": "Logger",
}

# Python-side helpers of the ``tensorrt`` package (its __init__.py, not the bindings).
PY_HELPERS = ("__version__", "volume", "nptype")


def _probe(module: Any, dotted: str) -> bool:
    """True when ``Class`` or ``Class.member`` exists on ``module`` (pybind properties and enum values are class
    attributes, so ``hasattr`` on the class answers for members)."""
    cls_name, _, member = dotted.partition(".")
    cls = getattr(module, cls_name, None)
    if cls is None:
        return False
    return not member or hasattr(cls, member)


def parse_version(text: str) -> tuple[int, int, int]:
    """``"10.3.0.26"`` → (10, 3, 0). Raises ValueError for anything else."""
    from workbench.core.precision.trt_cache import parse_version_string

    return parse_version_string(text)


class Compat:
    """Capabilities of one ``tensorrt`` module (the real one, or a stand-in built from a name list in tests).

    Args:
        module: the imported ``tensorrt`` module; None imports it (raising BackendUnavailable if absent).
    """

    def __init__(self, module: Any = None) -> None:
        if module is None:
            module = import_tensorrt()
        self.module = module
        self.version_string = str(getattr(module, "__version__", "0.0.0"))
        try:
            self.version = parse_version(self.version_string)
        except ValueError:
            self.version = (0, 0, 0)
        self._cache: dict[str, bool] = {}

    # -- probes --------------------------------------------------------------------------------------------
    def has(self, feature: str) -> bool:
        """Whether every binding name of ``feature`` (a key of FEATURES) exists in this TensorRT."""
        if feature not in FEATURES:
            raise KeyError(f"unknown TensorRT feature {feature!r}")
        if feature not in self._cache:
            self._cache[feature] = all(_probe(self.module, n) for n in FEATURES[feature])
        return self._cache[feature]

    def missing(self, feature: str) -> list[str]:
        return [n for n in FEATURES[feature] if not _probe(self.module, n)]

    def at_least(self, major: int, minor: int = 0) -> bool:
        return self.version[:2] >= (major, minor)

    def capabilities(self) -> dict[str, bool]:
        return {f: self.has(f) for f in FEATURES}

    def supported(self) -> str | None:
        """None when this release is one we support, else the reason."""
        if self.version[:2] < MIN_VERSION:
            return (
                f"TensorRT {self.version_string} is older than {MIN_VERSION[0]}.{MIN_VERSION[1]}, the oldest release "
                "the workbench supports (JetPack 5)"
            )
        return None

    # -- derived decisions ---------------------------------------------------------------------------------
    def precision_mode(self) -> str:
        """``"flags"``: FP16/INT8 builder flags exist (TensorRT ≤ 10.x); ``"typed"``: strongly typed only (11.x),
        precision comes from the ONNX model (FP16 copy or QDQ model)."""
        return "flags" if self.has("fp16_flag") and self.has("int8_flag") else "typed"

    def legacy_calibration_reason(self) -> str | None:
        """None when the implicit (calibrator) INT8 path exists, else why not."""
        if self.has("legacy_calibrator"):
            return None
        return (
            f"TensorRT {self.version_string} has no implicit INT8 calibration (the IInt8EntropyCalibrator2 / MinMax "
            "bindings are absent; TensorRT 11 removed them, its networks are strongly typed): use the explicit INT8 "
            "(QDQ) model"
        )

    def needs_explicit_batch_flag(self) -> bool:
        """TensorRT 8.x needs EXPLICIT_BATCH for ONNX; from 10.0 the flag is ignored (and gone in 11)."""
        return self.has("explicit_batch_flag") and not self.at_least(10, 0)

    # -- dynamic access by name (the only place that uses getattr on binding enums with a computed name) --------
    def builder_flag(self, name: str) -> Any | None:
        """``trt.BuilderFlag.<name>`` or None when this release lacks it."""
        return getattr(getattr(self.module, "BuilderFlag", None), name, None)

    def network_flags(self, names: Iterable[str]) -> int:
        """Bit mask for ``create_network`` from NetworkDefinitionCreationFlag member names.

        Raises:
            KeyError: a name this release does not define (callers decide names through ``has``).
        """
        enum = getattr(self.module, "NetworkDefinitionCreationFlag", None)
        mask = 0
        for name in names:
            value = getattr(enum, name, None)
            if value is None:
                raise KeyError(f"TensorRT {self.version_string} has no NetworkDefinitionCreationFlag.{name}")
            mask |= 1 << int(value)
        return mask


def import_tensorrt() -> Any:
    """``import tensorrt`` or raise BackendUnavailable with the install hint."""
    from workbench.core.errors import BackendUnavailable

    try:
        import tensorrt as trt
    except (ImportError, OSError) as exc:  # OSError: the wheel is there but libnvinfer.so is not
        raise BackendUnavailable(
            "TensorRT is not available here" + (f" ({exc})" if str(exc) and "tensorrt" not in str(exc) else ""),
            hint="on a Jetson install JetPack's python3-libnvinfer; on a desktop GPU `pip install tensorrt` "
            "(NVIDIA's wheel); or use a CPU profile (e.g. --profile cpu-x86_64) to run on ONNX Runtime",
        ) from None
    return trt
