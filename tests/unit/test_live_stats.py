"""workbench.core.live (rolling benchmark statistics, precision choices, datasets) and core.runs_compare."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from workbench.core.bench import events as ev
from workbench.core.bench.stats import percentile
from workbench.core.live import LiveLatency, energy_per_inference_mj, list_datasets, precision_choices


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_rolling_percentiles_match_trtexec_definition_over_the_window():
    clock = FakeClock()
    live = LiveLatency(window=100, points=10, batch=2, clock=clock)
    live.feed(ev.Phase("warmup"))
    live.feed(ev.WarmupDone(iterations=7, duration_ns=1_000_000, latencies_ns=[1] * 7))
    live.feed(ev.TimedStart(monotonic_s=0.0))
    # 150 latencies 1..150 ms in batches of 10; the window keeps the last 100 (51..150 ms).
    for seq in range(15):
        live.feed(ev.Samples(seq=seq, latencies_ns=[(seq * 10 + k + 1) * 1_000_000 for k in range(10)]))
    clock.t = 102.0
    snap = live.snapshot()
    window = [float(v) for v in range(51, 151)]
    assert snap.iterations == 150
    assert snap.warmup_iterations == 7
    assert snap.p50_ms == percentile(window, 50) == 100.0
    assert snap.p99_ms == percentile(window, 99) == 149.0  # exact arithmetic: sorted[n - 1 - floor(1 * 100 / 100)]
    assert snap.last_ms == 150.0
    assert snap.throughput_ips == pytest.approx(150 * 2 / 2.0)
    assert snap.points_ms == tuple(seq * 10 + 5.5 for seq in range(5, 15))  # batch medians, last 10 kept
    assert snap.phase == "timed" and not snap.finished


def test_timed_end_fixes_iterations_and_wall_time():
    clock = FakeClock()
    live = LiveLatency(clock=clock)
    live.feed(ev.TimedStart(monotonic_s=0.0))
    live.feed(ev.Samples(seq=0, latencies_ns=[2_000_000, 4_000_000]))
    v = live.snapshot().version
    live.feed(ev.TimedEnd(monotonic_s=1.0, wall_ns=500_000_000, iterations=2, batches=1))
    snap = live.snapshot()
    assert snap.finished and snap.phase == "done" and snap.version > v
    assert snap.elapsed_s == 0.5
    assert snap.throughput_ips == pytest.approx(4.0)


def test_failed_event_and_empty_snapshot():
    live = LiveLatency()
    empty = live.snapshot()
    assert empty.p50_ms is None and empty.p99_ms is None and empty.throughput_ips is None and empty.iterations == 0
    live.feed(ev.Failed(kind="BenchmarkError", message="boom"))
    snap = live.snapshot()
    assert snap.finished and snap.error == "BenchmarkError: boom"


def test_energy_per_inference_is_power_over_rate():
    assert energy_per_inference_mj(5000.0, 1000.0) == 5.0  # 5 W at 1000 inf/s = 5 mJ per inference
    assert energy_per_inference_mj(None, 1000.0) is None
    assert energy_per_inference_mj(5000.0, 0.0) is None


def _ctx(support, allowed, notes=None):
    backend = SimpleNamespace(
        name="onnxruntime", precision_support=lambda: support, precision_notes=lambda: notes or {}
    )
    profile = SimpleNamespace(name="p", build=SimpleNamespace(precisions=allowed))
    # a float model (no Q/DQ in its op histogram): every precision is the backend's and profile's to allow
    info = SimpleNamespace(op_histogram={"Conv": 2, "Relu": 2})
    return SimpleNamespace(backend=backend, profile=profile, model_path="m.onnx", model_info=info)


def test_precision_choices_grey_out_with_backend_and_profile_reasons():
    ctx = _ctx(
        {"fp32": None, "fp16": None, "int8": "this GPU has no fast INT8", "best": None},
        ["fp32", "fp16", "best"],
        {"fp16": "rarely faster on CPU"},
    )
    got = {c.name: c for c in precision_choices(ctx)}
    assert [c for c in got] == ["fp32", "fp16", "bf16", "int8", "best"]
    assert not got["bf16"].available and got["bf16"].reason == "onnxruntime does not know bf16"
    assert got["fp32"].available and got["fp32"].reason is None
    assert got["fp16"].available and got["fp16"].note == "rarely faster on CPU"
    assert not got["int8"].available and got["int8"].reason == "this GPU has no fast INT8"
    ctx2 = _ctx({"fp32": None, "fp16": None, "int8": None, "best": None}, ["fp32"])
    got2 = {c.name: c for c in precision_choices(ctx2)}
    assert not got2["int8"].available
    assert got2["int8"].reason == "profile p does not allow int8 (allowed: fp32)"


def test_list_datasets_local_folder_shadows_bundled(tmp_path, monkeypatch):
    (tmp_path / "calib" / "digits").mkdir(parents=True)
    (tmp_path / "calib" / "mine").mkdir(parents=True)
    (tmp_path / "calib" / ".hidden").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    found = list_datasets("calib")
    names = [p.name for p in found]
    assert names[:2] == ["digits", "mine"]
    assert found[0] == tmp_path / "calib" / "digits"
    assert ".hidden" not in names


def test_tui_compare_uses_the_core_engine_and_marks_what_was_not_measured():
    """The TUI's compare view is core/results/compare.py's table and verdict (one engine for both faces)."""
    import io

    from rich.console import Console

    from workbench.core.results.result import result_from_dict
    from workbench.ui.widgets.compare import compare_view

    a = result_from_dict(
        {"precision": "fp32", "latency_ms": {"median": 2.0, "p99": 4.0, "std": 0.1}, "iterations": 1000,
         "throughput_ips": 500.0, "measured": True}
    )  # fmt: skip
    b = result_from_dict(
        {"precision": "int8", "latency_ms": {"median": 1.0, "p99": 3.0, "std": 0.1}, "iterations": 1000,
         "throughput_ips": 1000.0, "telemetry": {"measured": False, "mean_power_w": 7.5}}
    )  # fmt: skip
    assert a.is_measurement and not b.is_measurement and b.provenance.kind == "replayed"
    out = io.StringIO()
    Console(file=out, width=160, color_system=None).print(compare_view(a, b, title_a="A", title_b="B"))
    text = out.getvalue()
    lines = {line.split()[0] + " " + line.split()[1]: line for line in text.splitlines() if line.count(" ") > 2}
    assert "0.50x" in lines["median ms"] and "0.75x" in lines["p99 ms"] and "2.00x" in lines["throughput inf/s"]
    assert "B [replayed]" in text  # the heading `results compare` gives it (compare.column_heads)
    assert "Verdict: significant: median B/A = 0.5000" in text  # the verdict the CLI prints, from std and n


def test_points_carry_arrival_time_batch_max_and_the_sorted_window():
    """The plot's time axis: each point's time since the run started (same clock as telemetry samples), the
    batch's slowest latency (a spike inside a batch shows) and the sorted window for the histogram."""
    clock = FakeClock()
    live = LiveLatency(window=5, clock=clock)  # started at 100.0
    live.feed(ev.TimedStart(monotonic_s=0.0))
    clock.t = 100.5
    live.feed(ev.Samples(seq=0, latencies_ns=[1_000_000, 9_000_000, 2_000_000]))
    clock.t = 101.25
    live.feed(ev.Samples(seq=1, latencies_ns=[3_000_000, 4_000_000, 5_000_000]))
    snap = live.snapshot()
    assert snap.started_s == 100.0
    assert snap.points_t_s == (0.5, 1.25)
    assert snap.points_ms == (2.0, 4.0)
    assert snap.points_max_ms == (9.0, 5.0)
    assert snap.window_ms == (2.0, 3.0, 4.0, 5.0, 9.0)  # the last 5, sorted


