"""The CPU path never imports the TensorRT/torch backends (issue 6, point 4); calibrator feeding; CUDA wrapper."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _trt_fake import fake_trt  # noqa: E402

from workbench.core.backends.tensorrt import calibrator as cal  # noqa: E402
from workbench.core.backends.tensorrt.compat import Compat  # noqa: E402
from workbench.core.errors import BackendUnavailable, BenchmarkError, CalibrationError  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def test_cpu_path_leaves_gpu_backends_unimported(tmp_path, workbench_home):
    code = textwrap.dedent(
        f"""
        import sys, numpy as np, onnx
        from pathlib import Path
        from onnx import TensorProto, helper
        import workbench.core.workflow  # noqa
        from workbench.core.backends import get_backend
        from workbench.core.backends.base import RunnerSettings
        from workbench.core.profiles.schema import Profile
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
        m = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 17)])
        m.ir_version = 8
        onnx.save(m, r"{tmp_path}/m.onnx")
        prof = Profile.model_validate({{"name": "c", "source_path": Path("/c.toml"),
                                        "device": {{"name": "cpu", "kind": "cpu", "arch": "x86_64"}}}})
        b = get_backend("onnxruntime")
        art = b.build(r"{tmp_path}/m.onnx", "fp32", prof)
        with b.runner(art.path, RunnerSettings()) as r:
            out = r.infer({{"x": np.array([[-1, 2, -3, 4]], np.float32)}})
        assert out["y"].tolist() == [[0, 2, 0, 4]], out
        bad = sorted(k for k in sys.modules if k in ("tensorrt", "torch") or k.startswith("torch.")
                     or k.startswith("workbench.core.backends.tensorrt") or k == "workbench.core.backends.torch_backend")
        print("IMPORTED", bad)
        """
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "IMPORTED []" in res.stdout


def test_get_backend_tensorrt_says_not_available_here():
    pytest.importorskip("onnx")
    try:
        import tensorrt  # noqa: F401

        pytest.skip("TensorRT is installed here")
    except ImportError:
        pass
    from workbench.core.backends import get_backend

    with pytest.raises(BackendUnavailable, match="TensorRT is not available here") as err:
        get_backend("tensorrt")
    assert "pip install tensorrt" in err.value.hint and "cpu-x86_64" in err.value.hint


class FakeCuda:
    def __init__(self):
        self.next = 0x1000
        self.copies = []
        self.freed = []

    def malloc(self, n):
        self.next += 0x1000
        return self.next

    def memcpy_htod_async(self, dst, src, n, stream):
        self.copies.append((dst, n))

    def stream_synchronize(self, s):
        pass

    def free(self, p):
        self.freed.append(p)


def test_feeder_streams_batches_into_device_buffers():
    feeds = ({"x": np.full((4, 3), i, np.float32)} for i in range(3))
    cuda = FakeCuda()
    f = cal.Feeder(feeds, ["x"], cuda)
    p1 = f.next_pointers()
    p2 = f.next_pointers(["x"])
    assert p1 == p2 and len(p1) == 1  # one buffer, reused
    assert f.batch_size == 4 and cuda.copies == [(p1[0], 48), (p1[0], 48)]
    assert f.next_pointers() is not None and f.next_pointers() is None and f.batches == 3
    f.close()
    assert cuda.freed == p1


def test_feeder_rejects_a_batch_of_another_size_and_missing_inputs():
    f = cal.Feeder(iter([{"x": np.zeros((2, 3), np.float32)}, {"x": np.zeros((1, 3), np.float32)}]), ["x"], FakeCuda())
    f.next_pointers()
    with pytest.raises(CalibrationError, match="one batch shape"):
        f.next_pointers()
    with pytest.raises(CalibrationError, match="lacks input"):
        cal.Feeder(iter([{"y": np.zeros(1)}]), ["x"], FakeCuda()).next_pointers()


def test_calibration_cache_version_header(tmp_path):
    p = tmp_path / "calib.cache"
    assert cal.read_cache(p, "10.3.0") is None
    cal.write_cache(p, b"TRT-100300-EntropyCalibration2\ninput: 3c010a14\n")
    assert cal.read_cache(p, "10.3.0").startswith(b"TRT-100300")
    with pytest.raises(CalibrationError, match="recalibrate"):
        cal.read_cache(p, "10.4.0")
    with pytest.raises(CalibrationError, match="not a TensorRT calibration cache"):
        cal.write_cache(tmp_path / "bad.cache", b"garbage\n")


def test_make_calibrator_refuses_on_trt11():
    with pytest.raises(CalibrationError, match="TensorRT 11 removed them"):
        cal.make_calibrator(Compat(fake_trt("11.1")), [], ["x"], None, "entropy", cuda=FakeCuda())
    with pytest.raises(CalibrationError, match="unknown TensorRT calibrator"):
        cal.make_calibrator(Compat(fake_trt("10.3")), [], ["x"], None, "percentile", cuda=FakeCuda())


def test_cuda_library_search_and_errors(monkeypatch):
    from workbench.core.backends.tensorrt import cuda as C

    monkeypatch.setenv("WORKBENCH_CUDART", "/nonexistent/libcudart.so")
    assert C.candidate_libraries()[0] == "/nonexistent/libcudart.so"
    monkeypatch.setattr(C.ctypes, "CDLL", lambda name: (_ for _ in ()).throw(OSError(name)))
    with pytest.raises(BackendUnavailable, match="libcudart"):
        C.load_cudart()

    class Lib:
        def __getattr__(self, name):
            if name == "cudaGetErrorString":
                f = lambda status: b"out of memory"  # noqa: E731
            else:
                f = lambda *a: 2  # noqa: E731 - every call fails with cudaErrorMemoryAllocation
            f.argtypes = None
            f.restype = None
            return f

    cu = C.Cuda(Lib())
    with pytest.raises(BenchmarkError, match=r"CUDA cudaMalloc failed: out of memory \(cudaError 2\)"):
        cu.malloc(16)
