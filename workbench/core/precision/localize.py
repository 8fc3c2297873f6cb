"""INT8 error localisation: which quantized activations hurt the output, and re-quantization without them.

Method (our own, in the spirit of onnxruntime's ``quantization.qdq_loss_debug``):

1. In the QDQ model, every activation quantization is a pair ``T -> QuantizeLinear -> DequantizeLinear -> T_dq``
   (weights are stored quantized and have a DequantizeLinear only, so they are not candidates).
2. **Local error** per pair: the model is run with ``T`` and ``T_dq`` added as outputs; over the samples,
   SQNR = 10·log10(Σ T² / Σ (T − T_dq)²) in dB (higher is better; 8-bit on well-spread data gives ≈ 30–45 dB),
   and, where the FP32 model has a tensor of the same name, the cosine of FP32 ``T`` against ``T_dq``
   (the error accumulated up to that point).
3. **Output impact** per pair (the ranking): the same QDQ model with just that pair bypassed (its consumers read
   ``T`` in float) is run on the samples, and its outputs' cosine to FP32 is compared with the fully quantized
   model's. The pair whose bypass recovers most of the output is the layer INT8 breaks. SQNR alone can miss it: a
   huge-range tensor (one channel at 1e4, the rest near 1) keeps a good global SQNR while all its small channels
   round to zero. Pairs chained through data-movement ops (Reshape, Transpose, Squeeze, Flatten … : ORT gives
   them the same range, so bypassing one alone changes nothing) are bypassed together as one group. To bound the
   cost, when there are more than ``max_candidates`` groups, the candidates are the half with the lowest SQNR and
   the half with the highest ``zeroed_pct`` (share of positive float values that quantize to exactly zero: the
   signature of a range blown up by outliers).
4. ``auto_exclude``: re-quantize with the ranked pairs' nodes (the producer of ``T`` and the consumers of ``T_dq``)
   in ``nodes_to_exclude``, one pair at a time in rank order, until the accuracy check passes or the budget of
   excluded nodes is used; every step is recorded, and the latency of the first and last QDQ model (and FP32)
   is measured in-process so the speed cost of the exclusions is reported.

Sessions run on the CPU execution provider. Models over 2 GiB are not supported here (the variants are
serialized in memory).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.errors import CalibrationError, ModelError


@dataclass(frozen=True)
class LayerError:
    """One quantized activation. ``output_cosine_if_float``: min over outputs of the cosine to FP32 with only this
    activation left in float (None when it was not tried); ``gain`` = that minus the fully quantized cosine."""

    tensor: str
    node: str  # producer of the tensor ("" for a graph input)
    op: str
    consumers: tuple[str, ...]
    sqnr_db: float
    zeroed_pct: float
    cosine_vs_fp32: float | None
    output_cosine_if_float: float | None
    gain: float | None
    tensors: tuple[str, ...] = ()  # every activation of the group (a chain through Reshape/Transpose/...)
    exclude_nodes: tuple[str, ...] = ()  # nodes to keep in FP32 so that none of ``tensors`` is quantized

    def to_dict(self) -> dict[str, Any]:
        return {
            "tensor": self.tensor,
            "tensors": list(self.tensors),
            "node": self.node,
            "op": self.op,
            "consumers": list(self.consumers),
            "exclude_nodes": list(self.exclude_nodes),
            "sqnr_db": _finite(self.sqnr_db),
            "zeroed_pct": _finite(self.zeroed_pct),
            "cosine_vs_fp32": _finite(self.cosine_vs_fp32),
            "output_cosine_if_float": _finite(self.output_cosine_if_float),
            "gain": _finite(self.gain),
        }


@dataclass(frozen=True)
class LocalizeReport:
    """Ranking of quantized activations, worst first. ``output_cosine``: fully quantized model vs FP32 (min over
    outputs); ``samples``: samples used; ``pairs``: activation QDQ pairs in the model (``tried`` were bypassed)."""

    qdq_model: str
    samples: int
    pairs: int
    tried: int
    output_cosine: float
    layers: tuple[LayerError, ...]
    groups: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "qdq_model": self.qdq_model,
            "groups": self.groups,
            "samples": self.samples,
            "pairs": self.pairs,
            "tried": self.tried,
            "output_cosine": _finite(self.output_cosine),
            "layers": [r.to_dict() for r in self.layers],
        }


@dataclass(frozen=True)
class ExcludeStep:
    excluded: tuple[str, ...]
    added_for: str | None  # the tensor whose nodes were added in this step (None for the start)
    qdq_model: str
    cosine_mean: float
    verdict: str
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "excluded": list(self.excluded),
            "added_for": self.added_for,
            "qdq_model": self.qdq_model,
            "cosine_mean": _finite(self.cosine_mean),
            "verdict": self.verdict,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class AutoExcludeReport:
    """``passed``: the last step's verdict is pass. ``excluded``: nodes left in FP32 by us (profile exclusions
    not included). Latencies are in-process medians (ms) on one sample; ``speed_cost_pct`` = final / first − 1."""

    passed: bool
    excluded: tuple[str, ...]
    budget: int
    steps: tuple[ExcludeStep, ...]
    final_model: str
    latency_ms: dict[str, float | None] = field(default_factory=dict)
    speed_cost_pct: float | None = None
    stopped_because: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "excluded": list(self.excluded),
            "budget": self.budget,
            "steps": [s.to_dict() for s in self.steps],
            "final_model": self.final_model,
            "latency_ms": {k: _finite(v) for k, v in self.latency_ms.items()},
            "speed_cost_pct": _finite(self.speed_cost_pct),
            "stopped_because": self.stopped_because,
        }


def _finite(v: float | None) -> float | None:
    if v is None:
        return None
    return float(v) if math.isfinite(v) else (None if math.isnan(v) else (1e9 if v > 0 else -1e9))


# --------------------------------------------------------------------------------------------- graph helpers
@dataclass(frozen=True)
class _Pair:
    tensor: str
    dq_out: str
    q_node: str
    dq_node: str
    producer: str
    op: str
    consumers: tuple[str, ...]


def activation_pairs(model: Any) -> list[_Pair]:
    """QuantizeLinear -> DequantizeLinear pairs on activations (not initializers) in ``model.graph``."""
    g = model.graph
    inits = {t.name for t in g.initializer}
    producer = {}
    for n in g.node:
        for o in n.output:
            producer[o] = n
    consumers: dict[str, list[Any]] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    pairs = []
    for q in g.node:
        if q.op_type != "QuantizeLinear" or not q.input or q.input[0] in inits:
            continue
        for dq in consumers.get(q.output[0], []):
            if dq.op_type != "DequantizeLinear":
                continue
            t = q.input[0]
            prod = producer.get(t)
            cons = tuple(
                c.name
                for c in consumers.get(dq.output[0], [])
                if c.op_type not in ("QuantizeLinear", "DequantizeLinear")
            )
            pairs.append(
                _Pair(t, dq.output[0], q.name, dq.name, prod.name if prod is not None else "",
                      prod.op_type if prod is not None else "(input)", cons)
            )  # fmt: skip
    return pairs


def _with_outputs(model: Any, names: Iterable[str]) -> Any:
    import onnx
    from onnx import helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    for n in names:
        if n not in have:
            m.graph.output.append(helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None))
            have.add(n)
    return m


# Ops that only move data: ORT's QDQ quantizer gives their output the input's range.
PASSTHROUGH_OPS = frozenset(
    {"Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Identity", "Expand", "Slice", "Split", "Gather",
     "MaxPool", "Resize", "SpaceToDepth", "DepthToSpace", "Tile"}
)  # fmt: skip


def group_pairs(model: Any, pairs: list[_Pair]) -> list[list[_Pair]]:
    """Pairs joined through a PASSTHROUGH_OPS node (A's dequantized output -> op -> B's tensor), in graph order."""
    by_tensor = {p.tensor: i for i, p in enumerate(pairs)}
    by_dq = {p.dq_out: i for i, p in enumerate(pairs)}
    parent = list(range(len(pairs)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for n in model.graph.node:
        if n.op_type not in PASSTHROUGH_OPS or not n.input or n.input[0] not in by_dq:
            continue
        for o in n.output:
            if o in by_tensor:
                parent[find(by_tensor[o])] = find(by_dq[n.input[0]])
    groups: dict[int, list[_Pair]] = {}
    for i, p in enumerate(pairs):
        groups.setdefault(find(i), []).append(p)
    return list(groups.values())


def _bypass(model: Any, group: list[_Pair]) -> Any:
    import onnx

    m = onnx.ModelProto()
    m.CopyFrom(model)
    swap = {p.dq_out: p.tensor for p in group}
    for n in m.graph.node:
        if n.op_type in ("QuantizeLinear", "DequantizeLinear"):
            continue
        for i, name in enumerate(n.input):
            if name in swap:
                n.input[i] = swap[name]
    return m


def _session(model_or_path: Any) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    src = str(model_or_path) if isinstance(model_or_path, (str, Path)) else model_or_path.SerializeToString()
    try:
        return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - ORT's own exception types
        raise ModelError(f"onnxruntime cannot load a localisation variant: {type(exc).__name__}: {exc}") from None


class _Cos:
    """Streaming cosine of two tensors over many samples (float64 sums)."""

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


def _output_cosine(sess: Any, feeds: list[dict[str, Any]], refs: list[list[Any]], names: list[str]) -> float:
    cs = [_Cos() for _ in names]
    for feed, ref in zip(feeds, refs, strict=True):
        outs = sess.run(names, feed)
        for c, a, b in zip(cs, ref, outs, strict=True):
            c.add(a, b)
    return min(c.value() for c in cs)


# --------------------------------------------------------------------------------------------- localize
def localize(
    fp32_path: str | Path,
    qdq_path: str | Path,
    feeds: Iterable[dict[str, Any]],
    *,
    max_samples: int = 16,
    max_candidates: int = 256,
) -> LocalizeReport:
    """Rank the QDQ model's quantized activations by how much they hurt the output (see module docstring).

    Args:
        feeds: input dicts (e.g. ``dataset.iter_feeds()``); the first ``max_samples`` are used.
        max_candidates: at most this many groups get the bypass test (see module docstring).

    Raises:
        ModelError: a model cannot be loaded; CalibrationError: the QDQ model has no activation QDQ pairs or
            there is no sample.
    """
    import numpy as np
    import onnx

    qdq_path, fp32_path = Path(qdq_path), Path(fp32_path)
    samples = []
    for f in feeds:
        samples.append(f)
        if len(samples) >= max_samples:
            break
    if not samples:
        raise CalibrationError("no samples to localise the INT8 error on")
    qmodel = onnx.load(str(qdq_path))
    pairs = activation_pairs(qmodel)
    if not pairs:
        raise CalibrationError(f"{qdq_path.name} has no quantized activations (no QuantizeLinear->DequantizeLinear)")
    out_names = [o.name for o in qmodel.graph.output]

    ref_sess = _session(fp32_path)
    fp_outs = [o.name for o in ref_sess.get_outputs()]
    if fp_outs != out_names[: len(fp_outs)] and set(fp_outs) - set(out_names):
        raise ModelError(f"{qdq_path.name} lacks outputs of {fp32_path.name}: {sorted(set(fp_outs) - set(out_names))}")
    fmodel = onnx.load(str(fp32_path), load_external_data=True)
    fp_names = {v for n in fmodel.graph.node for v in n.output} | {i.name for i in fmodel.graph.input}
    shared = [p.tensor for p in pairs if p.tensor in fp_names]
    fsess = _session(_with_outputs(fmodel, shared)) if shared else ref_sess
    refs = []
    fp_acts: list[dict[str, Any]] = []
    for feed in samples:
        want = [*fp_outs, *[s for s in shared if s not in fp_outs]]
        vals = fsess.run(want, feed)
        refs.append(vals[: len(fp_outs)])
        fp_acts.append(dict(zip(want, vals, strict=True)))

    # Local SQNR (and FP32 cosine) from one run of the QDQ model with every pair exposed.
    tapped = _with_outputs(qmodel, [x for p in pairs for x in (p.tensor, p.dq_out)])
    tsess = _session(tapped)
    want = [*fp_outs, *[x for p in pairs for x in (p.tensor, p.dq_out)]]
    ps = {p.tensor: 0.0 for p in pairs}
    pn = {p.tensor: 0.0 for p in pairs}
    pos = {p.tensor: 0 for p in pairs}
    zeroed = {p.tensor: 0 for p in pairs}
    xcos = {p.tensor: _Cos() for p in pairs if p.tensor in fp_names}
    full = [_Cos() for _ in fp_outs]
    for k, feed in enumerate(samples):
        vals = dict(zip(want, tsess.run(want, feed), strict=True))
        for c, a, name in zip(full, refs[k], fp_outs, strict=True):
            c.add(a, vals[name])
        for p in pairs:
            t = np.asarray(vals[p.tensor], dtype=np.float64)
            d = np.asarray(vals[p.dq_out], dtype=np.float64)
            ps[p.tensor] += float((t * t).sum())
            positive = t > 0
            pos[p.tensor] += int(positive.sum())
            zeroed[p.tensor] += int((positive & (d == 0)).sum())
            pn[p.tensor] += float(((t - d) ** 2).sum())
            if p.tensor in xcos:
                xcos[p.tensor].add(fp_acts[k][p.tensor], d)
    base = min(c.value() for c in full)

    def sqnr(name: str) -> float:
        if pn[name] == 0:
            return math.inf
        if ps[name] == 0:
            return -math.inf
        return 10.0 * math.log10(ps[name] / pn[name])

    groups = group_pairs(qmodel, pairs)

    def zpct(name: str) -> float:
        return 100.0 * zeroed[name] / pos[name] if pos[name] else 0.0

    by_sqnr = sorted(range(len(groups)), key=lambda i: min(sqnr(p.tensor) for p in groups[i]))
    if len(groups) <= max_candidates:
        chosen = by_sqnr
    else:
        by_zero = sorted(range(len(groups)), key=lambda i: -max(zpct(p.tensor) for p in groups[i]))
        chosen = list(dict.fromkeys([*by_zero[: (max_candidates + 1) // 2], *by_sqnr]))[:max_candidates]
    tried: dict[int, float] = {}
    for i in chosen:
        tried[i] = _output_cosine(_session(_bypass(qmodel, groups[i])), samples, refs, fp_outs)

    rows = []
    for i, grp in enumerate(groups):
        oc = tried.get(i)
        inner = {p.producer for p in grp[1:]}  # passthrough nodes inside the chain
        # The representative: the chain's last tensor that the FP32 model also has (its original name), else the last.
        rep = next((p for p in reversed(grp) if p.tensor in fp_names), grp[-1])
        first = grp[0]
        consumers = tuple(dict.fromkeys(c for p in grp for c in p.consumers if c not in inner))
        exclude = tuple(dict.fromkeys(n for n in (first.producer, *sorted(inner), *consumers) if n))
        worst = min(sqnr(p.tensor) for p in grp)
        rows.append(
            LayerError(
                tensor=rep.tensor, node=first.producer, op=first.op, consumers=consumers, sqnr_db=worst,
                zeroed_pct=max(zpct(p.tensor) for p in grp),
                cosine_vs_fp32=xcos[rep.tensor].value() if rep.tensor in xcos else None,
                output_cosine_if_float=oc, gain=None if oc is None else oc - base,
                tensors=tuple(p.tensor for p in grp), exclude_nodes=exclude,
            )
        )  # fmt: skip
    rows.sort(key=lambda r: (-(r.gain if r.gain is not None else -math.inf), r.sqnr_db))
    return LocalizeReport(str(qdq_path), len(samples), len(pairs), len(tried), base, tuple(rows), len(groups))


# --------------------------------------------------------------------------------------------- auto-exclude
def median_latency_ms(
    model_path: str | Path, feed: dict[str, Any], *, seconds: float = 0.3, min_runs: int = 20
) -> float:
    """In-process median latency (ms) of one ``run`` on ``feed``, after 5 warm-up runs; for relative costs only."""
    import statistics

    sess = _session(Path(model_path))
    for _ in range(5):
        sess.run(None, feed)
    times = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < seconds:
        t0 = time.perf_counter_ns()
        sess.run(None, feed)
        times.append((time.perf_counter_ns() - t0) / 1e6)
    return statistics.median(times)


def auto_exclude(
    fp32_path: str | Path,
    ranking: LocalizeReport,
    requantize: Callable[[tuple[str, ...]], Path],
    evaluate: Callable[[Path], Any],
    *,
    max_excluded: int = 8,
    first: tuple[Path, Any] | None = None,
    timing_feed: dict[str, Any] | None = None,
) -> AutoExcludeReport:
    """Exclude the ranked layers' nodes from quantization until ``evaluate`` passes or ``max_excluded`` is used.

    Args:
        ranking: from :func:`localize` on the fully quantized model.
        requantize: ``excluded node names -> new QDQ model path`` (e.g. quantize_qdq with nodes_to_exclude).
        evaluate: ``QDQ path -> AccuracyReport`` (``verdict``, ``reasons``, ``vs_fp32.cosine_mean``).
        first: (path, report) of the fully quantized model when already evaluated.
        timing_feed: a sample to time the first/final model and FP32 on (no timing when None).
    """
    if max_excluded < 1:
        raise CalibrationError(f"--max-excluded must be at least 1, got {max_excluded}")
    path0, rep0 = first if first is not None else (Path(ranking.qdq_model), evaluate(Path(ranking.qdq_model)))
    steps = [ExcludeStep((), None, str(path0), rep0.vs_fp32.cosine_mean, rep0.verdict, tuple(rep0.reasons))]
    excluded: list[str] = []
    path, rep = path0, rep0
    why = "accuracy passes without exclusions" if rep0.verdict == "pass" else ""
    candidates = [r for r in ranking.layers if r.gain is None or r.gain > 0]
    for row in candidates:
        if rep.verdict == "pass":
            why = why or f"accuracy passes with {len(excluded)} node(s) in FP32"
            break
        new = [n for n in row.exclude_nodes if n not in excluded]
        if not new:
            continue
        if len(excluded) + len(new) > max_excluded:
            why = f"budget of {max_excluded} excluded node(s) reached (next: {row.tensor} needs {len(new)} more)"
            break
        excluded.extend(new)
        path = requantize(tuple(excluded))
        rep = evaluate(path)
        steps.append(
            ExcludeStep(
                tuple(excluded), row.tensor, str(path), rep.vs_fp32.cosine_mean, rep.verdict, tuple(rep.reasons)
            )
        )
    else:
        if rep.verdict == "pass":
            why = why or f"accuracy passes with {len(excluded)} node(s) in FP32"
        else:
            why = why or "no ranked layer left to exclude"
    latency: dict[str, float | None] = {}
    cost = None
    if timing_feed is not None:
        latency = {
            "fp32": median_latency_ms(fp32_path, timing_feed),
            "int8_all": median_latency_ms(path0, timing_feed),
            "int8_final": median_latency_ms(path, timing_feed) if path != path0 else None,
        }
        if latency["int8_final"] is not None and latency["int8_all"]:
            cost = 100.0 * (latency["int8_final"] / latency["int8_all"] - 1.0)
        elif latency["int8_final"] is None:
            latency["int8_final"] = latency["int8_all"]
            cost = 0.0
    return AutoExcludeReport(
        passed=rep.verdict == "pass",
        excluded=tuple(excluded),
        budget=max_excluded,
        steps=tuple(steps),
        final_model=str(path),
        latency_ms=latency,
        speed_cost_pct=cost,
        stopped_because=why,
    )


def render(report: LocalizeReport, top: int = 10) -> list[str]:
    """Text lines: the ``top`` worst activations."""
    lines = [
        f"Per-layer INT8 error ({report.samples} samples; {report.pairs} quantized activations in {report.groups} "
        f"groups, {report.tried} groups tested in float one at a time); output cosine vs FP32 with all quantized: {report.output_cosine:.5f}",
        f"  {'#':>3}  {'SQNR dB':>8}  {'zeroed':>7}  {'cos FP32':>8}  {'out cos if FP32':>15}  {'op':<14} tensor (node)",
    ]
    for i, r in enumerate(report.layers[:top], 1):
        cos = "-" if r.cosine_vs_fp32 is None else f"{r.cosine_vs_fp32:.5f}"
        oc = "-" if r.output_cosine_if_float is None else f"{r.output_cosine_if_float:.5f}"
        sq = f"{r.sqnr_db:.1f}" if math.isfinite(r.sqnr_db) else ("inf" if r.sqnr_db > 0 else "-inf")
        chain = f" +{len(r.tensors) - 1} chained" if len(r.tensors) > 1 else ""
        lines.append(
            f"  {i:>3}  {sq:>8}  {r.zeroed_pct:>6.1f}%  {cos:>8}  {oc:>15}  {r.op[:14]:<14} {r.tensor} "
            f"({r.node or 'input'}){chain}"
        )
    return lines


def render_auto(report: AutoExcludeReport) -> list[str]:
    lines = [f"Auto-exclude (budget {report.budget} node(s)):"]
    for i, s in enumerate(report.steps):
        what = "all quantized" if s.added_for is None else f"+ FP32 around {s.added_for}: {', '.join(s.excluded)}"
        lines.append(f"  step {i}: {what} -> cosine mean {s.cosine_mean:.5f}, {s.verdict.upper()}")
    lines.append(
        f"  result: {'PASS' if report.passed else 'FAIL'} — {report.stopped_because}; excluded: "
        + (", ".join(report.excluded) or "none")
    )
    lat = report.latency_ms
    if lat:
        lines.append(
            f"  speed: FP32 {lat['fp32']:.4f} ms, INT8 all {lat['int8_all']:.4f} ms, INT8 with exclusions "
            f"{lat['int8_final']:.4f} ms ({report.speed_cost_pct:+.1f} % vs all-INT8; in-process median, one sample)"
        )
    return lines
