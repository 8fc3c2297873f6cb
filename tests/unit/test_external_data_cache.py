"""Cache keys cover ONNX external data, and artifacts derived from an external-data model load (issue 18 item 6).

Two folders with byte-identical ``model.onnx`` next to different ``weights.bin`` are different models: each gets its own
optimized artifact, FP16 copy and QDQ model, and each runs with its own weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from workbench.core.backends.base import RunnerSettings
from workbench.core.backends.ort import OrtBackend
from workbench.core.errors import ModelError
from workbench.core.fsutil import sha256_file
from workbench.core.models import fingerprint
from workbench.core.models.fingerprint import model_sha256
from workbench.core.precision.datasets import model_inputs, open_dataset
from workbench.core.precision.fp16 import to_fp16
from workbench.core.precision.quantize import quantize_qdq
from workbench.core.profiles import load_profile

FEATURES = 32  # W is 32x32: 2 KiB in FP16, over onnx.save's 1 KiB external-data threshold, so the FP16 copy has some


def _graph(seed: int) -> onnx.ModelProto:
    """y = x @ W + B, x [batch, 32] float32; W, B drawn with ``seed``. (No Relu at the output: the INT8 recipe drops
    it there, a defect of its own, reported apart.)"""
    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array(rng.standard_normal((FEATURES, FEATURES)).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.standard_normal((FEATURES,)).astype(np.float32), "B")
    g = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["h"], name="mm"),
            helper.make_node("Add", ["h", "B"], ["y"], name="add"),
        ],
        "ext",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", FEATURES])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", FEATURES])],
        [w, b],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def _external_model(folder: Path, seed: int) -> Path:
    folder.mkdir(parents=True)
    path = folder / "model.onnx"
    onnx.save(_graph(seed), str(path), save_as_external_data=True, location="weights.bin", size_threshold=0)
    return path


@pytest.fixture
def twins(tmp_path) -> tuple[Path, Path]:
    """Two external-data models: identical model.onnx bytes, different weights.bin."""
    a = _external_model(tmp_path / "a", 0)
    b = _external_model(tmp_path / "b", 1)
    assert a.read_bytes() == b.read_bytes()
    assert (a.parent / "weights.bin").read_bytes() != (b.parent / "weights.bin").read_bytes()
    return a, b


X = np.random.default_rng(7).standard_normal((4, FEATURES)).astype(np.float32)


def _run(path: Path) -> np.ndarray:
    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"]).run(None, {"x": X})[0]


def test_model_sha256_covers_external_data(twins, tmp_path):
    a, b = twins
    assert sha256_file(a) == sha256_file(b)  # what the keys hashed before
    assert model_sha256(a) != model_sha256(b)
    # A self-contained model keeps its old key (existing cache entries stay valid).
    plain = tmp_path / "plain.onnx"
    onnx.save(_graph(0), str(plain))
    assert model_sha256(plain) == sha256_file(plain)


def test_inspect_names_the_model_by_its_content_with_external_data(twins):
    from workbench.core.models.load import inspect_model

    a, b = twins
    assert inspect_model(a).sha256 == model_sha256(a) != inspect_model(b).sha256 == model_sha256(b)


def test_weights_changed_in_place_change_the_key(twins):
    a, _ = twins
    before = model_sha256(a)
    weights = a.parent / "weights.bin"
    data = bytearray(weights.read_bytes())
    data[0] ^= 0xFF
    weights.write_bytes(bytes(data))
    import os

    st = os.stat(weights)
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # a coarse-mtime filesystem still moves
    assert model_sha256(a) != before


def test_hashes_are_memoised_within_a_process(twins, monkeypatch):
    a, _ = twins
    fingerprint.clear_memo()
    calls: list[str] = []
    real = fingerprint.sha256_file

    def counting(path, *args, **kw):
        calls.append(Path(path).name)
        return real(path, *args, **kw)

    monkeypatch.setattr(fingerprint, "sha256_file", counting)
    first = model_sha256(a)
    assert sorted(calls) == ["model.onnx", "weights.bin"]
    assert model_sha256(a) == first and len(calls) == 2  # no file read again


@pytest.mark.parametrize("location", ["../weights.bin", "/etc/hostname"])
def test_external_data_outside_the_model_folder_is_refused(tmp_path, location):
    m = _graph(0)
    t = m.graph.initializer[0]
    t.ClearField("raw_data")
    t.ClearField("float_data")
    t.data_location = TensorProto.EXTERNAL
    t.external_data.add(key="location", value=location)
    path = tmp_path / "m" / "model.onnx"
    path.parent.mkdir()
    onnx.save(m, str(path))
    with pytest.raises(ModelError, match=r"outside the model's folder; refused") as err:
        model_sha256(path)
    assert str(path) in str(err.value) and location in str(err.value)
    with pytest.raises(ModelError, match="outside the model's folder"):
        OrtBackend().build(path, "fp32", load_profile("cpu-x86_64"))


def test_optimized_artifacts_are_separate_and_load(twins):
    a, b = twins
    profile = load_profile("cpu-x86_64")
    art_a = OrtBackend().build(a, "fp32", profile)
    art_b = OrtBackend().build(b, "fp32", profile)
    assert not art_b.cached and art_a.path != art_b.path
    assert art_a.meta["model_sha256"] == model_sha256(a)
    # The artifact has its own external data next to it (was: it named ../weights.bin-relative data it did not have).
    data = art_a.path.with_name(art_a.path.name + ".data")
    assert data.is_file() and art_a.meta["companions"] == {data.name: sha256_file(data)}
    for art, src in ((art_a, a), (art_b, b)):
        with OrtBackend().runner(art.path, RunnerSettings()) as r:
            np.testing.assert_allclose(r.infer({"x": X})["y"], _run(src), rtol=1e-5, atol=1e-5)
    assert not np.allclose(_run(a), _run(b))
    from workbench.core.workflow import _artifact_bytes

    # The size a result reports counts the weights next to the artifact.
    assert _artifact_bytes(art_a.path, art_a.meta["companions"]) == art_a.path.stat().st_size + data.stat().st_size
    again = OrtBackend().build(a, "fp32", profile)
    assert again.cached and again.path == art_a.path
    data.unlink()  # a damaged entry is rebuilt, not returned
    rebuilt = OrtBackend().build(a, "fp32", profile)
    assert not rebuilt.cached and data.is_file()


def test_fp16_of_external_data_models_builds_and_loads(twins):
    a, b = twins
    fa, fb = to_fp16(a), to_fp16(b)
    assert fa != fb
    assert fa.with_name(fa.name + ".data").is_file()  # its own external data, next to it
    for f, src in ((fa, a), (fb, b)):
        np.testing.assert_allclose(_run(f), _run(src), rtol=2e-2, atol=2e-2)
    assert to_fp16(a) == fa
    art = OrtBackend().build(fa, "fp16", load_profile("cpu-x86_64"))  # what `bench --precision fp16` runs
    with OrtBackend().runner(art.path, RunnerSettings()) as r:
        np.testing.assert_allclose(r.infer({"x": X})["y"], _run(a), rtol=2e-2, atol=2e-2)


def test_int8_of_external_data_models_builds_and_loads(twins, tmp_path):
    a, b = twins
    calib = tmp_path / "calib"
    calib.mkdir()
    rng = np.random.default_rng(3)
    for i in range(8):
        np.save(calib / f"s{i}.npy", rng.standard_normal(FEATURES).astype(np.float32))
    qa = quantize_qdq(a, open_dataset(calib, model_inputs(a)))
    qb = quantize_qdq(b, open_dataset(calib, model_inputs(b)))
    assert not qb.cached and qa.key != qb.key and qa.path != qb.path
    profile = load_profile("cpu-x86_64")
    for q, src in ((qa, a), (qb, b)):
        art = OrtBackend().build(q.path, "int8", profile)
        with OrtBackend().runner(art.path, RunnerSettings()) as r:
            got = r.infer({"x": X})["y"]
        ref = _run(src)
        # INT8 of its own weights: close to its own FP32 output (the twins' outputs differ by ~10x more).
        assert np.abs(got - ref).max() < 0.1 * np.abs(_run(a) - _run(b)).max()
    assert not np.allclose(_run(qa.path), _run(qb.path))


def test_cli_bench_twins_and_their_fp16_int8(twins, tmp_path, run_cli):
    import json

    a, b = twins
    calib = tmp_path / "calib"
    calib.mkdir()
    for i in range(4):
        np.save(calib / f"s{i}.npy", np.random.default_rng(i).standard_normal(FEATURES).astype(np.float32))
    docs = {}
    for name, model, extra in (
        ("a32", a, ["--precision", "fp32"]),
        ("b32", b, ["--precision", "fp32"]),
        ("a16", a, ["--precision", "fp16"]),
        ("b8", b, ["--precision", "int8", "--calib", str(calib)]),
    ):
        r = run_cli(
            "bench", str(model), "--profile", "cpu-x86_64", "--iterations", "20", "--no-store", "--json", *extra
        )
        assert r.returncode == 0, r.stderr
        docs[name] = json.loads(r.stdout)
    assert docs["a32"]["artifact"] != docs["b32"]["artifact"]  # was: b reused a's artifact (and a's weights)
    # the result names the model by its content, external data included: compare tells the twins apart
    assert docs["a32"]["model_sha256"] == model_sha256(a) != docs["b32"]["model_sha256"] == model_sha256(b)
    assert not docs["b32"]["artifact_cached"]
    assert docs["a16"]["precision"] == "fp16" and docs["b8"]["precision"] == "int8"
    for d in docs.values():
        assert Path(d["artifact"]).is_file()
