"""Tune screen (9): the recorded example tune (table with the front, recommendation, front plot), a tune job followed
through its events (progress with candidates done / left and ETA, rows as candidates end, the result at the end), x
cancelling it, a job that fails (as `workbench tune` does before the command exists) shown as one line, re-attaching
a finished tune job from the Jobs list, and the pieces: the job's argv, the outcome document read back, the plot's
points, the table's cells.

The followed job is a real job folder (events.jsonl written with core/bench/events.encode through jobs.append_event,
outcome.json, status.json) whose process is faked: ``FakeTuneJob`` runs until the test writes its status."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tui_helpers import FIXTURES, make_recorded_app, recorded_tune, text, wait_for, wait_idle  # noqa: E402

from workbench.core.jobs import Job  # noqa: E402


@dataclass(frozen=True)
class FakeTuneJob(Job):
    """A job whose runner is "alive" until its status.json exists; never signalled (not a runner of ours)."""

    def alive(self) -> bool:
        return True

    def runner_is_ours(self) -> bool | None:
        return False


def _job(tmp_path: Path, argv=("tune",)) -> FakeTuneJob:
    d = tmp_path / "job-tune"
    d.mkdir(mode=0o700)
    return FakeTuneJob("20250101-000000-abcdef", d, tuple(argv), None, "2025-01-01T00:00:00Z", str(Path.cwd()))


def _cells(table) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(k)] for k in range(table.row_count)]


def _example_doc() -> dict:
    doc = json.loads((FIXTURES / "tune-example.json").read_text())
    doc.pop("note")
    return doc


# --- the pieces -------------------------------------------------------------------------------------------------


def test_outcome_document_reads_back_to_the_same_result():
    from workbench.ui.tunedoc import tune_result_from_dict

    doc = _example_doc()
    res = tune_result_from_dict(doc)
    assert res.to_dict() == doc  # every field, the front and the recommendation included
    assert len(res.front) == 3 and res.recommendation.result_id == 108
    assert res.recommendation.candidate.label() == "INT8 per-tensor U8S8 QDQ (minmax), 2 layers FP32, 2 threads"


def test_a_document_that_is_not_a_tune_result_is_one_error_naming_the_file():
    from workbench.core.errors import WorkbenchError
    from workbench.ui.tunedoc import tune_result_from_dict

    doc = _example_doc()
    del doc["candidates"][0]["candidate"]
    with pytest.raises(WorkbenchError, match=r"^job X: /j/outcome.json: not a tune result \(no key 'candidate'\)$"):
        tune_result_from_dict(doc, "job X: /j/outcome.json")
    with pytest.raises(WorkbenchError, match="not a tune result"):
        tune_result_from_dict({"candidates": [{"candidate": {"precision": "int8"}, "status": "measured",
                                               "p50_ms": "fast"}], "budget_s": "soon"})  # fmt: skip


def test_tune_argv_takes_the_model_options_and_the_screen_settings():
    from workbench.core.job import JobRequest
    from workbench.ui.screens.tune import TuneSettings, tune_argv

    req = JobRequest(model="m.onnx", profile="cpu-x86_64", precision="int8", method="entropy", threads=3, batch=4)
    argv = tune_argv(req, Path("/d/calib"), Path("/d/eval"), TuneSettings(objective="energy", budget_min=0.25))
    # precision, method, threads and batch are what the tune searches: not passed
    assert argv == ("tune", "m.onnx", "--profile", "cpu-x86_64", "--calib", "/d/calib", "--eval", "/d/eval",
                    "--min-cosine", "0.98", "--objective", "energy", "--budget-min", "0.25")  # fmt: skip
    s = TuneSettings(max_drop_pts=1.0, p99_max_ms=5.0, power_max_w=10.0)
    argv = tune_argv(JobRequest(model="-m.onnx"), "c", "e", s)
    assert argv == ("tune", "./-m.onnx", "--calib", "c", "--eval", "e", "--max-drop", "1.0", "--p99-max", "5.0",
                    "--power-max", "10.0", "--objective", "p50", "--budget-min", "12.0")  # fmt: skip
    # the CLI's own parser takes both (the screen's job runs this argv)
    from workbench.cli.main import build_parser

    ns = build_parser().parse_args(list(argv))
    assert (ns.model, ns.max_drop, ns.p99_max, ns.power_max, ns.budget_min) == ("./-m.onnx", 1.0, 5.0, 10.0, 12.0)
    ns = build_parser().parse_args(list(tune_argv(req, Path("/d/calib"), Path("/d/eval"), TuneSettings())))
    assert ns.min_cosine == 0.98 and ns.calib == "/d/calib" and ns.objective == "p50"


def test_plot_points_marks_front_recommendation_and_unmeasured_rows():
    from dataclasses import replace

    from workbench.ui.widgets.tune_plot import legend, plot_data

    res = recorded_tune()
    outs = list(res.outcomes)
    outs[4] = replace(outs[4], measured=False, provenance="recorded")
    marks = {o.candidate.key: m for o, m in zip(outs, "123456", strict=True)}
    rec = res.recommendation.candidate.key
    data = plot_data(outs, marks, res.front, rec, "p50")
    # the rejected candidate (6) has no latency: left out
    assert [(p.mark, p.x, p.ms, p.front, p.recommended, p.measured) for p in data.points] == [
        ("1", 1.0, 8.2, True, False, True),
        ("2", 0.9912, 4.31, True, True, True),
        ("3", 0.9957, 4.52, True, False, True),
        ("4", 0.989, 4.62, False, False, True),
        ("5", 0.9901, 10.1, False, False, False),
    ]
    assert (data.x_name, data.y_name, data.energy) == ("cosine min", "p50 ms", False)
    assert str(legend(data)) == "p50 ms ↑ vs cosine min → · front · 2 recommended · not measured"
    p99 = plot_data(outs, marks, res.front, rec, "p99", label="recorded")
    assert [p.ms for p in p99.points][:2] == [9.1, 4.9] and str(legend(p99)).startswith("[recorded] p99 ms ↑")


def test_row_cells_carry_the_front_the_reason_and_a_recorded_label():
    from dataclasses import replace

    from workbench.core.bench.events import TuneProgress
    from workbench.ui.screens.tune import duration, progress_text, row_cells

    res = recorded_tune()
    fp32, rec, *_, rejected = res.outcomes
    assert [str(c) for c in row_cells(rec, "2", front=True, recommended=True, use_drop=False)] == [
        "2★", "confirmed", "4.310", "4.900", "0.9912", "n/a", "n/a",
        "INT8 per-tensor U8S8 QDQ (minmax), 2 layers FP32, 2 threads",
    ]  # fmt: skip
    cells = [str(c) for c in row_cells(rejected, "6", front=False, recommended=False, use_drop=False)]
    assert cells[:5] == ["6", "rejected", "n/a", "n/a", "0.9420"]
    assert cells[-1] == "INT8 per-tensor U8S8 QDQ (minmax), 2 threads — min cosine 0.942 < 0.98"
    replayed = replace(fp32, measured=False, provenance="recorded", top1_drop_pts=0.0, mean_power_w=7.5)
    cells = [str(c) for c in row_cells(replayed, "1", front=False, recommended=False, use_drop=True)]
    assert cells[1] == "confirmed [recorded]" and cells[4] == "0.00 pt" and cells[5] == "7.5"
    assert progress_text(TuneProgress(4, 8, 200.0, "measuring X")) == "4 done · 8 left · ETA 3 min 20 s — measuring X"
    assert progress_text(TuneProgress(0, 9, None, "")) == "0 done · 9 left · ETA after the first candidate"
    assert [duration(s) for s in (None, 0.4, 59.6, 3599, 3725)] == ["—", "0 s", "1 min 00 s", "59 min 59 s",
                                                                    "1 h 02 min"]  # fmt: skip


# --- the screen -------------------------------------------------------------------------------------------------


def test_recorded_tune_shows_table_front_recommendation_and_plot():
    from workbench.ui.widgets.tune_plot import TunePlot

    async def go():
        app = make_recorded_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_idle(pilot)
            await pilot.press("9")
            await wait_for(pilot, lambda: app.current_mode == "tune", 30, "the Tune screen")
            await pilot.pause(0.2)
            s = app.screen
            return (
                _cells(s.query_one("#tune-table")),
                text(s.query_one("#tune-progress")),
                text(s.query_one("#tune-rec")),
                s.query_one(TunePlot).legend_text(),
                str(s.query_one("#tune-plot-canvas").render()),
            )

    cells, progress, rec, legend, canvas = asyncio.run(go())
    assert [c[:5] for c in cells] == [
        ["1★", "confirmed", "8.200", "9.100", "1.0000"],
        ["2★", "confirmed", "4.310", "4.900", "0.9912"],
        ["3★", "confirmed", "4.520", "5.120", "0.9957"],
        ["4", "measured", "4.620", "5.300", "0.9890"],
        ["5", "measured", "10.100", "11.000", "0.9901"],
        ["6", "rejected", "n/a", "n/a", "0.9420"],
    ]
    assert progress == (
        "[recorded — not measured on this machine] stopped at the budget: 6 of 6 candidates in 11 min 42 s "
        "(budget 12 min 00 s) · objective p50"
    )
    assert rec.splitlines() == [
        "Recommendation: 2 INT8 per-tensor U8S8 QDQ (minmax), 2 layers FP32, 2 threads (result 108)",
        "  1.90× faster than FP32: p50 4.31 ms (95 % CI 4.28–4.35) vs 8.20 ms",
        "  min cosine 0.9912 ≥ 0.98; faster than INT8 per-channel (3) beyond the noise",
        "Tuned profile: profiles/tuned-digits-cnn.toml (bench/build/run --profile PATH)",
    ]
    assert legend == "[recorded] p50 ms ↑ vs cosine min → · front · 2 recommended"
    assert all(m in canvas for m in "12345") and "6" not in canvas.split("\n")[0]  # every measured mark is drawn


def test_tune_job_events_drive_progress_rows_and_the_result(tmp_path, monkeypatch):
    from dataclasses import replace

    from workbench.core import jobs
    from workbench.core.bench import events as ev
    from workbench.core.live import dataset_for
    from workbench.core.progress import Progress
    from workbench.ui.widgets.tune_plot import TunePlot

    job = _job(tmp_path)
    started: list[list[str]] = []

    def fake_start(argv, **_kw):
        started.append(list(argv))
        return job

    monkeypatch.setattr(jobs, "start", fake_start)
    res = recorded_tune()
    progress_seen: dict[str, str] = {}

    async def go():
        app = make_recorded_app()
        app.state.tune = None  # no recorded tune on this screen: the job's result is what shows
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_idle(pilot)
            await pilot.press("9")
            await wait_for(pilot, lambda: app.current_mode == "tune", 30, "the Tune screen")
            s = app.screen
            await pilot.press("o")  # p50 -> p99
            await pilot.press("b")
            await wait_for(pilot, lambda: app.screen is not s, 30, "the budget prompt")
            inp = app.screen.query_one("#prompt-input")
            inp.value = "0.5"
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.screen is s, 30, "back on the Tune screen")
            await pilot.press("s")
            await wait_for(pilot, lambda: started and app.busy == "tune", 30, "the tune job started")
            calib, eval_ = dataset_for(app.state.job, "calib"), dataset_for(app.state.job, "eval")
            jobs.append_progress(job.dir, Progress("accuracy", "INT8 per-channel: cosine on 200 samples"))
            short_run = replace(res.outcomes[0], status="measured", p50_ci95_ms=None)
            jobs.append_event(job.dir, ev.TuneCandidateDone(short_run.to_dict()))
            jobs.append_event(job.dir, ev.TuneCandidateDone(res.outcomes[0].to_dict()))  # confirmed: replaces it
            jobs.append_event(job.dir, ev.TuneCandidateDone(res.outcomes[5].to_dict()))
            jobs.append_event(job.dir, ev.TuneProgress(2, 4, 200.0, "measuring INT8 per-channel U8S8 QDQ"))
            await wait_for(pilot, lambda: s.query_one("#tune-table").row_count == 2, 30, "two rows")
            await wait_for(pilot, lambda: "2 done" in text(s.query_one("#tune-progress")), 30, "the progress")
            progress_seen["line"] = text(s.query_one("#tune-progress"))
            progress_seen["status"] = text(s.query_one("#status"))
            live_cells = _cells(s.query_one("#tune-table"))
            live_legend = s.query_one(TunePlot).legend_text()
            # the job ends: its outcome, then its status
            jobs.write_outcome(job.dir, {"command": "tune", "tune": res.to_dict()})
            jobs.finish(job.dir, 0, [108])
            await wait_idle(pilot, 60)
            done_line = text(s.query_one("#tune-progress"))
            app.prepare = lambda: None  # the example's profile file is not on disk: only the request matters here
            await pilot.press("u")
            return (
                started[0], calib, eval_, live_cells, live_legend,
                _cells(s.query_one("#tune-table")), text(s.query_one("#tune-rec")),
                s.query_one(TunePlot).legend_text(), app.state.tune, app.state.tune_recorded,
                done_line, app.state.request.profile,
            )  # fmt: skip

    argv, calib, eval_, live, live_legend, cells, rec, legend, state, recorded, done_line, profile = asyncio.run(go())
    assert argv == ["tune", "--profile", "cpu-x86_64", "--calib", str(calib), "--eval", str(eval_),
                    "--min-cosine", "0.98", "--objective", "p99", "--budget-min", "0.5"]  # fmt: skip
    assert progress_seen["line"] == "2 done · 4 left · ETA 3 min 20 s — measuring INT8 per-channel U8S8 QDQ"
    assert progress_seen["status"].startswith("running: tune (x cancels)")
    assert [c[:2] for c in live] == [["1", "confirmed"], ["2", "rejected"]]  # no front before the end
    assert live_legend == "p99 ms ↑ vs cosine min → · front"
    assert len(cells) == 6 and cells[1][0] == "2★" and cells[3][0] == "4"
    assert rec.startswith("Recommendation: 2 INT8 per-tensor U8S8 QDQ (minmax), 2 layers FP32, 2 threads")
    assert "Tuned profile: profiles/tuned-digits-cnn.toml" in rec
    assert legend == "p50 ms ↑ vs cosine min → · front · 2 recommended"  # the result's objective (p50)
    assert state.to_dict() == res.to_dict() and not recorded
    assert done_line.startswith("stopped at the budget: 6 of 6 candidates")
    assert profile == "profiles/tuned-digits-cnn.toml"  # u: the app's profile is now the tuned one (a path)


def test_x_cancels_the_tune_job_and_keeps_the_candidates_it_measured(tmp_path, monkeypatch):
    from dataclasses import replace

    from workbench.core import jobs
    from workbench.core.bench import events as ev

    job = _job(tmp_path)
    res = recorded_tune()
    partial = replace(res, outcomes=res.outcomes[:2], front=res.front[:2], recommendation=None,
                      no_recommendation="cancelled before a confirmation run", stopped="cancelled",
                      profile_path=None)  # fmt: skip
    cancels: list[str] = []

    def fake_cancel(j, *_a):  # what the job does on SIGINT: writes what it has, ends as cancelled (130)
        cancels.append(j.id)
        jobs.write_outcome(j.dir, {"command": "tune", "tune": partial.to_dict()})
        jobs.finish(j.dir, 130, [])
        return True

    monkeypatch.setattr(jobs, "start", lambda argv, **_kw: job)
    monkeypatch.setattr(jobs, "cancel", fake_cancel)

    async def go():
        app = make_recorded_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_idle(pilot)
            await pilot.press("9")
            await wait_for(pilot, lambda: app.current_mode == "tune", 30, "the Tune screen")
            s = app.screen
            await pilot.press("s")
            jobs.append_event(job.dir, ev.TuneCandidateDone(res.outcomes[0].to_dict()))
            await wait_for(pilot, lambda: s.query_one("#tune-table").row_count == 1, 30, "the first row")
            await pilot.press("x")
            await wait_idle(pilot, 60)
            return text(s.query_one("#tune-progress")), text(s.query_one("#tune-rec")), app.state.tune

    progress, rec, state = asyncio.run(go())
    assert cancels == [job.id]
    assert progress.startswith("cancelled: 2 of 2 candidates")
    assert rec == "No recommendation: cancelled before a confirmation run"
    assert state.stopped == "cancelled" and len(state.outcomes) == 2


def test_a_tune_job_that_fails_is_one_line_and_the_app_goes_on(monkeypatch):
    """A real job whose command line the CLI refuses (what `workbench tune` gets before the command exists, and an
    unknown option after): the screen says "failed: …" with the parser's message; nothing is left running."""
    import workbench.ui.screens.tune as tune_screen

    monkeypatch.setattr(tune_screen, "tune_argv", lambda *a: ("tune", "--no-such-option-of-the-tui-test"))

    async def go():
        app = make_recorded_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_idle(pilot)
            await pilot.press("9")
            await wait_for(pilot, lambda: app.current_mode == "tune", 30, "the Tune screen")
            await pilot.press("s")
            await wait_for(pilot, lambda: app.busy == "tune", 30, "the job started")
            await wait_idle(pilot, 120)
            rec = text(app.screen.query_one("#tune-rec"))
            await pilot.press("1")
            await wait_for(pilot, lambda: app.current_mode == "model", 30, "the Model screen")
            return rec, [j.state() for j in app.own_jobs.values()]

    rec, states = asyncio.run(go())
    assert rec.startswith("failed: ") and ("tune" in rec or "no-such-option" in rec), rec
    assert "Traceback" not in rec
    assert states == ["failed"]


