"""The build and run code paths against a behavioural stand-in for ``tensorrt`` and libcudart.

The stand-in follows the documented Python API (names checked against the reference by test_trt_api_names) and
computes ``y = x @ W`` so the runner's buffer handling, shapes, transfers, CUDA-event splits, streams and graph
paths are exercised end to end on a CPU. It proves our control flow, not TensorRT's behaviour.
"""

from __future__ import annotations

import ctypes
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from workbench.core import paths
from workbench.core.backends.base import RunnerSettings
from workbench.core.backends.tensorrt import builder as B
from workbench.core.backends.tensorrt import cuda as cuda_mod
from workbench.core.backends.tensorrt import runner as R
from workbench.core.errors import BuildError, Cancelled, ModelError

W = np.arange(32, dtype=np.float32).reshape(8, 4) / 10


# ------------------------------------------------------------------------------------------------ fake libcudart
class FakeCuda:
    """Device memory is host memory here; copies are memmoves; events count calls."""

    instances: list = []

    def __init__(self, lib=None):
        self.bufs: dict[int, ctypes.Array] = {}
        self.calls: list[str] = []
        self.t = 0.0
        self.ev: dict[int, float] = {}
        FakeCuda.instances.append(self)

    def _alloc(self, n):
        buf = ctypes.create_string_buffer(max(1, n))
        addr = ctypes.addressof(buf)
        self.bufs[addr] = buf
        return addr

    malloc = malloc_host = _alloc

    def free(self, p):
        self.bufs.pop(p, None)

    free_host = free

    def memcpy_htod_async(self, dst, src, n, stream):
        self.calls.append("h2d")
        ctypes.memmove(dst, src, n)

    def memcpy_dtoh_async(self, dst, src, n, stream):
        self.calls.append("d2h")
        ctypes.memmove(dst, src, n)

    def stream_create(self):
        return len(self.calls) + 100

    def stream_destroy(self, s):
        pass

    def stream_synchronize(self, s):
        pass

    def event_create(self):
        self.n_events = getattr(self, "n_events", 0) + 1
        return self.n_events

    def event_destroy(self, e):
        pass

    def event_record(self, e, s):
        self.t += 0.25
        self.ev[e] = self.t

    def event_elapsed_ms(self, a, b):
        return self.ev[b] - self.ev[a]

    def begin_capture(self, s):
        self.calls.append("capture")

    def end_capture(self, s):
        return 7

    def graph_instantiate(self, g):
        return 8

    def graph_launch(self, ge, s):
        self.calls.append("graph")

    def graph_destroy(self, g):
        pass

    graph_exec_destroy = graph_destroy

    def device_name(self, d=0):
        return "Fake GPU"

    def compute_capability(self, d=0):
        return "8.7"

    def integrated(self, d=0):
        return False


