"""INT8 explicit quantization: a QDQ ONNX model from a float model and a calibration dataset.

Pipeline (onnxruntime.quantization, checked against onnxruntime 1.32's source):

1. Per-channel on an opset < 13 model: upgrade to opset 13 with ``onnx.version_converter`` first —
   per-channel DequantizeLinear needs the ``axis`` attribute added in opset 13, and a model that
   keeps its old opset is refused by onnxruntime at load time.
2. ``quant_pre_process`` (symbolic shape inference, optimisation, ONNX shape inference). If it
   fails we retry without symbolic shape inference, then fall back to the model as is, with a note.
3. Calibration, streamed in chunks: ``create_calibrator`` once, then ``collect_data`` per chunk of
   ``chunk_size`` feeds. Each MinMax ``collect_data`` call reduces its chunk to per-tensor (min, max)
   and merges it into the running range, and each histogram (entropy/percentile) call folds the chunk
   into running histograms, so peak memory depends on the chunk, not the number of samples.
   (We do not use ``CalibMaxIntermediateOutputs``: in onnxruntime 1.32's MinMaxCalibrater, reaching that
   count clears the collected outputs *without* merging them, which loses ranges — see
   ``tests/unit/test_quantize.py::test_ort_max_intermediate_outputs_drops_data``.)
   Histogram calibrators stack a chunk with ``np.asarray``, which crashes on samples of different
   shapes; chunks are therefore cut wherever the sample shape changes, so mixed-shape datasets work.
4. Ranges that are not finite or exceed 1e30 in magnitude (attention masks filled with -inf or
   float32's lowest value) would give a useless scale; those tensors are dropped from the ranges and
   every node producing or consuming them is kept in float (``nodes_to_exclude``), with a note.
5. ``quantize_static(..., quant_format=QDQ, calibration_cache_path=<our ranges>)`` writes the model
   from the cached ranges (onnxruntime's public way to skip re-calibration), to a temp file in the
   cache folder. ``quant_format = "QOperator"`` (a CPU recipe, precision/cpu_recipes.py) writes QLinearConv /
   QLinearMatMul / ... operators instead; it is part of the cache key, and step 6 does not apply to it.
6. Float outputs (``keep_float_outputs``, default on) and mixed-range Concats (``concat_range_ratio``,
   default 16): the Q/DQ pair on each graph output, and on the output of a Concat whose inputs' calibrated
   ranges differ by more than that factor (and on what carries it through Reshape/Transpose/...), is taken
   out again, so those tensors stay float; which ones and why is ``QuantResult.float_kept``.
   :mod:`workbench.core.precision.float_keep` has the rule, its sources (TensorRT, ModelOpt, ORT) and why
   a post-pass rather than ``nodes_to_exclude`` (speed). ``RECIPE`` is part of the cache key, so a QDQ
   model cached by an older recipe is never reused as if made by this one.
7. The model is load-tested in an InferenceSession with one real sample, compared with the FP32 model on a few
   calibration samples (``QuantResult.agreement``: cosine and top-1 agreement, :mod:`.agreement`), then renamed in
   place.

Placement (``placement``). "onnxruntime" (and "auto" outside a TensorRT profile): onnxruntime's own QDQ placement,
the CPU recipe, as above. "tensorrt" (what "auto" becomes in a profile with ``build.backend = "tensorrt"``):
NVIDIA's placement, :mod:`workbench.core.precision.trt_placement` — symmetric signed INT8 with per-channel weights
is forced (TensorRT accepts nothing else; each changed option is a note), only weighted ops and residual Adds are
handed to ``quantize_static`` (``nodes_to_quantize``) with no output quantization and float biases, the fused input
of each residual Add has its pair taken off again after step 5, and :func:`trt_placement.check` walks the result:
any departure is a CalibrationError, never a model TensorRT would build differently than recorded. Which Adds
were treated as residual is ``QuantResult.residual_adds``.

Quantizer (``quantizer``). "onnxruntime" (default) as above; "modelopt" hands the pre-processed model to NVIDIA
ModelOpt's ``modelopt.onnx.quantization.quantize`` (INT8, the optional extra ``modelopt``; TensorRT placement only)
instead of steps 3-5, with our exclusions and calibration samples; steps 6-7 run on its output as on ours.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core import paths
from workbench.core.errors import CalibrationError, Cancelled, ModelError
from workbench.core.fsutil import STORAGE_ERRNOS, atomic_writer, storage_error, sweep_dead_work_dirs, write_text_atomic
from workbench.core.models.fingerprint import model_sha256
from workbench.core.precision import calib_cache
from workbench.core.precision.agreement import Agreement
from workbench.core.precision.float_keep import DEFAULT_CONCAT_RANGE_RATIO, FloatKept, plan_float_tensors, strip_qdq
from workbench.core.precision.trt_placement import ResidualAdd

#: Ranges beyond this magnitude are treated as "infinite" (attention-mask fill values).
MAX_FINITE_RANGE = 1e30
#: Version of the QDQ recipe (part of the cache key). 2: graph outputs and mixed-range Concats kept in float.
RECIPE = 4  # 3: a Relu/Clip folded into a kept output's Q is put back (float_keep._restore_activation)
# 4: placement / quantizer choices (TensorRT placement, ModelOpt) and the FP32 agreement in the sidecar

_DEFAULTS: dict[str, Any] = {
    "activation_type": "uint8",
    "weight_type": "int8",
    "activation_symmetric": False,
    "weight_symmetric": True,
    "per_channel": False,
    "reduce_range": False,
    "method": "minmax",
    "percentile": 99.999,
    "calibration_samples": 0,
    "op_types_to_exclude": [],
    "nodes_to_exclude": [],
    "chunk_size": 16,
    "keep_float_outputs": True,
    "concat_range_ratio": DEFAULT_CONCAT_RANGE_RATIO,
    "placement": "auto",
    "quantizer": "onnxruntime",
    "quant_format": "QDQ",
}
METHODS = ("minmax", "entropy", "percentile")
PLACEMENTS = ("auto", "onnxruntime", "tensorrt")
QUANTIZERS = ("onnxruntime", "modelopt")
#: onnxruntime's two representations (``QuantFormat``): Q/DQ pairs around float ops, or QLinearConv/QLinearMatMul/...
#: operators (QOperator). QDQ is the default and the only one the TensorRT placement, recipe 2 and localisation use.
QUANT_FORMATS = ("QDQ", "QOperator")
#: What the TensorRT placement requires of the options (TensorRT quantization is symmetric signed INT8, weights per
#: output channel: developer guide, "Working with Quantized Types" / "Explicit Quantization").
TENSORRT_OPTIONS: dict[str, Any] = {
    "activation_type": "int8",
    "weight_type": "int8",
    "activation_symmetric": True,
    "weight_symmetric": True,
    "per_channel": True,
    "reduce_range": False,
}
#: The pip extra that installs NVIDIA ModelOpt (pyproject.toml [project.optional-dependencies]).
MODELOPT_EXTRA = "modelopt"


@dataclass(frozen=True)
class QuantOptions:
    """Resolved quantization options (fields as the profile's QuantSection)."""

    activation_type: str = "uint8"
    weight_type: str = "int8"
    activation_symmetric: bool = False
    weight_symmetric: bool = True
    per_channel: bool = False
    reduce_range: bool = False  # 7-bit weights (onnxruntime's advice for x86 CPUs without VNNI)
    method: str = "minmax"
    percentile: float = 99.999
    calibration_samples: int = 0  # 0 = every sample in the dataset
    op_types_to_exclude: tuple[str, ...] = ()
    nodes_to_exclude: tuple[str, ...] = ()
    chunk_size: int = 16
    keep_float_outputs: bool = True  # no Q/DQ on graph outputs (float_keep.py)
    concat_range_ratio: float = DEFAULT_CONCAT_RANGE_RATIO  # Concats joining ranges further apart stay float; 0 = off
    placement: str = "auto"  # "tensorrt": NVIDIA's Q/DQ placement (trt_placement.py); "auto"/"onnxruntime": ORT's
    quantizer: str = "onnxruntime"  # or "modelopt" (NVIDIA ModelOpt, optional extra; TensorRT placement only)
    quant_format: str = "QDQ"  # or "QOperator": QLinearConv/QLinearMatMul/... (onnxruntime CPU only)

    @property
    def for_tensorrt(self) -> bool:
        """True when the TensorRT placement applies (``placement == "tensorrt"``)."""
        return self.placement == "tensorrt"

    @classmethod
    def from_any(cls, q: Any = None, **overrides: Any) -> QuantOptions:
        """Build from a QuantSection, a dict, None (defaults), plus keyword overrides (None = keep)."""
        vals = dict(_DEFAULTS)
        if q is not None:
            src = q if isinstance(q, dict) else {k: getattr(q, k) for k in _DEFAULTS if hasattr(q, k)}
            vals.update({k: v for k, v in src.items() if k in _DEFAULTS and v is not None})
        vals.update({k: v for k, v in overrides.items() if v is not None})
        vals["op_types_to_exclude"] = tuple(vals["op_types_to_exclude"])
        vals["nodes_to_exclude"] = tuple(vals["nodes_to_exclude"])
        opts = cls(**vals)
        if opts.method not in METHODS:
            raise CalibrationError(
                f"unknown calibration method {opts.method!r}; use one of {', '.join(METHODS)}",
                hint="fix quantization.method in the profile's [quantization] table (or --method)",
            )
        for field in ("activation_type", "weight_type"):
            if getattr(opts, field) not in ("uint8", "int8"):
                raise CalibrationError(
                    f"{field} must be 'uint8' or 'int8', got {getattr(opts, field)!r}",
                    hint="fix quantization.activation_type / weight_type in the profile's [quantization] table",
                )
        if opts.chunk_size < 1:
            raise CalibrationError(
                f"chunk_size must be >= 1, got {opts.chunk_size}",
                hint="set quantization.chunk_size to a positive number of samples per pass (default 64; lower it to "
                "use less memory)",
            )
        if not 0.0 < opts.percentile <= 100.0:
            raise CalibrationError(
                f"percentile must be in (0, 100], got {opts.percentile}",
                hint="quantization.percentile is a percent, e.g. 99.999 (not a fraction like 0.99999)",
            )
        if opts.placement not in PLACEMENTS:
            raise CalibrationError(
                f"unknown quantization.placement {opts.placement!r}; use one of {', '.join(PLACEMENTS)}",
                hint="set quantization.placement = 'auto' to follow build.backend, or remove the key",
            )
        if opts.quantizer not in QUANTIZERS:
            raise CalibrationError(
                f"unknown quantization.quantizer {opts.quantizer!r}; use one of {', '.join(QUANTIZERS)}",
                hint="set quantization.quantizer = 'onnxruntime' (always installed), or remove the key",
            )
        if opts.quantizer == "modelopt" and not opts.for_tensorrt:
            raise CalibrationError(
                "quantization.quantizer = 'modelopt' writes QDQ models for TensorRT only",
                hint="use it in a profile with build.backend = 'tensorrt' (or set quantization.placement = 'tensorrt')",
            )
        if opts.quant_format not in QUANT_FORMATS:
            raise CalibrationError(
                f"unknown quantization.quant_format {opts.quant_format!r}; use one of {', '.join(QUANT_FORMATS)}",
                hint="use 'QDQ' (Q/DQ pairs, for TensorRT and CPU) or 'QOperator' (onnxruntime on CPU only)",
            )
        if opts.quant_format == "QOperator" and (opts.for_tensorrt or opts.quantizer != "onnxruntime"):
            raise CalibrationError(
                "quantization.quant_format = 'QOperator' is an onnxruntime CPU format: TensorRT and ModelOpt read "
                "QDQ models only",
                hint="set quantization.quant_format = 'QDQ' (the default) in a TensorRT profile",
            )
        if opts.concat_range_ratio != 0 and not opts.concat_range_ratio > 1:
            raise CalibrationError(
                f"concat_range_ratio must be 0 (off) or > 1, got {opts.concat_range_ratio}",
                hint="16 (the default) keeps a Concat in float when its inputs' ranges differ more than 16x",
            )
        return opts


@dataclass(frozen=True)
class QuantResult:
    """Outcome of :func:`quantize_qdq`. ``seconds`` is wall time of this call (cache hits are fast)."""

    path: Path
    cached: bool
    method: str
    samples: int
    excluded_nodes: tuple[str, ...]
    seconds: float
    notes: tuple[str, ...] = ()
    ranges_path: Path | None = None
    key: str = ""
    float_kept: tuple[FloatKept, ...] = ()  # tensors left without Q/DQ by the recipe (step 6), with why
    placement: str = "onnxruntime"  # the Q/DQ placement used: "onnxruntime" or "tensorrt"
    quantizer: str = "onnxruntime"  # who wrote the model: "onnxruntime" or "modelopt"
    residual_adds: tuple[ResidualAdd, ...] = ()  # TensorRT placement: Adds quantized on their residual input only
    agreement: Agreement | None = None  # QDQ vs FP32 on a few calibration samples (None: no float output)
    quant_format: str = "QDQ"  # "QDQ" or "QOperator" (QuantOptions.quant_format)
    # Which plain CPU recipe set the options and why (cpu_recipes.RecipeChoice.to_dict(); None: the profile's keys).
    # Filled in by the workflow, which knows the profile and the CPU; not part of the cache key (the options are).
    cpu_recipe: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "cached": self.cached,
            "method": self.method,
            "samples": self.samples,
            "excluded_nodes": list(self.excluded_nodes),
            "seconds": round(self.seconds, 3),
            "notes": list(self.notes),
            "ranges_path": str(self.ranges_path) if self.ranges_path else None,
            "key": self.key,
            "float_kept": [f.to_dict() for f in self.float_kept],
            "placement": self.placement,
            "quantizer": self.quantizer,
            "residual_adds": [r.to_dict() for r in self.residual_adds],
            "agreement": self.agreement.to_dict() if self.agreement is not None else None,
            "quant_format": self.quant_format,
            "cpu_recipe": dict(self.cpu_recipe) if self.cpu_recipe else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QuantResult:
        """Inverse of :meth:`to_dict` (a detached calibration's outcome read back by a face)."""
        return cls(
            path=Path(d["path"]),
            cached=bool(d.get("cached", False)),
            method=str(d.get("method", "")),
            samples=int(d.get("samples") or 0),
            excluded_nodes=tuple(d.get("excluded_nodes") or ()),
            seconds=float(d.get("seconds") or 0.0),
            notes=tuple(d.get("notes") or ()),
            ranges_path=Path(d["ranges_path"]) if d.get("ranges_path") else None,
            key=str(d.get("key", "")),
            float_kept=tuple(FloatKept.from_dict(f) for f in d.get("float_kept") or ()),
            placement=str(d.get("placement") or "onnxruntime"),
            quantizer=str(d.get("quantizer") or "onnxruntime"),
            residual_adds=tuple(ResidualAdd.from_dict(r) for r in d.get("residual_adds") or ()),
            agreement=Agreement.from_dict(d.get("agreement")),
            quant_format=str(d.get("quant_format") or "QDQ"),
            cpu_recipe=dict(d["cpu_recipe"]) if isinstance(d.get("cpu_recipe"), dict) else None,
        )


def _ort_version() -> str:
    import onnxruntime

    return onnxruntime.__version__


def _opset(model: Any) -> int:
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return int(imp.version)
    return 0


def _model_opset(path: Path) -> int:
    import onnx

    try:
        return _opset(onnx.load(str(path), load_external_data=False))
    except Exception as exc:  # noqa: BLE001 - third-party failure -> our error
        raise ModelError(
            f"{path}: cannot load the ONNX model ({exc})",
            hint="run `workbench inspect MODEL` to see what is wrong with the file; re-export it if it is cut off or "
            "corrupt",
        ) from None


def _skip_symbolic_shape(model: Any) -> bool:
    """Skip onnxruntime's symbolic shape inference when it would cost a torch import for nothing.

    ``onnxruntime.tools/__init__.py`` (1.32) imports torch whenever torch is installed, and symbolic shape
    inference lives in that package: measured here, the import took 18 s and ~330 MiB of RSS on a 2-core
    machine. Symbolic inference matters for dynamic non-batch dims (transformers); for inputs whose only
    dynamic dim is the batch, ONNX shape inference (still run by quant_pre_process) gives every type the
    quantizer needs. So: skip it when torch is installed but not yet imported and no input has a symbolic
    dim after the first.
    """
    import importlib.util
    import sys

    if "torch" in sys.modules or importlib.util.find_spec("torch") is None:
        return False
    inits = {i.name for i in model.graph.initializer}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        dims = vi.type.tensor_type.shape.dim
        if any(not d.HasField("dim_value") for d in list(dims)[1:]):
            return False
    return True


def _sweep_dead_work_dirs(folder: Path) -> None:
    """Remove ``.quant-<pid>-*`` work folders whose process is gone (killed mid-quantization: they hold model copies).

    A folder of a live process (another calibration running now) is left alone; so is one without a pid.
    """
    sweep_dead_work_dirs(folder, ".quant-")


def _pass_storage_errors(exc: BaseException) -> None:
    """Re-raise a write refused by the disk (full, RLIMIT_FSIZE, read-only): quantize_qdq reports it as storage."""
    if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
        raise exc


def _preprocess_model(src: Path, work: Path, per_channel: bool, notes: list[str]) -> Path:
    """Opset upgrade (per-channel) + quant_pre_process with graceful fallbacks; names every node."""
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization.shape_inference import quant_pre_process

    try:
        model = onnx.load(str(src))
    except Exception as exc:  # noqa: BLE001 - third-party failure -> our error
        raise ModelError(
            f"{src}: cannot load the ONNX model ({exc})",
            hint="run `workbench inspect MODEL` to see what is wrong with the file; re-export it if it is cut off or "
            "corrupt",
        ) from None
    cur = work / "input.onnx"
    if per_channel and 0 < _opset(model) < 13:
        old = _opset(model)
        try:
            model = version_converter.convert_version(model, 13)
        except Exception as exc:  # noqa: BLE001 - third-party failure -> our error
            raise CalibrationError(
                f"{src}: per-channel quantization needs opset >= 13; converting from opset {old} failed ({exc})",
                hint="set quantization.per_channel = false, or re-export the model with opset 13 or newer",
            ) from None
        notes.append(f"opset upgraded {old} -> 13 for per-channel quantization (opset < 13 has no per-axis QDQ)")
    onnx.save(model, str(cur))
    out = work / "pre.onnx"
    first_skip = _skip_symbolic_shape(model)
    attempts = (
        ({"skip_symbolic_shape": first_skip},)
        if first_skip
        else (
            {"skip_symbolic_shape": False},
            {"skip_symbolic_shape": True},
        )
    )
    done = False
    for i, kw in enumerate(attempts):
        try:
            with _silenced() as logged, _cwd(work):
                quant_pre_process(str(cur.resolve()), str(out.resolve()), **kw)
            notes.extend(f"quant_pre_process: {m}" for m in dict.fromkeys(logged.messages))
            if i:
                notes.append("quant_pre_process: symbolic shape inference failed; ran without it")
            done = True
            break
        except Exception as exc:  # noqa: BLE001 - third-party code raises anything; we degrade, not fail
            _pass_storage_errors(exc)
            last = exc
    if not done:
        notes.append(f"quant_pre_process failed ({type(last).__name__}: {last}); quantizing the model as is")
        shutil.copyfile(cur, out)
    # Name unnamed nodes so exclusions (ours and the user's) can address them.
    m = onnx.load(str(out))
    taken = {n.name for n in m.graph.node if n.name}
    changed = False
    for i, n in enumerate(m.graph.node):
        if not n.name:
            name = f"{n.op_type}_{i}"
            while name in taken:
                name += "_"
            n.name = name
            taken.add(name)
            changed = True
    if changed:
        onnx.save(m, str(out))
    return out


class _Collect:
    """A logging handler that keeps the first line of each ERROR record (onnxruntime.quantization logs failures it
    recovers from, with a traceback, at ERROR: we turn them into notes instead of letting them reach stderr)."""

    def __init__(self) -> None:
        import logging

        self.messages: list[str] = []
        self.handler = logging.Handler(logging.ERROR)
        self.handler.emit = self._emit  # type: ignore[method-assign]

    def _emit(self, record: Any) -> None:
        text = str(record.getMessage()).strip()
        if text and not text.startswith("Traceback"):
            self.messages.append(text.splitlines()[0])


@contextlib.contextmanager
def _quiet() -> Iterator[_Collect]:
    """Silence onnxruntime.quantization's logging (warning chatter and recovered errors with their tracebacks);
    the errors are collected for our notes. Root level and the package logger's handlers are restored after."""
    import logging

    root = logging.getLogger()
    pkg = logging.getLogger("onnxruntime.quantization")
    old, old_prop = root.level, pkg.propagate
    collect = _Collect()
    root.setLevel(logging.ERROR)
    pkg.addHandler(collect.handler)
    pkg.propagate = False  # its records reach our collector only, not the root's (or the last-resort) stderr
    try:
        yield collect
    finally:
        pkg.removeHandler(collect.handler)
        pkg.propagate = old_prop
        root.setLevel(old)


@contextlib.contextmanager
def _cwd(folder: Path) -> Iterator[None]:
    """Run inside ``folder``: onnxruntime's symbolic shape inference, when it gives up, saves
    ``sym_shape_infer_temp.onnx`` (plus external data) into the *current* directory (symbolic_shape_infer.py,
    1.2x). Inside our work folder that litter goes away with it instead of landing in the user's directory.
    Calibration runs in a job's own process (or the single-threaded CLI), so the process-wide chdir is safe."""
    old = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(old)


@contextlib.contextmanager
def _silenced() -> Iterator[_Collect]:
    """No onnxruntime.quantization prints on our stdout (stdout carries data only) and no warnings.

    The calibrator's and quantizer's own InferenceSessions take default options, so ORT's native warnings
    (e.g. "Removing initializer ... not used by any node", in colour) would reach stderr: the default logger
    severity goes to errors-only (3), as our own sessions set it (backends/ort.py)."""
    import onnxruntime as ort

    ort.set_default_logger_severity(3)
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull), _quiet() as collect:
        yield collect


