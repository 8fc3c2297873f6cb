"""jetson_clocks: pin clocks to their maximum (``on``), and put them back (``--restore``).

``on`` first saves the current clock settings with ``jetson_clocks --store FILE`` (unless a saved state already
exists, so a second ``on`` does not overwrite the original), then runs ``jetson_clocks``. ``off``/restore runs
``jetson_clocks --restore FILE``. Every call uses ``sudo -n`` when not root, stdin closed and a timeout
(see :func:`workbench.core.power.nvpmodel.run_tool`).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from workbench.core.errors import PowerError
from workbench.core.power.nvpmodel import check_sudo_prompt, run_tool

_MISSING = "jetson_clocks exists only on Jetson boards (package nvidia-l4t-tools)"


@dataclass(frozen=True)
class ClocksResult:
    commands: tuple[tuple[str, ...], ...]
    dry_run: bool
    output: str = ""


def default_store_path() -> Path:
    from workbench.core import paths

    return paths.data_dir() / "jetson_clocks.conf"


class JetsonClocks:
    def __init__(
        self, *, exe: str | None = None, sudo: bool | None = None, timeout_s: float = 30.0, store: Path | None = None
    ) -> None:
        self.exe = exe or shutil.which("jetson_clocks") or "jetson_clocks"
        self.sudo = (os.geteuid() != 0) if sudo is None else sudo
        self.timeout_s = timeout_s
        self.store = Path(store) if store is not None else default_store_path()

    def command(self, *args: str) -> tuple[str, ...]:
        base = (self.exe, *args)
        return ("sudo", "-n", *base) if self.sudo else base

    def _exec(self, cmds: list[tuple[str, ...]], dry_run: bool) -> ClocksResult:
        if dry_run:
            return ClocksResult(tuple(cmds), True)
        out = []
        for cmd in cmds:
            proc = run_tool(cmd, self.timeout_s, hint_missing=_MISSING)
            check_sudo_prompt(proc, cmd, self.sudo)
            if proc.returncode != 0:
                raise PowerError(
                    f"`{' '.join(cmd)}` failed (exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()[:300]}"
                )
            out.append(proc.stdout.strip())
        return ClocksResult(tuple(cmds), False, "\n".join(o for o in out if o))

    def on(self, *, dry_run: bool = False) -> ClocksResult:
        cmds = []
        if not self.store.exists():
            if not dry_run:
                self.store.parent.mkdir(parents=True, exist_ok=True)
            cmds.append(self.command("--store", str(self.store)))
        cmds.append(self.command())
        return self._exec(cmds, dry_run)

    def restore(self, *, dry_run: bool = False) -> ClocksResult:
        if not self.store.exists():
            raise PowerError(
                f"no saved clock state at {self.store}",
                hint="`workbench power clocks on` saves it first; without it, reboot or change nvpmodel mode to reset clocks",
            )
        res = self._exec([self.command("--restore", str(self.store))], dry_run)
        if not dry_run:
            try:
                self.store.unlink()
            except OSError:
                pass
        return res

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
