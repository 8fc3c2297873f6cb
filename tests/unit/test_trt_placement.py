"""Issue 15 item 3: the QDQ model for a TensorRT profile follows NVIDIA's Q/DQ placement.

A small ResNet-like model (tests/unit/_calib_models.py ``resnet_like``: identity and projection shortcuts, BN folded
by the pre-processing) is calibrated on 16 samples with the shipped jetson-agx-orin profile's [quantization] table.
The graph is walked here, independently of workbench.core.precision.trt_placement: no Q/DQ on graph outputs,
symmetric INT8 (zero point 0, int8) everywhere, weights per output channel on the right axis, Q/DQ only on the inputs
of weighted ops and on the residual input of residual Adds, biases float. Its agreement with FP32 under onnxruntime
is printed and asserted. Before this recipe the profile got onnxruntime's placement (Q/DQ before GlobalAveragePool,
on both Add inputs, ...), which the walk rejects.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

sys.path.insert(0, str(Path(__file__).parent))
from _calib_models import axes_net, conv_net, resnet_like, write_npy_samples  # noqa: E402

from workbench.core.errors import CalibrationError  # noqa: E402
from workbench.core.precision import quantize as qmod  # noqa: E402
from workbench.core.precision import trt_placement  # noqa: E402
from workbench.core.precision.datasets import model_inputs, open_dataset  # noqa: E402
from workbench.core.precision.quantize import QuantOptions, QuantResult, quantize_qdq  # noqa: E402

WEIGHTED = {"Conv", "ConvTranspose", "Gemm", "MatMul"}


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))


def _resnet(tmp_path: Path, n: int = 16):
    model = resnet_like(tmp_path / "resnet.onnx")
    ds = open_dataset(write_npy_samples(tmp_path / "calib", n, shape=(1, 3, 16, 16)), model_inputs(model))
    return model, ds


def _walk(path: Path) -> dict:
    """Everything the assertions need, read straight from the graph."""
    m = onnx.load(str(path))
    g = m.graph
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    readers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    return {"g": g, "inits": inits, "producer": producer, "readers": readers}


def _dequantized_source(w: dict, tensor: str) -> str | None:
    """The float tensor behind ``tensor`` when ``tensor`` is written by Q -> DQ, else None."""
    dq = w["producer"].get(tensor)
    if dq is None or dq.op_type != "DequantizeLinear":
        return None
    q = w["producer"].get(dq.input[0])
    return q.input[0] if q is not None and q.op_type == "QuantizeLinear" else None


def test_resnet_qdq_for_a_tensorrt_profile_follows_nvidia_placement(tmp_path: Path, record_property) -> None:
    from workbench.core.profiles import load_profile

    model, ds = _resnet(tmp_path)
    res = quantize_qdq(model, ds, load_profile("jetson-agx-orin").quantization)
    assert res.placement == "tensorrt" and res.quantizer == "onnxruntime"
    w = _walk(res.path)
    g, inits, producer = w["g"], w["inits"], w["producer"]

    # no Q/DQ on graph outputs
    for o in g.output:
        assert producer[o.name].op_type not in ("QuantizeLinear", "DequantizeLinear"), o.name
    # symmetric signed INT8 everywhere: every Q and DQ has an int8 zero point of 0
    qdq = [n for n in g.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    assert qdq
    for n in qdq:
        zp = inits[n.input[2]]
        assert zp.dtype == np.int8 and not np.any(zp), n.name
    # weights: one scale per output channel on axis 0 (Conv; Gemm with transB=1), biases float
    weighted = [n for n in g.node if n.op_type in WEIGHTED]
    assert len(weighted) == 7
    for n in weighted:
        dq = producer[n.input[1]]
        assert dq.op_type == "DequantizeLinear" and dq.input[0] in inits, n.name
        weight = inits[dq.input[0]]
        assert weight.dtype == np.int8
        axis = next((a.i for a in dq.attribute if a.name == "axis"), 1)
        assert axis == 0 and inits[dq.input[1]].shape == (weight.shape[0],), n.name
        assert n.input[2] in inits and inits[n.input[2]].dtype == np.float32, f"{n.name}: bias not float"
        assert _dequantized_source(w, n.input[0]) is not None, f"{n.name}: activation input not quantized"
    # activations are quantized only where a weighted op or a residual Add reads them
    for n in g.node:
        if n.op_type == "DequantizeLinear" and _dequantized_source(w, n.output[0]) is not None:
            for r in w["readers"].get(n.output[0], []):
                assert r.op_type in WEIGHTED or r.op_type == "Add", f"{r.op_type} {r.name} reads a Q/DQ pair"
    # residual Adds: the skip input quantized, the input of the Conv TensorRT fuses the Add into left float
    adds = {n.name: n for n in g.node if n.op_type == "Add"}
    assert [_dequantized_source(w, i) for i in adds["b1_add"].input] == [None, "x0"]
    assert [_dequantized_source(w, i) for i in adds["b2_add"].input] == [None, "b2_down_out"]
    assert {r.add: r.quantized_input for r in res.residual_adds} == {"b1_add": "x0", "b2_add": "b2_down_out"}

    # accuracy vs FP32 under onnxruntime, on samples the calibration did not see
    eval_dir = write_npy_samples(tmp_path / "eval", 16, shape=(1, 3, 16, 16), seed=7)
    ref = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    q = ort.InferenceSession(str(res.path), providers=["CPUExecutionProvider"])
    cosines, same = [], 0
    for f in sorted(eval_dir.glob("*.npy")):
        x = np.load(f)  # [1,3,16,16]
        (a,) = ref.run(None, {"image": x})
        (b,) = q.run(None, {"image": x})
        cosines.append(float(np.dot(a.ravel(), b.ravel()) / (np.linalg.norm(a) * np.linalg.norm(b))))
        same += int(np.argmax(a) == np.argmax(b))
    line = f"TensorRT-placement INT8 vs FP32 (onnxruntime CPU, 16 eval samples): cosine min {min(cosines):.5f}, "
    line += f"top-1 agreement {same}/16; recorded on calibration samples: {res.agreement.line()}"
    print(line)
    record_property("int8_vs_fp32", line)
    assert min(cosines) > 0.99 and same >= 15
    assert res.agreement is not None and res.agreement.samples == 8 and res.agreement.cosine_min > 0.99
    assert res.agreement.top1_agreement is not None and res.agreement.top1_agreement >= 7 / 8
    assert res.agreement.line() in res.notes


def test_per_channel_axes_of_convtranspose_matmul_and_gemm_without_transb(tmp_path: Path) -> None:
    model = axes_net(tmp_path / "axes.onnx")
    ds = open_dataset(write_npy_samples(tmp_path / "calib", 8, shape=(1, 4, 8, 8)), model_inputs(model))
    res = quantize_qdq(model, ds, {"placement": "tensorrt"})
    w = _walk(res.path)
    axes = {}
    for n in w["g"].node:
        if n.op_type in WEIGHTED:
            dq = w["producer"][n.input[1]]
            weight = w["inits"][dq.input[0]]
            axis = next((a.i for a in dq.attribute if a.name == "axis"), 1)
            assert w["inits"][dq.input[1]].shape == (weight.shape[axis],)
            axes[n.op_type] = (axis, weight.shape[axis])
    # ConvTranspose [4,6,2,2] -> axis 1 (6); MatMul [6,5] -> axis 1 (5); Gemm transB=0 [5,3] -> axis 1 (3)
    assert axes == {"ConvTranspose": (1, 6), "MatMul": (1, 5), "Gemm": (1, 3)}
    assert not trt_placement.check(onnx.load(str(res.path))).problems


def test_tensorrt_placement_forces_symmetric_int8_and_says_so(tmp_path: Path) -> None:
    model = conv_net(tmp_path / "m.onnx")
    ds = open_dataset(write_npy_samples(tmp_path / "calib", 8), model_inputs(model))
    res = quantize_qdq(model, ds, {"placement": "tensorrt", "activation_type": "uint8", "per_channel": False})
    changed = [n for n in res.notes if "changed to" in n]
    assert any("activation_type = 'uint8' changed to 'int8'" in n for n in changed)
    assert any("per_channel = False changed to True" in n for n in changed)
    zps = [
        numpy_helper.to_array(i) for i in onnx.load(str(res.path)).graph.initializer if i.name.endswith("zero_point")
    ]
    assert zps and all(z.dtype == np.int8 and not np.any(z) for z in zps)


def test_the_check_rejects_onnxruntime_placement(tmp_path: Path) -> None:
    """The walk can fail: the CPU recipe (U8 asymmetric, per-tensor, Q/DQ around pooling) breaks several rules."""
    model, ds = _resnet(tmp_path, n=8)
    cpu = quantize_qdq(model, ds, {"placement": "onnxruntime", "keep_float_outputs": False})
    assert cpu.placement == "onnxruntime" and cpu.residual_adds == ()
    problems = trt_placement.check(onnx.load(str(cpu.path))).problems
    text = "\n".join(problems)
    assert "zero point uint8" in text
    assert "is read by GlobalAveragePool 'gap' only (not a weighted op)" in text
    assert "has one scale (want one per channel, axis 0)" in text
    assert "graph output 'logits' is written by DequantizeLinear" in text


def test_residual_adds_on_the_float_model(tmp_path: Path) -> None:
    """Before BN folding too: the Add's fused input comes through BatchNormalization from its Conv."""
    m = onnx.load(str(resnet_like(tmp_path / "r.onnx")))
    found = {r.add: (r.quantized_input, r.fused_input, r.backbone) for r in trt_placement.residual_adds(m)}
    assert found == {
        "b1_add": ("x0", "b1_bn2_out", "b1_conv2"),  # identity shortcut: the block input is the residual
        "b2_add": ("b2_down_out", "b2_conv2_out", "b2_conv2"),  # projection: the longer main branch is fused
    }


