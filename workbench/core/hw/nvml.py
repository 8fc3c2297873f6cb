"""The one guarded entry point to NVML (``pynvml`` from nvidia-ml-py, the pip extra ``nvml``).

This is the only module of the workbench that imports ``pynvml`` or calls ``nvmlInit`` / ``nvmlShutdown``.
Device detection (:mod:`workbench.core.hw.detect`), the NVML telemetry source
(:mod:`workbench.core.telemetry.nvml`) and ``workbench doctor`` each open a :class:`NvmlSession`:

- ``pynvml`` is imported on the first :func:`open_session`, never at module import (``workbench --help``
  and ``import workbench.core`` stay free of it);
- any failure to import or initialise (no package, no ``libnvidia-ml.so``, no driver loaded, a broken
  binding) raises :class:`NvmlUnavailable` carrying the reason; callers word it for their user;
- initialisation is reference-counted per library object: the first session calls ``nvmlInit``, the last
  one to close calls ``nvmlShutdown``, so a detection running while a telemetry recorder samples does not
  shut NVML down under it;
- names (and version strings) come back as ``str`` whatever the binding version (older nvidia-ml-py
  returns ``bytes``);
- a failing query raises :class:`NvmlError` (its text is NVML's, e.g. "Not Supported").

Every query maps to one NVML call; units are NVML's (see NVIDIA's NVML API reference, "Device Queries"
and "System Queries"). A fake object shaped like ``pynvml`` can be passed as ``lib`` (tests).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

NOT_INSTALLED = "nvidia-ml-py is not installed (pip extra 'nvml')"


class NvmlUnavailable(Exception):
    """NVML cannot be used here. ``stage`` is "import" (no usable pynvml) or "init" (``nvmlInit``
    failed: no driver, no library, no permission); ``str(err)`` is the reason."""

    def __init__(self, reason: str, *, stage: str) -> None:
        super().__init__(reason)
        self.stage = stage


class NvmlError(Exception):
    """One NVML query failed (``str(err)`` is NVML's message, e.g. "Not Supported")."""


@dataclass(frozen=True)
class MemoryInfo:
    """Device memory in bytes (``nvmlDeviceGetMemoryInfo``)."""

    used: int
    total: int


@dataclass(frozen=True)
class Utilisation:
    """Percent of the last sample period the GPU (``gpu``) and its memory interface (``memory``) were busy
    (``nvmlDeviceGetUtilizationRates``)."""

    gpu: int
    memory: int


# id(library object) -> (the object, open sessions): one entry for the real pynvml, one per fake in tests.
# Holding the object keeps its id from being reused while it is counted. The lock makes "first opener
# initialises, last closer shuts down" hold when a telemetry thread and the main thread open sessions at once.
_lock = threading.Lock()
_refs: dict[int, tuple[Any, int]] = {}


def load_library() -> Any:
    """The ``pynvml`` module.

    Raises:
        NvmlUnavailable (stage "import"): nvidia-ml-py is not installed, or importing it failed.
    """
    try:
        import pynvml  # nvidia-ml-py; the only import of it in the workbench
    except ImportError:
        raise NvmlUnavailable(NOT_INSTALLED, stage="import") from None
    except Exception as exc:  # noqa: BLE001 - a broken binding is "unavailable", not a crash
        raise NvmlUnavailable(f"nvidia-ml-py does not import: {exc}", stage="import") from None
    return pynvml


def open_session(lib: Any = None) -> NvmlSession:
    """Open a session on ``lib`` (default: :func:`load_library`), initialising NVML if no session on that
    library is open. Close it with :meth:`NvmlSession.close` or use it as a context manager.

    Raises:
        NvmlUnavailable: pynvml is missing (stage "import") or ``nvmlInit`` failed (stage "init").
    """
    if lib is None:
        lib = load_library()
    with _lock:
        n = open_count(lib)
        if n == 0:
            try:
                lib.nvmlInit()
            except Exception as exc:  # noqa: BLE001 - NVMLError_LibraryNotFound, DriverNotLoaded, OSError...
                raise NvmlUnavailable(str(exc), stage="init") from None
        _refs[id(lib)] = (lib, n + 1)
    return NvmlSession(lib)


def open_count(lib: Any) -> int:
    """How many sessions on ``lib`` are open (0: NVML is not initialised by us)."""
    return _refs.get(id(lib), (lib, 0))[1]


def _text(value: Any) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


class NvmlSession:
    """One user's hold on an initialised NVML. Queries take a device ``handle`` from :meth:`handle`."""

    def __init__(self, lib: Any) -> None:
        self.lib = lib
        self._open = True
        # The binding's error base class; () (catch nothing) for a bare fake without one.
        self._nvml_error: Any = getattr(lib, "NVMLError", ())
        # nvidia-ml-py 12.535+ names it "clocks event reasons"; older bindings only have "throttle reasons".
        self._reasons_fn = getattr(lib, "nvmlDeviceGetCurrentClocksEventReasons", None) or getattr(
            lib, "nvmlDeviceGetCurrentClocksThrottleReasons", None
        )

    def __enter__(self) -> NvmlSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release this session (idempotent); the last open session on the library shuts NVML down."""
        if not self._open:
            return
        self._open = False
        with _lock:
            n = open_count(self.lib) - 1
            if n > 0:
                _refs[id(self.lib)] = (self.lib, n)
                return
            _refs.pop(id(self.lib), None)
            try:
                self.lib.nvmlShutdown()
            except Exception:  # noqa: BLE001 - shutting down is best effort; nothing to report to anyone
                pass

    def _call(self, fn: str, *args: Any) -> Any:
        try:
            return getattr(self.lib, fn)(*args)
        except self._nvml_error as exc:
            raise NvmlError(str(exc)) from None

    # -- system queries
    def driver_version(self) -> str:
        """The driver version, e.g. "550.54.15" (``nvmlSystemGetDriverVersion``). Raises NvmlError."""
        return _text(self._call("nvmlSystemGetDriverVersion"))

    def cuda_driver_version(self) -> str:
        """The CUDA driver API version as "major.minor" (``nvmlSystemGetCudaDriverVersion`` answers e.g.
        12020 for 12.2). Raises NvmlError."""
        v = int(self._call("nvmlSystemGetCudaDriverVersion"))
        return f"{v // 1000}.{(v % 1000) // 10}"

    def device_count(self) -> int:
        """How many GPUs NVML sees (``nvmlDeviceGetCount``). Raises NvmlError."""
        return int(self._call("nvmlDeviceGetCount"))

    # -- device queries
    def handle(self, index: int) -> Any:
        """The device handle of GPU ``index`` (``nvmlDeviceGetHandleByIndex``). Raises NvmlError."""
        return self._call("nvmlDeviceGetHandleByIndex", index)

    def name(self, handle: Any) -> str:
        """The product name, e.g. "NVIDIA H100 80GB HBM3" (``nvmlDeviceGetName``). Raises NvmlError."""
        return _text(self._call("nvmlDeviceGetName", handle))

    def compute_capability(self, handle: Any) -> tuple[int, int]:
        """``(major, minor)`` (``nvmlDeviceGetCudaComputeCapability``). Raises NvmlError."""
        major, minor = self._call("nvmlDeviceGetCudaComputeCapability", handle)
        return int(major), int(minor)

    def memory(self, handle: Any) -> MemoryInfo:
        """Used and total device memory in bytes (``nvmlDeviceGetMemoryInfo``). Raises NvmlError."""
        m = self._call("nvmlDeviceGetMemoryInfo", handle)
        return MemoryInfo(used=int(m.used), total=int(m.total))

    def power_mw(self, handle: Any) -> int:
        """Board power draw in milliwatts (``nvmlDeviceGetPowerUsage``). Raises NvmlError."""
        return self._call("nvmlDeviceGetPowerUsage", handle)

    def energy_mj(self, handle: Any) -> int:
        """Energy in millijoules since the driver loaded (``nvmlDeviceGetTotalEnergyConsumption``, Volta
        and later). Raises NvmlError."""
        return self._call("nvmlDeviceGetTotalEnergyConsumption", handle)

    def temperature_c(self, handle: Any) -> int:
        """GPU die temperature in °C (``nvmlDeviceGetTemperature``, sensor NVML_TEMPERATURE_GPU). Raises
        NvmlError."""
        return self._call("nvmlDeviceGetTemperature", handle, self.lib.NVML_TEMPERATURE_GPU)

    def utilisation(self, handle: Any) -> Utilisation:
        """GPU and memory busy percent (``nvmlDeviceGetUtilizationRates``). Raises NvmlError."""
        u = self._call("nvmlDeviceGetUtilizationRates", handle)
        return Utilisation(gpu=u.gpu, memory=u.memory)

    def sm_clock_mhz(self, handle: Any) -> int:
        """Current SM clock in MHz (``nvmlDeviceGetClockInfo``, NVML_CLOCK_SM). Raises NvmlError."""
        return self._call("nvmlDeviceGetClockInfo", handle, self.lib.NVML_CLOCK_SM)

    def memory_clock_mhz(self, handle: Any) -> int:
        """Current memory clock in MHz (``nvmlDeviceGetClockInfo``, NVML_CLOCK_MEM). Raises NvmlError."""
        return self._call("nvmlDeviceGetClockInfo", handle, self.lib.NVML_CLOCK_MEM)

    def fan_pct(self, handle: Any) -> int:
        """Fan speed in percent of its maximum (``nvmlDeviceGetFanSpeed``). Raises NvmlError."""
        return self._call("nvmlDeviceGetFanSpeed", handle)

    @property
    def has_clock_event_reasons(self) -> bool:
        """Whether this binding has a clocks-event (throttle) reason query at all."""
        return self._reasons_fn is not None

    def clock_event_reasons(self, handle: Any) -> int:
        """The bit mask of why clocks are held down (``nvmlDeviceGetCurrentClocksEventReasons``, or
        ``...ClocksThrottleReasons`` in older bindings; decode with telemetry.throttle). Raises NvmlError,
        or NvmlError too when the binding has neither query."""
        if self._reasons_fn is None:
            raise NvmlError("this nvidia-ml-py has no clocks-event reason query")
        try:
            return self._reasons_fn(handle)
        except self._nvml_error as exc:
            raise NvmlError(str(exc)) from None
