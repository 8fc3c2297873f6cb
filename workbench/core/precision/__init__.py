"""Precision modes, calibration datasets, INT8 QDQ quantization, FP16 conversion and caches.

Importing this package loads only the standard library; numpy, onnx and onnxruntime are imported
inside the functions that need them.
"""

from __future__ import annotations

from workbench.core.precision.datasets import Dataset, InputSpec, model_inputs, open_dataset
from workbench.core.precision.fp16 import to_fp16
from workbench.core.precision.preprocess import Preprocess, load_preprocess
from workbench.core.precision.quantize import QuantOptions, QuantResult, quantize_qdq
from workbench.core.precision.trt_cache import check_trt_cache, parse_trt_cache_header

PRECISIONS = ("fp32", "fp16", "bf16", "int8", "best")

__all__ = [
    "PRECISIONS",
    "Dataset",
    "InputSpec",
    "Preprocess",
    "QuantOptions",
    "QuantResult",
    "check_trt_cache",
    "load_preprocess",
    "model_inputs",
    "open_dataset",
    "parse_trt_cache_header",
    "quantize_qdq",
    "to_fp16",
]
