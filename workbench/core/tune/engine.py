"""The tune engine: measure the search space (space.py) through the workflow layer and decide (strategy.py).

Order, within ``budget_s`` seconds (checked before every step; at the budget it recommends from what it has):

1. FP32: its short benchmark (the reference every speed-up is against).
2. Accuracy of every other (precision, recipe), against FP32 on the eval set (workflow.check_accuracy: the same
   comparison ``workbench compare`` makes), cached per artifact (the QDQ / FP16 model's content hash, the eval
   folder and the bounds) in ``<cache>/tune/accuracy.json``. When an INT8 recipe misses an accuracy bound, the INT8
   localisation (workflow.localize_int8 with auto-exclude, thresholds = the bounds) finds the layers to keep in
   FP32 once, and every failing recipe gets a candidate with those layers kept.
3. A short benchmark (``short_s``) of every candidate that passes, through workflow.bench (the child benchmark
   ``bench`` uses); a contended run is measured again (up to ``CONTENDED_RETRIES`` times).
4. Longer confirmation runs (``confirm_s``) with intervals for FP32 and the front-runners (strategy.front_runners).

Every run is stored in the results database with ``"tune": {tune_id, signature, candidate_key, phase, candidate,
accuracy}`` in the stored document (BenchmarkResult extras), so the tune run and the candidate are recoverable
from each result. The tune's ``signature`` hashes what makes two tunes the same (model content, profile settings,
backend, objective, bounds, the space, the run lengths); running the same tune again (after a kill -9 of its job,
say) reuses every stored run of that signature instead of measuring it again.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from workbench.core.errors import Cancelled, WorkbenchError
from workbench.core.progress import Progress, ProgressFn, no_progress
from workbench.core.tune import space as space_mod
from workbench.core.tune import strategy
from workbench.core.tune.types import OBJECTIVES, Candidate, CandidateOutcome, TuneBounds, TuneResult

#: A contended short or confirmation run is measured again at most this many times (then kept, marked contended:
#: its comparisons are never called significant, compare.py).
CONTENDED_RETRIES = 1
#: Bumped when what a stored run means changes, so an older tune's runs are not resumed into a newer one.
ENGINE_VERSION = 2  # 2: INT8 candidates quantized with their own recipe (1 let a CPU profile's auto recipe replace it)

EventFn = Callable[[object], None]
#: A recorded sweep is a few kB of JSON; anything past this is not one (read whole, so bounded).
MAX_SWEEP_BYTES = 16 << 20


@dataclass(frozen=True)
class TuneOptions:
    """What a tune is asked for. ``budget_s``: wall seconds for the whole search (``--budget-min`` × 60).
    ``short_s`` / ``confirm_s``: seconds of each short and confirmation benchmark (0 = chosen from the budget).
    ``confirm_top``: front-runners confirmed. ``recorded_sweep``: a power sweep JSON (``workbench sweep --json``)
    shown as recorded candidates, never recommended. ``profile_out``: where the tuned profile goes (None = the
    user profiles folder). ``fresh``: ignore stored runs of the same tune."""

    objective: str = "p50"
    bounds: TuneBounds = field(default_factory=TuneBounds)
    budget_s: float = 600.0
    short_s: float = 0.0
    confirm_s: float = 0.0
    confirm_top: int = 3
    recorded_sweep: str | None = None
    profile_out: str | None = None
    fresh: bool = False


@dataclass(frozen=True)
class Steps:
    """The workflow functions a tune runs candidates through (core/workflow.py wires its own: the engine does not
    import the workflow, which imports it). Signatures as there: ``precision_model(job, precision, on_progress,
    cancel)``, ``check_accuracy(job, precision, on_progress, cancel)``, ``localize_int8(job, check, **kw)``,
    ``build(job, precision, on_progress, cancel)``, ``bench(job, built, on_progress=, cancel=)``,
    ``store(job, result, on_progress)``."""

    precision_model: Callable[..., Any]
    check_accuracy: Callable[..., Any]
    localize_int8: Callable[..., Any]
    build: Callable[..., Any]
    bench: Callable[..., Any]
    store: Callable[..., Any]


class _Budget:
    def __init__(self, budget_s: float, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.t0 = clock()
        self.budget_s = budget_s

    @property
    def elapsed(self) -> float:
        return self.clock() - self.t0

    def allows(self, need_s: float = 0.0) -> bool:
        return self.elapsed + need_s <= self.budget_s


def run_lengths(opts: TuneOptions, n_candidates: int) -> tuple[float, float]:
    """(short_s, confirm_s): the options' own, else about a third of the budget spread over the short runs
    (0.5 … 3 s each) and confirmation runs three times as long (at most 10 s)."""
    short = opts.short_s or min(3.0, max(0.5, opts.budget_s / 3 / max(1, n_candidates)))
    confirm = opts.confirm_s or min(10.0, 3 * short)
    return short, confirm


def signature(job: Any, opts: TuneOptions, space: space_mod.TuneSpace, short_s: float, confirm_s: float) -> str:
    """SHA-256 (hex) of what makes two tunes the same (module docstring)."""
    from workbench.core.job import dataset_path

    doc = {
        "engine": ENGINE_VERSION,
        "model": job.model_info.sha256,
        "profile": job.profile.content_hash(),
        "backend": job.require_backend().name,
        "objective": opts.objective,
        "bounds": opts.bounds.to_dict(),
        "space": [c.key for c in space.candidates],
        "calib": str(dataset_path(job, "calib") or ""),
        "eval": str(dataset_path(job, "eval") or ""),
        "short_s": short_s,
        "confirm_s": confirm_s,
        "nonce": time.time_ns() if opts.fresh else None,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


# --- the job a candidate runs as ------------------------------------------------------------------------------------
def candidate_job(job: Any, c: Candidate, bounds: TuneBounds) -> Any:
    """``job`` set up for candidate ``c``: its INT8 recipe in the profile's ``[quantization]`` (the model spec's
    quantization keys the recipe sets are dropped: the candidate decides them), the bounds as the accuracy
    thresholds, threads and batch in the request, nothing stored by the workflow itself (the engine stores each run
    with its tune link)."""
    from workbench.core.profiles.schema import QuantSection

    prof = job.profile
    known = {k: v for k, v in c.recipe.items() if k in QuantSection.model_fields}
    if c.precision == "int8" and c.recipe:
        # The candidate's keys as written: a CPU profile's cpu_recipe = "auto" would replace them with the recipe
        # chosen for the instruction set (core/job.py quant_settings), and every INT8 candidate would measure that
        # one recipe under its own label.
        known["cpu_recipe"] = "profile"
    if "nodes_to_exclude" in known:
        known["nodes_to_exclude"] = list(known["nodes_to_exclude"])
    acc = {}
    if bounds.min_cosine is not None:
        acc["min_cosine"] = float(bounds.min_cosine)
    if bounds.max_drop_pts is not None:
        acc["max_top1_drop_pts"] = float(bounds.max_drop_pts)
    prof = prof.model_copy(
        update={
            "quantization": prof.quantization.model_copy(update=known),
            "accuracy": prof.accuracy.model_copy(update=acc),
        }
    )
    spec = job.spec
    if spec is not None and (spec.quantization or acc):
        spec = replace(
            spec,
            quantization={k: v for k, v in spec.quantization.items() if k not in known},
            min_cosine=None if acc else spec.min_cosine,
            max_top1_drop_pts=None if acc else spec.max_top1_drop_pts,
        )
    req = replace(
        job.request, method=None, threads=c.threads, batch=c.batch if c.batch != 1 else job.request.batch, store=False,
        export_times=None, until_stable=False, repeat=1, precision=c.precision,
    )  # fmt: skip
    return replace(job, profile=prof, spec=spec, request=req)


# --- the accuracy cache ---------------------------------------------------------------------------------------------
def _cache_path() -> Path:
    from workbench.core import paths

    return paths.cache_dir() / "tune" / "accuracy.json"


def _cache_read() -> dict[str, Any]:
    try:
        doc = json.loads(_cache_path().read_text())
        return doc if isinstance(doc, dict) else {}
    except (OSError, ValueError):
        return {}


def _cache_write(key: str, value: Any) -> None:
    from workbench.core.fsutil import write_text_atomic

    doc = _cache_read()
    doc[key] = value
    try:
        _cache_path().parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(_cache_path(), json.dumps(doc, sort_keys=True))
    except (OSError, WorkbenchError):
        pass  # a cache: the next tune measures again


def _acc_key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class _Accuracy:
    cosine_min: float | None
    top1_drop_pts: float | None
    verdict: str
    top1_basis: str | None = None  # "labels" or "fp32-agreement" (no labels: the disagreement with FP32's top-1)
    quantized_tensors: int | None = None  # INT8: tensors with a Q/DQ pair in the model (0: it is the FP32 graph)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cosine_min": self.cosine_min,
            "top1_drop_pts": self.top1_drop_pts,
            "verdict": self.verdict,
            "top1_basis": self.top1_basis,
            "quantized_tensors": self.quantized_tensors,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _Accuracy:
        q = d.get("quantized_tensors")
        return cls(
            d.get("cosine_min"),
            d.get("top1_drop_pts"),
            str(d.get("verdict") or ""),
            d.get("top1_basis"),
            int(q) if isinstance(q, int) else None,
        )


def _accuracy_of(report: Any) -> _Accuracy:
    """Figures from an AccuracyReport: the minimum per-sample cosine vs FP32; the top-1 drop in points against the
    labels, else (no labels) the disagreement with FP32's top-1 (an upper bound of the drop, as the verdict uses)."""
    import math

    v = report.vs_fp32
    cos = float(v.cosine_min) if v.cosine_min is not None and math.isfinite(v.cosine_min) else None
    basis: str | None = None
    if report.top1_fp32 is not None and report.top1_other is not None:
        drop: float | None = float(report.top1_fp32) - float(report.top1_other)
        basis = "labels"
    elif v.top1_agreement is not None:
        drop = 100.0 - float(v.top1_agreement)
        basis = "fp32-agreement"
    else:
        drop = None
    return _Accuracy(cos, drop, report.verdict, basis)


