"""tegrastats: a pure line parser (every layout in tests/fixtures/tegrastats) and a subprocess reader.

Layouts handled (issue 5; fixture notes name the boards):

* pre-JetPack-3.2: lowercase ``cpu [a%,b%,off]@MHz`` (one cluster frequency after the bracket = every online
  core's frequency), ``EMC 17%@1600``, ``GR3D 0%@76``, ``AVP``/``VDE``/``MSENC`` engines, ``EDP limit N``;
* JetPack 3.3/4: ``CPU [a%@f,…]``, ``EMC_FREQ``/``GR3D_FREQ`` with or without ``@MHz`` (non-sudo), unitless
  rails ``NAME cur/avg`` in mW, ``IRAM u/tkB(lfb NkB)``, ``MTS fg N% bg N%``, ``off`` cores anywhere;
* JetPack 5/6: ``MM-DD-YYYY HH:MM:SS`` prefix, ``mW`` suffixes, ``GR3D_FREQ 0%@[305]``, ``GR3D2_FREQ``,
  lowercase temperatures, ``NAME off`` engines;
* JetPack 7 / Thor: rails ``cur/avg/max``, temperatures ``cur/max``, ``GR3D_FREQ @[0,0,0]`` (no load), engines
  ``NVENC0_FREQ @0``.

Temperatures ``-256C`` are the "sensor off" sentinel → None. Rail names can equal temperature names (AGX
Xavier prints a ``GPU`` rail and a ``GPU@`` zone); they live in separate maps. A repeated rail name (AGX Orin
prints ``NC`` twice) is kept as ``NC#2``. Every token not understood lands in ``unparsed`` (nothing is dropped).
Whitespace is any run of blanks.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from workbench.core.errors import TelemetryError
from workbench.core.hw.tools import find_tool
from workbench.core.telemetry.base import BaseSource
from workbench.core.telemetry.schema import (
    CpuCore,
    GpuReading,
    LoadFreq,
    MemReading,
    RailReading,
    TelemetrySample,
    choose_total,
)

SENTINEL_OFF_C = -256.0  # tegrastats prints -256C for a zone whose sensor is off/unavailable

_NUM = r"-?\d+(?:\.\d+)?"
_DATE = re.compile(r"^\d{2}-\d{2}-\d{4}$")
_TIME = re.compile(r"^\d{2}:\d{2}:\d{2}$")
_MEM = re.compile(r"^(\d+)/(\d+)(kB|MB|GB)$")
_IRAM = re.compile(r"^(\d+)/(\d+)kB(\(lfb)?$")
_LFB = re.compile(r"^(?:(\d+)x)?(\d+)(kB|MB)\)$")
_CACHED = re.compile(r"^(\d+)MB\)$")
_CPU = re.compile(r"^\[([^\]]*)\](?:@(\d+))?$")
_CORE = re.compile(rf"^(?:({_NUM})%)?(?:@({_NUM}))?$")
_LOADFREQ = re.compile(rf"^(?:({_NUM})%)?(?:@(?:\[([\d,\s]*)\]|({_NUM})))?$")
_TEMP = re.compile(rf"^([A-Za-z][\w.\-]*)@({_NUM})C(?:/({_NUM})C)?$")
_RAIL = re.compile(rf"^({_NUM})(mW)?/({_NUM})(mW)?(?:/({_NUM})(mW)?)?$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_PCT = re.compile(rf"^({_NUM})%$")
_BARE = re.compile(rf"^({_NUM})$")

_GPU_KEYS = re.compile(r"^GR3D(\d*)(?:_FREQ)?$")
_EMC_KEYS = ("EMC_FREQ", "EMC")


def _f(x: str | None) -> float | None:
    return float(x) if x is not None and x != "" else None


def _to_mb(v: str, unit: str) -> float:
    return {"kB": int(v) / 1024.0, "MB": float(int(v)), "GB": int(v) * 1024.0}[unit]


def _loadfreq(tok: str) -> tuple[float | None, list[float] | None] | None:
    """``'12%@[1300,1300]'`` → (12.0, [1300.0, 1300.0]); ``'0%'`` → (0.0, None); ``'@0'`` → (None, [0.0])."""
    m = _LOADFREQ.match(tok)
    if not m or tok == "":
        return None
    load = _f(m.group(1))
    if m.group(2) is not None:
        freqs = [float(x) for x in m.group(2).split(",") if x.strip()]
    elif m.group(3) is not None:
        freqs = [float(m.group(3))]
    else:
        freqs = None
    if load is None and freqs is None:
        return None
    return load, freqs


def _engine_value(tok: str) -> LoadFreq | None:
    if tok == "off":
        return LoadFreq(None, None, on=False)
    m = _BARE.match(tok)
    if m:  # bare MHz, e.g. "APE 25", "NVDEC 192"
        return LoadFreq(None, float(m.group(1)), on=True)
    lf = _loadfreq(tok)
    if lf is None:
        return None
    load, freqs = lf
    return LoadFreq(load, freqs[0] if freqs else None, on=True)


def parse_line(
    line: str, *, timestamp_s: float = 0.0, seq: int = 0, total_rule: str | None = None, source: str = "tegrastats"
) -> TelemetrySample:
    """Parse one tegrastats line into a :class:`TelemetrySample` (never raises on content).

    Args:
        line: one output line (no newline needed).
        timestamp_s: monotonic time to stamp on the sample (the parser cannot know it).
        total_rule: the profile's total-power rule (see :func:`choose_total`); None infers it.
    """
    toks = line.split()
    i = 0
    n = len(toks)
    wall_time: str | None = None
    ram = swap = None
    cpu: list[CpuCore] = []
    gpu_load: float | None = None
    gpu_freqs: list[float | None] = []
    gpu_seen = False
    emc: LoadFreq | None = None
    temps: dict[str, float | None] = {}
    temps_max: dict[str, float | None] = {}
    rails: dict[str, RailReading] = {}
    rail_count: dict[str, int] = {}
    engines: dict[str, LoadFreq] = {}
    extra: dict[str, Any] = {}
    unparsed: list[str] = []

    def nxt(k: int = 1) -> str | None:
        return toks[i + k] if i + k < n else None

    if n >= 2 and _DATE.match(toks[0]) and _TIME.match(toks[1]):
        wall_time = f"{toks[0]} {toks[1]}"
        i = 2
    while i < n:
        tok = toks[i]
        nx = nxt()
        # -- memory ---------------------------------------------------------------------------------
        if tok in ("RAM", "SWAP") and nx is not None and _MEM.match(nx):
            m = _MEM.match(nx)
            assert m is not None
            mem = MemReading(_to_mb(m.group(1), m.group(3)), _to_mb(m.group(2), m.group(3)))
            if tok == "RAM":
                ram = mem
            else:
                swap = mem
            i += 2
            continue
        if tok == "(lfb" and nx is not None and _LFB.match(nx):
            m = _LFB.match(nx)
            assert m is not None
            extra["lfb"] = {"blocks": int(m.group(1) or 1), "block_size": f"{m.group(2)}{m.group(3)}"}
            i += 2
            continue
        if tok == "(cached" and nx is not None and _CACHED.match(nx):
            extra["swap_cached_mb"] = float(_CACHED.match(nx).group(1))  # type: ignore[union-attr]
            i += 2
            continue
        if tok == "IRAM" and nx is not None and _IRAM.match(nx):
            m = _IRAM.match(nx)
            assert m is not None
            extra["iram_kb"] = {"used": float(m.group(1)), "total": float(m.group(2))}
            i += 2
            if m.group(3) and i < n and _LFB.match(toks[i]):
                lm = _LFB.match(toks[i])
                assert lm is not None
                extra["iram_lfb"] = f"{lm.group(2)}{lm.group(3)}"
                i += 1
            continue
        # -- CPU --------------------------------------------------------------------------------------
        if tok in ("CPU", "cpu") and nx is not None and _CPU.match(nx):
            m = _CPU.match(nx)
            assert m is not None
            cluster = _f(m.group(2))
            bad = False
            for entry in m.group(1).split(","):
                entry = entry.strip()
                if entry == "off":
                    cpu.append(CpuCore(online=False))
                    continue
                cm = _CORE.match(entry)
                if not cm or entry == "":
                    bad = True
                    cpu.append(CpuCore(online=True))
                    continue
                freq = _f(cm.group(2))
                cpu.append(
                    CpuCore(online=True, load_pct=_f(cm.group(1)), freq_mhz=freq if freq is not None else cluster)
                )
            if bad:
                unparsed.append(f"{tok} {nx}")
            i += 2
            continue
        # -- EMC / GPU --------------------------------------------------------------------------------
        if tok in _EMC_KEYS and nx is not None and _loadfreq(nx) is not None:
            load, freqs = _loadfreq(nx)  # type: ignore[misc]
            emc = LoadFreq(load, freqs[0] if freqs else None)
            i += 2
            continue
        gm = _GPU_KEYS.match(tok)
        if gm and nx is not None and _loadfreq(nx) is not None:
            load, freqs = _loadfreq(nx)  # type: ignore[misc]
            gpu_seen = True
            if gpu_load is None:
                gpu_load = load
            elif load is not None:
                gpu_load = max(gpu_load, load)  # GR3D2 = second GPC: the busier GPC is the GPU's load
            gpu_freqs.extend(freqs if freqs is not None else [None])
            i += 2
            continue
        # -- special multi-token fields -----------------------------------------------------------
        if tok == "MTS" and n - i >= 5 and toks[i + 1] == "fg" and toks[i + 3] == "bg":
            fg, bg = _PCT.match(toks[i + 2]), _PCT.match(toks[i + 4])
            if fg and bg:
                extra["mts_pct"] = {"fg": float(fg.group(1)), "bg": float(bg.group(1))}
                i += 5
                continue
        if tok == "EDP" and n - i >= 3 and toks[i + 1] == "limit" and _BARE.match(toks[i + 2]):
            extra["edp_limit_mhz"] = float(toks[i + 2])
            i += 3
            continue
        # -- temperatures -------------------------------------------------------------------------
        tm = _TEMP.match(tok)
        if tm:
            cur = float(tm.group(2))
            temps[tm.group(1)] = None if cur == SENTINEL_OFF_C else cur
            if tm.group(3) is not None:
                mx = float(tm.group(3))
                temps_max[tm.group(1)] = None if mx == SENTINEL_OFF_C else mx
            i += 1
            continue
        # -- rails and engines (NAME VALUE) -------------------------------------------------------
        if _NAME.match(tok) and nx is not None:
            rm = _RAIL.match(nx)
            if rm:
                # The k-th rail of one name is NAME#k, counted per name (rail names never hold '#', _NAME): a line of
                # n repeats costs O(n), not the O(n^2) of probing NAME#2, NAME#3 … each time.
                k = rail_count.get(tok, 0) + 1
                rail_count[tok] = k
                key = tok if k == 1 else f"{tok}#{k}"
                rails[key] = RailReading(float(rm.group(1)), float(rm.group(3)), _f(rm.group(5)))
                i += 2
                continue
            ev = _engine_value(nx)
            if ev is not None:
                engines[tok] = ev
                i += 2
                continue
        unparsed.append(tok)
        i += 1

    total, rule = choose_total(rails, total_rule)
    gpu = None
    if gpu_seen:
        gpu = GpuReading(gpu_load, tuple(gpu_freqs))  # type: ignore[arg-type]
    return TelemetrySample(
        timestamp_s=timestamp_s,
        seq=seq,
        source=source,
        wall_time=wall_time,
        rails_mw=rails,
        total_power_mw=total,
        total_power_rule=rule,
        temps_c=temps,
        temps_max_c=temps_max,
        cpu=tuple(cpu),
        gpu=gpu,
        emc=emc,
        ram_mb=ram,
        swap_mb=swap,
        engines=engines,
        extra=extra,
        unparsed=tuple(unparsed),
    )


def data_lines(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    """(1-based line number, text) of each data line: blank lines and ``#`` comments skipped."""
    for no, raw in enumerate(lines, 1):
        s = raw.strip()
        if s and not s.startswith("#"):
            yield no, s


