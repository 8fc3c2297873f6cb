"""The tune's decisions, pure: which candidates pass the bounds, which are compared how, the Pareto front, the
front-runners worth a confirmation run, and the recommendation with its reasons in plain words.

Nothing here runs a model; the engine (engine.py) measures and hands over :class:`CandidateOutcome` records and,
per candidate key, the :class:`BenchmarkResult` its latency comparisons use (the confirmation run when there is
one, else the short run).

Significance is the one rule ``results compare`` uses (core/results/compare.py ``ratio_verdict``): a difference
counts only when its 95 % interval excludes 1, it is at least ``SMALL_PCT`` (2 %, run-to-run drift) and neither run
was contended. Per objective:

- ``p50``: ``ratio_verdict`` on the two runs (bootstrap of the ratio of medians).
- ``throughput``: the same ratio of medians, turned into per-inference terms by the two batches (a constant factor,
  so the interval scales with it).
- ``p99``: the two p99 order-statistic intervals (bench/confidence.py) must not overlap, and the drift floor holds.
- ``energy``: mJ per inference has no interval; a difference counts from :data:`ENERGY_NOISE_PCT` on.

Recorded or replayed figures (``measured`` False) appear in the front and the table, never in a recommendation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.core.results.compare import SMALL_PCT, ratio_verdict
from workbench.core.tune.types import Candidate, CandidateOutcome, TuneBounds, TuneRecommendation

#: mJ per inference comes from power sampled at the telemetry interval (200 ms by default): no per-inference
#: interval exists, so an energy difference under 5 % is treated as noise (5 %: the issue's own tolerance for
#: "as fast as the best recipe").
ENERGY_NOISE_PCT = 5.0
#: Statuses whose latency figures count (short run or confirmation run done).
TIMED = ("measured", "confirmed")


@dataclass(frozen=True)
class SpeedVerdict:
    """B against A on the objective: ``ratio`` = B/A in objective terms (< 1: B is better), its 95 % interval when
    there is one, ``significant`` by the rule in the module docstring, and the verdict in words."""

    ratio: float | None
    ci95: tuple[float, float] | None
    significant: bool
    verdict: str


def value(o: CandidateOutcome, objective: str) -> float | None:
    """The objective as a number to minimise: p50 or p99 in ms, ms per inference for throughput (1000 / ips),
    mJ per inference for energy. None when not measured."""
    if objective == "p50":
        return o.p50_ms
    if objective == "p99":
        return o.p99_ms
    if objective == "throughput":
        return 1000.0 / o.inferences_per_s if o.inferences_per_s else None
    if objective == "energy":
        return o.mj_per_inference
    raise ValueError(f"unknown objective {objective!r}")


def accuracy_problem(o: CandidateOutcome, bounds: TuneBounds) -> str | None:
    """Why ``o`` fails the accuracy bounds (None when it meets them). A bound the outcome has no figure for fails:
    an unmeasured accuracy is never taken as a pass."""
    if o.candidate.precision == "fp32":
        return None  # the reference itself
    if bounds.min_cosine is not None:
        if o.cosine_min is None or not math.isfinite(o.cosine_min):
            return "no per-sample cosine vs FP32 was measured"
        if o.cosine_min < bounds.min_cosine:
            return f"minimum cosine vs FP32 {_enough(o.cosine_min, bounds.min_cosine)} < {bounds.min_cosine:g}"
    if bounds.max_drop_pts is not None:
        if o.top1_drop_pts is None:
            return "no top-1 figure (the eval set has no labels.csv and no classifier output)"
        if o.top1_drop_pts > bounds.max_drop_pts:
            return f"top-1 drop {o.top1_drop_pts:.2f} pts > {bounds.max_drop_pts:g}"
    return None


def _enough(value: float, bound: float) -> str:
    """``value`` with the digits it takes to show it differs from ``bound`` (4 to 9 decimals): 0.9999987 against
    0.999999 printed as "1.0000" read as if the bound were met."""
    for digits in range(4, 10):
        text = f"{value:.{digits}f}"
        if float(text) != bound and (float(text) < bound) == (value < bound):
            return text
    return f"{value:.10g}"


def bound_problem(o: CandidateOutcome, bounds: TuneBounds) -> str | None:
    """Why ``o``'s timed figures fail the p99 / power bounds (None when they meet them or were not measured)."""
    if bounds.p99_max_ms is not None and o.p99_ms is not None and o.p99_ms > bounds.p99_max_ms:
        return f"p99 {o.p99_ms:.3g} ms > {bounds.p99_max_ms:g} ms"
    if bounds.power_max_w is not None:
        if o.mean_power_w is None:
            return "no power reading to check --power-max against"
        if o.mean_power_w > bounds.power_max_w:
            return f"mean power {o.mean_power_w:.3g} W > {bounds.power_max_w:g} W"
    return None


