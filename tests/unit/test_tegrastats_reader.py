"""tegrastats subprocess reader against a fake `tegrastats` script."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from _waiting import wait_until  # noqa: E402

from workbench.core.errors import TelemetryError
from workbench.core.telemetry.tegrastats import TegrastatsSource

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "tegrastats"


def fake(tmp_path: Path, body: str) -> Path:
    exe = tmp_path / "tegrastats"
    exe.write_text(f"#!{sys.executable}\nimport sys, time\n{body}\n")
    exe.chmod(0o755)
    return exe


def test_reads_latest_line(tmp_path):
    log = FIX / "thor-jp7-r384-tegra-exporter.log"
    exe = fake(
        tmp_path,
        f"lines = [l for l in open({str(log)!r}) if not l.startswith('#')]\n"
        "assert sys.argv[1:3] == ['--interval', '50'], sys.argv\n"
        "for l in lines:\n    print(l, end='', flush=True); time.sleep(0.05)\n"
        "time.sleep(30)\n",
    )
    src = TegrastatsSource(exe=exe, interval_ms=50)
    try:
        s = src.read()
        assert s.source == "tegrastats" and len(s.cpu) == 14
        # the helper prints a line every 50 ms: wait until the reader has taken the third (last) one
        s = wait_until(lambda: (r := src.read()).rails_mw["VIN_SYS_5V0"].now_mw == 4428.0 and r, what="the third line")
        assert s.stale == ()
    finally:
        src.close()
    assert src._proc.poll() is not None  # the child is gone


def test_silent_helper_marks_stale_without_power(tmp_path):
    exe = fake(tmp_path, "print('RAM 1/2MB CPU [1%@2] VDD_IN 5000mW/5000mW', flush=True)\ntime.sleep(30)")
    t = [0.0]
    src = TegrastatsSource(exe=exe, interval_ms=100, clock=lambda: t[0])
    try:
        assert src.read().total_power_mw == 5000.0
        t[0] = 10.0  # no new line for 10 s
        s = src.read()
        assert s.stale == ("all",) and s.total_power_mw is None
        assert s.ram_mb.used == 1.0  # old values still shown
    finally:
        src.close()


def test_missing_or_mute_tegrastats(tmp_path):
    with pytest.raises(TelemetryError, match="not found"):
        TegrastatsSource(exe=tmp_path / "absent")
    exe = fake(tmp_path, "time.sleep(30)")
    with pytest.raises(TelemetryError, match="printed nothing"):
        TegrastatsSource(exe=exe, first_line_timeout_s=0.3)


def test_no_rails_reason(tmp_path):
    exe = fake(tmp_path, "print('RAM 1/2MB CPU [1%@2] EMC_FREQ 0%', flush=True)\ntime.sleep(30)")
    src = TegrastatsSource(exe=exe)
    try:
        assert "no power rails" in src.unavailable["total_power_mw"]
    finally:
        src.close()
