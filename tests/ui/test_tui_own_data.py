"""Your own data in the TUI (issue 13, "What it must show" 3): pick a calibration folder outside calib/ by typing its
path, see what it holds, calibrate and benchmark with it; the choice is remembered for the model; typed text is
never swallowed by the picker's tree."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from tui_helpers import text, wait_for, wait_idle  # noqa: E402

N_SAMPLES = 40


def _my_calib(root: Path, n: int = N_SAMPLES) -> Path:
    """``n`` digit images and their preprocess.toml in a folder of the user's, far from calib/."""
    from workbench.core import paths

    src = paths.bundled_calib_dir() / "digits"
    dst = root / "field-data" / "my calib set"
    dst.mkdir(parents=True)
    shutil.copy(src / "preprocess.toml", dst / "preprocess.toml")
    for f in sorted(src.glob("*.png"))[:n]:
        shutil.copy(f, dst / f.name)
    return dst


def test_pick_a_calibration_folder_by_typing_then_calibrate_and_benchmark(tmp_path, workbench_home):
    from workbench.core.dataset_choice import remembered
    from workbench.core.results.store import ResultStore
    from workbench.ui.app import make_app
    from workbench.ui.screens.dialogs import FilePickerScreen

    folder = _my_calib(tmp_path)
    seen: dict = {}

    async def flow() -> None:
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_idle(pilot)
            await pilot.press("3", "i")
            assert app.state.precision == "int8"
            await pilot.press("4")
            await wait_for(pilot, lambda: "Samples" in text(app.screen.query_one("#calib-set")), 30, "bundled set")
            assert "512 images" in text(app.screen.query_one("#calib-set"))
            # o: the folder picker, its path field focused — the typed path lands in it, Enter picks it
            await pilot.press("o")
            assert isinstance(app.screen, FilePickerScreen) and app.screen.folders
            assert app.screen.focused is app.screen.query_one("#picker-path")
            await pilot.press(*str(folder))
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.state.request.calib == str(folder), 10, "the chosen folder")
            calib_set = app.screen.query_one("#calib-set")
            await wait_for(pilot, lambda: f"{N_SAMPLES} images" in text(calib_set), 30, "what the folder holds")
            shown = text(calib_set)
            assert f"Samples  {N_SAMPLES} images" in shown
            assert "Model in image [batch, 1, 8, 8]" in " ".join(shown.split()) or "image" in shown
            assert "Preproc" in shown and "color L" in shown
            assert "my calib set" in text(app.screen.query_one("#calib-head"))
            # remembered for this model, in the data folder (WORKBENCH_HOME here)
            sha = app.state.job.model_info.sha256
            assert remembered(sha).calib == str(folder)
            doc = json.loads((workbench_home / "data" / "dataset-choices.json").read_text())
            assert doc["models"][sha]["calib"] == str(folder)
            # s: calibrate on it
            await pilot.press("s")
            await wait_idle(pilot)
            cal = app.state.calibration
            assert cal is not None, text(app.screen.query_one("#calib-progress"))
            assert cal.result.samples == N_SAMPLES
            # the calibration ran as a detached `workbench calibrate` job on the chosen folder
            from workbench.core import jobs

            (cal_job,) = [j for j in jobs.list_jobs() if j.argv[0] == "calibrate"]
            assert str(folder) in cal_job.argv, cal_job.argv
            assert f"{N_SAMPLES} samples, minmax" in text(app.screen.query_one("#calib-progress"))
            # 6, s: benchmark the INT8 model calibrated on it (1 s run)
            await pilot.press("6", "left_square_bracket", "left_square_bracket")
            assert app.state.job.request.duration_s == 1.0
            await pilot.press("s")
            await wait_for(pilot, lambda: app.busy == "bench" or app.state.last_result is not None, 30, "a run")
            await wait_idle(pilot)
            seen["entry"] = app.state.last_result
            await pilot.press("ctrl+q")

    asyncio.run(flow())
    entry = seen["entry"]
    assert entry is not None and entry.precision == "int8"
    assert entry.calibration is not None and entry.calibration.samples == N_SAMPLES
    with ResultStore() as db:
        stored = db.get(entry.result_id)
    assert stored.calibration.samples == N_SAMPLES

    # a new session on the same model starts with the folder chosen before
    async def again() -> None:
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_idle(pilot)
            assert app.state.request.calib == str(folder)
            await pilot.press("4")
            await wait_for(
                pilot, lambda: f"{N_SAMPLES} images" in text(app.screen.query_one("#calib-set")), 30, "the set"
            )
            await pilot.press("ctrl+q")

    asyncio.run(again())