# ------------------------------------------------------------------------------------------------ fake tensorrt
def make_trt(version="10.3.0", *, parse_ok=True, build_ok=True, progress=True, timing_cache_ok=True):
    """``timing_cache_ok=False``: set_timing_cache refuses a cache made from saved bytes (another device's), as
    TensorRT's returns False on a header mismatch; an empty new cache is still accepted. A build with
    VERSION_COMPATIBLE makes a plan the Runtime deserializes only with ``engine_host_code_allowed`` set (TensorRT:
    a version-compatible plan holds its lean runtime, host code). A build with an ``int8_calibrator`` drains it at
    the calibration profile's OPT shape and records every batch in ``t.calib_batches``."""
    t = types.ModuleType("tensorrt")
    t.__version__ = version
    enum = lambda *names: type("E", (), {n: i for i, n in enumerate(names)})  # noqa: E731
    t.Logger = type("Logger", (), {"WARNING": 2, "__init__": lambda self, sev=2: None})
    t.BuilderFlag = enum("FP16", "INT8", "GPU_FALLBACK", "VERSION_COMPATIBLE", "TF32")
    t.NetworkDefinitionCreationFlag = enum("EXPLICIT_BATCH", "STRONGLY_TYPED")
    t.MemoryPoolType = enum("WORKSPACE")
    t.ProfilingVerbosity = enum("NONE", "DETAILED")
    t.LayerInformationFormat = enum("ONELINE", "JSON")
    t.DeviceType = enum("GPU", "DLA")
    t.TensorIOMode = enum("NONE", "INPUT", "OUTPUT")
    t.DataType = enum("FLOAT", "HALF")
    t.nptype = lambda dt: np.float32
    calls: list = []
    t.calls = calls
    t.calib_batches = []

    class Tensor:
        def __init__(self, name, shape):
            self.name, self.shape = name, shape

    class Layer:
        def __init__(self, name):
            self.name, self.type = name, "MATRIX_MULTIPLY"

    class Network:
        num_layers = 2

        def __init__(self):
            self.inputs = [Tensor("x", (-1, 8))]  # replaced by a parsed model's inputs (OnnxParser below)

        @property
        def num_inputs(self):
            return len(self.inputs)

        def get_input(self, i):
            return self.inputs[i]

        def get_layer(self, i):
            return Layer(f"layer{i}")

    class ParserError:
        def node(self):
            return 3

        def desc(self):
            return "unsupported op"

        def code(self):
            return "UNSUPPORTED_NODE"

        def node_name(self):
            return "Weird_3"

        def node_operator(self):
            return "Weird"

    class OnnxParser:
        num_errors = 1

        def __init__(self, network, logger):
            self.network = network

        def parse_from_file(self, path):
            calls.append(("parse", path))
            if parse_ok and Path(path).is_file():
                import onnx  # an existing model file gives the network its inputs (-1 = dynamic dim)

                graph = onnx.load(path, load_external_data=False).graph
                init = {t.name for t in graph.initializer}
                self.network.inputs = [
                    Tensor(vi.name, tuple(d.dim_value if d.HasField("dim_value") else -1
                                          for d in vi.type.tensor_type.shape.dim))
                    for vi in graph.input if vi.name not in init
                ]  # fmt: skip
            return parse_ok

        def get_error(self, i):
            return ParserError()

    class TimingCache:
        def __init__(self, data=b""):
            self.data = bytes(data)

        def serialize(self):
            return b"TIMING"

    class IBuilderConfig:
        int8_calibrator = None
        progress_monitor = None
        calibration_profile = None

        def __init__(self):
            self.flags = {t.BuilderFlag.TF32}  # TensorRT: TF32 is enabled by default
            self.timing_cache = None

        def set_calibration_profile(self, p):
            self.calibration_profile = p

        def clear_flag(self, f):
            calls.append(("clear_flag", f))
            self.flags.discard(f)

        def get_flag(self, f):
            return f in self.flags

        builder_optimization_level = 3
        max_aux_streams = 0

        def set_memory_pool_limit(self, pool, n):
            calls.append(("pool", pool, n))

        def set_flag(self, f):
            calls.append(("flag", f))
            self.flags.add(f)

        def create_timing_cache(self, data):
            calls.append(("timing_cache_in", bytes(data)))
            return TimingCache(data)

        def set_timing_cache(self, c, ignore):
            ok = timing_cache_ok or not c.data or ignore
            calls.append(("set_timing_cache", c.data, ok))
            self.timing_cache = c if ok else None
            return ok

        def get_timing_cache(self):
            return self.timing_cache

        def add_optimization_profile(self, p):
            calls.append(("profile", p.shapes))

        def can_run_on_DLA(self, layer):
            return layer.name != "layer1"

    class OptProfile:
        def __init__(self):
            self.shapes = {}

        def set_shape(self, name, lo, mid, hi):
            self.shapes[name] = (lo, mid, hi)

    class Builder:
        def __init__(self, logger):
            pass

        def create_network(self, flags):
            calls.append(("network_flags", flags))
            return Network()

        def create_builder_config(self):
            return IBuilderConfig()

        def create_optimization_profile(self):
            return OptProfile()

        def build_serialized_network(self, network, config):
            import os
            import time

            time.sleep(float(os.environ.get("FAKE_TRT_BUILD_SLEEP", "0")))  # lets a test cancel a "long" build
            m = config.progress_monitor
            if m is not None:
                m.phase_start("Building", None, 2)
                for step in range(2):
                    if not m.step_complete("Building", step):
                        return None
                m.phase_finish("Building")
            cal = config.int8_calibrator
            if cal is not None and build_ok:
                opt = config.calibration_profile.shapes["x"][1]
                n = int(np.prod(opt))
                t.calib_batch_size = cal.get_batch_size()
                while (ptrs := cal.get_batch(["x"])) is not None:
                    view = (ctypes.c_float * n).from_address(ptrs[0])
                    t.calib_batches.append(np.ctypeslib.as_array(view).reshape(opt).copy())
            if not build_ok:
                return None
            return b"PLAN-BYTES-VC" if t.BuilderFlag.VERSION_COMPATIBLE in config.flags else b"PLAN-BYTES"

    class EngineInspector:
        def get_engine_information(self, fmt):
            fmt_str = "Row major linear FP32"
            return json.dumps(
                {"Layers": [{"Name": "mm", "LayerType": "gemm", "Outputs": [{"Format/Datatype": fmt_str}]}]}
            )

    class Context:
        def __init__(self):
            self.addr, self.shapes, self.profiler = {}, {}, None

        def set_input_shape(self, name, shape):
            self.shapes[name] = tuple(shape)
            return len(shape) == 2 and shape[1] == 8 and 1 <= shape[0] <= 16

        def get_tensor_shape(self, name):
            return (self.shapes["x"][0], 4)

        def set_tensor_address(self, name, ptr):
            self.addr[name] = ptr
            return True

        def set_optimization_profile_async(self, index, stream):
            self.profile = index
            return True

        def execute_async_v3(self, stream):
            n = self.shapes["x"][0]
            x = np.ctypeslib.as_array((ctypes.c_float * (n * 8)).from_address(self.addr["x"])).reshape(n, 8)
            y = np.ctypeslib.as_array((ctypes.c_float * (n * 4)).from_address(self.addr["y"])).reshape(n, 4)
            y[...] = x @ W
            if self.profiler is not None:
                self.profiler.report_layer_time("mm", 0.5)
            return True

    class Engine:
        num_io_tensors = 2
        num_optimization_profiles = 1

        def is_shape_inference_io(self, name):
            return False

        def get_tensor_name(self, i):
            return ["x", "y"][i]

        def get_tensor_mode(self, name):
            return t.TensorIOMode.INPUT if name == "x" else t.TensorIOMode.OUTPUT

        def get_tensor_dtype(self, name):
            return t.DataType.FLOAT

        def get_tensor_shape(self, name):
            return (-1, 8) if name == "x" else (-1, 4)

        def create_execution_context(self):
            return Context()

        def create_engine_inspector(self):
            return EngineInspector()

    class Runtime:
        engine_host_code_allowed = False

        def __init__(self, logger):
            pass

        def deserialize_cuda_engine(self, data):
            data = bytes(data)
            if data == b"PLAN-BYTES" or (data == b"PLAN-BYTES-VC" and self.engine_host_code_allowed):
                return Engine()
            return None

    class IProfiler:
        def __init__(self):
            pass

    class IInt8EntropyCalibrator2:
        def __init__(self):
            pass

    class IInt8MinMaxCalibrator(IInt8EntropyCalibrator2):
        pass

    t.IInt8EntropyCalibrator2, t.IInt8MinMaxCalibrator = IInt8EntropyCalibrator2, IInt8MinMaxCalibrator

    t.Builder, t.OnnxParser, t.Runtime, t.IBuilderConfig, t.IProfiler = (
        Builder,
        OnnxParser,
        Runtime,
        IBuilderConfig,
        IProfiler,
    )
    t.ParserError = ParserError
    if progress:

        class IProgressMonitor:
            def __init__(self):
                pass

        t.IProgressMonitor = IProgressMonitor
    return t