def wall_offsets(samples: list[TelemetrySample], interval_s: float) -> list[float]:
    """Seconds from the first sample for each sample: from the printed timestamps when every line has one and
    they are strictly increasing (distinct), else ``index × interval_s`` (tegrastats at 100 ms repeats the
    1 s-resolution timestamp ~10 times, so it cannot be used)."""
    import datetime as _dt

    stamps = []
    for s in samples:
        if s.wall_time is None:
            break
        try:
            stamps.append(_dt.datetime.strptime(s.wall_time, "%m-%d-%Y %H:%M:%S"))
        except ValueError:
            break
    if (
        len(stamps) == len(samples)
        and len(stamps) > 1
        and all(b > a for a, b in zip(stamps[:-1], stamps[1:], strict=True))
    ):
        return [(t - stamps[0]).total_seconds() for t in stamps]
    return [k * interval_s for k in range(len(samples))]


def parse_file(path: Path, *, total_rule: str | None = None) -> list[TelemetrySample]:
    """Parse every data line of a tegrastats log. Raises TelemetryError when the file cannot be read."""
    lines = read_log_lines(path, "tegrastats log")
    return [parse_line(s, seq=k, total_rule=total_rule) for k, (_, s) in enumerate(data_lines(lines))]


#: Largest telemetry log read (bytes): a night (12 h) of tegrastats at 10 Hz is about 130 MB (≈ 300 bytes a line).
MAX_LOG_BYTES = 256 << 20
#: Longest line kept (bytes): a real tegrastats line is under 2 KiB even on boards with many rails; longer ones are
#: skipped unread (a file of one endless line must not be held in memory).
MAX_LINE_BYTES = 64 << 10


