"""Which NVML GPU telemetry samples (the run's CUDA device, by UUID; MIG) and which power reading it uses
(instantaneous field vs nvmlDeviceGetPowerUsage's 1 s average), with a fake multi-GPU pynvml: no GPU needed."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from workbench.core.hw.nvml import choose_gpu, cuda_device_uuid, first_visible_device, open_session
from workbench.core.telemetry import Recorder
from workbench.core.telemetry.nvml import RULE_AVERAGE, RULE_INSTANT, NvmlSource

UUID_A = "GPU-aaaaaaaa-1111-2222-3333-444444444444"
UUID_B = "GPU-bbbbbbbb-1111-2222-3333-444444444444"
MIG_B1 = "MIG-cccccccc-1111-2222-3333-444444444444"
MIG_B2 = "MIG-dddddddd-1111-2222-3333-444444444444"
NOT_SUPPORTED = 3  # NVML_ERROR_NOT_SUPPORTED (nvml.h)
NOT_FOUND = 6  # NVML_ERROR_NOT_FOUND


class MultiNVML:
    """pynvml-shaped: GPUs ``("gpu", i)`` and MIG devices ``("mig", i, slot)``. Each GPU: uuid, name, power (the
    averaged reading), instant (the NVML_FI_DEV_POWER_INSTANT value, None: field refused), migs: {slot: (uuid,
    gpu instance id, compute instance id, memory bytes)}. Board queries on a MIG handle answer Not Supported, as
    NVML does."""

    NVML_TEMPERATURE_GPU = 0
    NVML_CLOCK_SM = 1
    NVML_CLOCK_MEM = 2
    NVML_DEVICE_MIG_ENABLE = 1
    NVML_FI_DEV_POWER_INSTANT = 186
    NVML_VALUE_TYPE_UNSIGNED_INT = 1

    class NVMLError(Exception):
        pass

    def __init__(self, gpus, *, field_values=True):
        self.gpus = gpus
        if not field_values:
            self.nvmlDeviceGetFieldValues = None  # an old binding: getattr finds None
        self.field_ids: list = []

    def _board(self, h):
        if h[0] == "mig":
            raise self.NVMLError("Not Supported")
        return self.gpus[h[1]]

    def nvmlInit(self):
        pass

    def nvmlShutdown(self):
        pass

    def nvmlDeviceGetCount(self):
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, i):
        return ("gpu", i)

    def nvmlDeviceGetName(self, h):
        return self._board(h)["name"]

    def nvmlDeviceGetUUID(self, h):
        if h[0] == "mig":
            return self.gpus[h[1]]["migs"][h[2]][0].encode()
        return self.gpus[h[1]]["uuid"].encode()

    def nvmlDeviceGetMigMode(self, h):
        on = 1 if self._board(h).get("migs") else 0
        return [on, on]

    def nvmlDeviceGetMaxMigDeviceCount(self, h):
        return 7 if self._board(h).get("migs") else 0

    def nvmlDeviceGetMigDeviceHandleByIndex(self, h, k):
        if k not in self._board(h).get("migs", {}):
            raise self.NVMLError("Not Found")
        return ("mig", h[1], k)

    def nvmlDeviceGetGpuInstanceId(self, h):
        return self.gpus[h[1]]["migs"][h[2]][1]

    def nvmlDeviceGetComputeInstanceId(self, h):
        return self.gpus[h[1]]["migs"][h[2]][2]

    def nvmlDeviceGetPowerUsage(self, h):
        return self._board(h)["power"]

    def nvmlDeviceGetFieldValues(self, h, ids):
        g = self._board(h)
        self.field_ids.append(list(ids))
        out = []
        for fid in ids:
            ok = fid == 186 and g.get("instant") is not None
            out.append(
                SimpleNamespace(
                    fieldId=fid,
                    nvmlReturn=0 if ok else NOT_SUPPORTED,
                    valueType=1,
                    value=SimpleNamespace(uiVal=g["instant"] if ok else 0),
                )
            )
        return out

    def nvmlDeviceGetTotalEnergyConsumption(self, h):
        return self._board(h)["energy"]

    def nvmlDeviceGetTemperature(self, h, sensor):
        return self._board(h)["temp"]

    def nvmlDeviceGetUtilizationRates(self, h):
        self._board(h)
        return SimpleNamespace(gpu=90, memory=30)

    def nvmlDeviceGetClockInfo(self, h, which):
        self._board(h)
        return 1400

    def nvmlDeviceGetMemoryInfo(self, h):
        if h[0] == "mig":
            return SimpleNamespace(used=1 * 2**30, total=self.gpus[h[1]]["migs"][h[2]][3])
        return SimpleNamespace(used=4 * 2**30, total=80 * 2**30)

    def nvmlDeviceGetFanSpeed(self, h):
        raise self.NVMLError("Not Supported")

    def nvmlDeviceGetCurrentClocksEventReasons(self, h):
        self._board(h)
        return 0


def two_gpus(*, instant=(None, None), migs_b=None, field_values=True):
    a = {
        "uuid": UUID_A,
        "name": b"NVIDIA A100-SXM4-80GB",
        "power": 100_000,
        "instant": instant[0],
        "energy": 1_000_000,
        "temp": 40,
    }
    b = {"uuid": UUID_B, "name": b"NVIDIA H100 80GB HBM3", "power": 300_000, "instant": instant[1],
         "energy": 9_000_000, "temp": 60, "migs": migs_b or {}}  # fmt: skip
    return MultiNVML([a, b], field_values=field_values)


def never():
    raise AssertionError("the CUDA driver must not be asked when the answer is known")


# -- defect 16: the GPU of the run, not NVML index 0


def test_cuda_visible_devices_uuid_of_the_second_gpu_chooses_it():
    nv = two_gpus()
    src = NvmlSource(nvml=nv, environ={"CUDA_VISIBLE_DEVICES": f"{UUID_B},{UUID_A}"}, cuda_uuid=never)
    s = src.read()
    assert (src.choice.index, src.choice.how, src.choice.uuid) == (1, "uuid", UUID_B)
    assert s.total_power_mw == 300_000.0 and s.temps_c == {"GPU": 60.0} and s.energy_mj == 9_000_000.0
    assert s.extra["gpu_uuid"] == UUID_B
    assert s.extra["gpu_choice"] == (
        f"GPU 1 (NVIDIA H100 80GB HBM3, {UUID_B}), matched by UUID from CUDA_VISIBLE_DEVICES"
    )
    assert "gpu_choice" not in src.unavailable
    src.close()


def test_an_abbreviated_uuid_is_matched_as_cuda_does_and_an_ambiguous_one_falls_back():
    nv = two_gpus()
    with open_session(nv) as s:
        assert choose_gpu(s, environ={"CUDA_VISIBLE_DEVICES": "GPU-bbbb"}, cuda_uuid=never).index == 1
        c = choose_gpu(s, environ={"CUDA_VISIBLE_DEVICES": "GPU-"}, cuda_uuid=never)
    assert (c.index, c.how) == (0, "fallback")
    assert c.warning.startswith("CUDA device GPU- (from CUDA_VISIBLE_DEVICES) matches 2 NVML devices")


def test_a_mig_uuid_samples_the_mig_memory_and_its_parent_board():
    nv = two_gpus(migs_b={0: (MIG_B1, 1, 0, 10 * 2**30), 3: (MIG_B2, 2, 0, 20 * 2**30)})
    src = NvmlSource(nvml=nv, environ={"CUDA_VISIBLE_DEVICES": MIG_B2}, cuda_uuid=never)
    c = src.choice
    assert (c.mig, c.index, c.uuid, c.handle, c.board_handle) == (True, 1, MIG_B2, ("mig", 1, 3), ("gpu", 1))
    s = src.read()
    assert s.extra["gpu_memory_mb"] == {"used": 1024.0, "total": 20480.0}  # the MIG instance's own memory
    assert s.total_power_mw == 300_000.0 and s.temps_c == {"GPU": 60.0}  # the parent GPU's board readings
    assert src.gpu_name == "NVIDIA H100 80GB HBM3"
    assert "whole GPU's" in src.unavailable["gpu_scope"]
    src.close()


def test_the_older_mig_form_with_instance_ids():
    nv = two_gpus(migs_b={0: (MIG_B1, 1, 0, 10 * 2**30), 3: (MIG_B2, 2, 0, 20 * 2**30)})
    with open_session(nv) as s:
        c = choose_gpu(s, environ={"CUDA_VISIBLE_DEVICES": f"MIG-{UUID_B}/1/0"}, cuda_uuid=never)
        assert (c.uuid, c.handle, c.board_handle) == (MIG_B1, ("mig", 1, 0), ("gpu", 1))
        c = choose_gpu(s, environ={"CUDA_VISIBLE_DEVICES": f"MIG-{UUID_B}/5/0"}, cuda_uuid=never)
        assert (c.handle, c.how) == (("gpu", 1), "uuid") and "not found under it" in c.detail


def test_without_a_uuid_in_the_environment_the_cuda_driver_is_asked():
    nv = two_gpus()
    with open_session(nv) as s:
        c = choose_gpu(s, environ={}, cuda_uuid=lambda: UUID_B[4:].upper())
        assert (c.index, c.how) == (1, "uuid") and c.detail.endswith("matched by UUID from the CUDA driver")
        c = choose_gpu(
            s, environ={"CUDA_VISIBLE_DEVICES": "1", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}, cuda_uuid=lambda: None
        )
        assert (c.index, c.how) == (1, "index")
        c = choose_gpu(s, environ={"CUDA_VISIBLE_DEVICES": "1"}, cuda_uuid=lambda: None)  # fastest-first order
        assert (c.index, c.how) == (0, "fallback")


def test_fallback_to_gpu_0_warns_in_the_source_and_the_summary():
    t = [0.0]
    src = NvmlSource(nvml=two_gpus(), environ={}, cuda_uuid=lambda: None, clock=lambda: t[0])
    assert src.choice.how == "fallback"
    assert "may not be the GPU the run uses" in src.unavailable["gpu_choice"]
    rec = Recorder(src, interval_ms=1000, clock=lambda: t[0])
    for k in range(3):
        t[0] = float(k)
        rec._sample_once()
    rec._t0, rec._t1 = 0.5, 1.5
    assert "may not be the GPU the run uses" in rec._summarise().reasons["gpu_choice"]


def test_the_only_gpu_needs_no_cuda_answer():
    nv = MultiNVML([two_gpus().gpus[0]])
    with open_session(nv) as s:
        c = choose_gpu(s, environ={}, cuda_uuid=never)
    assert (c.index, c.how, c.uuid) == (0, "only", UUID_A) and c.warning is None


def test_environment_parsing_and_the_driver_query_without_cuda():
    assert first_visible_device({}) is None
    assert first_visible_device({"CUDA_VISIBLE_DEVICES": ""}) is None
    assert first_visible_device({"CUDA_VISIBLE_DEVICES": " GPU-ab , 0"}) == "GPU-ab"
    u = cuda_device_uuid()  # None without libcuda (here); a UUID body on a CUDA machine
    assert u is None or (len(u) == 36 and u.count("-") == 4 and not u.startswith(("gpu-", "mig-")))


# -- defect 17: the instantaneous power field where NVML has it


def _peak(src, powers):
    t = [0.0]
    src._clock = lambda: t[0]
    rec = Recorder(src, interval_ms=1000, clock=lambda: t[0])
    for k, (avg, inst) in enumerate(powers):
        t[0] = float(k)
        src_lib = src.session.lib
        src_lib.gpus[0]["power"], src_lib.gpus[0]["instant"] = avg, inst
        rec._sample_once()
    rec._t0, rec._t1 = 0.0, float(len(powers) - 1)
    return rec._summarise()


def test_instant_power_field_is_used_where_nvml_answers_it():
    nv = MultiNVML([two_gpus(instant=(420_000, None)).gpus[0]])
    src = NvmlSource(nvml=nv, environ={})
    s = src.read()
    assert s.total_power_mw == 420_000.0 and s.total_power_rule == RULE_INSTANT == "nvml.power_instant"
    assert nv.field_ids[-1] == [186]  # NVML_FI_DEV_POWER_INSTANT
    assert "peak_power_w" not in src.unavailable
    # A 1 s spike the averaged reading smooths: the peak is the instantaneous one.
    summary = _peak(src, [(200_000, 200_000), (260_000, 500_000), (210_000, 200_000)])
    assert summary.peak_power_w == pytest.approx(500.0) and summary.total_power_rule == "nvml.power_instant"
    assert "peak_power_w" not in summary.reasons


@pytest.mark.parametrize(
    ("field_values", "instant"), [(True, None), (False, None), (True, 0)], ids=["field-refused", "old-binding", "zero"]
)
def test_without_the_field_the_averaged_reading_is_used_and_said(field_values, instant):
    nv = MultiNVML([two_gpus(instant=(instant, None)).gpus[0]], field_values=field_values)
    src = NvmlSource(nvml=nv, environ={})
    s = src.read()
    assert s.total_power_mw == 100_000.0 and s.total_power_rule == RULE_AVERAGE
    assert RULE_AVERAGE == "nvml.power_usage (1 s average on Ampere+)"
    assert "1 s average on Ampere and newer" in src.unavailable["peak_power_w"]
    summary = _peak(src, [(200_000, instant), (260_000, instant), (210_000, instant)])
    assert summary.peak_power_w == pytest.approx(260.0)
    assert summary.total_power_rule == RULE_AVERAGE
    assert "1 s average" in summary.reasons["peak_power_w"]
