"""A fake pynvml-shaped library for the guarded NVML module's users (no GPU needed)."""

from __future__ import annotations

from types import SimpleNamespace


class FakeLib:
    """The pynvml calls the guarded module makes, counting nvmlInit / nvmlShutdown."""

    NVML_TEMPERATURE_GPU = 0
    NVML_CLOCK_SM = 1
    NVML_CLOCK_MEM = 2

    class NVMLError(Exception):
        pass

    def __init__(self, *, init_error=None, count=1, names=(b"NVIDIA H100 80GB HBM3",)):
        self.init_error = init_error
        self.count = count
        self.names = names
        self.inits = 0
        self.shutdowns = 0

    def nvmlInit(self):
        if self.init_error:
            raise self.NVMLError(self.init_error)
        self.inits += 1

    def nvmlShutdown(self):
        self.shutdowns += 1

    def nvmlSystemGetDriverVersion(self):
        return b"550.54.15"

    def nvmlSystemGetCudaDriverVersion(self):
        return 12020

    def nvmlDeviceGetCount(self):
        return self.count

    def nvmlDeviceGetHandleByIndex(self, i):
        if i >= self.count:
            raise self.NVMLError("Invalid Argument")
        return ("h", i)

    def nvmlDeviceGetName(self, h):
        return self.names[h[1]]

    def nvmlDeviceGetCudaComputeCapability(self, h):
        return (9, 0)

    def nvmlDeviceGetMemoryInfo(self, h):
        return SimpleNamespace(used=2 * 2**30, total=80 * 2**30, free=78 * 2**30)

    def nvmlDeviceGetPowerUsage(self, h):
        return 250_000

    def nvmlDeviceGetTotalEnergyConsumption(self, h):
        raise self.NVMLError("Not Supported")

    def nvmlDeviceGetTemperature(self, h, sensor):
        assert sensor == self.NVML_TEMPERATURE_GPU
        return 41

    def nvmlDeviceGetUtilizationRates(self, h):
        return SimpleNamespace(gpu=97, memory=40)

    def nvmlDeviceGetClockInfo(self, h, which):
        return {self.NVML_CLOCK_SM: 1980, self.NVML_CLOCK_MEM: 2619}[which]

    def nvmlDeviceGetFanSpeed(self, h):
        return 30

    def nvmlDeviceGetCurrentClocksThrottleReasons(self, h):  # the pre-12.535 name only
        return 0x4
