"""Issue 14, the TensorRT runner and the CUDA wrapper: defects found by reading the GPU code, each reproduced here.

No GPU and no TensorRT on the test machines: a behavioural stand-in for ``tensorrt`` (names as in the reference
binding list, behaviour as TensorRT's documentation describes it) and a stand-in for our ``Cuda`` wrapper that
records every call, with "device" memory in host RAM. Each test fails on the code before its fix:

* 3+4  CUDA-event splits: recorded in the timed call, read only in ``collect_timing_splits`` (a ring of event
       sets), dropped by ``reset_timing_splits``; trtexec's keys, ``latency_ms`` = H2D + compute + D2H per query.
* 5    ``--streams N`` on TensorRT 8.5 / 8.6 with dynamic shapes: one optimization profile per stream.
* 6    CUDA graph capture failure: capture ended, partial graph dropped, plain launches; thread-local capture;
       re-capture destroys the old graph.
* 9    BF16 I/O converted; FP8 / INT4 / FP4 I/O refused naming the tensor.
* 10   shape tensors in host memory.
* 18   libcudart chosen by asking the driver; the wheels' cudart before the system's.
* 15   ``runtime_info`` reports the plan's TF32 flag from its sidecar.
"""

from __future__ import annotations

import ctypes
import enum
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from workbench.core.backends.base import RunnerSettings
from workbench.core.backends.tensorrt import cuda as cuda_mod
from workbench.core.backends.tensorrt import runner as R
from workbench.core.errors import BackendUnavailable, BenchmarkError, ModelError

PLAN = b"PLAN-BYTES"


# ------------------------------------------------------------------------------------------------ fake Cuda
class FakeGpu:
    """Our ``Cuda`` wrapper's interface over host RAM. Remembers which pointers are pinned host memory, records
    every call in ``log``, gives events distinct uneven timestamps, and tracks stream capture."""

    last: FakeGpu | None = None
    steps = (0.125, 0.5, 0.0625, 0.25, 1.0)  # event timestamp increments, cycled (distinct per split)

    def __init__(self, lib=None):
        self.bufs: dict[int, ctypes.Array] = {}
        self.host_ptrs: set[int] = set()
        self.log: list[tuple] = []
        self.t = 0.0
        self.n_records = 0
        self.ev: dict[int, float] = {}
        self.n_events = 0
        self.capturing: set[int] = set()
        self.next_graph = 100
        self.fail_end_capture = False
        FakeGpu.last = self

    def _buf(self, n):
        buf = ctypes.create_string_buffer(max(1, n))
        self.bufs[ctypes.addressof(buf)] = buf
        return ctypes.addressof(buf)

    def malloc(self, n):
        return self._buf(n)

    def malloc_host(self, n):
        p = self._buf(n)
        self.host_ptrs.add(p)
        return p

    def free(self, p):
        self.bufs.pop(p, None)

    def free_host(self, p):
        self.host_ptrs.discard(p)
        self.bufs.pop(p, None)

    def memcpy_htod_async(self, dst, src, n, stream):
        self.log.append(("h2d", dst, n))
        ctypes.memmove(dst, src, n)

    def memcpy_dtoh_async(self, dst, src, n, stream):
        self.log.append(("d2h", src, n))
        ctypes.memmove(dst, src, n)

    def stream_create(self):
        self.log.append(("stream_create",))
        return 1000 + len(self.log)

    def stream_destroy(self, s):
        pass

    def stream_synchronize(self, s):
        assert s not in self.capturing, "synchronize on a capturing stream (CUDA refuses it)"

    def event_create(self):
        self.n_events += 1
        return self.n_events

    def event_destroy(self, e):
        pass

    def event_record(self, e, s):
        self.t += self.steps[self.n_records % len(self.steps)]
        self.n_records += 1
        self.ev[e] = self.t

    def event_elapsed_ms(self, a, b):
        self.log.append(("elapsed",))
        return self.ev[b] - self.ev[a]

    def begin_capture(self, s):
        self.log.append(("begin_capture", s))
        self.capturing.add(s)

    def end_capture(self, s):
        self.capturing.discard(s)
        if self.fail_end_capture:
            raise BenchmarkError("CUDA cudaStreamEndCapture failed: operation not permitted when stream is capturing")
        self.next_graph += 1
        self.log.append(("end_capture", s, self.next_graph))
        return self.next_graph

    def abort_capture(self, s):
        self.log.append(("abort_capture", s))
        self.capturing.discard(s)

    def graph_instantiate(self, g):
        self.log.append(("instantiate", g))
        return g + 5000

    def graph_launch(self, ge, s):
        self.log.append(("graph_launch", ge))

    def graph_destroy(self, g):
        if g:
            self.log.append(("graph_destroy", g))

    def graph_exec_destroy(self, ge):
        if ge:
            self.log.append(("graph_exec_destroy", ge))

    def device_name(self, d=0):
        return "Fake GPU"

    def compute_capability(self, d=0):
        return "8.7"

    def integrated(self, d=0):
        return False

    def count(self, what):
        return sum(1 for e in self.log if e[0] == what)


