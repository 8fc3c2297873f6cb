"""Device profiles: TOML files with ``extends``, validated strictly (see schema.py for the tables).

Public API::

    load_profile(name_or_path=None, *, root=Path("/")) -> Profile     # None = auto-detect
    list_profiles() -> list[ProfileEntry]
    validate_file(path) -> list[str]                                   # "FILE:LINE: message", [] = valid
    Profile, DeviceSection, BuildSection, ShapeRange, QuantSection, AccuracySection, BenchSection,
    PowerSection, TelemetrySection, PRECISIONS

Which profile a device gets (``detect_device``) is in :mod:`.match`; the modules, bottom up: ``tomldoc``
(read a TOML file with line numbers), ``schema`` (the pydantic models), ``resolve`` (find, merge
``extends``, validate), ``validate``, ``match`` (device facts -> profile), ``loader``.

Importing this package imports pydantic (not for CLI module tops).
"""

from __future__ import annotations

from workbench.core.profiles.loader import ProfileEntry, list_profiles, load_profile
from workbench.core.profiles.resolve import available_names, find_profile, resolve_path
from workbench.core.profiles.schema import (
    PRECISIONS,
    AccuracySection,
    BenchSection,
    BuildSection,
    DeviceSection,
    PowerSection,
    Profile,
    QuantSection,
    ShapeRange,
    TelemetrySection,
)
from workbench.core.profiles.validate import validate_file

__all__ = [
    "PRECISIONS",
    "AccuracySection",
    "BenchSection",
    "BuildSection",
    "DeviceSection",
    "PowerSection",
    "Profile",
    "ProfileEntry",
    "QuantSection",
    "ShapeRange",
    "TelemetrySection",
    "available_names",
    "find_profile",
    "list_profiles",
    "load_profile",
    "resolve_path",
    "validate_file",
]
