"""INT8 QDQ quantization: accuracy on a known model, cache, guards for the onnxruntime traps."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _calib_models import conv_net, masked_net, write_npy_samples  # noqa: E402

from workbench.core.errors import CalibrationError, Cancelled  # noqa: E402
from workbench.core.precision import quantize as qmod  # noqa: E402
from workbench.core.precision.datasets import model_inputs, open_dataset  # noqa: E402
from workbench.core.precision.quantize import QuantOptions, quantize_qdq  # noqa: E402


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))


def _run(path: Path, feed: dict) -> list[np.ndarray]:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, feed)


def _setup(tmp_path: Path, n: int = 24, **kw) -> tuple[Path, object]:
    model = conv_net(tmp_path / "m.onnx", **kw)
    ds = open_dataset(write_npy_samples(tmp_path / "calib", n), model_inputs(model))
    return model, ds


def test_minmax_qdq_matches_fp32_within_tolerance(tmp_path: Path) -> None:
    model, ds = _setup(tmp_path)
    res = quantize_qdq(model, ds, {"method": "minmax"})
    assert res.cached is False and res.samples == 24 and res.method == "minmax"
    ops = {n.op_type for n in onnx.load(str(res.path)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    max_err = 0.0
    for feed in ds.iter_feeds():
        (ref,) = _run(model, feed)
        (q,) = _run(res.path, feed)
        max_err = max(max_err, float(np.max(np.abs(ref - q))))
        cos = float(np.dot(ref.ravel(), q.ravel()) / (np.linalg.norm(ref) * np.linalg.norm(q)))
        assert cos > 0.995
        assert np.argmax(ref) == np.argmax(q)
    logit_range = float(np.ptp(_run(model, next(ds.iter_feeds()))[0]))
    assert 0 < max_err < 0.05 * logit_range


def test_ranges_json_is_written_with_finite_values(tmp_path: Path) -> None:
    model, ds = _setup(tmp_path)
    res = quantize_qdq(model, ds)
    data = json.loads(res.ranges_path.read_text())
    assert data["method"] == "minmax" and data["samples"] == 24
    lo, hi = data["ranges"]["image"]
    all_vals = np.stack([f["image"] for f in ds.iter_feeds()])
    assert lo == pytest.approx(float(all_vals.min()), abs=1e-6)
    assert hi == pytest.approx(float(all_vals.max()), abs=1e-6)
    assert all(np.isfinite(v).all() for v in data["ranges"].values())


def test_second_run_is_a_cache_hit_without_recalibration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, ds = _setup(tmp_path)
    first = quantize_qdq(model, ds)

    def boom(*a, **k):  # any recalibration would fail the test
        raise AssertionError("recalibrated")

    monkeypatch.setattr(qmod, "_calibrate", boom)
    second = quantize_qdq(model, ds)
    assert second.cached is True and second.path == first.path and second.samples == 24
    # changing only per-channel reuses the computed ranges (no calibration), but writes a new model
    third = quantize_qdq(model, ds, {"per_channel": True})
    assert third.cached is False and third.path != first.path
    assert "calibration ranges reused from the calibration cache" in third.notes


def test_out_path_gets_a_copy(tmp_path: Path) -> None:
    model, ds = _setup(tmp_path)
    out = tmp_path / "out" / "m.int8.onnx"
    res = quantize_qdq(model, ds, out_path=out)
    assert res.path == out and out.is_file()
    assert _run(out, next(ds.iter_feeds()))[0].shape == (1, 10)


def test_progress_per_chunk_and_cancel(tmp_path: Path) -> None:
    model, ds = _setup(tmp_path, n=10)
    calls: list[tuple[int, int]] = []
    quantize_qdq(model, ds, {"chunk_size": 4}, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(0, 10), (4, 10), (8, 10), (10, 10)]
    ev = threading.Event()
    ev.set()
    with pytest.raises(Cancelled):
        quantize_qdq(model, ds, {"chunk_size": 4, "method": "entropy"}, cancel=ev)


def test_calibration_samples_limits_the_count(tmp_path: Path) -> None:
    model, ds = _setup(tmp_path, n=10)
    res = quantize_qdq(model, ds, {"calibration_samples": 3})
    assert res.samples == 3


@pytest.mark.parametrize("method", ["entropy", "percentile"])
def test_histogram_methods_work(tmp_path: Path, method: str) -> None:
    model, ds = _setup(tmp_path, n=12)
    res = quantize_qdq(model, ds, {"method": method, "chunk_size": 5})
    feed = next(ds.iter_feeds())
    assert np.argmax(_run(res.path, feed)[0]) == np.argmax(_run(model, feed)[0])


def test_histogram_methods_on_mixed_shape_samples(tmp_path: Path) -> None:
    """onnxruntime's histogram collector np.asarray()s a chunk: mixed shapes crash it unless chunks are cut."""
    model = conv_net(tmp_path / "m.onnx", batch="N")
    folder = tmp_path / "calib"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for i, b in enumerate([1, 1, 2, 1, 3, 3]):
        np.save(folder / f"{i}.npy", rng.random((b, 1, 8, 8), dtype=np.float32))
    ds = open_dataset(folder, model_inputs(model))
    assert not ds.uniform_shapes
    for method in ("entropy", "percentile"):
        res = quantize_qdq(model, ds, {"method": method, "chunk_size": 8})
        assert res.samples == 6


