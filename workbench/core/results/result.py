"""The typed benchmark result: one frozen dataclass and its parts, built once (core/bench/result.py builds ours,
core/results/trtexec_import.py builds imported ones), read by every face through typed fields.

Dicts exist only at the edges: :meth:`BenchmarkResult.to_dict` writes the JSON document that ``bench --json``
prints and the results database stores (README "JSON output"; the key set is pinned by tests/golden), and
:func:`result_from_dict` reads one back, including results written by earlier versions (tests/fixtures/results).
Keys this version does not model are kept in ``extras`` and written back unchanged, so a round trip loses nothing.

Units are in the field names (``_ms``, ``_s``, ``_w``, ``_mj``, ``_c``, ``_pct``). "Measured" is decided here and
nowhere else: :class:`Provenance` says whether the figures were measured by this workbench on this machine,
replayed (telemetry read back from a log), recorded (injected for demos and tests) or imported (trtexec's figures).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from workbench.core.accuracy import AccuracyReport
from workbench.core.telemetry.recorder import TelemetrySummary

# Provenance kinds. Only "measured" enters comparisons and recommendations as a measurement of this machine.
MEASURED, REPLAYED, RECORDED, IMPORTED = "measured", "replayed", "recorded", "imported"
PROVENANCE_KINDS = (MEASURED, REPLAYED, RECORDED, IMPORTED)
TRTEXEC_SOURCE = "trtexec import"  # the JSON ``source`` of imported trtexec summaries


def percentile_key(p: float) -> str:
    """99.9 -> "p99_9", 50 -> "p50" (the JSON key of a percentile)."""
    return "p" + f"{p:g}".replace(".", "_")


def _key_percentile(key: str) -> float | None:
    if not key.startswith("p"):
        return None
    try:
        return float(key[1:].replace("_", "."))
    except ValueError:
        return None


# --- tolerant readers for the dict edge (a stored result may come from an older or newer version) ------------
def _num(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _int(v: Any) -> int | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _str(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, dict):  # some early producers stored {"name": ...} for model/backend/profile/device
        v = v.get("name")
        return None if v is None else str(v)
    return str(v)


def _bool(v: Any) -> bool | None:
    return None if v is None else bool(v)


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _strs(v: Any) -> tuple[str, ...]:
    return tuple(str(x) for x in v) if isinstance(v, (list, tuple)) else ()


def _opt_pair(v: Any) -> tuple[Any, Any] | None:
    return (v[0], v[1]) if isinstance(v, (list, tuple)) and len(v) == 2 else None


# --- latency ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PercentileEstimate:
    """One percentile of the per-query latency with its 95 % order-statistic interval (bench/confidence.py).

    ``ci95_ms`` is (lo, hi) with None for a side that does not exist at this sample count, or None when no
    interval was computed (imported figures). ``ranks`` are the 1-based order statistics of the bounds;
    ``rel_half_width`` = (hi - lo) / 2 / value; ``long_enough`` = rel_half_width <= 5 %; ``note`` says why a bound
    is missing.
    """

    p: float
    value_ms: float | None
    ci95_ms: tuple[float | None, float | None] | None = None
    ranks: tuple[int | None, int | None] | None = None
    rel_half_width: float | None = None
    long_enough: bool | None = None
    note: str | None = None

    @property
    def key(self) -> str:
        return percentile_key(self.p)

    @property
    def has_run_length(self) -> bool:
        return self.long_enough is not None or self.ranks is not None


@dataclass(frozen=True)
class EarlyStoppingEstimate:
    """MLPerf early stopping (bench/confidence.py): ``value_ms`` is reported in place of the percentile, None
    below ``min_queries``; ``effective_percentile`` is the order statistic it is; ``overlatency_queries_t`` is t."""

    target_percentile: float
    value_ms: float | None
    effective_percentile: float | None
    overlatency_queries_t: int | None
    min_queries: int | None

    @property
    def enough_queries(self) -> bool:
        return self.value_ms is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "target_percentile": self.target_percentile,
            "value_ms": self.value_ms,
            "effective_percentile": self.effective_percentile,
            "overlatency_queries_t": self.overlatency_queries_t,
            "min_queries": self.min_queries,
            "enough_queries": self.enough_queries,
        }

    @classmethod
    def from_dict(cls, p_key: str, d: Mapping[str, Any]) -> EarlyStoppingEstimate:
        target = _num(d.get("target_percentile"))
        return cls(
            target if target is not None else (_key_percentile(p_key) or 0.0),
            _num(d.get("value_ms")),
            _num(d.get("effective_percentile")),
            _int(d.get("overlatency_queries_t")),
            _int(d.get("min_queries")),
        )


@dataclass(frozen=True)
class LatencySummary:
    """Per-query latency statistics in ms as trtexec defines them (bench/stats.py): min, max, mean, median
    (mean of the two middle values for an even count), population std, CoV in percent, and percentiles (order
    statistics) with their intervals. Imported summaries may lack std, CoV and intervals (None)."""

    min_ms: float | None
    max_ms: float | None
    mean_ms: float | None
    median_ms: float | None
    std_ms: float | None = None
    cov_pct: float | None = None
    percentiles: tuple[PercentileEstimate, ...] = ()
    early_stopping: tuple[EarlyStoppingEstimate, ...] = ()

    def get(self, p: float) -> PercentileEstimate | None:
        for e in self.percentiles:
            if e.p == p:
                return e
        return None

    def value(self, p: float) -> float | None:
        e = self.get(p)
        return e.value_ms if e is not None else None

    @property
    def p50_ms(self) -> float | None:
        return self.value(50.0)

    @property
    def p99_ms(self) -> float | None:
        return self.value(99.0)

    def early(self, p: float) -> EarlyStoppingEstimate | None:
        for e in self.early_stopping:
            if e.target_percentile == p:
                return e
        return None

    def stat(self, key: str) -> float | None:
        """A statistic by its JSON name: min, max, mean, median, std, cov_pct or a percentile key (p99_9)."""
        return dict(self.stat_items()).get(key)

    def stat_items(self) -> list[tuple[str, float | None]]:
        """(JSON name, value) of every statistic present, in the document's order (no intervals)."""
        items: list[tuple[str, float | None]] = [
            ("min", self.min_ms), ("max", self.max_ms), ("mean", self.mean_ms), ("median", self.median_ms),
        ]  # fmt: skip
        if self.std_ms is not None:
            items.append(("std", self.std_ms))
        if self.cov_pct is not None:
            items.append(("cov_pct", self.cov_pct))
        items.extend((e.key, e.value_ms) for e in self.percentiles)
        return items

    def to_dict(self) -> dict[str, Any]:
        """The ``latency_ms`` object: min, max, mean, median, std, cov_pct, pNN…, ci95 {pNN: [lo, hi]}."""
        d: dict[str, Any] = dict(self.stat_items())
        if any(e.ci95_ms is not None for e in self.percentiles):
            d["ci95"] = {e.key: list(e.ci95_ms) for e in self.percentiles if e.ci95_ms is not None}
        return d

    def run_length_dict(self) -> dict[str, Any] | None:
        if not any(e.has_run_length for e in self.percentiles):
            return None
        return {
            e.key: {
                "rel_half_width": e.rel_half_width,
                "long_enough": bool(e.long_enough),
                "ranks": list(e.ranks) if e.ranks is not None else [None, None],
                "note": e.note,
            }
            for e in self.percentiles
            if e.has_run_length
        }

    @classmethod
    def from_dicts(cls, lat: Mapping[str, Any], run_length: Mapping[str, Any], early: Mapping[str, Any]):
        ci = _dict(lat.get("ci95"))
        pcts = []
        keys = [k for k in lat if k != "ci95"] + [k for k in ci if k not in lat]
        for key in keys:
            value = lat.get(key)
            p = _key_percentile(key)
            if p is None:
                continue
            rl = _dict(run_length.get(key))
            ci_pair = _opt_pair(ci.get(key))
            ranks = _opt_pair(rl.get("ranks"))
            pcts.append(
                PercentileEstimate(
                    p=p,
                    value_ms=_num(value),
                    ci95_ms=(_num(ci_pair[0]), _num(ci_pair[1])) if ci_pair else None,
                    ranks=(_int(ranks[0]), _int(ranks[1])) if ranks else None,
                    rel_half_width=_num(rl.get("rel_half_width")),
                    long_enough=_bool(rl.get("long_enough")) if rl else None,
                    note=_str(rl.get("note")),
                )
            )
        return cls(
            min_ms=_num(lat.get("min")),
            max_ms=_num(lat.get("max")),
            mean_ms=_num(lat.get("mean")),
            median_ms=_num(lat.get("median")),
            std_ms=_num(lat.get("std")),
            cov_pct=_num(lat.get("cov_pct")),
            percentiles=tuple(pcts),
            early_stopping=tuple(EarlyStoppingEstimate.from_dict(k, _dict(v)) for k, v in early.items()),
        )


