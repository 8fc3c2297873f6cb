"""Parse ``--input-shape`` style specs: ``name:1x3x224x224``, repeatable or comma-separated (trtexec's syntax)."""

from __future__ import annotations

from collections.abc import Iterable

from workbench.core.errors import UsageError


def parse_input_shapes(specs: Iterable[str] | None, *, option: str = "--input-shape") -> dict[str, tuple[int, ...]]:
    """``["x:1x3x224x224", "mask:1x128,ids:1x128"]`` -> ``{"x": (1, 3, 224, 224), "mask": (1, 128), "ids": (1, 128)}``.

    Order is kept (it is the positional order of the model's inputs). ``name:scalar`` (or ``name:``) is rank 0.

    Raises:
        UsageError: naming ``option`` and the bad item (no ``:``, empty name, non-integer or negative dim,
            a name given twice).
    """
    out: dict[str, tuple[int, ...]] = {}
    for spec in specs or ():
        for item in str(spec).split(","):
            item = item.strip()
            if not item:
                continue
            name, sep, dims = item.rpartition(":")
            if not sep or not name:
                raise UsageError(
                    f"{option} {item!r}: expected NAME:DIMS such as input:1x3x224x224",
                    hint=f"give one {option} per input, e.g. {option} x:1x3x224x224",
                )
            if name in out:
                raise UsageError(f"{option}: input {name!r} is given twice", hint="give each input once")
            dims = dims.strip().lower()
            if dims in ("", "scalar"):
                out[name] = ()
                continue
            try:
                shape = tuple(int(d) for d in dims.split("x"))
            except ValueError:
                raise UsageError(
                    f"{option} {item!r}: dims must be integers separated by 'x'",
                    hint="write the dims as whole numbers joined by 'x', e.g. x:1x3x224x224 (or x:scalar)",
                ) from None
            if any(d < 0 for d in shape):
                raise UsageError(
                    f"{option} {item!r}: dims must not be negative",
                    hint="give each dim as 0 or more, e.g. x:1x3x224x224",
                )
            out[name] = shape
    return out


def format_shapes(shapes: dict[str, tuple[int, ...]]) -> str:
    """Inverse of :func:`parse_input_shapes` (stable text for cache keys and messages)."""
    return ",".join(f"{k}:{'x'.join(map(str, v)) if v else 'scalar'}" for k, v in shapes.items())
