"""load_onnx / inspect_model / ensure_onnx on real small ONNX models built here with onnx.helper."""

from __future__ import annotations

import hashlib

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from workbench.core.errors import BackendUnavailable, ModelError
from workbench.core.models.info import TensorSpec
from workbench.core.models.load import ensure_onnx, inspect_model, load_onnx


def matmul_add_model(rows: int = 4, cols: int = 3) -> onnx.ModelProto:
    """y = x @ W + B with x [batch, rows]; rows*cols + cols parameters."""
    w = numpy_helper.from_array(np.arange(rows * cols, dtype=np.float32).reshape(rows, cols), "W")
    b = numpy_helper.from_array(np.ones(cols, dtype=np.float32), "B")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Add", ["h", "B"], ["y"])],
        "mm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", rows])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, None])],  # unknown dims: inference fills them
        [w, b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="unit-test")
    model.ir_version = 8
    return model


def test_inspect_reports_exact_values(tmp_path):
    p = tmp_path / "mm.onnx"
    onnx.save(matmul_add_model(), p)
    info = inspect_model(p)
    assert info.inputs == (TensorSpec("x", "float32", ("batch", 4)),)
    assert info.outputs == (TensorSpec("y", "float32", ("batch", 3)),)  # from shape inference
    assert info.opset == 17
    assert info.ir_version == 8
    assert info.producer == "unit-test"
    assert info.op_histogram == {"Add": 1, "MatMul": 1}
    assert info.param_count == 4 * 3 + 3
    assert info.size_bytes == p.stat().st_size
    assert info.external_data == ()
    assert info.sha256 == hashlib.sha256(p.read_bytes()).hexdigest()
    d = info.to_dict()
    assert d["inputs"] == [{"name": "x", "dtype": "float32", "shape": ["batch", 4]}]
    assert d["param_count"] == 15


def test_histogram_sorted_by_count_and_counts_subgraphs(tmp_path):
    relu_then = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["t"])],
        "then",
        [],
        [helper.make_tensor_value_info("t", TensorProto.FLOAT, [2])],
    )
    neg_else = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["e"])],
        "else",
        [],
        [helper.make_tensor_value_info("e", TensorProto.FLOAT, [2])],
    )
    nodes = [
        helper.make_node("Relu", ["x"], ["r1"]),
        helper.make_node("Relu", ["r1"], ["r2"]),
        helper.make_node("ReduceSum", ["r2"], ["s"], keepdims=0),
        helper.make_node("Greater", ["s", "zero"], ["c"]),
        helper.make_node("If", ["c"], ["y"], then_branch=relu_then, else_branch=neg_else),
    ]
    zero = numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero")
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        [zero],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    p = tmp_path / "if.onnx"
    onnx.save(model, p)
    info = inspect_model(p)
    assert list(info.op_histogram.items()) == [("Relu", 3), ("Greater", 1), ("If", 1), ("Neg", 1), ("ReduceSum", 1)]
    assert info.param_count == 1


def test_external_data_is_listed_and_counted(tmp_path):
    p = tmp_path / "ext.onnx"
    onnx.save(matmul_add_model(64, 32), p, save_as_external_data=True, all_tensors_to_one_file=True,
              location="ext.weights", size_threshold=0)  # fmt: skip
    info = inspect_model(p)
    assert info.external_data == ("ext.weights",)
    assert info.param_count == 64 * 32 + 32
    assert info.size_bytes == p.stat().st_size + (tmp_path / "ext.weights").stat().st_size
    model = load_onnx(p)  # external data loaded into the proto
    w = next(t for t in model.graph.initializer if t.name == "W")
    assert numpy_helper.to_array(w)[63, 31] == 64 * 32 - 1


def test_missing_external_data_file_is_named(tmp_path):
    p = tmp_path / "ext.onnx"
    onnx.save(matmul_add_model(), p, save_as_external_data=True, location="weights.bin", size_threshold=0)
    (tmp_path / "weights.bin").unlink()
    with pytest.raises(ModelError) as err:
        load_onnx(p)
    assert "'weights.bin'" in str(err.value)
    assert "is missing" in str(err.value)
    assert str(p) in str(err.value)


def test_truncated_external_data_file_is_named(tmp_path):
    p = tmp_path / "ext.onnx"
    onnx.save(matmul_add_model(), p, save_as_external_data=True, location="weights.bin", size_threshold=0)
    data = (tmp_path / "weights.bin").read_bytes()
    (tmp_path / "weights.bin").write_bytes(data[:10])
    with pytest.raises(ModelError, match=r"'weights.bin' is truncated"):
        inspect_model(p)


def test_external_data_outside_the_model_folder_is_refused(tmp_path):
    model = matmul_add_model()
    t = model.graph.initializer[0]
    t.ClearField("raw_data")
    t.ClearField("float_data")
    t.data_location = TensorProto.EXTERNAL
    t.external_data.add(key="location", value="../../etc/passwd")
    p = tmp_path / "evil.onnx"
    p.write_bytes(model.SerializeToString())
    with pytest.raises(ModelError, match="outside the model's folder"):
        load_onnx(p)


