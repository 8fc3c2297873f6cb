"""NVML source (nvidia-ml-py) for desktop/datacenter NVIDIA GPUs: board power (mW), total energy counter (mJ,
Volta+), temperature, SM/memory clocks, utilisation, memory, fan and decoded clocks-event (throttle) reasons.

Each query is probed once at open; a query that answers NVML_ERROR_NOT_SUPPORTED (or any NVMLError) is not
called again and its field is "unavailable" with the reason. When NVML answers but supports none of power,
temperature and utilisation (Jetson Orin on JetPack 7.2), the source is unavailable so "auto" falls through.

Which GPU: the one the run's CUDA device is, matched by UUID (:func:`workbench.core.hw.nvml.choose_gpu`; a MIG
instance samples its parent GPU's board readings). ``choice.detail`` (also ``extra["gpu_choice"]`` of every
sample) says which GPU and how; a fallback to GPU 0 puts its warning in ``unavailable["gpu_choice"]``.

Power: the instantaneous field ``NVML_FI_DEV_POWER_INSTANT`` where the driver has it (``total_power_rule``
"nvml.power_instant"), else ``nvmlDeviceGetPowerUsage`` ("nvml.power_usage (1 s average on Ampere+)"), whose
reading is a 1-second average on Ampere and newer: a peak of it is a peak of averages, said in
``unavailable["peak_power_w"]``.

NVML is reached only through :mod:`workbench.core.hw.nvml` (lazy import, reference-counted init). The ``nvml``
module is injectable (tests pass a fake object shaped like ``pynvml``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from workbench.core.errors import TelemetryError
from workbench.core.hw.nvml import NvmlError, NvmlUnavailable, choose_gpu, open_session
from workbench.core.telemetry.base import BaseSource
from workbench.core.telemetry.schema import FanReading, GpuReading, LoadFreq, RailReading, TelemetrySample
from workbench.core.telemetry.throttle import decode_reasons

RULE_INSTANT = "nvml.power_instant"
RULE_AVERAGE = "nvml.power_usage (1 s average on Ampere+)"


class NvmlSource(BaseSource):
    """Samples the run's GPU through a :class:`~workbench.core.hw.nvml.NvmlSession` (held until close()).

    ``index``: this NVML index; ``uuid``: the GPU or MIG device with this UUID; neither (the default): the CUDA
    device of this process, by :func:`~workbench.core.hw.nvml.choose_gpu` (``environ`` and ``cuda_uuid`` are
    passed to it; tests). ``choice`` is the :class:`~workbench.core.hw.nvml.GpuChoice`.

    Raises TelemetryError ("NVML unavailable: <reason>") when NVML cannot start, there is no such GPU,
    or the GPU reports none of power, temperature and utilisation."""

    name = "nvml"

    def __init__(
        self,
        *,
        nvml: Any = None,
        index: int | None = None,
        uuid: str | None = None,
        environ: Any = None,
        cuda_uuid: Any = None,
        clock=time.monotonic,
    ) -> None:
        super().__init__(clock=clock)
        try:
            self.session = open_session(nvml)
        except NvmlUnavailable as exc:
            raise TelemetryError(
                f"NVML unavailable: {exc}",
                hint="install the nvml extra (pip install 'edge-workbench[nvml]') and the NVIDIA driver, or use "
                "--telemetry host",
            ) from None
        nv = self.session
        try:
            kw: dict[str, Any] = {"index": index, "uuid": uuid, "environ": environ}
            if cuda_uuid is not None:
                kw["cuda_uuid"] = cuda_uuid
            self.choice = choose_gpu(nv, **kw)
            self.handle = self.choice.handle
            self.gpu_name = nv.name(self.choice.board_handle)
        except NvmlError as exc:
            self.close()
            msg = str(exc)
            raise TelemetryError(
                msg if msg.startswith("NVML sees") else f"NVML unavailable: {msg}",
                hint="check the GPU with `nvidia-smi -L`; use --telemetry host meanwhile",
            ) from None
        if self.choice.warning:
            self.unavailable["gpu_choice"] = self.choice.warning
        h = self.handle
        b = self.choice.board_handle  # board-level readings: a MIG device handle answers "Not Supported"
        try:
            nv.power_instant_mw(b)
            power, self.power_rule = (lambda: nv.power_instant_mw(b)), RULE_INSTANT
        except NvmlError as exc:
            power, self.power_rule = (lambda: nv.power_mw(b)), RULE_AVERAGE
            self.unavailable["peak_power_w"] = (
                f"no instantaneous power here ({exc}): power and its peak come from nvmlDeviceGetPowerUsage, "
                "a 1 s average on Ampere and newer GPUs, so short spikes are smoothed"
            )
        if self.choice.mig:
            self.unavailable["gpu_scope"] = (
                f"MIG device {self.choice.uuid}: power, energy, temperature, clocks and utilisation are its whole "
                "GPU's (NVML reports them per physical GPU), shared with any other MIG instance's work"
            )
        self._queries: dict[str, Any] = {
            "power": power,
            "energy": lambda: nv.energy_mj(b),  # since driver load
            "temp": lambda: nv.temperature_c(b),
            "util": lambda: nv.utilisation(b),
            "sm_clock": lambda: nv.sm_clock_mhz(b),
            "mem_clock": lambda: nv.memory_clock_mhz(b),
            "memory": lambda: nv.memory(h),  # a MIG device's own memory
            "fan": lambda: nv.fan_pct(b),
            "reasons": (lambda: nv.clock_event_reasons(b)) if nv.has_clock_event_reasons else None,
        }
        field_of = {
            "power": "total_power_mw",
            "energy": "energy_mj",
            "temp": "temps_c",
            "util": "gpu.load_pct",
            "sm_clock": "gpu.freq_mhz",
            "mem_clock": "emc",
            "memory": "gpu_memory_mb",
            "fan": "fan",
            "reasons": "throttle_reasons",
        }
        self._ok: set[str] = set()
        for key, fn in self._queries.items():
            if fn is None:
                self.unavailable[field_of[key]] = "this nvidia-ml-py has no clocks-event reason query"
                continue
            try:
                fn()
                self._ok.add(key)
            except NvmlError as exc:
                self.unavailable[field_of[key]] = f"NVML: {exc} on {self.gpu_name}"
        self.unavailable["rails_mw"] = "NVML reports the GPU board power only (no per-rail readings)"
        self.unavailable.setdefault("cpu", "the nvml source has no CPU readings (use host for the CPU side)")
        if not ({"power", "temp", "util"} & self._ok):
            self.close()
            raise TelemetryError(
                f"NVML answers for {self.gpu_name} but reports no power, temperature or utilisation",
                hint="use --telemetry nvidia-smi (or sysfs/tegrastats on a Jetson); `nvidia-smi -q -d "
                "POWER,TEMPERATURE` shows what the driver reports",
            )

    @property
    def has_power(self) -> bool:
        """True when NVML answers for board power or the energy counter (False on Jetson: NOT_SUPPORTED)."""
        return bool({"power", "energy"} & self._ok)

    def _get(self, key: str) -> Any:
        if key not in self._ok:
            return None
        try:
            return self._queries[key]()
        except NvmlError:
            return None

    def read(self) -> TelemetrySample:
        t, seq = self._next()
        power = self._get("power")
        energy = self._get("energy")
        temp = self._get("temp")
        util = self._get("util")
        sm = self._get("sm_clock")
        mem = self._get("mem_clock")
        meminfo = self._get("memory")
        fan = self._get("fan")
        reasons = self._get("reasons")
        extra: dict[str, Any] = {
            "gpu_name": self.gpu_name,
            "gpu_uuid": self.choice.uuid,
            "gpu_choice": self.choice.detail,
        }
        if meminfo is not None:
            extra["gpu_memory_mb"] = {"used": meminfo.used / 2**20, "total": meminfo.total / 2**20}
        gpu = None
        if util is not None or sm is not None:
            gpu = GpuReading(float(util.gpu) if util is not None else None, (float(sm),) if sm is not None else ())
        emc = None
        if mem is not None or util is not None:
            emc = LoadFreq(float(util.memory) if util is not None else None, float(mem) if mem is not None else None)
        return TelemetrySample(
            timestamp_s=t,
            seq=seq,
            source=self.name,
            rails_mw={"GPU": RailReading(float(power))} if power is not None else {},
            total_power_mw=float(power) if power is not None else None,
            total_power_rule=self.power_rule if power is not None else None,
            energy_mj=float(energy) if energy is not None else None,
            temps_c={"GPU": float(temp)} if temp is not None else {},
            gpu=gpu,
            emc=emc,
            fan=FanReading(pwm_pct=float(fan)) if fan is not None else None,
            throttle_reasons=decode_reasons(int(reasons)) if reasons is not None else None,
            extra=extra,
        )

    def close(self) -> None:
        """Release the NVML session (idempotent: the session counts its own close)."""
        self.session.close()
        super().close()


def open_nvml(*, root: Path = Path("/"), **opts: Any) -> NvmlSource:
    """Factory for ``open_source("nvml")``."""
    return NvmlSource(**opts)
