"""FP16 ONNX for strongly typed TensorRT builds (issue 15, item 2): nodes past FP16's safe range stay FP32.

Models here are constructed (small, planted out-of-range values); each test walks the converted graph and runs it
under onnxruntime against the FP32 model, and shows the plain whole-model FP16 copy failing on the same input.
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).parent))
from _trt_fake import fake_trt  # noqa: E402

from workbench.core.backends.tensorrt.compat import Compat  # noqa: E402
from workbench.core.errors import Cancelled  # noqa: E402
from workbench.core.precision.autocast import (  # noqa: E402
    DATA_MAX,
    INIT_MAX,
    FeedSource,
    TypedFp16,
    fp16_route,
    read_record,
    record_for,
    to_fp16_typed,
    typed_cache_paths,
)
from workbench.core.precision.fp16 import to_fp16  # noqa: E402

FP16_MAX = float(np.finfo(np.float16).max)


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))


def _save(path: Path, nodes, inits, out_shape) -> Path:
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
        [numpy_helper.from_array(a, n) for n, a in inits.items()],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, str(path))
    return path


def matmul_plant(path: Path) -> Path:
    """x[4,32] → mm1 → relu → **mm_big** (weights 1e4…2e4, each below 65504: its *output* reaches ≈ 2e5) → split
    (Reshape 4x4x8) → scale (×1e-4, back to ≈ 20) → add → merge (Reshape 4x32) → mm3 → y[4,8]."""
    rng = np.random.default_rng(0)
    inits = {
        "W1": (rng.standard_normal((32, 32)) / np.sqrt(32)).astype(np.float32),
        "Wb": rng.uniform(1e4, 2e4, (32, 32)).astype(np.float32),
        "s": np.array(1e-4, np.float32),
        "b": rng.standard_normal(8).astype(np.float32),
        "W3": (rng.standard_normal((32, 8)) / np.sqrt(32)).astype(np.float32),
        "shp": np.array([4, 4, 8], np.int64),
        "shp2": np.array([4, 32], np.int64),
    }
    nodes = [
        helper.make_node("MatMul", ["x", "W1"], ["h1"], name="mm1"),
        helper.make_node("Relu", ["h1"], ["r1"], name="relu"),
        helper.make_node("MatMul", ["r1", "Wb"], ["h2"], name="mm_big"),
        helper.make_node("Reshape", ["h2", "shp"], ["h2r"], name="split"),
        helper.make_node("Mul", ["h2r", "s"], ["h3"], name="scale"),
        helper.make_node("Add", ["h3", "b"], ["h4"], name="add"),
        helper.make_node("Reshape", ["h4", "shp2"], ["h5"], name="merge"),
        helper.make_node("MatMul", ["h5", "W3"], ["y"], name="mm3"),
    ]
    return _save(path, nodes, inits, [4, 8])


def gain_plant(path: Path) -> Path:
    """x[4,32] → mm1 → relu → **gain** (× a 1e6 initializer, past FP16's 65504) → add → y[4,32] (≈ 1e6)."""
    rng = np.random.default_rng(1)
    inits = {
        "W1": (rng.standard_normal((32, 32)) / np.sqrt(32)).astype(np.float32),
        "g": np.array(1e6, np.float32),
        "b": rng.standard_normal(32).astype(np.float32),
    }
    nodes = [
        helper.make_node("MatMul", ["x", "W1"], ["h1"], name="mm1"),
        helper.make_node("Relu", ["h1"], ["r1"], name="relu"),
        helper.make_node("Mul", ["r1", "g"], ["h2"], name="gain"),
        helper.make_node("Add", ["h2", "b"], ["y"], name="add"),
    ]
    return _save(path, nodes, inits, [4, 32])


def feeds(n: int = 4, seed0: int = 0) -> FeedSource:
    def gen():
        for s in range(seed0, seed0 + n):
            yield {"x": np.random.default_rng(s).standard_normal((4, 32)).astype(np.float32)}

    return FeedSource(f"{n} test feeds", f"test:{n}:{seed0}", gen)


def run(path: Path, x: np.ndarray, model: onnx.ModelProto | None = None) -> list[np.ndarray]:
    src = model.SerializeToString() if model is not None else str(path)
    return ort.InferenceSession(src, providers=["CPUExecutionProvider"]).run(None, {"x": x})


def tensor_types(model: onnx.ModelProto) -> dict[str, int]:
    """elem_type of every tensor of the (shape-inferred) model: inputs, outputs, value_info, initializers."""
    m = onnx.shape_inference.infer_shapes(model)
    g = m.graph
    types = {v.name: v.type.tensor_type.elem_type for v in (*g.input, *g.output, *g.value_info)}
    types.update({i.name: i.data_type for i in g.initializer})
    return types


def float_io(node, types: dict[str, int]) -> set[int]:
    """The float element types a node reads and writes (int64 shapes left out)."""
    floats = {TensorProto.FLOAT, TensorProto.FLOAT16}
    return {types[t] for t in (*node.input, *node.output) if t and types.get(t) in floats}


HELD_OUT = np.random.default_rng(99).standard_normal((4, 32)).astype(np.float32)


def test_planted_matmul_stays_fp32_the_rest_fp16_and_output_matches_fp32(tmp_path: Path) -> None:
    model = matmul_plant(tmp_path / "m.onnx")
    r = to_fp16_typed(model, feeds())
    assert r.samples == 4 and r.data_max == DATA_MAX == 512 and r.init_max == INIT_MAX == FP16_MAX
    # The planted MatMul for its output; the Reshape that carries the values and the Mul that reads them for their
    # inputs (AutoCast's I/O rule: a reader through FP16 would see inf).
    assert [(k.node, k.op) for k in r.kept] == [("mm_big", "MatMul"), ("split", "Reshape"), ("scale", "Mul")]
    assert "output 'h2'" in r.kept[0].reason and "data_max 512" in r.kept[0].reason
    assert "input 'h2'" in r.kept[1].reason and "input 'h2r'" in r.kept[2].reason
    h2 = run(model, HELD_OUT, _with_output(onnx.load(str(model)), "h2", TensorProto.FLOAT))[1]
    assert r.kept[0].observed_max > FP16_MAX and np.abs(h2).max() > FP16_MAX  # the plant really leaves FP16's range

    conv = onnx.load(str(r.path))
    types = tensor_types(conv)
    by_name = {n.name: n for n in conv.graph.node}
    for name in ("mm_big", "split", "scale"):
        assert float_io(by_name[name], types) == {TensorProto.FLOAT}, name
    for name in ("mm1", "relu", "add", "merge", "mm3"):
        assert float_io(by_name[name], types) == {TensorProto.FLOAT16}, name
    assert (
        types["Wb"] == TensorProto.FLOAT and types["W1"] == TensorProto.FLOAT16 and types["W3"] == TensorProto.FLOAT16
    )
    assert types["x"] == TensorProto.FLOAT and types["y"] == TensorProto.FLOAT  # keep_io_types
    # No FP32 → FP16 → FP32 round trip of the converter left between kept nodes: h2 never passes through FP16.
    producer = {t: n for n in conv.graph.node for t in n.output}
    for n in conv.graph.node:
        src = producer.get(n.input[0]) if n.op_type == "Cast" and n.input else None
        assert not (src is not None and src.op_type == "Cast"), f"Cast pair {src.name} → {n.name}"

    ref = run(model, HELD_OUT)[0]
    got = run(r.path, HELD_OUT)[0]
    assert got.dtype == np.float32 and np.isfinite(got).all()
    np.testing.assert_allclose(got, ref, rtol=2e-2, atol=2e-2 * float(np.abs(ref).max()))

    # The plain whole-model FP16 copy declares h2 float16, which is what a strongly typed engine computes it in:
    # made to hold it (as an output in its declared type) it is all inf. (onnxruntime's CPU kernels compute the
    # plain copy's MatMul in float32 between Casts they remove again, so its final output hides this.)
    plain = onnx.load(str(to_fp16(model)))
    assert tensor_types(plain)["h2"] == TensorProto.FLOAT16
    held = run(model, HELD_OUT, _with_output(plain, "h2", TensorProto.FLOAT16))[1]
    assert held.dtype == np.float16 and np.isinf(held).all()


def _with_output(model: onnx.ModelProto, name: str, elem_type: int) -> onnx.ModelProto:
    model.graph.output.append(helper.make_tensor_value_info(name, elem_type, None))
    return model


def test_initializer_past_fp16_max_keeps_its_node_and_the_value(tmp_path: Path) -> None:
    model = gain_plant(tmp_path / "g.onnx")
    r = to_fp16_typed(model, feeds())
    kept = {k.node: k for k in r.kept}
    assert set(kept) == {"gain", "add"}
    assert "initializer 'g' reaches 1e+06" in kept["gain"].reason and kept["gain"].observed_max == 1e6
    assert "data_max 512" in kept["add"].reason and kept["add"].observed_max > 1e5  # ≈ 1e6 through the Add
    conv = onnx.load(str(r.path))
    types = tensor_types(conv)
    g = next(i for i in conv.graph.initializer if i.name == "g")
    assert g.data_type == TensorProto.FLOAT and numpy_helper.to_array(g) == np.float32(1e6)
    by_name = {n.name: n for n in conv.graph.node}
    assert float_io(by_name["mm1"], types) == {TensorProto.FLOAT16}
    assert float_io(by_name["gain"], types) == {TensorProto.FLOAT}

    ref = run(model, HELD_OUT)[0]
    got = run(r.path, HELD_OUT)[0]
    rel = float(np.abs(got - ref).max() / np.abs(ref).max())
    assert rel < 1e-2
    # The plain copy clamps the 1e6 initializer to 65504 (onnxruntime's converter): its output is ≈ 15x too small.
    plain = run(to_fp16(model), HELD_OUT)[0]
    big = np.abs(ref) > 1e3
    ratio = np.median(ref[big] / plain[big])
    assert ratio == pytest.approx(1e6 / FP16_MAX, rel=1e-2)


def test_nothing_out_of_range_converts_everything(tmp_path: Path) -> None:
    model = matmul_plant(tmp_path / "m.onnx")
    r = to_fp16_typed(model, feeds(), data_max=1e7, init_max=1e7)  # bounds above every value of the model
    assert r.kept == ()
    conv = onnx.load(str(r.path))
    types = tensor_types(conv)
    assert all(float_io(n, types) == {TensorProto.FLOAT16} for n in conv.graph.node if n.op_type != "Cast")


def test_cached_with_its_record_and_keyed_by_feeds(tmp_path: Path) -> None:
    model = matmul_plant(tmp_path / "m.onnx")
    first = to_fp16_typed(model, feeds())
    mtime = first.path.stat().st_mtime_ns
    again = to_fp16_typed(model, feeds())
    assert again.cached and again.path == first.path and again.kept == first.kept
    assert first.path.stat().st_mtime_ns == mtime
    _, record = typed_cache_paths(model, feeds(), DATA_MAX, INIT_MAX)
    rec = read_record(record)
    assert rec is not None and rec.kept == first.kept and rec.feeds == "4 test feeds"
    assert TypedFp16.from_dict(json.loads(json.dumps(first.to_dict()))) == first
    other = to_fp16_typed(model, feeds(2, seed0=10))  # other feeds: other key, measured again
    assert not other.cached and other.path != first.path and other.samples == 2
    first.path.unlink()  # a record without its model is not a cache hit
    assert read_record(record) is None and not to_fp16_typed(model, feeds()).cached


def test_cancel_between_feeds(tmp_path: Path) -> None:
    model = matmul_plant(tmp_path / "m.onnx")
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        to_fp16_typed(model, feeds(), cancel=cancel)


@pytest.mark.parametrize(
    ("backend", "release", "strongly_typed", "typed"),
    [
        ("tensorrt", "11.1", False, True),  # no FP16 flag: precision from the ONNX
        ("tensorrt", "11.0", True, True),
        ("tensorrt", "10.16", False, False),  # flag path stays
        ("tensorrt", "10.3", True, True),  # strongly_typed asked on 10.x
        ("tensorrt", "8.6", True, False),  # no strongly typed networks before 10.0
        ("tensorrt", None, True, True),  # no TensorRT here: the profile decides
        ("tensorrt", None, False, False),
        ("onnxruntime", None, True, False),
    ],
)
def test_route_from_profile_and_compat_values(backend, release, strongly_typed, typed) -> None:
    c = Compat(fake_trt(release)) if release else None
    route = fp16_route(
        backend,
        c.precision_mode() if c else None,
        strongly_typed,
        c.has("strongly_typed") if c else None,
        c.version_string if c else "",
    )
    assert route.typed is typed and route.reason


def _trt_job(model: Path, release: str | None, **request):
    from workbench.core import workflow

    job = workflow.prepare(
        workflow.JobRequest(model=str(model), profile="jetson-thor", store=False, **request), backend_needed=False
    )
    compat = Compat(fake_trt(release)) if release else None
    return replace(job, backend=SimpleNamespace(name="tensorrt", compat=compat) if compat else None)


def test_workflow_fp16_for_tensorrt_11_is_the_typed_model(tmp_path: Path) -> None:
    from workbench.core import workflow

    model = matmul_plant(tmp_path / "m.onnx")
    messages: list[str] = []
    path, cal = workflow.precision_model(_trt_job(model, "11.1"), "fp16", lambda p: messages.append(p.message))
    assert cal is None and path.name.endswith(".typed.fp16.onnx")
    rec = record_for(path)
    assert rec is not None and [k.node for k in rec.kept] == ["mm_big", "split", "scale"]
    assert rec.feeds.startswith(f"{workflow.RANDOM_REFERENCE_FEEDS} seeded random feeds") and "--calib" in rec.feeds
    assert any("3 node(s) kept FP32: mm_big (MatMul" in m for m in messages)
    assert any("TensorRT 11.1.0 builds strongly typed" in m for m in messages)

    # TensorRT 10 (flag path): the whole-model FP16 copy, as before.
    path10, _ = workflow.precision_model(_trt_job(model, "10.16"), "fp16")
    assert path10 == to_fp16(model) and record_for(path10) is None

    # With a calibration set, its samples are the reference feeds.
    calib = tmp_path / "calib"
    calib.mkdir()
    for i in range(3):
        np.save(calib / f"s{i}.npy", np.random.default_rng(i).standard_normal((4, 32)).astype(np.float32))
    path_c, _ = workflow.precision_model(_trt_job(model, "11.1", calib=str(calib)), "fp16")
    rec_c = record_for(path_c)
    assert rec_c is not None and rec_c.samples == 3 and rec_c.feeds.startswith(f"calibration set {calib}")
