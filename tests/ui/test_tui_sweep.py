"""Power sweep screen (8): the not-a-Jetson message, a recorded sweep (table, recommendation, plot), and real
sweeps through the screen against a fake `nvpmodel` on PATH (every mode benchmarked, the original restored,
also when cancelled with x)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tui_helpers import NVPM_CONF, REPO, make_recorded_app, text, wait_for, wait_idle  # noqa: E402

FAKE = REPO / "tests" / "fixtures" / "nvpmodel"


def _cells(table) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(k)] for k in range(table.row_count)]


def _install(bin_dir: Path, name: str, script: Path) -> None:
    exe = bin_dir / name
    exe.write_text(f"#!{sys.executable}\n" + script.read_text())
    exe.chmod(0o755)


@pytest.fixture
def fake_board(tmp_path, monkeypatch):
    """A fake nvpmodel (+ sudo) on PATH for the Orin NX 16 GB conf, currently in mode 1 (10W)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _install(bin_dir, "nvpmodel", FAKE / "fake_nvpmodel.py")
    _install(bin_dir, "sudo", FAKE / "fake_sudo.py")
    state = tmp_path / "state"
    state.write_text("1\n")
    log = tmp_path / "calls.log"
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_NVPM_CONF", str(REPO / NVPM_CONF))
    monkeypatch.setenv("FAKE_NVPM_STATE", str(state))
    monkeypatch.setenv("FAKE_NVPM_LOG", str(log))
    return state, log


@pytest.mark.skipif(Path("/etc/nvpmodel.conf").exists(), reason="this machine is a Jetson")
def test_off_jetson_the_screen_says_so_and_start_does_nothing():
    from workbench.ui.app import make_app
    from workbench.ui.widgets.sweep_plot import SweepPlot

    async def go():
        app = make_app(None, profile="cpu-x86_64")  # no recorded data, the real /etc/nvpmodel.conf lookup
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_idle(pilot)
            await pilot.press("8")
            assert app.current_mode == "sweep"
            msg = text(app.screen.query_one("#sweep-modes"))
            await pilot.press("s")
            await pilot.pause(0.2)
            busy = app.busy
            rec = text(app.screen.query_one("#sweep-rec"))
            plot = str(app.screen.query_one(SweepPlot).render())
            rows = app.screen.query_one("#sweep-table").row_count
        return msg, busy, rec, plot, rows

    msg, busy, rec, plot, rows = asyncio.run(go())
    assert msg.startswith("not a Jetson: nvpmodel.conf not found (/etc/nvpmodel.conf)")
    assert busy is None and rows == 0
    assert rec == "no sweep yet: s runs one over the modes above"
    assert plot == "the latency-vs-power plot appears after a sweep"


def test_recorded_sweep_shows_table_recommendation_and_plot():
    from workbench.ui.widgets.sweep_plot import SweepPlot

    async def go():
        app = make_recorded_app(nvpmodel_conf=NVPM_CONF)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_idle(pilot)
            await pilot.press("8")
            await pilot.pause(0.1)
            return (
                text(app.screen.query_one("#sweep-modes")),
                _cells(app.screen.query_one("#sweep-table")),
                text(app.screen.query_one("#sweep-rec")),
                str(app.screen.query_one(SweepPlot).render()).splitlines(),
            )

    modes, cells, rec, plot = asyncio.run(go())
    assert modes.endswith("0 MAXN · 1 10W · 2 15W (default) · 3 25W")
    assert cells == [
        ["MAXN", "0", "2.610", "2.950", "381.5", "21.73", "56.959", "ok"],
        ["10W", "1", "6.100", "6.620", "163.2", "7.84", "48.039", "ok"],
        ["15W", "2", "4.350", "4.810", "229.0", "10.91", "47.642", "ok"],
        ["25W", "3", "3.020", "3.400", "330.1", "16.42", "49.743", "ok"],
    ]
    assert rec.splitlines()[0] == "[recorded — not measured on this machine]"
    assert rec.splitlines()[1] == (
        "Recommendation: 15W — least energy per inference (47.6 mJ) among modes meeting the targets (p99 ≤ 5 ms)"
    )
    assert "Original mode 15W (id 2): restored" in rec
    assert plot[0].startswith("p99 ms ↑ vs mean W →   0=MAXN  1=10W  2=15W  3=25W")
    grid = [line.split("│", 1)[1] for line in plot[1:] if "│" in line]
    marks = {ch: (r, line.index(ch)) for r, line in enumerate(grid) for ch in line if ch != " "}
    assert set(marks) == {"0", "1", "2", "3"}
    # 10W: slowest and least power -> top-left; MAXN: fastest and most power -> bottom-right (5 % padding around)
    assert marks["1"][1] < marks["2"][1] < marks["3"][1] < marks["0"][1]
    assert marks["1"][0] < marks["2"][0] < marks["3"][0] < marks["0"][0]
    assert plot[-1].split() == ["7.15", "W", "22.4", "W"]  # 7.84..21.73 W with 5 % padding


