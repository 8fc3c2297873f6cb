"""The test sshd of the fleet tests (conftest.py's fixtures use it; tests import its helpers as `from _sshd import`)."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
BASE_PYTHON = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
REPO = Path(__file__).resolve().parents[2]


def missing() -> str | None:
    if not os.path.isfile(SSHD):
        return "needs OpenSSH's sshd (apt-get install openssh-server; .ci/run installs it)"
    for tool in ("ssh", "ssh-keygen", "ssh-keyscan"):
        if shutil.which(tool) is None:
            return f"needs the OpenSSH client tool {tool}"
    from workbench.core.fleet.ansible import ansible_available

    if not ansible_available():
        return "needs the fleet extra (pip install -c constraints.txt -e '.[fleet]')"
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now (the kernel's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_banner(port: int, timeout_s: float = 30.0) -> bool:
    """Whether an SSH server answers on ``port`` with its banner within ``timeout_s`` (polled, never a fixed sleep)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                if s.recv(64).startswith(b"SSH-"):
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


@dataclass
class SshServer:
    """The running test sshd: ``port``, ``user`` (who runs the tests: they log in as themselves), ``user_key`` (the
    private key), ``known_hosts`` (holding this server's host key), ``host_key_pub``, and the files of its config."""

    folder: Path
    port: int
    user: str
    user_key: Path
    known_hosts: Path
    host_key_pub: Path
    config: Path
    log: Path
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> None:
        """Start sshd on :attr:`port` (again) and wait for its banner.

        Raises:
            RuntimeError: sshd exited or did not answer (its log's tail in the message)."""
        if self.proc is not None and self.proc.poll() is None:
            return
        # -D: stay in the foreground (our child, stopped by stop()); -e: errors to the log via -E.
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-f", str(self.config), "-E", str(self.log)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        if not wait_for_banner(self.port):
            self.stop()
            tail = self.log.read_text(errors="replace")[-800:] if self.log.exists() else ""
            raise RuntimeError(f"sshd did not start on port {self.port}: {tail}")

    def stop(self) -> None:
        """Stop sshd and cut every connection it holds, as a dropped network would: sshd runs each connection in a
        child of its own session (so killing the listener alone would leave them open); those children are ended
        first, by pid, then the listener. Processes the sessions detached (a workbench job) are not touched."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            import psutil

            try:
                conns = psutil.Process(self.proc.pid).children(recursive=False)
            except psutil.Error:
                conns = []
            for c in conns:
                try:
                    c.terminate()
                except psutil.Error:
                    pass
            psutil.wait_procs(conns, timeout=20)
            try:
                os.killpg(self.proc.pid, 15)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(timeout=20)
        self.proc = None

    def host_vars(self, home: str | os.PathLike[str] | None, **extra: object) -> dict[str, object]:
        """The inventory variables of a host on this server: address, port, user, key, known_hosts (checking on)."""
        v: dict[str, object] = {
            "ansible_host": "127.0.0.1",
            "ansible_port": self.port,
            "ansible_user": self.user,
            "ansible_ssh_private_key_file": str(self.user_key),
            "ansible_ssh_common_args": (
                f"-o UserKnownHostsFile={shlex.quote(str(self.known_hosts))} -o GlobalKnownHostsFile=/dev/null "
                "-o IdentitiesOnly=yes"
            ),
        }
        # The interpreter behind this test venv (not the host's `python3`, which may lack venv/ensurepip): the
        # session wheelhouse is downloaded for exactly this Python.
        v["workbench_python"] = BASE_PYTHON
        # Ansible's modules too: interpreter discovery over SSH may find a shim (pyenv) that fails in a login shell.
        v["ansible_python_interpreter"] = BASE_PYTHON
        if home is not None:
            v["workbench_home"] = str(home)
        v.update(extra)
        return v


def keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "workbench-fleet-test", "-f", str(path)],
        check=True, capture_output=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def ini_value(value: object) -> str:
    text = str(value)
    # INI inventory values are read by shlex-like rules: quote anything with spaces or quotes.
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"' if any(c in text for c in " \"'=#") else text
