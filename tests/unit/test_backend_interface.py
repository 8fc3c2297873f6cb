"""The backend interface (backends/base.py): enforced runner activation, capability flags read by the benchmark
child, build() progress and cancel, construction options, and the artifact cache's home in the backends package."""

from __future__ import annotations

import ast
import importlib.util
import threading
from pathlib import Path

import numpy as np
import pytest
from _fake_backend import FakeRunner, write_knobs

from workbench.core.backends import BACKENDS, get_backend
from workbench.core.backends.base import RunnerSettings
from workbench.core.backends.ort import OrtBackend, OrtRunner
from workbench.core.bench import child
from workbench.core.bench import events as ev
from workbench.core.bench.config import BenchConfig
from workbench.core.bench.parent import run_child
from workbench.core.errors import BenchmarkError, Cancelled, ModelError, RunnerStateError, WorkbenchError
from workbench.core.profiles import load_profile

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake_backend(monkeypatch):
    monkeypatch.setitem(BACKENDS, "fake", "_fake_backend:FakeBackend")
    FakeRunner.made.clear()
    return FakeRunner.made


class _List:
    """Stands in for the child's event stream (``send`` is all ``child.run`` uses)."""

    def __init__(self) -> None:
        self.events: list[object] = []

    def send(self, event: object) -> None:
        self.events.append(event)

    def of(self, cls: type) -> list:
        return [e for e in self.events if isinstance(e, cls)]


# ------------------------------------------------------------------------------------------------ activation
def test_runner_outside_with_raises_a_clear_error(tiny_matmul_model):
    art = OrtBackend().build(tiny_matmul_model, "fp32", load_profile("cpu-x86_64"))
    r = OrtBackend().runner(art.path, RunnerSettings())
    x = {"x": np.ones((1, 16), np.float32)}
    assert not r.is_active
    for call in (lambda: r.infer(x), lambda: r.prepare(x), r.input_metadata, r.output_names):
        with pytest.raises(RunnerStateError, match=r"OrtRunner\.\w+\(\) called on an inactive runner") as info:
            call()
        assert "with backend.runner" in info.value.hint
    assert issubclass(RunnerStateError, BenchmarkError) and issubclass(RunnerStateError, WorkbenchError)
    with r:
        assert r.is_active and r.infer(x)["y"].shape == (1, 16)
        with pytest.raises(RunnerStateError, match="already active"):
            r.activate()
        assert r.is_active  # the refused second activation left the first alone
    assert not r.is_active and r.session is None
    with pytest.raises(RunnerStateError):
        r.infer(x)
    r.deactivate()  # deactivating an inactive runner is a no-op
    with r:  # and it can be activated again
        assert r.infer(x)["y"].shape == (1, 16)


def test_with_deactivates_when_the_body_raises_and_keeps_the_body_error(fake_backend, tmp_path):
    r = get_backend("fake").runner(write_knobs(tmp_path / "a.json"), RunnerSettings())
    with pytest.raises(ValueError, match="body"):
        with r:
            raise ValueError("body")
    assert r.log == ["activate", "deactivate"] and not r.is_active

    def broken_deactivate() -> None:
        raise OSError("freeing failed too")

    r._deactivate = broken_deactivate  # noqa: SLF001 - a runtime whose clean-up fails after the body failed
    with pytest.raises(ValueError, match="body"):  # the body's error, not the clean-up's
        with r:
            raise ValueError("body")
    assert not r.is_active


def test_failed_activation_frees_what_it_took_and_stays_inactive(fake_backend, tmp_path):
    r = get_backend("fake").runner(write_knobs(tmp_path / "a.json"), RunnerSettings())

    def half_activate() -> None:
        r.log.append("activate")
        raise ModelError("the runtime refused the artifact half-way")

    r._activate = half_activate  # noqa: SLF001
    with pytest.raises(ModelError, match="half-way"):
        with r:
            pytest.fail("the body must not run")
    assert r.log == ["activate", "deactivate"] and not r.is_active


