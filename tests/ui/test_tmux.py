"""The real app in tmux at 80x24: keys start a benchmark on the bundled default and latency numbers appear in
``capture-pane`` (issue 4, "What it must show" 3). Skipped only when tmux is not installed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TMUX = shutil.which("tmux")

pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install tmux)")


class Pane:
    def __init__(self, socket: str, session: str) -> None:
        self.socket = socket
        self.session = session

    def tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([TMUX, "-L", self.socket, *args], capture_output=True, text=True, check=check, timeout=30)

    def capture(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.session).stdout

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.session, *keys)

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.capture()
            m = re.search(pattern, screen)
            if m:
                return m
            time.sleep(0.2)
        raise AssertionError(f"{pattern!r} did not appear within {timeout} s; screen:\n{screen}")

    def alive(self) -> bool:
        return self.tmux("has-session", "-t", self.session, check=False).returncode == 0


@pytest.fixture
def pane(workbench_home):
    socket = f"wbtest-{uuid.uuid4().hex[:8]}"
    p = Pane(socket, "wb")
    yield p
    p.tmux("kill-server", check=False)


@pytest.mark.parametrize("term", ["xterm-256color", "xterm"])  # xterm: 8/16 colours
def test_benchmark_in_tmux_80x24_shows_latency_numbers(pane, workbench_home, term):
    env = [
        "env",
        f"WORKBENCH_HOME={workbench_home}",
        f"TERM={term}",
        "COLORTERM=",
        f"PYTHONPATH={REPO}",
    ]
    pane.tmux(
        "-f", os.devnull, "new-session", "-d", "-x", "80", "-y", "24", "-s", pane.session, "-c", str(REPO),
        *env, sys.executable, "-m", "workbench",
    )  # fmt: skip
    pane.wait_for(r"digits CNN — bundled default", 60)
    pane.keys("6")
    pane.wait_for(r"Benchmark FP32", 10)
    pane.keys("s")
    live = pane.wait_for(r"p50 (\d+\.\d{4}) ms\s+p99 (\d+\.\d{4}) ms\s+thr ([\d.]+) inf/s\s+iter ([\d,]+)", 90)
    assert float(live.group(2)) >= float(live.group(1)) > 0
    assert int(live.group(4).replace(",", "")) > 0
    pane.wait_for(r"=== FP32 — onnxruntime", 60)  # the CLI-layout summary: the run is finished and stored
    screen = pane.capture()
    final = re.search(r"^ p50 (\d+\.\d{4}) ms\s+p99 (\d+\.\d{4}) ms", screen, re.M)
    assert final, screen
    from workbench.core.results.store import ResultStore

    (stored,) = ResultStore(workbench_home / "data" / "results.sqlite3").get_many(None)
    assert final.group(2) == f"{stored.latency.p99_ms:.4f}"
    assert final.group(1) == f"{stored.latency.p50_ms:.4f}"
    assert "Traceback" not in screen
    pane.keys("C-q")
    deadline = time.monotonic() + 20
    while pane.alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not pane.alive(), pane.capture()


SETPRIV = shutil.which("setpriv")


def _as_user(user: str) -> list[str]:
    """The argv prefix that runs the app as ``user`` ("root": as the tests run; "normal": uid/gid 65534)."""
    if user == "root":
        if os.geteuid() != 0:
            pytest.skip("the root case needs the tests to run as root")
        return []
    if os.geteuid() != 0:
        return []  # the tests already run as a normal user
    if SETPRIV is None:
        pytest.skip("setpriv (util-linux) is needed to drop to a normal user")
    return [SETPRIV, "--reuid=65534", "--regid=65534", "--clear-groups", "--"]


def _python_for(prefix: list[str]) -> tuple[str, list[str]]:
    """An interpreter the user can execute, and the extra PYTHONPATH entries it needs. The test venv's interpreter may
    live where a normal user cannot reach it (pyenv under root's 0700 home on this project's machines); then the
    system python3 of the same version runs with the venv's site-packages (the same wheels)."""
    import sysconfig

    if subprocess.run([*prefix, "env", sys.executable, "-c", "pass"], capture_output=True).returncode == 0:
        return sys.executable, []
    other = shutil.which("python3", path="/usr/local/bin:/usr/bin")
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if (
        other
        and subprocess.run(
            [*prefix, "env", other, "-c", f"import sys; assert '%d.%d' % sys.version_info[:2] == '{version}'"],
            capture_output=True,
        ).returncode
        == 0
    ):
        return other, [sysconfig.get_paths()["purelib"]]
    pytest.skip(f"no Python {version} that uid 65534 may execute (the venv's is {sys.executable})")


def _readable_checkout(prefix: list[str], python: str, extra_path: list[str]) -> None:
    """Skip when the user cannot read this checkout (a clone in a 0700 folder such as `mktemp -d`'s)."""
    env = ["env", "PYTHONPATH=" + os.pathsep.join([str(REPO), *extra_path])]
    probe = subprocess.run([*prefix, *env, python, "-c", "import workbench.cli.main"], capture_output=True, cwd="/")
    if probe.returncode != 0:
        pytest.skip(f"uid 65534 cannot read the checkout {REPO} (a folder above it is private)")


