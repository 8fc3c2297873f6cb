"""NVML source with a fake pynvml-shaped module injected (no GPU needed)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from workbench.core.errors import TelemetryError
from workbench.core.telemetry import Recorder
from workbench.core.telemetry.nvml import NvmlSource


class FakeNVML:
    """The subset of pynvml the source calls. ``unsupported`` names functions answering NOT_SUPPORTED."""

    NVML_TEMPERATURE_GPU = 0
    NVML_CLOCK_SM = 1
    NVML_CLOCK_MEM = 2

    class NVMLError(Exception):
        pass

    def __init__(self, *, unsupported=(), init_error=None, count=1):
        self.unsupported = set(unsupported)
        self.init_error = init_error
        self.count = count
        self.energy_mj = 1_000_000
        self.power_mw = 250_000
        self.reasons = 0x1
        self.shutdowns = 0

    def _check(self, name):
        if name in self.unsupported:
            raise self.NVMLError("Not Supported")

    def nvmlInit(self):
        if self.init_error:
            raise self.NVMLError(self.init_error)

    def nvmlShutdown(self):
        self.shutdowns += 1

    def nvmlDeviceGetCount(self):
        return self.count

    def nvmlDeviceGetHandleByIndex(self, i):
        return ("h", i)

    def nvmlDeviceGetName(self, h):
        return b"NVIDIA H100 80GB HBM3"

    def nvmlDeviceGetPowerUsage(self, h):
        self._check("power")
        return self.power_mw

    def nvmlDeviceGetTotalEnergyConsumption(self, h):
        self._check("energy")
        return self.energy_mj

    def nvmlDeviceGetTemperature(self, h, sensor):
        self._check("temp")
        return 41

    def nvmlDeviceGetUtilizationRates(self, h):
        self._check("util")
        return SimpleNamespace(gpu=97, memory=40)

    def nvmlDeviceGetClockInfo(self, h, which):
        self._check("clock")
        return 1980 if which == self.NVML_CLOCK_SM else 2619

    def nvmlDeviceGetMemoryInfo(self, h):
        return SimpleNamespace(used=2 * 2**30, total=80 * 2**30)

    def nvmlDeviceGetFanSpeed(self, h):
        raise self.NVMLError("Not Supported")  # passively cooled datacenter part

    def nvmlDeviceGetCurrentClocksEventReasons(self, h):
        return self.reasons


def test_reads_every_supported_field():
    nv = FakeNVML()
    src = NvmlSource(nvml=nv)
    s = src.read()
    assert s.total_power_mw == 250000.0 and s.total_power_rule == "nvml.power_usage (1 s average on Ampere+)"
    assert s.energy_mj == 1_000_000.0
    assert s.temps_c == {"GPU": 41.0}
    assert s.gpu.load_pct == 97.0 and s.gpu.freq_mhz == (1980.0,)
    assert s.emc.load_pct == 40.0 and s.emc.freq_mhz == 2619.0
    assert s.fan is None and "Not Supported" in src.unavailable["fan"]
    assert s.throttle_reasons == ("gpu_idle",)
    assert s.extra["gpu_name"] == "NVIDIA H100 80GB HBM3"
    assert s.extra["gpu_memory_mb"] == {"used": 2048.0, "total": 81920.0}
    nv.reasons = 0x4 | 0x40
    assert src.read().throttle_reasons == ("sw_power_cap", "hw_thermal_slowdown")
    src.close()
    src.close()
    assert nv.shutdowns == 1


def test_energy_counter_drives_the_window_energy():
    nv = FakeNVML()
    t = [0.0]
    src = NvmlSource(nvml=nv, clock=lambda: t[0])
    rec = Recorder(src, interval_ms=1000, clock=lambda: t[0])
    # Drive the recorder by hand (no thread): samples at 0,1,2,3 s with 100 J per second from the counter.
    for k in range(4):
        t[0] = float(k)
        nv.energy_mj = 1_000_000 + 100_000 * k
        nv.power_mw = 50_000  # deliberately inconsistent: the counter must win
        rec._sample_once()
    rec._t0, rec._t1 = 0.5, 2.5
    s = rec._summarise()
    assert s.energy_method == "counter"
    assert s.energy_mj == pytest.approx(200_000.0)
    assert s.mean_power_w == pytest.approx(100.0)
    assert s.peak_power_w == pytest.approx(50.0)


def test_missing_energy_counter_falls_back_to_power():
    src = NvmlSource(nvml=FakeNVML(unsupported={"energy"}))
    assert src.read().energy_mj is None and "energy_mj" in src.unavailable


def test_unavailable_cases():
    with pytest.raises(TelemetryError, match="Driver Not Loaded"):
        NvmlSource(nvml=FakeNVML(init_error="Driver Not Loaded"))
    with pytest.raises(TelemetryError, match="no GPU index 0"):
        NvmlSource(nvml=FakeNVML(count=0))
    # Jetson Orin on JetPack 7.2: NVML answers but supports none of the telemetry.
    nv = FakeNVML(unsupported={"power", "energy", "temp", "util", "clock"})
    with pytest.raises(TelemetryError, match="no power, temperature or utilisation"):
        NvmlSource(nvml=nv)
    assert nv.shutdowns == 1
