"""The bundled default model and its datasets (workbench/data), and the ResNet-18-shaped perf model.

The accuracy test decodes the eval PNGs itself (Pillow + the numbers in preprocess.toml), independent of the
workbench's dataset reader, so a regression in either shows up as a disagreement.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from PIL import Image

from workbench.core import paths
from workbench.core.errors import UsageError
from workbench.core.fsutil import sha256_file
from workbench.core.models.resnet import build_resnet18_onnx

try:
    import tomllib  # novermin (3.10 falls back to tomli below)
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]
MODEL = paths.default_model_path()
CALIB = paths.bundled_calib_dir() / "digits"
EVAL = paths.bundled_eval_dir() / "digits"

# Measured with tools/train_digits.py (seed 0, torch 2.13.0 CPU): 360/360 on the eval split.
MEASURED_TOP1 = 1.0
PREPROCESS_KEYS = {"resize", "crop", "color", "layout", "scale", "mean", "std", "dtype"}


def _session() -> ort.InferenceSession:
    return ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])


def _preprocess(folder: Path) -> dict:
    with open(folder / "preprocess.toml", "rb") as fh:
        return tomllib.load(fh)["preprocess"]


def _load_eval() -> tuple[np.ndarray, np.ndarray]:
    pre = _preprocess(EVAL)
    with open(EVAL / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    xs, ys = [], []
    for row in rows:
        with Image.open(EVAL / row["file"]) as im:
            im = im.convert(pre["color"]).resize(tuple(reversed(pre["resize"])))
            a = np.asarray(im, dtype=np.float32)
        a = (a * np.float32(pre["scale"]) - np.float32(pre["mean"][0])) / np.float32(pre["std"][0])
        xs.append(a[None, :, :])  # NCHW, one channel
        ys.append(int(row["label"]))
    return np.stack(xs).astype(pre["dtype"]), np.array(ys)


def test_bundled_model_file_is_small_self_contained_opset17():
    assert MODEL.is_file()
    assert MODEL.stat().st_size < 1_000_000  # measured 135,464 bytes
    m = onnx.load(str(MODEL), load_external_data=False)
    onnx.checker.check_model(m, full_check=True)
    assert {o.domain: o.version for o in m.opset_import}[""] == 17
    ext = [t.name for t in m.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    assert ext == []


def test_bundled_model_io_has_symbolic_batch():
    sess = _session()
    (inp,) = sess.get_inputs()
    (out,) = sess.get_outputs()
    assert inp.name == "image" and inp.type == "tensor(float)"
    assert inp.shape[1:] == [1, 8, 8]
    assert isinstance(inp.shape[0], str) and inp.shape[0] == "batch"
    assert out.name == "logits" and out.shape[1:] == [10]
    assert isinstance(out.shape[0], str)


def test_bundled_model_accuracy_on_eval_split():
    x, y = _load_eval()
    assert x.shape == (360, 1, 8, 8) and x.dtype == np.float32
    sess = _session()
    logits = sess.run(["logits"], {"image": x})[0]  # the whole split as one batch: dynamic batch works
    assert logits.shape == (360, 10)
    top1 = float(np.mean(logits.argmax(1) == y))
    assert top1 >= 0.98
    assert top1 == pytest.approx(MEASURED_TOP1, abs=0.005)
    # Batch 1 gives the same scores as the big batch.
    one = sess.run(["logits"], {"image": x[:1]})[0]
    np.testing.assert_allclose(one, logits[:1], rtol=1e-5, atol=1e-5)


def test_readme_provenance_matches_committed_model():
    text = (paths.bundled_models_dir() / "README.md").read_text(encoding="utf-8")
    assert sha256_file(MODEL) in text
    assert "load_digits" in text and "random_state=0" in text and "not\nbit-exact" in text.replace("**", "")
    assert "100.00 %" in text


def test_calib_and_eval_folders_hold_the_expected_pngs():
    calib = sorted(p.name for p in CALIB.glob("*.png"))
    evals = sorted(p.name for p in EVAL.glob("*.png"))
    assert len(calib) == 512
    assert len(evals) == 360
    assert all(re.fullmatch(r"train_\d{5}\.png", n) for n in calib)
    assert all(re.fullmatch(r"test_\d{5}\.png", n) for n in evals)
    # Calibration images come from the training split only: no index is shared with the eval split.
    assert not {n[6:] for n in calib} & {n[5:] for n in evals}
    for p in (CALIB / calib[0], EVAL / evals[-1]):
        with Image.open(p) as im:
            assert im.mode == "L" and im.size == (8, 8)
            assert np.asarray(im).max() <= 255 and np.asarray(im).max() > 0


def test_labels_cover_every_eval_png_once():
    with open(EVAL / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    files = [r["file"] for r in rows]
    assert len(files) == len(set(files))
    assert set(files) == {p.name for p in EVAL.glob("*.png")}
    counts = Counter(int(r["label"]) for r in rows)
    assert sorted(counts) == list(range(10))
    # Stratified 20 % split of 1797 digits: 35 to 37 images per class.
    assert min(counts.values()) >= 35 and max(counts.values()) <= 37


def test_preprocess_toml_keys_and_values_match_training_script():
    spec = importlib.util.spec_from_file_location("train_digits", REPO / "tools" / "train_digits.py")
    td = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(td)  # module top imports numpy + workbench only; torch is imported in main()
    for folder in (CALIB, EVAL):
        assert (folder / "preprocess.toml").read_text(encoding="utf-8") == td.preprocess_toml()
        pre = _preprocess(folder)
        assert set(pre) == PREPROCESS_KEYS
        assert pre["resize"] == [8, 8] and pre["crop"] == [] and pre["color"] == "L" and pre["layout"] == "NCHW"
        assert pre["scale"] == pytest.approx(1 / 255) and pre["dtype"] == "float32"
        assert pre["mean"] == [0.305] and pre["std"] == [0.376]


def test_repo_root_links_point_at_bundled_data():
    for name in ("profiles", "calib", "eval"):
        link = REPO / name
        if not link.is_symlink():
            pytest.skip("not a source checkout")
        assert not os.path.isabs(os.readlink(link))  # relative, so it survives moving the checkout
        assert link.resolve() == (paths.bundled_data_dir() / name).resolve()


@pytest.fixture(scope="module")
def resnet(tmp_path_factory) -> Path:
    return build_resnet18_onnx(tmp_path_factory.mktemp("r18") / "resnet18.onnx")


def test_resnet18_shape_params_and_runs(resnet):
    m = onnx.load(str(resnet))
    onnx.checker.check_model(m)
    params = sum(int(np.prod(t.dims)) for t in m.graph.initializer)
    # torchvision resnet18: 11,689,512; BN folded into conv biases: 11,684,712.
    assert params == pytest.approx(11_689_512, abs=50_000)
    assert params == 11_684_712
    ops = Counter(n.op_type for n in m.graph.node)
    assert ops == {"Conv": 20, "Relu": 17, "Add": 8, "MaxPool": 1, "GlobalAveragePool": 1, "Flatten": 1, "Gemm": 1}
    assert {o.domain: o.version for o in m.opset_import}[""] == 17
    sess = ort.InferenceSession(str(resnet), providers=["CPUExecutionProvider"])
    assert sess.get_inputs()[0].name == "input" and sess.get_inputs()[0].shape == [1, 3, 224, 224]
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224), dtype=np.float32)
    y = sess.run(None, {"input": x})[0]
    assert y.shape == (1, 1000)
    assert np.isfinite(y).all() and y.std() > 0


def test_resnet18_seeded_and_options(resnet, tmp_path):
    same = build_resnet18_onnx(tmp_path / "same.onnx")
    assert same.read_bytes() == resnet.read_bytes()
    other = build_resnet18_onnx(tmp_path / "other.onnx", seed=1)
    assert other.read_bytes() != resnet.read_bytes()
    dyn = build_resnet18_onnx(tmp_path / "dyn.onnx", image=64, dynamic_batch=True)
    sess = ort.InferenceSession(str(dyn), providers=["CPUExecutionProvider"])
    assert sess.get_inputs()[0].shape == ["batch", 3, 64, 64]
    assert sess.run(None, {"input": np.zeros((3, 3, 64, 64), np.float32)})[0].shape == (3, 1000)


@pytest.mark.parametrize("kwargs", [{"batch": 0}, {"image": -1}, {"opset": 5}, {"image": 2.5}])
def test_resnet18_bad_arguments(tmp_path, kwargs):
    with pytest.raises(UsageError):
        build_resnet18_onnx(tmp_path / "bad.onnx", **kwargs)
    assert not (tmp_path / "bad.onnx").exists()
