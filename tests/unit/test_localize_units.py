"""Recognised subgraphs (decomposed LayerNorm, RMSNorm, Softmax, GELU) are candidates and budget units as a whole."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from workbench.core.accuracy import compare_models
from workbench.core.models.load import inspect_model
from workbench.core.precision.datasets import open_dataset
from workbench.core.precision.localize import activation_pairs, auto_exclude, localize
from workbench.core.precision.qdq_units import find_units
from workbench.core.precision.quantize import QuantOptions, quantize_qdq

D = 32


def _c(inits, name, value):
    inits.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
    return name


def torch_layernorm(x: str, p: str, inits: list) -> tuple[list, str]:
    """PyTorch's export of LayerNorm without the fused op: 9 nodes."""
    axes = p + "axes"
    inits.append(numpy_helper.from_array(np.array([-1], np.int64), axes))
    n = [
        helper.make_node("ReduceMean", [x, axes], [p + "mean"], name=p + "mean"),
        helper.make_node("Sub", [x, p + "mean"], [p + "d"], name=p + "sub"),
        helper.make_node("Pow", [p + "d", _c(inits, p + "two", 2.0)], [p + "sq"], name=p + "pow"),
        helper.make_node("ReduceMean", [p + "sq", axes], [p + "var"], name=p + "var"),
        helper.make_node("Add", [p + "var", _c(inits, p + "eps", 1e-5)], [p + "ve"], name=p + "add_eps"),
        helper.make_node("Sqrt", [p + "ve"], [p + "std"], name=p + "sqrt"),
        helper.make_node("Div", [p + "d", p + "std"], [p + "norm"], name=p + "div"),
        helper.make_node("Mul", [p + "norm", _c(inits, p + "gamma", np.linspace(0.5, 1.5, D))], [p + "g"], name=p + "mul_g"),
        helper.make_node("Add", [p + "g", _c(inits, p + "beta", np.linspace(-0.2, 0.2, D))], [p + "out"], name=p + "add_b"),
    ]  # fmt: skip
    return n, p + "out"


def keras_layernorm(x: str, p: str, inits: list) -> tuple[list, str]:
    """tf2onnx's Keras LayerNormalization: x * (gamma * rsqrt(var + eps)) + (beta - mean * gamma * rsqrt(...))."""
    axes = p + "axes"
    inits.append(numpy_helper.from_array(np.array([-1], np.int64), axes))
    n = [
        helper.make_node("ReduceMean", [x, axes], [p + "mean"], name=p + "mean"),
        helper.make_node("Sub", [x, p + "mean"], [p + "d"], name=p + "sqdiff_sub"),
        helper.make_node("Mul", [p + "d", p + "d"], [p + "sq"], name=p + "sqdiff_mul"),
        helper.make_node("ReduceMean", [p + "sq", axes], [p + "var"], name=p + "var"),
        helper.make_node("Add", [p + "var", _c(inits, p + "eps", 1e-3)], [p + "ve"], name=p + "add_eps"),
        helper.make_node("Sqrt", [p + "ve"], [p + "std"], name=p + "sqrt"),
        helper.make_node("Reciprocal", [p + "std"], [p + "rstd"], name=p + "rsqrt"),
        helper.make_node("Mul", [p + "rstd", _c(inits, p + "gamma", np.ones(D))], [p + "gr"], name=p + "mul_g"),
        helper.make_node("Mul", [x, p + "gr"], [p + "xg"], name=p + "mul_x"),
        helper.make_node("Mul", [p + "mean", p + "gr"], [p + "mg"], name=p + "mul_m"),
        helper.make_node("Sub", [_c(inits, p + "beta", np.zeros(D)), p + "mg"], [p + "bm"], name=p + "sub_b"),
        helper.make_node("Add", [p + "xg", p + "bm"], [p + "out"], name=p + "add_out"),
    ]  # fmt: skip
    return n, p + "out"


