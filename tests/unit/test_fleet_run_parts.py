"""`workbench fleet run` without Ansible or SSH: results with ``host``, the content-hashed bundles and their unpacking
on a host, the remote bench argv, the host-side job record (re-runs collect), storing a fetched result, the
comparison table, and the orchestration against a stand-in ``run_playbook`` (the real one: tests/fleet)."""

from __future__ import annotations

import json
import os
import sys
import tarfile
import types
from pathlib import Path

import pytest

from workbench.core.errors import DatasetError, StorageError, UsageError
from workbench.core.results.result import result_from_dict


def _doc(p50: float = 1.25, host: str | None = None, **extra) -> dict:
    d = {
        "model": "/boards/h/models/k/digits_cnn.onnx",
        "model_sha256": "ab" * 32,
        "precision": "fp32",
        "backend": "onnxruntime",
        "profile": "cpu-aarch64",
        "device": "Jetson Orin NX",
        "latency_ms": {
            "min": 1.0,
            "mean": 1.3,
            "median": p50,
            "p50": p50,
            "p99": 1.9,
            "max": 2.5,
            "std": 0.2,
            "cov_pct": 15.0,
            "ci95": {"p50": [p50 - 0.05, p50 + 0.05], "p99": [1.8, None]},
        },  # fmt: skip
        "throughput_ips": 769.25,
        "iterations": 1000,
        "batch": 1,
        "accuracy": {"verdict": "pass", "vs_fp32": {"cosine_min": 0.999}},
        "telemetry": {"source": "tegrastats", "measured": True, "mean_power_w": 7.5, "mj_per_inference": 9.75},
        "versions": {"onnxruntime": "1.32.0"},
        "latencies_ms": [1.0, 1.25, 1.3, 1.9],
    }
    if host is not None:
        d["host"] = host
    d.update(extra)
    return d


# --- results carry their host ------------------------------------------------------------------------------------


def test_result_host_round_trip_and_null_for_this_machine():
    r = result_from_dict(_doc(host="orin-nx-1"))
    assert r.host == "orin-nx-1"
    assert r.to_dict()["host"] == "orin-nx-1"
    assert result_from_dict(r.to_dict()).host == "orin-nx-1"
    plain = result_from_dict(_doc())
    assert plain.host is None and plain.to_dict()["host"] is None and "host" not in plain.extras


def _cli(argv: list[str], capsys) -> str:
    from workbench.cli.main import main

    capsys.readouterr()
    rc = main(argv)
    out, err = capsys.readouterr()
    assert rc == 0, err
    return out


def test_results_show_list_and_compare_show_the_host(capsys):
    from workbench.core.results.store import ResultStore

    with ResultStore() as db:
        a = db.add(result_from_dict(_doc(1.25, host="nx 1")))
        b = db.add(result_from_dict(_doc(2.5, host="agx")))
        c = db.add(result_from_dict(_doc(1.0)))
    shown = json.loads(_cli(["results", "show", str(a), "--json"], capsys))
    assert shown["host"] == "nx 1" and shown["device"] == "Jetson Orin NX"
    assert json.loads(_cli(["results", "show", str(c), "--json"], capsys))["host"] is None
    assert "Host        nx 1" in _cli(["results", "show", str(a)], capsys).splitlines()

    lines = _cli(["results", "list"], capsys).splitlines()
    assert lines[0].split()[:4] == ["id", "created", "(UTC)", "model"] and "host" in lines[0].split()
    by_id = {ln.split()[0]: ln for ln in lines[1:]}
    assert "digits_cnn.onnx  agx" in by_id[str(b)] and "digits_cnn.onnx  -" in by_id[str(c)]
    rows = {r["id"]: r for r in json.loads(_cli(["results", "list", "--json"], capsys))}
    assert rows[a]["host"] == "nx 1" and "host" not in rows[c]  # this machine's rows keep their old keys

    cmp_ = json.loads(_cli(["results", "compare", str(a), str(b), "--format", "json"], capsys))
    host_rows = [r for r in cmp_["rows"] if r["metric"] == "host"]
    assert host_rows == [{"metric": "host", "values": ["nx 1", "agx"]}]
    assert {"setting": "host", "values": ["nx 1", "agx"]} in cmp_["differing_settings"]
    text = _cli(["results", "compare", str(a), str(b)], capsys)
    assert any(ln.split()[:3] == ["host", "nx", "1"] for ln in text.splitlines())
    plain = json.loads(_cli(["results", "compare", str(c), str(c), "--format", "json"], capsys))
    assert all(r["metric"] != "host" for r in plain["rows"])