def test_ort_histogram_collector_crashes_on_mixed_shapes_in_one_call(tmp_path: Path) -> None:
    """The trap we guard: one collect_data call over mixed-shape samples fails inside onnxruntime."""
    from onnxruntime.quantization import CalibrationMethod
    from onnxruntime.quantization.calibrate import create_calibrator

    model = conv_net(tmp_path / "m.onnx", batch="N")
    cal = create_calibrator(
        model, ["Conv", "Gemm"], str(tmp_path / "aug.onnx"), calibrate_method=CalibrationMethod.Entropy
    )
    feeds = [{"image": np.zeros((1, 1, 8, 8), np.float32)}, {"image": np.zeros((2, 1, 8, 8), np.float32)}]
    with pytest.raises(ValueError):
        cal.collect_data(qmod._ListReader(feeds))


def test_ort_max_intermediate_outputs_drops_data(tmp_path: Path) -> None:
    """Why we chunk with repeated collect_data instead of CalibMaxIntermediateOutputs (onnxruntime 1.32)."""
    from onnxruntime.quantization import CalibrationMethod
    from onnxruntime.quantization.calibrate import create_calibrator

    model = conv_net(tmp_path / "m.onnx")
    feeds = [{"image": np.full((1, 1, 8, 8), v, np.float32)} for v in (5.0, 1.0, 2.0)]
    cal = create_calibrator(
        model,
        ["Conv", "Gemm"],
        str(tmp_path / "aug.onnx"),
        calibrate_method=CalibrationMethod.MinMax,
        extra_options={"max_intermediate_outputs": 2},
    )
    cal.collect_data(qmod._ListReader(feeds))
    got = float(np.ravel(cal.compute_data()["image"].range_value[1])[0])
    if got == 5.0:
        pytest.skip("this onnxruntime merges before clearing; CalibMaxIntermediateOutputs would be safe")
    assert got == 2.0  # the chunk holding 5.0 was cleared without being merged
    # our streamed path keeps every sample's range
    ours = create_calibrator(
        model, ["Conv", "Gemm"], str(tmp_path / "aug2.onnx"), calibrate_method=CalibrationMethod.MinMax
    )
    for chunk in qmod._chunks(iter(feeds), 2, 0):
        ours.collect_data(qmod._ListReader(chunk))
    assert float(np.ravel(ours.compute_data()["image"].range_value[1])[0]) == 5.0


def test_per_channel_on_opset_11_upgrades_first(tmp_path: Path) -> None:
    model, ds = _setup(tmp_path, opset=11)
    res = quantize_qdq(model, ds, {"per_channel": True})
    q = onnx.load(str(res.path))
    assert max(i.version for i in q.opset_import if i.domain in ("", "ai.onnx")) >= 13
    assert any("opset upgraded 11 -> 13" in n for n in res.notes)
    feed = next(ds.iter_feeds())
    assert np.argmax(_run(res.path, feed)[0]) == np.argmax(_run(model, feed)[0])


