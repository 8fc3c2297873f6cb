"""Everything long started in the TUI runs as a detached job (issue 13, item 2): the Jobs screen (j) lists this user's
jobs and re-attaches with one key, quitting asks only about the TUI's own running jobs (keep running / cancel), an
attached job's header shows the job's own settings, and calibrate / build run as jobs whose typed outcome the TUI
reads back."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from tui_helpers import REPO, make_recorded_app, rich_text, text, wait_for, wait_idle  # noqa: E402


def _detached(*args: str):
    """`workbench bench ARGS --detach` from a shell: a job started elsewhere."""
    from workbench.core import jobs

    res = subprocess.run(
        [sys.executable, "-m", "workbench", "bench", *args, "--detach"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=dict(os.environ),
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    return jobs.get(res.stdout.strip())


def _wait_state(job, states: tuple[str, ...], timeout: float = 240.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = job.state()
        if state in states:
            return state
        time.sleep(0.1)
    raise AssertionError(f"job {job.id} did not reach {states} within {timeout} s (state {job.state()})")


def _timing(job) -> bool:
    try:
        return b'"type":"Samples"' in (job.dir / "events.jsonl").read_bytes()
    except OSError:
        return False


def test_jobs_screen_lists_a_finished_job_and_enter_shows_its_result_with_its_own_settings():
    from workbench.core import jobs
    from workbench.core.results.store import ResultStore

    job = _detached("--duration", "1", "--threads", "1", "--warmup-ms", "20", "--profile", "cpu-x86_64")
    assert _wait_state(job, ("finished", "failed", "died")) == "finished"
    (rid,) = jobs.result_ids(job.dir)
    with ResultStore() as db:
        stored = db.get(rid)

    async def go():
        app = make_recorded_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_idle(pilot)
            notes = [n.message for n in app._notifications]
            await pilot.press("j")
            assert app.current_mode == "jobs"
            table = app.screen.query_one("#jobs-table")
            await wait_for(pilot, lambda: table.row_count == 1, 30, "the jobs list")
            row = [str(c) for c in table.get_row_at(0)]
            await pilot.press("enter")
            await wait_idle(pilot, 60)
            assert app.current_mode == "bench"
            head = text(app.screen.query_one("#bench-head"))
            summary = text(app.screen.query_one("#bench-summary"))
            return notes, row, head, summary, app.state.last_result, app.state.request

    notes, row, head, summary, shown, tui_request = asyncio.run(go())
    assert any(job.id in n for n in notes)  # the start-up notice names the recent job
    assert row[0] == "finished" and row[3] == job.id and row[2].startswith("bench --duration 1")
    assert row[1] == f"result {rid}: FP32 p50 {stored.latency.p50_ms:.4f} ms · p99 {stored.latency.p99_ms:.4f} ms"
    assert shown.id == rid and f"{stored.latency.p99_ms:.4f}" in summary
    # the job's settings (1 s, 1 thread), not the TUI's (the profile's 3 s, auto threads)
    assert tui_request.duration_s is None and tui_request.threads is None
    assert "Benchmark FP32 · onnxruntime · 1 s · threads 1 · batch 1" in head
    assert f"job {job.id} · digits CNN — bundled default · cpu-x86_64" in head


def test_reattached_running_job_is_followed_and_quit_can_cancel_it_but_never_a_job_started_elsewhere():
    from workbench.core import jobs
    from workbench.ui.screens.dialogs import JobsQuitScreen

    followed = _detached("--duration", "600", "--warmup-ms", "20")
    other = _detached("--duration", "600", "--warmup-ms", "20")
    try:

        async def go():
            app = make_recorded_app()
            async with app.run_test(size=(120, 40)) as pilot:
                await wait_idle(pilot)
                await pilot.press("j")
                table = app.screen.query_one("#jobs-table")
                await wait_for(pilot, lambda: table.row_count == 2, 30, "the jobs list")
                await wait_for(pilot, lambda: _timing(followed), 120, "the job's timed window")
                for _ in range(table.get_row_index(followed.id)):  # select `followed` with the keyboard
                    await pilot.press("down")
                assert app.screen.selected_job().id == followed.id
                await pilot.press("enter")
                await wait_for(pilot, lambda: app.current_mode == "bench", 10, "the Benchmark screen")
                screen = app.screen
                await wait_for(
                    pilot,
                    lambda: screen.live is not None and screen.live.snapshot().iterations > 0,
                    60,
                    "live samples of the re-attached job",
                )
                await pilot.press("ctrl+q")
                assert isinstance(app.screen, JobsQuitScreen)
                question = text(app.screen.query_one(".dialog-title"))
                await pilot.press("c")
            return app.return_code, question

        code, question = asyncio.run(go())
        assert code == 0
        assert followed.id in question and other.id not in question
        assert _wait_state(followed, ("cancelled", "failed", "died", "finished"), 60) == "cancelled"
        assert other.state() == "running"  # started elsewhere, never attached: quitting leaves it alone
    finally:
        jobs.cancel(other)
        jobs.cancel(followed)
        _wait_state(other, ("cancelled", "failed", "died", "finished"), 60)


def test_quit_keep_running_leaves_the_tui_started_benchmark_to_finish_and_store_its_result():
    from workbench.core import jobs
    from workbench.core.results.store import ResultStore
    from workbench.ui.screens.dialogs import JobsQuitScreen

    async def go():
        app = make_recorded_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_idle(pilot)
            await pilot.press("6", "left_square_bracket", "left_square_bracket", "s")  # 1 s
            await wait_for(pilot, lambda: app.screen.live.snapshot().iterations > 0, 90, "samples")
            job_id = app.state.job_id
            await pilot.press("ctrl+q")
            assert isinstance(app.screen, JobsQuitScreen)
            await pilot.press("k")
        return app.return_code, job_id

    code, job_id = asyncio.run(go())
    assert code == 0
    job = jobs.get(job_id)
    assert job.argv[:1] == ("bench",) and "--duration" in job.argv
    assert _wait_state(job, ("finished", "failed", "cancelled", "died")) == "finished"
    (rid,) = jobs.result_ids(job.dir)
    with ResultStore() as db:
        assert db.get(rid).settings.duration_s == 1.0


def test_calibrate_and_build_run_as_jobs_and_their_outcomes_come_back_typed():
    from workbench.core import jobs

    async def go():
        app = make_recorded_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_idle(pilot)
            await pilot.press("4")
            await wait_for(pilot, lambda: "Samples" in text(app.screen.query_one("#calib-set")), 30, "dataset")
            await pilot.press("s")
            await wait_idle(pilot, 180)
            verdict = rich_text(app.screen.query_one("#calib-verdict"))
            progress = text(app.screen.query_one("#calib-progress"))
            cal, acc = app.state.calibration, app.state.accuracy
            await pilot.press("5", "s")
            await wait_idle(pilot, 180)
            phase = text(app.screen.query_one("#build-phase"))
            return verdict, progress, cal, acc, app.state.built, phase

    verdict, progress, cal, acc, built, phase = asyncio.run(go())
    by_command = {j.argv[0]: j for j in jobs.list_jobs()}
    calib_job, build_job = by_command["calibrate"], by_command["build"]
    assert "--check" in calib_job.argv and calib_job.state() == "finished"
    assert build_job.argv[build_job.argv.index("--precision") + 1] == "int8" and build_job.state() == "finished"
    # calibrate: the QDQ model and the INT8-vs-FP32 verdict, read back from the job's outcome
    assert cal.result.path.is_file() and cal.result.samples == 512 and not cal.result.cached
    assert progress.startswith(f"calibrated QDQ model: 512 samples, {cal.result.method}")
    assert acc is not None and acc.verdict in ("pass", "fail") and acc.held_out
    assert f"Accuracy INT8 vs FP32:  {acc.verdict.upper()}" in verdict
    # build: the artifact, typed, from the job's outcome
    assert built.artifact.path.is_file() and built.precision == "int8" and built.artifact.backend == "onnxruntime"
    assert phase.startswith("done — ")


def test_a_best_precision_job_comes_back_as_its_choice_among_its_stored_candidates():
    """`bench --precision best` as a job: the chosen result and every candidate, read back by stored id."""
    from workbench.core import jobs
    from workbench.core.job import JobRequest
    from workbench.ui.messages import BenchFinished, JobKind
    from workbench.ui.workers import _outcome

    req = JobRequest(precision="best", duration_s=0.3, warmup_ms=20.0, profile="cpu-x86_64")
    job = jobs.start(jobs.argv_for(req, "bench"))
    assert _wait_state(job, ("finished", "failed", "died", "cancelled")) == "finished", job.stderr_path.read_text()
    msg = _outcome(JobKind.BENCH, job)
    assert isinstance(msg, BenchFinished) and msg.best is not None
    ids = jobs.result_ids(job.dir)
    assert sorted(c.id for c in msg.best.candidates) == sorted(ids) and len(ids) >= 2
    assert msg.result is msg.best.chosen and msg.result.id in ids
    assert {c.precision for c in msg.best.candidates} >= {"fp32", "int8"}
