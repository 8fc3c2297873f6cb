"""An unknown or changed SSH host key, explained: the key's fingerprint and how to accept it.

The workbench never accepts a key by itself (issue 17: host keys are checked as the user's SSH and inventory say).
When SSH refuses a host for its key, we ask the host for its keys with ``ssh-keyscan`` (which only reads them) and
show their SHA-256 fingerprints (``ssh-keygen -l``) so the user can compare them with the board's own
(``ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`` on its console) before accepting.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess

from workbench.core.fleet.inventory import InventoryHost

#: What OpenSSH prints when it refuses a host for its key (ssh(1), StrictHostKeyChecking).
_KEY_FAILURES = ("Host key verification failed", "REMOTE HOST IDENTIFICATION HAS CHANGED")


def known_hosts_file(host: InventoryHost) -> str:
    """The known_hosts file SSH uses for ``host``: ``UserKnownHostsFile`` from ``ansible_ssh_common_args`` /
    ``ansible_ssh_extra_args`` when set there, else ``~/.ssh/known_hosts``."""
    for key in ("ansible_ssh_common_args", "ansible_ssh_extra_args", "ansible_ssh_args"):
        try:
            words = shlex.split(str(host.vars.get(key) or ""))
        except ValueError:
            continue
        for i, w in enumerate(words):
            opt = words[i + 1] if w == "-o" and i + 1 < len(words) else w.removeprefix("-o")
            name, sep, value = opt.partition("=")
            if sep and name.strip().lower() == "userknownhostsfile":
                return value.strip().split()[0] if value.strip() else "~/.ssh/known_hosts"
    return "~/.ssh/known_hosts"


def fingerprints(address: str, port: int, timeout_s: int = 5) -> list[str]:
    """The host's public keys as ``"SHA256:… (ED25519)"`` lines; [] when they cannot be read (no ssh-keyscan, host
    down). ``timeout_s``: ssh-keyscan's ``-T``."""
    scan, keygen = shutil.which("ssh-keyscan"), shutil.which("ssh-keygen")
    if not scan or not keygen:
        return []
    try:
        keys = subprocess.run(
            [scan, "-T", str(timeout_s), "-p", str(port), "--", address],
            capture_output=True, text=True, timeout=timeout_s + 10, stdin=subprocess.DEVNULL,
        ).stdout  # fmt: skip
        if not keys.strip():
            return []
        listed = subprocess.run([keygen, "-l", "-f", "-"], input=keys, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    out = []
    for line in listed.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3:  # "256 SHA256:abc [host]:port (ED25519)"
            out.append(f"{parts[1]} {parts[-1]}")
    return out


def explain_host_key_failure(host: InventoryHost, error: str) -> str:
    """``error`` unchanged unless SSH refused the host for its key; then ``error`` plus the key fingerprints and
    the commands that accept it (after the user compared the fingerprint)."""
    if not any(s in error for s in _KEY_FAILURES):
        return error
    address, port = host.address
    user = host.vars.get("ansible_user") or host.vars.get("ansible_ssh_user")
    target = f"{user}@{address}" if user else address
    known = known_hosts_file(host)
    prints = fingerprints(address, port)
    shown = "; ".join(prints) if prints else "(its keys could not be read with ssh-keyscan)"
    changed = "CHANGED" in error
    what = "has CHANGED since it was recorded" if changed else "is not known"
    how = (
        f"if the change is expected, remove the old key with: ssh-keygen -f {shlex.quote(known)} -R "
        f"{shlex.quote(f'[{address}]:{port}' if port != 22 else address)}, then accept the new one with: "
        if changed
        else "after checking it on the board (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), accept it with: "
    )
    accept = f"ssh -o UserKnownHostsFile={shlex.quote(known)} -p {port} {shlex.quote(target)} true"
    return (
        f"{error} — the SSH host key of {address}:{port} {what} (known hosts: {known}); "
        f"the host offers {shown}; {how}{accept} (answer yes if the fingerprint matches). "
        "The workbench never turns host-key checking off."
    )
