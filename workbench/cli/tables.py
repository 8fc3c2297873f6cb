"""Plain-text tables for human output (stdlib only, so command modules can import it at top)."""

from __future__ import annotations

from collections.abc import Sequence

from workbench.core.textsafe import field


def table(
    header: Sequence[str], rows: Sequence[Sequence[str]], *, right: set[int] | frozenset[int] = frozenset()
) -> list[str]:
    """Lines of a space-aligned table; columns in ``right`` are right-aligned (numbers). Cells are shown escaped
    (``textsafe.field``): a name with a newline or a control character stays in its cell, visibly escaped."""
    cells = [list(map(field, header))] + [list(map(field, r)) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    out = []
    for r in cells:
        parts = [c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(r)]
        out.append("  ".join(parts).rstrip())
    return out
