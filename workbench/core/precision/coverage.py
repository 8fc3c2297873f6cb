"""How much of a QDQ model is actually quantized: its QuantizeLinear count, and compute nodes the quantizer could
not reach because they sit inside control-flow subgraphs (If / Loop / Scan bodies).

onnxruntime's ``quantize_static`` walks the main graph only: a model whose compute lives in an ``If`` branch
(Silero VAD's 8 kHz / 16 kHz paths) comes out with no Q/DQ at all. Its "INT8" model then runs in FP32, so its
speed and accuracy are FP32's — which a result must say rather than present as an INT8 figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

COMPUTE_OPS = frozenset({"Conv", "ConvTranspose", "MatMul", "Gemm", "LSTM", "GRU", "RNN", "Attention"})


@dataclass(frozen=True)
class QdqCoverage:
    """``quantized_tensors``: QuantizeLinear nodes in the main graph (each quantizes one activation);
    ``unreached_compute``: compute nodes (Conv/MatMul/Gemm/RNN …) inside If/Loop/Scan subgraphs."""

    quantized_tensors: int
    unreached_compute: int

    def warning(self) -> str | None:
        """One sentence when nothing is quantized, else None."""
        if self.quantized_tensors:
            return None
        where = (
            f": its {self.unreached_compute} compute node(s) sit inside If/Loop subgraphs, which onnxruntime's "
            "quantizer does not reach"
            if self.unreached_compute
            else ""
        )
        return (
            f"the INT8 model has no quantized tensor{where}; it computes in FP32, so its speed and accuracy are FP32's"
        )


def qdq_coverage(path: str | Path) -> QdqCoverage:
    """Count both for the QDQ model at ``path`` (graph structure only: external weights are not loaded)."""
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    q = sum(1 for n in m.graph.node if n.op_type == "QuantizeLinear")

    def sub_compute(graph, inside: bool) -> int:
        count = 0
        for n in graph.node:
            if inside and n.op_type in COMPUTE_OPS:
                count += 1
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    count += sub_compute(a.g, True)
                elif a.type == onnx.AttributeProto.GRAPHS:
                    count += sum(sub_compute(g, True) for g in a.graphs)
        return count

    return QdqCoverage(q, sub_compute(m.graph, False))
