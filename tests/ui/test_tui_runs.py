"""Runs inside the app: the plot's refresh cap, no redraw when idle, calibration cancel, re-run and compare."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from tui_helpers import make_recorded_app, rich_text, text, wait_for, wait_idle  # noqa: E402


def test_plot_redraws_are_capped_at_10_hz_and_idle_screen_does_not_redraw():
    from workbench.ui.widgets.bench_plot import BenchPlot
    from workbench.ui.widgets.telemetry_panel import TelemetryPanel

    async def go():
        app = make_recorded_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_idle(pilot)
            await pilot.press("6")
            await pilot.pause(0.7)
            plot = app.screen.query_one(BenchPlot)
            await wait_for(pilot, lambda: plot.draws >= 1, 30, "the recorded trace drawn")
            panel = app.screen.query_one(TelemetryPanel)
            counts = {"panel": 0}
            orig_panel = panel.update

            def count_panel(*a, **k):
                counts["panel"] += 1
                return orig_panel(*a, **k)

            panel.update = count_panel
            draws0 = plot.draws
            await pilot.pause(1.5)  # idle: frozen telemetry, no run
            idle = {"plot": plot.draws - draws0, "panel": counts["panel"]}
            await pilot.press("left_square_bracket", "left_square_bracket", "s")
            t0 = time.monotonic()
            await wait_for(pilot, lambda: app.busy is None, 120, "benchmark")
            elapsed = time.monotonic() - t0
            live = app.screen.live.snapshot()
            redraws = plot.draws - draws0
            await wait_for(pilot, lambda: plot.data.p99_ms == app.state.last_result.latency.p99_ms, 30, "final p99")
            data, result = plot.data, app.state.last_result
        return idle, redraws, elapsed, live, data, result

    idle, redraws, elapsed, live, data, result = asyncio.run(go())
    assert idle == {"plot": 0, "panel": 0}
    # the finished plot: this run's points on its own time axis, the run's p50/p99, no "recorded" label
    assert data.lat_ms == live.points_ms and data.lat_t_s == live.points_t_s and len(data.lat_t_s) > 1
    assert 0 < data.lat_t_s[0] < data.lat_t_s[-1] < elapsed + 1
    assert (data.p50_ms, data.p99_ms) == (result.latency.p50_ms, result.latency.p99_ms)
    assert data.latency_label is None and data.telemetry_label == "recorded"  # the app's telemetry is recorded
    assert live.iterations > 1000  # thousands of inferences per second ...
    assert 1 <= redraws <= elapsed * 10 + 2  # ... but at most 10 plot redraws per second


def test_calibration_cancel_cancels_its_job_and_reports_cancelled(monkeypatch):
    """x while a calibration job runs cancels the job (SIGINT to its process group): the job ends "cancelled", the
    screen says so, no calibration is taken, and the cache holds only complete QDQ models (atomic writes)."""
    import onnx

    from workbench.core import jobs, paths
    from workbench.ui.app import WorkbenchApp
    from workbench.ui.messages import JobKind, ProgressMsg

    # Cancel (what x does) at the job's first counted calibration step, i.e. while it calibrates.
    orig = WorkbenchApp.on_progress_msg
    fired = []

    def on_progress(app, msg: ProgressMsg) -> None:
        orig(app, msg)
        p = msg.progress
        if msg.kind == JobKind.CALIBRATE and p.total and p.done is not None and not fired:
            fired.append(p.done)
            app.action_cancel_job()

    monkeypatch.setattr(WorkbenchApp, "on_progress_msg", on_progress)

    async def go():
        app = make_recorded_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_idle(pilot)
            await pilot.press("4")
            await wait_for(pilot, lambda: "Samples" in text(app.screen.query_one("#calib-set")), 30, "dataset")
            await pilot.press("s")
            await wait_idle(pilot, 120)
            return text(app.screen.query_one("#calib-progress")), app.state.accuracy, app.state.calibration, fired

    progress, acc, cal, fired = asyncio.run(go())
    (job,) = jobs.list_jobs()
    assert fired and job.argv[0] == "calibrate" and job.state() == "cancelled"
    assert job.exit_status()["exit_code"] == 130
    assert progress == "cancelled"
    assert acc is None and cal is None
    cache = paths.calibration_cache_dir()
    for p in cache.rglob("*.onnx") if cache.exists() else ():
        onnx.load(str(p))  # complete files only: never a half-written model


def test_rerun_with_changed_threads_and_compare_with_previous():
    async def go():
        app = make_recorded_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_idle(pilot)
            await pilot.press("6", "left_square_bracket", "left_square_bracket", "s")
            await wait_idle(pilot, 120)
            first = app.state.last_result
            await pilot.press("t", "t")  # threads: profile default -> 1 -> 2
            assert app.state.job.request.threads == 2
            assert "threads 2 (t)" in text(app.screen.query_one("#bench-head"))
            await pilot.press("s")
            await wait_idle(pilot, 120)
            second = app.state.last_result
            assert app.state.previous_result is first
            await pilot.press("v")
            summary = app.screen.query_one("#bench-summary")
            await wait_for(pilot, lambda: "Verdict" in rich_text(summary), 30, "the comparison (computed in a worker)")
            out = rich_text(summary)
            return first, second, out

    first, second, out = asyncio.run(go())
    assert second.settings.threads == 2
    assert "Previous run (A) vs this run (B)" in out
    assert f"{first.latency.p99_ms:.4f}" in out and f"{second.latency.p99_ms:.4f}" in out
    ratio = second.latency.median_ms / first.latency.median_ms
    assert f"{ratio:.2f}x" in out
    # the core's verdict on the two medians, as `workbench results compare` prints it
    assert "Verdict: " in out and ("significant" in out or "no significant difference" in out)
    assert "≠ settings.threads" in out
