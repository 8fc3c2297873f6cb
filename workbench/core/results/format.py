"""Number and size formatting shared by every text the core renders (summaries, tables, exports)."""

from __future__ import annotations

from typing import Any


def fmt_num(v: Any, *, unit_digits: int = 3) -> str:
    """Readable number: ``-`` for missing, 3 decimals in 1..100, 4 significant digits below 1, 1 decimal above."""
    if v is None or isinstance(v, bool):
        return "-" if v is None else str(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if f == 0:
        return "0"
    if abs(f) >= 100:
        return f"{f:.1f}"
    if abs(f) >= 1:
        return f"{f:.{unit_digits}f}"
    return f"{f:.4g}"


def fmt_opt(value: Any, fmt: str = ".4f", unit: str = "") -> str:
    """``value`` formatted with ``fmt`` and ``unit``, or ``n/a`` when it is missing."""
    if value is None:
        return "n/a"
    return f"{value:{fmt}}{unit}"


def human_bytes(n: int | float | None) -> str:
    """``1536`` -> ``1.5 KiB`` (binary units, as ``ls -h``); ``None`` -> ``-``."""
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover
