"""Tensors the INT8 recipe keeps in float, and the pass that takes their Q/DQ pair out of the QDQ model.

Why. ``quantize_static`` (QDQ) gives every activation it touches one per-tensor scale from its calibrated range.
Two places break that way on real models:

* **graph outputs** — the network's result is requantized for nothing (the consumer wants float) and loses
  resolution; TensorRT's guidance is to quantize the *inputs* of weighted layers and not their outputs, ONNX
  Runtime's own QDQ quantizer says the same ("In TRT, it's not recommended to quantize outputs for weighted ops
  ... followed by nodes that require high resolution inputs", ``qdq_quantizer.py``, 1.32), and NVIDIA ModelOpt's
  ONNX INT8 path turns output quantization off for every op type (``OpTypesToExcludeOutputQuantization`` = all,
  ``modelopt/onnx/quantization/ort_utils.py`` ``configure_ort``);
* **a Concat joining tensors of very different ranges** — a YOLO head concatenates box coordinates (0 … input
  size) and sigmoid class scores (0 … 1): one scale over 0 … 320 has a step of ≈ 1.25, so every score rounds to
  0 or 1.25 while the cosine over the whole output stays 0.999. ModelOpt takes Concat out of ORT's QDQ registry
  for this family of reasons (same file). The rule here: a Concat whose inputs' calibrated ranges (widths
  including 0, as ORT's ``compute_scale_zp`` widens them) differ by more than ``concat_range_ratio`` (default
  16: under one shared scale the narrowest input would keep 255 / 16 ≈ 16 levels, 4 bits) keeps its output in
  float, and so does every tensor that carries that output on through layout-only ops (Reshape, Transpose,
  Flatten, Squeeze, Unsqueeze, Identity, Concat: they move values, they cannot un-mix them).

How (the least costly way ONNX Runtime 1.32 allows). Its options select by *op type*
(``OpTypesToExcludeOutputQuantization``) or keep a whole *node* in float (``nodes_to_exclude``); neither names a
tensor. Excluding the producer of the output costs speed: keeping ResNet-18's final Gemm in float measured +4 %
latency at 112×112 on one thread here (Xeon with AVX-512 VNNI, onnxruntime 1.32; its 2 MB of float weights), while
removing only the output's pair measured +0.1 to +0.6 % (noise) in two runs. So ``quantize_static`` runs unchanged and
:func:`strip_qdq` then removes the Q→DQ pair on each kept tensor: the producer keeps its INT8 inputs (ORT's optimizer
turns DQ→Gemm with a float output into one QGemm writing float — checked in the optimized ResNet-18-shaped model;
TensorRT runs such a layer in INT8 with a float output), and only the requantization of the result goes. A consumer
that computes in INT8 from that tensor (Conv, ConvTranspose, Gemm, MatMul) keeps its own Q/DQ on it: that pair is its
input quantization, which TensorRT and ModelOpt keep too; every other consumer reads the float tensor. Residual Adds
and everything else are untouched, so ordinary CNNs keep their speed (``benchmarks/int8_recipe.py``).

``QDQKeepRemovableActivations`` and ``ForceQuantizeNoInputCheck`` were read and are not used: the first keeps
the Relu/Clip nodes ORT otherwise folds into the Q before them (more nodes, nothing for outputs or Concats), the
second adds Q/DQ around data-movement ops whose input is float (more Q/DQ, not less).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Ops that only move values: a tensor they carry keeps the ranges it had (taint propagates through them).
LAYOUT_OPS = frozenset({"Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Concat"})
#: Consumers that compute in INT8 from their dequantized input; their Q/DQ stays (their input quantization).
WEIGHTED_OPS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul"})
#: Default of ``quantization.concat_range_ratio`` (see module doc: 255 / 16 ≈ 16 levels left, 4 bits).
DEFAULT_CONCAT_RANGE_RATIO = 16.0


@dataclass(frozen=True)
class FloatKept:
    """One tensor the recipe kept in float: its name in the model and why (for people, one line)."""

    tensor: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"tensor": self.tensor, "reason": self.reason}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FloatKept:
        return cls(str(d.get("tensor", "")), str(d.get("reason", "")))


def _width(rng: Any) -> float | None:
    """Width of a calibrated [min, max] after ORT widens it to include 0 (``compute_scale_zp``); None if unknown."""
    import numpy as np

    try:
        lo = float(np.min(np.asarray(rng[0], dtype=np.float64)))
        hi = float(np.max(np.asarray(rng[1], dtype=np.float64)))
    except (TypeError, ValueError, IndexError):
        return None
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return None
    return max(hi, 0.0) - min(lo, 0.0)


def concat_ratio(node: Any, ranges: Mapping[str, Any]) -> float | None:
    """Largest / smallest calibrated width among a Concat's inputs that have a non-zero range (None: < 2 such)."""
    widths = [w for name in node.input if name in ranges and (w := _width(ranges[name])) is not None and w > 0]
    if len(widths) < 2:
        return None
    return max(widths) / min(widths)


