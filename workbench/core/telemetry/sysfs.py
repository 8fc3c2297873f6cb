"""Jetson sysfs source: power monitors, thermal zones, GPU load/frequency, CPU, fan, memory — no helper process.

Everything is read under an injectable ``root`` so tests run on fixture trees (tests/fixtures/sysfs/*).
Layouts (tests/fixtures/sysfs/*.txt name the public sources):

* INA3221, JetPack 5+ hwmon driver ``ina3221``: ``in{1..3}_label`` (rail name; absent on AGX Xavier JP5),
  ``in{N}_input`` bus mV, ``curr{N}_input`` mA → P = mV·mA/1000 mW. Channels 4-7 are shunt voltages and their
  sum ("sum of shunt voltages"), never rails. ``NC`` labels are unconnected channels (reads fail with EIO).
* INA3221, JetPack ≤ 4 IIO driver ``ina3221x``: ``iio:deviceN`` (R32) or ``iio_device`` (R28),
  ``rail_name_N``/``rail_nameN`` and ``in_powerN_input`` in mW.
* INA238 (Thor carrier board input): hwmon ``name`` = ``ina238``, ``power1_input`` in **µW**; the rail is the
  board input ``VIN``.
* Thermal: ``/sys/class/thermal/thermal_zone*/{type,temp}`` (m°C). Names are mapped to tegrastats' spelling
  by stripping ``-therm``, ``-thermal``, ``_tegra``, ``-Die``, ``-fan-est``. -256000 and unreadable (EAGAIN on
  power-gated zones) → None.
* GPU: load per-mille in ``/sys/devices/gpu.0/load`` (or ``platform/gpu.0``, or the devfreq device's
  ``load``); frequency from devfreq ``cur_freq`` (Hz) of the iGPU node (one per GPC on Thor: ``gpu-gpc-N``).
* CPU: ``/sys/devices/system/cpu/cpuN/online`` + ``cpufreq/scaling_cur_freq`` (kHz) and load from
  ``/proc/stat`` deltas. Memory from ``/proc/meminfo``. Fan: hwmon ``pwmfan``/``pwm-fan`` ``pwm1`` (0-255),
  ``pwm_tach`` ``rpm``/``fan1_input``, or JetPack 4 ``/sys/devices/pwm-fan/target_pwm``.
"""

from __future__ import annotations

import errno
import itertools
import re
import time
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

_ZONE_SUFFIXES = ("-thermal", "-therm", "_tegra", "-Die", "-fan-est")
# iGPU devfreq node names across Jetson generations (jetson_stats jtop/core/gpu.py KNOWN_GPU_DEVICE_NAMES and the
# T210 "57000000.gpu" node) — see tests/fixtures/sysfs/*.txt.
_GPU_DEVFREQ = re.compile(r"^(?:\d+\.(?:gpu|gp10b|gv11b|ga10b|gb10b)|gpu-gpc-\d+)$")
_FAN_PWM_NAMES = ("pwmfan", "pwm-fan", "tegra_pwmfan", "pwm_fan")
_SENTINEL_MC = -256000


class _ReadError(Exception):
    def __init__(self, path: Path, err: int | None) -> None:
        super().__init__(str(path))
        self.path = path
        self.errno = err


def _read(path: Path, retries: int = 1) -> str:
    """Read a sysfs file; EAGAIN (Tegra thermal zones under load) is retried once."""
    for attempt in range(retries + 1):
        try:
            return path.read_text().strip()
        except OSError as exc:
            if exc.errno == errno.EAGAIN and attempt < retries:
                time.sleep(0.001)
                continue
            raise _ReadError(path, exc.errno) from None
    raise _ReadError(path, None)  # pragma: no cover


def _read_num(path: Path) -> float | None:
    try:
        txt = _read(path)
    except _ReadError:
        return None
    try:
        return float(txt.split()[0])
    except (ValueError, IndexError):
        return None


def _why(err: _ReadError) -> str:
    if err.errno in (errno.EACCES, errno.EPERM):
        return f"{err.path} is root-only (run as root or use the tegrastats source)"
    if err.errno == errno.ENOENT:
        return f"{err.path} does not exist"
    return f"{err.path} unreadable ({errno.errorcode.get(err.errno or 0, 'error')})"


def zone_name(zone_type: str) -> str:
    """Thermal zone type → tegrastats name (``CPU-therm`` → ``CPU``, ``thermal-fan-est`` → ``thermal``)."""
    for suf in _ZONE_SUFFIXES:
        if zone_type.endswith(suf) and len(zone_type) > len(suf):
            return zone_type[: -len(suf)]
    return zone_type


