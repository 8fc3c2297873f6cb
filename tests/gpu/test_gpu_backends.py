"""GPU checks: a TensorRT engine built and run, and a torch-CUDA run (skipped with a reason without them).

TensorRT is installed on none of our test machines this round (it is checked by binding names and unit tests);
the torch-CUDA test runs where a CUDA GPU and a CUDA build of torch exist.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.gpu


def _profile(backend: str, shapes=None):
    from workbench.core.profiles.schema import Profile

    return Profile.model_validate(
        {
            "name": f"gpu-{backend}",
            "source_path": Path(f"/p/gpu-{backend}.toml"),
            "device": {"name": "GPU", "kind": "gpu", "arch": "x86_64"},
            "build": {"backend": "tensorrt" if backend == "tensorrt" else "onnxruntime", "shapes": shapes or {},
                      "workspace_mib": 1024},
        }
    )  # fmt: skip


def test_torch_cuda_run(tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA device here")
    from workbench.core.backends import get_backend
    from workbench.core.backends.base import RunnerSettings

    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(16 * 32 * 32, 10)
    ).eval()
    p = tmp_path / "net.pt"
    torch.jit.save(torch.jit.trace(net, torch.randn(1, 3, 32, 32)), str(p))
    b = get_backend("torch", trust_model=True, input_shapes={"x": [8, 3, 32, 32]})
    x = np.random.default_rng(0).standard_normal((8, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    for precision, tol in (("fp32", 1e-3), ("fp16", 5e-2)):
        art = b.build(p, precision, _profile("torch"))
        with b.runner(art.path, RunnerSettings()) as r:
            assert r.device == "cuda"
            np.testing.assert_allclose(r.infer({"x": x})["output_0"], ref, atol=tol, rtol=tol)
            call = r.prepare({"x": x})
            for _ in range(20):
                call()
            splits = r.timing_splits()
            assert len(splits["compute_ms"]) >= 20 and all(t > 0 for t in splits["compute_ms"])


def test_tensorrt_build_and_run(tmp_path):
    if importlib.util.find_spec("tensorrt") is None:
        pytest.skip("TensorRT is not installed here")
    import onnx
    from onnx import TensorProto, helper

    from workbench.core.backends import get_backend
    from workbench.core.backends.base import RunnerSettings

    w = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor("w", TensorProto.FLOAT, [8, 4], w.ravel())],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path = tmp_path / "mm.onnx"
    onnx.save(m, str(path))
    b = get_backend("tensorrt")
    shapes = {"x": {"min": [1, 8], "opt": [4, 8], "max": [16, 8]}}
    art = b.build(path, "fp32", _profile("tensorrt", shapes))
    x = np.random.default_rng(1).standard_normal((4, 8)).astype(np.float32)
    with b.runner(art.path, RunnerSettings()) as r:
        np.testing.assert_allclose(r.infer({"x": x})["y"], x @ w, rtol=1e-3, atol=1e-3)
        call = r.prepare({"x": x})
        r.reset_timing_splits()  # as the benchmark child does after warm-up: infer's query is not counted
        for _ in range(10):
            call()
        splits = r.timing_splits()
        assert len(splits["gpu_compute_ms"]) == 10 and all(t > 0 for t in splits["gpu_compute_ms"])
        parts = zip(splits["h2d_ms"], splits["gpu_compute_ms"], splits["d2h_ms"], splits["latency_ms"], strict=True)
        for h, c, d, lat in parts:  # event differences telescope: equal up to the events' ~0.5 µs resolution
            assert lat >= c and lat == pytest.approx(h + c + d, abs=0.002)
