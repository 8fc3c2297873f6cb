"""The whole guided flow on the bundled default model, keyboard only: model -> profile -> INT8 -> calibrate ->
build -> benchmark -> results. Asserts values that appear on screen against what the core computed and stored
(issue 4, "What it must show" 1)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from tui_helpers import text, wait_for, wait_idle  # noqa: E402


def test_whole_flow_keyboard_only_on_bundled_default():
    from workbench.core.results.store import ResultStore
    from workbench.ui.app import make_app
    from workbench.ui.screens.bench import BenchScreen
    from workbench.ui.screens.build import BuildScreen
    from workbench.ui.screens.calibrate import CalibrateScreen
    from workbench.ui.screens.model import ModelScreen
    from workbench.ui.screens.precision import PrecisionScreen
    from workbench.ui.screens.profile import ProfileScreen
    from workbench.ui.screens.results import ResultsScreen

    async def flow() -> dict:
        app = make_app()
        seen: dict = {}
        async with app.run_test(size=(80, 24)) as pilot:
            # 1. Model: opens on the bundled default, named as such, nothing focused that eats keys.
            assert isinstance(app.screen, ModelScreen)
            assert app.focused is None or not hasattr(app.focused, "cursor_position")
            await wait_idle(pilot)
            info = text(app.screen.query_one("#model-info"))
            assert info.startswith("digits CNN — bundled default")
            assert "image  float32  batchx1x8x8  dynamic: batch" in info
            assert f"{app.state.job.model_info.param_count:,} parameters" in info

            # 2. Profile: the detected device and the reason.
            await pilot.press("2")
            assert isinstance(app.screen, ProfileScreen)
            prof = text(app.screen.query_one("#profile-info"))
            assert f"Profile   {app.state.job.profile.name}" in prof
            assert app.state.detection.reason.split(";")[0][:30] in prof.replace("\n          ", " ")

            # 3. Precision: INT8 by key.
            await pilot.press("3")
            assert isinstance(app.screen, PrecisionScreen)
            await pilot.press("i")
            assert app.state.precision == "int8"
            assert "Precision INT8" in text(app.screen.query_one("#precision-head"))

            # 4. Calibrate: progress, then the accuracy verdict the core computed.
            await pilot.press("4")
            assert isinstance(app.screen, CalibrateScreen)
            await wait_for(pilot, lambda: "Samples" in text(app.screen.query_one("#calib-set")), 30, "dataset info")
            assert "512 images" in text(app.screen.query_one("#calib-set"))
            await pilot.press("s")  # about a second on the bundled set
            await wait_idle(pilot)
            report = app.state.accuracy
            assert report is not None, text(app.screen.query_one("#calib-progress"))
            verdict = text(app.screen.query_one("#calib-verdict"))
            assert f" {report.verdict.upper()} " in verdict
            assert f"on {report.samples} held-out eval set" in verdict
            assert f"top-1 {report.top1_other:.2f} % vs FP32 {report.top1_fp32:.2f} %" in verdict
            assert f"cosine min {report.vs_fp32.cosine_min:.5f}" in verdict
            assert "512 samples, minmax" in text(app.screen.query_one("#calib-progress"))

            # 5. Build: the INT8 artifact (calibration reused from the cache).
            await pilot.press("5")
            assert isinstance(app.screen, BuildScreen)
            await pilot.press("s")
            await wait_idle(pilot)
            art = app.state.built.artifact
            assert art is not None and art.precision == "int8"
            head = text(app.screen.query_one("#build-head"))
            assert "Artifact INT8 · onnxruntime" in head
            assert "cached" in head or f"built in {art.build_s:.2f} s" in head

            # 6. Benchmark: 1 s runs, start, live numbers while it runs, then the stored figures.
            await pilot.press("6")
            assert isinstance(app.screen, BenchScreen)
            await pilot.press("left_square_bracket", "left_square_bracket")
            assert app.state.job.request.duration_s == 1.0
            await pilot.press("right_square_bracket")  # 3 s: time to watch the live view even on a loaded machine
            assert app.state.job.request.duration_s == 3.0
            await pilot.press("s")
            while app.busy == "bench":
                shown = text(app.screen.query_one("#bench-stats"))
                if shown.startswith("[timed]") and "inf/s" in shown:
                    seen["live_stats"] = shown
                    break
                await pilot.pause(0.05)
            await wait_idle(pilot)
            entry = app.state.last_result
            assert entry is not None and entry.precision == "int8"
            assert entry.accuracy is not None and entry.accuracy.verdict == report.verdict  # reused, not recomputed
            stats = text(app.screen.query_one("#bench-stats"))
            summary = text(app.screen.query_one("#bench-summary"))
            seen.update(entry=entry, stats=stats, summary=summary)

            # 7. Results: the new run is listed with the same p99.
            await pilot.press("7")
            assert isinstance(app.screen, ResultsScreen)
            table = app.screen.query_one("#results-table")
            await wait_for(pilot, lambda: table.row_count > 0, 30, "the results, read in a worker")
            rows = {str(table.get_row_at(i)[1]): table.get_row_at(i) for i in range(table.row_count)}
            seen["row"] = rows[str(entry.result_id)]
            await pilot.press("ctrl+q")
        seen["rc"] = app.return_code
        return seen

    seen = asyncio.run(flow())
    entry = seen["entry"]
    with ResultStore() as db:
        stored = db.get(entry.result_id)
    p99 = stored.latency.p99_ms
    assert p99 == entry.latency.p99_ms
    assert f"p99 {p99:.4f} ms" in seen["stats"]
    assert f"p50 {stored.latency.p50_ms:.4f} ms" in seen["stats"]
    assert f"iter {stored.throughput.iterations:,}" in seen["stats"]
    assert f"p99 = {p99:.4f} ms" in seen["summary"]  # the CLI's summary layout
    assert stored.accuracy.verdict in ("pass", "fail")
    assert (
        seen.get("live_stats", "").startswith("[timed] p50 ") and "inf/s" in seen["live_stats"]
    )  # rolling, while running
    assert f"{p99:.4f}" in [str(c) for c in seen["row"]]
    assert seen["rc"] == 0
