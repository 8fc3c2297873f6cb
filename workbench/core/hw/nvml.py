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

Which GPU: :func:`choose_gpu` picks the NVML device that is the CUDA device a run uses (matched by UUID: NVML
numbers GPUs in PCI bus order and ignores ``CUDA_VISIBLE_DEVICES``, CUDA numbers them fastest first within
``CUDA_VISIBLE_DEVICES``, so "index 0" of one is not index 0 of the other on a multi-GPU machine).
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
import threading
from collections.abc import Callable, Mapping
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


@dataclass(frozen=True)
class GpuChoice:
    """The NVML device standing for the CUDA device of a run (:func:`choose_gpu`).

    ``handle``: the device's handle (a MIG device handle when a MIG instance was matched); ``board_handle``: the
    physical GPU's handle, for what NVML reports per board only (power, energy, temperature, clocks, fan,
    utilisation: a MIG device handle answers "Not Supported" to them). ``index``: NVML index of the physical GPU.
    ``uuid``: "GPU-…" or "MIG-…" (None when NVML gave none). ``how``: "uuid" (matched the CUDA device's UUID),
    "only" (the only GPU NVML sees), "index" (asked for by index, or ``CUDA_VISIBLE_DEVICES`` index with
    ``CUDA_DEVICE_ORDER=PCI_BUS_ID``, the order NVML uses) or "fallback" (index 0, ``warning`` says why).
    ``detail``: one sentence naming the GPU and how it was chosen."""

    handle: Any
    board_handle: Any
    index: int
    uuid: str | None
    how: str
    detail: str
    warning: str | None = None
    mig: bool = False


# One UUID body: 8-4-4-4-12 hex digits (nvmlDeviceGetUUID, cuDeviceGetUuid, torch's props.uuid).
_UUID_BODY = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# CUDA 11.0-11.4's MIG form in CUDA_VISIBLE_DEVICES: MIG-GPU-<GPU UUID>/<GPU instance id>/<compute instance id>.
_OLD_MIG = re.compile(r"^MIG-(GPU-[0-9a-fA-F-]+)/(\d+)/(\d+)$")


def _body(uuid: str) -> str:
    """The hex part of a UUID, lower case: "GPU-8932F937-…" and "8932f937-…" compare equal."""
    u = uuid.strip().lower()
    for prefix in ("gpu-", "mig-"):
        if u.startswith(prefix):
            return u[len(prefix) :]
    return u


def first_visible_device(environ: Mapping[str, str]) -> str | None:
    """The first entry of ``CUDA_VISIBLE_DEVICES`` (CUDA device 0 of this process), stripped; None when the
    variable is unset or empty (CUDA then numbers every GPU)."""
    value = environ.get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return None
    first = value.split(",")[0].strip()
    return first or None


