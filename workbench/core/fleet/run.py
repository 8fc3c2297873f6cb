"""`workbench fleet run`: one benchmark on every inventory host, collected into this machine's results database.

For the hosts of an Ansible inventory (``--limit`` narrows them, ``--forks`` hosts at a time):

1. ship (core/fleet/manifest.py) the model — and every dataset folder that is not one of the bundled ones, which each
   host has in its own install — as content-named bundles under ``<workbench_home>/models|datasets/<sha256>/``,
   only those a host lacks;
2. start ``workbench bench <its remote paths> <the options>`` there as a detached workbench job (core/jobs.py on the
   host: its own session, so a dropped connection does not stop it) with ``WORKBENCH_HOME`` = the host's
   ``workbench_home`` — or, unless ``force``, find the job an earlier run of the same benchmark started there
   (core/fleet/runstate.py here, ``fleet/runs/<key>.json`` there) and collect it instead of running it again;
3. wait for the job, fetch its result's JSON and store it here as a measured result with ``host`` = the inventory
   name (``device`` is what the host detected).

Steps 1–2 are the playbook ``run.yml``, step 3 ``collect.yml`` (workbench/data/fleet/), both through
``core/fleet/ansible.run_playbook``; on the host they call core/fleet/remote.py. A host that cannot be reached or
fails is reported in its row (:class:`~workbench.core.fleet.types.HostRun`) and the others go on.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from workbench.core import paths
from workbench.core.errors import Cancelled, UsageError
from workbench.core.fleet import runstate
from workbench.core.fleet.manifest import Bundle, dataset_bundle, model_bundle, write_archive
from workbench.core.fleet.remote import encode_doc
from workbench.core.fleet.types import FleetRun, HostRun

#: How long ``collect.yml`` waits on a host for its job to end by default (s): longer than any benchmark we run
#: by default (the profiles' durations are seconds to minutes); ``FleetOptions.wait_s`` changes it.
DEFAULT_WAIT_S = 3600.0


@dataclass(frozen=True)
class FleetOptions:
    """How to run the fleet: ``limit`` an Ansible host pattern (None: every host), ``forks`` hosts at a time,
    ``force`` run again even where an earlier run's job is running or finished, ``wait_s`` the longest wait for a
    host's job (s)."""

    limit: str | None = None
    forks: int = 5
    force: bool = False
    wait_s: float = DEFAULT_WAIT_S


@dataclass(frozen=True)
class FleetPlan:
    """What every host is asked to run: the bundles to ship, the ``workbench bench`` argv with bundle items
    (``{"bundle": [kind, key, rel]}``, each host turns them into its own paths), and the run key naming both."""

    bundles: tuple[Bundle, ...]
    argv: tuple[Any, ...]
    key: str
    model: str


# Request fields that name a file or folder of this machine: shipped (datasets) or refused (the rest).
_DATASET_FIELDS = (("calib", "calib"), ("eval", "eval"), ("bench_dataset", "calib"))


def _bundled(name: str, kind: str) -> bool:
    """A bare dataset name (``digits``) that resolves to the bundled set: every host has the same one."""
    if os.sep in name:
        return False
    p = paths.resolve_dataset(name, kind)
    try:
        return p.resolve().is_relative_to(paths.bundled_data_dir().resolve())
    except OSError:
        return False