@pytest.fixture
def fake(monkeypatch):
    def install(**kw):
        t = make_trt(**kw)
        monkeypatch.setitem(sys.modules, "tensorrt", t)
        monkeypatch.setattr(cuda_mod, "Cuda", FakeCuda)
        return t

    return install


def settings(**over):
    base = dict(
        precision="fp32", network_flags=(), builder_flags=(), workspace_bytes=1 << 28, dla_core=None,
        gpu_fallback=True, optimization_level=3, timing_cache=True, hardware_compatibility=None,
        version_compatible=False, max_aux_streams=None, shapes={"x": ((1, 8), (4, 8), (16, 8))},
        strongly_typed=False, calibration=None, progress="monitor",
    )  # fmt: skip
    base.update(over)
    return B.BuildSettings(**base)


# ------------------------------------------------------------------------------------------------ builder
def test_build_plan_writes_plan_timing_cache_and_report(fake, tmp_path):
    t = fake()
    tc = tmp_path / "timing.cache"
    seen = []
    report = B.build_plan(tmp_path / "m.onnx", settings(builder_flags=("FP16",)), tmp_path / "m.plan",
                          timing_cache_path=tc, on_progress=lambda *a: seen.append(a))  # fmt: skip
    assert (tmp_path / "m.plan").read_bytes() == b"PLAN-BYTES"
    assert tc.read_bytes() == b"TIMING" and report["timing_cache"] == "new"
    assert ("pool", t.MemoryPoolType.WORKSPACE, 1 << 28) in t.calls and ("flag", t.BuilderFlag.FP16) in t.calls
    assert ("profile", {"x": ((1, 8), (4, 8), (16, 8))}) in t.calls
    assert ("Building", 0, 2) in seen and ("Building", 2, 2) in seen and report["progress"] == "IProgressMonitor"
    assert report["layers"]["counts"] == {"fp32": 1} and report["inputs"] == [{"name": "x", "shape": [-1, 8]}]
    # second build loads the cache it saved
    report2 = B.build_plan(tmp_path / "m.onnx", settings(), tmp_path / "m2.plan", timing_cache_path=tc)
    assert report2["timing_cache"] == "loaded" and ("timing_cache_in", b"TIMING") in t.calls