def plan_float_tensors(model: Any, ranges: Mapping[str, Any], *, keep_outputs: bool, ratio: float) -> dict[str, str]:
    """Which tensors of the float ``model`` (onnx.ModelProto, before quantization) to keep in float, with reasons.

    Args:
        model: the pre-processed float model ``quantize_static`` will read (the names it keeps).
        ranges: calibrated ranges ``{tensor: [min, max]}`` (per-channel lists allowed).
        keep_outputs: keep every float graph output in float.
        ratio: ``concat_range_ratio``; 0 turns the Concat rule off.

    Returns:
        ``{tensor: reason}`` in graph order (graph outputs first).
    """
    from onnx import TensorProto

    out: dict[str, str] = {}
    if keep_outputs:
        for o in model.graph.output:
            if o.type.tensor_type.elem_type in (TensorProto.FLOAT, TensorProto.FLOAT16):
                out[o.name] = "graph output"
    if ratio and ratio > 0:
        tainted: dict[str, str] = {}  # tensor -> why it mixes ranges
        for node in model.graph.node:  # graph order is topological (ONNX requires it)
            if node.op_type == "Concat":
                r = concat_ratio(node, ranges)
                if r is not None and r > ratio:
                    why = f"Concat '{node.name}' joins ranges {r:.0f}x apart (> concat_range_ratio {ratio:g})"
                    tainted.update(dict.fromkeys(node.output, why))
                    continue
            if node.op_type in LAYOUT_OPS:
                origin = next((tainted[i] for i in node.input if i in tainted), None)
                if origin is not None:
                    base = origin.split("; carried")[0]
                    why = f"{base}; carried by {node.op_type} '{node.name}'"
                    tainted.update(dict.fromkeys(node.output, why))
        for t, why in tainted.items():
            out[t] = f"{out[t]}; {why}" if t in out else why
    return out


def strip_qdq(path: Path, keep: Mapping[str, str], float_model: Any = None) -> tuple[FloatKept, ...]:
    """Remove the Q→DQ pair on each tensor of ``keep`` from the QDQ model at ``path`` (rewritten in place).

    ``float_model`` (onnx.ModelProto, the pre-processed float model ``quantize_static`` read): where a kept tensor
    was written there by a Relu or Clip that ``quantize_static`` folded into the tensor's Q (ORT's "removable
    activations": the Q's range [0, max] did the clipping), taking the pair off would drop the activation (a final
    MatMul+Add+Relu then gives negative outputs); the activation is put back between the producer and the tensor.

    Layouts ``quantize_static`` writes (1.32, ``_add_qdq_pair_for_activation``): an inner tensor ``T`` becomes
    ``T → Q → DQ → T_DequantizeLinear_Output → consumers``; a graph output ``T`` becomes
    ``producer → T_QuantizeLinear_Input → Q → DQ → T``. Consumers in :data:`WEIGHTED_OPS` keep reading the
    dequantized value; all others read ``T`` itself. Q/DQ nodes left without a reader are removed with the
    scale/zero-point initializers only they used.

    Returns:
        The tensors whose pair was removed (for at least one reader), in ``keep``'s order, with the reason; a
        note is added when a weighted consumer still reads it quantized.
    """
    import onnx

    model = onnx.load(str(path))
    g = model.graph
    outputs = {o.name for o in g.output}
    kept: list[FloatKept] = []
    removed: list[Any] = []
    folded = _folded_activations(g, keep, float_model)
    for tensor, reason in keep.items():
        changed, still = _strip_one(g, tensor, outputs, removed)
        if changed:
            if tensor in folded:
                _restore_activation(g, tensor, folded[tensor], float_model)
            note = f" (still quantized for {', '.join(still)}: INT8 input of a weighted op)" if still else ""
            kept.append(FloatKept(tensor, reason + note))
    if kept:
        _drop_orphans(g, removed)
        onnx.save(model, str(path))
    return tuple(kept)


#: Activations ``quantize_static`` folds into the Q after them (1.32, ``QDQRemovableActivation``: Relu, Clip).
FOLDABLE_ACTIVATIONS = frozenset({"Relu", "Clip"})


