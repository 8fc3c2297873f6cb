"""INT8 error localisation: which quantized activations hurt the output, and re-quantization without them.

Method (our own, in the spirit of onnxruntime's ``quantization.qdq_loss_debug``):

1. In the QDQ model, every activation quantization is a pair ``T -> QuantizeLinear -> DequantizeLinear -> T_dq``
   (qdq_graph.py; weights have a DequantizeLinear only and are not candidates). A Relu/Clip the quantizer folded
   into the pair is known (qdq_graph.py explains the fold) and re-applied wherever ``T`` is used in float.
2. **Every output figure is measured like the deployed model**: the QDQ model (or a variant of it) runs unmodified
   in a session with the accuracy check's session options, and its outputs are compared with FP32 exactly as the
   accuracy check does (core/accuracy.py: per-sample cosine, its mean, the worst output; top-1 agreement of the
   first 2-D output). So the "all quantized" figure *is* the accuracy check's ``vs_fp32.cosine_mean`` on the same
   samples. (A model with every pair exposed as an output would not do: extra outputs stop onnxruntime fusing
   QuantizeLinear/DequantizeLinear into integer kernels, and those kernels are what the deployed model runs —
   on CPUs without VNNI, u8s8 kernels saturate, and the two figures differ.)
3. **Local error** per pair, from one run of that tapped model: SQNR = 10·log10(Σ T² / Σ (T − T_dq)²) in dB
   (higher is better; 8-bit on well-spread data gives ≈ 30–45 dB; ``T`` after the folded activation), the share of
   positive values that round to exactly zero (``zeroed_pct``: the signature of a range blown up by outliers), and,
   where the FP32 model has a tensor of the same name, the cosine of FP32 ``T`` against ``T_dq``.
4. **Output impact** (the ranking): each candidate is left in float — its pairs' DequantizeLinear replaced by the
   float tensor, folded activation re-applied — and the variant's output cosine to FP32 is compared with the fully
   quantized model's. SQNR alone can miss the culprit: a huge-range tensor (one channel at 1e4, the rest near 1)
   keeps a good global SQNR while all its small channels round to zero. Candidates are

   * chains of pairs through data-movement ops (Reshape, Transpose, Squeeze, Flatten … : ORT gives them one
     range, so bypassing one alone changes nothing), tested together;
   * recognised subgraphs (qdq_units.py: decomposed LayerNorm/RMSNorm, Softmax, GELU) as one unit: the pairs
     inside it, which is what keeping its nodes in FP32 removes.

   With more than ``max_candidates`` candidates, the tested ones are the half with the lowest SQNR and the half
   with the highest ``zeroed_pct``. A candidate whose float variant scores *below* the fully quantized model
   carries a ``note`` saying so (the errors of the quantized layers around it partly cancelled; it is never
   excluded).
5. ``auto_exclude``: re-quantize with candidates' nodes in ``nodes_to_exclude``, trying them in order of measured
   gain; a candidate is kept only when the re-quantized model's accuracy check improves (cosine mean up by at
   least 1 % of its distance to 1 with top-1 agreement not falling, top-1 agreement up with the cosine not
   falling, or the verdict turning to pass). Each round measures the ``round_size`` best-ranked candidates that fit
   the budget this way and keeps the best that helps (the ranking used a few samples, the check uses all, so
   near-equal gains are settled by measuring); then the rest are re-ranked on the new model (layers interact:
   a GELU can hurt in float while its LayerNorm is quantized and help once it is not). It stops when the check
   passes, the budget of units is used, no measured candidate helped, or none is left, and reports the state it
   ended with. The budget counts units: a recognised subgraph is one, any other node one.

Sessions run on the CPU execution provider. Models over 2 GiB are not supported here (the variants are
serialized in memory).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from workbench.core.errors import CalibrationError, ModelError
from workbench.core.precision.measure import Scorer, StreamingCosine, finite, median_latency_ms, session
from workbench.core.precision.qdq_graph import (
    PASSTHROUGH_OPS,
    Exclusions,
    Pair,
    activation_pairs,
    bypass,
    group_pairs,
    with_outputs,
)
from workbench.core.precision.qdq_units import Unit, find_units

__all__ = [
    "PASSTHROUGH_OPS",
    "AutoExcludeReport",
    "ExcludeStep",
    "FinalState",
    "LayerError",
    "LocalizeReport",
    "activation_pairs",
    "auto_exclude",
    "group_pairs",
    "localize",
    "median_latency_ms",
    "render",
    "render_auto",
]


def unit_count(units: Iterable[Unit], nodes: Iterable[str]) -> int:
    """Budget units spanned by ``nodes``: one per recognised subgraph touched, one per other node."""
    of = {n: i for i, u in enumerate(units) for n in u.nodes}
    return len({of.get(n, n) for n in nodes})


@dataclass(frozen=True)
class LayerError:
    """One candidate: a chain of quantized activations, or a recognised unit. ``output_cosine_if_float``: the
    output cosine mean to FP32 with only this candidate left in float (None when it was not tried); ``gain`` = that
    minus the fully quantized figure. ``kind``: "activation" or the unit's kind ("LayerNorm", ...); ``units``: the
    budget units ``exclude_nodes`` spans; ``folded``: the activation op re-applied in float ("Relu", "Clip") or "";
    ``note``: why a figure is what it is (a float variant below the fully quantized one), or "";
    ``float_tensors``: what the float test left unquantized — every pair the exclusion removes, which can be more
    than ``tensors`` (a graph input read only by an excluded node)."""

    tensor: str
    node: str  # producer of the tensor ("" for a graph input)
    op: str
    consumers: tuple[str, ...]
    sqnr_db: float
    zeroed_pct: float
    cosine_vs_fp32: float | None
    output_cosine_if_float: float | None
    gain: float | None
    tensors: tuple[str, ...] = ()  # the chain (Reshape/Transpose/...), or the activations inside a unit
    exclude_nodes: tuple[str, ...] = ()  # nodes to keep in FP32 so that none of ``tensors`` is quantized
    kind: str = "activation"
    units: int = 0
    folded: str = ""
    note: str = ""
    top1_agreement_if_float: float | None = None
    float_tensors: tuple[str, ...] = ()  # every activation that keeping ``exclude_nodes`` in FP32 leaves in float

    def to_dict(self) -> dict[str, Any]:
        return {
            "tensor": self.tensor,
            "tensors": list(self.tensors),
            "node": self.node,
            "op": self.op,
            "consumers": list(self.consumers),
            "exclude_nodes": list(self.exclude_nodes),
            "sqnr_db": finite(self.sqnr_db),
            "zeroed_pct": finite(self.zeroed_pct),
            "cosine_vs_fp32": finite(self.cosine_vs_fp32),
            "output_cosine_if_float": finite(self.output_cosine_if_float),
            "gain": finite(self.gain),
            "kind": self.kind,
            "units": self.units,
            "folded_activation": self.folded or None,
            "top1_agreement_if_float": finite(self.top1_agreement_if_float),
            "float_tensors": list(self.float_tensors),
            "note": self.note or None,
        }


@dataclass(frozen=True)
class LocalizeReport:
    """Ranking of candidates, most output gain first. ``output_cosine``: the fully quantized model's cosine mean to
    FP32 (the accuracy check's ``vs_fp32.cosine_mean`` on these samples); ``samples``: samples used; ``pairs``:
    activation Q/DQ pairs in the model; ``groups``: candidates (chains and units); ``tried``: candidates tested in
    float; ``units``: the recognised subgraphs (budget units of more than one node)."""

    qdq_model: str
    samples: int
    pairs: int
    tried: int
    output_cosine: float
    layers: tuple[LayerError, ...]
    groups: int = 0
    units: tuple[Unit, ...] = ()
    output_top1_agreement: float | None = None
    folded: int = 0

    def unit_count(self, nodes: Iterable[str]) -> int:
        """Budget units spanned by ``nodes`` (see :func:`unit_count`)."""
        return unit_count(self.units, nodes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "qdq_model": self.qdq_model,
            "groups": self.groups,
            "samples": self.samples,
            "pairs": self.pairs,
            "tried": self.tried,
            "output_cosine": finite(self.output_cosine),
            "output_top1_agreement": finite(self.output_top1_agreement),
            "folded_activations": self.folded,
            "units": [u.to_dict() for u in self.units],
            "layers": [r.to_dict() for r in self.layers],
        }


@dataclass(frozen=True)
class ExcludeStep:
    """One re-quantization. ``excluded``: the nodes in FP32 that were measured; ``helped``: its accuracy check improved
    on the state its round started from; ``kept``: it was the best of its round that helped and became the state
    (step 0, all quantized, is kept); ``units``: budget units of ``excluded``."""

    excluded: tuple[str, ...]
    added_for: str | None  # the candidate tried in this step (None for the start)
    qdq_model: str
    cosine_mean: float
    verdict: str
    reasons: tuple[str, ...]
    kept: bool = True
    top1_agreement: float | None = None
    units: int = 0
    helped: bool = True  # improved on the state its round started from (kept only if the best of the round)

    def to_dict(self) -> dict[str, Any]:
        return {
            "excluded": list(self.excluded),
            "added_for": self.added_for,
            "qdq_model": self.qdq_model,
            "cosine_mean": finite(self.cosine_mean),
            "top1_agreement": finite(self.top1_agreement),
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "kept": self.kept,
            "helped": self.helped,
            "units": self.units,
        }


@dataclass(frozen=True)
class FinalState:
    """What auto-exclude ended with: the best kept step."""

    excluded: tuple[str, ...]
    units: int
    cosine_mean: float
    top1_agreement: float | None
    verdict: str
    qdq_model: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "excluded": list(self.excluded),
            "units": self.units,
            "cosine_mean": finite(self.cosine_mean),
            "top1_agreement": finite(self.top1_agreement),
            "verdict": self.verdict,
            "qdq_model": self.qdq_model,
        }


@dataclass(frozen=True)
class AutoExcludeReport:
    """``passed``: the final state's verdict is pass. ``excluded``: nodes left in FP32 by us (profile exclusions not
    included); ``budget``: in units. Latencies are in-process medians (ms) on one sample; ``speed_cost_pct`` =
    final / first − 1."""

    passed: bool
    excluded: tuple[str, ...]
    budget: int
    steps: tuple[ExcludeStep, ...]
    final_model: str
    latency_ms: dict[str, float | None]
    speed_cost_pct: float | None
    stopped_because: str
    final: FinalState

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "excluded": list(self.excluded),
            "budget": self.budget,
            "steps": [s.to_dict() for s in self.steps],
            "final_model": self.final_model,
            "final": self.final.to_dict(),
            "latency_ms": {k: finite(v) for k, v in self.latency_ms.items()},
            "speed_cost_pct": finite(self.speed_cost_pct),
            "stopped_because": self.stopped_because,
        }


# --------------------------------------------------------------------------------------------- candidates
@dataclass(frozen=True)
class _Candidate:
    """What to leave in float: ``exclude`` (node names, whole units), the ``pairs`` that removes (the bypass), the
    ``chain`` it was found from (None for a unit) and the ``unit`` when ``exclude`` is exactly one unit."""

    exclude: tuple[str, ...]
    pairs: tuple[Pair, ...]
    chain: tuple[Pair, ...] | None
    unit: Unit | None

    @property
    def local(self) -> tuple[Pair, ...]:
        """The pairs its local figures (SQNR, zeroed, FP32 cosine) describe: the chain, or the unit's pairs."""
        return self.chain or self.pairs


