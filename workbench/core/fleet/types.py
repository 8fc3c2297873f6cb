"""The typed pieces of a fleet command: one row per inventory host, and the whole run.

Built once by the fleet layer and turned into dicts only at the JSON / events edges (``to_dict``). ``host`` is the
inventory name (two entries may point at one machine: their ``workbench_home`` keeps them apart).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Final per-host statuses of `fleet run` (the ``--json`` contract) and the states a face shows while it runs.
FINAL_STATUSES = ("ok", "failed", "unreachable")
STATES = ("pending", "copying", "starting", "running", "fetching", *FINAL_STATUSES)


@dataclass(frozen=True)
class HostFacts:
    """`fleet check` for one host: reachable, its Python, the installed workbench version (None: not installed),
    the profile its auto-detection chooses, JetPack / L4T and TensorRT where it has them, free disk (GiB) under
    ``workbench_home``, and ``error`` when it could not be asked."""

    host: str
    reachable: bool
    python: str | None = None
    workbench: str | None = None
    profile: str | None = None
    jetpack: str | None = None
    l4t: str | None = None
    tensorrt: str | None = None
    free_disk_gib: float | None = None
    workbench_home: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "reachable": self.reachable,
            "python": self.python,
            "workbench": self.workbench,
            "profile": self.profile,
            "jetpack": self.jetpack,
            "l4t": self.l4t,
            "tensorrt": self.tensorrt,
            "free_disk_gib": self.free_disk_gib,
            "workbench_home": self.workbench_home,
            "error": self.error,
        }


@dataclass(frozen=True)
class HostRun:
    """`fleet run` for one host. ``status``: one of :data:`STATES` (final: "ok" | "failed" | "unreachable").
    ``result_id``: the local results database id of the fetched, stored result (None unless ok). ``device``: what the
    host's result says it ran on. ``remote_job``: the workbench job id on the host (re-runs collect it). ``reused``:
    the result came from a job finished before this run (not run again). ``summary``: the figures the comparison
    table shows (p50/p99 ms with intervals, inferences/s, W, mJ/inference, accuracy verdict), from the stored result.
    """

    host: str
    status: str
    result_id: int | None = None
    error: str | None = None
    device: str | None = None
    remote_job: str | None = None
    reused: bool = False
    summary: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "status": self.status,
            "result_id": self.result_id,
            "error": self.error,
            "device": self.device,
            "remote_job": self.remote_job,
            "reused": self.reused,
            "summary": dict(self.summary),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> HostRun:
        return cls(
            str(d["host"]),
            str(d["status"]),
            d.get("result_id"),
            d.get("error"),
            d.get("device"),
            d.get("remote_job"),
            bool(d.get("reused", False)),
            dict(d.get("summary") or {}),
        )


@dataclass(frozen=True)
class FleetRun:
    """A whole `fleet run`: the inventory, the model, the hosts in inventory order. ``to_dict()`` is the ``--json``
    document: ``{"hosts": [{"host", "status", "result_id", "error", …}], …}``."""

    inventory: str
    model: str
    hosts: tuple[HostRun, ...]
    notes: tuple[str, ...] = ()  # what was done here for every host (--calibrate-here: the INT8 model and its check)

    def to_dict(self) -> dict[str, Any]:
        return {"inventory": self.inventory, "model": self.model, "hosts": [h.to_dict() for h in self.hosts],
                "notes": list(self.notes)}  # fmt: skip

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FleetRun:
        return cls(str(d.get("inventory") or ""), str(d.get("model") or ""),
                   tuple(HostRun.from_dict(h) for h in d.get("hosts") or ()),
                   tuple(str(n) for n in d.get("notes") or ()))  # fmt: skip