def test_parser_errors_become_a_model_error_per_node(fake, tmp_path):
    fake(parse_ok=False)
    with pytest.raises(ModelError, match=r"node 3 'Weird_3' \(Weird\): unsupported op"):
        B.build_plan(tmp_path / "m.onnx", settings(), tmp_path / "m.plan")


def test_failed_and_cancelled_builds(fake, tmp_path):
    fake(build_ok=False)
    with pytest.raises(BuildError, match="could not build"):
        B.build_plan(tmp_path / "m.onnx", settings(), tmp_path / "m.plan")
    fake()
    with pytest.raises(Cancelled):
        B.build_plan(tmp_path / "m.onnx", settings(), tmp_path / "m.plan", should_cancel=lambda: True)
    assert not (tmp_path / "m.plan").exists()


def test_without_progress_monitor_phase_messages_only(fake, tmp_path):
    fake(version="8.6.1", progress=False)
    seen = []
    report = B.build_plan(tmp_path / "m.onnx", settings(network_flags=("EXPLICIT_BATCH",)), tmp_path / "m.plan",
                          on_progress=lambda *a: seen.append(a[0]))  # fmt: skip
    assert report["progress"] == "phase messages" and "building engine (this takes minutes)" in seen


def test_dla_fallback_layers_are_reported_or_fail(fake, tmp_path):
    fake()
    report = B.build_plan(tmp_path / "m.onnx", settings(dla_core=0), tmp_path / "m.plan")
    assert report["dla_fallback_layers"] == ["layer1 (MATRIX_MULTIPLY)"]
    with pytest.raises(BuildError, match="cannot run on DLA and gpu_fallback is off"):
        B.build_plan(tmp_path / "m.onnx", settings(dla_core=0, gpu_fallback=False), tmp_path / "m.plan")


def test_dynamic_input_without_profile_shape_is_named(fake, tmp_path):
    fake()
    with pytest.raises(Exception, match=r"input 'x' has dynamic shape \[-1, 8\]"):
        B.build_plan(tmp_path / "m.onnx", settings(shapes={}), tmp_path / "m.plan")


# ------------------------------------------------------------------------------------------------ runner
def _plan(tmp_path: Path, sidecar: dict | None = None) -> Path:
    p = tmp_path / "m.plan"
    p.write_bytes(b"PLAN-BYTES")
    if sidecar is not None:
        (tmp_path / "m.plan.workbench.json").write_text(json.dumps(sidecar))
    return p


def test_runner_runs_with_transfers_and_event_splits(fake, tmp_path):
    fake()
    r = R.TensorRTRunner(_plan(tmp_path), RunnerSettings())
    with r:
        assert r.input_metadata() == [("x", "float32", (None, 8))]
        x = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
        np.testing.assert_allclose(r.infer({"x": x})["y"], x @ W, rtol=1e-6)
        call = r.prepare({"x": x})
        for _ in range(5):
            call()
        s = r.timing_splits()
        assert len(s["gpu_compute_ms"]) == 6 and s["h2d_ms"][0] == pytest.approx(0.25) and s["include_transfers"]
        with pytest.raises(ModelError, match="outside the engine's profile"):
            r.prepare({"x": np.zeros((32, 8), np.float32)})