# --- the engine -----------------------------------------------------------------------------------------------------
class _Tune:
    def __init__(self, job, opts, steps, on_progress, on_event, cancel, clock) -> None:
        from workbench.core.job import dataset_path

        self.job = job
        self.opts = opts
        self.steps: Steps = steps
        self.on_progress: ProgressFn = on_progress
        self.on_event = on_event
        self.cancel = cancel
        self.budget = _Budget(opts.budget_s, clock)
        b = job.require_backend().name
        q = job.profile.quantization
        self.space = space_mod.build_space(
            backend=b,
            objective=opts.objective,
            tune=job.profile.tune,
            allowed_precisions=[p for p in job.profile.build.precisions if p in ("fp32", "fp16", "int8")],
            base_recipe={k: getattr(q, k) for k in ("activation_type", "weight_type", "per_channel")},
            has_calib=dataset_path(job, "calib") is not None,
        )
        self.short_s, self.confirm_s = run_lengths(opts, len(self.space.candidates))
        self.sig = signature(job, opts, self.space, self.short_s, self.confirm_s)
        self.tune_id = "tune-" + self.sig[:12]
        self.eval_dir = str(dataset_path(job, "eval") or dataset_path(job, "calib") or "")
        self.candidates: list[Candidate] = list(self.space.candidates)
        self.outcomes: dict[str, CandidateOutcome] = {}
        self.results: dict[str, Any] = {}  # key -> the run comparisons use (confirmation, else short)
        self.accuracy: dict[str, _Accuracy] = {}  # accuracy identity -> figures
        self.stored: dict[tuple[str, str], Any] = {}  # (key, phase) -> stored result of an earlier run
        self.localised = False
        self.stopped = "done"
        self.durations: list[float] = []
        self.stretch: list[float] = []  # wall seconds per asked timed second, per run (build, warm-up, retries)
        self.acc_seconds: list[float] = []  # wall seconds of each accuracy check (calibration + evaluation)
        # read before anything is measured: a bad file is one clear error, not the end of a long search
        self.sweep = load_recorded_sweep(opts.recorded_sweep) if opts.recorded_sweep else None

    # -- events ------------------------------------------------------------------------------------------------
    def progress(self, message: str) -> None:
        done = len(self.outcomes)
        left = max(0, len(self.candidates) - done)
        eta = None
        if self.durations:
            eta = min(
                sum(self.durations) / len(self.durations) * left, max(0.0, self.opts.budget_s - self.budget.elapsed)
            )
        self.on_progress(Progress("tune", f"{message} ({done} done, {left} left)", done, done + left))
        if self.on_event is not None:
            from workbench.core.bench.events import TuneProgress

            self.on_event(TuneProgress(done, left, eta, message))

    def done(self, o: CandidateOutcome) -> None:
        self.outcomes[o.candidate.key] = o
        if self.on_event is not None:
            from workbench.core.bench.events import TuneCandidateDone

            self.on_event(TuneCandidateDone(o.to_dict()))
        self.progress(f"{o.candidate.label()}: {o.status}" + (f" ({o.reason})" if o.reason else ""))

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            self.stopped = "cancelled"
            raise Cancelled("tune cancelled")

    # -- resume ------------------------------------------------------------------------------------------------
    def load_stored(self) -> None:
        """Runs of this tune's signature already in the results database (a resumed tune)."""
        from workbench.core.results.store import ResultStore

        if self.opts.fresh:
            return
        with ResultStore() as db:
            rows = [r for r in db.list(limit=0) if r.model_sha256 == self.job.model_info.sha256]
            got = db.read_many([r.id for r in rows]).results if rows else ()
        for r in sorted(got, key=lambda r: r.id or 0):
            t = (r.extras or {}).get("tune")
            if isinstance(t, dict) and t.get("signature") == self.sig:
                self.stored[(str(t.get("candidate_key")), str(t.get("phase")))] = r
                acc = t.get("accuracy")
                if isinstance(acc, dict):
                    self.accuracy.setdefault(
                        str(t.get("accuracy_id")),
                        _Accuracy.from_dict(acc),
                    )
                if t.get("kept_layers") and not self.localised:
                    self.add_kept(tuple(t["kept_layers"]), announce=False)
        if self.stored:
            n = len({k for k, _ in self.stored})
            self.progress(f"resuming {self.tune_id}: {n} candidate(s) already measured")

    # -- accuracy ----------------------------------------------------------------------------------------------
    @staticmethod
    def accuracy_id(c: Candidate) -> str:
        return _acc_key(c.precision, dict(c.recipe), dict(c.gpu))

    def check_accuracy(self, c: Candidate) -> tuple[_Accuracy | None, Any]:
        """(figures, the PrecisionCheck when one was made now) of ``c``'s model, from the cache when known."""
        from workbench.core.models.fingerprint import model_sha256

        aid = self.accuracy_id(c)
        if aid in self.accuracy:
            return self.accuracy[aid], None
        cjob = candidate_job(self.job, c, self.opts.bounds)
        path, cal = self.steps.precision_model(cjob, c.precision, self.on_progress, self.cancel)
        ckey = _acc_key("accuracy", model_sha256(path), self.job.model_info.sha256, self.eval_dir)
        cached = _cache_read().get(ckey)
        if isinstance(cached, dict):
            acc = _Accuracy.from_dict(cached)
            self.accuracy[aid] = acc
            return acc, None
        check = self.steps.check_accuracy(cjob, c.precision, self.on_progress, self.cancel)
        acc = _accuracy_of(check.report)
        if check.calibration is not None:
            acc = replace(acc, quantized_tensors=int(check.calibration.coverage().quantized_tensors))
        _cache_write(ckey, acc.to_dict())
        self.accuracy[aid] = acc
        return acc, check

    def localise(self, c: Candidate, check: Any) -> tuple[str, ...]:
        """Layers to keep in FP32 so ``c`` meets the bounds (workflow.localize_int8 auto-exclude), cached."""
        cjob = candidate_job(self.job, c, self.opts.bounds)
        if check is None:
            check = self.steps.check_accuracy(cjob, "int8", self.on_progress, self.cancel)
        ckey = _acc_key(
            "kept", self.job.model_info.sha256, self.accuracy_id(c), self.eval_dir, self.opts.bounds.to_dict()
        )
        cached = _cache_read().get(ckey)
        if isinstance(cached, list):
            return tuple(cached)
        self.progress(f"localising INT8 error of {c.label()}")
        limit = getattr(self.job.profile.tune, "max_kept_layers", 8)
        loc = self.steps.localize_int8(cjob, check, auto_exclude=True, max_excluded=limit, on_progress=self.on_progress)
        kept = tuple(loc.auto.excluded) if loc.auto is not None else ()
        _cache_write(ckey, list(kept))
        return kept

    def add_kept(self, kept: tuple[str, ...], *, announce: bool = True) -> None:
        """Every INT8 candidate of the space gets a twin with ``kept`` in FP32 (visited after the plain ones)."""
        self.localised = True
        if not kept:
            return
        twins = [space_mod.with_kept_layers(c, kept) for c in self.space.candidates if c.precision == "int8"]
        for t in twins:
            if t not in self.candidates:
                self.candidates.append(t)
        if announce:
            self.progress(f"{len(kept)} layer(s) kept in FP32 by the INT8 localisation: {', '.join(kept[:4])}")

    # -- timing ------------------------------------------------------------------------------------------------
    def timed(self, c: Candidate, phase: str, seconds: float, acc: _Accuracy | None) -> Any:
        """A stored run of ``c`` (``phase`` "short" | "confirm"): the earlier one of this tune, else a new one."""
        prior = self.stored.get((c.key, phase))
        if prior is not None:
            return prior
        cjob = candidate_job(self.job, c, self.opts.bounds).with_request(
            duration_s=seconds, iterations=None, store=False
        )
        t0 = self.budget.elapsed
        built = self.steps.build(cjob, c.precision, self.on_progress, self.cancel)
        result = None
        for attempt in range(1 + CONTENDED_RETRIES):
            self.check_cancel()
            if attempt and not self.budget.allows(seconds * 1.2):
                break  # no time for another try: the contended run stays, flagged (never called significant)
            result = self.steps.bench(cjob, built, on_progress=self.on_progress, cancel=self.cancel)
            if not result.contended:
                break
            self.on_progress(Progress("tune", f"{c.label()}: the CPU was contended; measuring again"))
        link = {
            "tune_id": self.tune_id,
            "signature": self.sig,
            "candidate_key": c.key,
            "candidate": c.to_dict(),
            "phase": phase,
            "accuracy_id": self.accuracy_id(c),
            "accuracy": acc.to_dict() if acc is not None else None,
            "kept_layers": list(c.recipe.get("nodes_to_exclude") or ()) or None,
        }
        result = replace(result, extras={**dict(result.extras or {}), "tune": link})
        if self.job.request.store:
            result = self.steps.store(self.job, result, self.on_progress)
        self.durations.append(self.budget.elapsed - t0)
        self.stretch.append((self.budget.elapsed - t0) / max(seconds, 1e-3))
        self.stored[(c.key, phase)] = result  # never measured twice in one tune either
        return result

    def outcome_of(self, c: Candidate, r: Any, acc: _Accuracy | None, *, confirmed: bool) -> CandidateOutcome:
        lat = r.latency
        p50 = lat.p50_ms if lat.p50_ms is not None else lat.median_ms
        e = lat.get(50.0)
        ci = e.ci95_ms if e is not None else None
        tel = r.telemetry
        mj = 1000.0 / r.inferences_per_j if r.inferences_per_j else None
        prov = r.provenance.kind if getattr(r, "provenance", None) is not None else "measured"
        o = CandidateOutcome(
            c,
            "confirmed" if confirmed else "measured",
            reason="contended: no difference involving it is called significant" if r.contended else "",
            top1_drop_pts=acc.top1_drop_pts if acc is not None else None,
            cosine_min=acc.cosine_min if acc is not None else None,
            top1_basis=acc.top1_basis if acc is not None else None,
            p50_ms=p50,
            p99_ms=lat.p99_ms,
            p50_ci95_ms=(float(ci[0]), float(ci[1])) if confirmed and ci and None not in ci else None,
            inferences_per_s=r.throughput.inferences_per_s,
            mean_power_w=tel.mean_power_w if tel is not None else None,
            mj_per_inference=mj,
            measured=bool(r.measured),
            provenance=prov,
            result_id=None if confirmed else r.stored_id,
        )
        problem = strategy.bound_problem(o, self.opts.bounds)
        if problem and not (
            self.opts.bounds.power_max_w is not None and o.mean_power_w is None and c.precision == "fp32"
        ):
            o = replace(o, status="rejected-bound", reason=problem)
        return o

    # -- the search --------------------------------------------------------------------------------------------
    def run(self) -> TuneResult:
        self.load_stored()
        self.search()
        return self.finish()

    def need(self, seconds: float) -> float:
        """Seconds a run of ``seconds`` is expected to take: the mean of the runs so far (build, child start,
        warm-up included), else ``seconds`` itself."""
        # A run takes its timed seconds times the stretch seen so far (build, child start, warm-up and the re-runs
        # of contended measurements), so a 9 s confirmation is not started with 10 s left after 1 s short runs took
        # 3 s each. Before any run: 1.5x, a guess that errs long.
        factor = sum(self.stretch) / len(self.stretch) if self.stretch else 1.5
        return seconds * max(1.0, factor)

    def short(self, c: Candidate, acc: _Accuracy | None) -> None:
        if not self.budget.allows(self.need(self.short_s)) and (c.key, "short") not in self.stored:
            self.stopped = "budget"
            return
        self.check_cancel()
        try:
            r = self.timed(c, "short", self.short_s, acc)
        except Cancelled:
            raise
        except WorkbenchError as exc:
            self.done(CandidateOutcome(c, "failed", reason=str(exc)))
            return
        self.results[c.key] = r
        self.done(self.outcome_of(c, r, acc, confirmed=False))

    def search(self) -> None:
        fp32 = [c for c in self.candidates if c.precision == "fp32"]
        self.progress(f"tune {self.tune_id}: {len(self.candidates)} candidates, budget {self.opts.budget_s:g} s")
        for c in fp32[:1]:  # the reference first
            self.short(c, None)
        # accuracy first: cheap, and it decides which candidates are timed at all
        passing: list[tuple[Candidate, _Accuracy | None]] = [(c, None) for c in fp32[1:]]
        i = 0
        while i < len(self.candidates):
            c = self.candidates[i]
            i += 1
            if c.precision == "fp32" or c.key in self.outcomes:
                continue
            need_acc = sum(self.acc_seconds) / len(self.acc_seconds) if self.acc_seconds else 0.0
            if not self.budget.allows(need_acc):
                self.stopped = "budget"
                break
            self.check_cancel()
            t_acc = self.budget.elapsed
            try:
                acc, check = self.check_accuracy(c)
            except Cancelled:
                raise
            except WorkbenchError as exc:
                self.done(CandidateOutcome(c, "failed", reason=str(exc)))
                continue
            if check is not None:
                self.acc_seconds.append(self.budget.elapsed - t_acc)
            if c.precision == "int8" and acc.quantized_tensors == 0:
                # Every quantized layer kept in FP32: the "INT8" model is the FP32 graph; measuring it under an INT8
                # label (once per calibration method) would only repeat FP32.
                self.done(
                    CandidateOutcome(
                        c,
                        "rejected-bound",
                        reason="no tensor is left in INT8 with these layers kept in FP32: it is the FP32 model",
                    )
                )
                continue
            probe = CandidateOutcome(c, "measured", top1_drop_pts=acc.top1_drop_pts, cosine_min=acc.cosine_min)
            problem = strategy.accuracy_problem(probe, self.opts.bounds)
            if problem is None:
                passing.append((c, acc))
                continue
            self.done(replace(probe, status="rejected-accuracy", reason=problem))
            kept_ok = getattr(self.job.profile.tune, "kept_layers", True)
            if c.precision == "int8" and kept_ok and not self.localised and not c.recipe.get("nodes_to_exclude"):
                try:
                    self.add_kept(self.localise(c, check))
                except Cancelled:
                    raise
                except WorkbenchError as exc:
                    self.localised = True
                    self.progress(f"INT8 localisation failed: {exc}")
        for c, acc in passing:
            if self.stopped == "budget":
                break
            self.short(c, acc)
        if self.stopped != "budget":
            self.confirm()
        for c in self.candidates:
            if c.key not in self.outcomes:
                self.outcomes[c.key] = CandidateOutcome(c, "not-run", reason="the budget ran out first")

    def confirm(self) -> None:
        """Confirmation runs for FP32 and the front-runners, until no new front-runner appears or the budget ends."""
        confirmed: set[str] = set()
        fp32 = next((c for c in self.space.candidates if c.precision == "fp32"), None)
        for _ in range(3):
            outs = list(self.outcomes.values())
            runners = strategy.front_runners(
                outs, self.opts.bounds, self.opts.objective, self.results, limit=self.opts.confirm_top
            )
            todo = [o.candidate for o in runners if o.candidate.key not in confirmed]
            if fp32 is not None and fp32.key in self.outcomes and fp32.key not in confirmed:
                todo = [fp32] + [c for c in todo if c.key != fp32.key]  # FP32 may be a front-runner itself
            if not todo:
                return
            for c in todo:
                if not self.budget.allows(self.need(self.confirm_s)) and (c.key, "confirm") not in self.stored:
                    self.stopped = "budget"
                    return
                self.check_cancel()
                prev = self.outcomes[c.key]
                acc = self.accuracy.get(self.accuracy_id(c))
                self.progress(f"confirming {c.label()} ({self.confirm_s:g} s)")
                try:
                    r = self.timed(c, "confirm", self.confirm_s, acc)
                except WorkbenchError as exc:
                    self.progress(f"confirmation of {c.label()} failed: {exc}")
                    confirmed.add(c.key)
                    continue
                confirmed.add(c.key)
                self.results[c.key] = r
                o = self.outcome_of(c, r, acc, confirmed=True)
                self.done(replace(o, result_id=prev.result_id, confirm_result_id=r.stored_id))

    def finish(self) -> TuneResult:
        from workbench.core.tune.profile_out import write_tuned_profile

        outs = [self.outcomes[c.key] for c in self.candidates if c.key in self.outcomes]
        outs += self.recorded_power(outs)
        base = next((c.key for c in self.space.candidates if c.precision == "fp32"), None)
        rec, none_why = strategy.recommend(outs, self.opts.bounds, self.opts.objective, self.results, baseline_key=base)
        front = strategy.pareto_front(outs, self.opts.objective)
        profile_path = None
        if rec is not None:
            try:
                profile_path = str(write_tuned_profile(self.job.profile, rec, self.tune_id, self.opts.profile_out))
            except WorkbenchError as exc:
                self.on_progress(Progress("tune", f"the tuned profile was not written: {exc}"))
        return TuneResult(
            tune_id=self.tune_id,
            model=str(self.job.request.model or self.job.model_path),
            profile=self.job.profile.name,
            objective=self.opts.objective,
            bounds=self.opts.bounds,
            budget_s=self.opts.budget_s,
            elapsed_s=round(self.budget.elapsed, 3),
            outcomes=tuple(outs),
            front=front,
            recommendation=rec,
            no_recommendation=none_why,
            profile_path=profile_path,
            stopped=self.stopped,
        )

    def recorded_power(self, outs: list[CandidateOutcome]) -> list[CandidateOutcome]:
        """A recorded power sweep's rows, on the best eligible candidate (else FP32): shown, never recommended."""
        sweep = self.sweep
        if sweep is None:
            return []
        pool = strategy.eligible(outs, self.opts.bounds, self.opts.objective)
        base = pool[0] if pool else next((o for o in outs if o.candidate.precision == "fp32"), None)
        if base is None:
            return []
        return space_mod.power_mode_outcomes(sweep, base, recorded=True)


