"""SSH drop: a benchmark survives the death of its terminal and stores its result (issue 7, item 3)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _jobs(env) -> list[dict]:
    res = subprocess.run(
        [sys.executable, "-m", "workbench", "jobs", "--json"], capture_output=True, text=True, env=env, cwd=REPO
    )
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def _wait(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(0.2)
    return pred()


def _timing_job(timeout: float = 180):
    """The first job whose benchmark child is inside its timed window (its event stream holds TimedStart).

    Tests wait for this state, not for seconds: with a 600 s benchmark the job cannot have finished when it is
    reached, however loaded the machine is."""
    from workbench.core import jobs

    def timing():
        for job in jobs.list_jobs():
            try:
                if b'"type":"TimedStart"' in (job.dir / "events.jsonl").read_bytes():
                    return job
            except OSError:
                continue
        return None

    job = _wait(timing, timeout)
    assert job is not None, "no job reached its timed window"
    return job


def _end_timed_window(job) -> None:
    """Ask the job's benchmark child to end its timed window now (SIGUSR1, as --until-stable does): the job then
    finishes normally and stores its result."""
    import psutil

    children = [
        p for p in psutil.Process(job.pid).children(recursive=True)
        if "workbench.core.bench.child" in " ".join(p.cmdline())
    ]  # fmt: skip
    assert len(children) == 1, children
    children[0].send_signal(signal.SIGUSR1)


def _finished(job, timeout: float = 180):
    from workbench.core import jobs

    return _wait(lambda: jobs.load(job.dir).state() != "running", timeout) and jobs.load(job.dir)


def _default_sighup() -> None:
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def test_job_survives_sighup_of_its_terminal(cli_env):
    # The follower stands in for the shell in a terminal: its own session, killed by SIGHUP as an SSH drop would.
    follower = subprocess.Popen(
        [sys.executable, "-m", "workbench", "bench", "--duration", "600", "--warmup-ms", "20"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=cli_env,
        cwd=REPO,
        start_new_session=True,
        # A shell in a terminal dies of SIGHUP; a test run under `nohup` would pass SIG_IGN down to the follower.
        preexec_fn=_default_sighup,
    )
    try:
        job = _timing_job()
        os.killpg(follower.pid, signal.SIGHUP)
        follower.wait(60)
        assert follower.returncode == -signal.SIGHUP
        assert job.state() == "running"  # the terminal is gone, the job is not
        _end_timed_window(job)
        job = _finished(job)
        assert job.state() == "finished", job.to_dict()
        ids = job.to_dict()["result_ids"]
        assert len(ids) == 1
    finally:
        if follower.poll() is None:
            follower.kill()
    res = subprocess.run(
        [sys.executable, "-m", "workbench", "results", "show", str(ids[0]), "--json"],
        capture_output=True,
        text=True,
        env=cli_env,
        cwd=REPO,
    )
    assert res.returncode == 0, res.stderr
    shown = json.loads(res.stdout)
    assert shown["iterations"] > 10 and shown["stopped_by_parent"] is True


def test_detach_returns_at_once_and_attach_gives_exit_code(cli_env):
    res = subprocess.run(
        [sys.executable, "-m", "workbench", "bench", "--iterations", "200", "--detach", "--no-store"],
        capture_output=True,
        text=True,
        env=cli_env,
        cwd=REPO,
        timeout=30,
    )
    assert res.returncode == 0, res.stderr
    job_id = res.stdout.strip()
    att = subprocess.run(
        [sys.executable, "-m", "workbench", "jobs", "attach", job_id],
        capture_output=True,
        text=True,
        env=cli_env,
        cwd=REPO,
        timeout=120,
    )
    assert att.returncode == 0
    assert "=== FP32" in att.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "workbench", "jobs", "show", "nope-no-such"],
        capture_output=True,
        text=True,
        env=cli_env,
        cwd=REPO,
    )
    assert bad.returncode != 0 and "no job" in bad.stderr and "Traceback" not in bad.stderr


def test_failed_job_exit_code_reaches_the_terminal(cli_env, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage")
    res = subprocess.run(
        [sys.executable, "-m", "workbench", "bench", str(bad)],
        capture_output=True,
        text=True,
        env=cli_env,
        cwd=REPO,
        timeout=60,
    )
    assert res.returncode == 4, res.stderr
    assert "bad.onnx" in res.stderr and "Traceback" not in res.stderr
    assert _jobs(cli_env)[0]["state"] == "failed"


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_job_started_in_tmux_finishes_after_the_session_is_killed(cli_env, tmp_path):
    env = dict(cli_env)
    sock = str(tmp_path / "tmux.sock")
    exe = f"{sys.executable} -m workbench bench --duration 600 --warmup-ms 20"
    subprocess.run(
        ["tmux", "-S", sock, "new-session", "-d", "-x", "80", "-y", "24", "-s", "wbtest", f"cd {REPO} && {exe}"],
        env=env,
        check=True,
    )
    try:
        job = _timing_job()
    finally:
        subprocess.run(["tmux", "-S", sock, "kill-session", "-t", "wbtest"], env=env, check=False)
    assert _wait(lambda: subprocess.run(["tmux", "-S", sock, "has-session"], capture_output=True).returncode != 0, 30)
    assert job.state() == "running"
    _end_timed_window(job)
    job = _finished(job)
    assert job.state() == "finished" and job.to_dict()["result_ids"], job.to_dict()


def test_job_keeps_its_event_stream_for_re_attaching(cli_env):
    from workbench.core import jobs
    from workbench.core.bench import events as ev

    res = subprocess.run(
        [sys.executable, "-m", "workbench", "bench", "--iterations", "300", "--detach", "--no-store"],
        capture_output=True,
        text=True,
        env=cli_env,
        cwd=REPO,
        timeout=30,
    )
    assert res.returncode == 0, res.stderr
    os.environ["WORKBENCH_HOME"] = cli_env["WORKBENCH_HOME"]
    job = jobs.get(res.stdout.strip())
    events, offset = [], 0
    end = time.monotonic() + 90
    while time.monotonic() < end and not any(isinstance(e, ev.TimedEnd) for e in events):
        new, offset = jobs.read_events(job, offset)
        events.extend(new)
        time.sleep(0.2)
    samples = [e for e in events if isinstance(e, ev.Samples)]
    assert sum(len(s.latencies_ns) for s in samples) == 300
    assert next(e for e in events if isinstance(e, ev.TimedEnd)).iterations == 300


def test_job_from_a_backgrounded_shell_command_can_still_be_cancelled(cli_env):
    # `cmd &` in a non-interactive shell starts cmd with SIGINT ignored; the job must reset it.
    # The signal is sent once the job is timing (a state, not a number of seconds); 600 s is never reached.
    timing = f'grep -qs \'"type":"TimedStart"\' "{cli_env["WORKBENCH_HOME"]}"/data/jobs/*/events.jsonl'
    script = (
        f"cd {REPO}; {sys.executable} -m workbench bench --duration 600 --warmup-ms 20 --no-store & pid=$!; "
        f"until {timing}; do sleep 0.1; done; kill -INT $pid; wait $pid; echo rc=$?"
    )
    res = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=cli_env, timeout=300)
    assert "rc=130" in res.stdout, res.stdout + res.stderr
    assert _jobs(cli_env)[0]["state"] == "cancelled"


def test_cancel_never_signals_a_pid_the_job_no_longer_owns(cli_env, monkeypatch):
    """A finished job's pid may be reused; a job whose runner died may have its pid reused by any process. Neither
    is signalled: `jobs cancel` says the job is not running, and a stranger on the old pid is never taken for it."""
    from workbench.core import jobs

    monkeypatch.setenv("WORKBENCH_HOME", cli_env["WORKBENCH_HOME"])
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    try:
        root = Path(cli_env["WORKBENCH_HOME"]) / "data" / "jobs"
        for name, status in (("20261203-100000-aaaaaa", {"exit_code": 0, "result_ids": [1]}),
                             ("20261203-100001-bbbbbb", None)):  # fmt: skip
            d = root / name
            d.mkdir(parents=True)
            rec = {"id": name, "argv": ["bench"], "pid": stranger.pid, "started_at": "2026-12-03T10:00:00Z", "cwd": "/"}
            (d / "job.json").write_text(json.dumps(rec))
            if status is not None:
                (d / "status.json").write_text(json.dumps(status))
        finished, died = jobs.load(root / "20261203-100000-aaaaaa"), jobs.load(root / "20261203-100001-bbbbbb")
        assert finished.state() == "finished" and died.state() == "died"  # the stranger on its pid is not the job
        assert jobs.cancel(finished) is False and jobs.cancel(died) is False
        res = subprocess.run(
            [sys.executable, "-m", "workbench", "jobs", "cancel", finished.id],
            capture_output=True, text=True, env=cli_env, cwd=REPO,
        )  # fmt: skip
        assert res.returncode == 0 and "is not running (finished): nothing to cancel" in res.stdout, res
        assert stranger.poll() is None  # never signalled
    finally:
        stranger.kill()
        stranger.wait()
