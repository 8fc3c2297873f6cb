"""`workbench fleet check`: each host's facts (reachable, Python, workbench version, profile, JetPack / TensorRT,
free disk) through the read-only ``check.yml`` playbook and its probe (``workbench/data/fleet/probe.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workbench.core.fleet.ansible import PlayEvent, PlayOutcome, run_playbook
from workbench.core.fleet.inventory import Inventory
from workbench.core.fleet.types import HostFacts


def homes(inv: Inventory) -> dict[str, str]:
    """The ``workbench_homes`` extra variable every fleet playbook reads: {inventory name: workbench_home} (``~``
    unexpanded; the defaults of :func:`workbench.core.fleet.inventory.default_home` filled in)."""
    return {h.name: h.workbench_home for h in inv.hosts}


def facts_from(host: str, outcome: PlayOutcome | None) -> HostFacts:
    """A :class:`HostFacts` row from the probe's JSON (``outcome.facts``); a host the run did not reach is
    unreachable (``error`` says why), one whose probe failed is reachable with ``error`` set."""
    if outcome is None:
        return HostFacts(host, False, error="not part of this run")
    f: dict[str, Any] = dict(outcome.facts)
    if outcome.unreachable:
        return HostFacts(host, False, error=outcome.error)
    disk = f.get("free_disk_gib")
    return HostFacts(
        host,
        True,
        python=_s(f.get("python")),
        workbench=_s(f.get("workbench")),
        profile=_s(f.get("profile")),
        jetpack=_s(f.get("jetpack")),
        l4t=_s(f.get("l4t")),
        tensorrt=_s(f.get("tensorrt")),
        free_disk_gib=float(disk) if isinstance(disk, (int, float)) else None,
        workbench_home=_s(f.get("workbench_home")),
        error=outcome.error or _s(f.get("probe_error")),
    )


def _s(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def fleet_check(
    inv: Inventory,
    *,
    limit: str | None = None,
    forks: int = 5,
    on_event: Callable[[PlayEvent], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> tuple[HostFacts, ...]:
    """One :class:`HostFacts` per host (inventory order; with ``limit``, the hosts it matched). Changes nothing on the
    hosts. Raises what :func:`run_playbook` raises (UsageError without Ansible, Cancelled)."""
    outcomes = run_playbook(
        "check.yml", inv, extravars={"workbench_homes": homes(inv)}, limit=limit, forks=forks,
        on_event=on_event, cancel=cancel,
    )  # fmt: skip
    return tuple(facts_from(h.name, outcomes[h.name]) for h in inv.hosts if h.name in outcomes)
