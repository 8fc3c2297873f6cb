"""Task metrics of the accuracy check, computed only when the model spec declares the task (``[task] kind``).

All three compare the other precision's decision with FP32's along the output's channel axis
(core/accuracy_slices.py says how the axis is chosen; ``[outputs.<name>] channel_axis`` overrides it); a
*position* is one index of every other axis (for ``[N, C]`` a row, for ``[N, 84, 8400]`` an anchor):

* ``classification``: top-1 agreement = share of positions whose argmax is the same; top-5 agreement = share of
  positions whose FP32 argmax is among the other model's 5 highest (ties broken by ``numpy.argpartition``); with
  ``labels.csv``, top-5 accuracy of each model (label among its 5 highest; batch-1 items only, as top-1).
* ``detection``: over the ``scores`` part only (``[outputs.<name>] parts``), the positions whose FP32 top score
  is above ``score_threshold``; agreement = share of them whose top class is the same in both models.
* ``sequence``: per-position argmax agreement over every position (tokens of a sequence output).

Figures are percent (0–100). The verdict fails when detection / sequence agreement is below
``min_agreement_pct`` (default 90, the issue's bar for a detector head); classification is judged by the
top-1 rules of core/accuracy.py (labels or agreement against ``max_top1_drop_pts``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

KINDS = ("classification", "detection", "sequence")
DEFAULT_SCORE_THRESHOLD = 0.25  # Ultralytics' default confidence for predictions (model.predict conf=0.25)
DEFAULT_MIN_AGREEMENT_PCT = 90.0
TOP_K = 5


@dataclass(frozen=True)
class TaskReport:
    """The declared task's figures (module doc); percents or None when there was nothing to count."""

    kind: str
    output: str
    positions: int
    agreement_pct: float | None
    min_agreement_pct: float
    score_threshold: float | None = None
    top5_agreement_pct: float | None = None
    top5_fp32: float | None = None
    top5_other: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "output": self.output,
            "positions": self.positions,
            "agreement_pct": self.agreement_pct,
            "min_agreement_pct": self.min_agreement_pct,
            "score_threshold": self.score_threshold,
            "top5_agreement_pct": self.top5_agreement_pct,
            "top5_fp32": self.top5_fp32,
            "top5_other": self.top5_other,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TaskReport:
        def f(key: str) -> float | None:
            v = d.get(key)
            return float(v) if v is not None else None

        return cls(
            str(d.get("kind", "")),
            str(d.get("output", "")),
            int(d.get("positions") or 0),
            f("agreement_pct"),
            float(d.get("min_agreement_pct", DEFAULT_MIN_AGREEMENT_PCT)),
            f("score_threshold"),
            f("top5_agreement_pct"),
            f("top5_fp32"),
            f("top5_other"),
        )

    def describe(self) -> str:
        """One line for the summaries (both faces)."""
        pct = f"{self.agreement_pct:.2f} %" if self.agreement_pct is not None else "n/a"
        if self.kind == "classification":
            text = f"top-1 agreement {pct}"
            if self.top5_agreement_pct is not None:
                text += f", top-5 agreement {self.top5_agreement_pct:.2f} %"
            if self.top5_other is not None and self.top5_fp32 is not None:
                text += f", top-5 {self.top5_other:.2f} % vs FP32 {self.top5_fp32:.2f} %"
            return f"task classification ('{self.output}'): {text} on {self.positions} positions"
        if self.kind == "detection":
            return (
                f"task detection ('{self.output}'): top-class agreement {pct} on {self.positions} positions with "
                f"FP32 score > {self.score_threshold:g}"
            )
        return f"task sequence ('{self.output}'): per-position argmax agreement {pct} on {self.positions} positions"


class TaskStats:
    """Accumulates one task's counts over the eval items.

    Args:
        kind: one of :data:`KINDS`. output: the output name. axis: its channel axis (None: last axis).
        scores: (start, stop) channels of the scores part (detection). score_threshold: detection threshold.
    """

    def __init__(
        self,
        kind: str,
        output: str,
        axis: int | None,
        *,
        scores: tuple[int, int] | None = None,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        min_agreement_pct: float = DEFAULT_MIN_AGREEMENT_PCT,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"task kind must be one of {KINDS}, got {kind!r}")
        self.kind, self.output, self.axis = kind, output, axis
        self.scores, self.threshold, self.min_agreement = scores, float(score_threshold), float(min_agreement_pct)
        self.positions = self.agree = self.agree5 = 0
        self.labeled = self.correct5_ref = self.correct5_oth = 0

    def _channels_last(self, a: Any) -> Any:
        import numpy as np

        x = np.asarray(a, dtype=np.float64)
        if x.ndim == 0:
            return x.reshape(1, 1)
        axis = self.axis if self.axis is not None else x.ndim - 1
        return np.moveaxis(x, axis, -1).reshape(-1, x.shape[axis])

    def update(self, a: Any, b: Any, label: int | None = None) -> None:
        """Add one item's outputs ``a`` (FP32) and ``b`` (other); ``label`` scores top-5 for batch-1 items."""
        import numpy as np

        ra, rb = self._channels_last(a), self._channels_last(b)
        if self.kind == "detection" and self.scores is not None:
            ra, rb = ra[:, self.scores[0] : self.scores[1]], rb[:, self.scores[0] : self.scores[1]]
        if ra.shape[1] == 0:
            return
        top_a, top_b = np.argmax(ra, axis=1), np.argmax(rb, axis=1)
        same = top_a == top_b
        if self.kind == "detection":
            mask = np.max(ra, axis=1) > self.threshold
            self.positions += int(np.sum(mask))
            self.agree += int(np.sum(same & mask))
            return
        self.positions += ra.shape[0]
        self.agree += int(np.sum(same))
        if self.kind != "classification":
            return
        k = min(TOP_K, ra.shape[1])
        top5_b = np.argpartition(-rb, k - 1, axis=1)[:, :k]
        self.agree5 += int(np.sum(np.any(top5_b == top_a[:, None], axis=1)))
        if label is not None and ra.shape[0] == 1:
            top5_a = np.argpartition(-ra, k - 1, axis=1)[:, :k]
            self.labeled += 1
            self.correct5_ref += int(label in top5_a[0])
            self.correct5_oth += int(label in top5_b[0])

    def result(self) -> TaskReport:
        def pct(n: int, d: int) -> float | None:
            return 100.0 * n / d if d else None

        cls = self.kind == "classification"
        return TaskReport(
            kind=self.kind,
            output=self.output,
            positions=self.positions,
            agreement_pct=pct(self.agree, self.positions),
            min_agreement_pct=self.min_agreement,
            score_threshold=self.threshold if self.kind == "detection" else None,
            top5_agreement_pct=pct(self.agree5, self.positions) if cls else None,
            top5_fp32=pct(self.correct5_ref, self.labeled) if cls else None,
            top5_other=pct(self.correct5_oth, self.labeled) if cls else None,
        )
