"""Validate a profile file: every problem as one ``FILE:LINE: message`` line.

Public: :func:`validate_file`. The reading and line indexing are in :mod:`.tomldoc`, the resolution of
``extends`` and the schema checks in :mod:`.resolve`.
"""

from __future__ import annotations

from pathlib import Path

from workbench.core.profiles.resolve import analyse_file


def validate_file(path: str | Path) -> list[str]:
    """Every problem of the profile at ``path`` (and of the files it extends) as ``FILE:LINE: message``:
    TOML syntax errors, unknown keys with "did you mean", wrong types/values, missing keys, extends
    cycles and missing parents. An empty list means the profile is valid. Never raises for bad input."""
    _, problems = analyse_file(Path(path))
    return problems
