"""The typed pieces of a tune run: candidates, their outcomes, the recommendation and the whole result.

Built once by the tune engine and turned into dicts only at the JSON / SQLite / events edges (``to_dict``); both
faces read these fields. A candidate is identified by ``key`` (a hash of what defines it), which is what a resumed
tune looks up in the results database to skip candidates already measured.
"""

from __future__ import annotations

import hashlib
import json
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

OBJECTIVES = ("p50", "p99", "throughput", "energy")
#: Outcome statuses. "measured": short run done; "confirmed": a longer confirmation run with an interval too;
#: "rejected-accuracy" / "rejected-bound": failed a bound (why in ``reason``); "failed": an error (in ``reason``);
#: "not-run": the budget ran out first.
STATUSES = ("measured", "confirmed", "rejected-accuracy", "rejected-bound", "failed", "not-run")


def _frozen(m: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return types.MappingProxyType(dict(m or {}))


@dataclass(frozen=True)
class Candidate:
    """One point of the search space.

    ``precision``: "fp32" | "fp16" | "int8". ``recipe``: for int8, the QuantOptions overrides that define the recipe
    (``method``, ``per_channel``, ``activation_type``, ``activation_symmetric``, ``reduce_range``, ``quant_format``
    "QDQ"|"QOperator", ``nodes_to_exclude`` …); {} otherwise. ``threads``: CPU intra-op threads (None = the runtime's
    default). ``batch``: queries' batch (1 unless the objective is throughput). ``power_mode``: a Jetson nvpmodel mode
    name (None = leave it). ``gpu``: GPU options (``cuda_graph``, ``streams``, ``builder_optimization_level``).
    """

    precision: str
    recipe: Mapping[str, Any] = field(default_factory=dict)
    threads: int | None = None
    batch: int = 1
    power_mode: str | None = None
    gpu: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "recipe", _frozen(self.recipe))
        object.__setattr__(self, "gpu", _frozen(self.gpu))

    def to_dict(self) -> dict[str, Any]:
        return {
            "precision": self.precision,
            "recipe": _plain(self.recipe),
            "threads": self.threads,
            "batch": self.batch,
            "power_mode": self.power_mode,
            "gpu": _plain(self.gpu),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Candidate:
        return cls(
            str(d["precision"]),
            dict(d.get("recipe") or {}),
            d.get("threads"),
            int(d.get("batch") or 1),
            d.get("power_mode"),
            dict(d.get("gpu") or {}),
        )

    @property
    def key(self) -> str:
        """16 hex digits of the SHA-256 of the canonical JSON of :meth:`to_dict` (stable across runs and machines)."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def label(self) -> str:
        """Plain words: "INT8 per-channel U8S8 QDQ (entropy), 2 layers FP32, 2 threads, batch 1"."""
        parts = [self.precision.upper()]
        if self.precision == "int8":
            r = self.recipe
            act = "S8" if r.get("activation_type") == "int8" else "U8"
            wt = "U8" if r.get("weight_type") == "uint8" else "S8"
            words = ["per-channel" if r.get("per_channel") else "per-tensor", f"{act}{wt}"]
            if r.get("activation_symmetric"):
                words.append("symmetric")
            if r.get("reduce_range"):
                words.append("reduce_range")
            words.append(str(r.get("quant_format") or "QDQ"))
            parts = [f"INT8 {' '.join(words)} ({r.get('method') or 'minmax'})"]
            kept = r.get("nodes_to_exclude") or ()
            if kept:
                parts.append(f"{len(kept)} layer{'s' if len(kept) != 1 else ''} FP32")
        if self.threads:
            parts.append(f"{self.threads} thread{'s' if self.threads != 1 else ''}")
        if self.batch != 1:
            parts.append(f"batch {self.batch}")
        if self.power_mode:
            parts.append(f"power mode {self.power_mode}")
        for k, v in sorted(self.gpu.items()):
            parts.append(f"{k}={v}")
        return ", ".join(parts)


@dataclass(frozen=True)
class TuneBounds:
    """What a recommendation must meet: top-1 drop (points, needs labels), minimum per-sample output cosine vs FP32,
    p99 latency (ms), mean power (W). None = no bound."""

    max_drop_pts: float | None = None
    min_cosine: float | None = None
    p99_max_ms: float | None = None
    power_max_w: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_drop_pts": self.max_drop_pts,
            "min_cosine": self.min_cosine,
            "p99_max_ms": self.p99_max_ms,
            "power_max_w": self.power_max_w,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TuneBounds:
        return cls(d.get("max_drop_pts"), d.get("min_cosine"), d.get("p99_max_ms"), d.get("power_max_w"))


@dataclass(frozen=True)
class CandidateOutcome:
    """What became of one candidate. Latency in ms (``p50_ci95_ms``: the 95 % interval of the median, from the
    confirmation run), throughput in inferences/s, power in W, energy in mJ per inference, accuracy as top-1 drop
    (points, positive = worse) and minimum per-sample cosine vs FP32. ``measured`` False (``provenance`` "recorded",
    "replayed" …) marks figures not measured on this run: shown, never recommended. ``result_id``: the stored
    short run; ``confirm_result_id``: the stored confirmation run."""

    candidate: Candidate
    status: str
    reason: str = ""
    top1_drop_pts: float | None = None
    cosine_min: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    p50_ci95_ms: tuple[float, float] | None = None
    inferences_per_s: float | None = None
    mean_power_w: float | None = None
    mj_per_inference: float | None = None
    measured: bool = True
    provenance: str = "measured"
    result_id: int | None = None
    confirm_result_id: int | None = None
    #: What ``top1_drop_pts`` rests on: "labels" (top-1 against labels.csv) or "fp32-agreement" (no labels: 100 −
    #: the share of samples whose top-1 agrees with FP32's); None when there is no top-1 figure.
    top1_basis: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.candidate.key,
            "label": self.candidate.label(),
            "candidate": self.candidate.to_dict(),
            "status": self.status,
            "reason": self.reason,
            "top1_drop_pts": self.top1_drop_pts,
            "cosine_min": self.cosine_min,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "p50_ci95_ms": list(self.p50_ci95_ms) if self.p50_ci95_ms is not None else None,
            "inferences_per_s": self.inferences_per_s,
            "mean_power_w": self.mean_power_w,
            "mj_per_inference": self.mj_per_inference,
            "measured": self.measured,
            "provenance": self.provenance,
            "result_id": self.result_id,
            "confirm_result_id": self.confirm_result_id,
            "top1_basis": self.top1_basis,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CandidateOutcome:
        ci = d.get("p50_ci95_ms")
        return cls(
            Candidate.from_dict(d["candidate"]),
            str(d["status"]),
            str(d.get("reason") or ""),
            d.get("top1_drop_pts"),
            d.get("cosine_min"),
            d.get("p50_ms"),
            d.get("p99_ms"),
            (float(ci[0]), float(ci[1])) if isinstance(ci, (list, tuple)) and len(ci) == 2 else None,
            d.get("inferences_per_s"),
            d.get("mean_power_w"),
            d.get("mj_per_inference"),
            bool(d.get("measured", True)),
            str(d.get("provenance") or "measured"),
            d.get("result_id"),
            d.get("confirm_result_id"),
            d.get("top1_basis"),
        )


@dataclass(frozen=True)
class TuneRecommendation:
    """The recommended candidate, its stored confirmation run (``result_id``) and the reasons in plain words
    ("1.9× faster than FP32 (p50 95 % CI …), top-1 −0.3 pts", "not significantly faster than X" …)."""

    candidate: Candidate
    result_id: int | None
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        c = self.candidate
        return {
            "key": c.key,
            "label": c.label(),
            "precision": c.precision,
            "settings": c.to_dict(),
            "result_id": self.result_id,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class TuneResult:
    """A whole tune run. ``front``: keys of the candidates on the Pareto front over the measured objectives
    (latency, accuracy, energy where measured). ``recommendation`` None only when no candidate meets the bounds
    (``no_recommendation`` says so). ``stopped``: "done" | "budget" | "cancelled". ``profile_path``: the tuned
    profile (TOML that ``extends`` the device profile) written for the recommendation."""

    tune_id: str
    model: str
    profile: str
    objective: str
    bounds: TuneBounds
    budget_s: float
    elapsed_s: float
    outcomes: tuple[CandidateOutcome, ...]
    front: tuple[str, ...]
    recommendation: TuneRecommendation | None
    no_recommendation: str | None = None
    profile_path: str | None = None
    stopped: str = "done"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TuneResult:
        """The inverse of :meth:`to_dict` (a job's outcome document, read back by a face). The front comes back as
        the keys of its rows' candidates, recomputed, so a row whose ``key`` field disagrees is never on it.

        Raises:
            KeyError, TypeError, ValueError, AttributeError: ``d`` is not a tune document (callers name the file).
        """
        outcomes = tuple(CandidateOutcome.from_dict(row) for row in d.get("candidates") or ())
        keys = {o.candidate.key for o in outcomes}
        front = tuple(k for row in d.get("front") or () if (k := Candidate.from_dict(row["candidate"]).key) in keys)
        rec = d.get("recommendation")
        recommendation = None
        if rec is not None:
            recommendation = TuneRecommendation(
                Candidate.from_dict(rec["settings"]),
                int(rec["result_id"]) if rec.get("result_id") is not None else None,
                tuple(str(r) for r in rec.get("reasons") or ()),
            )
        return cls(
            tune_id=str(d.get("tune_id") or ""),
            model=str(d.get("model") or ""),
            profile=str(d.get("profile") or ""),
            objective=str(d.get("objective") or "p50"),
            bounds=TuneBounds.from_dict(d.get("bounds") or {}),
            budget_s=float(d.get("budget_s") or 0.0),
            elapsed_s=float(d.get("elapsed_s") or 0.0),
            outcomes=outcomes,
            front=front,
            recommendation=recommendation,
            no_recommendation=d.get("no_recommendation"),
            profile_path=d.get("profile_path"),
            stopped=str(d.get("stopped") or "done"),
        )

    def outcome(self, key: str) -> CandidateOutcome | None:
        return next((o for o in self.outcomes if o.candidate.key == key), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tune_id": self.tune_id,
            "model": self.model,
            "profile": self.profile,
            "objective": self.objective,
            "bounds": self.bounds.to_dict(),
            "budget_s": self.budget_s,
            "elapsed_s": self.elapsed_s,
            "stopped": self.stopped,
            "recommendation": self.recommendation.to_dict() if self.recommendation is not None else None,
            "no_recommendation": self.no_recommendation,
            "front": [o.to_dict() for k in self.front if (o := self.outcome(k)) is not None],
            "candidates": [o.to_dict() for o in self.outcomes],
            "profile_path": self.profile_path,
        }


def _plain(m: Mapping[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in m.items()}
