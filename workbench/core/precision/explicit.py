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

from collections.abc import Mapping
from dataclasses import dataclass

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

    def describe(self) -> str:
        """One phrase: "explicit quantization, QDQ: 12 QuantizeLinear, 14 DequantizeLinear"."""
        if self.format == "QOperator":
            return f"explicit quantization, QOperator: {self.integer_ops} integer operator(s)"
        if not self.quantize_nodes:
            return f"weight-only quantization: {self.dequantize_nodes} DequantizeLinear, no QuantizeLinear"
        return (
            f"explicit quantization, QDQ: {self.quantize_nodes} QuantizeLinear, {self.dequantize_nodes} "
            "DequantizeLinear"
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "format": self.format,
            "quantize_nodes": self.quantize_nodes,
            "dequantize_nodes": self.dequantize_nodes,
            "integer_ops": self.integer_ops,
        }


def explicit_quantization(op_histogram: Mapping[str, int]) -> ExplicitQuantization | None:
    """The model's explicit quantization from its op histogram (``ModelInfo.op_histogram``: op type -> count), or
    None for a float model. A DequantizeLinear alone counts (weights stored as INT8 and dequantized: weight-only
    quantization is still a quantized model); a lone QuantizeLinear with no DequantizeLinear does not (it would
    produce integers the graph returns, not a quantized network)."""
    q = int(op_histogram.get("QuantizeLinear", 0))
    dq = int(op_histogram.get("DequantizeLinear", 0))
    integer = sum(int(n) for op, n in op_histogram.items() if op in QOPERATOR_OPS)
    if integer:
        return ExplicitQuantization("QOperator", q, dq, integer)
    if dq:
        return ExplicitQuantization("QDQ", q, dq, 0)
    return None
