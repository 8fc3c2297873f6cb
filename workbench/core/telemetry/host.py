"""Host source (psutil + Linux sysfs): per-core CPU load/frequency, RAM/SWAP, temperatures, RAPL energy.

Works on any machine; fields the machine lacks are ``None`` with a reason in ``unavailable``:

* temperatures: ``psutil.sensors_temperatures()`` (hwmon/thermal); empty → "no thermal zones (...)".
* power/energy: Intel/AMD RAPL package counters ``/sys/class/powercap/intel-rapl:N/energy_uj`` (µJ, wraps at
  ``max_energy_range_uj``; root-only since Linux 5.10 because of the PLATYPUS side channel, CVE-2020-8694).
  Power is the counter difference between two reads; RAPL covers the CPU package(s) only, not the board.
* offline cores: ``/sys/devices/system/cpu/cpuN/online`` ("0" = offline) — psutil only lists online cores.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from workbench.core.telemetry.base import BaseSource
from workbench.core.telemetry.schema import CpuCore, FanReading, MemReading, RailReading, TelemetrySample

_MIB = 1024 * 1024


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _busy_idle(t) -> tuple[float, float]:
    # Linux: guest/guest_nice are already inside user/nice (proc(5)), so they are not added again.
    idle = t.idle + getattr(t, "iowait", 0.0)
    busy = t.user + t.nice + t.system + sum(getattr(t, f, 0.0) for f in ("irq", "softirq", "steal"))
    return busy, idle


def _busy_pct(prev, cur) -> float | None:
    b0, i0 = _busy_idle(prev)
    b1, i1 = _busy_idle(cur)
    total = (b1 - b0) + (i1 - i0)
    if total <= 0:
        return None  # no time elapsed for this CPU: unknown, not 0 %
    return round(min(100.0, max(0.0, 100.0 * (b1 - b0) / total)), 1)


class HostSource(BaseSource):
    """psutil-based source. ``root`` redirects the sysfs reads (tests); psutil reads the live machine."""

    name = "host"

    def __init__(self, *, root: Path = Path("/"), clock=time.monotonic) -> None:
        super().__init__(clock=clock)
        import psutil  # a core dependency, imported lazily to keep CLI start fast

        self._ps = psutil
        self._root = Path(root)
        self._rapl = self._find_rapl()
        self._rapl_prev: dict[str, tuple[float, int]] = {}
        self._rapl_energy_mj = 0.0
        # Per-CPU load from our own cpu_times deltas (psutil.cpu_percent keeps one module-wide "previous call",
        # which two sources or another caller would disturb). Primed here so the first read has a delta.
        self._prev_times = self._ps.cpu_times(percpu=True)
        self._ncpu: int | None = None
        self._probe()

    # -- discovery -------------------------------------------------------------------------------------
    def _find_rapl(self) -> list[tuple[Path, int | None]]:
        base = self._root / "sys/class/powercap"
        if not base.is_dir():
            self.unavailable["power"] = "no RAPL powercap (/sys/class/powercap absent)"
            return []
        zones = []
        # Package-level zones only (intel-rapl:0, intel-rapl:1); sub-zones (intel-rapl:0:0 = core) are inside them.
        for d in sorted(base.glob("intel-rapl:*")):
            if re.fullmatch(r"intel-rapl:\d+", d.name) is None:
                continue
            rng = _read_text(d / "max_energy_range_uj")
            zones.append((d / "energy_uj", int(rng) if rng and rng.isdigit() else None))
        if not zones:
            self.unavailable["power"] = "no RAPL powercap zones (no intel-rapl:N under /sys/class/powercap)"
            return []
        if any(not os.access(p, os.R_OK) for p, _ in zones):
            self.unavailable["power"] = (
                "RAPL energy_uj is root-only (Linux >= 5.10); run as root or "
                "`sudo chmod o+r /sys/class/powercap/intel-rapl:*/energy_uj`"
            )
            return []
        return zones

    def _probe(self) -> None:
        temps = self._temps()
        if not temps:
            self.unavailable["temps_c"] = "no thermal zones (psutil.sensors_temperatures() empty)"
        try:
            fans = self._ps.sensors_fans() if hasattr(self._ps, "sensors_fans") else {}
        except OSError:
            fans = {}
        if not fans:
            self.unavailable["fan"] = "no fan sensors (psutil.sensors_fans() empty)"
        if self._ps.swap_memory().total == 0:
            self.unavailable["swap_mb"] = "no swap configured"
        if not self._ps.cpu_freq(percpu=True):
            self.unavailable["cpu.freq_mhz"] = "no CPU frequency (psutil.cpu_freq() empty)"
        self.unavailable.setdefault("gpu", "host source has no GPU readings")
        if "power" in self.unavailable:
            self.unavailable["total_power_mw"] = self.unavailable["power"]

    def _temps(self) -> dict[str, float | None]:
        try:
            raw = self._ps.sensors_temperatures()
        except (OSError, AttributeError):
            return {}
        out: dict[str, float | None] = {}
        for chip, entries in raw.items():
            for i, e in enumerate(entries):
                key = f"{chip}/{e.label or i}"
                out[key] = float(e.current) if e.current is not None else None
        return out

    # -- reading ---------------------------------------------------------------------------------------
    def _cpu(self) -> tuple[CpuCore, ...]:
        loads = self._loads()
        freqs = (self._ps.cpu_freq(percpu=True) or []) if "cpu.freq_mhz" not in self.unavailable else []
        if self._ncpu is None:  # the number of CPU slots does not change while we run
            self._ncpu = max(self._ps.cpu_count(logical=True) or 0, self._sysfs_cpu_count())
        n = self._ncpu
        cores: list[CpuCore] = []
        online_idx = 0
        for i in range(max(n, len(loads))):
            state = _read_text(self._root / f"sys/devices/system/cpu/cpu{i}/online")
            if state == "0":
                cores.append(CpuCore(online=False))
                continue
            load = loads[online_idx] if online_idx < len(loads) else None
            freq = freqs[online_idx].current if online_idx < len(freqs) else None
            # psutil reports 0.0 when cpufreq gives nothing: that is "unknown", not 0 MHz.
            cores.append(CpuCore(online=True, load_pct=load, freq_mhz=freq if freq else None))
            online_idx += 1
        return tuple(cores)

    def _loads(self) -> list[float | None]:
        now = self._ps.cpu_times(percpu=True)
        prev, self._prev_times = self._prev_times, now
        return [_busy_pct(prev[i], cur) if i < len(prev) else None for i, cur in enumerate(now)]

    def _sysfs_cpu_count(self) -> int:
        # cpuN directories exist for offline cores too, unlike psutil's per-CPU lists.
        base = self._root / "sys/devices/system/cpu"
        try:
            return sum(1 for d in base.iterdir() if re.fullmatch(r"cpu\d+", d.name))
        except OSError:
            return 0

    def _rapl_read(self, t: float) -> tuple[float | None, float | None]:
        """(power_mw over the last interval, cumulative energy_mj since this source opened)."""
        if not self._rapl:
            return None, None
        power_mw = 0.0
        have_delta = True
        for path, rng in self._rapl:
            raw = _read_text(path)
            if raw is None or not raw.isdigit():
                return None, None
            uj = int(raw)
            prev = self._rapl_prev.get(str(path))
            self._rapl_prev[str(path)] = (t, uj)
            if prev is None or t <= prev[0]:
                have_delta = False
                continue
            d_uj = uj - prev[1]
            if d_uj < 0 and rng:  # counter wrapped
                d_uj += rng
            self._rapl_energy_mj += d_uj / 1000.0
            power_mw += (d_uj / 1000.0) / (t - prev[0])  # mJ/s = mW
        return (power_mw if have_delta else None), self._rapl_energy_mj

    def read(self) -> TelemetrySample:
        t, seq = self._next()
        vm = self._ps.virtual_memory()
        # psutil.swap_memory parses /proc/vmstat (the costliest call here): skip it where no swap is configured.
        sw = self._ps.swap_memory() if "swap_mb" not in self.unavailable else None
        power_mw, energy_mj = self._rapl_read(t)
        rails = {"RAPL_PKG": RailReading(power_mw)} if self._rapl else {}
        fan = None
        if "fan" not in self.unavailable:
            try:
                fans = self._ps.sensors_fans()
                rpms = [f.current for fl in fans.values() for f in fl]
                fan = FanReading(rpm=float(max(rpms))) if rpms else None
            except (OSError, AttributeError):
                fan = None
        return TelemetrySample(
            timestamp_s=t,
            seq=seq,
            source=self.name,
            rails_mw=rails,
            total_power_mw=power_mw,
            total_power_rule="RAPL_PKG" if power_mw is not None else None,
            energy_mj=energy_mj,
            # A machine without sensors at start gets none later: skip the (slow) lookup every tick.
            temps_c=self._temps() if "temps_c" not in self.unavailable else {},
            cpu=self._cpu(),
            ram_mb=MemReading(round((vm.total - vm.available) / _MIB, 1), round(vm.total / _MIB, 1)),
            swap_mb=MemReading(round(sw.used / _MIB, 1), round(sw.total / _MIB, 1))
            if sw is not None and sw.total
            else None,
            fan=fan,
        )
