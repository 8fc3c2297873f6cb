"""`workbench fleet setup`: install or update the workbench under each host's ``workbench_home`` from this checkout,
optionally offline from a shipped wheelhouse (``setup.yml``; idempotent: a host whose installed stamp matches the
archives' SHA-256 is left alone)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core.fleet.ansible import PlayEvent, run_playbook
from workbench.core.fleet.check import facts_from, homes
from workbench.core.fleet.inventory import Inventory
from workbench.core.fleet.source import source_archive, wheelhouse_archive
from workbench.core.fleet.types import HostFacts


@dataclass(frozen=True)
class HostSetup:
    """`fleet setup` for one host. ``status``: "ok" | "failed" | "unreachable"; ``changed``: something was copied or
    installed (False: it was up to date); ``facts``: the host after setup (its workbench version, profile, …);
    ``error``: why it failed."""

    host: str
    status: str
    changed: bool
    facts: HostFacts
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "status": self.status,
            "changed": self.changed,
            "error": self.error,
            "facts": self.facts.to_dict(),
        }


def fleet_setup(
    inv: Inventory,
    *,
    wheelhouse: str | Path | None = None,
    limit: str | None = None,
    forks: int = 5,
    on_event: Callable[[PlayEvent], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> tuple[HostSetup, ...]:
    """Install or update the workbench on each host (inventory order; with ``limit``, the hosts it matched).

    ``wheelhouse``: a local folder of wheels for the hosts' platform, shipped and installed from with pip's
    ``--no-index`` (boards are often offline); without it, pip on the host uses the host's own index.

    Raises:
        UsageError: Ansible missing, not a checkout, bad ``wheelhouse``.
        StorageError: the archives cannot be written locally.
        Cancelled: ``cancel`` returned True."""
    with tempfile.TemporaryDirectory(prefix="wb-fleet-setup-") as tmp:
        src = Path(tmp) / "edge-workbench-source.tar.gz"
        src_sha = source_archive(src)
        wh_tar, wh_sha = "", "-"
        if wheelhouse is not None:
            wh = Path(tmp) / "wheelhouse.tar"
            wh_sha = wheelhouse_archive(wheelhouse, wh)
            wh_tar = str(wh)
        outcomes = run_playbook(
            "setup.yml",
            inv,
            extravars={
                "workbench_homes": homes(inv),
                "workbench_source_tar": str(src),
                "workbench_wheelhouse_tar": wh_tar,
                "workbench_stamp": f"{src_sha} {wh_sha}",
            },
            limit=limit,
            forks=forks,
            on_event=on_event,
            cancel=cancel,
        )
    rows = []
    for h in inv.hosts:
        o = outcomes.get(h.name)
        if o is None:
            continue
        status = "ok" if o.ok else ("unreachable" if o.unreachable else "failed")
        rows.append(HostSetup(h.name, status, o.changed, facts_from(h.name, o), o.error))
    return tuple(rows)
