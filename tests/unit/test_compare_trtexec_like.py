"""An imported trtexec summary against a GPU run of ours compares trtexec's "Latency" (CUDA events: H2D + GPU
compute + D2H) on both sides, not our host wall time (issue 14, defect 4)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from _bench_fakes import context, outcome, telemetry

from workbench.core.bench.result import RunMeasurements, build_result
from workbench.core.results.compare import compare, ratio_verdict
from workbench.core.results.result import PowerState, SplitSummary, TimingSplits
from workbench.core.results.trtexec_import import import_trtexec

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "trtexec" / "nano-4gb-trt801-yolo-fp16-deepstream-two-runs.log"


def _gpu_run(host_ms: float, trt_latency_ms: float, compute_ms: float):
    m = RunMeasurements(telemetry=telemetry(), power_state=PowerState(reason="test"))
    lat = [host_ms * (1 + 0.01 * (i % 7)) for i in range(200)]  # a little spread, median host_ms * 1.03
    r = build_result([outcome(lat)], context(backend="tensorrt"), m)
    splits = {
        "h2d_ms": SplitSummary(0.5, 0.5, 0.6, 200),
        "gpu_compute_ms": SplitSummary(compute_ms, compute_ms, compute_ms, 200),
        "d2h_ms": SplitSummary(0.1, 0.1, 0.2, 200),
        "latency_ms": SplitSummary(trt_latency_ms, trt_latency_ms, trt_latency_ms, 200),
    }
    return replace(r, timing_splits=TimingSplits(splits, {"include_transfers": True, "cuda_graph": False}))


def test_import_vs_gpu_run_uses_trtexec_latency_on_both_sides():
    imported = import_trtexec(FIX)[0]  # trtexec Latency median 40.6337 ms, GPU Compute median 39.9982 ms
    ours = _gpu_run(host_ms=25.0, trt_latency_ms=20.3, compute_ms=19.7)
    v = ratio_verdict(imported, ours)
    assert abs(v.ratio - 20.3 / 40.6337) < 1e-9  # not 25.0 / 40.6337: our host wall time is not trtexec's figure
    assert "trtexec Latency on both sides" in v.method and v.ci95 is None and v.significant is None
    rows = {row.metric: row.values for row in compare([imported, ours]).rows}
    assert rows["trtexec Latency median ms"] == (40.6337, 20.3)
    assert rows["GPU compute median ms"] == (39.9982, 19.7)
    assert rows["median ms"][1] == 25.0 * 1.03


def test_two_runs_of_ours_still_compare_host_latency():
    a, b = _gpu_run(25.0, 20.0, 19.0), _gpu_run(50.0, 20.0, 19.0)
    v = ratio_verdict(a, b)
    assert abs(v.ratio - 2.0) < 0.01 and "bootstrap" in v.method