def eligible(outcomes: Sequence[CandidateOutcome], bounds: TuneBounds, objective: str) -> list[CandidateOutcome]:
    """Measured on this run (never recorded), timed, meeting every bound, best objective first."""
    out = [
        o
        for o in outcomes
        if o.measured
        and o.status in TIMED
        and value(o, objective) is not None
        and accuracy_problem(o, bounds) is None
        and bound_problem(o, bounds) is None
    ]
    return sorted(out, key=lambda o: (value(o, objective), simplicity(o.candidate)))  # type: ignore[arg-type, return-value]


def simplicity(c: Candidate) -> tuple[Any, ...]:
    """Sort key: simpler first. FP32 before FP16 before INT8; fewer layers kept FP32; the plainer recipe (fewer
    non-default switches, minmax); the runtime's default threads; batch 1."""
    r = c.recipe
    switches = sum(
        1
        for k, plain in (
            ("per_channel", False),
            ("reduce_range", False),
            ("activation_symmetric", False),
            ("activation_type", "uint8"),
            ("quant_format", "QDQ"),
        )
        if (r.get(k) if r.get(k) is not None else plain) != plain
    )
    method = {"minmax": 0, "percentile": 1, "entropy": 2}.get(str(r.get("method") or "minmax"), 3)
    return (
        {"fp32": 0, "fp16": 1, "int8": 2}.get(c.precision, 3),
        len(r.get("nodes_to_exclude") or ()),
        switches,
        method,
        0 if c.threads is None else 1,
        c.batch,
        c.power_mode or "",
        c.key,
    )


def accuracy_loss(o: CandidateOutcome) -> float:
    """A number to minimise: 1 − minimum cosine when measured, else the top-1 drop in points / 100, else 0 for
    FP32 and +inf for an unmeasured other precision."""
    if o.candidate.precision == "fp32":
        return 0.0
    if o.cosine_min is not None and math.isfinite(o.cosine_min):
        return 1.0 - o.cosine_min
    if o.top1_drop_pts is not None:
        return o.top1_drop_pts / 100.0
    return math.inf


