"""Models that are already INT8: explicit quantization in the ONNX file itself.

A model exported by ModelOpt (``modelopt.onnx.quantization``), by onnxruntime's ``quantize_static``, by PyTorch's QAT
export or by our own calibration carries its INT8 as operators: ``QuantizeLinear``/``DequantizeLinear`` pairs around
the layers they quantize (the QDQ format TensorRT calls explicit quantization, "Explicit Versus Implicit
Quantization" in the TensorRT developer guide), or onnxruntime's integer operators (``QLinearConv``,
``MatMulInteger``, … the QOperator format, onnxruntime "Quantize ONNX models": ONNX quantization representation
format). Such a model runs with its own scales: calibrating it again would quantize a quantized graph, and
"compared with FP32" would compare it with itself (a cosine of 1.0 and a PASS that says nothing). So the workflow
benchmarks it as INT8 without calibration, refuses FP32/FP16 for it, and gives no accuracy verdict against FP32 —
the FP32 original is not here — saying why on the result.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

#: onnxruntime's integer operators of the QOperator format (onnx operators plus ``com.microsoft`` contrib ops; the
#: op_histogram counts op types without their domain).
QOPERATOR_OPS = frozenset(
    {
        "QLinearConv",
        "QLinearMatMul",
        "MatMulInteger",
        "ConvInteger",
        "QLinearAdd",
        "QLinearMul",
        "QLinearSigmoid",
        "QLinearLeakyRelu",
        "QLinearAveragePool",
        "QLinearGlobalAveragePool",
        "QLinearConcat",
        "QLinearSoftmax",
        "QGemm",
        "QAttention",
        "DynamicQuantizeMatMul",
        "DynamicQuantizeLSTM",
        "MatMulIntegerToFloat",
    }
)


@dataclass(frozen=True)
class ExplicitQuantization:
    """How a model carries its INT8. ``format``: "QDQ" (Q/DQ pairs) or "QOperator" (integer operators);
    ``quantize_nodes`` / ``dequantize_nodes``: QuantizeLinear / DequantizeLinear counts; ``integer_ops``: QOperator
    nodes. Counts include subgraphs (the model inspection's op histogram)."""

    format: str
    quantize_nodes: int
    dequantize_nodes: int
    integer_ops: int
    types: tuple[str, ...] = ()  # quantized element types seen (quantized_types): "uint8", "int8", "uint16", …

    @property
    def integer(self) -> bool:
        """Integer quantization the workbench runs as its int8 precision (8-bit, or 16-bit activations with 8-bit
        weights, int32 biases); False for FP8, INT4, FP4 — other precisions the int8 label would misname."""
        return set(self.types) <= INTEGER_TYPES

    @property
    def width(self) -> str:
        """ "8-bit", "16-bit activations, 8-bit weights" (A16W8), "float8e4m3fn", … from :attr:`types`."""
        other = [t for t in self.types if t not in INTEGER_TYPES]
        if other:
            return ", ".join(other)
        if {"int16", "uint16"} & set(self.types):
            return "16-bit activations (A16W8)" if {"int8", "uint8"} & set(self.types) else "16-bit"
        return "8-bit"

    def describe(self) -> str:
        """One phrase: "explicit quantization, QDQ, 8-bit (uint8, int8): 12 QuantizeLinear, 14 DequantizeLinear"."""
        listed = ", ".join(self.types)
        kinds = (self.width if self.width == listed else f"{self.width} ({listed})") if self.types else ""
        if self.format == "QOperator":
            return f"explicit quantization, QOperator{', ' + kinds if kinds else ''}: {self.integer_ops} integer operator(s)"
        if not self.quantize_nodes:
            return (
                f"weight-only quantization{', ' + kinds if kinds else ''}: {self.dequantize_nodes} DequantizeLinear, "
                "no QuantizeLinear"
            )
        return (
            f"explicit quantization, QDQ{', ' + kinds if kinds else ''}: {self.quantize_nodes} QuantizeLinear, "
            f"{self.dequantize_nodes} DequantizeLinear"
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "format": self.format,
            "quantize_nodes": self.quantize_nodes,
            "dequantize_nodes": self.dequantize_nodes,
            "integer_ops": self.integer_ops,
            "types": list(self.types),
            "integer": self.integer,
        }


#: Element types of integer quantization (ONNX TensorProto names, lower case): the int8 precision's.
INTEGER_TYPES = frozenset({"int8", "uint8", "int16", "uint16", "int32"})


def explicit_quantization(op_histogram: Mapping[str, int], types: tuple[str, ...] = ()) -> ExplicitQuantization | None:
    """The model's explicit quantization from its op histogram (``ModelInfo.op_histogram``: op type -> count), or
    None for a float model. A DequantizeLinear alone counts (weights stored as INT8 and dequantized: weight-only
    quantization is still a quantized model); a lone QuantizeLinear with no DequantizeLinear does not (it would
    produce integers the graph returns, not a quantized network)."""
    q = int(op_histogram.get("QuantizeLinear", 0))
    dq = int(op_histogram.get("DequantizeLinear", 0))
    integer = sum(int(n) for op, n in op_histogram.items() if op in QOPERATOR_OPS)
    if integer:
        return ExplicitQuantization("QOperator", q, dq, integer, types)
    if dq:
        return ExplicitQuantization("QDQ", q, dq, 0, types)
    return None


def model_quantization(path: str | os.PathLike[str], op_histogram: Mapping[str, int]) -> ExplicitQuantization | None:
    """:func:`explicit_quantization` of the model at ``path`` with its quantized element types read from the file
    (:func:`quantized_types`; only when the histogram shows Q/DQ or integer operators)."""
    eq = explicit_quantization(op_histogram)
    if eq is None:
        return None
    try:
        st = os.stat(path)
        types = _types_cached(str(Path(path).resolve()), st.st_mtime_ns, st.st_size)
    except OSError:
        types = ()
    return explicit_quantization(op_histogram, types)


@lru_cache(maxsize=16)
def _types_cached(path: str, _mtime_ns: int, _size: int) -> tuple[str, ...]:
    return quantized_types(path)


def file_quantization(path: str | os.PathLike[str]) -> ExplicitQuantization | None:
    """:func:`model_quantization` of an ONNX file that has not been inspected: its op histogram (main graph and
    subgraphs) read from the graph alone (external data not loaded). None for a float model or a file that is not
    ONNX."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - not readable as ONNX: the caller's own loading reports it
        return None
    ops: dict[str, int] = {}

    def walk(graph) -> None:
        for node in graph.node:
            ops[node.op_type] = ops.get(node.op_type, 0) + 1
            for a in node.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)
                for g in a.graphs:
                    walk(g)

    walk(model.graph)
    return model_quantization(path, ops)


def quantized_types(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """The element types a model quantizes to, sorted by name, from its graph (external data not loaded): each
    QuantizeLinear's zero point (or its ``output_dtype`` attribute; uint8 when it has neither, as the ONNX spec
    defaults), each DequantizeLinear's stored (initializer) input, each integer operator's weight initializers.
    Empty when the file cannot be read as ONNX."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - not readable as ONNX: the caller's own loading reports it
        return ()
    name = {v: k.lower() for k, v in onnx.TensorProto.DataType.items()}
    found: set[str] = set()

    def walk(graph) -> None:
        inits = {t.name: t.data_type for t in graph.initializer}
        for node in graph.node:
            if node.op_type == "QuantizeLinear":
                attr = {a.name: a for a in node.attribute}
                if len(node.input) > 2 and node.input[2] in inits:
                    found.add(name.get(inits[node.input[2]], "?"))
                elif "output_dtype" in attr and attr["output_dtype"].i:
                    found.add(name.get(attr["output_dtype"].i, "?"))
                elif len(node.input) <= 2 or not node.input[2]:
                    found.add("uint8")
            elif node.op_type == "DequantizeLinear" or node.op_type in QOPERATOR_OPS:
                for i in node.input:
                    if i in inits and name.get(inits[i], "") not in ("float", "float16", "bfloat16", "double"):
                        found.add(name.get(inits[i], "?"))
            for a in node.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)
                for g in a.graphs:
                    walk(g)

    walk(model.graph)
    return tuple(sorted(found))
