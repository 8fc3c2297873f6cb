"""Issue 18, items 7 and 12: jobs on a shared board.

- ``jobs show/cancel/attach`` take plain job ids only (a path would reach a planted ``job.json``);
- ``jobs cancel`` signals only a running job whose process is ours: our uid, the runner module and this job's
  folder on its /proc cmdline — never a pid that a finished job left behind, never another user's process;
- job folders (and the jobs folder) are 0700 and their files 0600, and the runner refuses a job folder or
  ``job.json`` that is not its own or that group/others may write, with a clear error and a failed state.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from _waiting import wait_until  # noqa: E402

RUNNER = "workbench.cli.jobrunner"
SETPRIV = shutil.which("setpriv")
NOBODY = ["--reuid=65534", "--regid=65534", "--clear-groups"]


def _cli(env, *args, timeout=120):
    """The CLI, started in a neutral folder (its home): the checkout on PYTHONPATH is the code under test."""
    cwd = env["WORKBENCH_HOME"]
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout
    )


def _record(d: Path, pid: int | None, argv=("bench",)) -> None:
    d.mkdir(parents=True, exist_ok=True)
    rec = {"id": d.name, "argv": list(argv), "pid": pid, "started_at": "2026-12-03T10:00:00Z", "cwd": "/"}
    (d / "job.json").write_text(json.dumps(rec))


def _runner_lookalike(job_dir: Path, prefix: list[str] = ()) -> subprocess.Popen:
    """A process whose /proc cmdline is ``sh -c ... workbench.cli.jobrunner JOB_DIR`` (what a runner's is, module then
    folder), in its own session (pid = process group, as a runner's), waiting until killed."""
    proc = subprocess.Popen(
        [*prefix, "sh", "-c", "sleep 600; :", RUNNER, str(job_dir)], start_new_session=True
    )  # `; :` keeps sh alive above sleep (no exec of the last command), so its cmdline stays
    wait_until(
        lambda: RUNNER.encode() in Path(f"/proc/{proc.pid}/cmdline").read_bytes(), what="the look-alike to start"
    )
    return proc


# ---------------------------------------------------------------------------------------------- ids (item 7)


@pytest.mark.parametrize("action", ["show", "cancel", "attach"])
def test_only_plain_job_ids_reach_the_file_system(cli_env, action):
    """A ``job.json`` planted beside the jobs folder (``data/x``) whose pid is a process of ours: ``../x`` must not
    load it (show), follow it (attach) or signal its pid (cancel); nor may any other path-like id."""
    data = Path(cli_env["WORKBENCH_HOME"]) / "data"
    (data / "jobs").mkdir(parents=True)
    victim = _runner_lookalike(data / "x")
    try:
        _record(data / "x", victim.pid)
        (data / "x" / "status.json").write_text('{"exit_code": 0}')
        for bad in ("../x", "/etc", "a/b", ".", "..", "*", "x y"):
            res = _cli(cli_env, "jobs", action, bad)
            shown = f"{action} {bad!r}: exit {res.returncode}\n{res.stdout}\n{res.stderr}"
            assert res.returncode == 2, shown
            assert res.stderr.startswith(f"error: {bad!r} is not a job id"), shown
            assert "Traceback" not in res.stderr and res.stdout == "", shown
        empty = _cli(cli_env, "jobs", action, "")
        assert empty.returncode == 2 and empty.stderr.startswith("error: ") and "Traceback" not in empty.stderr
        assert victim.poll() is None  # never signalled
    finally:
        victim.kill()
        victim.wait()


def test_get_refuses_path_like_ids_directly():
    from workbench.core import jobs
    from workbench.core.errors import UsageError

    for bad in ("", ".", "..", "../x", "/etc", "a/b", "a\\b", "*", "-rf", "x" * 65):
        with pytest.raises(UsageError, match="is not a job id"):
            jobs.get(bad)


# ---------------------------------------------------------------------------------------------- cancel (item 7)


def test_cancel_signals_a_running_runner_of_ours(workbench_home):
    """The positive control: the look-alike passes every check (ours, module then this job's folder, no status),
    so the refusals below are down to the one thing each changes."""
    from workbench.core import jobs

    d = workbench_home / "data" / "jobs" / "20261203-100000-cccccc"
    proc = _runner_lookalike(d)
    try:
        _record(d, proc.pid)
        job = jobs.load(d)
        assert job.state() == "running"
        assert jobs.cancel(job, signal.SIGTERM) is True
        assert proc.wait(60) == -signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_finished_job_signals_nothing_even_when_its_pid_looks_like_its_runner(workbench_home, cli_env):
    from workbench.core import jobs

    d = workbench_home / "data" / "jobs" / "20261203-100001-dddddd"
    proc = _runner_lookalike(d)
    try:
        _record(d, proc.pid)
        (d / "status.json").write_text(json.dumps({"exit_code": 0, "result_ids": []}))
        job = jobs.load(d)
        assert job.state() == "finished"
        assert jobs.cancel(job) is False
        res = _cli(cli_env, "jobs", "cancel", job.id)
        assert res.returncode == 0 and "is not running (finished): nothing to cancel" in res.stdout, res
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_a_lookalike_outside_its_own_process_group_is_not_a_running_job(workbench_home, cli_env):
    # `jobs list` said "running" while `jobs cancel` (rightly) refused: "is not running (running)"
    from workbench.core import jobs

    d = workbench_home / "data" / "jobs" / "20261203-100003-ffffff"
    proc = subprocess.Popen(["sh", "-c", "sleep 600; :", RUNNER, str(d)])  # our process group, not its own
    try:
        wait_until(lambda: RUNNER.encode() in Path(f"/proc/{proc.pid}/cmdline").read_bytes(), what="the look-alike")
        _record(d, proc.pid)
        job = jobs.load(d)
        assert job.runner_is_ours() is False and job.state() == "died"
        res = _cli(cli_env, "jobs", "cancel", job.id)
        assert res.returncode == 0 and "is not running (died): nothing to cancel" in res.stdout, res
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.skipif(
    os.geteuid() != 0 or SETPRIV is None, reason="needs root and setpriv to start another uid's process"
)
def test_cancel_never_signals_another_users_process(workbench_home, cli_env):
    """A pid now held by another user's process with the runner's very command line (as root, kill(2) would reach
    it): not our job — `jobs cancel` says so and sends nothing."""
    from workbench.core import jobs

    d = workbench_home / "data" / "jobs" / "20261203-100002-eeeeee"
    proc = _runner_lookalike(d, [SETPRIV, *NOBODY, "--"])
    try:
        wait_until(lambda: os.stat(f"/proc/{proc.pid}").st_uid == 65534, what="setpriv to drop to uid 65534")
        _record(d, proc.pid)
        job = jobs.load(d)
        assert job.state() == "died" and job.alive() is False
        assert jobs.cancel(job) is False
        res = _cli(cli_env, "jobs", "cancel", job.id)
        assert res.returncode == 0 and "is not running (died): nothing to cancel" in res.stdout, res
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------------------------------------- private (item 12)


def _modes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): f"{stat.S_IMODE(p.lstat().st_mode):04o}" for p in [root, *root.rglob("*")]}