def plan(request: Any) -> FleetPlan:
    """The :class:`FleetPlan` of a bench ``request`` (core.job.JobRequest; ``model`` None = the bundled model).

    Raises:
        UsageError: an option that names a file of this machine no host can read (``--export-times``, ``--spec``,
            ``--telemetry replay:FILE``, a profile given as a TOML path), ``--no-store`` (there would be no result to
            fetch), or a request a `bench` job cannot carry.
        ModelError / DatasetError: the model or a dataset folder is missing.
    """
    from workbench.core.jobs import argv_for

    if not request.store:
        raise UsageError("fleet run fetches each host's stored result: --no-store cannot be used with it")
    if request.export_times:
        raise UsageError("fleet run cannot write --export-times on the hosts: the latencies are in each stored result")
    if request.spec:
        raise UsageError(
            f"fleet run ships the spec beside the model (<model>.workbench.toml), not --spec {request.spec}",
            hint="put the spec next to the model as <model name>.workbench.toml",
        )
    if request.telemetry and request.telemetry.startswith("replay:"):
        raise UsageError("fleet run measures each host's own telemetry: --telemetry replay:FILE is for this machine")
    if request.profile and (request.profile.endswith(".toml") or os.sep in request.profile):
        raise UsageError(
            f"fleet run gives each host a profile by name, not the file {request.profile}",
            hint="leave --profile out (each host detects its own) or name a profile the hosts know",
        )
    model = Path(request.model).expanduser() if request.model else paths.default_model_path()
    bundles = [model_bundle(model)]
    ref = {"model": ("models", bundles[0].key, bundles[0].entry)}
    placeholders: dict[str, Any] = {}
    fields: dict[str, Any] = {}

    def hold(name: str, item: tuple[str, str, str]) -> str:
        token = f"@@fleet-bundle-{len(placeholders)}@@"  # never a real path: replaced by a bundle item below
        placeholders[token] = {"bundle": list(item)}
        fields[name] = token
        return token

    hold("model", ref["model"])
    for name, kind in _DATASET_FIELDS:
        value = getattr(request, name)
        if not value or _bundled(str(value), kind):
            continue
        b = dataset_bundle(paths.resolve_dataset(str(value), kind))
        if all(x.key != b.key for x in bundles):
            bundles.append(b)
        hold(name, (b.kind, b.key, b.entry))
    remote_request = replace(request, job_dir=None, **fields)
    argv = [placeholders.get(a, a) for a in argv_for(remote_request, "bench")]
    return FleetPlan(tuple(bundles), tuple(argv), runstate.run_key(argv), model.name)


def _emit(on_event: Callable[[Any], None] | None, event: Any) -> None:
    if on_event is not None:
        on_event(event)


