"""Remembered dataset folders per model (core/dataset_choice.py): in the data dir, keyed by SHA-256, atomic, and a
missing or broken file is an empty memory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.core import paths
from workbench.core.dataset_choice import DatasetChoice, remember, remembered


def test_remember_and_recall_per_model(tmp_path: Path, workbench_home: Path) -> None:
    calib, ev = tmp_path / "c", tmp_path / "e"
    calib.mkdir()
    ev.mkdir()
    f = remember("aa" * 32, "/m/net.onnx", "calib", calib)
    assert f == paths.dataset_choices_path() == workbench_home / "data" / "dataset-choices.json"
    remember("aa" * 32, "/m/net.onnx", "eval", ev)
    remember("bb" * 32, "/m/other.onnx", "calib", ev)
    assert remembered("aa" * 32) == DatasetChoice(str(calib), str(ev))
    assert remembered("bb" * 32) == DatasetChoice(str(ev), None)
    assert remembered("cc" * 32) == DatasetChoice()
    doc = json.loads(f.read_text())
    assert doc["version"] == 1 and doc["models"]["aa" * 32]["model"] == "/m/net.onnx"
    assert [p.name for p in f.parent.iterdir()] == ["dataset-choices.json"]  # no temp file left
    ev.rmdir()  # a folder that went away is not offered again
    assert remembered("aa" * 32) == DatasetChoice(str(calib), None)


def test_a_broken_file_is_an_empty_memory_and_is_replaced(tmp_path: Path) -> None:
    f = paths.dataset_choices_path()
    f.parent.mkdir(parents=True)
    f.write_text("{not json")
    assert remembered("aa" * 32) == DatasetChoice()
    remember("aa" * 32, "m.onnx", "calib", tmp_path)
    assert remembered("aa" * 32).calib == str(tmp_path.resolve())
    with pytest.raises(ValueError, match="unknown dataset kind"):
        remember("aa" * 32, "m.onnx", "train", tmp_path)


def test_run_length_text_names_the_query_count() -> None:
    from functools import partial

    from workbench.core.bench.config import BenchConfig as Config
    from workbench.core.bench.run import run_length_text

    BenchConfig = partial(Config, artifact_path="model.onnx")  # noqa: N806

    assert run_length_text(BenchConfig(iterations=500)) == "exactly 500 queries"
    assert run_length_text(BenchConfig(duration_s=3.0)) == "at least 3 s"
    assert run_length_text(BenchConfig(scenario="server", qps=500.0, server_queries=300)) == "300 queries at 500 QPS"
    assert (
        run_length_text(BenchConfig(scenario="server", qps=200.0, duration_s=2.0))
        == "400 queries at 200 QPS (qps x 2 s)"
    )


def test_opset_checks_against_a_profiles_tensorrt() -> None:
    from workbench.core.models.preflight import opset_check_line, opset_checks
    from workbench.core.profiles import load_profile

    orin = load_profile("jetson-orin-nx")
    checks = opset_checks(18, orin)
    assert [(c.release, c.opset_max, c.ok) for c in checks] == [
        ("8.5", 17, False),
        ("8.6", 17, False),
        ("10.3", 20, True),
    ]
    line = opset_check_line(checks, orin.name, 18)
    assert "above TensorRT 8.5's limit (≤ 17): re-export with --opset 17" in line and "TensorRT 10.3 accepts it" in line
    assert opset_checks(18, load_profile("cpu-x86_64")) == ()
    assert "lists no TensorRT release" in opset_check_line((), "cpu-x86_64", 18)