@dataclass(frozen=True)
class Warmup:
    """The warm-up before the timed window (reported apart; never in the statistics): queries, wall time, and
    the latency of its queries in ms (None without a warm-up query); ``first_ms`` is the very first query."""

    iterations: int
    duration_ms: float | None
    min_ms: float | None = None
    mean_ms: float | None = None
    median_ms: float | None = None
    max_ms: float | None = None
    first_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"iterations": self.iterations, "duration_ms": self.duration_ms}
        if self.first_ms is not None:
            d["latency_ms"] = {
                "min": self.min_ms,
                "mean": self.mean_ms,
                "median": self.median_ms,
                "max": self.max_ms,
                "first": self.first_ms,
            }
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Warmup:
        lat = _dict(d.get("latency_ms"))
        return cls(
            _int(d.get("iterations")) or 0,
            _num(d.get("duration_ms")),
            _num(lat.get("min")),
            _num(lat.get("mean")),
            _num(lat.get("median")),
            _num(lat.get("max")),
            _num(lat.get("first")),
        )


@dataclass(frozen=True)
class Throughput:
    """``inferences_per_s`` = queries x batch / host wall time of the timed window (JSON ``throughput_ips``);
    ``queries_per_s`` = queries / wall time (trtexec's "Throughput"; ``throughput_qps``). ``batch`` is the batch
    the model actually ran (the leading dim of the fed inputs), ``batch_requested`` what was asked;
    ``queries_per_call`` > 1 with N GPU streams (each timed call ran N queries)."""

    inferences_per_s: float | None
    queries_per_s: float | None
    iterations: int | None
    batch: int | None
    wall_s: float | None
    queries_per_call: int | None = None
    batch_requested: int | None = None


@dataclass(frozen=True)
class InputsUsed:
    """What fed the model: {input name: shape} and where the data came from ("random (seed 0)", a dataset)."""

    shapes: Mapping[str, tuple[int, ...]]
    source: str | None


@dataclass(frozen=True)
class ModelRef:
    """``path``: the model as given (JSON ``model``); ``onnx_path``: the ONNX it ran as (``model_onnx``);
    ``sha256`` of that ONNX."""

    path: str | None
    onnx_path: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class ArtifactRef:
    """The built artifact (optimized ONNX model, TensorRT plan, torch recipe): path, size in bytes, reused from
    the cache or built, and its build time in seconds."""

    path: str
    bytes: int | None = None
    cached: bool | None = None
    build_s: float | None = None


