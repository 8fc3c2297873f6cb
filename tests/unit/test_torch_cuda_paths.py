"""The torch runner's CUDA branches, run on the CPU through a fake ``torch.cuda`` (no GPU here).

``FakeTorch`` is the real torch with ``cuda``, ``autocast`` and ``empty_like`` replaced by recorders: CUDA events
take their timestamps from a scripted clock and log every ``elapsed_time`` read, so the tests can tell *when* a
split was read (inside the timed call or in ``collect_timing_splits``); ``empty_like(..., pin_memory=True)`` is
recorded (the CPU build has no pinned allocator) and the tensor stays on the CPU, so the model really runs.
"""

from __future__ import annotations

import contextlib
import itertools
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from workbench.core.backends import get_backend, torch_backend  # noqa: E402
from workbench.core.backends.base import RunnerSettings  # noqa: E402
from workbench.core.errors import ConfigError  # noqa: E402
from workbench.core.profiles.schema import Profile  # noqa: E402


class FakeEvent:
    def __init__(self, cuda: FakeCuda, enable_timing: bool = False) -> None:
        assert enable_timing, "split events must time"
        self.cuda = cuda
        self.t: float | None = None

    def record(self, stream=None) -> None:
        self.t = self.cuda.tick()
        self.cuda.log.append("record")

    def elapsed_time(self, end: FakeEvent) -> float:
        assert self.t is not None and end.t is not None, "elapsed_time on an event never recorded"
        self.cuda.log.append("read")
        return end.t - self.t


class FakeStream:
    def wait_stream(self, other) -> None:
        pass


class FakeGraph:
    def __init__(self) -> None:
        self.replays = 0

    def replay(self) -> None:
        self.replays += 1


class FakeCuda:
    """``torch.cuda`` as the runner uses it. ``steps``: the clock's advance before each event record, cycled."""

    def __init__(self, steps=(10.0, 0.25, 1.5, 0.5)) -> None:
        self.clock = 0.0
        self.steps = itertools.cycle(steps)
        self.log: list[str] = []  # "record", "read", "sync", "capture+", "capture-", "side+", "side-"
        self.graphs: list[FakeGraph] = []

    def tick(self) -> float:
        self.clock += next(self.steps)
        return self.clock

    def is_available(self) -> bool:
        return True

    def Event(self, enable_timing: bool = False) -> FakeEvent:  # noqa: N802 - torch's name
        return FakeEvent(self, enable_timing)

    def Stream(self) -> FakeStream:  # noqa: N802 - torch's name
        return FakeStream()

    def current_stream(self) -> FakeStream:
        return FakeStream()

    @contextlib.contextmanager
    def stream(self, s):
        self.log.append("side+")
        yield
        self.log.append("side-")

    def CUDAGraph(self) -> FakeGraph:  # noqa: N802 - torch's name
        g = FakeGraph()
        self.graphs.append(g)
        return g

    @contextlib.contextmanager
    def graph(self, g):
        self.log.append("capture+")
        yield
        self.log.append("capture-")

    def synchronize(self) -> None:
        self.log.append("sync")

    def empty_cache(self) -> None:
        pass


class FakeTorch:
    """The real torch, but with a fake ``cuda``, a recording ``autocast`` and ``empty_like`` that keeps tensors on
    the CPU and records which were asked pinned."""

    def __init__(self, cuda: FakeCuda) -> None:
        self.cuda = cuda
        self.autocasts: list[tuple[dict, list[str]]] = []  # (kwargs, the log so far)
        self.pinned: list[int] = []  # id() of every tensor allocated with pin_memory=True
        self.devices: list[str] = []

    def __getattr__(self, name):
        return getattr(torch, name)

    def autocast(self, **kw):
        self.autocasts.append((kw, list(self.cuda.log)))
        return contextlib.nullcontext()

    def empty_like(self, t, *, device=None, pin_memory=False):
        out = torch.empty_like(t, device="cpu")
        self.devices.append(device)
        if pin_memory:
            self.pinned.append(id(out))
        return out


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc = torch.nn.Linear(8, 3)

    def forward(self, x):
        return self.fc(x), torch.relu(x).sum(dim=1)


def _profile() -> Profile:
    return Profile.model_validate(
        {"name": "cpu-test", "source_path": Path("/p/cpu-test.toml"), "device": {"name": "CPU", "kind": "cpu", "arch": "x86_64"}}
    )  # fmt: skip


@pytest.fixture
def artifact(tmp_path):
    """A built fp32 and fp16 recipe of a two-output TorchScript model (built on the real CPU torch)."""
    p = tmp_path / "net.pt"
    torch.jit.save(torch.jit.trace(Net().eval(), torch.randn(2, 8)), str(p))
    b = get_backend("torch", trust_model=True, input_shapes={"x": [2, 8]})
    return {prec: b.build(p, prec, _profile()).path for prec in ("fp32", "fp16")}


