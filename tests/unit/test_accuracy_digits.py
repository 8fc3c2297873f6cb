"""The bundled digits CNN: INT8 (CPU recipe) keeps top-1 within 0.5 points on the held-out eval split."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.core import paths
from workbench.core.accuracy import compare_models
from workbench.core.precision.datasets import model_inputs, open_dataset
from workbench.core.precision.quantize import quantize_qdq

MODEL = paths.default_model_path()
CALIB = paths.bundled_calib_dir() / "digits"
EVAL = paths.bundled_eval_dir() / "digits"

pytestmark = pytest.mark.skipif(
    not (MODEL.is_file() and CALIB.is_dir() and EVAL.is_dir()), reason="bundled data absent"
)


def test_digits_int8_keeps_accuracy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    inputs = model_inputs(MODEL)
    calib = open_dataset(CALIB, inputs, limit=128)
    ev = open_dataset(EVAL, inputs)
    assert ev.has_labels and ev.count >= 100
    q = quantize_qdq(MODEL, calib, {"method": "minmax", "chunk_size": 32})
    rep = compare_models(MODEL, q.path, ev, thresholds={"max_top1_drop_pts": 0.5, "min_cosine": 0.99}, held_out=True)
    assert rep.top1_fp32 is not None and rep.top1_fp32 >= 97.0
    assert rep.top1_other is not None and rep.top1_fp32 - rep.top1_other <= 0.5
    assert rep.vs_fp32.top1_agreement is not None and rep.vs_fp32.top1_agreement >= 99.0
    assert rep.verdict == "pass", rep.reasons
    assert rep.labeled == ev.count
