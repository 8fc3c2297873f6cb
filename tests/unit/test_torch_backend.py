"""The PyTorch backend on CPU (its labelled fallback): build recipe, runner, precisions, bench child."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from workbench.core.backends import get_backend  # noqa: E402
from workbench.core.backends.base import RunnerSettings  # noqa: E402
from workbench.core.errors import BuildError, ConfigError, ModelError  # noqa: E402
from workbench.core.profiles.schema import Profile  # noqa: E402


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.fc = torch.nn.Linear(8, 5)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


def _profile(shapes=None) -> Profile:
    return Profile.model_validate(
        {
            "name": "cpu-test",
            "source_path": Path("/p/cpu-test.toml"),
            "device": {"name": "CPU", "kind": "cpu", "arch": "x86_64"},
            "build": {"shapes": shapes or {}},
        }
    )


@pytest.fixture
def ts_model(tmp_path):
    net = Net().eval()
    x = torch.randn(1, 3, 16, 16)
    p = tmp_path / "net.pt"
    torch.jit.save(torch.jit.trace(net, x), str(p))
    return p, net


def test_registered_and_labelled_cpu():
    b = get_backend("torch")
    assert b.name == "torch"
    v = b.versions()
    assert v["torch"] == torch.__version__ and v["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    assert b.precision_support()["int8"] and b.precision_support()["fp16"] is None


def test_build_recipe_and_run_matches_eager(ts_model):
    path, net = ts_model
    b = get_backend("torch", trust_model=True, input_shapes={"x": [2, 3, 16, 16]})
    art = b.build(path, "fp32", _profile())
    assert art.backend == "torch" and not art.cached and art.path.name == "model.fp32.torch.json"
    assert b.build(path, "fp32", _profile()).cached
    r = b.runner(art.path, RunnerSettings())
    with r:
        assert r.device == "cpu" or torch.cuda.is_available()
        assert r.input_metadata() == [("x", "float32", (2, 3, 16, 16))]
        x = np.random.default_rng(0).standard_normal((2, 3, 16, 16)).astype(np.float32)
        out = r.infer({"x": x})
        with torch.no_grad():
            ref = net(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(out["output_0"], ref, rtol=1e-5, atol=1e-5)
        call = r.prepare({"x": x})
        assert tuple(call().shape) == (2, 5)


def test_bf16_autocast_is_close_but_not_identical(ts_model):
    path, net = ts_model
    b = get_backend("torch", trust_model=True, input_shapes={"x": [1, 3, 16, 16]})
    art = b.build(path, "bf16", _profile())
    x = np.random.default_rng(1).standard_normal((1, 3, 16, 16)).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    with b.runner(art.path, RunnerSettings()) as r:
        out = r.infer({"x": x})["output_0"]
    assert np.max(np.abs(out - ref)) < 0.1
    assert not np.array_equal(out, ref)  # autocast really ran in bfloat16


def test_shapes_from_profile_and_errors(ts_model, tmp_path):
    path, _ = ts_model
    b = get_backend("torch", trust_model=True)
    shapes = {"x": {"min": [1, 3, 16, 16], "opt": [4, 3, 16, 16], "max": [8, 3, 16, 16]}}
    art = b.build(path, "fp32", _profile(shapes))
    with b.runner(art.path, RunnerSettings()) as r:
        assert r.input_metadata()[0][2] == (4, 3, 16, 16)
    with pytest.raises(ConfigError, match="records no input shapes"):
        get_backend("torch", trust_model=True).build(path, "fp32", _profile())
    with pytest.raises(BuildError, match="not int8"):
        b.build(path, "int8", _profile(shapes))


def test_onnx_input_is_refused_with_advice(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    m = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x],
                                            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])]))  # fmt: skip
    p = tmp_path / "m.onnx"
    onnx.save(m, str(p))
    with pytest.raises(ModelError, match="is ONNX; the torch backend runs PyTorch models"):
        get_backend("torch").build(p, "fp32", _profile())


def test_exported_program_shapes_come_from_the_file(tmp_path):
    net = Net().eval()
    ep = torch.export.export(net, (torch.randn(3, 3, 16, 16),))
    p = tmp_path / "net.pt2"
    torch.export.save(ep, str(p))
    b = get_backend("torch", trust_model=True)
    art = b.build(p, "fp32", _profile())
    with b.runner(art.path, RunnerSettings()) as r:
        assert r.input_metadata() == [("input_0", "float32", (3, 3, 16, 16))]
        out = r.infer({"input_0": np.ones((3, 3, 16, 16), np.float32)})["output_0"]
    with torch.no_grad():
        ref = net(torch.ones(3, 3, 16, 16)).numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


def test_runs_in_the_benchmark_child(ts_model):
    from workbench.core.bench.config import BenchConfig
    from workbench.core.bench.parent import run_child

    path, _ = ts_model
    b = get_backend("torch", trust_model=True, input_shapes={"x": [1, 3, 16, 16]})
    art = b.build(path, "fp32", _profile())
    outcome = run_child(BenchConfig(artifact_path=str(art.path), backend="torch", iterations=20, warmup_ms=10))
    assert outcome.iterations == 20 and len(outcome.latencies_ns) == 20
    assert all(t > 0 for t in outcome.latencies_ns)
    assert outcome.timing_splits is not None  # the torch runner has_timing_splits
    if not torch.cuda.is_available():  # the CPU fallback times no GPU compute
        cpu = {
            **dict.fromkeys(("h2d_ms", "gpu_compute_ms", "d2h_ms", "latency_ms")),
            "device": "cpu",
            "include_transfers": False,
            "cuda_graph": False,
        }
        assert outcome.timing_splits == cpu
    assert outcome.layer_profile_path is None


def test_runner_is_enforced_and_options_forwarded(ts_model):
    from workbench.core.errors import RunnerStateError

    path, _ = ts_model
    b = get_backend("torch", trust_model=True, input_shapes={"x": (1, 3, 16, 16)}, compile=False)
    assert dict(b.options.input_shapes) == {"x": (1, 3, 16, 16)}
    art = b.build(path, "fp32", _profile())
    r = b.runner(art.path, RunnerSettings())
    with pytest.raises(RunnerStateError, match="inactive runner"):
        r.prepare({"x": np.zeros((1, 3, 16, 16), np.float32)})
    with r:
        assert r.is_active and r.input_metadata() == [("x", "float32", (1, 3, 16, 16))]
    assert not r.is_active and r.module is None


def test_workflow_constructs_the_torch_backend_with_the_input_shapes(ts_model):
    from workbench.core import workflow

    path, _ = ts_model
    req = workflow.JobRequest(
        model=str(path), backend="torch", profile="cpu-x86_64", input_shapes={"x": (1, 3, 16, 16)}, trust_model=True
    )
    ctx = workflow.prepare(req)
    assert ctx.backend.name == "torch" and ctx.model_path == path  # torch runs the TorchScript, not the export
    assert dict(ctx.backend.options.input_shapes) == {"x": (1, 3, 16, 16)}
    assert ctx.backend.options.trust_model is True  # the request's trust reaches the backend
    art = workflow.build(ctx, "fp32").artifact
    with ctx.backend.runner(art.path, RunnerSettings()) as r:
        assert r.input_metadata() == [("x", "float32", (1, 3, 16, 16))]


def test_threads_reach_torch_and_the_result_records_what_ran(ts_model):
    """--threads N is applied in the benchmark child (torch.set_num_threads) and the result records what torch
    used (settings.threads_used); before, it was recorded but never applied."""
    from workbench.core import workflow

    path, _ = ts_model
    req = workflow.JobRequest(
        model=str(path), backend="torch", profile="cpu-x86_64", input_shapes={"x": (1, 3, 16, 16)},
        iterations=20, warmup_ms=0, store=False, trust_model=True,
    )  # fmt: skip
    job = workflow.prepare(req)
    built = workflow.build(job, "fp32")
    for n in (1, 2):
        r = workflow.bench(job.with_request(threads=n), built)
        assert r.settings.threads == n and r.settings.threads_used == n
        assert r.to_dict()["settings"]["threads_used"] == n
