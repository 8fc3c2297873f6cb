"""The torch backend on CUDA: outputs, FP16, timing splits as trtexec counts them, transfers on/off, CUDA graphs,
and a real `workbench bench` run (the benchmark child). Each test skips naming CUDA where torch has no CUDA device.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from _gpu_helpers import cosine, gpu_profile, timed_splits

pytestmark = pytest.mark.gpu

SHAPE = (8, 3, 32, 32)


@pytest.fixture
def torch_model(cuda_torch, tmp_path):
    """(TorchScript path, FP32 reference output on the CPU, input) of a small conv net with seeded weights."""
    torch = cuda_torch
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(16 * 32 * 32, 10)
    ).eval()
    path = tmp_path / "net.pt"
    torch.jit.save(torch.jit.trace(net, torch.randn(1, 3, 32, 32)), str(path))
    x = np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    return path, ref, x


def _runner(path, precision="fp32", **settings):
    from workbench.core.backends import get_backend
    from workbench.core.backends.base import RunnerSettings

    b = get_backend("torch", trust_model=True, input_shapes={"x": list(SHAPE)})
    art = b.build(path, precision, gpu_profile("torch"))
    return b.runner(art.path, RunnerSettings(**settings))


def test_fp32_runs_on_cuda_and_matches_the_cpu(torch_model):
    path, ref, x = torch_model
    with _runner(path) as r:
        assert r.device == "cuda"
        out = r.infer({"x": x})["output_0"]
    # TF32 may be on for matmul/conv (settings.math_mode says so): 1e-2 covers TF32's 10-bit mantissa here.
    np.testing.assert_allclose(out, ref, rtol=1e-2, atol=1e-2)


def test_fp16_output_cosine_with_fp32_above_0_999(torch_model):
    path, _, x = torch_model
    with _runner(path, "fp32") as r:
        fp32 = r.infer({"x": x})["output_0"]
    with _runner(path, "fp16") as r:
        fp16 = r.infer({"x": x})["output_0"]
    assert np.isfinite(fp16).all()
    assert cosine(fp16, fp32) > 0.999


def test_split_count_equals_timed_iterations_and_compute_within_latency(torch_model):
    path, _, x = torch_model
    with _runner(path, include_transfers=True) as r:
        s = timed_splits(r, {"x": x}, 50)  # infer() and a warm-up call before the reset must not count
    assert len(s["gpu_compute_ms"]) == len(s["latency_ms"]) == 50
    assert len(s["h2d_ms"]) == len(s["d2h_ms"]) == 50
    assert all(c > 0 for c in s["gpu_compute_ms"])
    # trtexec's Latency = H2D + compute + D2H of the same query, so compute never exceeds it.
    for c, lat, h, d in zip(s["gpu_compute_ms"], s["latency_ms"], s["h2d_ms"], s["d2h_ms"], strict=True):
        assert c <= lat + 1e-6
        assert lat == pytest.approx(h + c + d, rel=0.05, abs=0.02)  # the three run back to back on one stream


def test_transfers_off_latency_equals_compute(torch_model):
    path, _, x = torch_model
    with _runner(path, include_transfers=False) as r:
        s = timed_splits(r, {"x": x}, 30)
    assert len(s["gpu_compute_ms"]) == 30
    assert s["latency_ms"] == pytest.approx(s["gpu_compute_ms"])
    assert not s.get("h2d_ms") and not s.get("d2h_ms")
    assert s["include_transfers"] is False


def test_cuda_graph_replay_gives_the_eager_output_and_its_splits(torch_model):
    path, _, x = torch_model
    with _runner(path) as r:
        eager = r.infer({"x": x})["output_0"]
    with _runner(path, cuda_graph=True) as r:
        assert r.cuda_graph is True
        graphed = r.infer({"x": x})["output_0"]
        s = timed_splits(r, {"x": x}, 40)
    np.testing.assert_allclose(graphed, eager, rtol=1e-5, atol=1e-5)
    assert s["cuda_graph"] is True and len(s["gpu_compute_ms"]) == 40


def test_workbench_bench_on_torch_cuda(torch_model, tmp_path, cli_env):
    """The real CLI and benchmark child: splits are counted over the timed queries only, on CUDA."""
    path, _, _ = torch_model
    n = 300
    res = subprocess.run(
        [sys.executable, "-m", "workbench", "bench", str(path), "--backend", "torch", "--trust-model",
         "--input-shape", "x:8x3x32x32", "--iterations", str(n), "--warmup-iterations", "20",
         "--telemetry", "host", "--no-store", "--json", "--foreground"],
        capture_output=True, text=True, env=cli_env, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    d = json.loads(res.stdout)
    splits = d["timing_splits_ms"]
    assert splits["device"] == "cuda"
    assert d["iterations"] == n
    assert splits["gpu_compute_ms"]["count"] == n and splits["latency_ms"]["count"] == n
    assert 0 < splits["gpu_compute_ms"]["median"] <= splits["latency_ms"]["median"]
    # The host wall time of a query includes the GPU's part of it.
    assert splits["gpu_compute_ms"]["median"] <= d["latency_ms"]["p50"]
    assert "math_mode" in d["settings"]
