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

Hosts on different machines are benchmarked at the same time; inventory entries on one machine (one SSH address and
port) one after another, in waves (:func:`machine_waves`), so no two benchmarks share a machine's CPU or GPU.
``forks`` bounds the SSH connections at once, not the benchmarks: they run detached on the hosts.

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
    host's job (s), ``calibrate_here`` calibrate the INT8 model on this machine for the request's profile and ship it
    (core/fleet/calibrate_here.py) instead of calibrating on every host."""

    limit: str | None = None
    forks: int = 5
    force: bool = False
    wait_s: float = DEFAULT_WAIT_S
    calibrate_here: bool = False


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
        raise UsageError(
            "fleet run fetches each host's stored result: --no-store cannot be used with it",
            hint="leave out --no-store",
        )
    if request.export_times:
        raise UsageError(
            "fleet run cannot write --export-times on the hosts: the latencies are in each stored result",
            hint="leave out --export-times; `workbench results show ID --json` has each host's latencies_ms",
        )
    if request.spec:
        raise UsageError(
            f"fleet run ships the spec beside the model (<model>.workbench.toml), not --spec {request.spec}",
            hint="put the spec next to the model as <model name>.workbench.toml",
        )
    if request.telemetry and request.telemetry.startswith("replay:"):
        raise UsageError(
            "fleet run measures each host's own telemetry: --telemetry replay:FILE is for this machine",
            hint="leave out --telemetry (each host reads its profile's source) or name a live source",
        )
    if request.profile and (request.profile.endswith(".toml") or os.sep in request.profile):
        raise UsageError(
            f"fleet run gives each host a profile by name, not the file {request.profile}",
            hint="leave --profile out (each host detects its own) or name a profile the hosts know",
        )
    model = Path(request.model).expanduser() if request.model else paths.default_model_path()
    if request.precision == "int8" and not request.calib and request.model is not None:
        _refuse_int8_without_calibration_set(model)
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


def _refuse_int8_without_calibration_set(model: Path) -> None:
    """INT8 on the hosts needs a calibration set there: ``--calib``, or the model spec shipped beside the model
    (``<stem>.workbench.toml``), unless the model is already INT8. Refused here, before anything is copied, instead of
    failing on every host after the copy (the bundled model has its spec and set).

    Raises:
        CalibrationError: none of those."""
    from workbench.core.errors import CalibrationError
    from workbench.core.models.sniff import FileKind, sniff
    from workbench.core.precision.explicit import file_quantization

    if model.with_name(f"{model.stem}.workbench.toml").is_file() or not model.is_file():
        return  # a missing model is the bundle's error to report (ModelError), with its own message
    if sniff(model) is not FileKind.ONNX:
        return  # a .pt: the host's own checks say what it is
    if file_quantization(model) is None:
        raise CalibrationError(
            f"INT8 needs a calibration set for {model.name} on each host",
            hint="pass --calib DIR (it is shipped to the hosts), put a model spec beside the model, or add "
            "--calibrate-here --profile NAME to calibrate once on this machine",
        )


def _emit(on_event: Callable[[Any], None] | None, event: Any) -> None:
    if on_event is not None:
        on_event(event)


def machine_waves(hosts: Any) -> list[list[str]]:
    """The inventory hosts (:class:`InventoryHost`, in order) in waves: wave ``i`` holds the ``i``-th entry of each
    machine, a machine being one SSH address (``ansible_host`` else the name, lower-cased, and ``ansible_port``).
    Benchmarks of one wave run at once; two entries on one machine never do (they would share its CPU/GPU and each
    be flagged contended, which keeps them out of every comparison). Entries behind one address with different ports
    (a lab gateway forwarding ports to several boards) are different machines."""
    per_machine: dict[tuple[str, int], list[str]] = {}
    for h in hosts:
        host, port = h.address
        per_machine.setdefault((host.lower(), port), []).append(h.name)
    depth = max((len(v) for v in per_machine.values()), default=0)
    return [[names[i] for names in per_machine.values() if i < len(names)] for i in range(depth)]


def _names_pattern(names: list[str]) -> str:
    """An Ansible ``--limit`` pattern naming exactly these hosts (a comma-separated list of names)."""
    return ",".join(names)


def fleet_run(
    inventory: str | os.PathLike[str],
    request: Any,
    options: FleetOptions = FleetOptions(),
    *,
    on_event: Callable[[Any], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    on_progress: Callable[[Any], None] | None = None,
) -> FleetRun:
    """Run ``request`` (a bench JobRequest) on the inventory's hosts and store each host's result here.

    Hosts on different machines are benchmarked at once (``forks`` of them connected at a time); entries on one
    machine one after another (:func:`machine_waves`). When an entry's job may still be running on its machine (the
    host became unreachable, or the wait ran out), the later entries on that machine are not started: their rows
    say why, and a re-run collects the first and runs them.

    ``on_event`` gets ``FleetHostState`` (each host's state as it changes: pending, copying, starting, running,
    fetching, and the final one) and ``FleetHostDone`` (its final row) events (core/bench/events.py); ``cancel`` is
    polled by ``run_playbook`` (True: the run stops and raises Cancelled; the remote jobs started go on, and a re-run
    collects them); ``on_progress`` gets the calibration's Progress steps (``calibrate_here``).

    Returns:
        The :class:`FleetRun`: one row per host (those ``options.limit`` matches), in inventory order.

    Raises:
        ConfigError: a bad inventory (naming the file); UsageError: as :func:`plan`, or ``limit`` matches no host;
        Cancelled; StorageError: the archives or the local state cannot be written; with ``calibrate_here``, as
        core/fleet/calibrate_here.py (UsageError without --precision int8 or --profile, CalibrationError).
    """
    from workbench.core.fleet import ansible

    inv = ansible.load_inventory(Path(inventory), options.limit)
    with tempfile.TemporaryDirectory(prefix="workbench-fleet-int8-") as int8_dir:
        notes: tuple[str, ...] = ()
        if options.calibrate_here:
            from workbench.core.fleet.calibrate_here import calibrate_here

            here = calibrate_here(request, Path(int8_dir), on_progress or (lambda _p: None))
            request, notes = here.request, here.notes
        p = plan(request)
        return _fleet_run(inventory, inv, p, options, notes, on_event, cancel, request.job_dir)


def _fleet_run(
    inventory: Any,
    inv: Any,
    p: FleetPlan,
    options: FleetOptions,
    notes: tuple[str, ...],
    on_event: Callable[[Any], None] | None,
    cancel: Callable[[], bool] | None,
    job_dir: Any = None,
) -> FleetRun:
    from workbench.core.bench.events import FleetHostDone, FleetHostState
    from workbench.core.fleet import ansible

    def done(row: HostRun) -> None:
        """A host's final row: its state and row events once, and (inside a detached job) its result id noted in
        the job's folder, as a bench job notes what it stored."""
        _emit(on_event, FleetHostState(row.host, row.status, row.error or ""))
        _emit(on_event, FleetHostDone(row.to_dict()))
        if job_dir is not None and row.result_id is not None:
            from workbench.core import jobs

            jobs.record_result(job_dir, int(row.result_id))

    known = runstate.load(p.key)
    homes = inv.homes()  # the inventory's, or its default (core/fleet/inventory.py)
    order = [h.name for h in inv.hosts]
    machine = {h.name: (h.address[0].lower(), h.address[1]) for h in inv.hosts}
    waves = machine_waves(inv.hosts)
    first_of = {}
    for wave in waves:
        for name in wave:
            first_of.setdefault(machine[name], name)
    for name in order:
        lead = first_of[machine[name]]
        _emit(on_event, FleetHostState(name, "pending", "" if lead == name else f"after {lead} (same machine)"))

    rows: dict[str, HostRun] = {}
    busy: dict[tuple[str, int], tuple[str, HostRun]] = {}  # machine -> (entry, row) whose job may still run there
    last: dict[str, str] = {}

    def on_play_event(event: Any) -> None:
        state = _state_of(event)
        if state is not None and last.get(state[0]) != state[1]:  # several tasks share a state: say it once
            last[state[0]] = state[1]
            _emit(on_event, FleetHostState(state[0], state[1], ""))

    with tempfile.TemporaryDirectory(prefix="workbench-fleet-") as tmp:
        bundles = []
        for b in p.bundles:
            archive = write_archive(b, Path(tmp) / f"{b.key}.tar")
            unpack = encode_doc({"kind": b.kind, "key": b.key})
            bundles.append({"kind": b.kind, "key": b.key, "archive": str(archive), "doc": unpack})
        start_doc = encode_doc({"run_key": p.key, "argv": list(p.argv), "force": bool(options.force)})
        collect_doc = encode_doc({"run_key": p.key, "timeout_s": options.wait_s})

        for wave in waves:
            todo = []
            for name in wave:
                blocked = busy.get(machine[name])
                if blocked is None:
                    todo.append(name)
                    continue
                rows[name] = _blocked(name, *blocked)
                done(rows[name])
            if not todo:
                continue
            wave_rows, may_run = _run_wave(
                ansible, inv, todo, p, known, homes, bundles, start_doc, collect_doc, options, on_play_event,
                on_event, last, cancel,
            )  # fmt: skip
            for name in [n for n in todo if n in wave_rows]:  # the wave's rows in inventory order
                row = rows[name] = wave_rows[name]
                done(row)
                # Unreachable, or its job may still run there: later entries on that machine are not started.
                if row.status == "unreachable" or name in may_run:
                    busy[machine[name]] = (name, row)

    result = FleetRun(str(inventory), p.model, tuple(rows[n] for n in [*order, *sorted(set(rows) - set(order))]
                                                     if n in rows), notes)  # fmt: skip
    return result