def cuda_device_uuid(ordinal: int = 0) -> str | None:
    """The UUID body ("8932f937-d72c-…") of CUDA device ``ordinal`` of this process (after
    ``CUDA_VISIBLE_DEVICES``), or None when it cannot be told without side effects worth having.

    Asks torch when it is already imported and has initialised CUDA (``get_device_properties(i).uuid``), else the
    CUDA driver API through ctypes: ``cuInit(0)``, ``cuDeviceGet``, ``cuDeviceGetUuid_v2`` (the MIG instance's UUID
    in MIG mode; ``cuDeviceGetUuid`` on drivers before CUDA 11.4). ``cuInit`` creates no context and allocates no
    device memory. Any failure (no libcuda, no device) gives None."""
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_initialized():
            return _body(str(torch.cuda.get_device_properties(ordinal).uuid))
    except Exception:  # noqa: BLE001 - torch without CUDA, a bad ordinal: ask the driver instead
        pass
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
        if cuda.cuInit(0) != 0:
            return None
        dev = ctypes.c_int()
        if cuda.cuDeviceGet(ctypes.byref(dev), ctypes.c_int(ordinal)) != 0:
            return None
        raw = (ctypes.c_ubyte * 16)()  # CUuuid: 16 bytes
        fn = getattr(cuda, "cuDeviceGetUuid_v2", None) or cuda.cuDeviceGetUuid
        if fn(raw, dev) != 0:
            return None
    except (OSError, AttributeError):
        return None
    h = bytes(raw).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


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

    def uuid(self, handle: Any) -> str:
        """The device UUID, "GPU-…" for a GPU, "MIG-…" for a MIG device handle (``nvmlDeviceGetUUID``). Raises
        NvmlError (also when the binding has no such call)."""
        if not hasattr(self.lib, "nvmlDeviceGetUUID"):
            raise NvmlError("this nvidia-ml-py has no nvmlDeviceGetUUID")
        return _text(self._call("nvmlDeviceGetUUID", handle))

    def mig_devices(self, handle: Any) -> list[Any]:
        """The MIG device handles under GPU ``handle``; [] when MIG is off, unsupported (before Ampere) or the
        binding lacks the calls (``nvmlDeviceGetMigMode``, ``nvmlDeviceGetMaxMigDeviceCount``,
        ``nvmlDeviceGetMigDeviceHandleByIndex``: an empty slot answers NVML_ERROR_NOT_FOUND and is skipped)."""
        lib = self.lib
        names = ("nvmlDeviceGetMigMode", "nvmlDeviceGetMaxMigDeviceCount", "nvmlDeviceGetMigDeviceHandleByIndex")
        if not all(hasattr(lib, n) for n in names):
            return []
        try:
            current = self._call("nvmlDeviceGetMigMode", handle)[0]
            if current != getattr(lib, "NVML_DEVICE_MIG_ENABLE", 1):
                return []
            n = int(self._call("nvmlDeviceGetMaxMigDeviceCount", handle))
        except NvmlError:
            return []
        out = []
        for i in range(n):
            try:
                out.append(self._call("nvmlDeviceGetMigDeviceHandleByIndex", handle, i))
            except NvmlError:
                continue
        return out

    def mig_instance_ids(self, mig_handle: Any) -> tuple[int, int] | None:
        """``(GPU instance id, compute instance id)`` of a MIG device handle (``nvmlDeviceGetGpuInstanceId``,
        ``nvmlDeviceGetComputeInstanceId``); None when NVML cannot tell."""
        try:
            return (
                int(self._call("nvmlDeviceGetGpuInstanceId", mig_handle)),
                int(self._call("nvmlDeviceGetComputeInstanceId", mig_handle)),
            )
        except (NvmlError, AttributeError):
            return None

    def power_instant_mw(self, handle: Any) -> int:
        """Instantaneous board power in milliwatts: field ``NVML_FI_DEV_POWER_INSTANT`` (id 186 in nvml.h and
        nvidia-ml-py) of ``nvmlDeviceGetFieldValues``. ``nvmlDeviceGetPowerUsage`` returns a 1-second average on
        Ampere (except GA100) and newer (NVML API reference, nvmlDeviceGetPowerUsage), so a peak of it is a peak of
        averages. Raises NvmlError when the binding or the driver does not have the field (the per-field
        ``nvmlReturn`` is checked: the call itself succeeds with the field marked unsupported), or answers 0 mW."""
        fn = getattr(self.lib, "nvmlDeviceGetFieldValues", None)
        if fn is None:
            raise NvmlError("this nvidia-ml-py has no nvmlDeviceGetFieldValues")
        field_id = getattr(self.lib, "NVML_FI_DEV_POWER_INSTANT", 186)
        try:
            values = fn(handle, [field_id])
        except self._nvml_error as exc:
            raise NvmlError(str(exc)) from None
        v = values[0]
        ret = int(getattr(v, "nvmlReturn", 0))
        if ret != 0:  # NVML_SUCCESS
            raise NvmlError(f"NVML_FI_DEV_POWER_INSTANT: NVML error {ret}")
        mw = int(_field_value(self.lib, v))
        if mw <= 0:  # a powered GPU never draws 0 mW: the field is there but not filled on this board
            raise NvmlError("NVML_FI_DEV_POWER_INSTANT answered 0 mW")
        return mw

    def power_mw(self, handle: Any) -> int:
        """Board power draw in milliwatts (``nvmlDeviceGetPowerUsage``: instantaneous up to Volta and on GA100,
        averaged over 1 s on later Ampere and newer GPUs). Raises NvmlError."""
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


