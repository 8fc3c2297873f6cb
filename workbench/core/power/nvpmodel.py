"""nvpmodel: parse the board's ``/etc/nvpmodel.conf``, parse ``nvpmodel -q [--verbose]``, set a mode.

Conf format (NVIDIA's comment block at the top of every nvpmodel.conf): ``< POWER_MODEL ID=n NAME=x >`` opens a
mode whose body is ``PARAM ARG VALUE`` lines; ``< PM_CONFIG DEFAULT=n >`` names the default. ``<PARAM`` with no
space, trailing blanks, and wrapped lines (terminal-wrap artifacts) occur in real files (tests/fixtures/nvpmodel).
Ids differ per board (MAXN_SUPER is 0 on the Orin NX Super conf but 2 elsewhere): profiles name modes by *name*
and names are resolved against the board's conf at set/sweep time.

Query output: the mode line is ``NV Power Mode: NAME`` anywhere on a line (``-q --verbose`` prefixes it with
``NVPM VERB: Current mode:``); the id is the first all-digit line after it. ``NVPM ERROR`` lines mean a partial
answer (usually "run as root"); no mode line at all means "no mode set yet" (a state, not an error).

Setting runs ``sudo -n nvpmodel -m ID`` (``-n``: never prompt for a password) with stdin closed — nvpmodel asks
"reboot now?" for modes that need a reboot and would otherwise wait forever — and a timeout.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.errors import PowerError
from workbench.core.hw.tools import find_tool, sudo_argv

DEFAULT_CONF = Path("etc/nvpmodel.conf")  # relative to the filesystem root (injectable for tests)

_MODEL = re.compile(r"^<\s*POWER_MODEL\s+ID\s*=\s*(\S+?)\s+NAME\s*=\s*(.+?)\s*>\s*$", re.IGNORECASE)
_PMCONF = re.compile(r"^<\s*PM_CONFIG\s+DEFAULT\s*=\s*(\S+?)\s*>\s*$", re.IGNORECASE)
_SECTION = re.compile(r"^<\s*(\w+)")
_WATTS = re.compile(r"(?<![A-Za-z0-9])(\d+(?:\.\d+)?)W(?![A-Za-z0-9])", re.IGNORECASE)
_MODE_LINE = re.compile(r"NV Power Mode:\s*(\S+)")
_TYPE_SUFFIX = re.compile(r"-\s*Type:\s*(\d+)\s*$")
_FAN_LINE = re.compile(r"NV Fan Mode:\s*(\S+)")
_PARAM_LINE = re.compile(r"PARAM\s+(\S+?):\s+ARG\s+(\S+?):\s+PATH\s+(\S+?):\s+REAL_VAL:\s+(\S+)\s+CONF_VAL:\s+(\S+)")
# nvpmodel prints the "unlimited" -1 of the conf as the int max of its build (JP4: INT32, JP6: INT64).
UNLIMITED_SENTINELS = frozenset({"-1", "2147483647", "9223372036854775807"})


@dataclass(frozen=True)
class PowerMode:
    """One ``POWER_MODEL`` block. ``watts`` is the budget in the name (``MODE_30W_4CORE`` → 30.0), None for
    MAXN-style names; ``cores_online`` counts ``CPU_ONLINE CORE_n 1`` lines (None when the mode lists none)."""

    id: int
    name: str
    default: bool
    line: int
    watts: float | None = None
    cores_online: int | None = None
    settings: tuple[tuple[str, str, str], ...] = ()  # (PARAM, ARG, VALUE) in file order

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "default": self.default}


@dataclass(frozen=True)
class NvpmodelConf:
    path: Path
    modes: tuple[PowerMode, ...]
    default_id: int | None
    problems: tuple[str, ...] = ()

    def by_id(self, mode_id: int) -> PowerMode | None:
        return next((m for m in self.modes if m.id == mode_id), None)

    def names(self) -> list[str]:
        return [m.name for m in self.modes]


def parse_conf(text: str, path: Path | str = "<conf>") -> NvpmodelConf:
    """Parse nvpmodel.conf text. Raises PowerError (naming the file) when it holds no POWER_MODEL block.

    Bad lines inside a mode are recorded in ``problems`` as ``FILE:LINE: message`` rather than fatal, since a
    board's own conf (even with wrap artifacts) is what nvpmodel itself accepts.
    """
    path = Path(path)
    raw_modes: list[dict[str, Any]] = []
    default_id: int | None = None
    problems: list[str] = []
    current: dict[str, Any] | None = None
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _MODEL.match(line)
        if m:
            if not m.group(1).isdigit():
                problems.append(f"{path}:{no}: POWER_MODEL ID {m.group(1)!r} is not a number")
                current = None
                continue
            current = {"id": int(m.group(1)), "name": m.group(2), "line": no, "settings": []}
            raw_modes.append(current)
            continue
        m = _PMCONF.match(line)
        if m:
            if m.group(1).isdigit():
                default_id = int(m.group(1))
            else:
                problems.append(f"{path}:{no}: PM_CONFIG DEFAULT {m.group(1)!r} is not a number")
            current = None
            continue
        sec = _SECTION.match(line)
        if sec:  # < PARAM ... >, < FAN_CONFIG ... > etc.: not a mode body
            if sec.group(1).upper() == "POWER_MODEL":
                problems.append(f"{path}:{no}: unreadable POWER_MODEL header {line[:60]!r} (mode skipped)")
            current = None
            continue
        if current is not None:
            parts = line.split()
            if len(parts) == 3:
                current["settings"].append((parts[0], parts[1], parts[2]))
            else:
                problems.append(f"{path}:{no}: unexpected line in mode {current['name']}: {line[:60]!r}")
    if not raw_modes:
        raise PowerError(
            f"{path}: no '< POWER_MODEL ID=n NAME=x >' block found",
            hint="is this an nvpmodel.conf? The board's own file is /etc/nvpmodel.conf",
        )
    seen: dict[int, str] = {}
    modes = []
    for rm in raw_modes:
        if rm["id"] in seen:
            problems.append(f"{path}:{rm['line']}: mode id {rm['id']} already used by {seen[rm['id']]}")
            continue
        seen[rm["id"]] = rm["name"]
        w = _WATTS.search(rm["name"])
        online = [s for s in rm["settings"] if s[0] == "CPU_ONLINE"]
        modes.append(
            PowerMode(
                id=rm["id"],
                name=rm["name"],
                default=rm["id"] == default_id,
                line=rm["line"],
                watts=float(w.group(1)) if w else None,
                cores_online=sum(1 for s in online if s[2] == "1") if online else None,
                settings=tuple(rm["settings"]),
            )
        )
    if default_id is not None and default_id not in seen:
        problems.append(f"{path}: PM_CONFIG DEFAULT={default_id} names no mode")
    return NvpmodelConf(path=path, modes=tuple(modes), default_id=default_id, problems=tuple(problems))


def load_conf(path: Path | str | None = None, *, root: Path = Path("/")) -> NvpmodelConf:
    """Read and parse a conf (default: the board's ``/etc/nvpmodel.conf`` under ``root``). Raises PowerError."""
    p = Path(path) if path is not None else Path(root) / DEFAULT_CONF
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise PowerError(
            f"{p} does not exist", hint="nvpmodel power modes exist only on Jetson boards; pass --conf FILE"
        ) from None
    except OSError as exc:
        raise PowerError(
            f"cannot read {p}: {exc.strerror or exc}",
            hint=f"check that {p} is readable by this user (`ls -l {p}`), or pass another file with --conf FILE",
        ) from None
    return parse_conf(text, p)


def _freq_score(mode: PowerMode) -> float:
    # Sum of MAX_FREQ caps; -1/unlimited counts as infinite (MAXN-like). Used only when names carry no watts.
    total = 0.0
    for param, arg, val in mode.settings:
        if arg == "MAX_FREQ":
            if val in UNLIMITED_SENTINELS or val == "0" and param == "EMC":
                return float("inf")
            try:
                total += float(val)
            except ValueError:
                continue
    return total


def highest_power_mode(conf: NvpmodelConf) -> tuple[PowerMode, str]:
    """``max`` resolution: MAXN_SUPER, then MAXN, then the largest watt budget in the names, then (names without
    watts) the mode with most cores online and highest clock caps. Never "id 0" by assumption.
    Returns (mode, reason)."""
    by_name = {m.name.upper(): m for m in conf.modes}
    for name in ("MAXN_SUPER", "MAXN"):
        if name in by_name:
            return by_name[name], f"{name} is the board's unconstrained mode"
    watted = [m for m in conf.modes if m.watts is not None]
    if watted:
        best = max(watted, key=lambda m: (m.watts, m.cores_online or 0, _freq_score(m)))
        return best, f"highest power budget in the conf ({best.watts:g} W)"
    best = max(conf.modes, key=lambda m: (m.cores_online or 0, _freq_score(m)))
    return best, "most cores online and highest clock caps"


def resolve_mode(conf: NvpmodelConf, spec: str) -> PowerMode:
    """Mode for a user/profile spec: ``max``, a numeric id, or a name (exact, then case-insensitive).

    Raises:
        PowerError: unknown name/id — the message lists the board's modes.
    """
    spec = spec.strip()
    if spec.lower() == "max":
        return highest_power_mode(conf)[0]
    if spec.isdigit():
        m = conf.by_id(int(spec))
        if m is not None:
            return m
    exact = [m for m in conf.modes if m.name == spec]
    if exact:
        return exact[0]
    loose = [m for m in conf.modes if m.name.lower() == spec.lower()]
    if len(loose) == 1:
        return loose[0]
    listing = ", ".join(f"{m.id}={m.name}" for m in conf.modes)
    raise PowerError(f"power mode {spec!r} is not in {conf.path}", hint=f"this board's modes: {listing} (or 'max')")


# -- query -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParamReading:
    param: str
    arg: str
    path: str
    real: str
    conf: str

    @property
    def conf_unlimited(self) -> bool:
        return self.conf in UNLIMITED_SENTINELS


@dataclass(frozen=True)
class QueryResult:
    """Parsed ``nvpmodel -q``. ``state`` is "set" or "unset" (no mode reported yet); ``partial`` when
    nvpmodel printed ``NVPM ERROR`` lines (typically not run as root)."""

    id: int | None
    name: str | None
    partial: bool
    state: str
    fan_mode: str | None = None
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    params: tuple[ParamReading, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "partial": self.partial}


def parse_query(text: str) -> QueryResult:
    """Parse ``nvpmodel -q [--verbose]`` output (see module doc). Never raises on content."""
    name: str | None = None
    mode_id: int | None = None
    fan: str | None = None
    errors: list[str] = []
    warnings: list[str] = []
    params: list[ParamReading] = []
    after_name = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "NVPM ERROR" in line:
            errors.append(line)
            continue
        if "NVPM WARN" in line:
            warnings.append(line)
        m = _MODE_LINE.search(line)
        if m and name is None:
            name = m.group(1)
            after_name = True
            t = _TYPE_SUFFIX.search(line)  # jetson_release prints "NV Power Mode: MAXN - Type: 0"
            if t:
                mode_id = int(t.group(1))
            continue
        if after_name and mode_id is None and line.isdigit():
            mode_id = int(line)
            continue
        m = _FAN_LINE.search(line)
        if m:
            fan = m.group(1)
            continue
        m = _PARAM_LINE.search(line)
        if m:
            params.append(ParamReading(*m.groups()))
    return QueryResult(
        id=mode_id,
        name=name,
        partial=bool(errors),
        state="set" if name is not None else "unset",
        fan_mode=fan,
        errors=tuple(errors),
        warnings=tuple(warnings),
        params=tuple(params),
    )


# -- running nvpmodel ------------------------------------------------------------------------------------
_SUDO_PROMPT = re.compile(r"a password is required|a terminal is required|no tty present|askpass", re.IGNORECASE)
# sudo's refusals when the sudoers rules do not cover the exact command ("Sorry, user U is not allowed to execute
# 'CMD' as root on HOST.") or the user at all ("U is not in the sudoers file.").
_SUDO_DENIED = re.compile(r"is not allowed to execute|is not in the sudoers file", re.IGNORECASE)
_REBOOT = re.compile(r"reboot", re.IGNORECASE)


@dataclass(frozen=True)
class SetResult:
    mode: PowerMode
    command: tuple[str, ...]
    dry_run: bool
    reboot_required: bool = False
    output: str = ""


_NVPM_MISSING = "nvpmodel exists only on Jetson boards (package nvidia-l4t-tools)"


def run_tool(cmd: Sequence[str], timeout_s: float, *, hint_missing: str) -> subprocess.CompletedProcess[str]:
    """Run a power helper with stdin closed and a timeout. Raises PowerError (missing tool, hang, OS error)."""
    try:
        return subprocess.run(
            list(cmd), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except FileNotFoundError:
        raise PowerError(f"{cmd[0]} not found", hint=hint_missing) from None
    except subprocess.TimeoutExpired:
        raise PowerError(
            f"`{' '.join(cmd)}` did not finish within {timeout_s:g} s and was stopped",
            hint="it may be waiting for a confirmation (reboot prompt); run it by hand to see why",
        ) from None
    except OSError as exc:
        raise PowerError(
            f"cannot run {cmd[0]}: {exc.strerror or exc}",
            hint=f"check that {cmd[0]} is executable by this user; `sudo -n nvpmodel -q` shows whether sudo lets it "
            "run",
        ) from None


def check_sudo_prompt(proc: subprocess.CompletedProcess[str], cmd: Sequence[str], used_sudo: bool) -> None:
    """Raise PowerError with the fix when ``sudo -n`` refused: it would have prompted for a password, or the sudoers
    rules do not allow this exact command (arguments included)."""
    if not used_sudo or proc.returncode == 0:
        return
    plain = " ".join(cmd[2:])
    if _SUDO_PROMPT.search(proc.stderr or ""):
        raise PowerError(
            f"sudo would prompt for a password to run `{plain}`",
            hint=f"run `sudo {plain}` yourself, or allow it without a password in sudoers (visudo)",
        )
    if _SUDO_DENIED.search(proc.stderr or ""):
        raise PowerError(
            f"sudo does not allow this user to run `{plain}`",
            hint="allow that exact command (arguments included) in sudoers with visudo; README, Security, has the rule",
        )


class Nvpmodel:
    """Runs the ``nvpmodel`` tool (``/usr/sbin/nvpmodel`` first, then PATH: core/hw/tools.py). ``exe``/``sudo`` are
    injectable; ``sudo=None`` uses ``sudo -n`` only when not
    root. Every call has ``timeout_s`` and stdin closed."""

    def __init__(self, *, exe: str | None = None, sudo: bool | None = None, timeout_s: float = 15.0) -> None:
        self.exe = exe or find_tool("nvpmodel") or "nvpmodel"
        self.sudo = (os.geteuid() != 0) if sudo is None else sudo
        self.timeout_s = timeout_s

    def _run(self, args: Sequence[str], *, privileged: bool) -> subprocess.CompletedProcess[str]:
        return run_tool(self.command(args, privileged=privileged), self.timeout_s, hint_missing=_NVPM_MISSING)

    def command(self, args: Sequence[str], *, privileged: bool) -> list[str]:
        base = [self.exe, *args]
        return [*sudo_argv(), *base] if (privileged and self.sudo) else base

    def query(self, *, verbose: bool = False) -> QueryResult:
        """``nvpmodel -q`` (unprivileged: non-root gets NVPM ERROR lines → ``partial``). Raises PowerError when
        the tool is missing, hangs, or fails with no mode information at all."""
        proc = self._run(["-q", *(["--verbose"] if verbose else [])], privileged=False)
        res = parse_query(proc.stdout + "\n" + proc.stderr)
        if proc.returncode != 0 and res.name is None:
            raise PowerError(
                f"nvpmodel -q failed (exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()[:200]}",
                hint="run as root (sudo nvpmodel -q) if the error is a permission problem",
            )
        return res

    def set_mode(self, mode: PowerMode, *, dry_run: bool = False) -> SetResult:
        """Switch to ``mode`` (by id). Raises PowerError when sudo would prompt, nvpmodel fails or hangs.
        A mode that needs a reboot is reported (``reboot_required``), never confirmed."""
        cmd = tuple(self.command(["-m", str(mode.id)], privileged=True))
        if dry_run:
            return SetResult(mode, cmd, True)
        proc = self._run(["-m", str(mode.id)], privileged=True)
        out = (proc.stdout + proc.stderr).strip()
        check_sudo_prompt(proc, cmd, self.sudo)
        reboot = bool(_REBOOT.search(out))
        if proc.returncode != 0 and not reboot:
            raise PowerError(
                f"`{' '.join(cmd)}` failed (exit {proc.returncode}): {out[:300]}",
                hint="run `sudo -n nvpmodel -q` to see the current power mode, and `workbench power list` for the "
                "modes this board has",
            )
        return SetResult(mode, cmd, False, reboot_required=reboot, output=out)
