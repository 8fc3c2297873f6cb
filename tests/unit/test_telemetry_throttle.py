"""Throttle reasons and window flags."""

from __future__ import annotations

from workbench.core.telemetry.schema import GpuReading, TelemetrySample
from workbench.core.telemetry.throttle import decode_reasons, throttle_flags


def S(seq, *, temps=None, load=None, freqs=(), reasons=None):
    return TelemetrySample(
        timestamp_s=float(seq),
        seq=seq,
        temps_c=temps or {},
        gpu=GpuReading(load, tuple(freqs)) if load is not None or freqs else None,
        throttle_reasons=reasons,
    )


def test_decode():
    assert decode_reasons(0) == ()
    assert decode_reasons(0x1FF) == (
        "gpu_idle", "applications_clocks_setting", "sw_power_cap", "hw_slowdown", "sync_boost",
        "sw_thermal_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown", "display_clock_setting",
    )  # fmt: skip
    assert decode_reasons(0x800) == ("bit_0x800",)


def test_flags_from_nvml_reasons_ignore_benign():
    flags = throttle_flags(
        [S(0, reasons=("gpu_idle",)), S(1, reasons=("sw_power_cap", "sync_boost")), S(2, reasons=("sw_power_cap",))]
    )
    assert flags == ("nvml:sw_power_cap",)


def test_temperature_limit_excludes_pmic():
    samples = [S(0, temps={"tj": 80.0, "PMIC": 100.0}), S(1, temps={"tj": 86.5, "GPU": None})]
    assert throttle_flags(samples, max_temp_c=85.0) == ("temp>85°C: tj 86.5°C",)
    assert throttle_flags(samples, max_temp_c=90.0) == ()
    assert throttle_flags(samples) == ()


def test_jetson_gpu_clock_drop_under_load():
    busy = [S(0, load=99, freqs=[1300, 1300]), S(1, load=99, freqs=[1300, 1300]), S(2, load=98, freqs=[918, 918])]
    assert throttle_flags(busy) == ("gpu clock drop 1300→918 MHz under load",)
    idle_drop = [S(0, load=99, freqs=[1300]), S(1, load=5, freqs=[306])]  # clocks fall because idle: not throttling
    assert throttle_flags(idle_drop) == ()
    small = [S(0, load=99, freqs=[1300]), S(1, load=99, freqs=[1200])]
    assert throttle_flags(small) == ()