# ------------------------------------------------------------------------------------------------ fake tensorrt
DataType = enum.Enum("DataType", "FLOAT HALF INT8 INT32 BOOL UINT8 FP8 BF16 INT64 INT4 FP4 E8M0")
_NP = {
    DataType.FLOAT: np.float32,
    DataType.HALF: np.float16,
    DataType.INT8: np.int8,
    DataType.INT32: np.int32,
    DataType.BOOL: np.bool_,
    DataType.UINT8: np.uint8,
    DataType.INT64: np.int64,
}


def nptype(dt):
    """As tensorrt/__init__.py's nptype: TypeError for the types numpy lacks."""
    if dt not in _NP:
        raise TypeError("Could not resolve TensorRT datatype to an equivalent numpy datatype.")
    return _NP[dt]


def view(ptr, dtype, shape):
    n = int(np.prod(shape, dtype=np.int64))
    dtype = np.dtype(dtype)
    raw = (ctypes.c_ubyte * max(1, n * dtype.itemsize)).from_address(ptr)
    return np.ctypeslib.as_array(raw)[: n * dtype.itemsize].view(dtype).reshape(shape)


class Tensor:
    def __init__(self, name, mode, dtype, shape, shape_io=False):
        self.name, self.mode, self.dtype, self.shape, self.shape_io = name, mode, dtype, tuple(shape), shape_io


class FakeEngine:
    """An engine of ``tensors``; ``compute(ctx)`` runs one query on the context's bound addresses; ``out_shape(ctx,
    name)`` infers an output shape (None: the first input's leading dimension, other dims as declared)."""

    def __init__(self, trt, tensors, *, profiles=1, compute=None, out_shape=None, capture_fails=False):
        self.trt, self.tensors = trt, {t.name: t for t in tensors}
        self.names = [t.name for t in tensors]
        self.num_optimization_profiles = profiles
        self.compute, self.out_shape, self.capture_fails = compute, out_shape, capture_fails
        self.contexts: list[FakeContext] = []
        self.taken: dict[int, FakeContext] = {}

    @property
    def num_io_tensors(self):
        return len(self.names)

    @property
    def shares_profiles(self):
        return int(self.trt.__version__.split(".")[0]) >= 10  # TensorRT 10: PROFILE_SHARING_0806 on

    @property
    def dynamic(self):
        return any(t.shape_io or -1 in t.shape for t in self.tensors.values() if t.mode == self.trt.TensorIOMode.INPUT)

    def get_tensor_name(self, i):
        return self.names[i]

    def get_tensor_mode(self, name):
        return self.tensors[name].mode

    def get_tensor_dtype(self, name):
        return self.tensors[name].dtype

    def get_tensor_shape(self, name):
        return self.tensors[name].shape

    def is_shape_inference_io(self, name):
        return self.tensors[name].shape_io

    def create_execution_context(self):
        ctx = FakeContext(self)
        # TensorRT < 10, dynamic shapes: profile 0 goes to the first context only ("Profile 0 has been chosen by
        # another IExecutionContext ... Profile index must be set explicitly").
        if self.shares_profiles or not self.dynamic or 0 not in self.taken:
            ctx.profile = 0
            self.taken.setdefault(0, ctx)
        self.contexts.append(ctx)
        return ctx