def test_a_finished_tune_job_re_attached_from_the_jobs_list_shows_its_result(tmp_path):
    from workbench.core import jobs
    from workbench.core.bench import events as ev

    job = _job(tmp_path)
    res = recorded_tune()
    for o in res.outcomes:
        jobs.append_event(job.dir, ev.TuneCandidateDone(o.to_dict()))
    jobs.write_outcome(job.dir, {"command": "tune", "tune": res.to_dict()})
    jobs.finish(job.dir, 0, [])

    async def go():
        app = make_recorded_app()
        app.state.tune = None
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_idle(pilot)
            app.attach_job(job)
            await wait_for(pilot, lambda: app.current_mode == "tune", 30, "the Tune screen")
            await wait_idle(pilot, 60)
            return text(app.screen.query_one("#tune-rec")), app.state.tune, app.state.tune_recorded

    rec, state, recorded = asyncio.run(go())
    assert rec.startswith("Recommendation: 2 INT8 per-tensor")
    assert state.to_dict() == res.to_dict() and not recorded


def test_jobs_list_line_of_a_tune_job(tmp_path):
    from workbench.core import jobs
    from workbench.ui.workers import job_outcome_line

    job = _job(tmp_path)
    jobs.write_outcome(job.dir, {"command": "tune", "tune": recorded_tune().to_dict()})
    jobs.finish(job.dir, 0, [])
    assert job_outcome_line(job) == "tune: INT8 per-tensor U8S8 QDQ (minmax), 2 layers FP32, 2 threads; 6 candidates"