def _i2c_key(path: Path) -> tuple[int, int, str]:
    # Order chips by I2C bus and address ("1-0040" < "1-0041"), matching tegrastats' rail order.
    for part in reversed(path.parts):
        m = re.fullmatch(r"(\d+)-([0-9a-fA-F]{4})", part)
        if m:
            return int(m.group(1)), int(m.group(2), 16), str(path)
    return 1 << 30, 0, str(path)


class _Channel:
    """One power reading recipe: returns mW or raises _ReadError."""

    def __init__(self, name: str, kind: str, paths: tuple[Path, ...]) -> None:
        self.name, self.kind, self.paths = name, kind, paths

    def read_mw(self) -> float:
        vals = []
        for p in self.paths:
            txt = _read(p)
            try:
                vals.append(float(txt.split()[0]))
            except (ValueError, IndexError):
                raise _ReadError(p, errno.EINVAL) from None
        if self.kind == "mv_ma":
            return vals[0] * vals[1] / 1000.0
        if self.kind == "uw":
            return vals[0] / 1000.0
        return vals[0]  # "mw"


class SysfsSource(BaseSource):
    """See module doc. Raises TelemetryError at open when ``root`` is not a Jetson."""

    name = "sysfs"

    def __init__(self, *, root: Path = Path("/"), total_rule: str | None = None, clock=time.monotonic) -> None:
        super().__init__(clock=clock)
        self.root = Path(root)
        self._total_rule = total_rule
        self.channels = self._find_power()
        is_jetson = (self.root / "etc/nv_tegra_release").exists() or any(
            (self.root / p).exists() for p in ("sys/bus/i2c/drivers/ina3221", "sys/bus/i2c/drivers/ina3221x")
        )
        if not is_jetson:
            raise TelemetryError(
                "not a Jetson (no /etc/nv_tegra_release and no INA3221 driver in sysfs)",
                hint="sysfs power readings exist on Jetson boards only: use --telemetry host (or nvml on a discrete "
                "GPU)",
            )
        if not self.channels:
            self.unavailable.setdefault("rails_mw", "no INA3221/INA238 power monitor found in sysfs")
        self.zones = self._find_zones()
        if not self.zones:
            self.unavailable["temps_c"] = "no thermal zones under /sys/class/thermal"
        self.gpu_load_path = self._find_gpu_load()
        self.gpu_freq_paths = self._find_gpu_freq()
        if self.gpu_load_path is None:
            self.unavailable["gpu.load_pct"] = "no GPU load file (gpu.0/load or devfreq load)"
        if not self.gpu_freq_paths:
            self.unavailable["gpu.freq_mhz"] = "no iGPU devfreq node"
        self.emc_path = self._first(
            "sys/kernel/debug/bpmp/debug/clk/emc/rate", "sys/kernel/debug/clk/override.emc/clk_rate"
        )
        if self.emc_path is None:
            self.unavailable["emc"] = "EMC clock is only in debugfs (root only); use the tegrastats source"
        self.fan_pwm, self.fan_rpm = self._find_fan()
        if self.fan_pwm is None and self.fan_rpm is None:
            self.unavailable["fan"] = "no fan PWM/tach in sysfs"
        self._stat_prev: dict[int, tuple[int, int]] = {}
        self.unavailable.pop("total_power_mw", None)
        probe = self.read()
        if probe.total_power_mw is None:
            rail_why = [v for k, v in self.unavailable.items() if k.startswith("rails_mw")]
            self.unavailable["total_power_mw"] = rail_why[0] if rail_why else "no total power rail readable"
        self._seq = itertools.count()  # the probe read does not count

    # -- discovery -------------------------------------------------------------------------------------
    def _first(self, *rels: str) -> Path | None:
        for rel in rels:
            p = self.root / rel
            if p.exists():
                return p
        return None

    def _hwmon_dirs(self) -> list[Path]:
        # /sys/class/hwmon/hwmonN links to the device folder (…/1-0040/hwmon/hwmonN); the hwmon index is not stable,
        # so dedupe by the resolved path and order by the I2C bus/address found in it.
        seen: dict[str, Path] = {}
        pats = ("sys/bus/i2c/drivers/*/*/hwmon/hwmon*", "sys/class/hwmon/hwmon*")
        for pat in pats:
            for d in self.root.glob(pat):
                try:
                    key = str(d.resolve())
                except OSError:
                    key = str(d)
                seen.setdefault(key, d)
        return [d for key, d in sorted(seen.items(), key=lambda kv: _i2c_key(Path(kv[0])))]

    def _find_power(self) -> list[_Channel]:
        chans: list[_Channel] = []
        names: set[str] = set()

        def add(name: str, kind: str, paths: tuple[Path, ...]) -> None:
            base, k = name, 2
            while name in names:
                name = f"{base}#{k}"
                k += 1
            names.add(name)
            chans.append(_Channel(name, kind, paths))

        for d in self._hwmon_dirs():
            try:
                chip = _read(d / "name")
            except _ReadError:
                continue
            if chip == "ina3221":
                for ch in (1, 2, 3):
                    vin, cur = d / f"in{ch}_input", d / f"curr{ch}_input"
                    if not vin.exists() and not cur.exists():
                        continue
                    try:
                        label = _read(d / f"in{ch}_label")
                    except _ReadError:
                        # AGX Xavier JP5: no labels. Name by chip address and channel.
                        label = f"INA3221_{_i2c_label(d)}_CH{ch}"
                    if label.upper() == "NC" or "sum of shunt" in label:
                        continue
                    add(label, "mv_ma", (vin, cur))
            elif chip == "ina238":
                p = d / "power1_input"
                if p.exists():
                    try:
                        label = _read(d / "power1_label")
                    except _ReadError:
                        label = "VIN"  # INA238 on Thor's carrier measures the board input
                    add(label, "uw", (p,))
        iio = sorted(
            [
                *self.root.glob("sys/bus/i2c/drivers/ina3221x/*/iio:device*"),
                *self.root.glob("sys/bus/i2c/drivers/ina3221x/*/iio_device"),
            ],
            key=_i2c_key,
        )
        for d in iio:
            for ch in (0, 1, 2):
                pw = d / f"in_power{ch}_input"
                if not pw.exists():
                    continue
                label = None
                for nm in (f"rail_name_{ch}", f"rail_name{ch}"):
                    try:
                        label = _read(d / nm)
                        break
                    except _ReadError:
                        continue
                label = label or f"INA3221_{_i2c_label(d)}_CH{ch}"
                if label.upper() == "NC":
                    continue
                add(label, "mw", (pw,))
        return chans

    def _find_zones(self) -> list[tuple[str, Path]]:
        zones = []
        base = self.root / "sys/class/thermal"
        dirs = sorted(base.glob("thermal_zone*"), key=lambda p: int(re.sub(r"\D", "", p.name) or 0))
        seen: set[str] = set()
        for d in dirs:
            try:
                name = zone_name(_read(d / "type"))
            except _ReadError:
                continue
            if name in seen:
                continue
            seen.add(name)
            zones.append((name, d / "temp"))
        return zones

    def _find_gpu_load(self) -> Path | None:
        p = self._first("sys/devices/gpu.0/load", "sys/devices/platform/gpu.0/load")
        if p is not None:
            return p
        for d in sorted((self.root / "sys/class/devfreq").glob("*")):
            if _GPU_DEVFREQ.match(d.name) and (d / "device/load").exists():
                return d / "device/load"
        return None

    def _find_gpu_freq(self) -> list[Path]:
        nodes = [d for d in sorted((self.root / "sys/class/devfreq").glob("*")) if _GPU_DEVFREQ.match(d.name)]
        gpcs = sorted((d for d in nodes if d.name.startswith("gpu-gpc-")), key=lambda d: int(d.name.rsplit("-", 1)[1]))
        chosen = gpcs or nodes[:1]
        return [d / "cur_freq" for d in chosen if (d / "cur_freq").exists()]

    def _find_fan(self) -> tuple[Path | None, Path | None]:
        pwm = rpm = None
        for d in self._hwmon_dirs():
            try:
                chip = _read(d / "name")
            except _ReadError:
                continue
            if chip in _FAN_PWM_NAMES and pwm is None and (d / "pwm1").exists():
                pwm = d / "pwm1"
            if chip == "pwm_tach" and rpm is None:
                rpm = next((d / f for f in ("rpm", "fan1_input") if (d / f).exists()), None)
        if pwm is None:
            pwm = self._first("sys/devices/pwm-fan/target_pwm", "sys/kernel/debug/tegra_fan/target_pwm")
        return pwm, rpm

    # -- reading ---------------------------------------------------------------------------------------
    def _rails(self) -> dict[str, RailReading]:
        rails: dict[str, RailReading] = {}
        for ch in self.channels:
            try:
                rails[ch.name] = RailReading(ch.read_mw())
            except _ReadError as exc:
                rails[ch.name] = RailReading(None)
                self.unavailable[f"rails_mw.{ch.name}"] = _why(exc)
        return rails

    def _temps(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for name, path in self.zones:
            try:
                v = float(_read(path).split()[0])
            except _ReadError as exc:
                out[name] = None
                self.unavailable[f"temps_c.{name}"] = _why(exc)
                continue
            except (ValueError, IndexError):
                out[name] = None
                continue
            out[name] = None if v <= _SENTINEL_MC else v / 1000.0
        return out

    def _proc_stat(self) -> dict[int, tuple[int, int]]:
        try:
            text = (self.root / "proc/stat").read_text()
        except OSError:
            return {}
        out = {}
        for line in text.splitlines():
            m = re.match(r"^cpu(\d+)\s+(.*)$", line)
            if m:
                f = [int(x) for x in m.group(2).split()]
                idle = f[3] + (f[4] if len(f) > 4 else 0)  # idle + iowait
                out[int(m.group(1))] = (sum(f[:8]), idle)
        return out

    def _cpu(self) -> tuple[CpuCore, ...]:
        base = self.root / "sys/devices/system/cpu"
        idx = sorted(int(d.name[3:]) for d in base.glob("cpu[0-9]*") if d.name[3:].isdigit())
        stat = self._proc_stat()
        cores = []
        for i in idx:
            online = _read_num(base / f"cpu{i}/online")
            if online is not None and online == 0:
                cores.append(CpuCore(online=False))
                continue
            khz = _read_num(base / f"cpu{i}/cpufreq/scaling_cur_freq")
            load = None
            if i in stat and i in self._stat_prev:
                tot = stat[i][0] - self._stat_prev[i][0]
                idle = stat[i][1] - self._stat_prev[i][1]
                load = round(100.0 * (tot - idle) / tot, 1) if tot > 0 else None
            cores.append(CpuCore(True, load, khz / 1000.0 if khz else None))
        self._stat_prev = stat
        return tuple(cores)

    def _mem(self) -> tuple[MemReading | None, MemReading | None]:
        try:
            text = (self.root / "proc/meminfo").read_text()
        except OSError:
            return None, None
        kv: dict[str, float] = {}
        for line in text.splitlines():
            k, _, v = line.partition(":")
            if v.strip():
                kv[k.strip()] = float(v.split()[0])
        ram = swap = None
        if "MemTotal" in kv:
            avail = kv.get("MemAvailable", kv.get("MemFree", 0.0))
            ram = MemReading(round((kv["MemTotal"] - avail) / 1024.0, 1), round(kv["MemTotal"] / 1024.0, 1))
        if kv.get("SwapTotal"):
            swap = MemReading(
                round((kv["SwapTotal"] - kv.get("SwapFree", 0.0)) / 1024.0, 1), round(kv["SwapTotal"] / 1024.0, 1)
            )
        return ram, swap

    def read(self) -> TelemetrySample:
        t, seq = self._next()
        rails = self._rails()
        total, rule = choose_total(rails, self._total_rule)
        gpu = None
        if self.gpu_load_path is not None or self.gpu_freq_paths:
            permille = _read_num(self.gpu_load_path) if self.gpu_load_path is not None else None
            freqs = tuple((hz / 1e6 if hz is not None else None) for hz in (_read_num(p) for p in self.gpu_freq_paths))
            gpu = GpuReading(permille / 10.0 if permille is not None else None, freqs)
        emc = None
        if self.emc_path is not None:
            hz = _read_num(self.emc_path)
            emc = LoadFreq(None, hz / 1e6 if hz is not None else None)
        fan = None
        if self.fan_pwm is not None or self.fan_rpm is not None:
            pwm = _read_num(self.fan_pwm) if self.fan_pwm is not None else None
            rpm = _read_num(self.fan_rpm) if self.fan_rpm is not None else None
            fan = FanReading(round(pwm * 100.0 / 255.0, 1) if pwm is not None else None, rpm)
        ram, swap = self._mem()
        extra: dict[str, Any] = {}
        return TelemetrySample(
            timestamp_s=t,
            seq=seq,
            source=self.name,
            rails_mw=rails,
            total_power_mw=total,
            total_power_rule=rule,
            temps_c=self._temps(),
            cpu=self._cpu(),
            gpu=gpu,
            emc=emc,
            ram_mb=ram,
            swap_mb=swap,
            fan=fan,
            extra=extra,
        )


def _i2c_label(path: Path) -> str:
    bus, addr, _ = _i2c_key(path)
    return f"{bus}_{addr:02X}" if bus != 1 << 30 else path.name


def open_sysfs(*, root: Path = Path("/"), **opts: Any) -> SysfsSource:
    """Factory for ``open_source("sysfs")``."""
    return SysfsSource(root=root, **opts)
