"""The one door to Ansible: run a playbook shipped in ``workbench/data/fleet/`` against an inventory, per-host outcomes.

Ansible (``ansible-core`` + ``ansible-runner``, the ``fleet`` extra) is imported only inside these functions, so the
rest of the workbench, ``workbench --help`` and ``workbench fleet --help`` work without it.

How a playbook returns data per host: a task whose name starts with ``workbench_out`` prints one JSON object on its
stdout (a ``command`` task running a Python probe); :func:`run_playbook` parses it and merges it into that host's
:attr:`PlayOutcome.facts` (later tasks win key by key). Tasks report progress to ``on_event`` as :class:`PlayEvent`.

Safety (issue 17): host keys are checked as the user's SSH configuration and inventory say. We never turn checking
off (ansible-runner would, by default: we pass ``ANSIBLE_HOST_KEY_CHECKING`` as the user's environment or ansible.cfg
says, else True; an inventory's ``ansible_host_key_checking`` still decides per host); we only forbid SSH's
interactive prompts (``BatchMode=yes`` in ``ANSIBLE_SSH_ARGS`` unless the user set that variable), so an unknown
host fails at once instead of waiting for a "yes" nobody can type, and its error names the key's fingerprint and
how to accept it (:mod:`workbench.core.fleet.hostkeys`). Playbooks pass every path and name as one
argv element (``command: argv:``), never through a shell, and use no ``become``.
"""

from __future__ import annotations

import json
import os
import shlex
import sysconfig
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from workbench.core.errors import Cancelled, UsageError
from workbench.core.fleet.inventory import INSTALL_HINT, Inventory, InventoryHost, ansible_tool, load_inventory

__all__ = [
    "Inventory",
    "InventoryHost",
    "PlayEvent",
    "PlayOutcome",
    "ansible_available",
    "load_inventory",
    "playbook_path",
    "require_ansible",
    "run_playbook",
]

#: Task-name prefix whose stdout (one JSON object) becomes the host's facts.
OUT_PREFIX = "workbench_out"

#: Ansible's default ``ssh_args`` (ansible-core 2.17 ``ssh`` connection plugin docs) plus ``BatchMode=yes``: no
#: prompt can hang a run (an unknown host key or a password prompt fails instead). Host-key checking itself is left
#: as the user's SSH configuration says.
SSH_ARGS = "-C -o ControlMaster=auto -o ControlPersist=15s -o BatchMode=yes"


@dataclass(frozen=True)
class PlayOutcome:
    """One host after a playbook. ``ok``: every task succeeded (failures with ``ignore_errors`` do not count);
    ``unreachable``: SSH could not connect or log in; ``error``: the first failure, one paragraph (task, message,
    the tail of its stderr), None when ok; ``facts``: the merged JSON objects of the ``workbench_out`` tasks."""

    host: str
    ok: bool
    unreachable: bool = False
    error: str | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)
    changed: bool = False


@dataclass(frozen=True)
class PlayEvent:
    """A task starting or ending on one host. ``kind``: "start" | "ok" | "changed" | "failed" | "unreachable" |
    "skipped"; ``task``: the task's name; ``message``: the failure message ("" otherwise)."""

    host: str
    kind: str
    task: str
    message: str = ""


def ansible_available() -> bool:
    """Whether ansible-core and ansible-runner are importable (the ``fleet`` extra is installed)."""
    from importlib.util import find_spec

    return find_spec("ansible") is not None and find_spec("ansible_runner") is not None


def require_ansible() -> None:
    """Raises:
    UsageError: the ``fleet`` extra is not installed (the hint says how to install it)."""
    if not ansible_available():
        raise UsageError("`workbench fleet` needs Ansible (ansible-core, ansible-runner)", hint=INSTALL_HINT)


def playbook_path(name: str) -> Path:
    """The absolute path of playbook ``name`` shipped in ``workbench/data/fleet/``.

    Raises:
        UsageError: no such playbook in the package."""
    p = Path(str(files("workbench") / "data" / "fleet" / name))
    if not p.is_file():
        raise UsageError(
            f"no playbook {name} in {p.parent}",
            hint="reinstall the workbench (pip install --force-reinstall 'edge-workbench[fleet]'): its fleet "
            "playbooks are missing",
        )
    return p


