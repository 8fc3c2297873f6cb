"""nvidia-smi fallback: ``--query-gpu`` CSV parser and a source that runs it each read (with a timeout).

Used where the NVML library is unusable but the tool answers. Parser facts (tests/fixtures/nvidia-smi):
``--format=csv`` keeps units in values (``30.37 W``, ``300 MHz``, ``38 %``, ``7979 MiB``) and in the header
(``power.draw [W]``); ``nounits`` drops them from values only. Missing values are ``N/A``, ``[N/A]``,
``Not Supported``, ``[Not Supported]`` or ``[Requested functionality has been deprecated]`` → None (never 0).
Throttle reasons are ``clocks_event_reasons.*`` on current drivers, ``clocks_throttle_reasons.*`` before R535.
On Jetson JetPack 6 every metric is N/A: the source is then unavailable.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import time
from pathlib import Path
from typing import Any

from workbench.core.errors import TelemetryError
from workbench.core.hw.tools import find_tool
from workbench.core.telemetry.base import BaseSource
from workbench.core.telemetry.schema import FanReading, GpuReading, LoadFreq, RailReading, TelemetrySample
from workbench.core.telemetry.throttle import decode_reasons

MISSING = frozenset(
    {
        "",
        "n/a",
        "[n/a]",
        "not supported",
        "[not supported]",
        "requested functionality has been deprecated",
        "[requested functionality has been deprecated]",
        "unknown error",
        "[unknown error]",
        "insufficient permissions",
        "[insufficient permissions]",
    }
)
_UNIT_VALUE = re.compile(r"^(-?\d+(?:\.\d+)?)\s*(W|MHz|%|MiB|C|us|ms)?$")
_HEADER_UNIT = re.compile(r"\s*\[[^\]]*\]\s*$")

FIELDS_NEW = (
    "index,name,power.draw,temperature.gpu,utilization.gpu,utilization.memory,clocks.sm,clocks.mem,"
    "memory.used,memory.total,fan.speed,clocks_event_reasons.active"
)
FIELDS_OLD = FIELDS_NEW.replace("clocks_event_reasons.active", "clocks_throttle_reasons.active")
FIELDS_MIN = "index,name,power.draw,temperature.gpu,utilization.gpu,clocks.sm"


def value(raw: str) -> float | str | None:
    """One CSV cell → float (units stripped), None (missing) or the text."""
    s = raw.strip()
    if s.lower() in MISSING:
        return None
    if re.fullmatch(r"0x[0-9A-Fa-f]+", s):
        return s
    m = _UNIT_VALUE.match(s)
    if m:
        return float(m.group(1))
    return s


def parse_query_csv(text: str, fields: str | None = None) -> list[dict[str, Any]]:
    """Parse ``--query-gpu`` CSV output. With a header line (plain ``--format=csv``) the keys come from it with
    ``[unit]`` tags removed; with ``noheader`` pass ``fields`` (the comma list given to --query-gpu).
    Lines starting with ``#`` are ignored. Raises TelemetryError on a row whose column count is wrong."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return []
    rows = list(csv.reader(io.StringIO("\n".join(lines)), skipinitialspace=True))
    if fields is None:
        keys = [_HEADER_UNIT.sub("", k).strip() for k in rows[0]]
        rows = rows[1:]
    else:
        keys = [k.strip() for k in fields.split(",")]
    out = []
    for n, row in enumerate(rows, 1):
        if len(row) != len(keys):
            raise TelemetryError(
                f"nvidia-smi CSV row {n} has {len(row)} values for {len(keys)} fields",
                hint="the NVIDIA driver's nvidia-smi prints another format: update the driver, or use --telemetry nvml",
            )
        out.append({k: (_text(v) if _is_text_field(k) else value(v)) for k, v in zip(keys, row, strict=True)})
    return out


def _is_text_field(key: str) -> bool:
    # Identifiers that look numeric but are not quantities ("465.27" is a driver version, not 465.27 of anything).
    return key.endswith("version") or key in {
        "name",
        "uuid",
        "serial",
        "timestamp",
        "pci.bus_id",
        "hostname",
        "vbios_version",
    }


def _text(raw: str) -> str | None:
    s = raw.strip()
    return None if s.lower() in MISSING else s


def _num(row: dict[str, Any], *keys: str) -> float | None:
    for k in keys:
        v = row.get(k)
        if isinstance(v, float):
            return v
    return None