def gelu_erf(x: str, p: str, inits: list) -> tuple[list, str]:
    n = [
        helper.make_node("Div", [x, _c(inits, p + "s2", 1.4142135)], [p + "xs"], name=p + "div"),
        helper.make_node("Erf", [p + "xs"], [p + "erf"], name=p + "erf"),
        helper.make_node("Add", [p + "erf", _c(inits, p + "one", 1.0)], [p + "e1"], name=p + "add1"),
        helper.make_node("Mul", [x, p + "e1"], [p + "xe"], name=p + "mul_x"),
        helper.make_node("Mul", [p + "xe", _c(inits, p + "half", 0.5)], [p + "out"], name=p + "mul_half"),
    ]
    return n, p + "out"


def softmax_decomposed(x: str, p: str, inits: list) -> tuple[list, str]:
    axes = p + "axes"
    inits.append(numpy_helper.from_array(np.array([-1], np.int64), axes))
    n = [
        helper.make_node("ReduceMax", [x, axes], [p + "max"], name=p + "max"),
        helper.make_node("Sub", [x, p + "max"], [p + "sh"], name=p + "sub"),
        helper.make_node("Exp", [p + "sh"], [p + "exp"], name=p + "exp"),
        helper.make_node("ReduceSum", [p + "exp", axes], [p + "sum"], name=p + "sum"),
        helper.make_node("Div", [p + "exp", p + "sum"], [p + "out"], name=p + "div"),
    ]
    return n, p + "out"


def rmsnorm(x: str, p: str, inits: list) -> tuple[list, str]:
    axes = p + "axes"
    inits.append(numpy_helper.from_array(np.array([-1], np.int64), axes))
    n = [
        helper.make_node("Mul", [x, x], [p + "sq"], name=p + "sq"),
        helper.make_node("ReduceMean", [p + "sq", axes], [p + "ms"], name=p + "ms"),
        helper.make_node("Add", [p + "ms", _c(inits, p + "eps", 1e-6)], [p + "mse"], name=p + "add_eps"),
        helper.make_node("Sqrt", [p + "mse"], [p + "rms"], name=p + "sqrt"),
        helper.make_node("Div", [x, p + "rms"], [p + "out"], name=p + "div"),
    ]
    return n, p + "out"


def _model(nodes, inits, out, inputs=("x",)):
    g = helper.make_graph(
        nodes, "m", [helper.make_tensor_value_info(i, TensorProto.FLOAT, [1, 8, D]) for i in inputs],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], inits,
    )  # fmt: skip
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 8
    return m


@pytest.mark.parametrize(
    "builder, kind, count",
    [(torch_layernorm, "LayerNorm", 9), (keras_layernorm, "LayerNorm", 12), (gelu_erf, "GELU", 5),
     (softmax_decomposed, "Softmax", 5), (rmsnorm, "RMSNorm", 5)],
)  # fmt: skip
def test_each_decomposition_is_one_unit(builder, kind, count):
    inits: list = []
    pre = [helper.make_node("MatMul", ["x", _c(inits, "W0", np.eye(D))], ["h"], name="mm0")]
    body, out = builder("h", "u_", inits)
    post = [helper.make_node("MatMul", [out, _c(inits, "W1", np.eye(D))], ["y"], name="mm1")]
    (unit,) = find_units(_model([*pre, *body, *post], inits, "y"), [])
    assert unit.kind == kind and len(unit.nodes) == count
    assert set(unit.nodes) == {n.name for n in body} and unit.root == "h" and unit.output == out