def test_capability_flag_defaults_and_per_backend(fake_backend, tmp_path):
    r = get_backend("fake").runner(write_knobs(tmp_path / "a.json"), RunnerSettings())
    assert (r.queries_per_call, r.has_timing_splits, r.has_layer_profile) == (1, False, False)
    assert OrtRunner.timing_splits is not FakeRunner.timing_splits  # ORT keeps the base defaults
    ort_plain = OrtRunner(tmp_path / "m.onnx", RunnerSettings())
    assert ort_plain.timing_splits() is None and ort_plain.end_profiling() is None
    assert not ort_plain.has_timing_splits and not ort_plain.has_layer_profile
    assert OrtRunner(tmp_path / "m.onnx", RunnerSettings(profiling=True)).has_layer_profile

    from workbench.core.backends.tensorrt.runner import TensorRTRunner
    from workbench.core.backends.torch_backend import TorchRunner

    assert TorchRunner(None, RunnerSettings()).has_timing_splits
    trt = TensorRTRunner(tmp_path / "m.plan", RunnerSettings(streams=3, profiling=True))
    assert trt.has_timing_splits and trt.has_layer_profile and trt.queries_per_call == 3
    assert not TensorRTRunner(tmp_path / "m.plan", RunnerSettings()).has_layer_profile


# ------------------------------------------------------------------------------------------------ child flow
@pytest.mark.parametrize("fail_at, where", [(1, "warmup"), (6, "timed")])
def test_child_deactivates_when_the_timed_call_raises(fake_backend, tmp_path, fail_at, where):
    art = write_knobs(tmp_path / "a.json", fail_at=fail_at)
    out = _List()
    cfg = BenchConfig(artifact_path=str(art), backend="fake", warmup_ms=0, warmup_iterations=3, iterations=50)
    with pytest.raises(RuntimeError, match=f"failed on call {fail_at}"):
        child.run(cfg, out)
    (runner,) = fake_backend
    assert runner.log == ["activate", "deactivate"] and not runner.is_active
    phases = [e.name for e in out.of(ev.Phase)]
    assert phases[-1] == where and "done" not in phases
    assert bool(out.of(ev.TimedStart)) == (where == "timed")


def _run_fake(artifact: Path, **cfg) -> _List:
    out = _List()
    child.run(BenchConfig(artifact_path=str(artifact), backend="fake", warmup_ms=0, iterations=5, **cfg), out)
    return out


def test_child_reads_the_flags_not_hasattr(fake_backend, tmp_path):
    plain = write_knobs(tmp_path / "plain.json")
    out = _run_fake(plain, profile_layers=True)
    # FakeRunner implements timing_splits/end_profiling, but its flags say it has neither
    assert out.of(ev.TimingSplits) == [] and out.of(ev.LayerProfile) == []
    assert out.of(ev.TimedEnd)[0].queries_per_call == 1 and out.events[-1] == ev.Phase("done")

    rich = write_knobs(tmp_path / "rich.json", splits=True, layers=True, queries_per_call=4)
    out = _run_fake(rich, profile_layers=True)
    (splits,) = out.of(ev.TimingSplits)
    assert splits.summary["gpu_compute_ms"] == {"median": 2.0, "mean": 2.0, "max": 3.0, "count": 3}
    assert splits.summary["device"] == "fake"
    assert out.of(ev.LayerProfile)[0].path == str(tmp_path / "rich.layers.json")
    assert out.of(ev.TimedEnd)[0].queries_per_call == 4
    # the splits and the profile are read while the runner is still active, then it is deactivated
    assert [type(e).__name__ for e in out.events[-4:]] == ["TimedEnd", "TimingSplits", "LayerProfile", "Phase"]
    assert fake_backend[-1].log == ["activate", "deactivate"]

    out = _run_fake(rich)  # layers needs profiling on: without profile_layers, no end_profiling
    assert out.of(ev.LayerProfile) == [] and len(out.of(ev.TimingSplits)) == 1


def test_real_child_on_ort_sends_no_timing_splits(tiny_matmul_model):
    seen: list[object] = []
    cfg = BenchConfig(artifact_path=str(tiny_matmul_model), iterations=20, warmup_ms=0)
    outcome = run_child(cfg, on_event=seen.append)
    assert outcome.iterations == 20 and outcome.timing_splits is None
    assert not any(isinstance(e, (ev.TimingSplits, ev.LayerProfile)) for e in seen)
    seen.clear()
    cfg = BenchConfig(artifact_path=str(tiny_matmul_model), iterations=20, warmup_ms=0, profile_layers=True)
    outcome = run_child(cfg, on_event=seen.append)
    assert not any(isinstance(e, ev.TimingSplits) for e in seen)
    assert outcome.layer_profile_path and Path(outcome.layer_profile_path).is_file()  # ORT's own profiler