class FakeContext:
    def __init__(self, engine):
        self.engine = engine
        self.profile = None
        self.addr: dict[str, int] = {}
        self.shapes: dict[str, tuple] = {}
        self.calls: list[tuple] = []
        self.profiler = None

    def set_optimization_profile_async(self, index, stream):
        self.calls.append(("profile", index))
        eng = self.engine
        owner = eng.taken.get(index)
        if index >= eng.num_optimization_profiles or (owner not in (None, self) and not eng.shares_profiles):
            return False
        eng.taken[index] = self
        self.profile = index
        return True

    def set_input_shape(self, name, shape):
        self.calls.append(("shape", name))
        if self.profile is None:
            return False
        want = self.engine.tensors[name].shape
        if len(shape) != len(want) or any(w >= 0 and w != s for w, s in zip(want, shape, strict=True)):
            return False
        self.shapes[name] = tuple(shape)
        return True

    def get_tensor_shape(self, name):
        t = self.engine.tensors[name]
        if t.mode == self.engine.trt.TensorIOMode.INPUT:
            return self.shapes.get(name, t.shape)
        if self.engine.out_shape is not None:
            return self.engine.out_shape(self, name)
        first = self.shapes[self.engine.names[0]]
        return (first[0], *t.shape[1:])

    def set_tensor_address(self, name, ptr):
        self.calls.append(("address", name, ptr))
        self.addr[name] = ptr
        return True

    def execute_async_v3(self, stream):
        self.calls.append(("execute", stream))
        if stream in FakeGpu.last.capturing and self.engine.capture_fails:
            return False  # e.g. a plugin that synchronizes: TensorRT reports the failure
        self.engine.compute(self)
        return True


def make_trt(version, engine_factory):
    t = types.ModuleType("tensorrt")
    t.__version__ = version
    t.Logger = type("Logger", (), {"WARNING": 2, "__init__": lambda self, sev=2: None})
    t.TensorIOMode = enum.Enum("TensorIOMode", "NONE INPUT OUTPUT")
    t.DataType = DataType
    t.nptype = nptype
    t.IProfiler = type("IProfiler", (), {"__init__": lambda self: None})

    class Runtime:
        engine_host_code_allowed = False

        def __init__(self, logger):
            pass

        def deserialize_cuda_engine(self, data):
            return engine_factory(t) if bytes(data) == PLAN else None

    t.Runtime = Runtime
    return t


@pytest.fixture
def install(monkeypatch):
    def _install(version, engine_factory, gpu=FakeGpu):
        t = make_trt(version, engine_factory)
        monkeypatch.setitem(sys.modules, "tensorrt", t)
        monkeypatch.setattr(cuda_mod, "Cuda", gpu)
        return t

    return _install


def _plan(tmp_path: Path, sidecar: dict | None = None) -> Path:
    p = tmp_path / "m.plan"
    p.write_bytes(PLAN)
    if sidecar is not None:
        (tmp_path / "m.plan.workbench.json").write_text(json.dumps(sidecar))
    return p


W = (np.arange(32, dtype=np.float32).reshape(8, 4) - 16) / 8


def matmul_engine(**kw):
    """x: FLOAT (-1, 8) → y = x @ W: FLOAT (-1, 4)."""

    def factory(trt):
        def compute(ctx):
            n = ctx.shapes["x"][0]
            view(ctx.addr["y"], np.float32, (n, 4))[...] = view(ctx.addr["x"], np.float32, (n, 8)) @ W

        io = trt.TensorIOMode
        tensors = [Tensor("x", io.INPUT, DataType.FLOAT, (-1, 8)), Tensor("y", io.OUTPUT, DataType.FLOAT, (-1, 4))]
        return FakeEngine(trt, tensors, compute=compute, **kw)

    return factory


X = np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)


# ------------------------------------------------------------------------------------------------ 3+4: event splits
def test_splits_count_the_timed_calls_after_reset_only(install, tmp_path):
    install("10.3.0", matmul_engine())
    with R.TensorRTRunner(_plan(tmp_path), RunnerSettings()) as r:
        call = r.prepare({"x": X})
        for _ in range(4):  # warm-up
            call()
        r.reset_timing_splits()
        for _ in range(7):
            call()
        s = r.timing_splits()
    for key in ("h2d_ms", "gpu_compute_ms", "d2h_ms", "latency_ms"):
        assert len(s[key]) == 7, key
    assert "compute_ms" not in s


