"""FP32 versus another precision: per-output error metrics, per-slice figures, top-1 accuracy, task metrics
and a verdict.

Both models run in onnxruntime over the same dataset, one file at a time (memory does not grow
with the dataset). ``samples`` is the number of eval items (files) compared. Per output, over every
sample row (batch rows count separately; these figures are per row, not per item):

* ``max_abs`` = max |a - b|, ``mean_abs`` = mean |a - b| over all elements;
* cosine similarity of each row flattened, ``a·b / (|a| |b|)`` in float64 (1.0 when both rows are
  all zero, 0.0 when only one is); ``cosine_min`` and ``cosine_mean`` over rows;
* for 2-D outputs ``[batch, classes]``: top-1 agreement = share of rows whose argmax over the last
  dim is the same in both models (percent);
* with ``labels.csv``: top-1 accuracy of each model against the labels (percent; the first 2-D
  output is the classifier; files holding a batch of more than one row are not scored).

The summary (``vs_fp32``) takes the worst output: lowest cosines, highest errors; top-1
agreement comes from the first 2-D output (the declared one when the spec says ``[task] kind =
"classification"``).

Per slice (core/accuracy_slices.py): each output is cut along its channel axis; ``per_slice`` reports the
parts declared in the model spec (``[outputs.<name>] parts``), or every channel of small outputs, or the
worst few channels; ``collapsed`` lists the channels whose other-precision values collapsed (≤ 2 distinct
values, or range shrunk by more than half) — with no spec at all. Task metrics (core/task_metrics.py) only
when the spec declares ``[task] kind``.

Verdict (thresholds from the profile's ``[accuracy]`` or the model spec):

* metric ``"top1"`` (default): with labels, fail when ``top1_fp32 - top1_other > max_top1_drop_pts``;
  without labels, fail when the disagreement ``100 - top1_agreement`` exceeds ``max_top1_drop_pts``
  (a disagreement bounds the accuracy change from above). Models with no 2-D output use cosine only.
* both metrics: fail when ``cosine_mean < min_cosine`` (the mean over rows, so one odd sample does
  not decide; ``cosine_min`` is reported next to it);
* both metrics: fail when a slice collapsed (the reason names the output and its channels) — the
  whole-output cosine cannot see it (a detector's scores rounded to 0 beside its boxes read 0.999);
* a declared task: classification adds its top-1 agreement to the top-1 rule when the output has none
  of its own; detection and sequence fail below ``[task] min_agreement_pct`` (default 90).

A failed verdict is a result to report, not an error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.accuracy_slices import ChannelStats, CollapsedSlice, OutputSlices, default_channel_axis
from workbench.core.errors import Cancelled, ConfigError, ModelError
from workbench.core.task_metrics import TaskReport, TaskStats

DEFAULT_MAX_TOP1_DROP_PTS = 1.0
DEFAULT_MIN_COSINE = 0.99
MAX_COLLAPSED_REASONS = 5  # collapsed slices named in the verdict's reasons; the rest are counted


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
    # Added with the per-slice check; None in reports stored before it (their JSON has no such keys).
    per_slice: dict[str, OutputSlices] | None = None
    collapsed: tuple[CollapsedSlice, ...] | None = None
    task: TaskReport | None = None

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
            **(
                {"per_slice": {k: v.to_dict() for k, v in self.per_slice.items()}} if self.per_slice is not None else {}
            ),
            **({"collapsed": [c.to_dict() for c in self.collapsed]} if self.collapsed is not None else {}),
            **({"task": self.task.to_dict()} if self.task is not None else {}),
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
            per_slice={str(k): OutputSlices.from_dict(v or {}) for k, v in d["per_slice"].items()}
            if isinstance(d.get("per_slice"), dict)
            else None,
            collapsed=tuple(CollapsedSlice.from_dict(c or {}) for c in d["collapsed"])
            if isinstance(d.get("collapsed"), list)
            else None,
            task=TaskReport.from_dict(d["task"]) if isinstance(d.get("task"), dict) else None,
        )


class OutputStats:
    """Running comparison of one output between a reference (FP32) and a candidate model, batch by batch.

    ``update(a, b)`` takes two arrays of one shape ``(batch, ...)`` (any dtype, compared as float64); each row
    (sample) is flattened. Kept: per-row cosine (min and sum; two zero rows count 1.0, one zero row 0.0, NaN 0.0),
    max and sum of absolute differences, and for 2-D ``(batch, classes)`` outputs the argmax agreement.
    ``result()`` gives a :class:`VsFp32` (top-1 agreement in percent). Raises ModelError when shapes differ.
    """

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
            raise ModelError(
                f"output shapes differ between the models: {a64.shape} vs {b64.shape}",
                hint="compare models with the same output shapes: build both with the same --batch / --shapes",
            )
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
        raise ModelError(
            f"{path}: onnxruntime cannot load the model ({type(exc).__name__}: {exc})",
            hint="check that the model runs in onnxruntime on CPU (`workbench bench MODEL --precision fp32` on an "
            "onnxruntime profile); re-export it with an older --opset if the op is unsupported",
        ) from None


def _track_reference(name: str, a: Any, first: dict[str, Any], varies: set[str]) -> None:
    """Note whether the reference output ``name`` differs between samples (rows of every batch)."""
    import numpy as np

    if name in varies:
        return
    rows = np.asarray(a, dtype=np.float64)
    rows = rows.reshape(rows.shape[0], -1) if rows.ndim >= 1 and rows.shape else rows.reshape(1, -1)
    if name not in first:
        first[name] = rows[0].copy()
    if any(not np.array_equal(r, first[name], equal_nan=True) for r in rows):
        varies.add(name)


def _advice_fp16(precision: str, overflow: bool) -> list[str]:
    """Advice for a failed FP16 / BF16 verdict (no calibration: the lower precision itself is the cause)."""
    advice = []
    if overflow and precision == "fp16":
        advice.append(
            "values overflow FP16 (largest 65504): keep the overflowing layers in FP32 — on TensorRT 11 / "
            "strongly_typed profiles the FP16 ONNX does this from calibration data (--calib DIR) — or use bf16 "
            "(FP32's range) on the torch backend"
        )
    advice.append(
        f"{precision} keeps {'11' if precision == 'fp16' else '8'} significant bits: a model this sensitive needs "
        "its sensitive layers in fp32, or stays in fp32"
    )
    return advice


def _advice(quant: Any, model_ops: set[str], calib_samples: int | None, collapsed: bool = False) -> list[str]:
    """Advice for a failed verdict; ``calib_samples`` is the calibration sample count (None: not known here)."""
    advice = []
    if collapsed:

        def opt(key: str) -> Any:
            return quant.get(key) if isinstance(quant, dict) else getattr(quant, key, None)

        if quant is None or opt("keep_float_outputs") is False or opt("concat_range_ratio") in (0, 0.0):
            advice.append(
                "keep the collapsed tensor in float: quantization.keep_float_outputs = true and "
                "concat_range_ratio = 16 (the defaults) do it for outputs and mixed-range Concats"
            )
        else:
            advice.append(
                "the outputs are float already (keep_float_outputs), so the damage is upstream: "
                "`workbench compare --per-layer --auto-exclude` finds the layers to keep in float"
            )
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
    used = f" ({calib_samples} calibration samples used)" if calib_samples else ""
    advice.append(
        f"calibrate on more or more representative data{used}, or another method (--method entropy | percentile)"
    )
    advice.append("use --precision fp16 (keeps accuracy; on CPU rarely faster than fp32)")
    return advice


def _axis_for(
    name: str, shape: tuple[int, ...], out_spec: Any, source: Any, task_kind: str | None = None
) -> int | None:
    """The channel axis of output ``name`` (spec's ``channel_axis`` or accuracy_slices' rule), checked.

    ``task_kind == "sequence"`` for the task's output: the vocabulary is the last axis (``[N, T, V]``, as PaddleOCR's
    CTC head and Hugging Face token logits lay it out), whatever the sizes — the rank-3 "shorter axis" rule is a
    detection-head rule and would take the time steps of a 40×6625 CTC output as channels."""
    declared = getattr(out_spec, "channel_axis", None) if out_spec is not None else None
    if declared is None:
        if task_kind == "sequence" and len(shape) >= 3:
            return len(shape) - 1
        return default_channel_axis(shape)
    axis = declared + len(shape) if declared < 0 else declared
    if not 1 <= axis < len(shape):
        raise ConfigError(
            f"{source}: [outputs.{name}] channel_axis = {declared}, but output '{name}' has shape {list(shape)}",
            hint=f"give an axis from 1 to {len(shape) - 1} (0 is the batch axis), or leave channel_axis out",
        )
    return axis


def _parts_for(name: str, channels: int, axis: int | None, out_spec: Any, source: Any) -> tuple:
    if out_spec is None or not out_spec.parts:
        return ()
    parts = out_spec.resolved_parts(channels)
    for pname, a, b in parts:
        if b > channels or a >= channels:
            raise ConfigError(
                f"{source}: [outputs.{name}] parts.{pname} = \"{a}:{b}\", but output '{name}' has {channels} "
                f"channels on axis {axis}",
                hint="parts are channel ranges start:stop on the channel axis (stop exclusive; empty = to the end)",
            )
    return parts


def _check_spec_names(spec: Any, names: list[str], model: Path) -> None:
    """Every output the spec names exists in the model (ConfigError naming the spec file otherwise)."""
    if spec is None:
        return
    wanted = [(f"[outputs.{n}]", n) for n in getattr(spec, "outputs", {}) or {}]
    task = getattr(spec, "task", None)
    if task is not None and task.output:
        wanted.append(("task.output", task.output))
    for key, n in wanted:
        if n not in names:
            raise ConfigError(
                f"{spec.source}: {key} names output '{n}', which {model.name} does not have",
                hint=f"its outputs: {', '.join(names)}",
            )


def _top1(a: Any, axis: int | None) -> int | None:
    """The class of a one-position output (argmax along ``axis``, else the last axis), None for several positions."""
    import numpy as np

    x = np.asarray(a)
    ax = axis if axis is not None and x.ndim > 1 else x.ndim - 1
    if x.ndim == 0 or x.size // max(x.shape[ax], 1) != 1:
        return None
    return int(np.argmax(np.moveaxis(x, ax, -1).reshape(-1)))


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
    spec: Any = None,
    calib_samples: int | None = None,
    providers: list[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    sessions: tuple[Any, Any] | None = None,
    precision: str | None = None,
) -> AccuracyReport:
    """Compare ``other_path`` (INT8/FP16) against ``fp32_path`` on ``dataset``.

    Args:
        thresholds: AccuracySection-like or dict with ``max_top1_drop_pts`` (points) and ``min_cosine``;
            None → 1.0 points and 0.99.
        held_out: True when ``dataset`` is an evaluation set the calibration never saw.
        metric: "top1" or "cosine" (see module doc).
        quant: the quantization options used (tailors the advice), optional.
        spec: the model spec (core/spec.py ModelSpec): ``[task]`` and ``[outputs.<name>]``, optional.
        calib_samples: calibration samples behind ``other_path`` (named in the advice), optional.
        sessions: (FP32, other) objects shaped like onnxruntime sessions (``get_outputs()``, ``run(names, feed)``)
            used instead of opening the two paths with onnxruntime: the torch backend's PyTorch runs
            (backends/torch_backend.py ``TorchSession``); the paths then only name the models in messages.
        precision: what ``other_path`` carries ("int8", "fp16", "bf16"; None = INT8): the advice of a failed
            verdict is for that precision (an FP16 overflow is not fixed by calibrating on more data).

    Two checks beyond the thresholds (each a reason, so the verdict fails): inf/NaN in the other model's outputs
    (FP16 overflow: FP16's largest value is 65504), named instead of the meaningless ranges it would give; and an
    FP32 reference whose outputs are the same for every sample (the model ignores its input: a broken model or
    inputs that do not reach it) — then nothing was compared, and two all-zero outputs would show cosine 1.0.

    Raises:
        ModelError: a model cannot be loaded or the two models' outputs differ in shape.
        ConfigError: the spec names an output the model lacks, an axis or a part it does not have.
        DatasetError: a sample cannot be read. Cancelled: ``cancel`` was set.
    """
    import numpy as np
    import onnx

    if metric not in ("top1", "cosine"):
        raise ValueError(f"metric must be 'top1' or 'cosine', got {metric!r}")
    max_drop = _threshold(thresholds, "max_top1_drop_pts", DEFAULT_MAX_TOP1_DROP_PTS)
    min_cos = _threshold(thresholds, "min_cosine", DEFAULT_MIN_COSINE)
    if sessions is not None:
        s_ref, s_oth = sessions
    else:
        s_ref = _session(Path(fp32_path), session_options, providers)
        s_oth = _session(Path(other_path), session_options, providers)
    names = [o.name for o in s_ref.get_outputs()]
    other_names = {o.name for o in s_oth.get_outputs()}
    missing = [n for n in names if n not in other_names]
    if missing:
        raise ModelError(
            f"{other_path}: lacks output(s) {missing} of {fp32_path}",
            hint="compare a model made from this FP32 model (its outputs keep their names); keep graph outputs in "
            "float and unrenamed when converting",
        )
    _check_spec_names(spec, names, Path(fp32_path))
    out_specs = dict(getattr(spec, "outputs", None) or {}) if spec is not None else {}
    source = getattr(spec, "source", "model spec")
    task_spec = getattr(spec, "task", None) if spec is not None else None
    task_name = spec.task_output(names) if task_spec is not None else None
    stats = {n: OutputStats() for n in names}
    chans: dict[str, ChannelStats] = {}
    parts: dict[str, tuple] = {}
    task: TaskStats | None = None
    classifier: str | None = task_name if task_spec is not None and task_spec.kind == "classification" else None
    correct_ref = correct_oth = labeled = files = 0
    first_ref: dict[str, Any] = {}  # each output's first reference row: does the reference vary at all?
    ref_varies: set[str] = set()
    nonfinite: dict[str, int] = {}  # samples whose other-model output holds inf/NaN, per output
    total = dataset.count
    for _fname, feed, label in dataset.iter_labeled():
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"accuracy check cancelled after {files} of {total} files")
        ref = s_ref.run(names, feed)
        oth = s_oth.run(names, feed)
        for n, a, b in zip(names, ref, oth, strict=True):
            stats[n].update(a, b)
            _track_reference(n, a, first_ref, ref_varies)
            if not np.all(np.isfinite(np.asarray(b, dtype=np.float64))):
                nonfinite[n] = nonfinite.get(n, 0) + 1
            if n not in chans:
                shape = tuple(np.asarray(a).shape)
                kind = task_spec.kind if task_spec is not None and n == task_name else None
                axis = _axis_for(n, shape, out_specs.get(n), source, kind)
                chans[n] = ChannelStats(n, axis)
                channels = shape[axis] if axis is not None else 1
                parts[n] = _parts_for(n, channels, axis, out_specs.get(n), source)
            chans[n].update(a, b)
            if classifier is None and np.asarray(a).ndim == 2 and np.asarray(a).shape[1] > 1:
                classifier = n
        if task_spec is not None and task_name is not None:
            i = names.index(task_name)
            if task is None:
                scores = next(((a, b) for p, a, b in parts[task_name] if p == "scores"), None)
                task = TaskStats(
                    task_spec.kind,
                    task_name,
                    chans[task_name].axis,
                    scores=scores,
                    score_threshold=task_spec.score_threshold,
                    min_agreement_pct=task_spec.min_agreement_pct,
                )
            task.update(ref[i], oth[i], label)
        if label is not None and classifier is not None:
            i = names.index(classifier)
            axis = chans[classifier].axis
            pa, pb = _top1(ref[i], axis), _top1(oth[i], axis)
            if pa is not None and pb is not None:
                labeled += 1
                correct_ref += int(pa == label)
                correct_oth += int(pb == label)
        files += 1
        if progress:
            progress(files, total)
    per = {n: s.result() for n, s in stats.items()}
    task_report = task.result() if task is not None else None
    top1_agree = per[classifier].top1_agreement if classifier else None
    if top1_agree is None and task_report is not None and task_report.kind == "classification":
        top1_agree = task_report.agreement_pct
    summary = VsFp32(
        cosine_min=min(v.cosine_min for v in per.values()),
        cosine_mean=min(v.cosine_mean for v in per.values()),
        max_abs=max(v.max_abs for v in per.values()),
        mean_abs=max(v.mean_abs for v in per.values()),
        top1_agreement=top1_agree,
    )
    top1_ref = 100.0 * correct_ref / labeled if labeled else None
    top1_oth = 100.0 * correct_oth / labeled if labeled else None
    per_slice = {n: r for n, c in chans.items() if (r := c.report(parts[n])) is not None}
    # An output with inf/NaN has no meaningful range or channel statistics: its non-finite values are the reason.
    collapsed = tuple(x for n in names if n in chans and n not in nonfinite for x in chans[n].collapsed(parts[n]))

    reasons: list[str] = []
    for n, k in nonfinite.items():
        reasons.append(
            f"output '{n}' has inf/NaN in {k} of {files} samples"
            + (" (FP16 overflow: values beyond ±65504)" if precision == "fp16" else "")
        )
    constant = files >= 2 and not (ref_varies & set(first_ref))
    if constant:
        reasons.append(
            f"the FP32 reference gives the same output for all {files} samples: the model ignores its input (a broken "
            "model, or inputs that do not reach it), so nothing was compared"
        )
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
    # A classifier's collapse shows in dozens of class channels: the first few make the point; all are in the
    # report's ``collapsed`` (JSON) for whoever wants the list.
    for c in collapsed[:MAX_COLLAPSED_REASONS]:
        reasons.append(f"collapsed: {c.describe()}")
    if len(collapsed) > MAX_COLLAPSED_REASONS:
        reasons.append(
            f"collapsed: {len(collapsed) - MAX_COLLAPSED_REASONS} more slice(s) (all {len(collapsed)} in the JSON's "
            "`collapsed`)"
        )
    tr = task_report
    if tr is not None and tr.kind != "classification" and tr.agreement_pct is not None:
        if tr.agreement_pct < tr.min_agreement_pct:
            what = "top-class agreement" if tr.kind == "detection" else "per-position argmax agreement"
            reasons.append(
                f"{what} with FP32 on output '{tr.output}' is {tr.agreement_pct:.2f}% over {tr.positions} positions, "
                f"below the required {tr.min_agreement_pct:g}%"
            )
    verdict = "fail" if reasons else "pass"
    advice: list[str] = []
    if reasons:
        try:
            ops = {n.op_type for n in onnx.load(str(fp32_path), load_external_data=False).graph.node}
        except Exception:  # noqa: BLE001 - advice only
            ops = set()
        if constant:
            advice = [
                "check the FP32 model itself on a few inputs (workbench bench --eval DIR at --precision fp32), and "
                "the dataset's preprocess.toml (size, layout, scale, mean/std) against what the model expects"
            ]
        elif precision in ("fp16", "bf16"):
            advice = _advice_fp16(precision, bool(nonfinite))
        else:
            advice = _advice(quant, ops, calib_samples, collapsed=bool(collapsed))
    return AccuracyReport(
        top1_fp32=top1_ref,
        top1_other=top1_oth,
        held_out=held_out,
        samples=files,
        vs_fp32=summary,
        verdict=verdict,
        reasons=tuple(reasons),
        advice=tuple(advice),
        metric=metric,
        labeled=labeled,
        per_output=per,
        thresholds={"max_top1_drop_pts": max_drop, "min_cosine": min_cos},
        per_slice=per_slice,
        collapsed=collapsed,
        task=task_report,
    )
