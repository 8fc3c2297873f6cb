"""SSH drop, TUI side: the app re-attaches to a benchmark job started from a shell and shows its live stream."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from tui_helpers import REPO, make_recorded_app, rich_text, wait_for, wait_idle  # noqa: E402


def test_attach_follows_a_running_job_and_shows_its_stored_result():
    from workbench.core import jobs

    res = subprocess.run(
        [sys.executable, "-m", "workbench", "bench", "--duration", "4", "--warmup-ms", "20", "--detach"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=dict(os.environ),
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    job = jobs.get(res.stdout.strip())

    async def go():
        app = make_recorded_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_idle(pilot)
            await wait_for(pilot, lambda: job.state() == "running", 30, "the job to start")
            await pilot.press("6", "a")
            screen = app.screen
            # live numbers from the job's stream while it still runs
            await wait_for(
                pilot, lambda: screen.live is not None and screen.live.snapshot().iterations > 0, 60, "live samples"
            )
            live_running = job.state() == "running"
            await wait_idle(pilot, 120)
            return live_running, app.state.last_result, rich_text(screen.query_one("#bench-summary"))

    live_running, entry, summary = asyncio.run(go())
    assert live_running
    ids = jobs.result_ids(job.dir)
    assert len(ids) == 1 and job.state() == "finished"
    from workbench.core.results.store import ResultStore

    with ResultStore() as db:
        stored = db.get(ids[0])
    assert entry.latency.p99_ms == stored.latency.p99_ms and entry.id == ids[0]
    assert f"{stored.latency.p99_ms:.4f}" in summary  # the job's own result, in the CLI layout


def test_attach_without_a_running_job_says_so():
    async def go():
        app = make_recorded_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_idle(pilot)
            await pilot.press("6", "a")
            await wait_idle(pilot, 30)  # the jobs are listed in a worker, off the UI thread
            return app.busy, [n.message for n in app._notifications]

    busy, notes = asyncio.run(go())
    assert busy is None
    assert any("no running job" in n for n in notes)