def test_timed_call_records_events_and_never_reads_them_while_the_ring_has_room(install, tmp_path):
    install("10.3.0", matmul_engine())
    with R.TensorRTRunner(_plan(tmp_path), RunnerSettings()) as r:
        assert r.pending_splits_limit == R.RING_SETS
        call = r.prepare({"x": X})
        gpu = FakeGpu.last
        gpu.log.clear()
        for _ in range(50):
            call()
        assert gpu.count("elapsed") == 0  # nothing read inside the timed calls
        r.collect_timing_splits()
        assert gpu.count("elapsed") == 50 * 4  # H2D, compute, D2H, latency per query, read outside them
        assert len(r.timing_splits()["latency_ms"]) == 50


def test_a_full_ring_is_read_oldest_first_inside_the_call_so_no_query_is_lost(install, tmp_path):
    install("10.3.0", matmul_engine())
    with R.TensorRTRunner(_plan(tmp_path), RunnerSettings()) as r:
        call = r.prepare({"x": X})
        r.reset_timing_splits()
        gpu = FakeGpu.last
        gpu.log.clear()
        for _ in range(R.RING_SETS + 3):
            call()
        assert gpu.count("elapsed") == 3 * 4  # only the 3 sets that had to be reused
        s = r.timing_splits()
    assert len(s["latency_ms"]) == R.RING_SETS + 3


def test_latency_is_h2d_plus_compute_plus_d2h_of_the_same_query(install, tmp_path):
    install("10.3.0", matmul_engine())
    with R.TensorRTRunner(_plan(tmp_path), RunnerSettings()) as r:
        call = r.prepare({"x": X})
        r.reset_timing_splits()
        for _ in range(6):
            call()
        s = r.timing_splits()
    # FakeGpu's event steps cycle through 5 increments over 4 events per query, so every query differs.
    assert len(set(s["latency_ms"])) > 1 and len(set(s["h2d_ms"])) > 1
    for h, c, d, lat in zip(s["h2d_ms"], s["gpu_compute_ms"], s["d2h_ms"], s["latency_ms"], strict=True):
        assert lat == pytest.approx(h + c + d) and min(h, c, d) > 0
    steps = FakeGpu.steps
    assert s["h2d_ms"][0] == pytest.approx(steps[1]) and s["gpu_compute_ms"][0] == pytest.approx(steps[2])


def test_without_transfers_latency_is_the_compute_and_there_are_no_transfer_splits(install, tmp_path):
    install("10.3.0", matmul_engine())
    with R.TensorRTRunner(_plan(tmp_path), RunnerSettings(include_transfers=False)) as r:
        call = r.prepare({"x": X})
        r.reset_timing_splits()
        for _ in range(3):
            call()
        s = r.timing_splits()
    assert s["h2d_ms"] == [] and s["d2h_ms"] == [] and len(s["gpu_compute_ms"]) == 3
    assert s["include_transfers"] is False


def test_cuda_graph_records_events_around_the_replay(install, tmp_path):
    install("10.3.0", matmul_engine())
    with R.TensorRTRunner(_plan(tmp_path), RunnerSettings(cuda_graph=True)) as r:
        call = r.prepare({"x": X})
        r.reset_timing_splits()
        for _ in range(5):
            call()
        s = r.timing_splits()
        assert FakeGpu.last.count("graph_launch") == 5
    assert len(s["gpu_compute_ms"]) == 5 and s["latency_ms"] == s["gpu_compute_ms"] and s["h2d_ms"] == []
    assert s["cuda_graph"] is True and s["gpu_compute_scope"].startswith("CUDA graph replay")


