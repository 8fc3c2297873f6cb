"""jetson_clocks: pin clocks to their maximum (``on``), and put them back (``--restore``).

``on`` first saves the current clock settings with ``jetson_clocks --store FILE`` (unless a saved state already
exists, so a second ``on`` does not overwrite the original), then runs ``jetson_clocks``. ``off``/restore runs
``jetson_clocks --restore FILE``, then removes FILE. Every call uses ``sudo -n`` when not root (never a password
prompt: a clear PowerError naming the sudoers fix instead), stdin closed and a timeout
(see :func:`workbench.core.power.nvpmodel.run_tool`).

Where the saved state lives, and why: ``jetson_clocks --restore FILE`` runs as root and replays every
``path:value`` line of FILE as a write to ``path``. A FILE another user can write is therefore a root file-write
primitive, so the state is kept where only root writes — :data:`STORE_DIR` (``/var/lib/edge-workbench``, root-owned,
0755 so a user can see whether a state is saved) — never in the user's data folder, and a FILE (or folder) not owned
by root, or writable by others, is refused before it is restored. The folder is created by root: by this module when
it runs as root, else once by hand (``sudo install -d -m 0755 -o root -g root /var/lib/edge-workbench``).
jetson_clocks' own default (``${HOME}/l4t_dfs.conf``) is not used: under sudo ``HOME`` is the user's home on some
releases (Ubuntu 18.04 / JetPack 4), and jtop uses the same name.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from workbench.core.errors import PowerError
from workbench.core.hw.tools import find_tool, sudo_argv
from workbench.core.power.nvpmodel import check_sudo_prompt, run_tool

STORE_DIR = Path("/var/lib/edge-workbench")
STORE_NAME = "jetson_clocks.conf"
SETUP_COMMAND = f"sudo install -d -m 0755 -o root -g root {STORE_DIR}"

_MISSING = "jetson_clocks exists only on Jetson boards (package nvidia-l4t-tools)"


@dataclass(frozen=True)
class ClocksResult:
    commands: tuple[tuple[str, ...], ...]
    dry_run: bool
    output: str = ""


def default_store_path() -> Path:
    """``/var/lib/edge-workbench/jetson_clocks.conf``: the saved clock state (module docstring: why there)."""
    return STORE_DIR / STORE_NAME


def check_trusted(path: Path, *, owner_uid: int = 0, kind: str = "file") -> None:
    """Refuse ``path`` unless it is a real ``kind`` ("file" or "folder", not a symlink) owned by ``owner_uid`` (root)
    and writable by no one else: not by others, and by its group only when that group is root's (gid 0).

    Raises:
        PowerError: naming the path, what is wrong (owner uid, mode) and how to start again.
    """
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise PowerError(
            f"cannot check {path}: {exc.strerror or exc}",
            hint=f"check that {path} exists and is readable (`ls -ld {path}`); `workbench power clocks on` creates "
            "the saved state",
        ) from None
    is_kind = stat.S_ISDIR(st.st_mode) if kind == "folder" else stat.S_ISREG(st.st_mode)
    problem = None
    if not is_kind:
        problem = f"is not a regular {kind}" + (" (a symlink)" if stat.S_ISLNK(st.st_mode) else "")
    elif st.st_uid != owner_uid:
        problem = f"is owned by uid {st.st_uid}, not root"
    elif st.st_mode & stat.S_IWOTH or (st.st_mode & stat.S_IWGRP and st.st_gid != 0):
        problem = f"is writable by others (mode {stat.S_IMODE(st.st_mode):04o})"
    if problem:
        raise PowerError(
            f"{path} {problem}: refusing to let jetson_clocks replay it as root (each of its lines is a file write)",
            hint=f"remove it as root and pin the clocks again (`workbench power clocks on`); the saved state belongs "
            f"in {STORE_DIR} (root-owned, mode 0755: {SETUP_COMMAND}); a reboot also resets the clocks",
        )


class JetsonClocks:
    """Runs ``jetson_clocks`` (the fixed L4T path first: core/hw/tools.py). ``exe``/``sudo``/``store`` are
    injectable; ``owner_uid`` is the one uid trusted to own the saved state and its folder (root; tests that run as a
    normal user pass their own)."""

    def __init__(
        self,
        *,
        exe: str | None = None,
        sudo: bool | None = None,
        timeout_s: float = 30.0,
        store: Path | None = None,
        owner_uid: int = 0,
    ) -> None:
        self.exe = exe or find_tool("jetson_clocks") or "jetson_clocks"
        self.sudo = (os.geteuid() != 0) if sudo is None else sudo
        self.timeout_s = timeout_s
        self.store = Path(store) if store is not None else default_store_path()
        self.owner_uid = owner_uid

    def command(self, *args: str) -> tuple[str, ...]:
        base = (self.exe, *args)
        return (*sudo_argv(), *base) if self.sudo else base

    def _exec(self, cmds: list[tuple[str, ...]], dry_run: bool) -> ClocksResult:
        if dry_run:
            return ClocksResult(tuple(cmds), True)
        out = []
        for cmd in cmds:
            proc = run_tool(cmd, self.timeout_s, hint_missing=_MISSING)
            check_sudo_prompt(proc, cmd, self.sudo)
            if proc.returncode != 0:
                raise PowerError(
                    f"`{' '.join(cmd)}` failed (exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()[:300]}",
                    hint="run the command by hand with sudo to see why it fails (`sudo -n jetson_clocks --show` "
                    "shows the current clocks)",
                )
            out.append(proc.stdout.strip())
        return ClocksResult(tuple(cmds), False, "\n".join(o for o in out if o))

    def _store_folder(self) -> None:
        """Make sure the saved state's folder exists and only root writes it: created (0755) when this process may
        (no sudo needed: root, or a test's own folder), else the one-time command is named.

        Raises:
            PowerError: the folder is missing and this user cannot create it, or it is not trusted (check_trusted).
        """
        folder = self.store.parent
        if not folder.exists():
            if self.sudo:
                raise PowerError(
                    f"{folder} does not exist: the saved clock state is kept where only root writes",
                    hint=f"create it once: {SETUP_COMMAND}",
                )
            folder.mkdir(mode=0o755, parents=True)
            os.chmod(folder, 0o755)  # mkdir's mode is masked by the umask; others must be able to see the state
        check_trusted(folder, owner_uid=self.owner_uid, kind="folder")

    def on(self, *, dry_run: bool = False) -> ClocksResult:
        """Save the clock state (unless one is saved already), then pin the clocks.

        Raises:
            PowerError: the store folder is missing or untrusted; sudo would prompt; jetson_clocks fails or hangs.
        """
        cmds = []
        if not self.store.exists():
            if not dry_run:
                self._store_folder()
            cmds.append(self.command("--store", str(self.store)))
        cmds.append(self.command())
        return self._exec(cmds, dry_run)

    def restore(self, *, dry_run: bool = False) -> ClocksResult:
        """Replay the saved state (after :func:`check_trusted` on it and its folder), then remove it.

        Raises:
            PowerError: no saved state; the file or its folder is not root's or is writable by others; sudo would
                prompt; jetson_clocks fails; the state could not be removed afterwards.
        """
        if not self.store.exists() and not self.store.is_symlink():
            raise PowerError(
                f"no saved clock state at {self.store}",
                hint="`workbench power clocks on` saves it first; without it, reboot or change nvpmodel mode to reset clocks",
            )
        check_trusted(self.store.parent, owner_uid=self.owner_uid, kind="folder")
        check_trusted(self.store, owner_uid=self.owner_uid, kind="file")
        res = self._exec([self.command("--restore", str(self.store))], dry_run)
        if not dry_run:
            self._remove_store()
        return res

    def _remove_store(self) -> None:
        """Remove the replayed state, so the next ``on`` saves the clocks as they are then. Root's folder: a normal
        user removes it through ``sudo -n rm -f FILE`` (the sudoers rule names that exact command)."""
        if not self.sudo:
            try:
                self.store.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise PowerError(
                    f"clocks restored, but {self.store} could not be removed: {exc.strerror}",
                    hint=f"remove {self.store} by hand; the clocks are already restored",
                ) from None
            return
        cmd = (*sudo_argv(), find_tool("rm") or "rm", "-f", str(self.store))
        proc = run_tool(cmd, self.timeout_s, hint_missing="rm is part of coreutils")
        try:
            check_sudo_prompt(proc, cmd, True)
        except PowerError as exc:
            raise PowerError(f"clocks restored, but the saved state was not removed: {exc}", hint=exc.hint) from None
        if proc.returncode != 0:
            raise PowerError(
                f"clocks restored, but `{' '.join(cmd)}` failed (exit {proc.returncode}): "
                f"{(proc.stderr or proc.stdout).strip()[:300]}",
                hint=f"remove {self.store} as root by hand (`sudo rm {self.store}`); the clocks are already restored",
            )

    def show(self) -> dict[str, str]:
        """``jetson_clocks --show`` as {"GPU": "MinFreq=... MaxFreq=... CurrentFreq=...", "NV Power Mode": ...}."""
        cmd = self.command("--show")
        proc = run_tool(cmd, self.timeout_s, hint_missing=_MISSING)
        check_sudo_prompt(proc, cmd, self.sudo)
        out: dict[str, str] = {}
        for line in proc.stdout.splitlines():
            line = line.strip()
            head, sep, rest = line.partition(":")
            if not sep or "=" in head:  # "GPU MinFreq=... MaxFreq=..." has no "key:" prefix
                head, _, rest = line.partition(" ")
            if head and rest.strip():
                out[head.strip()] = rest.strip()
        return out