def test_units_chain_and_ignore_plain_layers():
    """GELU -> LayerNorm -> residual Add (LayerNorm's input also feeds the Add): two units; MatMul/Add stay nodes."""
    inits: list = []
    pre = [helper.make_node("MatMul", ["x", _c(inits, "W0", np.eye(D))], ["h"], name="mm0")]
    g, gout = gelu_erf("h", "g_", inits)
    ln, lout = torch_layernorm(gout, "ln_", inits)
    post = [
        helper.make_node("MatMul", [lout, _c(inits, "W1", np.eye(D))], ["m"], name="mm1"),
        helper.make_node("Add", [gout, "m"], ["y"], name="residual"),
    ]
    units = find_units(_model([*pre, *g, *ln, *post], inits, "y"), [])
    assert [(u.kind, len(u.nodes)) for u in units] == [("GELU", 5), ("LayerNorm", 9)]


def test_jax2tf_layernorm_with_shape_subgraphs_is_one_unit():
    """Magika's (tf2onnx from jax) spelling: ReduceSum * 1/n, E[x^2] - mean^2, Max(0, .), Reshape/Expand to a shape
    computed from the input with Shape/Concat (int64 tensors, not float inputs of the unit)."""
    inits: list = []
    inits.append(numpy_helper.from_array(np.array([-1], np.int64), "axes"))
    inv = _c(inits, "inv_n", 1.0 / D)
    n = [
        helper.make_node("MatMul", ["x", _c(inits, "W0", np.eye(D))], ["h"], name="mm0"),
        helper.make_node("Shape", ["h"], ["shp"], name="shape"),
        helper.make_node("Slice", ["shp", "s0", "s2"], ["lead"], name="lead"),
        helper.make_node("Concat", ["lead", "one"], ["bshape"], name="bshape", axis=0),
        helper.make_node("ReduceSum", ["h", "axes"], ["sum"], name="ln/Sum"),
        helper.make_node("Mul", ["h", "h"], ["sq"], name="ln/Square"),
        helper.make_node("ReduceSum", ["sq", "axes"], ["sum2"], name="ln/Sum_1"),
        helper.make_node("Mul", ["sum2", inv], ["ex2"], name="ln/truediv_1"),
        helper.make_node("Mul", ["sum", inv], ["mean"], name="ln/truediv"),
        helper.make_node("Mul", ["mean", "mean"], ["m2"], name="ln/Square_1"),
        helper.make_node("Sub", ["ex2", "m2"], ["var"], name="ln/Sub"),
        helper.make_node("Max", [_c(inits, "zero", 0.0), "var"], ["varp"], name="ln/Maximum"),
        helper.make_node("Reshape", ["varp", "bshape"], ["varr"], name="ln/Reshape_1"),
        helper.make_node("Add", ["varr", _c(inits, "eps", 1e-6)], ["ve"], name="ln/AddV2"),
        helper.make_node("Sqrt", ["ve"], ["std"], name="ln/Rsqrt"),
        helper.make_node("Reciprocal", ["std"], ["rstd"], name="ln/Rsqrt__1"),
        helper.make_node("Mul", ["rstd", _c(inits, "gamma", np.ones(D))], ["gr"], name="ln/Mul"),
        helper.make_node("Reshape", ["mean", "bshape"], ["meanr"], name="ln/Reshape"),
        helper.make_node("Sub", ["h", "meanr"], ["d"], name="ln/Sub_1"),
        helper.make_node("Mul", ["d", "gr"], ["dn"], name="ln/Mul_1"),
        helper.make_node("Add", ["dn", _c(inits, "beta", np.zeros(D))], ["ln_out"], name="ln/AddV2_1"),
        helper.make_node("MatMul", ["ln_out", _c(inits, "W1", np.eye(D))], ["y"], name="mm1"),
    ]
    for name, v in (("s0", [0]), ("s2", [2]), ("one", [1])):
        inits.append(numpy_helper.from_array(np.array(v, np.int64), name))
    (unit,) = find_units(_model(n, inits, "y"), [])
    assert unit.kind == "LayerNorm" and len(unit.nodes) == 17
    assert all(x.startswith("ln/") for x in unit.nodes)