def test_infinite_ranges_are_kept_in_float(tmp_path: Path) -> None:
    model = masked_net(tmp_path / "masked.onnx")
    folder = tmp_path / "calib"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        mask = np.zeros((1, 4), np.float32)
        mask[0, i % 4] = -np.inf
        np.savez(folder / f"{i}.npz", x=rng.random((1, 4), dtype=np.float32), mask=mask)
    ds = open_dataset(folder, model_inputs(model))
    res = quantize_qdq(model, ds)
    assert any("infinite" in n for n in res.notes)
    q = onnx.load(str(res.path))
    mask_users = [n for n in q.graph.node if "mask" in n.input]
    # quant_pre_process fuses MatMul+Add; whatever consumes the mask is excluded and stays float
    assert mask_users and all(n.op_type != "QuantizeLinear" for n in mask_users)
    assert all(n.name in res.excluded_nodes for n in mask_users)
    ranges = json.loads(res.ranges_path.read_text())
    assert "mask" in ranges["dropped_tensors"] and "mask" not in ranges["ranges"]
    feed = next(ds.iter_feeds())
    out = _run(res.path, feed)[0]
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, _run(model, feed)[0], atol=0.05)


def test_nodes_and_op_types_to_exclude(tmp_path: Path) -> None:
    model, ds = _setup(tmp_path)
    with pytest.raises(CalibrationError, match=r"'fcc' \(did you mean 'fc'\?\)"):
        quantize_qdq(model, ds, {"nodes_to_exclude": ["fcc"]})
    res = quantize_qdq(model, ds, {"op_types_to_exclude": ["Gemm"]})
    assert res.excluded_nodes == ("fc",)
    q = onnx.load(str(res.path))
    gemm = next(n for n in q.graph.node if n.op_type == "Gemm")
    inits = {i.name for i in q.graph.initializer}
    assert "gw" in gemm.input and "gw" in inits  # weights of the excluded Gemm stay float


def test_bad_options_are_calibration_errors() -> None:
    with pytest.raises(CalibrationError, match="unknown calibration method 'kl'"):
        QuantOptions.from_any({"method": "kl"})
    with pytest.raises(CalibrationError, match="activation_type"):
        QuantOptions.from_any({"activation_type": "int4"})


def test_symmetric_int8_for_tensorrt(tmp_path: Path) -> None:
    model, ds = _setup(tmp_path)
    res = quantize_qdq(
        model,
        ds,
        {"activation_type": "int8", "weight_type": "int8", "activation_symmetric": True, "weight_symmetric": True},
    )
    q = onnx.load(str(res.path))
    zps = {i.name: onnx.numpy_helper.to_array(i) for i in q.graph.initializer if i.name.endswith("_zero_point")}
    for t in ("image", "c", "w", "gw"):  # activations and weights (biases are int32)
        assert zps[f"{t}_zero_point"].dtype == np.int8, t
        assert np.all(zps[f"{t}_zero_point"] == 0), t
    # the graph output stays float (recipe 2: keep_float_outputs), the rest is symmetric INT8
    assert "logits_zero_point" not in zps
    assert [f.tensor for f in res.float_kept] == ["logits"]


def test_profile_quant_section_is_accepted() -> None:
    from workbench.core.profiles import load_profile

    q = load_profile("cpu-x86_64").quantization
    opts = QuantOptions.from_any(q, method="entropy")
    assert (opts.activation_type, opts.weight_type, opts.method) == ("uint8", "int8", "entropy")
    assert opts.chunk_size == q.chunk_size and opts.reduce_range == q.reduce_range


