"""The device-profile schema: frozen, strict pydantic v2 models, one per TOML table.

A profile TOML has the top-level keys ``description`` and ``extends`` and the tables ``[device]``,
``[build]`` (with ``[build.shapes.<input>]`` sub-tables), ``[quantization]``, ``[accuracy]``,
``[benchmark]``, ``[power]`` and ``[telemetry]``. Every table is ``extra="forbid"`` (an unknown key is
an error, reported with a "did you mean") and ``strict=True``: an int is not a bool, a string is not a
number; a float field accepts an int (``3`` for ``3.0``). Defaults here equal ``data/profiles/base.toml``
(a unit test checks it), so a profile with ``extends = "none"`` only has to give ``[device]``.

``Profile.name`` is the file stem and ``source_path`` the file; neither is a TOML key.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PRECISIONS = ("fp32", "fp16", "bf16", "int8", "best")
Precision = Literal["fp32", "fp16", "bf16", "int8", "best"]


class _Section(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class DeviceSection(_Section):
    """What the hardware is. ``match`` holds case-insensitive substrings of the device-tree model string
    (Jetson) or the NVML GPU name (discrete GPU) that select this profile in auto-detection.
    ``memory_mib``: total memory of the largest variant the profile covers (MiB), None when it varies.
    ``dla_cores``: number of NVDLA cores (0 = none). ``gpu``: GPU architecture/name for display."""

    name: str
    kind: Literal["cpu", "jetson", "gpu"]
    arch: Literal["x86_64", "aarch64"]
    match: list[str] = Field(default_factory=list)
    memory_mib: int | None = Field(default=None, ge=1)
    dla_cores: int = Field(default=0, ge=0)
    gpu: str | None = None
    jetpack: list[str] = Field(default_factory=list)  # JetPack major versions the board supports ("4", "5", ...)
    tensorrt: list[str] = Field(default_factory=list)  # TensorRT major.minor versions shipped by those JetPacks


class ShapeRange(_Section):
    """Optimization-profile shape for one dynamic input (TensorRT min/opt/max; ORT uses ``opt``).

    ``min``/``max`` may be left out: the TensorRT build then keeps ``opt`` and widens to the shapes the benchmark
    feeds (``--batch``/``--shapes``), or uses ``opt`` alone when there are none (backends/tensorrt/builder.py)."""

    min: list[int] | None = None
    opt: list[int]
    max: list[int] | None = None

    @field_validator("min", "opt", "max")
    @classmethod
    def _positive(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and (not v or any(d < 1 for d in v)):
            raise ValueError("every dimension must be a positive integer")
        return v

    @model_validator(mode="after")
    def _ordered(self) -> ShapeRange:
        # TensorRT requires the same rank and min <= opt <= max per dimension (IOptimizationProfile).
        lo = self.min if self.min is not None else self.opt
        hi = self.max if self.max is not None else self.opt
        if not len(lo) == len(self.opt) == len(hi):
            raise ValueError("min, opt and max must have the same number of dimensions")
        if any(not a <= b <= c for a, b, c in zip(lo, self.opt, hi, strict=True)):
            raise ValueError("each dimension needs min <= opt <= max")
        return self


class BuildSection(_Section):
    """How to build the artifact. ``intra_op_threads`` 0 = let the runtime decide (ORT: one per physical
    core). ``workspace_mib``: TensorRT builder memory-pool limit (MiB). ``dla_core`` -1 = GPU only."""

    backend: Literal["onnxruntime", "tensorrt", "torch"] = "onnxruntime"
    precisions: list[Precision] = Field(default_factory=lambda: ["fp32", "fp16", "bf16", "int8", "best"])
    graph_optimization_level: Literal["disable", "basic", "extended", "all"] = "all"
    intra_op_threads: int = Field(default=0, ge=0)
    inter_op_threads: int = Field(default=0, ge=0)
    execution_mode: Literal["sequential", "parallel"] = "sequential"
    workspace_mib: int = Field(default=1024, ge=0)
    builder_optimization_level: int = Field(default=3, ge=0, le=5)
    dla_core: int = Field(default=-1, ge=-1)
    gpu_fallback: bool = True
    timing_cache: bool = True
    strongly_typed: bool = False
    tf32: bool | None = None  # TensorRT BuilderFlag.TF32; None = TensorRT's default (on)
    shapes: dict[str, ShapeRange] = Field(default_factory=dict)

    @field_validator("precisions")
    @classmethod
    def _non_empty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("at least one precision is required")
        if len(set(v)) != len(v):
            raise ValueError("precisions must not repeat")
        return v


class QuantSection(_Section):
    """The static INT8 (QDQ) recipe passed to onnxruntime.quantization.quantize_static.
    ``percentile`` is used by method "percentile" only (percent, 0 < p <= 100).
    ``chunk_size``: calibration samples per collect_data call (bounds peak memory)."""

    activation_type: Literal["uint8", "int8"] = "uint8"
    weight_type: Literal["int8", "uint8"] = "int8"
    activation_symmetric: bool = False
    weight_symmetric: bool = True
    per_channel: bool = False
    reduce_range: bool = False  # 7-bit weights (ORT advice for x86 CPUs without VNNI)
    method: Literal["minmax", "entropy", "percentile"] = "minmax"
    percentile: float = Field(default=99.999, gt=0, le=100)
    calibration_samples: int = Field(default=512, ge=1)
    op_types_to_exclude: list[str] = Field(default_factory=list)
    nodes_to_exclude: list[str] = Field(default_factory=list)
    chunk_size: int = Field(default=64, ge=1)
    # Recipe 2 (precision/float_keep.py): no Q/DQ on graph outputs, nor on a Concat whose inputs' calibrated
    # ranges differ by more than concat_range_ratio (0 = off); both stay float and are listed in float_kept.
    keep_float_outputs: bool = True
    concat_range_ratio: float = Field(default=16.0, ge=0)
    # Where the Q/DQ pairs go (precision/trt_placement.py). "auto": "tensorrt" when build.backend is "tensorrt"
    # (resolved by Profile when it is loaded), else onnxruntime's own placement (the CPU recipe).
    placement: Literal["auto", "onnxruntime", "tensorrt"] = "auto"
    # Who writes the QDQ model: onnxruntime.quantization (always installed) or NVIDIA ModelOpt's
    # modelopt.onnx.quantization (the optional extra "modelopt"; TensorRT targets only).
    quantizer: Literal["onnxruntime", "modelopt"] = "onnxruntime"
    # onnxruntime's representation: Q/DQ pairs (default) or QLinearConv/QLinearMatMul/... operators (CPU only).
    quant_format: Literal["QDQ", "QOperator"] = "QDQ"
    # The recipe on an onnxruntime profile (precision/cpu_recipes.py): "auto" = the plain recipe for the CPU it runs
    # on (instruction set from /proc/cpuinfo), a recipe name (cpu_recipes.PLAIN_RECIPES) = that one; either replaces
    # the seven recipe keys above (activation/weight type and symmetry, per_channel, reduce_range, quant_format).
    # "profile" = these keys as written (the default, and what TensorRT profiles use).
    cpu_recipe: str = "profile"

    @field_validator("cpu_recipe")
    @classmethod
    def _cpu_recipe(cls, v: str) -> str:
        from workbench.core.precision.cpu_recipes import CPU_RECIPE_CHOICES

        if v not in CPU_RECIPE_CHOICES:
            raise ValueError(f"must be one of {', '.join(repr(c) for c in CPU_RECIPE_CHOICES)}")
        return v

    @field_validator("concat_range_ratio")
    @classmethod
    def _ratio(cls, v: float) -> float:
        if v != 0 and v <= 1:
            raise ValueError("must be 0 (off) or > 1 (16: Concats joining ranges more than 16x apart stay float)")
        return v


class AccuracySection(_Section):
    """Pass thresholds: top-1 may drop at most ``max_top1_drop_pts`` percentage points versus FP32 and the
    per-output cosine similarity versus FP32 must be at least ``min_cosine``."""

    max_top1_drop_pts: float = Field(default=0.5, ge=0)
    min_cosine: float = Field(default=0.99, ge=-1, le=1)


class BenchSection(_Section):
    """Benchmark defaults (trtexec-like; see shared design benchmark-definitions.md)."""

    warmup_ms: int = Field(default=200, ge=0)
    warmup_iterations: int = Field(default=0, ge=0)
    duration_s: float = Field(default=3.0, ge=0)
    min_iterations: int = Field(default=10, ge=1)
    percentiles: list[float] = Field(default_factory=lambda: [50.0, 90.0, 95.0, 99.0])
    batch: int = Field(default=1, ge=1)
    cuda_graph: bool = False
    include_transfers: bool = True
    spin_wait: bool = False

    @field_validator("percentiles")
    @classmethod
    def _pct_range(cls, v: list[float]) -> list[float]:
        bad = [p for p in v if not 0 < p <= 100]
        if bad:
            raise ValueError(f"percentiles must be in (0, 100], got {bad}")
        return v


class PowerSection(_Section):
    """Power settings. ``nvpmodel_mode`` is a mode *name* from the board's /etc/nvpmodel.conf (ids differ
    per board); None = leave the current mode alone (it is still recorded). ``nvpmodel_modes`` lists the
    names known for the board (documentation/validation aid). ``total_rule`` says how total board power
    is obtained from the rails: a rail name (e.g. "VDD_IN") that already is the total, or "sum" (add all
    rails); None = unknown/not applicable."""

    nvpmodel_mode: str | None = None
    nvpmodel_modes: list[str] = Field(default_factory=list)
    jetson_clocks: bool = False
    max_temp_c: float | None = None
    total_rule: str | None = None


class TelemetrySection(_Section):
    """Telemetry source spec for telemetry.open_source() and the sampling interval in ms."""

    source: str = "auto"
    interval_ms: int = Field(default=200, ge=1)


class TuneSection(_Section):
    """``workbench tune``'s search space on this device (core/tune/space.py). Every key left out (None) takes the
    backend's default space: CPU fp32 + int8 (fp16 only when listed: ONNX Runtime's CPU provider computes most FP16
    ops in FP32), GPU fp32/fp16/int8. Lists narrow or widen it.

    ``recipes``: plain INT8 recipe names (core/precision/cpu_recipes.py ``PLAIN_RECIPES``); ``methods``: calibration
    methods tried on the recipe this CPU's instruction set gets; ``threads``: intra-op thread counts (CPU; default
    1 … the cores this process may use); ``batches``: batches tried for the throughput objective (default [1, 4]);
    ``kept_layers``: let the INT8 localisation keep hurting layers in FP32 when a recipe misses an accuracy bound,
    at most ``max_kept_layers`` of them; ``power_modes``: nvpmodel mode names searched on a Jetson (through the
    sweep); GPU options: ``cuda_graph``, ``streams``, ``builder_optimization_levels``."""

    precisions: list[Literal["fp32", "fp16", "int8"]] | None = None
    recipes: list[str] | None = None
    methods: list[Literal["minmax", "entropy", "percentile"]] | None = None
    threads: list[Annotated[int, Field(ge=1)]] | None = None
    batches: list[Annotated[int, Field(ge=1)]] | None = None
    kept_layers: bool = True
    max_kept_layers: int = Field(default=8, ge=1)
    power_modes: list[str] = Field(default_factory=list)
    cuda_graph: list[bool] | None = None
    streams: list[Annotated[int, Field(ge=1)]] | None = None
    builder_optimization_levels: list[Annotated[int, Field(ge=0, le=5)]] | None = None

    @field_validator("recipes")
    @classmethod
    def _recipes(cls, v: list[str] | None) -> list[str] | None:
        from workbench.core.precision.cpu_recipes import PLAIN_RECIPES

        unknown = [r for r in v or () if r not in PLAIN_RECIPES]
        if unknown:
            raise ValueError(f"unknown recipe {', '.join(repr(r) for r in unknown)}; known: {', '.join(PLAIN_RECIPES)}")
        return v


# Tables of a profile file and the section model of each (used for "did you mean" and line lookup).
SECTIONS: dict[str, type[_Section]] = {
    "device": DeviceSection,
    "build": BuildSection,
    "quantization": QuantSection,
    "accuracy": AccuracySection,
    "benchmark": BenchSection,
    "power": PowerSection,
    "telemetry": TelemetrySection,
    "tune": TuneSection,
}
TOP_LEVEL_KEYS = ("description", "extends", *SECTIONS)

# Excluded from content_hash(): identity and documentation, not settings; and [tune], a search space that builds
# and benchmarks nothing itself (so adding it changed no artifact's cache key).
_NON_SETTINGS = {"name", "description", "extends", "source_path", "tune"}


class Profile(_Section):
    """A fully resolved profile (``extends`` chain merged)."""

    name: str
    description: str = ""
    extends: str | None = None
    source_path: Path
    device: DeviceSection
    build: BuildSection = Field(default_factory=BuildSection)
    quantization: QuantSection = Field(default_factory=QuantSection)
    accuracy: AccuracySection = Field(default_factory=AccuracySection)
    benchmark: BenchSection = Field(default_factory=BenchSection)
    power: PowerSection = Field(default_factory=PowerSection)
    telemetry: TelemetrySection = Field(default_factory=TelemetrySection)
    tune: TuneSection = Field(default_factory=TuneSection)

    @model_validator(mode="before")
    @classmethod
    def _resolve_placement(cls, data: Any) -> Any:
        """``quantization.placement = "auto"`` (or absent) becomes "tensorrt" when ``build.backend`` is "tensorrt",
        so the Q/DQ placement a profile gets is explicit in it (and in its content hash). Other values are kept."""
        if not isinstance(data, dict):
            return data
        build = data.get("build")
        backend = build.get("backend") if isinstance(build, dict) else getattr(build, "backend", None)
        if backend != "tensorrt":
            return data
        quant = data.get("quantization")
        if quant is None:
            return {**data, "quantization": {"placement": "tensorrt"}}
        if isinstance(quant, dict) and quant.get("placement", "auto") == "auto":
            return {**data, "quantization": {**quant, "placement": "tensorrt"}}
        if isinstance(quant, QuantSection) and quant.placement == "auto":
            return {**data, "quantization": quant.model_copy(update={"placement": "tensorrt"})}
        return data

    def settings_dict(self) -> dict[str, Any]:
        """The resolved settings only (no name/description/extends/source_path), JSON-ready."""
        return self.model_dump(mode="json", exclude=_NON_SETTINGS)

    def content_hash(self) -> str:
        """sha256 hex of the canonical JSON (sorted keys, no spaces) of ``settings_dict()``; used in
        artifact cache keys, so renaming or re-describing a profile does not invalidate artifacts."""
        blob = json.dumps(self.settings_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready (``source_path`` as a string), plus ``content_hash``."""
        d = self.model_dump(mode="json")
        d["content_hash"] = self.content_hash()
        return d
