"""The activation Q/DQ pairs of a QDQ model, what onnxruntime's quantizer folded into them, and bypass variants.

A pair is ``T -> QuantizeLinear -> DequantizeLinear -> T_dq`` on an activation (weights are stored quantized and
have a DequantizeLinear only). Two things onnxruntime's QDQ quantizer does (``onnxruntime/quantization``, 1.32)
decide what "leave this activation in float" must mean:

* **Folded Relu/Clip.** ``operators/activation.py`` ``QDQRemovableActivation``: with asymmetric activations (and
  ``QDQKeepRemovableActivations`` off) a Relu or Clip whose input has no other consumer is removed, and
  ``qdq_quantizer.try_replacing_upstream_output`` renames the producer's output to the activation's output. The
  pair's range, [0, max] or the Clip's [lo, hi] (``base_quantizer.adjust_tensor_ranges``), then does the clamping
  in the saturating QuantizeLinear. So in the QDQ model ``T`` (named like the activation's output) holds the
  *pre-activation* values. Bypassing the pair naively feeds those to the consumers: "this layer in FP32" would
  silently also drop its activation. :class:`FoldedActivation` records the removed node (found by comparing the
  producer of ``T`` in the float model with the one in the QDQ model) and :func:`bypass` re-inserts it.
* **Graph outputs.** ``qdq_quantizer._add_qdq_pair_for_activation``: when ``T`` is a graph output, the producer's
  output is renamed ``T_QuantizeLinear_Input`` and the DequantizeLinear writes ``T`` itself. Such a pair has no
  consumer node, so rewiring consumers bypasses nothing; :func:`bypass` replaces the DequantizeLinear node instead,
  which covers both cases.

Model variants are ``onnx.ModelProto`` copies; nothing here runs a session.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: Ops onnxruntime's QDQ quantizer may fold into the preceding node's Q/DQ pair (registry.py ``QDQRegistry``:
#: ``QDQRemovableActivation``).
FOLDABLE_OPS = frozenset({"Relu", "Clip"})


@dataclass(frozen=True)
class FoldedActivation:
    """A Relu or Clip that the quantizer removed, its clamp carried by the pair's range. ``lo``/``hi``: the clamp
    bounds (None = unbounded on that side; a Clip bound that is neither an initializer nor a Constant is taken as
    unbounded, with ``resolved`` False); ``node``: its name in the float model."""

    op: str
    node: str
    lo: float | None
    hi: float | None
    resolved: bool = True

    def apply(self, a: Any) -> Any:
        """The activation on an array (numpy, any shape and float dtype; returns float64 when given it)."""
        import numpy as np

        return np.clip(a, self.lo, self.hi) if (self.lo is not None or self.hi is not None) else a


@dataclass(frozen=True)
class Pair:
    """One activation Q/DQ pair. ``tensor``: the QuantizeLinear input; ``dq_out``: the DequantizeLinear output;
    ``producer``/``op``: the node writing ``tensor`` ("" / "(input)" for a graph input); ``consumers``: nodes reading
    ``dq_out`` (Q/DQ nodes excluded); ``graph_output``: ``dq_out`` is a graph output; ``folded``: the Relu/Clip the
    quantizer folded into this pair, or None."""

    tensor: str
    dq_out: str
    q_node: str
    dq_node: str
    producer: str
    op: str
    consumers: tuple[str, ...]
    graph_output: bool = False
    folded: FoldedActivation | None = None

    @property
    def name(self) -> str:
        """The tensor's name in the float model: ``dq_out`` for a graph output (the quantizer renamed the
        producer's output), ``tensor`` otherwise."""
        return self.dq_out if self.graph_output else self.tensor


def _const_value(model: Any, name: str) -> float | None:
    """Scalar value of an initializer or Constant-node output ``name`` of ``model``, or None."""
    from onnx import numpy_helper

    for init in model.graph.initializer:
        if init.name == name:
            arr = numpy_helper.to_array(init)
            return float(arr.reshape(-1)[0]) if arr.size == 1 else None
    for n in model.graph.node:
        if n.op_type == "Constant" and n.output and n.output[0] == name:
            for a in n.attribute:
                if a.name == "value":
                    arr = numpy_helper.to_array(a.t)
                    return float(arr.reshape(-1)[0]) if arr.size == 1 else None
                if a.name == "value_float":
                    return float(a.f)
    return None


def _opset(model: Any) -> int:
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return int(imp.version)
    return 0