# --- bundles: content-hashed, shipped as one archive, unpacked and checked on the host ---------------------------


def _model(folder: Path, weights: bytes = b"onnx-bytes", spec: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    m = folder / "-odd name.onnx"
    m.write_bytes(weights)
    if spec:
        (folder / "-odd name.workbench.toml").write_text('[model]\nname = "odd"\n')
    return m


def test_model_bundle_is_named_by_content(tmp_path, monkeypatch):
    from workbench.core.fleet import manifest

    monkeypatch.setattr("workbench.core.models.fingerprint.external_data_locations", lambda p: ())
    a = manifest.model_bundle(_model(tmp_path / "a"))
    b = manifest.model_bundle(_model(tmp_path / "b"))
    assert a.key == b.key and len(a.key) == 64
    assert [f.rel for f in a.files] == ["-odd name.onnx", "-odd name.workbench.toml"]
    assert a.entry == "-odd name.onnx" and a.bytes == len(b"onnx-bytes") + len('[model]\nname = "odd"\n')
    assert a.remote_entry("/srv/wb home/") == f"/srv/wb home/models/{a.key}/-odd name.onnx"
    changed = manifest.model_bundle(_model(tmp_path / "c", weights=b"onnx-bytez"))
    assert changed.key != a.key
    assert manifest.model_bundle(_model(tmp_path / "d", spec=False)).key != a.key


def test_archive_is_deterministic_marker_last_and_unpacks_checked(tmp_path, workbench_home, monkeypatch):
    from workbench.core.fleet import manifest, remote

    monkeypatch.setattr("workbench.core.models.fingerprint.external_data_locations", lambda p: ())
    b = manifest.model_bundle(_model(tmp_path / "m"))
    one = manifest.write_archive(b, tmp_path / "1.tar").read_bytes()
    assert manifest.write_archive(b, tmp_path / "2.tar").read_bytes() == one
    with tarfile.open(tmp_path / "1.tar") as tar:
        assert tar.getnames() == ["-odd name.onnx", "-odd name.workbench.toml", manifest.MARKER]

    incoming = workbench_home / "fleet" / "incoming"
    incoming.mkdir(parents=True)
    (incoming / f"{b.key}.tar").write_bytes(one)
    assert remote.unpack({"kind": "models", "key": b.key}) == {"bundle": b.key, "unpacked": True}
    dest = workbench_home / "models" / b.key
    assert (dest / "-odd name.onnx").read_bytes() == b"onnx-bytes"
    assert json.loads((dest / manifest.MARKER).read_text())["key"] == b.key
    assert not (incoming / f"{b.key}.tar").exists()
    assert remote.unpack({"kind": "models", "key": b.key})["unpacked"] is False  # already there: nothing to do

    # An archive whose bytes were changed on the way is refused and nothing lands under models/.
    other = manifest.model_bundle(_model(tmp_path / "n", weights=b"other-weights"))
    bad = bytearray(manifest.write_archive(other, tmp_path / "3.tar").read_bytes())
    at = bytes(bad).index(b"other-weights")
    bad[at : at + 5] = b"OTHER"
    (incoming / f"{other.key}.tar").write_bytes(bytes(bad))
    with pytest.raises(StorageError, match="does not match its manifest"):
        remote.unpack({"kind": "models", "key": other.key})
    assert not (workbench_home / "models" / other.key).exists()
    with pytest.raises(UsageError):
        remote.unpack({"kind": "../etc", "key": other.key})
    with pytest.raises(UsageError):
        remote.unpack({"kind": "models", "key": "../../x"})


def test_dataset_bundle_keeps_relative_names(tmp_path):
    from workbench.core.fleet import manifest

    d = tmp_path / "my set"
    (d / "sub").mkdir(parents=True)
    (d / "a.png").write_bytes(b"a")
    (d / "sub" / "b.png").write_bytes(b"bb")
    b = manifest.dataset_bundle(d)
    assert b.kind == "datasets" and b.entry == "my set"
    assert [f.rel for f in b.files] == ["my set/a.png", "my set/sub/b.png"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="holds no file"):
        manifest.dataset_bundle(tmp_path / "empty")


# --- the remote bench argv ---------------------------------------------------------------------------------------


def test_plan_argv_names_bundles_not_local_paths(tmp_path):
    from workbench.core import paths
    from workbench.core.fleet import run
    from workbench.core.job import JobRequest

    p = run.plan(JobRequest(iterations=50, warmup_ms=20.0, calib="digits", precision="int8"))
    key = run.model_bundle(paths.default_model_path()).key
    assert p.argv[0] == "bench" and p.argv[1] == {"bundle": ["models", key, "digits_cnn.onnx"]}
    rest = list(p.argv[2:])
    assert rest[rest.index("--precision") + 1] == "int8"
    assert rest[rest.index("--calib") + 1] == "digits"  # bundled on every host: passed by name, not shipped
    assert rest[rest.index("--iterations") + 1] == "50" and rest[rest.index("--warmup-ms") + 1] == "20.0"
    assert [b.kind for b in p.bundles] == ["models"] and p.model == "digits_cnn.onnx"
    assert run.plan(JobRequest(iterations=50, warmup_ms=20.0, calib="digits", precision="int8")).key == p.key
    assert run.plan(JobRequest(iterations=51, warmup_ms=20.0, calib="digits", precision="int8")).key != p.key

    own = tmp_path / "calib set"
    own.mkdir()
    (own / "x.npy").write_bytes(b"x")
    q = run.plan(JobRequest(calib=str(own), precision="int8"))
    ds = q.bundles[1]
    assert ds.kind == "datasets" and q.argv[q.argv.index("--calib") + 1] == {
        "bundle": ["datasets", ds.key, "calib set"]
    }
    assert str(tmp_path) not in json.dumps(list(q.argv))

    for bad, what in (({"export_times": "t.json"}, "export-times"), ({"spec": "s.toml"}, "spec"),
                      ({"telemetry": "replay:x.log"}, "replay"), ({"profile": "my.toml"}, "profile"),
                      ({"store": False}, "no-store")):  # fmt: skip
        with pytest.raises(UsageError, match=what):
            run.plan(JobRequest(**bad))


# --- the host's record of the job: a re-run finds it -------------------------------------------------------------


def _finished_job(home: Path, job_id: str, result_ids: list[int], code: int = 0) -> None:
    d = home / "data" / "jobs" / job_id
    d.mkdir(parents=True)
    rec = {"id": job_id, "argv": ["bench"], "pid": None, "started_at": "2026-01-01T00:00:00Z", "cwd": "/"}
    (d / "job.json").write_text(json.dumps(rec))
    (d / "status.json").write_text(json.dumps({"exit_code": code, "ended_at": "x", "result_ids": result_ids}))
    (d / "stderr").write_text("error: the model is broken\nhint: fix it\n" if code else "")


def test_start_returns_the_recorded_job_and_collect_fetches_its_result(workbench_home):
    from workbench.core.fleet import remote
    from workbench.core.results.store import ResultStore

    with ResultStore() as db:
        rid = db.add(result_from_dict(_doc(1.5)))
    key = "c" * 64
    _finished_job(workbench_home, "20260101-000000-aaaaaa", [rid])
    runs = workbench_home / "fleet" / "runs"
    runs.mkdir(parents=True)
    (runs / f"{key}.json").write_text(json.dumps({"job": "20260101-000000-aaaaaa"}))

    got = remote.start({"run_key": key, "argv": ["bench", "--iterations", "5"]})
    assert got == {"job": "20260101-000000-aaaaaa", "reused": True, "state": "finished"}
    out = remote.collect({"run_key": key, "timeout_s": 0})
    assert out["state"] == "finished" and out["result_id"] == rid and out["error"] is None
    assert out["result"]["latency_ms"]["p50"] == 1.5 and out["result"]["latencies_ms"] == [1.0, 1.25, 1.3, 1.9]

    failed_key = "d" * 64
    _finished_job(workbench_home, "20260101-000000-bbbbbb", [], code=4)
    (runs / f"{failed_key}.json").write_text(json.dumps({"job": "20260101-000000-bbbbbb"}))
    out = remote.collect({"run_key": failed_key, "timeout_s": 0})
    assert out["state"] == "failed" and out["result"] is None
    assert out["error"] == "the model is broken (fix it)"
    with pytest.raises(UsageError, match="no job of fleet run"):
        remote.collect({"run_key": "e" * 64})
    with pytest.raises(UsageError, match="starts `workbench bench` jobs only"):
        remote.start({"run_key": "e" * 64, "argv": ["sweep"]})


def test_doc_encoding_is_one_safe_argv_item():
    from workbench.core.fleet.remote import decode_doc, encode_doc

    doc = {"argv": ["bench", "{{ lookup('pipe', 'id') }}", "$(rm -rf ~)", "-x"], "n": 1}
    text = encode_doc(doc)
    assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
    assert decode_doc(text) == doc
    with pytest.raises(UsageError):
        decode_doc("not base64!")


# --- storing a fetched result, the comparison table --------------------------------------------------------------


def test_store_fetched_result_as_the_host_and_not_twice():
    from workbench.core.fleet import run, runstate
    from workbench.core.results.store import ResultStore

    fetched = dict(_doc(2.0, id=7, created_at="2026-01-01T00:00:00+00:00"))
    known: dict = {}
    row = run._store("nx-1", {"job": "J1", "reused": False}, {"state": "finished", "result": fetched}, known)
    assert row.status == "ok" and row.remote_job == "J1" and not row.reused and row.device == "Jetson Orin NX"
    with ResultStore() as db:
        stored = db.get(row.result_id)
        assert db.count() == 1
    assert stored.host == "nx-1" and stored.is_measurement and stored.latency.p50_ms == 2.0
    assert stored.created_at == "2026-01-01T00:00:00+00:00"  # when the board measured it, not when it was fetched
    assert known["nx-1"] == runstate.HostState("J1", "", row.result_id)
    assert row.summary["p50_ms"] == 2.0 and row.summary["p50_ci95_ms"] == pytest.approx([1.95, 2.05])

    again = run._store("nx-1", {"job": "J1", "reused": True}, {"state": "finished", "result": fetched}, known)
    assert again.result_id == row.result_id and again.reused
    with ResultStore() as db:
        assert db.count() == 1
    still = run._store("nx-2", {"job": "J2", "reused": False}, {"state": "running"}, known)
    assert still.status == "failed" and "still running" in still.error


def test_comparison_table_rows():
    from workbench.core.fleet.table import comparison_lines, host_summary
    from workbench.core.fleet.types import HostRun

    s = host_summary(result_from_dict(_doc(1.25)))
    assert s == {
        "p50_ms": 1.25, "p50_ci95_ms": [1.25 - 0.05, 1.25 + 0.05], "p99_ms": 1.9, "p99_ci95_ms": [1.8, None],
        "inferences_per_s": 769.25, "mean_power_w": 7.5, "mj_per_inference": 9.75, "accuracy": "pass",
        "result_id": None,
    }  # fmt: skip
    rows = [
        HostRun("nx-1", "ok", 3, None, "Jetson Orin NX", "J", False, s),
        HostRun("agx", "ok", 4, None, "AGX", "K", True, s),
        HostRun("gone", "unreachable", error="ssh: connect to host 127.0.0.1 port 1: Connection refused"),
    ]
    lines = comparison_lines(rows)
    assert lines[0].split() == ["host", "status", "device", "p50", "ms", "[95%", "CI]", "p99", "ms", "[95%", "CI]",
                                "inf/s", "W", "mJ/inf", "accuracy"]  # fmt: skip
    assert "1.250 [1.200, 1.300]" in lines[1] and "1.900 [1.800, ?]" in lines[1]
    assert lines[1].split()[-4:] == ["769.2", "7.500", "9.750", "pass"]
    assert "ok (collected)" in lines[2]
    assert lines[3].split()[:2] == ["gone", "unreachable"] and lines[3].split()[-1] == "-"
    assert lines[4] == "gone: unreachable: ssh: connect to host 127.0.0.1 port 1: Connection refused"


# --- the orchestration against a stand-in run_playbook -----------------------------------------------------------


class _Outcome:
    def __init__(self, host, ok=True, unreachable=False, error=None, facts=None):
        self.host, self.ok, self.unreachable, self.error, self.facts = host, ok, unreachable, error, facts or {}


def _fake_ansible(monkeypatch, tmp_path, behaviour, machines=None):
    """A stand-in ``core/fleet/ansible`` whose run_playbook runs core/fleet/remote.py in this process, one
    WORKBENCH_HOME per host (with a finished job for ``start``), so everything but SSH is the real thing.
    ``machines``: {host: address} (default: one address per host); ``behaviour``: {host: "unreachable" | "drop"
    (reachable to start its job, unreachable when it is collected)}."""
    from workbench.core.fleet import remote
    from workbench.core.fleet.inventory import Inventory, InventoryHost

    calls: list[tuple[str, str | None]] = []
    machines = machines or {"nx-1": "10.0.0.1", "agx": "10.0.0.2", "gone": "10.0.0.3"}
    hosts = tuple(machines)
    entries = tuple(
        InventoryHost(h, {"ansible_host": a, "workbench_home": str(tmp_path / h)}) for h, a in machines.items()
    )

    def load_inventory(path, limit=None):
        chosen = tuple(e for e in entries if limit is None or e.name in limit.split(","))
        return Inventory(Path(path), chosen, {}, limit)

    def run_playbook(playbook, inventory, *, extravars, limit=None, forks=5, on_event=None, cancel=None):
        calls.append((playbook, limit))
        here = os.environ["WORKBENCH_HOME"]
        try:
            return play(playbook, extravars, limit)
        finally:
            os.environ["WORKBENCH_HOME"] = here  # the controller's own home again

    def play(playbook, extravars, limit):
        out = {}
        for h in hosts:
            if limit and h not in limit.split(","):
                continue
            if behaviour.get(h) == "unreachable" or (behaviour.get(h) == "drop" and playbook == "collect.yml"):
                out[h] = _Outcome(h, ok=False, unreachable=True, error="Connection refused")
                continue
            monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / h))
            if playbook == "run.yml":
                for b in extravars["fleet_bundles"]:
                    inc = tmp_path / h / "fleet" / "incoming"
                    inc.mkdir(parents=True, exist_ok=True)
                    (inc / f"{b['key']}.tar").write_bytes(Path(b["archive"]).read_bytes())
                    remote.unpack(remote.decode_doc(b["doc"]))
                doc = remote.decode_doc(extravars["fleet_start_doc"])
                job = remote._job_of(doc["run_key"])
                if job is None or doc.get("force"):  # "start" a job: a finished one with a stored result
                    from workbench.core.results.store import ResultStore

                    with ResultStore() as db:
                        rid = db.add(result_from_dict(_doc(1.0 if h == "nx-1" else 2.0, device=f"dev-{h}")))
                    jid = f"20260101-000000-{len(calls):02d}{h[:4]:x<4}"
                    _finished_job(tmp_path / h, jid, [rid])
                    runs = tmp_path / h / "fleet" / "runs"
                    runs.mkdir(parents=True, exist_ok=True)
                    (runs / f"{doc['run_key']}.json").write_text(json.dumps({"job": jid}))
                    facts = {"job": jid, "reused": False, "state": "finished"}
                else:
                    facts = remote.start(doc)
                out[h] = _Outcome(h, facts=facts)
            else:
                out[h] = _Outcome(h, facts=remote.collect(remote.decode_doc(extravars["fleet_collect_doc"])))
        return out

    fake = types.ModuleType("workbench.core.fleet.ansible")
    fake.load_inventory = load_inventory
    fake.run_playbook = run_playbook
    monkeypatch.setitem(sys.modules, "workbench.core.fleet.ansible", fake)
    import workbench.core.fleet as pkg

    monkeypatch.setattr(pkg, "ansible", fake, raising=False)
    return calls


