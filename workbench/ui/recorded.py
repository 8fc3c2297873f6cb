"""Recorded data injected through the app's constructor (tests, snapshots, demos).

Everything shown from it is labelled "recorded": the app never presents injected numbers as measurements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Recorded:
    """``telemetry``: TelemetrySample list (the panel shows the last one); ``telemetry_unavailable``: field →
    reason; ``results``: full result entries (with ``id`` and ``created_at``) for the Results screen;
    ``bench_entry``: a finished run shown on the Benchmark screen; ``detection``: a profiles.match.Detection;
    ``sweep``: a power.sweep.SweepResult shown on the Power sweep screen."""

    telemetry: tuple[Any, ...] = ()
    telemetry_name: str = "recorded"
    telemetry_unavailable: dict[str, str] = field(default_factory=dict)
    results: tuple[dict[str, Any], ...] | None = None
    bench_entry: dict[str, Any] | None = None
    detection: Any = None
    sweep: Any = None


class RecordedResults:
    """The Results screen's source over injected entries (same methods as ResultsSource)."""

    label = "recorded"

    def __init__(self, entries: tuple[dict[str, Any], ...]) -> None:
        self._entries = {int(e["id"]): e for e in entries}

    def entries(self) -> list[dict[str, Any]]:
        return [self._entries[k] for k in sorted(self._entries, reverse=True)]

    def get(self, rid: int) -> dict[str, Any]:
        from workbench.core.errors import ResultsError

        if rid not in self._entries:
            raise ResultsError(f"no recorded result with id {rid}")
        return self._entries[rid]

    def export_to_file(self, fmt: str, path: Any, ids: Any = None) -> Any:
        from workbench.core.fsutil import write_text_atomic
        from workbench.core.results.export import render

        chosen = [self.get(int(i)) for i in ids] if ids else [self._entries[k] for k in sorted(self._entries)]
        write_text_atomic(path, render(chosen, fmt))
        return path


class StoreResults:
    """The Results screen's source over the results database."""

    label = None

    def __init__(self, path: Any = None, limit: int = 200) -> None:
        from workbench.core.results.store import ResultStore

        self._store = ResultStore(path)
        self._limit = limit

    def entries(self) -> list[dict[str, Any]]:
        ids = [r["id"] for r in self._store.list(limit=self._limit)]
        return self._store.get_many(ids) if ids else []

    def get(self, rid: int) -> dict[str, Any]:
        return self._store.get(rid)

    def export_to_file(self, fmt: str, path: Any, ids: Any = None) -> Any:
        return self._store.export_to_file(fmt, path, ids)