def test_runner_without_transfers_uploads_once(fake, tmp_path):
    fake()
    FakeCuda.instances.clear()
    r = R.TensorRTRunner(_plan(tmp_path), RunnerSettings(include_transfers=False))
    with r:
        call = r.prepare({"x": np.ones((2, 8), np.float32)})
        for _ in range(4):
            call()
        cu = FakeCuda.instances[-1]
        assert cu.calls.count("h2d") == 1 and cu.calls.count("d2h") == 0


def test_runner_cuda_graph_and_streams(fake, tmp_path):
    fake()
    FakeCuda.instances.clear()
    r = R.TensorRTRunner(_plan(tmp_path), RunnerSettings(cuda_graph=True))
    with r:
        call = r.prepare({"x": np.ones((2, 8), np.float32)})
        call()
        call()
        assert FakeCuda.instances[-1].calls.count("graph") == 2 and "capture" in FakeCuda.instances[-1].calls
    r = R.TensorRTRunner(_plan(tmp_path), RunnerSettings(streams=2))
    assert r.queries_per_call == 2
    x = np.random.default_rng(2).standard_normal((3, 8)).astype(np.float32)
    with r:
        assert len(r.slots) == 2
        r.prepare({"x": x})()
        for slot in r.slots:
            np.testing.assert_allclose(slot.host["y"], x @ W, rtol=1e-6)
        assert r.timing_splits()["latency_meaningful"] is False


def test_runner_refuses_a_plan_from_another_machine(fake, tmp_path):
    fake()
    side = {"tensorrt": "8.6.1", "gpu_name": "Fake GPU", "compute_capability": "8.7", "l4t": None}
    with pytest.raises(BuildError, match="built with TensorRT 8.6.1, this machine has TensorRT 10.3.0"):
        R.TensorRTRunner(_plan(tmp_path, side), RunnerSettings()).activate()
    side["tensorrt"] = "10.3.0"
    r = R.TensorRTRunner(_plan(tmp_path, side), RunnerSettings())
    with r:
        assert r.infer({"x": np.ones((1, 8), np.float32)})["y"].shape == (1, 4)


def test_runner_accepts_a_version_compatible_plan_and_allows_its_lean_runtime(fake, tmp_path):
    fake()
    side = {"tensorrt": "10.0.1", "gpu_name": "Fake GPU", "compute_capability": "8.7", "l4t": None,
            "version_compatible": True}  # fmt: skip
    r = R.TensorRTRunner(_plan(tmp_path, side), RunnerSettings())
    with r:
        assert r.runtime.engine_host_code_allowed is True
        assert "version-compatible plan from TensorRT 10.0.1" in r.plan_notes[0]


def test_runner_rejects_onnx_given_as_engine_and_profiles_layers(fake, tmp_path):
    fake()
    bad = tmp_path / "not.plan"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(ModelError, match="could not deserialize"):
        R.TensorRTRunner(bad, RunnerSettings()).activate()
    r = R.TensorRTRunner(_plan(tmp_path), RunnerSettings(profiling=True))
    with r:
        r.infer({"x": np.ones((1, 8), np.float32)})
        path = r.end_profiling()
    events = json.loads(Path(path).read_text())
    assert events[0]["cat"] == "Node" and events[0]["name"] == "mm" and events[0]["dur"] == 500.0


# ------------------------------------------------------------------------------------------------ whole backend
FAKE_PKG = """
import sys
sys.path.insert(0, {tests!r})
from test_trt_fake_runtime import make_trt
globals().update({{k: v for k, v in vars(make_trt()).items() if not k.startswith("__") or k == "__version__"}})
"""