def test_fleet_run_keeps_the_others_and_collects_on_rerun(tmp_path, workbench_home, monkeypatch):
    from workbench.core.bench.events import FleetHostDone, FleetHostState
    from workbench.core.fleet.run import FleetOptions, fleet_run
    from workbench.core.job import JobRequest
    from workbench.core.results.store import ResultStore

    local = str(workbench_home)
    behaviour = {"gone": "unreachable"}
    calls = _fake_ansible(monkeypatch, tmp_path, behaviour)
    events: list = []

    def run(**opts):
        monkeypatch.setenv("WORKBENCH_HOME", local)  # the fake switches homes per host; results land here
        res = fleet_run(tmp_path / "inv.ini", JobRequest(iterations=20), FleetOptions(**opts), on_event=events.append)
        monkeypatch.setenv("WORKBENCH_HOME", local)
        return res

    first = run()
    assert [(h.host, h.status, h.reused) for h in first.hosts] == [
        ("nx-1", "ok", False), ("agx", "ok", False), ("gone", "unreachable", False)]  # fmt: skip
    assert calls == [("run.yml", "nx-1,agx,gone"), ("collect.yml", "nx-1,agx")]
    assert first.hosts[2].error == "Connection refused" and first.hosts[2].result_id is None
    doc = first.to_dict()
    assert [h["status"] for h in doc["hosts"]] == ["ok", "ok", "unreachable"]
    assert {"host", "status", "result_id", "error"} <= set(doc["hosts"][0])
    with ResultStore() as db:
        stored = [db.get(h.result_id) for h in first.hosts[:2]]
    assert [(r.host, r.device, r.latency.p50_ms) for r in stored] == [
        ("nx-1", "dev-nx-1", 1.0),
        ("agx", "dev-agx", 2.0),
    ]
    states = [(e.host, e.state) for e in events if isinstance(e, FleetHostState) and e.host == "nx-1"]
    assert states[0] == ("nx-1", "pending") and ("nx-1", "running") in states and states[-1] == ("nx-1", "ok")
    assert [e.row["host"] for e in events if isinstance(e, FleetHostDone)] == ["nx-1", "agx", "gone"]
    jobs_nx = sorted(p.name for p in (tmp_path / "nx-1" / "data" / "jobs").iterdir())

    behaviour.clear()  # the third host is back; the first two collect their finished jobs
    events.clear()
    second = run()
    assert [(h.host, h.status, h.reused) for h in second.hosts] == [
        ("nx-1", "ok", True), ("agx", "ok", True), ("gone", "ok", False)]  # fmt: skip
    assert [h.result_id for h in second.hosts[:2]] == [h.result_id for h in first.hosts[:2]]
    assert sorted(p.name for p in (tmp_path / "nx-1" / "data" / "jobs").iterdir()) == jobs_nx
    with ResultStore() as db:
        assert db.count() == 3

    forced = run(force=True)
    assert [h.reused for h in forced.hosts] == [False, False, False]
    assert forced.hosts[0].result_id not in (first.hosts[0].result_id, None)

    calls.clear()
    run(limit="agx")
    assert calls == [("run.yml", "agx"), ("collect.yml", "agx")]


