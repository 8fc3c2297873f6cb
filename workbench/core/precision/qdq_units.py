"""Recognised subgraphs of a QDQ model that are kept in float as one unit: decomposed LayerNorm, Softmax, GELU.

Exporters often spell one normalisation as ten-odd elementwise nodes (tf2onnx/jax2tf LayerNorm: ReduceSum, Mul,
Sub, Max, Add, Sqrt, Reciprocal, Mul, Sub, Mul, Add with Reshape/Expand between them; PyTorch's: ReduceMean, Sub,
Pow, ReduceMean, Add, Sqrt, Div, Mul, Add). Keeping a few of those nodes in FP32 achieves nothing: the statistics
still pass through the quantized rest. So exclusion, and the budget of ``--auto-exclude``, work on units: a
recognised subgraph counts as one, any other node as one.

Recognition, on the *float view* of the QDQ model (activation Q/DQ pairs read as plain edges, weights and other
DequantizeLinear-of-initializer outputs, initializers, Constant outputs and non-float tensors such as shapes as
constants):

1. From every float tensor ``x`` read by two or more nodes, grow a region in graph (topological) order: a node
   joins when it is one of :data:`UNIT_OPS` and every one of its float inputs is ``x`` or written inside the
   region. Nodes outside the region may read ``x`` (a residual branch).
2. The region is a unit when exactly one tensor it writes is read outside it (or is a graph output), it holds at
   least two of ``x``'s readers and every reader of ``x`` that joins at all, and its ops classify (:func:`classify`): LayerNorm (two reductions and a square
   root; RMSNorm: one), Softmax (Exp, a sum reduction and a division), GELU (Erf or Tanh and a Mul). It gives up beyond
   :data:`MAX_UNIT_NODES` nodes.
3. A LayerNorm/RMSNorm/GELU then takes in a trailing ``* c`` / ``+ c`` (Mul/Add with a constant, sole reader): the
   affine ``* gamma + beta``, GELU's ``* 0.5``.

Regions are found in graph order and a node joins at most one unit. Fused single ops (LayerNormalization,
Softmax, Gelu) are single nodes already and need no unit.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: Ops a recognised subgraph may contain (elementwise maths, reductions, and the data movement exporters put
#: between them); a Conv/MatMul/Gemm never belongs to one.
UNIT_OPS = frozenset(
    {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceSumSquare", "Sub", "Mul", "Div", "Pow", "Sqrt", "Reciprocal",
     "Add", "Max", "Min", "Neg", "Abs", "Erf", "Tanh", "Exp", "Reshape", "Expand", "Squeeze", "Unsqueeze",
     "Identity", "Cast"}
)  # fmt: skip
MAX_UNIT_NODES = 32
_FLOAT_TYPES = frozenset({1, 10, 11, 16})  # onnx.TensorProto FLOAT, FLOAT16, DOUBLE, BFLOAT16


@dataclass(frozen=True)
class Unit:
    """A recognised subgraph. ``kind``: "LayerNorm", "RMSNorm", "Softmax" or "GELU"; ``nodes``: its node names in graph
    order; ``root``: the float tensor it reads; ``output``: the one tensor it writes that is read outside it."""

    kind: str
    nodes: tuple[str, ...]
    root: str
    output: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "nodes": list(self.nodes), "root": self.root, "output": self.output}


def classify(ops: Iterable[str]) -> str | None:
    """The unit kind of a region's op types, or None."""
    c = Counter(ops)
    reductions = c["ReduceMean"] + c["ReduceSum"] + c["ReduceSumSquare"]
    scales = c["Div"] or c["Reciprocal"] or c["Mul"]
    if reductions >= 2 and (c["Sqrt"] or c["Pow"]) and scales:
        return "LayerNorm"
    if reductions == 1 and (c["Sqrt"] or c["Pow"]) and scales and not c["Exp"]:
        return "RMSNorm"  # x / sqrt(mean(x^2) + eps): T5, LLaMA
    if c["Exp"] and c["ReduceSum"] and (c["Div"] or c["Reciprocal"] or c["Mul"]):
        return "Softmax"
    if (c["Erf"] or c["Tanh"]) and c["Mul"]:
        return "GELU"
    return None


