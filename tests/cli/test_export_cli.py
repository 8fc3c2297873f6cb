"""`workbench export`: TorchScript, ExportedProgram and state dict + factory exported, verified against torch,
dynamic batch checked at batch 2 (fake-dynamic exports caught), full pickles refused without --trust-model.

Runs `main()` in-process (torch is already imported by these tests; a subprocess would pay its import again).
"""

from __future__ import annotations

import json
import sys
import textwrap

import numpy as np
import onnx
import pytest

torch = pytest.importorskip("torch")

from workbench.cli.main import main  # noqa: E402

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

    class FixedBatch(Net):
        # The batch is baked into the graph: x.reshape(1, 6) only works at batch 1.
        def forward(self, x):
            return self.fc2(torch.tanh(self.fc1(x.reshape(1, 6))))

    def build():
        torch.manual_seed(0)
        return Net()
    """
)


@pytest.fixture
def netmod(tmp_path, monkeypatch):
    (tmp_path / "wbexpnet.py").write_text(NET_SRC)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("wbexpnet", None)
    import wbexpnet

    yield wbexpnet
    sys.modules.pop("wbexpnet", None)


def _ort(path, x):
    import onnxruntime as ort

    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return s.run(None, {s.get_inputs()[0].name: x})[0]


def _export(capsys, *args):
    rc = main(["export", *args, "--json"])
    out = capsys.readouterr()
    return rc, (json.loads(out.out) if rc == 0 else None), out.err


def _batch_dim(path):
    d = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim[0]
    return d.dim_param or d.dim_value


def test_torchscript_export_with_dynamic_batch(tmp_path, netmod, capsys):
    net = netmod.build().eval()
    src = tmp_path / "net.pt"
    torch.jit.save(torch.jit.script(net), src)
    out = tmp_path / "out" / "net.onnx"
    rc, doc, err = _export(
        capsys, str(src), "--trust-model", "--input-shape", "x:1x6", "--dynamic-batch", "-o", str(out)
    )
    assert rc == 0, err
    assert doc["exporter"] == "torchscript" and doc["opset"] == 17 and doc["dynamic_batch"] is True
    assert doc["cosine"] > 0.99999 and doc["max_abs"] < 1e-5
    assert doc["batch2_cosine"] > 0.99999 and doc["batch2_max_abs"] < 1e-5
    assert _batch_dim(out) == "batch"
    x = np.random.default_rng(7).standard_normal((3, 6)).astype(np.float32)  # batch 3: really dynamic
    np.testing.assert_allclose(_ort(out, x), net(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_exported_program_export(tmp_path, netmod, capsys):
    pytest.importorskip("onnxscript")
    net = netmod.build().eval()
    src = tmp_path / "net.pt2"
    batch = torch.export.Dim("batch", min=1, max=64)
    torch.export.save(torch.export.export(net, (torch.zeros(4, 6),), dynamic_shapes={"x": {0: batch}}), src)
    out = tmp_path / "ep.onnx"
    rc, doc, err = _export(capsys, str(src), "--trust-model", "--dynamic-batch", "-o", str(out))
    assert rc == 0, err
    # no --opset: the dynamo exporter's own opset, unconverted, and said so
    assert doc["exporter"] == "dynamo" and doc["opset_asked"] is None and doc["opset"] >= 18
    assert onnx.load(str(out)).opset_import[0].version == doc["opset"]
    assert doc["input_shapes"] == {"input_0": [4, 6]}  # the EP's saved example input
    assert doc["cosine"] > 0.99999 and doc["batch2_cosine"] > 0.99999
    assert isinstance(_batch_dim(out), str)  # symbolic
    x = np.random.default_rng(8).standard_normal((2, 6)).astype(np.float32)
    np.testing.assert_allclose(_ort(out, x), net(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_static_exported_program_with_dynamic_batch_is_an_error_naming_the_input(tmp_path, netmod, capsys):
    pytest.importorskip("onnxscript")
    src = tmp_path / "static.pt2"
    torch.export.save(torch.export.export(netmod.build().eval(), (torch.zeros(2, 6),)), src)
    rc, _, err = _export(capsys, str(src), "--trust-model", "--dynamic-batch", "-o", str(tmp_path / "s.onnx"))
    assert rc != 0
    assert "is not dynamic: input 'x' has a fixed batch of 2" in err
    assert "dynamic_shapes" in err  # the hint says how to fix it
    assert not (tmp_path / "s.onnx").exists()


def test_input_shape_that_breaks_an_exported_programs_guards_is_a_model_error(tmp_path, netmod, capsys):
    # torch raises a bare AssertionError ("Guard failed: x.size()[0] == 2"): it used to end as an internal error
    pytest.importorskip("onnxscript")
    src = tmp_path / "static.pt2"
    torch.export.save(torch.export.export(netmod.build().eval(), (torch.zeros(2, 6),)), src)
    rc, _, err = _export(capsys, str(src), "--trust-model", "--input-shape", "x:1x6", "-o", str(tmp_path / "s.onnx"))
    assert rc == 4
    assert "the input shapes given (1x6) do not fit the ExportedProgram" in err
    assert "saved with example inputs 2x6" in err and "dynamic_shapes" in err
    assert "internal error" not in err and "Traceback" not in err
    assert not (tmp_path / "s.onnx").exists()


def test_factory_export_of_a_state_dict(tmp_path, netmod, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    net = netmod.build().eval()
    src = tmp_path / "weights.pth"
    torch.save(net.state_dict(), src)
    out = tmp_path / "f.onnx"
    rc, _, err = _export(capsys, str(src), "--input-shape", "x:2x6", "-o", str(out))
    assert rc != 0 and "--factory" in err  # weights only: needs the code
    rc, doc, err = _export(capsys, str(src), "--factory", "wbexpnet:build", "--input-shape", "x:2x6", "-o", str(out))
    assert rc == 0, err
    assert doc["source_kind"] == "torch-state-dict" and doc["cosine"] > 0.99999
    assert _batch_dim(out) == 2  # static unless --dynamic-batch
    x = np.random.default_rng(9).standard_normal((2, 6)).astype(np.float32)
    np.testing.assert_allclose(_ort(out, x), net(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_editing_the_factory_exports_again(tmp_path, netmod, capsys, monkeypatch):
    # the export cache key held the factory's name only: an edited factory got the old export back
    import importlib

    monkeypatch.chdir(tmp_path)
    src = tmp_path / "weights.pth"
    torch.save(netmod.build().eval().state_dict(), src)
    args = ["--factory", "wbexpnet:build", "--input-shape", "x:2x6"]
    rc, first, err = _export(capsys, str(src), *args, "-o", str(tmp_path / "a.onnx"))
    assert rc == 0, err and not first["cached"]
    rc, again, err = _export(capsys, str(src), *args, "-o", str(tmp_path / "b.onnx"))
    assert rc == 0 and again["cached"]  # same factory source: the cache is used
    mod = tmp_path / "wbexpnet.py"
    mod.write_text(mod.read_text().replace("torch.tanh(", "torch.sigmoid("))  # same weights, other activation
    sys.modules.pop("wbexpnet", None)
    importlib.invalidate_caches()
    rc, edited, err = _export(capsys, str(src), *args, "-o", str(tmp_path / "c.onnx"))
    assert rc == 0, err
    assert not edited["cached"]
    x = np.random.default_rng(1).standard_normal((2, 6)).astype(np.float32)
    assert not np.allclose(_ort(tmp_path / "a.onnx", x), _ort(tmp_path / "c.onnx", x), atol=1e-3)


def test_fake_dynamic_torchscript_is_caught(tmp_path, netmod, capsys):
    """A traced reshape(1, 6) exports with a symbolic 'batch' axis yet cannot run at batch 2."""
    m = netmod.FixedBatch().eval()
    src = tmp_path / "fixed.pt"
    torch.jit.save(torch.jit.trace(m, torch.zeros(1, 6)), src)
    out = tmp_path / "fixed.onnx"
    rc, _, err = _export(capsys, str(src), "--trust-model", "--input-shape", "x:1x6", "--dynamic-batch", "-o", str(out))
    assert rc != 0
    assert "claims a dynamic batch on input 'x'" in err
    assert not out.exists()
    # Without --dynamic-batch the same model exports fine (it is a valid batch-1 model).
    rc, doc, err = _export(capsys, str(src), "--trust-model", "--input-shape", "x:1x6", "-o", str(out))
    assert rc == 0, err
    assert doc["cosine"] > 0.99999


def test_full_pickle_refused_without_trust_model(tmp_path, netmod, capsys):
    src = tmp_path / "full.pt"
    torch.save(netmod.build(), src)
    out = tmp_path / "p.onnx"
    rc, _, err = _export(capsys, str(src), "--input-shape", "x:1x6", "-o", str(out))
    assert rc != 0 and "--trust-model" in err and "wbexpnet.Net" in err
    assert not out.exists()
    rc, doc, err = _export(capsys, str(src), "--input-shape", "x:1x6", "--trust-model", "-o", str(out))
    assert rc == 0, err
    assert doc["source_kind"] == "torch-pickle" and out.is_file()
    out.unlink()
    # the old name still works (scripts written for 0.1.0)
    rc, doc, err = _export(capsys, str(src), "--input-shape", "x:1x6", "--trust-pickle", "-o", str(out))
    assert rc == 0, err
    assert doc["source_kind"] == "torch-pickle" and out.is_file()


def test_onnx_input_is_a_usage_error(tiny_matmul_model, tmp_path, capsys):
    rc = main(["export", str(tiny_matmul_model), "-o", str(tmp_path / "x.onnx")])
    assert rc == 2 and "already an ONNX model" in capsys.readouterr().err


def test_exported_program_at_the_default_opset_is_checked_against_the_targets_tensorrt(tmp_path, netmod, capfd):
    """No --opset: what the exporter writes is used (no down-conversion, so no onnxscript traceback), the summary
    says it was the exporter's choice, and the opset is checked against each TensorRT release of --target."""
    pytest.importorskip("onnxscript")
    src = tmp_path / "net.pt2"
    torch.export.save(torch.export.export(netmod.build().eval(), (torch.zeros(1, 6),)), src)
    rc = main(["export", str(src), "--trust-model", "-o", str(tmp_path / "a.onnx"), "--target", "jetson-orin-nx"])
    out, err = capfd.readouterr()
    assert rc == 0, err
    opset = onnx.load(str(tmp_path / "a.onnx")).opset_import[0].version
    assert f"opset {opset} (the exporter's own; no --opset given)" in out
    # jetson-orin-nx lists TensorRT 8.5, 8.6 (parsers up to opset 17) and 10.3 (up to 20)
    line = next(ln for ln in out.splitlines() if ln.startswith("TensorRT"))
    assert f"opset {opset} for profile jetson-orin-nx" in line
    assert "above TensorRT 8.5's limit (≤ 17): re-export with --opset 17" in line
    assert ("TensorRT 10.3 accepts it (≤ 20)" in line) == (opset <= 20)
    assert "Traceback" not in err and "Traceback" not in out
    rc = main(
        ["export", str(src), "--trust-model", "-o", str(tmp_path / "b.onnx"), "--target", "jetson-orin-nx", "--json"]
    )
    out, err = capfd.readouterr()
    doc = json.loads(out)
    assert doc["tensorrt_opset"]["profile"] == "jetson-orin-nx"
    assert [(c["release"], c["opset_max"]) for c in doc["tensorrt_opset"]["checks"]] == [
        ("8.5", 17),
        ("8.6", 17),
        ("10.3", 20),
    ]


