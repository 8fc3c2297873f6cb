"""Model spec ``[inputs.<name>] value``: strict reading (FILE:LINE), checked against the model's inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.core.errors import ConfigError
from workbench.core.models.info import TensorSpec
from workbench.core.spec import load_spec

INPUTS = (
    TensorSpec("input", "float32", ("batch", "samples")),
    TensorSpec("sr", "int64", ()),
    TensorSpec("flag", "bool", ()),
)


def _spec(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "m.workbench.toml"
    p.write_text(text)
    return p


def test_values_are_read_and_fit_the_model(tmp_path: Path) -> None:
    p = _spec(tmp_path, '[inputs.sr]\nvalue = 16000\n\n[inputs."flag"]\nvalue = true\n[inputs.input]\nvalue = 0.5\n')
    spec = load_spec(tmp_path / "m.onnx", p)
    assert spec is not None
    assert spec.input_values == {"sr": 16000, "flag": True, "input": 0.5}
    assert spec.to_dict()["inputs"] == {"sr": {"value": 16000}, "flag": {"value": True}, "input": {"value": 0.5}}
    spec.check_inputs(INPUTS)  # no error


def test_bad_keys_and_types_name_file_and_line(tmp_path: Path) -> None:
    p = _spec(tmp_path, '[inputs.sr]\nvaule = 16000\n[inputs.input]\nvalue = "loud"\n[inputs]\nx = 3\n')
    with pytest.raises(ConfigError) as exc:
        load_spec(tmp_path / "m.onnx", p)
    probs = exc.value.problems
    assert f"{p}:2: unknown key 'inputs.sr.vaule' (did you mean 'value'?)" in probs
    assert f"{p}:1: [inputs.sr] needs value = …" in probs
    assert f"{p}:4: inputs.input.value must be a number or a boolean, got 'loud'" in probs
    assert any(pr.startswith(f"{p}:") and "'inputs.x' must be a table" in pr for pr in probs)


def test_values_the_model_cannot_take_are_refused(tmp_path: Path) -> None:
    p = _spec(tmp_path, "[inputs.sr]\nvalue = 16000.5\n[inputs.rate]\nvalue = 8000\n")
    spec = load_spec(tmp_path / "m.onnx", p)
    assert spec is not None
    with pytest.raises(ConfigError) as exc:
        spec.check_inputs(INPUTS)
    assert exc.value.problems == [
        f"{p}:2: inputs.sr.value = 16000.5 does not fit input 'sr' (int64)",
        f"{p}:3: [inputs.rate]: the model has no input 'rate' (inputs: 'input', 'sr', 'flag')",
    ]
