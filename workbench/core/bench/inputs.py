"""Input feeds for a benchmark: seeded random data or real samples, prepared before the timed window."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from workbench.core.errors import UsageError

_INT_HIGH = 100  # random token ids / indices drawn from [0, 100): valid for any vocabulary of >= 100


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
            raise UsageError(f"--shapes item {item!r} is not NAME:DxDxD (e.g. input:1x3x224x224)")
        try:
            shape = [int(d) for d in dims.lower().split("x")]
        except ValueError:
            raise UsageError(f"--shapes item {item!r}: dimensions must be integers joined by 'x'") from None
        if any(d <= 0 for d in shape):
            raise UsageError(f"--shapes item {item!r}: dimensions must be positive")
        out[name] = shape
    return out


def resolve_shape(name: str, shape: Sequence[Any], batch: int, shapes: Mapping[str, Sequence[int]]) -> list[int]:
    """Concrete shape for one input: an explicit ``--shapes`` entry, else the model's shape with a symbolic
    leading dim set to ``batch``.

    Raises:
        UsageError: a dynamic dim other than the leading batch dim has no value (names the input).
    """
    if name in shapes:
        given = list(shapes[name])
        if len(given) != len(shape):
            raise UsageError(
                f"--shapes {name}: {len(given)} dims given, the model's input has {len(shape)} ({list(shape)})"
            )
        for i, (g, m) in enumerate(zip(given, shape, strict=True)):
            if isinstance(m, int) and m > 0 and g != m:
                raise UsageError(f"--shapes {name}: dim {i} is fixed to {m} in the model, {g} given")
        return given
    out = []
    for i, d in enumerate(shape):
        if isinstance(d, int) and d > 0:
            out.append(d)
        elif i == 0:
            out.append(batch)
        else:
            raise UsageError(
                f"input {name!r} has a dynamic dimension {i} ({d!r}); give its size with --shapes {name}:"
                + "x".join(str(x) if isinstance(x, int) and x > 0 else "N" for x in shape)
            )
    return out


def random_feeds(meta: Sequence[tuple[str, str, tuple]], batch: int, shapes: Mapping[str, Sequence[int]], seed: int):
    """Seeded random feeds: standard normal for floats, integers in [0, 100) for ints, random bools."""
    import numpy as np

    rng = np.random.default_rng(seed)
    unknown = sorted(set(shapes) - {name for name, _, _ in meta})
    if unknown:
        raise UsageError(
            f"--shapes names {', '.join(unknown)}, which the model does not have",
            hint="the model's inputs are: " + ", ".join(name for name, _, _ in meta),
        )
    feeds = {}
    for name, dtype, shape in meta:
        concrete = resolve_shape(name, shape, batch, shapes)
        dt = np.dtype(dtype)
        if dt.kind == "f":
            feeds[name] = rng.standard_normal(concrete).astype(dt)
        elif dt.kind in "iu":
            feeds[name] = rng.integers(0, _INT_HIGH, size=concrete).astype(dt)
        elif dt.kind == "b":
            feeds[name] = rng.integers(0, 2, size=concrete).astype(bool)
        else:
            raise UsageError(f"input {name!r} has dtype {dtype}, which the benchmark cannot generate")
    return feeds


def dataset_feeds(folder: Path, meta: Sequence[tuple[str, str, tuple]], batch: int):
    """The first sample(s) of a dataset folder, stacked to ``batch`` along the leading dim."""
    import numpy as np

    from workbench.core.models.info import TensorSpec
    from workbench.core.precision.datasets import open_dataset

    specs = tuple(TensorSpec(name=n, dtype=d, shape=tuple(s)) for n, d, s in meta)
    ds = open_dataset(Path(folder), specs)
    chunks: dict[str, list] = {n: [] for n, _, _ in meta}
    have = 0
    for feed in ds.iter_feeds():
        for n in chunks:
            chunks[n].append(feed[n])
        have += next(iter(feed.values())).shape[0]
        if have >= batch:
            break
    return {n: np.concatenate(v, axis=0)[:batch] for n, v in chunks.items()}