def _folded_activations(g: Any, keep: Mapping[str, str], float_model: Any) -> dict[str, Any]:
    """``{tensor: float-model node}`` for kept tensors a Relu/Clip wrote in ``float_model`` and no longer writes."""
    if float_model is None:
        return {}
    out: dict[str, Any] = {}
    for tensor in keep:
        before = _producer(float_model.graph, tensor)
        if before is None or before.op_type not in FOLDABLE_ACTIVATIONS:
            continue
        now = _producer(g, tensor)
        now_src = _producer(g, now.input[0]) if now is not None and now.op_type == "DequantizeLinear" else None
        now_src = _producer(g, now_src.input[0]) if now_src is not None and now_src.op_type == "QuantizeLinear" else now
        if now_src is None or now_src.op_type != before.op_type:
            out[tensor] = before
    return out


def _restore_activation(g: Any, tensor: str, act: Any, float_model: Any) -> None:
    """Insert a copy of ``act`` (Relu/Clip of ``float_model``) so that it writes ``tensor`` again."""
    import onnx

    producer = _producer(g, tensor)
    if producer is None:
        return
    pre = tensor + "_before_" + act.op_type
    producer.output[list(producer.output).index(tensor)] = pre
    node = onnx.NodeProto()
    node.CopyFrom(act)
    node.input[0] = pre
    node.name = (act.name or act.op_type) + "_kept_float"
    have = {i.name for i in g.initializer}
    for name in list(node.input)[1:]:  # Clip's min/max: constants of the float model
        init = next((i for i in float_model.graph.initializer if i.name == name), None)
        if name and name not in have and init is not None:
            g.initializer.append(init)
    g.node.insert(list(g.node).index(producer) + 1, node)


def _consumers(g: Any, name: str) -> list[Any]:
    return [n for n in g.node if name in n.input]


def _producer(g: Any, name: str) -> Any | None:
    return next((n for n in g.node if name in n.output), None)


def _replace_input(node: Any, old: str, new: str) -> None:
    for i, name in enumerate(node.input):
        if name == old:
            node.input[i] = new


def _strip_one(g: Any, tensor: str, outputs: set[str], removed: list[Any]) -> tuple[bool, list[str]]:
    """Take the pair(s) off ``tensor``; returns (changed, names of weighted consumers still reading a DQ)."""
    changed = False
    still: list[str] = []
    if tensor in outputs:
        dq = _producer(g, tensor)
        q = _producer(g, dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
        if q is None or q.op_type != "QuantizeLinear" or len(_consumers(g, q.output[0])) != 1:
            return False, []
        src = q.input[0]
        producer = _producer(g, src)
        if producer is None or len(_consumers(g, src)) != 1:
            return False, []
        # producer writes the graph output itself again; internal readers of the output that compute in INT8
        # get the (renamed) dequantized value, the rest read the float output.
        producer.output[list(producer.output).index(src)] = tensor
        weighted = [n for n in _consumers(g, tensor) if n.op_type in WEIGHTED_OPS]
        if weighted:
            deq = tensor + "_DequantizeLinear_Output"
            _replace_input(q, src, tensor)
            dq.output[0] = deq
            for n in weighted:
                _replace_input(n, tensor, deq)
                still.append(f"{n.op_type} '{n.name}'")
        else:
            removed.extend([q, dq])
        return True, still
    for q in [n for n in g.node if n.op_type == "QuantizeLinear" and n.input and n.input[0] == tensor]:
        for dq in [n for n in _consumers(g, q.output[0]) if n.op_type == "DequantizeLinear"]:
            deq = dq.output[0]
            if deq in outputs:
                continue
            for n in _consumers(g, deq):
                if n.op_type in WEIGHTED_OPS:
                    still.append(f"{n.op_type} '{n.name}'")
                else:
                    _replace_input(n, deq, tensor)
                    changed = True
            if not _consumers(g, deq):
                removed.append(dq)
        if all(n in removed for n in _consumers(g, q.output[0])):
            removed.append(q)
    return changed, still


def _drop_orphans(g: Any, removed: list[Any]) -> None:
    """Delete ``removed`` nodes, then the initializers and value_infos only they referenced."""
    names = {t for n in removed for t in (*n.input, *n.output)}
    for n in removed:
        if n in g.node:
            g.node.remove(n)
    used = {t for n in g.node for t in n.input} | {o.name for o in g.output}
    for init in [i for i in g.initializer if i.name in names and i.name not in used]:
        g.initializer.remove(init)
    produced = {t for n in g.node for t in n.output} | {i.name for i in g.input} | {i.name for i in g.initializer}
    for vi in [v for v in g.value_info if v.name in names and v.name not in produced]:
        g.value_info.remove(vi)
