"""FP16 ONNX for strongly typed TensorRT builds: nodes whose values leave FP16's safe range stay FP32.

Why. TensorRT 11 has no FP16 builder flag: its networks are strongly typed, every tensor keeps the type the ONNX
gives it (TensorRT's "strongly typed networks"; ``compat.py`` records the removed flags). An FP16 build is therefore
built from an FP16 ONNX, and a tensor the FP16 ONNX declares float16 *is* float16 on the GPU: a value past 65504
(float16's largest finite value) becomes inf, where the flag path of TensorRT ≤ 10 let the builder pick FP32 for
such a layer. onnxruntime on a CPU hides this (most CPU kernels have no float16 version, so it computes them in
float32 between Casts it removes again): the FP16 model must be made safe by its graph, not by testing it here.

Rules, as NVIDIA ModelOpt's AutoCast applies them (``modelopt.onnx.autocast``, its guide "AutoCast (ONNX)" and
``nodeclassifier.py``: ``IORangeRule``, ``InitializerRangeRule``; ``convert_to_mixed_precision`` defaults
``data_max=512``, ``init_max=65504``):

* **activations** — a node stays FP32 when one of its inputs or outputs, measured on reference feeds run through
  the FP32 model, reaches ``|x| > data_max`` (default :data:`DATA_MAX` = 512: far below 65504, because FP16
  accumulations and the next layers can grow a value that large past the limit). The rule looks at inputs as well
  as outputs, so the readers of an out-of-range tensor stay FP32 too (they would otherwise read it through FP16);
* **initializers** — a node stays FP32 when a float32 initializer it reads has ``|x| > init_max`` (default
  :data:`INIT_MAX` = 65504, float16's largest finite value: onnxruntime's converter would clamp it there). A
  ``Constant`` node whose value is past ``init_max`` stays FP32 for the same reason (its value is an attribute the
  converter would clamp).

Reference feeds come from the caller (:class:`FeedSource`): the calibration set the INT8 path uses, or a few seeded
random feeds when there is none (the workflow says which in :attr:`TypedFp16.feeds`). Only the top-level graph is
observed: tensors inside If/Loop/Scan bodies are not measured, and their nodes follow the converter's defaults.

How. ``onnxruntime.transformers.float16.convert_float_to_float16`` (the converter ``fp16.py`` uses) with
``keep_io_types=True`` and ``node_block_list`` = the kept nodes. It wraps every blocked node in Casts, *also between
two blocked nodes* (FP32 → FP16 → FP32, checked with onnxruntime 1.32), and that round trip would put the very
value the node was kept for through FP16 (inf): :func:`_drop_round_trips` removes each such pair it inserted. An
initializer read only by kept nodes stays float32 (the converter's own rule). Unnamed nodes get a name
(``<op>_<index>``) first, since the block list names nodes; the record uses that name.

The result is cached in ``calibration_cache_dir()/fp16/<key>.typed.fp16.onnx`` with a record ``<key>.typed.json``
(:class:`TypedFp16`: which nodes stayed FP32, why, and the value seen) written after the model; key = the model's
content hash, the feeds' key, ``data_max``, ``init_max``, onnxruntime's version.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core import paths
from workbench.core.errors import BuildError, Cancelled, ModelError

#: ModelOpt AutoCast's ``data_max`` default (``convert_to_mixed_precision``, the "AutoCast (ONNX)" guide).
DATA_MAX = 512.0
#: float16's largest finite value (IEEE 754 binary16: (2 − 2⁻¹⁰) · 2¹⁵); ModelOpt AutoCast's ``init_max`` default.
INIT_MAX = 65504.0
#: Bump when the rules or the record change (part of the cache key).
_VERSION = 1


# --- which FP16 a TensorRT build gets ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Fp16Route:
    """How FP16 is made for a build: ``typed`` (an FP16 ONNX from :func:`to_fp16_typed`, built strongly typed) or
    not (the whole-model FP16 copy of ``fp16.py``; TensorRT ≤ 10 adds its FP16 builder flag). ``reason``: one line
    for people."""

    typed: bool
    reason: str


def fp16_route(
    backend: str,
    precision_mode: str | None,
    strongly_typed: bool,
    has_strongly_typed: bool | None = None,
    version: str = "",
) -> Fp16Route:
    """Which FP16 path a profile takes, from values alone (no TensorRT needed; mirrors the builder's choice of a
    strongly typed network in ``backends/tensorrt/builder.py`` ``translate``).

    Args:
        backend: the profile's ``[build] backend``.
        precision_mode: ``Compat.precision_mode()`` of the installed TensorRT ("flags": TensorRT ≤ 10, "typed":
            TensorRT 11), or None when TensorRT is not importable here.
        strongly_typed: the profile's ``[build] strongly_typed``.
        has_strongly_typed: ``Compat.has("strongly_typed")`` (10.0+), None when unknown (no TensorRT here).
        version: the TensorRT version string, for the reason.
    """
    release = f"TensorRT {version}" if version else "TensorRT"
    if backend != "tensorrt":
        return Fp16Route(False, f"{backend} runs the whole-model FP16 copy")
    if precision_mode == "typed":
        return Fp16Route(
            True, f"{release} builds strongly typed networks (no FP16 flag): precision comes from the ONNX"
        )
    if strongly_typed and has_strongly_typed is False:
        return Fp16Route(False, f"strongly_typed is set but {release} has none (10.0+): FP16 builder flag")
    if strongly_typed:
        return Fp16Route(True, "the profile sets [build] strongly_typed = true: precision comes from the ONNX")
    if precision_mode is None:
        return Fp16Route(False, "TensorRT is not importable here and the profile does not set strongly_typed")
    return Fp16Route(False, f"{release} has the FP16 builder flag: whole-model FP16 copy, the builder picks per layer")


# --- records ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KeptNode:
    """A node the FP16 model keeps in FP32: its name, op type, why (one line) and the largest ``|x|`` that decided
    it (an activation measured on the reference feeds, or an initializer's value)."""

    node: str
    op: str
    reason: str
    observed_max: float

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "op": self.op, "reason": self.reason, "observed_max": _json_float(self.observed_max)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> KeptNode:
        return cls(
            str(d.get("node", "")), str(d.get("op", "")), str(d.get("reason", "")), _float(d.get("observed_max"))
        )


@dataclass(frozen=True)
class TypedFp16:
    """Outcome of :func:`to_fp16_typed`: the FP16 model, the nodes kept in FP32, where the reference activations
    came from (``feeds``, for people; ``samples`` feeds run), the bounds used and whether it came from the cache."""

    path: Path
    kept: tuple[KeptNode, ...]
    feeds: str
    samples: int
    data_max: float
    init_max: float
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "kept_fp32": [k.to_dict() for k in self.kept],
            "feeds": self.feeds,
            "samples": self.samples,
            "data_max": self.data_max,
            "init_max": self.init_max,
            "cached": self.cached,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TypedFp16:
        kept = d.get("kept_fp32")
        return cls(
            Path(str(d.get("path", ""))),
            tuple(KeptNode.from_dict(k) for k in kept if isinstance(k, Mapping)) if isinstance(kept, list) else (),
            str(d.get("feeds", "")),
            int(d.get("samples") or 0),
            _float(d.get("data_max"), DATA_MAX),
            _float(d.get("init_max"), INIT_MAX),
            bool(d.get("cached", False)),
        )


def _json_float(v: float) -> float | str:
    return v if math.isfinite(v) else str(v)  # JSON has no inf/nan


def _float(v: Any, default: float = 0.0) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class FeedSource:
    """Reference feeds for :func:`to_fp16_typed`. ``feeds()`` yields ``{input name: array}`` (a fresh iterator per
    call); ``key``: same key, same feeds (part of the cache key); ``label``: where they come from, for people."""

    label: str
    key: str
    feeds: Callable[[], Iterable[Mapping[str, Any]]]


# --- measuring and choosing -----------------------------------------------------------------------------------
def name_nodes(model: Any) -> None:
    """Give every unnamed top-level node of ``model`` a unique name ``<op>_<index>`` (in place): the converter's
    block list selects nodes by name."""
    used = {n.name for n in model.graph.node if n.name}
    for i, n in enumerate(model.graph.node):
        if not n.name:
            name = f"{n.op_type}_{i}"
            while name in used:
                name += "_"
            n.name = name
            used.add(name)


def observe_max_abs(
    model: Any, feeds: Iterable[Mapping[str, Any]], *, work: Path | None = None, cancel: Any = None
) -> tuple[dict[str, float], int]:
    """Largest ``|x|`` of every float tensor of the top-level graph over ``feeds``, run through the FP32 ``model``.

    Every node output becomes a graph output of a probe copy run by onnxruntime on the CPU with graph optimisations
    off (the values are the FP32 model's own tensors, none fused away); graph inputs are measured on the feeds.
    Only running maxima are kept (one sample's tensors at a time in memory). ``model`` is left as it was.

    Args:
        model: onnx.ModelProto with its weights loaded.
        work: a folder for the probe when it must be a file (model over 2 GiB); None: passed as bytes when it fits.
        cancel: a ``threading.Event``; checked between feeds.

    Returns:
        (``{tensor: max |x|}`` for float tensors — inf when a value is inf, NaNs ignored —, the number of feeds run).

    Raises:
        BuildError: onnxruntime cannot load or run the probe (names the reason). Cancelled.
    """
    import numpy as np
    import onnx
    import onnxruntime as ort

    g = model.graph
    outputs = {o.name for o in g.output}
    extra = [t for n in g.node for t in n.output if t and t not in outputs]
    n_before = len(g.output)
    g.output.extend([onnx.ValueInfoProto(name=t) for t in extra])
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    probe_dir: Path | None = None
    try:
        try:
            if model.ByteSize() < (1 << 31) - (1 << 20):  # protobuf's 2 GiB limit, with room for the new outputs
                session = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
            else:
                probe_dir = Path(tempfile.mkdtemp(prefix=".probe-", dir=work))
                path = probe_dir / "probe.onnx"
                probe = onnx.ModelProto()
                probe.CopyFrom(model)  # saving as external data empties the saved proto's tensors: not ``model``'s
                onnx.save(probe, str(path), save_as_external_data=True, location="probe.onnx.data")
                del probe
                session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - third-party failure -> our error
            raise BuildError(
                f"cannot run the FP32 model to measure its activations ({type(exc).__name__}: {exc})",
                hint="the FP32 model must run in onnxruntime on CPU to be measured: check it with `workbench bench "
                "MODEL --precision fp32` on an onnxruntime profile",
            ) from None
    finally:
        del g.output[n_before:]
    names = [o.name for o in session.get_outputs()]
    out: dict[str, float] = {}
    count = 0

    def take(name: str, arr: Any) -> None:
        a = np.asarray(arr)
        if a.dtype.kind != "f" or a.size == 0:
            return
        with np.errstate(invalid="ignore"):
            m = float(np.nanmax(np.abs(a))) if not np.all(np.isnan(a)) else 0.0
        out[name] = max(out.get(name, 0.0), m)

    try:
        for feed in feeds:
            if cancel is not None and cancel.is_set():
                raise Cancelled("FP16 conversion cancelled")
            for k, v in feed.items():
                take(k, v)
            try:
                values = session.run(names, dict(feed))
            except Exception as exc:  # noqa: BLE001 - third-party failure -> our error
                raise BuildError(
                    f"the FP32 model failed on reference feed {count + 1} ({type(exc).__name__}: {exc})",
                    hint="check that the reference data fits the model's inputs (shape, dtype, preprocess TOML); "
                    "`workbench inspect MODEL` lists them",
                ) from None
            for name, arr in zip(names, values, strict=True):
                take(name, arr)
            count += 1
    finally:
        del session
        if probe_dir is not None:
            shutil.rmtree(probe_dir, ignore_errors=True)
    return out, count


def plan_fp32_nodes(
    model: Any, max_abs: Mapping[str, float], *, data_max: float = DATA_MAX, init_max: float = INIT_MAX
) -> tuple[KeptNode, ...]:
    """The top-level nodes of ``model`` to keep in FP32, in graph order, by the module's two rules.

    Args:
        model: onnx.ModelProto (weights loaded; nodes named, see :func:`name_nodes`).
        max_abs: ``{tensor: largest |x|}`` from :func:`observe_max_abs`.
        data_max: activation bound (an input or output with ``|x| > data_max`` keeps the node).
        init_max: initializer bound (a float32 initializer or Constant value with ``|x| > init_max`` keeps it).
    """
    import numpy as np
    from onnx import TensorProto, numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    init_max_abs: dict[str, float] = {}

    def tensor_max(t: Any) -> float:
        if t.data_type != TensorProto.FLOAT:
            return 0.0
        a = numpy_helper.to_array(t)
        return float(np.max(np.abs(a))) if a.size else 0.0

    kept: list[KeptNode] = []
    for n in model.graph.node:
        if n.op_type == "Constant":
            value = next((a.t for a in n.attribute if a.name == "value"), None)
            v = tensor_max(value) if value is not None else 0.0
            if v > init_max:
                kept.append(KeptNode(n.name, n.op_type, f"constant value reaches {v:.4g} (> init_max {init_max:g})", v))
            continue  # its output is its value: the rule above decides (AutoCast skips Constant for I/O too)
        worst: tuple[float, str] | None = None
        for name in n.input:
            if name in inits:
                if name not in init_max_abs:
                    init_max_abs[name] = tensor_max(inits[name])
                v = init_max_abs[name]
                if v > init_max and (worst is None or v > worst[0]):
                    worst = (v, f"initializer '{name}' reaches {v:.4g} (> init_max {init_max:g})")
        if worst is None:
            for kind, names in (("input", n.input), ("output", n.output)):
                for name in names:
                    v = max_abs.get(name, 0.0) if name and name not in inits else 0.0
                    if v > data_max and (worst is None or v > worst[0]):
                        worst = (v, f"{kind} '{name}' reaches {v:.4g} on the reference feeds (> data_max {data_max:g})")
        if worst is not None:
            kept.append(KeptNode(n.name, n.op_type, worst[1], worst[0]))
    return tuple(kept)


# --- converting --------------------------------------------------------------------------------------------------
def convert_typed(model: Any, keep: Sequence[str]) -> Any:
    """FP16 copy of ``model`` (onnx.ModelProto, shape-inferred, nodes named) with the nodes ``keep`` in FP32,
    float32 graph inputs and outputs (``keep_io_types``), and no FP16 round trip between kept nodes.

    Raises:
        whatever the converter raises (callers turn it into BuildError).
    """
    from onnxruntime.transformers.float16 import convert_float_to_float16

    original = {n.name for n in model.graph.node}
    converted = convert_float_to_float16(
        model, keep_io_types=True, node_block_list=list(keep), disable_shape_infer=True
    )
    _drop_round_trips(converted.graph, original)
    return converted


def _attr_int(node: Any, name: str) -> int | None:
    return next((int(a.i) for a in node.attribute if a.name == name), None)


def _drop_round_trips(g: Any, original: set[str]) -> None:
    """Remove each FP32 → FP16 → FP32 pair of Casts the converter inserted (names not in ``original``).

    The converter casts a blocked node's float32 output to float16 and casts it back for the next blocked node (and
    for a float32 graph output, ``keep_io_types``); such a pair rounds, and past 65504 overflows, the value the node
    was kept FP32 for. The FP32 → FP16 cast of an inserted pair always reads a float32 tensor (a blocked node's
    output or a float32 graph input), so the FP32 side is read directly: the back-cast's readers read it, or, when the
    back-cast writes a graph output, it becomes an Identity. A forward cast left without readers goes too.
    """
    from onnx import TensorProto

    producer = {t: n for n in g.node for t in n.output}
    graph_outputs = {o.name for o in g.output}
    removed: list[Any] = []
    for back in list(g.node):
        if back.op_type != "Cast" or back.name in original or _attr_int(back, "to") != TensorProto.FLOAT:
            continue
        fwd = producer.get(back.input[0])
        if fwd is None or fwd.op_type != "Cast" or fwd.name in original or _attr_int(fwd, "to") != TensorProto.FLOAT16:
            continue
        src, out = fwd.input[0], back.output[0]
        if out in graph_outputs:
            back.op_type = "Identity"
            del back.attribute[:]
            back.input[0] = src
        else:
            for n in g.node:
                for i, name in enumerate(n.input):
                    if name == out:
                        n.input[i] = src
            removed.append(back)
    for n in removed:
        g.node.remove(n)
    read = {t for n in g.node for t in n.input} | graph_outputs
    for n in [n for n in g.node if n.op_type == "Cast" and n.name not in original and n.output[0] not in read]:
        g.node.remove(n)
    names = {t for n in g.node for t in (*n.input, *n.output)}
    for vi in [v for v in g.value_info if v.name not in names]:
        g.value_info.remove(vi)


# --- the cached conversion ---------------------------------------------------------------------------------------
def typed_cache_paths(model_path: Path, source: FeedSource, data_max: float, init_max: float) -> tuple[Path, Path]:
    """(FP16 model, record) cache paths. Raises ModelError (bad external data, see models/fingerprint.py)."""
    import onnxruntime

    from workbench.core.models.fingerprint import model_sha256
    from workbench.core.precision.calib_cache import content_key

    key = content_key(
        {
            "fp16_typed": _VERSION,
            "model_sha256": model_sha256(model_path),
            "feeds": source.key,
            "data_max": data_max,
            "init_max": init_max,
            "ort": onnxruntime.__version__,
            "keep_io_types": True,
        }
    )
    d = paths.calibration_cache_dir() / "fp16"
    return d / f"{key}.typed.fp16.onnx", d / f"{key}.typed.json"


def read_record(record_path: Path) -> TypedFp16 | None:
    """The record at ``record_path`` when it and its model (with its external data) are complete, else None."""
    from workbench.core.models.fingerprint import external_data_locations

    try:
        rec = TypedFp16.from_dict(json.loads(Path(record_path).read_text(encoding="utf-8")))
        if not rec.path.is_file():
            return None
        external_data_locations(rec.path)  # raises ModelError when its data is missing
    except (OSError, ValueError, TypeError, ModelError):
        return None
    return rec


def record_for(model_path: Path) -> TypedFp16 | None:
    """The record of a typed FP16 model at ``model_path`` (``<key>.typed.fp16.onnx`` → ``<key>.typed.json``), or
    None when ``model_path`` is not one or the record is missing/incomplete (for a build report)."""
    name = Path(model_path).name
    suffix = ".typed.fp16.onnx"
    if not name.endswith(suffix):
        return None
    return read_record(Path(model_path).with_name(name[: -len(suffix)] + ".typed.json"))


def to_fp16_typed(
    model_path: Path,
    source: FeedSource,
    *,
    data_max: float = DATA_MAX,
    init_max: float = INIT_MAX,
    cancel: Any = None,
) -> TypedFp16:
    """The FP16 ONNX of ``model_path`` for a strongly typed build: FP16 except the nodes the module's rules keep in
    FP32 (measured on ``source``'s feeds), float32 inputs and outputs. Cached (module doc).

    Raises:
        ModelError: the model cannot be read. BuildError: measuring or converting fails, the result does not load.
        UsageError/DatasetError: from ``source``'s feeds. Cancelled.
    """
    import onnx

    from workbench.core.fsutil import write_text_atomic
    from workbench.core.models.fingerprint import external_data_locations
    from workbench.core.precision.fp16 import write_converted

    model_path = Path(model_path)
    if not model_path.is_file():
        raise ModelError(
            f"{model_path}: model file not found",
            hint="check the path (relative paths start from the current folder); convert the FP32 .onnx file itself",
        )
    if not (data_max > 0 and init_max > 0):
        raise BuildError(
            f"FP16 bounds must be positive (data_max {data_max}, init_max {init_max})",
            hint="leave data_max and init_max at their defaults, or give values above 0 and below FP16's largest "
            "value (65504)",
        )
    target, record_path = typed_cache_paths(model_path, source, data_max, init_max)
    rec = read_record(record_path)
    if rec is not None and rec.path == target:
        return TypedFp16(rec.path, rec.kept, rec.feeds, rec.samples, rec.data_max, rec.init_max, cached=True)
    external = bool(external_data_locations(model_path))
    try:
        model = onnx.load(str(model_path))
    except Exception as exc:  # noqa: BLE001 - third-party failure -> our error
        raise ModelError(
            f"{model_path}: cannot load the ONNX model ({exc})",
            hint="run `workbench inspect MODEL` to see what is wrong with the file; re-export it if it is cut off or "
            "corrupt",
        ) from None
    name_nodes(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".fp16-typed-", dir=target.parent))
    try:
        max_abs, samples = observe_max_abs(model, source.feeds(), work=work, cancel=cancel)
        if samples == 0:
            raise BuildError(
                f"{model_path}: no reference feeds to measure activations on ({source.label})",
                hint="give a calibration folder with at least one sample (--calib DIR), or "
                "quantization.calibration_samples >= 1",
            )
        kept = plan_fp32_nodes(model, max_abs, data_max=data_max, init_max=init_max)
        if cancel is not None and cancel.is_set():
            raise Cancelled("FP16 conversion cancelled")

        def convert(m: Any) -> Any:
            return convert_typed(onnx.shape_inference.infer_shapes(m), [k.node for k in kept])

        write_converted(model_path, model, target, convert, external=external, work=work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = TypedFp16(target, kept, source.label, samples, data_max, init_max)
    write_text_atomic(record_path, json.dumps(result.to_dict(), indent=2))
    return result


def kept_summary(result: TypedFp16, limit: int = 5) -> str:
    """One line for progress output: how many nodes stayed FP32 and the first few, with the value seen."""
    if not result.kept:
        return f"all nodes FP16 (no value past data_max {result.data_max:g} on {result.feeds})"
    shown = ", ".join(f"{k.node} ({k.op}, |x| {k.observed_max:.3g})" for k in result.kept[:limit])
    more = f" and {len(result.kept) - limit} more" if len(result.kept) > limit else ""
    return f"{len(result.kept)} node(s) kept FP32: {shown}{more}; reference feeds: {result.feeds}"
