"""Gates for the GPU tests: each test asks for what it needs (a fixture) and skips with a reason naming it.

* ``cuda_torch``: torch with a usable CUDA device (the torch backend runs there);
* ``tensorrt``: TensorRT importable and a CUDA device (asked through torch when installed, else the CUDA driver);
* ``tensorrt_calibrator``: ``tensorrt`` of major version <= 10 (TensorRT 11 removed the INT8 calibrators);
* ``nvml_on_cuda``: ``cuda_torch`` first (so a skip here names CUDA), then NVML seeing a GPU.

Nothing is skipped at module level, so a machine without a GPU still collects every test. The answers are
computed once per session (importing torch and asking CUDA takes seconds)."""

from __future__ import annotations

import ctypes
import functools
import importlib.util
from typing import Any

import pytest


@functools.cache
def cuda_reason() -> str | None:
    """Why torch cannot run on CUDA here, or None when it can."""
    try:
        import torch
    except ImportError:
        return "needs CUDA: torch is not installed"
    if not torch.cuda.is_available():
        return f"needs CUDA: torch {torch.__version__} sees no CUDA device (a CPU build, or no GPU/driver)"
    return None


@functools.cache
def cuda_device_reason() -> str | None:
    """Why there is no CUDA device here (through torch when installed, else libcuda's cuDeviceGetCount)."""
    if importlib.util.find_spec("torch") is not None:
        return cuda_reason()
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
        n = ctypes.c_int(0)
        if cuda.cuInit(0) != 0 or cuda.cuDeviceGetCount(ctypes.byref(n)) != 0 or n.value < 1:
            return "needs CUDA: the CUDA driver sees no device"
    except OSError:
        return "needs CUDA: no CUDA driver (libcuda.so.1) here"
    return None


@functools.cache
def tensorrt_reason() -> str | None:
    """Why TensorRT cannot run here, or None."""
    if importlib.util.find_spec("tensorrt") is None:
        return "needs TensorRT: the tensorrt package is not importable here"
    why = cuda_device_reason()
    return f"{why} (for TensorRT)" if why else None


@pytest.fixture
def cuda_torch() -> Any:
    """torch, with a CUDA device."""
    why = cuda_reason()
    if why:
        pytest.skip(why)
    import torch

    return torch


@pytest.fixture
def tensorrt() -> Any:
    """The tensorrt module, with a CUDA device."""
    why = tensorrt_reason()
    if why:
        pytest.skip(why)
    import tensorrt as trt

    return trt


@pytest.fixture
def tensorrt_calibrator(tensorrt) -> Any:
    """TensorRT <= 10.x, where the legacy INT8 calibrator exists (TensorRT 11 removed it)."""
    major = int(str(tensorrt.__version__).split(".")[0])
    if major > 10:
        pytest.skip(f"needs TensorRT <= 10 for the INT8 calibrator; found TensorRT {tensorrt.__version__}")
    return tensorrt


@pytest.fixture
def nvml_on_cuda(cuda_torch) -> Any:
    """An open NVML session that sees a GPU, where torch runs on CUDA (CUDA is checked first)."""
    from workbench.core.hw.nvml import NvmlUnavailable, open_session

    try:
        session = open_session()
    except NvmlUnavailable as exc:
        pytest.skip(f"needs NVML beside CUDA: {exc}")
    with session:
        if session.device_count() < 1:
            pytest.skip("needs NVML beside CUDA: NVML sees no GPU")
        yield session