def _env(private: Path) -> dict[str, str]:
    env = {
        # ansible-runner finds ansible-playbook on PATH: put the venv of this Python first.
        "PATH": os.pathsep.join([str(Path(sysconfig.get_path("scripts"))), os.environ.get("PATH", "")]),
        "ANSIBLE_LOCAL_TEMP": str(private / "tmp"),
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "True",
        # SSH master connections in this run's own private folder: a socket shared across runs (~/.ansible/cp,
        # named by user/host/port only) let a later run with another known_hosts reuse an open connection and skip
        # the host-key check.
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(private / "cp"),
    }
    # ansible-runner turns host-key checking OFF unless ANSIBLE_HOST_KEY_CHECKING is set (ansible_runner/config/
    # _base.py): set it to what the user's Ansible configuration says, which is on unless they turned it off.
    env["ANSIBLE_HOST_KEY_CHECKING"] = os.environ.get("ANSIBLE_HOST_KEY_CHECKING") or _configured_host_key_checking()
    for key, value in (
        ("ANSIBLE_SSH_ARGS", SSH_ARGS),
        ("ANSIBLE_PYTHON_INTERPRETER", "auto_silent"),
    ):
        if not os.environ.get(key):
            env[key] = value
    return env


def _configured_host_key_checking() -> str:
    """Ansible's ``host_key_checking`` from the user's ansible.cfg ("True" when it is not set there)."""
    try:
        from ansible.config.manager import ConfigManager

        value, origin = ConfigManager().get_config_value_and_origin("HOST_KEY_CHECKING")
    except Exception:  # noqa: BLE001 - an unreadable ansible.cfg: Ansible itself reports it; check keys meanwhile
        return "True"
    return "True" if origin == "default" or value else "False"


