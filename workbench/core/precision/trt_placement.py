"""NVIDIA's Q/DQ placement for TensorRT targets: where the Q/DQ pairs go, and the check that they went there.

The rules (TensorRT developer guide, "Explicit Quantization" → "Q/DQ Layer-Placement Recommendations"; NVIDIA
ModelOpt's ONNX INT8 path, ``modelopt/onnx/quantization/int8.py``, ``ort_utils.py`` ``configure_ort`` and
``qdq_graph.py`` ``build_non_residual_input_map``, read in 2026):

* **Inputs of weighted ops only.** Q/DQ on the activation and weight inputs of Conv, ConvTranspose, Gemm and MatMul
  (:data:`WEIGHTED_OPS`); no output of any op is quantized (ModelOpt: ``OpTypesToExcludeOutputQuantization`` = every
  op type of the model). A tensor that leaves the graph therefore never carries a Q/DQ pair.
* **Symmetric INT8.** TensorRT's quantization is symmetric ("TensorRT uses a symmetric quantization scheme", guide,
  "Working with Quantized Types"): zero point 0, signed INT8, activations per tensor, weights per output channel —
  axis 0 for Conv (``[Cout, Cin, kh, kw]``), 1 for ConvTranspose (``[Cin, Cout/g, kh, kw]``), for Gemm 0 with
  ``transB=1`` (``[N, K]``) else 1, for MatMul the last axis (``[K, N]``) — ModelOpt's
  ``QDQOpTypePerChannelSupportToAxis`` ``{"Conv": 0, "ConvTranspose": 1}`` plus onnxruntime 1.32's own Gemm/MatMul
  defaults (``operators/gemm.py``, ``matmul.py``), checked by :func:`check`.
* **Biases stay float** (ModelOpt: ``QuantizeBias`` False): TensorRT folds a float bias into the INT8 kernel.
* **Residual Adds as TensorRT fuses them.** TensorRT fuses ``Conv → Add(residual)`` into one kernel whose output
  precision follows the Add's *other* input: when the residual (skip) input is quantized the fused Conv writes INT8
  and the next Q fuses too. So the residual input gets Q/DQ and the input coming from the Conv being fused (the
  "non-residual" input) gets none. Which is which (:func:`residual_adds`, ModelOpt's rule): an Add with two
  non-constant inputs, produced by nodes, where an input is on a "fusible backbone" (a Conv/ConvTranspose reached
  back through BatchNormalization, Relu, MaxPool, Sigmoid/Mul (SiLU), bias Add / scale Mul and copy ops). If only
  one input has one, it is the fused input — unless that Conv is also the inputs' lowest common ancestor (ConvNeXt:
  not a residual Add). If both do (a projection shortcut) and the two Convs differ, the input on the longer path
  from the lowest common ancestor is the fused one (the main branch; the 1x1 shortcut is the residual).

ModelOpt does more (Q/DQ on pooling / BatchNorm heads after a Conv partition, MHA and GEMV heuristics, Concat
elimination); this recipe does the placement above only, and says so in its record. Nothing here runs a session.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: Ops whose inputs (activation and weight) get Q/DQ. Their output is never quantized by this recipe.
WEIGHTED_OPS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul"})
#: Ops a fusible backbone is reached back through (ModelOpt ``get_fusible_backbone`` path types: BiasAdd,
#: ConstMul, BatchNormalization, Relu, MaxPool, Sigmoid+Mul; copy ops are its wildcards).
_BACKBONE_PATH_OPS = frozenset(
    {"BatchNormalization", "Relu", "MaxPool", "Sigmoid", "Mul", "Add", "Reshape", "Transpose", "Flatten",
     "Squeeze", "Unsqueeze", "Identity"}
)  # fmt: skip
_BACKBONE_OPS = frozenset({"Conv", "ConvTranspose"})
#: How far back through path ops a backbone is looked for (ModelOpt's longest path type has 5 nodes).
_BACKBONE_DEPTH = 6
#: Extra options for onnxruntime's ``quantize_static`` that are the same for every model (the per-model one,
#: ``OpTypesToExcludeOutputQuantization``, comes from :func:`ort_options`).
_FIXED_ORT_OPTIONS: dict[str, Any] = {
    "ActivationSymmetric": True,
    "WeightSymmetric": True,
    "QuantizeBias": False,
    "QDQOpTypePerChannelSupportToAxis": {"Conv": 0, "ConvTranspose": 1, "MatMul": -1},
}


@dataclass(frozen=True)
class ResidualAdd:
    """One residual Add: ``add`` (node name), ``quantized_input`` (the skip input: gets Q/DQ), ``fused_input`` (the
    input written by the Conv TensorRT fuses the Add into: no Q/DQ), ``backbone`` (that Conv's node name)."""

    add: str
    quantized_input: str
    fused_input: str
    backbone: str

    def to_dict(self) -> dict[str, str]:
        return {
            "add": self.add,
            "quantized_input": self.quantized_input,
            "fused_input": self.fused_input,
            "backbone": self.backbone,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ResidualAdd:
        return cls(str(d.get("add", "")), str(d.get("quantized_input", "")), str(d.get("fused_input", "")),
                   str(d.get("backbone", "")))  # fmt: skip


class _Graph:
    """Producer / constant lookups over an ``onnx.GraphProto`` (node order as stored: topological in valid ONNX)."""

    def __init__(self, g: Any) -> None:
        self.nodes = list(g.node)
        self.const = {i.name for i in g.initializer}
        for n in self.nodes:
            if n.op_type == "Constant":
                self.const.update(n.output)
        self.producer = {o: n for n in self.nodes for o in n.output if o}

    def parents(self, node: Any) -> list[Any]:
        """Producers of ``node``'s non-constant inputs (graph inputs have none)."""
        return [self.producer[i] for i in node.input if i and i not in self.const and i in self.producer]

    def non_const_inputs(self, node: Any) -> list[str]:
        return [i for i in node.input if i and i not in self.const]


def _backbone(g: _Graph, node: Any, depth: int = _BACKBONE_DEPTH) -> Any | None:
    """The Conv/ConvTranspose ``node`` is, or reaches back to through backbone path ops, else None."""
    if node.op_type in _BACKBONE_OPS:
        return node
    if depth <= 0 or node.op_type not in _BACKBONE_PATH_OPS:
        return None
    if node.op_type == "Add" and len(g.non_const_inputs(node)) != 1:
        return None  # an Add of two activations is another residual Add, not a bias add on a backbone
    for parent in g.parents(node):
        found = _backbone(g, parent, depth - 1)
        if found is not None:
            return found
    return None


def _distances(g: _Graph, start: Any) -> dict[str, int]:
    """Node name -> fewest edges from ``start`` back to it (``start`` itself at 0)."""
    out = {start.name: 0}
    queue = deque([start])
    while queue:
        n = queue.popleft()
        for p in g.parents(n):
            if p.name not in out:
                out[p.name] = out[n.name] + 1
                queue.append(p)
    return out


def _lca(g: _Graph, a: Any, b: Any) -> tuple[str | None, int, int]:
    """Lowest common ancestor of nodes ``a`` and ``b`` (fewest edges from both) and the two distances to it."""
    da, db = _distances(g, a), _distances(g, b)
    common = [n for n in da if n in db]
    if not common:
        return None, 0, 0
    best = min(common, key=lambda n: (da[n] + db[n], da[n]))
    return best, da[best], db[best]


def residual_adds(model: Any) -> tuple[ResidualAdd, ...]:
    """The residual Adds of ``model`` (onnx.ModelProto, float, the model the quantizer reads), in graph order.

    See the module docstring for the rule. Node names must be unique and non-empty (quantize.py names every node
    before this runs); an Add without a name is skipped.
    """
    g = _Graph(model.graph)
    out: list[ResidualAdd] = []
    for node in g.nodes:
        if node.op_type != "Add" or len(node.input) != 2 or not node.name:
            continue
        if any(i in g.const for i in node.input) or any(i not in g.producer for i in node.input):
            continue  # a bias add, or an input straight from the graph inputs: not a residual Add
        p0, p1 = g.producer[node.input[0]], g.producer[node.input[1]]
        b0, b1 = _backbone(g, p0), _backbone(g, p1)
        lca, d0, d1 = _lca(g, p0, p1)
        fused: int | None = None
        if b0 is not None and b1 is not None:
            if b0.name != b1.name:
                fused = 0 if d0 > d1 else 1
        elif b0 is not None:
            fused = None if lca == b0.name else 0
        elif b1 is not None:
            fused = None if lca == b1.name else 1
        if fused is None:
            continue
        backbone = (b0, b1)[fused]
        out.append(ResidualAdd(node.name, node.input[1 - fused], node.input[fused], backbone.name))
    return tuple(out)


def nodes_to_quantize(model: Any, excluded: Iterable[str], residual: Iterable[ResidualAdd]) -> list[str]:
    """Names of the nodes onnxruntime's quantizer may touch: every weighted op and residual Add not in ``excluded``."""
    skip = set(excluded)
    adds = {r.add for r in residual}
    return [
        n.name
        for n in model.graph.node
        if n.name and n.name not in skip and (n.op_type in WEIGHTED_OPS or n.name in adds)
    ]


def ort_options(model: Any) -> dict[str, Any]:
    """``extra_options`` for ``quantize_static`` placing Q/DQ as TensorRT wants (see module docstring)."""
    op_types = sorted({n.op_type for n in model.graph.node})
    return {**_FIXED_ORT_OPTIONS, "OpTypesToExcludeOutputQuantization": op_types}


def weight_axis(node: Any, rank: int) -> int | None:
    """The output-channel axis of ``node``'s weight (input 1) of ``rank`` dimensions, or None (not a weighted op)."""
    if node.op_type == "Conv":
        return 0
    if node.op_type == "ConvTranspose":
        return 1
    if node.op_type == "Gemm":
        trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
        return 0 if trans_b else 1
    if node.op_type == "MatMul":
        return rank - 1
    return None


@dataclass(frozen=True)
class PlacementCheck:
    """What :func:`check` found in a QDQ model. ``weighted_ops``: weighted ops in the model; ``quantized_ops``: those
    reading a dequantized activation; ``per_channel_weights``: weights with a per-output-channel INT8 scale;
    ``activation_pairs``: activation Q/DQ pairs; ``problems``: one line each, empty when TensorRT gets what it wants."""

    weighted_ops: int
    quantized_ops: int
    per_channel_weights: int
    activation_pairs: int
    problems: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "weighted_ops": self.weighted_ops,
            "quantized_ops": self.quantized_ops,
            "per_channel_weights": self.per_channel_weights,
            "activation_pairs": self.activation_pairs,
            "problems": list(self.problems),
        }


def check(model: Any, residual: Iterable[ResidualAdd] = ()) -> PlacementCheck:
    """Walk the QDQ ``model`` (onnx.ModelProto) and list every departure from the TensorRT placement.

    Checked: every QuantizeLinear/DequantizeLinear has an INT8 zero point that is all 0 (an absent zero point means
    UINT8 in ONNX); no graph output is written by a Q or DQ; every activation pair is read by a weighted op or a
    residual Add (``residual``: the Adds allowed; other readers of the same pair are fine); each weight read by a weighted op through a
    DequantizeLinear has one scale per output channel on :func:`weight_axis`; no fused input of ``residual`` is
    dequantized.
    """
    import numpy as np
    from onnx import numpy_helper

    g = model.graph
    inits = {i.name: i for i in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    readers: dict[str, list[Any]] = {}
    for n in g.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    adds = {r.add: r for r in residual}
    problems: list[str] = []

    def arr(name: str) -> Any:
        return numpy_helper.to_array(inits[name]) if name in inits else None

    for n in g.node:
        if n.op_type not in ("QuantizeLinear", "DequantizeLinear"):
            continue
        zp = arr(n.input[2]) if len(n.input) > 2 and n.input[2] else None
        if zp is None:
            problems.append(f"{n.op_type} '{n.name}': no INT8 zero point (ONNX then means UINT8)")
        elif zp.dtype != np.int8 or np.any(zp != 0):
            problems.append(
                f"{n.op_type} '{n.name}': zero point {zp.dtype} {zp.ravel()[:4].tolist()} (TensorRT: int8 0)"
            )
    for o in g.output:
        p = producer.get(o.name)
        if p is not None and p.op_type in ("QuantizeLinear", "DequantizeLinear"):
            problems.append(f"graph output '{o.name}' is written by {p.op_type} '{p.name}'")

    weighted = [n for n in g.node if n.op_type in WEIGHTED_OPS]
    quantized_ops = per_channel = pairs = 0
    for n in g.node:
        if n.op_type != "DequantizeLinear" or n.input[0] in inits:
            continue
        q = producer.get(n.input[0])
        if q is None or q.op_type != "QuantizeLinear" or q.input[0] in inits:
            continue  # a DQ of a stored (weight) tensor, or a Q/DQ pair on a float weight: checked per op below
        pairs += 1
        scale = arr(n.input[1])
        if scale is not None and scale.size != 1:
            problems.append(f"activation '{q.input[0]}': {scale.size} scales (TensorRT: one per tensor)")
        # onnxruntime shares one pair among all readers of a tensor (DedicatedQDQPair off, as ModelOpt runs it too):
        # a MaxPool or Concat beside the Conv that asked for the pair reads it as well. A pair no weighted op or
        # residual Add reads was placed for something else.
        own = [r for r in readers.get(n.output[0], []) if r.op_type in WEIGHTED_OPS or r.name in adds]
        if not own:
            others = ", ".join(f"{r.op_type} '{r.name}'" for r in readers.get(n.output[0], [])) or "nothing"
            problems.append(f"dequantized '{q.input[0]}' is read by {others} only (not a weighted op)")
    by_name = {n.name: n for n in g.node}
    for r in adds.values():
        add = by_name.get(r.add)
        for i in add.input if add is not None else ():
            dq = producer.get(i)
            q = producer.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
            if q is not None and q.op_type == "QuantizeLinear" and q.input[0] == r.fused_input:
                problems.append(f"residual Add '{r.add}': its fused input '{r.fused_input}' is quantized")
    for n in weighted:
        ins = list(n.input)
        act = producer.get(ins[0]) if ins else None
        if act is not None and act.op_type == "DequantizeLinear":
            quantized_ops += 1
        if len(ins) < 2:
            continue
        dq = producer.get(ins[1])
        if dq is None or dq.op_type != "DequantizeLinear":
            continue
        src = dq.input[0]
        q = producer.get(src)
        if q is not None and q.op_type == "QuantizeLinear":  # a Q/DQ pair on a float weight
            dq, src = q, q.input[0]
        if src not in inits:
            continue  # an activation on the weight input (MatMul of two activations): per tensor, as above
        shape = tuple(inits[src].dims)
        want = weight_axis(n, len(shape))
        axis = next((a.i for a in dq.attribute if a.name == "axis"), 1)
        axis = axis + len(shape) if axis < 0 else axis
        scale = arr(dq.input[1])
        if scale is None or want is None:
            continue
        if scale.size == 1 and shape[want] != 1:
            problems.append(f"{n.op_type} '{n.name}': weight '{src}' has one scale (want one per channel, axis {want})")
        elif scale.size != 1 and (axis != want or scale.size != shape[want]):
            problems.append(
                f"{n.op_type} '{n.name}': weight '{src}' scales on axis {axis} ({scale.size}), want axis {want} "
                f"({shape[want]})"
            )
        else:
            per_channel += 1
    return PlacementCheck(len(weighted), quantized_ops, per_channel, pairs, tuple(problems))
