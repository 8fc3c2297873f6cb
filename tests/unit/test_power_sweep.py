"""Sweep core with fakes: restore on error/Ctrl-C, cool-down, recommendation, replay exclusion; and a sweep
through the fake `nvpmodel` executable that restores the original mode after an injected failure."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from workbench.core.errors import BenchmarkError, Cancelled, PowerError
from workbench.core.power.nvpmodel import Nvpmodel, load_conf, resolve_mode
from workbench.core.power.sweep import (
    SweepRow,
    assert_measured_source,
    recommend,
    run_sweep,
    select_modes,
    wait_for_cooldown,
)

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "nvpmodel"
CONF = load_conf(FIX / "orin-nx-16gb-super-p3767-0000-jp62.conf")

# Per-mode fake benchmark numbers: (p99 ms, mean W, mJ/inference)
NUMBERS = {
    "MAXN_SUPER": (4.0, 20.0, 80.0),
    "10W": (12.0, 9.0, 95.0),
    "15W": (8.0, 12.0, 70.0),
    "25W": (6.0, 16.0, 75.0),
    "40W": (5.0, 18.0, 78.0),
}


def result(mode, measured=True):
    """A typed benchmark result for ``mode`` (read through the JSON edge, as a stored result would be)."""
    from workbench.core.results.result import result_from_dict

    p99, w, mj = NUMBERS[mode.name]
    return result_from_dict({
        "latency_ms": {"p50": p99 * 0.8, "p99": p99},
        "throughput_ips": 1000.0 / (p99 * 0.8),
        "telemetry": {"mean_power_w": w, "mj_per_inference": mj, "measured": measured, "temp_max_c": 50.0,
                      "label": None if measured else "replay — not measured on this machine"},
    })  # fmt: skip


class FakeBoard:
    def __init__(self, current="40W", fail_set=None):
        self.current = resolve_mode(CONF, current)
        self.calls: list[str] = []
        self.fail_set = fail_set

    def set_mode(self, mode):
        self.calls.append(mode.name)
        if mode.name == self.fail_set:
            raise PowerError(f"nvpmodel refused {mode.name}")
        self.current = mode

    def get(self):
        return self.current


def test_sweep_all_recommends_least_energy_and_restores():
    board = FakeBoard()
    res = run_sweep(select_modes(CONF, "all"), set_mode=board.set_mode, current_mode=board.get, run_benchmark=result)
    assert [r.mode for r in res.rows] == ["MAXN_SUPER", "10W", "15W", "25W", "40W"]
    assert all(r.status == "ok" for r in res.rows)
    assert res.recommendation.mode == "15W"  # 70 mJ/inference
    assert board.current.name == "40W" and res.restored and board.calls[-1] == "40W"
    assert res.original_mode == "40W" and res.original_id == 4


def test_targets_change_the_recommendation():
    rows = run_sweep(CONF.modes, set_mode=FakeBoard().set_mode, current_mode=FakeBoard().get, run_benchmark=result).rows
    assert recommend(rows, p99_max_ms=6.0).mode == "25W"  # 15W's p99 8 ms misses the target
    assert recommend(rows, p99_max_ms=6.0, power_max_w=17.0).mode == "25W"
    assert recommend(rows, power_max_w=10.0).mode == "10W"
    r = recommend(rows, p99_max_ms=1.0)
    assert r.mode is None and "p99 ≤ 1 ms" in r.reason


def test_injected_benchmark_failure_is_recorded_and_mode_restored():
    board = FakeBoard()

    def bench(mode):
        if mode.name == "25W":
            raise BenchmarkError("child crashed")
        return result(mode)

    res = run_sweep(
        select_modes(CONF, "15W,25W,max"), set_mode=board.set_mode, current_mode=board.get, run_benchmark=bench
    )
    assert [(r.mode, r.status) for r in res.rows] == [("15W", "ok"), ("25W", "failed"), ("MAXN_SUPER", "ok")]
    assert res.rows[1].reason == "child crashed"
    assert board.current.name == "40W" and res.restored


def test_unexpected_error_and_ctrl_c_still_restore():
    board = FakeBoard()

    def boom(mode):
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError) as ei:
        run_sweep(select_modes(CONF, "10W"), set_mode=board.set_mode, current_mode=board.get, run_benchmark=boom)
    assert board.current.name == "40W" and ei.value.sweep_result.restored

    board = FakeBoard()

    def interrupt(mode):
        raise KeyboardInterrupt

    with pytest.raises(Cancelled, match="restored") as ei:
        run_sweep(
            select_modes(CONF, "10W,15W"), set_mode=board.set_mode, current_mode=board.get, run_benchmark=interrupt
        )
    assert board.current.name == "40W"
    assert ei.value.result.cancelled


def test_failed_restore_is_reported_and_set_failure_recorded():
    board = FakeBoard(fail_set="40W")
    res = run_sweep(select_modes(CONF, "10W"), set_mode=board.set_mode, current_mode=board.get, run_benchmark=result)
    assert not res.restored and "could not restore 40W (id 4)" in res.restore_error
    board = FakeBoard(fail_set="10W")
    res = run_sweep(
        select_modes(CONF, "10W,15W"), set_mode=board.set_mode, current_mode=board.get, run_benchmark=result
    )
    assert [(r.mode, r.status) for r in res.rows] == [("10W", "failed"), ("15W", "ok")]
    assert board.current.name == "40W"


def test_cancel_event_stops_between_modes():
    board = FakeBoard()
    ev = threading.Event()

    def bench(mode):
        ev.set()
        return result(mode)

    res = run_sweep(
        select_modes(CONF, "10W,15W,25W"),
        set_mode=board.set_mode,
        current_mode=board.get,
        run_benchmark=bench,
        cancel=ev,
    )
    assert res.cancelled and len(res.rows) == 1 and board.current.name == "40W"


def test_replay_rows_never_recommended():
    board = FakeBoard()
    res = run_sweep(
        CONF.modes, set_mode=board.set_mode, current_mode=board.get, run_benchmark=lambda m: result(m, measured=False)
    )
    assert all(r.status == "not_measured" and not r.measured for r in res.rows)
    assert res.recommendation.mode is None and "replayed telemetry is not a measurement" in res.recommendation.reason
    mixed = [SweepRow("A", 0, "ok", p99_ms=1, mean_power_w=5, mj_per_inference=50, measured=True),
             SweepRow("B", 1, "not_measured", p99_ms=1, mean_power_w=1, mj_per_inference=1, measured=False)]  # fmt: skip
    assert recommend(mixed).mode == "A"

    class Replay:
        name = "replay:x.log"
        measured = False

    with pytest.raises(PowerError, match="replay"):
        assert_measured_source(Replay())


def test_unknown_current_mode_cannot_be_restored():
    board = FakeBoard()
    res = run_sweep(select_modes(CONF, "10W"), set_mode=board.set_mode, current_mode=lambda: None, run_benchmark=result)
    assert not res.restored and "cannot be restored" in res.notes[0]


def test_cooldown_to_target_and_to_stability():
    temps = iter([70.0, 65.0, 58.0, 49.0, 40.0])
    t = [0.0]
    ok, last = wait_for_cooldown(
        lambda: next(temps), target_c=50.0, poll_s=1, sleep=lambda s: t.__setitem__(0, t[0] + s), clock=lambda: t[0]
    )
    assert (ok, last) == (True, 49.0)
    temps = iter([60.0, 55.0, 52.0, 51.5, 51.2, 51.0, 50.9])
    ok, last = wait_for_cooldown(lambda: next(temps), stable_window=4, stable_band_c=1.0, sleep=lambda s: None)
    assert (ok, last) == (True, 51.0)
    t = [0.0]
    ok, last = wait_for_cooldown(
        lambda: 80.0,
        target_c=50.0,
        timeout_s=10,
        poll_s=2,
        sleep=lambda s: t.__setitem__(0, t[0] + s),
        clock=lambda: t[0],
    )
    assert (ok, last) == (False, 80.0)
    assert wait_for_cooldown(lambda: None) == (False, None)


def test_sweep_uses_cooldown_values():
    board = FakeBoard()
    res = run_sweep(select_modes(CONF, "10W"), set_mode=board.set_mode, current_mode=board.get, run_benchmark=result,
                    read_temp_c=lambda: 45.0, cooldown={"target_c": 50.0})  # fmt: skip
    assert res.rows[0].settled is True and res.rows[0].settle_temp_c == 45.0


def test_select_modes_errors():
    with pytest.raises(PowerError, match="MAXN"):
        select_modes(CONF, "15W,MAXN")
    assert [m.name for m in select_modes(CONF, "max, 0 ,15W")] == ["MAXN_SUPER", "15W"]


def test_sweep_through_fake_nvpmodel_restores_after_injected_failure(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "nvpmodel"
    exe.write_text(f"#!{sys.executable}\n" + (FIX / "fake_nvpmodel.py").read_text())
    exe.chmod(0o755)
    state = tmp_path / "state"
    state.write_text("4\n")
    monkeypatch.setenv("FAKE_NVPM_CONF", str(FIX / "orin-nx-16gb-super-p3767-0000-jp62.conf"))
    monkeypatch.setenv("FAKE_NVPM_STATE", str(state))
    monkeypatch.setenv("FAKE_NVPM_BEHAVIOUR", "fail-on-set:3")  # 25W cannot be set
    tool = Nvpmodel(exe=str(exe), sudo=False, timeout_s=10)

    def current():
        q = tool.query()
        return CONF.by_id(q.id) if q.id is not None else None

    seen = []

    def bench(mode):
        seen.append(tool.query().name)  # the board really is in the mode being measured
        return result(mode)

    res = run_sweep(
        select_modes(CONF, "10W,25W,15W"), set_mode=tool.set_mode, current_mode=current, run_benchmark=bench
    )
    assert seen == ["10W", "15W"]
    assert [(r.mode, r.status) for r in res.rows] == [("10W", "ok"), ("25W", "failed"), ("15W", "ok")]
    assert "failed to apply mode 3" in res.rows[1].reason
    assert state.read_text().strip() == "4" and res.restored


def test_max_temp_reader_and_table():
    from workbench.core.power.sweep import format_table, max_temp_reader
    from workbench.core.telemetry.replay import ReplaySource

    log = Path(__file__).resolve().parents[1] / "fixtures" / "tegrastats" / "bug-report-lines.log"
    read = max_temp_reader(ReplaySource(log))
    assert read() == 24.5  # Nano line 1: AO@24.5C is the hottest; PMIC@100C is ignored
    board = FakeBoard()
    res = run_sweep(
        select_modes(CONF, "15W,10W"), set_mode=board.set_mode, current_mode=board.get, run_benchmark=result
    )
    text = format_table(res)
    assert "Recommendation: 15W" in text and "Original mode 40W (id 4): restored" in text
    row = next(ln for ln in text.splitlines() if ln.startswith("10W"))
    assert row.split()[1:] == ["1", "9.600", "12.000", "104.2", "9.00", "95.000", "ok"]