def test_energy_panel_appears_below_the_latency_panel_when_energy_is_measured():
    """The same canvas first draws one panel (no energy), then two: latency on top, mJ below, same marks."""
    from dataclasses import replace

    from workbench.ui.messages import Change
    from workbench.ui.widgets.tune_plot import TunePlot

    res = recorded_tune()
    mj = {0: 61.0, 1: 30.5, 2: 33.0, 3: 34.1, 4: 75.2}
    with_energy = replace(
        res, outcomes=tuple(replace(o, mj_per_inference=mj.get(k)) for k, o in enumerate(res.outcomes))
    )

    async def go():
        app = make_recorded_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_idle(pilot)
            await pilot.press("9")
            await wait_for(pilot, lambda: app.current_mode == "tune", 30, "the Tune screen")
            canvas = app.screen.query_one("#tune-plot-canvas")
            before = str(canvas.render())
            app.state.tune = with_energy
            app.changed(Change.TUNE)
            await wait_for(pilot, lambda: "mJ below" in app.screen.query_one(TunePlot).legend_text(), 30, "legend")
            return before, str(canvas.render())

    before, after = asyncio.run(go())
    assert "mJ" not in before
    lines = after.splitlines()
    mj_rows = [k for k, ln in enumerate(lines) if "mJ" in ln]
    latency_rows = [k for k, ln in enumerate(lines) if "10.4" in ln or "4.02" in ln]  # the latency axis' ticks
    assert mj_rows and latency_rows and max(latency_rows) < min(mj_rows)  # latency on top, energy below
    assert sum("1" in ln for ln in lines[min(mj_rows) :]) >= 1  # FP32's mark drawn in the energy panel too