def test_job_folders_and_files_are_private(cli_env):
    """A real job (bench, stored): the jobs folder and the job's folder 0700, every file in it 0600, whatever the
    umask (0022 here, which used to give 0755/0644)."""
    old = os.umask(0o022)
    try:
        res = _cli(cli_env, "bench", "--iterations", "20", "--warmup-ms", "0", timeout=300)
    finally:
        os.umask(old)
    assert res.returncode == 0, res.stderr
    root = Path(cli_env["WORKBENCH_HOME"]) / "data" / "jobs"
    modes = _modes(root)
    (job_dir,) = [p for p in root.iterdir()]
    names = {p.name for p in job_dir.iterdir()}
    assert {"job.json", "stdout", "stderr", "status.json", "events.jsonl", "settings.json", "results"} <= names
    assert modes == {k: ("0700" if (root / k).is_dir() else "0600") for k in modes}, modes
    assert modes["."] == "0700" and modes[job_dir.name] == "0700"


def _run_runner(d: Path, env) -> tuple[int, str, str]:
    """The job runner on folder ``d``, its output into the job's files as `jobs.start` starts it (started here
    without core/child_argv, so this reproduces on the code before the fix): (exit code, stdout, stderr)."""
    with open(d / "stdout", "wb") as out, open(d / "stderr", "wb") as err:
        code = subprocess.run(
            [sys.executable, "-m", RUNNER, str(d)], stdout=out, stderr=err, cwd=d, env=env, timeout=120
        ).returncode
    return code, (d / "stdout").read_text(), (d / "stderr").read_text()


