"""Pre-flight check of an ONNX model against a target profile's TensorRT release(s), before a long build.

What is checked, per TensorRT release the profile lists (``[device] tensorrt``):

- **operators**: every node's op type against the ONNX parser's operator table of that release
  (``workbench/data/reference/onnx-tensorrt-operators.json``: onnx-tensorrt ``docs/operators.md`` for 8.5, 8.6,
  9.3, 10.0, 10.1; see that folder's README). Releases without a table use the nearest one: an older release
  (8.0, 8.2) the 8.5 table as an *upper bound* (an op 8.5 lacks is reported as an error), a newer one (10.3, 11.x)
  the 10.1 table as a *lower bound* (an op 10.1 lacks is a warning: "check that release's docs"). A bare major
  ("10") uses that major's first table (10.0). Nodes outside the ONNX domain need a plugin.
- **restrictions**: the table's restriction text of an op, where it states a rule we can test on the graph
  (``dilations`` all ones, ``axes`` an initializer, MaxPool ``Indices`` output, TopK ``sorted``, zero points,
  Resize modes, LayerNormalization extra outputs, ScatterND ``reduction``, LSTM ``input_forget``). Only rules
  whose text appears in that release's table are applied; other restriction texts are listed once per op as
  "check by hand".
- **opset** above the release's parser limit (its opset statement: "up to Opset 17", "opset 9 to opset 20";
  11.x: 9..25 from NVIDIA's TensorRT ONNX Opset Guide, recorded in the reference README).
- **DOUBLE tensors**: TensorRT has no FP64 type (``DataType`` members in every release of NVIDIA's Python bindings,
  reference ``tensorrt-python-api.json``: FLOAT, HALF, INT8, INT32, BOOL, UINT8, FP8, BF16, INT64, INT4 …).
- **INT64 weights**: ``DataType.INT64`` exists from TensorRT 10.0 (same reference); older parsers cast INT64
  initializers down to INT32, which fails for values outside the int32 range.
- **dynamic inputs** without ``[build.shapes.<input>]`` min/opt/max in the profile (TensorRT optimization profiles):
  info only, the build takes the benchmark's shapes then (min = opt = max); DLA still needs static shapes.
- **DLA** (profile with ``dla_cores`` > 0 and ``build.dla_core`` >= 0, or ``dla=True``): ops with no DLA layer
  (NVIDIA TensorRT developer guide, "DLA Supported Layers and Restrictions": convolution, deconvolution, fully
  connected, activation (ReLU, Sigmoid, TanH, Clipped ReLU, Leaky ReLU), parametric ReLU, pooling (max, average),
  scale/batch norm, element-wise, comparison, LRN, concatenation, resize, shuffle, slice, softmax, reduce, unary
  (abs, sin, cos, atan)) and dynamic dimensions (DLA needs min = opt = max). The ONNX op -> TensorRT layer mapping
  is ours; unsupported layers fall back to the GPU when ``gpu_fallback`` is on (warning), else fail (error).

Findings are grouped by (severity, check, message) with the nodes and releases they concern, so a model with
300 Gather nodes gives one line "× 300", not 300 lines.
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.errors import ConfigError

REFERENCE_FILE = "onnx-tensorrt-operators.json"

# TensorRT 11.x parses opsets 9..25 (NVIDIA TensorRT "ONNX Opset Guide"; see data/reference/README.md).
OPSET_RANGE_11 = (9, 25)
# First release whose DataType has INT64 (tensorrt-python-api.json: absent in 8.5/8.6, present in 10.0).
INT64_FROM = (10, 0)

# ONNX ops that map onto a DLA-capable TensorRT layer (see module docstring for the source).
DLA_OPS = frozenset(
    {
        "Conv", "ConvTranspose", "Gemm", "MatMul", "Relu", "Sigmoid", "Tanh", "Clip", "LeakyRelu", "PRelu",
        "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "BatchNormalization", "Add", "Sub", "Mul",
        "Div", "Max", "Min", "Pow", "Equal", "Greater", "Less", "LRN", "Concat", "Resize", "Upsample", "Reshape",
        "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Slice", "Softmax", "ReduceMax", "ReduceMean", "Abs", "Sin",
        "Cos", "Atan", "Identity", "Dropout", "Constant", "QuantizeLinear", "DequantizeLinear",
    }
)  # fmt: skip

_TRT_LEVEL = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Finding:
    """One grouped problem. ``nodes``: node (or tensor) names it concerns; ``releases``: TensorRT releases."""

    severity: str  # "error" (the parser/builder will reject it), "warning" (may fail or fall back), "info"
    check: str  # unsupported-op | plugin-op | restriction | opset | double | int64-weights | dynamic-shape | dla
    message: str
    nodes: tuple[str, ...] = ()
    releases: tuple[str, ...] = ()
    hint: str | None = None

    @property
    def count(self) -> int:
        return max(1, len(self.nodes))

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "check": self.check,
            "message": self.message,
            "count": self.count,
            "nodes": list(self.nodes),
            "releases": list(self.releases),
            "hint": self.hint,
        }


@dataclass(frozen=True)
class ReleaseBasis:
    """Which operator table stands in for a TensorRT release, and how (exact, upper bound, lower bound)."""

    release: str
    table: str
    mode: str  # "exact" | "upper" (older release: table's gaps are certain) | "lower" (newer: gaps may be filled)
    opset_min: int | None
    opset_max: int | None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class PreflightReport:
    model: str
    profile: str
    opset: int
    releases: tuple[ReleaseBasis, ...]
    findings: tuple[Finding, ...]
    dla: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def counts(self) -> dict[str, int]:
        out = {"error": 0, "warning": 0, "info": 0}
        for f in self.findings:
            out[f.severity] += f.count
        return out

    @property
    def verdict(self) -> str:
        c = self.counts
        return "errors" if c["error"] else "warnings" if c["warning"] else "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "profile": self.profile,
            "opset": self.opset,
            "dla": self.dla,
            "releases": [r.to_dict() for r in self.releases],
            "verdict": self.verdict,
            "counts": self.counts,
            "groups": len(self.findings),
            "findings": [f.to_dict() for f in self.findings],
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------------------------- reference data
@functools.lru_cache(maxsize=1)
def operator_tables() -> dict[str, Any]:
    """The bundled onnx-tensorrt operator tables: ``{release: {source, opset_statement, operators}}``."""
    from workbench.core import paths

    path = paths.bundled_data_dir() / "reference" / REFERENCE_FILE
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)["releases"]


def _ver(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in str(text).split(".") if p != "")
    except ValueError:
        raise ConfigError(
            f"TensorRT version {text!r} is not a number like 8.6 or 10.3",
            hint="pass the TensorRT release as numbers, e.g. --trt-version 10.3",
        ) from None


def _opset_range(statement: str) -> tuple[int | None, int | None]:
    m = re.search(r"opset (\d+) to opset (\d+)", statement, re.I)
    if m:
        return int(m.group(1)), int(m.group(2))
    m = re.search(r"up to opset (\d+)", statement, re.I)
    if m:
        return None, int(m.group(1))
    return None, None


def release_basis(release: str) -> ReleaseBasis:
    """Pick the operator table for ``release`` (see module docstring)."""
    tables = operator_tables()
    known = sorted(tables, key=_ver)
    want = _ver(release)
    if release in tables:
        lo, hi = _opset_range(tables[release]["opset_statement"])
        return ReleaseBasis(release, release, "exact", lo, hi)
    if len(want) == 1:  # a bare major: its first table, if any
        same = [k for k in known if _ver(k)[0] == want[0]]
        if same:
            lo, hi = _opset_range(tables[same[0]]["opset_statement"])
            return ReleaseBasis(release, same[0], "exact", lo, hi,
                                f"TensorRT {release}.x: the {same[0]} table is used (later {release}.x parsers "
                                "may accept more)")  # fmt: skip
    older = [k for k in known if _ver(k) <= want]
    if not older:
        first = known[0]
        lo, hi = _opset_range(tables[first]["opset_statement"])
        return ReleaseBasis(release, first, "upper", lo, hi,
                            f"no operator table for TensorRT {release}; the {first} table is an upper bound (an op "
                            f"{first} lacks is missing in {release} too; ops it has are not verified for {release})")  # fmt: skip
    base = older[-1]
    lo, hi = _opset_range(tables[base]["opset_statement"])
    if want[0] >= 11:
        lo, hi = OPSET_RANGE_11
    return ReleaseBasis(release, base, "lower", lo, hi,
                        f"no operator table for TensorRT {release}; the {base} table is a lower bound (ops it lacks "
                        f"may be supported in {release}: check NVIDIA's docs for that release)")  # fmt: skip


# --------------------------------------------------------------------------------------------- restrictions
def _attr(node: Any, name: str, default: Any = None) -> Any:
    import onnx

    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class _Graph:
    """Lookups the restriction rules need: constant tensors, value dtypes."""

    def __init__(self, model: Any) -> None:
        import onnx

        g = model.graph
        self.init = {t.name: t for t in g.initializer}
        self.const_out: dict[str, Any] = {}
        for n in g.node:
            if n.op_type == "Constant" and n.output:
                v = _attr(n, "value")
                if isinstance(v, onnx.TensorProto):
                    self.const_out[n.output[0]] = v
        self.dtype: dict[str, int] = {}
        for vi in [*g.input, *g.output, *g.value_info]:
            if vi.type.HasField("tensor_type"):
                self.dtype[vi.name] = vi.type.tensor_type.elem_type
        for t in g.initializer:
            self.dtype[t.name] = t.data_type

    def is_const(self, name: str) -> bool:
        return name in self.init or name in self.const_out

    def array(self, name: str) -> Any:
        from onnx import numpy_helper

        t = self.init.get(name) or self.const_out.get(name)
        return None if t is None else numpy_helper.to_array(t)


def _input(node: Any, i: int) -> str:
    return node.input[i] if len(node.input) > i else ""


def _restriction_violations(node: Any, text: str, g: _Graph) -> list[str]:
    """Rules stated in ``text`` (one release's restriction column for ``node.op_type``) that ``node`` breaks."""
    low = text.lower()
    bad: list[str] = []
    if "`dilations` must be empty or all ones" in low:
        d = _attr(node, "dilations")
        if d and any(int(x) != 1 for x in d):
            bad.append(f"dilations {list(d)} (must be all ones)")
    if re.search(r"`axes` must be (an initializer|a constant tensor)", low):
        axes_idx = {"Slice": 3, "Pad": 3}.get(node.op_type, 1)
        name = _input(node, axes_idx)
        if name and not g.is_const(name):
            bad.append(f"'axes' input {name!r} is computed at run time (must be an initializer)")
    if "`indices` output tensor unsupported" in low and len(node.output) > 1 and node.output[1]:
        bad.append("uses the Indices output")
    if "`sorted` must be 1" in low and int(_attr(node, "sorted", 1)) != 1:
        bad.append("sorted=0 (must be 1)")
    for which, idx in (("`x_zero_point` must be zero", 2), ("`y_zero_point` must be 0", 2)):
        if which in low:
            name = _input(node, idx)
            arr = g.array(name) if name else None
            if arr is not None and arr.size and bool((arr != 0).any()):
                bad.append(f"non-zero zero point in {name!r} (TensorRT needs symmetric quantization)")
    if "only the first output `y` is supported" in low and sum(1 for o in node.output[1:] if o):
        bad.append("uses Mean/InvStdDev outputs (only Y is supported)")
    if "`reduction` is not supported" in low and _s(_attr(node, "reduction", "none")) != "none":
        bad.append(f"reduction={_s(_attr(node, 'reduction'))!r}")
    if "`input_forget` attribute must be 0" in low and int(_attr(node, "input_forget", 0)) != 0:
        bad.append("input_forget=1 (must be 0)")
    if node.op_type == "Resize":
        for attr, label, default in (
            ("coordinate_transformation_mode", "transformation modes", "half_pixel"),
            ("mode", "resize modes", "nearest"),
            ("nearest_mode", "nearest modes", "round_prefer_floor"),
        ):
            m = re.search(rf"supported {label}: ([^.<]*)", text, re.I)
            if m:
                allowed = set(re.findall(r"`([^`]+)`", m.group(1)))
                value = _s(_attr(node, attr, default))
                if allowed and value not in allowed:
                    bad.append(f"{attr}={value!r} (supported: {', '.join(sorted(allowed))})")
        if "antialiasing is not supported" in low and int(_attr(node, "antialias", 0)) != 0:
            bad.append("antialias=1")
    return bad


# --------------------------------------------------------------------------------------------- the check
def preflight(
    model_path: str | os.PathLike[str],
    profile: Any,
    *,
    releases: list[str] | None = None,
    dla: bool | None = None,
) -> PreflightReport:
    """Check ``model_path`` (ONNX) against ``profile`` (a loaded Profile). See the module docstring.

    Args:
        releases: TensorRT releases to check (default: ``profile.device.tensorrt``).
        dla: force the DLA checks on/off (default: on when the profile targets a DLA core).

    Raises:
        ModelError: the model cannot be loaded (as :func:`load_onnx`).
        ConfigError: the profile lists no TensorRT release (and none was given), or asks DLA on a device without.
    """
    import onnx

    from workbench.core.models.load import load_onnx
    from workbench.core.models.walk import all_graphs

    p = Path(model_path)
    rels = list(releases or getattr(profile.device, "tensorrt", []) or [])
    if not rels:
        raise ConfigError(
            f"profile {profile.name} lists no TensorRT release ([device] tensorrt), so there is nothing to check against",
            hint="pick a TensorRT profile (workbench profiles list), or pass --trt-version 10.3",
        )
    dla_cores = int(getattr(profile.device, "dla_cores", 0) or 0)
    use_dla = bool(getattr(profile.build, "dla_core", -1) >= 0) if dla is None else bool(dla)
    if use_dla and dla_cores <= 0:
        raise ConfigError(
            f"profile {profile.name}: device {profile.device.name} has no DLA core ([device] dla_cores = 0)",
            hint="drop --dla (and set [build] dla_core = -1), or pick a profile of a Jetson with DLA cores "
            "(`workbench profiles list`)",
        )
    model = load_onnx(p, check=False, load_external=True)
    try:
        inferred = onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False)
    except Exception:  # noqa: BLE001 - best effort: restrictions that need types just see fewer tensors
        inferred = model
    g = _Graph(inferred)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    tables = operator_tables()
    bases = [release_basis(r) for r in rels]

    groups: dict[tuple[str, str, str], dict[str, Any]] = {}

    def add(sev: str, check: str, msg: str, node: str | None, rel: str | None, hint: str | None = None) -> None:
        grp = groups.setdefault((sev, check, msg), {"nodes": [], "releases": [], "hint": hint})
        if node is not None and node not in grp["nodes"]:
            grp["nodes"].append(node)
        if rel is not None and rel not in grp["releases"]:
            grp["releases"].append(rel)

    nodes = [n for gr in all_graphs(inferred.graph) for n in gr.node]
    names = {id(n): n.name or f"{n.op_type}#{i}" for i, n in enumerate(nodes)}
    notes: list[str] = [b.note for b in bases if b.note]

    for b in bases:
        ops = tables[b.table]["operators"]
        if b.opset_max is not None and opset > b.opset_max:
            sev = "warning" if b.mode == "lower" and not _ver(b.release)[0] >= 11 else "error"
            add(sev, "opset",
                f"opset {opset} is above what TensorRT {b.release}'s ONNX parser accepts (≤ {b.opset_max}"
                + (f", from the {b.table} table" if b.mode != "exact" else "") + ")", None, b.release,
                f"re-export with --opset {b.opset_max} (or lower)")  # fmt: skip
        if b.opset_min is not None and opset < b.opset_min:
            add("error", "opset", f"opset {opset} is below TensorRT {b.release}'s minimum ({b.opset_min})", None,
                b.release, f"convert the model to opset {b.opset_min} or later (onnx.version_converter)")  # fmt: skip
        for n in nodes:
            if n.domain not in ("", "ai.onnx"):
                add("error", "plugin-op", f"{n.domain}.{n.op_type} is not an ONNX-standard op: TensorRT needs a plugin "
                    "for it", names[id(n)], b.release, "export without vendor-specific fusions, or provide a TensorRT plugin")  # fmt: skip
                continue
            row = ops.get(n.op_type)
            if row is None or not row.get("supported"):
                listed = "is not supported" if row is not None else "is not listed"
                if b.mode == "lower":
                    add("warning", "unsupported-op",
                        f"{n.op_type} {listed} by TensorRT {b.table}'s ONNX parser (newer {b.release} may support it)",
                        names[id(n)], b.release)  # fmt: skip
                else:
                    add("error", "unsupported-op", f"{n.op_type} {listed} by TensorRT's ONNX parser", names[id(n)],
                        b.release, "replace the op in the model, or target a newer TensorRT release")  # fmt: skip
                continue
            text = row.get("restrictions") or ""
            if text:
                bad = _restriction_violations(n, text, g)
                for why in bad:
                    add("error", "restriction", f"{n.op_type}: {why}", names[id(n)], b.release)
                if not bad:
                    clean = re.sub(r"<br\s*/?>", " ", text).strip()
                    add("info", "restriction", f"{n.op_type}: check by hand: {clean}", names[id(n)], b.release)

    # DOUBLE tensors and INT64 weights.
    double = onnx.TensorProto.DOUBLE
    for gr in all_graphs(inferred.graph):
        for vi in [*gr.input, *gr.output, *gr.value_info]:
            if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type == double:
                add("error", "double", "DOUBLE (float64) tensor: TensorRT has no FP64 type", vi.name, None,
                    "convert the model to float32 (e.g. cast in the exporting code: model.float())")  # fmt: skip
        for t in gr.initializer:
            if t.data_type == double:
                add("error", "double", "DOUBLE (float64) tensor: TensorRT has no FP64 type", t.name, None,
                    "convert the model to float32 (e.g. cast in the exporting code: model.float())")  # fmt: skip
    old = [b.release for b in bases if (*_ver(b.release), 0)[:2] < INT64_FROM]
    if old:
        from onnx import numpy_helper

        for gr in all_graphs(inferred.graph):
            for t in gr.initializer:
                if t.data_type != onnx.TensorProto.INT64:
                    continue
                arr = numpy_helper.to_array(t)
                out_of_range = arr.size and (arr.max() > 2**31 - 1 or arr.min() < -(2**31))
                for rel in old:
                    if out_of_range:
                        add("error", "int64-weights",
                            "INT64 weights with values outside int32: TensorRT before 10.0 casts INT64 to INT32",
                            t.name, rel, "clamp the values (e.g. Slice ends of 2**63-1 -> 2**31-1) and re-export")  # fmt: skip
                    else:
                        add("warning", "int64-weights",
                            "INT64 weights: TensorRT before 10.0 has no INT64 type and casts them down to INT32",
                            t.name, rel)  # fmt: skip

    # Dynamic inputs need min/opt/max; DLA needs them equal.
    shapes = dict(getattr(profile.build, "shapes", {}) or {})
    init = {t.name for t in model.graph.initializer}
    for vi in model.graph.input:
        if vi.name in init or not vi.type.HasField("tensor_type"):
            continue
        dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in vi.type.tensor_type.shape.dim]
        if all(isinstance(d, int) and d > 0 for d in dims):
            continue
        shown = "x".join(map(str, dims))
        rng = shapes.get(vi.name)
        if rng is None:
            # Not an error: the build then fixes the shape to what the benchmark feeds (--batch / --shapes, min =
            # opt = max, as trtexec --shapes does; backends/tensorrt/builder.py); a range needs the profile.
            add("info", "dynamic-shape",
                f"input {vi.name!r} has dynamic shape {shown} and the profile gives no min/opt/max for it: the plan "
                "is built for the benchmark's shapes (--batch / --shapes), min = opt = max",
                vi.name, None,
                f"for a plan that takes a range of shapes, add to the profile: [build.shapes.{vi.name}] min = [...] "
                "opt = [...] max = [...] (one entry per dimension)")  # fmt: skip
            if use_dla:
                add("error", "dla", f"DLA needs static shapes: input {vi.name!r} is {shown}", vi.name, None,
                    f"set [build.shapes.{vi.name}] with min = opt = max")  # fmt: skip
        else:
            if len(rng.opt) != len(dims):
                add("error", "dynamic-shape",
                    f"[build.shapes.{vi.name}] has rank {len(rng.opt)}, the input has rank {len(dims)}", vi.name, None)  # fmt: skip
            # min/max may be left out (schema.ShapeRange): the build fills them from opt and the benchmark shapes
            if use_dla and not (list(rng.min or rng.opt) == list(rng.opt) == list(rng.max or rng.opt)):
                add("error", "dla", f"DLA needs min = opt = max: [build.shapes.{vi.name}] is a range", vi.name, None)

    if use_dla:
        fallback = bool(getattr(profile.build, "gpu_fallback", True))
        for n in nodes:
            if n.domain in ("", "ai.onnx") and n.op_type not in DLA_OPS:
                if fallback:
                    add("warning", "dla", f"{n.op_type} has no DLA layer: it runs on the GPU (gpu_fallback on)",
                        names[id(n)], None)  # fmt: skip
                else:
                    add("error", "dla", f"{n.op_type} has no DLA layer and gpu_fallback is off: the build fails",
                        names[id(n)], None, "set [build] gpu_fallback = true, or replace the op")  # fmt: skip
        precs = set(getattr(profile.build, "precisions", []) or [])
        if precs and not precs & {"fp16", "int8", "best"}:
            add("error", "dla", "DLA runs FP16 or INT8 only; the profile allows neither", None, None)

    findings = [
        Finding(sev, check, msg, tuple(v["nodes"]), tuple(v["releases"]), v["hint"])
        for (sev, check, msg), v in groups.items()
    ]
    findings.sort(key=lambda f: (_TRT_LEVEL[f.severity], f.check, -f.count, f.message))
    return PreflightReport(str(p), profile.name, int(opset), tuple(bases), tuple(findings), use_dla, tuple(notes))


