"""Fleet screen (0): the recorded example (comparison across hosts with intervals, the unreachable host's error, the
check's facts), a `fleet run` job followed through its events (each host's state, rows as hosts end, the comparison at
the end, also when a host failed and the job exits non-zero), x cancelling it, a `fleet check` job's JSON shown as the
facts table, a job that fails shown as one line, re-attaching a finished fleet job from the Jobs list, and the pieces:
the argv of both commands (asserted exactly: the CLI is written in parallel), the documents read back, the Jobs list's
line, the nav bar's twelve screens at 80 and 120 columns.

The followed job is a real job folder (events.jsonl written with core/bench/events.encode through jobs.append_event,
outcome.json, stdout, status.json) whose process is faked: ``FakeFleetJob`` runs until the test writes its status."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tui_helpers import (  # noqa: E402
    FIXTURES,
    make_recorded_app,
    recorded_fleet,
    screen_lines,
    text,
    wait_for,
    wait_idle,
)

from workbench.core.jobs import Job  # noqa: E402


@dataclass(frozen=True)
class FakeFleetJob(Job):
    """A job whose runner is "alive" until its status.json exists; never signalled (not a runner of ours)."""

    def alive(self) -> bool:
        return True

    def runner_is_ours(self) -> bool | None:
        return False


def _job(tmp_path: Path, argv=("fleet", "run"), name="job-fleet") -> FakeFleetJob:
    d = tmp_path / name
    d.mkdir(mode=0o700)
    return FakeFleetJob("20261203-120000-f1ee7a", d, tuple(argv), None, "2026-12-03T12:00:00Z", str(Path.cwd()))


def _cells(table) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(k)] for k in range(table.row_count)]


def _doc() -> dict:
    return json.loads((FIXTURES / "fleet-example.json").read_text())


async def _to_fleet(pilot) -> None:
    await wait_idle(pilot)
    await pilot.press("0")
    await wait_for(pilot, lambda: pilot.app.current_mode == "fleet", 30, "the Fleet screen")


async def _answer_prompt(pilot, key: str, value: str) -> None:
    app = pilot.app
    s = app.screen
    await pilot.press(key)
    await wait_for(pilot, lambda: app.screen is not s, 30, f"the prompt of {key}")
    app.screen.query_one("#prompt-input").value = value
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.screen is s, 30, "back on the Fleet screen")


# --- the pieces -------------------------------------------------------------------------------------------------


def test_fleet_run_and_check_argv_exactly():
    from workbench.ui.screens.fleet import FleetSettings, fleet_check_argv, fleet_run_argv

    assert fleet_run_argv("lab.ini", None, FleetSettings()) == ("fleet", "run", "-i", "lab.ini")  # bundled model
    s = FleetSettings(limit="orin_nx:!orin-nx-2", forks=2, force=True)
    assert fleet_run_argv("my lab/inv.yml", "models/my net.onnx", s) == (
        "fleet", "run", "-i", "my lab/inv.yml", "models/my net.onnx",
        "--limit", "orin_nx:!orin-nx-2", "--forks", "2", "--force",
    )  # fmt: skip
    # a leading '-' is never taken for an option: paths get './', a pattern is joined to its option
    assert fleet_run_argv("-inv.ini", "-m.onnx", FleetSettings(limit="-x")) == (
        "fleet", "run", "-i", "./-inv.ini", "./-m.onnx", "--limit=-x",
    )  # fmt: skip
    home = str(Path("~").expanduser())
    assert fleet_run_argv("~/lab.ini", None, FleetSettings()) == ("fleet", "run", "-i", f"{home}/lab.ini")
    assert fleet_check_argv("-lab inv.ini") == ("fleet", "check", "-i", "./-lab inv.ini", "--json")
    # the CLI's own parser takes them as meant (the screen's jobs run these argvs)
    from workbench.cli.main import build_parser

    ns = build_parser().parse_args(list(fleet_run_argv("-inv.ini", "-m.onnx", FleetSettings(limit="-x", forks=3))))
    assert (ns.inventory, ns.model, ns.limit, ns.forks) == ("./-inv.ini", "./-m.onnx", "-x", 3)
    ns = build_parser().parse_args(list(fleet_check_argv("-lab inv.ini")))
    assert ns.inventory == "./-lab inv.ini" and ns.json is True


def test_documents_read_back_and_a_bad_one_is_one_error_naming_it():
    from workbench.core.errors import WorkbenchError
    from workbench.ui.fleetdoc import fleet_run_from_dict, host_facts_from_doc

    doc = _doc()
    run = fleet_run_from_dict(doc["fleet"])
    assert run.to_dict() == {**doc["fleet"], "notes": []}  # a document from before notes reads back with none
    assert [(h.host, h.status, h.result_id, h.reused) for h in run.hosts] == [
        ("orin-nano", "ok", 41, False), ("orin-nx-1", "ok", 42, True),
        ("orin-nx-2", "unreachable", None, False), ("agx-orin", "ok", 43, False),
    ]  # fmt: skip
    facts = host_facts_from_doc(doc["check"])
    assert [f.to_dict() for f in facts] == doc["check"]["hosts"]
    # the bare list, and a key a newer `fleet check` adds, are read too
    assert host_facts_from_doc([{"host": "a", "reachable": 1, "gpu": "x"}])[0].reachable is True
    with pytest.raises(WorkbenchError, match=r"^job J: /j/o.json: not a fleet run \(a host has no key 'status'\)$"):
        fleet_run_from_dict({"hosts": [{"host": "a"}]}, "job J: /j/o.json")
    with pytest.raises(WorkbenchError, match=r"^/j/stdout: not a fleet run \(no list of hosts\)$"):
        fleet_run_from_dict({"hosts": "a"}, "/j/stdout")
    with pytest.raises(WorkbenchError, match=r"^X: host 2 is not a fleet check row \(needs 'host' and 'reachable'\)$"):
        host_facts_from_doc({"hosts": [{"host": "a", "reachable": True}, {"host": "b"}]}, "X")
    with pytest.raises(WorkbenchError, match=r"^X: not a fleet check document \(no list of hosts\)$"):
        host_facts_from_doc({"rows": []}, "X")


def test_cells_of_the_comparison_and_the_facts():
    from workbench.ui.screens.fleet import comparison_cells, error_lines, facts_cells, interval_cell, summary_text

    run, facts = recorded_fleet()
    nano, nx1, nx2, _agx = run.hosts
    assert [str(c) for c in comparison_cells(nano)] == [
        "orin-nano", "ok", "0.412\n0.409–0.416", "0.538\n0.521–0.566", "2398.0", "7.9", "3.29", "pass",
    ]  # fmt: skip
    assert [str(c) for c in comparison_cells(nx2)] == ["orin-nx-2", "unreachable", "-", "-", "-", "-", "-", "-"]
    from dataclasses import replace

    long_name = replace(nx2, host="lab-b-orin-nx-16gb-02\x1b[2J")  # cut, and its control character shown escaped
    assert str(comparison_cells(long_name)[0]) == "lab-b-orin-nx-1…"
    assert str(error_lines([long_name])).startswith("lab-b-orin-nx-16gb-02\\x1b[2J: unreachable: ssh:")
    # the interval's bounds keep the figure's decimals; a missing bound is "?", no interval shows the figure alone
    assert [str(interval_cell(v, ci)) for v, ci in ((0.188, [0.187, 0.19]), (4.31, [4.28, None]), (4.31, None),
                                                    (None, [1, 2]), (1234.5, [1200, 1300.5]))] == [
        "0.188\n0.187–0.190", "4.310\n4.280–?", "4.310", "-", "1234.5\n1200.0–1300.5"]  # fmt: skip
    assert str(summary_text(run, recorded=False)) == (
        "3 ok (1 collected, not run again) · 1 unreachable of 4 hosts · digits-cnn.onnx on inventory.ini"
    )
    assert str(error_lines(run.hosts)) == (
        "orin-nx-2: unreachable: ssh: connect to host 192.168.10.23 port 22: No route to host"
    )
    assert [str(c) for c in facts_cells(facts[0])] == [
        "orin-nano", "yes", "3.10.12", "0.1.0", "jetson-orin-nano", "6.2", "10.3.0", "41.7",
    ]  # fmt: skip
    bare = replace(facts[0], workbench=None, jetpack=None, free_disk_gib=None)
    assert [str(c) for c in facts_cells(bare)][3:] == ["none", "jetson-orin-nano", "L4T 36.4.3", "10.3.0", "-"]
    assert [str(c) for c in facts_cells(facts[2])] == ["orin-nx-2", "no", "-", "-", "-", "-", "-", "-"]


def test_jobs_list_lines_of_fleet_jobs(tmp_path):
    from workbench.core import jobs
    from workbench.ui.workers import job_outcome_line

    run = _job(tmp_path)
    jobs.write_outcome(run.dir, {"command": "fleet run", "fleet": _doc()["fleet"]})
    jobs.finish(run.dir, 1, [41, 43])  # a host was unreachable: the command exits 1, every host's row is kept
    assert job_outcome_line(run) == "fleet run: 3 ok · 1 unreachable of 4 hosts"
    check = _job(tmp_path, ("fleet", "check", "-i", "lab.ini", "--json"), "job-check")
    check.stdout_path.write_text("warning: something first\n" + json.dumps(_doc()["check"]) + "\n")
    jobs.finish(check.dir, 1, [])  # exit 1: a host could not be reached; the others are still reported
    assert job_outcome_line(check) == "fleet check: 3 of 4 hosts reachable"
    refused = _job(tmp_path, ("fleet", "check", "-i", "nowhere.ini", "--json"), "job-refused")
    refused.stderr_path.write_text("error: cannot read inventory nowhere.ini: no such file\n")
    jobs.finish(refused.dir, 2, [])
    assert job_outcome_line(refused) == "cannot read inventory nowhere.ini: no such file"


# --- the screen -------------------------------------------------------------------------------------------------


def test_recorded_fleet_shows_the_comparison_the_errors_and_the_facts_at_80x24():
    async def go():
        app = make_recorded_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await _to_fleet(pilot)
            await pilot.pause(0.2)
            s = app.screen
            return (
                _cells(s.query_one("#fleet-table")),
                text(s.query_one("#fleet-progress")),
                text(s.query_one("#fleet-notes")),
                _cells(s.query_one("#fleet-facts")),
                text(s.query_one("#fleet-facts-head")),
                screen_lines(app),
            )

    cells, progress, notes, facts, facts_head, lines = asyncio.run(go())
    assert cells == [
        ["orin-nano", "ok", "0.412\n0.409–0.416", "0.538\n0.521–0.566", "2398.0", "7.9", "3.29", "pass"],
        ["orin-nx-1", "ok", "0.301\n0.299–0.304", "0.402\n0.391–0.420", "3281.0", "11.6", "3.54", "pass"],
        ["orin-nx-2", "unreachable", "-", "-", "-", "-", "-", "-"],
        ["agx-orin", "ok", "0.188\n0.187–0.190", "0.251\n0.246–0.262", "5270.0", "19.4", "3.68", "pass"],
    ]
    assert progress == (
        "[recorded — not measured on this machine] 3 ok (1 collected, not run again) · 1 unreachable of 4 hosts · "
        "digits-cnn.onnx on inventory.ini"
    )
    assert notes == "orin-nx-2: unreachable: ssh: connect to host 192.168.10.23 port 22: No route to host"
    assert [c[:3] + c[4:6] for c in facts] == [
        ["orin-nano", "yes", "3.10.12", "jetson-orin-nano", "6.2"],
        ["orin-nx-1", "yes", "3.10.12", "jetson-orin-nx", "6.2"],
        ["orin-nx-2", "no", "-", "-", "-"],
        ["agx-orin", "yes", "3.10.12", "jetson-agx-orin", "6.1"],
    ]
    assert facts_head == "[recorded — not measured on this machine] fleet check: 3 of 4 hosts reachable"
    # at 80 columns the facts' short headers: every column whole on screen, the unreachable host's error under them
    (header,) = [ln for ln in lines if ln.lstrip().startswith("host") and "Python" in ln]
    assert header.split() == ["host", "up", "Python", "workbench", "profile", "JP", "TRT", "free", "GiB"]
    assert any(ln.rstrip().endswith("312.5") and "agx-orin" in ln for ln in lines)
    assert any("hosts reachable" in ln for ln in lines) and len(lines) == 24
    assert any(ln.startswith(" 3 ok (1 collected") or "[recorded — not measured on this machine] 3 ok" in ln
               for ln in lines)  # fmt: skip
    # twelve screens in 80 columns, every key and name whole; the comparison's last column is on screen
    assert lines[0] == "1 Model 2 Prof 3 Prec 4 Cal 5 Bld 6 Bench 7 Res 8 Pwr 9 Tune 0 Flt j Jobs d Dash"
    assert any(ln.rstrip().endswith("pass") and "orin-nano" in ln for ln in lines)
    assert any("orin-nx-2: unreachable: ssh: connect" in ln for ln in lines)


def test_nav_bar_and_facts_show_the_full_names_where_they_fit():
    async def go():
        app = make_recorded_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await _to_fleet(pilot)
            facts = app.screen.query_one("#fleet-facts")
            return screen_lines(app)[0], [str(c.label) for c in facts.ordered_columns]

    nav, headers = asyncio.run(go())
    assert nav == (
        "1 Model 2 Profile 3 Precision 4 Calibrate 5 Build 6 Benchmark 7 Results 8 Power sweep 9 Tune 0 Fleet j Jobs "
        "d Dashboard"
    )
    assert headers == ["host", "up", "Python", "workbench", "profile", "JetPack", "TensorRT", "free GiB"]


def test_fleet_run_job_events_drive_host_states_and_the_comparison(tmp_path, monkeypatch):
    from workbench.core import jobs
    from workbench.core.bench import events as ev

    inventory = tmp_path / "my lab.ini"
    inventory.write_text("[boards]\n")
    job = _job(tmp_path)
    started: list[list[str]] = []

    def fake_start(argv, **_kw):
        started.append(list(argv))
        return job

    monkeypatch.setattr(jobs, "start", fake_start)
    run, _ = recorded_fleet()
    nano, nx1, nx2, agx = run.hosts
    seen: dict[str, object] = {}

    async def go():
        app = make_recorded_app()
        app.state.fleet = None  # no recorded run on this screen: the job's outcome is what shows
        async with app.run_test(size=(120, 40)) as pilot:
            await _to_fleet(pilot)
            s = app.screen
            await pilot.press("s")  # no inventory yet: a notice, nothing starts
            await pilot.pause(0.1)
            seen["without inventory"] = (list(started), app.busy)
            await _answer_prompt(pilot, "i", str(tmp_path / "nowhere.ini"))  # refused: not there
            seen["missing"] = app.state.fleet_inventory
            await _answer_prompt(pilot, "i", str(inventory))
            await _answer_prompt(pilot, "l", "boards")
            await _answer_prompt(pilot, "n", "3")
            await pilot.press("f")
            seen["settings"] = text(s.query_one("#fleet-settings"))
            await pilot.press("s")
            await wait_for(pilot, lambda: started and app.busy == "fleet", 30, "the fleet job started")
            for host in ("orin-nano", "orin-nx-1", "orin-nx-2", "agx-orin"):
                jobs.append_event(job.dir, ev.FleetHostState(host, "pending"))
            jobs.append_event(job.dir, ev.FleetHostState("orin-nano", "copying", "digits-cnn.onnx (changed)"))
            jobs.append_event(job.dir, ev.FleetHostState("agx-orin", "running", "job 20261203-101503-77c0de"))
            jobs.append_event(job.dir, ev.FleetHostDone(nx2.to_dict()))
            jobs.append_event(job.dir, ev.FleetHostDone(nx1.to_dict()))
            table = s.query_one("#fleet-table")
            await wait_for(pilot, lambda: "2 of 4 hosts done" in text(s.query_one("#fleet-progress")), 30, "progress")
            seen["live"] = _cells(table)
            seen["progress"] = text(s.query_one("#fleet-progress"))
            seen["status"] = text(s.query_one("#status"))
            # the job ends: its outcome, then its status (1: a host was unreachable; the others' rows still count)
            jobs.write_outcome(job.dir, {"command": "fleet run", "fleet": run.to_dict()})
            jobs.finish(job.dir, 1, [41, 43])
            await wait_idle(pilot, 60)
            return _cells(table), text(s.query_one("#fleet-progress")), text(s.query_one("#fleet-notes")), app

    cells, progress, notes, app = asyncio.run(go())
    assert seen["without inventory"] == ([], None)
    assert seen["missing"] is None
    assert started == [["fleet", "run", "-i", str(inventory), "--limit", "boards", "--forks", "3", "--force"]]
    assert seen["settings"].startswith(f"inventory {inventory} (i) · limit boards (l) · forks 3 (n) · force on (f)")
    assert seen["live"] == [
        ["orin-nano", "copying", "digits-cnn.onnx (changed)"],
        ["orin-nx-1", "ok", "result 42 · p50 0.301 ms · p99 0.402 ms · collected"],
        ["orin-nx-2", "unreachable", "ssh: connect to host 192.168.10.23 port 22: No route to host"],
        ["agx-orin", "running", "job 20261203-101503-77c0de"],
    ]
    assert seen["progress"].startswith("2 of 4 hosts done · copying 1 · running 1 · job 20261203-120000-f1ee7a: ")
    assert str(seen["status"]).startswith("running: fleet (x cancels)")
    assert [c[:2] for c in cells] == [["orin-nano", "ok"], ["orin-nx-1", "ok"], ["orin-nx-2", "unreachable"],
                                      ["agx-orin", "ok"]]  # fmt: skip
    assert cells[3][2:] == ["0.188\n0.187–0.190", "0.251\n0.246–0.262", "5270.0", "19.4", "3.68", "pass"]
    assert progress == "3 ok (1 collected, not run again) · 1 unreachable of 4 hosts · digits-cnn.onnx on inventory.ini"
    assert notes.startswith("orin-nx-2: unreachable: ssh: connect")
    assert app.state.fleet.to_dict() == run.to_dict() and not app.state.fleet_recorded
    assert app.state.fleet_inventory == str(inventory)  # remembered in the app state


def test_x_cancels_the_fleet_run_and_keeps_the_hosts_it_finished(tmp_path, monkeypatch):
    from dataclasses import replace

    from workbench.core import jobs
    from workbench.core.bench import events as ev

    inventory = tmp_path / "lab.ini"
    inventory.write_text("[boards]\n")
    job = _job(tmp_path)
    run, _ = recorded_fleet()
    partial = replace(run, hosts=(run.hosts[0], replace(run.hosts[3], status="failed", error="cancelled")))
    cancels: list[str] = []

    def fake_cancel(j, *_a):  # what the job does on SIGINT: writes the hosts it has, ends as cancelled (130)
        cancels.append(j.id)
        jobs.write_outcome(j.dir, {"command": "fleet run", "fleet": partial.to_dict()})
        jobs.finish(j.dir, 130, [41])
        return True

    monkeypatch.setattr(jobs, "start", lambda argv, **_kw: job)
    monkeypatch.setattr(jobs, "cancel", fake_cancel)

    async def go():
        app = make_recorded_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await _to_fleet(pilot)
            app.state.fleet_inventory = str(inventory)
            s = app.screen
            await pilot.press("s")
            jobs.append_event(job.dir, ev.FleetHostDone(run.hosts[0].to_dict()))
            await wait_for(pilot, lambda: "1 of 1 hosts done" in text(s.query_one("#fleet-progress")), 30, "a host")
            await pilot.press("x")
            await wait_idle(pilot, 60)
            return _cells(s.query_one("#fleet-table")), text(s.query_one("#fleet-notes")), app.state.fleet

    cells, notes, state = asyncio.run(go())
    assert cancels == [job.id]
    assert [c[:2] for c in cells] == [["orin-nano", "ok"], ["agx-orin", "failed"]]
    assert notes == "agx-orin: failed: cancelled"
    assert state.to_dict() == partial.to_dict()


def test_fleet_check_job_shows_the_facts_it_printed(tmp_path, monkeypatch):
    from workbench.core import jobs

    inventory = tmp_path / "lab.yml"
    inventory.write_text("all: {}\n")
    job = _job(tmp_path, ("fleet", "check"))
    started: list[list[str]] = []

    def fake_start(argv, **_kw):
        started.append(list(argv))
        return job

    monkeypatch.setattr(jobs, "start", fake_start)

    async def go():
        app = make_recorded_app()
        app.state.fleet_facts = ()
        async with app.run_test(size=(80, 24)) as pilot:
            await _to_fleet(pilot)
            s = app.screen
            before = (s.query_one("#fleet-facts").display, text(s.query_one("#fleet-facts-head")))
            app.state.fleet_inventory = str(inventory)
            await pilot.press("c")
            await wait_for(pilot, lambda: started and app.busy == "fleet check", 30, "the check job started")
            job.stdout_path.write_text(json.dumps(_doc()["check"], indent=1) + "\n")
            jobs.finish(job.dir, 1, [])  # exit 1, as `fleet check` ends when a host could not be reached
            await wait_idle(pilot, 60)
            return before, _cells(s.query_one("#fleet-facts")), text(s.query_one("#fleet-facts-head")), app

    before, cells, head, app = asyncio.run(go())
    assert before == (False, "no host check yet: c checks every host (reachable, versions, disk)")
    assert started == [["fleet", "check", "-i", str(inventory), "--json"]]
    assert [c[0] for c in cells] == ["orin-nano", "orin-nx-1", "orin-nx-2", "agx-orin"]
    assert cells[3] == ["agx-orin", "yes", "3.10.12", "0.1.0", "jetson-agx-orin", "6.1", "10.3.0", "312.5"]
    assert head == "fleet check: 3 of 4 hosts reachable"
    assert not app.state.fleet_facts_recorded and app.state.fleet_facts[2].error.startswith("ssh: connect")


def test_a_fleet_job_that_fails_is_one_line_and_the_app_goes_on(tmp_path, monkeypatch):
    """A real job whose command line the CLI refuses (what `workbench fleet run` gets before the command exists, and
    an unknown option after): the screen says "failed: …" with the parser's message; nothing is left running."""
    import workbench.ui.screens.fleet as fleet_screen

    inventory = tmp_path / "lab.ini"
    inventory.write_text("[boards]\n")
    monkeypatch.setattr(fleet_screen, "fleet_run_argv", lambda *a: ("fleet", "run", "--no-such-option-of-the-tui"))

    async def go():
        app = make_recorded_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await _to_fleet(pilot)
            app.state.fleet_inventory = str(inventory)
            await pilot.press("s")
            await wait_for(pilot, lambda: app.busy == "fleet", 30, "the job started")
            await wait_idle(pilot, 120)
            notes = text(app.screen.query_one("#fleet-notes"))
            await pilot.press("1")
            await wait_for(pilot, lambda: app.current_mode == "model", 30, "the Model screen")
            return notes, [j.state() for j in app.own_jobs.values()]

    notes, states = asyncio.run(go())
    assert notes.startswith("failed: ") and ("fleet" in notes or "no-such-option" in notes), notes
    assert "\n" not in notes and "Traceback" not in notes
    assert states == ["failed"]