class OnFakeDevice:
    """The loaded module, whose ``.to(device)`` only records the device (the CPU build cannot move to "cuda")."""

    def __init__(self, module, moved: list[str], fail: bool = False) -> None:
        self.module, self.moved, self.fail = module, moved, fail

    def to(self, device):
        if self.fail:
            raise RuntimeError("CUDA error: out of memory")
        self.moved.append(str(device))
        return self

    def __call__(self, *args):
        return self.module(*args)


@pytest.fixture
def fake(monkeypatch):
    cuda = FakeCuda()
    ft = FakeTorch(cuda)
    ft.moved = []
    ft.fail_move = False
    real_load = torch_backend.load_module
    monkeypatch.setattr(torch_backend, "import_torch", lambda: ft)
    monkeypatch.setattr(torch_backend, "load_module", lambda *a: OnFakeDevice(real_load(*a), ft.moved, ft.fail_move))
    return ft


def test_a_model_that_cannot_move_to_cuda_is_an_error_not_a_cpu_run(artifact, fake):
    from workbench.core.errors import ModelError

    fake.fail_move = True
    with pytest.raises(ModelError, match="could not move .* to cuda: RuntimeError: CUDA error: out of memory"):
        with torch_backend.TorchRunner(artifact["fp32"], RunnerSettings()):
            pass


def _feeds() -> dict:
    return {"x": np.arange(16, dtype=np.float32).reshape(2, 8) / 10}


def test_splits_are_recorded_in_the_call_and_read_only_in_collect(artifact, fake):
    """Defect 4: the timed call records CUDA events and never reads them; collect_timing_splits reads them (the
    child calls it between batches), and the four trtexec keys carry H2D / compute / D2H / their sum."""
    with torch_backend.TorchRunner(artifact["fp32"], RunnerSettings()) as r:
        assert r.device == "cuda" and r.pending_splits_limit == torch_backend.RING_SETS
        call = r.prepare(_feeds())
        fake.cuda.log.clear()
        for _ in range(5):
            call()
        assert fake.cuda.log.count("record") == 20 and "read" not in fake.cuda.log  # nothing read while timed
        r.collect_timing_splits()
        assert fake.cuda.log.count("read") == 15  # h2d, compute, d2h per query, after the calls
        s = r.timing_splits()
    assert s["h2d_ms"] == [0.25] * 5 and s["gpu_compute_ms"] == [1.5] * 5 and s["d2h_ms"] == [0.5] * 5
    assert s["latency_ms"] == [2.25] * 5  # trtexec's Latency = H2D + GPU compute + D2H
    assert s["device"] == "cuda" and s["include_transfers"] is True and s["cuda_graph"] is False
    assert "compute_ms" not in s


def test_warm_up_splits_are_dropped_pending_ones_included(artifact, fake):
    """Defect 3: reset_timing_splits (the child calls it when warm-up ends) forgets read and pending splits."""
    with torch_backend.TorchRunner(artifact["fp32"], RunnerSettings()) as r:
        call = r.prepare(_feeds())
        for _ in range(3):
            call()
        r.collect_timing_splits()  # some read ...
        for _ in range(4):
            call()  # ... and some pending
        r.reset_timing_splits()
        assert r.timing_splits()["gpu_compute_ms"] == []
        for _ in range(2):
            call()
        s = r.timing_splits()  # timing_splits collects first
    assert s["gpu_compute_ms"] == [1.5, 1.5] and s["latency_ms"] == [2.25, 2.25]


def test_a_full_ring_reads_the_oldest_set_rather_than_lose_it(artifact, fake, monkeypatch):
    monkeypatch.setattr(torch_backend, "RING_SETS", 3)
    with torch_backend.TorchRunner(artifact["fp32"], RunnerSettings()) as r:
        call = r.prepare(_feeds())
        fake.cuda.log.clear()
        for _ in range(3):
            call()
        assert "read" not in fake.cuda.log
        call()  # the ring is full: the oldest set is read inside this call before it is reused
        assert fake.cuda.log.count("read") == 3
        assert len(r.timing_splits()["gpu_compute_ms"]) == 4


def test_transfers_off_latency_is_compute(artifact, fake):
    fake.cuda.steps = itertools.cycle((10.0, 2.0))  # two events a query: before and after the compute
    with torch_backend.TorchRunner(artifact["fp32"], RunnerSettings(include_transfers=False)) as r:
        call = r.prepare(_feeds())
        for _ in range(3):
            out = call()
        s = r.timing_splits()
    assert s["gpu_compute_ms"] == [2.0] * 3 and s["latency_ms"] == [2.0] * 3
    assert s["h2d_ms"] == [] and s["d2h_ms"] == [] and s["include_transfers"] is False
    assert isinstance(out, tuple) and id(out[0]) not in fake.pinned  # outputs left where they were computed


