"""Keyboard behaviour: help, quit, quit-while-running, key remapping, palette, errors shown in the app."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tui_helpers import make_recorded_app, rich_text, text, wait_for, wait_idle  # noqa: E402


def run(coro):
    return asyncio.run(coro)


@pytest.mark.parametrize("key", ["question_mark", "f1"])
@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_help_opens_with_title_lists_keys_and_escape_closes(key, size):
    from workbench.ui.screens.help import HelpScreen

    async def go():
        app = make_recorded_app()
        async with app.run_test(size=size) as pilot:
            await wait_idle(pilot)
            await pilot.press("6")
            await pilot.press(key)
            assert isinstance(app.screen, HelpScreen)
            assert text(app.screen.query_one("#help-title")) == "Help"
            rows = rich_text(app.screen.query_one("#help-keys"))
            assert "bench.start" in rows and "app.quit" in rows and "screen.results" in rows
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)
            assert app.current_mode == "bench"

    run(go())


def test_ctrl_q_quits_at_once_with_status_0_when_idle():
    async def go():
        app = make_recorded_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_idle(pilot)
            await pilot.press("ctrl+q")
        return app.return_code

    assert run(go()) == 0


def test_ctrl_q_while_benchmark_runs_asks_and_escape_stays_then_x_cancels_the_job():
    from workbench.core import jobs
    from workbench.ui.screens.dialogs import JobsQuitScreen

    async def go():
        app = make_recorded_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_idle(pilot)
            await pilot.press("6", "right_square_bracket", "right_square_bracket")  # 10 s: long enough to interrupt
            assert app.state.job.request.duration_s == 10.0
            await pilot.press("s")
            await wait_for(pilot, lambda: app.screen.live.snapshot().iterations > 0, 60, "samples")
            await pilot.press("ctrl+q")
            assert isinstance(app.screen, JobsQuitScreen)
            await pilot.press("escape")  # stay
            assert not isinstance(app.screen, JobsQuitScreen)
            assert app.busy == "bench"
            await pilot.press("x")  # cancels the job
            await wait_idle(pilot, 60)
            summary = text(app.screen.query_one("#bench-summary"))
            assert summary.startswith("stopped: job ") and summary.endswith(" cancelled")
            assert app.state.last_result is not None and app.state.recorded_result  # still the recorded one
            await pilot.press("ctrl+q")  # nothing of ours runs: quits at once
        return app.return_code

    assert run(go()) == 0
    (job,) = jobs.list_jobs()
    assert job.state() == "cancelled" and jobs.result_ids(job.dir) == []


def test_keymap_file_remaps_by_binding_id_and_reports_unknown_ids(workbench_home):
    cfg = workbench_home / "config"
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "keymap.toml").write_text('[keys]\n"screen.bench" = "b"\n"bench.start" = "g"\n"no.such.id" = "z"\n')

    async def go():
        app = make_recorded_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_idle(pilot)
            assert any("no.such.id" in p for p in app.keymap_problems)
            await pilot.press("6")  # the old key no longer switches
            assert app.current_mode == "model"
            await pilot.press("b")
            assert app.current_mode == "bench"
            assert "b Bench" in text(app.screen.query_one("#navbar"))
            await pilot.press("g")
            assert app.busy == "bench"
            await pilot.press("x")
            await wait_idle(pilot, 60)

    run(go())


def test_keymap_with_bad_toml_is_reported_not_fatal(workbench_home):
    cfg = workbench_home / "config"
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "keymap.toml").write_text("[keys\n")

    async def go():
        app = make_recorded_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_idle(pilot)
            assert app.keymap_problems and "not valid TOML" in app.keymap_problems[0]
            assert str(cfg / "keymap.toml") in app.keymap_problems[0]
            await pilot.press("7")
            assert app.current_mode == "results"

    run(go())


def test_bad_model_file_is_a_readable_message_not_a_crash(tmp_path):
    from workbench.ui.app import make_app

    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x00garbage" * 50)

    async def go():
        app = make_app(str(bad), profile="cpu-x86_64")
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_idle(pilot)
            assert app.state.job is None
            info = text(app.screen.query_one("#model-info"))
            assert "broken.onnx" in info
            assert "Traceback" not in info
            await pilot.press("6", "s")  # nothing to run: a notice, still alive
            assert app.busy is None
            await pilot.press("1", "u")  # back to the bundled default
            await wait_idle(pilot)
            assert app.state.job is not None and app.state.job.bundled_default
            assert text(app.screen.query_one("#model-info")).startswith("digits CNN — bundled default")

    run(go())


def test_unknown_profile_is_reported_and_profile_list_switches(tmp_path):
    from workbench.ui.app import make_app

    async def go():
        app = make_app(None, profile="no-such-profile")
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_idle(pilot)
            assert app.state.job is None
            assert "no-such-profile" in app.state.context_error
            await pilot.press("2")
            assert "no-such-profile" in text(app.screen.query_one("#profile-info"))
            ol = app.screen.query_one("#profile-list")
            ids = [ol.get_option_at_index(i).id for i in range(ol.option_count)]
            ol.highlighted = ids.index("cpu-x86_64")
            ol.focus()
            await pilot.press("enter")
            await wait_idle(pilot)
            assert app.state.job is not None and app.state.job.profile.name == "cpu-x86_64"

    run(go())


def test_invalid_user_profile_is_listed_with_its_error_and_not_selectable(workbench_home):
    pdir = workbench_home / "config" / "profiles"
    pdir.mkdir(parents=True)
    (pdir / "broken.toml").write_text('extends = "cpu-x86_64"\n[build]\nbackend = "onnxruntime"\nthreadz = 4\n')

    async def go():
        app = make_recorded_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_idle(pilot)
            await pilot.press("2")
            ol = app.screen.query_one("#profile-list")
            opt = next(
                ol.get_option_at_index(i) for i in range(ol.option_count) if ol.get_option_at_index(i).id == "broken"
            )
            assert opt.disabled
            assert "threadz" in str(opt.prompt)

    run(go())


def test_command_palette_offers_screens_profiles_run_and_export():
    from workbench.ui.commands import WorkbenchCommands

    async def go():
        app = make_recorded_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_idle(pilot)
            names = [n for n, _cb, _h in WorkbenchCommands(app.screen)._commands()]
            assert "Go to Benchmark" in names and "Go to Dashboard" in names
            assert "Run benchmark" in names and "Stop benchmark" not in names
            assert "Switch profile: cpu-x86_64" in names
            assert "Export results as CSV" in names
            await pilot.press("ctrl+p")
            await pilot.press(*"go to results")
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.current_mode == "results", 5, "palette switch")

    run(go())


def test_results_compare_and_export_recorded(tmp_path, monkeypatch):
    import json

    async def go():
        app = make_recorded_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_idle(pilot)
            await pilot.press("7")
            await wait_for(pilot, lambda: "result(s)" in text(app.screen.query_one("#results-head")), 10, "results")
            head = text(app.screen.query_one("#results-head"))
            assert "2 result(s)" in head and "recorded" in head
            await pilot.press("space", "down", "space", "c")
            detail = app.screen.query_one("#results-detail")
            await wait_for(pilot, lambda: "Verdict" in rich_text(detail), 30, "the comparison (computed in a worker)")
            out = rich_text(detail)
            assert "Result 2 (A) vs result 1 (B)" in out
            a, b = (next(r for r in app.recorded.results if r.id == i) for i in (2, 1))
            assert f"{a.latency.p99_ms:.4f}" in out and f"{b.latency.p99_ms:.4f}" in out
            assert f"{b.latency.p99_ms / a.latency.p99_ms:.2f}x" in out
            # the core's compare engine: its verdict, and both columns headed with what they are (recorded)
            assert "Verdict: " in out and "#2 [recorded]" in out and "#1 [recorded]" in out
            monkeypatch.chdir(tmp_path)
            await pilot.press("e")
            await pilot.press("down")  # JSON
            await pilot.press("enter")
            await wait_for(pilot, lambda: (tmp_path / "workbench-results.json").exists(), 10, "export file")

    run(go())
    data = json.loads((tmp_path / "workbench-results.json").read_text())
    rows = data if isinstance(data, list) else data.get("results", data)
    assert {r["id"] for r in rows} == {1, 2}


def test_open_model_by_typing_a_path_in_the_picker(tiny_matmul_model):
    from workbench.ui.screens.dialogs import FilePickerScreen

    async def go():
        app = make_recorded_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_idle(pilot)
            await pilot.press("o")
            assert isinstance(app.screen, FilePickerScreen)
            assert app.screen.focused is app.screen.query_one("#picker-path")  # typing goes to the path at once
            await pilot.press(*str(tiny_matmul_model))
            await pilot.press("enter")
            await wait_idle(pilot)
            info = text(app.screen.query_one("#model-info"))
            assert info.startswith("tiny.onnx") or info.startswith(str(tiny_matmul_model))
            assert "x  float32  batchx16  dynamic: batch" in info
            assert "256 parameters" in info
            assert "MatMul×1" in info

    run(go())


def test_palette_run_benchmark_starts_a_run_on_the_benchmark_screen():
    async def go():
        app = make_recorded_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_idle(pilot)
            app.set_options(duration_s=1.0)
            await pilot.press("ctrl+p")
            await pilot.press(*"run benchmark")
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.current_mode == "bench" and app.busy == "bench", 10, "a run")
            await wait_idle(pilot, 120)
            assert app.state.last_result is not None and not app.state.recorded_result

    run(go())


def test_keymap_entry_taking_another_global_key_is_reported_and_ignored_but_a_swap_works(tmp_path):
    """`"screen.results" = "1"` would hide the Model screen (both on key 1): reported, ignored, default kept. Two
    screens swapping keys clash with nobody once both are applied."""
    from workbench.ui.app import all_binding_ids
    from workbench.ui.keymap import load_keymap

    f = tmp_path / "keymap.toml"
    f.write_text('[keys]\n"screen.results" = "1"\n"app.help" = "f2"\n')
    got = load_keymap(all_binding_ids(), f)
    assert got.keymap == {"app.help": "f2"}
    assert got.problems == (
        f"{f}: screen.results: '1' is already the key of screen.model (ignored; the default stays)",
    )
    f.write_text('[keys]\n"screen.model" = "7"\n"screen.results" = "1"\n')
    got = load_keymap(all_binding_ids(), f)
    assert got.keymap == {"screen.model": "7", "screen.results": "1"} and got.problems == ()
