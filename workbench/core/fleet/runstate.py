"""What this machine remembers of a `fleet run` between runs, so a re-run collects instead of running again.

One file per run key (:func:`run_key`: the remote bench argv and the content hashes of what it ships) under
``paths.data_dir()/fleet/runs/<key>.json``, private (0600) and written atomically: per inventory host, the remote job
id the run started there, that host's ``workbench_home`` (an entry for another home is not this host's) and, once
fetched, the local result id it was stored under. The host keeps its own record of the job too
(core/fleet/remote.py), so a re-run also finds a job whose start this machine never heard back about.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core import paths
from workbench.core.fsutil import write_text_atomic


def run_key(argv_template: list[Any]) -> str:
    """Hex SHA-256 of the remote bench argv template (its bundle items carry the content hashes): the same
    benchmark of the same model and datasets gets the same key on every run."""
    doc = json.dumps({"v": 1, "argv": argv_template}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(doc.encode()).hexdigest()


def state_path(key: str) -> Path:
    return paths.data_dir() / "fleet" / "runs" / f"{key}.json"


@dataclass(frozen=True)
class HostState:
    """One host's record: ``job`` the remote job id, ``workbench_home`` where it ran, ``result_id`` the local
    results database id of its fetched result (None until stored)."""

    job: str
    workbench_home: str
    result_id: int | None = None


def load(key: str) -> dict[str, HostState]:
    """{inventory host: HostState} of run ``key``; {} when there is none or it is unreadable (a lost record only
    costs a look at the host's own)."""
    try:
        doc = json.loads(state_path(key).read_text())
        return {
            str(h): HostState(str(v["job"]), str(v.get("workbench_home") or ""), v.get("result_id"))
            for h, v in doc.get("hosts", {}).items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def save(key: str, hosts: dict[str, HostState]) -> None:
    """Write the record of run ``key`` atomically (0600). Raises StorageError."""
    from workbench.core.private import ensure_private_dir

    ensure_private_dir(state_path(key).parent, "fleet runs folder")
    doc = {"hosts": {h: {"job": s.job, "workbench_home": s.workbench_home, "result_id": s.result_id}
                     for h, s in sorted(hosts.items())}}  # fmt: skip
    write_text_atomic(state_path(key), json.dumps(doc, indent=1), private=True)
