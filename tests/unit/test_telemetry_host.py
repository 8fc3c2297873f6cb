"""Host (psutil) source on this machine and on a fake powercap tree."""

from __future__ import annotations

import time

import psutil
import pytest

from workbench.core.telemetry import open_source
from workbench.core.telemetry.host import HostSource


def test_host_reports_cpu_and_ram():
    src = open_source("host")
    time.sleep(0.15)  # let the per-CPU time counters (10 ms ticks) move
    s = src.read()
    assert src.name == "host" and src.measured is True
    online = [c for c in s.cpu if c.online]
    assert len(online) == len(psutil.cpu_percent(percpu=True))
    assert all(0.0 <= c.load_pct <= 100.0 for c in online)
    assert s.ram_mb.total == pytest.approx(psutil.virtual_memory().total / 2**20, rel=1e-3)
    assert 0 < s.ram_mb.used < s.ram_mb.total
    assert s.seq == 0 and src.read().seq == 1


def test_missing_fields_are_none_with_reason():
    src = HostSource()
    s = src.read()
    if not psutil.sensors_temperatures():
        assert s.temps_c == {}
        assert src.unavailable["temps_c"] == "no thermal zones (psutil.sensors_temperatures() empty)"
    if s.total_power_mw is None:
        assert "RAPL" in src.unavailable["total_power_mw"]
    assert s.gpu is None and "gpu" in src.unavailable


def test_rapl_counter_with_wrap(tmp_path):
    z = tmp_path / "sys/class/powercap/intel-rapl:0"
    z.mkdir(parents=True)
    (tmp_path / "sys/class/powercap/intel-rapl:0:0").mkdir()  # sub-zone: must not be double counted
    (z / "max_energy_range_uj").write_text("1000000\n")
    (z / "energy_uj").write_text("990000\n")
    times = iter([10.0, 10.5])
    src = HostSource(root=tmp_path, clock=lambda: next(times))
    first = src.read()
    assert first.total_power_mw is None and first.energy_mj == 0.0
    (z / "energy_uj").write_text("4000\n")  # wrapped: 10000 + 4000 = 14000 µJ = 14 mJ in 0.5 s
    s = src.read()
    assert s.energy_mj == pytest.approx(14.0)
    assert s.total_power_mw == pytest.approx(28.0)
    assert s.total_power_rule == "RAPL_PKG"
    assert "power" not in src.unavailable


def test_offline_core_from_sysfs(tmp_path, monkeypatch):
    base = tmp_path / "sys/devices/system/cpu"
    for i, state in enumerate([None, "0", "1"]):
        (base / f"cpu{i}").mkdir(parents=True)
        if state is not None:
            (base / f"cpu{i}/online").write_text(state + "\n")
    src = HostSource(root=tmp_path)
    # psutil lists online cores only: two of them here (cpu0, cpu2).
    from collections import namedtuple

    T = namedtuple("T", "user nice system idle iowait irq softirq steal guest guest_nice")
    src._prev_times = [T(0, 0, 0, 0, 0, 0, 0, 0, 0, 0), T(0, 0, 0, 0, 0, 0, 0, 0, 0, 0)]
    # cpu0: 10 busy of 100; cpu2: 30 busy of 100 (guest time is part of user and must not be added twice)
    monkeypatch.setattr(
        src._ps, "cpu_times", lambda percpu: [T(10, 0, 0, 90, 0, 0, 0, 0, 5, 0), T(20, 0, 5, 65, 5, 3, 2, 0, 20, 0)]
    )
    monkeypatch.setattr(src._ps, "cpu_count", lambda logical: 2)
    monkeypatch.setattr(src._ps, "cpu_freq", lambda percpu: [])
    cores = src._cpu()
    assert [c.online for c in cores] == [True, False, True]
    assert [c.load_pct for c in cores] == [10.0, None, 30.0]
    assert all(c.freq_mhz is None for c in cores)