def test_task_starts_become_host_states():
    from workbench.core.fleet.ansible import PlayEvent
    from workbench.core.fleet.run import _state_of

    assert _state_of(PlayEvent("nx", "start", "copying: ship the bundles it lacks")) == ("nx", "copying")
    assert _state_of(PlayEvent("nx", "start", "workbench_out starting: the benchmark job")) == ("nx", "starting")
    assert _state_of(PlayEvent("nx", "start", "workbench_out running: wait for the job")) == ("nx", "running")
    assert _state_of(PlayEvent("nx", "ok", "copying: ship the bundles it lacks")) is None
    assert _state_of(PlayEvent("nx", "start", "Gathering Facts")) is None


def test_one_machine_runs_its_entries_one_after_another(tmp_path, workbench_home, monkeypatch):
    """Entries with one address are benchmarked in turn (never at once: they would share the machine); an entry whose
    machine became unreachable, or whose job may still run there, holds back the later entries on that machine."""
    from workbench.core.fleet.run import fleet_run, machine_waves
    from workbench.core.job import JobRequest

    local = str(workbench_home)
    machines = {"nx-1": "10.0.0.1", "agx": "10.0.0.2", "agx-b": "10.0.0.2", "gone": "10.0.0.3", "gone-b": "10.0.0.3",
                "AGX-c": "10.0.0.2"}  # fmt: skip
    behaviour = {"gone": "unreachable"}
    calls = _fake_ansible(monkeypatch, tmp_path, behaviour, machines)

    def run():
        monkeypatch.setenv("WORKBENCH_HOME", local)
        res = fleet_run(tmp_path / "inv.ini", JobRequest(iterations=20))
        monkeypatch.setenv("WORKBENCH_HOME", local)
        return {h.host: h for h in res.hosts}

    rows = run()
    assert calls == [
        ("run.yml", "nx-1,agx,gone"), ("collect.yml", "nx-1,agx"),
        ("run.yml", "agx-b"), ("collect.yml", "agx-b"),
        ("run.yml", "AGX-c"), ("collect.yml", "AGX-c"),
    ]  # fmt: skip
    assert [rows[h].status for h in ("nx-1", "agx", "agx-b", "AGX-c")] == ["ok"] * 4
    assert rows["gone"].status == "unreachable" and rows["gone-b"].status == "unreachable"
    assert rows["gone-b"].error == "not tried: gone on the same machine was unreachable"

    # The connection drops while agx's job runs: agx-b and AGX-c are not started beside it.
    calls.clear()
    behaviour.clear()
    behaviour["agx"] = "drop"
    rows = run()
    assert rows["agx"].status == "unreachable" and rows["agx"].remote_job
    for later in ("agx-b", "AGX-c"):
        assert rows[later].status == "unreachable"
    assert ("run.yml", "agx-b") not in calls

    # Port forwarding: one gateway address, two ports, two machines (one wave).
    from workbench.core.fleet.inventory import InventoryHost

    gw = [InventoryHost("a", {"ansible_host": "gw", "ansible_port": 2201}),
          InventoryHost("b", {"ansible_host": "gw", "ansible_port": 2202}),
          InventoryHost("c", {"ansible_host": "GW", "ansible_port": "2201"})]  # fmt: skip
    assert machine_waves(gw) == [["a", "b"], ["c"]]