def test_a_reattached_jobs_backlog_is_plotted_when_it_was_measured_not_when_it_was_read():
    """A TUI re-attaching to a job reads minutes of events.jsonl at once: the points keep the child's send times
    (CLOCK_MONOTONIC, shared by the processes), ``started_s`` moves back to the job's first event, and the
    throughput counts from the child's TimedStart, not from when the line was read."""
    import time

    from workbench.core.bench import events as ev
    from workbench.core.live import LiveLatency

    live = LiveLatency()  # on time.monotonic, as the TUI runs it
    now = time.monotonic()
    live.feed(ev.TimedStart(now - 10.0))
    live.feed(ev.Samples(0, [1_000_000] * 50, now - 9.5))
    live.feed(ev.Samples(1, [2_000_000] * 50, now - 9.0))
    snap = live.snapshot()
    assert snap.started_s == pytest.approx(now - 10.0)
    assert snap.points_t_s == pytest.approx((0.5, 1.0))
    assert snap.points_ms == (1.0, 2.0)
    assert 10.0 <= snap.elapsed_s < 10.0 + 5.0  # since the child's start, whatever the machine's load
    assert snap.throughput_ips == pytest.approx(100 / snap.elapsed_s)


def test_events_without_a_send_time_are_placed_when_they_arrive():
    from workbench.core.bench import events as ev
    from workbench.core.live import LiveLatency

    t = [100.0]
    live = LiveLatency(clock=lambda: t[0])  # an injected clock: the child's times are never mixed in
    t[0] = 101.0
    live.feed(ev.Samples(0, [1_000_000], 5.0))
    t[0] = 102.5
    live.feed(ev.decode('{"type": "Samples", "seq": 1, "latencies_ns": [3000000]}'))  # an old events.jsonl line
    snap = live.snapshot()
    assert snap.started_s == 100.0 and snap.points_t_s == (1.0, 2.5)
