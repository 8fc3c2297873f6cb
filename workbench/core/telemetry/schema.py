"""One telemetry sample schema shared by every source (tegrastats, sysfs, jtop, NVML, nvidia-smi, host, replay).

Rules that hold for every field:

* Units are in the field names (``_mw`` milliwatts, ``_c`` degrees Celsius, ``_mhz``, ``_pct`` 0-100, ``_mb``
  mebibytes as tegrastats prints "MB", ``_s`` seconds, ``_mj`` millijoules).
* A value the source does not have is ``None`` (shown as "n/a"), never 0. A reason for a missing field lives
  in the source's ``unavailable`` mapping.
* ``timestamp_s`` is ``time.monotonic()`` seconds at the moment the sample was taken (or, for replay, the
  playback moment); ``wall_time`` is whatever clock text the source printed (tegrastats' ``MM-DD-YYYY HH:MM:SS``),
  kept for display only.

The board total power is chosen by :func:`choose_total` (rule recorded in ``total_power_rule``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

# Board-input rails: each one *is* the total board power; the other rails are sub-rails of it.
# Sources: NVIDIA Jetson Linux Developer Guide, "Power Monitoring" tables per module (Nano/TX1 POM_5V_IN,
# TX2/Xavier NX/Orin NX/Orin Nano VDD_IN, Thor VIN). Order is the preference when a line has several.
INPUT_RAILS: tuple[str, ...] = ("VDD_IN", "POM_5V_IN", "VIN")

# Rails never added into a sum: "NC" is an unconnected INA3221 channel (AGX Orin prints it, sometimes twice).
EXCLUDED_FROM_SUM: tuple[str, ...] = ("NC",)

# VIN_SYS_5V0 (AGX Orin) is one module rail among others, not the board input: never the total on its own.
NEVER_TOTAL_ALONE: tuple[str, ...] = ("VIN_SYS_5V0",)


@dataclass(frozen=True)
class RailReading:
    """One power rail. ``now_mw`` instantaneous; ``avg_mw`` tegrastats' running average *since tegrastats
    started* (never use it for energy); ``max_mw`` JetPack 7's running maximum."""

    now_mw: float | None
    avg_mw: float | None = None
    max_mw: float | None = None

    def to_dict(self) -> dict[str, float | None]:
        return {"now": self.now_mw, "avg": self.avg_mw, "max": self.max_mw}


@dataclass(frozen=True)
class CpuCore:
    """One logical CPU. An offline core has ``online=False`` and ``None`` load/frequency (not 0 %)."""

    online: bool
    load_pct: float | None = None
    freq_mhz: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"online": self.online, "load_pct": self.load_pct, "freq_mhz": self.freq_mhz}


@dataclass(frozen=True)
class GpuReading:
    """GPU load and per-GPC frequencies (one entry per GPC; JetPack 7 / Thor print arrays).
    ``load_pct`` is None where the source prints none (Thor)."""

    load_pct: float | None
    freq_mhz: tuple[float | None, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"load_pct": self.load_pct, "freq_mhz": list(self.freq_mhz)}


