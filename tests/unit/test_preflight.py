"""Pre-flight against TensorRT releases on small graphs built here (issue 3, "What it must show" 2)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from workbench.core.errors import ConfigError
from workbench.core.models.preflight import operator_tables, preflight, release_basis, render
from workbench.core.profiles import load_profile


def _save(tmp_path, nodes, inputs, outputs, inits=(), opset=17, name="m.onnx"):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    path = tmp_path / name
    onnx.save(model, path)
    return path


@pytest.fixture
def layernorm_model(tmp_path):
    """x[1,4,8] -> LayerNormalization (opset 17) -> Relu; fixed shapes."""
    scale = numpy_helper.from_array(np.ones(8, np.float32), "scale")
    bias = numpy_helper.from_array(np.zeros(8, np.float32), "bias")
    return _save(
        tmp_path,
        [
            helper.make_node("LayerNormalization", ["x", "scale", "bias"], ["ln"], name="ln0", axis=-1),
            helper.make_node("Relu", ["ln"], ["y"], name="relu0"),
        ],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8])],
        [scale, bias],
    )


def _by_check(report, check):
    return [f for f in report.findings if f.check == check]


def test_reference_table_is_bundled_with_its_source():
    tables = operator_tables()
    assert sorted(tables, key=lambda v: tuple(map(int, v.split(".")))) == ["8.5", "8.6", "9.3", "10.0", "10.1"]
    assert tables["8.5"]["source"] == "onnx/onnx-tensorrt release/8.5-GA:docs/operators.md"
    assert tables["8.5"]["operators"]["LayerNormalization"]["supported"] is False
    assert tables["8.6"]["operators"]["LayerNormalization"]["supported"] is True


def test_release_basis_modes():
    assert release_basis("8.6").mode == "exact" and release_basis("8.6").opset_max == 17
    b = release_basis("10.0")
    assert (b.opset_min, b.opset_max) == (9, 20)
    b = release_basis("8.2")
    assert (b.table, b.mode, b.opset_max) == ("8.5", "upper", 17)
    b = release_basis("10.3")
    assert (b.table, b.mode, b.opset_max) == ("10.1", "lower", 20)
    b = release_basis("11.0")
    assert (b.table, b.mode, b.opset_min, b.opset_max) == ("10.1", "lower", 9, 25)
    b = release_basis("10")
    assert (b.table, b.mode) == ("10.0", "exact") and "10.x" in b.note


def test_op_unsupported_in_older_release_flagged_only_for_that_profile(layernorm_model):
    old = preflight(layernorm_model, load_profile("jetson-xavier-nx"))  # TensorRT 8.0, 8.2, 8.5
    new = preflight(layernorm_model, load_profile("jetson-thor"))  # TensorRT 10
    ops = _by_check(old, "unsupported-op")
    assert len(ops) == 1
    f = ops[0]
    assert f.severity == "error" and f.nodes == ("ln0",)
    assert f.message == "LayerNormalization is not supported by TensorRT's ONNX parser"
    assert f.releases == ("8.0", "8.2", "8.5")
    assert old.verdict == "errors" and old.counts["error"] == 1
    assert _by_check(new, "unsupported-op") == [] and new.verdict == "ok"
    # A profile spanning both (Orin: 8.5, 8.6, 10.3): flagged for 8.5 only.
    orin = preflight(layernorm_model, load_profile("jetson-agx-orin"))
    assert [f.releases for f in _by_check(orin, "unsupported-op")] == [("8.5",)]
    text = render(orin)
    assert "LayerNormalization is not supported by TensorRT's ONNX parser (TensorRT 8.5): ln0" in text


def test_opset_too_new(tmp_path):
    path = _save(
        tmp_path,
        [helper.make_node("Relu", ["x"], ["y"], name="r")],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        opset=21,
    )
    rep = preflight(path, load_profile("jetson-orin-nano"))  # 8.5, 8.6 (<= 17), 10.3 (10.1 table: <= 20)
    opsets = {f.message: f for f in _by_check(rep, "opset")}
    exact = opsets["opset 21 is above what TensorRT 8.5's ONNX parser accepts (≤ 17)"]
    assert exact.severity == "error" and exact.hint == "re-export with --opset 17 (or lower)"
    assert opsets["opset 21 is above what TensorRT 8.6's ONNX parser accepts (≤ 17)"].severity == "error"
    lower = opsets["opset 21 is above what TensorRT 10.3's ONNX parser accepts (≤ 20, from the 10.1 table)"]
    assert lower.severity == "warning"  # 10.3 may accept more than 10.1 did
    ok = preflight(path, load_profile("jetson-orin-nano"), releases=["11.0"])  # 11.x parses up to 25
    assert _by_check(ok, "opset") == []


def test_dynamic_input_without_shapes(tmp_path):
    path = _save(
        tmp_path,
        [helper.make_node("Relu", ["x"], ["y"], name="r")],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3, 8, 8])],
    )
    rep = preflight(path, load_profile("jetson-orin-nano"))
    (f,) = _by_check(rep, "dynamic-shape")
    assert f.severity == "info" and f.nodes == ("x",)  # the build takes the benchmark's shapes (issue 14, 1)
    assert f.message.startswith("input 'x' has dynamic shape batchx3x8x8 and the profile gives no min/opt/max for it")
    assert "built for the benchmark's shapes" in f.message
    assert "[build.shapes.x]" in f.hint
    # With shapes in a profile that extends the shipped one: no finding.
    prof = tmp_path / "p.toml"
    prof.write_text(
        'extends = "jetson-orin-nano"\ndescription = "t"\n'
        "[build.shapes.x]\nmin = [1, 3, 8, 8]\nopt = [4, 3, 8, 8]\nmax = [8, 3, 8, 8]\n"
    )
    assert _by_check(preflight(path, load_profile(str(prof))), "dynamic-shape") == []


def test_double_int64_restrictions_and_grouping(tmp_path):
    starts = numpy_helper.from_array(np.array([0], np.int64), "starts")
    ends = numpy_helper.from_array(np.array([2**62], np.int64), "ends")
    d = numpy_helper.from_array(np.ones((1, 4), np.float64), "d")
    nodes = [
        helper.make_node("Cast", ["x"], ["xd"], name="cast", to=TensorProto.DOUBLE),
        helper.make_node("Add", ["xd", "d"], ["s"], name="addd"),
        helper.make_node("Cast", ["s"], ["f"], name="back", to=TensorProto.FLOAT),
        helper.make_node("Slice", ["f", "starts", "ends", "axes_rt"], ["sl"], name="slice"),
        helper.make_node("Shape", ["x"], ["shp"], name="shape"),
        helper.make_node("Slice", ["shp", "starts", "ends"], ["axes_rt"], name="mk_axes"),
        helper.make_node("MaxPool", ["x4"], ["p"], name="pool", kernel_shape=[2, 2], dilations=[2, 2]),
    ] + [helper.make_node("Relu", [f"r{i}"], [f"o{i}"], name=f"relu{i}") for i in range(5)]
    path = _save(
        tmp_path,
        nodes,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]),
         helper.make_tensor_value_info("x4", TensorProto.FLOAT, [1, 1, 8, 8])]
        + [helper.make_tensor_value_info(f"r{i}", TensorProto.FLOAT, [1, 4]) for i in range(5)],
        [helper.make_tensor_value_info("sl", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("p", TensorProto.FLOAT, None)]
        + [helper.make_tensor_value_info(f"o{i}", TensorProto.FLOAT, [1, 4]) for i in range(5)],
        [starts, ends, d],
    )  # fmt: skip
    rep = preflight(path, load_profile("jetson-agx-orin"))  # 8.5, 8.6, 10.3
    (dbl,) = _by_check(rep, "double")
    assert dbl.severity == "error" and set(dbl.nodes) >= {"d", "xd"}
    i64 = {f.severity: f for f in _by_check(rep, "int64-weights")}
    assert i64["error"].nodes == ("ends",) and i64["error"].releases == ("8.5", "8.6")  # 10.3 has INT64
    assert i64["warning"].nodes == ("starts",)
    restr = {f.message for f in _by_check(rep, "restriction") if f.severity == "error"}
    assert "MaxPool: dilations [2, 2] (must be all ones)" in restr
    assert "Slice: 'axes' input 'axes_rt' is computed at run time (must be an initializer)" in restr
    doc = json.loads(json.dumps(rep.to_dict()))
    assert doc["verdict"] == "errors" and doc["counts"]["error"] >= 4
    # Five Relu nodes in one grouped info line, never five lines.
    assert all(f.count == 1 or f.check != "restriction" for f in rep.findings)


def test_dla_profile_flags_layers_without_dla(tmp_path, layernorm_model):
    prof = tmp_path / "dla.toml"
    prof.write_text('extends = "jetson-agx-orin"\ndescription = "t"\n[build]\ndla_core = 0\ngpu_fallback = false\n')
    rep = preflight(layernorm_model, load_profile(str(prof)))
    assert rep.dla is True
    (f,) = _by_check(rep, "dla")
    assert f.severity == "error" and f.nodes == ("ln0",)
    assert f.message == "LayerNormalization has no DLA layer and gpu_fallback is off: the build fails"
    # Same model on the GPU-only profile: no DLA checks; forcing DLA on a board without DLA is a ConfigError.
    assert _by_check(preflight(layernorm_model, load_profile("jetson-agx-orin")), "dla") == []
    with pytest.raises(ConfigError, match="has no DLA core"):
        preflight(layernorm_model, load_profile("jetson-orin-nano"), dla=True)


def test_cli_inspect_target(run_cli, layernorm_model):
    res = run_cli("inspect", str(layernorm_model), "--target", "jetson-xavier-nx")
    assert res.returncode == 8, res.stderr
    assert "[E] LayerNormalization is not supported by TensorRT's ONNX parser: ln0" in res.stdout
    assert "Result: 1 error(s), 0 warning(s) in 1 group(s)" in res.stdout
    res = run_cli("inspect", str(layernorm_model), "--target", "jetson-thor", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert (
        doc["preflight"]["verdict"] == "ok" and doc["preflight"]["releases"][0]["table"] == "10.1"
    )  # 10.13: the newest parser table before it