def _blocked(name: str, other: str, row: HostRun) -> HostRun:
    if row.status == "unreachable":
        return HostRun(name, "unreachable", error=f"not tried: {other} on the same machine was unreachable")
    return HostRun(
        name,
        "failed",
        error=f"not started: the benchmark of {other} (job {row.remote_job}) may still be running on the same machine "
        "and would share it; run `fleet run` again: it collects that job, then runs this one",
    )


def _run_wave(
    ansible: Any,
    inv: Any,
    names: list[str],
    p: FleetPlan,
    known: dict[str, runstate.HostState],
    homes: dict[str, str],
    bundles: list[dict[str, Any]],
    start_doc: str,
    collect_doc: str,
    options: FleetOptions,
    on_play_event: Callable[[Any], None],
    on_event: Callable[[Any], None] | None,
    last: dict[str, str],
    cancel: Callable[[], bool] | None,
) -> tuple[dict[str, HostRun], set[str]]:
    """Start the benchmark on ``names`` (one entry per machine), wait for the jobs and store their results.
    Returns the rows and the names whose job was started but not seen ending (it may still run on the host)."""
    from workbench.core.bench.events import FleetHostState

    started = ansible.run_playbook(
        "run.yml", inv,
        extravars={"workbench_homes": homes, "fleet_bundles": bundles, "fleet_start_doc": start_doc},
        limit=_names_pattern(names), forks=options.forks, on_event=on_play_event, cancel=cancel,
    )  # fmt: skip
    _check_cancel(cancel)
    rows: dict[str, HostRun] = {}
    may_run: set[str] = set()
    jobs: dict[str, dict[str, Any]] = {}
    for name in names:
        out = started.get(name)
        if out is None:
            rows[name] = HostRun(name, "failed", error="the playbook never reached this host")
            continue
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
            extravars={"workbench_homes": homes, "fleet_collect_doc": collect_doc},
            limit=_names_pattern(list(jobs)), forks=options.forks, on_event=on_play_event, cancel=cancel,
        )  # fmt: skip
        _check_cancel(cancel)
        for name, info in jobs.items():
            out = collected.get(name)
            if out is None or not out.ok:
                row = _failed(name, out)
                note = (f"its job {info['job']} was started there and goes on without the connection: run the same "
                        "`workbench fleet run` again to collect it")  # fmt: skip
                rows[name] = replace(row, remote_job=info["job"], error=f"{row.error} — {note}")
                may_run.add(name)
                continue
            _emit(on_event, FleetHostState(name, "fetching", f"job {info['job']}"))
            facts = dict(out.facts or {})
            if facts.get("state") == "running":  # the wait ran out: the job goes on
                may_run.add(name)
            rows[name] = _store(name, info, facts, known)
        runstate.save(p.key, known)
    return rows, may_run


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
