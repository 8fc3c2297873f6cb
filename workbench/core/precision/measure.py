"""Measuring QDQ model variants the way the accuracy check measures the deployed model.

Sessions run on the CPU execution provider with the accuracy check's ``SessionOptions``; outputs are scored
against FP32 by core/accuracy.py's own per-output statistics, so a figure here and the check's figure for the same
model and samples are the same number.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from workbench.core.errors import ModelError


def finite(v: float | None) -> float | None:
    """``v`` for JSON: NaN -> None, ±inf -> ±1e9."""
    if v is None:
        return None
    return float(v) if math.isfinite(v) else (None if math.isnan(v) else (1e9 if v > 0 else -1e9))


def session(model_or_path: Any, session_options: Any = None) -> Any:
    """A CPU session on a path or ModelProto; ``session_options`` None = onnxruntime's defaults (what the accuracy
    check uses when given none)."""
    import onnxruntime as ort

    so = session_options
    if so is None:
        so = ort.SessionOptions()
        so.log_severity_level = 3
    src = str(model_or_path) if isinstance(model_or_path, (str, Path)) else model_or_path.SerializeToString()
    try:
        return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - ORT's own exception types
        raise ModelError(
            f"onnxruntime cannot load a localisation variant: {type(exc).__name__}: {exc}",
            hint="lower --layer-candidates or --layer-samples, or upgrade onnxruntime; this variant of the INT8 "
            "model keeps some layers in float",
        ) from None


class Scorer:
    """Outputs of a model on the samples against FP32's, scored as core/accuracy.py ``compare_models`` scores them
    (its per-output statistics class, so the two cannot drift apart): ``(cosine_mean of the worst output, top-1
    agreement % of the first 2-D output or None)``."""

    def __init__(self, samples: list[dict[str, Any]], refs: list[list[Any]], names: list[str]) -> None:
        import numpy as np

        self.samples, self.refs, self.names = samples, refs, names
        self.classifier = next(
            (i for i, a in enumerate(refs[0]) if np.asarray(a).ndim == 2 and np.asarray(a).shape[1] > 1), None
        )

    def score(self, sess: Any) -> tuple[float, float | None]:
        from workbench.core.accuracy import OutputStats

        stats = [OutputStats() for _ in self.names]
        for feed, ref in zip(self.samples, self.refs, strict=True):
            for s, a, b in zip(stats, ref, sess.run(self.names, feed), strict=True):
                s.update(a, b)
        res = [s.result() for s in stats]
        top1 = res[self.classifier].top1_agreement if self.classifier is not None else None
        return min(r.cosine_mean for r in res), top1


class StreamingCosine:
    """Streaming cosine of two tensors over many samples (float64 sums): the local figure ``cosine_vs_fp32``."""

    def __init__(self) -> None:
        self.dot = self.aa = self.bb = 0.0

    def add(self, a: Any, b: Any) -> None:
        import numpy as np

        x = np.asarray(a, dtype=np.float64).ravel()
        y = np.asarray(b, dtype=np.float64).ravel()
        self.dot += float(x @ y)
        self.aa += float(x @ x)
        self.bb += float(y @ y)

    def value(self) -> float:
        if self.aa == 0 and self.bb == 0:
            return 1.0
        if self.aa == 0 or self.bb == 0:
            return 0.0
        return self.dot / math.sqrt(self.aa * self.bb)


def median_latency_ms(
    model_path: str | Path,
    feed: dict[str, Any],
    *,
    seconds: float = 0.3,
    min_runs: int = 20,
    session_options: Any = None,
) -> float:
    """In-process median latency (ms) of one ``run`` on ``feed``, after 5 warm-up runs; for relative costs only."""
    import statistics

    sess = session(Path(model_path), session_options)
    for _ in range(5):
        sess.run(None, feed)
    times = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < seconds:
        t0 = time.perf_counter_ns()
        sess.run(None, feed)
        times.append((time.perf_counter_ns() - t0) / 1e6)
    return statistics.median(times)