def _candidates(qmodel: Any, pairs: list[Pair], units: tuple[Unit, ...]) -> list[_Candidate]:
    """One candidate per chain of pairs (its producer, passthrough nodes and consumers in FP32) and per recognised
    unit (its nodes in FP32); exclusions span whole units; the bypass is what those exclusions remove
    (qdq_graph.Exclusions); candidates removing nothing, or the same nodes as an earlier one, are dropped."""
    unit_of = {n: u for u in units for n in u.nodes}
    gone = Exclusions(qmodel, pairs)

    def expand(nodes: Iterable[str]) -> tuple[str, ...]:
        out: dict[str, None] = {}
        for n in nodes:
            out.update(dict.fromkeys(m for m in (unit_of[n].nodes if n in unit_of else (n,)) if m))
        return tuple(out)

    found: dict[frozenset[str], _Candidate] = {}
    for u in units:
        found.setdefault(frozenset(u.nodes), _Candidate(u.nodes, tuple(gone.removed(u.nodes)), None, u))
    for grp in group_pairs(qmodel, pairs):
        inner = {p.producer for p in grp[1:]}  # passthrough nodes inside the chain
        consumers = [c for p in grp for c in p.consumers if c not in inner]
        ex = expand([grp[0].producer, *sorted(inner), *consumers])
        found.setdefault(frozenset(ex), _Candidate(ex, tuple(gone.removed(ex)), tuple(grp), None))
    return [c for c in found.values() if c.pairs]