def test_truncated_random_empty_files_name_the_file(tmp_path):
    good = tmp_path / "good.onnx"
    onnx.save(matmul_add_model(), good)
    data = good.read_bytes()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(data[: len(data) - 20])
    rnd = tmp_path / "random.onnx"
    rnd.write_bytes(np.random.default_rng(7).integers(0, 256, 2048, dtype=np.uint8).tobytes())
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(ModelError, match=r"cut\.onnx is truncated or corrupt"):
        load_onnx(cut)
    with pytest.raises(ModelError, match=r"random\.onnx is not a model file we recognise"):
        load_onnx(rnd)
    with pytest.raises(ModelError, match=r"empty\.onnx is empty \(0 bytes\)"):
        load_onnx(empty)


def test_graphless_and_nodeless_models_are_errors(tmp_path):
    no_graph = helper.make_model(helper.make_graph([], "g", [], []), opset_imports=[helper.make_opsetid("", 17)])
    no_graph.ClearField("graph")
    no_graph.ir_version = 8
    p1 = tmp_path / "nograph.onnx"
    p1.write_bytes(no_graph.SerializeToString())
    with pytest.raises(ModelError, match="nograph.onnx has no graph"):
        load_onnx(p1)
    empty_graph = helper.make_model(
        helper.make_graph([], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])]),
        opset_imports=[helper.make_opsetid("", 17)],
    )  # fmt: skip
    empty_graph.ir_version = 8
    p2 = tmp_path / "nonodes.onnx"
    onnx.save(empty_graph, p2)
    with pytest.raises(ModelError, match="nonodes.onnx has a graph with no nodes"):
        load_onnx(p2)


def test_checker_failure_names_the_file(tmp_path):
    model = matmul_add_model()
    model.graph.node[0].input[1] = "not_defined_anywhere"
    p = tmp_path / "broken.onnx"
    onnx.save(model, p)
    with pytest.raises(ModelError, match=r"broken\.onnx fails the ONNX checker"):
        load_onnx(p)


def test_non_onnx_kinds_are_explained(tmp_path):
    plan = tmp_path / "m.onnx"
    plan.write_bytes(b"ftrt" + bytes(64))
    with pytest.raises(ModelError, match="is a TensorRT engine .*, not an ONNX model"):
        load_onnx(plan)


def test_ensure_onnx_returns_onnx_as_is_and_refuses_plans_without_tensorrt(tmp_path):
    p = tmp_path / "renamed.engine"
    onnx.save(matmul_add_model(), p)
    assert ensure_onnx(p) == p
    import importlib.util

    plan = tmp_path / "real.engine"
    plan.write_bytes(b"ftrt" + bytes(64))
    if importlib.util.find_spec("tensorrt") is None:
        with pytest.raises(BackendUnavailable, match="TensorRT is not available here"):
            ensure_onnx(plan)
    else:  # pragma: no cover - only on TensorRT machines
        with pytest.raises(ModelError, match="cannot be converted back to ONNX"):
            ensure_onnx(plan)


def test_pytorch_file_without_torch_is_backend_unavailable(tmp_path):
    """A TorchScript archive (sniffed from its zip layout) on a machine without torch: the pip hint, no traceback."""
    import subprocess
    import sys
    import zipfile

    p = tmp_path / "net.pt"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("net/constants.pkl", b"\x80\x02).")
        zf.writestr("net/code/__torch__.py", "")
        zf.writestr("net/data.pkl", b"\x80\x02}q\x00.")
    code = (
        "import sys; sys.modules['torch'] = None\n"  # makes `import torch` raise ImportError
        "from workbench.core.models.load import ensure_onnx\n"
        "from workbench.core.errors import BackendUnavailable\n"
        "try:\n"
        f"    ensure_onnx({str(p)!r}, input_shapes={{'x': (1, 4)}}, trust_model=True)\n"
        "except BackendUnavailable as e:\n"
        "    print(e); print(e.hint)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "TorchScript archive" in out and "needs PyTorch, which is not installed here" in out
    assert "pip install -e '.[torch]'" in out


def test_a_model_path_that_is_not_utf8_is_one_clear_error(tmp_path, run_cli):
    # onnx's checker and ONNX Runtime raised a 4-line pybind11 TypeError ("incompatible function arguments")
    import os
    import shutil

    from workbench.core.paths import default_model_path

    name = os.fsdecode(b"lat\xe9.onnx")  # a Latin-1 name: a lone surrogate in Python
    shutil.copy(default_model_path(), tmp_path / name)
    for cmd in (("inspect", name), ("bench", name, "--iterations", "5", "--no-store")):
        res = run_cli(*cmd, cwd=tmp_path)
        assert res.returncode == 4, res.stderr
        assert "lat\\udce9.onnx: the path is not valid UTF-8, which ONNX, ONNX Runtime and TensorRT need" in res.stderr
        assert "hint: rename the file" in res.stderr and "TypeError" not in res.stderr
