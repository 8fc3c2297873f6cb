"""Datasets: folder errors, array shape/dtype checks, image mode conversion, labels, fingerprint."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench.core.errors import ConfigError, DatasetError
from workbench.core.precision.datasets import InputSpec, open_dataset
from workbench.core.precision.preprocess import load_preprocess, to_8bit_color

IMG = (InputSpec("image", "float32", ("N", 1, 8, 8)),)
PP_L_RAW = '[preprocess]\nresize = [8, 8]\ncolor = "L"\nlayout = "NCHW"\nscale = 1.0\nmean = [0.0]\nstd = [1.0]\n'


def _pp(folder: Path, text: str = PP_L_RAW) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "preprocess.toml").write_text(text)
    return folder


def test_empty_folder_names_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "calib_empty"
    folder.mkdir()
    (folder / ".DS_Store").write_bytes(b"\0\0")
    with pytest.raises(DatasetError) as exc:
        open_dataset(folder, IMG)
    assert str(folder) in str(exc.value)
    assert "empty" in str(exc.value)


def test_missing_folder_names_it(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="nope"):
        open_dataset(tmp_path / "nope", IMG)


def test_wrong_shape_npy_names_file_expected_and_found(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    np.save(folder / "a.npy", np.zeros((1, 1, 8, 8), np.float32))
    np.save(folder / "b_bad.npy", np.zeros((1, 3, 8, 8), np.float32))
    with pytest.raises(DatasetError) as exc:
        open_dataset(folder, IMG)
    msg = str(exc.value)
    assert "b_bad.npy" in msg
    assert "[N, 1, 8, 8]" in msg and "[1, 3, 8, 8]" in msg


def test_wrong_dtype_npy_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    np.save(folder / "a.npy", np.zeros((1, 8, 8), np.float64))
    with pytest.raises(DatasetError, match=r"a\.npy.*float32.*float64"):
        open_dataset(folder, IMG)


def test_npy_single_sample_gets_batch_dim_and_batch_file_kept(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    np.save(folder / "a.npy", np.full((1, 8, 8), 0.5, np.float32))  # one sample, no batch dim
    np.save(folder / "b.npy", np.full((4, 1, 8, 8), 0.25, np.float32))  # a batch of 4
    ds = open_dataset(folder, IMG)
    feeds = list(ds.iter_feeds())
    assert [f["image"].shape for f in feeds] == [(1, 1, 8, 8), (4, 1, 8, 8)]
    assert feeds[0]["image"][0, 0, 3, 3] == np.float32(0.5)
    assert ds.first_mixed_shape == "b.npy"  # batch 1 then batch 4: shapes differ


def test_iter_feeds_is_a_lazy_generator(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    for i in range(3):
        np.save(folder / f"{i}.npy", np.full((1, 8, 8), i, np.float32))
    ds = open_dataset(folder, IMG)
    it = ds.iter_feeds()
    assert isinstance(it, types.GeneratorType)
    (folder / "2.npy").unlink()  # not read yet: streaming reads file by file
    assert next(it)["image"][0, 0, 0, 0] == 0
    assert next(it)["image"][0, 0, 0, 0] == 1
    with pytest.raises(DatasetError, match="2.npy"):
        next(it)


def test_npz_keys_are_input_names(tmp_path: Path) -> None:
    inputs = (InputSpec("ids", "int64", (1, 4)), InputSpec("mask", "int64", (1, 4)))
    folder = tmp_path / "z"
    folder.mkdir()
    np.savez(folder / "s0.npz", ids=np.arange(4, dtype=np.int64)[None], mask=np.ones((1, 4), np.int64))
    ds = open_dataset(folder, inputs)
    (feed,) = list(ds.iter_feeds())
    assert feed["ids"].tolist() == [[0, 1, 2, 3]]
    np.savez(folder / "s1.npz", ids=np.zeros((1, 4), np.int64))
    with pytest.raises(DatasetError, match=r"s1\.npz.*missing model input.*mask"):
        open_dataset(folder, inputs)


def test_npy_for_multi_input_model_is_refused(tmp_path: Path) -> None:
    inputs = (InputSpec("a", "float32", (1, 2)), InputSpec("b", "float32", (1, 2)))
    folder = tmp_path / "c"
    folder.mkdir()
    np.save(folder / "x.npy", np.zeros((1, 2), np.float32))
    with pytest.raises(DatasetError, match=r"x\.npy.*single-input"):
        open_dataset(folder, inputs)


def test_mixed_shapes_with_dynamic_dims_are_reported(tmp_path: Path) -> None:
    inputs = (InputSpec("ids", "float32", (1, "seq")),)
    folder = tmp_path / "c"
    folder.mkdir()
    np.save(folder / "a.npy", np.zeros((1, 5), np.float32))
    np.save(folder / "b.npy", np.zeros((1, 5), np.float32))
    np.save(folder / "c.npy", np.zeros((1, 7), np.float32))
    ds = open_dataset(folder, inputs)
    assert not ds.uniform_shapes and ds.first_mixed_shape == "c.npy"


def test_stray_files_skipped_and_reported(tmp_path: Path) -> None:
    folder = _pp(tmp_path / "d")
    Image.new("L", (8, 8), 7).save(folder / "a.png")
    (folder / ".DS_Store").write_bytes(b"x")
    (folder / "Thumbs.db").write_bytes(b"x")
    (folder / "README").write_text("about")
    (folder / "sub").mkdir()
    ds = open_dataset(folder, IMG)
    assert ds.count == 1
    assert [name for name, _ in ds.skipped] == [".DS_Store", "README", "Thumbs.db", "sub"]


def test_image_modes_convert_to_exact_pixels() -> None:
    rgba = Image.new("RGBA", (2, 2), (10, 20, 30, 0))
    assert to_8bit_color(rgba, "RGB")[0, 0].tolist() == [10, 20, 30]  # alpha dropped, colour kept
    assert to_8bit_color(rgba, "BGR")[0, 0].tolist() == [30, 20, 10]
    pal = Image.new("P", (2, 2), 1)
    pal.putpalette([0, 0, 0, 200, 100, 50] + [0] * 762)
    assert to_8bit_color(pal, "RGB")[1, 1].tolist() == [200, 100, 50]
    # ITU-R 601-2 luma: 255*299/1000 = 76.245 -> 76
    assert int(to_8bit_color(Image.new("RGB", (1, 1), (255, 0, 0)), "L")[0, 0]) == 76
    i16 = Image.fromarray(np.array([[0, 257 * 100], [65535, 257 * 255 - 128]], dtype=np.uint16))
    assert i16.mode.startswith("I;16")
    assert to_8bit_color(i16, "L").tolist() == [[0, 100], [255, 255]]
    i32 = Image.fromarray(np.array([[65535, 514]], dtype=np.int32), mode="I")
    assert to_8bit_color(i32, "L").tolist() == [[255, 2]]
    la = Image.new("LA", (1, 1), (90, 0))
    assert to_8bit_color(la, "L").tolist() == [[90]]
    cmyk = Image.new("CMYK", (1, 1), (0, 0, 0, 0))
    assert to_8bit_color(cmyk, "RGB")[0, 0].tolist() == [255, 255, 255]


def test_image_dataset_values_through_preprocess(tmp_path: Path) -> None:
    text = (
        '[preprocess]\nresize = [8, 8]\ncolor = "L"\nlayout = "NCHW"\n'
        "scale = 0.00392156862745098\nmean = [0.5]\nstd = [0.25]\n"
    )
    folder = _pp(tmp_path / "d", text)
    Image.fromarray(np.full((8, 8), 65535, np.uint16)).save(folder / "white16.png")
    Image.new("RGBA", (8, 8), (0, 0, 0, 255)).save(folder / "black.png")
    ds = open_dataset(folder, IMG)
    vals = {name: feed["image"] for name, feed, _ in ds.iter_labeled()}
    assert vals["white16.png"].shape == (1, 1, 8, 8) and vals["white16.png"].dtype == np.float32
    assert vals["white16.png"][0, 0, 0, 0] == pytest.approx((1.0 - 0.5) / 0.25)
    assert vals["black.png"][0, 0, 4, 4] == pytest.approx(-2.0)


def test_nhwc_rgb_resize_and_crop(tmp_path: Path) -> None:
    text = '[preprocess]\nresize = [6, 6]\ncrop = [4, 4]\ncolor = "RGB"\nlayout = "NHWC"\nscale = 1.0\n'
    folder = _pp(tmp_path / "d", text)
    Image.new("RGB", (12, 12), (1, 2, 3)).save(folder / "a.png")
    ds = open_dataset(folder, (InputSpec("x", "float32", (1, 4, 4, 3)),))
    (feed,) = list(ds.iter_feeds())
    assert feed["x"].shape == (1, 4, 4, 3)
    assert feed["x"][0, 0, 0].tolist() == [1.0, 2.0, 3.0]


def test_resize_defaults_to_model_input(tmp_path: Path) -> None:
    folder = _pp(tmp_path / "d", '[preprocess]\ncolor = "L"\n')
    Image.new("L", (32, 16), 255).save(folder / "a.png")
    ds = open_dataset(folder, IMG)
    assert ds.preprocess is not None and ds.preprocess.resize == (8, 8)
    assert next(ds.iter_feeds())["image"].shape == (1, 1, 8, 8)


def test_corrupt_image_names_the_file(tmp_path: Path) -> None:
    folder = _pp(tmp_path / "d")
    Image.new("L", (8, 8)).save(folder / "a.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    ds = open_dataset(folder, IMG)
    with pytest.raises(DatasetError, match="broken.png"):
        list(ds.iter_feeds())


def test_images_need_preprocess_toml(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    Image.new("L", (8, 8)).save(folder / "a.png")
    with pytest.raises(DatasetError, match="preprocess.toml"):
        open_dataset(folder, IMG)


def test_preprocess_toml_unknown_keys_with_line_and_suggestion(tmp_path: Path) -> None:
    p = tmp_path / "preprocess.toml"
    p.write_text('[preprocess]\nresize = [8, 8]\ncolour = "L"\nlayout = "NCWH"\nstd = [1.0, 1.0]\n')
    with pytest.raises(ConfigError) as exc:
        load_preprocess(p)
    probs = exc.value.problems
    assert f"{p}:3: unknown key 'preprocess.colour' (did you mean 'color'?)" in probs
    assert any(pr.startswith(f"{p}:4:") and "NCWH" in pr for pr in probs)
    # color defaults to RGB (3 channels): 2 std values fit neither 1 nor 3
    assert any(pr.startswith(f"{p}:5:") and "std" in pr for pr in probs)


def test_preprocess_toml_syntax_error_has_line(tmp_path: Path) -> None:
    p = tmp_path / "preprocess.toml"
    p.write_text('[preprocess]\ncolor = "L"\nscale = = 3\n')
    with pytest.raises(ConfigError, match=rf"{p}:3: TOML syntax error"):
        load_preprocess(p)


def test_labels_csv_and_limit(tmp_path: Path) -> None:
    folder = _pp(tmp_path / "d")
    for i in range(4):
        Image.new("L", (8, 8), i).save(folder / f"{i}.png")
    (folder / "labels.csv").write_text("file,label\n0.png,3\n1.png,1\n3.png,9\n")
    ds = open_dataset(folder, IMG, limit=3)
    assert ds.count == 3 and ds.has_labels
    assert [(n, lab) for n, _, lab in ds.iter_labeled()] == [("0.png", 3), ("1.png", 1), ("2.png", None)]


def test_bad_label_names_file_and_line(tmp_path: Path) -> None:
    folder = _pp(tmp_path / "d")
    Image.new("L", (8, 8)).save(folder / "a.png")
    (folder / "labels.csv").write_text("file,label\na.png,1\nb.png,seven\n")
    with pytest.raises(DatasetError, match=r"labels\.csv:3: label 'seven'"):
        open_dataset(folder, IMG)


def test_fingerprint_follows_content_not_mtime(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    np.save(folder / "a.npy", np.zeros((1, 8, 8), np.float32))
    fp1 = open_dataset(folder, IMG).fingerprint()
    import os

    os.utime(folder / "a.npy", (1, 1))
    assert open_dataset(folder, IMG).fingerprint() == fp1
    np.save(folder / "a.npy", np.ones((1, 8, 8), np.float32))
    assert open_dataset(folder, IMG).fingerprint() != fp1


def test_spec_preprocess_overrides_win(tmp_path: Path) -> None:
    folder = _pp(tmp_path / "d")  # scale 1.0, mean 0
    Image.new("L", (8, 8), 200).save(folder / "a.png")
    ds = open_dataset(folder, IMG, preprocess_overrides={"scale": 0.5, "mean": [10.0]})
    assert next(ds.iter_feeds())["image"][0, 0, 0, 0] == pytest.approx(200 * 0.5 - 10.0)
    assert ds.fingerprint() != open_dataset(folder, IMG).fingerprint()
