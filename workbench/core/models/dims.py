"""What the dims of a model's inputs mean, and where the batch sits. Stdlib only.

ONNX writes each dim as a value (``dim_value``), a name (``dim_param``) or nothing, and exporters use them
differently. One reading, used by inspection, datasets and benchmark feeds alike:

* an ``int > 0`` is a **fixed** size;
* a name is a **symbol**: every dim carrying the same name, in any input, has the same size
  (``batch``, ``sequence``, ``p2o.DynamicDimension.1``);
* everything else is an **unknown**, a separate one each time: no name, the name ``?`` (Paddle writes
  ``[-1, 3, ?, ?]``, meaning four sizes, not one shared by height and width), and ``dim_value`` ≤ 0 (Paddle
  writes ``-1`` for the batch). Unknowns are normalised to ``None``.

The batch (:func:`batch_layout`): the leading dim of the first input that is not a scalar. When that dim is a
symbol, the batch axis of every other input is where that symbol sits in it (silero-VAD's ``state`` is
``[2, batch, 128]``: axis 1); scalars and fixed dims never count. When it is an unknown (Paddle's ``-1``), the
leading unknown dim of each input is its batch axis, as those exporters mean it. When it is fixed, the model's
batch is that size and cannot change (inputs that lead with the same size carry it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

Dim = int | str | None

UNKNOWN_NAMES = frozenset({"", "?"})


def normalize_dim(d: object) -> Dim:
    """One dim as :mod:`dims` reads it: ``int > 0`` (fixed), a symbol name, or None (unknown).

    ``-1``/``0`` and other non-positive ints, None, ``""`` and ``"?"`` are unknowns.
    """
    if isinstance(d, bool):  # a bool is an int to Python, never a size
        return None
    if isinstance(d, int):
        return d if d > 0 else None
    if isinstance(d, str):
        name = d.strip()
        return None if name in UNKNOWN_NAMES else name
    return None


def normalize_shape(shape: Iterable[object]) -> tuple[Dim, ...]:
    """:func:`normalize_dim` over a shape."""
    return tuple(normalize_dim(d) for d in shape)


def is_fixed(d: Dim) -> bool:
    return isinstance(d, int) and not isinstance(d, bool) and d > 0


def symbol(d: Dim) -> str | None:
    """The symbol's name, or None for a fixed or unknown dim."""
    return d if isinstance(d, str) and d not in UNKNOWN_NAMES else None


def fmt_dim(d: Dim) -> str:
    return "?" if d is None else str(d)


def fmt_shape(shape: Sequence[Dim]) -> str:
    """``[batch, 3, ?, ?]``; ``[]`` for a scalar."""
    return "[" + ", ".join(fmt_dim(d) for d in shape) + "]"


@dataclass(frozen=True)
class BatchLayout:
    """Where the batch sits in a model's inputs.

    Attributes:
        lead: the first input that is not a scalar (its axis 0 is the batch), or None when every input is a scalar.
        symbol: the symbol at ``lead``'s axis 0, or None (an unknown or fixed dim).
        fixed: ``lead``'s axis 0 when it is fixed: the model's batch cannot change. None otherwise.
        axes: input name -> axis of its batch dim, or None (a scalar, or an input the batch does not run through).
    """

    lead: str | None
    symbol: str | None
    fixed: int | None
    axes: dict[str, int | None] = field(default_factory=dict)

    def axis(self, name: str) -> int | None:
        return self.axes.get(name)


def batch_layout(inputs: Sequence[Any]) -> BatchLayout:
    """The batch of a model with ``inputs`` (TensorSpec-like: ``.name``, ``.shape``; dims as in ONNX or
    normalised). See the module doc for the rule."""
    shapes = {i.name: normalize_shape(i.shape) for i in inputs}
    lead = next((name for name, s in shapes.items() if s), None)
    if lead is None:
        return BatchLayout(None, None, None, dict.fromkeys(shapes))
    first = shapes[lead][0]
    axes: dict[str, int | None] = {}
    if is_fixed(first):
        # The batch cannot change; inputs that lead with the same size carry it too (a fixed-shape BERT's
        # ids and mask, [1, 128] each), so a dataset may still leave it out of their files or stack files to it.
        axes = {name: (0 if s and s[0] == first else None) for name, s in shapes.items()}
        return BatchLayout(lead, None, int(first), axes)  # type: ignore[arg-type]
    sym = symbol(first)
    for name, s in shapes.items():
        if sym is not None:
            axes[name] = next((i for i, d in enumerate(s) if d == sym), None)
        else:
            axes[name] = 0 if s and s[0] is None else None
    return BatchLayout(lead, sym, None, axes)


def symbols_of(inputs: Sequence[Any]) -> dict[str, list[tuple[str, int]]]:
    """Symbol name -> [(input name, axis), …] for every named dim of ``inputs``, in input order."""
    out: dict[str, list[tuple[str, int]]] = {}
    for i in inputs:
        for axis, d in enumerate(normalize_shape(i.shape)):
            s = symbol(d)
            if s is not None:
                out.setdefault(s, []).append((i.name, axis))
    return out
