"""The CUDA calls the TensorRT runner needs, through ``ctypes`` over the CUDA runtime library (libcudart).

Why this binding (the choice the issue asks us to write down):

* **pycuda** compiles a C++ extension against the CUDA toolkit at install time. On Jetson that means nvcc on the
  PATH, the toolkit headers, and a long native build on the board; it is the usual stumbling block of JetPack
  set-up guides, and there is no wheel for aarch64.
* **cuda-python** ships wheels, but per CUDA major release (JetPack 5 is CUDA 11.4, JetPack 6 is 12.x,
  JetPack 7 is 13.x) and its module layout changed (``cuda.cudart`` → ``cuda.bindings.runtime``), so we would pin
  a different package per JetPack and carry two import paths.
* **ctypes over libcudart** (what Polygraphy's ``polygraphy.cuda`` does) needs nothing to install: every machine
  that runs TensorRT already has libcudart (JetPack installs it; NVIDIA's ``tensorrt`` wheels depend on the
  ``nvidia-cuda-runtime`` wheel, which carries it). The runtime API functions used here have had the same C
  signatures since CUDA 11.4 (``cudaGraphInstantiateWithFlags`` is used because ``cudaGraphInstantiate`` changed
  its signature in CUDA 12). So we keep our own small wrapper — ~20 functions — and depend on no package.

Which libcudart: see :func:`candidate_libraries` (the one installed with TensorRT / torch first) and
:func:`load_cudart` (each is asked whether it works with this machine's driver; one newer than the driver is
skipped for an older one).

Errors: no library that loads and works with the driver → BackendUnavailable naming each one tried and why; a
failing call → BenchmarkError naming the call and CUDA's error
string. Device pointers are plain ``int``s (what ``IExecutionContext.set_tensor_address`` takes).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import importlib.util
import os
import sys
from collections.abc import Callable
from typing import Any

from workbench.core.errors import BackendUnavailable, BenchmarkError

MEMCPY_HOST_TO_DEVICE = 1  # cudaMemcpyKind (cuda_runtime_api.h)
MEMCPY_DEVICE_TO_HOST = 2
STREAM_NON_BLOCKING = 1  # cudaStreamNonBlocking
CAPTURE_MODE_GLOBAL = 0  # cudaStreamCaptureModeGlobal (enum cudaStreamCaptureMode, driver_types.h)
CAPTURE_MODE_THREAD_LOCAL = 1  # cudaStreamCaptureModeThreadLocal
ERROR_INSUFFICIENT_DRIVER = 35  # cudaErrorInsufficientDriver (enum cudaError, driver_types.h)
ATTR_CC_MAJOR = 75  # cudaDevAttrComputeCapabilityMajor
ATTR_CC_MINOR = 76  # cudaDevAttrComputeCapabilityMinor
ATTR_INTEGRATED = 18  # cudaDevAttrIntegrated (1 on Jetson: memory shared with the CPU)
_PROP_BYTES = 8192  # cudaDeviceProp is ~1 KiB (CUDA 12); its first field is char name[256]


def _soname_version(path: str) -> tuple[int, ...]:
    """``libcudart.so.12.4.127`` → (12, 4, 127); ``libcudart.so`` → () (sorts last among its folder's files)."""
    tail = os.path.basename(path).partition(".so")[2].lstrip(".")
    return tuple(int(p) for p in tail.split(".") if p.isdigit())


def _newest_first(paths: list[str]) -> list[str]:
    """A folder's ``libcudart.so*`` files, newest soname first: when the newest needs a newer driver than this
    machine's, :func:`load_cudart` falls back to the next (older) one."""
    return sorted(paths, key=_soname_version, reverse=True)


def _package_dirs(name: str) -> list[str]:
    """The folders of an installed top-level package, found without importing it (torch takes seconds)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return []
    return list(spec.submodule_search_locations or []) if spec is not None else []


def candidate_libraries() -> list[str]:
    """Where libcudart is looked for, in order:

    1. ``$WORKBENCH_CUDART`` (the user's choice);
    2. the runtime TensorRT and torch were installed with: the ``nvidia/cuda_runtime/lib`` folder of NVIDIA's pip
       wheels (``nvidia-cuda-runtime``, a dependency of the ``tensorrt`` and CUDA ``torch`` wheels) on
       ``sys.path``, then ``torch/lib`` (wheels that bundle their cudart) — these match the libraries that will
       run the plan, while the system default may be another CUDA release;
    3. the loader's search path (``ctypes.util.find_library``, then the sonames of CUDA 13/12/11);
    4. CUDA's default install folders (``/usr/local/cuda``, JetPack's ``targets/aarch64-linux``).

    Within a folder the newest soname comes first. Duplicates (the same path twice, or symlinks to one file such
    as ``libcudart.so`` → ``libcudart.so.12`` → ``libcudart.so.12.4.127``) are dropped.
    """
    names: list[str] = []
    env = os.environ.get("WORKBENCH_CUDART")
    if env:
        names.append(env)
    for entry in sys.path:
        names += _newest_first(glob.glob(os.path.join(entry or ".", "nvidia", "cuda_runtime", "lib", "libcudart.so*")))
    for folder in _package_dirs("torch"):
        names += _newest_first(glob.glob(os.path.join(folder, "lib", "libcudart*.so*")))
    found = ctypes.util.find_library("cudart")
    if found:
        names.append(found)
    names += ["libcudart.so", "libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0"]
    for base in ("/usr/local/cuda/lib64", "/usr/local/cuda/targets/aarch64-linux/lib"):
        names += _newest_first(glob.glob(os.path.join(base, "libcudart.so*")))
    seen: set[str] = set()
    out = []
    for n in names:
        key = os.path.realpath(n) if os.sep in n and os.path.exists(n) else n
        if key not in seen:
            seen.add(key)
            out.append(n)
    return out


def _cuda_version_text(v: int) -> str:
    """CUDA's version integer (1000 × major + 10 × minor, cuda_runtime_api.h) as ``"12.4"``."""
    return f"{v // 1000}.{(v % 1000) // 10}"


def probe_cudart(lib: Any) -> tuple[int, str]:
    """Ask a loaded libcudart whether it can work with this machine's driver.

    Calls ``cudaGetDeviceCount`` (the first call that initialises the runtime against the driver), then
    ``cudaDriverGetVersion`` / ``cudaRuntimeGetVersion`` to describe the pair. Returns (cudaError of
    cudaGetDeviceCount, a short description such as ``"CUDA runtime 12.4, driver supports CUDA 12.2"``).
    """
    count = ctypes.c_int()
    status = int(lib.cudaGetDeviceCount(ctypes.byref(count)))
    rt_version, drv_version = ctypes.c_int(), ctypes.c_int()
    parts = []
    if int(lib.cudaRuntimeGetVersion(ctypes.byref(rt_version))) == 0 and rt_version.value:
        parts.append(f"CUDA runtime {_cuda_version_text(rt_version.value)}")
    if int(lib.cudaDriverGetVersion(ctypes.byref(drv_version))) == 0:
        parts.append(
            f"driver supports CUDA {_cuda_version_text(drv_version.value)}"
            if drv_version.value
            else "no NVIDIA driver loaded"
        )
    return status, ", ".join(parts)


def load_cudart(candidates: list[str] | None = None, loader: Callable[[str], Any] | None = None) -> Any:
    """The first libcudart of ``candidates`` (default :func:`candidate_libraries`) that loads and works with this
    machine's driver.

    A library whose ``cudaGetDeviceCount`` answers cudaErrorInsufficientDriver (35: it is a newer CUDA than the
    driver supports) is skipped for the next, older one. Any other error stops the search: no other cudart would
    do better (no GPU, a broken driver). ``loader`` (default ``ctypes.CDLL``) opens one library by name.

    Raises:
        BackendUnavailable: none loaded and worked; the message names each library tried and why it was not used.
    """
    tried = candidate_libraries() if candidates is None else list(candidates)
    load = loader if loader is not None else ctypes.CDLL
    why: list[str] = []
    for name in tried:
        try:
            lib = load(name)
        except OSError:
            why.append(f"{name} (not found)")
            continue
        try:
            status, versions = probe_cudart(lib)
        except AttributeError as exc:  # a library of that name that is not a CUDA runtime
            why.append(f"{name} (not a CUDA runtime: {exc})")
            continue
        if status == 0:
            return lib
        detail = f"{versions}; " if versions else ""
        if status == ERROR_INSUFFICIENT_DRIVER:
            why.append(f"{name} ({detail}cudaErrorInsufficientDriver: the driver is older than this runtime)")
            continue
        why.append(f"{name} ({detail}cudaGetDeviceCount failed: cudaError {status})")
        raise BackendUnavailable(
            f"the CUDA runtime library {name} cannot use a GPU here (cudaError {status}"
            + (f"; {versions})" if versions else ")"),
            hint="check the NVIDIA driver (nvidia-smi) and that this process can see a GPU "
            f"(CUDA_VISIBLE_DEVICES); tried: {'; '.join(why)}",
        )
    raise BackendUnavailable(
        "no usable CUDA runtime library (libcudart) was found",
        hint="install CUDA (JetPack does) or NVIDIA's nvidia-cuda-runtime wheel matching the driver (nvidia-smi "
        "shows the newest CUDA it supports), update the driver, or point WORKBENCH_CUDART at a libcudart.so; "
        f"tried: {'; '.join(why) or 'nothing'}",
    )


class Cuda:
    """Thin wrapper: each method is one CUDA runtime call with its error checked."""

    def __init__(self, lib: Any = None) -> None:
        self.lib = lib if lib is not None else load_cudart()
        self.lib.cudaGetErrorString.restype = ctypes.c_char_p
        self.lib.cudaEventElapsedTime.argtypes = [ctypes.POINTER(ctypes.c_float), ctypes.c_void_p, ctypes.c_void_p]
        for fn in ("cudaMemcpyAsync",):
            getattr(self.lib, fn).argtypes = [
                ctypes.c_void_p,
                ctypes.c_void_p,
                ctypes.c_size_t,
                ctypes.c_int,
                ctypes.c_void_p,
            ]

    def _check(self, status: int, call: str) -> None:
        if status != 0:
            msg = self.lib.cudaGetErrorString(status)
            text = msg.decode(errors="replace") if msg else f"error {status}"
            raise BenchmarkError(
                f"CUDA {call} failed: {text} (cudaError {status})",
                hint="run `workbench doctor` and `nvidia-smi` to check the GPU and driver; an out-of-memory error "
                "needs a smaller --batch or fewer --streams",
            )

    # -- memory ------------------------------------------------------------------------------------------------
    def malloc(self, nbytes: int) -> int:
        ptr = ctypes.c_void_p()
        self._check(self.lib.cudaMalloc(ctypes.byref(ptr), ctypes.c_size_t(max(1, nbytes))), "cudaMalloc")
        return int(ptr.value or 0)

    def free(self, ptr: int) -> None:
        if ptr:
            self._check(self.lib.cudaFree(ctypes.c_void_p(ptr)), "cudaFree")

    def malloc_host(self, nbytes: int) -> int:
        """Page-locked host memory (fast, truly asynchronous copies)."""
        ptr = ctypes.c_void_p()
        self._check(self.lib.cudaMallocHost(ctypes.byref(ptr), ctypes.c_size_t(max(1, nbytes))), "cudaMallocHost")
        return int(ptr.value or 0)

    def free_host(self, ptr: int) -> None:
        if ptr:
            self._check(self.lib.cudaFreeHost(ctypes.c_void_p(ptr)), "cudaFreeHost")

    def memcpy_htod_async(self, dst: int, src: int, nbytes: int, stream: int) -> None:
        self._check(self.lib.cudaMemcpyAsync(dst, src, nbytes, MEMCPY_HOST_TO_DEVICE, stream), "cudaMemcpyAsync H2D")

    def memcpy_dtoh_async(self, dst: int, src: int, nbytes: int, stream: int) -> None:
        self._check(self.lib.cudaMemcpyAsync(dst, src, nbytes, MEMCPY_DEVICE_TO_HOST, stream), "cudaMemcpyAsync D2H")

    def mem_get_info(self) -> tuple[int, int]:
        free, total = ctypes.c_size_t(), ctypes.c_size_t()
        self._check(self.lib.cudaMemGetInfo(ctypes.byref(free), ctypes.byref(total)), "cudaMemGetInfo")
        return int(free.value), int(total.value)

    # -- streams and events ------------------------------------------------------------------------------------
    def stream_create(self) -> int:
        s = ctypes.c_void_p()
        self._check(self.lib.cudaStreamCreateWithFlags(ctypes.byref(s), STREAM_NON_BLOCKING), "cudaStreamCreate")
        return int(s.value or 0)

    def stream_destroy(self, stream: int) -> None:
        if stream:
            self._check(self.lib.cudaStreamDestroy(ctypes.c_void_p(stream)), "cudaStreamDestroy")

    def stream_synchronize(self, stream: int) -> None:
        self._check(self.lib.cudaStreamSynchronize(ctypes.c_void_p(stream)), "cudaStreamSynchronize")

    def event_create(self) -> int:
        e = ctypes.c_void_p()
        self._check(self.lib.cudaEventCreate(ctypes.byref(e)), "cudaEventCreate")
        return int(e.value or 0)

    def event_destroy(self, event: int) -> None:
        if event:
            self._check(self.lib.cudaEventDestroy(ctypes.c_void_p(event)), "cudaEventDestroy")

    def event_record(self, event: int, stream: int) -> None:
        self._check(self.lib.cudaEventRecord(ctypes.c_void_p(event), ctypes.c_void_p(stream)), "cudaEventRecord")

    def event_elapsed_ms(self, start: int, end: int) -> float:
        ms = ctypes.c_float()
        self._check(self.lib.cudaEventElapsedTime(ctypes.byref(ms), start, end), "cudaEventElapsedTime")
        return float(ms.value)

    # -- CUDA graphs -------------------------------------------------------------------------------------------
    def begin_capture(self, stream: int, mode: int = CAPTURE_MODE_THREAD_LOCAL) -> None:
        """Start capturing ``stream`` into a graph. Thread-local mode by default: a CUDA call that is unsafe during
        capture (cudaMalloc, a synchronize) fails only when this thread makes it, so another thread of the
        process (telemetry, a library's helper thread) cannot break the capture, nor be broken by it (global
        mode, CUDA's default, refuses such calls in every thread)."""
        self._check(self.lib.cudaStreamBeginCapture(ctypes.c_void_p(stream), mode), "cudaStreamBeginCapture")

    def end_capture(self, stream: int) -> int:
        g = ctypes.c_void_p()
        self._check(self.lib.cudaStreamEndCapture(ctypes.c_void_p(stream), ctypes.byref(g)), "cudaStreamEndCapture")
        return int(g.value or 0)

    def abort_capture(self, stream: int) -> None:
        """End a capture that went wrong: the stream leaves capture mode (or it would refuse every later launch and
        synchronize), and the partial graph, if CUDA returned one, is destroyed. Errors are ignored: an
        invalidated capture ends with cudaErrorStreamCaptureInvalidated and no graph, which is the expected case.
        Then the runtime's last-error state is cleared (``cudaGetLastError``), so the failed capture's error is not
        reported by a later, unrelated check. TensorRT's own samples end a failed capture the same way."""
        g = ctypes.c_void_p()
        self.lib.cudaStreamEndCapture(ctypes.c_void_p(stream), ctypes.byref(g))
        if g.value:
            self.lib.cudaGraphDestroy(g)
        self.lib.cudaGetLastError()

    def graph_instantiate(self, graph: int) -> int:
        ex = ctypes.c_void_p()
        status = self.lib.cudaGraphInstantiateWithFlags(ctypes.byref(ex), ctypes.c_void_p(graph), ctypes.c_ulonglong(0))
        self._check(status, "cudaGraphInstantiateWithFlags")
        return int(ex.value or 0)

    def graph_launch(self, graph_exec: int, stream: int) -> None:
        self._check(self.lib.cudaGraphLaunch(ctypes.c_void_p(graph_exec), ctypes.c_void_p(stream)), "cudaGraphLaunch")

    def graph_destroy(self, graph: int) -> None:
        if graph:
            self._check(self.lib.cudaGraphDestroy(ctypes.c_void_p(graph)), "cudaGraphDestroy")

    def graph_exec_destroy(self, graph_exec: int) -> None:
        if graph_exec:
            self._check(self.lib.cudaGraphExecDestroy(ctypes.c_void_p(graph_exec)), "cudaGraphExecDestroy")

    # -- device facts ------------------------------------------------------------------------------------------
    def device_count(self) -> int:
        n = ctypes.c_int()
        self._check(self.lib.cudaGetDeviceCount(ctypes.byref(n)), "cudaGetDeviceCount")
        return int(n.value)

    def attribute(self, attr: int, device: int = 0) -> int:
        v = ctypes.c_int()
        self._check(self.lib.cudaDeviceGetAttribute(ctypes.byref(v), attr, device), "cudaDeviceGetAttribute")
        return int(v.value)

    def compute_capability(self, device: int = 0) -> str:
        return f"{self.attribute(ATTR_CC_MAJOR, device)}.{self.attribute(ATTR_CC_MINOR, device)}"

    def device_name(self, device: int = 0) -> str:
        buf = ctypes.create_string_buffer(_PROP_BYTES)
        self._check(self.lib.cudaGetDeviceProperties(buf, device), "cudaGetDeviceProperties")
        return buf.raw[:256].split(b"\0", 1)[0].decode(errors="replace")

    def integrated(self, device: int = 0) -> bool:
        return bool(self.attribute(ATTR_INTEGRATED, device))