def test_cancelled_fleet_run_says_the_remote_jobs_go_on_and_a_rerun_collects_them(tmp_path, monkeypatch, capsys):
    import workbench.core.fleet.run as fleet_run_mod
    from workbench.cli.main import main

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(fleet_run_mod, "fleet_run", interrupted)
    inv = tmp_path / "lab.ini"
    inv.write_text("nano\n")
    rc = main(["fleet", "run", "-i", str(inv), "--foreground"])
    err = capsys.readouterr().err
    assert rc == 130
    assert "error: fleet run cancelled: benchmark jobs it already started on the hosts go on there" in err
    assert "hint: run the same `workbench fleet run` again to collect them" in err


def test_ctrl_c_in_fleet_setup_and_check_is_an_error_with_a_hint(tmp_path, monkeypatch, capsys):
    import workbench.cli.cmd_fleet as cmd_fleet
    import workbench.core.fleet.check as check_mod
    import workbench.core.fleet.setup as setup_mod
    from workbench.cli.main import main

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(cmd_fleet, "_inventory", lambda args: types.SimpleNamespace(path=tmp_path / "lab.ini"))
    monkeypatch.setattr(setup_mod, "fleet_setup", interrupted)
    monkeypatch.setattr(check_mod, "fleet_check", interrupted)
    assert main(["fleet", "setup", "-i", "lab.ini"]) == 130
    err = capsys.readouterr().err
    assert (
        "error: fleet setup cancelled" in err and "hint: a host may be half set up: run `workbench fleet setup`" in err
    )
    assert main(["fleet", "check", "-i", "lab.ini"]) == 130
    assert "error: fleet check cancelled" in capsys.readouterr().err


def test_int8_without_a_calibration_set_is_refused_before_anything_is_shipped(tmp_path):
    import shutil

    from workbench.core.errors import CalibrationError
    from workbench.core.fleet.run import plan
    from workbench.core.job import JobRequest
    from workbench.core.paths import default_model_path

    model = tmp_path / "mine.onnx"
    shutil.copy(default_model_path(), model)
    with pytest.raises(CalibrationError, match="INT8 needs a calibration set for mine.onnx on each host") as exc:
        plan(JobRequest(model=str(model), precision="int8"))
    assert "--calibrate-here" in exc.value.hint
    assert plan(JobRequest(model=str(model), precision="int8", calib="digits")).bundles  # with a set: fine
    (tmp_path / "mine.workbench.toml").write_text("")  # a spec beside it may name the set
    assert plan(JobRequest(model=str(model), precision="int8")).bundles
