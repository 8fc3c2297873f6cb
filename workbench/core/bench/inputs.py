"""Input feeds for a benchmark: seeded random data or real samples, prepared before the timed window.

Shapes come from bench/resolve.py, the one reading of ``--batch``, ``--shapes`` and the model's dims that the
workflow also uses to check a request before anything runs. A dataset feeds each input by its own shape:
scalars as the files hold them, batched inputs stacked along their own batch axis (models/dims.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from workbench.core import memory
from workbench.core.errors import DatasetError, UsageError

_INT_HIGH = 100  # random token ids / indices drawn from [0, 100): valid for any vocabulary of >= 100
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def parse_shapes(text: str | None) -> dict[str, list[int]]:
    """``"input:1x3x224x224,mask:1x128"`` -> {"input": [1, 3, 224, 224], "mask": [1, 128]} (trtexec's --shapes form).

    Raises:
        UsageError: malformed text (names the offending item).
    """
    out: dict[str, list[int]] = {}
    if not text:
        return out
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, dims = item.rpartition(":")
        if not sep or not name:
            raise UsageError(
                f"--shapes item {item!r} is not NAME:DxDxD (e.g. input:1x3x224x224)",
                hint="write each item as NAME:DxDxD (e.g. input:1x3x224x224), items joined by ','",
            )
        try:
            shape = [int(d) for d in dims.lower().split("x")]
        except ValueError:
            raise UsageError(
                f"--shapes item {item!r}: dimensions must be integers joined by 'x'",
                hint="write the dimensions as whole numbers joined by 'x', e.g. input:1x3x224x224",
            ) from None
        if any(d <= 0 for d in shape):
            raise UsageError(
                f"--shapes item {item!r}: dimensions must be positive",
                hint="give every dimension as 1 or more, e.g. input:1x3x224x224",
            )
        out[name] = shape
    return out


class _Spec:
    """TensorSpec-like view of one ``(name, dtype, shape)`` of a runner's input metadata."""

    def __init__(self, name: str, dtype: str, shape: Sequence[Any]) -> None:
        self.name, self.dtype, self.shape = name, dtype, tuple(shape)


def _specs(meta: Sequence[tuple[str, str, tuple]]) -> list[_Spec]:
    return [_Spec(n, d, s) for n, d, s in meta]


def resolve_shape(name: str, shape: Sequence[Any], batch: int, shapes: Mapping[str, Sequence[int]]) -> list[int]:
    """Concrete shape of one input taken alone: its ``--shapes`` entry, else the model's shape with the leading
    dynamic dim set to ``batch`` (bench/resolve.py has the rule for a whole model).

    Raises:
        UsageError: a dynamic dim other than the batch has no size, or the entry contradicts the model (names the
            input).
    """
    from workbench.core.bench.resolve import resolve

    given = {name: shapes[name]} if name in shapes else {}
    return list(resolve([_Spec(name, "", shape)], shapes=given, default_batch=batch).require_all()[name])


def toml_key(name: str) -> str:
    """``name`` as a TOML key: bare when it can be, else quoted (``"save_infer_model/scale_0"``)."""
    import json

    return name if _BARE_KEY.fullmatch(name) else json.dumps(name)


def needs_value(dtype: str, shape: Sequence[Any]) -> bool:
    """An integer scalar input is a setting (a sample rate, a count), not data: random values would run branches
    the model never sees in use, so a benchmark needs its real value."""
    import numpy as np

    return len(tuple(shape)) == 0 and np.dtype(dtype).kind in "iu"


def value_needed_error(name: str, dtype: str, spec_file: str = "<model>.workbench.toml") -> UsageError:
    """The error for an integer scalar input with no value: names the input and the model spec key to set."""
    return UsageError(
        f"input {name!r} is an {dtype} scalar (a setting such as a sample rate): random inputs would give it a "
        f"random value and run a branch the model never sees in use; set it in the model spec {spec_file}: "
        f"[inputs.{toml_key(name)}] value = <its value>",
        hint="or pass --calib/--eval DIR whose files hold it, or benchmark real samples with --inputs DIR",
    )


def random_feeds(
    meta: Sequence[tuple[str, str, tuple]],
    batch: int,
    shapes: Mapping[str, Sequence[int]],
    seed: int,
    *,
    symbols: Mapping[str, int] | None = None,
    values: Mapping[str, Any] | None = None,
):
    """Seeded random feeds: standard normal for floats, integers in [0, 100) for ints, random bools; an input in
    ``values`` is filled with its value instead (integer scalars must be there).

    Shapes: bench/resolve.py from ``batch`` (the batch to feed), ``shapes`` (whole shapes per input) and
    ``symbols`` (sizes per named dim).

    Raises:
        UsageError: a shape cannot be resolved or contradicts the model (resolve.py); an integer scalar input has
            no value (:func:`value_needed_error`); the inputs would not fit in memory (:func:`check_feed_size`,
            before anything is allocated); a dtype that cannot be generated.
    """
    import numpy as np

    from workbench.core.bench.resolve import resolve

    values = dict(values or {})
    concrete = resolve(_specs(meta), batch=batch, shapes=shapes, symbols=symbols).require_all()
    for name, dtype, shape in meta:
        if name not in values and needs_value(dtype, shape):
            raise value_needed_error(name, dtype)
    check_feed_size(meta, concrete)
    rng = np.random.default_rng(seed)
    feeds = {}
    for name, dtype, _ in meta:
        dt = np.dtype(dtype)
        shape = concrete[name]
        # Each input is drawn in its own dtype (float32/float64 natively, float16 via float32): no float64 copy
        # of the whole feed is ever made.
        if name in values:
            feeds[name] = np.full(shape, values[name], dtype=dt)
        elif dt.kind == "f":
            native = dt if dt in (np.float32, np.float64) else np.dtype(np.float32)
            arr = rng.standard_normal(shape, dtype=native)
            feeds[name] = arr if native == dt else arr.astype(dt)
        elif dt.kind in "iu":
            feeds[name] = rng.integers(0, _INT_HIGH, size=shape, dtype=dt)
        elif dt.kind == "b":
            feeds[name] = rng.integers(0, 2, size=shape, dtype=np.uint8).view(bool)
        else:
            raise UsageError(
                f"input {name!r} has dtype {dtype}, which the benchmark cannot generate",
                hint="feed real samples instead with --inputs DIR (a folder of .npy/.npz files), or re-export the "
                "model with a numeric input type",
            )
    return feeds


def check_feed_size(
    meta: Sequence[tuple[str, str, tuple]],
    concrete: Mapping[str, Sequence[int]],
    *,
    hint: str = "use a smaller --batch or --shapes",
) -> int:
    """Bytes the inputs of ``meta`` (name, numpy dtype name, model shape) take at the ``concrete`` shapes, computed
    from shape × itemsize before anything is allocated, checked against a quarter of the memory available
    (:data:`workbench.core.memory.FEED_FRACTION`: the run also holds outputs, activations and the runtime's arena).

    Returns:
        the total in bytes.

    Raises:
        UsageError: naming the total, the largest input with its shape and dtype, and the memory available.
    """
    sizes = {name: memory.nbytes(concrete[name], dtype) for name, dtype, _ in meta if name in concrete}
    total = sum(sizes.values())
    budget = memory.budget(memory.FEED_FRACTION)
    if total > budget:
        big = max(sizes, key=lambda n: sizes[n])
        dtype = next(d for n, d, _ in meta if n == big)
        shape = "x".join(str(int(d)) for d in concrete[big])
        raise UsageError(
            f"the benchmark inputs would take {memory.human(total)} (input {big!r} {shape} {dtype} = "
            f"{memory.human(sizes[big])}), more than a quarter of the {memory.human(memory.available_bytes())} of "
            f"memory available ({memory.human(budget)}); nothing was run",
            hint=hint,
        )
    return total


def check_dataset_feed_size(ds: Any, batch: int, *, flag: str = "--batch") -> int:
    """Bytes :func:`dataset_feeds` would hold to feed ``batch`` from the open dataset ``ds`` (precision/datasets.py
    ``Dataset``), estimated from its first file before the files are stacked: inputs with a batch axis scale from the
    file's batch to ``batch``, the others are taken once. Checked like random inputs (:func:`check_feed_size`).

    Returns:
        the estimate in bytes.

    Raises:
        UsageError: naming ``flag`` (``--batch``, or the scenario's option) with ``batch``, the estimate and the memory
            available. DatasetError: the first file is bad.
    """
    from workbench.core.models.dims import batch_layout

    first = next(iter(ds.iter_feeds()))  # one file: its own size is bounded when it is read (datasets.py)
    axes = ds.batch_axes
    lead = batch_layout(ds.inputs).lead
    lead_axis = axes.get(lead) if lead is not None else None
    per_file = int(first[lead].shape[lead_axis]) if lead is not None and lead_axis is not None else 0
    total = 0
    for name, arr in first.items():
        axis = axes.get(name)
        if axis is None or per_file <= 0:
            total += int(arr.nbytes)
        else:
            total += int(arr.nbytes) * max(batch, per_file) // per_file
    budget = memory.budget(memory.FEED_FRACTION)
    if total > budget:
        raise UsageError(
            f"{flag} {batch} stacks the samples of {ds.folder} to about {memory.human(total)}, more than a quarter "
            f"of the {memory.human(memory.available_bytes())} of memory available ({memory.human(budget)}); "
            "nothing was run",
            hint=f"use a smaller {flag}",
        )
    return total


def dataset_feeds(folder: Path, meta: Sequence[tuple[str, str, tuple]], batch: int):
    """The first sample(s) of a dataset folder, each input by its own shape: inputs with a batch axis stacked along
    it to ``batch`` (the files taken again from the first when the folder holds fewer samples, so the batch fed is
    the batch asked for), the others (scalars, inputs the batch does not run through) as the first file holds them.

    Raises:
        DatasetError: as ``open_dataset``; files whose shapes differ outside the batch axis cannot be stacked.
    """
    import numpy as np

    from workbench.core.models.dims import batch_layout
    from workbench.core.models.info import TensorSpec
    from workbench.core.precision.datasets import open_dataset

    specs = tuple(TensorSpec(name=n, dtype=d, shape=tuple(s)) for n, d, s in meta)
    ds = open_dataset(Path(folder), specs)
    axes = ds.batch_axes
    lead = batch_layout(specs).lead
    stacked: dict[str, list] = {n: [] for n, _, _ in meta if axes.get(n) is not None}
    first: dict[str, Any] = {}
    have = 0
    names: list[str] = []
    lead_axis = axes.get(lead) if lead is not None else None
    while have < batch:
        before = have
        for name, feed, _label in ds.iter_labeled():
            first = first or feed
            names.append(name)
            for n in stacked:
                stacked[n].append(feed[n])
            have += feed[lead].shape[lead_axis] if lead is not None and lead_axis is not None else batch
            if have >= batch:
                break
        if have == before:  # files with an empty batch axis: nothing more to take
            break
    out = {}
    for n, _, _ in meta:
        axis = axes.get(n)
        if axis is None:
            out[n] = first[n]
            continue
        try:
            arr = np.concatenate(stacked[n], axis=axis) if len(stacked[n]) > 1 else stacked[n][0]
        except ValueError:
            shapes = ", ".join(f"{f} {list(a.shape)}" for f, a in zip(names, stacked[n], strict=True))
            raise DatasetError(
                f"{folder}: cannot stack input {n!r} of {', '.join(names)} to batch {batch}: "
                f"their shapes differ outside the batch axis ({shapes})",
                hint="use files of one shape, or --batch 1",
            ) from None
        out[n] = np.take(arr, range(min(batch, arr.shape[axis])), axis=axis)
    return out
