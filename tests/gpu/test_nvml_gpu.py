"""NVML on a real GPU: the GPU chosen is the CUDA device torch runs on, and a `workbench bench` on torch-CUDA records
NVML power and energy over its window. Each test needs CUDA first (its skip names CUDA), then NVML."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.gpu


def test_nvml_samples_the_cuda_device(nvml_on_cuda, cuda_torch):
    from workbench.core.hw.nvml import _body
    from workbench.core.telemetry.nvml import RULE_AVERAGE, RULE_INSTANT, NvmlSource

    want = _body(str(cuda_torch.cuda.get_device_properties(0).uuid))
    src = NvmlSource()
    try:
        assert src.choice.how in ("uuid", "only"), src.choice.detail
        assert _body(src.choice.uuid) == want, src.choice.detail
        s = src.read()
        assert s.total_power_rule in (RULE_INSTANT, RULE_AVERAGE)
        assert s.total_power_mw is not None and 1_000 < s.total_power_mw < 2_000_000  # 1 W .. 2 kW
    finally:
        src.close()


def test_bench_records_nvml_energy_over_the_run(nvml_on_cuda, cuda_torch, tmp_path, cli_env):
    torch = cuda_torch
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(64, 64, 3)).eval()
    path = tmp_path / "net.pt"
    torch.jit.save(torch.jit.trace(net, torch.randn(1, 3, 64, 64)), str(path))
    res = subprocess.run(
        [sys.executable, "-m", "workbench", "bench", str(path), "--backend", "torch", "--trust-model",
         "--input-shape", "x:16x3x64x64", "--duration", "3", "--telemetry", "nvml", "--no-store", "--json",
         "--foreground"],
        capture_output=True, text=True, env=cli_env, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    d = json.loads(res.stdout)
    tel = d["telemetry"]
    assert d["timing_splits_ms"]["device"] == "cuda"
    assert tel["source"] == "nvml" and tel["measured"] is True
    assert tel["window_s"] >= 2.5 and tel["samples"] >= 5
    assert tel["energy_mj"] > 0 and 1.0 < tel["mean_power_w"] < 2000.0
    assert tel["peak_power_w"] >= tel["mean_power_w"] * 0.9
    inferences = d["iterations"] * d["batch"]
    assert tel["mj_per_inference"] == pytest.approx(tel["energy_mj"] / inferences, rel=1e-6)
    assert tel["total_power_rule"] in ("nvml.power_instant", "nvml.power_usage (1 s average on Ampere+)")
