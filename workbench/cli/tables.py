"""Plain-text tables and sizes for human output (stdlib only, so command modules can import it at top)."""

from __future__ import annotations

from collections.abc import Sequence


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


def table(
    header: Sequence[str], rows: Sequence[Sequence[str]], *, right: set[int] | frozenset[int] = frozenset()
) -> list[str]:
    """Lines of a space-aligned table; columns in ``right`` are right-aligned (numbers)."""
    cells = [list(map(str, header))] + [list(map(str, r)) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    out = []
    for r in cells:
        parts = [c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(r)]
        out.append("  ".join(parts).rstrip())
    return out
