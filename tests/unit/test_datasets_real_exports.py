"""Datasets for real exports: -1 and ? dims filled by the samples, a batch axis that is not 0, scalar inputs, a
named dim checked across a file's inputs, a wrong fixed dim refused naming the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _export_models import silero_samples

from workbench.core.bench.inputs import dataset_feeds
from workbench.core.errors import DatasetError
from workbench.core.models.info import TensorSpec
from workbench.core.precision.datasets import open_dataset

PADDLE = (TensorSpec("x", "float32", (-1, 3, "?", "?")),)
SILERO = (
    TensorSpec("input", "float32", ("batch", "samples")),
    TensorSpec("state", "float32", (2, "batch", 128)),
    TensorSpec("sr", "int64", ()),
)


def test_unknown_dims_take_any_size_each_on_its_own(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    np.save(d / "a.npy", np.zeros((3, 48, 192), np.float32))  # one sample: H 48, W 192 (two '?' of two sizes)
    np.save(d / "b.npy", np.ones((2, 3, 32, 100), np.float32))  # a batch of 2 (the -1 dim) of another size
    ds = open_dataset(d, PADDLE)
    assert [f["x"].shape for f in ds.iter_feeds()] == [(1, 3, 48, 192), (2, 3, 32, 100)]


def test_a_wrong_fixed_dim_is_refused_naming_the_file(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    np.save(d / "a.npy", np.zeros((3, 48, 192), np.float32))
    np.save(d / "four_channels.npy", np.zeros((4, 48, 192), np.float32))
    with pytest.raises(DatasetError) as exc:
        open_dataset(d, PADDLE)
    assert str(exc.value) == (
        f"{d / 'four_channels.npy'}: input 'x' expects shape [?, 3, ?, ?] (batch dim optional), found [1, 4, 48, 192]"
    )


def test_batch_dim_goes_where_the_input_keeps_it(tmp_path: Path) -> None:
    samples = silero_samples(tmp_path / "vad", 3)
    ds = open_dataset(tmp_path / "vad", SILERO)
    feeds = list(ds.iter_feeds())
    assert {k: v.shape for k, v in feeds[0].items()} == {"input": (1, 512), "state": (2, 1, 128), "sr": ()}
    np.testing.assert_array_equal(feeds[1]["state"][:, 0, :], samples[1]["state"])


def test_bench_feeds_stack_along_each_inputs_own_batch_axis(tmp_path: Path) -> None:
    samples = silero_samples(tmp_path / "vad", 5)
    meta = [(i.name, i.dtype, i.shape) for i in SILERO]
    feeds = dataset_feeds(tmp_path / "vad", meta, 3)
    assert {k: v.shape for k, v in feeds.items()} == {"input": (3, 512), "state": (2, 3, 128), "sr": ()}
    for i in range(3):
        np.testing.assert_array_equal(feeds["input"][i], samples[i]["input"])
        np.testing.assert_array_equal(feeds["state"][:, i], samples[i]["state"])
    assert int(feeds["sr"]) == 16000
    seven = dataset_feeds(tmp_path / "vad", meta, 7)  # 5 files: taken again from the first, batch fed = 7
    assert seven["state"].shape == (2, 7, 128)
    np.testing.assert_array_equal(seven["input"][5], samples[0]["input"])
    one = dataset_feeds(tmp_path / "vad", meta, 1)  # no stacking: the first file, scalar untouched
    assert {k: v.shape for k, v in one.items()} == {"input": (1, 512), "state": (2, 1, 128), "sr": ()}


def test_a_named_dim_has_one_size_in_a_file(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    np.savez(
        d / "odd.npz",
        input=np.zeros((2, 512), np.float32),
        state=np.zeros((2, 1, 128), np.float32),
        sr=np.array(16000, np.int64),
    )
    with pytest.raises(
        DatasetError, match=r"odd\.npz: dim 'batch' is 2 in input 'input' dim 0 but 1 in input 'state' dim 1"
    ):
        open_dataset(d, SILERO)
