"""How closely a QDQ model follows its FP32 model on a few calibration samples, under onnxruntime (CPU).

Recorded with every calibration (``QuantResult.agreement``) so the calibration result itself says what INT8 cost,
before any evaluation set is run: the cosine similarity of the first float output per sample (flattened), and,
when that output has a class axis (last dimension > 1), the share of rows whose arg-max (top-1) is the same.
It is a smoke figure on calibration data, not the accuracy check (core/accuracy.py does that on the eval set).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Samples compared by default: enough to catch a broken recipe, cheap next to calibration (two sessions, 8 runs).
AGREEMENT_SAMPLES = 8


@dataclass(frozen=True)
class Agreement:
    """QDQ vs FP32 on ``samples`` feeds. ``output``: the output compared; ``cosine_min``/``cosine_mean``: cosine
    similarity per sample (flattened output, float64; 1.0 = same direction); ``top1_agreement``: share (0..1) of rows
    with the same arg-max over the last axis, None when that axis has one element."""

    output: str
    samples: int
    cosine_min: float
    cosine_mean: float
    top1_agreement: float | None

    def line(self) -> str:
        """One line for people: ``INT8 vs FP32 on 8 calibration samples (onnxruntime CPU, 'logits'): cosine ...``."""
        top1 = "" if self.top1_agreement is None else f", top-1 agreement {self.top1_agreement * 100:.1f} %"
        return (
            f"INT8 vs FP32 on {self.samples} calibration sample(s) (onnxruntime CPU, '{self.output}'): cosine min "
            f"{self.cosine_min:.5f} / mean {self.cosine_mean:.5f}{top1}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "samples": self.samples,
            "cosine_min": self.cosine_min,  # unrounded: a cached result reads back equal to the fresh one
            "cosine_mean": self.cosine_mean,
            "top1_agreement": self.top1_agreement,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Agreement | None:
        if not isinstance(d, dict) or "cosine_min" not in d:
            return None
        t = d.get("top1_agreement")
        return cls(str(d.get("output", "")), int(d.get("samples") or 0), float(d["cosine_min"]),
                   float(d.get("cosine_mean", d["cosine_min"])), None if t is None else float(t))  # fmt: skip


def _cosine(a: Any, b: Any) -> float:
    import numpy as np

    x, y = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    nx, ny = float(np.linalg.norm(x)), float(np.linalg.norm(y))
    if nx == 0.0 or ny == 0.0:
        return 1.0 if nx == ny else 0.0
    return float(np.dot(x, y) / (nx * ny))


def measure(float_model: Path, qdq_model: Path, feeds: Iterable[dict[str, Any]], max_samples: int = AGREEMENT_SAMPLES):
    """:class:`Agreement` of ``qdq_model`` with ``float_model`` on up to ``max_samples`` of ``feeds``, or None when
    the models have no float output or no feed was given. Both run on onnxruntime's CPU provider, all optimisations
    on (as deployed there). Raises what onnxruntime raises (the caller's load test has already run the QDQ model)."""
    import numpy as np
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    ref = ort.InferenceSession(str(float_model), so, providers=["CPUExecutionProvider"])
    qdq = ort.InferenceSession(str(qdq_model), so, providers=["CPUExecutionProvider"])
    name = next((o.name for o in ref.get_outputs() if "float" in o.type), None)
    if name is None:
        return None
    cosines: list[float] = []
    same = rows = 0
    for i, feed in enumerate(feeds):
        if i >= max_samples:
            break
        (a,) = ref.run([name], feed)
        (b,) = qdq.run([name], feed)
        cosines.append(_cosine(a, b))
        if a.ndim >= 1 and a.shape[-1] > 1 and a.shape == b.shape:
            ia, ib = np.argmax(a.reshape(-1, a.shape[-1]), axis=-1), np.argmax(b.reshape(-1, b.shape[-1]), axis=-1)
            same += int(np.sum(ia == ib))
            rows += int(ia.size)
    if not cosines:
        return None
    return Agreement(name, len(cosines), min(cosines), float(np.mean(cosines)), same / rows if rows else None)