@dataclass(frozen=True)
class BenchSettings:
    """The run settings in force (``settings``): intra-op threads (0 = runtime default), ORT graph level and
    execution mode, warm-up ms, duration s (None when an exact iteration count was asked), iterations asked,
    minimum iterations, input seed, GPU options, per-layer profiling."""

    threads: int | None = None
    graph_optimization_level: str | None = None
    execution_mode: str | None = None
    warmup_ms: float | None = None
    duration_s: float | None = None
    iterations_requested: int | None = None
    min_iterations: int | None = None
    seed: int | None = None
    cuda_graph: bool | None = None
    include_transfers: bool | None = None
    streams: int | None = None
    profile_layers: bool | None = None
    threads_used: int | None = None  # what the runtime ran with, when it reports it (torch); None = as asked
    interop_threads_used: int | None = None
    # The math mode the runtime ran in, as it reports it (Runner.runtime_info()["math_mode"]): torch's
    # ``allow_tf32_matmul`` / ``allow_tf32_cudnn`` / ``cudnn_benchmark`` / ``float32_matmul_precision``, TensorRT's
    # ``tf32`` builder flag. TF32 changes FP32 numbers and speed on Ampere and newer, so two "fp32" runs compare
    # only when it matches. None = not reported (ONNX Runtime on the CPU).
    math_mode: Mapping[str, Any] | None = None

    _KEYS = (
        "threads", "graph_optimization_level", "execution_mode", "warmup_ms", "duration_s", "iterations_requested",
        "min_iterations", "seed", "cuda_graph", "include_transfers", "streams", "profile_layers",
    )  # fmt: skip
    _OPTIONAL = ("threads_used", "interop_threads_used", "math_mode")

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self._KEYS}
        d.update({k: getattr(self, k) for k in self._OPTIONAL if getattr(self, k) is not None})
        if self.math_mode is not None:
            d["math_mode"] = dict(self.math_mode)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BenchSettings:
        kw = {k: d.get(k) for k in (*cls._KEYS, *cls._OPTIONAL)}
        if not isinstance(kw["math_mode"], Mapping):
            kw["math_mode"] = None
        return cls(**kw)


@dataclass(frozen=True)
class SplitSummary:
    """One GPU timing split over the timed queries (ms): median, mean, max, and the query count."""

    median_ms: float
    mean_ms: float
    max_ms: float
    count: int


@dataclass(frozen=True)
class TimingSplits:
    """GPU backends: per-query figures from CUDA events, named as trtexec names them, beside ``latency_ms`` (which
    stays host wall time on every backend): ``h2d_ms`` ("H2D Latency"), ``gpu_compute_ms`` ("GPU Compute Time"),
    ``d2h_ms`` ("D2H Latency") and ``latency_ms`` ("Latency" = H2D + GPU compute + D2H of one query, what trtexec's
    summary and ``import-trtexec`` results call latency); None when the runner recorded none. Warm-up queries are
    never counted. Also the options in force (``cuda_graph``, ``include_transfers``, ``streams``, ``device`` …).

    Results written before these names read back with ``compute_ms`` as ``gpu_compute_ms``."""

    splits: Mapping[str, SplitSummary | None]
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for k, s in self.splits.items():
            d[k] = None if s is None else {"median": s.median_ms, "mean": s.mean_ms, "max": s.max_ms, "count": s.count}
        d.update(self.options)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TimingSplits:
        splits: dict[str, SplitSummary | None] = {}
        options: dict[str, Any] = {}
        for k, v in d.items():
            key = "gpu_compute_ms" if k == "compute_ms" else k  # the name before trtexec's was adopted
            if isinstance(v, dict) and "median" in v:
                splits[key] = SplitSummary(float(v["median"]), float(v["mean"]), float(v["max"]), int(v["count"]))
            elif v is None and k.endswith("_ms"):
                splits[key] = None
            else:
                options[k] = v
        return cls(splits, options)


@dataclass(frozen=True)
class IdlePower:
    """Mean power over ``seconds`` with nothing running, sampled before the run; shown beside, never subtracted
    silently. ``reason`` when there was no power reading."""

    seconds: float
    mean_power_w: float | None
    measured: bool
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "mean_power_w": self.mean_power_w,
            "measured": self.measured,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class AboveIdle:
    """Energy above idle power (idle subtracted), only when asked (``--subtract-idle``), always labelled."""

    label: str
    mean_power_w: float
    mj_per_inference: float | None


@dataclass(frozen=True)
class Settle:
    """The wait for temperatures to settle before timing (``--settle``): reached or not, the last hottest-zone
    temperature (°C), the target, and why there is no reading."""

    settled: bool
    temp_c: float | None
    target_c: float | None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"settled": self.settled, "temp_c": self.temp_c, "target_c": self.target_c, "reason": self.reason}


@dataclass(frozen=True)
class Contention:
    """What else used the CPU while this ran (bench/contention.py has the method): other processes' mean CPU in
    cores over the run, other benchmarks of ours seen beside it, the threshold (cores) above which the run is
    contended, the measuring window (s) and the figure's resolution (cores); ``reason`` when it was not measured.
    A contended result keeps its figures and verdicts, but comparisons never call a difference involving it
    significant."""

    others_cores: float | None
    other_benchmarks: tuple[str, ...]
    threshold_cores: float
    contended: bool
    window_s: float | None
    resolution_cores: float | None = None
    reason: str | None = None

    def describe(self) -> str:
        """``"other processes used 0.62 cores (threshold 0.25)"`` / ``"another benchmark ran beside it (pid …)"``."""
        parts = []
        if self.others_cores is not None and self.others_cores > self.threshold_cores:
            parts.append(f"other processes used {self.others_cores:.2f} cores (threshold {self.threshold_cores:g})")
        if self.other_benchmarks:
            parts.append("another benchmark ran beside it (" + ", ".join(self.other_benchmarks) + ")")
        return "; ".join(parts) or "not contended"

    def to_dict(self) -> dict[str, Any]:
        return {
            "others_cores": self.others_cores,
            "other_benchmarks": list(self.other_benchmarks),
            "threshold_cores": self.threshold_cores,
            "contended": self.contended,
            "window_s": self.window_s,
            "resolution_cores": self.resolution_cores,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Contention:
        return cls(
            _num(d.get("others_cores")),
            _strs(d.get("other_benchmarks")),
            float(d.get("threshold_cores") or 0.0),
            bool(d.get("contended", False)),
            _num(d.get("window_s")),
            _num(d.get("resolution_cores")),
            _str(d.get("reason")),
        )


@dataclass(frozen=True)
class PowerState:
    """The board's power state during the run (power/state.py): nvpmodel mode and id, whether the query was
    partial, jetson_clocks "on"/"off"/None, and why fields are None."""

    nvpmodel_mode: str | None = None
    nvpmodel_id: int | None = None
    partial: bool = False
    jetson_clocks: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "nvpmodel_mode": self.nvpmodel_mode,
            "nvpmodel_id": self.nvpmodel_id,
            "partial": self.partial,
            "jetson_clocks": self.jetson_clocks,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PowerState:
        return cls(
            _str(d.get("nvpmodel_mode")),
            _int(d.get("nvpmodel_id")),
            bool(d.get("partial", False)),
            _str(d.get("jetson_clocks")),
            _str(d.get("reason")),
        )


@dataclass(frozen=True)
class PowerModeRef:
    """The nvpmodel power mode a sweep set for this run."""

    id: int
    name: str


@dataclass(frozen=True)
class CalibrationInfo:
    """How the INT8 (QDQ) model was calibrated: method, sample count, reused from the cache, the QDQ model, and
    the tensors the recipe kept in float as (tensor, reason) pairs (precision/float_keep.py; None in results
    stored before the recipe listed them, which then print no ``float_kept`` key)."""

    method: str
    samples: int
    cached: bool
    qdq_model: str
    float_kept: tuple[tuple[str, str], ...] | None = None
    quantized_tensors: int | None = None  # QuantizeLinear nodes in the QDQ model (precision/coverage.py)
    unreached_compute: int | None = None  # compute nodes inside If/Loop subgraphs the quantizer did not reach
    dataset: str | None = None  # the calibration folder (None in results stored before it was recorded)
    # The plain CPU recipe (precision/cpu_recipes.py) that set the options, the instruction set it was picked for and
    # why; None when the profile's own keys were the recipe (and in results stored before it was recorded).
    cpu_recipe: str | None = None
    isa: str | None = None
    recipe_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "method": self.method,
            "samples": self.samples,
            "cached": self.cached,
            "qdq_model": self.qdq_model,
        }
        if self.dataset is not None:
            d["dataset"] = self.dataset
        if self.float_kept is not None:
            d["float_kept"] = [{"tensor": t, "reason": r} for t, r in self.float_kept]
        if self.quantized_tensors is not None:
            d["quantized_tensors"] = self.quantized_tensors
            d["unreached_compute"] = self.unreached_compute
        if self.cpu_recipe is not None:
            d["cpu_recipe"] = self.cpu_recipe
            d["isa"] = self.isa
            d["recipe_reason"] = self.recipe_reason
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CalibrationInfo:
        kept = d.get("float_kept")
        return cls(
            str(d.get("method")),
            int(d.get("samples") or 0),
            bool(d.get("cached")),
            str(d.get("qdq_model")),
            tuple((str(k.get("tensor", "")), str(k.get("reason", ""))) for k in kept if isinstance(k, dict))
            if isinstance(kept, list)
            else None,
            _int(d.get("quantized_tensors")),
            _int(d.get("unreached_compute")),
            str(d["dataset"]) if d.get("dataset") is not None else None,
            _str(d.get("cpu_recipe")),
            _str(d.get("isa")),
            _str(d.get("recipe_reason")),
        )


