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


TASK = """\
[task]
kind = "detection"
score_threshold = 0.3

[outputs.output0]
channel_axis = 1
parts = { boxes = "0:4", scores = "4:" }

[outputs.proto]
channel_axis = -1
"""


def test_task_and_output_parts(tmp_path: Path) -> None:
    p = tmp_path / "yolo.workbench.toml"
    p.write_text(TASK)
    spec = load_spec(tmp_path / "yolo.onnx", p)
    assert spec is not None and spec.task is not None
    assert (spec.task.kind, spec.task.output, spec.task.score_threshold, spec.task.min_agreement_pct) == (
        "detection",
        None,
        0.3,
        90.0,
    )
    assert spec.outputs["output0"].channel_axis == 1
    assert spec.outputs["output0"].parts == (("boxes", 0, 4), ("scores", 4, None))
    assert spec.outputs["output0"].resolved_parts(84) == (("boxes", 0, 4), ("scores", 4, 84))
    assert spec.outputs["proto"].channel_axis == -1 and spec.outputs["proto"].parts == ()
    assert spec.task_output(["proto", "output0"]) == "output0"  # the only output with a scores part
    d = spec.to_dict()
    assert d["task"]["kind"] == "detection" and d["outputs"]["output0"]["parts"] == {"boxes": "0:4", "scores": "4:"}


def test_task_and_parts_problems_name_file_line_and_what_to_write(tmp_path: Path) -> None:
    p = tmp_path / "m.workbench.toml"
    p.write_text(
        '[task]\nkind = "segmentation"\nscore_treshold = 0.3\n\n'
        '[outputs.out]\nchannel_axis = 0\nparts = { boxes = "4:0", scores = "x" }\nslices = 3\n'
    )
    with pytest.raises(ConfigError) as exc:
        load_spec(tmp_path / "m.onnx", p)
    probs = "\n".join(exc.value.problems)
    assert f"{p}:2: task.kind must be one of 'classification', 'detection', 'sequence'" in probs
    assert f"{p}:3: unknown key 'task.score_treshold' (did you mean 'score_threshold'?)" in probs
    assert f"{p}:6: outputs.out.channel_axis must be a non-zero integer" in probs
    assert f'{p}:7: outputs.out.parts.boxes must be "start:stop"' in probs
    assert f"{p}:7: outputs.out.parts.scores must be" in probs
    assert f"{p}:8: unknown key 'outputs.out.slices'" in probs


def test_detection_needs_a_scores_part(tmp_path: Path) -> None:
    p = tmp_path / "m.workbench.toml"
    p.write_text('[task]\nkind = "detection"\n')
    with pytest.raises(ConfigError) as exc:
        load_spec(tmp_path / "m.onnx", p)
    assert exc.value.problems == [
        f"{p}:2: task.kind = \"detection\" needs one output with a 'scores' part (no [outputs.*] table has one): "
        'add [outputs.<name>] parts = { boxes = "0:4", scores = "4:" }, or name it with task.output'
    ]
    p.write_text('[task]\nkind = "sequence"\nscore_threshold = 0.5\n[outputs.o]\nparts = { a = "0:4", b = "3:" }\n')
    with pytest.raises(ConfigError) as exc:
        load_spec(tmp_path / "m.onnx", p)
    probs = "\n".join(exc.value.problems)
    assert 'task.score_threshold is for kind = "detection" only' in probs
    assert "outputs.o.parts: 'a' overlaps 'b'" in probs


def test_recipe_keys_in_the_spec(tmp_path: Path) -> None:
    p = tmp_path / "m.workbench.toml"
    p.write_text("[quantization]\nkeep_float_outputs = false\nconcat_range_ratio = 32\n")
    spec = load_spec(tmp_path / "m.onnx", p)
    assert spec is not None
    q = spec.quant_options()
    assert (q.keep_float_outputs, q.concat_range_ratio) == (False, 32)
    p.write_text("[quantization]\nconcat_range_ratio = 0.5\n")
    with pytest.raises(
        ConfigError, match=r"m\.workbench\.toml:2: quantization\.concat_range_ratio must be 0 \(off\) or > 1"
    ):
        load_spec(tmp_path / "m.onnx", p)


def _copy_set(src: Path, dst: Path, n: int) -> Path:
    """The first ``n`` images of a bundled set plus its preprocess.toml, in ``dst``."""
    import shutil

    dst.mkdir(parents=True)
    shutil.copy(src / "preprocess.toml", dst / "preprocess.toml")
    for f in sorted(src.glob("*.png"))[:n]:
        shutil.copy(f, dst / f.name)
    return dst


def test_spec_dataset_paths_are_relative_to_the_spec_file_not_the_cwd(tmp_path: Path, monkeypatch) -> None:
    """A spec in project/specs/ naming ../data/mycalib means project/data/mycalib wherever the command runs; a
    bare name finds <spec dir>/<name> or <spec dir>/calib/<name> before ./calib/ and the bundled sets."""
    from workbench.core import paths, workflow
    from workbench.core.job import dataset_path

    project = tmp_path / "project"
    _copy_set(paths.bundled_calib_dir() / "digits", project / "data" / "mycalib", 24)
    _copy_set(paths.bundled_eval_dir() / "digits", project / "specs" / "eval" / "held", 12)
    model = project / "models" / "net.onnx"
    model.parent.mkdir(parents=True)
    model.write_bytes(paths.default_model_path().read_bytes())
    spec_file = project / "specs" / "net.workbench.toml"
    spec_file.write_text('[datasets]\ncalib = "../data/mycalib"\neval = "held"\n')
    # The current directory has its own (wrong) ../data/mycalib and calib/held: neither may be picked.
    elsewhere = tmp_path / "elsewhere" / "cwd"
    _copy_set(paths.bundled_calib_dir() / "digits", elsewhere.parent / "data" / "mycalib", 5)
    _copy_set(paths.bundled_calib_dir() / "digits", elsewhere / "eval" / "held", 5)
    monkeypatch.chdir(elsewhere)

    spec = load_spec(model, spec_file)
    assert spec is not None
    assert spec.calib == str(project / "data" / "mycalib")
    assert spec.eval == str(project / "specs" / "eval" / "held")

    job = workflow.prepare(workflow.JobRequest(model=str(model), spec=str(spec_file), store=False))
    assert dataset_path(job, "calib") == project / "data" / "mycalib"
    assert dataset_path(job, "eval") == project / "specs" / "eval" / "held"
    # a missing relative folder is still named relative to the spec (the error points at what was meant)
    spec_file.write_text('[datasets]\ncalib = "./nope"\n')
    assert load_spec(model, spec_file).calib == str(project / "specs" / "nope")  # type: ignore[union-attr]
    # an unknown bare name stays a name (./calib/<name>, then the bundled sets)
    spec_file.write_text('[datasets]\ncalib = "digits"\n')
    assert load_spec(model, spec_file).calib == "digits"  # type: ignore[union-attr]