def read_log_lines(path: Path | str, what: str) -> list[str]:
    """The lines of a telemetry log within :data:`MAX_LOG_BYTES` and :data:`MAX_LINE_BYTES` (over-long lines come
    back empty, so line numbers stay true).

    Raises:
        TelemetryError: unreadable, a folder, or larger than the cap (the message names the file and the cap).
    """
    from workbench.core.bounded_read import read_lines

    got = read_lines(path, max_bytes=MAX_LOG_BYTES, max_line=MAX_LINE_BYTES, what=what, error=TelemetryError)
    return list(got.lines)


# -- live reader -----------------------------------------------------------------------------------------
class TegrastatsSource(BaseSource):
    """Runs ``tegrastats --interval N`` and parses its latest line on each ``read()``.

    A reader thread keeps only the newest line (bounded memory). When no new line arrived for
    ``stale_after_s``, ``read()`` returns the last values marked ``stale=("all",)`` with ``total_power_mw=None``
    (so no energy is integrated from old power), instead of blocking or stopping the sampler.
    """

    name = "tegrastats"

    def __init__(
        self,
        *,
        exe: str | os.PathLike[str] | None = None,
        interval_ms: int = 200,
        total_rule: str | None = None,
        first_line_timeout_s: float = 5.0,
        clock=time.monotonic,
    ) -> None:
        super().__init__(clock=clock)
        found = str(exe) if exe is not None else (find_tool("tegrastats") or "/usr/bin/tegrastats")
        if not Path(found).is_file() or not os.access(found, os.X_OK):
            raise TelemetryError(
                "tegrastats not found (not a Jetson, or not on PATH)",
                hint="on a Jetson, check that /usr/bin/tegrastats exists (package nvidia-l4t-tools); elsewhere use "
                "--telemetry host or nvml",
            )
        self._total_rule = total_rule
        self.interval_ms = interval_ms
        self.stale_after_s = max(3 * interval_ms / 1000.0, 2.0)
        try:
            self._proc = subprocess.Popen(
                [found, "--interval", str(int(interval_ms))],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                bufsize=1,
            )
        except OSError as exc:
            raise TelemetryError(
                f"cannot start tegrastats: {exc.strerror or exc}",
                hint="check that tegrastats is executable by this user (`ls -l /usr/bin/tegrastats`), or use "
                "--telemetry sysfs",
            ) from None
        self._lock = threading.Lock()
        self._got = threading.Event()
        self._line: str | None = None
        self._line_t = 0.0
        self._thread = threading.Thread(target=self._pump, name="tegrastats-reader", daemon=True)
        self._thread.start()
        if not self._got.wait(first_line_timeout_s):
            self.close()
            raise TelemetryError(
                f"tegrastats printed nothing within {first_line_timeout_s:.0f} s",
                hint="run `tegrastats` by hand to see why it is silent; use --telemetry sysfs meanwhile",
            )
        first = self.read()
        if not first.rails_mw:
            self.unavailable["rails_mw"] = (
                "tegrastats prints no power rails here (run as root, or this module has none)"
            )
            self.unavailable["total_power_mw"] = self.unavailable["rails_mw"]
        if first.emc is None:
            self.unavailable["emc"] = "tegrastats prints no EMC_FREQ (non-root on JetPack 6+)"

    def _pump(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            if line.strip():
                with self._lock:
                    self._line = line
                    self._line_t = self._clock()
                self._got.set()

    def read(self) -> TelemetrySample:
        t, seq = self._next()
        with self._lock:
            line, line_t = self._line, self._line_t
        if line is None:
            raise TelemetryError(
                "tegrastats has printed no line yet",
                hint="wait for the first line (tegrastats prints one per interval) before reading",
            )
        s = parse_line(line, timestamp_s=t, seq=seq, total_rule=self._total_rule)
        if t - line_t > self.stale_after_s:
            alive = self._proc.poll() is None
            from dataclasses import replace

            s = replace(s, stale=("all",), total_power_mw=None)
            if not alive:
                raise TelemetryError(
                    f"tegrastats exited with status {self._proc.returncode}",
                    hint="run `tegrastats` by hand to see why it stops; use --telemetry sysfs meanwhile",
                )
        return s

    def close(self) -> None:
        if getattr(self, "_proc", None) is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=2)
        if getattr(self, "_proc", None) is not None and self._proc.stdout is not None:
            self._proc.stdout.close()
        super().close()


def open_tegrastats(*, root: Path = Path("/"), **opts: Any) -> TegrastatsSource:
    """Factory for ``open_source("tegrastats")``; ``root`` is unused (tegrastats reads the live board)."""
    return TegrastatsSource(**opts)