def folded_activation(float_model: Any, node: Any) -> FoldedActivation:
    """Describe the float model's Relu/Clip ``node``. Clip's bounds: attributes before opset 11, inputs 1 and 2
    (initializers or Constant outputs) from 11 on (ONNX operator spec)."""
    if node.op_type == "Relu":
        return FoldedActivation("Relu", node.name, 0.0, None)
    lo = hi = None
    resolved = True
    if _opset(float_model) < 11:
        for a in node.attribute:
            if a.name == "min":
                lo = float(a.f)
            elif a.name == "max":
                hi = float(a.f)
    else:
        vals = []
        for i in (1, 2):
            name = node.input[i] if len(node.input) > i else ""
            v = _const_value(float_model, name) if name else None
            resolved = resolved and (not name or v is not None)
            vals.append(v)
        lo, hi = vals
    return FoldedActivation("Clip", node.name, lo, hi, resolved)


def activation_pairs(model: Any, float_model: Any = None) -> list[Pair]:
    """Activation QuantizeLinear -> DequantizeLinear pairs of ``model`` (a QDQ ``onnx.ModelProto``), graph order.

    With ``float_model`` (the model that was quantized), a pair whose tensor the float model writes with a
    Relu/Clip while the QDQ model writes it with another op carries that activation in ``folded``.
    """
    g = model.graph
    inits = {t.name for t in g.initializer}
    outputs = {o.name for o in g.output}
    producer = {o: n for n in g.node for o in n.output}
    consumers: dict[str, list[Any]] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    fp_producer = {o: n for n in float_model.graph.node for o in n.output} if float_model is not None else {}
    pairs = []
    for q in g.node:
        if q.op_type != "QuantizeLinear" or not q.input or q.input[0] in inits:
            continue
        for dq in consumers.get(q.output[0], []):
            if dq.op_type != "DequantizeLinear":
                continue
            t = q.input[0]
            prod = producer.get(t)
            cons = tuple(
                c.name
                for c in consumers.get(dq.output[0], [])
                if c.op_type not in ("QuantizeLinear", "DequantizeLinear")
            )
            is_out = dq.output[0] in outputs
            name = dq.output[0] if is_out else t
            fp = fp_producer.get(name)
            folded = None
            if fp is not None and fp.op_type in FOLDABLE_OPS and (prod is None or prod.op_type not in FOLDABLE_OPS):
                folded = folded_activation(float_model, fp)
            pairs.append(
                Pair(t, dq.output[0], q.name, dq.name, prod.name if prod is not None else "",
                     prod.op_type if prod is not None else "(input)", cons, is_out, folded)
            )  # fmt: skip
    return pairs


# Ops that only move data: ORT's QDQ quantizer gives their output the input's range.
PASSTHROUGH_OPS = frozenset(
    {"Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Identity", "Expand", "Slice", "Split", "Gather",
     "MaxPool", "Resize", "SpaceToDepth", "DepthToSpace", "Tile"}
)  # fmt: skip