def compare_speed(
    a: CandidateOutcome,
    b: CandidateOutcome,
    objective: str,
    results: Mapping[str, Any],
) -> SpeedVerdict:
    """B against A on ``objective`` (module docstring). ``results``: candidate key → BenchmarkResult."""
    va, vb = value(a, objective), value(b, objective)
    if not va or not vb:
        return SpeedVerdict(None, None, False, "cannot compare: a figure is missing")
    ra, rb = results.get(a.candidate.key), results.get(b.candidate.key)
    if objective == "energy":
        ratio = vb / va
        sig = abs(ratio - 1) * 100 >= ENERGY_NOISE_PCT
        words = "significant" if sig else f"within {ENERGY_NOISE_PCT:g} % (energy has no interval)"
        return SpeedVerdict(ratio, None, sig, f"mJ/inference B/A = {ratio:.3f}: {words}")
    if objective == "p99":
        ratio = vb / va
        ca, cb = _p99_ci(ra), _p99_ci(rb)
        contended = [r for r in (ra, rb) if r is not None and getattr(r, "contended", False)]
        if ca is None or cb is None:
            return SpeedVerdict(ratio, None, False, f"p99 B/A = {ratio:.3f}; no interval, significance unknown")
        apart = cb[1] < ca[0] or cb[0] > ca[1]
        sig = apart and abs(ratio - 1) * 100 >= SMALL_PCT and not contended
        why = (
            "a run was contended"
            if contended
            else ("significant" if sig else "the p99 intervals overlap or differ under the drift floor")
        )
        return SpeedVerdict(ratio, None, sig, f"p99 B/A = {ratio:.3f}: {why}")
    if ra is None or rb is None:
        ratio = vb / va
        return SpeedVerdict(ratio, None, False, f"B/A = {ratio:.3f}; no stored runs to compare, significance unknown")
    rv = ratio_verdict(ra, rb, n_boot=1000)
    if rv.ratio is None:
        return SpeedVerdict(None, None, False, rv.verdict)
    scale = 1.0
    if objective == "throughput":  # ms per inference = median latency / batch: a constant factor per run
        scale = (a.candidate.batch or 1) / (b.candidate.batch or 1)
    ratio = rv.ratio * scale
    ci = (rv.ci95[0] * scale, rv.ci95[1] * scale) if rv.ci95 is not None else None
    if scale == 1.0:
        return SpeedVerdict(ratio, ci, bool(rv.significant), rv.verdict)
    contended = bool(ra.contended or rb.contended)
    sig = ci is not None and not (ci[0] <= 1.0 <= ci[1]) and abs(ratio - 1) * 100 >= SMALL_PCT and not contended
    if sig:
        words = "significant"
    elif contended:
        words = "no significant difference claimed: a run was contended (other work shared the CPU)"
    else:
        words = "no significant difference"
    return SpeedVerdict(ratio, ci, sig, f"per-inference B/A = {ratio:.4f}{_ci(ci)}: {words}")


def _p99_ci(r: Any) -> tuple[float, float] | None:
    if r is None:
        return None
    e = r.latency.get(99.0)
    if e is None or e.ci95_ms is None or e.ci95_ms[0] is None or e.ci95_ms[1] is None:
        return None
    return (float(e.ci95_ms[0]), float(e.ci95_ms[1]))


def _ci(ci: tuple[float, float] | None) -> str:
    return f", 95 % CI [{ci[0]:.3f}, {ci[1]:.3f}]" if ci is not None else ""


def pareto_front(outcomes: Sequence[CandidateOutcome], objective: str) -> tuple[str, ...]:
    """Keys of the timed outcomes no other timed outcome dominates, over latency (the objective, or p50 for
    energy), accuracy loss (:func:`accuracy_loss`) and, when every point has one, mJ per inference. Recorded
    outcomes take part (the front shows them; the recommendation does not count them). Sorted by latency."""
    lat_obj = "p50" if objective == "energy" else objective
    pts = [o for o in outcomes if o.status in TIMED and value(o, lat_obj) is not None]
    with_energy = bool(pts) and all(o.mj_per_inference is not None for o in pts)

    def vec(o: CandidateOutcome) -> tuple[float, ...]:
        v = (float(value(o, lat_obj)), accuracy_loss(o))  # type: ignore[arg-type]
        return (*v, float(o.mj_per_inference)) if with_energy else v  # type: ignore[arg-type]

    vecs = {o.candidate.key: vec(o) for o in pts}

    def dominated(k: str) -> bool:
        x = vecs[k]
        return any(
            all(a <= b for a, b in zip(y, x, strict=True)) and any(a < b for a, b in zip(y, x, strict=True))
            for j, y in vecs.items()
            if j != k
        )

    front = [o for o in pts if not dominated(o.candidate.key)]
    return tuple(o.candidate.key for o in sorted(front, key=lambda o: vecs[o.candidate.key]))


