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

Errors: a missing library → BackendUnavailable; a failing call → BenchmarkError naming the call and CUDA's error
string. Device pointers are plain ``int``s (what ``IExecutionContext.set_tensor_address`` takes).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import sys
from typing import Any

from workbench.core.errors import BackendUnavailable, BenchmarkError

MEMCPY_HOST_TO_DEVICE = 1  # cudaMemcpyKind (cuda_runtime_api.h)
MEMCPY_DEVICE_TO_HOST = 2
STREAM_NON_BLOCKING = 1  # cudaStreamNonBlocking
CAPTURE_MODE_GLOBAL = 0  # cudaStreamCaptureModeGlobal
ATTR_CC_MAJOR = 75  # cudaDevAttrComputeCapabilityMajor
ATTR_CC_MINOR = 76  # cudaDevAttrComputeCapabilityMinor
ATTR_INTEGRATED = 18  # cudaDevAttrIntegrated (1 on Jetson: memory shared with the CPU)
_PROP_BYTES = 8192  # cudaDeviceProp is ~1 KiB (CUDA 12); its first field is char name[256]


def candidate_libraries() -> list[str]:
    """Where libcudart is looked for, in order: $WORKBENCH_CUDART, the loader's search path, CUDA's default
    install folders, and the ``nvidia/cuda_runtime/lib`` folder of NVIDIA's pip wheels."""
    names: list[str] = []
    env = os.environ.get("WORKBENCH_CUDART")
    if env:
        names.append(env)
    found = ctypes.util.find_library("cudart")
    if found:
        names.append(found)
    names += ["libcudart.so", "libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0"]
    for base in ("/usr/local/cuda/lib64", "/usr/local/cuda/targets/aarch64-linux/lib"):
        names += sorted(glob.glob(os.path.join(base, "libcudart.so*")))
    for entry in sys.path:
        names += sorted(glob.glob(os.path.join(entry, "nvidia", "cuda_runtime", "lib", "libcudart.so*")))
    seen: set[str] = set()
    return [n for n in names if not (n in seen or seen.add(n))]


def load_cudart() -> Any:
    """The loaded libcudart, or BackendUnavailable listing where we looked."""
    tried = candidate_libraries()
    for name in tried:
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    raise BackendUnavailable(
        "the CUDA runtime library (libcudart) was not found",
        hint="install CUDA (JetPack does) or NVIDIA's nvidia-cuda-runtime wheel, or point WORKBENCH_CUDART at "
        f"libcudart.so; looked for: {', '.join(tried[:6])}",
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
            raise BenchmarkError(f"CUDA {call} failed: {text} (cudaError {status})")

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
    def begin_capture(self, stream: int) -> None:
        self._check(
            self.lib.cudaStreamBeginCapture(ctypes.c_void_p(stream), CAPTURE_MODE_GLOBAL), "cudaStreamBeginCapture"
        )

    def end_capture(self, stream: int) -> int:
        g = ctypes.c_void_p()
        self._check(self.lib.cudaStreamEndCapture(ctypes.c_void_p(stream), ctypes.byref(g)), "cudaStreamEndCapture")
        return int(g.value or 0)

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
