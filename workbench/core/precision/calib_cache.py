"""The calibration cache: computed tensor ranges and quantized models, keyed by content.

Layout under :func:`workbench.core.paths.calibration_cache_dir`::

    ranges/<rkey>.ort.json     onnxruntime's own calibration-cache JSON (``save_tensors_data``), fed
                               back to ``quantize_static(calibration_cache_path=...)``
    ranges/<rkey>.ranges.json  the same ranges for people: {"ranges": {tensor: [min, max]}, ...}
    <qkey>.qdq.onnx            the quantized (QDQ) model
    <qkey>.json                its sidecar: options, notes, excluded nodes, versions

``rkey`` covers what changes the ranges (model hash, dataset fingerprint, method and its
parameters, preprocessing, onnxruntime version); ``qkey`` adds what changes only the quantized
model (types, symmetry, per-channel, exclusions). Changing per-channel alone reuses the ranges.
Every file is written atomically (temp file in the same folder, then ``os.replace``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from workbench.core import paths
from workbench.core.fsutil import write_text_atomic

SCHEMA = 1


def content_key(parts: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of ``parts`` (sorted keys, no whitespace)."""
    blob = json.dumps({"schema": SCHEMA, **parts}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def ranges_paths(rkey: str) -> tuple[Path, Path]:
    """(onnxruntime JSON, human JSON) paths for a ranges key."""
    d = paths.calibration_cache_dir() / "ranges"
    return d / f"{rkey}.ort.json", d / f"{rkey}.ranges.json"


def model_paths(qkey: str) -> tuple[Path, Path]:
    """(quantized model, sidecar JSON) paths for a quantization key."""
    d = paths.calibration_cache_dir()
    return d / f"{qkey}.qdq.onnx", d / f"{qkey}.json"


def _floats(v: Any) -> Any:
    import numpy as np

    arr = np.asarray(v, dtype=np.float64)
    return float(arr.ravel()[0]) if arr.size == 1 else [float(x) for x in arr.ravel()]


def ranges_to_dict(tensors_data: Any) -> dict[str, list[Any]]:
    """onnxruntime TensorsData → {tensor: [min, max]} (per-channel ranges become lists)."""
    out = {}
    for name, td in tensors_data.items():
        lo, hi = td.range_value
        out[name] = [_floats(lo), _floats(hi)]
    return out


def save_ranges(rkey: str, tensors_data: Any, meta: dict[str, Any]) -> tuple[Path, Path]:
    """Write both range files atomically; returns their paths."""
    from onnxruntime.quantization.calibrate import CalibrationCacheEncoder

    ort_path, human_path = ranges_paths(rkey)
    payload = tensors_data.to_dict()
    payload["smooth_quant"] = False  # the key onnxruntime 1.32's loader compares
    write_text_atomic(ort_path, json.dumps(payload, cls=CalibrationCacheEncoder))
    write_text_atomic(human_path, json.dumps({**meta, "ranges": ranges_to_dict(tensors_data)}, indent=1))
    return ort_path, human_path


def load_sidecar(path: Path) -> dict[str, Any] | None:
    """The sidecar JSON, or None when missing or unreadable (treated as a cache miss)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
