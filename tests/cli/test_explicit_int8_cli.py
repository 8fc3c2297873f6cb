"""A model that is already INT8 (explicit quantization: Q/DQ pairs, or onnxruntime's integer operators) runs as INT8
with its own scales: no second calibration, no FP32/FP16 (refused, saying why), and no accuracy verdict "against
FP32" — which would compare the model with itself and PASS whatever it computes (precision/explicit.py)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from workbench.core.models.load import inspect_model
from workbench.core.paths import default_model_path
from workbench.core.precision.explicit import explicit_quantization

QUICK = ["--iterations", "200", "--warmup-ms", "20", "--foreground"]


def _qdq_model(run_cli, tmp_path: Path) -> Path:
    """The bundled CNN calibrated by `workbench calibrate` (a real QDQ model from onnxruntime's quantizer), copied
    out of the cache under a name of its own, as a user would bring one."""
    res = run_cli("calibrate", "--calib", "digits", "--foreground")
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    path = Path(re.search(r"(?:wrote|reused cached) QDQ model (\S+\.onnx)", out).group(1))
    mine = tmp_path / "digits int8.onnx"
    shutil.copy(path, mine)
    return mine


def test_histograms_name_the_format():
    assert explicit_quantization({"Conv": 3, "Relu": 3}) is None
    assert explicit_quantization({"QuantizeLinear": 1}) is None  # integers out of a float net: not a quantized net
    qdq = explicit_quantization({"QuantizeLinear": 6, "DequantizeLinear": 14, "Conv": 3})
    assert (qdq.format, qdq.quantize_nodes, qdq.dequantize_nodes) == ("QDQ", 6, 14)
    assert qdq.describe() == "explicit quantization, QDQ: 6 QuantizeLinear, 14 DequantizeLinear"
    wo = explicit_quantization({"DequantizeLinear": 4, "MatMul": 4})
    assert wo.describe() == "weight-only quantization: 4 DequantizeLinear, no QuantizeLinear"
    qop = explicit_quantization({"QLinearConv": 2, "QuantizeLinear": 1, "DequantizeLinear": 1, "MatMulInteger": 1})
    assert (qop.format, qop.integer_ops) == ("QOperator", 3)


def test_onnxruntime_dynamic_quantization_is_seen_as_int8(tmp_path):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = tmp_path / "dyn.onnx"
    quantize_dynamic(str(default_model_path()), str(out), weight_type=QuantType.QInt8)
    eq = explicit_quantization(inspect_model(out).op_histogram)
    assert eq is not None and eq.format == "QOperator" and eq.integer_ops >= 1
    assert explicit_quantization(inspect_model(default_model_path()).op_histogram) is None


def test_a_qdq_model_benchmarks_as_int8_without_calibration_or_a_self_comparison(run_cli, tmp_path, workbench_home):
    model = _qdq_model(run_cli, tmp_path)
    calibrations = sorted((workbench_home / "cache" / "calibration").glob("*.onnx"))

    res = run_cli("bench", str(model), *QUICK)
    assert res.returncode == 2, res.stderr
    assert "digits int8.onnx is already INT8 (explicit quantization, QDQ, 8-bit (int32, int8, uint8): " in res.stderr
    assert "it cannot run as fp32" in res.stderr and "hint: bench it with --precision int8" in res.stderr

    res = run_cli("bench", str(model), "--precision", "int8", "--eval", "digits", "--json", *QUICK)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["precision"] == "int8" and doc["accuracy"] is None and doc.get("calibration") is None
    note = next(w for w in doc["warnings"] if "is already INT8" in w)
    assert "benchmarked with its own scales, no calibration; no accuracy verdict against FP32" in note
    assert sorted((workbench_home / "cache" / "calibration").glob("*.onnx")) == calibrations  # nothing calibrated

    # `run` runs it as INT8 alone; the checks that need an FP32 model refuse, naming why.
    res = run_cli("run", str(model), "--json", *QUICK)
    assert res.returncode == 0, res.stderr
    run = json.loads(res.stdout)
    assert [r["precision"] for r in run["results"]] == ["int8"] and run["speedup_vs_fp32"] == {}
    res = run_cli("compare", str(model), "--precision", "int8", "--eval", "digits")
    assert res.returncode == 2 and "there is no FP32 model here to compare it with" in res.stderr, res.stderr
    res = run_cli("calibrate", str(model), "--calib", "digits", "--foreground")
    assert res.returncode == 6 and "there is nothing to calibrate" in res.stderr, res.stderr
    res = run_cli("bench", str(model), "--precision", "best", *QUICK)
    assert res.returncode == 2 and "--precision best chooses among precisions of an FP32 model" in res.stderr
    res = run_cli("tune", str(model), "--foreground", "--budget-min", "1")
    assert res.returncode == 2 and "tune searches precisions and INT8 recipes of an FP32 model" in res.stderr


def test_inspect_says_a_model_is_already_int8(run_cli, tmp_path):
    model = _qdq_model(run_cli, tmp_path)
    res = run_cli("inspect", str(model))
    assert res.returncode == 0, res.stderr
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("Precision"))
    assert line.startswith("Precision    INT8 (explicit quantization, QDQ, 8-bit (int32, int8, uint8): ")
    assert line.endswith("bench with --precision int8, no calibration")
    res = run_cli("inspect", str(default_model_path()))
    assert res.returncode == 0 and "Precision    INT8" not in res.stdout


def _fp8_model(tmp_path: Path) -> Path:
    """The bundled CNN with one FP8 (float8e4m3fn) Q/DQ pair on its input, opset 19: quantized, but not INT8."""
    import onnx
    from onnx import TensorProto, helper

    m = onnx.load(str(default_model_path()))
    g = m.graph
    x = g.input[0].name
    g.initializer.extend([helper.make_tensor("s", TensorProto.FLOAT, [], [0.05]),
                          helper.make_tensor("z", TensorProto.FLOAT8E4M3FN, [], [0.0])])  # fmt: skip
    for n in g.node:
        n.input[:] = ["x_dq" if i == x else i for i in n.input]
    g.node.insert(0, helper.make_node("DequantizeLinear", ["x_q", "s", "z"], ["x_dq"]))
    g.node.insert(0, helper.make_node("QuantizeLinear", [x, "s", "z"], ["x_q"]))
    del m.opset_import[:]
    m.opset_import.extend([helper.make_opsetid("", 19)])
    out = tmp_path / "fp8.onnx"
    onnx.save(m, str(out))
    return out


def _a16w8_model(tmp_path: Path) -> Path:
    """The bundled CNN quantized by onnxruntime with 16-bit activations and 8-bit weights (A16W8)."""
    import numpy as np
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(0)
            self.feeds = iter([{"image": rng.standard_normal((1, 1, 8, 8)).astype(np.float32)} for _ in range(8)])

        def get_next(self):
            return next(self.feeds, None)

    out = tmp_path / "a16w8.onnx"
    quantize_static(str(default_model_path()), str(out), Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt16, weight_type=QuantType.QInt8)  # fmt: skip
    return out


def test_the_quantized_types_are_read_fp8_is_not_int8_and_a16w8_says_so(run_cli, tmp_path):
    fp8 = _fp8_model(tmp_path)
    res = run_cli("inspect", str(fp8), "--json")
    q = json.loads(res.stdout)["explicit_quantization"]
    assert q["types"] == ["float8e4m3fn"] and q["integer"] is False
    res = run_cli("inspect", str(fp8))
    assert "Precision    float8e4m3fn, not INT8 (" in res.stdout
    res = run_cli("bench", str(fp8), "--precision", "int8", *QUICK)
    assert res.returncode == 2 and "is quantized to float8e4m3fn" in res.stderr and "not INT8" in res.stderr

    a16 = _a16w8_model(tmp_path)
    q = json.loads(run_cli("inspect", str(a16), "--json").stdout)["explicit_quantization"]
    assert "uint16" in q["types"] and "int8" in q["types"] and q["integer"] is True
    res = run_cli("inspect", str(a16))
    assert "16-bit activations (A16W8)" in res.stdout
    assert json.loads(run_cli("inspect", str(default_model_path()), "--json").stdout)["explicit_quantization"] is None


def test_the_precision_choices_offer_int8_alone_for_a_model_already_int8(tmp_path):
    from workbench.core import workflow
    from workbench.core.job import JobRequest
    from workbench.core.live import precision_choices

    qdq = _a16w8_model(tmp_path)
    choices = {c.name: c for c in precision_choices(workflow.prepare(JobRequest(model=str(qdq))))}
    assert choices["int8"].available and "own Q/DQ scales" in choices["int8"].note
    for p in ("fp32", "fp16", "best"):
        assert not choices[p].available and choices[p].reason.startswith("the model is already INT8 (")
    fp8 = _fp8_model(tmp_path)
    choices = {c.name: c for c in precision_choices(workflow.prepare(JobRequest(model=str(fp8))))}
    assert not any(c.available for c in choices.values())
    plain = {c.name: c for c in precision_choices(workflow.prepare(JobRequest()))}
    assert plain["fp32"].available and plain["int8"].available
