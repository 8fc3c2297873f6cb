"""The tune's search space: which candidates (tune/types.py ``Candidate``) a model gets on a device.

From the profile's backend and device kind, narrowed or widened by the profile's ``[tune]`` table
(profiles/schema.py ``TuneSection``):

- CPU (onnxruntime): fp32, int8 × the plain onnxruntime recipes (``PLAIN_RECIPES``, minmax) plus the other
  calibration methods on the recipe this CPU's instruction set gets, × intra-op threads 1 … the usable cores.
  fp16 only when ``[tune] precisions`` lists it (ONNX Runtime's CPU provider computes most FP16 ops in FP32).
- GPU (tensorrt / torch): fp32, fp16, int8 (the profile's recipe and its methods) × CUDA graphs × streams ×
  builder optimisation levels, each only when ``[tune]`` lists values (one default point otherwise).
- Batch joins only for the throughput objective (``[tune] batches``, default 1 and 4).
- Layers kept in FP32 are not listed up front: the engine adds a candidate per recipe with the layers the INT8
  localisation found (:func:`with_kept_layers`) when a recipe misses an accuracy bound.
- Jetson power modes come from a power sweep (live through workflow.sweep, or a recorded one): :func:`power_mode_outcomes`.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from workbench.core.errors import ConfigError
from workbench.core.precision.cpu_recipes import PLAIN_RECIPES, recipe_for_isa
from workbench.core.tune.types import Candidate, CandidateOutcome

CPU_BACKENDS = ("onnxruntime",)
METHODS = ("minmax", "entropy", "percentile")
#: Batches tried for the throughput objective when ``[tune] batches`` is not set.
DEFAULT_BATCHES = (1, 4)


@dataclass(frozen=True)
class TuneSpace:
    """The candidates in the order the engine visits them (FP32 first: the reference), and notes on what the
    space left out and why."""

    candidates: tuple[Candidate, ...]
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"candidates": [c.to_dict() for c in self.candidates], "notes": list(self.notes)}


def cpu_isa() -> str:
    """The instruction-set family INT8 speed depends on: "vnni" (AVX-512 VNNI or AVX-VNNI), "avx512", "avx2",
    "neon" (aarch64), else "other". Read from /proc/cpuinfo's flags (Linux); "other" when it cannot be read."""
    if platform.machine().lower() in ("aarch64", "arm64"):
        return "neon"
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return "other"
    if "avx512_vnni" in flags or "avx_vnni" in flags:
        return "vnni"
    if "avx512f" in flags:
        return "avx512"
    return "avx2" if "avx2" in flags else "other"