def test_cache_hit_keeps_the_placement_record(tmp_path: Path) -> None:
    model, ds = _resnet(tmp_path, n=8)
    first = quantize_qdq(model, ds, {"placement": "tensorrt"})
    again = quantize_qdq(model, ds, {"placement": "tensorrt"})
    assert again.cached and again.key == first.key
    assert again.residual_adds == first.residual_adds and again.agreement == first.agreement
    back = QuantResult.from_dict(again.to_dict())  # a detached job's outcome read back
    assert (back.placement, back.quantizer, back.residual_adds, back.agreement) == (
        "tensorrt",
        "onnxruntime",
        again.residual_adds,
        again.agreement,
    )
    cpu = quantize_qdq(model, ds, {"placement": "onnxruntime"})
    assert cpu.key != first.key and not cpu.cached


def test_profiles_resolve_the_placement_from_the_backend(tmp_path: Path) -> None:
    from workbench.core.profiles import load_profile
    from workbench.core.profiles.schema import Profile

    assert load_profile("jetson-agx-orin").quantization.placement == "tensorrt"
    assert load_profile("jetson-thor").quantization.placement == "tensorrt"
    assert load_profile("cpu-x86_64").quantization.placement == "auto"
    assert QuantOptions.from_any(load_profile("cpu-x86_64").quantization).for_tensorrt is False
    base = {"name": "x", "source_path": tmp_path / "x.toml", "device": {"name": "d", "kind": "gpu", "arch": "x86_64"}}
    trt = {**base, "build": {"backend": "tensorrt"}}
    assert Profile.model_validate(trt).quantization.placement == "tensorrt"
    kept = Profile.model_validate({**trt, "quantization": {"placement": "onnxruntime"}})
    assert kept.quantization.placement == "onnxruntime"
    with pytest.raises(CalibrationError, match="placement"):
        QuantOptions.from_any({"placement": "trt"})


