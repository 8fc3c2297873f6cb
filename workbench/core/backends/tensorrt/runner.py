"""Run a TensorRT plan: ``set_tensor_address`` + ``execute_async_v3`` (present in every release 8.5 → 11.x).

One query (the zero-argument call ``prepare`` returns, which the benchmark child times) is, by default, what
trtexec times as "latency": host→device copies of the inputs, the GPU compute, device→host copies of the outputs,
then a stream synchronize. CUDA events split each query like trtexec: ``h2d_ms`` ("H2D Latency"),
``gpu_compute_ms`` ("GPU Compute Time"), ``d2h_ms`` ("D2H Latency") and ``latency_ms`` (trtexec's "Latency": the
first event to the last of the same query, i.e. H2D + compute + D2H); :meth:`TensorRTRunner.timing_splits` returns
them.

Event timing stays out of the timed call: the call only *records* events, into a ring of
:data:`RING_SETS` event sets; their elapsed times are read by :meth:`TensorRTRunner.collect_timing_splits`, which
the benchmark child calls between sample batches (at least every ``pending_splits_limit`` = RING_SETS calls),
outside the timed region. Only when the ring is full anyway (the prepared call used without the child) does the
call read the oldest set itself, so no query is lost. :meth:`TensorRTRunner.reset_timing_splits` (the child calls it
when warm-up ends) drops every split so far, pending ones included: as in trtexec, warm-up counts in no statistic.

Options (read from the runner settings when present, so they travel in the result explicitly):

* ``include_transfers`` (default True): False times the GPU compute only (inputs uploaded once in ``prepare``;
  outputs are left on the device) — trtexec's ``--noDataTransfers``. TensorRT 11's trtexec changed the default;
  ours is always written into the result as ``include_transfers``. With transfers off there are no H2D / D2H
  splits and ``latency_ms`` equals the compute.
* ``cuda_graph`` (default False): the query is captured once into a CUDA graph and replayed (trtexec
  ``--useCudaGraph``); the engine is run once before capture, as TensorRT's documentation asks. Capture runs in
  thread-local mode. Events are recorded around the graph launch, so ``gpu_compute_ms`` (and ``latency_ms``) is
  the whole replay — transfers included when they are on — and there are no separate H2D / D2H splits (the
  options say so: ``gpu_compute_scope``). When capture fails (a plan with operations CUDA graphs cannot hold),
  the stream's capture is ended, the partial graph destroyed, and plain launches are used, as trtexec does; the
  splits' options then say ``cuda_graph`` False and ``cuda_graph_fallback`` why.
* ``streams`` (default 1): N execution contexts on N streams run concurrently per call; the result is
  throughput only (``queries_per_call`` = N) — per-query latency is not meaningful then (trtexec says the same
  of ``--infStreams``), and there are no per-query splits. With dynamic shapes, TensorRT before 10 lets no two
  execution contexts share an optimization profile (sharing is the preview feature PROFILE_SHARING_0806, off by
  default in 8.6 and absent in 8.5; TensorRT 10 turned it on): there each stream gets its own profile, so the plan
  needs at least N.

I/O data types: numpy has no bfloat16, so a BF16 input is fed, and a BF16 output returned, as float32 (converted
to and from BF16 bits, rounding to nearest even, outside the timed call; ``input_metadata`` says float32). FP8,
INT4, FP4 and E8M0 I/O tensors are refused at activation with a ModelError naming the tensor. Shape tensors
(``ICudaEngine.is_shape_inference_io``) live in host memory, as TensorRT requires: their values are set before
output shapes are asked for and are never copied to the device.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core.backends.base import Runner, RunnerSettings
from workbench.core.errors import BenchmarkError, ModelError

_MAX_SPLITS = 1_000_000  # per-query split samples kept (bounded memory on long runs)
RING_SETS = 1024  # CUDA event sets a timed call may leave unread (4 events each): = pending_splits_limit
_SPLIT_KEYS = ("h2d_ms", "gpu_compute_ms", "d2h_ms", "latency_ms")
# DataType names numpy cannot hold and we do not convert (BF16 is converted, see the module doc).
_UNFED_DTYPES = ("FP8", "INT4", "FP4", "E8M0")


def current_environment(cuda: Any, trt_version: str) -> Any:
    """This machine's :class:`~workbench.core.backends.tensorrt.plan.Environment` (TensorRT, GPU, CC, L4T)."""
    from workbench.core.backends.tensorrt.plan import Environment
    from workbench.core.hw.detect import read_l4t

    l4t, _ = read_l4t(Path("/"))
    return Environment(trt_version, cuda.device_name(), cuda.compute_capability(), l4t)


