"""Calibration and evaluation datasets: a folder of images or arrays, read one file at a time.

A dataset folder holds either

* images (``.png .jpg .jpeg .bmp .gif .tif .tiff .webp .pgm .ppm``) plus a ``preprocess.toml``
  (see :mod:`workbench.core.precision.preprocess`) — single-input models only; or
* ``.npy`` tensors (single-input models) or ``.npz`` archives whose keys are the model's input
  names; each file is one sample (no batch dim: one is added at the input's batch axis) or one batch
  (batch dim included), used as stored — dtype must match the input exactly. Scalars are stored as
  0-d arrays.

Shapes are checked as :mod:`workbench.core.models.dims` reads the model: fixed dims must match (the
file is named), unknown dims (``-1``, ``?``, unnamed) take any size, each on its own, and a named
dim must have one size in a file wherever it appears (``batch`` in ``input`` and ``state``).

An optional ``labels.csv`` (``file,label``; a header row is allowed) gives the integer class of
single-sample files. Hidden files (``.DS_Store``, ``._x``), ``Thumbs.db``, READMEs and other
non-sample files are skipped and listed in :attr:`Dataset.skipped`. Files are taken in sorted
name order; ``limit`` keeps the first N.

Memory: :meth:`Dataset.iter_feeds` yields one file's arrays at a time; nothing holds all samples.
``.npy``/``.npz`` headers are validated when the dataset is opened (only headers are read), so a
wrong shape or dtype fails before a long calibration starts; images are validated as they stream. Only the
keys of an ``.npz`` that are model inputs are read, and each array's declared size (header shape × itemsize) is
checked before it is inflated: a file's arrays together may take at most half of the memory available
(:data:`workbench.core.memory.ARRAY_FRACTION`) — a few MB of deflated zeros can declare gigabytes.
"""

from __future__ import annotations

import csv
import hashlib
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core import memory
from workbench.core.errors import DatasetError
from workbench.core.models.dims import batch_layout, fmt_shape, is_fixed, normalize_shape, symbol
from workbench.core.precision.preprocess import Preprocess, apply_preprocess, load_preprocess

IMAGE_EXTS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"})
ARRAY_EXTS = frozenset({".npy", ".npz"})
META_FILES = frozenset({"preprocess.toml", "labels.csv"})


@dataclass(frozen=True)
class InputSpec:
    """Fallback tensor description (same fields as models.info.TensorSpec)."""

    name: str
    dtype: str
    shape: tuple[int | str | None, ...]


