"""Value types describing a model: its tensors and what ``workbench inspect`` reports.

Pure dataclasses (stdlib only) so every layer can import them cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Dim = int | str | None


@dataclass(frozen=True)
class TensorSpec:
    """One model input or output.

    Attributes:
        name: tensor name as in the graph.
        dtype: numpy dtype name (``"float32"``, ``"int64"``, ``"float16"``, ``"uint8"`` …).
        shape: one entry per axis: ``int`` for a fixed size, ``str`` for a symbolic dim (``"batch"``),
            ``None`` when the size is unknown (models/dims.py: ``-1``, ``?`` and unnamed dims, each a separate
            unknown). ``()`` is a scalar.
    """

    name: str
    dtype: str
    shape: tuple[Dim, ...]

    @property
    def is_dynamic(self) -> bool:
        """True when any axis is symbolic or unknown (a non-positive int such as Paddle's ``-1`` included)."""
        return any(isinstance(d, bool) or not isinstance(d, int) or d <= 0 for d in self.shape)

    def shape_str(self) -> str:
        """``1x3x224x224`` style, symbolic dims by name, unknown as ``?``; ``scalar`` for rank 0."""
        if not self.shape:
            return "scalar"
        return "x".join("?" if d is None or (isinstance(d, int) and d <= 0) else str(d) for d in self.shape)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}


@dataclass(frozen=True)
class ModelInfo:
    """What ``workbench inspect`` shows about an ONNX model.

    Attributes:
        path: the file inspected (for a PyTorch input: the exported ONNX).
        format: ``"onnx"`` (the FileKind value of the inspected file).
        inputs / outputs: graph inputs (initializers excluded) and outputs.
        opset: version of the default (``ai.onnx``) operator set.
        ir_version: ONNX IR version of the file.
        producer: ``producer_name`` plus ``producer_version`` when present.
        op_histogram: op type -> node count (main graph and subgraphs), sorted by count descending.
        param_count: number of elements over all initializers and Constant nodes (weights, biases, constants).
        size_bytes: size of the .onnx file plus its external data files.
        external_data: external data file names (relative to the model folder), sorted.
        sha256: hex SHA-256 of the .onnx file itself.
        source_format: the sniffed kind of the file the user gave (``"torchscript"`` when exported).
        warnings: non-fatal problems (shape inference failed, …).
    """

    path: Path
    format: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    opset: int
    ir_version: int
    producer: str
    op_histogram: dict[str, int]
    param_count: int
    size_bytes: int
    external_data: tuple[str, ...]
    sha256: str
    source_format: str = "onnx"
    source_path: Path | None = None
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (paths as strings, tuples as lists)."""
        return {
            "path": str(self.path),
            "format": self.format,
            "source_format": self.source_format,
            "source_path": str(self.source_path) if self.source_path else str(self.path),
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
            "opset": self.opset,
            "ir_version": self.ir_version,
            "producer": self.producer,
            "op_histogram": dict(self.op_histogram),
            "param_count": self.param_count,
            "size_bytes": self.size_bytes,
            "external_data": list(self.external_data),
            "sha256": self.sha256,
            "warnings": list(self.warnings),
        }