# ------------------------------------------------------------------------------------------------ 5: streams × profiles
@pytest.mark.parametrize("version", ["8.5.3.1", "8.6.1"])
def test_streams_on_trt8_with_dynamic_shapes_need_a_profile_per_stream(install, tmp_path, version):
    install(version, matmul_engine(profiles=1))
    with pytest.raises(BenchmarkError, match="needs one optimization profile per stream") as err:
        R.TensorRTRunner(_plan(tmp_path), RunnerSettings(streams=2)).activate()
    assert "PROFILE_SHARING_0806" in str(err.value)
    assert "2 identical optimization profiles" in err.value.hint and "--streams 1" in err.value.hint
    assert "TensorRT 10" in err.value.hint


@pytest.mark.parametrize("version", ["8.5.3.1", "8.6.1"])
def test_streams_on_trt8_use_one_profile_per_stream_set_before_the_shapes(install, tmp_path, version):
    install(version, matmul_engine(profiles=3))
    with R.TensorRTRunner(_plan(tmp_path), RunnerSettings(streams=3)) as r:
        r.prepare({"x": X})()
        assert [s.context.profile for s in r.slots] == [0, 1, 2]
        for s in r.slots:
            calls = s.context.calls
            assert calls.index(("profile", s.profile)) < calls.index(("shape", "x"))
            np.testing.assert_allclose(s.host["y"], X @ W, rtol=1e-6)
        assert r.timing_splits()["optimization_profile_per_stream"] is True


def test_streams_on_trt10_share_the_one_profile(install, tmp_path):
    install("10.3.0", matmul_engine(profiles=1))
    with R.TensorRTRunner(_plan(tmp_path), RunnerSettings(streams=2)) as r:
        r.prepare({"x": X})()
        assert all(("profile", 1) not in s.context.calls for s in r.slots)
        for s in r.slots:
            np.testing.assert_allclose(s.host["y"], X @ W, rtol=1e-6)


def test_streams_on_trt8_with_static_shapes_need_no_extra_profile(install, tmp_path):
    def factory(trt):
        eng = matmul_engine(profiles=1)(trt)
        eng.tensors["x"].shape, eng.tensors["y"].shape = (3, 8), (3, 4)
        return eng

    install("8.5.3.1", factory)
    with R.TensorRTRunner(_plan(tmp_path), RunnerSettings(streams=2)) as r:
        r.prepare({"x": X})()
        for s in r.slots:
            np.testing.assert_allclose(s.host["y"], X @ W, rtol=1e-6)


# ------------------------------------------------------------------------------------------------ 6: CUDA graph capture
def test_failed_capture_ends_it_and_falls_back_to_plain_launches(install, tmp_path):
    install("10.3.0", matmul_engine(capture_fails=True))
    with R.TensorRTRunner(_plan(tmp_path), RunnerSettings(cuda_graph=True)) as r:
        call = r.prepare({"x": X})
        gpu = FakeGpu.last
        stream = r.slots[0].stream
        assert ("begin_capture", stream) in gpu.log and ("abort_capture", stream) in gpu.log
        assert not gpu.capturing and gpu.count("instantiate") == 0
        r.reset_timing_splits()
        call()
        call()
        assert gpu.count("graph_launch") == 0
        np.testing.assert_allclose(r.slots[0].host["y"], X @ W, rtol=1e-6)
        s = r.timing_splits()
        out = r.infer({"x": X})
    np.testing.assert_allclose(out["y"], X @ W, rtol=1e-6)
    assert s["cuda_graph"] is False and "execute_async_v3 failed" in s["cuda_graph_fallback"]
    assert len(s["h2d_ms"]) == 2  # plain launches: the full per-query splits again


def test_capture_that_cuda_invalidates_falls_back_too(install, tmp_path):
    class Gpu(FakeGpu):
        def __init__(self, lib=None):
            super().__init__(lib)
            self.fail_end_capture = True

    install("10.3.0", matmul_engine(), gpu=Gpu)
    with R.TensorRTRunner(_plan(tmp_path), RunnerSettings(cuda_graph=True)) as r:
        r.prepare({"x": X})()
        s = r.timing_splits()
    assert s["cuda_graph"] is False and "cudaStreamEndCapture" in s["cuda_graph_fallback"]