def _planted(kind: str, d: Path) -> str:
    """Make job folder ``d`` (command: `workbench profiles`) unsafe in one way; returns what the refusal names."""
    d.parent.mkdir(parents=True, exist_ok=True)
    d.mkdir(mode=0o700)
    d.chmod(0o700)
    _record(d, None, argv=("profiles",))
    (d / "job.json").chmod(0o600)
    if kind == "folder-writable-by-others":
        d.chmod(0o777)
        return f"refusing to run job folder {d}: it is writable by its group and others (mode 0777)"
    if kind == "record-writable-by-group":
        (d / "job.json").chmod(0o620)
        return f"refusing to run job record {d / 'job.json'}: it is writable by its group (mode 0620)"
    if kind == "record-is-a-link":
        real = d.parent / "elsewhere.json"
        (d / "job.json").rename(real)
        (d / "job.json").symlink_to(real)
        return f"refusing to run job record {d / 'job.json'}: it is a symbolic link"
    if kind == "folder-of-another-user":
        os.chown(d, 65534, 65534)
        return f"refusing to run job folder {d}: it belongs to uid 65534, not to this process (uid 0)"
    if kind == "record-of-another-user":
        os.chown(d / "job.json", 65534, 65534)
        return f"refusing to run job record {d / 'job.json'}: it belongs to uid 65534, not to this process (uid 0)"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "folder-writable-by-others",
        "record-writable-by-group",
        "record-is-a-link",
        pytest.param(
            "folder-of-another-user",
            marks=pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a folder to another uid"),
        ),
        pytest.param(
            "record-of-another-user",
            marks=pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another uid"),
        ),
    ],
)
def test_runner_refuses_a_job_it_does_not_own(workbench_home, cli_env, kind):
    from workbench.core import jobs

    d = workbench_home / "data" / "jobs" / "20261203-100003-ffffff"
    message = _planted(kind, d)
    code, out, err = _run_runner(d, cli_env)
    assert code == 11, (code, out, err)  # StorageError (cli/exitcodes.py)
    assert out == ""  # `workbench profiles` never ran
    assert err.splitlines()[0] == f"error: {message}", err
    assert err.splitlines()[1].startswith("hint: ") and "Traceback" not in err
    job = jobs.load(d)
    assert job.state() == "failed" and job.exit_status()["exit_code"] == 11
    assert jobs.error_text(job)[0] == message


def test_runner_runs_a_job_of_its_own(workbench_home, cli_env):
    """The control: the same folder, private and ours, runs its command and finishes."""
    from workbench.core import jobs

    d = workbench_home / "data" / "jobs" / "20261203-100004-aaaaaa"
    d.parent.mkdir(parents=True)
    d.mkdir(mode=0o700)
    _record(d, None, argv=("profiles",))
    (d / "job.json").chmod(0o600)
    code, out, err = _run_runner(d, cli_env)
    assert code == 0, err
    assert "cpu-x86_64" in out
    assert jobs.load(d).state() == "finished"


