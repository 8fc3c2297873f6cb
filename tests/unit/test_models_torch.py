"""PyTorch files: detection from bytes, full-pickle refusal, and exports verified against torch (CPU torch)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import onnx
import pytest

torch = pytest.importorskip("torch")

from workbench.core import paths  # noqa: E402
from workbench.core.errors import ModelError, UsageError  # noqa: E402
from workbench.core.models.load import ensure_onnx, inspect_model  # noqa: E402
from workbench.core.models.sniff import FileKind, sniff  # noqa: E402
from workbench.core.models.torch_export import export_to_onnx  # noqa: E402

NET_SRC = textwrap.dedent(
    """
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(6, 5)
            self.fc2 = torch.nn.Linear(5, 2)

        def forward(self, x):
            return self.fc2(torch.tanh(self.fc1(x)))

    def build():
        torch.manual_seed(0)
        return Net()
    """
)


@pytest.fixture
def netmod(tmp_path, monkeypatch):
    """An importable module `wbnet` with Net and build() (as a user's own code would be)."""
    (tmp_path / "wbnet.py").write_text(NET_SRC)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("wbnet", None)
    import wbnet

    yield wbnet
    sys.modules.pop("wbnet", None)


def ort_run(path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def test_full_pickle_is_refused_naming_trust_model(tmp_path, netmod):
    p = tmp_path / "full.pt"
    torch.save(netmod.build(), p)
    assert sniff(p) is FileKind.TORCH_PICKLE
    with pytest.raises(ModelError) as err:
        ensure_onnx(p, input_shapes={"x": (1, 6)})
    msg = str(err.value)
    assert "--trust-model" in msg
    assert "wbnet.Net" in msg  # the class the pickle would import


def test_refusal_needs_no_torch_import(tmp_path, netmod):
    p = tmp_path / "full.pt"
    torch.save(netmod.build(), p)
    code = textwrap.dedent(
        f"""
        import sys
        from workbench.core.models.load import ensure_onnx
        from workbench.core.errors import ModelError
        try:
            ensure_onnx({str(p)!r})
        except ModelError as e:
            print("refused" if "--trust-model" in str(e) else str(e))
        print("torch" in sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["refused", "False"]


def test_trusted_full_pickle_exports(tmp_path, netmod):
    p = tmp_path / "full.pt"
    net = netmod.build().eval()
    torch.save(net, p)
    out = ensure_onnx(p, trust_model=True, input_shapes={"x": (3, 6)})
    x = np.linspace(-1, 1, 18, dtype=np.float32).reshape(3, 6)
    np.testing.assert_allclose(ort_run(out, x), net(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_legacy_raw_pickle_is_refused(tmp_path, netmod):
    p = tmp_path / "legacy.pt"
    torch.save(netmod.build().state_dict(), p, _use_new_zipfile_serialization=False)
    assert sniff(p) is FileKind.TORCH_PICKLE
    with pytest.raises(ModelError, match="raw Python pickle .*--trust-model"):
        ensure_onnx(p)


def test_state_dict_is_weights_only_and_needs_a_factory(tmp_path, netmod):
    p = tmp_path / "sd.pt"
    net = netmod.build().eval()
    torch.save(net.state_dict(), p)
    assert sniff(p) is FileKind.TORCH_ZIP_WEIGHTS
    loaded = torch.load(p, weights_only=True)  # the kind promises this works
    assert set(loaded) == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}
    with pytest.raises(ModelError, match="module factory"):
        ensure_onnx(p, input_shapes={"x": (1, 6)})
    out = ensure_onnx(p, input_shapes={"x": (2, 6)}, factory="wbnet:build")
    x = np.arange(12, dtype=np.float32).reshape(2, 6) / 10
    np.testing.assert_allclose(ort_run(out, x), net(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_state_dict_that_does_not_fit_the_factory(tmp_path, netmod):
    p = tmp_path / "other.pt"
    torch.save(torch.nn.Linear(3, 3).state_dict(), p)
    with pytest.raises(ModelError, match="does not fit the module"):
        ensure_onnx(p, input_shapes={"x": (1, 6)}, factory="wbnet:build")


def test_torchscript_round_trip(tmp_path, netmod):
    net = netmod.build().eval()
    p = tmp_path / "net.pt"
    torch.jit.save(torch.jit.script(net), p)
    assert sniff(p) is FileKind.TORCHSCRIPT
    with pytest.raises(UsageError, match="--input-shape"):
        ensure_onnx(p, trust_model=True)
    result = export_to_onnx(p, FileKind.TORCHSCRIPT, trust_model=True, input_shapes={"x": (4, 6)})
    assert result.path.parent == paths.cache_dir() / "exports"
    assert result.path.suffix == ".onnx" and len(result.path.stem) == 64
    assert not result.cached
    assert result.opset == 17
    assert result.cosine > 0.99999
    x = np.random.default_rng(3).standard_normal((4, 6)).astype(np.float32)
    np.testing.assert_allclose(ort_run(result.path, x), net(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    info = inspect_model(result.path)
    assert [(t.name, t.shape) for t in info.inputs] == [("x", (4, 6))]
    assert info.param_count == 6 * 5 + 5 + 5 * 2 + 2
    # same file, same settings: reused, not re-exported
    mtime = result.path.stat().st_mtime_ns
    again = export_to_onnx(p, FileKind.TORCHSCRIPT, trust_model=True, input_shapes={"x": (4, 6)})
    assert again.cached and again.path == result.path and result.path.stat().st_mtime_ns == mtime
    # no temp folders left behind
    assert [q.name for q in result.path.parent.iterdir() if q.name.startswith(".")] == []


@pytest.mark.slow
def test_exported_program_round_trip(tmp_path, netmod):
    pytest.importorskip("onnxscript")
    net = netmod.build().eval()
    p = tmp_path / "net.pt2"
    torch.export.save(torch.export.export(net, (torch.zeros(2, 6),)), p)
    assert sniff(p) is FileKind.EXPORTED_PROGRAM
    result = export_to_onnx(
        p, FileKind.EXPORTED_PROGRAM, trust_model=True, opset=17
    )  # shapes from the saved example inputs
    model = onnx.load(str(result.path))
    assert next(o.version for o in model.opset_import if o.domain == "") == 17 == result.opset_asked
    assert len(model.graph.initializer) == 4  # external_data=False: weights inside the file
    x = np.random.default_rng(5).standard_normal((2, 6)).astype(np.float32)
    np.testing.assert_allclose(ort_run(result.path, x), net(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_opset_mismatch_is_a_model_error(tmp_path, netmod, monkeypatch):
    """The dynamo exporter may write another opset than asked (seen: 18 for 17); that must fail clearly."""
    net = netmod.build().eval()
    p = tmp_path / "net.pt"
    torch.jit.save(torch.jit.script(net), p)
    real_export = torch.onnx.export

    def export_then_bump(*args, **kwargs):
        real_export(*args, **kwargs)
        path = args[2]
        m = onnx.load(path)
        m.opset_import[0].version = 18
        onnx.save(m, path)

    monkeypatch.setattr(torch.onnx, "export", export_then_bump)
    with pytest.raises(ModelError, match="opset 17 was asked but the exporter produced opset 18"):
        export_to_onnx(p, FileKind.TORCHSCRIPT, trust_model=True, input_shapes={"x": (1, 6)})
    assert not any((paths.cache_dir() / "exports").glob("*.onnx"))


def test_work_dir_overrides_the_cache_folder(tmp_path, netmod):
    p = tmp_path / "net.pt"
    torch.jit.save(torch.jit.script(netmod.build().eval()), p)
    out = ensure_onnx(p, trust_model=True, input_shapes={"x": (1, 6)}, work_dir=tmp_path / "work")
    assert out.parent == tmp_path / "work"
    assert sorted(q.suffix for q in out.parent.iterdir()) == [".json", ".onnx"]  # model + verification sidecar


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_weights_only_detection_matches_torch_weights_only_load(tmp_path, protocol):
    """Our opcode scan agrees with torch.load(weights_only=True) on what it can load."""
    m = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.BatchNorm1d(3))
    ckpt = tmp_path / "ckpt.pt"
    torch.save({"model": m.state_dict(), "epoch": 3, "lr": 0.1}, ckpt, pickle_protocol=protocol)
    whole = tmp_path / "whole.pt"
    torch.save(m, whole, pickle_protocol=protocol)
    assert sniff(whole) is FileKind.TORCH_PICKLE
    with pytest.raises(Exception):  # noqa: B017 - torch's own refusal type varies between releases
        torch.load(whole, weights_only=True)
    if protocol <= 3:
        assert sniff(ckpt) is FileKind.TORCH_ZIP_WEIGHTS
        assert torch.load(ckpt, weights_only=True)["epoch"] == 3
    else:  # torch 2.13's weights-only unpickler cannot read protocol 4 (FRAME opcode)
        with pytest.raises(Exception):  # noqa: B017
            torch.load(ckpt, weights_only=True)
        assert sniff(ckpt) is FileKind.TORCH_PICKLE
        with pytest.raises(ModelError, match="protocol 4, which torch.load.weights_only=True. cannot read"):
            ensure_onnx(ckpt, input_shapes={"x": (1, 3)})