def test_a_failed_export_prints_no_library_ir_on_stdout(tmp_path, capfd):
    """The TorchScript exporter writes "Torch IR graph at exception: graph(...)" from C++ to descriptor 1 when an
    operator has no ONNX form; with --json stdout must stay empty (nothing but the one document, and there is none),
    the error names the operator and the log that keeps the exporter's output."""

    class Svd(torch.nn.Module):
        def forward(self, x):
            return torch.linalg.svd(x)[1]

    src = tmp_path / "svd.pt"
    torch.jit.save(torch.jit.trace(Svd(), torch.randn(1, 3, 4, 4)), src)
    rc = main(
        ["export", str(src), "--trust-model", "--input-shape", "x:1x3x4x4", "-o", str(tmp_path / "s.onnx"), "--json"]
    )
    out, err = capfd.readouterr()
    assert rc == 4
    assert out == ""
    assert "Torch IR graph" not in err and "Traceback" not in err
    assert "aten::linalg_svd" in err and err.startswith("error: exporting")
    log = err.rsplit("the exporter's own output is in ", 1)[1].split()[0]
    assert "Torch IR graph at exception" in open(log, encoding="utf-8").read()


def test_a_damaged_state_dict_archive_is_a_model_error_with_a_hint(tmp_path, netmod, capsys, monkeypatch):
    import zipfile

    monkeypatch.chdir(tmp_path)
    src = tmp_path / "bad.pt"
    with zipfile.ZipFile(src, "w") as z:  # a state dict's pickle, but no 'version' record: torch refuses it
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    rc, _, err = _export(capsys, str(src), "--factory", "wbexpnet:build", "--input-shape", "x:2x6", "-o", "o.onnx")
    assert rc == 4
    assert "error: cannot load" in err and "with torch" in err
    assert "hint: the file is damaged or not a torch.save" in err and "Traceback" not in err
