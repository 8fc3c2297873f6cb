"""Throttling: decode NVML clocks-event (throttle) reasons and flag a benchmark window whose clocks dropped or
whose temperature crossed the profile's limit.

Bit values are NVML's ``nvmlClocksEventReason*`` / ``nvmlClocksThrottleReason*`` constants (nvml.h, also in
nvidia-ml-py): GpuIdle 0x1, ApplicationsClocksSetting 0x2, SwPowerCap 0x4, HwSlowdown 0x8, SyncBoost 0x10,
SwThermalSlowdown 0x20, HwThermalSlowdown 0x40, HwPowerBrakeSlowdown 0x80, DisplayClockSetting 0x100,
BoardLimit 0x200, Reliability 0x400. Only some of them mean "slowed down by power/thermal limits".
"""

from __future__ import annotations

from collections.abc import Sequence

from workbench.core.telemetry.schema import TelemetrySample

REASON_BITS: dict[int, str] = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
    0x200: "board_limit",
    0x400: "reliability",
}
# Reasons that mean clocks were held down by power or thermal limits (the others are benign states).
THROTTLING: frozenset[str] = frozenset(
    {
        "sw_power_cap",
        "hw_slowdown",
        "sw_thermal_slowdown",
        "hw_thermal_slowdown",
        "hw_power_brake_slowdown",
        "board_limit",
        "reliability",
    }
)
CONSTANT_ZONES = frozenset({"PMIC"})  # Jetson PMIC reads a fixed 100 °C / 50 °C: never a thermal signal


def decode_reasons(mask: int) -> tuple[str, ...]:
    """Bitmask → reason names, low bit first; unknown bits become ``bit_0x...``."""
    out = []
    bit = 1
    while mask and bit <= mask:
        if mask & bit:
            out.append(REASON_BITS.get(bit, f"bit_{bit:#x}"))
        bit <<= 1
    return tuple(out)


def throttle_flags(
    samples: Sequence[TelemetrySample],
    *,
    max_temp_c: float | None = None,
    clock_drop_frac: float = 0.15,
    busy_load_pct: float = 50.0,
) -> tuple[str, ...]:
    """Human-readable flags for a benchmark window (empty = no throttling seen).

    * ``nvml:<reason>`` for every power/thermal clocks-event reason reported during the window;
    * ``temp>LIMIT: ZONE MAX°C`` when a zone (PMIC excluded) exceeded ``max_temp_c``;
    * ``gpu clock drop A→B MHz`` when, while the GPU was busy (≥ ``busy_load_pct``), its highest GPC clock fell
      more than ``clock_drop_frac`` below the highest busy clock seen earlier in the window (Jetson trend check).
    """
    flags: list[str] = []
    for s in samples:
        for r in s.throttle_reasons or ():
            f = f"nvml:{r}"
            if r in THROTTLING and f not in flags:
                flags.append(f)
    if max_temp_c is not None:
        worst: dict[str, float] = {}
        for s in samples:
            for zone, t in s.temps_c.items():
                if t is not None and zone.upper() not in CONSTANT_ZONES and t > max_temp_c:
                    worst[zone] = max(t, worst.get(zone, t))
        for zone, t in sorted(worst.items(), key=lambda kv: -kv[1]):
            flags.append(f"temp>{max_temp_c:g}°C: {zone} {t:g}°C")
    peak: float | None = None
    low: float | None = None
    for s in samples:
        g = s.gpu
        if g is None or g.load_pct is None or g.load_pct < busy_load_pct:
            continue
        freqs = [f for f in g.freq_mhz if f is not None]
        if not freqs:
            continue
        f = max(freqs)
        if peak is not None and f < peak * (1.0 - clock_drop_frac):
            low = f if low is None else min(low, f)
        peak = f if peak is None else max(peak, f)
    if peak is not None and low is not None:
        flags.append(f"gpu clock drop {peak:g}→{low:g} MHz under load")
    return tuple(flags)
