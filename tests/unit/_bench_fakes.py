"""Build typed benchmark results from synthetic child outcomes (no child process), for unit tests."""

from __future__ import annotations

from array import array

from workbench.core.bench.parent import BenchOutcome
from workbench.core.bench.result import RunContext, RunMeasurements, build_result
from workbench.core.results.result import ArtifactRef, BenchSettings, ModelRef, PowerState
from workbench.core.telemetry.recorder import TelemetrySummary


def outcome(latencies_ms, *, batch_dim: int = 1, wall_s: float | None = None, warmup_ms=(0.5, 0.4)) -> BenchOutcome:
    ns = array("q", (int(round(v * 1e6)) for v in latencies_ms))
    o = BenchOutcome(latencies_ns=ns)
    o.iterations = len(ns)
    o.wall_ns = int((wall_s if wall_s is not None else sum(latencies_ms) / 1000) * 1e9)
    o.warmup_latencies_ns = [int(v * 1e6) for v in warmup_ms]
    o.warmup_duration_ns = int(sum(warmup_ms) * 1e6)
    o.input_shapes = {"x": [batch_dim, 4]}
    o.input_source = "random (seed 0)"
    return o


def context(**kw) -> RunContext:
    base = dict(
        precision="fp32",
        backend="onnxruntime",
        profile="cpu-x86_64",
        profile_reason="test",
        device="test CPU",
        versions={"workbench": "test"},
        model=ModelRef("m.onnx", "m.onnx", "0" * 64),
        artifact=ArtifactRef("m.opt.onnx", 100, False, 0.01),
        settings=BenchSettings(threads=0, warmup_ms=200.0, min_iterations=10, seed=0),
        batch_requested=1,
        percentiles=(50.0, 90.0, 95.0, 99.0),
    )
    base.update(kw)
    return RunContext(**base)


def telemetry(mean_power_w=None, energy_mj=None, measured=True, label=None) -> TelemetrySummary:
    return TelemetrySummary(
        source="test", measured=measured, label=label, interval_ms=100, window_s=1.0, samples=10, read_errors=0,
        mean_power_w=mean_power_w, peak_power_w=mean_power_w, energy_mj=energy_mj,
        energy_method="test" if energy_mj is not None else "none", total_power_rule=None, power_coverage=None,
    )  # fmt: skip


def result(latencies_ms, *, ctx: RunContext | None = None, tel: TelemetrySummary | None = None, **measured_kw):
    m = RunMeasurements(telemetry=tel or telemetry(), power_state=PowerState(reason="test"), **measured_kw)
    return build_result([outcome(latencies_ms)], ctx or context(), m)
