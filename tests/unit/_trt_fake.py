"""Stand-in ``tensorrt`` modules built from the reference binding names of one release (no behaviour, names only).

Enum members get distinct small ints (so network flag masks can be computed); class members are placeholders.
"""

from __future__ import annotations

import json
import types
from pathlib import Path

REF = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "trt" / "tensorrt-python-api.json").read_text())[
    "versions"
]


def fake_trt(release: str, patch: int = 0) -> types.ModuleType:
    data = REF[release]
    mod = types.ModuleType(f"tensorrt_{release.replace('.', '_')}")
    mod.__version__ = f"{release}.{patch}"
    for name, info in data["classes"].items():
        attrs = {}
        for i, member in enumerate(info["members"]):
            if member.startswith("__"):
                continue
            attrs[member] = i if info["kind"] == "enum" else object()
        setattr(mod, name, type(name, (), attrs))
    for fn in data["module_functions"]:
        setattr(mod, fn, lambda *a, **k: None)
    return mod