def build_ln_model(folder):
    """x [1, 8, 32] -> Keras-decomposed LayerNorm (12 nodes; onnxruntime's pre-processing fuses PyTorch's spelling
    into one LayerNormalization, not this one) -> MatMul -> y. Rows of x differ in scale by 1000x (log-uniform
    0.05 .. 50), as token rows do: per-tensor INT8 of the variance (and of the normalised tensor) leaves the small
    rows' statistics at zero, so INT8 ruins them; in float the LayerNorm brings every row to unit scale."""
    rng = np.random.default_rng(3)
    inits: list = []
    body, out = keras_layernorm("x", "ln/", inits)
    w = (rng.standard_normal((D, 16)) / np.sqrt(D)).astype(np.float32)
    nodes = [*body, helper.make_node("MatMul", [out, _c(inits, "W", w)], ["y"], name="proj")]
    g = helper.make_graph(
        nodes, "ln", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, D])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 16])], inits,
    )  # fmt: skip
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 8
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ln.onnx"
    onnx.save(m, path)
    cal = folder / "calib"
    cal.mkdir()
    for i in range(24):
        scale = np.exp(rng.uniform(np.log(0.05), np.log(50.0), (1, 8, 1)))
        np.save(cal / f"s{i:03d}.npy", (rng.standard_normal((1, 8, D)) * scale).astype(np.float32))
    return path, cal, [n.name for n in body]


def test_decomposed_layernorm_is_excluded_as_one_unit(tmp_path):
    model, cal, ln_nodes = build_ln_model(tmp_path)
    ds = open_dataset(cal, inspect_model(model).inputs)
    q0 = quantize_qdq(model, ds)
    qm = onnx.load(q0.path)
    inside = [p for p in activation_pairs(qm) if p.producer in ln_nodes]
    assert len(inside) >= 3  # ORT quantizes the LayerNorm's Add/Mul nodes: pairs inside the unit

    def evaluate(p):
        return compare_models(model, p, ds, thresholds={"min_cosine": 0.99}, held_out=False, metric="cosine")

    rep0 = evaluate(q0.path)
    assert rep0.verdict == "fail" and rep0.vs_fp32.cosine_mean < 0.9
    loc = localize(model, q0.path, ds.iter_feeds(), max_samples=24)
    assert [(u.kind, set(u.nodes)) for u in loc.units] == [("LayerNorm", set(ln_nodes))]
    top = next(r for r in loc.layers if r.kind == "LayerNorm")
    assert top in loc.layers[:2]  # (first: the chain into the projection, LayerNorm + MatMul, 2 units)
    assert top.units == 1 and set(top.exclude_nodes) == set(ln_nodes)
    assert top.output_cosine_if_float > 0.99
    # Every candidate's exclusion spans the whole unit: no row keeps a piece of the LayerNorm.
    for r in loc.layers:
        touched = set(r.exclude_nodes) & set(ln_nodes)
        assert not touched or touched == set(ln_nodes)

    def requantize(excluded):
        return quantize_qdq(model, ds, QuantOptions.from_any(None, nodes_to_exclude=list(excluded))).path

    # A budget of one unit takes the twelve-node LayerNorm (the old node budget stopped after a piece of it).
    ae = auto_exclude(model, loc, requantize, evaluate, max_excluded=1, first=(q0.path, rep0))
    assert ae.passed and ae.final.units == 1 and set(ae.final.excluded) == set(ln_nodes)
    assert ae.final.cosine_mean > 0.99
    assert ae.steps[-1].units == 1 and ae.stopped_because == "accuracy passes with 1 unit(s) in FP32"
    # Nothing inside the LayerNorm is quantized any more; its output still is (the projection asks for it).
    left = activation_pairs(onnx.load(ae.final_model))
    assert not [p for p in left if p.producer in ln_nodes and set(p.consumers) <= set(ln_nodes)]
    assert [p.name for p in left if p.producer in ln_nodes] == ["ln/out"]
