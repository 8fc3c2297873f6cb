"""Typed events the benchmark child streams to its parent, one JSON object per line.

JSON lines (not pickles) so a detached job's stream can be re-read later by any face, and nothing
executable crosses the pipe. Latencies travel as integer nanoseconds from ``time.perf_counter_ns``,
in batches (one message per ~50 ms, never one per iteration: measured here, a message per iteration
nearly doubled a 19 us latency). Timestamps ``*_monotonic_s`` are ``time.monotonic()``, which on
Linux is CLOCK_MONOTONIC and therefore comparable across processes (telemetry windows use it).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class Phase:
    """The child entered a phase: "loading", "inputs", "warmup", "timed", "done"."""

    name: str
    detail: str = ""


@dataclass(frozen=True)
class RunnerInfo:
    """What the runtime actually uses once loaded (e.g. torch's thread counts), when it can say (Runner.runtime_info)."""

    info: dict


@dataclass(frozen=True)
class InputsReady:
    """Inputs prepared before the timed window: {input name: shape}, their source ("random seed=0" or a dataset)."""

    shapes: dict
    source: str


@dataclass(frozen=True)
class WarmupDone:
    """Warm-up finished; ``latencies_ns`` are the warm-up queries (reported apart from the steady state). A warm-up
    longer than bench/child.py ``WARMUP_KEEP`` queries sends ``latencies_ns`` empty and ``summary`` instead
    (count, sum/min/max/first ns, median ms from a histogram: child.py ``WarmupFold.summary``)."""

    iterations: int
    duration_ns: int
    latencies_ns: list
    summary: dict | None = None


@dataclass(frozen=True)
class TimedStart:
    monotonic_s: float


@dataclass(frozen=True)
class Samples:
    """A batch of timed query latencies. ``seq`` increases by one per batch (lost batches are detectable)."""

    seq: int
    latencies_ns: list
    # When the child sent the batch (time.monotonic(): CLOCK_MONOTONIC, one clock for every process of the
    # machine), so a face that reads the batch later — a TUI re-attaching to a job's events.jsonl — plots it at
    # the time it was measured. None in events written before this field existed.
    sent_monotonic_s: float | None = None
    # Queries the batch stood for when ``latencies_ns`` holds only a sample of them (a long job's events log is
    # thinned: bench/event_log.py); None: ``latencies_ns`` holds every one.
    count: int | None = None


@dataclass(frozen=True)
class TimedEnd:
    """End of the timed window: host wall time from first query start to last query end, and the count."""

    monotonic_s: float
    wall_ns: int
    iterations: int
    batches: int
    peak_rss_mb: float | None = None  # the child's peak resident set (ru_maxrss) after the timed window
    stopped_by_parent: bool = False  # ended early on the parent's request (SIGUSR1), e.g. --until-stable
    queries_per_call: int = 1  # > 1 with several GPU streams: each timed call ran this many queries


@dataclass(frozen=True)
class TimingSplits:
    """GPU backends: per-query H2D / GPU compute / D2H summaries (ms) as trtexec splits them, and the options."""

    summary: dict


@dataclass(frozen=True)
class LayerProfile:
    """Path of the runtime's per-node profile file, written after the timed window."""

    path: str


@dataclass(frozen=True)
class Failed:
    """The child failed; ``kind`` is the WorkbenchError subclass name (or the exception type)."""

    kind: str
    message: str
    hint: str = ""


@dataclass(frozen=True)
class StepProgress:
    """A detached job's step progress (core/progress.py ``Progress``), so a face following the job can show it."""

    step: str
    message: str
    done: int | None = None
    total: int | None = None


@dataclass(frozen=True)
class SweepRowDone:
    """A detached power-mode sweep finished one mode: its row (power/sweep.py ``SweepRow.to_dict``)."""

    row: dict


@dataclass(frozen=True)
class TuneProgress:
    """A detached tune: candidates done / left, the estimated seconds left (None before one was timed), and what
    it is doing now (plain words)."""

    done: int
    left: int
    eta_s: float | None
    message: str


@dataclass(frozen=True)
class TuneCandidateDone:
    """A detached tune finished one candidate: its outcome (tune/types.py ``CandidateOutcome.to_dict``)."""

    row: dict


@dataclass(frozen=True)
class FleetHostState:
    """A detached `fleet run`: one host's state changed (fleet/types.py ``STATES``), with a line of detail."""

    host: str
    state: str
    message: str = ""


@dataclass(frozen=True)
class FleetHostDone:
    """A detached `fleet run` finished one host: its row (fleet/types.py ``HostRun.to_dict``)."""

    row: dict


EVENT_TYPES = {
    cls.__name__: cls
    for cls in (
        Phase,
        RunnerInfo,
        InputsReady,
        WarmupDone,
        TimedStart,
        Samples,
        TimedEnd,
        TimingSplits,
        LayerProfile,
        Failed,
        StepProgress,
        SweepRowDone,
        TuneProgress,
        TuneCandidateDone,
        FleetHostState,
        FleetHostDone,
    )
}


def encode(event) -> bytes:
    d = asdict(event)
    d["type"] = type(event).__name__
    return (json.dumps(d, separators=(",", ":")) + "\n").encode()


def decode(line: bytes | str):
    """One JSON line -> event. Raises ValueError for an unknown or malformed line."""
    d = json.loads(line)
    cls = EVENT_TYPES.get(d.pop("type", None))
    if cls is None:
        raise ValueError(f"unknown event: {line!r}")
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})
