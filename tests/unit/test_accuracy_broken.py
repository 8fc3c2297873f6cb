"""Accuracy verdicts that must not say PASS: a reference that ignores its input (all-zero outputs gave cosine
1.0 and PASS), and an FP16 output with inf/NaN (gave "range shrank to -inf %" and INT8 calibration advice)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from workbench.core.accuracy import compare_models


class _Samples:
    """A dataset shaped like precision.datasets' (count, iter_labeled): 8 random 1x4 inputs, labels 0..3."""

    count = 8

    def iter_labeled(self):
        rng = np.random.default_rng(0)
        for i in range(self.count):
            yield f"s{i}", {"x": rng.standard_normal((1, 4)).astype(np.float32)}, i % 4


def _scale_model(path: Path, factor: float) -> Path:
    g = helper.make_graph(
        [helper.make_node("Mul", ["x", "k"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor("k", TensorProto.FLOAT, [], [factor])],
    )
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_a_reference_that_ignores_its_input_is_never_a_pass(tmp_path):
    zero = _scale_model(tmp_path / "zero.onnx", 0.0)  # every output all zeros, whatever the input
    rep = compare_models(zero, zero, _Samples(), held_out=True, precision="fp16")
    assert rep.vs_fp32.cosine_min == 1.0  # two zero vectors: the old rule's 1.0 ...
    assert rep.verdict == "fail"  # ... no longer passes
    assert any("same output for all 8 samples" in r for r in rep.reasons)
    assert "preprocess.toml" in rep.advice[0]


def test_fp16_overflow_is_named_with_fp16_advice(tmp_path):
    ref = _scale_model(tmp_path / "ref.onnx", 2.0)
    inf = _scale_model(tmp_path / "inf.onnx", float(np.float32(np.inf)))
    rep = compare_models(ref, inf, _Samples(), held_out=True, precision="fp16")
    assert rep.verdict == "fail"
    assert rep.reasons[0] == "output 'y' has inf/NaN in 8 of 8 samples (FP16 overflow: values beyond ±65504)"
    assert not any("-inf %" in r or "collapsed" in r for r in rep.reasons)
    assert "overflow FP16" in rep.advice[0] and not any("calibrat" in a and "more" in a for a in rep.advice)


def test_a_working_model_still_passes(tmp_path):
    ref = _scale_model(tmp_path / "ref.onnx", 2.0)
    assert compare_models(ref, ref, _Samples(), held_out=True).verdict == "pass"