def usable_cores() -> int:
    """CPUs this process may run on (its affinity mask), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _supported_keys() -> set[str]:
    """Recipe keys the installed quantizer understands (QuantOptions fields)."""
    from workbench.core.precision.quantize import QuantOptions

    return set(QuantOptions.__dataclass_fields__)


def build_space(
    *,
    backend: str,
    objective: str,
    tune: Any = None,
    allowed_precisions: Sequence[str] = ("fp32", "fp16", "int8"),
    base_recipe: dict[str, Any] | None = None,
    has_calib: bool = True,
    cores: int | None = None,
    isa: str | None = None,
) -> TuneSpace:
    """The candidates for ``backend`` (profile ``build.backend``) and ``objective``.

    ``tune``: the profile's TuneSection (None = defaults). ``allowed_precisions``: the profile's
    ``build.precisions``. ``base_recipe``: the profile's own INT8 recipe (GPU backends search its methods).
    ``has_calib``: False drops INT8 (no calibration set; said in the notes).

    Raises:
        ConfigError: ``[tune] recipes`` names a recipe that does not exist (listing those that do).
    """
    notes: list[str] = []
    cpu = backend in CPU_BACKENDS
    cores = cores or usable_cores()
    t = tune
    wanted = list(getattr(t, "precisions", None) or (["fp32", "int8"] if cpu else ["fp32", "fp16", "int8"]))
    if "fp32" not in wanted:
        wanted.insert(0, "fp32")  # the reference every speed-up and accuracy figure is against
    precisions = [p for p in wanted if p in allowed_precisions or p == "fp32"]
    for p in wanted:
        if p not in precisions:
            notes.append(f"{p}: not in the profile's build.precisions")
    if "int8" in precisions and not has_calib:
        precisions.remove("int8")
        notes.append("int8: no calibration set (pass --calib DIR)")
    if backend == "torch" and "int8" in precisions:
        precisions.remove("int8")
        notes.append("int8: the torch backend runs fp32/fp16/bf16 only")
    threads: list[int | None] = list(getattr(t, "threads", None) or (range(1, cores + 1) if cpu else [None]))
    if cpu and not getattr(t, "threads", None) and cores == 1:
        threads = [None]
    batches = list(getattr(t, "batches", None) or DEFAULT_BATCHES) if objective == "throughput" else [1]
    gpu_points = _gpu_points(t) if not cpu else [{}]
    recipes = _int8_recipes(t, cpu, base_recipe or {}, isa or (cpu_isa() if cpu else "gpu"), notes)
    out: list[Candidate] = []
    for p in precisions:
        variants = recipes if p == "int8" else [{}]
        for recipe in variants:
            for th in threads:
                for b in batches:
                    for g in gpu_points:
                        out.append(Candidate(p, recipe, th, b, None, g))
    unique = {c.key: c for c in reversed(out)}  # first of each key kept (Candidate holds mappings: unhashable)
    return TuneSpace(tuple(c for c in out if unique.get(c.key) is c), tuple(notes))


def _int8_recipes(t: Any, cpu: bool, base: dict[str, Any], isa: str, notes: list[str]) -> list[dict[str, Any]]:
    names = getattr(t, "recipes", None)
    methods = list(getattr(t, "methods", None) or METHODS)
    if not cpu:  # a GPU target has one placement (the profile's); its calibration methods are the choice
        keep = {k: base[k] for k in ("activation_type", "weight_type", "per_channel") if k in base}
        return [{**keep, "method": m} for m in methods]
    if names is not None:
        unknown = [n for n in names if n not in PLAIN_RECIPES]
        if unknown:
            raise ConfigError(
                f"[tune] recipes: unknown recipe {', '.join(map(repr, unknown))}",
                hint=f"known recipes: {', '.join(PLAIN_RECIPES)}",
            )
    chosen = list(names) if names is not None else list(PLAIN_RECIPES)
    known = _supported_keys()
    isa_recipe = recipe_for_isa(isa)
    out = []
    for name in chosen:
        recipe = dict(PLAIN_RECIPES[name])
        missing = [k for k, v in recipe.items() if k not in known and v not in (None, "QDQ")]
        if missing:
            notes.append(f"{name}: this quantizer has no {', '.join(missing)} option yet; skipped")
            continue
        recipe = {k: v for k, v in recipe.items() if k in known}
        for m in methods if name == isa_recipe else ["minmax"]:
            if m == "minmax" or name == isa_recipe:
                out.append({**recipe, "method": m})
    if isa_recipe not in chosen and methods != ["minmax"]:
        notes.append(f"calibration methods are searched on {isa_recipe} ({isa}), which [tune] recipes leaves out")
    return out


def _gpu_points(t: Any) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = [{}]
    for key, values in (
        ("cuda_graph", getattr(t, "cuda_graph", None)),
        ("streams", getattr(t, "streams", None)),
        ("builder_optimization_level", getattr(t, "builder_optimization_levels", None)),
    ):
        if values:
            points = [{**p, key: v} for p in points for v in values]
    return points


def with_kept_layers(c: Candidate, nodes: Sequence[str]) -> Candidate:
    """``c`` with ``nodes`` kept in FP32 (QuantOptions ``nodes_to_exclude``), sorted so the key is stable."""
    recipe = dict(c.recipe)
    recipe["nodes_to_exclude"] = sorted(set(recipe.get("nodes_to_exclude") or ()) | set(nodes))
    return Candidate(c.precision, recipe, c.threads, c.batch, c.power_mode, c.gpu)


def power_mode_outcomes(sweep: Any, base: Candidate | CandidateOutcome, *, recorded: bool) -> list[CandidateOutcome]:
    """The rows of a power sweep (power/sweep.py ``SweepResult``) as candidates: ``base`` in each power mode (an
    outcome's accuracy figures carry over: the power mode changes clocks, not the arithmetic).

    ``recorded``: the sweep was read from a file (not measured by this run): every row is labelled "recorded"
    and never counts as measured. Rows that did not run ("failed", "reboot_required") keep their reason."""
    acc = base if isinstance(base, CandidateOutcome) else None
    base = base.candidate if isinstance(base, CandidateOutcome) else base
    out = []
    for row in sweep.rows:
        c = Candidate(base.precision, dict(base.recipe), base.threads, base.batch, row.mode, dict(base.gpu))
        measured = bool(row.measured) and not recorded
        ok = row.status == "ok"
        out.append(
            CandidateOutcome(
                c,
                "measured" if ok else "failed",
                reason="" if ok else str(row.reason or row.status),
                p50_ms=row.p50_ms,
                p99_ms=row.p99_ms,
                inferences_per_s=row.throughput_ips,
                mean_power_w=row.mean_power_w,
                mj_per_inference=row.mj_per_inference,
                measured=measured,
                provenance="measured" if measured else "recorded",
                top1_drop_pts=acc.top1_drop_pts if acc is not None else None,
                cosine_min=acc.cosine_min if acc is not None else None,
            )
        )
    return out
