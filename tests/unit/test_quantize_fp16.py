"""FP16 conversion: float32 I/O kept, FP16 weights, outputs close to FP32, cached."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _calib_models import conv_net  # noqa: E402

from workbench.core.errors import ModelError  # noqa: E402
from workbench.core.precision.fp16 import to_fp16  # noqa: E402


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))


def test_fp16_keeps_io_types_and_matches(tmp_path: Path) -> None:
    model = conv_net(tmp_path / "m.onnx")
    out = to_fp16(model)
    m16 = onnx.load(str(out))
    assert m16.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert m16.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    w = next(i for i in m16.graph.initializer if i.name == "w" or i.name.startswith("w"))
    assert w.data_type == onnx.TensorProto.FLOAT16
    x = np.random.default_rng(0).random((2, 1, 8, 8), dtype=np.float32)
    ref = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=1e-2, atol=1e-2)
    mtime = out.stat().st_mtime_ns
    assert to_fp16(model) == out and out.stat().st_mtime_ns == mtime  # cached, not rewritten


def test_fp16_missing_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="nope.onnx"):
        to_fp16(tmp_path / "nope.onnx")