def test_capture_again_destroys_the_old_graph_and_exec(install, tmp_path):
    install("10.3.0", matmul_engine())
    with R.TensorRTRunner(_plan(tmp_path), RunnerSettings(cuda_graph=True)) as r:
        r.prepare({"x": X})()
        gpu = FakeGpu.last
        first_graph, first_exec = r.slots[0].graph, r.slots[0].graph_exec
        r.prepare({"x": X[:2]})()
        assert ("graph_destroy", first_graph) in gpu.log and ("graph_exec_destroy", first_exec) in gpu.log
        assert r.slots[0].graph != first_graph
        np.testing.assert_allclose(r.slots[0].host["y"], X[:2] @ W, rtol=1e-6)
    assert gpu.count("graph_destroy") == 2 and gpu.count("graph_exec_destroy") == 2  # second one at deactivate


class RecordingLib:
    """A libcudart stand-in: every function records its arguments and returns ``answers.get(name, 0)``."""

    def __init__(self, answers=None, sets=None):
        self.calls: list[tuple] = []
        self.answers = answers or {}
        self.sets = sets or {}  # name -> value written through the first pointer argument

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)

        def fn(*args):
            self.calls.append((name, *args))
            if name in self.sets and args:
                args[0]._obj.value = self.sets[name]
            return self.answers.get(name, 0)

        fn.argtypes = fn.restype = None
        setattr(self, name, fn)
        return fn


def test_capture_runs_in_thread_local_mode():
    lib = RecordingLib()
    cuda_mod.Cuda(lib).begin_capture(7)
    (call,) = [c for c in lib.calls if c[0] == "cudaStreamBeginCapture"]
    assert call[2] == 1 == cuda_mod.CAPTURE_MODE_THREAD_LOCAL  # cudaStreamCaptureModeThreadLocal


def test_abort_capture_ends_the_capture_and_destroys_a_partial_graph_without_raising():
    lib = RecordingLib()

    def end_capture(stream, graph_out):  # cudaErrorStreamCaptureInvalidated, but a graph handle came back
        lib.calls.append(("cudaStreamEndCapture", stream))
        graph_out._obj.value = 0x1234
        return 901

    lib.cudaStreamEndCapture = end_capture
    cuda_mod.Cuda(lib).abort_capture(7)
    names = [c[0] for c in lib.calls]
    assert names.index("cudaStreamEndCapture") < names.index("cudaGraphDestroy") < names.index("cudaGetLastError")
    (destroy,) = [c for c in lib.calls if c[0] == "cudaGraphDestroy"]
    assert destroy[1].value == 0x1234


# ------------------------------------------------------------------------------------------------ 9: I/O data types
def bf16_engine(trt):
    """x: BF16 (-1, 4) → y = 2x: BF16, computed from the bits the runner wrote."""

    def compute(ctx):
        n = ctx.shapes["x"][0]
        x = R.bf16_bits_to_float(view(ctx.addr["x"], np.uint16, (n, 4)))
        view(ctx.addr["y"], np.uint16, (n, 4))[...] = R.float_to_bf16_bits(x * 2)

    io = trt.TensorIOMode
    tensors = [Tensor("x", io.INPUT, DataType.BF16, (-1, 4)), Tensor("y", io.OUTPUT, DataType.BF16, (-1, 4))]
    return FakeEngine(trt, tensors, compute=compute)


def test_bf16_io_is_fed_and_returned_as_float32(install, tmp_path):
    install("10.3.0", bf16_engine)
    x = np.array([[1.0, -2.5, 3.140625, 1.00390625], [1e-3, 65280.0, -0.0, 7.0]], np.float32)
    with R.TensorRTRunner(_plan(tmp_path), RunnerSettings()) as r:
        assert r.input_metadata() == [("x", "float32", (None, 4))]
        y = r.infer({"x": x})["y"]
    assert y.dtype == np.float32
    # 1.00390625 = 1 + 2^-8 is halfway between two BF16 values: ties to even (1.0); the rest are exact in BF16
    # except 1e-3 (float32 bits 0x3A83126F), whose dropped half 0x126F is below halfway: 0x3A83 = 0.00099945068359375.
    want = 2 * np.array([[1.0, -2.5, 3.140625, 1.0], [0.00099945068359375, 65280.0, -0.0, 7.0]], np.float32)
    np.testing.assert_array_equal(y, want)


