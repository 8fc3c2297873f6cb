"""`workbench inspect` end to end in a subprocess: exit codes, stdout data, stderr messages, never a traceback."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper


def save_matmul_add(path, **save_kwargs):
    w = numpy_helper.from_array(np.arange(8 * 4, dtype=np.float32).reshape(8, 4), "W")
    b = numpy_helper.from_array(np.zeros(4, dtype=np.float32), "B")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Add", ["h", "B"], ["y"])],
        "mm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        [w, b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="cli-test")
    model.ir_version = 8
    onnx.save(model, path, **save_kwargs)
    return path


def ok(res):
    assert "Traceback" not in res.stderr, res.stderr
    return res


def test_inspect_json_one_document(run_cli, tmp_path):
    p = save_matmul_add(tmp_path / "mm.onnx")
    res = ok(run_cli("inspect", str(p), "--json"))
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["inputs"] == [{"name": "x", "dtype": "float32", "shape": ["N", 8]}]
    assert doc["outputs"] == [{"name": "y", "dtype": "float32", "shape": ["N", 4]}]
    assert (doc["opset"], doc["ir_version"], doc["producer"]) == (17, 8, "cli-test")
    assert doc["op_histogram"] == {"Add": 1, "MatMul": 1}
    assert doc["param_count"] == 36
    assert doc["size_bytes"] == p.stat().st_size


def test_inspect_human_table(run_cli, tmp_path):
    p = save_matmul_add(tmp_path / "mm.onnx", save_as_external_data=True, location="mm.data", size_threshold=0)
    res = ok(run_cli("inspect", str(p)))
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "Format       ONNX, IR version 8, opset 17" in out
    assert "Parameters   36" in out
    assert "x     float32  [N, 8]" in out
    assert "Operators (2 nodes, 2 types)" in out
    assert "External data\n  mm.data" in out


def test_onnx_named_engine_is_reported_as_onnx(run_cli, tmp_path):
    p = save_matmul_add(tmp_path / "model.engine")
    res = ok(run_cli("inspect", str(p), "--json"))
    assert res.returncode == 0
    assert json.loads(res.stdout)["format"] == "onnx"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
        (
            lambda p: p.write_bytes(np.random.default_rng(2).integers(0, 256, 999, dtype=np.uint8).tobytes()),
            "is not a model file we recognise",
        ),  # fmt: skip
        (lambda p: p.write_bytes(save_matmul_add(p).read_bytes()[:-25]), "is truncated or corrupt"),
    ],
    ids=["empty", "random", "truncated"],
)
def test_bad_files_exit_4_naming_the_file(run_cli, tmp_path, make, message):
    p = tmp_path / "bad.onnx"
    make(p)
    res = ok(run_cli("inspect", str(p)))
    assert res.returncode == 4
    assert str(p) in res.stderr and message in res.stderr
    assert res.stdout == ""


def test_missing_external_data_exit_4_naming_it(run_cli, tmp_path):
    p = save_matmul_add(tmp_path / "mm.onnx", save_as_external_data=True, location="weights.bin", size_threshold=0)
    (tmp_path / "weights.bin").unlink()
    res = ok(run_cli("inspect", str(p)))
    assert res.returncode == 4
    assert "external data file 'weights.bin' is missing" in res.stderr


def test_missing_file(run_cli, tmp_path):
    res = ok(run_cli("inspect", str(tmp_path / "nope.onnx")))
    assert res.returncode == 4
    assert "nope.onnx does not exist" in res.stderr


def test_tensorrt_plan_without_tensorrt(run_cli, tmp_path):
    import importlib.util

    if importlib.util.find_spec("tensorrt") is not None:  # pragma: no cover
        pytest.skip("TensorRT is installed here")
    p = tmp_path / "model.bin"
    p.write_bytes(b"ftrt" + bytes(100))
    res = ok(run_cli("inspect", str(p)))
    assert res.returncode == 7
    assert "TensorRT is not available here" in res.stderr


def test_bad_input_shape_is_usage_error(run_cli, tmp_path):
    p = save_matmul_add(tmp_path / "mm.onnx")
    res = ok(run_cli("inspect", str(p), "--input-shape", "x:1xA"))
    assert res.returncode == 2
    assert "--input-shape 'x:1xA'" in res.stderr


class TestPyTorch:
    @pytest.fixture(autouse=True)
    def _torch(self):
        self.torch = pytest.importorskip("torch")

    def _net(self):
        torch = self.torch
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 2)).eval()

    def test_full_pickle_refused_naming_trust_model(self, run_cli, tmp_path):
        p = tmp_path / "model.pt"
        self.torch.save(self._net(), p)
        res = ok(run_cli("inspect", str(p)))
        assert res.returncode == 4
        assert "--trust-model" in res.stderr
        assert "torch.nn.modules.container.Sequential" in res.stderr

    def test_torchscript_without_shapes_says_how(self, run_cli, tmp_path):
        p = tmp_path / "model.pt"
        self.torch.jit.save(self.torch.jit.script(self._net()), p)
        res = ok(run_cli("inspect", str(p), "--trust-model", "--json"))
        assert res.returncode == 0
        doc = json.loads(res.stdout)
        assert doc["format"] == "torchscript" and doc["exported"] is False
        assert "--input-shape" in doc["how_to_export"] and "--trust-model" in doc["how_to_export"]

    def test_torchscript_exported_with_shapes(self, run_cli, tmp_path, workbench_home):
        p = tmp_path / "model.pt"
        self.torch.jit.save(self.torch.jit.script(self._net()), p)
        res = ok(run_cli("inspect", str(p), "--trust-model", "--input-shape", "inp:3x5", "--json"))
        assert res.returncode == 0, res.stderr
        doc = json.loads(res.stdout)  # exporter chatter must not reach stdout
        assert doc["source_format"] == "torchscript"
        assert doc["inputs"] == [{"name": "inp", "dtype": "float32", "shape": [3, 5]}]
        assert doc["param_count"] == 5 * 7 + 7 + 7 * 2 + 2
        assert doc["export"]["opset"] == 17 and doc["export"]["cosine"] > 0.99999
        assert doc["path"].startswith(str(workbench_home / "cache" / "exports"))

    def test_state_dict_is_reported_as_weights_only(self, run_cli, tmp_path):
        p = tmp_path / "weights.pt"
        self.torch.save(self._net().state_dict(), p)
        res = ok(run_cli("inspect", str(p)))
        assert res.returncode == 0
        assert "PyTorch state dict" in res.stdout
        assert "--factory" in res.stdout