# ------------------------------------------------------------------------------------------------ build
def test_workflow_build_passes_progress_and_cancel_into_the_backend(fake_backend):
    from workbench.core import workflow

    ctx = workflow.prepare(workflow.JobRequest(backend="fake", profile="cpu-x86_64"))
    steps: list[workflow.Progress] = []
    cancel = threading.Event()
    art = workflow.build(ctx, "fp32", steps.append, cancel).artifact
    assert art.backend == "fake" and ctx.backend.builds[-1]["cancel"] is cancel
    assert [(s.step, s.message, s.done, s.total) for s in steps if s.message == "faking"] == [
        ("build", "faking", 1, 2),
        ("build", "faking", 2, 2),
    ]
    assert ctx.backend.options == {}  # only the torch backend gets construction options from prepare
    cancel.set()
    with pytest.raises(Cancelled):
        workflow.build(ctx, "fp32", steps.append, cancel)


def test_ort_build_checks_cancel_before_it_starts_but_not_on_a_cache_hit(tiny_matmul_model):
    profile = load_profile("cpu-x86_64")
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled, match="before ONNX Runtime started"):
        OrtBackend().build(tiny_matmul_model, "fp32", profile, cancel=cancel)
    heard: list[tuple] = []
    art = OrtBackend().build(tiny_matmul_model, "fp32", profile, on_progress=lambda *a: heard.append(a))
    assert not art.cached and heard == []  # one ORT call: no intermediate progress
    assert OrtBackend().build(tiny_matmul_model, "fp32", profile, cancel=cancel).cached


def test_construction_options_are_forwarded_and_checked(fake_backend):
    assert get_backend("fake", answer=42).options == {"answer": 42}
    with pytest.raises(TypeError):
        get_backend("onnxruntime", input_shapes={"x": [1, 16]})


def test_torch_options_are_frozen_and_normalised():
    from dataclasses import FrozenInstanceError

    from workbench.core.backends.torch_backend import TorchOptions

    o = TorchOptions(input_shapes={"x": [1, 3, 16, 16]})
    assert dict(o.input_shapes) == {"x": (1, 3, 16, 16)} and o.compile is False
    with pytest.raises(TypeError):
        o.input_shapes["x"] = (2, 3)  # read-only view
    with pytest.raises(FrozenInstanceError):
        o.compile = True  # type: ignore[misc]
    assert TorchOptions().input_shapes is None


def test_tensorrt_options_are_frozen_and_normalised():
    from workbench.core.backends.tensorrt import TensorRTOptions

    o = TensorRTOptions(calibration="minmax", calib_dir="calib/digits", calib_limit=64)
    assert o.calib_dir == Path("calib/digits") and not o.hardware_compatible and o.max_aux_streams is None
    with pytest.raises(TypeError):
        TensorRTOptions(calibrator="entropy")  # type: ignore[call-arg]


# ------------------------------------------------------------------------------------------------ layout rules
def test_artifact_cache_lives_in_the_backends_package():
    from workbench.core.backends import cache

    assert {"cache_key", "device_string", "get_or_build"} <= set(vars(cache))
    assert cache.cache_key({"a": 1, "b": 2}) == cache.cache_key({"b": 2, "a": 1}) and len(cache.cache_key({})) == 32
    assert importlib.util.find_spec("workbench.core.artifacts") is None  # no shim at the old path


def _backend_attribute_assignments(path: Path) -> list[str]:
    def names_a_backend(node: ast.AST) -> bool:
        return (isinstance(node, ast.Name) and node.id == "backend") or (
            isinstance(node, ast.Attribute) and node.attr == "backend"
        )

    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        for t in targets:
            if isinstance(t, ast.Attribute) and names_a_backend(t.value):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_no_code_outside_a_backend_assigns_its_attributes():
    backends = REPO / "workbench" / "core" / "backends"
    files = [p for p in (REPO / "workbench").rglob("*.py") if backends not in p.parents]
    assert [hit for p in files for hit in _backend_attribute_assignments(p)] == []
    child_src = (REPO / "workbench" / "core" / "bench" / "child.py").read_text()
    assert "hasattr(runner" not in child_src and "getattr(runner" not in child_src
