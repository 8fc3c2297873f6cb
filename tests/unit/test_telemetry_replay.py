"""Replay source: tegrastats logs and saved sessions played back on an injected clock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _waiting import wait_until  # noqa: E402

from workbench.core.errors import TelemetryError, UsageError
from workbench.core.telemetry import REPLAY_LABEL, Recorder, open_source
from workbench.core.telemetry.replay import ReplaySource, session_header

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "tegrastats"
ORIN = FIX / "orin-nano-8gb-super-jp62-interval100-hokwangchoi.log"


class Clock:
    def __init__(self, t=100.0):
        self.t = t

    def __call__(self):
        return self.t


def test_replay_uses_interval_when_timestamps_repeat():
    clk = Clock()
    src = ReplaySource(ORIN, interval_ms=100, clock=clk)
    assert src.measured is False and src.label == REPLAY_LABEL
    assert len(src.samples) == 31
    first = src.read()
    assert first.timestamp_s == 100.0 and first.seq == 0
    assert first.total_power_mw == 5971.0  # line 1: VDD_IN 5971mW
    clk.t += 0.15
    assert src.read().total_power_mw == 6011.0  # line 2
    clk.t += 3.1 - 0.15  # 31 lines × 0.1 s: back to the first line
    s = src.read()
    assert s.total_power_mw == 5971.0 and s.timestamp_s == pytest.approx(103.1)


def test_replay_uses_distinct_timestamps():
    clk = Clock()
    src = ReplaySource(FIX / "thor-jp7-r384-tegra-exporter.log", interval_ms=250, clock=clk)
    assert src.offsets == [0.0, 1.0, 2.0]
    src.read()
    clk.t += 0.9
    assert src.read().rails_mw["VIN_SYS_5V0"].now_mw == 4126.0
    clk.t += 0.2
    assert src.read().rails_mw["VIN_SYS_5V0"].now_mw == 4327.0


def test_open_source_replay_spec_and_errors(tmp_path):
    src = open_source(f"replay:{ORIN},interval_ms=200")
    assert src.interval_ms == 200 and src.name == f"replay:{ORIN.name}"
    with pytest.raises(UsageError):
        open_source(f"replay:{ORIN},speed=2")
    with pytest.raises(UsageError):
        open_source(f"replay:{ORIN},interval_ms=0")
    with pytest.raises(TelemetryError, match="does not exist"):
        open_source(f"replay:{tmp_path / 'nope.log'}")
    empty = tmp_path / "empty.log"
    empty.write_text("# only a comment\n")
    with pytest.raises(TelemetryError, match="no data lines"):
        open_source(f"replay:{empty}")
    with pytest.raises(UsageError):
        open_source("bogus")


def test_replay_of_log_without_rails_says_why():
    src = ReplaySource(FIX / "orin-nx-16gb-jp5-nonsudo-no-rails.log")
    assert "no power total" in src.unavailable["total_power_mw"]


def test_session_file_roundtrip(tmp_path):
    base = ReplaySource(ORIN, interval_ms=100, clock=Clock())
    path = tmp_path / "s.jsonl"
    lines = [json.dumps(session_header("tegrastats", 100, True, {"fan": "no fan"}))]
    for k, s in enumerate(base.samples[:5]):
        lines.append(json.dumps(s.with_time(50.0 + 0.1 * k, k).to_dict()))
    path.write_text("\n".join(lines) + "\n")
    clk = Clock()
    src = ReplaySource(path, clock=clk)
    assert src.recorded_source == "tegrastats"
    assert src.offsets == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert src.unavailable["fan"] == "no fan (when recorded)"
    assert src.read().to_dict()["rails_mw"] == base.samples[0].to_dict()["rails_mw"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"timestamp_s": 1}\n{"oops": 1}\n')
    with pytest.raises(TelemetryError, match=r"bad.jsonl:2"):
        ReplaySource(bad)


def test_bench_window_over_replay_is_labelled_and_integrated():
    src = ReplaySource(ORIN, interval_ms=20)  # play the 100 ms log 5× faster
    rec = Recorder(src, interval_ms=10).start()
    rec.mark_window_start()
    first = rec.latest().seq if rec.latest() is not None else -1
    wait_until(lambda: rec.latest() is not None and rec.latest().seq >= first + 10, what="10 replayed samples")
    rec.mark_window_end()
    s = rec.stop().with_inferences(30)
    assert s.measured is False and s.label == REPLAY_LABEL
    powers = [x.total_power_mw for x in src.samples]
    assert min(powers) / 1000 <= s.mean_power_w <= max(powers) / 1000
    assert s.mj_per_inference == pytest.approx(s.energy_mj / 30)
    assert s.total_power_rule == "VDD_IN"
