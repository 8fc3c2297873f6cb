"""The verdict per slice: the collapsed check (no spec needed), declared parts, task metrics and the counts.

Models are built with onnx.helper: ``ref`` computes y = x·W, ``other`` the same followed by a per-channel
rounding ``Round(y·k)/k`` that mimics a coarse INT8 grid on chosen channels, so every figure is known.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).parent))
from _calib_models import detector_head, write_npy_samples  # noqa: E402

from workbench.core.accuracy import AccuracyReport, compare_models  # noqa: E402
from workbench.core.accuracy_slices import default_channel_axis  # noqa: E402
from workbench.core.errors import ConfigError  # noqa: E402
from workbench.core.precision.datasets import model_inputs, open_dataset  # noqa: E402
from workbench.core.precision.quantize import quantize_qdq  # noqa: E402
from workbench.core.results.summary import accuracy_line  # noqa: E402
from workbench.core.spec import ModelSpec, OutputSpec, TaskSpec, load_spec  # noqa: E402

PASSING = {"max_top1_drop_pts": 100.0, "min_cosine": 0.5}


def _model(path: Path, w: np.ndarray, *, grid: np.ndarray | None = None, out_shape=None) -> Path:
    """x [N, K] -> MatMul(w) [N, C] (-> Round(y*grid)/grid per channel) (-> Reshape out_shape) -> y."""
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"], name="mm")]
    inits = [numpy_helper.from_array(w.astype(np.float32), "w")]
    last = "m"
    if grid is not None:
        inits.append(numpy_helper.from_array(grid.astype(np.float32), "k"))
        nodes += [
            helper.make_node("Mul", ["m", "k"], ["mk"], name="mul"),
            helper.make_node("Round", ["mk"], ["r"], name="round"),
            helper.make_node("Div", ["r", "k"], ["g"], name="div"),
        ]
        last = "g"
    if out_shape is not None:
        inits.append(numpy_helper.from_array(np.array(out_shape, np.int64), "shape"))
        nodes.append(helper.make_node("Reshape", [last, "shape"], ["y"], name="reshape"))
    else:
        nodes.append(helper.make_node("Identity", [last], ["y"], name="out"))
    graph = helper.make_graph(
        nodes,
        "m",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", w.shape[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _data(folder: Path, n: int, k: int, seed: int = 0, labels: list[int] | None = None):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        np.save(folder / f"s{i:03d}.npy", rng.random((1, k), dtype=np.float32))
    if labels is not None:
        (folder / "labels.csv").write_text("".join(f"s{i:03d}.npy,{lab}\n" for i, lab in enumerate(labels)))
    return folder


def _scaled_identity(c: int, scales: list[float]) -> np.ndarray:
    return np.diag(np.asarray(scales, np.float32))[:, :c]


def test_many_collapsed_slices_name_five_and_count_the_rest_and_advice_fits_the_recipe(tmp_path: Path) -> None:
    """A classifier's collapse shows in dozens of class channels (Magika: 40 slices of 214): the verdict names the
    first five and counts the others; the JSON keeps all. With the default recipe the outputs are float already,
    so the advice points upstream (per-layer), not at the output settings."""
    c = 14  # alternating healthy wide channels and collapsed narrow ones: 7 separate collapsed slices
    w = _scaled_identity(c, [300.0 if i % 2 == 0 else 1.0 for i in range(c)])
    grid = np.array([1e4 if i % 2 == 0 else 0.8 for i in range(c)])
    ref, other = _model(tmp_path / "a.onnx", w), _model(tmp_path / "b.onnx", w, grid=grid)
    ds = open_dataset(_data(tmp_path / "ev", 40, c), model_inputs(ref))
    rep = compare_models(ref, other, ds, thresholds=PASSING, held_out=True, quant={"keep_float_outputs": True})
    assert len(rep.collapsed) == 7 and rep.verdict == "fail"
    assert [r for r in rep.reasons if r.startswith("collapsed: output")] == [
        f"collapsed: {x.describe()}" for x in rep.collapsed[:5]
    ]
    assert rep.reasons[-1] == "collapsed: 2 more slice(s) (all 7 in the JSON's `collapsed`)"
    assert len(rep.to_dict()["collapsed"]) == 7
    assert "damage is upstream: `workbench compare --per-layer --auto-exclude`" in rep.advice[0]
    off = compare_models(ref, other, ds, thresholds=PASSING, held_out=True, quant={"keep_float_outputs": False})
    assert off.advice[0].startswith("keep the collapsed tensor in float")


def test_channel_axis_rule() -> None:
    assert default_channel_axis((1, 84, 8400)) == 1  # YOLOv8
    assert default_channel_axis((1, 25200, 85)) == 2  # YOLOv5
    assert default_channel_axis((1, 21, 64, 64)) == 1
    assert default_channel_axis((4, 1000)) == 1
    assert default_channel_axis((7,)) is None


def test_a_collapsed_slice_fails_the_verdict_without_a_spec(tmp_path: Path) -> None:
    # channels 0-1 "boxes" 0..300, channels 2-4 "scores" 0..1 rounded on a grid of 1.25 (the boxes' INT8 step)
    w = _scaled_identity(5, [300, 300, 1, 1, 1])
    grid = np.array([1e4, 1e4, 0.8, 0.8, 0.8])
    ref, other = _model(tmp_path / "a.onnx", w), _model(tmp_path / "b.onnx", w, grid=grid)
    ds = open_dataset(_data(tmp_path / "ev", 40, 5), model_inputs(ref))
    rep = compare_models(ref, other, ds, thresholds=PASSING, held_out=True)
    assert rep.vs_fp32.cosine_mean > 0.9999  # the whole output hides it
    assert rep.verdict == "fail"
    (c,) = rep.collapsed
    assert (c.output, c.start, c.stop, c.part) == ("y", 2, 5, None)
    assert "at most 2 distinct values per channel (0, 1.25)" in c.reason
    assert rep.reasons == (f"collapsed: {c.describe()}",)
    assert "output 'y' channels 2:5: at most 2 distinct values" in rep.reasons[0]
    assert rep.advice[0].startswith("keep the collapsed tensor in float")
    sl = rep.per_slice["y"]
    assert (sl.axis, sl.channels, sl.selection) == (1, 5, "each")  # 5 channels: every one is reported
    assert [s.distinct for s in sl.slices] == [3, 3, 2, 2, 2]
    assert sl.slices[0].cosine == pytest.approx(1.0) and sl.slices[3].fp32_range[1] <= 1.0


def test_declared_parts_name_the_slice_and_report_per_part(tmp_path: Path) -> None:
    w = _scaled_identity(5, [300, 300, 1, 1, 1])
    ref, other = _model(tmp_path / "a.onnx", w), _model(tmp_path / "b.onnx", w, grid=np.array([1e4] * 2 + [0.8] * 3))
    ds = open_dataset(_data(tmp_path / "ev", 40, 5), model_inputs(ref))
    spec = ModelSpec(
        source=tmp_path / "m.workbench.toml", outputs={"y": OutputSpec(None, (("boxes", 0, 2), ("scores", 2, None)))}
    )
    rep = compare_models(ref, other, ds, thresholds=PASSING, held_out=True, spec=spec)
    (c,) = rep.collapsed
    assert c.part == "scores" and c.describe().startswith("output 'y' channels 2:5 (scores): ")
    boxes, scores = rep.per_slice["y"].slices
    assert (boxes.name, boxes.start, boxes.stop, scores.name, scores.start, scores.stop) == (
        "boxes",
        0,
        2,
        "scores",
        2,
        5,
    )
    assert boxes.cosine > 0.99999 and scores.cosine < 0.95
    assert scores.distinct == 2 and scores.other_range == (0.0, 1.25)
    line = accuracy_line(rep)
    assert "slices of 'y': boxes cos 1.00000" in line and "scores cos 0." in line
    assert "reason: collapsed: output 'y' channels 2:5 (scores)" in line


def test_too_few_values_are_not_judged(tmp_path: Path) -> None:
    """[N, C] over 5 items: 5 values per channel, fewer than MIN_VALUES (8): chance, not evidence."""
    w = _scaled_identity(5, [300, 300, 1, 1, 1])
    ref, other = _model(tmp_path / "a.onnx", w), _model(tmp_path / "b.onnx", w, grid=np.array([1e4] * 2 + [0.8] * 3))
    few = open_dataset(_data(tmp_path / "few", 5, 5), model_inputs(ref))
    assert compare_models(ref, other, few, thresholds=PASSING, held_out=True).collapsed == ()
    enough = open_dataset(_data(tmp_path / "enough", 8, 5), model_inputs(ref))
    assert len(compare_models(ref, other, enough, thresholds=PASSING, held_out=True).collapsed) == 1


def test_range_that_shrank_by_more_than_half_is_collapsed(tmp_path: Path) -> None:
    w = _scaled_identity(3, [1, 1, 1])
    ref = _model(tmp_path / "a.onnx", w)
    other = _model(tmp_path / "b.onnx", w @ np.diag([1.0, 0.3, 1.0]).astype(np.float32))
    ds = open_dataset(_data(tmp_path / "ev", 30, 3), model_inputs(ref))
    rep = compare_models(ref, other, ds, thresholds=PASSING, held_out=True)
    (c,) = rep.collapsed
    assert (c.start, c.stop) == (1, 2) and c.reason.startswith("range shrank to 30 % of FP32's")


def test_channels_too_flat_to_judge_are_left_out(tmp_path: Path) -> None:
    """A class that never fires has a near-flat score: rounding it to 0 is no collapse (module doc floors)."""
    # channel 2 spans 1e-4 of channel 0: below 1/4096 of the widest channel, so not judged without parts
    w = _scaled_identity(3, [1.0, 0.9, 1e-4])
    ref, other = _model(tmp_path / "a.onnx", w), _model(tmp_path / "b.onnx", w, grid=np.array([1e4, 1e4, 1.0]))
    ds = open_dataset(_data(tmp_path / "ev", 30, 3), model_inputs(ref))
    rep = compare_models(ref, other, ds, thresholds=PASSING, held_out=True)
    assert rep.collapsed == () and rep.verdict == "pass"
    # with parts: a channel under 1/32 of its part's widest one is not judged; one above it is
    w = _scaled_identity(3, [1.0, 0.02, 0.5])
    ref, other = _model(tmp_path / "c.onnx", w), _model(tmp_path / "d.onnx", w, grid=np.array([1e4, 4.0, 1e4]))
    spec = ModelSpec(source=tmp_path / "s.toml", outputs={"y": OutputSpec(None, (("scores", 0, None),))})
    assert compare_models(ref, other, ds, thresholds=PASSING, held_out=True, spec=spec).collapsed == ()
    other2 = _model(tmp_path / "e.onnx", w, grid=np.array([1e4, 1e4, 1.0]))
    (c,) = compare_models(ref, other2, ds, thresholds=PASSING, held_out=True, spec=spec).collapsed
    assert (c.start, c.stop, c.part) == (2, 3, "scores")


def test_many_channels_report_the_worst_three(tmp_path: Path) -> None:
    scales = [1.0] * 12
    w = _scaled_identity(12, scales)
    grid = np.array([1e5] * 12)
    grid[[3, 7, 9]] = [20.0, 10.0, 40.0]  # coarser grids: lower cosines, worst is 7, then 3, then 9
    ref, other = _model(tmp_path / "a.onnx", w), _model(tmp_path / "b.onnx", w, grid=grid)
    ds = open_dataset(_data(tmp_path / "ev", 30, 12), model_inputs(ref))
    rep = compare_models(ref, other, ds, thresholds=PASSING, held_out=True)
    o = rep.per_slice["y"]
    assert (o.selection, o.channels) == ("worst", 12)
    assert [s.name for s in o.slices] == ["7", "3", "9"]
    assert rep.collapsed == ()


def test_samples_count_eval_items_not_rows(tmp_path: Path) -> None:
    """A [2, 1, 4] state output (two rows per item) over 6 files: 6 samples, not 12."""
    w = _scaled_identity(8, [1.0] * 8)
    ref = _model(tmp_path / "a.onnx", w, out_shape=[2, 1, 4])
    other = _model(tmp_path / "b.onnx", w * 1.001, out_shape=[2, 1, 4])
    ds = open_dataset(_data(tmp_path / "ev", 6, 8), model_inputs(ref))
    rep = compare_models(ref, other, ds, thresholds=PASSING, held_out=True)
    assert rep.samples == 6 and rep.to_dict()["samples"] == 6
    assert "on 6 held-out eval set" in accuracy_line(rep)


def test_advice_names_the_calibration_sample_count(tmp_path: Path) -> None:
    w = _scaled_identity(4, [1.0] * 4)
    ref = _model(tmp_path / "a.onnx", w)
    other = _model(tmp_path / "b.onnx", w[:, ::-1].copy())  # different classes: fails
    ds = open_dataset(_data(tmp_path / "ev", 9, 4), model_inputs(ref))
    rep = compare_models(ref, other, ds, thresholds=None, held_out=True, calib_samples=128)
    assert rep.verdict == "fail"
    (calib,) = [a for a in rep.advice if "representative data" in a]
    assert "(128 calibration samples used)" in calib and "9" not in calib
    plain = compare_models(ref, other, ds, thresholds=None, held_out=True)
    assert "samples used" not in " ".join(plain.advice)


def test_classification_task_top1_top5(tmp_path: Path) -> None:
    w = _scaled_identity(8, list(np.linspace(1.0, 2.0, 8)))
    ref = _model(tmp_path / "a.onnx", w)
    swap = np.eye(8, dtype=np.float32)
    swap[[0, 7]] = swap[[7, 0]]  # class 7 (often the top) becomes class 0 in the other model
    other = _model(tmp_path / "b.onnx", w @ swap)
    labels = [7] * 10
    ds = open_dataset(_data(tmp_path / "ev", 10, 8, labels=labels), model_inputs(ref))
    spec = ModelSpec(source=tmp_path / "s.toml", task=TaskSpec("classification"))
    rep = compare_models(ref, other, ds, thresholds=PASSING, held_out=True, spec=spec)
    t = rep.task
    assert t is not None and (t.kind, t.output, t.positions) == ("classification", "y", 10)
    xs = np.concatenate([np.load(p) for p in sorted((tmp_path / "ev").glob("*.npy"))])
    a, b = xs @ w, xs @ w @ swap
    ref_top = np.argmax(a, axis=1)
    top5_b, top5_a = np.argsort(-b, axis=1)[:, :5], np.argsort(-a, axis=1)[:, :5]
    assert 0 < np.sum(ref_top == 7) < 10  # some items have class 7 on top: they disagree after the swap
    assert t.agreement_pct == pytest.approx(100.0 * np.mean(ref_top == np.argmax(b, axis=1)))
    assert t.agreement_pct < 100.0
    assert rep.vs_fp32.top1_agreement == t.agreement_pct  # the declared output is the classifier
    assert t.top5_agreement_pct == pytest.approx(100.0 * np.mean(np.any(top5_b == ref_top[:, None], axis=1)))
    assert rep.top1_fp32 == pytest.approx(100.0 * np.mean(ref_top == 7))
    assert t.top5_fp32 == pytest.approx(100.0 * np.mean(np.any(top5_a == 7, axis=1)))
    assert t.top5_other == pytest.approx(100.0 * np.mean(np.any(top5_b == 7, axis=1)))
    assert rep.to_dict()["task"]["kind"] == "classification"
    assert "task classification ('y'): top-1 agreement" in accuracy_line(rep)


def test_sequence_task_per_position_agreement(tmp_path: Path) -> None:
    """[N, 4 positions, 3 vocab]: argmax over the vocab axis at every position."""
    rng = np.random.default_rng(5)
    w = rng.normal(0, 1, (6, 12)).astype(np.float32)
    ref = _model(tmp_path / "a.onnx", w, out_shape=[1, 4, 3])
    other = _model(tmp_path / "b.onnx", w, grid=np.array([2.0] * 12), out_shape=[1, 4, 3])
    ds = open_dataset(_data(tmp_path / "ev", 20, 6), model_inputs(ref))
    spec = ModelSpec(source=tmp_path / "s.toml", task=TaskSpec("sequence"), outputs={"y": OutputSpec(2)})
    rep = compare_models(ref, other, ds, thresholds=PASSING, held_out=True, spec=spec)
    agree = total = 0
    for p in sorted((tmp_path / "ev").glob("*.npy")):
        y = (np.load(p) @ w).reshape(4, 3)
        g = np.round(y * 2.0) / 2.0
        agree += int(np.sum(np.argmax(y, 1) == np.argmax(g, 1)))
        total += 4
    assert rep.task.positions == total == 80
    assert rep.task.agreement_pct == pytest.approx(100.0 * agree / total)
    assert rep.collapsed == ()
    assert (rep.verdict == "fail") == (rep.task.agreement_pct < 90.0)


def test_sequence_task_takes_the_vocabulary_as_the_last_axis_without_a_spec_axis(tmp_path: Path) -> None:
    """[N, 3 positions, 8 vocab], fewer positions than vocabulary (PP-OCRv4's recogniser: [N, 40, 6625]): the
    rank-3 detection rule would take the 3 positions as channels and count 8 "positions" per item."""
    rng = np.random.default_rng(6)
    w = rng.normal(0, 1, (6, 24)).astype(np.float32)
    ref = _model(tmp_path / "a.onnx", w, out_shape=[1, 3, 8])
    other = _model(tmp_path / "b.onnx", w, grid=np.array([1.0] * 24), out_shape=[1, 3, 8])
    ds = open_dataset(_data(tmp_path / "ev", 10, 6), model_inputs(ref))
    spec = ModelSpec(source=tmp_path / "s.toml", task=TaskSpec("sequence"))
    rep = compare_models(ref, other, ds, thresholds=PASSING, held_out=True, spec=spec)
    agree = 0
    for p in sorted((tmp_path / "ev").glob("*.npy")):
        y = (np.load(p) @ w).reshape(3, 8)
        agree += int(np.sum(np.argmax(y, 1) == np.argmax(np.round(y), 1)))
    assert rep.task.positions == 30
    assert rep.task.agreement_pct == pytest.approx(100.0 * agree / 30)
    assert rep.per_slice["y"].axis == 2


def test_spec_errors_name_the_file(tmp_path: Path) -> None:
    w = _scaled_identity(3, [1.0] * 3)
    ref = _model(tmp_path / "a.onnx", w)
    ds = open_dataset(_data(tmp_path / "ev", 3, 3), model_inputs(ref))
    src = tmp_path / "m.workbench.toml"
    with pytest.raises(ConfigError, match=r"m\.workbench\.toml: \[outputs\.logits\] names output 'logits'"):
        compare_models(ref, ref, ds, held_out=True, spec=ModelSpec(source=src, outputs={"logits": OutputSpec(1)}))
    with pytest.raises(ConfigError, match=r"channel_axis = 3, but output 'y' has shape \[1, 3\]"):
        compare_models(ref, ref, ds, held_out=True, spec=ModelSpec(source=src, outputs={"y": OutputSpec(3)}))
    bad = ModelSpec(source=src, outputs={"y": OutputSpec(None, (("scores", 1, 9),))})
    with pytest.raises(ConfigError, match=r'parts\.scores = "1:9", but output .y. has 3 channels on axis 1'):
        compare_models(ref, ref, ds, held_out=True, spec=bad)


def test_old_report_dicts_print_nothing_new() -> None:
    old = {
        "top1": 99.0, "top1_fp32": 99.5, "held_out": True, "samples": 96, "labeled": 0, "metric": "top1",
        "thresholds": {"max_top1_drop_pts": 0.5, "min_cosine": 0.99},
        "vs_fp32": {"cosine_min": 0.98, "cosine_mean": 0.995, "max_abs": 0.1, "mean_abs": 0.01, "top1_agreement": 99.0},
        "per_output": {}, "verdict": "pass", "reasons": [], "advice": [],
    }  # fmt: skip
    rep = AccuracyReport.from_dict(old)
    assert rep.per_slice is None and rep.collapsed is None and rep.task is None
    assert rep.to_dict() == {**old, "per_output": {}}
    assert accuracy_line(rep).count("\n") == 0


def test_new_report_round_trips(tmp_path: Path) -> None:
    w = _scaled_identity(5, [300, 300, 1, 1, 1])
    ref, other = _model(tmp_path / "a.onnx", w), _model(tmp_path / "b.onnx", w, grid=np.array([1e4] * 2 + [0.8] * 3))
    ds = open_dataset(_data(tmp_path / "ev", 12, 5), model_inputs(ref))
    spec = ModelSpec(source=tmp_path / "s.toml", outputs={"y": OutputSpec(1, (("boxes", 0, 2), ("scores", 2, None)))})
    rep = compare_models(ref, other, ds, thresholds=PASSING, held_out=True, spec=spec)
    d = rep.to_dict()
    assert {"per_slice", "collapsed"} <= set(d) and "task" not in d
    assert d["collapsed"][0] == {
        "output": "y",
        "axis": 1,
        "channels": "2:5",
        "part": "scores",
        "reason": rep.collapsed[0].reason,
    }
    assert AccuracyReport.from_dict(d).to_dict() == d


# --- the detector head end to end: old recipe (one scale on the Concat) vs the new default -------------------
@pytest.fixture
def detector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    model = detector_head(tmp_path / "det.onnx")
    inputs = model_inputs(model)
    calib = open_dataset(write_npy_samples(tmp_path / "calib", 24, shape=(1, 3, 16, 16)), inputs)
    ev = open_dataset(write_npy_samples(tmp_path / "eval", 16, shape=(1, 3, 16, 16), seed=7), inputs)
    spec_file = tmp_path / "det.workbench.toml"
    spec_file.write_text(
        '[task]\nkind = "detection"\nscore_threshold = 0.25\n\n'
        '[outputs.output]\nchannel_axis = 1\nparts = { boxes = "0:4", scores = "4:" }\n'
    )
    return model, calib, ev, load_spec(model, spec_file)


def test_detector_old_recipe_fails_naming_the_collapsed_scores(detector) -> None:
    model, calib, ev, spec = detector
    old = quantize_qdq(model, calib, {"keep_float_outputs": False, "concat_range_ratio": 0})
    bare = compare_models(model, old.path, ev, held_out=True, calib_samples=old.samples)
    assert bare.vs_fp32.cosine_mean > 0.999  # the old rules alone would have passed it
    assert bare.verdict == "fail"
    (c,) = bare.collapsed
    assert (c.output, c.start, c.stop) == ("output", 4, 10)
    assert bare.reasons[0].startswith("collapsed: output 'output' channels 4:10: at most 2 distinct values")
    declared = compare_models(model, old.path, ev, held_out=True, spec=spec)
    assert declared.collapsed[0].part == "scores"
    assert declared.task is not None and declared.task.agreement_pct < 90.0
    assert any("top-class agreement with FP32 on output 'output'" in r for r in declared.reasons)


def test_detector_new_recipe_keeps_top_class_agreement(detector) -> None:
    model, calib, ev, spec = detector
    new = quantize_qdq(model, calib)
    rep = compare_models(model, new.path, ev, held_out=True, spec=spec)
    assert rep.verdict == "pass", rep.reasons
    assert rep.collapsed == ()
    t = rep.task
    assert t is not None and t.kind == "detection" and t.positions > 1000
    assert t.agreement_pct >= 90.0
    boxes, scores = rep.per_slice["output"].slices
    assert scores.name == "scores" and scores.cosine > 0.99 and scores.distinct == 3
    line = accuracy_line(rep)
    assert "task detection ('output'): top-class agreement" in line and "FP32 score > 0.25" in line
