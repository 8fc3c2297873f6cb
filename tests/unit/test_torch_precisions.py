"""fp16 / bf16 on the torch backend end to end (autocast over the source .pt, not an ONNX conversion), bf16 refused
with a reason by the backends that cannot run it, and torch's math mode recorded in the result."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _trt_fake import fake_trt  # noqa: E402

torch = pytest.importorskip("torch")

MATH_KEYS = (
    "torch.backends.cuda.matmul.allow_tf32",
    "torch.backends.cudnn.allow_tf32",
    "torch.backends.cudnn.benchmark",
    "torch.get_float32_matmul_precision()",
)
CPU_PROFILE = "cpu-aarch64" if platform.machine() in ("aarch64", "arm64") else "cpu-x86_64"


@pytest.fixture
def small_pt(tmp_path):
    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.fc = torch.nn.Linear(8, 4)

        def forward(self, x):
            return self.fc(x)

    p = tmp_path / "small.pt"
    torch.jit.save(torch.jit.trace(Net().eval(), torch.randn(1, 8)), str(p))
    return p


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_bench_a_torchscript_file_in_fp16_and_bf16(run_cli, small_pt, precision):
    """Before: fp16 ran the ONNX FP16 converter on the .pt ("cannot load the ONNX model"), and bf16 was not a
    --precision choice at all. The result records torch's math mode (settings.math_mode)."""
    r = run_cli(
        "bench", str(small_pt), "--backend", "torch", "--precision", precision, "--trust-model",
        "--input-shape", "x:1x8", "--profile", CPU_PROFILE, "--iterations", "10", "--warmup-ms", "0",
        "--no-store", "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "converting to FP16" not in r.stderr
    d = json.loads(r.stdout)
    assert d["precision"] == precision and d["backend"] == "torch"
    assert d["latency_ms"]["median"] > 0
    math = d["settings"]["math_mode"]
    assert set(math) == set(MATH_KEYS)
    assert math["torch.backends.cuda.matmul.allow_tf32"] is torch.backends.cuda.matmul.allow_tf32
    assert math["torch.backends.cudnn.allow_tf32"] is torch.backends.cudnn.allow_tf32
    assert math["torch.backends.cudnn.benchmark"] is torch.backends.cudnn.benchmark
    assert math["torch.get_float32_matmul_precision()"] == torch.get_float32_matmul_precision()


def test_onnxruntime_refuses_bf16_in_one_line(run_cli, tiny_matmul_model):
    r = run_cli(
        "bench", str(tiny_matmul_model), "--precision", "bf16", "--profile", CPU_PROFILE, "--shapes", "batch=1",
        "--iterations", "5", "--no-store",
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: onnxruntime on profile {CPU_PROFILE} cannot run bf16: the workbench makes no BF16 ONNX model and "
        "ONNX Runtime's CPU provider has few BF16 kernels: use --backend torch for bf16 (torch.autocast)"
    ]


def test_precision_model_is_the_source_on_torch(small_pt):
    from workbench.core import workflow
    from workbench.core.errors import UsageError

    req = workflow.JobRequest(
        model=str(small_pt), backend="torch", profile=CPU_PROFILE, input_shapes={"x": (1, 8)}, trust_model=True
    )
    job = workflow.prepare(req)
    for p in ("fp32", "fp16", "bf16"):
        assert workflow.precision_model(job, p) == (small_pt, None)
    with pytest.raises(UsageError, match="not int8"):
        workflow.precision_model(job, "int8")
    onnx_job = workflow.prepare(workflow.JobRequest(profile=CPU_PROFILE))
    with pytest.raises(UsageError, match="bf16 runs on the torch backend only"):
        workflow.precision_model(onnx_job, "bf16")


def test_tensorrt_refuses_bf16_with_a_reason(monkeypatch):
    from workbench.core.backends import get_backend

    monkeypatch.setitem(sys.modules, "tensorrt", fake_trt("10.3"))
    support = get_backend("tensorrt").precision_support()
    assert support["fp16"] is None
    assert support["bf16"] == (
        "BF16 engines are not built by the workbench yet: use fp16, or --backend torch for bf16 (torch.autocast)"
    )


def test_bf16_is_a_precision_everywhere_a_precision_is_listed():
    from workbench.cli.common import PRECISIONS as CLI
    from workbench.core.job import PRECISIONS as JOB
    from workbench.core.precision import PRECISIONS as PREC
    from workbench.core.profiles.schema import PRECISIONS as SCHEMA

    assert CLI == JOB == PREC == SCHEMA == ("fp32", "fp16", "bf16", "int8", "best")


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_accuracy_on_a_torchscript_file_compares_pytorch_runs(run_cli, tmp_path, precision):
    """Before: with --eval, the accuracy check opened the .pt with onnxruntime ("onnxruntime cannot load the
    model"). Now both sides are PyTorch runs (FP32 and the autocast precision) of the source model: a model that
    copies its 10 input pixels out scores 100 % top-1 on images whose label is their brightest pixel."""
    from PIL import Image

    class Pick(torch.nn.Module):
        def forward(self, x):
            return x.flatten(1)[:, :10]

    pt = tmp_path / "pick.pt"
    torch.jit.save(torch.jit.trace(Pick().eval(), torch.randn(1, 1, 8, 8)), str(pt))
    ev = tmp_path / "eval"
    ev.mkdir()
    rows = ["file,label"]
    for i in range(20):
        label = i % 10
        img = np.full((8, 8), 10, dtype=np.uint8)
        img.flat[label] = 200 + i
        Image.fromarray(img, mode="L").save(ev / f"{i}.png")
        rows.append(f"{i}.png,{label}")
    (ev / "labels.csv").write_text("\n".join(rows) + "\n")
    (ev / "preprocess.toml").write_text(
        '[preprocess]\nresize = [8, 8]\ncolor = "L"\nlayout = "NCHW"\nscale = 0.00392156862745098\n'
    )
    r = run_cli(
        "bench", str(pt), "--backend", "torch", "--precision", precision, "--trust-model", "--input-shape",
        "x:1x1x8x8", "--profile", CPU_PROFILE, "--eval", str(ev), "--iterations", "5", "--warmup-ms", "0",
        "--no-store", "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    acc = json.loads(r.stdout)["accuracy"]
    assert acc["samples"] == 20 and acc["top1"] == 100.0 and acc["top1_fp32"] == 100.0
    if precision == "fp16":
        assert acc["verdict"] == "pass" and acc["vs_fp32"]["top1_agreement"] == 100.0


def test_run_refuses_a_precision_the_backend_cannot_run_before_anything_is_stored(run_cli, small_pt):
    """Before: `run X.pt --backend torch` (default fp32,int8) benchmarked and stored FP32, then failed on INT8."""
    common = ("--backend", "torch", "--trust-model", "--input-shape", "x:1x8", "--profile", CPU_PROFILE,
              "--iterations", "5", "--warmup-ms", "0")  # fmt: skip
    r = run_cli("run", str(small_pt), *common, "--precisions", "fp32,int8")
    assert r.returncode == 2 and "cannot run int8" in r.stderr and "stored as result" not in r.stderr
    assert json.loads(run_cli("results", "list", "--json").stdout) == []  # nothing stored
    r = run_cli("run", str(small_pt), *common, "--json")  # the default on torch: FP32 and autocast FP16
    assert r.returncode == 0, r.stderr
    assert [x["precision"] for x in json.loads(r.stdout)["results"]] == ["fp32", "fp16"]
    r = run_cli("run", str(small_pt), *common, "--precisions", "fp32,bf16", "--no-store", "--json")
    assert r.returncode == 0, r.stderr


def test_a_wrong_input_shape_is_named_as_such_not_as_an_export_failure(run_cli, small_pt):
    r = run_cli("bench", str(small_pt), "--backend", "torch", "--trust-model", "--input-shape", "x:1x16",
                "--profile", CPU_PROFILE, "--iterations", "5")  # fmt: skip
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "does not run on inputs of shape 1x16" in r.stderr and "cannot be multiplied" in r.stderr
    assert "--input-shape" in r.stderr and "--opset" not in r.stderr