def front_runners(
    outcomes: Sequence[CandidateOutcome],
    bounds: TuneBounds,
    objective: str,
    results: Mapping[str, Any],
    *,
    limit: int = 3,
) -> list[CandidateOutcome]:
    """The candidates worth a confirmation run: the best eligible one and those its short run is not
    significantly better than (at most ``limit``), best first."""
    pool = eligible(outcomes, bounds, objective)
    if not pool:
        return []
    best = pool[0]
    out = [best]
    for o in pool[1:]:
        if len(out) >= limit:
            break
        if not compare_speed(o, best, objective, results).significant:
            out.append(o)
    return out


def undominated(pool: list[CandidateOutcome], objective: str, results: Mapping[str, Any]) -> list[CandidateOutcome]:
    """The candidates no other one in ``pool`` (best first) is significantly better than."""
    keep = []
    for i, o in enumerate(pool):
        if not any(compare_speed(o, f, objective, results).significant for f in pool[:i]):
            keep.append(o)
    return keep


def recommend(
    outcomes: Sequence[CandidateOutcome],
    bounds: TuneBounds,
    objective: str,
    results: Mapping[str, Any],
    *,
    baseline_key: str | None = None,
) -> tuple[TuneRecommendation | None, str | None]:
    """The recommendation and, when there is none, why.

    Among the eligible candidates (:func:`eligible`), those no other one is significantly better than are the
    winners within the noise; of them the simplest (:func:`simplicity`), then the most accurate, then the best
    measured is recommended. Its reasons name the speed-up over FP32 (``baseline_key``) with its interval, the
    accuracy, p99, the candidates it is not significantly faster than, and recorded figures left out."""
    pool = eligible(outcomes, bounds, objective)
    recorded = [o for o in outcomes if not o.measured and o.status in TIMED]
    if not pool:
        timed = [o for o in outcomes if o.measured and o.status in TIMED]
        if objective == "energy" and timed and all(o.mj_per_inference is None for o in timed):
            return None, (
                "no energy figure: the telemetry of this run had no power readings (mJ/inference n/a), so "
                "--objective energy cannot rank the candidates; use a source with power (workbench telemetry "
                "sources) or --objective p50"
            )
        return None, _nothing_meets(outcomes, bounds)
    tied = undominated(pool, objective, results)
    chosen = min(tied, key=lambda o: (simplicity(o.candidate)[:-1], accuracy_loss(o), value(o, objective)))
    by_key = {o.candidate.key: o for o in outcomes}
    reasons: list[str] = []
    base = same_settings_fp32(outcomes, chosen) or (by_key.get(baseline_key) if baseline_key else None)
    name = _objective_words(objective)
    if base is not None and base is not chosen and value(base, objective):
        sv = compare_speed(base, chosen, objective, results)
        if sv.ratio:
            times = 1 / sv.ratio
            head = f"{times:.2f}× {'faster' if times >= 1 else 'slower'} than {base.candidate.label()} ({name} {_fig(chosen, objective)} vs {_fig(base, objective)}{_ci(sv.ci95)})"
            if not sv.significant:
                head = f"not significantly faster than FP32: {head}; {sv.verdict}"
            reasons.append(head)
    elif base is chosen:
        reasons.append(
            f"FP32 ({name} {_fig(chosen, objective)}): no other candidate meeting the bounds is significantly faster"
        )
    acc = _accuracy_words(chosen)
    if acc:
        reasons.append(acc)
    if chosen.p99_ms is not None:
        res = results.get(chosen.candidate.key)
        ci = _p99_ci(res)
        reasons.append(
            f"p99 {chosen.p99_ms:.3g} ms"
            + (f" (95 % CI {ci[0]:.3g}–{ci[1]:.3g} ms)" if ci else "")
            + (f", within --p99-max {bounds.p99_max_ms:g} ms" if bounds.p99_max_ms is not None else "")
        )
    if chosen.p50_ci95_ms is not None:
        lo, hi = chosen.p50_ci95_ms
        reasons.append(f"p50 95 % CI {lo:.3g}–{hi:.3g} ms (confirmation run)")
    others = [o for o in tied if o is not chosen]
    for o in others[:3]:
        sv = compare_speed(o, chosen, objective, results)
        better = value(o, objective) <= value(chosen, objective)  # type: ignore[operator]
        if better:
            reasons.append(
                f"{o.candidate.label()} measured better ({name} {_fig(o, objective)}) but not significantly "
                f"({sv.verdict}): the simpler / more accurate candidate is recommended"
            )
        else:
            reasons.append(f"not significantly faster than {o.candidate.label()} ({sv.verdict})")
    if recorded:
        reasons.append(
            f"{len(recorded)} recorded candidate(s) shown in the front but not counted: recorded figures are not "
            "a measurement of this run"
        )
    rid = chosen.confirm_result_id if chosen.confirm_result_id is not None else chosen.result_id
    return TuneRecommendation(chosen.candidate, rid, tuple(reasons)), None


