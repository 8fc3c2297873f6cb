"""Telemetry: one sample schema, many sources, a recorder and energy integration.

``open_source(spec)`` returns a source with ``name``, ``measured``, ``unavailable``, ``read()``, ``close()``.
Specs: ``"auto"`` (first available of jtop, sysfs, tegrastats, nvml, host — nvidia-smi only when NVML is
unusable; an NVML without power readings on a Jetson switches to sysfs/tegrastats and says so), ``"host"``, ``"sysfs"``, ``"tegrastats"``, ``"nvml"``, ``"nvidia-smi"``, ``"jtop"``,
``"replay:FILE[,interval_ms=N]"``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from workbench.core.errors import TelemetryError, UsageError
from workbench.core.telemetry.base import BaseSource, TelemetrySource
from workbench.core.telemetry.energy import EnergyResult, energy_from_counter, integrate_power
from workbench.core.telemetry.recorder import REPLAY_LABEL, Recorder, TelemetrySummary
from workbench.core.telemetry.schema import TelemetrySample, choose_total

__all__ = [
    "AUTO_ORDER",
    "BaseSource",
    "EnergyResult",
    "REPLAY_LABEL",
    "Recorder",
    "SOURCE_NAMES",
    "TelemetrySample",
    "TelemetrySource",
    "TelemetrySummary",
    "choose_total",
    "energy_from_counter",
    "integrate_power",
    "open_source",
    "probe_sources",
]

# name → "module:factory"; each factory takes (root=Path, **opts) and raises TelemetryError when unavailable.
_FACTORIES: dict[str, str] = {
    "jtop": "workbench.core.telemetry.jtop_source:open_jtop",
    "sysfs": "workbench.core.telemetry.sysfs:open_sysfs",
    "tegrastats": "workbench.core.telemetry.tegrastats:open_tegrastats",
    "nvml": "workbench.core.telemetry.nvml:open_nvml",
    "nvidia-smi": "workbench.core.telemetry.nvidia_smi:open_nvidia_smi",
    "host": "workbench.core.telemetry.host:HostSource",
}
SOURCE_NAMES: tuple[str, ...] = (*_FACTORIES, "replay")
# Priority order of issue 5. nvidia-smi comes after host on purpose only where NVML worked; see open_source.
AUTO_ORDER: tuple[str, ...] = ("jtop", "sysfs", "tegrastats", "nvml", "nvidia-smi", "host")


def _factory(name: str):
    modname, func = _FACTORIES[name].split(":")
    try:
        mod = importlib.import_module(modname)
    except ImportError as exc:  # a module of ours not shipped in this build
        raise TelemetryError(
            f"telemetry source {name!r} is not available: {exc}",
            hint="reinstall the workbench (pip install --force-reinstall edge-workbench), or pick another source "
            "with --telemetry",
        ) from None
    return getattr(mod, func)


def _parse_replay(spec: str) -> tuple[Path, dict[str, int]]:
    body = spec[len("replay:") :]
    parts = body.split(",")
    path = parts[0]
    opts: dict[str, int] = {}
    for p in parts[1:]:
        key, sep, val = p.partition("=")
        if key.strip() != "interval_ms" or not sep or not val.strip().isdigit() or int(val) <= 0:
            raise UsageError(
                f"bad telemetry option {p!r} in {spec!r}", hint="use replay:FILE or replay:FILE,interval_ms=N (N > 0)"
            )
        opts["interval_ms"] = int(val)
    if not path:
        raise UsageError(f"no file in telemetry spec {spec!r}", hint="use replay:FILE[,interval_ms=N]")
    return Path(path), opts


#: Said when NVML answers on a Jetson (JetPack 7: an NVML that knows the integrated GPU) but has no power readings.
JETSON_NVML_POWER = "power n/a: NVML has no power readings on Jetson; using {using}"
#: Where a Jetson's power comes from instead, in order (INA3221/INA238 rails): the same sources "auto" prefers.
_JETSON_POWER_SOURCES = ("sysfs", "tegrastats")


def _is_jetson(root: Path) -> bool:
    from workbench.core.hw.detect import RELEASE_FILE

    return (Path(root) / RELEASE_FILE).is_file()


def _nvml_power_fallback(src: TelemetrySource, root: Path) -> TelemetrySource:
    """NVML opened on a Jetson but answers NOT_SUPPORTED for power and energy (JetPack 7's NVML on the integrated
    GPU): the board's power rails come from sysfs or tegrastats instead, and the switch is said in ``unavailable``
    (``source:nvml``) — never a silently missing energy figure. When neither opens, the NVML source stays, with
    the reason under ``total_power_mw``. Any other source (or an NVML with power) is returned as it is."""
    if getattr(src, "name", None) != "nvml" or getattr(src, "has_power", True) or not _is_jetson(root):
        return src
    tried: dict[str, str] = {}
    for name in _JETSON_POWER_SOURCES:
        try:
            other = _factory(name)(root=Path(root))
        except (TelemetryError, OSError) as exc:
            tried[name] = str(exc)
            continue
        if "total_power_mw" in other.unavailable:  # opened, but no power rail either (sources say so there)
            tried[name] = f"no power readings ({other.unavailable['total_power_mw']})"
            other.close()
            continue
        src.close()
        other.unavailable["source:nvml"] = JETSON_NVML_POWER.format(using=name)
        for k, v in tried.items():
            other.unavailable[f"source:{k}"] = v
        return other
    src.unavailable["total_power_mw"] = JETSON_NVML_POWER.format(using="nothing: ") + "; ".join(
        f"{k}: {v}" for k, v in tried.items()
    )
    return src


def open_source(spec: str = "auto", *, root: Path = Path("/")) -> TelemetrySource:
    """Open a telemetry source by spec (see module doc).

    ``root`` is the filesystem root for sysfs/conf reads (tests point it at a fixture tree).
    "auto" tries :data:`AUTO_ORDER`; every skipped source's reason is kept in the chosen source's
    ``unavailable`` under ``"source:<name>"`` so the user sees why (e.g. jtop's "service not active" fix).
    Raises:
        UsageError: unknown spec or malformed replay options.
        TelemetryError: the named source is unavailable here (message says why and what to do).
    """
    spec = (spec or "auto").strip()
    if spec.startswith("replay:"):
        from workbench.core.telemetry.replay import ReplaySource

        path, opts = _parse_replay(spec)
        return ReplaySource(path, **opts)
    if spec == "auto":
        skipped: dict[str, str] = {}
        # The first source that opens wins, so nvidia-smi (after nvml in AUTO_ORDER) is reached only when NVML
        # could not be opened.
        for name in AUTO_ORDER:
            try:
                src = _factory(name)(root=Path(root))
            except (TelemetryError, OSError) as exc:
                hint = getattr(exc, "hint", None)
                skipped[name] = f"{exc} (fix: {hint})" if hint else str(exc)
                continue
            src = _nvml_power_fallback(src, Path(root))
            for k, v in skipped.items():
                src.unavailable.setdefault(f"source:{k}", v)
            return src
        raise TelemetryError(
            "no telemetry source is available: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()),
            hint="`workbench telemetry sources` shows why each source is unusable; --telemetry host always works on "
            "Linux",
        )
    if spec not in _FACTORIES:
        raise UsageError(
            f"unknown telemetry source {spec!r}",
            hint="choose one of: auto, " + ", ".join(_FACTORIES) + ", replay:FILE[,interval_ms=N]",
        )
    return _nvml_power_fallback(_factory(spec)(root=Path(root)), Path(root))


def probe_sources(*, root: Path = Path("/")) -> list[tuple[str, bool, str]]:
    """Try every live source once: ``[(name, available, reason_or_summary)]`` (for `telemetry sources`)."""
    out: list[tuple[str, bool, str]] = []
    for name in AUTO_ORDER:
        try:
            src = _factory(name)(root=Path(root))
        except (TelemetryError, OSError) as exc:
            hint = getattr(exc, "hint", None)
            out.append((name, False, f"{exc} (fix: {hint})" if hint else str(exc)))
            continue
        try:
            na = ", ".join(f"{k}: {v}" for k, v in src.unavailable.items())
            out.append((name, True, f"n/a here: {na}" if na else "all fields"))
        finally:
            src.close()
    return out