def run_playbook(
    playbook: str,
    inventory: Inventory | str | os.PathLike[str],
    *,
    extravars: Mapping[str, Any] | None = None,
    limit: str | None = None,
    forks: int = 5,
    on_event: Callable[[PlayEvent], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> dict[str, PlayOutcome]:
    """Run ``playbook`` (a name in ``workbench/data/fleet/``, or an absolute path) on the inventory's hosts.

    ``extravars``: Ansible extra variables; ``workbench_homes`` ({inventory name: workbench_home},
    :meth:`Inventory.homes`) is always added, so a playbook finds its host's folder as
    ``workbench_homes[inventory_hostname]`` (``~`` expanded on the host: e.g. the path a ``file: state=directory``
    task returns). On the host the workbench is ``HOME/src/.venv/bin/workbench``, run with ``WORKBENCH_HOME=HOME``.

    ``limit``: an Ansible host pattern (``--limit``: names, groups, ``nx*``, ``boards:!nano``; None: the pattern the
    inventory was read with, :attr:`Inventory.limit`); ``forks``: hosts worked on at once (Ansible's ``-f``);
    ``on_event``: called from this thread per task and host; ``cancel``: polled by ansible-runner, True stops the
    run. Returns one :class:`PlayOutcome` per host the run reached, and, without ``limit``, per host of ``inventory``
    (one the run never reached is failed with a message saying so).

    Raises:
        UsageError: Ansible is not installed, ``forks`` < 1, or ``limit`` matched no host.
        ConfigError: the inventory cannot be read (:func:`load_inventory`).
        Cancelled: ``cancel`` returned True."""
    require_ansible()
    if forks < 1:
        raise UsageError(
            f"--forks {forks}: must be at least 1",
            hint="pass --forks 1 or more (Ansible's number of hosts worked on at once)",
        )
    inv = inventory if isinstance(inventory, Inventory) else load_inventory(inventory)
    explicit = limit is not None
    pattern = limit if explicit else inv.limit
    path = Path(playbook) if os.path.isabs(playbook) else playbook_path(playbook)
    ansible_tool("ansible-playbook")  # a clear error before ansible-runner's own

    import ansible_runner

    results: dict[str, dict[str, Any]] = {}
    cancelled = {"flag": False}

    def entry(host: str) -> dict[str, Any]:
        return results.setdefault(host, {"failed": None, "unreachable": False, "facts": {}, "changed": False})

    def handle(ev: Mapping[str, Any]) -> bool:
        kind = ev.get("event", "")
        data = ev.get("event_data") or {}
        host = data.get("host")
        task = str(data.get("task") or "")
        if not host or not kind.startswith("runner_on_"):
            return True
        res = data.get("res") or {}
        rec = entry(host)
        short = kind[len("runner_on_") :]
        message = ""
        if short == "ok":
            if res.get("changed"):
                rec["changed"] = True
                short = "changed"
            if task.startswith(OUT_PREFIX):
                rec["facts"].update(_json_out(res))
        elif short == "failed":
            if data.get("ignore_errors"):
                return True  # an expected failure the playbook handles: not the host's
            message = _failure(task, res)
            rec["failed"] = rec["failed"] or message
        elif short == "unreachable":
            message = _one_line(str(res.get("msg") or "unreachable"))
            rec["unreachable"] = True
            rec["failed"] = rec["failed"] or message
        elif short not in ("start", "skipped", "failed"):
            return True
        if on_event is not None:
            on_event(PlayEvent(host, short, task, message))
        return True

    def want_cancel() -> bool:
        if cancel is not None and cancel():
            cancelled["flag"] = True
            return True
        return False

    with tempfile.TemporaryDirectory(prefix="wb-fleet-") as tmp:
        private = Path(tmp)
        (private / "tmp").mkdir()
        runner = ansible_runner.run(
            private_data_dir=str(private),
            playbook=str(path),
            inventory=str(inv.path.absolute()),
            extravars={"workbench_homes": inv.homes(), **(extravars or {})},
            # "--limit=PATTERN" as one argument (ansible-runner's own `limit` passes "--limit", PATTERN: a pattern
            # starting with '-' was read as an option). cmdline is split with shlex, never by a shell.
            cmdline=shlex.quote(f"--limit={pattern}") if pattern is not None else None,
            forks=forks,
            envvars=_env(private),
            event_handler=handle,
            cancel_callback=want_cancel,
            quiet=True,
            suppress_env_files=True,
        )
        if cancelled["flag"]:
            raise Cancelled("fleet: cancelled")
        tail = _stdout_tail(runner)
    if pattern is not None and not results:
        raise UsageError(
            f"--limit {pattern}: no host of {inv.path} matched (or the run failed before any host: "
            f"{tail or 'no output'})",
            hint="list the inventory's hosts with: ansible-inventory -i FILE --graph",
        )
    out: dict[str, PlayOutcome] = {}
    for host, rec in results.items():
        error = rec["failed"]
        if rec["unreachable"]:
            error = _explain_unreachable(inv, host, error)
        out[host] = PlayOutcome(
            host, error is None, bool(rec["unreachable"]), error, dict(rec["facts"]), rec["changed"]
        )
    if not explicit:
        for h in inv.hosts:
            if h.name not in out:
                msg = "the playbook never reached this host"
                out[h.name] = PlayOutcome(h.name, False, False, f"{msg}: {tail}" if tail else msg)
    return out


def _json_out(res: Mapping[str, Any]) -> dict[str, Any]:
    text = str(res.get("stdout") or "").strip()
    if not text:
        return {}
    try:
        value = json.loads(text.splitlines()[-1])
    except json.JSONDecodeError:
        return {"probe_error": f"not JSON: {text[-300:]}"}
    return value if isinstance(value, dict) else {}


#: The hint a failure gets when Ansible could not run its module with the host's Python (``msg`` of a failed module:
#: "The module failed to execute correctly, you probably need to set the interpreter", ansible-core 2.17
#: ``plugins/action/__init__.py``) — interpreter discovery found none, or ``ansible_python_interpreter`` is wrong.
INTERPRETER_HINT = (
    "hint: Ansible runs its modules with the host's Python 3: set ansible_python_interpreter=/path/to/python3 for "
    "this host in the inventory (and workbench_python, the Python the workbench is installed with)"
)
#: The hint when the command started with ``workbench_python`` (default ``python3``) was not found on the host.
WORKBENCH_PYTHON_HINT = "hint: set workbench_python=/path/to/python3 (3.10 or newer) for this host in the inventory"


def _one_line(text: str) -> str:
    """SSH's and Ansible's multi-line messages ("...\\r\\nConnection reset by ...") as one line: lines joined by " | "."""
    return " | ".join(line.strip() for line in text.splitlines() if line.strip())


def _failure(task: str, res: Mapping[str, Any]) -> str:
    """One paragraph: the task, Ansible's message and the last lines of the command's stderr (or stdout), and a
    hint when the host's Python was not found."""
    msg = _one_line(str(res.get("msg") or "failed"))
    parts = [f"{task}: {msg}"]
    for key in ("stderr", "stdout", "module_stderr", "module_stdout"):
        text = str(res.get(key) or "").strip()
        if text:
            parts.append(" | ".join(text.splitlines()[-5:]))
    if "set the interpreter" in msg or "interpreter discovery" in msg.lower():
        parts.append(INTERPRETER_HINT)
    elif "No such file or directory" in msg and "python" in msg:
        parts.append(WORKBENCH_PYTHON_HINT)
    return " — ".join(parts)


def _explain_unreachable(inv: Inventory, host: str, error: str | None) -> str:
    from workbench.core.fleet.hostkeys import explain_host_key_failure

    try:
        entry = inv.host(host)
    except KeyError:
        return error or "unreachable"
    return explain_host_key_failure(entry, error or "unreachable")


def _stdout_tail(runner: Any) -> str:
    try:
        with runner.stdout as f:
            text = f.read()
    except (OSError, AttributeError, ValueError):
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-3:])[-500:]
