"""The power state recorded with every result: nvpmodel mode and whether jetson_clocks pinned the clocks.

Never raises: on a machine without nvpmodel (not a Jetson) or when it fails/hangs, the fields are None and
``reason`` says why — so a benchmark never fails because the power state could not be read.
"""

from __future__ import annotations

from typing import Any

from workbench.core.errors import PowerError
from workbench.core.hw.tools import find_tool


def current_power_state(*, timeout_s: float = 5.0, nvpmodel_exe: str | None = None) -> dict[str, Any]:
    """``{"nvpmodel_mode": str|None, "nvpmodel_id": int|None, "partial": bool, "jetson_clocks": "on"|"off"|None,
    "reason": str|None}``. ``jetson_clocks`` is "on" only when workbench pinned the clocks (its saved state exists);
    reading the real clock floors needs root, so "off" means "not pinned by workbench"."""
    from workbench.core.power.clocks import default_store_path
    from workbench.core.power.nvpmodel import Nvpmodel

    out: dict[str, Any] = {
        "nvpmodel_mode": None,
        "nvpmodel_id": None,
        "partial": False,
        "jetson_clocks": None,
        "reason": None,
    }
    exe = nvpmodel_exe or find_tool("nvpmodel")
    if exe is None:
        out["reason"] = "nvpmodel not found (not a Jetson)"
        return out
    try:
        q = Nvpmodel(exe=exe, timeout_s=timeout_s).query()
    except PowerError as exc:
        out["reason"] = str(exc)
        return out
    out.update(nvpmodel_mode=q.name, nvpmodel_id=q.id, partial=q.partial)
    if q.state == "unset":
        out["reason"] = "no power mode set yet"
    out["jetson_clocks"] = "on" if default_store_path().exists() else "off"
    return out