@pytest.mark.parametrize("user", ["root", "normal"])
def test_ui_opens_as_root_and_as_a_normal_user_help_and_quit_with_status_0(user):
    """Issue 13, must-show 1: the UI opens at 80x24 as root (containers on Jetsons) and as a normal user — no
    refusal —, `?` shows help, ctrl+q exits with status 0."""
    import tempfile

    prefix = _as_user(user)
    python, extra_path = _python_for(prefix)
    if prefix:
        _readable_checkout(prefix, python, extra_path)
    home = Path(tempfile.mkdtemp(prefix="wb-user-"))  # not under pytest's 0700 tmp: uid 65534 must write here
    home.chmod(0o777)
    pane = Pane(f"wbtest-{uuid.uuid4().hex[:8]}", "wb")
    env = [
        "env",
        f"WORKBENCH_HOME={home}",
        "HOME=" + str(home),
        "TERM=xterm-256color",
        "PYTHONPATH=" + os.pathsep.join([str(REPO), *extra_path]),
    ]
    rc_file = home / "exit-status"
    # The app's exit status, written by a small Python parent (argv, no shell). tmux's own #{pane_dead_status} is
    # not reliable: tmux 3.3a sometimes leaves the exited pane process a zombie for many seconds.
    wrapper = (
        "import subprocess, sys; rc = subprocess.call(sys.argv[2:]); "
        "open(sys.argv[1] + '.tmp', 'w').write(str(rc)); import os; os.replace(sys.argv[1] + '.tmp', sys.argv[1])"
    )
    try:
        pane.tmux(
            "-f", os.devnull, "new-session", "-d", "-x", "80", "-y", "24", "-s", pane.session, "-c", str(REPO),
            *prefix, *env, python, "-c", wrapper, str(rc_file), python, "-m", "workbench",
        )  # fmt: skip
        pane.wait_for(r"digits CNN — bundled default", 60)
        assert "root" not in pane.capture()
        pane.keys("?")
        pane.wait_for(r"screen\.bench", 20)  # the help lists every key with its binding id
        pane.keys("Escape")
        pane.keys("C-q")
        deadline = time.monotonic() + 60
        while not rc_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert rc_file.exists(), pane.capture()
        assert rc_file.read_text() == "0"
    finally:
        pane.tmux("kill-server", check=False)
        shutil.rmtree(home, ignore_errors=True)


def _start_tui(pane: Pane, workbench_home: Path) -> None:
    env = ["env", f"WORKBENCH_HOME={workbench_home}", "TERM=xterm-256color",
           f"PYTHONPATH={REPO}"]  # fmt: skip
    pane.tmux(
        "-f", os.devnull, "new-session", "-d", "-x", "80", "-y", "24", "-s", pane.session, "-c", str(REPO),
        *env, sys.executable, "-m", "workbench",
    )  # fmt: skip


def _wait(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_benchmark_started_in_the_tui_survives_killing_tmux_and_a_new_tui_reattaches(pane, workbench_home):
    """Issue 13, "What it must show" 2: start a benchmark with 6, s; kill the tmux session as soon as its job exists;
    the job completes and stores its result; a new TUI lists it (j) and re-attaches (Enter) to show that result."""
    from workbench.core import jobs
    from workbench.core.results.store import ResultStore

    _start_tui(pane, workbench_home)
    pane.wait_for(r"digits CNN — bundled default", 60)
    pane.keys("6")
    pane.wait_for(r"Benchmark FP32", 10)
    t0 = time.monotonic()
    pane.keys("s")
    job = _wait(lambda: next(iter(jobs.list_jobs()), None), 60, "the benchmark's job folder")
    assert job.argv[0] == "bench" and job.state() == "running"
    tui_pid = int(pane.tmux("display-message", "-p", "-t", pane.session, "#{pane_pid}").stdout)
    pane.tmux("kill-server")  # the SSH link drops: the TUI gets SIGHUP and dies
    _wait(lambda: not Path(f"/proc/{tui_pid}").exists(), 30, "the TUI process to die")
    assert not pane.alive()
    state = _wait(lambda: job.state() if job.state() != "running" else None, 180, "the job to end")
    elapsed = time.monotonic() - t0
    assert state == "finished", (job.stderr_path.read_text(), job.stdout_path.read_text())
    (rid,) = jobs.result_ids(job.dir)
    with ResultStore() as db:
        stored = db.get(rid)
    assert stored.latency.p99_ms > 0 and stored.throughput.iterations > 0
    print(f"TUI benchmark job, start key to stored result: {elapsed:.1f} s")

    # the next day: a new TUI lists the job and re-attaches to it with one key
    pane.session = "wb2"
    _start_tui(pane, workbench_home)
    pane.wait_for(r"digits CNN — bundled default", 60)
    pane.wait_for(r"1 recent job", 30)  # the start-up notice names it ...
    pane.keys("j")
    pane.wait_for(
        r"(?m)^ finished\s+result " + str(rid) + r": FP32 p50 [\d.]+ ms · p99 [\d.]+ ms\s+bench", 30
    )  # its row
    pane.keys("Enter")
    pane.wait_for(r"=== FP32 — onnxruntime", 60)
    screen = pane.capture()
    final = re.search(r"^ p50 (\d+\.\d{4}) ms\s+p99 (\d+\.\d{4}) ms", screen, re.M)
    assert final, screen
    assert final.group(2) == f"{stored.latency.p99_ms:.4f}"
    assert "Traceback" not in screen
    pane.keys("C-q")  # nothing of this TUI's runs: it quits at once
    _wait(lambda: not pane.alive(), 20, "the second TUI to quit")
