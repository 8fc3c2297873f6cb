"""The ORT backend's build and the artifact cache (backends/cache.py): reuse, sidecar, atomic entries."""

import json

import numpy as np
import onnxruntime as ort
import pytest

from workbench.core.backends import cache
from workbench.core.backends.base import RunnerSettings
from workbench.core.backends.ort import OrtBackend
from workbench.core.errors import BuildError
from workbench.core.profiles import load_profile


def test_build_then_reuse_with_sidecar(tiny_matmul_model, workbench_home):
    profile = load_profile("cpu-x86_64")
    backend = OrtBackend()
    first = backend.build(tiny_matmul_model, "fp32", profile)
    assert not first.cached and first.path.is_file()
    meta = json.loads(first.sidecar_path.read_text())
    assert meta["precision"] == "fp32" and meta["profile"] == "cpu-x86_64"
    assert meta["versions"]["onnxruntime"] == ort.__version__
    assert len(meta["model_sha256"]) == 64
    assert str(first.path).startswith(str(workbench_home))
    second = backend.build(tiny_matmul_model, "fp32", profile)
    assert second.cached and second.path == first.path
    # no temp files left behind in the entry
    assert sorted(p.name for p in first.path.parent.iterdir()) == sorted([first.path.name, "artifact.json"])
    forced = backend.build(tiny_matmul_model, "fp32", profile, force=True)
    assert not forced.cached


def test_artifact_runs_and_matches_source(tiny_matmul_model):
    profile = load_profile("cpu-x86_64")
    art = OrtBackend().build(tiny_matmul_model, "fp32", profile)
    x = np.random.default_rng(1).standard_normal((3, 16)).astype(np.float32)
    with OrtBackend().runner(art.path, RunnerSettings()) as r:
        got = r.infer({"x": x})["y"]
        assert r.input_metadata() == [("x", "float32", ("batch", 16))]
    ref = ort.InferenceSession(str(tiny_matmul_model), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_changed_model_is_a_new_entry(tiny_matmul_model, tmp_path):
    import onnx

    profile = load_profile("cpu-x86_64")
    a = OrtBackend().build(tiny_matmul_model, "fp32", profile)
    m = onnx.load(tiny_matmul_model)
    m.graph.initializer[0].float_data[:] = []
    w = np.ones((16, 16), np.float32)
    m.graph.initializer[0].CopyFrom(onnx.numpy_helper.from_array(w, "W"))
    other = tmp_path / "other.onnx"
    onnx.save(m, other)
    b = OrtBackend().build(other, "fp32", profile)
    assert a.path != b.path and not b.cached


def test_failed_build_leaves_no_entry_and_extra_key_separates(tiny_matmul_model):
    common = dict(backend="x", precision="fp32", model_path=tiny_matmul_model, profile_name="p", profile_hash="h",
                  versions={"x": "1"}, filename="a.bin")  # fmt: skip

    def failing(tmp):
        tmp.write_bytes(b"half")
        raise BuildError("runtime refused")

    with pytest.raises(BuildError, match="refused"):
        cache.get_or_build(**common, build_fn=failing)
    a = cache.get_or_build(**common, build_fn=lambda tmp: tmp.write_bytes(b"A"), extra_key={"k": 1})
    assert sorted(p.name for p in a.path.parent.iterdir()) == ["a.bin", "artifact.json"]  # no temp file left
    b = cache.get_or_build(**common, build_fn=lambda tmp: tmp.write_bytes(b"B"), extra_key={"k": 2})
    assert a.path.parent != b.path.parent and b.path.read_bytes() == b"B"
    assert cache.get_or_build(**common, build_fn=failing, extra_key={"k": 1}).cached  # a hit never builds