@dataclass(frozen=True)
class LatencyMethod:
    """How the latency figures were computed (bench/stream.py, bench/hist_stats.py; JSON ``latency_method``).

    ``percentile_method``: "exact" when every timed latency was kept and sorted (runs of at most ``exact_cap``
    queries: the figures are order statistics of the sorted latencies), "histogram" past the cap: percentiles,
    median, their 95 % intervals and early stopping are read from an HdrHistogram-layout histogram whose figures
    are within ``histogram_relative_error`` (2**-11) of the exact ones, with that resolution added to each
    interval. ``mean_std_method``: "exact" always (integer sums of the ns latencies; min and max are exact too).
    ``latencies_kept``: the raw latencies the parent kept (the first ones, run order), of ``latencies_total``.
    """

    percentile_method: str
    histogram: str
    histogram_relative_error: float
    exact_cap: int
    latencies_kept: int
    latencies_total: int
    mean_std_method: str = "exact"

    def to_dict(self) -> dict[str, Any]:
        return {
            "percentile_method": self.percentile_method,
            "histogram": self.histogram,
            "histogram_relative_error": self.histogram_relative_error,
            "exact_cap": self.exact_cap,
            "latencies_kept": self.latencies_kept,
            "latencies_total": self.latencies_total,
            "mean_std_method": self.mean_std_method,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LatencyMethod:
        return cls(
            percentile_method=str(d.get("percentile_method", "")),
            histogram=str(d.get("histogram", "")),
            histogram_relative_error=_num(d.get("histogram_relative_error")) or 0.0,
            exact_cap=_int(d.get("exact_cap")) or 0,
            latencies_kept=_int(d.get("latencies_kept")) or 0,
            latencies_total=_int(d.get("latencies_total")) or 0,
            mean_std_method=str(d.get("mean_std_method", "exact")),
        )


@dataclass(frozen=True)
class LatencySeries:
    """The run's latency over time (bench/series.py; JSON ``latency_series``): one point per ``interval_s``
    window, kept every ``every_s`` seconds (bounded: the spacing doubles when the series fills). Per point: the
    window's start ``t_s`` (s since the timed window began, the telemetry clock), its query count, queries per
    second and the exact trtexec p50/p99 (ms) of the latencies sent in it."""

    interval_s: float
    every_s: float
    method: str
    t_s: tuple[float, ...]
    queries: tuple[int, ...]
    qps: tuple[float, ...]
    p50_ms: tuple[float, ...]
    p99_ms: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "interval_s": self.interval_s,
            "every_s": self.every_s,
            "method": self.method,
            "t_s": list(self.t_s),
            "queries": list(self.queries),
            "qps": list(self.qps),
            "p50_ms": list(self.p50_ms),
            "p99_ms": list(self.p99_ms),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LatencySeries:
        def col(key: str, kind=float) -> tuple:
            v = d.get(key)
            return tuple(kind(x) for x in v if _num(x) is not None) if isinstance(v, list) else ()

        return cls(
            interval_s=_num(d.get("interval_s")) or 0.0,
            every_s=_num(d.get("every_s")) or 0.0,
            method=str(d.get("method", "")),
            t_s=col("t_s"),
            queries=col("queries", int),
            qps=col("qps"),
            p50_ms=col("p50_ms"),
            p99_ms=col("p99_ms"),
        )


@dataclass(frozen=True)
class RepeatReport:
    """K independent runs (processes) pooled (bench/repeats.py): per-run medians (ms), their mean, std and CV
    (percent), runs needed for a 1 % error, MAD outliers among the pooled latencies, pyperf-style warnings."""

    runs: int
    medians_ms: tuple[float, ...]
    mean_of_medians_ms: float
    std_of_medians_ms: float
    cv_pct: float
    runs_needed_for_1pct_error: int
    outliers: int
    outlier_pct: float
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "medians_ms": list(self.medians_ms),
            "mean_of_medians_ms": self.mean_of_medians_ms,
            "std_of_medians_ms": self.std_of_medians_ms,
            "cv_pct": self.cv_pct,
            "runs_needed_for_1pct_error": self.runs_needed_for_1pct_error,
            "outliers": self.outliers,
            "outlier_pct": self.outlier_pct,
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RepeatReport:
        return cls(
            int(d.get("runs", 0)),
            tuple(float(x) for x in d.get("medians_ms") or ()),
            float(d.get("mean_of_medians_ms", 0.0)),
            float(d.get("std_of_medians_ms", 0.0)),
            float(d.get("cv_pct", 0.0)),
            int(d.get("runs_needed_for_1pct_error", 1)),
            int(d.get("outliers", 0)),
            float(d.get("outlier_pct", 0.0)),
            _strs(d.get("warnings")),
        )


@dataclass(frozen=True)
class StabilityVerdict:
    """``--until-stable``: whether the target percentile's 95 % interval reached ±``rel_width`` before
    ``max_duration_s``; its final relative half-width and interval (ms), and the sentence shown."""

    target: str
    rel_width: float
    rel_half_width: float | None
    interval_ms: tuple[float | None, float | None] | None
    reached: bool
    max_duration_s: float
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "rel_width": self.rel_width,
            "rel_half_width": self.rel_half_width,
            "interval_ms": list(self.interval_ms) if self.interval_ms is not None else None,
            "reached": self.reached,
            "max_duration_s": self.max_duration_s,
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StabilityVerdict:
        pair = _opt_pair(d.get("interval_ms"))
        return cls(
            str(d.get("target", "")),
            float(d.get("rel_width", 0.0)),
            _num(d.get("rel_half_width")),
            (_num(pair[0]), _num(pair[1])) if pair else None,
            bool(d.get("reached", False)),
            float(d.get("max_duration_s", 0.0)),
            str(d.get("message", "")),
        )


@dataclass(frozen=True)
class ServerScenario:
    """MLPerf-style server scenario: offered QPS, query count, seed, the first arrival times (s; at most 20 000
    kept) and where latency counts from (the scheduled arrival, so queueing counts)."""

    qps_offered: float | None
    queries: int
    seed: int
    arrivals_s: tuple[float, ...]
    latency_from: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "qps_offered": self.qps_offered,
            "queries": self.queries,
            "seed": self.seed,
            "arrivals_s": list(self.arrivals_s),
            "latency_from": self.latency_from,
        }


