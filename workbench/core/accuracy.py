"""FP32 versus another precision: per-output error metrics, top-1 accuracy and a verdict.

Both models run in onnxruntime over the same dataset, one file at a time (memory does not grow
with the dataset). Per output, over every sample row (batch rows count separately):

* ``max_abs`` = max |a - b|, ``mean_abs`` = mean |a - b| over all elements;
* cosine similarity of each row flattened, ``a·b / (|a| |b|)`` in float64 (1.0 when both rows are
  all zero, 0.0 when only one is); ``cosine_min`` and ``cosine_mean`` over rows;
* for 2-D outputs ``[batch, classes]``: top-1 agreement = share of rows whose argmax over the last
  dim is the same in both models (percent);
* with ``labels.csv``: top-1 accuracy of each model against the labels (percent; the first 2-D
  output is the classifier; files holding a batch of more than one row are not scored).

The summary (``vs_fp32``) takes the worst output: lowest cosines, highest errors; top-1
agreement comes from the first 2-D output.

Verdict (thresholds from the profile's ``[accuracy]`` or the model spec):

* metric ``"top1"`` (default): with labels, fail when ``top1_fp32 - top1_other > max_top1_drop_pts``;
  without labels, fail when the disagreement ``100 - top1_agreement`` exceeds ``max_top1_drop_pts``
  (a disagreement bounds the accuracy change from above). Models with no 2-D output use cosine only.
* both metrics: fail when ``cosine_mean < min_cosine`` (the mean over rows, so one odd sample does
  not decide; ``cosine_min`` is reported next to it).

A failed verdict is a result to report, not an error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.errors import Cancelled, ModelError

DEFAULT_MAX_TOP1_DROP_PTS = 1.0
DEFAULT_MIN_COSINE = 0.99


@dataclass(frozen=True)
class VsFp32:
    """Agreement with the FP32 model. Cosines are unitless (-1..1); top1_agreement is percent or None."""

    cosine_min: float
    cosine_mean: float
    max_abs: float
    mean_abs: float
    top1_agreement: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "cosine_min": self.cosine_min,
            "cosine_mean": self.cosine_mean,
            "max_abs": self.max_abs,
            "mean_abs": self.mean_abs,
            "top1_agreement": self.top1_agreement,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VsFp32:
        """Inverse of :meth:`to_dict`; a figure missing from an older or foreign document reads as None."""

        def f(key: str) -> float | None:
            v = d.get(key)
            return float(v) if v is not None else None

        return cls(f("cosine_min"), f("cosine_mean"), f("max_abs"), f("mean_abs"), d.get("top1_agreement"))  # type: ignore[arg-type]


@dataclass(frozen=True)
class AccuracyReport:
    """Comparison result. ``top1_*`` are percent (0-100) or None without labels."""

    top1_fp32: float | None
    top1_other: float | None
    held_out: bool
    samples: int
    vs_fp32: VsFp32
    verdict: str
    reasons: tuple[str, ...]
    advice: tuple[str, ...]
    metric: str = "top1"
    labeled: int = 0
    per_output: dict[str, VsFp32] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    reference: bool = False  # FP32 against itself: its own top-1 on the samples, identity vs_fp32

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def as_reference(self) -> AccuracyReport:
        """This report marked as the FP32 reference (the model compared with itself)."""
        from dataclasses import replace

        return replace(self, reference=True)

    def to_dict(self) -> dict[str, Any]:
        return {
            "top1": self.top1_other,
            "top1_fp32": self.top1_fp32,
            "held_out": self.held_out,
            "samples": self.samples,
            "labeled": self.labeled,
            "metric": self.metric,
            "thresholds": dict(self.thresholds),
            "vs_fp32": self.vs_fp32.to_dict(),
            "per_output": {k: v.to_dict() for k, v in self.per_output.items()},
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "advice": list(self.advice),
            **({"reference": True} if self.reference else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AccuracyReport:
        """Inverse of :meth:`to_dict` (results read back from JSON)."""
        return cls(
            top1_fp32=d.get("top1_fp32"),
            top1_other=d.get("top1"),
            held_out=bool(d.get("held_out", False)),
            samples=int(d.get("samples") or 0),
            vs_fp32=VsFp32.from_dict(d.get("vs_fp32") or {}),
            verdict=str(d.get("verdict", "?")),
            reasons=tuple(d.get("reasons") or ()),
            advice=tuple(d.get("advice") or ()),
            metric=str(d.get("metric", "top1")),
            labeled=int(d.get("labeled") or 0),
            per_output={str(k): VsFp32.from_dict(v or {}) for k, v in (d.get("per_output") or {}).items()},
            thresholds=dict(d.get("thresholds") or {}),
            reference=bool(d.get("reference", False)),
        )


class _OutputStats:
    def __init__(self) -> None:
        self.rows = 0
        self.cos_min = float("inf")
        self.cos_sum = 0.0
        self.max_abs = 0.0
        self.abs_sum = 0.0
        self.elements = 0
        self.agree = 0
        self.classify_rows = 0

    def update(self, a: Any, b: Any) -> None:
        import numpy as np

        a64 = np.asarray(a, dtype=np.float64)
        b64 = np.asarray(b, dtype=np.float64)
        if a64.shape != b64.shape:
            raise ModelError(f"output shapes differ between the models: {a64.shape} vs {b64.shape}")
        rows_a = a64.reshape(a64.shape[0], -1) if a64.ndim >= 1 and a64.shape else a64.reshape(1, -1)
        rows_b = b64.reshape(rows_a.shape)
        diff = np.abs(rows_a - rows_b)
        if diff.size:
            self.max_abs = max(self.max_abs, float(np.nanmax(diff)) if np.all(np.isfinite(diff)) else float("inf"))
            self.abs_sum += float(np.sum(diff))
            self.elements += diff.size
        na = np.linalg.norm(rows_a, axis=1)
        nb = np.linalg.norm(rows_b, axis=1)
        dot = np.sum(rows_a * rows_b, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            cos = np.where((na == 0) & (nb == 0), 1.0, np.where((na == 0) | (nb == 0), 0.0, dot / (na * nb)))
        cos = np.nan_to_num(cos, nan=0.0)
        self.cos_min = min(self.cos_min, float(np.min(cos)))
        self.cos_sum += float(np.sum(cos))
        self.rows += rows_a.shape[0]
        if a64.ndim == 2 and a64.shape[1] > 1:
            self.agree += int(np.sum(np.argmax(a64, axis=1) == np.argmax(b64, axis=1)))
            self.classify_rows += a64.shape[0]

    def result(self) -> VsFp32:
        return VsFp32(
            cosine_min=self.cos_min if self.rows else float("nan"),
            cosine_mean=self.cos_sum / self.rows if self.rows else float("nan"),
            max_abs=self.max_abs,
            mean_abs=self.abs_sum / self.elements if self.elements else 0.0,
            top1_agreement=100.0 * self.agree / self.classify_rows if self.classify_rows else None,
        )


def _threshold(thresholds: Any, name: str, default: float) -> float:
    if thresholds is None:
        return default
    v = thresholds.get(name) if isinstance(thresholds, dict) else getattr(thresholds, name, None)
    return default if v is None else float(v)


def _session(path: Path, session_options: Any, providers: list[str] | None) -> Any:
    import onnxruntime as ort

    try:
        return ort.InferenceSession(str(path), session_options, providers=providers or ["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - third-party failure -> our error
        raise ModelError(f"{path}: onnxruntime cannot load the model ({type(exc).__name__}: {exc})") from None


def _advice(quant: Any, model_ops: set[str], samples: int) -> list[str]:
    advice = []
    transformerish = (
        bool(model_ops & {"Attention", "MultiHeadAttention", "LayerNormalization", "Softmax"})
        and ("MatMul" in model_ops)
        and "Conv" not in model_ops
    )
    if transformerish:
        advice.append(
            "this looks like a transformer: on CPU use dynamic INT8 quantization "
            "(onnxruntime.quantization.quantize_dynamic) instead of static QDQ"
        )
    advice.append(
        "keep the most sensitive layers in float: quantization.op_types_to_exclude "
        "(e.g. ['Softmax', 'Add']) or quantization.nodes_to_exclude"
    )
    per_channel = getattr(quant, "per_channel", None) if not isinstance(quant, dict) else quant.get("per_channel")
    if per_channel:
        advice.append("try quantization.per_channel = false")
    else:
        advice.append("try quantization.per_channel = true (per-channel weight scales)")
    advice.append(
        f"calibrate on more or more representative data ({samples} samples used), "
        "or another method (--method entropy | percentile)"
    )
    advice.append("use --precision fp16 (keeps accuracy; on CPU rarely faster than fp32)")
    return advice


def compare_models(
    fp32_path: Path,
    other_path: Path,
    dataset: Any,
    *,
    thresholds: Any = None,
    held_out: bool,
    session_options: Any = None,
    metric: str = "top1",
    quant: Any = None,
    providers: list[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> AccuracyReport:
    """Compare ``other_path`` (INT8/FP16) against ``fp32_path`` on ``dataset``.

    Args:
        thresholds: AccuracySection-like or dict with ``max_top1_drop_pts`` (points) and ``min_cosine``;
            None → 1.0 points and 0.99.
        held_out: True when ``dataset`` is an evaluation set the calibration never saw.
        metric: "top1" or "cosine" (see module doc).
        quant: the quantization options used (tailors the advice), optional.

    Raises:
        ModelError: a model cannot be loaded or the two models' outputs differ in shape.
        DatasetError: a sample cannot be read. Cancelled: ``cancel`` was set.
    """
    import numpy as np
    import onnx

    if metric not in ("top1", "cosine"):
        raise ValueError(f"metric must be 'top1' or 'cosine', got {metric!r}")
    max_drop = _threshold(thresholds, "max_top1_drop_pts", DEFAULT_MAX_TOP1_DROP_PTS)
    min_cos = _threshold(thresholds, "min_cosine", DEFAULT_MIN_COSINE)
    s_ref = _session(Path(fp32_path), session_options, providers)
    s_oth = _session(Path(other_path), session_options, providers)
    names = [o.name for o in s_ref.get_outputs()]
    other_names = {o.name for o in s_oth.get_outputs()}
    missing = [n for n in names if n not in other_names]
    if missing:
        raise ModelError(f"{other_path}: lacks output(s) {missing} of {fp32_path}")
    stats = {n: _OutputStats() for n in names}
    classifier: str | None = None
    correct_ref = correct_oth = labeled = files = 0
    total = dataset.count
    for _fname, feed, label in dataset.iter_labeled():
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"accuracy check cancelled after {files} of {total} files")
        ref = s_ref.run(names, feed)
        oth = s_oth.run(names, feed)
        for n, a, b in zip(names, ref, oth, strict=True):
            stats[n].update(a, b)
            if classifier is None and np.asarray(a).ndim == 2 and np.asarray(a).shape[1] > 1:
                classifier = n
        if label is not None and classifier is not None:
            i = names.index(classifier)
            a, b = np.asarray(ref[i]), np.asarray(oth[i])
            if a.shape[0] == 1:
                labeled += 1
                correct_ref += int(np.argmax(a[0]) == label)
                correct_oth += int(np.argmax(b[0]) == label)
        files += 1
        if progress:
            progress(files, total)
    per = {n: s.result() for n, s in stats.items()}
    rows = max((s.rows for s in stats.values()), default=0)
    summary = VsFp32(
        cosine_min=min(v.cosine_min for v in per.values()),
        cosine_mean=min(v.cosine_mean for v in per.values()),
        max_abs=max(v.max_abs for v in per.values()),
        mean_abs=max(v.mean_abs for v in per.values()),
        top1_agreement=per[classifier].top1_agreement if classifier else None,
    )
    top1_ref = 100.0 * correct_ref / labeled if labeled else None
    top1_oth = 100.0 * correct_oth / labeled if labeled else None

    reasons: list[str] = []
    if metric == "top1" and classifier is not None:
        if top1_ref is not None and top1_oth is not None:
            drop = top1_ref - top1_oth
            if drop > max_drop:
                reasons.append(
                    f"top-1 accuracy dropped {drop:.2f} points ({top1_ref:.2f}% -> {top1_oth:.2f}%), "
                    f"more than the allowed {max_drop:g}"
                )
        elif summary.top1_agreement is not None and 100.0 - summary.top1_agreement > max_drop:
            reasons.append(
                f"top-1 agrees with FP32 on {summary.top1_agreement:.2f}% of samples; "
                f"disagreement {100.0 - summary.top1_agreement:.2f} points exceeds the allowed {max_drop:g}"
            )
    if not np.isfinite(summary.cosine_mean) or summary.cosine_mean < min_cos:
        reasons.append(f"mean cosine similarity to FP32 is {summary.cosine_mean:.4f}, below the required {min_cos:g}")
    verdict = "fail" if reasons else "pass"
    advice: list[str] = []
    if reasons:
        try:
            ops = {n.op_type for n in onnx.load(str(fp32_path), load_external_data=False).graph.node}
        except Exception:  # noqa: BLE001 - advice only
            ops = set()
        advice = _advice(quant, ops, rows)
    return AccuracyReport(
        top1_fp32=top1_ref,
        top1_other=top1_oth,
        held_out=held_out,
        samples=rows,
        vs_fp32=summary,
        verdict=verdict,
        reasons=tuple(reasons),
        advice=tuple(advice),
        metric=metric,
        labeled=labeled,
        per_output=per,
        thresholds={"max_top1_drop_pts": max_drop, "min_cosine": min_cos},
    )
