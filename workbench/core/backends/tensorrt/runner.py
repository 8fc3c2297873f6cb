"""Run a TensorRT plan: ``set_tensor_address`` + ``execute_async_v3`` (present in every release 8.5 → 11.x).

One query (the zero-argument call ``prepare`` returns, which the benchmark child times) is, by default, what
trtexec times as "latency": host→device copies of the inputs, the GPU compute, device→host copies of the outputs,
then a stream synchronize. CUDA events split each query into H2D / compute / D2H like trtexec's
"H2D Latency", "GPU Compute Time" and "D2H Latency"; :meth:`TensorRTRunner.timing_splits` returns them.

Options (read from the runner settings when present, so they travel in the result explicitly):

* ``include_transfers`` (default True): False times the GPU compute only (inputs uploaded once in ``prepare``;
  outputs are left on the device) — trtexec's ``--noDataTransfers``. TensorRT 11's trtexec changed the default;
  ours is always written into the result as ``include_transfers``.
* ``cuda_graph`` (default False): the query is captured once into a CUDA graph and replayed (trtexec
  ``--useCudaGraph``); the engine is run once before capture, as TensorRT's documentation asks.
* ``streams`` (default 1): N execution contexts on N streams run concurrently per call; the result is
  throughput only (``queries_per_call`` = N) — per-query latency is not meaningful then (trtexec says the same
  of ``--infStreams``).

Per-layer timing (``profiling=True``): an ``IProfiler`` collects TensorRT's layer times; ``end_profiling`` writes
them as a Chrome-trace JSON list in the shape ONNX Runtime's profiler writes (``cat`` "Node", ``name``, ``dur``
in µs, ``args.op_name``), so the same per-layer report reads both.
"""

from __future__ import annotations

import ctypes
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from workbench.core.backends.base import Runner, RunnerSettings
from workbench.core.errors import BenchmarkError, ModelError

_MAX_SPLITS = 1_000_000  # per-iteration split samples kept (bounded memory on long runs)


def current_environment(cuda: Any, trt_version: str) -> Any:
    """This machine's :class:`~workbench.core.backends.tensorrt.plan.Environment` (TensorRT, GPU, CC, L4T)."""
    from workbench.core.backends.tensorrt.plan import Environment
    from workbench.core.hw.detect import read_l4t

    l4t, _ = read_l4t(Path("/"))
    return Environment(trt_version, cuda.device_name(), cuda.compute_capability(), l4t)


class _Slot:
    """One execution context with its stream, device buffers and pinned host buffers."""

    def __init__(self) -> None:
        self.context: Any = None
        self.stream = 0
        self.device: dict[str, int] = {}
        self.host: dict[str, Any] = {}  # name -> numpy array over pinned memory
        self.host_ptr: dict[str, int] = {}
        self.nbytes: dict[str, int] = {}
        self.graph = 0
        self.graph_exec = 0