@dataclass(frozen=True)
class MultiStream:
    """Multi-stream scenario: N samples per query in one batch-N query, whose latency is that of its slowest."""

    samples_per_query: int
    query_latency: str

    def to_dict(self) -> dict[str, Any]:
        return {"samples_per_query": self.samples_per_query, "query_latency": self.query_latency}


@dataclass(frozen=True)
class LayerRow:
    """One node of a per-layer profile: calls per run, mean ms per run, share of the summed layer time (%)."""

    name: str
    op: str
    provider: str
    calls: float
    mean_ms: float
    share_pct: float


@dataclass(frozen=True)
class OpRow:
    """One op type of a per-layer profile: node count, mean ms per run, share (%)."""

    op: str
    nodes: int
    mean_ms: float
    share_pct: float


@dataclass(frozen=True)
class LayerProfile:
    """Per-layer time from the runtime's profiler over the timed runs (bench/layers.py has the format)."""

    source: str
    file: str
    runs: int
    skipped_runs: int
    total_ms: float
    run_ms: float | None
    layers_total: int
    layers: tuple[LayerRow, ...]
    by_op: tuple[OpRow, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "file": self.file,
            "runs": self.runs,
            "skipped_runs": self.skipped_runs,
            "total_ms": self.total_ms,
            "run_ms": self.run_ms,
            "layers_total": self.layers_total,
            "layers": [
                {
                    "name": r.name,
                    "op": r.op,
                    "provider": r.provider,
                    "calls": r.calls,
                    "mean_ms": r.mean_ms,
                    "share_pct": r.share_pct,
                }  # fmt: skip
                for r in self.layers
            ],
            "by_op": [
                {"op": r.op, "nodes": r.nodes, "mean_ms": r.mean_ms, "share_pct": r.share_pct} for r in self.by_op
            ],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LayerProfile:
        return cls(
            source=str(d.get("source", "")),
            file=str(d.get("file", "")),
            runs=int(d.get("runs", 0)),
            skipped_runs=int(d.get("skipped_runs", 0)),
            total_ms=float(d.get("total_ms", 0.0)),
            run_ms=_num(d.get("run_ms")),
            layers_total=int(d.get("layers_total", 0)),
            layers=tuple(
                LayerRow(
                    str(r["name"]),
                    str(r["op"]),
                    str(r["provider"]),
                    float(r["calls"]),
                    float(r["mean_ms"]),
                    float(r["share_pct"]),
                )  # fmt: skip
                for r in d.get("layers") or ()
            ),
            by_op=tuple(
                OpRow(str(r["op"]), int(r["nodes"]), float(r["mean_ms"]), float(r["share_pct"]))
                for r in d.get("by_op") or ()
            ),
        )


@dataclass(frozen=True)
class TrtexecImport:
    """Where an imported trtexec summary came from: the log file, the summary's position in it (block i of n,
    log line), the log layout ("modern"/"legacy"), the trtexec command, whether the batch was assumed 1, and
    trtexec's other sections (``sections``: H2D, GPU compute, D2H, enqueue … as trtexec printed them, ms/s)."""

    imported_from: str
    block: int
    blocks_in_file: int
    log_line: int | None
    layout: str
    command: str | None
    batch_assumed: bool
    sections: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Provenance:
    """Where the figures come from. ``kind``:

    - "measured": timed by this workbench on this machine, telemetry live;
    - "replayed": timed here, but power/temperature replayed from a log (``label`` names it);
    - "recorded": injected (demos, tests, the TUI's recorded screens) — not measured on this machine;
    - "imported": another tool's figures (``source`` "trtexec import", ``label`` the user's label).

    Only "measured" figures enter comparisons and recommendations as measurements. The JSON ``measured`` flag
    keeps its historic meaning (False for replayed and recorded telemetry).
    """

    kind: str = MEASURED
    label: str | None = None
    source: str | None = None

    @property
    def is_measurement(self) -> bool:
        return self.kind == MEASURED

    @property
    def measured_flag(self) -> bool:
        return self.kind in (MEASURED, IMPORTED)

    def describe(self) -> str:
        """A few words for the same line as the figures ("" for a measurement of this machine)."""
        if self.kind == MEASURED:
            return ""
        if self.kind == IMPORTED:
            return f"imported ({self.source or 'another tool'}{': ' + self.label if self.label else ''})"
        if self.kind == REPLAYED:
            return f"replayed telemetry{' (' + self.label + ')' if self.label else ''}"
        return "recorded — not measured on this machine"


@dataclass(frozen=True)
class BenchmarkResult:
    """One benchmark result. See the module docstring; every field's unit is in its name or its part's doc.

    ``id``/``created_at`` are set on a result read from the results database; ``result_id`` on a fresh result
    once stored. ``extras`` holds keys of the stored JSON this version does not model (written back as they were).
    """

    precision: str
    latency: LatencySummary
    throughput: Throughput
    provenance: Provenance = Provenance()
    model: ModelRef = ModelRef(None)
    backend: str | None = None
    profile: str | None = None
    profile_reason: str | None = None
    device: str | None = None
    # The inventory name of the fleet host that measured it (`workbench fleet run`); None: measured on this machine
    host: str | None = None
    versions: Mapping[str, str] = field(default_factory=dict)
    artifact: ArtifactRef | None = None
    inputs: InputsUsed | None = None
    warmup: Warmup | None = None
    latencies_ms: tuple[float, ...] | None = None  # per-query latencies kept (≤ 20 000, systematic subsample)
    latencies_subsampled: bool = False
    latency_method: LatencyMethod | None = None  # how the latency figures were computed (None: older results)
    latency_series: LatencySeries | None = None  # p50/p99/throughput over time (None: older results)
    # every timed latency's histogram, sparse (core/bench/histogram.py to_dict: layout, resolution, bucket index and
    # count lists), so runs, repeats and hosts can be merged later; None: older results
    latency_histogram: Mapping[str, Any] | None = None
    peak_rss_mb: float | None = None
    stopped_by_parent: bool | None = None
    timing_splits: TimingSplits | None = None
    settings: BenchSettings | None = None
    scenario: str | None = None
    telemetry: TelemetrySummary | None = None
    inferences_per_j: float | None = None
    above_idle: AboveIdle | None = None
    idle_power: IdlePower | None = None
    settle: Settle | None = None
    power_state: PowerState | None = None
    power_mode: PowerModeRef | None = None
    contention: Contention | None = None
    accuracy: AccuracyReport | None = None
    calibration: CalibrationInfo | None = None
    repeat: RepeatReport | None = None
    until_stable: StabilityVerdict | None = None
    server: ServerScenario | None = None
    multi_stream: MultiStream | None = None
    layers: LayerProfile | None = None
    layer_profile_path: str | None = None
    imported: TrtexecImport | None = None
    warnings: tuple[str, ...] = ()
    result_id: int | None = None
    id: int | None = None
    created_at: str | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)
    # The document this result was read from (result_from_dict): to_dict() writes back every key it had, nested
    # ones included, that the typed fields do not model. Not part of the result's value (compare=False).
    source_doc: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    # --- reading -------------------------------------------------------------------------------------------
    @property
    def measured(self) -> bool:
        """The historic JSON flag: False when the telemetry was replayed or recorded."""
        return self.provenance.measured_flag

    @property
    def is_measurement(self) -> bool:
        """Measured by this workbench on this machine: may enter comparisons and recommendations."""
        return self.provenance.is_measurement

    @property
    def contended(self) -> bool:
        """Other work shared the CPU with this run (see :class:`Contention`): its differences are not significant."""
        return self.contention is not None and self.contention.contended

    @property
    def stored_id(self) -> int | None:
        return self.id if self.id is not None else self.result_id

    @property
    def model_name(self) -> str | None:
        return self.model.path

    @property
    def label(self) -> str | None:
        """The user's label of an imported result (None for our own runs)."""
        return self.provenance.label if self.provenance.kind == IMPORTED else None

    @property
    def source(self) -> str | None:
        """Who produced the figures when it was not this workbench ("trtexec import"), else None."""
        return self.provenance.source

    def with_id(self, result_id: int) -> BenchmarkResult:
        return replace(self, result_id=result_id)

    # --- the dict edge -------------------------------------------------------------------------------------
    def to_dict(self, *, latencies: bool = True) -> dict[str, Any]:
        """The JSON document (``bench --json`` entry, the results database's ``json`` column). ``latencies=False``
        leaves out the per-query latencies (stdout keeps them in the database, not on the terminal)."""
        d: dict[str, Any] = {"precision": self.precision, "latency_ms": self.latency.to_dict()}
        rl = self.latency.run_length_dict()
        if rl is not None:
            d["run_length"] = rl
        if self.latency.early_stopping:
            d["early_stopping"] = {
                percentile_key(e.target_percentile): e.to_dict() for e in self.latency.early_stopping
            }
        if self.latencies_ms is not None:
            if latencies:
                d["latencies_ms"] = list(self.latencies_ms)
            d["latencies_subsampled"] = self.latencies_subsampled
        if self.latency_method is not None:
            d["latency_method"] = self.latency_method.to_dict()
        if self.latency_series is not None and latencies:
            d["latency_series"] = self.latency_series.to_dict()
        if self.latency_histogram is not None and latencies:
            d["latency_histogram"] = dict(self.latency_histogram)
        if self.peak_rss_mb is not None or self.imported is None:
            d["peak_rss_mb"] = self.peak_rss_mb
        if self.imported is None:
            d["timing_splits_ms"] = self.timing_splits.to_dict() if self.timing_splits is not None else None
            d["queries_per_call"] = self.throughput.queries_per_call
            d["stopped_by_parent"] = self.stopped_by_parent
        t = self.throughput
        d["throughput_ips"] = t.inferences_per_s
        d["throughput_qps"] = t.queries_per_s
        d["iterations"] = t.iterations
        d["batch"] = t.batch
        if t.batch_requested is not None:
            d["batch_requested"] = t.batch_requested
        d["wall_s"] = t.wall_s
        if self.inputs is not None:
            d["input_shapes"] = {k: list(v) for k, v in self.inputs.shapes.items()}
            d["inputs"] = self.inputs.source
        if self.warmup is not None:
            d["warmup"] = self.warmup.to_dict()
        d["warnings"] = list(self.warnings)
        d["measured"] = self.measured
        d["provenance"] = {"kind": self.provenance.kind, "label": self.provenance.label}
        if self.imported is not None or self.provenance.source is not None:
            d["source"] = self.provenance.source
            d["label"] = self.provenance.label
        d["backend"] = self.backend
        d["profile"] = self.profile
        if self.imported is None:
            d["profile_reason"] = self.profile_reason
        if self.artifact is not None:
            d["artifact"] = self.artifact.path
            d["artifact_bytes"] = self.artifact.bytes
            d["artifact_cached"] = self.artifact.cached
            d["build_s"] = self.artifact.build_s
        d["model"] = self.model.path
        if self.imported is None:
            d["model_onnx"] = self.model.onnx_path
            d["model_sha256"] = self.model.sha256
        d["device"] = self.device
        d["host"] = self.host
        d["versions"] = dict(self.versions)
        if self.imported is None:
            d["settings"] = self.settings.to_dict() if self.settings is not None else None
            d["telemetry"] = self.telemetry.to_dict() if self.telemetry is not None else None
            d["idle_power"] = self.idle_power.to_dict() if self.idle_power is not None else None
            d["settle"] = self.settle.to_dict() if self.settle is not None else None
            d["power_state"] = self.power_state.to_dict() if self.power_state is not None else None
            d["scenario"] = self.scenario
            d["accuracy"] = self.accuracy.to_dict() if self.accuracy is not None else None
            d["inferences_per_j"] = self.inferences_per_j
        if self.above_idle is not None:
            a = self.above_idle
            d["above_idle"] = {"label": a.label, "mean_power_w": a.mean_power_w, "mj_per_inference": a.mj_per_inference}
        if self.server is not None:
            d["server"] = self.server.to_dict()
        if self.multi_stream is not None:
            d["multi_stream"] = self.multi_stream.to_dict()
        if self.repeat is not None:
            d["repeat"] = self.repeat.to_dict()
        if self.until_stable is not None:
            d["until_stable"] = self.until_stable.to_dict()
        if self.calibration is not None:
            d["calibration"] = self.calibration.to_dict()
        if self.power_mode is not None:
            d["power_mode"] = {"id": self.power_mode.id, "name": self.power_mode.name}
        if self.contention is not None:
            d["contention"] = self.contention.to_dict()
        if self.layer_profile_path is not None:
            d["layer_profile"] = self.layer_profile_path
        if self.layers is not None:
            d["layers"] = self.layers.to_dict()
        if self.imported is not None:
            i = self.imported
            d.update(
                imported_from=i.imported_from, block=i.block, blocks_in_file=i.blocks_in_file, log_line=i.log_line,
                layout=i.layout, command=i.command, batch_assumed=i.batch_assumed, trtexec=dict(i.sections),
            )  # fmt: skip
        d.update(self.extras)
        if self.source_doc is not None:
            d = _fill_from(d, self.source_doc)
        if self.id is not None:
            d["id"] = self.id
        if self.created_at is not None:
            d["created_at"] = self.created_at
        if self.result_id is not None and self.id is None:
            d["result_id"] = self.result_id
        return d


