"""Recorded data injected through the app's constructor (tests, snapshots, demos), and the Results screen's two
sources (recorded results, or the results database).

Everything shown from recorded data is labelled "recorded": :func:`as_recorded` gives each injected result the
provenance "recorded", so no face, comparison or recommendation takes it for a measurement of this machine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from workbench.core.results.result import RECORDED, BenchmarkResult, Provenance

RECORDED_LABEL = "recorded — not measured on this machine"


def as_recorded(result: BenchmarkResult) -> BenchmarkResult:
    """``result`` marked as recorded (injected), whatever it was."""
    return replace(result, provenance=Provenance(RECORDED, RECORDED_LABEL))


@dataclass(frozen=True)
class LatencyTrace:
    """A benchmark's live latency view as recorded earlier (tools/record_latency_trace.py): one point per batch
    of samples (``t_s`` seconds since start, batch median ``ms``, batch slowest ``max_ms``), the rolling
    ``p50_ms``/``p99_ms`` and the sorted latencies behind them (``window_ms``). ``source``: where it was measured."""

    t_s: tuple[float, ...]
    ms: tuple[float, ...]
    max_ms: tuple[float, ...]
    p50_ms: float | None
    p99_ms: float | None
    window_ms: tuple[float, ...]
    source: str = ""


@dataclass(frozen=True)
class Recorded:
    """``telemetry``: TelemetrySample list (the panel shows the last one); ``telemetry_unavailable``: field →
    reason; ``results``: stored results (with ``id`` and ``created_at``) for the Results screen; ``bench_result``:
    a finished run shown on the Benchmark screen; ``detection``: a profiles.match.Detection; ``sweep``: a
    power.sweep.SweepResult shown on the Power sweep screen; ``latency_trace``: a :class:`LatencyTrace` the
    Benchmark screen plots (with the recorded telemetry on the same time axis) until a run of its own starts;
    ``tune``: a tune.types.TuneResult shown on the Tune screen, labelled recorded there until a tune of its own ends;
    ``fleet`` (a fleet.types.FleetRun) and ``fleet_facts`` (fleet.types.HostFacts rows): shown on the Fleet screen,
    labelled recorded there until a fleet run / check of its own ends.
    Results are marked recorded on the way in."""

    telemetry: tuple[Any, ...] = ()
    telemetry_name: str = "recorded"
    telemetry_unavailable: dict[str, str] = field(default_factory=dict)
    results: tuple[BenchmarkResult, ...] | None = None
    bench_result: BenchmarkResult | None = None
    detection: Any = None
    sweep: Any = None
    latency_trace: LatencyTrace | None = None
    tune: Any = None
    fleet: Any = None
    fleet_facts: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        if self.results is not None:
            object.__setattr__(self, "results", tuple(as_recorded(r) for r in self.results))
        if self.bench_result is not None:
            object.__setattr__(self, "bench_result", as_recorded(self.bench_result))


class RecordedResults:
    """The Results screen's source over injected results (same methods as :class:`StoreResults`)."""

    label = "recorded"
    unreadable: tuple[str, ...] = ()

    def __init__(self, results: Iterable[BenchmarkResult]) -> None:
        self._results = {int(r.id or 0): r for r in results}

    def results(self) -> list[BenchmarkResult]:
        return [self._results[k] for k in sorted(self._results, reverse=True)]

    def get(self, rid: int) -> BenchmarkResult:
        from workbench.core.errors import ResultsError

        if rid not in self._results:
            raise ResultsError(
                f"no recorded result with id {rid}", hint="pick a result id from the recorded results list"
            )
        return self._results[rid]

    def export_to_file(self, fmt: str, path: Any, ids: Any = None) -> Any:
        from workbench.core.fsutil import write_text_atomic
        from workbench.core.results.export import render

        chosen = [self.get(int(i)) for i in ids] if ids else [self._results[k] for k in sorted(self._results)]
        write_text_atomic(path, render(chosen, fmt))
        return path


class StoreResults:
    """The Results screen's source over the results database (read in a worker, never on the UI thread)."""

    label = None
    unreadable: tuple[str, ...] = ()

    def __init__(self, path: Any = None, limit: int = 200) -> None:
        self._path = path
        self._limit = limit

    def _store(self):
        from workbench.core.results.store import ResultStore

        return ResultStore(self._path)

    def results(self) -> list[BenchmarkResult]:
        """The newest results; rows that cannot be read as results are set aside in :attr:`unreadable`."""
        with self._store() as db:
            ids = [r.id for r in db.list(limit=self._limit)]
            got = db.read_many(ids)
        self.unreadable = tuple(why for _, why, _ in got.unreadable)
        return list(got.results)

    def get(self, rid: int) -> BenchmarkResult:
        with self._store() as db:
            return db.get(rid)

    def export_to_file(self, fmt: str, path: Any, ids: Any = None) -> Any:
        with self._store() as db:
            db.export_to_file(fmt, path, ids)
        return path