def model_inputs(model_path: Path) -> tuple[Any, ...]:
    """Inputs of an ONNX model as TensorSpec-like values (name, numpy dtype name, shape with symbolic dims).

    Raises:
        DatasetError: never; ModelError when the model cannot be read.
    """
    import onnx

    from workbench.core.errors import ModelError

    try:
        model = onnx.load(str(model_path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - onnx raises DecodeError, OSError, ...
        raise ModelError(
            f"{model_path}: cannot read the ONNX model ({exc})",
            hint="run `workbench inspect MODEL` to see what is wrong with the file; re-export it if it is cut off or "
            "corrupt",
        ) from None
    inits = {i.name for i in model.graph.initializer}
    out = []
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type).name if tt.elem_type else "float32"
        dims: list[int | str | None] = []
        for d in tt.shape.dim:
            if d.HasField("dim_value"):
                dims.append(int(d.dim_value))
            elif d.HasField("dim_param"):
                dims.append(d.dim_param)
            else:
                dims.append(None)
        out.append(InputSpec(vi.name, dtype, normalize_shape(dims)))  # -1 and '?' are unknowns (dims.py)
    return tuple(out)


def _skip_reason(p: Path) -> str | None:
    name = p.name
    if p.is_dir():
        return "folder (datasets are not recursive)"
    if name.startswith("."):
        return "hidden file"
    if name.lower() in ("thumbs.db", "desktop.ini"):
        return "system file"
    suffix = p.suffix.lower()
    if suffix in IMAGE_EXTS or suffix in ARRAY_EXTS:
        return None
    return f"not a sample file (expected images, .npy or .npz; got '{suffix or name}')"


def _npy_header(fh: Any) -> tuple[tuple[int, ...], str]:
    import numpy as np

    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    else:  # 3.0: utf-8 field names; same layout as 2.0 for our purpose
        shape, _fortran, dtype = np.lib.format._read_array_header(fh, version)  # noqa: SLF001
    return tuple(int(d) for d in shape), np.dtype(dtype).name


def _npz_members(zf: zipfile.ZipFile) -> dict[str, str]:
    """Key -> member name of an ``.npz`` (``np.savez`` stores key ``x`` as ``x.npy``)."""
    return {n[:-4] if n.endswith(".npy") else n: n for n in zf.namelist()}


def _check_size(p: Path, key: str, shape: tuple[int, ...], dtype: str, budget: int) -> int:
    """Bytes the array ``key`` of ``p`` declares in its header (shape × itemsize), checked against ``budget`` (what
    is left of :data:`workbench.core.memory.ARRAY_FRACTION` of the memory available for this file) before it is read.

    Returns:
        the array's size in bytes.

    Raises:
        DatasetError: naming the file, the key, the declared shape and size, and the memory available.
    """
    size = memory.nbytes(shape, dtype)
    if size > budget:
        raise DatasetError(
            f"{p}: array '{key}' declares shape {list(shape)} {dtype} = {memory.human(size)}, more than this file may "
            f"take ({memory.human(max(budget, 0))}: half of the {memory.human(memory.available_bytes())} of memory "
            "available, less the file's other arrays); it was not read",
            hint="split the samples into smaller files (one sample or a small batch per file)",
        )
    return size


class Dataset:
    """A streaming dataset. Build with :func:`open_dataset`.

    Attributes:
        folder: the dataset folder.
        files: sample files in order (after ``limit``).
        count: number of sample files (each one feed; a ``.npy`` may hold a batch).
        skipped: (file name, reason) for every file that is not a sample.
        has_labels: a ``labels.csv`` is present.
        preprocess: the parsed ``preprocess.toml`` (image datasets), else None.
        kind: "images" or "arrays".
        uniform_shapes: all array files have the same shapes (always True for images with resize).
        first_mixed_shape: the first file whose shapes differ from the first file's, or None.
    """

    def __init__(
        self,
        folder: Path,
        inputs: tuple[Any, ...],
        files: list[Path],
        skipped: list[tuple[str, str]],
        preprocess: Preprocess | None,
        labels: dict[str, int] | None,
        kind: str,
        first_mixed_shape: str | None,
    ) -> None:
        self.folder = folder
        self.inputs = inputs
        self.files = files
        self.skipped = skipped
        self.preprocess = preprocess
        self._labels = labels
        self.kind = kind
        self.first_mixed_shape = first_mixed_shape
        self._fingerprint: str | None = None
        self.batch_axes = batch_layout(inputs).axes  # input -> where a missing batch dim goes (dims.py)

    @property
    def count(self) -> int:
        return len(self.files)

    @property
    def has_labels(self) -> bool:
        return self._labels is not None

    @property
    def uniform_shapes(self) -> bool:
        return self.first_mixed_shape is None

    def label_of(self, file_name: str) -> int | None:
        return None if self._labels is None else self._labels.get(file_name)

    def fingerprint(self) -> str:
        """sha256 over each sample's relative name, size and content (streamed in 1 MiB blocks),
        plus ``preprocess.toml`` and ``labels.csv`` bytes. Independent of mtimes and folder location."""
        if self._fingerprint is None:
            h = hashlib.sha256(b"workbench-dataset-v1\0")
            for p in self.files:
                h.update(p.name.encode("utf-8") + b"\0" + str(p.stat().st_size).encode() + b"\0")
                with open(p, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):  # noqa: B023
                        h.update(block)
            if self.preprocess is not None:  # the effective values (spec overrides, resize default)
                h.update(b"\0pp:" + json.dumps(self.preprocess.to_dict(), sort_keys=True).encode())
            for meta in sorted(META_FILES):
                mp = self.folder / meta
                if mp.is_file():
                    h.update(b"\0meta:" + meta.encode() + b"\0" + mp.read_bytes())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def iter_feeds(self) -> Iterator[dict[str, Any]]:
        """Yield ``{input name: array}`` per file, batch dim included. Raises DatasetError naming the file."""
        for _name, feed, _label in self.iter_labeled():
            yield feed

    def iter_labeled(self) -> Iterator[tuple[str, dict[str, Any], int | None]]:
        """Yield (file name, feed, label or None) per file, streaming."""
        first: dict[str, tuple[int, ...]] | None = None
        for p in self.files:
            feed = self._read(p)
            shapes = {k: tuple(v.shape) for k, v in feed.items()}
            if self.kind == "images":
                if first is None:
                    first = shapes
                elif shapes != first:
                    raise DatasetError(
                        f"{p}: preprocessed shape {shapes} differs from the first image's {first}",
                        hint="set preprocess.resize so every image gets the same size",
                    )
            yield p.name, feed, self.label_of(p.name)

    # -- reading -------------------------------------------------------------------------------

    def _read(self, p: Path) -> dict[str, Any]:
        """One file's arrays for the model's inputs, batch dim included. Only the input keys of an ``.npz`` are
        read, each after its header passed :func:`_check_shape` and :func:`_check_size` (a compressed member can
        declare gigabytes: nothing is inflated before its size is known)."""
        if self.kind == "images":
            return {self.inputs[0].name: self._read_image(p)}
        import numpy as np

        out = {}
        budget = memory.budget(memory.ARRAY_FRACTION)
        total = 0
        try:
            if p.suffix.lower() == ".npy":
                spec = self.inputs[0]
                with open(p, "rb") as fh:
                    shape, dtype = _npy_header(fh)
                    total += _check_size(p, spec.name, shape, dtype, budget - total)
                    fh.seek(0)
                    arrays = {spec.name: np.lib.format.read_array(fh, allow_pickle=False)}
            else:
                arrays = {}
                with zipfile.ZipFile(p) as zf:
                    members = _npz_members(zf)
                    for spec in self.inputs:
                        if spec.name not in members:
                            raise DatasetError(
                                f"{p}: no array for model input '{spec.name}' (keys: {sorted(members)})",
                                hint="save the .npz with one key per model input, e.g. numpy.savez(f, "
                                "**{'input': arr}); `workbench inspect MODEL` lists the names",
                            )
                        with zf.open(members[spec.name]) as fh:
                            shape, dtype = _npy_header(fh)
                        _check_shape(p, spec, shape, dtype, self.batch_axes.get(spec.name))
                        total += _check_size(p, spec.name, shape, dtype, budget - total)
                        with zf.open(members[spec.name]) as fh:  # read_array reads the header again
                            arrays[spec.name] = np.lib.format.read_array(fh, allow_pickle=False)
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise DatasetError(
                f"{p}: cannot read the array file ({exc})",
                hint="re-save it with numpy.save / numpy.savez (no pickled objects), or remove it from the folder",
            ) from None
        for spec in self.inputs:
            arr = arrays[spec.name]
            axis = self.batch_axes.get(spec.name)
            # the file may have changed since open: check again
            full = _check_shape(p, spec, tuple(arr.shape), arr.dtype.name, axis)
            out[spec.name] = arr.reshape(full) if full != tuple(arr.shape) else arr
        return out

    def _read_image(self, p: Path) -> Any:
        from PIL import Image, UnidentifiedImageError

        assert self.preprocess is not None
        try:
            with Image.open(p) as img:
                img.load()
                arr = apply_preprocess(img, self.preprocess, name=str(p))
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise DatasetError(f"{p}: unreadable image ({exc})", hint="remove or replace the file") from None
        spec = self.inputs[0]
        full = _check_shape(p, spec, tuple(arr.shape), arr.dtype.name, self.batch_axes.get(spec.name))
        return arr.reshape(full) if full != tuple(arr.shape) else arr


def _with_batch(want: tuple[Any, ...], shape: tuple[int, ...], axis: int | None) -> tuple[int, ...]:
    """``shape`` with the batch dim the file left out put back (size 1): at the input's batch axis, else in front
    of an input that leads with a fixed 1. Unchanged when the ranks already match or nothing fits."""
    if len(shape) != len(want) - 1:
        return shape
    if axis is None and want and want[0] == 1:
        axis = 0
    if axis is None:
        return shape
    return (*shape[:axis], 1, *shape[axis:])


def _check_shape(p: Path, spec: Any, shape: tuple[int, ...], dtype: str, axis: int | None = 0) -> tuple[int, ...]:
    """Validate one array against an input; returns the shape with its batch dim (added at ``axis``, the input's
    batch axis, when the file leaves it out).

    Fixed dims must match; unknown and named dims take any size (named ones are checked across a file's inputs
    by :func:`_check_symbols`).

    Raises:
        DatasetError: naming the file, the input, the expected and the found shape; or the dtypes.
    """
    want = normalize_shape(spec.shape)
    shape = _with_batch(want, shape, axis)
    if len(shape) != len(want) or any(is_fixed(w) and w != s for w, s in zip(want, shape, strict=True)):
        optional = " (batch dim optional)" if axis is not None or (want and want[0] == 1) else ""
        raise DatasetError(
            f"{p}: input '{spec.name}' expects shape {fmt_shape(want)}{optional}, found {fmt_shape(shape)}",
            hint="re-export the samples with the model's input shape",
        )
    if dtype != spec.dtype:
        raise DatasetError(
            f"{p}: input '{spec.name}' expects dtype {spec.dtype}, found {dtype}",
            hint=f"save the arrays with .astype('{spec.dtype}')",
        )
    return shape


def _read_labels(path: Path) -> dict[str, int]:
    labels: dict[str, int] = {}
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            for lineno, row in enumerate(csv.reader(fh), start=1):
                if not row or all(not c.strip() for c in row) or row[0].lstrip().startswith("#"):
                    continue
                if len(row) != 2:
                    raise DatasetError(
                        f"{path}:{lineno}: expected 'file,label', got {','.join(row)!r}",
                        hint="write one 'file,label' row per line (a first header row is allowed; '#' starts a "
                        "comment)",
                    )
                name, label = row[0].strip(), row[1].strip()
                try:
                    labels[name] = int(label)
                except ValueError:
                    if lineno == 1 or not labels:
                        continue  # header row
                    raise DatasetError(
                        f"{path}:{lineno}: label {label!r} is not an integer",
                        hint="labels are class indices (0, 1, 2, ...): map class names to indices in labels.csv",
                    ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(
            f"{path}: cannot read labels ({exc})",
            hint="save labels.csv as UTF-8 text with 'file,label' rows, readable by this user",
        ) from None
    return labels


def open_dataset(
    folder: Path,
    inputs: tuple[Any, ...],
    *,
    limit: int | None = None,
    preprocess_overrides: dict[str, Any] | None = None,
) -> Dataset:
    """Open a dataset folder for a model with ``inputs`` (TensorSpec-like: name, dtype, shape).

    ``preprocess_overrides`` (a model spec's ``[preprocess]`` table) win over ``preprocess.toml`` keys.

    Raises:
        DatasetError: folder missing or empty (named), images without preprocess.toml, images or
            .npy for a multi-input model, .npz missing an input key, wrong shape/dtype (file, expected
            and found shape), unreadable array file, bad labels.csv line.
        ConfigError: invalid preprocess.toml (FILE:LINE).
    """
    import numpy as np

    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: dataset folder not found", hint="pass a folder of images, .npy or .npz files")
    if not inputs:
        raise DatasetError(
            f"{folder}: the model has no inputs to feed",
            hint="this model takes no inputs, so it needs no dataset: run it without --calib/--eval",
        )
    files: list[Path] = []
    skipped: list[tuple[str, str]] = []
    for p in sorted(folder.iterdir(), key=lambda q: q.name):
        if p.name in META_FILES:
            continue
        reason = _skip_reason(p)
        if reason:
            skipped.append((p.name, reason))
        else:
            files.append(p)
    if not files:
        extra = f" ({len(skipped)} non-sample files skipped)" if skipped else ""
        raise DatasetError(
            f"{folder}: dataset folder is empty — no images, .npy or .npz files{extra}",
            hint="put calibration samples in the folder or pass another one",
        )
    if limit is not None and limit > 0:
        files = files[:limit]
    images = [p for p in files if p.suffix.lower() in IMAGE_EXTS]
    arrays = [p for p in files if p.suffix.lower() in ARRAY_EXTS]
    if images and arrays:
        raise DatasetError(
            f"{folder}: mixes images ({images[0].name}) and arrays ({arrays[0].name})",
            hint="keep one kind of sample per folder",
        )
    labels = _read_labels(folder / "labels.csv") if (folder / "labels.csv").is_file() else None
    first_mixed: str | None = None
    pp: Preprocess | None = None
    if images:
        if len(inputs) != 1:
            raise DatasetError(
                f"{folder}: image datasets feed single-input models; this model has {len(inputs)} inputs "
                f"({', '.join(i.name for i in inputs)})",
                hint="use .npz files whose keys are the input names",
            )
        ppath = folder / "preprocess.toml"
        if not ppath.is_file():
            raise DatasetError(
                f"{folder}: image dataset without preprocess.toml",
                hint="add preprocess.toml declaring resize, color, layout, scale, mean, std",
            )
        pp = load_preprocess(ppath, preprocess_overrides)
        spec = inputs[0]
        if pp.resize is None and len(spec.shape) == 4:
            hw = spec.shape[2:4] if pp.layout == "NCHW" else spec.shape[1:3]
            if all(isinstance(d, int) for d in hw):
                pp = _replace_resize(pp, (int(hw[0]), int(hw[1])))
        kind = "images"
    else:
        first: dict[str, tuple[int, ...]] | None = None
        for p in arrays:
            shapes = _validate_array_file(p, inputs, np)
            if first is None:
                first = shapes
            elif shapes != first and first_mixed is None:
                first_mixed = p.name
        kind = "arrays"
    return Dataset(folder, tuple(inputs), files, skipped, pp, labels, kind, first_mixed)


def _replace_resize(pp: Preprocess, hw: tuple[int, int]) -> Preprocess:
    import dataclasses

    return dataclasses.replace(pp, resize=hw)


def _check_symbols(p: Path, inputs: tuple[Any, ...], shapes: dict[str, tuple[int, ...]]) -> None:
    """A named dim has one size in a file, in every input and axis carrying it (else the runtime fails later with a
    message naming neither the file nor the dim).

    Raises:
        DatasetError: naming the file, the dim and the two places that disagree.
    """
    seen: dict[str, tuple[int, str]] = {}
    for spec in inputs:
        for axis, (d, n) in enumerate(zip(normalize_shape(spec.shape), shapes[spec.name], strict=True)):
            s = symbol(d)
            if s is None:
                continue
            where = f"'{spec.name}' dim {axis}"
            if s in seen and seen[s][0] != n:
                raise DatasetError(
                    f"{p}: dim '{s}' is {seen[s][0]} in input {seen[s][1]} but {n} in input {where}",
                    hint=f"every input using '{s}' must have the same size there (shapes: "
                    + ", ".join(f"{k} {list(v)}" for k, v in shapes.items())
                    + ")",
                )
            seen.setdefault(s, (n, where))


def _validate_array_file(p: Path, inputs: tuple[Any, ...], np: Any) -> dict[str, tuple[int, ...]]:
    """Check .npy/.npz headers against the inputs without loading the data: shapes, dtypes and declared sizes
    (:func:`_check_size`); keys the model does not use are neither checked nor read."""
    shapes: dict[str, tuple[int, ...]] = {}
    axes = batch_layout(inputs).axes
    budget = memory.budget(memory.ARRAY_FRACTION)
    try:
        if p.suffix.lower() == ".npy":
            if len(inputs) != 1:
                raise DatasetError(
                    f"{p}: .npy feeds single-input models; this model has inputs {', '.join(i.name for i in inputs)}",
                    hint="use .npz files whose keys are the input names",
                )
            with open(p, "rb") as fh:
                shape, dtype = _npy_header(fh)
            shapes[inputs[0].name] = _check_shape(p, inputs[0], shape, dtype, axes.get(inputs[0].name))
            _check_size(p, inputs[0].name, shape, dtype, budget)
        else:
            with zipfile.ZipFile(p) as zf:
                members = _npz_members(zf)
                missing = [i.name for i in inputs if i.name not in members]
                if missing:
                    raise DatasetError(
                        f"{p}: .npz has keys {sorted(members)}, missing model input(s) {missing}",
                        hint="save with np.savez(file, **{input_name: array})",
                    )
                for spec in inputs:
                    with zf.open(members[spec.name]) as fh:
                        shape, dtype = _npy_header(fh)
                    shapes[spec.name] = _check_shape(p, spec, shape, dtype, axes.get(spec.name))
                    budget -= _check_size(p, spec.name, shape, dtype, budget)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DatasetError(
            f"{p}: cannot read the array file ({exc})",
            hint="re-save it with numpy.save / numpy.savez (no pickled objects), or remove it from the folder",
        ) from None
    _check_symbols(p, inputs, shapes)
    return shapes
