"""A tune's result as text, for both faces: the candidate table with the Pareto front marked, the
recommendation with its reasons, the tuned profile's path."""

from __future__ import annotations

from workbench.core.tune.types import CandidateOutcome, TuneResult


def _num(v: float | None, fmt: str = ".3g") -> str:
    return format(v, fmt) if v is not None else "-"


def candidate_rows(result: TuneResult) -> list[list[str]]:
    """One row per candidate: front mark ("*"), label, status, p50, p99 (ms), inferences/s, top-1 drop (pts),
    minimum cosine vs FP32, mJ/inference, provenance; front first, then by p50."""
    front = set(result.front)

    def order(o: CandidateOutcome) -> tuple:
        return (o.candidate.key not in front, o.p50_ms is None, o.p50_ms or 0.0)

    rows = []
    for o in sorted(result.outcomes, key=order):
        rows.append(
            [
                "*" if o.candidate.key in front else "",
                o.candidate.label(),
                o.status,
                _num(o.p50_ms),
                _num(o.p99_ms),
                _num(o.inferences_per_s, ".4g"),
                _num(o.top1_drop_pts, ".2f"),
                _num(o.cosine_min, ".4f"),
                _num(o.mj_per_inference),
                o.provenance if not o.measured else "",
            ]
        )
    return rows


HEADS = ["front", "candidate", "status", "p50 ms", "p99 ms", "inf/s", "top-1 drop", "cos min", "mJ/inf", "figures"]


def render_text(result: TuneResult) -> str:
    """The table, then the recommendation and its reasons (or why there is none), the tuned profile."""
    rows = candidate_rows(result)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(HEADS)]
    out = [
        f"tune {result.tune_id}: {result.model} on {result.profile}, objective {result.objective}, "
        f"{len(result.outcomes)} candidates, {result.elapsed_s:.0f} s of {result.budget_s:.0f} s ({result.stopped})",
        "  ".join(h.ljust(w) for h, w in zip(HEADS, widths, strict=True)).rstrip(),
    ]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    out.append("(* = on the Pareto front over latency, accuracy and energy where measured)")
    rec = result.recommendation
    if rec is None:
        out.append(f"no recommendation: {result.no_recommendation}")
    else:
        out.append(f"recommended: {rec.candidate.label()} (result {rec.result_id})")
        out += [f"  - {r}" for r in rec.reasons]
    for o in result.outcomes:
        if o.status == "rejected-accuracy" or o.status == "failed":
            out.append(f"{o.candidate.label()}: {o.status}: {o.reason}")
    if result.profile_path:
        out.append(f"tuned profile: {result.profile_path} (use --profile {result.profile_path})")
    return "\n".join(out)