def test_modelopt_quantizer_without_modelopt_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = conv_net(tmp_path / "m.onnx")
    ds = open_dataset(write_npy_samples(tmp_path / "calib", 4), model_inputs(model))
    monkeypatch.setattr(qmod, "_modelopt_available", lambda: False)
    with pytest.raises(CalibrationError) as err:
        quantize_qdq(model, ds, {"placement": "tensorrt", "quantizer": "modelopt"})
    assert "NVIDIA ModelOpt" in str(err.value) and "-e '.[modelopt]'" in err.value.hint
    with pytest.raises(CalibrationError, match="TensorRT only"):
        QuantOptions.from_any({"quantizer": "modelopt"})


def test_modelopt_quantizer_when_installed(tmp_path: Path) -> None:
    pytest.importorskip("modelopt.onnx.quantization")
    model, ds = _resnet(tmp_path, n=8)
    res = quantize_qdq(model, ds, {"placement": "tensorrt", "quantizer": "modelopt"})
    assert res.quantizer == "modelopt"
    w = _walk(res.path)
    for o in w["g"].output:
        assert w["producer"][o.name].op_type not in ("QuantizeLinear", "DequantizeLinear")
    chk = trt_placement.check(onnx.load(str(res.path)))
    assert not [p for p in chk.problems if "zero point" in p or "graph output" in p]
    assert chk.per_channel_weights == chk.weighted_ops
    assert res.agreement is not None and res.agreement.cosine_min > 0.98


def test_calibrate_reports_the_placement_and_the_agreement(run_cli):
    """`workbench calibrate --json` for a TensorRT profile says which placement wrote the QDQ model and how closely
    it follows FP32 (the bundled model: 8 calibration samples, cosine near 1)."""
    import json

    r = run_cli("calibrate", "--profile", "jetson-agx-orin", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["placement"] == "tensorrt" and d["quantizer"] == "onnxruntime"
    assert d["agreement"]["samples"] == 8 and d["agreement"]["cosine_min"] > 0.999
    text = run_cli("calibrate", "--profile", "jetson-agx-orin")
    assert "tensorrt Q/DQ placement" in text.stdout and "INT8 vs FP32 on 8 calibration sample(s)" in text.stdout


def test_a_model_spec_may_say_placement_auto_and_keeps_the_profiles(tmp_path):
    """A spec's `placement = "auto"` (accepted in a profile) was refused; now it keeps what the profile resolved."""
    from workbench.core.profiles.loader import load_profile
    from workbench.core.spec import load_spec

    spec_file = tmp_path / "m.toml"
    spec_file.write_text('[quantization]\nplacement = "auto"\nper_channel = true\n')
    spec = load_spec(tmp_path / "m.onnx", spec_file)
    trt = spec.quant_options(load_profile("jetson-agx-orin").quantization)
    cpu = spec.quant_options(load_profile("cpu-x86_64").quantization)
    assert trt.placement == "tensorrt" and cpu.placement != "tensorrt" and cpu.per_channel is True