class FloatView:
    """The QDQ graph with activation Q/DQ pairs read as edges. ``readers[t]``: indices of the nodes that read float
    tensor ``t``; ``writer[t]``: index of the node writing it; ``outputs``: graph outputs (float names)."""

    def __init__(self, model: Any, pairs: Iterable[Any]) -> None:
        g = model.graph
        self.nodes = list(g.node)
        pairs = list(pairs)
        self.alias = {p.dq_out: p.tensor for p in pairs}
        quantized = {p.tensor for p in pairs}
        # The pairs' own Q and DQ nodes are edges here (by tensor name: node names need not be unique).
        self.skip = {
            i
            for i, n in enumerate(self.nodes)
            if (n.op_type == "DequantizeLinear" and n.output and n.output[0] in self.alias)
            or (n.op_type == "QuantizeLinear" and n.input and n.input[0] in quantized)
        }
        self.const = {i.name for i in g.initializer}
        self.types = _elem_types(model)
        for i, n in enumerate(self.nodes):
            # Constants, DequantizeLinear of weights, and anything computed from constants only.
            if i not in self.skip and all(not x or x in self.const for x in n.input):
                self.const.update(n.output)
        self.readers: dict[str, list[int]] = {}
        self.writer: dict[str, int] = {}
        for i, n in enumerate(self.nodes):
            if i in self.skip or all(o in self.const for o in n.output):
                continue
            for t in self.float_inputs(n):
                if i not in self.readers.setdefault(t, []):
                    self.readers[t].append(i)
            for o in n.output:
                if o:
                    self.writer[o] = i
        self.outputs = {self.alias.get(o.name, o.name) for o in g.output}

    def is_float(self, t: str) -> bool:
        return bool(t) and t not in self.const and self.types.get(t, 1) in _FLOAT_TYPES

    def float_inputs(self, n: Any) -> list[str]:
        return [self.alias.get(i, i) for i in n.input if self.is_float(self.alias.get(i, i))]


def _elem_types(model: Any) -> dict[str, int]:
    """Element type of every tensor ONNX shape inference can type (empty when it fails: all read as float)."""
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - a model shape inference cannot type still gets (fewer) units
        inferred = model
    g = inferred.graph
    out: dict[str, int] = {}
    for vi in (*g.input, *g.value_info, *g.output):
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type:
            out[vi.name] = vi.type.tensor_type.elem_type
    return out


def _grow(view: FloatView, root: str, taken: set[int]) -> tuple[list[int], str] | None:
    """The smallest classified single-exit region from ``root`` (node indices, output tensor), or None.

    Growth runs to its end (or :data:`MAX_UNIT_NODES`) first: a region that looks closed before every reader of
    ``root`` that eventually joins has joined is a fragment (the Tanh of a GELU, before its final ``x * ...``).
    The answer is the earliest closed, classified state holding all of those readers.
    """
    region: list[int] = []
    inside: set[int] = set()
    written = {root}
    heap = [i for i in view.readers.get(root, []) if i not in taken]
    heapq.heapify(heap)
    seen = set(heap)
    closures: list[tuple[int, str]] = []  # (region size, leaving tensor) of closed, classified states
    while heap and len(region) < MAX_UNIT_NODES:
        i = heapq.heappop(heap)
        n = view.nodes[i]
        if n.op_type not in UNIT_OPS or not all(t in written for t in view.float_inputs(n)):
            continue  # graph order: every writer of its inputs that could join has been seen already
        region.append(i)
        inside.add(i)
        for o in n.output:
            if not view.is_float(o):
                continue
            written.add(o)
            for r in view.readers.get(o, []):
                if r not in seen and r not in taken:
                    seen.add(r)
                    heapq.heappush(heap, r)
        leaving = [
            o
            for j in region
            for o in view.nodes[j].output
            if view.is_float(o) and (o in view.outputs or any(r not in inside for r in view.readers.get(o, [])))
        ]
        if len(leaving) == 1 and classify(view.nodes[j].op_type for j in region) is not None:
            closures.append((len(region), leaving[0]))
    joined = set(view.readers.get(root, [])) & inside
    if len(joined) < 2:
        return None
    for size, out in closures:
        if joined <= set(region[:size]):
            return region[:size], out
    return None


def _affine_tail(view: FloatView, region: list[int], out: str, taken: set[int]) -> str:
    """Extend a LayerNorm over its ``* gamma + beta`` (sole reader, Mul/Add with a constant operand)."""
    while out not in view.outputs:
        readers = view.readers.get(out, [])
        if len(readers) != 1 or readers[0] in taken:
            break
        n = view.nodes[readers[0]]
        if n.op_type not in ("Mul", "Add") or view.float_inputs(n) != [out] or len(n.input) != 2:
            break
        region.append(readers[0])
        out = n.output[0]
    return out


def find_units(model: Any, pairs: Iterable[Any]) -> tuple[Unit, ...]:
    """The recognised subgraphs of QDQ ``model`` (see module docstring), in graph order.

    Args:
        model: ``onnx.ModelProto`` of the QDQ model; pairs: its activation pairs (qdq_graph.activation_pairs).
    """
    view = FloatView(model, list(pairs))
    taken: set[int] = set()
    units: list[Unit] = []
    outputs: set[str] = set()  # a unit's output may be the next unit's root (GELU -> LayerNorm)
    for root in sorted(view.readers, key=lambda t: view.writer.get(t, -1)):
        if len(view.readers[root]) < 2 or (view.writer.get(root, -1) in taken and root not in outputs):
            continue
        found = _grow(view, root, taken)
        if found is None:
            continue
        region, out = found
        kind = classify(view.nodes[i].op_type for i in region)
        if kind in ("LayerNorm", "RMSNorm", "GELU"):
            out = _affine_tail(view, region, out, taken)
        taken.update(region)
        outputs.add(out)
        names = tuple(view.nodes[i].name for i in sorted(region))
        units.append(Unit(kind or "", names, root, out))
    return tuple(units)
