"""TensorRT builds and runs: FP32, FP16 (cosine vs FP32), INT8 from the QDQ model and from the legacy calibrator
(TensorRT <= 10), timing splits as trtexec counts them, transfers on/off, CUDA graphs and concurrent streams, on the
bundled digits CNN (input ``image`` [batch, 1, 8, 8], output ``logits`` [batch, 10]). Each test skips naming
TensorRT (or CUDA) where it cannot run.
"""

from __future__ import annotations

import numpy as np
import pytest
from _gpu_helpers import cosine, gpu_profile, timed_splits

pytestmark = pytest.mark.gpu

SHAPES = {"image": {"min": [1, 1, 8, 8], "opt": [8, 1, 8, 8], "max": [32, 1, 8, 8]}}


@pytest.fixture
def digits(tensorrt):
    """(bundled ONNX model, a batch of 8 inputs, the ONNX Runtime FP32 output for it)."""
    import onnxruntime as ort

    from workbench.core import paths

    model = paths.default_model_path()
    x = np.random.default_rng(0).random((8, 1, 8, 8), dtype=np.float32) * 16.0  # digits pixels are 0..16
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    return model, x, sess.run(None, {"image": x})[0]


def _build(model, precision, **options):
    from workbench.core.backends import get_backend

    b = get_backend("tensorrt", **options)
    if precision == "fp16" and b.compat.precision_mode() == "typed":
        from workbench.core.precision.fp16 import to_fp16

        model = to_fp16(model)  # TensorRT 11: a strongly typed build from the FP16 model
    return b, b.build(model, precision, gpu_profile("tensorrt", SHAPES))


def _run(backend, art, x, **settings):
    from workbench.core.backends.base import RunnerSettings

    with backend.runner(art.path, RunnerSettings(**settings)) as r:
        return r.infer({"image": x})["logits"]


def _qdq(model):
    from workbench.core import paths
    from workbench.core.precision.datasets import model_inputs, open_dataset
    from workbench.core.precision.quantize import quantize_qdq

    ds = open_dataset(paths.resolve_dataset("digits"), model_inputs(model), limit=64)
    return quantize_qdq(model, ds).path


def test_fp32_build_matches_onnxruntime(digits):
    model, x, ref = digits
    b, art = _build(model, "fp32")
    np.testing.assert_allclose(_run(b, art, x), ref, rtol=1e-2, atol=1e-2)  # TF32 may be on (math_mode)


def test_fp16_build_output_cosine_with_fp32_above_0_999(digits):
    model, x, ref = digits
    b, art = _build(model, "fp16")
    out = _run(b, art, x)
    assert np.isfinite(out).all() and cosine(out, ref) > 0.999


def test_int8_build_from_the_qdq_model(digits):
    model, x, ref = digits
    b, art = _build(_qdq(model), "int8")
    out = _run(b, art, x)
    assert out.shape == ref.shape and cosine(out, ref) > 0.99
    # Same argmax on most of the batch: INT8 keeps the classification.
    assert (out.argmax(1) == ref.argmax(1)).mean() >= 0.75


def test_int8_legacy_calibrator(digits, tensorrt_calibrator):
    from workbench.core import paths

    model, x, ref = digits
    b, art = _build(model, "int8", calibration="entropy", calib_dir=paths.resolve_dataset("digits"), calib_limit=64)
    out = _run(b, art, x)
    assert out.shape == ref.shape and cosine(out, ref) > 0.99


def test_split_count_equals_timed_iterations_and_compute_within_latency(digits):
    model, x, _ = digits
    from workbench.core.backends.base import RunnerSettings

    b, art = _build(model, "fp32")
    with b.runner(art.path, RunnerSettings(include_transfers=True)) as r:
        s = timed_splits(r, {"image": x}, 50)  # infer() and a warm-up call before the reset must not count
    assert len(s["gpu_compute_ms"]) == len(s["latency_ms"]) == len(s["h2d_ms"]) == len(s["d2h_ms"]) == 50
    for c, lat in zip(s["gpu_compute_ms"], s["latency_ms"], strict=True):
        assert 0 < c <= lat + 1e-6


def test_transfers_off_and_cuda_graph(digits):
    model, x, ref = digits
    from workbench.core.backends.base import RunnerSettings

    b, art = _build(model, "fp32")
    with b.runner(art.path, RunnerSettings(include_transfers=False)) as r:
        s = timed_splits(r, {"image": x}, 30)
    assert len(s["gpu_compute_ms"]) == 30 and s["latency_ms"] == pytest.approx(s["gpu_compute_ms"])
    assert not s.get("h2d_ms") and s["include_transfers"] is False
    with b.runner(art.path, RunnerSettings(cuda_graph=True)) as r:
        out = r.infer({"image": x})["logits"]
        s = timed_splits(r, {"image": x}, 30)
    np.testing.assert_allclose(out, ref, rtol=1e-2, atol=1e-2)
    assert s["cuda_graph"] is True and len(s["gpu_compute_ms"]) == 30


def test_two_streams_run_two_queries_per_call(digits):
    model, x, ref = digits
    from workbench.core.backends.base import RunnerSettings

    b, art = _build(model, "fp32")
    with b.runner(art.path, RunnerSettings(streams=2)) as r:
        assert r.queries_per_call == 2
        out = r.infer({"image": x})["logits"]
        call = r.prepare({"image": x})
        for _ in range(20):
            call()
        s = r.timing_splits()
    np.testing.assert_allclose(out, ref, rtol=1e-2, atol=1e-2)
    assert s["streams"] == 2 and s["latency_meaningful"] is False
