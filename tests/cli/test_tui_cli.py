"""`workbench tui` / bare `workbench`: routing, root allowed, and the no-terminal message (no traceback)."""

from __future__ import annotations

import os


def test_bare_workbench_as_root_is_not_refused(run_cli, cli_env):
    """Root (containers on Jetsons) gets the app like anyone else: here, without a terminal, the only refusal is the
    missing TTY — never "does not run as root", with or without the old override variable."""
    env = dict(cli_env)
    env.pop("WORKBENCH_ALLOW_ROOT", None)
    res = run_cli(env=env)
    assert res.returncode == 2, res.stderr
    assert "needs a terminal" in res.stderr
    assert "root" not in res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""


def test_bare_workbench_routes_to_tui_and_needs_a_terminal(run_cli, cli_env):
    env = dict(cli_env)
    for args in ((), ("tui",)):
        res = run_cli(*args, env=env)
        assert res.returncode == 2, (args, res.stderr)
        assert "needs a terminal" in res.stderr
        assert "Traceback" not in res.stderr and res.stdout == ""


def test_tui_help_lists_model_and_profile(run_cli):
    res = run_cli("tui", "--help")
    assert res.returncode == 0
    assert "MODEL" in res.stdout or "model" in res.stdout
    assert "--profile" in res.stdout and "--telemetry" in res.stdout
    top = run_cli("--help")
    assert "tui" in top.stdout


def test_tui_runs_in_a_pty_and_quits_with_status_0(cli_env, tmp_path):
    """A real terminal (pty): the app starts on the bundled default and ctrl+q exits with status 0."""
    import pty
    import select
    import sys
    import time

    env = dict(cli_env, TERM="xterm-256color", COLUMNS="80", LINES="24")
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.execve(sys.executable, [sys.executable, "-m", "workbench"], env)
    out = b""
    deadline = time.monotonic() + 60
    try:
        while b"MaxPool" not in out and time.monotonic() < deadline:  # the inspection is on screen
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                try:
                    out += os.read(fd, 65536)
                except OSError:
                    break
        assert b"bundled default" in out and b"MaxPool" in out, out[-2000:]
        deadline = time.monotonic() + 30
        os.write(fd, b"\x11")  # ctrl+q
        status = None
        while time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                try:
                    os.read(fd, 65536)
                except OSError:
                    pass
            wpid, st = os.waitpid(pid, os.WNOHANG)
            if wpid:
                status = st
                break
        assert status is not None, "the app did not exit after ctrl+q"
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    finally:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        os.close(fd)
