"""80x24: every footer key label whole on every screen, the status line's job and cancel key whole, notifications
clear of the status line and footer, the Benchmark screen's plots (latency with p50/p99, power and temperature on
one time axis, histogram on h) from recorded data labelled as recorded, and help listing every binding with its
description."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tui_helpers import make_recorded_app, rich_text, screen_lines, text, wait_for, wait_idle  # noqa: E402

SIZE = (80, 24)
SCREEN_KEYS = {"model": "1", "profile": "2", "precision": "3", "calibrate": "4", "build": "5", "bench": "6",
               "results": "7", "sweep": "8", "tune": "9", "fleet": "0", "jobs": "j", "dashboard": "d"}  # fmt: skip
NAV = ["1 Model", "2 Prof", "3 Prec", "4 Cal", "5 Bld", "6 Bench", "7 Res", "8 Pwr", "9 Tune", "0 Flt", "j Jobs",
       "d Dash"]  # fmt: skip


def _footer_labels(app) -> list[set[str]]:
    """For every action the current screen's footer shows: its possible 'key description' labels (one per key;
    the footer shows an action once, under its first key)."""
    by_action: dict[tuple[str, str], set[str]] = {}
    for active in app.screen.active_bindings.values():
        b = active.binding
        if not b.show or not b.description:
            continue
        by_action.setdefault((b.action, b.description), set()).add(
            f"{b.key_display or app.get_key_display(b)} {b.description}"
        )
    return list(by_action.values())


@pytest.mark.parametrize("screen", list(SCREEN_KEYS))
def test_no_footer_key_label_is_cut_at_80x24(screen):
    async def go():
        app = make_recorded_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_idle(pilot)
            await pilot.press(SCREEN_KEYS[screen])
            await wait_for(pilot, lambda: app.current_mode == screen, 30, f"the {screen} screen")
            await pilot.pause(0.2)
            lines = screen_lines(app)
            return _footer_labels(app), lines

    labels, lines = asyncio.run(go())
    footer, status = lines[-1], lines[-2]
    assert len(lines) == 24
    assert {"^q Quit"} in labels and {"? Help", "f1 Help"} in labels
    for options in labels:
        assert any(o in footer for o in options), f"none of {options} is shown whole in the footer {footer!r}"
    assert not footer.endswith("▏") and len(footer) <= 80
    assert status.startswith("FP32 · cpu-x86_64 · digits CNN — bundled default")
    (nav,) = [ln for ln in lines if "1 Model" in ln]  # the screen bar: every screen's key and name whole
    assert all(f"{item} " in nav + " " for item in NAV), nav


def test_status_line_shows_the_running_job_and_its_cancel_key_whole_and_toasts_sit_above_it():
    from workbench.ui.messages import Change, JobKind

    async def go():
        app = make_recorded_app()
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await wait_idle(pilot)
            await pilot.press("4")
            # mark a job running as begin_job does (no worker: the state the status line shows is what matters)
            app.busy = JobKind.CALIBRATE
            app.changed(Change.BUSY)
            app.notify("a notice long enough to be seen", timeout=60)
            await wait_for(pilot, lambda: "running: calibrate" in screen_lines(app)[-2], 30, "status line")
            await wait_for(pilot, lambda: any("a notice long" in ln for ln in screen_lines(app)), 30, "the toast")
            lines = screen_lines(app)
            app.busy = None
            return lines

    lines = asyncio.run(go())
    assert lines[-2].startswith("running: calibrate (x cancels) · FP32 · cpu-x86_64")
    toast_rows = [k for k, line in enumerate(lines) if "a notice long enough" in line]
    assert toast_rows and max(toast_rows) < 12  # at the top right, under the nav bar
    assert lines[0].startswith("1 Model 2 Prof")  # the nav bar stays visible
    assert "a notice" not in lines[-2] and "a notice" not in lines[-1]


def test_benchmark_plots_recorded_latency_with_power_and_temperature_on_one_time_axis_and_h_shows_histogram():
    from workbench.ui.widgets.bench_plot import BenchPlot

    async def go():
        app = make_recorded_app(load_telemetry=True)
        async with app.run_test(size=SIZE) as pilot:
            await wait_idle(pilot)
            await pilot.press("6")
            plot = app.screen.query_one(BenchPlot)
            await wait_for(pilot, lambda: "3.65 s" in "\n".join(screen_lines(app)), 30, "the recorded trace drawn")
            time_lines = screen_lines(app)
            time_data = plot.data
            await pilot.press("h")
            await wait_for(pilot, lambda: "0.0506 ms" in "\n".join(screen_lines(app)), 30, "the histogram drawn")
            hist_lines = screen_lines(app)
            await pilot.press("h")
            await wait_for(pilot, lambda: plot.view == "time", 30, "time view again")
            return time_lines, time_data, hist_lines

    time_lines, data, hist_lines = asyncio.run(go())
    body = "\n".join(time_lines)
    # the recorded trace (tests/fixtures/ui/latency-trace.json) and the recorded Orin Nano load segment
    assert data.latency_label == "recorded" and data.telemetry_label == "recorded"
    assert data.p50_ms == 0.013768 and data.p99_ms == 0.028883
    assert len(data.lat_ms) == 55 and len(data.power_w) == 21 and data.temp_name == "tj"
    assert data.power_t_s[-1] == pytest.approx(2.0) and data.lat_t_s[-1] == 3.6537
    legend_line = next(line for line in time_lines if line.startswith(" [recorded] ms: median"))
    assert "▲55 off-scale (max 21.1)" in legend_line and "W °C tj" in legend_line
    assert " p99" in body and " p50" in body  # the right axis names the two lines
    assert "22.0W" in body and "5.92W" in body  # power fitted to 6.6-21.3 W, not from 0
    assert "3.65 s" in body  # one time axis under both panels, to the trace's last point
    assert "[recorded trace] p50 0.0138 ms" in body
    assert "Summary · PgUp/PgDn scroll" in body
    hist = "\n".join(hist_lines)
    assert "[recorded] histogram, last 2000: p50 p99" in hist
    assert "▶12 off-scale > 0.0591 (max 8.13)" in hist  # the window's largest (the time view counts every batch)
    assert "0.0506 ms" in hist
    assert " 1732██" in hist  # whole-number counts: the tallest bin (p50's) holds 1732 of the 2000


def test_every_binding_has_a_description_and_help_lists_it_at_80x24():
    from textual.binding import Binding

    from workbench.ui.app import SCREEN_CLASSES
    from workbench.ui.keymap import app_bindings
    from workbench.ui.screens.help import HelpScreen

    for cls in (*SCREEN_CLASSES.values(), HelpScreen):
        for b in [*app_bindings(), *cls.__dict__.get("BINDINGS", [])]:  # ours, not Textual's inherited ones
            assert isinstance(b, Binding) and b.id and b.description, f"{cls.__name__}: {b}"

    async def go():
        app = make_recorded_app()
        seen = {}
        async with app.run_test(size=SIZE) as pilot:
            await wait_idle(pilot)
            for mode, key in SCREEN_KEYS.items():
                await pilot.press(key)
                await wait_for(pilot, lambda m=mode: app.current_mode == m, 30, mode)
                await pilot.press("question_mark")
                await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), 30, "help")
                seen[mode] = rich_text(app.screen.query_one("#help-keys"), width=78)
                await pilot.press("escape")
                await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen), 30, "help closed")
        return seen

    seen = asyncio.run(go())
    for mode, table in seen.items():
        for b in [*app_bindings(), *SCREEN_CLASSES[mode].__dict__.get("BINDINGS", [])]:
            assert b.id in table and b.description in table, f"{mode}: {b.id} {b.description!r} not in help"
    assert "Histogram" in seen["bench"] and "bench.histogram" in seen["bench"]


def test_profile_and_calibrate_use_the_full_width_at_80_columns():
    async def go():
        app = make_recorded_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_idle(pilot)
            await pilot.press("2")
            await wait_for(pilot, lambda: app.current_mode == "profile", 30, "profile")
            await pilot.pause(0.2)
            prof = (app.screen.query_one("#profile-info").region.width, screen_lines(app))
            await pilot.press("4")
            await wait_for(pilot, lambda: "Samples" in text(app.screen.query_one("#calib-set")), 30, "dataset")
            cal = (app.screen.query_one("#calib-set").region.width, screen_lines(app))
        return prof, cal

    (pw, plines), (cw, clines) = asyncio.run(go())
    assert pw >= 76 and cw >= 76  # not ~47 columns beside a 32-column list
    assert any(line.startswith(" Bench     warm-up 200 ms, 3.0 s, batch 1, p50/p90/p95/p99") for line in plines)
    assert any(line.startswith(" Method   minmax (m)   samples ≤ 512 (+/-)") for line in clines)


def test_build_line_labels_its_two_times(tmp_path, monkeypatch):
    """The build's own time and the step's total are both named (not two bare numbers)."""
    import re

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))  # an empty artifact cache: a real build

    async def go():
        app = make_recorded_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_idle(pilot)
            await pilot.press("5")
            await wait_for(pilot, lambda: app.current_mode == "build", 30, "build screen")
            await pilot.press("s")
            await wait_for(pilot, lambda: app.state.built is not None and app.busy is None, 120, "the build")
            await wait_for(pilot, lambda: "step total" in text(app.screen.query_one("#build-phase")), 30, "done")
            return text(app.screen.query_one("#build-phase")), app.state.built.artifact

    phase, art = asyncio.run(go())
    m = re.fullmatch(r"done — artifact built in ([\d.]+) s · step total ([\d.]+) s", phase)
    assert m, phase
    assert not art.cached and float(m.group(1)) == round(art.build_s, 2)
    assert float(m.group(2)) >= float(m.group(1)) - 0.05


def test_pagedown_scrolls_the_benchmark_summary_without_focusing_it():
    from textual.containers import VerticalScroll

    async def go():
        app = make_recorded_app()
        async with app.run_test(size=SIZE) as pilot:
            await wait_idle(pilot)
            await pilot.press("6")
            sc = app.screen.query_one("#bench-summary-scroll", VerticalScroll)
            await wait_for(pilot, lambda: sc.max_scroll_y > 0, 30, "a summary taller than its box")
            await pilot.press("pagedown")
            await wait_for(pilot, lambda: sc.scroll_y > 0, 30, "scrolled down")
            down = sc.scroll_y
            await pilot.press("pageup")
            await wait_for(pilot, lambda: sc.scroll_y == 0, 30, "scrolled back up")
            return down, sc.border_title, app.focused

    down, title, focused = asyncio.run(go())
    assert down > 0 and title == "Summary · PgUp/PgDn scroll"
    assert focused is None or focused.id != "bench-summary-scroll"
