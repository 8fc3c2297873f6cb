"""Was anything else using the CPU while we timed? Contention measured before and during a benchmark.

A benchmark shares the machine with whatever else runs: another benchmark of ours, a build, an editor's indexer.
Its latencies then describe that mix, and two runs made side by side differ by more than their intervals admit.
This module measures it, so a result can say so and comparisons can refuse to call such differences significant.

Method (Linux ``/proc`` through psutil):

- *Others' CPU during the run*, in cores: the machine's busy CPU time (``psutil.cpu_times()``: user + nice
  + system + irq + softirq + steal, summed over CPUs) minus this benchmark's own (this process, its live children,
  and the children it has already reaped, ``children_user + children_system``), divided by the wall time from the
  child's start to the end of the timed window (loading and warm-up included: a window of a few milliseconds
  would be below the counters' resolution). Steal time counts as others': CPU the hypervisor gave to other guests
  was not ours either. The counters tick at ``SC_CLK_TCK`` (100 Hz): the figure's resolution,
  (CPUs + processes) × tick / window, is stated with it and subtracted before comparing with the threshold.
- *Other benchmarks of ours*: processes running ``workbench.core.bench.child`` that are not our children, looked up
  before the run starts and again after the window closes (never inside it, where the scan would cost CPU).

A run is *contended* when others used more than :data:`CONTENDED_OTHERS_CORES` of a core on average during the
run (beyond the counters' resolution), or another benchmark of ours ran beside it. The threshold is ours (a quarter of one core: on a
2-core board a steady 25 % of a core elsewhere already moves a small model's p99), stated with every result.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from workbench.core.results.result import Contention

#: Mean cores used by other processes during the timed window above which a run is marked contended.
CONTENDED_OTHERS_CORES = 0.25
_CHILD_MODULE = "workbench.core.bench.child"


@dataclass(frozen=True)
class _Snapshot:
    t: float
    busy_s: float
    own_s: float


def _busy_cpu_s() -> float:
    import psutil

    c = psutil.cpu_times()
    return sum(getattr(c, k, 0.0) for k in ("user", "nice", "system", "irq", "softirq", "steal"))


def _own_cpu_s() -> float:
    """CPU seconds of this process, its live descendants, and the children it has already waited for."""
    import psutil

    me = psutil.Process()
    t = me.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in me.children(recursive=True):
        try:
            ct = child.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue  # gone meanwhile: once reaped it is in children_*
        total += ct.user + ct.system
    return total


def other_benchmarks() -> tuple[str, ...]:
    """``"pid 1234: workbench.core.bench.child"`` for every benchmark child of ours not started by this process."""
    import psutil

    mine = {p.pid for p in psutil.Process().children(recursive=True)} | {os.getpid()}
    found = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmd = p.info.get("cmdline") or []
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if p.info["pid"] not in mine and _CHILD_MODULE in " ".join(cmd):
            found.append(f"pid {p.info['pid']}: another workbench benchmark")
    return tuple(found)


def _tick_s() -> float:
    try:
        return 1.0 / float(os.sysconf("SC_CLK_TCK"))
    except (ValueError, OSError, AttributeError):
        return 0.01


class ContentionMonitor:
    """``start()`` just before the benchmark child starts, ``stop()`` when the timed window closes (each two reads
    of /proc and one scan of the process list, outside the timed window), ``report()`` after. Never raises: where
    /proc cannot be read the report says why."""

    def __init__(self, threshold_cores: float = CONTENDED_OTHERS_CORES) -> None:
        self.threshold = threshold_cores
        self._others: tuple[str, ...] = ()
        self._start: _Snapshot | None = None
        self._end: _Snapshot | None = None
        self._own_processes = 2
        self._error: str | None = None

    def _snap(self) -> _Snapshot | None:
        try:
            return _Snapshot(time.monotonic(), _busy_cpu_s(), _own_cpu_s())
        except Exception as exc:  # noqa: BLE001 - contention is a note on the result, never a reason to fail it
            self._error = f"CPU times unreadable ({type(exc).__name__}: {exc})"
            return None

    def _scan(self) -> None:
        try:
            self._others = tuple(dict.fromkeys((*self._others, *other_benchmarks())))
        except Exception as exc:  # noqa: BLE001 - see _snap
            self._error = f"process list unreadable ({type(exc).__name__}: {exc})"

    def start(self) -> None:
        self._scan()
        self._start = self._snap()

    def stop(self) -> None:
        if self._end is not None:
            return
        self._end = self._snap()
        try:
            import psutil

            self._own_processes = 1 + len(psutil.Process().children(recursive=True))
        except Exception:  # noqa: BLE001 - only sizes the resolution estimate
            pass
        self._scan()

    def report(self) -> Contention:
        others = self._others
        if self._start is None or self._end is None or self._end.t <= self._start.t:
            return Contention(None, others, self.threshold, bool(others), None, None, self._error or "no timed window")
        window = self._end.t - self._start.t
        busy = self._end.busy_s - self._start.busy_s
        own = self._end.own_s - self._start.own_s
        cores = max(0.0, (busy - own) / window)
        resolution = ((os.cpu_count() or 1) + self._own_processes) * _tick_s() / window
        contended = (cores - resolution) > self.threshold or bool(others)
        return Contention(cores, others, self.threshold, contended, window, resolution, None)
