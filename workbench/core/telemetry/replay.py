"""Replay source: plays back a tegrastats log or a saved session (``workbench telemetry record``) in real time.

``measured`` is False and ``label`` says "replay — not measured on this machine": numbers from a replay are
shown and stored, but never enter sweeps, recommendations or comparisons as measurements.

Timing: the log's own timestamps when every line has one and they are distinct and increasing (saved
sessions always; tegrastats only at intervals ≥ 1 s), else one line per ``interval_ms`` (default: the
session's recorded interval, or 1000 ms — tegrastats' default). Playback loops at the end of the file.
"""

from __future__ import annotations

import bisect
import json
import os
import time
from pathlib import Path
from typing import Any

from workbench.core.errors import TelemetryError
from workbench.core.telemetry.base import BaseSource
from workbench.core.telemetry.recorder import REPLAY_LABEL
from workbench.core.telemetry.schema import TelemetrySample
from workbench.core.telemetry.tegrastats import data_lines, parse_line, read_log_lines, wall_offsets

SESSION_FORMAT = "workbench-telemetry-session"
SESSION_VERSION = 1


def session_header(source: str, interval_ms: int, measured: bool, unavailable: dict[str, str]) -> dict[str, Any]:
    """First line of a saved session file (JSON Lines; every following line is one TelemetrySample dict)."""
    return {
        "format": SESSION_FORMAT,
        "version": SESSION_VERSION,
        "source": source,
        "interval_ms": interval_ms,
        "measured": measured,
        "unavailable": unavailable,
    }


def load_session(path: Path) -> tuple[dict[str, Any], list[TelemetrySample]]:
    """Read a saved session. Raises TelemetryError naming the file and line on malformed content."""
    header: dict[str, Any] = {}
    samples: list[TelemetrySample] = []
    text = _read(path)
    for no, line in data_lines(text.splitlines()):
        try:
            obj = json.loads(line)
            if obj.get("format") == SESSION_FORMAT:
                if obj.get("version") != SESSION_VERSION:
                    raise TelemetryError(
                        f"{path}:{no}: session format version {obj.get('version')} is not supported "
                        f"(this build reads version {SESSION_VERSION})",
                        hint="record the session again with this build (`workbench telemetry record`), or replay it "
                        "with the workbench that recorded it",
                    )
                header = obj
                continue
            samples.append(TelemetrySample.from_dict(obj))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise TelemetryError(
                f"{path}:{no}: not a telemetry session line ({exc})",
                hint="give a file `workbench telemetry record` wrote, unchanged; a hand-edited line must stay one "
                "JSON object",
            ) from None
    return header, samples


def _read(path: Path) -> str:
    """The replay file's text, read within the telemetry log caps (tegrastats.MAX_LOG_BYTES / MAX_LINE_BYTES)."""
    if not os.path.lexists(path):
        raise TelemetryError(
            f"replay file {path} does not exist", hint="give a tegrastats log or a `workbench telemetry record` file"
        )
    return "\n".join(read_log_lines(path, "replay file"))


def _is_session(text: str) -> bool:
    for _, line in data_lines(text.splitlines()):
        return line.startswith("{")
    return False


def _strictly_increasing(xs: list[float]) -> bool:
    return len(xs) > 1 and all(b > a for a, b in zip(xs[:-1], xs[1:], strict=True))


class ReplaySource(BaseSource):
    """Real-time playback of recorded samples (see module doc). ``read()`` never blocks."""

    measured = False
    label = REPLAY_LABEL

    def __init__(self, path: Path, *, interval_ms: int | None = None, clock=time.monotonic) -> None:
        super().__init__(clock=clock)
        self.path = Path(path)
        self.name = f"replay:{self.path.name}"
        text = _read(self.path)
        if _is_session(text):
            header, samples = load_session(self.path)
            ival = interval_ms or int(header.get("interval_ms") or 1000)
            stamps = [s.timestamp_s for s in samples]
            offsets = (
                [t - stamps[0] for t in stamps]
                if _strictly_increasing(stamps)
                else [k * ival / 1000.0 for k in range(len(samples))]
            )
            self.recorded_source = str(header.get("source", "?"))
            for k, v in (header.get("unavailable") or {}).items():
                self.unavailable[str(k)] = f"{v} (when recorded)"
        else:
            ival = interval_ms or 1000
            samples = [parse_line(s, seq=k, source=self.name) for k, (_, s) in enumerate(data_lines(text.splitlines()))]
            offsets = wall_offsets(samples, ival / 1000.0)
            self.recorded_source = "tegrastats"
        if not samples:
            raise TelemetryError(
                f"replay file {self.path} has no data lines",
                hint="give a file `workbench telemetry record` wrote, or a tegrastats log (--telemetry replay:FILE)",
            )
        self.interval_ms = ival
        self.samples = samples
        self.offsets = offsets
        self.span_s = offsets[-1] + ival / 1000.0
        self._t_start: float | None = None
        if all(s.total_power_mw is None for s in samples):
            self.unavailable.setdefault("total_power_mw", f"the replayed file {self.path.name} has no power total")
        if all(not s.temps_c for s in samples):
            self.unavailable.setdefault("temps_c", f"the replayed file {self.path.name} has no temperatures")

    def read(self) -> TelemetrySample:
        t, seq = self._next()
        if self._t_start is None:
            self._t_start = t
        pos = (t - self._t_start) % self.span_s
        idx = max(0, bisect.bisect_right(self.offsets, pos) - 1)
        return self.samples[idx].with_time(t, seq)
