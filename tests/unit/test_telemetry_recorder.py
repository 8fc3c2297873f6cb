"""Recorder thread: window marks, summary, errors, replay flag."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from _waiting import wait_until  # noqa: E402

from workbench.core.errors import TelemetryError
from workbench.core.telemetry.base import BaseSource
from workbench.core.telemetry.recorder import REPLAY_LABEL, Recorder
from workbench.core.telemetry.schema import CpuCore, MemReading, TelemetrySample


class RampSource(BaseSource):
    """P(t) = 2000 + 1000·(t − t_start) mW on the real monotonic clock; every 3rd read fails once if asked."""

    name = "ramp"

    def __init__(self, fail_every: int = 0, measured: bool = True):
        super().__init__()
        self.t_start = time.monotonic()
        self.fail_every = fail_every
        self.measured = measured
        self.n = 0

    def read(self):
        self.n += 1
        if self.fail_every and self.n % self.fail_every == 0:
            raise TelemetryError("helper timed out")
        t, seq = self._next()
        return TelemetrySample(
            timestamp_s=t,
            seq=seq,
            source=self.name,
            total_power_mw=2000.0 + 1000.0 * (t - self.t_start),
            total_power_rule="VDD_IN",
            temps_c={"tj": 40.0 + seq, "PMIC": 100.0},
            cpu=(CpuCore(True, 50.0, 1000.0), CpuCore(False)),
            ram_mb=MemReading(100.0 + seq, 1000.0),
        )


def _more_samples(rec: Recorder, n: int) -> None:
    """Wait (for a state, not a time) until the recorder's thread has taken ``n`` more samples."""
    start = rec.latest().seq if rec.latest() is not None else -1
    wait_until(lambda: rec.latest() is not None and rec.latest().seq >= start + n, what=f"{n} more samples")


def test_window_energy_matches_ramp_integral():
    src = RampSource()
    rec = Recorder(src, interval_ms=20).start()
    _more_samples(rec, 3)
    t0 = rec.mark_window_start()
    _more_samples(rec, 12)
    t1 = rec.mark_window_end()
    s = rec.stop().with_inferences(40)
    a, b = t0 - src.t_start, t1 - src.t_start
    exact = 2000.0 * (b - a) + 500.0 * (b * b - a * a)
    assert s.energy_mj == pytest.approx(exact, rel=1e-6)
    assert s.mj_per_inference == pytest.approx(exact / 40, rel=1e-6)
    assert s.window_s == pytest.approx(t1 - t0)
    assert s.mean_power_w == pytest.approx(exact / (t1 - t0) / 1000, rel=1e-6)
    assert s.power_coverage == 1.0
    assert s.temps_max_c["PMIC"] == 100.0
    assert s.temp_max_c == s.temps_max_c["tj"] < 100.0  # PMIC's constant 100 °C is not a reading
    assert s.cpu_pct_mean == 50.0  # the offline core is not averaged in as 0 %
    assert s.ram_total_mb == 1000.0
    assert s.total_power_rule == "VDD_IN"
    assert s.measured is True and s.label is None
    assert s.samples >= 10
    d = s.to_dict()
    assert d["energy_mj"] == s.energy_mj and d["inferences"] == 40


def test_failed_reads_are_counted_not_fatal():
    src = RampSource(fail_every=3)
    rec = Recorder(src, interval_ms=10).start()
    rec.mark_window_start()
    wait_until(lambda: rec.read_errors >= 3, what="three failed reads")
    _more_samples(rec, 1)
    rec.mark_window_end()
    s = rec.stop()
    assert s.read_errors >= 3
    assert "helper timed out" in s.reasons["read_errors"]
    assert s.energy_mj is not None


def test_replay_source_is_labelled_not_measured():
    rec = Recorder(RampSource(measured=False), interval_ms=10).start()
    rec.mark_window_start()
    _more_samples(rec, 2)
    rec.mark_window_end()
    s = rec.stop()
    assert s.measured is False and s.label == REPLAY_LABEL


def test_history_is_bounded():
    rec = Recorder(RampSource(), interval_ms=5, capacity=4).start()
    wait_until(lambda: rec.latest() is not None and rec.latest().seq >= 6, what="more samples than the capacity")
    rec.stop()
    assert len(rec.snapshot()) == 4
    assert rec.latest().seq == rec.snapshot()[-1].seq


def test_no_power_gives_reason():
    class NoPower(RampSource):
        def read(self):
            t, seq = self._next()
            return TelemetrySample(timestamp_s=t, seq=seq)

    src = NoPower()
    src.unavailable["total_power_mw"] = "no RAPL powercap"
    rec = Recorder(src, interval_ms=10).start()
    rec.mark_window_start()
    _more_samples(rec, 2)
    rec.mark_window_end()
    s = rec.stop().with_inferences(5)
    assert s.energy_mj is None and s.mj_per_inference is None
    assert s.reasons["energy_mj"] == "no RAPL powercap"
    assert s.reasons["mj_per_inference"] == "no RAPL powercap"


def test_bad_interval():
    with pytest.raises(TelemetryError):
        Recorder(RampSource(), interval_ms=0)


def test_throttle_flag_from_profile_temperature_limit():
    rec = Recorder(RampSource(), interval_ms=10, max_temp_c=41.5).start()
    rec.mark_window_start()
    _more_samples(rec, 4)
    rec.mark_window_end()
    s = rec.stop()
    # tj rises 40 + seq; PMIC's constant 100 °C is ignored
    assert s.throttled is True
    assert len(s.throttle_reasons) == 1 and s.throttle_reasons[0].startswith("temp>41.5°C: tj ")
    assert s.to_dict()["throttled"] is True


def test_long_window_history_note_but_full_energy():
    t = [0.0]
    src = RampSource()
    src._clock = lambda: t[0]
    src.t_start = 0.0
    rec = Recorder(src, interval_ms=100, capacity=5, clock=lambda: t[0])
    rec._sample_once()
    rec.mark_window_start()
    for k in range(1, 21):
        t[0] = k * 0.1
        rec._sample_once()
    rec.mark_window_end()
    s = rec._summarise()
    assert s.energy_mj == pytest.approx(2000.0 * 2.0 + 500.0 * 4.0)  # ∫0..2 (2000 + 1000 t) dt
    assert "history" in s.reasons and s.samples == 5


def test_profile_total_rule_applies_to_rails_only():
    from workbench.core.telemetry.replay import ReplaySource

    log = Path(__file__).resolve().parents[1] / "fixtures" / "tegrastats" / "tx2-jp4-datadog-vdd-sys-rails.log"
    t = [0.0]
    rec = Recorder(
        ReplaySource(log, clock=lambda: t[0]),
        interval_ms=100,
        clock=lambda: t[0],
        total_rule="sum:VDD_SYS_GPU,VDD_SYS_CPU",
    )
    rec._sample_once()
    rec.mark_window_start()
    t[0] = 1.0
    rec._sample_once()
    rec.mark_window_end()
    s = rec._summarise()
    assert s.total_power_rule == "sum:VDD_SYS_GPU,VDD_SYS_CPU"
    assert s.mean_power_w == pytest.approx(0.304)  # 152 + 152 mW, not VDD_IN's 3056
    assert rec.latest().total_power_mw == 304.0
    # A source without rails keeps its own total even when the profile names a rail.
    rec2 = Recorder(RampSource(), interval_ms=10, total_rule="VDD_IN")
    rec2._sample_once()
    assert rec2.latest().total_power_mw is not None
