"""Model spec: strict reading with FILE:LINE problems, lookup next to the model, merging."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from workbench.core.errors import ConfigError
from workbench.core.spec import find_spec, load_spec

GOOD = """\
[datasets]
calib = "digits"
eval = "digits"

[preprocess]
color = "L"

[quantization]
method = "entropy"
per_channel = true
op_types_to_exclude = ["Softmax"]

[accuracy]
metric = "top1"
max_top1_drop_pts = 0.5
min_cosine = 0.995
"""


def test_good_spec_next_to_model(tmp_path: Path) -> None:
    model = tmp_path / "digits_cnn.onnx"
    model.write_bytes(b"")
    (tmp_path / "digits_cnn.workbench.toml").write_text(GOOD)
    assert find_spec(model) == tmp_path / "digits_cnn.workbench.toml"
    spec = load_spec(model)
    assert spec is not None
    assert (spec.calib, spec.eval, spec.metric) == ("digits", "digits", "top1")
    assert spec.preprocess == {"color": "L"}
    assert spec.accuracy == {"metric": "top1", "max_top1_drop_pts": 0.5, "min_cosine": 0.995}
    assert spec.quantization == {"method": "entropy", "per_channel": True, "op_types_to_exclude": ["Softmax"]}
    profile_q = types.SimpleNamespace(method="minmax", per_channel=False, chunk_size=32, activation_type="uint8")
    q = spec.quant_options(profile_q, method="percentile")  # CLI flag beats spec beats profile
    assert (q.method, q.per_channel, q.chunk_size, q.op_types_to_exclude) == ("percentile", True, 32, ("Softmax",))
    prof_acc = types.SimpleNamespace(max_top1_drop_pts=1.0, min_cosine=0.99)
    assert spec.thresholds(prof_acc) == {"max_top1_drop_pts": 0.5, "min_cosine": 0.995}


def test_no_spec_is_none(tmp_path: Path) -> None:
    assert load_spec(tmp_path / "m.onnx") is None


def test_missing_explicit_spec_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="model spec not found"):
        load_spec(tmp_path / "m.onnx", tmp_path / "nope.toml")


def test_two_misspelt_keys_both_reported_with_line(tmp_path: Path) -> None:
    p = tmp_path / "m.workbench.toml"
    p.write_text('[quantization]\nmethod = "minmax"\nper_chanel = true\n\n[accuracy]\nmin_cosin = 0.9\n')
    with pytest.raises(ConfigError) as exc:
        load_spec(tmp_path / "m.onnx", p)
    assert exc.value.problems == [
        f"{p}:3: unknown key 'quantization.per_chanel' (did you mean 'per_channel'?)",
        f"{p}:6: unknown key 'accuracy.min_cosin' (did you mean 'min_cosine'?)",
    ]


def test_wrong_types_and_values(tmp_path: Path) -> None:
    p = tmp_path / "m.workbench.toml"
    p.write_text(
        '[quantization]\nper_channel = "yes"\nmethod = "kl"\npercentile = 120.0\n'
        '[accuracy]\nmetric = "f1"\n[preprocess]\nlayout = "CHW"\n[extra]\nx = 1\n'
    )
    with pytest.raises(ConfigError) as exc:
        load_spec(tmp_path / "m.onnx", p)
    probs = "\n".join(exc.value.problems)
    assert f"{p}:2: quantization.per_channel must be a boolean" in probs
    assert f"{p}:3: quantization.method must be one of" in probs
    assert f"{p}:4: quantization.percentile must be in (0, 100]" in probs
    assert f"{p}:6: accuracy.metric must be one of 'top1', 'cosine'" in probs
    assert f"{p}:8: preprocess.layout must be one of" in probs
    assert f"{p}:9: unknown key 'extra'" in probs
