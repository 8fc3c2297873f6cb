"""The fleet documents a face reads back, typed (core/fleet/types.py), each with one error naming where it came from:

- a `fleet run` job's outcome (``outcome.json``: ``{"command": "fleet run", "fleet": FleetRun.to_dict()}``);
- what `fleet check --json` prints (the job's ``stdout``): ``{"hosts": [HostFacts.to_dict(), …]}`` or the bare list;
  a job that also writes it as its outcome (``{"command": "fleet check", "hosts": […]}``) is read from there.

Used by the Fleet screen, its workers and the Jobs list's one-line summary.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import fields
from typing import Any


def fleet_run_from_dict(d: Any, where: str = "the fleet outcome") -> Any:
    """``FleetRun.to_dict()`` -> ``FleetRun``.

    Raises:
        WorkbenchError: ``d`` is not a fleet run document (not an object, a host without "host" / "status", a value
            of the wrong type), naming ``where`` (the job's outcome file).
    """
    from workbench.core.errors import WorkbenchError
    from workbench.core.fleet.types import FleetRun

    if not isinstance(d, Mapping) or not isinstance(d.get("hosts", []), list):
        raise WorkbenchError(
            f"{where}: not a fleet run (no list of hosts)",
            hint="the job was written by another workbench version, or its file was cut off: run the fleet command "
            "again",
        )
    try:
        return FleetRun.from_dict(d)
    except KeyError as exc:
        raise WorkbenchError(
            f"{where}: not a fleet run (a host has no key {exc.args[0]!r})",
            hint="the job was written by another workbench version, or its file was cut off: run the fleet command "
            "again",
        ) from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise WorkbenchError(
            f"{where}: not a fleet run ({exc})",
            hint="the job was written by another workbench version, or its file was cut off: run the fleet command "
            "again",
        ) from None


def host_facts_from_doc(doc: Any, where: str = "the fleet check document") -> tuple[Any, ...]:
    """``{"hosts": [HostFacts.to_dict(), …]}`` (or the bare list) -> HostFacts, in the document's order. Keys this
    version does not know are ignored (a newer `fleet check` may add some).

    Raises:
        WorkbenchError: not such a document (no list of hosts, a host without "host" / "reachable"), naming ``where``.
    """
    from workbench.core.errors import WorkbenchError
    from workbench.core.fleet.types import HostFacts

    hosts = doc.get("hosts") if isinstance(doc, Mapping) else doc
    if not isinstance(hosts, list):
        raise WorkbenchError(
            f"{where}: not a fleet check document (no list of hosts)",
            hint="the job was written by another workbench version, or its file was cut off: run the fleet command "
            "again",
        )
    names = {f.name for f in fields(HostFacts)}
    out = []
    for k, h in enumerate(hosts):
        if not isinstance(h, Mapping) or "host" not in h or "reachable" not in h:
            raise WorkbenchError(
                f"{where}: host {k + 1} is not a fleet check row (needs 'host' and 'reachable')",
                hint="the job was written by another workbench version, or its file was cut off: run the fleet "
                "command again",
            )
        row = {key: v for key, v in h.items() if key in names}
        row["host"], row["reachable"] = str(h["host"]), bool(h["reachable"])
        out.append(HostFacts(**row))
    return tuple(out)


def check_facts_of_job(job: Any) -> tuple[Any, ...]:
    """The HostFacts a finished `fleet check --json` job found: its outcome's hosts when it wrote one, else the JSON
    document it printed (its ``stdout``).

    Raises:
        WorkbenchError: the job left neither (naming its stdout file), or the document is not a fleet check's.
    """
    from workbench.core import jobs as core_jobs
    from workbench.core.errors import WorkbenchError

    outcome = core_jobs.read_outcome(job) or {}
    if isinstance(outcome.get("hosts"), list):
        return host_facts_from_doc(outcome, f"job {job.id}: {job.dir / 'outcome.json'}")
    path = job.stdout_path
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise WorkbenchError(
            f"job {job.id}: cannot read {path}: {exc.strerror or exc}",
            hint=f"check that {path} is readable by this user; run `workbench fleet check` again to get a fresh report",
        ) from None
    try:
        doc = json.loads(text)
    except ValueError:
        # Lines before the document (a warning printed first): the document is the last line that parses.
        doc = None
        for line in reversed(text.splitlines()):
            try:
                doc = json.loads(line)
                break
            except ValueError:
                continue
    if doc is None:
        raise WorkbenchError(
            f"job {job.id}: `fleet check --json` printed no JSON document ({path})",
            hint=f"`workbench jobs show {job.id}` shows what it printed (its stderr names the failure); run "
            "`workbench fleet check` again",
        )
    return host_facts_from_doc(doc, f"job {job.id}: {path}")


def fleet_job_line(job: Any) -> str | None:
    """The Jobs list's line for an ended fleet job ("fleet run: 2 ok · 1 unreachable of 3 hosts", "fleet check: 2 of
    3 hosts reachable"), or None when ``job`` is not a fleet job that left its document (a run's outcome, whatever
    its exit; the JSON a check printed, also when it exited 1 because a host could not be reached)."""
    from workbench.core import jobs as core_jobs
    from workbench.core.errors import WorkbenchError

    if job.argv[:1] != ("fleet",):
        return None
    outcome = core_jobs.read_outcome(job) or {}
    if isinstance(outcome.get("fleet"), Mapping):
        try:
            run = fleet_run_from_dict(outcome["fleet"], f"job {job.id}")
        except WorkbenchError as exc:
            return str(exc)
        from workbench.core.fleet.types import FINAL_STATUSES as FINAL

        counts: dict[str, int] = {}
        for h in run.hosts:
            counts[h.status] = counts.get(h.status, 0) + 1
        order = sorted(counts, key=lambda s: FINAL.index(s) if s in FINAL else len(FINAL))  # ok, failed, …
        parts = " · ".join(f"{counts[status]} {status}" for status in order)
        return f"fleet run: {parts or 'no host'} of {len(run.hosts)} hosts"
    state = job.state()
    if job.argv[1:2] == ("check",) and state in ("finished", "failed"):  # failed: exit 1, a host not reached
        try:
            facts = check_facts_of_job(job)
        except WorkbenchError as exc:
            return str(exc) if state == "finished" else None  # failed without a document: its own error
        return f"fleet check: {sum(f.reachable for f in facts)} of {len(facts)} hosts reachable"
    return None
