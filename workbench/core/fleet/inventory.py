"""An Ansible inventory (INI or YAML, any source ``ansible-inventory`` reads) as typed hosts.

Ansible's own parser reads it (``ansible-inventory -i PATH --list``, from the ``fleet`` extra), so every inventory
feature users already rely on (groups, ``group_vars``, ranges, YAML) means what it means to Ansible. We add one
variable, ``workbench_home``: the folder on the host under which the workbench keeps everything for that inventory
entry (``src/`` with its ``.venv``, ``wheelhouse/``, and ``WORKBENCH_HOME``'s ``data/`` (jobs, results), ``cache/``,
``config/``). Its default is :data:`DEFAULT_HOME_PREFIX` + the inventory name, so two entries that point at one
machine never share state.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.errors import ConfigError, UsageError

#: The default ``workbench_home`` on a host, followed by the (sanitised) inventory name. Under XDG's data folder
#: (``~/.local/share``, https://specifications.freedesktop.org/basedir-spec/latest/) of the SSH user, so no
#: privilege is needed; ``~`` is expanded on the host.
DEFAULT_HOME_PREFIX = "~/.local/share/edge-workbench-fleet/"

#: How to install what `workbench fleet` needs (README's extras line).
INSTALL_HINT = "install the fleet extra: pip install -c constraints.txt -e '.[fleet]' (ansible-core, ansible-runner)"

#: What a ``workbench_home`` may hold besides letters and digits. pip writes the venv's console scripts
#: (``bin/pip``, ``bin/workbench``) with a ``/bin/sh`` launcher when the interpreter's path does not fit a ``#!``
#: line (over 127 bytes, or with a space): ``''''exec' <path>/python "$0" "$@"``, the path in double quotes only
#: when it has a space (pip's vendored distlib, ``ScriptMaker._build_shebang`` / ``enquote_executable``). So on a
#: board, ``$``, a backtick, a quote or ``\`` in the path is expanded by its shell, and unquoted ``;``, ``&``, ``|``,
#: ``(``… run commands. Such homes are refused here, at the inventory, instead of reaching a board's shell.
HOME_CHARS = frozenset(" ._-+,:=@%/")


# ansible-inventory prints a parse failure as a warning and carries on with an empty inventory unless told.
_STRICT_ENV = {"ANSIBLE_INVENTORY_UNPARSED_FAILED": "True", "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "True"}


@dataclass(frozen=True)
class InventoryHost:
    """One inventory entry. ``name``: the inventory name (``inventory_hostname``); ``vars``: its variables as
    ``ansible-inventory --list`` gives them (group variables merged), with ``workbench_home`` always set (the
    default filled in, ``~`` not yet expanded: it is expanded on the host); ``groups``: the groups it is in."""

    name: str
    vars: Mapping[str, Any] = field(default_factory=dict)
    groups: tuple[str, ...] = ()

    @property
    def workbench_home(self) -> str:
        return str(self.vars["workbench_home"])

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) SSH connects to: ``ansible_host`` (else the name) and ``ansible_port`` (else 22)."""
        host = str(self.vars.get("ansible_host") or self.vars.get("ansible_ssh_host") or self.name)
        port = self.vars.get("ansible_port") or self.vars.get("ansible_ssh_port") or 22
        try:
            return host, int(port)
        except (TypeError, ValueError):
            return host, 22


@dataclass(frozen=True)
class Inventory:
    """A read inventory: ``path`` (what ``-i`` named), ``hosts`` in group order (each once; only those ``limit``
    matched when it was read with one), ``groups`` by name, ``limit`` the Ansible pattern it was read with (None: all).
    """

    path: Path
    hosts: tuple[InventoryHost, ...]
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    limit: str | None = None

    @property
    def name(self) -> str:
        return self.path.stem

    def homes(self) -> dict[str, str]:
        """{inventory name: workbench_home} (``~`` unexpanded, defaults filled in): the ``workbench_homes`` extra
        variable every fleet playbook reads (``workbench_homes[inventory_hostname]``)."""
        return {h.name: h.workbench_home for h in self.hosts}

    def host(self, name: str) -> InventoryHost:
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(name)


def default_home(name: str) -> str:
    """The default ``workbench_home`` of inventory entry ``name``: one folder per entry. Characters other than
    letters, digits, ``.``, ``_`` and ``-`` become ``_`` (a YAML inventory name may hold a ``/``), and a name that
    needed that gets the first 8 hex digits of its SHA-256 appended, so two names that clean to the same text
    (``a$b``, ``a/b``, ``a_b``) never share a folder."""
    import hashlib

    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    if safe in ("", ".", ".."):
        safe = safe.replace(".", "_") or "_"
    if safe != name:
        safe += "-" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return DEFAULT_HOME_PREFIX + safe