class TensorRTRunner(Runner):
    """Runs a plan (see the module doc). Always has timing splits; a layer profile when ``settings.profiling``
    is on; ``queries_per_call`` = ``settings.streams``."""

    has_timing_splits = True

    def __init__(self, artifact_path: Path, settings: RunnerSettings) -> None:
        self.artifact_path = Path(artifact_path)
        self.settings = settings
        self.include_transfers = bool(getattr(settings, "include_transfers", True))
        self.cuda_graph = bool(getattr(settings, "cuda_graph", False))
        self.streams = max(1, int(getattr(settings, "streams", 1)))
        self.queries_per_call = self.streams
        self.has_layer_profile = bool(settings.profiling)
        self.runtime: Any = None
        self.engine: Any = None
        self.cuda: Any = None
        self.slots: list[_Slot] = []
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.events: list[int] = []
        self.splits: dict[str, list[float]] = {"h2d_ms": [], "compute_ms": [], "d2h_ms": []}
        self.layer_times: dict[str, list[float]] = {}
        self.profiler: Any = None
        self.plan_notes: tuple[str, ...] = ()

    # -- lifecycle -----------------------------------------------------------------------------------------------
    def _activate(self) -> None:
        from workbench.core.backends.tensorrt import plan
        from workbench.core.backends.tensorrt.compat import Compat, import_tensorrt
        from workbench.core.backends.tensorrt.cuda import Cuda

        ef = plan.classify_engine_file(self.artifact_path)
        import_tensorrt()
        import tensorrt as trt

        compat = Compat(trt)
        self.cuda = Cuda()
        sidecar_path = plan.find_sidecar(self.artifact_path)
        sidecar: dict[str, Any] = {}
        if sidecar_path is not None:
            sidecar = plan.load_sidecar(sidecar_path)
            check = plan.check_compatibility(sidecar, current_environment(self.cuda, compat.version_string))
            if not check.ok:
                raise plan.refuse(self.artifact_path, check)
            self.plan_notes = check.notes
        logger = trt.Logger(trt.Logger.WARNING)
        runtime = trt.Runtime(logger)
        if sidecar.get("version_compatible") and compat.has("version_compatible"):
            # A version-compatible plan carries its own lean runtime, which TensorRT runs only when allowed.
            runtime.engine_host_code_allowed = True
        self.runtime = runtime
        self.engine = plan.deserialize_plan(runtime, ef)
        engine = self.engine
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                self.inputs.append(name)
            else:
                self.outputs.append(name)
        for _ in range(self.streams):
            slot = _Slot()
            slot.context = engine.create_execution_context()
            if slot.context is None:
                raise BenchmarkError(f"TensorRT could not create an execution context for {self.artifact_path}")
            slot.stream = self.cuda.stream_create()
            self.slots.append(slot)
        self.events = [self.cuda.event_create() for _ in range(4)]
        if self.settings.profiling:
            if self.cuda_graph:
                raise BenchmarkError("per-layer profiling and CUDA graphs cannot be combined", hint="drop one")
            self.profiler = self._make_profiler(trt)
            self.slots[0].context.profiler = self.profiler

    def _make_profiler(self, trt: Any) -> Any:
        times = self.layer_times

        class _Profiler(trt.IProfiler):
            def __init__(self) -> None:
                trt.IProfiler.__init__(self)

            def report_layer_time(self, layer_name, ms):
                times.setdefault(str(layer_name), []).append(float(ms))

        return _Profiler()

    def _deactivate(self) -> None:
        cuda = self.cuda
        if cuda is None:
            return
        for slot in self.slots:
            cuda.graph_exec_destroy(slot.graph_exec)
            cuda.graph_destroy(slot.graph)
            for ptr in slot.device.values():
                cuda.free(ptr)
            for ptr in slot.host_ptr.values():
                cuda.free_host(ptr)
            cuda.stream_destroy(slot.stream)
            slot.context = None
        for ev in self.events:
            cuda.event_destroy(ev)
        self.slots, self.events = [], []
        self.engine = None
        self.runtime = None
        self.cuda = None

    # -- metadata --------------------------------------------------------------------------------------------------
    def _input_metadata(self) -> list[tuple[str, str, tuple]]:
        import numpy as np
        import tensorrt as trt

        engine = self.engine
        out = []
        for name in self.inputs:
            dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(name))).name
            shape = tuple(d if d >= 0 else None for d in engine.get_tensor_shape(name))
            out.append((name, dtype, shape))
        return out

    # -- buffers ---------------------------------------------------------------------------------------------------
    def _bind(self, slot: _Slot, feeds: Mapping[str, Any]) -> None:
        import numpy as np
        import tensorrt as trt

        cuda = self.cuda
        context = slot.context
        engine = self.engine
        missing = [n for n in self.inputs if n not in feeds]
        if missing:
            raise ModelError(f"{self.artifact_path}: no data for input(s) {', '.join(missing)}")
        for name in self.inputs:
            arr = np.ascontiguousarray(feeds[name])
            want = np.dtype(trt.nptype(engine.get_tensor_dtype(name)))
            if arr.dtype != want:
                arr = arr.astype(want)
            if not context.set_input_shape(name, arr.shape):
                raise ModelError(
                    f"{self.artifact_path}: input {name!r} shape {list(arr.shape)} is outside the engine's profile"
                )
            self._alloc(slot, name, arr.nbytes, arr.dtype, arr.shape)
            slot.host[name][...] = arr
        for name in self.outputs:
            shape = tuple(context.get_tensor_shape(name))
            if any(d < 0 for d in shape):
                raise BenchmarkError(f"output {name!r} has a data-dependent shape {list(shape)}; not supported yet")
            dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(name)))
            nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            self._alloc(slot, name, nbytes, dtype, shape)
        for name in self.inputs + self.outputs:
            if not context.set_tensor_address(name, slot.device[name]):
                raise BenchmarkError(f"TensorRT refused the device address of {name!r}")
        if not self.include_transfers:
            for name in self.inputs:
                cuda.memcpy_htod_async(slot.device[name], slot.host_ptr[name], slot.nbytes[name], slot.stream)
            cuda.stream_synchronize(slot.stream)

    def _alloc(self, slot: _Slot, name: str, nbytes: int, dtype: Any, shape: tuple) -> None:
        import numpy as np

        cuda = self.cuda
        if slot.nbytes.get(name) != nbytes:
            if name in slot.device:
                cuda.free(slot.device.pop(name))
                cuda.free_host(slot.host_ptr.pop(name))
            slot.device[name] = cuda.malloc(nbytes)
            slot.host_ptr[name] = cuda.malloc_host(nbytes)
            slot.nbytes[name] = nbytes
        raw = np.ctypeslib.as_array((ctypes.c_ubyte * max(1, nbytes)).from_address(slot.host_ptr[name]))
        slot.host[name] = raw[:nbytes].view(dtype).reshape(shape)

    def _enqueue(self, slot: _Slot, *, timed: bool) -> None:
        """The query's GPU work on ``slot.stream``: [H2D] compute [D2H], with events around each part."""
        cuda = self.cuda
        ev = self.events
        if timed:
            cuda.event_record(ev[0], slot.stream)
        if self.include_transfers:
            for name in self.inputs:
                cuda.memcpy_htod_async(slot.device[name], slot.host_ptr[name], slot.nbytes[name], slot.stream)
        if timed:
            cuda.event_record(ev[1], slot.stream)
        if not slot.context.execute_async_v3(slot.stream):
            raise BenchmarkError(f"TensorRT execute_async_v3 failed on {self.artifact_path}")
        if timed:
            cuda.event_record(ev[2], slot.stream)
        if self.include_transfers:
            for name in self.outputs:
                cuda.memcpy_dtoh_async(slot.host_ptr[name], slot.device[name], slot.nbytes[name], slot.stream)
        if timed:
            cuda.event_record(ev[3], slot.stream)

    def _capture(self, slot: _Slot) -> None:
        cuda = self.cuda
        self._enqueue(slot, timed=False)  # one run before capture: TensorRT finishes shape-dependent set-up
        cuda.stream_synchronize(slot.stream)
        cuda.begin_capture(slot.stream)
        self._enqueue(slot, timed=False)
        slot.graph = cuda.end_capture(slot.stream)
        slot.graph_exec = cuda.graph_instantiate(slot.graph)

    # -- running ---------------------------------------------------------------------------------------------------
    def _prepare(self, feeds: Mapping[str, Any]) -> Callable[[], Any]:
        for slot in self.slots:
            self._bind(slot, feeds)
            if self.cuda_graph:
                self._capture(slot)
        cuda = self.cuda
        slots = self.slots
        splits = self.splits
        ev = self.events

        if len(slots) == 1 and not self.cuda_graph:
            slot = slots[0]
            enqueue = self._enqueue

            def call():
                enqueue(slot, timed=True)
                cuda.stream_synchronize(slot.stream)
                if len(splits["compute_ms"]) < _MAX_SPLITS:
                    splits["h2d_ms"].append(cuda.event_elapsed_ms(ev[0], ev[1]))
                    splits["compute_ms"].append(cuda.event_elapsed_ms(ev[1], ev[2]))
                    splits["d2h_ms"].append(cuda.event_elapsed_ms(ev[2], ev[3]))

            return call

        if self.cuda_graph:

            def call():
                for s in slots:
                    cuda.graph_launch(s.graph_exec, s.stream)
                for s in slots:
                    cuda.stream_synchronize(s.stream)

            return call

        enqueue = self._enqueue

        def call():
            for s in slots:
                enqueue(s, timed=False)
            for s in slots:
                cuda.stream_synchronize(s.stream)

        return call

    def _infer(self, feeds: Mapping[str, Any]) -> dict[str, Any]:
        include = self.include_transfers
        self.include_transfers = True  # infer returns outputs, so they must come back
        try:
            self._prepare(feeds)()
        finally:
            self.include_transfers = include
        return {name: self.slots[0].host[name].copy() for name in self.outputs}

    def timing_splits(self) -> dict[str, Any]:
        """Per-query H2D / compute / D2H milliseconds (single stream, no CUDA graph), and the options in force."""
        return {
            **{k: list(v) for k, v in self.splits.items()},
            "include_transfers": self.include_transfers,
            "cuda_graph": self.cuda_graph,
            "streams": self.streams,
            "latency_meaningful": self.streams == 1,
        }

    def end_profiling(self) -> str | None:
        """Write per-layer times (ORT profile shape) to a temp JSON file; return its path."""
        if not self.layer_times:
            return None
        events = []
        ts = 0.0
        for name, times in self.layer_times.items():
            for ms in times:
                us = ms * 1000.0
                events.append({"cat": "Node", "name": name, "ph": "X", "ts": round(ts, 3), "dur": round(us, 3),
                               "args": {"op_name": name, "provider": "TensorRT"}})  # fmt: skip
                ts += us
        fd, path = tempfile.mkstemp(prefix="trt_layers_", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump(events, fh)
        return path