def test_bf16_conversion_matches_ml_dtypes_where_installed():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    vals = np.random.default_rng(1).standard_normal(4096).astype(np.float32) * 1e3
    vals = np.concatenate([vals, np.array([np.inf, -np.inf, 3.4e38, -0.0, 1e-40], np.float32)])
    ours = R.float_to_bf16_bits(vals)
    theirs = vals.astype(ml_dtypes.bfloat16).view(np.uint16)
    np.testing.assert_array_equal(ours, theirs)
    assert np.isnan(R.bf16_bits_to_float(R.float_to_bf16_bits(np.array([np.nan], np.float32))))[0]


@pytest.mark.parametrize("dtype", ["FP8", "INT4", "FP4"])
def test_io_types_numpy_lacks_are_refused_naming_the_tensor(install, tmp_path, dtype):
    def factory(trt):
        eng = matmul_engine()(trt)
        eng.tensors["y"].dtype = DataType[dtype]
        return eng

    install("10.13.0", factory)
    with pytest.raises(ModelError, match=rf"output 'y' is {dtype} in this plan") as err:
        R.TensorRTRunner(_plan(tmp_path), RunnerSettings()).activate()
    assert "add a Cast to float32 or float16" in err.value.hint


# ------------------------------------------------------------------------------------------------ 10: shape tensors
def shape_tensor_engine(trt):
    """x: FLOAT (-1, 8) and the shape tensor ``shape`` (INT32, (2,)) → y = x reshaped to ``shape``'s values.
    Like TensorRT, the output shape is known only once ``shape``'s host address (with its values) is set."""
    host_ptrs = FakeGpu.last.host_ptrs

    def out_shape(ctx, name):
        ptr = ctx.addr.get("shape")
        if ptr is None:
            return (-1, -1)
        assert ptr in host_ptrs, "shape tensor values must be in host memory"
        return tuple(int(v) for v in view(ptr, np.int32, (2,)))

    def compute(ctx):
        assert ctx.addr["shape"] in host_ptrs
        assert ctx.addr["x"] not in host_ptrs and ctx.addr["y"] not in host_ptrs
        n = ctx.shapes["x"][0]
        shape = out_shape(ctx, "y")
        view(ctx.addr["y"], np.float32, shape)[...] = view(ctx.addr["x"], np.float32, (n, 8)).reshape(shape)

    io = trt.TensorIOMode
    tensors = [
        Tensor("x", io.INPUT, DataType.FLOAT, (-1, 8)),
        Tensor("shape", io.INPUT, DataType.INT32, (2,), shape_io=True),
        Tensor("y", io.OUTPUT, DataType.FLOAT, (-1, -1)),
    ]
    return FakeEngine(trt, tensors, compute=compute, out_shape=out_shape)


def test_shape_tensor_inputs_live_in_host_memory(install, tmp_path):
    install("10.3.0", shape_tensor_engine)
    x = np.arange(32, dtype=np.float32).reshape(4, 8)
    with R.TensorRTRunner(_plan(tmp_path), RunnerSettings()) as r:
        out = r.infer({"x": x, "shape": np.array([2, 16], np.int32)})
        gpu = FakeGpu.last
        call = r.prepare({"x": x, "shape": np.array([8, 4], np.int32)})
        gpu.log.clear()
        call()
        assert [e[2] for e in gpu.log if e[0] == "h2d"] == [x.nbytes]  # x only: the shape tensor is never copied
        np.testing.assert_array_equal(r.slots[0].host["y"], x.reshape(8, 4))
    np.testing.assert_array_equal(out["y"], x.reshape(2, 16))


# ------------------------------------------------------------------------------------------------ 18: which libcudart
class FakeCudart:
    """A loaded libcudart answering ``device_count_status`` to cudaGetDeviceCount, with its versions."""

    def __init__(self, device_count_status, runtime=12040, driver=12020):
        self.status, self.runtime, self.driver = device_count_status, runtime, driver
        self.probed = False

    def cudaGetDeviceCount(self, out):
        self.probed = True
        out._obj.value = 1 if self.status == 0 else 0
        return self.status

    def cudaRuntimeGetVersion(self, out):
        out._obj.value = self.runtime
        return 0

    def cudaDriverGetVersion(self, out):
        out._obj.value = self.driver
        return 0