def _nobody_python() -> tuple[list[str], list[str]]:
    """(the argv prefix that runs a Python as uid/gid 65534, extra PYTHONPATH entries it needs), or a skip.

    That Python must also start itself again (the job runner, the benchmark child). The test venv's interpreter may
    live where a normal user cannot reach it (pyenv under root's 0700 home on this project's machines); then the
    system python3 of the same version runs with the venv's site-packages (the same wheels)."""
    import sysconfig

    if os.geteuid() != 0 or SETPRIV is None:
        pytest.skip("needs root and setpriv to run as a normal user")
    prefix = [SETPRIV, *NOBODY, "--"]
    again = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'import workbench'], check=True)"
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    # The checkout itself too: the venv finds it through its editable-install hook, which a bare PYTHONPATH skips.
    repo = str(Path(__file__).resolve().parents[2])
    system = [sysconfig.get_paths()["purelib"], repo]
    for python, extra in ((sys.executable, []), (f"/usr/bin/python{version}", system)):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.environ.get("PYTHONPATH", ""), *extra])}
        if (
            Path(python).exists()
            and subprocess.run([*prefix, python, "-c", again], capture_output=True, env=env, cwd="/").returncode == 0
        ):
            return [*prefix, python], extra
    pytest.skip(f"no Python {version} that uid 65534 may run and re-run with the workbench")


def test_a_normal_user_runs_and_cancels_its_own_job(cli_env):
    """As uid 65534 (not root): a job starts, its runner accepts the folder it made (ours, private), it is shown
    running and `jobs cancel` stops it."""
    import tempfile

    python, extra = _nobody_python()
    home = Path(tempfile.mkdtemp(prefix="wb-nobody-"))  # outside root's 0700 pytest folder
    try:
        os.chown(home, 65534, 65534)
        path = os.pathsep.join([os.environ.get("PYTHONPATH", ""), *extra])
        env = {**cli_env, "WORKBENCH_HOME": str(home), "PYTHONPATH": path}
        run = [*python, "-m", "workbench"]
        start = subprocess.run(
            [*run, "bench", "--duration", "600", "--warmup-ms", "0", "--no-store", "--detach"],
            capture_output=True, text=True, env=env, cwd=home, timeout=120,
        )  # fmt: skip
        assert start.returncode == 0, start.stderr
        job_id = start.stdout.strip()
        job_dir = home / "data" / "jobs" / job_id
        wait_until(
            lambda: (
                b'"type":"TimedStart"' in (job_dir / "events.jsonl").read_bytes()
                if (job_dir / "events.jsonl").exists()
                else False
            ),
            timeout=180,
            what="the job to reach its timed window",
        )
        assert os.stat(job_dir).st_uid == 65534 and stat.S_IMODE(os.stat(job_dir).st_mode) == 0o700
        cancel = subprocess.run(
            [*run, "jobs", "cancel", job_id], capture_output=True, text=True, env=env, cwd=home, timeout=60
        )
        assert cancel.returncode == 0 and "sent SIGINT" in cancel.stdout, cancel
        wait_until(lambda: (job_dir / "status.json").exists(), timeout=120, what="the job to end")
        assert json.loads((job_dir / "status.json").read_text())["exit_code"] == 130
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_a_jobs_command_line_quotes_an_argument_with_spaces(tmp_path):
    # " ".join made `bench "my model.onnx"` look like two arguments; the shown command must be one you can paste
    from workbench.core.jobs import Job

    job = Job("20261203-000000-abcdef", tmp_path, ("bench", "my model.onnx", "--duration", "1"), None, "", "/")
    assert job.to_dict()["command"] == "workbench bench 'my model.onnx' --duration 1"


def test_a_job_whose_runner_is_not_started_yet_is_not_listed(workbench_home):
    # between the first job.json write (no pid) and the second, a listing read the job as "died"
    from workbench.core import jobs

    d = workbench_home / "data" / "jobs" / "20261203-100004-aaaaaa"
    _record(d, None)
    assert jobs.list_jobs() == []
    _record(d, os.getpid())
    assert [j.id for j in jobs.list_jobs()] == ["20261203-100004-aaaaaa"]
