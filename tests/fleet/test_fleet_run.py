"""`workbench fleet run` against a real OpenSSH server (tests/fleet/conftest.py): two inventory hosts on one sshd with
their own ``workbench_home``, set up once per session by `fleet setup --wheelhouse`.

Must-show 1 and 2: the bundled model on both hosts, two results stored here with ``host`` = their inventory names,
`results compare` side by side, each host's job and result under its own home, one after the other (one machine) —
while a third host with a closed port is reported unreachable (and one never set up fails, saying so). Must-show 3: sshd stopped once the remote jobs started; they still finish; sshd started
again, `fleet run` (as a detached local job) collects them without running them again.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _sshd import REPO, free_port

# Short benchmarks: the fleet tests must stay within minutes on 2 cores.
QUICK = ["--iterations", "200", "--warmup-ms", "20"]


def _cli(argv: list[str], capsys) -> tuple[int, str, str]:
    from workbench.cli.main import main

    capsys.readouterr()
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def _wait(what: str, predicate, timeout_s: float = 180.0, poll_s: float = 0.2):
    """Poll ``predicate`` until it returns something true (returned), or fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        time.sleep(poll_s)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")


def _jobs(home: str) -> set[str]:
    d = Path(home) / "data" / "jobs"
    return {p.name for p in d.iterdir()} if d.is_dir() else set()


def test_run_on_two_hosts_stores_both_and_reports_the_unreachable_third(
    installed_fleet, sshd_server, write_inventory, tmp_path, capsys
):
    homes = installed_fleet.homes
    inv = write_inventory(
        tmp_path / "-three hosts.ini",
        {
            "nano": sshd_server.host_vars(homes["nano"]),
            "nx": sshd_server.host_vars(homes["nx"]),
            "gone": sshd_server.host_vars(tmp_path / "gone home", ansible_port=free_port()),  # nobody listens there
            "bare": sshd_server.host_vars(tmp_path / "bare home"),  # reachable, never set up
        },
    )
    rc, out, err = _cli(["fleet", "run", "-i", str(inv), *QUICK, "--foreground", "--json"], capsys)
    doc = json.loads(out)
    assert rc == 14, err  # one host did not give a result
    rows = {h["host"]: h for h in doc["hosts"]}
    assert [h["host"] for h in doc["hosts"]] == ["nano", "nx", "gone", "bare"]
    assert rows["gone"]["status"] == "unreachable" and rows["gone"]["result_id"] is None
    assert "127.0.0.1" in rows["gone"]["error"]
    assert rows["bare"]["status"] == "failed" and "workbench fleet setup" in rows["bare"]["error"]
    for name in ("nano", "nx"):
        assert rows[name]["status"] == "ok", rows[name]
        assert rows[name]["error"] is None and rows[name]["reused"] is False

    ids = [rows["nano"]["result_id"], rows["nx"]["result_id"]]
    for name, rid in zip(("nano", "nx"), ids, strict=True):
        rc, out, err = _cli(["results", "show", str(rid), "--json"], capsys)
        shown = json.loads(out)
        assert rc == 0 and shown["host"] == name and shown["device"], err
        assert shown["provenance"]["kind"] == "measured" and shown["iterations"] == 200
        # The host's own job and result, under its own workbench_home (never the other's).
        job = Path(homes[name]) / "data" / "jobs" / rows[name]["remote_job"]
        assert json.loads((job / "status.json").read_text())["exit_code"] == 0
        assert (Path(homes[name]) / "data" / "results.sqlite3").is_file()
        assert shown["model"].startswith(str(Path(homes[name]) / "models")) and shown["model"].endswith(
            "digits_cnn.onnx"
        )
    assert rows["nano"]["remote_job"] not in _jobs(homes["nx"])
    # One machine (one address and port): nano's benchmark ended before nx's began, never both at once.
    nano_job = Path(homes["nano"]) / "data" / "jobs" / rows["nano"]["remote_job"]
    nx_job = Path(homes["nx"]) / "data" / "jobs" / rows["nx"]["remote_job"]
    ended = json.loads((nano_job / "status.json").read_text())["ended_at"]
    assert ended <= json.loads((nx_job / "job.json").read_text())["started_at"]

    rc, out, err = _cli(["results", "compare", *map(str, ids)], capsys)
    assert rc == 0, err
    host_line = next(ln for ln in out.splitlines() if ln.startswith("host "))
    assert host_line.split() == ["host", "nano", "nx"]
    assert "≠ host" in out

    # The text face: one comparison row per host, the unreachable one with its reason.
    rc, out, err = _cli(["fleet", "run", "-i", str(inv), *QUICK, "--foreground", "--limit", "nano:gone"], capsys)
    lines = out.splitlines()
    assert rc == 14 and lines[0].split()[:3] == ["host", "status", "device"], err
    assert lines[1].split()[:3] == ["nano", "ok", "(collected)"]  # finished before: collected, not run again
    assert lines[2].split()[:2] == ["gone", "unreachable"]
    assert any(ln.startswith("gone: unreachable: ") for ln in lines)