@dataclass(frozen=True)
class LoadFreq:
    """A load + frequency pair (EMC, and engines such as NVENC/NVDEC/DLA/VIC).
    ``on`` is False for an engine printed as ``off``, None when the source does not say."""

    load_pct: float | None
    freq_mhz: float | None
    on: bool | None = None

    def to_dict(self, *, with_on: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {"load_pct": self.load_pct, "freq_mhz": self.freq_mhz}
        if with_on:
            d = {"on": self.on, **d}
        return d


@dataclass(frozen=True)
class MemReading:
    """Used / total in MB (tegrastats' "MB" = MiB)."""

    used: float | None
    total: float | None

    def to_dict(self) -> dict[str, float | None]:
        return {"used": self.used, "total": self.total}


@dataclass(frozen=True)
class FanReading:
    """Fan duty (0-100 %) and speed where reported."""

    pwm_pct: float | None = None
    rpm: float | None = None

    def to_dict(self) -> dict[str, float | None]:
        return {"pwm_pct": self.pwm_pct, "rpm": self.rpm}


@dataclass(frozen=True)
class TelemetrySample:
    """One reading of every field a source has. See the module docstring for the conventions."""

    timestamp_s: float
    seq: int
    source: str = ""
    wall_time: str | None = None
    rails_mw: Mapping[str, RailReading] = field(default_factory=dict)
    total_power_mw: float | None = None
    total_power_rule: str | None = None
    energy_mj: float | None = None  # a cumulative hardware energy counter (NVML, RAPL), if any
    temps_c: Mapping[str, float | None] = field(default_factory=dict)
    temps_max_c: Mapping[str, float | None] = field(default_factory=dict)
    cpu: tuple[CpuCore, ...] = ()
    gpu: GpuReading | None = None
    emc: LoadFreq | None = None
    ram_mb: MemReading | None = None
    swap_mb: MemReading | None = None
    fan: FanReading | None = None
    engines: Mapping[str, LoadFreq] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)  # understood but schema-less (lfb, IRAM, MTS, ...)
    throttle_reasons: tuple[str, ...] | None = None  # decoded clocks-event reasons (NVML); None = not reported
    stale: tuple[str, ...] = ()  # fields carried over from an earlier read because a helper timed out
    unparsed: tuple[str, ...] = ()

    def with_time(self, timestamp_s: float, seq: int) -> TelemetrySample:
        """A copy stamped with another monotonic time and sequence number (replay, recorder)."""
        return replace(self, timestamp_s=timestamp_s, seq=seq)

    @property
    def cpu_load_mean_pct(self) -> float | None:
        """Mean load over online cores with a load value; None when there is none."""
        loads = [c.load_pct for c in self.cpu if c.online and c.load_pct is not None]
        return sum(loads) / len(loads) if loads else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the `telemetry parse --json` / session-file line contract)."""
        return {
            "timestamp_s": self.timestamp_s,
            "seq": self.seq,
            "source": self.source,
            "wall_time": self.wall_time,
            "ram_mb": self.ram_mb.to_dict() if self.ram_mb else None,
            "swap_mb": self.swap_mb.to_dict() if self.swap_mb else None,
            "cpu": [c.to_dict() for c in self.cpu],
            "gpu": self.gpu.to_dict() if self.gpu else None,
            "emc": self.emc.to_dict() if self.emc else None,
            "temps_c": dict(self.temps_c),
            "temps_max_c": dict(self.temps_max_c),
            "rails_mw": {k: v.to_dict() for k, v in self.rails_mw.items()},
            "total_power_mw": self.total_power_mw,
            "total_power_rule": self.total_power_rule,
            "energy_mj": self.energy_mj,
            "fan": self.fan.to_dict() if self.fan else None,
            "engines": {k: v.to_dict(with_on=True) for k, v in self.engines.items()},
            "extra": dict(self.extra),
            "throttle_reasons": list(self.throttle_reasons) if self.throttle_reasons is not None else None,
            "stale": list(self.stale),
            "unparsed": list(self.unparsed),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TelemetrySample:
        """Inverse of :meth:`to_dict` (saved sessions). Raises KeyError/TypeError/ValueError on a malformed dict."""

        def mem(x: Any) -> MemReading | None:
            return MemReading(_num(x.get("used")), _num(x.get("total"))) if x is not None else None

        def lf(x: Any) -> LoadFreq | None:
            if x is None:
                return None
            return LoadFreq(_num(x.get("load_pct")), _num(x.get("freq_mhz")), x.get("on"))

        gpu = d.get("gpu")
        fan = d.get("fan")
        tr = d.get("throttle_reasons")
        return cls(
            timestamp_s=float(d["timestamp_s"]),
            seq=int(d.get("seq", 0)),
            source=str(d.get("source", "")),
            wall_time=d.get("wall_time"),
            rails_mw={
                str(k): RailReading(_num(v.get("now")), _num(v.get("avg")), _num(v.get("max")))
                for k, v in (d.get("rails_mw") or {}).items()
            },
            total_power_mw=_num(d.get("total_power_mw")),
            total_power_rule=d.get("total_power_rule"),
            energy_mj=_num(d.get("energy_mj")),
            temps_c={str(k): _num(v) for k, v in (d.get("temps_c") or {}).items()},
            temps_max_c={str(k): _num(v) for k, v in (d.get("temps_max_c") or {}).items()},
            cpu=tuple(
                CpuCore(bool(c["online"]), _num(c.get("load_pct")), _num(c.get("freq_mhz"))) for c in d.get("cpu") or ()
            ),
            gpu=GpuReading(_num(gpu.get("load_pct")), tuple(_num(f) for f in gpu.get("freq_mhz") or ()))
            if gpu is not None
            else None,
            emc=lf(d.get("emc")),
            ram_mb=mem(d.get("ram_mb")),
            swap_mb=mem(d.get("swap_mb")),
            fan=FanReading(_num(fan.get("pwm_pct")), _num(fan.get("rpm"))) if fan is not None else None,
            engines={str(k): lf(v) for k, v in (d.get("engines") or {}).items() if v is not None},
            extra=dict(d.get("extra") or {}),
            throttle_reasons=tuple(tr) if tr is not None else None,
            stale=tuple(d.get("stale") or ()),
            unparsed=tuple(d.get("unparsed") or ()),
        )


def _num(x: Any) -> float | None:
    if x is None:
        return None
    v = float(x)
    return None if math.isnan(v) else v


def choose_total(rails: Mapping[str, RailReading], rule: str | None = None) -> tuple[float | None, str | None]:
    """Pick the board total power from the rails.

    Args:
        rails: rail name (as printed) → reading.
        rule: ``None`` infers the rule; a rail name (e.g. ``"VDD_IN"``) uses that rail; ``"sum"`` sums every rail
            except ``NC``; ``"sum:A,B"`` sums the named rails.

    Returns:
        ``(total_mw, rule_used)``; rule_used is the input rail's name, ``"sum"`` or the explicit rule.
        ``(None, None)`` when no total can be formed (no rails, only ``VIN_SYS_5V0``, a named rail absent or
        any summed rail missing a value).

    Inferred rule (issue 5): a board-input rail (VDD_IN, POM_5V_IN, VIN — whatever its position) is the total
    and its sub-rails are not added; without one, the sum of the module rails excluding NC.
    """
    if not rails:
        return None, None
    if rule is not None and rule != "sum" and not rule.startswith("sum:"):
        r = rails.get(rule)
        return (r.now_mw, rule) if r is not None and r.now_mw is not None else (None, None)
    if rule is not None and rule.startswith("sum:"):
        names = [n.strip() for n in rule[4:].split(",") if n.strip()]
        vals = [rails[n].now_mw if n in rails else None for n in names]
        if not names or any(v is None for v in vals):
            return None, None
        return float(sum(v for v in vals if v is not None)), rule
    if rule is None:
        for name in INPUT_RAILS:
            r = rails.get(name)
            if r is not None and r.now_mw is not None:
                return r.now_mw, name
    counted = {k: v for k, v in rails.items() if _base_name(k) not in EXCLUDED_FROM_SUM}
    if not counted or all(_base_name(k) in NEVER_TOTAL_ALONE for k in counted):
        return None, None
    if any(v.now_mw is None for v in counted.values()):
        return None, None
    return float(sum(v.now_mw for v in counted.values() if v.now_mw is not None)), "sum"


def _base_name(rail: str) -> str:
    # Duplicate rail names are stored as "NAME#2", "NAME#3" (see tegrastats parser).
    return rail.split("#", 1)[0]