# Keys result_from_dict reads; everything else goes to ``extras``.
_KNOWN = frozenset(
    """precision latency_ms run_length early_stopping latencies_ms latencies_subsampled latency_method latency_series latency_histogram peak_rss_mb timing_splits_ms
    queries_per_call stopped_by_parent throughput_ips throughput_qps iterations batch batch_requested wall_s
    input_shapes inputs warmup warnings measured provenance source label backend profile profile_reason artifact
    artifact_bytes artifact_cached build_s model model_onnx model_sha256 device host versions settings telemetry
    idle_power settle power_state scenario accuracy inferences_per_j above_idle server multi_stream repeat
    until_stable calibration power_mode contention layer_profile layers imported_from block blocks_in_file log_line layout
    command batch_assumed trtexec id created_at result_id""".split()
)


def _fill_from(typed: dict[str, Any], stored: Mapping[str, Any]) -> dict[str, Any]:
    """``typed`` with every key of ``stored`` it lacks added back, recursively into objects (typed values win)."""
    out = dict(typed)
    for k, v in stored.items():
        if (
            k in ("id", "created_at", "result_id", "latencies_ms", "latency_series", "latency_histogram")
            and k not in out
        ):
            continue  # ids belong to the database row; latencies are left out on purpose (to_dict(latencies=False))
        if k not in out:
            out[k] = v
        elif isinstance(out[k], dict) and isinstance(v, Mapping):
            out[k] = _fill_from(out[k], v)
    return out