@pytest.fixture
def backend_env(fake, tmp_path, monkeypatch):
    import onnx
    from onnx import TensorProto, helper

    fake()
    pkg = tmp_path / "fakepkgs" / "tensorrt"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(FAKE_PKG.format(tests=str(Path(__file__).resolve().parent)))
    monkeypatch.setenv("PYTHONPATH", str(pkg.parent) + ":" + str(Path(__file__).resolve().parents[2]))
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor("w", TensorProto.FLOAT, [8, 4], W.ravel())],
    )
    model = tmp_path / "mm.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(model))
    from workbench.core.profiles.schema import Profile

    prof = Profile.model_validate(
        {
            "name": "fake-gpu",
            "source_path": Path("/p/fake-gpu.toml"),
            "device": {"name": "Fake GPU", "kind": "gpu", "arch": "x86_64"},
            "build": {"backend": "tensorrt", "shapes": {"x": {"min": [1, 8], "opt": [4, 8], "max": [16, 8]}}},
        }
    )
    return model, prof


def test_backend_build_in_child_then_cached_run(backend_env):
    from workbench.core.backends import get_backend

    model, prof = backend_env
    b = get_backend("tensorrt")
    phases = []
    art = b.build(model, "fp16", prof, on_progress=lambda phase, done, total: phases.append((phase, done, total)))
    assert art.path.read_bytes() == b"PLAN-BYTES" and not art.cached
    meta = json.loads(art.sidecar_path.read_text())
    assert meta["tensorrt"] == "10.3.0" and meta["gpu_name"] == "Fake GPU" and meta["compute_capability"] == "8.7"
    assert meta["settings"]["builder_flags"] == ["FP16"] and ("Building", 2, 2) in phases
    assert json.loads((art.path.parent / "build_report.json").read_text())["timing_cache"] == "new"
    assert phases[0] == ("parsing ONNX", None, None) and b.last_report["timing_cache"] == "new"
    again_phases = []
    again = b.build(model, "fp16", prof, on_progress=lambda *a: again_phases.append(a))
    assert again.cached and again.path == art.path and again_phases == []  # a cache hit builds nothing
    x = np.random.default_rng(3).standard_normal((5, 8)).astype(np.float32)
    with b.runner(art.path, RunnerSettings()) as r:
        np.testing.assert_allclose(r.infer({"x": x})["y"], x @ W, rtol=1e-6)


def test_backend_build_cancel_kills_the_child(backend_env, monkeypatch):
    import threading
    import time

    from workbench.core.backends import get_backend

    model, prof = backend_env
    monkeypatch.setenv("FAKE_TRT_BUILD_SLEEP", "30")
    b = get_backend("tensorrt")
    cancel = threading.Event()
    phases = []

    def on_progress(phase, done, total):
        phases.append(phase)
        cancel.set()  # the child is running (it reported a phase): cancel it now, mid-build

    t0 = time.monotonic()
    with pytest.raises(Cancelled, match="build process was stopped"):
        b.build(model, "fp32", prof, on_progress=on_progress, cancel=cancel)
    assert phases[0] == "parsing ONNX" and "Building" not in phases  # killed inside the 30 s "build"
    assert time.monotonic() - t0 < 15
    assert not list(paths.artifact_cache_dir().rglob("*.plan"))  # no plan, not even a partial one


def test_backend_legacy_calibrator_needs_a_dataset(backend_env):
    from workbench.core.backends import get_backend
    from workbench.core.errors import CalibrationError

    model, prof = backend_env
    b = get_backend("tensorrt", calibration="entropy")
    assert b.options.calibration == "entropy" and b.options.calib_dir is None
    with pytest.raises(CalibrationError, match="needs a calibration set"):
        b.build(model, "int8", prof)


def test_memory_preflight_counts_external_data(backend_env, monkeypatch):
    # The builder reads the weights: a model whose weights sit in an external data file is not 300 bytes big.
    import onnx

    import workbench.core.backends.tensorrt.builder as builder_mod
    from workbench.core.backends import get_backend

    model, prof = backend_env
    ext = model.with_name("ext.onnx")
    from onnx import numpy_helper

    m = onnx.load(str(model))
    w = m.graph.initializer[0]
    w.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(w), w.name))  # raw_data: what onnx moves out
    onnx.save(m, str(ext), save_as_external_data=True, location="ext.weights", size_threshold=0)
    weights = ext.with_name("ext.weights").stat().st_size
    assert weights >= W.nbytes
    seen = []
    real = builder_mod.memory_preflight
    monkeypatch.setattr(builder_mod, "memory_preflight", lambda ws, nb, **kw: seen.append(nb) or real(ws, nb, **kw))
    get_backend("tensorrt").build(ext, "fp16", prof)
    assert seen == [ext.stat().st_size + weights]