def sample_from_row(row: dict[str, Any], *, timestamp_s: float = 0.0, seq: int = 0) -> TelemetrySample:
    """One parsed CSV row → TelemetrySample (power W → mW; missing stays None)."""
    power_w = _num(row, "power.draw", "power.draw.instant", "power.draw.average")
    temp = _num(row, "temperature.gpu")
    util = _num(row, "utilization.gpu")
    mem_util = _num(row, "utilization.memory")
    sm = _num(row, "clocks.sm", "clocks.current.sm")
    mem_clk = _num(row, "clocks.mem", "clocks.current.memory")
    fan = _num(row, "fan.speed")
    reasons_raw = row.get("clocks_event_reasons.active", row.get("clocks_throttle_reasons.active"))
    reasons = None
    if isinstance(reasons_raw, str) and reasons_raw.lower().startswith("0x"):
        reasons = decode_reasons(int(reasons_raw, 16))
    extra: dict[str, Any] = {}
    if isinstance(row.get("name"), str):
        extra["gpu_name"] = row["name"]
    used, total = _num(row, "memory.used"), _num(row, "memory.total")
    if used is not None or total is not None:
        extra["gpu_memory_mb"] = {"used": used, "total": total}
    power_mw = power_w * 1000.0 if power_w is not None else None
    return TelemetrySample(
        timestamp_s=timestamp_s,
        seq=seq,
        source="nvidia-smi",
        rails_mw={"GPU": RailReading(power_mw)} if power_mw is not None else {},
        total_power_mw=power_mw,
        total_power_rule="nvidia-smi.power.draw" if power_mw is not None else None,
        temps_c={"GPU": temp} if temp is not None else {},
        gpu=GpuReading(util, (sm,) if sm is not None else ()) if (util is not None or sm is not None) else None,
        emc=LoadFreq(mem_util, mem_clk) if (mem_util is not None or mem_clk is not None) else None,
        fan=FanReading(pwm_pct=fan) if fan is not None else None,
        throttle_reasons=reasons,
        extra=extra,
    )


def has_metrics(s: TelemetrySample) -> bool:
    return s.total_power_mw is not None or bool(s.temps_c) or (s.gpu is not None and s.gpu.load_pct is not None)


class NvidiaSmiSource(BaseSource):
    name = "nvidia-smi"

    def __init__(self, *, exe: str | None = None, index: int = 0, timeout_s: float = 5.0, clock=time.monotonic) -> None:
        super().__init__(clock=clock)
        self.exe = exe or find_tool("nvidia-smi")
        if not self.exe:
            raise TelemetryError(
                "nvidia-smi not found",
                hint="install the NVIDIA driver (it ships nvidia-smi) and put it on PATH, or pick another source "
                "with --telemetry host",
            )
        self.index = index
        self.timeout_s = timeout_s
        self.fields = None
        last_err = ""
        for fields in (FIELDS_NEW, FIELDS_OLD, FIELDS_MIN):
            try:
                rows = self._query(fields)
            except TelemetryError as exc:
                last_err = str(exc)
                continue
            self.fields = fields
            break
        if self.fields is None:
            raise TelemetryError(
                f"nvidia-smi --query-gpu failed: {last_err}",
                hint="run `nvidia-smi` by hand to see the driver's state; `workbench doctor` checks the GPU setup",
            )
        first = sample_from_row(rows[0])
        if not has_metrics(first):
            raise TelemetryError(
                "nvidia-smi answers but every metric is N/A (Jetson JetPack 6?)",
                hint="on Jetson use --telemetry tegrastats or sysfs (or jtop, with the jetson extra)",
            )
        for fld, ok in (
            ("total_power_mw", first.total_power_mw is not None),
            ("temps_c", bool(first.temps_c)),
            ("gpu.load_pct", first.gpu is not None and first.gpu.load_pct is not None),
        ):
            if not ok:
                self.unavailable[fld] = "nvidia-smi reports N/A for it on this GPU"

    def _query(self, fields: str) -> list[dict[str, Any]]:
        cmd = [self.exe, f"--query-gpu={fields}", "--format=csv,noheader,nounits", f"--id={self.index}"]
        try:
            proc = subprocess.run(
                cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=self.timeout_s, check=False
            )
        except subprocess.TimeoutExpired:
            raise TelemetryError(
                f"nvidia-smi did not answer within {self.timeout_s:g} s",
                hint="the driver may be stuck or busy: run `nvidia-smi` by hand; use --telemetry nvml or host "
                "meanwhile",
            ) from None
        except OSError as exc:
            raise TelemetryError(
                f"cannot run nvidia-smi: {exc.strerror or exc}",
                hint="check that nvidia-smi is executable by this user (`nvidia-smi -L`), or use --telemetry host",
            ) from None
        if proc.returncode != 0:
            raise TelemetryError(
                (proc.stdout + proc.stderr).strip()[:200] or f"exit {proc.returncode}",
                hint="run `nvidia-smi` by hand to see the driver's state; `workbench doctor` checks the GPU setup",
            )
        rows = parse_query_csv(proc.stdout, fields)
        if not rows:
            raise TelemetryError(
                "nvidia-smi printed no GPU row",
                hint="check the GPU index and that the driver sees the GPU (`nvidia-smi -L`)",
            )
        return rows

    def read(self) -> TelemetrySample:
        t, seq = self._next()
        assert self.fields is not None
        row = self._query(self.fields)[0]
        return sample_from_row(row, timestamp_s=t, seq=seq)


def open_nvidia_smi(*, root: Path = Path("/"), **opts: Any) -> NvidiaSmiSource:
    """Factory for ``open_source("nvidia-smi")``."""
    return NvidiaSmiSource(**opts)