class _ListReader:
    """A CalibrationDataReader over one chunk of feeds (onnxruntime only calls get_next)."""

    def __init__(self, feeds: list[dict[str, Any]]) -> None:
        self._it = iter(feeds)

    def get_next(self) -> dict[str, Any] | None:
        return next(self._it, None)


def _chunks(feeds: Iterator[dict[str, Any]], size: int, limit: int) -> Iterator[list[dict[str, Any]]]:
    """Chunks of at most ``size`` feeds, cut where the shapes change (see module doc, step 3)."""
    chunk: list[dict[str, Any]] = []
    sig = None
    n = 0
    for feed in feeds:
        if limit and n >= limit:
            break
        s = tuple(sorted((k, v.shape) for k, v in feed.items()))
        if chunk and (len(chunk) >= size or s != sig):
            yield chunk
            chunk = []
        chunk.append(feed)
        sig = s
        n += 1
    if chunk:
        yield chunk


def _calibrate(
    model_path: Path,
    dataset: Any,
    opts: QuantOptions,
    work: Path,
    progress: Callable[[int, int], None] | None,
    cancel: threading.Event | None,
) -> tuple[Any, int]:
    from onnxruntime.quantization import CalibrationMethod
    from onnxruntime.quantization.calibrate import create_calibrator
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    method = {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }[opts.method]
    extra: dict[str, Any] = {}
    if opts.method == "percentile":
        extra["percentile"] = opts.percentile
    ops = sorted(set(QLinearOpsRegistry) | set(QDQRegistry))
    total = dataset.count if not opts.calibration_samples else min(dataset.count, opts.calibration_samples)
    try:
        with _silenced():
            calibrator = create_calibrator(
                model_path,
                ops,
                augmented_model_path=str(work / "augmented.onnx"),
                calibrate_method=method,
                extra_options=extra,
            )
    except Exception as exc:  # noqa: BLE001 - third-party failure -> our error
        _pass_storage_errors(exc)
        raise CalibrationError(
            f"{model_path}: onnxruntime could not prepare calibration ({exc})",
            hint="the FP32 model must run in onnxruntime on CPU: check it with `workbench bench MODEL --precision "
            "fp32` on an onnxruntime profile; upgrade onnxruntime if it names an unsupported opset",
        ) from None
    done = 0
    if progress:
        progress(0, total)
    for chunk in _chunks(dataset.iter_feeds(), opts.chunk_size, opts.calibration_samples):
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"calibration cancelled after {done} of {total} samples")
        try:
            with _silenced():
                calibrator.collect_data(_ListReader(chunk))
        except Exception as exc:  # noqa: BLE001 - third-party failure -> our error
            _pass_storage_errors(exc)
            raise CalibrationError(
                f"{dataset.folder}: calibration failed on samples {done + 1}..{done + len(chunk)} ({type(exc).__name__}: {exc})",
                hint="check that these samples match the model's inputs (shape, dtype, the preprocess TOML); "
                "`workbench inspect MODEL` lists what the model expects",
            ) from None
        done += len(chunk)
        del chunk
        if progress:
            progress(done, total)
    if cancel is not None and cancel.is_set():
        raise Cancelled(f"calibration cancelled after {done} of {total} samples")
    try:
        with _silenced():
            ranges = calibrator.compute_data()
    except Exception as exc:  # noqa: BLE001 - third-party failure -> our error
        raise CalibrationError(
            f"{dataset.folder}: computing ranges failed ({type(exc).__name__}: {exc})",
            hint="try quantization.method = 'minmax' (entropy and percentile histograms fail on constant or empty "
            "activations), or add calibration samples",
        ) from None
    del calibrator
    return ranges, done


