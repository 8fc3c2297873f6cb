"""Load a device profile by name, by path or by detecting the device; list every profile.

The files are found, merged (``extends``) and validated by :mod:`.resolve`; auto-detection asks
:mod:`.match` which profile the device under ``root`` gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core.errors import ConfigError
from workbench.core.profiles.match import detect_device
from workbench.core.profiles.resolve import analyse_file, list_profile_paths, resolve_path
from workbench.core.profiles.tomldoc import read_toml


@dataclass(frozen=True)
class ProfileEntry:
    """One row of ``list_profiles()``: ``error`` is None for a valid profile, else its first problem
    (with a count of the others)."""

    name: str
    path: Path
    description: str
    error: str | None


def load_profile(name_or_path: str | None = None, *, root: Path = Path("/")) -> Any:
    """Load and resolve a profile by name or path; ``None`` auto-detects the device under ``root``.

    Returns a frozen :class:`~workbench.core.profiles.schema.Profile`. Raises ConfigError (exit 3) with
    ``problems`` = every ``FILE:LINE: message`` when the profile or a parent is invalid, or when the name
    is unknown."""
    if name_or_path is None:
        name_or_path = detect_device(root).profile_name
    path = resolve_path(name_or_path)
    profile, problems = analyse_file(path)
    if problems:
        n = len(problems)
        raise ConfigError(
            f"profile {path} is invalid ({n} problem{'s' if n != 1 else ''})",
            problems=problems,
            hint=f"fix the file(s) above; 'workbench profiles validate {path}' re-checks",
        )
    return profile


def _raw_description(path: Path) -> str:
    doc = read_toml(path)
    desc = (doc.data or {}).get("description", "")
    return desc if isinstance(desc, str) else ""


def list_profiles() -> list[ProfileEntry]:
    """Every profile in the user and bundled directories (a user file shadows a bundled one of the same
    name), sorted by name; invalid ones carry their first problem in ``error``. Never raises."""
    out = []
    for name, p in list_profile_paths():
        _, problems = analyse_file(p)
        err = None
        if problems:
            err = problems[0] + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "")
        out.append(ProfileEntry(name=name, path=p, description=_raw_description(p), error=err))
    return out