def test_unmeasured_rows_are_never_plotted():
    from workbench.core.power.sweep import SweepRow
    from workbench.ui.widgets.sweep_plot import plot_points

    rows = [
        SweepRow("MAXN", 0, "ok", p99_ms=3.0, mean_power_w=20.0, measured=True),
        SweepRow("15W", 2, "not_measured", p99_ms=4.0, mean_power_w=11.0, measured=False, reason="replay"),
        SweepRow("25W", 3, "ok", p99_ms=3.5, mean_power_w=None, measured=True),  # no power reading
        SweepRow("10W", 1, "failed", reason="nvpmodel failed"),
    ]
    assert [(p.mark, p.name, p.power_w, p.p99_ms) for p in plot_points(rows)] == [("0", "MAXN", 20.0, 3.0)]


def test_real_sweep_through_the_screen_benchmarks_each_mode_and_restores(fake_board):
    state, log = fake_board

    async def go():
        app = make_recorded_app(nvpmodel_conf=NVPM_CONF)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_idle(pilot)
            app.set_options(iterations=100, duration_s=None, store=False)
            await pilot.press("8")
            app.screen.cooldown_timeout_s = 1.0
            await pilot.press("s")
            assert app.busy == "sweep"
            await wait_idle(pilot, 240)
            return (
                app.state.sweep,
                app.state.sweep_recorded,
                _cells(app.screen.query_one("#sweep-table")),
                text(app.screen.query_one("#sweep-rec")),
            )

    res, recorded, cells, rec = asyncio.run(go())
    assert not recorded and not res.cancelled and res.error is None
    assert [r.mode_id for r in res.rows] == [0, 1, 2, 3]
    assert all(r.status == "ok" and r.p99_ms > 0 and r.throughput_ips > 0 for r in res.rows)
    assert [c[0] for c in cells] == ["MAXN", "10W", "15W", "25W"]
    assert all(c[3] == f"{r.p99_ms:.3f}" for c, r in zip(cells, res.rows, strict=True))
    assert res.original_id == 1 and res.restored
    assert state.read_text().strip() == "1"
    calls = [line.split() for line in log.read_text().splitlines()]
    assert [c[1] for c in calls if c[0] == "-m"] == ["0", "1", "2", "3", "1"]  # each mode, then the original
    assert "Original mode 10W (id 1): restored" in rec and "[recorded" not in rec


def test_sweep_cancelled_with_x_restores_the_original_mode(fake_board):
    state, log = fake_board

    async def go():
        app = make_recorded_app(nvpmodel_conf=NVPM_CONF)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_idle(pilot)
            app.set_options(iterations=None, duration_s=3.0, store=False)  # long enough to interrupt
            await pilot.press("8")
            app.screen.cooldown_timeout_s = 1.0
            await pilot.press("s")
            await wait_for(pilot, lambda: len(app.screen.live_rows) >= 1, 120, "the first mode's row")
            await pilot.press("x")
            await wait_idle(pilot, 60)
            return app.state.sweep, text(app.screen.query_one("#sweep-rec"))

    res, rec = asyncio.run(go())
    assert res.cancelled and 1 <= len(res.rows) < 4
    assert res.restored and state.read_text().strip() == "1"
    assert log.read_text().splitlines()[-1].split() == ["-m", "1"]
    assert "sweep cancelled" in rec and "Original mode 10W (id 1): restored" in rec