@dataclass(frozen=True)
class OpsetCheck:
    """One TensorRT release of a profile against a model's opset: the parser's accepted range and the verdict."""

    release: str
    opset_min: int | None
    opset_max: int | None
    opset: int

    @property
    def ok(self) -> bool:
        return (self.opset_max is None or self.opset <= self.opset_max) and (
            self.opset_min is None or self.opset >= self.opset_min
        )

    def to_dict(self) -> dict[str, Any]:
        return {"release": self.release, "opset_min": self.opset_min, "opset_max": self.opset_max, "ok": self.ok}


def opset_checks(opset: int, profile: Any) -> tuple[OpsetCheck, ...]:
    """``opset`` against every TensorRT release ``profile`` lists (``[device] tensorrt``; the ranges of
    :func:`release_basis`). Empty when the profile lists none (a CPU profile: nothing to check)."""
    rels = list(getattr(profile.device, "tensorrt", []) or [])
    out = []
    for rel in rels:
        b = release_basis(rel)
        out.append(OpsetCheck(rel, b.opset_min, b.opset_max, int(opset)))
    return tuple(out)


def opset_check_line(checks: tuple[OpsetCheck, ...], profile_name: str, opset: int) -> str:
    """One line: ``opset 18: TensorRT 10.3 accepts it (≤ 25); above TensorRT 8.5's limit (≤ 17)``, or that the
    profile has no TensorRT to check against."""
    if not checks:
        return f"opset {opset}: profile {profile_name} lists no TensorRT release, so no parser limit applies"
    parts = []
    for c in checks:
        rng = f"≤ {c.opset_max}" if c.opset_max is not None else "no upper limit known"
        if c.ok:
            parts.append(f"TensorRT {c.release} accepts it ({rng})")
        elif c.opset_max is not None and c.opset > c.opset_max:
            parts.append(f"above TensorRT {c.release}'s limit ({rng}): re-export with --opset {c.opset_max}")
        else:
            parts.append(f"below TensorRT {c.release}'s minimum ({c.opset_min})")
    return f"opset {opset} for profile {profile_name}: " + "; ".join(parts)