def group_pairs(model: Any, pairs: list[Pair]) -> list[list[Pair]]:
    """Pairs joined through a PASSTHROUGH_OPS node (A's dequantized output -> op -> B's tensor), in graph order."""
    by_tensor = {p.tensor: i for i, p in enumerate(pairs)}
    by_dq = {p.dq_out: i for i, p in enumerate(pairs)}
    parent = list(range(len(pairs)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for n in model.graph.node:
        if n.op_type not in PASSTHROUGH_OPS or not n.input or n.input[0] not in by_dq:
            continue
        for o in n.output:
            if o in by_tensor:
                parent[find(by_tensor[o])] = find(by_dq[n.input[0]])
    groups: dict[int, list[Pair]] = {}
    for i, p in enumerate(pairs):
        groups.setdefault(find(i), []).append(p)
    return list(groups.values())


def with_outputs(model: Any, names: Iterable[str]) -> Any:
    """A copy of ``model`` with ``names`` added as (float) graph outputs. Only for reading tensors: extra outputs
    stop onnxruntime fusing the nodes around them, so outputs of such a copy are not those of the deployed model."""
    import onnx
    from onnx import helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    for n in names:
        if n not in have:
            m.graph.output.append(helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None))
            have.add(n)
    return m


def bypass(model: Any, pairs: Iterable[Pair]) -> Any:
    """A copy of ``model`` in which ``pairs`` are not quantized: each pair's DequantizeLinear becomes
    ``Identity(T)`` (or the folded Relu/Clip on ``T``) writing the same output, and its QuantizeLinear is removed
    when nothing else reads it. Consumers and graph outputs alike then see float ``T``, activation applied.
    """
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    opset = _opset(m)
    # By output name: tensor names are unique in a valid graph, node names need not be.
    by_dq = {p.dq_out: p for p in pairs}
    q_inputs = {p.tensor for p in by_dq.values()}
    for i, n in enumerate(g.node):
        p = by_dq.get(n.output[0]) if n.op_type == "DequantizeLinear" and n.output else None
        if p is None:
            continue
        f = p.folded
        if f is None:
            new = helper.make_node("Identity", [p.tensor], [p.dq_out], name=n.name)
        elif f.op == "Relu":
            new = helper.make_node("Relu", [p.tensor], [p.dq_out], name=n.name)
        elif opset < 11:
            bounds = {k: v for k, v in (("min", f.lo), ("max", f.hi)) if v is not None}
            new = helper.make_node("Clip", [p.tensor], [p.dq_out], name=n.name, **bounds)
        else:
            ins = [p.tensor]
            for suffix, v in (("lo", f.lo), ("hi", f.hi)):
                if v is None:
                    ins.append("")
                    continue
                cname = f"{p.dq_out}_bypass_{suffix}"
                g.initializer.append(numpy_helper.from_array(np.array(v, dtype=np.float32), cname))
                ins.append(cname)
            while ins[-1] == "":
                ins.pop()
            new = helper.make_node("Clip", ins, [p.dq_out], name=n.name)
        g.node[i].CopyFrom(new)
    read = {i for n in g.node for i in n.input} | {o.name for o in g.output}
    keep = [
        n
        for n in g.node
        if not (n.op_type == "QuantizeLinear" and n.input and n.input[0] in q_inputs and n.output[0] not in read)
    ]
    del g.node[:]
    g.node.extend(keep)
    return m


def quantizable_ops() -> frozenset[str]:
    """Op types ``quantize_static`` quantizes when given no ``op_types_to_quantize`` (quantize.py: the keys of
    ``QLinearOpsRegistry`` and ``QDQRegistry``): each such node asks for Q/DQ on its float inputs and outputs."""
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    return frozenset(QLinearOpsRegistry) | frozenset(QDQRegistry)


_OUTPUT_ONLY = PASSTHROUGH_OPS - {"Split"}


class Exclusions:
    """Which pairs re-quantizing with some nodes in ``nodes_to_exclude`` would not create, for one QDQ model.

    onnxruntime's QDQ quantizer puts one Q/DQ pair on a tensor when any node around it asks (qdq_quantizer.py
    ``quantize_activation_tensor``): a quantized node (op in :func:`quantizable_ops`, not excluded) asks for its float
    inputs and outputs (operators/qdq_base_operator.py and the Conv/Gemm/MatMul operators), except data-movement
    ops (``QDQDirect8BitOp``, ``QDQMaxPool``, ``QDQResize``, ``QDQGather``: PASSTHROUGH_OPS here but Split, which
    asks for its input), which never ask for their input and ask for their output only when their input is
    quantized. So a pair goes when neither its producer nor any consumer asks;
    computed to a fixed point along passthrough chains. Exclusions the recipe already made are in the model as
    it is (their nodes simply never ask); ops quantized through other means (``op_types_to_quantize``) are not
    modelled.
    """

    def __init__(self, model: Any, pairs: list[Pair], quantizable: frozenset[str] | None = None) -> None:
        self.pairs = pairs
        self.op_of = {n.name: n.op_type for n in model.graph.node if n.name}
        self.first_input = {n.name: n.input[0] for n in model.graph.node if n.name and n.input}
        self.quantizable = quantizable if quantizable is not None else quantizable_ops()

    def removed(self, excluded: Iterable[str]) -> list[Pair]:
        """The pairs (graph order) that keeping ``excluded`` (node names) in float removes."""
        ex = set(excluded)
        is_pair = {p.dq_out for p in self.pairs}
        gone: set[str] = set()  # dq_out of removed pairs

        def asks(node: str) -> bool:
            return bool(node) and node not in ex and self.op_of.get(node, "") in self.quantizable

        changed = True
        while changed:
            changed = False
            for p in self.pairs:
                if p.dq_out in gone:
                    continue
                if any(asks(c) and self.op_of.get(c) not in _OUTPUT_ONLY for c in p.consumers):
                    continue
                if asks(p.producer):
                    if self.op_of.get(p.producer) not in _OUTPUT_ONLY:
                        continue
                    src = self.first_input.get(p.producer, "")
                    if src in is_pair and src not in gone:
                        continue  # a data-movement op whose input stays quantized keeps its output quantized
                gone.add(p.dq_out)
                changed = True
        return [p for p in self.pairs if p.dq_out in gone]