def test_a_cudart_newer_than_the_driver_is_skipped_for_an_older_one():
    libs = {"new/libcudart.so.13": FakeCudart(35, runtime=13000), "old/libcudart.so.12": FakeCudart(0)}

    def loader(name):
        if name not in libs:
            raise OSError(name)
        return libs[name]

    got = cuda_mod.load_cudart(["missing/libcudart.so", *libs], loader=loader)
    assert got is libs["old/libcudart.so.12"] and libs["new/libcudart.so.13"].probed


def test_when_no_cudart_works_the_error_names_each_one_and_why():
    libs = {"a/libcudart.so.13": FakeCudart(35, runtime=13000), "b/libcudart.so.12": FakeCudart(35, runtime=12080)}

    def loader(name):
        if name not in libs:
            raise OSError(name)
        return libs[name]

    with pytest.raises(BackendUnavailable, match="no usable CUDA runtime library") as err:
        cuda_mod.load_cudart(["gone/libcudart.so", *libs], loader=loader)
    hint = err.value.hint
    assert "gone/libcudart.so (not found)" in hint
    assert "a/libcudart.so.13 (CUDA runtime 13.0, driver supports CUDA 12.2; cudaErrorInsufficientDriver" in hint
    assert "b/libcudart.so.12 (CUDA runtime 12.8, driver supports CUDA 12.2; cudaErrorInsufficientDriver" in hint


def test_another_cuda_error_stops_the_search():
    later = FakeCudart(0)
    libs = {"a/libcudart.so.12": FakeCudart(100), "b/libcudart.so.11.0": later}  # 100: cudaErrorNoDevice
    with pytest.raises(BackendUnavailable, match=r"a/libcudart.so.12 cannot use a GPU here \(cudaError 100"):
        cuda_mod.load_cudart(list(libs), loader=libs.__getitem__)
    assert not later.probed


def test_the_cudart_installed_with_tensorrt_and_torch_comes_before_the_system_one(tmp_path, monkeypatch):
    wheel = tmp_path / "site" / "nvidia" / "cuda_runtime" / "lib"
    wheel.mkdir(parents=True)
    for name in ("libcudart.so.12", "libcudart.so.13"):
        (wheel / name).write_bytes(b"")
    torch_lib = tmp_path / "torch" / "lib"
    torch_lib.mkdir(parents=True)
    (torch_lib / "libcudart-1a2b3c.so.12").write_bytes(b"")
    monkeypatch.delenv("WORKBENCH_CUDART", raising=False)
    monkeypatch.setattr(sys, "path", [str(tmp_path / "site")])
    monkeypatch.setattr(cuda_mod, "_package_dirs", lambda name: [str(tmp_path / "torch")] if name == "torch" else [])
    monkeypatch.setattr(cuda_mod.ctypes.util, "find_library", lambda name: "libcudart.so.12")
    found = cuda_mod.candidate_libraries()
    assert found[:3] == [str(wheel / "libcudart.so.13"), str(wheel / "libcudart.so.12"),
                         str(torch_lib / "libcudart-1a2b3c.so.12")]  # fmt: skip
    assert found.index("libcudart.so.12") > 2


# ------------------------------------------------------------------------------------------------ 15: math mode
def test_runtime_info_reports_the_plans_tf32_flag_from_its_sidecar(install, tmp_path):
    install("10.3.0", matmul_engine())
    side = {"tensorrt": "10.3.0", "gpu_name": "Fake GPU", "compute_capability": "8.7", "l4t": None}
    with R.TensorRTRunner(_plan(tmp_path, side), RunnerSettings()) as r:
        assert r.runtime_info() == {}
    with R.TensorRTRunner(_plan(tmp_path, {**side, "tf32": False}), RunnerSettings()) as r:
        assert r.runtime_info() == {"math_mode": {"tf32": False}}
    with R.TensorRTRunner(_plan(tmp_path, {**side, "tf32": True}), RunnerSettings()) as r:
        assert r.runtime_info() == {"math_mode": {"tf32": True}}