def load_recorded_sweep(path: str) -> Any:
    """A power sweep saved as JSON (``workbench sweep --json``, or a job's outcome ``{"sweep": …}``).

    Raises:
        UsageError: the file cannot be read or is not a sweep (naming the file).
    """
    from workbench.core.errors import UsageError
    from workbench.core.power.sweep import SweepResult

    try:
        p = Path(path)
        if p.stat().st_size > MAX_SWEEP_BYTES:
            raise ValueError(f"larger than {MAX_SWEEP_BYTES >> 20} MiB")
        doc = json.loads(p.read_text(encoding="utf-8"))
        doc = doc.get("sweep", doc) if isinstance(doc, dict) else doc
        if not isinstance(doc, dict) or not isinstance(doc.get("rows"), list):
            raise ValueError("no 'rows' list")
        return SweepResult.from_dict(doc)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise UsageError(
            f"--power-sweep {path}: not a power sweep JSON ({exc})",
            hint="give the output of `workbench sweep --json` (its 'rows' list)",
        ) from None


def run_tune(
    job: Any,
    opts: TuneOptions,
    steps: Steps,
    *,
    on_progress: ProgressFn = no_progress,
    on_event: EventFn | None = None,
    cancel: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> TuneResult:
    """Search, measure and recommend (module docstring). Returns a :class:`TuneResult`.

    Raises:
        UsageError: unknown objective; ConfigError (a bad ``[tune]`` table); Cancelled (Ctrl-C / cancel: the
        runs stored so far stay, and the same tune resumes from them); ResultsError.
    """
    from workbench.core.errors import UsageError

    if opts.objective not in OBJECTIVES:
        raise UsageError(
            f"unknown objective {opts.objective!r}; choose one of {', '.join(OBJECTIVES)}",
            hint="`workbench tune --help` describes each objective; pass one with --objective",
        )
    return _Tune(job, opts, steps, on_progress, on_event, cancel, clock).run()
