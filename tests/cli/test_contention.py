"""Two benchmarks at once: both results say they were contended, and comparing them claims no difference.

Driven by states, not seconds: each job is a detached `workbench bench` whose event stream shows when its child is
inside the timed window; the first one is ended (SIGUSR1 to its benchmark child, as --until-stable does) while the
second is still timing, so each sees the other's benchmark child beside it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _wait(pred, timeout: float):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(0.1)
    return pred()


def _start(cli_env) -> str:
    res = subprocess.run(
        [sys.executable, "-m", "workbench", "bench", "--duration", "600", "--warmup-ms", "20", "--detach"],
        capture_output=True, text=True, env=cli_env, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def _timing(job) -> bool:
    try:
        return b'"type":"TimedStart"' in (job.dir / "events.jsonl").read_bytes()
    except OSError:
        return False


def _stop_timed_window(job) -> None:
    import psutil

    (child,) = [
        p for p in psutil.Process(job.pid).children(recursive=True)
        if "workbench.core.bench.child" in " ".join(p.cmdline())
    ]  # fmt: skip
    child.send_signal(signal.SIGUSR1)


def test_two_benchmarks_at_once_are_both_contended_and_not_significantly_different(cli_env):
    from workbench.core import jobs
    from workbench.core.results.store import ResultStore

    a = jobs.get(_start(cli_env))
    assert _wait(lambda: _timing(a), 180), "job A never reached its timed window"
    b = jobs.get(_start(cli_env))
    assert _wait(lambda: _timing(b), 180), "job B never reached its timed window"
    _stop_timed_window(a)  # A ends while B is still timing
    assert _wait(lambda: jobs.load(a.dir).state() != "running", 180)
    _stop_timed_window(b)
    assert _wait(lambda: jobs.load(b.dir).state() != "running", 180)
    (ida,), (idb,) = jobs.result_ids(a.dir), jobs.result_ids(b.dir)
    with ResultStore() as db:
        ra, rb = db.get(ida), db.get(idb)
    for r in (ra, rb):
        assert r.contended and r.contention.other_benchmarks, r.contention
        assert any(w.startswith("contended: ") and "another benchmark ran beside it" in w for w in r.warnings)
    res = subprocess.run(
        [sys.executable, "-m", "workbench", "results", "compare", str(ida), str(idb), "--format", "json"],
        capture_output=True, text=True, env=cli_env, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    rv = json.loads(res.stdout)["ratio_of_medians"]
    assert rv["significant"] is False
    assert rv["verdict"].startswith("no significant difference claimed: A was contended")
    text = subprocess.run(
        [sys.executable, "-m", "workbench", "results", "show", str(idb)],
        capture_output=True, text=True, env=cli_env, cwd=REPO, timeout=120,
    ).stdout  # fmt: skip
    assert "Latency ms" in text
