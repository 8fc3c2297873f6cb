"""jtop (jetson-stats) source: talks to the jtop service through the ``jtop`` Python client.

Optional: the package is imported lazily; when it is missing, or the service is not active, or the user may not
reach its socket, the source is unavailable with the fix in the message (so "auto" falls through to sysfs).

jetson-stats 4.x reports (jtop/core/*.py): ``power`` = {"rail": {NAME: {"power": mW, "avg": mW, "online", "type": "I2C"|"SYSTEM"}},
"tot": {"power": mW, "name": rail}}; ``temperature`` = {ZONE: {"temp": °C, "online"}}; ``cpu`` =
{"cpu": [{"online", "freq": {"cur": kHz}, "idle": %}]}; ``gpu`` = {NAME: {"status": {"load": %},
"freq": {"cur": kHz, "GPC": [kHz]}}}; ``memory`` = {"RAM": {"tot", "used": kB}, "SWAP": {...}, "EMC": {"val": %,
"cur": kHz}}; ``fan`` = {NAME: {"speed": [%], "rpm": [rpm]}}; ``engine`` = {GROUP: {NAME: {"online", "cur": kHz}}}.
Every lookup is defensive: a key that is absent gives None, never 0.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from workbench.core.errors import TelemetryError
from workbench.core.telemetry.base import BaseSource
from workbench.core.telemetry.schema import (
    CpuCore,
    FanReading,
    GpuReading,
    LoadFreq,
    MemReading,
    RailReading,
    TelemetrySample,
    choose_total,
)

SERVICE_FIX = "sudo systemctl restart jtop.service (and add yourself to the 'jtop' group, then log in again)"


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, Mapping) or k not in d:
            return None
        d = d[k]
    return d


def _f(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def _khz_to_mhz(x: Any) -> float | None:
    v = _f(x)
    return v / 1000.0 if v is not None else None


def _default_factory() -> Any:
    try:
        from jtop import jtop  # type: ignore[import-not-found]
    except ImportError:
        raise TelemetryError(
            "jtop unavailable: jetson-stats is not installed", hint="pip install jetson-stats (needs the jtop service)"
        ) from None
    return jtop()


class JtopSource(BaseSource):
    name = "jtop"

    def __init__(
        self, *, factory: Callable[[], Any] | None = None, total_rule: str | None = None, clock=time.monotonic
    ) -> None:
        super().__init__(clock=clock)
        self._total_rule = total_rule
        self.jetson = (factory or _default_factory)()
        try:
            self.jetson.start()
            ok = self.jetson.ok() if hasattr(self.jetson, "ok") else True
        except Exception as exc:  # noqa: BLE001 - jtop raises JtopException and others for service/permission problems
            raise TelemetryError(f"jtop service not usable: {exc}", hint=SERVICE_FIX) from None
        if not ok:
            self.close()
            raise TelemetryError("jtop service gave no data", hint=SERVICE_FIX)

    def read(self) -> TelemetrySample:
        t, seq = self._next()
        j = self.jetson
        try:
            if hasattr(j, "ok"):
                j.ok()
            power, temps, cpu, gpu, mem, fan, eng = (
                getattr(j, a, None) for a in ("power", "temperature", "cpu", "gpu", "memory", "fan", "engine")
            )
        except Exception as exc:  # noqa: BLE001 - a dropped service connection must not stop sampling
            raise TelemetryError(
                f"jtop read failed: {exc}",
                hint="check the jtop service (`sudo systemctl restart jtop.service`), or use --telemetry sysfs or "
                "tegrastats",
            ) from None
        rails: dict[str, RailReading] = {}
        supplies: dict[str, float | None] = {}
        for n, r in (_get(power, "rail") or {}).items():
            if _get(r, "online") is False:
                continue
            if _get(r, "type") == "SYSTEM":
                # /sys/class/power_supply entries (USB-C PD negotiation): not a measured board rail, never summed.
                supplies[str(n)] = _f(_get(r, "power"))
                continue
            rails[str(n)] = RailReading(_f(_get(r, "power")), _f(_get(r, "avg")))
        total, rule = choose_total(rails, self._total_rule)
        tot = _get(power, "tot")
        if total is None and self._total_rule is None and _f(_get(tot, "power")) is not None:
            total, rule = _f(_get(tot, "power")), str(_get(tot, "name") or "jtop.tot")
        temps_c = {
            str(z): (_f(_get(v, "temp")) if _get(v, "online") is not False else None) for z, v in (temps or {}).items()
        }
        for z, v in list(temps_c.items()):
            if v is not None and v <= -256.0:
                temps_c[z] = None
        cores = []
        for c in _get(cpu, "cpu") or []:
            if not _get(c, "online"):
                cores.append(CpuCore(online=False))
                continue
            idle = _f(_get(c, "idle"))
            cores.append(
                CpuCore(True, round(100.0 - idle, 1) if idle is not None else None, _khz_to_mhz(_get(c, "freq", "cur")))
            )
        gpu_r = None
        for g in (gpu or {}).values():
            gpcs = _get(g, "freq", "GPC")
            freqs = tuple(_khz_to_mhz(x) for x in gpcs) if isinstance(gpcs, list) and gpcs else ()
            if not freqs and _khz_to_mhz(_get(g, "freq", "cur")) is not None:
                freqs = (_khz_to_mhz(_get(g, "freq", "cur")),)
            gpu_r = GpuReading(_f(_get(g, "status", "load")), freqs)
            break
        ram = swap = emc = None
        if _get(mem, "RAM") is not None:
            ram = MemReading(_kb(_get(mem, "RAM", "used")), _kb(_get(mem, "RAM", "tot")))
        if _f(_get(mem, "SWAP", "tot")):
            swap = MemReading(_kb(_get(mem, "SWAP", "used")), _kb(_get(mem, "SWAP", "tot")))
        if _get(mem, "EMC") is not None:
            emc = LoadFreq(_f(_get(mem, "EMC", "val")), _khz_to_mhz(_get(mem, "EMC", "cur")))
        fan_r = None
        for fv in (fan or {}).values():
            speed, rpm = _get(fv, "speed"), _get(fv, "rpm")
            fan_r = FanReading(
                _f(speed[0]) if isinstance(speed, list) and speed else None,
                _f(rpm[0]) if isinstance(rpm, list) and rpm else None,
            )
            break
        engines: dict[str, LoadFreq] = {}
        for group in (eng or {}).values():
            for name, e in (group or {}).items():
                on = _get(e, "online")
                engines[str(name)] = LoadFreq(
                    None, _khz_to_mhz(_get(e, "cur")) if on else None, on=bool(on) if on is not None else None
                )
        return TelemetrySample(
            timestamp_s=t,
            seq=seq,
            source=self.name,
            rails_mw=rails,
            total_power_mw=total,
            total_power_rule=rule,
            temps_c=temps_c,
            cpu=tuple(cores),
            gpu=gpu_r,
            emc=emc,
            ram_mb=ram,
            swap_mb=swap,
            fan=fan_r,
            engines=engines,
            extra={"power_supply_mw": supplies} if supplies else {},
        )

    def close(self) -> None:
        if not self.closed and getattr(self, "jetson", None) is not None:
            try:
                self.jetson.close()
            except Exception:  # noqa: BLE001 - closing a dead service connection must not raise
                pass
        super().close()


def _kb(x: Any) -> float | None:
    v = _f(x)
    return round(v / 1024.0, 1) if v is not None else None


def open_jtop(*, root: Path = Path("/"), **opts: Any) -> JtopSource:
    """Factory for ``open_source("jtop")``."""
    return JtopSource(**opts)