def test_static_model_quantizes_without_importing_torch(tmp_path: Path) -> None:
    """onnxruntime.tools/__init__ imports torch when installed; we skip symbolic inference for static models."""
    import importlib.util
    import os
    import subprocess

    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch not installed: nothing to avoid")
    model, _ = _setup(tmp_path, n=4)
    code = (
        "import sys, pathlib\n"
        "from workbench.core.precision.datasets import model_inputs, open_dataset\n"
        "from workbench.core.precision.quantize import quantize_qdq\n"
        f"m = pathlib.Path({str(model)!r})\n"
        f"ds = open_dataset(pathlib.Path({str(tmp_path / 'calib')!r}), model_inputs(m))\n"
        "quantize_qdq(m, ds)\n"
        "print('torch' in sys.modules)\n"
    )
    env = dict(os.environ, WORKBENCH_HOME=str(tmp_path / "home2"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_symbolic_shape_inference_litter_stays_out_of_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """onnxruntime's symbolic shape inference, when it gives up ("Incomplete symbolic shape inference", as on every
    real model tried: PP-OCR det/rec/cls, magika, silero), saves sym_shape_infer_temp.onnx and uuid-named .data
    files into the current directory. Stand-in: the same write into the cwd, then the same exception."""
    from onnxruntime.quantization import shape_inference

    real = shape_inference.quant_pre_process
    seen: list[str] = []

    def like_ort(src, dst, skip_symbolic_shape=False, **kw):
        if not skip_symbolic_shape:
            seen.append(str(Path.cwd()))
            Path("sym_shape_infer_temp.onnx").write_bytes(b"x")
            Path("ae5ccf8c-ef10-11f1-a996-02fc00000001.data").write_bytes(b"x")
            raise Exception("Incomplete symbolic shape inference")
        return real(src, dst, skip_symbolic_shape=True, **kw)

    monkeypatch.setattr(shape_inference, "quant_pre_process", like_ort)
    monkeypatch.setattr(qmod, "_skip_symbolic_shape", lambda model: False)
    user_dir = tmp_path / "user"
    user_dir.mkdir()
    monkeypatch.chdir(user_dir)
    model, ds = _setup(tmp_path)
    res = quantize_qdq(model, ds)
    assert seen and seen[0] != str(user_dir)  # it ran inside the work folder
    assert sorted(p.name for p in user_dir.iterdir()) == []  # nothing left in the user's directory
    assert Path.cwd() == user_dir  # and the cwd is back
    assert "symbolic shape inference failed" in " ".join(res.notes)
    assert not list(model.parent.glob(".quant-*"))  # the work folder (and the litter in it) is gone


def test_qdq_coverage_counts_quantized_tensors_and_compute_the_quantizer_cannot_reach(tmp_path: Path) -> None:
    from _export_models import if_only

    from workbench.core.precision.coverage import qdq_coverage

    model, ds = _setup(tmp_path)
    cov = qdq_coverage(quantize_qdq(model, ds).path)
    qdq = onnx.load(str(quantize_qdq(model, ds).path))
    assert cov.quantized_tensors == sum(n.op_type == "QuantizeLinear" for n in qdq.graph.node) > 0
    assert cov.unreached_compute == 0 and cov.warning() is None
    plain = qdq_coverage(if_only(tmp_path / "if.onnx"))  # the float model itself: one MatMul in a branch
    assert (plain.quantized_tensors, plain.unreached_compute) == (0, 1)
    assert "1 compute node(s) sit inside If/Loop subgraphs" in plain.warning()


def test_errors_onnxruntime_logs_and_recovers_from_become_notes_not_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture
) -> None:
    """quant_pre_process logs "ONNX Runtime Model Optimization Failed!" and a traceback at ERROR, then carries on
    (shape_inference.py, 1.2x): that reached the user's stderr as a traceback. Stand-in: the same two records."""
    import logging

    from onnxruntime.quantization import shape_inference

    real = shape_inference.quant_pre_process

    def like_ort(src, dst, **kw):
        log = logging.getLogger("onnxruntime.quantization.shape_inference")
        log.error("ONNX Runtime Model Optimization Failed! Consider rerun with option `--skip_optimization'.")
        log.error("Traceback (most recent call last):\n  File ...\nRuntimeError: boom")
        return real(src, dst, **kw)

    monkeypatch.setattr(shape_inference, "quant_pre_process", like_ort)
    model, ds = _setup(tmp_path)
    capfd.readouterr()
    res = quantize_qdq(model, ds)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Optimization Failed" not in err
    notes = " ".join(res.notes)
    assert "quant_pre_process: ONNX Runtime Model Optimization Failed! Consider rerun with option" in notes
    assert logging.getLogger("onnxruntime.quantization").propagate  # restored