def test_inputs_and_outputs_go_through_pinned_host_buffers(artifact, fake, monkeypatch):
    """Defect 11: host inputs and output host buffers are pinned and copied with non_blocking=True."""
    copies: list[tuple[int, int, bool]] = []
    real_copy = torch.Tensor.copy_

    def spy(self, src, non_blocking=False):
        copies.append((id(self), id(src), non_blocking))
        return real_copy(self, src, non_blocking)

    with torch_backend.TorchRunner(artifact["fp32"], RunnerSettings()) as r:
        monkeypatch.setattr(torch.Tensor, "copy_", spy)
        call = r.prepare(_feeds())
        copies.clear()
        out = call()
        monkeypatch.undo()
        assert fake.devices.count("cuda") == 1  # one device input
        assert isinstance(out, tuple) and all(id(t) in fake.pinned for t in out)  # outputs land in pinned memory
        ref = Net().eval()(torch.from_numpy(_feeds()["x"]))
        np.testing.assert_allclose(out[0].numpy(), ref[0].detach().numpy(), rtol=1e-6)
        np.testing.assert_allclose(out[1].numpy(), ref[1].detach().numpy(), rtol=1e-6)
        # the timed call: one H2D copy from a pinned input, two D2H copies into pinned outputs, all non-blocking
        assert len(copies) == 3 and all(nb for _, _, nb in copies)
        assert copies[0][1] in fake.pinned
        assert {dst for dst, _, _ in copies[1:]} == {id(t) for t in out}
        again = r.infer(_feeds())  # infer: outputs copied out of the pinned buffers, no split recorded
        np.testing.assert_allclose(again["output_0"], ref[0].detach().numpy(), rtol=1e-6)
        assert r.timing_splits()["gpu_compute_ms"] == [1.5]


def test_cuda_graph_capture_and_its_warm_up_run_autocast_without_cache(artifact, fake):
    """Defect 13: capture under autocast needs cache_enabled=False (PyTorch's CUDA graphs notes), in the warm-up
    on the side stream before capture as in the capture itself; the eager path keeps autocast's default."""
    with torch_backend.TorchRunner(artifact["fp16"], RunnerSettings(cuda_graph=True)) as r:
        call = r.prepare(_feeds())
        out = call()
        call()
        s = r.timing_splits()
    side = [kw for kw, log in fake.autocasts if log.count("side+") > log.count("side-")]
    capture = [kw for kw, log in fake.autocasts if log.count("capture+") > log.count("capture-")]
    assert side and capture
    for kw in side + capture:
        assert kw == {"device_type": "cuda", "dtype": torch.float16, "cache_enabled": False}
    assert fake.cuda.graphs[0].replays == 2 and s["cuda_graph"] is True and s["gpu_compute_ms"] == [1.5, 1.5]
    assert all(id(t) in fake.pinned for t in out)


def test_eager_fp16_keeps_autocast_cache(artifact, fake):
    with torch_backend.TorchRunner(artifact["fp16"], RunnerSettings()) as r:
        r.prepare(_feeds())()
    assert fake.autocasts and all(kw == {"device_type": "cuda", "dtype": torch.float16} for kw, _ in fake.autocasts)


def test_cpu_fallback_has_empty_splits_and_no_pending_limit(artifact):
    with torch_backend.TorchRunner(artifact["fp32"], RunnerSettings(cuda_graph=True)) as r:
        assert r.device == "cpu" or torch.cuda.is_available()
        if r.device == "cpu":
            assert r.pending_splits_limit is None
            r.prepare(_feeds())()
            r.reset_timing_splits()
            r.collect_timing_splits()
            s = r.timing_splits()
            assert all(s[k] == [] for k in ("h2d_ms", "gpu_compute_ms", "d2h_ms", "latency_ms"))
            assert s["cuda_graph"] is False and s["include_transfers"] is False


def test_compile_on_torchscript_is_refused_at_build(tmp_path):
    """Defect 12: compile=True on TorchScript was a no-op (old torch) or a RuntimeError traceback (torch 2.13)."""
    p = tmp_path / "net.pt"
    torch.jit.save(torch.jit.trace(Net().eval(), torch.randn(2, 8)), str(p))
    b = get_backend("torch", trust_model=True, compile=True, input_shapes={"x": [2, 8]})
    with pytest.raises(ConfigError, match="is TorchScript: compile") as info:
        b.build(p, "fp32", _profile())
    assert str(p) in str(info.value) and "ExportedProgram" in (info.value.hint or "")
    # a recipe written before the refusal is refused by the runner the same way
    art = get_backend("torch", trust_model=True, input_shapes={"x": [2, 8]}).build(p, "fp32", _profile())
    import json

    recipe = json.loads(art.path.read_text())
    recipe["compile"] = True
    with pytest.raises(ConfigError, match="is TorchScript: compile"):
        torch_backend.TorchRunner.from_recipe(recipe, RunnerSettings()).activate()
