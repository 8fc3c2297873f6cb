"""`workbench tui` / bare `workbench`: routing, the root refusal and the no-terminal message (no traceback)."""

from __future__ import annotations

import os

import pytest


def test_check_not_root_refuses_euid_0_unless_overridden(monkeypatch):
    from workbench.cli.cmd_tui import check_not_root
    from workbench.core.errors import UsageError

    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.delenv("WORKBENCH_ALLOW_ROOT", raising=False)
    with pytest.raises(UsageError, match="does not run as root") as err:
        check_not_root()
    assert "WORKBENCH_ALLOW_ROOT=1" in err.value.hint
    monkeypatch.setenv("WORKBENCH_ALLOW_ROOT", "yes")  # only "1" overrides
    with pytest.raises(UsageError):
        check_not_root()
    monkeypatch.setenv("WORKBENCH_ALLOW_ROOT", "1")
    check_not_root()
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.delenv("WORKBENCH_ALLOW_ROOT")
    check_not_root()


@pytest.mark.skipif(os.geteuid() != 0, reason="checks the refusal for real only when the tests run as root")
def test_bare_workbench_as_root_is_refused_with_a_clear_message(run_cli, cli_env):
    env = dict(cli_env)
    env.pop("WORKBENCH_ALLOW_ROOT", None)
    res = run_cli(env=env)
    assert res.returncode == 2, res.stderr
    assert "error: the workbench UI does not run as root" in res.stderr
    assert "WORKBENCH_ALLOW_ROOT=1" in res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""


def test_bare_workbench_routes_to_tui_and_needs_a_terminal(run_cli, cli_env):
    env = dict(cli_env, WORKBENCH_ALLOW_ROOT="1")
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

    env = dict(cli_env, WORKBENCH_ALLOW_ROOT="1", TERM="xterm-256color", COLUMNS="80", LINES="24")
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