# -- I/O data types --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IoType:
    """How one I/O tensor is held. ``buffer``: the numpy dtype of its bytes in our buffers (TensorRT's layout);
    ``user``: the dtype fed to / returned by the runner; ``bf16``: float32 ↔ BF16 bits (uint16) conversion."""

    trt_name: str
    buffer: Any
    user: Any
    bf16: bool = False


def dtype_name(dt: Any) -> str:
    """A TensorRT DataType's member name (``"BF16"``), also for stand-ins without ``.name``."""
    name = getattr(dt, "name", None)
    return str(name) if name else str(dt).rsplit(".", 1)[-1]


def io_type(trt: Any, dt: Any, tensor_name: str, role: str, plan: Path) -> IoType:
    """The :class:`IoType` of an I/O tensor of TensorRT DataType ``dt``.

    ``trt.nptype`` raises TypeError for the types numpy lacks (BF16, FP8, INT4, FP4, E8M0): BF16 is carried as
    uint16 bits and fed / returned as float32; the others are refused.

    Raises:
        ModelError: an I/O tensor of a type the workbench cannot feed or read, naming the tensor, its type and the
        fix.
    """
    import numpy as np

    name = dtype_name(dt)
    if name == "BF16":
        return IoType(name, np.dtype(np.uint16), np.dtype(np.float32), bf16=True)
    try:
        if name in _UNFED_DTYPES:
            raise TypeError(name)
        np_dtype = np.dtype(trt.nptype(dt))
    except (TypeError, KeyError, ValueError):
        raise ModelError(
            f"{plan}: {role} {tensor_name!r} is {name} in this plan; numpy has no {name} type, so the workbench can "
            "neither feed nor read it",
            hint=f"add a Cast to float32 or float16 at the model's {role} (keep {name} inside the network), then "
            "rebuild the plan",
        ) from None
    return IoType(name, np_dtype, np_dtype)


def float_to_bf16_bits(values: Any) -> Any:
    """float32 (or anything castable) → BF16 bit patterns (uint16, same shape), rounded to nearest even; NaN stays
    a (quiet) NaN, overflow rounds to ±inf as IEEE rounding does."""
    import numpy as np

    f = np.ascontiguousarray(values, dtype=np.float32)
    u = f.view(np.uint32)
    lsb = (u >> np.uint32(16)) & np.uint32(1)
    bits = ((u + np.uint32(0x7FFF) + lsb) >> np.uint32(16)).astype(np.uint16)
    nan = np.isnan(f)
    if nan.any():
        bits[nan] = ((u[nan] >> np.uint32(16)) | np.uint32(0x0040)).astype(np.uint16)
    return bits


def bf16_bits_to_float(bits: Any) -> Any:
    """BF16 bit patterns (uint16) → float32 (exact: BF16 is the top half of a float32)."""
    import numpy as np

    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << np.uint32(16)).view(np.float32)


class _Slot:
    """One execution context with its stream, optimization profile, device buffers and pinned host buffers."""

    def __init__(self) -> None:
        self.context: Any = None
        self.stream = 0
        self.profile = 0
        self.device: dict[str, int] = {}  # tensors in device memory only (not the host-resident shape tensors)
        self.host: dict[str, Any] = {}  # name -> numpy array over pinned memory
        self.host_ptr: dict[str, int] = {}
        self.nbytes: dict[str, int] = {}
        self.graph = 0
        self.graph_exec = 0


