"""Memory budgets: how many bytes one array read from a user's file, or one set of generated inputs, may take.

Sizes come from what a file or a request *declares* (an ``.npy`` header's shape × itemsize, ``--shapes`` ×
the input's dtype), computed before anything is read or allocated, and are compared with the memory available now
(``psutil.virtual_memory().available``: free memory plus what the kernel can reclaim at once).

Fractions (stated here, used in the messages):

* :data:`ARRAY_FRACTION` = 1/2 — one sample file's arrays are held together while a calibration or accuracy pass
  runs one inference on them; the other half is left for the model, the runtime and its outputs.
* :data:`FEED_FRACTION` = 1/4 — benchmark inputs live for the whole run beside the runtime's arena, the outputs and
  the activations, which for convolutional and transformer models are usually several times the inputs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

ARRAY_FRACTION = 0.5
FEED_FRACTION = 0.25


def available_bytes() -> int:
    """Memory available now, in bytes (psutil; a core dependency, imported lazily to keep CLI start fast)."""
    import psutil

    return int(psutil.virtual_memory().available)


def nbytes(shape: Iterable[int], dtype: Any) -> int:
    """Bytes an array of ``shape`` (ints) and numpy ``dtype`` takes: product of dims × itemsize (Python ints, so a
    declared 10^15-element shape does not overflow). A dtype numpy does not know (``bfloat16`` without ml_dtypes)
    counts 1 byte per element: the smallest, so a check never refuses on a guess."""
    import numpy as np

    try:
        itemsize = int(np.dtype(dtype).itemsize)
    except TypeError:
        itemsize = 1
    return math.prod(int(d) for d in shape) * itemsize


def human(n: int | float) -> str:
    """``3 * 2**30`` -> ``3.0 GiB``; binary units up to PiB (declared sizes can be absurd)."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024:
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} PiB"


def budget(fraction: float) -> int:
    """``fraction`` of :func:`available_bytes`, in bytes."""
    return int(available_bytes() * fraction)
