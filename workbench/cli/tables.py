"""Plain-text tables for human output (stdlib only, so command modules can import it at top)."""

from __future__ import annotations

from collections.abc import Sequence


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