def _provenance(d: Mapping[str, Any]) -> Provenance:
    p = _dict(d.get("provenance"))
    if p.get("kind") in PROVENANCE_KINDS:
        return Provenance(str(p["kind"]), _str(p.get("label")), _str(d.get("source")))
    source = _str(d.get("source"))
    if source is not None and source != "workbench":
        return Provenance(IMPORTED, _str(d.get("label")), source)
    tel = _dict(d.get("telemetry"))
    measured = d.get("measured") if "measured" in d else tel.get("measured", True)
    if measured:
        return Provenance(MEASURED)
    return Provenance(REPLAYED, _str(tel.get("label")))


def result_from_dict(d: Mapping[str, Any]) -> BenchmarkResult:
    """A :class:`BenchmarkResult` from its JSON document (this version's, or an earlier one's).

    Raises:
        ValueError: ``d`` is not a benchmark result (no ``latency_ms`` object).
    """
    if not isinstance(d, Mapping) or not isinstance(d.get("latency_ms"), dict):
        raise ValueError("not a benchmark result: no latency_ms object")
    prov = _provenance(d)
    imported = None
    if prov.kind == IMPORTED and "block" in d:
        imported = TrtexecImport(
            imported_from=str(d.get("imported_from", "")),
            block=_int(d.get("block")) or 1,
            blocks_in_file=_int(d.get("blocks_in_file")) or 1,
            log_line=_int(d.get("log_line")),
            layout=str(d.get("layout", "")),
            command=_str(d.get("command")),
            batch_assumed=bool(d.get("batch_assumed", False)),
            sections=_dict(d.get("trtexec")),
        )
    art = None
    if d.get("artifact") is not None:
        art = ArtifactRef(
            str(d["artifact"]), _int(d.get("artifact_bytes")), _bool(d.get("artifact_cached")), _num(d.get("build_s"))
        )
    inputs = None
    if "input_shapes" in d or "inputs" in d:
        shapes = {str(k): tuple(int(x) for x in v) for k, v in _dict(d.get("input_shapes")).items()}
        inputs = InputsUsed(shapes, _str(d.get("inputs")))
    lat = d.get("latencies_ms")
    tel = d.get("telemetry")
    acc = d.get("accuracy")
    idle = d.get("idle_power")
    settle = d.get("settle")
    above = d.get("above_idle")
    server = d.get("server")
    ms = d.get("multi_stream")
    cal = d.get("calibration")
    pm = d.get("power_mode")
    return BenchmarkResult(
        precision=str(d.get("precision") or "?"),
        latency=LatencySummary.from_dicts(d["latency_ms"], _dict(d.get("run_length")), _dict(d.get("early_stopping"))),
        throughput=Throughput(
            inferences_per_s=_num(d.get("throughput_ips")),
            queries_per_s=_num(d.get("throughput_qps")),
            iterations=_int(d.get("iterations")),
            batch=_int(d.get("batch")),
            wall_s=_num(d.get("wall_s")),
            queries_per_call=_int(d.get("queries_per_call")),
            batch_requested=_int(d.get("batch_requested")),
        ),
        provenance=prov,
        model=ModelRef(_str(d.get("model")), _str(d.get("model_onnx")), _str(d.get("model_sha256"))),
        backend=_str(d.get("backend")),
        profile=_str(d.get("profile")),
        profile_reason=_str(d.get("profile_reason")),
        device=_str(d.get("device")),
        host=_str(d.get("host")),
        versions={str(k): str(v) for k, v in _dict(d.get("versions")).items()},
        artifact=art,
        inputs=inputs,
        warmup=Warmup.from_dict(d["warmup"]) if isinstance(d.get("warmup"), dict) else None,
        latencies_ms=tuple(float(x) for x in lat if _num(x) is not None) if isinstance(lat, list) else None,
        latencies_subsampled=bool(d.get("latencies_subsampled", False)),
        latency_method=LatencyMethod.from_dict(d["latency_method"])
        if isinstance(d.get("latency_method"), dict)
        else None,
        latency_series=LatencySeries.from_dict(d["latency_series"])
        if isinstance(d.get("latency_series"), dict)
        else None,
        latency_histogram=dict(d["latency_histogram"]) if isinstance(d.get("latency_histogram"), dict) else None,
        peak_rss_mb=_num(d.get("peak_rss_mb")),
        stopped_by_parent=_bool(d.get("stopped_by_parent")),
        timing_splits=TimingSplits.from_dict(d["timing_splits_ms"])
        if isinstance(d.get("timing_splits_ms"), dict)
        else None,
        settings=BenchSettings.from_dict(d["settings"]) if isinstance(d.get("settings"), dict) else None,
        scenario=_str(d.get("scenario")),
        telemetry=TelemetrySummary.from_dict(tel) if isinstance(tel, dict) else None,
        inferences_per_j=_num(d.get("inferences_per_j")),
        above_idle=AboveIdle(
            str(above.get("label", "")), float(above.get("mean_power_w") or 0.0), _num(above.get("mj_per_inference"))
        )
        if isinstance(above, dict)
        else None,  # fmt: skip
        idle_power=IdlePower(
            float(idle.get("seconds") or 0.0),
            _num(idle.get("mean_power_w")),
            bool(idle.get("measured", True)),
            _str(idle.get("reason")),
        )
        if isinstance(idle, dict)
        else None,  # fmt: skip
        settle=Settle(
            bool(settle.get("settled")),
            _num(settle.get("temp_c")),
            _num(settle.get("target_c")),
            _str(settle.get("reason")),
        )
        if isinstance(settle, dict)
        else None,  # fmt: skip
        power_state=PowerState.from_dict(d["power_state"]) if isinstance(d.get("power_state"), dict) else None,
        power_mode=PowerModeRef(int(pm["id"]), str(pm["name"])) if isinstance(pm, dict) else None,
        contention=Contention.from_dict(d["contention"]) if isinstance(d.get("contention"), dict) else None,
        accuracy=AccuracyReport.from_dict(acc) if isinstance(acc, dict) else None,
        calibration=CalibrationInfo.from_dict(cal) if isinstance(cal, dict) else None,
        repeat=RepeatReport.from_dict(d["repeat"]) if isinstance(d.get("repeat"), dict) else None,
        until_stable=StabilityVerdict.from_dict(d["until_stable"]) if isinstance(d.get("until_stable"), dict) else None,
        server=ServerScenario(
            _num(server.get("qps_offered")),
            int(server.get("queries") or 0),
            int(server.get("seed") or 0),
            tuple(float(x) for x in server.get("arrivals_s") or ()),
            str(server.get("latency_from", "")),
        )
        if isinstance(server, dict)
        else None,  # fmt: skip
        multi_stream=MultiStream(int(ms.get("samples_per_query") or 0), str(ms.get("query_latency", "")))
        if isinstance(ms, dict)
        else None,  # fmt: skip
        layers=LayerProfile.from_dict(d["layers"]) if isinstance(d.get("layers"), dict) else None,
        layer_profile_path=_str(d.get("layer_profile")),
        imported=imported,
        warnings=_strs(d.get("warnings")),
        result_id=_int(d.get("result_id")),
        id=_int(d.get("id")),
        created_at=_str(d.get("created_at")),
        extras={k: v for k, v in d.items() if k not in _KNOWN},
        source_doc=dict(d),
    )


def results_from_dicts(docs: Sequence[Mapping[str, Any]]) -> list[BenchmarkResult]:
    return [result_from_dict(d) for d in docs]
