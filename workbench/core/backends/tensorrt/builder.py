"""ONNX → TensorRT plan: profile → builder settings (pure, testable), memory pre-flight, the build itself.

:func:`translate` turns a device profile and a precision into :class:`BuildSettings` using only
:class:`~workbench.core.backends.tensorrt.compat.Compat` answers, so it runs (and is tested) without TensorRT.
:func:`build_plan` applies them with the TensorRT API; it runs in the build child process
(``build_child.py``) so that cancelling a build kills it.

Precision on each release (decided by :meth:`Compat.precision_mode`):

* TensorRT ≤ 10.x ("flags"): FP16 → ``BuilderFlag.FP16``; INT8 → the QDQ model (explicit quantization) with
  ``INT8`` and ``FP16`` flags so layers outside Q/DQ pairs may still use FP16; the legacy implicit calibrator only
  when asked for (``calibration="entropy"|"minmax"``) and the bindings still have it.
* TensorRT 11 ("typed"): networks are strongly typed; there are no precision flags and no calibrators. FP16 means
  the FP16 ONNX the core produced, INT8 the QDQ ONNX; asking for the legacy calibrator is a CalibrationError.
* ``[build] strongly_typed = true`` asks for a strongly typed network on 10.x too (no precision flags then).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.errors import BuildError, CalibrationError, Cancelled, ConfigError, ModelError

MIB = 1 << 20
DLA_PRECISIONS = ("fp16", "int8")


@dataclass(frozen=True)
class BuildSettings:
    """Everything :func:`build_plan` sets on the builder; JSON-ready (``to_dict``) for the child process.

    ``network_flags``/``builder_flags``: member names of NetworkDefinitionCreationFlag / BuilderFlag.
    ``shapes``: {input: (min, opt, max)} for the optimization profile (dynamic inputs only).
    ``optimization_level``: None where the release has no builder optimization level (8.5).
    ``calibration``: None (explicit QDQ or no INT8) or "entropy"/"minmax" (legacy implicit calibrator).
    ``progress``: "monitor" (IProgressMonitor, ≥10.0) or "phases" (our own phase messages).
    ``shape_sources``: {input: where its ``shapes`` entry came from} — "profile" (``[build.shapes.<input>]``),
    "benchmark" (the benchmark's resolved ``--batch``/``--shapes``, as trtexec's ``--shapes``: min = opt = max
    unless the scenario feeds several batches) or "profile opt + benchmark min/max" (a profile range without
    min and/or max).
    ``tf32``: the state of ``BuilderFlag.TF32`` the build sets (the profile's ``[build] tf32``, else TensorRT's
    default: on, per the BuilderFlag documentation of every release we support); None where the release has no
    TF32 flag.
    """

    precision: str
    network_flags: tuple[str, ...]
    builder_flags: tuple[str, ...]
    workspace_bytes: int
    dla_core: int | None
    gpu_fallback: bool
    optimization_level: int | None
    timing_cache: bool
    hardware_compatibility: str | None
    version_compatible: bool
    max_aux_streams: int | None
    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]
    strongly_typed: bool
    calibration: str | None
    progress: str
    notes: tuple[str, ...] = field(default_factory=tuple)
    shape_sources: dict[str, str] = field(default_factory=dict)
    tf32: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["shapes"] = {k: [list(v[0]), list(v[1]), list(v[2])] for k, v in self.shapes.items()}
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BuildSettings:
        d = dict(d)
        d["shapes"] = {k: (tuple(v[0]), tuple(v[1]), tuple(v[2])) for k, v in d.get("shapes", {}).items()}
        for key in ("network_flags", "builder_flags", "notes"):
            d[key] = tuple(d.get(key, ()))
        return cls(**d)


def _is_dynamic(shape: Sequence[Any]) -> bool:
    return any(not isinstance(d, int) or d < 0 for d in shape)


def translate(
    profile: Any,
    precision: str,
    compat: Any,
    inputs: Sequence[tuple[str, Sequence[Any]]],
    *,
    calibration: str | None = None,
    hardware_compatible: bool = False,
    version_compatible: bool = False,
    max_aux_streams: int | None = None,
    bench_shapes: Mapping[str, tuple[Sequence[int], Sequence[int], Sequence[int]]] | None = None,
) -> BuildSettings:
    """Builder settings for ``profile`` (a workbench Profile) and ``precision`` on the TensorRT of ``compat``.

    Args:
        inputs: the network's inputs as (name, shape); a str/None/negative dim is dynamic.
        calibration: "entropy"/"minmax" for the legacy implicit INT8 calibrator; None for QDQ (default).
        bench_shapes: {input: (min, opt, max)} concrete shapes the benchmark will feed (the workflow resolves
            ``--batch``/``--shapes``; min = opt = max for one batch). A dynamic input the profile gives no
            ``[build.shapes.<input>]`` takes its optimization profile from here, as trtexec does with ``--shapes``;
            a profile range without ``min``/``max`` keeps its ``opt`` and widens to the benchmark's min/max.

    Raises:
        ConfigError: a dynamic input with neither ``[build.shapes.<input>]`` nor a benchmark shape, a shape rank
            mismatch, DLA on a device without DLA cores, DLA with FP32.
        CalibrationError: the legacy calibrator where the bindings no longer have it (TensorRT 11).
        BuildError: an unsupported TensorRT release, unknown precision.
    """
    b = profile.build
    src = str(getattr(profile, "source_path", profile.name))
    reason = compat.supported()
    if reason:
        raise BuildError(reason, hint="install TensorRT 8.5 or newer")
    if precision not in ("fp32", "fp16", "int8", "bf16"):
        raise BuildError(
            f"TensorRT backend: unknown precision {precision!r}",
            hint="use --precision fp32, fp16, int8 or bf16 with the tensorrt backend",
        )
    notes: list[str] = []

    # Network creation flags.
    network_flags: list[str] = []
    if compat.needs_explicit_batch_flag():
        network_flags.append("EXPLICIT_BATCH")
    mode = compat.precision_mode()
    strongly_typed = mode == "typed" or bool(b.strongly_typed)
    if strongly_typed:
        if compat.has("strongly_typed"):
            network_flags.append("STRONGLY_TYPED")
            if mode == "typed":
                notes.append(
                    f"TensorRT {compat.version_string} builds strongly typed networks: precision comes from the "
                    f"{precision.upper()} model, not from builder flags"
                )
        else:
            notes.append(
                f"strongly_typed is set but TensorRT {compat.version_string} has no strongly typed networks "
                "(10.0+); building weakly typed with precision flags"
            )
            strongly_typed = False

    # Precision flags (only for weakly typed networks).
    builder_flags: list[str] = []
    if calibration is not None:
        why = compat.legacy_calibration_reason()
        if why:
            raise CalibrationError(why, hint="drop --trt-calibrator; INT8 is built from the QDQ model by default")
        if precision != "int8":
            raise BuildError(
                f"a calibrator is only used for INT8, not {precision}",
                hint="drop the legacy calibrator option (calibration), or build with --precision int8",
            )
        if calibration not in ("entropy", "minmax"):
            raise CalibrationError(
                f"unknown TensorRT calibrator {calibration!r}; choose entropy or minmax",
                hint="omit the legacy calibrator to build INT8 from the QDQ model (the default)",
            )
        if strongly_typed:
            raise ConfigError(
                f"{src}: the legacy calibrator needs a weakly typed network; set strongly_typed = false",
                hint="or drop the legacy calibrator: a strongly typed network takes its INT8 scales from the QDQ "
                "model (the default)",
            )
    if not strongly_typed:
        wanted = {"fp32": [], "fp16": ["FP16"], "int8": ["INT8", "FP16"], "bf16": ["BF16"]}[precision]
        for flag in wanted:
            feature = {"FP16": "fp16_flag", "INT8": "int8_flag", "BF16": "bf16_flag"}[flag]
            if compat.has(feature):
                builder_flags.append(flag)
            elif flag == "BF16":
                raise BuildError(
                    f"TensorRT {compat.version_string} has no BF16 builder flag (10.0+)",
                    hint="use --precision fp16, or build on TensorRT 10.0 or newer (bf16 also runs with --backend "
                    "torch)",
                )
    elif precision == "bf16":
        notes.append("BF16 on a strongly typed network needs a BF16 model")

    # DLA.
    dla_core: int | None = None
    if b.dla_core >= 0:
        cores = int(getattr(profile.device, "dla_cores", 0))
        if cores <= 0:
            raise ConfigError(
                f"{src}: [build] dla_core = {b.dla_core} but device {profile.device.name} has no DLA",
                hint="set dla_core = -1 (GPU only)",
            )
        if b.dla_core >= cores:
            raise ConfigError(
                f"{src}: [build] dla_core = {b.dla_core}, but the device has {cores} DLA core(s)",
                hint="set [build] dla_core to a core this device has (numbered from 0), or -1 to run on the GPU only",
            )
        if precision not in DLA_PRECISIONS:
            raise ConfigError(
                f"{src}: DLA runs FP16 and INT8 only, not {precision}",
                hint="ask for --precision fp16 or int8, or set dla_core = -1",
            )
        dla_core = b.dla_core
        if b.gpu_fallback:
            builder_flags.append("GPU_FALLBACK")
        else:
            notes.append("gpu_fallback = false: a layer the DLA cannot run fails the build")

    # Optimization profile for dynamic inputs: the profile's range, else the benchmark's shapes (trtexec --shapes).
    bench = {k: tuple(tuple(int(d) for d in x) for x in v) for k, v in (bench_shapes or {}).items()}
    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]] = {}
    sources: dict[str, str] = {}
    for name, shape in inputs:
        rng = b.shapes.get(name)
        if not _is_dynamic(shape) and rng is None:
            continue
        if rng is None:
            if name not in bench:
                dims = "x".join(str(d) if isinstance(d, int) and d >= 0 else "?" for d in shape)
                raise ConfigError(
                    f"{src}: input {name!r} has dynamic shape {dims}; TensorRT needs [build.shapes.{name}] with "
                    "min/opt/max, or a benchmark shape for it",
                    hint=f"add to the profile: [build.shapes.{name}] min = [...] opt = [...] max = [...] "
                    f"(rank {len(shape)}), or give its sizes with --batch / --shapes",
                )
            lo, mid, hi = bench[name]
            where, source = f"the benchmark shape of {name!r}", "benchmark"
        else:
            mid = tuple(rng.opt)
            lo = tuple(rng.min) if rng.min is not None else None
            hi = tuple(rng.max) if rng.max is not None else None
            source = "profile"
            if lo is None or hi is None:
                b_lo, _, b_hi = bench.get(name, (mid, mid, mid))
                if len(b_lo) != len(mid):
                    b_lo = b_hi = mid  # a rank mismatch is reported below against the profile's opt
                # keep the profile's opt; widen to what the benchmark feeds so both fit the plan
                if lo is None:
                    lo = tuple(min(a, c) for a, c in zip(mid, b_lo, strict=True))
                if hi is None:
                    hi = tuple(max(a, c) for a, c in zip(mid, b_hi, strict=True))
                source = "profile opt + benchmark min/max" if name in bench else "profile opt (min = max = opt)"
            where = f"[build.shapes.{name}]"
        if not len(lo) == len(mid) == len(hi) == len(shape):
            raise ConfigError(
                f"{src}: {where} has rank {len(mid)}, the model input has rank {len(shape)}",
                hint="give min/opt/max one size per model dimension; `workbench inspect MODEL` shows the input's shape",
            )
        for i, d in enumerate(shape):
            if isinstance(d, int) and d >= 0 and not lo[i] == mid[i] == hi[i] == d:
                raise ConfigError(
                    f"{src}: {where} dimension {i} must be {d} (fixed in the model), "
                    f"got min/opt/max {lo[i]}/{mid[i]}/{hi[i]}",
                    hint="only the model's dynamic dimensions may vary: use the model's fixed size in min, opt and "
                    "max (see `workbench inspect MODEL`)",
                )
        if any(not a <= m <= c for a, m, c in zip(lo, mid, hi, strict=True)):
            raise ConfigError(
                f"{src}: {where}: each dimension needs min <= opt <= max, got {lo}/{mid}/{hi}",
                hint="fix min/opt/max in the profile (or --batch / --shapes) so that min <= opt <= max in every "
                "dimension",
            )
        shapes[name] = (tuple(lo), tuple(mid), tuple(hi))
        sources[name] = source
    unknown = sorted(set(b.shapes) - {n for n, _ in inputs})
    if unknown:
        notes.append(f"[build.shapes] names no model input: {', '.join(unknown)} (ignored)")

    opt_level: int | None = int(b.builder_optimization_level)
    if not compat.has("builder_optimization_level"):
        notes.append(f"TensorRT {compat.version_string} has no builder optimization level (8.6+); ignored")
        opt_level = None

    hw: str | None = None
    if hardware_compatible:
        if not compat.has("hardware_compatibility"):
            raise BuildError(
                f"TensorRT {compat.version_string} cannot build hardware-compatible plans (8.6+)",
                hint="drop hardware_compatible, or build on TensorRT 8.6 or newer",
            )
        if dla_core is not None or profile.device.kind == "jetson":
            raise BuildError(
                "hardware-compatible plans are for discrete Ampere-or-newer GPUs, not Jetson/DLA",
                hint="drop hardware_compatible here: build the engine on the Jetson board that runs it",
            )
        hw = "AMPERE_PLUS"
    if version_compatible:
        if not compat.has("version_compatible"):
            raise BuildError(
                f"TensorRT {compat.version_string} cannot build version-compatible plans (8.6+)",
                hint="drop version_compatible, or build on TensorRT 8.6 or newer",
            )
        builder_flags.append("VERSION_COMPATIBLE")
    aux: int | None = None
    if max_aux_streams is not None:
        if compat.has("max_aux_streams"):
            aux = int(max_aux_streams)
        else:
            notes.append(f"TensorRT {compat.version_string} has no max_aux_streams (8.6+); ignored")

    # TF32: BuilderFlag.TF32 is on by default (TensorRT's BuilderFlag docs: "Enabled by default"); the profile's
    # [build] tf32 may turn it off. The build sets the flag either way, so the recorded value is what was built.
    tf32: bool | None = None
    wanted_tf32 = getattr(b, "tf32", None)
    if compat.has("tf32_flag"):
        tf32 = True if wanted_tf32 is None else bool(wanted_tf32)
    elif wanted_tf32 is not None:
        notes.append(f"TensorRT {compat.version_string} has no BuilderFlag.TF32; [build] tf32 ignored")

    return BuildSettings(
        precision=precision,
        network_flags=tuple(network_flags),
        builder_flags=tuple(builder_flags),
        workspace_bytes=int(b.workspace_mib) * MIB,
        dla_core=dla_core,
        gpu_fallback=bool(b.gpu_fallback),
        optimization_level=opt_level,
        timing_cache=bool(b.timing_cache),
        hardware_compatibility=hw,
        version_compatible=version_compatible,
        max_aux_streams=aux,
        shapes=shapes,
        strongly_typed=strongly_typed,
        calibration=calibration,
        progress="monitor" if compat.has("progress_monitor") else "phases",
        notes=tuple(notes),
        shape_sources=sources,
        tf32=tf32,
    )


# --------------------------------------------------------------------------------------------- timing cache
def _slug(text: str) -> str:
    """Lower-case letters, digits and dots; every other run of characters becomes one "-" (a file-name part)."""
    out = "".join(c if c.isalnum() or c == "." else "-" for c in text.strip().lower())
    return "-".join(part for part in out.split("-") if part) or "unknown"


def timing_cache_filename(tensorrt: str, gpu_name: str | None, compute_capability: str | None, l4t: str | None) -> str:
    """The timing-cache file name for one TensorRT version on one GPU model, e.g.
    ``timing-10.3.0-nvidia-geforce-rtx-4090-sm8.9.cache`` (``-l4t36.4.3`` added on a Jetson).

    TensorRT's timing cache is specific to the device and the TensorRT version (developer guide, "Timing Cache"),
    and two GPU models of one compute capability time tactics differently, so the GPU name is part of the key;
    on a Jetson the L4T release (which ships TensorRT and CUDA) is too.
    """
    name = f"timing-{_slug(tensorrt)}-{_slug(gpu_name or 'unknown-gpu')}-sm{_slug(compute_capability or 'unknown')}"
    if l4t:
        name += f"-l4t{_slug(l4t)}"
    return name + ".cache"


# --------------------------------------------------------------------------------------------- memory pre-flight
@dataclass(frozen=True)
class Preflight:
    need_bytes: int
    available_bytes: int
    swap_free_bytes: int
    warnings: tuple[str, ...]


def memory_preflight(
    workspace_bytes: int,
    model_bytes: int,
    *,
    available_bytes: int,
    swap_free_bytes: int,
    unified_memory: bool,
) -> Preflight:
    """Refuse a build the OOM killer would end, before it starts.

    Estimate (ours, deliberately rough): the builder holds the ONNX weights about three times (parsed network,
    builder copy, serialized plan) plus the workspace pool; on a discrete GPU the workspace is device memory, so
    only the host part counts against RAM. On Jetson (unified memory) everything comes out of the same RAM.

    Raises:
        BuildError: the estimate exceeds free RAM plus free swap — with advice (smaller workspace, swap).
    """
    host_need = 3 * model_bytes + (workspace_bytes if unified_memory else 0)
    warnings: list[str] = []
    mib = lambda n: f"{n / MIB:.0f} MiB"  # noqa: E731 - local formatter
    if host_need > available_bytes + swap_free_bytes:
        advice = []
        if unified_memory and workspace_bytes > 256 * MIB:
            advice.append(f"lower [build] workspace_mib (now {workspace_bytes // MIB}) to 256 or 512")
        advice.append("add swap (e.g. a 4 GiB swap file) or close other programs")
        raise BuildError(
            f"not enough memory to build: about {mib(host_need)} needed, {mib(available_bytes)} RAM and "
            f"{mib(swap_free_bytes)} swap free",
            hint="; ".join(advice),
        )
    if host_need > available_bytes:
        warnings.append(
            f"the build needs about {mib(host_need)} and only {mib(available_bytes)} RAM is free: it will swap and be slow"
        )
    return Preflight(host_need, available_bytes, swap_free_bytes, tuple(warnings))


# --------------------------------------------------------------------------------------------- layer report
def _precision_of(fmt: str) -> str:
    f = fmt.lower()
    for key, name in (("int8", "int8"), ("fp8", "fp8"), ("bf16", "bf16"), ("fp16", "fp16"), ("half", "fp16"),
                      ("fp32", "fp32"), ("float", "fp32"), ("int32", "int32"), ("int64", "int64"),
                      ("bool", "bool")):  # fmt: skip
        if key in f:
            return name
    return "other"


def layer_report(engine_info: str | Mapping[str, Any], precision: str) -> dict[str, Any]:
    """Per-layer precision from the engine inspector's JSON (``LayerInformationFormat.JSON``, needs the plan
    built with ``ProfilingVerbosity.DETAILED``): each entry of ``Layers`` has ``Name``, ``LayerType`` and
    ``Outputs`` with a ``Format/Datatype`` string such as ``"Row major linear FP32"``.

    Returns {"layers": [{name, type, precision}], "counts": {precision: n}, "warnings": [...]}: an INT8 (FP16)
    build whose layers mostly run in higher precision is called out.
    """
    info = json.loads(engine_info) if isinstance(engine_info, str) else dict(engine_info)
    layers = []
    counts: dict[str, int] = {}
    for entry in info.get("Layers", []):
        if isinstance(entry, str):  # LAYER_NAMES_ONLY verbosity: names only
            layers.append({"name": entry, "type": None, "precision": None})
            continue
        outs = entry.get("Outputs") or []
        fmt = str(outs[0].get("Format/Datatype", "")) if outs and isinstance(outs[0], dict) else ""
        prec = _precision_of(fmt) if fmt else None
        layers.append({"name": entry.get("Name"), "type": entry.get("LayerType"), "precision": prec})
        if prec:
            counts[prec] = counts.get(prec, 0) + 1
    warnings: list[str] = []
    compute = {k: v for k, v in counts.items() if k in ("int8", "fp16", "fp32", "bf16", "fp8")}
    total = sum(compute.values())
    if not total and layers:
        warnings.append("the plan carries layer names only (built without detailed profiling verbosity)")
    elif precision in ("int8", "fp16") and total:
        share = compute.get(precision, 0) / total
        if share < 0.5:
            warnings.append(
                f"a {precision.upper()} engine with only {compute.get(precision, 0)} of {total} layers in "
                f"{precision.upper()}: most of it runs in "
                + ", ".join(f"{k} ({v})" for k, v in sorted(compute.items()))
            )
    return {"layers": layers, "counts": counts, "warnings": warnings}


def format_parser_errors(errors: Sequence[Mapping[str, Any]], onnx_path: Path) -> str:
    """One line per ONNX parser error: node index, name and operator where the bindings give them."""
    lines = []
    for e in errors:
        where = f"node {e.get('node')}"
        if e.get("node_name"):
            where += f" {e['node_name']!r}"
        if e.get("node_operator"):
            where += f" ({e['node_operator']})"
        lines.append(f"{where}: {e.get('desc')} [{e.get('code')}]")
    return f"TensorRT's ONNX parser rejected {onnx_path}:\n  " + "\n  ".join(lines)


# --------------------------------------------------------------------------------------------- the build
def build_plan(
    onnx_path: Path,
    s: BuildSettings,
    out_path: Path,
    *,
    timing_cache_path: Path | None = None,
    calib_feeds: Callable[[], Any] | None = None,
    calib_cache_path: Path | None = None,
    on_progress: Callable[[str, int | None, int | None], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Parse ``onnx_path``, build with ``s``, write the plan to ``out_path``. Runs in the build child.

    Returns the build report: network inputs, DLA fallback layers, timing-cache use, layer report, notes.

    Raises:
        ModelError: the ONNX parser rejects the model (every error, per node).
        BuildError: the builder returns no plan (TensorRT's logged errors included), cancelled.
        CalibrationError: legacy calibration fails.
    """
    import tensorrt as trt

    from workbench.core.backends.tensorrt.compat import Compat
    from workbench.core.fsutil import write_bytes_atomic

    compat = Compat(trt)
    progress = on_progress or (lambda phase, done, total: None)
    cancelled = should_cancel or (lambda: False)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(compat.network_flags(s.network_flags))
    parser = trt.OnnxParser(network, logger)
    progress("parsing ONNX", None, None)
    if not parser.parse_from_file(str(onnx_path)):
        errors = []
        for i in range(parser.num_errors):
            parser_error = parser.get_error(i)
            e = {"node": parser_error.node(), "desc": parser_error.desc(), "code": str(parser_error.code())}
            if compat.has("parser_node_names"):
                e["node_name"] = parser_error.node_name()
                e["node_operator"] = parser_error.node_operator()
            errors.append(e)
        raise ModelError(format_parser_errors(errors, onnx_path), hint="see the ONNX operator support of this TensorRT")

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, s.workspace_bytes)
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    for name in s.builder_flags:
        flag = compat.builder_flag(name)
        if flag is None:
            raise BuildError(
                f"TensorRT {compat.version_string} has no BuilderFlag.{name}",
                hint="upgrade TensorRT, or drop the profile setting that asks for this flag ([build] tf32, "
                "dla_core/gpu_fallback, precision)",
            )
        config.set_flag(flag)
    tf32_flag = compat.builder_flag("TF32") if s.tf32 is not None else None
    if tf32_flag is not None:
        # set both ways: the sidecar's "tf32" is then what this config built with, not an assumed default
        if s.tf32:
            config.set_flag(tf32_flag)
        else:
            config.clear_flag(tf32_flag)
    if s.optimization_level is not None and compat.has("builder_optimization_level"):
        config.builder_optimization_level = s.optimization_level
    if s.hardware_compatibility and compat.has("hardware_compatibility"):
        config.hardware_compatibility_level = trt.HardwareCompatibilityLevel.AMPERE_PLUS
    if s.max_aux_streams is not None and compat.has("max_aux_streams"):
        config.max_aux_streams = s.max_aux_streams
    if s.dla_core is not None:
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = s.dla_core

    inputs = []
    opt_shapes: dict[str, tuple[int, ...]] = {}  # the shape TensorRT calibrates at (the profile's OPT)
    opt_profile = None
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        shape = tuple(tensor.shape)
        inputs.append({"name": tensor.name, "shape": list(shape)})
        if tensor.name in s.shapes:
            if opt_profile is None:
                opt_profile = builder.create_optimization_profile()
            lo, mid, hi = s.shapes[tensor.name]
            opt_profile.set_shape(tensor.name, lo, mid, hi)
            opt_shapes[tensor.name] = tuple(mid)
        elif any(d < 0 for d in shape):
            raise ConfigError(
                f"input {tensor.name!r} has dynamic shape {list(shape)}; add [build.shapes.{tensor.name}] min/opt/max "
                "or give its sizes with --batch / --shapes",
                hint="run `workbench inspect MODEL` to see its dynamic dimensions, then give their sizes (e.g. "
                "--batch 1)",
            )
        else:
            opt_shapes[tensor.name] = shape
    if opt_profile is not None:
        config.add_optimization_profile(opt_profile)

    timing_cache = None
    cache_state = "off"
    cache_notes: list[str] = []
    if s.timing_cache:
        data = b""
        if timing_cache_path is not None and timing_cache_path.is_file():
            data = timing_cache_path.read_bytes()
            cache_state = "loaded"
        else:
            cache_state = "new"
        timing_cache = config.create_timing_cache(data)
        # set_timing_cache returns False when TensorRT refuses the cache (its header names another device or
        # TensorRT; ignore_mismatch=False keeps that check on): build without it rather than with stale timings.
        if not config.set_timing_cache(timing_cache, False):
            timing_cache = None
            if data:  # a fresh one, so this build still writes a cache this TensorRT and device accept
                timing_cache = config.create_timing_cache(b"")
                if not config.set_timing_cache(timing_cache, False):
                    timing_cache = None
            cache_state = "refused" if data else "unavailable"
            if data:
                cache_notes.append(
                    f"TensorRT refused the timing cache {timing_cache_path} (made for another device or TensorRT): "
                    "built without it" + ("; this build's cache replaces it" if timing_cache is not None else "")
                )
            if timing_cache is None:
                cache_notes.append("TensorRT accepted no timing cache: built without one, none written")

    calibrator = None
    if s.calibration is not None:
        from workbench.core.backends.tensorrt.calibrator import make_calibrator

        if calib_feeds is None:
            raise CalibrationError(
                "the legacy calibrator needs a calibration dataset",
                hint="pass a calibration dataset with --calib DIR, or drop the legacy calibrator to build INT8 from "
                "the QDQ model",
            )
        calibrator = make_calibrator(
            compat,
            calib_feeds(),
            [x["name"] for x in inputs],
            calib_cache_path,
            s.calibration,
            opt_shapes=opt_shapes,
        )
        if compat.has("legacy_calibrator"):
            config.int8_calibrator = calibrator
            if opt_profile is not None:
                config.set_calibration_profile(opt_profile)

    monitor = None
    if compat.has("progress_monitor"):

        class _Monitor(trt.IProgressMonitor):
            """Relays TensorRT's build phases; returning False from step_complete cancels the build."""

            def __init__(self) -> None:
                trt.IProgressMonitor.__init__(self)
                self.steps: dict[str, int] = {}

            def phase_start(self, phase_name, parent_phase, num_steps):
                self.steps[phase_name] = int(num_steps)
                progress(str(phase_name), 0, int(num_steps))

            def step_complete(self, phase_name, step):
                progress(str(phase_name), int(step) + 1, self.steps.get(phase_name))
                return not cancelled()

            def phase_finish(self, phase_name):
                self.steps.pop(phase_name, None)

        monitor = _Monitor()
        config.progress_monitor = monitor

    fallback: list[str] = []
    if s.dla_core is not None:
        for i in range(network.num_layers):
            layer = network.get_layer(i)
            if not config.can_run_on_DLA(layer):
                fallback.append(f"{layer.name} ({layer.type})")
        if fallback and not s.gpu_fallback:
            raise BuildError(
                f"{len(fallback)} layer(s) cannot run on DLA and gpu_fallback is off: " + ", ".join(fallback[:10]),
                hint="set gpu_fallback = true in the profile, or run on the GPU (dla_core = -1)",
            )

    progress("building engine (this takes minutes)", None, None)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        if cancelled():
            raise Cancelled("TensorRT build cancelled")
        raise BuildError(
            f"TensorRT could not build {onnx_path} ({s.precision})",
            hint="see TensorRT's messages above; try a larger [build] workspace_mib or another precision",
        )
    write_bytes_atomic(out_path, bytes(memoryview(serialized)))
    if timing_cache is not None and timing_cache_path is not None:
        timing_cache = config.get_timing_cache()
        if timing_cache is not None:
            write_bytes_atomic(timing_cache_path, bytes(memoryview(timing_cache.serialize())))
    progress("inspecting engine", None, None)
    runtime = trt.Runtime(logger)
    if s.version_compatible and compat.has("version_compatible"):
        # A version-compatible plan carries its lean runtime (host code): TensorRT deserializes it only when allowed.
        runtime.engine_host_code_allowed = True
    engine = runtime.deserialize_cuda_engine(bytes(memoryview(serialized)))
    report: dict[str, Any] = {
        "inputs": inputs,
        "shapes": {
            name: {"min": list(lo), "opt": list(mid), "max": list(hi), "source": s.shape_sources.get(name, "profile")}
            for name, (lo, mid, hi) in s.shapes.items()
        },
        "dla_fallback_layers": fallback,
        "timing_cache": cache_state,
        "timing_cache_file": str(timing_cache_path) if timing_cache_path is not None and s.timing_cache else None,
        "tf32": bool(config.get_flag(tf32_flag)) if tf32_flag is not None else None,
        "progress": "IProgressMonitor" if monitor is not None else "phase messages",
        "notes": list(s.notes) + cache_notes,
    }
    if calibrator is not None:
        report["calibration"] = calibrator.feeder.summary()
    if engine is None:
        why = "TensorRT could not deserialize the plan it had just built"
        if s.version_compatible:
            why += " (a version-compatible plan needs Runtime.engine_host_code_allowed)"
        report["layers"] = {"layers": [], "counts": {}, "warnings": [f"no layer report: {why}"]}
    else:
        inspector = engine.create_engine_inspector()
        info = inspector.get_engine_information(trt.LayerInformationFormat.JSON) if inspector is not None else None
        layers = layer_report(info, s.precision) if info else {"layers": [], "counts": {}, "warnings": []}
        if not layers["layers"]:
            layers["warnings"].append(
                "no layer report: the engine inspector listed no layers"
                + ("" if inspector is not None else " (TensorRT gave no engine inspector)")
            )
        report["layers"] = layers
    return report
