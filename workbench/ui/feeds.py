"""Telemetry for display: a live Recorder over a core source, or frozen (recorded) samples for tests and demos.

The benchmark's own Recorder (inside ``bench.run.run_benchmark``) produces the stored summary; this feed only
drives the live panels. Frozen samples are always labelled "recorded" so injected numbers never pass as
measurements of this machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

RECORDED_LABEL = "recorded — not measured on this machine"


class TelemetryFeed:
    name: str = "none"
    label: str | None = None  # shown next to the numbers when they are not live measurements
    error: str | None = None  # why there is no telemetry at all
    unavailable: dict[str, str] = {}

    def latest(self) -> Any:
        return None

    def history(self) -> list[Any]:
        return []

    def close(self) -> None:
        return None


class LiveFeed(TelemetryFeed):
    """A core Recorder over ``open_source(spec)``. Construct off the UI thread (opening may spawn tegrastats)."""

    def __init__(self, spec: str = "auto", interval_ms: int = 500) -> None:
        from workbench.core.errors import WorkbenchError
        from workbench.core.telemetry import Recorder, open_source

        self._rec = None
        self._source = None
        self.unavailable = {}
        try:
            self._source = open_source(spec)
        except WorkbenchError as exc:
            self.error = str(exc)
            self.name = spec
            return
        self.name = self._source.name
        self.label = getattr(self._source, "label", None)
        self.unavailable = dict(self._source.unavailable)
        self._rec = Recorder(self._source, interval_ms=interval_ms, capacity=600).start()

    def latest(self) -> Any:
        return self._rec.latest() if self._rec is not None else None

    def history(self) -> list[Any]:
        return self._rec.snapshot() if self._rec is not None else []

    def close(self) -> None:
        if self._rec is not None:
            self._rec.stop()
            self._rec = None
        if self._source is not None:
            self._source.close()
            self._source = None


class FrozenFeed(TelemetryFeed):
    """Recorded samples; ``latest()`` is always the last one (deterministic for snapshots)."""

    def __init__(self, samples: Sequence[Any], *, name: str = "recorded", unavailable: dict[str, str] | None = None):
        self._samples = list(samples)
        self.name = name
        self.label = RECORDED_LABEL
        self.unavailable = dict(unavailable or {})

    def latest(self) -> Any:
        return self._samples[-1] if self._samples else None

    def history(self) -> list[Any]:
        return list(self._samples)