def test_jobs_survive_a_dropped_sshd_and_a_rerun_collects_them(
    installed_fleet, sshd_server, write_inventory, tmp_path, cli_env, capsys
):
    from workbench.core.fleet.run import plan
    from workbench.core.job import JobRequest

    homes = installed_fleet.homes
    # Two addresses of this sshd, so the fleet sees two machines and runs both jobs at once (entries with one address
    # run one after another: test_one_machine_runs_its_entries_one_after_another).
    inventory = write_inventory(
        tmp_path / "two machines.ini",
        {
            "nano": sshd_server.host_vars(homes["nano"]),
            "nx": sshd_server.host_vars(homes["nx"], ansible_host="localhost"),
        },
    )
    argv = ["--duration", "6", "--warmup-ms", "20"]
    key = plan(JobRequest(duration_s=6.0, warmup_ms=20.0)).key
    markers = {name: Path(h) / "fleet" / "runs" / f"{key}.json" for name, h in homes.items()}
    before = {name: _jobs(h) for name, h in homes.items()}
    first = subprocess.Popen(
        [sys.executable, "-m", "workbench", "fleet", "run", "-i", str(inventory), *argv, "--foreground", "--json"],
        cwd=REPO, env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait("both remote jobs to start", lambda: all(m.is_file() for m in markers.values()))
        started = {name: json.loads(m.read_text())["job"] for name, m in markers.items()}
        sshd_server.stop()  # the network goes away: every SSH connection is cut
        out, err = first.communicate(timeout=180)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 14, err
    assert all(h["status"] in ("unreachable", "failed") for h in json.loads(out)["hosts"]), out

    # Detached on each host, the jobs finish without any connection.
    for name, home in homes.items():
        status = Path(home) / "data" / "jobs" / started[name] / "status.json"
        _wait(f"{name}'s job to finish", status.is_file)
        assert json.loads(status.read_text())["exit_code"] == 0
    sshd_server.start()

    # Collected, not run again: the same remote jobs, no new job folder on either host. As a detached local job too.
    rc, out, err = _cli(["fleet", "run", "-i", str(inventory), *argv, "--detach"], capsys)
    assert rc == 0, err
    from workbench.core import jobs

    job = jobs.get(out.split()[0])
    _wait("the local fleet job to end", lambda: job.exit_status() is not None)
    assert job.exit_status()["exit_code"] == 0, job.stderr_path.read_text()
    outcome = jobs.read_outcome(job)
    assert outcome["command"] == "fleet run"
    rows = {h["host"]: h for h in outcome["fleet"]["hosts"]}
    for name, home in homes.items():
        assert rows[name]["status"] == "ok" and rows[name]["reused"] is True
        assert rows[name]["remote_job"] == started[name]
        assert _jobs(home) == before[name] | {started[name]}
    events, _ = jobs.read_events(job)
    done = [e.row["host"] for e in events if type(e).__name__ == "FleetHostDone"]
    assert sorted(done) == sorted(homes)
    states = {(e.host, e.state) for e in events if type(e).__name__ == "FleetHostState"}
    assert {(n, "running") for n in homes} <= states and {(n, "ok") for n in homes} <= states

    from workbench.core.results.store import ResultStore

    with ResultStore() as db:
        stored = [db.get(rows[n]["result_id"]) for n in homes]
    assert [r.host for r in stored] == list(homes) and all(r.device for r in stored)


def test_calibrate_here_ships_one_int8_model_and_no_board_calibrates(installed_fleet, capsys):
    """`--calibrate-here`: the INT8 model is calibrated and checked against FP32 on this machine for the named
    profile, shipped, and benchmarked on the host as an already-INT8 model (its own scales, nothing calibrated there)."""
    from workbench.core.profiles.match import detect_device

    profile = detect_device().profile_name
    argv = ["fleet", "run", "-i", str(installed_fleet.inventory), "--limit", "nano", "--precision", "int8",
            "--calib", "digits", "--calibrate-here", "--profile", profile, *QUICK, "--foreground", "--json"]  # fmt: skip
    rc, out, err = _cli(argv, capsys)
    doc = json.loads(out)
    assert rc == 0, err
    assert doc["notes"][0].startswith(f"INT8 calibrated here for profile {profile} on ")
    assert doc["notes"][0].endswith("shipped as digits_cnn.int8.onnx (no calibration on the boards)")
    assert doc["notes"][1].startswith("checked here against FP32: Accuracy vs FP32 on ")
    (row,) = doc["hosts"]
    rc, out, err = _cli(["results", "show", str(row["result_id"]), "--json"], capsys)
    shown = json.loads(out)
    assert shown["host"] == "nano" and shown["precision"] == "int8" and shown["model"].endswith("digits_cnn.int8.onnx")
    assert any("is already INT8 (explicit quantization, QDQ, 8-bit (" in w for w in shown["warnings"])
    home = Path(installed_fleet.homes["nano"])
    assert not list((home / "cache" / "calibration").glob("*.onnx"))  # the board calibrated nothing

    rc, out, err = _cli([*argv[:-2], "--precision", "fp32", "--foreground"], capsys)
    assert rc == 2 and "--calibrate-here ships an INT8 model, but --precision is fp32" in err