def render(report: PreflightReport, *, limit_nodes: int = 3, show_info: bool = False) -> str:
    """Text for the CLI: one line per group with its count, releases and a few node names."""
    c = report.counts
    rels = ", ".join(f"{b.release}" + ("" if b.mode == "exact" and b.table == b.release else f" (as {b.table})")
                     for b in report.releases)  # fmt: skip
    lines = [
        f"Pre-flight for profile {report.profile}: TensorRT {rels}; model opset {report.opset}"
        + ("; DLA" if report.dla else ""),
    ]
    shown = [f for f in report.findings if show_info or f.severity != "info"]
    for f in shown:
        tag = {"error": "[E]", "warning": "[W]", "info": "[I]"}[f.severity]
        where = f" (TensorRT {', '.join(f.releases)})" if f.releases and len(f.releases) < len(report.releases) else ""
        count = f" × {f.count}" if f.count > 1 else ""
        names = ""
        if f.nodes:
            more = f", … +{len(f.nodes) - limit_nodes}" if len(f.nodes) > limit_nodes else ""
            names = ": " + ", ".join(f.nodes[:limit_nodes]) + more
        lines.append(f"  {tag} {f.message}{count}{where}{names}")
        if f.hint:
            lines.append(f"      hint: {f.hint}")
    hidden = len(report.findings) - len(shown)
    for n in report.notes:
        lines.append(f"  note: {n}")
    lines.append(
        f"Result: {c['error']} error(s), {c['warning']} warning(s) in {len(shown)} group(s)"
        + (f"; {hidden} restriction note(s) to check by hand (--verbose)" if hidden else "")
        + f" -> {report.verdict.upper()}"
    )
    return "\n".join(lines)