def _field_value(lib: Any, v: Any) -> float:
    """The number in an ``nvmlFieldValue_t`` by its ``valueType`` (NVML_VALUE_TYPE_*, nvml.h); unsigned int when
    a binding does not say."""
    member = {
        getattr(lib, "NVML_VALUE_TYPE_DOUBLE", 0): "dVal",
        getattr(lib, "NVML_VALUE_TYPE_UNSIGNED_INT", 1): "uiVal",
        getattr(lib, "NVML_VALUE_TYPE_UNSIGNED_LONG", 2): "ulVal",
        getattr(lib, "NVML_VALUE_TYPE_UNSIGNED_LONG_LONG", 3): "ullVal",
        getattr(lib, "NVML_VALUE_TYPE_SIGNED_LONG_LONG", 4): "sllVal",
        getattr(lib, "NVML_VALUE_TYPE_SIGNED_INT", 5): "siVal",
    }.get(getattr(v, "valueType", 1), "uiVal")
    return getattr(v.value, member)


@dataclass(frozen=True)
class _Dev:
    uuid: str | None
    handle: Any
    board_handle: Any
    index: int
    mig: bool


def _devices(session: NvmlSession, count: int) -> list[_Dev]:
    out: list[_Dev] = []
    for i in range(count):
        h = session.handle(i)
        try:
            u: str | None = session.uuid(h)
        except NvmlError:
            u = None
        out.append(_Dev(u, h, h, i, False))
        for m in session.mig_devices(h):
            try:
                out.append(_Dev(session.uuid(m), m, h, i, True))
            except NvmlError:
                continue
    return out


def _match(session: NvmlSession, devs: list[_Dev], target: str) -> tuple[list[_Dev], str]:
    """Devices matching ``target`` and a note. "GPU-…"/"MIG-…" may be abbreviated (CUDA accepts a unique prefix,
    CUDA_VISIBLE_DEVICES in the CUDA C Programming Guide, "CUDA Environment Variables"); a bare UUID body (from
    the driver or torch) must match a GPU or MIG UUID whole."""
    old = _OLD_MIG.match(target)
    if old:
        parent = [d for d in devs if not d.mig and d.uuid and d.uuid.lower().startswith(old.group(1).lower())]
        if len(parent) != 1:
            return parent, ""
        ids = (int(old.group(2)), int(old.group(3)))
        migs = [d for d in devs if d.mig and d.index == parent[0].index]
        hit = [d for d in migs if session.mig_instance_ids(d.handle) == ids]
        if len(hit) == 1:
            return hit, ""
        return parent, f"; MIG instance {ids[0]}/{ids[1]} not found under it, its GPU used"
    t = target.strip().lower()
    if t.startswith(("gpu-", "mig-")):
        want_mig = t.startswith("mig-")
        return [d for d in devs if d.uuid and d.mig == want_mig and d.uuid.lower().startswith(t)], ""
    if _UUID_BODY.match(t):
        return [d for d in devs if d.uuid and _body(d.uuid) == t], ""
    return [], ""


def _describe(session: NvmlSession, d: _Dev) -> str:
    try:
        name = session.name(d.board_handle)
    except NvmlError:
        name = "?"
    what = (
        f"MIG device {d.uuid} of GPU {d.index} ({name})" if d.mig else f"GPU {d.index} ({name}, {d.uuid or 'no UUID'})"
    )
    return what