class TensorRTRunner(Runner):
    """Runs a plan (see the module doc). Always has timing splits (per query with one stream); a layer profile
    when ``settings.profiling`` is on; ``queries_per_call`` = ``settings.streams``."""

    has_timing_splits = True

    def __init__(self, artifact_path: Path, settings: RunnerSettings) -> None:
        self.artifact_path = Path(artifact_path)
        self.settings = settings
        self.include_transfers = bool(getattr(settings, "include_transfers", True))
        self.cuda_graph = bool(getattr(settings, "cuda_graph", False))
        self.streams = max(1, int(getattr(settings, "streams", 1)))
        self.queries_per_call = self.streams
        # One stream records CUDA events per query; the child reads them at least every RING_SETS calls.
        self.pending_splits_limit = RING_SETS if self.streams == 1 else None
        self.has_layer_profile = bool(settings.profiling)
        self.runtime: Any = None
        self.engine: Any = None
        self.cuda: Any = None
        self.sidecar: dict[str, Any] = {}
        self.slots: list[_Slot] = []
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.io: dict[str, IoType] = {}
        self.host_resident: set[str] = set()  # shape tensors: TensorRT reads / writes them in host memory
        self.profile_per_stream = False
        self.events: list[int] = []  # every event created (destroyed in _deactivate)
        self.ring: list[tuple[int, int, int, int]] = []
        self._head = 0  # the ring set the next timed call records into
        self._pending = 0  # recorded sets not read yet: the `_pending` sets before `_head`
        self._graph_on = False  # a CUDA graph is captured and replayed (cuda_graph asked and capture succeeded)
        self.graph_fallback: str | None = None
        self.splits: dict[str, list[float]] = {k: [] for k in _SPLIT_KEYS}
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
        self.sidecar = sidecar
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
            is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            (self.inputs if is_input else self.outputs).append(name)
            self.io[name] = io_type(
                trt, engine.get_tensor_dtype(name), name, "input" if is_input else "output", self.artifact_path
            )
            if engine.is_shape_inference_io(name):
                self.host_resident.add(name)
        dynamic = any(n in self.host_resident or any(d < 0 for d in engine.get_tensor_shape(n)) for n in self.inputs)
        if self.streams > 1 and dynamic and not compat.at_least(10, 0):
            self._check_profiles_per_stream(compat.version_string)
        for i in range(self.streams):
            slot = _Slot()
            slot.context = engine.create_execution_context()
            if slot.context is None:
                raise BenchmarkError(
                    f"TensorRT could not create an execution context for {self.artifact_path}",
                    hint="the GPU may be out of memory: close other GPU processes (`nvidia-smi`), use fewer "
                    "--streams, or rebuild with a smaller [build] workspace_mib",
                )
            slot.stream = self.cuda.stream_create()
            self.slots.append(slot)
            if self.profile_per_stream:
                self._select_profile(slot, i)
        if self.streams == 1:
            cuda = self.cuda
            for _ in range(RING_SETS):
                ev = (cuda.event_create(), cuda.event_create(), cuda.event_create(), cuda.event_create())
                self.events.extend(ev)
                self.ring.append(ev)
        if self.settings.profiling:
            if self.cuda_graph:
                raise BenchmarkError("per-layer profiling and CUDA graphs cannot be combined", hint="drop one")
            self.profiler = self._make_profiler(trt)
            self.slots[0].context.profiler = self.profiler

    def _check_profiles_per_stream(self, version: str) -> None:
        """TensorRT < 10, dynamic shapes, N streams: each stream's context needs an optimization profile of its own.

        Raises:
            BenchmarkError: the plan has fewer profiles than streams (names the cause and the three fixes).
        """
        have = int(self.engine.num_optimization_profiles)
        if have < self.streams:
            raise BenchmarkError(
                f"--streams {self.streams} with dynamic shapes on TensorRT {version} needs one optimization profile "
                f"per stream, and {self.artifact_path} has {have}: before TensorRT 10 two execution contexts cannot "
                "share a profile (sharing is the preview feature PROFILE_SHARING_0806, off by default in 8.6 and "
                "absent in 8.5)",
                hint=f"rebuild the plan with {self.streams} identical optimization profiles, use TensorRT 10 or "
                "newer (contexts share profiles there), or run with --streams 1",
            )
        self.profile_per_stream = True

    def _select_profile(self, slot: _Slot, index: int) -> None:
        """Give ``slot`` optimization profile ``index`` (before any input shape is set on it)."""
        context = slot.context
        if not context.set_optimization_profile_async(index, slot.stream):
            raise BenchmarkError(
                f"TensorRT refused optimization profile {index} for stream {index} of {self.artifact_path}",
                hint="run with --streams 1, or rebuild the plan with one optimization profile per stream",
            )
        slot.profile = index
        self.cuda.stream_synchronize(slot.stream)  # the switch is enqueued on the stream: done before set-up

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
            self._drop_graph(slot)
            for ptr in slot.device.values():
                cuda.free(ptr)
            for ptr in slot.host_ptr.values():
                cuda.free_host(ptr)
            cuda.stream_destroy(slot.stream)
            slot.context = None
        for ev in self.events:
            cuda.event_destroy(ev)
        self.slots, self.events, self.ring = [], [], []
        self._pending = 0
        self.engine = None
        self.runtime = None
        self.cuda = None

    # -- metadata --------------------------------------------------------------------------------------------------
    def _input_metadata(self) -> list[tuple[str, str, tuple]]:
        engine = self.engine
        out = []
        for name in self.inputs:
            shape = tuple(d if d >= 0 else None for d in engine.get_tensor_shape(name))
            out.append((name, self.io[name].user.name, shape))
        return out

    def runtime_info(self) -> dict[str, Any]:
        """``{"math_mode": {"tf32": bool}}`` when the plan's sidecar records whether the build allowed TF32 (the
        builder's TF32 flag; key ``"tf32"``), else {}: a plan's math mode is fixed when it is built."""
        tf32 = self.sidecar.get("tf32")
        return {"math_mode": {"tf32": tf32}} if isinstance(tf32, bool) else {}

    # -- buffers ---------------------------------------------------------------------------------------------------
    def _bind(self, slot: _Slot, feeds: Mapping[str, Any]) -> None:
        import numpy as np

        cuda = self.cuda
        context = slot.context
        missing = [n for n in self.inputs if n not in feeds]
        if missing:
            raise ModelError(
                f"{self.artifact_path}: no data for input(s) {', '.join(missing)}",
                hint="feed every input of the engine's ONNX model (`workbench inspect MODEL` lists them)",
            )
        for name in self.inputs:
            io = self.io[name]
            arr = float_to_bf16_bits(feeds[name]) if io.bf16 else np.ascontiguousarray(feeds[name], dtype=io.buffer)
            if not context.set_input_shape(name, arr.shape):
                where = f" (optimization profile {slot.profile})" if self.profile_per_stream else ""
                raise ModelError(
                    f"{self.artifact_path}: input {name!r} shape {list(arr.shape)} is outside the engine's "
                    f"profile{where}",
                    hint="use a shape inside the engine's optimization profile (its min/max), or rebuild the engine "
                    "with wider [build.shapes.<input>] min/max",
                )
            host = name in self.host_resident
            self._alloc(slot, name, arr.nbytes, arr.dtype, arr.shape, on_device=not host)
            slot.host[name][...] = arr
            if host:
                # A shape tensor: TensorRT reads its values from host memory, and needs them before it can infer
                # the output shapes asked for below.
                self._set_address(context, name, slot.host_ptr[name])
        for name in self.outputs:
            shape = tuple(context.get_tensor_shape(name))
            if any(d < 0 for d in shape):
                raise BenchmarkError(
                    f"output {name!r} has a data-dependent shape {list(shape)}; not supported yet",
                    hint="give the output a fixed shape in the model (re-export it), or run the model with the "
                    "onnxruntime backend",
                )
            dtype = self.io[name].buffer
            nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            self._alloc(slot, name, nbytes, dtype, shape, on_device=name not in self.host_resident)
        for name in self.inputs + self.outputs:
            if name in self.host_resident:
                if name in self.outputs:
                    self._set_address(context, name, slot.host_ptr[name])
                continue
            self._set_address(context, name, slot.device[name])
        if not self.include_transfers:
            for name in self._device_inputs():
                cuda.memcpy_htod_async(slot.device[name], slot.host_ptr[name], slot.nbytes[name], slot.stream)
            cuda.stream_synchronize(slot.stream)

    def _set_address(self, context: Any, name: str, ptr: int) -> None:
        if not context.set_tensor_address(name, ptr):
            where = "host" if name in self.host_resident else "device"
            raise BenchmarkError(
                f"TensorRT refused the {where} address of {name!r}",
                hint="rebuild the engine (--rebuild); if it repeats, run `workbench doctor` to check the "
                "CUDA/TensorRT setup",
            )

    def _device_inputs(self) -> list[str]:
        return [n for n in self.inputs if n not in self.host_resident]

    def _device_outputs(self) -> list[str]:
        return [n for n in self.outputs if n not in self.host_resident]

    def _alloc(self, slot: _Slot, name: str, nbytes: int, dtype: Any, shape: tuple, *, on_device: bool) -> None:
        import numpy as np

        cuda = self.cuda
        if slot.nbytes.get(name) != nbytes:
            if name in slot.device:
                cuda.free(slot.device.pop(name))
            if name in slot.host_ptr:
                cuda.free_host(slot.host_ptr.pop(name))
            if on_device:
                slot.device[name] = cuda.malloc(nbytes)
            slot.host_ptr[name] = cuda.malloc_host(nbytes)
            slot.nbytes[name] = nbytes
        raw = np.ctypeslib.as_array((ctypes.c_ubyte * max(1, nbytes)).from_address(slot.host_ptr[name]))
        slot.host[name] = raw[:nbytes].view(dtype).reshape(shape)

    def _enqueue(self, slot: _Slot, ev: tuple[int, int, int, int] | None) -> None:
        """The query's GPU work on ``slot.stream``: [H2D] compute [D2H]; with ``ev``, events before the H2D, after
        it, after the compute and after the D2H. Shape tensors stay on the host (never copied)."""
        cuda = self.cuda
        if ev is not None:
            cuda.event_record(ev[0], slot.stream)
        if self.include_transfers:
            for name in self._device_inputs():
                cuda.memcpy_htod_async(slot.device[name], slot.host_ptr[name], slot.nbytes[name], slot.stream)
        if ev is not None:
            cuda.event_record(ev[1], slot.stream)
        if not slot.context.execute_async_v3(slot.stream):
            raise BenchmarkError(
                f"TensorRT execute_async_v3 failed on {self.artifact_path}",
                hint="run `workbench doctor` and check `nvidia-smi` (or tegrastats on Jetson) for a GPU error; "
                "rebuild the engine with --rebuild",
            )
        if ev is not None:
            cuda.event_record(ev[2], slot.stream)
        if self.include_transfers:
            for name in self._device_outputs():
                cuda.memcpy_dtoh_async(slot.host_ptr[name], slot.device[name], slot.nbytes[name], slot.stream)
        if ev is not None:
            cuda.event_record(ev[3], slot.stream)

    # -- CUDA graphs -----------------------------------------------------------------------------------------------
    def _drop_graph(self, slot: _Slot) -> None:
        """Destroy ``slot``'s graph and its executable (a re-capture replaces them; nothing leaks)."""
        cuda = self.cuda
        exec_, graph = slot.graph_exec, slot.graph
        slot.graph_exec = slot.graph = 0
        cuda.graph_exec_destroy(exec_)
        cuda.graph_destroy(graph)

    def _capture(self, slot: _Slot) -> str | None:
        """Capture one query of ``slot`` into a graph and instantiate it; None on success, else why it failed (the
        stream is out of capture mode and nothing partial is kept)."""
        cuda = self.cuda
        self._enqueue(slot, None)  # one run before capture: TensorRT finishes shape-dependent set-up
        cuda.stream_synchronize(slot.stream)
        cuda.begin_capture(slot.stream)
        try:
            self._enqueue(slot, None)
        except BenchmarkError as exc:
            # The stream is still capturing: end it, or every later launch and synchronize on it fails.
            cuda.abort_capture(slot.stream)
            return f"capture failed: {exc}"
        try:
            slot.graph = cuda.end_capture(slot.stream)
            slot.graph_exec = cuda.graph_instantiate(slot.graph)
        except BenchmarkError as exc:
            self._drop_graph(slot)
            return f"capture failed: {exc}"
        return None

    def _capture_all(self) -> None:
        """Capture every slot's query (replacing graphs of an earlier ``prepare``); on the first failure drop them
        all and run plain launches, recording why in ``graph_fallback``."""
        self.graph_fallback = None
        for slot in self.slots:
            self._drop_graph(slot)
        for slot in self.slots:
            reason = self._capture(slot)
            if reason is not None:
                for s in self.slots:
                    self._drop_graph(s)
                self.graph_fallback = f"{reason}; plain launches used instead (as trtexec does)"
                break
        self._graph_on = self.graph_fallback is None

    # -- running ---------------------------------------------------------------------------------------------------
    def _prepare(self, feeds: Mapping[str, Any]) -> Callable[[], Any]:
        self.collect_timing_splits()  # pending records were made under the old binding's mode: read them now
        for slot in self.slots:
            self._bind(slot, feeds)
        self._graph_on = False
        if self.cuda_graph:
            self._capture_all()
        cuda = self.cuda
        slots = self.slots

        if len(slots) == 1:
            slot = slots[0]
            ring = self.ring
            enqueue = self._enqueue
            read_oldest = self._read_oldest
            stream = slot.stream

            if self._graph_on:
                graph_exec = slot.graph_exec

                def run(ev):
                    cuda.event_record(ev[0], stream)
                    cuda.graph_launch(graph_exec, stream)
                    cuda.event_record(ev[3], stream)

            else:

                def run(ev):
                    enqueue(slot, ev)

            def call():
                # Events are only recorded here; collect_timing_splits reads them outside the timed region.
                if self._pending >= RING_SETS:
                    read_oldest()  # used without the child's collection: keep the query rather than lose it
                run(ring[self._head])
                cuda.stream_synchronize(stream)
                self._head = (self._head + 1) % RING_SETS
                self._pending += 1

            return call

        if self._graph_on:

            def call():
                for s in slots:
                    cuda.graph_launch(s.graph_exec, s.stream)
                for s in slots:
                    cuda.stream_synchronize(s.stream)

            return call

        enqueue = self._enqueue

        def call():
            for s in slots:
                enqueue(s, None)
            for s in slots:
                cuda.stream_synchronize(s.stream)

        return call

    def _infer(self, feeds: Mapping[str, Any]) -> dict[str, Any]:
        include = self.include_transfers
        self.include_transfers = True  # infer returns outputs, so they must come back
        try:
            self._prepare(feeds)()
            self.collect_timing_splits()  # read while the mode it ran in (transfers on) is still in force
        finally:
            self.include_transfers = include
        out = {}
        for name in self.outputs:
            host = self.slots[0].host[name]
            out[name] = bf16_bits_to_float(host) if self.io[name].bf16 else host.copy()
        return out

    # -- timing splits ---------------------------------------------------------------------------------------------
    def _read(self, ev: tuple[int, int, int, int]) -> None:
        """Append one query's splits (ms) from its event set (its stream was synchronized after the query)."""
        splits = self.splits
        if len(splits["latency_ms"]) >= _MAX_SPLITS:
            return
        elapsed = self.cuda.event_elapsed_ms
        if self._graph_on:
            replay = elapsed(ev[0], ev[3])
            splits["gpu_compute_ms"].append(replay)
            splits["latency_ms"].append(replay)
            return
        if self.include_transfers:
            splits["h2d_ms"].append(elapsed(ev[0], ev[1]))
            splits["d2h_ms"].append(elapsed(ev[2], ev[3]))
        splits["gpu_compute_ms"].append(elapsed(ev[1], ev[2]))
        splits["latency_ms"].append(elapsed(ev[0], ev[3]))

    def _read_oldest(self) -> None:
        self._read(self.ring[(self._head - self._pending) % RING_SETS])
        self._pending -= 1

    def collect_timing_splits(self) -> None:
        """Read every pending event set, oldest first, into the split lists (outside the timed region)."""
        while self._pending:
            self._read_oldest()

    def reset_timing_splits(self) -> None:
        """Drop every split so far, pending event sets included (unread: warm-up counts in no statistic)."""
        self._pending = 0
        for values in self.splits.values():
            values.clear()

    def timing_splits(self) -> dict[str, Any]:
        """Per-query ``h2d_ms`` / ``gpu_compute_ms`` / ``d2h_ms`` / ``latency_ms`` lists (ms) and the options in force
        (see the module doc); pending event sets are collected first."""
        self.collect_timing_splits()
        out: dict[str, Any] = {k: list(v) for k, v in self.splits.items()}
        out.update(
            include_transfers=self.include_transfers,
            cuda_graph=self._graph_on,
            streams=self.streams,
            latency_meaningful=self.streams == 1,
        )
        if self.graph_fallback is not None:
            out["cuda_graph_fallback"] = self.graph_fallback
        if self._graph_on and self.streams == 1:
            out["gpu_compute_scope"] = "CUDA graph replay" + (
                " (H2D + compute + D2H inside the graph)" if self.include_transfers else ""
            )
        if self.streams > 1:
            out["splits_note"] = (
                f"no per-query splits: each timed call runs {self.streams} queries at once on {self.streams} streams"
            )
        if self.profile_per_stream:
            out["optimization_profile_per_stream"] = True
        return out

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