def ansible_tool(name: str) -> str:
    """The path of an Ansible command (``ansible-inventory``, ``ansible-playbook``): next to this Python first (the
    venv the extra was installed into, even when its ``bin`` is not on PATH), then PATH.

    Raises:
        UsageError: Ansible is not installed (with how to install the extra)."""
    here = Path(sysconfig.get_path("scripts")) / name
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which(name)
    if found:
        return found
    raise UsageError(f"`workbench fleet` needs Ansible: {name} was not found", hint=INSTALL_HINT)


def load_inventory(path: str | os.PathLike[str], limit: str | None = None) -> Inventory:
    """Read the inventory at ``path`` with Ansible's parser; with ``limit`` (an Ansible host pattern, as
    ``--limit``: names, groups, ``nx*``, ``boards:!nano``, ``@file``), only the hosts it matches.

    Raises:
        UsageError: Ansible is not installed, or ``limit`` matches no host.
        ConfigError: the file is missing, binary, cannot be parsed, has no host, a host name holds a control
            character, or a ``workbench_home`` is not an absolute path or ``~/…`` or holds a character a shell
            would expand (:data:`HOME_CHARS`; the message names the file and the host)."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{p}: no such inventory", hint="pass -i with an Ansible inventory file (INI or YAML)")
    _refuse_special(p)
    _refuse_binary(p)
    full = _list(p, None)
    selected = None
    if limit is not None:
        selected = set(_order(_list(p, limit))[0])
        if not selected:
            raise UsageError(
                f"--limit {limit}: no host of {p} matches it",
                hint="a host name, a group, a glob (nx*) or a:!b; list them with: ansible-inventory -i FILE --graph",
            )
    try:
        return _from_list(p, full, limit, selected)
    except _NoHost:
        raise ConfigError(f"{p}: the inventory has no host", hint="add at least one host line") from None


def _list(p: Path, limit: str | None) -> dict[str, Any]:
    """``ansible-inventory -i P --list [--limit=PATTERN]`` as its JSON document. Raises ConfigError."""
    env = {**os.environ, **_STRICT_ENV}
    # The source is one argv element: names with spaces or a leading '-' are passed as they are; the limit is one
    # "--limit=PATTERN" element, so a pattern starting with '-' is never read as an option.
    argv = [ansible_tool("ansible-inventory"), "-i", str(p.absolute()), "--list"]
    if limit is not None:
        argv.append(f"--limit={limit}")
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(
            f"{p}: ansible-inventory could not read it: {exc}", hint="check it with: ansible-inventory -i FILE --list"
        ) from None
    if proc.returncode != 0:
        text = " ".join(proc.stderr.split())
        problems = [s.strip() for s in re.split(r"\[WARNING\]:|ERROR!", text) if s.strip()]
        raise ConfigError(
            f"{p}: not a readable Ansible inventory",
            problems=problems[-6:],
            hint="check the file with: ansible-inventory -i FILE --list",
        )
    try:
        doc = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{p}: ansible-inventory printed no JSON ({exc})", hint="check it with: ansible-inventory -i FILE --list"
        ) from None
    return doc if isinstance(doc, dict) else {}


class _NoHost(Exception):
    pass


def _refuse_special(p: Path) -> None:
    """A device, FIFO or socket (``-i /dev/zero``) would make ansible-inventory read forever: only a regular file or
    a folder (Ansible's inventory folders) is handed to it."""
    try:
        st = p.stat()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the inventory: {exc.strerror or exc}", hint="check the path") from None
    import stat as _stat

    if not (_stat.S_ISREG(st.st_mode) or _stat.S_ISDIR(st.st_mode)):
        raise ConfigError(
            f"{p}: not an inventory file (a device, FIFO or socket)",
            hint="pass -i with an inventory text file (INI or YAML) or a folder of them",
        )


#: How much of a file :func:`_refuse_binary` reads (bytes): an inventory is a small text file.
_SNIFF_BYTES = 1 << 20


def _refuse_binary(p: Path) -> None:
    """A file that is not UTF-8 text (a NUL byte, or bytes UTF-8 cannot decode in its first MiB) is not an inventory.
    Ansible's INI parser would otherwise read a line of it as a host name. Executable files (dynamic inventory
    scripts) and folders are left to Ansible."""
    if not p.is_file() or os.access(p, os.X_OK):
        return
    try:
        with open(p, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError as exc:
        raise ConfigError(
            f"{p}: cannot read the inventory: {exc.strerror or exc}",
            hint=f"check that {p} is readable by this user, or pass another with --inventory",
        ) from None
    if len(head) == _SNIFF_BYTES:  # cut in the middle of a character is fine
        head = head[:-4]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = None
        where = exc.start
    else:
        where = head.find(b"\0")
    if text is None or where >= 0:
        raise ConfigError(
            f"{p}: not an Ansible inventory (binary data at byte {where})",
            hint="pass -i with an inventory text file (INI or YAML)",
        )


def _order(doc: Mapping[str, Any]) -> tuple[list[str], dict[str, list[str]]]:
    """The hosts of an ``ansible-inventory --list`` document in group order (each once) and the groups of each."""
    hostvars = (doc.get("_meta") or {}).get("hostvars") or {}
    order: list[str] = []
    member: dict[str, list[str]] = {}

    def walk(group: str, seen: frozenset[str]) -> None:
        node = doc.get(group) or {}
        for h in node.get("hosts") or ():
            if h not in member:
                order.append(h)
                member[h] = []
            if group not in ("all", "ungrouped") and group not in member[h]:
                member[h].append(group)
        for child in node.get("children") or ():
            if child not in seen:
                walk(child, seen | {child})
                for h in _hosts_below(doc, child):
                    if group not in ("all", "ungrouped") and group not in member.setdefault(h, []):
                        member[h].append(group)

    walk("all", frozenset({"all"}))
    for h in hostvars:  # hosts only in hostvars (never in a group listing): keep them too
        if h not in member:
            order.append(h)
            member[h] = []
    return order, member


def _from_list(
    path: Path, doc: Mapping[str, Any], limit: str | None = None, selected: set[str] | None = None
) -> Inventory:
    """The typed inventory of ``doc`` (the whole inventory), keeping the ``selected`` hosts (None: all). Entries are
    checked only where selected, except that no selected entry may share its ``workbench_home`` with any other."""
    hostvars = (doc.get("_meta") or {}).get("hostvars") or {}
    order, member = _order(doc)
    if not order:
        raise _NoHost
    hosts = []
    problems = []
    every_home: dict[str, list[str]] = {}
    for name in order:
        v = dict(hostvars.get(name) or {})
        home = v.get("workbench_home")
        home_text = home if isinstance(home, str) and home else default_home(name)
        every_home.setdefault(home_text.rstrip("/") or "/", []).append(name)
    for name in order:
        if selected is not None and name not in selected:
            continue
        if any(not c.isprintable() for c in name):
            problems.append(f"host {name!r}: the name holds a control character")
            continue
        v = dict(hostvars.get(name) or {})
        home = v.get("workbench_home")
        if home is None or home == "":
            v["workbench_home"] = default_home(name)
        elif not isinstance(home, str) or not (home.startswith("/") or home == "~" or home.startswith("~/")):
            problems.append(f"host {name}: workbench_home = {home!r} must be an absolute path or start with ~/")
        else:
            bad = sorted({c for c in home[1:] if not (c.isalnum() or c in HOME_CHARS)})
            bad = bad if home != "~" else []
            if bad:
                problems.append(
                    f"host {name}: workbench_home = {home!r} holds {' '.join(repr(c) for c in bad)}: pip's launcher "
                    "scripts on the host would hand it to /bin/sh (use letters, digits, space and . _ - + , : = @ % /)"
                )
        for key in ("ansible_port", "ansible_ssh_port"):
            port = v.get(key)
            if port is not None and not _port_ok(port):
                problems.append(f"host {name}: {key} = {port!r} is not a TCP port (1-65535)")
        hosts.append(InventoryHost(name, v, tuple(member[name])))
    chosen = {h.name for h in hosts}
    for home_key, names in every_home.items():
        if len(names) > 1 and chosen.intersection(names):
            problems.append(
                f"hosts {' and '.join(names)}: all have workbench_home = {home_key!r}; each entry needs its own (it "
                "holds that entry's jobs and results)"
            )
    if problems:
        raise ConfigError(
            f"{path}: {len(problems)} bad host entr{'y' if len(problems) == 1 else 'ies'}",
            problems=problems,
            hint="fix the inventory entries named above (name, workbench_home, ansible_port)",
        )
    groups = {g: tuple(h.name for h in hosts if g in h.groups) for g in doc if g not in ("_meta", "all")}
    return Inventory(path, tuple(hosts), groups, limit)


def _port_ok(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        port = int(str(value).strip())
    except ValueError:
        return False
    return 1 <= port <= 65535


def _hosts_below(doc: Mapping[str, Any], group: str, seen: frozenset[str] = frozenset()) -> list[str]:
    node = doc.get(group) or {}
    out = list(node.get("hosts") or ())
    for child in node.get("children") or ():
        if child not in seen and child != group:
            out += _hosts_below(doc, child, seen | {group})
    return out