def choose_gpu(
    session: NvmlSession,
    *,
    uuid: str | None = None,
    index: int | None = None,
    environ: Mapping[str, str] | None = None,
    cuda_uuid: Callable[[], str | None] = cuda_device_uuid,
) -> GpuChoice:
    """The NVML device that is CUDA device 0 of this process (what the benchmark child runs on: it inherits this
    environment). In order:

    1. ``index`` given: that NVML index ("index"). ``uuid`` given: matched by UUID.
    2. ``CUDA_VISIBLE_DEVICES`` starts with a "GPU-…" or "MIG-…" UUID (possibly abbreviated): matched by UUID.
    3. One GPU without MIG instances: that GPU ("only").
    4. Several GPUs or MIG: ``cuda_uuid()`` (default :func:`cuda_device_uuid`) and matched by UUID.
    5. ``CUDA_VISIBLE_DEVICES`` starts with an index and ``CUDA_DEVICE_ORDER=PCI_BUS_ID``: that NVML index
       ("index"; NVML numbers GPUs in PCI bus order too).
    6. Else GPU 0 with a warning ("fallback").

    A matched MIG device gets the MIG handle as ``handle`` and its parent GPU as ``board_handle``.

    Raises:
        NvmlError: NVML sees no GPU (or no GPU ``index``), or a query failed.
    """
    env = os.environ if environ is None else environ
    count = session.device_count()
    if count < 1 or (index is not None and not 0 <= index < count):
        want = 0 if index is None else index
        raise NvmlError(f"NVML sees {count} GPU(s); no GPU index {want}")
    if index is not None:
        h = session.handle(index)
        d = _Dev(_safe_uuid(session, h), h, h, index, False)
        return GpuChoice(h, h, index, d.uuid, "index", f"{_describe(session, d)}, by index {index} as asked")
    devs = _devices(session, count)
    first = first_visible_device(env)
    target, source = None, ""
    if uuid:
        target, source = uuid, "the UUID given"
    elif first and first.upper().startswith(("GPU-", "MIG-")):
        target, source = first, "CUDA_VISIBLE_DEVICES"
    warning = None
    if target is None:
        if count == 1 and not any(d.mig for d in devs):
            d = devs[0]
            return GpuChoice(d.handle, d.board_handle, 0, d.uuid, "only", f"{_describe(session, d)}: the only GPU")
        found = cuda_uuid()
        if found:
            target, source = found, "the CUDA driver"
    if target is not None:
        hits, note = _match(session, devs, target)
        if len(hits) == 1:
            d = hits[0]
            return GpuChoice(
                d.handle,
                d.board_handle,
                d.index,
                d.uuid,
                "uuid",
                f"{_describe(session, d)}, matched by UUID from {source}{note}",
                mig=d.mig,
            )
        warning = f"CUDA device {target} (from {source}) matches " + (
            "no NVML device" if not hits else f"{len(hits)} NVML devices"
        )
    if first is not None and first.isdigit() and env.get("CUDA_DEVICE_ORDER") == "PCI_BUS_ID" and int(first) < count:
        i = int(first)
        d = next(x for x in devs if x.index == i and not x.mig)
        return GpuChoice(
            d.handle,
            d.board_handle,
            i,
            d.uuid,
            "index",
            f"{_describe(session, d)}, CUDA_VISIBLE_DEVICES index {i} in PCI bus order (CUDA_DEVICE_ORDER=PCI_BUS_ID)",
        )
    d = devs[0]
    why = warning or "the CUDA device's UUID is unknown (no CUDA_VISIBLE_DEVICES UUID, no answer from the CUDA driver)"
    return GpuChoice(
        d.handle,
        d.board_handle,
        0,
        d.uuid,
        "fallback",
        f"{_describe(session, d)}, fallback to index 0",
        warning=f"{why}: sampling NVML GPU 0, which may not be the GPU the run uses "
        "(set CUDA_VISIBLE_DEVICES=GPU-<uuid> from `nvidia-smi -L` to choose)",
    )


def _safe_uuid(session: NvmlSession, handle: Any) -> str | None:
    try:
        return session.uuid(handle)
    except NvmlError:
        return None