def same_settings_fp32(outcomes: Sequence[CandidateOutcome], chosen: CandidateOutcome) -> CandidateOutcome | None:
    """The measured FP32 outcome with the chosen one's threads, batch, power mode and GPU options: the speed-up is
    stated against FP32 run the same way (INT8 on 2 threads against FP32 on 1 thread would credit the threads to the
    precision). None when there is none."""
    c = chosen.candidate
    for o in outcomes:
        f = o.candidate
        if (
            f.precision == "fp32"
            and o.measured
            and o.status in TIMED
            and (f.threads, f.batch, f.power_mode, dict(f.gpu)) == (c.threads, c.batch, c.power_mode, dict(c.gpu))
        ):
            return o
    return None


def _objective_words(objective: str) -> str:
    return {"p50": "p50", "p99": "p99", "throughput": "ms/inference", "energy": "mJ/inference"}[objective]


def _fig(o: CandidateOutcome, objective: str) -> str:
    v = value(o, objective)
    unit = "mJ" if objective == "energy" else "ms"
    return f"{v:.3g} {unit}" if v is not None else "n/a"


def _accuracy_words(o: CandidateOutcome) -> str:
    if o.candidate.precision == "fp32":
        return ""
    parts = []
    if o.top1_drop_pts is not None:
        if o.top1_basis == "fp32-agreement":
            parts.append(f"top-1 agrees with FP32 on {100.0 - o.top1_drop_pts:.2f} % of samples (no labels)")
        else:
            change = -o.top1_drop_pts
            parts.append(f"top-1 {'−' if change < 0 else '+'}{abs(change):.2f} pts")
    if o.cosine_min is not None:
        parts.append(f"minimum cosine vs FP32 {o.cosine_min:.4f}")
    return ", ".join(parts)


def _nothing_meets(outcomes: Sequence[CandidateOutcome], bounds: TuneBounds) -> str:
    timed = [o for o in outcomes if o.status in TIMED and o.measured]
    rejected = [o for o in outcomes if o.status.startswith("rejected")]
    if not timed and not rejected:
        return "no candidate was measured within the budget: raise --budget-min"
    over = [o for o in timed if bounds and bound_problem(o, bounds)]
    if over and not rejected:
        why = "; ".join(f"{o.candidate.label()}: {bound_problem(o, bounds)}" for o in over[:4])
        return f"no measured candidate meets the bounds ({why})"
    why = "; ".join(f"{o.candidate.label()}: {o.reason}" for o in rejected[:4])
    more = f" and {len(rejected) - 4} more" if len(rejected) > 4 else ""
    return f"no candidate meets the bounds ({len(rejected)} rejected: {why}{more})"