def _bad_ranges(ranges: Any) -> list[str]:
    import numpy as np

    bad = []
    for name, td in ranges.items():
        lo, hi = (np.asarray(v, dtype=np.float64) for v in td.range_value)
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            bad.append(name)
        elif np.any(np.abs(lo) > MAX_FINITE_RANGE) or np.any(np.abs(hi) > MAX_FINITE_RANGE):
            bad.append(name)
    return bad


def _drop_ranges(ranges: Any, names: list[str]) -> Any:
    from onnxruntime.quantization.calibrate import TensorsData

    return TensorsData(ranges.calibration_method, {k: v for k, v in ranges.items() if k not in set(names)})


def _nodes_touching(model_path: Path, tensors: list[str]) -> list[str]:
    import onnx

    m = onnx.load(str(model_path), load_external_data=False)
    want = set(tensors)
    return [n.name for n in m.graph.node if want & (set(n.input) | set(n.output))]


def _resolve_exclusions(model_path: Path, opts: QuantOptions) -> list[str]:
    import onnx

    m = onnx.load(str(model_path), load_external_data=False)
    names = [n.name for n in m.graph.node]
    excluded = [n.name for n in m.graph.node if n.op_type in set(opts.op_types_to_exclude)]
    unknown = [n for n in opts.nodes_to_exclude if n not in set(names)]
    if unknown:
        parts = []
        for u in unknown:
            close = difflib.get_close_matches(u, names, n=1)
            parts.append(f"'{u}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        raise CalibrationError(
            f"{model_path.name}: quantization.nodes_to_exclude names node(s) not in the model: {', '.join(parts)}",
            hint="`workbench inspect MODEL --json` lists node names",
        )
    for n in opts.nodes_to_exclude:
        if n not in excluded:
            excluded.append(n)
    return excluded