def test_typing_in_the_pickers_tree_goes_to_the_path_field(tmp_path, monkeypatch):
    from textual.widgets import DirectoryTree, Input

    from workbench.ui.app import make_app
    from workbench.ui.screens.dialogs import FilePickerScreen

    folder = _my_calib(tmp_path, n=3)
    (tmp_path / "field-data" / "eval-set").mkdir()
    monkeypatch.chdir(tmp_path)

    async def go() -> None:
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_idle(pilot)
            await pilot.press("4", "e")
            picker = app.screen
            assert isinstance(picker, FilePickerScreen)
            tree = picker.query_one(DirectoryTree)
            await pilot.press("tab")
            assert picker.focused is tree
            await pilot.press(*"field-data/eval")  # printable keys in the tree: into the path field
            inp = picker.query_one(Input)
            assert inp.value == "field-data/eval" and picker.focused is inp
            await pilot.press(*"-set", "enter")
            await wait_for(pilot, lambda: app.state.request.eval is not None, 10, "the eval folder")
            assert app.state.request.eval == str(tmp_path / "field-data" / "eval-set")
            # not a folder: refused, nothing changes
            await pilot.press("o", *str(folder / "preprocess.toml"), "enter")
            await pilot.pause()
            assert app.state.request.calib is None
            # the tree: Tab to it, down to field-data, space opens it, down twice to "my calib set", Enter picks it
            await pilot.press("o")
            picker = app.screen
            tree = picker.query_one(DirectoryTree)
            await wait_for(pilot, lambda: len(tree.root.children) >= 1, 10, "the tree's first level")
            await pilot.press("tab", "down")
            await wait_for(pilot, lambda: picker.query_one(Input).value.endswith("field-data"), 10, "highlight")
            await pilot.press("space")
            node = tree.cursor_node
            await wait_for(pilot, lambda: len(node.children) == 2, 10, "field-data opened")
            await pilot.press("down", "down", "enter")
            await wait_for(pilot, lambda: app.state.request.calib is not None, 10, "the folder picked in the tree")
            assert app.state.request.calib == str(folder)
            await wait_for(pilot, lambda: "3 images" in text(app.screen.query_one("#calib-set")), 30, "its contents")
            await pilot.press("ctrl+q")

    asyncio.run(go())


def test_picking_the_same_folder_again_reads_it_again(tmp_path, monkeypatch):
    """A folder refused for a missing preprocess.toml is read again when picked again after the file was added:
    the error is replaced by what the folder holds (not left on screen until a restart)."""
    from workbench.ui.app import make_app

    folder = _my_calib(tmp_path, n=5)
    toml = (folder / "preprocess.toml").read_text()
    (folder / "preprocess.toml").unlink()
    monkeypatch.chdir(tmp_path)

    async def go() -> None:
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_idle(pilot)
            await pilot.press("4", "o", *str(folder), "enter")
            calib_set = app.screen.query_one("#calib-set")
            await wait_for(pilot, lambda: "preprocess.toml" in text(calib_set), 30, "the refusal")
            (folder / "preprocess.toml").write_text(toml)
            await pilot.press("o", *str(folder), "enter")
            await wait_for(pilot, lambda: "5 images" in text(calib_set), 30, "the folder read again")
            assert "without preprocess.toml" not in text(calib_set)
            await pilot.press("ctrl+q")

    asyncio.run(go())


def test_a_benchmark_that_fails_before_any_sample_says_so_in_the_plot_and_the_live_line(tmp_path, monkeypatch):
    """INT8 calibrated on a folder with a corrupt image: the job fails with its message; the plot no longer says
    "waiting for samples…" and the live line no longer says [starting]."""
    from workbench.ui.app import make_app
    from workbench.ui.widgets.bench_plot import BenchPlot

    folder = _my_calib(tmp_path, n=4)
    (folder / "zz-broken.png").write_bytes(b"not a png at all")
    monkeypatch.chdir(tmp_path)

    async def go() -> None:
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_idle(pilot)
            await pilot.press("4", "o", *str(folder), "enter")
            await wait_for(pilot, lambda: app.state.request.calib == str(folder), 10, "the folder")
            await pilot.press("3", "i", "6", "s")
            await wait_for(pilot, lambda: app.busy == "bench", 30, "the job")
            await wait_idle(pilot, 180)
            summary = text(app.screen.query_one("#bench-summary"))
            assert summary.startswith("failed: ") and "zz-broken.png" in summary, summary
            assert app.screen.query_one(BenchPlot).empty_text == "no samples: the run failed (see below)"
            assert "[failed]" in text(app.screen.query_one("#bench-stats"))
            await pilot.press("ctrl+q")

    asyncio.run(go())