# --------------------------------------------------------------------------------------------- localize
def localize(
    fp32_path: str | Path,
    qdq_path: str | Path,
    feeds: Iterable[dict[str, Any]],
    *,
    max_samples: int = 16,
    max_candidates: int = 256,
    session_options: Any = None,
) -> LocalizeReport:
    """Rank the QDQ model's quantized activations by how much they hurt the output (see module docstring).

    Args:
        feeds: input dicts (e.g. ``dataset.iter_feeds()``); the first ``max_samples`` are used.
        max_candidates: at most this many candidates get the float test (see module docstring).
        session_options: ``onnxruntime.SessionOptions`` of the accuracy check (None: onnxruntime's defaults, as
            ``compare_models`` given none); every output figure is measured with them.

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
        raise CalibrationError(
            "no samples to localise the INT8 error on",
            hint="give an --eval DIR (or --calib DIR) folder with samples, and --layer-samples 1 or more",
        )
    qmodel = onnx.load(str(qdq_path))
    fmodel = onnx.load(str(fp32_path), load_external_data=True)
    pairs = activation_pairs(qmodel, fmodel)
    if not pairs:
        raise CalibrationError(
            f"{qdq_path.name} has no quantized activations (no QuantizeLinear->DequantizeLinear)",
            hint="give the QDQ (Q/DQ pairs) INT8 model, not a QOperator one: quantization.quant_format = 'QDQ'",
        )
    units = find_units(qmodel, pairs)

    # FP32 reference outputs from the model as is (as the accuracy check runs it); FP32 activations for the
    # local cosines from a tapped copy.
    ref_sess = session(fp32_path, session_options)
    fp_outs = [o.name for o in ref_sess.get_outputs()]
    missing = set(fp_outs) - {o.name for o in qmodel.graph.output}
    if missing:
        raise ModelError(
            f"{qdq_path.name} lacks outputs of {fp32_path.name}: {sorted(missing)}",
            hint="localise the INT8 model made from this FP32 model (same outputs); calibrate again with `workbench "
            "calibrate`",
        )
    refs = [ref_sess.run(fp_outs, feed) for feed in samples]
    scorer = Scorer(samples, refs, fp_outs)
    base, base_top1 = scorer.score(session(qdq_path, session_options))

    fp_names = {v for n in fmodel.graph.node for v in n.output} | {i.name for i in fmodel.graph.input}
    shared = list(dict.fromkeys(p.name for p in pairs if p.name in fp_names and p.name not in fp_outs))
    fsess = session(with_outputs(fmodel, shared), session_options) if shared else None
    tsess = session(with_outputs(qmodel, [x for p in pairs for x in (p.tensor, p.dq_out)]), session_options)
    want = list(dict.fromkeys(x for p in pairs for x in (p.tensor, p.dq_out)))
    ps = dict.fromkeys(range(len(pairs)), 0.0)
    pn = dict.fromkeys(range(len(pairs)), 0.0)
    pos = dict.fromkeys(range(len(pairs)), 0)
    zeroed = dict.fromkeys(range(len(pairs)), 0)
    xcos = {k: StreamingCosine() for k, p in enumerate(pairs) if p.name in fp_names}
    for k, feed in enumerate(samples):
        fp_act = dict(zip(fp_outs, refs[k], strict=True))
        if fsess is not None:
            fp_act.update(zip(shared, fsess.run(shared, feed), strict=True))
        vals = dict(zip(want, tsess.run(want, feed), strict=True))
        for j, p in enumerate(pairs):
            t = np.asarray(vals[p.tensor], dtype=np.float64)
            if p.folded is not None:
                t = p.folded.apply(t)  # the quantizer folded this activation into the pair: compare after it
            d = np.asarray(vals[p.dq_out], dtype=np.float64)
            ps[j] += float((t * t).sum())
            positive = t > 0
            pos[j] += int(positive.sum())
            zeroed[j] += int((positive & (d == 0)).sum())
            pn[j] += float(((t - d) ** 2).sum())
            if j in xcos:
                xcos[j].add(fp_act[p.name], d)
    del tsess, fsess
    index = {id(p): j for j, p in enumerate(pairs)}

    def sqnr(p: Pair) -> float:
        j = index[id(p)]
        if pn[j] == 0:
            return math.inf
        if ps[j] == 0:
            return -math.inf
        return 10.0 * math.log10(ps[j] / pn[j])

    def zpct(p: Pair) -> float:
        j = index[id(p)]
        return 100.0 * zeroed[j] / pos[j] if pos[j] else 0.0

    cands = _candidates(qmodel, pairs, units)
    by_sqnr = sorted(range(len(cands)), key=lambda i: min(sqnr(p) for p in cands[i].local))
    if len(cands) <= max_candidates:
        chosen = by_sqnr
    else:
        by_zero = sorted(range(len(cands)), key=lambda i: -max(zpct(p) for p in cands[i].local))
        chosen = list(dict.fromkeys([*by_zero[: (max_candidates + 1) // 2], *by_sqnr]))[:max_candidates]
    tried = {i: scorer.score(session(bypass(qmodel, cands[i].pairs), session_options)) for i in chosen}

    rows = [_row(c, tried.get(i), base, sqnr, zpct, xcos, index, fp_names, units) for i, c in enumerate(cands)]
    rows.sort(key=lambda r: (-(r.gain if r.gain is not None else -math.inf), r.sqnr_db))
    return LocalizeReport(str(qdq_path), len(samples), len(pairs), len(tried), base, tuple(rows), len(cands), units,
                          base_top1, sum(p.folded is not None for p in pairs))  # fmt: skip


def _row(
    c: _Candidate,
    measured: tuple[float, float | None] | None,
    base: float,
    sqnr: Callable[[Pair], float],
    zpct: Callable[[Pair], float],
    xcos: dict[int, StreamingCosine],
    index: dict[int, int],
    fp_names: set[str],
    units: tuple[Unit, ...],
) -> LayerError:
    grp = list(c.local)
    # The representative: the last tensor the FP32 model also has (its original name), else the last.
    rep = next((p for p in reversed(grp) if p.name in fp_names), grp[-1])
    oc, top1 = measured if measured is not None else (None, None)
    gain = None if oc is None else oc - base
    note = ""
    if gain is not None and gain < 0:
        note = (
            f"in float it scores {-gain:.2g} below all-INT8: the quantization errors around it partly cancelled "
            "on these samples; not a candidate for exclusion"
        )
    folded = sorted({p.folded.op for p in c.pairs if p.folded is not None})
    unresolved = [p.folded.node for p in c.pairs if p.folded is not None and not p.folded.resolved]
    if unresolved:
        note = (note + "; " if note else "") + f"Clip bounds of {', '.join(unresolved)} unknown: re-applied unbounded"
    if c.unit is not None:
        tensor, node, op = c.unit.output, c.unit.nodes[0], c.unit.kind
        consumers: tuple[str, ...] = ()
    else:
        inner = {p.producer for p in grp[1:]}
        tensor, node, op = rep.name, grp[0].producer, grp[0].op
        consumers = tuple(dict.fromkeys(x for p in grp for x in p.consumers if x not in inner))
    j = index[id(rep)]
    return LayerError(
        tensor=tensor, node=node, op=op, consumers=consumers, sqnr_db=min(sqnr(p) for p in grp),
        zeroed_pct=max(zpct(p) for p in grp), cosine_vs_fp32=xcos[j].value() if j in xcos else None,
        output_cosine_if_float=oc, gain=gain, tensors=tuple(p.name for p in grp), exclude_nodes=c.exclude,
        kind=c.unit.kind if c.unit is not None else "activation", units=unit_count(units, c.exclude),
        folded="/".join(folded), note=note, top1_agreement_if_float=top1,
        float_tensors=tuple(p.name for p in c.pairs),
    )  # fmt: skip


# --------------------------------------------------------------------------------------------- auto-exclude
#: A candidate "helps" when the cosine mean rises by at least this share of its distance to 1.
MIN_GAIN_SHARE = 0.01


def _better(a: Any, b: Any) -> bool:
    """Accuracy check ``a`` beats ``b``: a pass beats a fail, then the higher cosine mean."""
    return (a.verdict == "pass", a.vs_fp32.cosine_mean) > (b.verdict == "pass", b.vs_fp32.cosine_mean)


def _helps(new: Any, cur: Any) -> bool:
    """The accuracy check ``new`` improves on ``cur``: its verdict turns to pass, or the cosine mean rises by
    :data:`MIN_GAIN_SHARE` of its distance to 1 without top-1 agreement falling, or top-1 agreement rises without
    the cosine mean falling."""
    if new.verdict == "pass" and cur.verdict != "pass":
        return True
    a, b = new.vs_fp32.cosine_mean, cur.vs_fp32.cosine_mean
    if not math.isfinite(a):
        return False
    if not math.isfinite(b):
        return True
    ta, tb = new.vs_fp32.top1_agreement, cur.vs_fp32.top1_agreement
    d_top1 = 0.0 if ta is None or tb is None else ta - tb
    if a - b >= max(1e-9, MIN_GAIN_SHARE * (1.0 - b)) and d_top1 >= 0:
        return True
    return d_top1 > 0 and a >= b


def _order(ranking: LocalizeReport, excluded: tuple[str, ...], tol: float) -> list[LayerError]:
    """Rows worth trying on top of ``excluded``: measured gain > 0, not already in, most gain first; a row is
    dropped when another row's new nodes are a strict subset of its own and its gain is less than ``tol`` more
    (a chain that drags a whole LayerNorm along is not worth more than the LayerNorm alone)."""
    have = set(excluded)
    rows = [r for r in ranking.layers if r.gain is not None and r.gain > 0 and not set(r.exclude_nodes) <= have]
    new = {id(r): set(r.exclude_nodes) - have for r in rows}
    kept = [
        r
        for r in rows
        if not any(new[id(o)] < new[id(r)] and r.gain - o.gain < tol for o in rows if o is not r)  # type: ignore[operator]
    ]
    return sorted(kept, key=lambda r: -(r.gain or 0.0))


class _Units:
    """Budget units over every ranking seen (a node keeps the first unit it was found in)."""

    def __init__(self) -> None:
        self.of: dict[str, str] = {}

    def add(self, ranking: LocalizeReport) -> None:
        for u in ranking.units:
            for n in u.nodes:
                self.of.setdefault(n, f"{u.kind} -> {u.output}")  # a unit is named by its output tensor

    def count(self, nodes: Iterable[str]) -> int:
        return len({self.of.get(n, n) for n in nodes})


def auto_exclude(
    fp32_path: str | Path,
    ranking: LocalizeReport,
    requantize: Callable[[tuple[str, ...]], Path],
    evaluate: Callable[[Path], Any],
    *,
    max_excluded: int = 8,
    first: tuple[Path, Any] | None = None,
    timing_feed: dict[str, Any] | None = None,
    round_size: int = 3,
    rerank: Callable[[Path], LocalizeReport] | None = None,
    session_options: Any = None,
) -> AutoExcludeReport:
    """Keep candidates in FP32, in order of measured gain, while each one helps (see module docstring, 5).

    Args:
        ranking: from :func:`localize` on the fully quantized model.
        requantize: ``excluded node names -> new QDQ model path`` (e.g. quantize_qdq with nodes_to_exclude).
        evaluate: ``QDQ path -> AccuracyReport`` (``verdict``, ``reasons``, ``vs_fp32.cosine_mean``,
            ``vs_fp32.top1_agreement``).
        max_excluded: budget in units (a recognised subgraph is one unit, any other node one).
        first: (path, report) of the fully quantized model when already evaluated.
        timing_feed: a sample to time the first/final model and FP32 on (no timing when None).
        round_size: candidates re-quantized and measured per round; the best that helps is kept (the ranking is on
            ``ranking.samples`` samples, the accuracy check on all: near-equal gains are decided by measuring).
        rerank: ``QDQ path -> LocalizeReport`` of that model (e.g. :func:`localize` on the same samples). After a
            candidate is kept the rest are re-measured on the new model: layers interact (a GELU whose float
            variant hurts while its LayerNorm is quantized can be what is left once the LayerNorm is float).
            None: one ranking for the whole search.

    Raises:
        CalibrationError: ``max_excluded`` < 1.
    """
    if max_excluded < 1:
        raise CalibrationError(
            f"--max-excluded must be at least 1, got {max_excluded}", hint="pass --max-excluded 1 or more"
        )
    path0, rep0 = first if first is not None else (Path(ranking.qdq_model), evaluate(Path(ranking.qdq_model)))
    units = _Units()
    units.add(ranking)
    steps = [_step((), None, path0, rep0, True, 0)]
    excluded: tuple[str, ...] = ()
    path, rep = path0, rep0
    tried: set[frozenset[str]] = set()
    why = ""
    over: str | None = None  # the first candidate that did not fit the budget
    while rep.verdict != "pass":
        # One round: measure the best-ranked candidates that fit, keep the best that helps.
        best: tuple[tuple[str, ...], Path, Any, int] | None = None
        measured = 0
        for row in _order(ranking, excluded, MIN_GAIN_SHARE * (1.0 - ranking.output_cosine)):
            if measured >= round_size or (best is not None and best[2].verdict == "pass"):
                break
            trial = tuple(dict.fromkeys((*excluded, *row.exclude_nodes)))
            if frozenset(trial) in tried:
                continue
            need = units.count(trial)
            if need > max_excluded:
                over = over or f"{row.tensor} needs {need - units.count(excluded)} more"
                continue
            tried.add(frozenset(trial))
            measured += 1
            new_path = requantize(trial)
            new = evaluate(new_path)
            helped = _helps(new, rep)
            steps.append(_step(trial, row.tensor, new_path, new, False, need, helped))
            if helped and (best is None or _better(new, best[2])):
                best = (trial, new_path, new, len(steps) - 1)
        if best is None:
            if measured:
                why = f"none of the {measured} best-ranked candidate(s) left improved the accuracy check"
            break
        excluded, path, rep, at = best
        steps[at] = replace(steps[at], kept=True)
        if rep.verdict != "pass" and rerank is not None:
            try:
                ranking = rerank(path)
            except CalibrationError:  # nothing left quantized
                break
            units.add(ranking)
    n_units = units.count(excluded)
    if rep.verdict == "pass":
        why = (
            "accuracy passes without exclusions" if not excluded else f"accuracy passes with {n_units} unit(s) in FP32"
        )
    elif not why:
        why = (
            f"budget of {max_excluded} excluded unit(s) reached (next: {over})"
            if over
            else "no candidate left that the per-layer test found helpful"
        )
    latency: dict[str, float | None] = {}
    cost = None
    if timing_feed is not None:
        kw = {"session_options": session_options}
        latency = {
            "fp32": median_latency_ms(fp32_path, timing_feed, **kw),
            "int8_all": median_latency_ms(path0, timing_feed, **kw),
            "int8_final": median_latency_ms(path, timing_feed, **kw) if path != path0 else None,
        }
        if latency["int8_final"] is not None and latency["int8_all"]:
            cost = 100.0 * (latency["int8_final"] / latency["int8_all"] - 1.0)
        elif latency["int8_final"] is None:
            latency["int8_final"] = latency["int8_all"]
            cost = 0.0
    final = FinalState(excluded, n_units, rep.vs_fp32.cosine_mean, rep.vs_fp32.top1_agreement, rep.verdict, str(path))
    return AutoExcludeReport(
        passed=rep.verdict == "pass",
        excluded=excluded,
        budget=max_excluded,
        steps=tuple(steps),
        final_model=str(path),
        latency_ms=latency,
        speed_cost_pct=cost,
        stopped_because=why,
        final=final,
    )


def _step(excluded, added_for, path: Path, rep: Any, kept: bool, units: int, helped: bool = True) -> ExcludeStep:
    return ExcludeStep(
        excluded, added_for, str(path), rep.vs_fp32.cosine_mean, rep.verdict, tuple(rep.reasons), kept,
        rep.vs_fp32.top1_agreement, units, helped,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------- rendering
def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f} %"


def render(report: LocalizeReport, top: int = 10) -> list[str]:
    """Text lines: the fully quantized figure, then the ``top`` candidates (notes under their row)."""
    units = ""
    if report.units:
        kinds = sorted({u.kind for u in report.units})
        units = f", {len(report.units)} recognised subgraph(s) ({', '.join(kinds)}) tested as units"
    lines = [
        f"Per-layer INT8 error ({report.samples} samples; {report.pairs} quantized activations, {report.groups} "
        f"candidates, {report.tried} tested in float one at a time{units}; "
        f"{report.folded} with a Relu/Clip folded in, re-applied in float)",
        f"  all quantized (as deployed), on these {report.samples} samples: output cosine mean {report.output_cosine:.5f}, "
        f"top-1 agreement {_pct(report.output_top1_agreement)}",
        f"  {'#':>3}  {'SQNR dB':>8}  {'zeroed':>7}  {'cos FP32':>8}  {'out cos if FP32':>15}  {'op':<14} tensor (node)",
    ]
    for i, r in enumerate(report.layers[:top], 1):
        cos = "-" if r.cosine_vs_fp32 is None else f"{r.cosine_vs_fp32:.5f}"
        oc = "-" if r.output_cosine_if_float is None else f"{r.output_cosine_if_float:.5f}"
        sq = f"{r.sqnr_db:.1f}" if math.isfinite(r.sqnr_db) else ("inf" if r.sqnr_db > 0 else "-inf")
        if r.kind != "activation":
            what = f"{r.tensor} ({r.kind}: {len(r.exclude_nodes)} nodes from {r.node}, one unit)"
        else:
            chain = f" +{len(r.tensors) - 1} chained" if len(r.tensors) > 1 else ""
            act = f" +{r.folded}" if r.folded else ""
            what = f"{r.tensor} ({r.node or 'input'}{act}){chain}"
        lines.append(f"  {i:>3}  {sq:>8}  {r.zeroed_pct:>6.1f}%  {cos:>8}  {oc:>15}  {r.op[:14]:<14} {what}")
        if r.note:
            lines.append(f"  {'':>3}  note: {r.note}")
    return lines


def _fate(s: ExcludeStep) -> str:
    if s.added_for is None:
        return ""
    if s.kept:
        return ", kept"
    return ", dropped (another in this round helped more)" if s.helped else ", dropped (did not help)"


def render_auto(report: AutoExcludeReport) -> list[str]:
    """Text lines: every step (kept or dropped), the final state, the speed cost."""
    lines = [f"Auto-exclude (budget {report.budget} unit(s); a recognised subgraph counts as one):"]
    for i, s in enumerate(report.steps):
        what = "all quantized" if s.added_for is None else f"+ FP32 around {s.added_for} ({s.units} unit(s))"
        fate = _fate(s)
        lines.append(
            f"  step {i}: {what} -> cosine mean {s.cosine_mean:.5f}, top-1 agreement {_pct(s.top1_agreement)}, "
            f"{s.verdict.upper()}{fate}"
        )
    f = report.final
    lines.append(
        f"  result: {'PASS' if report.passed else 'FAIL'} — {report.stopped_because}; final: cosine mean "
        f"{f.cosine_mean:.5f}, top-1 agreement {_pct(f.top1_agreement)}, {f.units} unit(s) / "
        f"{len(f.excluded)} node(s) in FP32: " + (", ".join(f.excluded) or "none")
    )
    lat = report.latency_ms
    if lat:
        lines.append(
            f"  speed: FP32 {lat['fp32']:.4f} ms, INT8 all {lat['int8_all']:.4f} ms, INT8 with exclusions "
            f"{lat['int8_final']:.4f} ms ({report.speed_cost_pct:+.1f} % vs all-INT8; in-process median, one sample)"
        )
    return lines