def fleet_run(
    inventory: str | os.PathLike[str],
    request: Any,
    options: FleetOptions = FleetOptions(),
    *,
    on_event: Callable[[Any], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> FleetRun:
    """Run ``request`` (a bench JobRequest) on the inventory's hosts and store each host's result here.

    ``on_event`` gets ``FleetHostState`` (each host's state as it changes: pending, copying, running, fetching)
    and ``FleetHostDone`` (its final row) events (core/bench/events.py); ``cancel`` is polled by
    ``run_playbook`` (True: the run stops and raises Cancelled).

    Returns:
        The :class:`FleetRun`: one row per host the playbooks ran on, in inventory order.

    Raises:
        ConfigError: a bad inventory (naming the file); UsageError: as :func:`plan`, or ``limit`` matches no host;
        Cancelled; StorageError: the archives or the local state cannot be written.
    """
    from workbench.core.bench.events import FleetHostDone, FleetHostState
    from workbench.core.fleet import ansible

    inv = ansible.load_inventory(Path(inventory))
    p = plan(request)
    known = runstate.load(p.key)
    homes = {h.name: h.workbench_home for h in inv.hosts}  # the inventory's, or its default (core/fleet/inventory.py)
    order = [h.name for h in inv.hosts]
    for name in order:
        _emit(on_event, FleetHostState(name, "pending", ""))

    with tempfile.TemporaryDirectory(prefix="workbench-fleet-") as tmp:
        bundles = []
        for b in p.bundles:
            archive = write_archive(b, Path(tmp) / f"{b.key}.tar")
            unpack = encode_doc({"kind": b.kind, "key": b.key})
            bundles.append({"kind": b.kind, "key": b.key, "archive": str(archive), "doc": unpack})
        start_doc = encode_doc({"run_key": p.key, "argv": list(p.argv), "force": bool(options.force)})

        last: dict[str, str] = {}

        def on_play_event(event: Any) -> None:
            state = _state_of(event)
            if state is not None and last.get(state[0]) != state[1]:  # several tasks share a state: say it once
                last[state[0]] = state[1]
                _emit(on_event, FleetHostState(state[0], state[1], ""))

        started = ansible.run_playbook(
            "run.yml", inv,
            extravars={"workbench_homes": homes, "fleet_bundles": bundles, "fleet_start_doc": start_doc},
            limit=options.limit, forks=options.forks, on_event=on_play_event, cancel=cancel,
        )  # fmt: skip
    _check_cancel(cancel)
    if not started:
        raise UsageError(
            f"--limit {options.limit!r} matches no host of {inventory}" if options.limit else f"{inventory} has no host"
        )
    rows: dict[str, HostRun] = {}
    jobs: dict[str, dict[str, Any]] = {}
    for name, out in started.items():
        if not out.ok:
            rows[name] = _failed(name, out)
            continue
        facts = dict(out.facts or {})
        job = str(facts.get("job") or "")
        if not job:
            rows[name] = HostRun(name, "failed", error="the host did not say which job it started")
            continue
        prev = known.get(name)
        reused = bool(facts.get("reused")) or (prev is not None and prev.job == job)
        jobs[name] = {"job": job, "reused": reused}
        known[name] = runstate.HostState(job, homes.get(name, ""),
                                         prev.result_id if prev is not None and prev.job == job else None)  # fmt: skip
        last[name] = "running"
        _emit(on_event, FleetHostState(name, "running", f"job {job}" + (" (started before)" if reused else "")))
    runstate.save(p.key, known)

    if jobs:
        collected = ansible.run_playbook(
            "collect.yml", inv,
            extravars={"workbench_homes": homes,
                       "fleet_collect_doc": encode_doc({"run_key": p.key, "timeout_s": options.wait_s})},
            limit=",".join(jobs), forks=options.forks, on_event=on_play_event, cancel=cancel,
        )  # fmt: skip
        _check_cancel(cancel)
        for name, info in jobs.items():
            out = collected.get(name)
            if out is None or not out.ok:
                rows[name] = replace(_failed(name, out), remote_job=info["job"])
                continue
            _emit(on_event, FleetHostState(name, "fetching", f"job {info['job']}"))
            rows[name] = _store(name, info, dict(out.facts or {}), known)
        runstate.save(p.key, known)

    result = FleetRun(str(inventory), p.model, tuple(rows[n] for n in [*order, *sorted(set(rows) - set(order))]
                                                     if n in rows))  # fmt: skip
    for row in result.hosts:
        _emit(on_event, FleetHostState(row.host, row.status, row.error or ""))
        _emit(on_event, FleetHostDone(row.to_dict()))
    return result


def _check_cancel(cancel: Callable[[], bool] | None) -> None:
    if cancel is not None and cancel():
        raise Cancelled("fleet run cancelled")


def _failed(name: str, out: Any) -> HostRun:
    if out is None:
        return HostRun(name, "failed", error="no outcome from the host")
    status = "unreachable" if out.unreachable else "failed"
    return HostRun(name, status, error=out.error or status)


def _store(name: str, info: dict[str, Any], facts: dict[str, Any], known: dict[str, runstate.HostState]) -> HostRun:
    """Store the result the host fetched (or find it stored by an earlier run) and make the host's row."""
    from workbench.core.errors import ResultsError
    from workbench.core.fleet.table import host_summary
    from workbench.core.results.result import result_from_dict
    from workbench.core.results.store import ResultStore

    job = info["job"]
    state = facts.get("state")
    if state != "finished" or not isinstance(facts.get("result"), dict):
        err = facts.get("error") or (f"job {job} is still running after the wait" if state == "running" else
                                     f"job {job} {state or 'gave no state'}")  # fmt: skip
        return HostRun(name, "failed", error=str(err), remote_job=job)
    prev = known.get(name)
    with ResultStore() as db:
        if prev is not None and prev.job == job and prev.result_id is not None:
            try:
                stored = db.get(int(prev.result_id))
                if stored.host == name:  # fetched by an earlier run: the same figures, not stored twice
                    return HostRun(name, "ok", stored.stored_id, None, stored.device, job, True,
                                   host_summary(stored))  # fmt: skip
            except ResultsError:
                pass  # deleted meanwhile: store it again
        try:
            fetched = result_from_dict(facts["result"])
        except ValueError as exc:
            return HostRun(name, "failed", error=f"the result of job {job} is not a result: {exc}", remote_job=job)
        # A measurement of that host, named by its inventory entry; the ids are the host's, not this database's;
        # created_at stays the host's: when it was measured, not when it was fetched.
        local = replace(fetched, host=name, id=None, result_id=None)
    from workbench.core.workflow import store_fetched

    rid = store_fetched(local)
    with ResultStore() as db:
        stored = db.get(rid)
    known[name] = runstate.HostState(job, prev.workbench_home if prev else "", rid)
    return HostRun(name, "ok", rid, None, stored.device, job, bool(info["reused"]), host_summary(stored))


# Task names of the playbooks carry the state a face shows while the task runs on a host ("copying: …",
# "workbench_out starting: …"): core/fleet/ansible.py reports each task's start as a PlayEvent.
def _state_of(event: Any) -> tuple[str, str] | None:
    """(host, state) when a task whose name names a state starts on a host, else None."""
    if getattr(event, "kind", None) != "start" or not getattr(event, "host", None):
        return None
    task = str(getattr(event, "task", "") or "").removeprefix("workbench_out").strip()
    state = task.split(":", 1)[0]
    return (str(event.host), state) if state in ("copying", "starting", "running", "fetching") else None