def test_a_finished_fleet_job_re_attached_from_the_jobs_list_shows_its_comparison(tmp_path):
    from workbench.core import jobs
    from workbench.core.bench import events as ev

    job = _job(tmp_path, ("fleet", "run", "-i", "lab.ini"))
    run, _ = recorded_fleet()
    for h in run.hosts:
        jobs.append_event(job.dir, ev.FleetHostDone(h.to_dict()))
    jobs.write_outcome(job.dir, {"command": "fleet run", "fleet": run.to_dict()})
    jobs.finish(job.dir, 1, [41, 43])

    async def go():
        app = make_recorded_app()
        app.state.fleet = None
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_idle(pilot)
            app.attach_job(job)
            await wait_for(pilot, lambda: app.current_mode == "fleet", 30, "the Fleet screen")
            await wait_idle(pilot, 60)
            return _cells(app.screen.query_one("#fleet-table")), app.state.fleet, app.state.fleet_recorded

    cells, state, recorded = asyncio.run(go())
    assert [c[1] for c in cells] == ["ok", "ok", "unreachable", "ok"]
    assert state.to_dict() == run.to_dict() and not recorded


def test_x_on_a_run_that_wrote_nothing_says_the_remote_jobs_go_on(tmp_path, monkeypatch):
    """Cancelled before any host finished (no outcome written): the note says the boards' jobs go on and that
    running again collects them — only the follower stopped."""
    from workbench.core import jobs

    inventory = tmp_path / "lab.ini"
    inventory.write_text("[boards]\n")
    job = _job(tmp_path)

    def fake_cancel(j, *_a):  # the job on SIGINT: its Cancelled error, exit 130, no outcome
        j.stderr_path.write_text("error: fleet run cancelled: benchmark jobs it already started on the hosts go on\n")
        jobs.finish(j.dir, 130, [])
        return True

    monkeypatch.setattr(jobs, "start", lambda argv, **_kw: job)
    monkeypatch.setattr(jobs, "cancel", fake_cancel)

    async def go():
        app = make_recorded_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await _to_fleet(pilot)
            app.state.fleet_inventory = str(inventory)
            await pilot.press("s")
            await wait_for(pilot, lambda: app.busy == "fleet", 30, "the job started")
            await pilot.press("x")
            await wait_idle(pilot, 60)
            return text(app.screen.query_one("#fleet-notes"))

    notes = asyncio.run(go())
    assert notes.startswith("stopped: "), notes
    assert notes.endswith("benchmark jobs already started on the hosts go on there: s runs again and collects them")
