"""The telemetry source protocol and a small base class.

A source has ``name``, ``measured`` (False only for replay: its numbers come from another machine/time),
``unavailable`` (field → reason it is n/a here), ``read() -> TelemetrySample`` and ``close()``.
``read`` may raise :class:`~workbench.core.errors.TelemetryError` for a failed read; the recorder counts it,
keeps sampling and marks the gap.
"""

from __future__ import annotations

import itertools
import time
from typing import Protocol, runtime_checkable

from workbench.core.telemetry.schema import TelemetrySample


@runtime_checkable
class TelemetrySource(Protocol):
    name: str
    measured: bool
    unavailable: dict[str, str]

    def read(self) -> TelemetrySample: ...

    def close(self) -> None: ...


class BaseSource:
    """Shared plumbing: a sequence counter, the monotonic clock (injectable for tests), idempotent close."""

    name = "base"
    measured = True
    label: str | None = None  # text shown next to numbers, e.g. "replay — not measured on this machine"

    def __init__(self, *, clock=time.monotonic) -> None:
        self.unavailable: dict[str, str] = {}
        self._clock = clock
        self._seq = itertools.count()
        self.closed = False

    def _next(self) -> tuple[float, int]:
        return self._clock(), next(self._seq)

    def read(self) -> TelemetrySample:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