def _load_test(path: Path, dataset: Any) -> None:
    import numpy as np
    import onnxruntime as ort

    feed = next(iter(dataset.iter_feeds()))  # outside the try: a DatasetError stays one
    try:
        so = ort.SessionOptions()
        so.log_severity_level = 3
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        outs = sess.run(None, feed)
    except Exception as exc:  # noqa: BLE001 - third-party failure -> our error
        raise CalibrationError(
            f"the quantized model failed its load test in onnxruntime ({type(exc).__name__}: {exc})",
            hint="try quantization.per_channel = false, or exclude the failing op types",
        ) from None
    for o in outs:
        if isinstance(o, np.ndarray) and o.dtype.kind == "f" and not np.all(np.isfinite(o)):
            raise CalibrationError(
                "the quantized model produces NaN/inf on a calibration sample",
                hint="check the calibration data and its normalisation (preprocess TOML); keep the overflowing op "
                "types in float with quantization.op_types_to_exclude",
            )


def quantize_qdq(
    model_path: Path,
    dataset: Any,
    q: Any = None,
    *,
    out_path: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> QuantResult:
    """Quantize ``model_path`` to a QDQ ONNX model calibrated on ``dataset``.

    Args:
        model_path: float ONNX model.
        dataset: a :class:`~workbench.core.precision.datasets.Dataset` for this model's inputs.
        q: a QuantSection, dict, :class:`QuantOptions` or None (defaults: U8 activations, S8 weights, minmax).
        out_path: also copy the result there (atomically); the returned ``path`` is then ``out_path``.
        progress: called ``(samples_done, samples_total)`` after each chunk.
        cancel: checked between chunks.

    Returns:
        QuantResult; ``cached=True`` when the same model/dataset/options were quantized before.

    Raises:
        CalibrationError: bad options, onnxruntime failure, or the result fails its load test.
        Cancelled: ``cancel`` was set. DatasetError: a sample cannot be read. ModelError: unreadable model.
    """
    t0 = time.perf_counter()
    model_path = Path(model_path)
    if not model_path.is_file():
        raise ModelError(
            f"{model_path}: model file not found",
            hint="check the path (relative paths start from the current folder); quantize the FP32 .onnx file itself",
        )
    opts = q if isinstance(q, QuantOptions) else QuantOptions.from_any(q)
    opts, forced = _tensorrt_options(opts) if opts.for_tensorrt else (opts, [])
    if opts.quantizer == "modelopt":
        _require_modelopt(opts)
    placement = "tensorrt" if opts.for_tensorrt else "onnxruntime"
    model_sha = model_sha256(model_path)  # the .onnx and its external data files
    samples_used = dataset.count if not opts.calibration_samples else min(dataset.count, opts.calibration_samples)
    range_parts = {
        "model_sha256": model_sha,
        "dataset": dataset.fingerprint(),
        "method": opts.method,
        "percentile": opts.percentile if opts.method == "percentile" else None,
        "chunk_size": opts.chunk_size if opts.method != "minmax" else None,  # histograms merge per chunk
        "samples": samples_used,
        "preprocess": dataset.preprocess.to_dict() if dataset.preprocess else None,
        "ort": _ort_version(),
        "per_channel_opset_upgrade": opts.per_channel and 0 < _model_opset(model_path) < 13,
    }
    rkey = calib_cache.content_key(range_parts)
    qkey = calib_cache.content_key(
        {
            "ranges": rkey,
            "recipe": RECIPE,
            "keep_float_outputs": opts.keep_float_outputs,
            "concat_range_ratio": float(opts.concat_range_ratio),
            "activation_type": opts.activation_type,
            "weight_type": opts.weight_type,
            "activation_symmetric": opts.activation_symmetric,
            "weight_symmetric": opts.weight_symmetric,
            "per_channel": opts.per_channel,
            "reduce_range": opts.reduce_range,
            "op_types_to_exclude": sorted(opts.op_types_to_exclude),
            "nodes_to_exclude": sorted(opts.nodes_to_exclude),
            "placement": placement,
            "quantizer": opts.quantizer,
            # Only when not the default, so QDQ models cached before the key existed are still found.
            **({"quant_format": opts.quant_format} if opts.quant_format != "QDQ" else {}),
        }
    )
    qpath, side = calib_cache.model_paths(qkey)
    ort_json, human_json = calib_cache.ranges_paths(rkey)
    meta = calib_cache.load_sidecar(side) if qpath.is_file() else None
    if meta is not None:
        final = _publish(qpath, out_path)
        return QuantResult(
            path=final,
            cached=True,
            method=opts.method,
            samples=int(meta.get("samples", samples_used)),
            excluded_nodes=tuple(meta.get("excluded_nodes", [])),
            seconds=time.perf_counter() - t0,
            notes=tuple(meta.get("notes", [])),
            ranges_path=human_json,
            key=qkey,
            float_kept=tuple(FloatKept.from_dict(f) for f in meta.get("float_kept", [])),
            placement=placement,
            quantizer=opts.quantizer,
            residual_adds=tuple(ResidualAdd.from_dict(r) for r in meta.get("residual_adds", [])),
            agreement=Agreement.from_dict(meta.get("agreement")),
            quant_format=opts.quant_format,
        )

    notes: list[str] = list(forced)
    qpath.parent.mkdir(parents=True, exist_ok=True)
    _sweep_dead_work_dirs(qpath.parent)
    work = Path(tempfile.mkdtemp(prefix=f".quant-{os.getpid()}-", dir=qpath.parent))
    try:
        pre = _preprocess_model(model_path, work, opts.per_channel, notes)
        excluded = _resolve_exclusions(pre, opts)
        tmp_out = work / "model.qdq.onnx"
        residual: tuple[ResidualAdd, ...] = ()
        ranges_meta = calib_cache.load_sidecar(human_json) if ort_json.is_file() else None
        if opts.quantizer == "modelopt":
            samples, bad = _quantize_modelopt(pre, tmp_out, dataset, opts, excluded, work, notes, progress, cancel), []
        elif ranges_meta is not None:
            samples = int(ranges_meta.get("samples", samples_used))
            bad = list(ranges_meta.get("dropped_tensors", []))
            notes.append("calibration ranges reused from the calibration cache")
        else:
            ranges, samples = _calibrate(pre, dataset, opts, work, progress, cancel)
            bad = _bad_ranges(ranges)
            if bad:
                ranges = _drop_ranges(ranges, bad)
            calib_cache.save_ranges(
                rkey,
                ranges,
                {**range_parts, "samples": samples, "dropped_tensors": bad, "model": str(model_path)},
            )
        if bad:
            touching = _nodes_touching(pre, bad)
            excluded += [n for n in touching if n not in excluded]
            notes.append(
                f"{len(bad)} tensor(s) with infinite or > {MAX_FINITE_RANGE:g} ranges kept in float "
                f"(e.g. attention masks): {', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}"
            )
        if opts.quantizer == "onnxruntime" and opts.for_tensorrt:
            residual = _quantize_for_tensorrt(pre, tmp_out, ort_json, opts, excluded, notes)
        elif opts.quantizer == "onnxruntime":
            _run_quantize_static(pre, tmp_out, ort_json, opts, excluded)
        kept = _keep_float(pre, tmp_out, human_json, opts, notes)
        if opts.for_tensorrt:
            _check_placement(tmp_out, residual, opts, notes)
        _load_test(tmp_out, dataset)
        agreement = _agreement(model_path, tmp_out, dataset, notes)
        sidecar = {
            "model": str(model_path),
            "model_sha256": model_sha,
            "dataset": str(dataset.folder),
            "dataset_fingerprint": dataset.fingerprint(),
            "options": {k: getattr(opts, k) for k in _DEFAULTS},
            "samples": samples,
            "excluded_nodes": excluded,
            "float_kept": [f.to_dict() for f in kept],
            "placement": placement,
            "quantizer": opts.quantizer,
            "residual_adds": [r.to_dict() for r in residual],
            "agreement": agreement.to_dict() if agreement is not None else None,
            "notes": notes,
            "ranges": str(human_json),
            "ort": _ort_version(),
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        import json

        # Sidecar first: a model file without its sidecar is a miss, never a half-written hit.
        write_text_atomic(side, json.dumps(sidecar, indent=1, default=list))
        os.replace(tmp_out, qpath)
    except OSError as exc:  # onnx.save / onnxruntime writing in the work folder: disk full, RLIMIT_FSIZE, ...
        err = storage_error(qpath.parent, exc)
        if err is None:
            raise
        raise err from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    final = _publish(qpath, out_path)
    return QuantResult(
        path=final,
        cached=False,
        method=opts.method,
        samples=samples,
        excluded_nodes=tuple(excluded),
        seconds=time.perf_counter() - t0,
        notes=tuple(notes),
        ranges_path=human_json,
        key=qkey,
        float_kept=kept,
        placement=placement,
        quantizer=opts.quantizer,
        residual_adds=residual,
        agreement=agreement,
        quant_format=opts.quant_format,
    )


def _tensorrt_options(opts: QuantOptions) -> tuple[QuantOptions, list[str]]:
    """``opts`` with :data:`TENSORRT_OPTIONS` applied, and one note per option that had another value."""
    import dataclasses

    notes = [
        f"quantization.{k} = {getattr(opts, k)!r} changed to {v!r}: TensorRT's Q/DQ placement needs symmetric "
        "signed INT8 with per-channel weights"
        for k, v in TENSORRT_OPTIONS.items()
        if getattr(opts, k) != v
    ]
    return dataclasses.replace(opts, **TENSORRT_OPTIONS), notes


def _quantize_for_tensorrt(
    pre: Path, out: Path, ort_json: Path, opts: QuantOptions, excluded: list[str], notes: list[str]
) -> tuple[ResidualAdd, ...]:
    """Step 5 with NVIDIA's placement (trt_placement.py): weighted ops and residual Adds only, no output Q/DQ, float
    biases; then the fused input of each residual Add loses its pair again. Returns the residual Adds."""
    import onnx

    from workbench.core.precision import trt_placement

    model = onnx.load(str(pre), load_external_data=False)
    residual = trt_placement.residual_adds(model)
    residual = tuple(r for r in residual if r.add not in set(excluded))
    nodes = trt_placement.nodes_to_quantize(model, excluded, residual)
    if not nodes:
        notes.append("TensorRT placement: no Conv/ConvTranspose/Gemm/MatMul left to quantize; the model stays float")
        shutil.copyfile(pre, out)
        return ()
    _run_quantize_static(
        pre,
        out,
        ort_json,
        opts,
        excluded,
        nodes=nodes,
        op_types=sorted(trt_placement.WEIGHTED_OPS | {"Add"}),
        extra=trt_placement.ort_options(model),
    )
    if residual:
        plan = {r.fused_input: f"fused input of residual Add '{r.add}' (Conv '{r.backbone}')" for r in residual}
        strip_qdq(out, plan, model)
        notes.append(
            f"TensorRT placement: {len(residual)} residual Add(s) quantized on their residual input only, so each "
            "fuses into the Conv before it: "
            + ", ".join(r.add for r in residual[:5])
            + (" ..." if len(residual) > 5 else "")
        )
    return residual


def _check_placement(path: Path, residual: tuple[ResidualAdd, ...], opts: QuantOptions, notes: list[str]) -> None:
    """Walk the written model (trt_placement.check). Our own placement must pass; ModelOpt's is its own (it also
    quantizes pooling heads and more), so its departures are notes, not errors."""
    import onnx

    from workbench.core.precision import trt_placement

    chk = trt_placement.check(onnx.load(str(path), load_external_data=False), residual)
    notes.append(
        f"TensorRT placement: {chk.quantized_ops} of {chk.weighted_ops} weighted op(s) read INT8 activations, "
        f"{chk.per_channel_weights} weight(s) per-channel, {chk.activation_pairs} activation Q/DQ pair(s)"
    )
    if not chk.problems:
        return
    if opts.quantizer == "modelopt":
        notes.extend(f"ModelOpt placement differs from ours: {p}" for p in chk.problems[:10])
        return
    raise CalibrationError(
        f"the QDQ model departs from TensorRT's Q/DQ placement: {'; '.join(chk.problems[:5])}"
        + (f" (and {len(chk.problems) - 5} more)" if len(chk.problems) > 5 else ""),
        hint="report this with the model; quantization.placement = 'onnxruntime' writes onnxruntime's placement",
    )


def _agreement(model_path: Path, qdq: Path, dataset: Any, notes: list[str]) -> Agreement | None:
    """QDQ vs FP32 on the first calibration samples (agreement.py); its line goes into the notes."""
    from workbench.core.precision import agreement

    try:
        found = agreement.measure(model_path, qdq, dataset.iter_feeds())
    except Exception as exc:  # noqa: BLE001 - third-party failure: the figure is missing, the model is fine
        _pass_storage_errors(exc)
        notes.append(f"INT8 vs FP32 agreement not measured ({type(exc).__name__}: {exc})")
        return None
    if found is not None:
        notes.append(found.line())
    return found


def _modelopt_available() -> bool:
    """True when ``modelopt.onnx.quantization`` can be imported (found without importing it)."""
    import importlib.util

    try:
        return importlib.util.find_spec("modelopt.onnx.quantization") is not None
    except (ImportError, ValueError):  # "modelopt" itself missing, or a broken install
        return False


def _require_modelopt(opts: QuantOptions) -> None:
    if not _modelopt_available():
        raise CalibrationError(
            "quantization.quantizer = 'modelopt' needs NVIDIA ModelOpt (modelopt.onnx.quantization), which is not "
            "installed",
            hint=f"from the workbench checkout: .venv/bin/pip install -e '.[{MODELOPT_EXTRA}]' (or pip install nvidia-modelopt[onnx]), or set "
            "quantization.quantizer = 'onnxruntime'",
        )
    if opts.method == "percentile":
        raise CalibrationError(
            "ModelOpt calibrates with 'max' (our minmax) or 'entropy', not 'percentile'",
            hint="set quantization.method = 'minmax' or 'entropy', or quantization.quantizer = 'onnxruntime'",
        )


def _quantize_modelopt(
    pre: Path,
    out: Path,
    dataset: Any,
    opts: QuantOptions,
    excluded: list[str],
    work: Path,
    notes: list[str],
    progress: Callable[[int, int], None] | None,
    cancel: threading.Event | None,
) -> int:
    """Steps 3-5 by ModelOpt: ``modelopt.onnx.quantization.quantize(quantize_mode="int8")`` on ``pre``.

    ModelOpt takes its calibration data as ``{input name: array}`` with the samples stacked on the batch axis
    (``calibration_data``), so the samples are read into memory once (``calibration_samples`` bounds them); every
    sample must have the same shape. ``high_precision_dtype="fp32"`` keeps the non-quantized part FP32 (our FP16
    model is a separate precision); ``calibration_eps=["cpu"]``: calibration runs on onnxruntime's CPU provider
    here as in our own recipe. Returns the number of samples used.
    """
    import numpy as np

    limit = opts.calibration_samples or dataset.count
    feeds: list[dict[str, Any]] = []
    total = min(dataset.count, limit)
    if progress:
        progress(0, total)
    for feed in dataset.iter_feeds():
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"calibration cancelled after {len(feeds)} of {total} samples")
        feeds.append(feed)
        if len(feeds) >= limit:
            break
    shapes = {tuple((k, v.shape) for k, v in sorted(f.items())) for f in feeds}
    if len(shapes) > 1:
        raise CalibrationError(
            f"{dataset.folder}: ModelOpt needs calibration samples of one shape; found {len(shapes)} different shapes",
            hint="set quantization.quantizer = 'onnxruntime' (it handles mixed shapes)",
        )
    data = {k: np.concatenate([f[k] for f in feeds], axis=0) for k in feeds[0]} if feeds else None
    try:
        from modelopt.onnx.quantization import quantize as mo_quantize

        with _silenced(), _cwd(work):
            mo_quantize(
                onnx_path=str(pre),
                quantize_mode="int8",
                calibration_data=data,
                calibration_method="entropy" if opts.method == "entropy" else "max",
                calibration_eps=["cpu"],
                op_types_to_exclude=list(opts.op_types_to_exclude),
                nodes_to_exclude=list(excluded),
                output_path=str(out),
                high_precision_dtype="fp32",
                log_level="ERROR",
            )
    except (Cancelled, CalibrationError):
        raise
    except Exception as exc:  # noqa: BLE001 - third-party failure -> our error
        _pass_storage_errors(exc)
        raise CalibrationError(
            f"{pre.name}: ModelOpt quantization failed ({type(exc).__name__}: {exc})",
            hint="quantization.quantizer = 'onnxruntime' uses our own recipe",
        ) from None
    if not out.is_file():
        raise CalibrationError(
            f"{pre.name}: ModelOpt wrote no model at {out}",
            hint="set quantization.quantizer = 'onnxruntime' to use our own recipe, or reinstall the extra: pip "
            "install 'edge-workbench[modelopt]'",
        )
    if progress:
        progress(len(feeds), total)
    notes.append(f"quantized by NVIDIA ModelOpt (modelopt.onnx.quantization, int8, {len(feeds)} samples)")
    return len(feeds)


def _keep_float(pre: Path, qdq: Path, human_json: Path, opts: QuantOptions, notes: list[str]) -> tuple[FloatKept, ...]:
    """Step 6: take the Q/DQ pair off graph outputs and mixed-range Concat outputs (float_keep.py). A QOperator model
    has no Q/DQ pairs to take off (its quantized operators read and write INT8 tensors directly, with one
    DequantizeLinear where a float consumer or a graph output follows), so it is left as quantize_static wrote it."""
    import onnx

    if not opts.keep_float_outputs and not opts.concat_range_ratio:
        return ()
    if opts.quant_format == "QOperator":
        notes.append(
            "QOperator format: graph outputs and mixed-range Concats are not kept in float (no Q/DQ pairs to take "
            "off; recipe 2 applies to QDQ models)"
        )
        return ()
    meta = calib_cache.load_sidecar(human_json) or {}
    float_model = onnx.load(str(pre), load_external_data=False)
    plan = plan_float_tensors(
        float_model,
        meta.get("ranges") or {},
        keep_outputs=opts.keep_float_outputs,
        ratio=float(opts.concat_range_ratio),
    )
    return strip_qdq(qdq, plan, float_model) if plan else ()


def _run_quantize_static(
    pre: Path,
    out: Path,
    ort_json: Path,
    opts: QuantOptions,
    excluded: list[str],
    *,
    nodes: list[str] | None = None,
    op_types: list[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Step 5. ``nodes``/``op_types``: ``nodes_to_quantize`` / ``op_types_to_quantize`` (None: every node of every
    type onnxruntime can quantize); ``extra``: more ``extra_options`` (the TensorRT placement's)."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    qt = {"uint8": QuantType.QUInt8, "int8": QuantType.QInt8}
    method = {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }[opts.method]
    try:
        with _silenced():
            quantize_static(
                str(pre),
                str(out),
                None,
                quant_format=QuantFormat.QOperator if opts.quant_format == "QOperator" else QuantFormat.QDQ,
                op_types_to_quantize=op_types,
                nodes_to_quantize=nodes,
                per_channel=opts.per_channel,
                reduce_range=opts.reduce_range,
                activation_type=qt[opts.activation_type],
                weight_type=qt[opts.weight_type],
                nodes_to_exclude=list(excluded),
                calibrate_method=method,
                extra_options={
                    "ActivationSymmetric": opts.activation_symmetric,
                    "WeightSymmetric": opts.weight_symmetric,
                    **(extra or {}),
                },
                calibration_cache_path=str(ort_json),
            )
    except Exception as exc:  # noqa: BLE001 - third-party failure -> our error
        _pass_storage_errors(exc)
        raise CalibrationError(
            f"{pre.name}: onnxruntime quantize_static failed ({type(exc).__name__}: {exc})",
            hint="try quantization.per_channel = false or exclude the op types named above",
        ) from None


def _publish(src: Path, out_path: Path | None) -> Path:
    if out_path is None:
        return src
    out_path = Path(out_path)
    with atomic_writer(out_path) as fh, open(src, "rb") as inp:
        shutil.copyfileobj(inp, fh, 1 << 20)
    return out_path


def default_cache_root() -> Path:
    """Where quantized models and ranges live (see calib_cache)."""
    return paths.calibration_cache_dir()


def to_fp16(model_path: Path) -> Path:
    """FP16 copy of a float model (see :mod:`workbench.core.precision.fp16`)."""
    from workbench.core.precision.fp16 import to_fp16 as _to_fp16

    return _to_fp16(model_path)
