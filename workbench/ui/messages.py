"""Typed messages. Workers post one message per job kind with a typed payload to the app; the app updates its
state and forwards a copy to each workbench screen, which reacts only to what it shows (Textual calls
``on_<message name>`` where a screen defines one). Workers never touch widgets.

Every message here is ``bubble=False``: a copy forwarded to a screen must not climb back to the app.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any

from textual.message import Message

from workbench.core.progress import Progress


class JobKind(str, Enum):
    """What the app is busy with (a str, so ``app.busy == "bench"`` reads naturally)."""

    PREPARE = "prepare"
    DATASET = "dataset"
    CALIBRATE = "calibrate"
    BUILD = "build"
    BENCH = "bench"
    SWEEP = "sweep"
    TUNE = "tune"
    FLEET = "fleet"  # `workbench fleet run` (Fleet screen)
    FLEET_CHECK = "fleet check"  # `workbench fleet check --json` (Fleet screen)
    EXPORT = "export"
    RESULTS = "results"
    COMPARE = "compare"
    JOBS = "jobs"  # listing the detached jobs (Jobs screen)

    def __str__(self) -> str:
        return self.value


class Change(str, Enum):
    """What changed in the app state (screens redraw what depends on it)."""

    MOUNT = "mount"
    BUSY = "busy"
    OPTIONS = "options"
    PRECISION = "precision"
    PREPARED = "prepared"
    CALIBRATION = "calibration"
    BUILD = "build"
    BENCH = "bench"
    SWEEP = "sweep"
    TUNE = "tune"
    FLEET = "fleet"  # the fleet run or the fleet check facts on show changed
    JOB = "job"  # the followed detached job, or its settings, changed


class WorkbenchMessage(Message, bubble=False):
    """Base of the app's messages: ``copy()`` gives a fresh instance to forward to another message pump."""

    def copy(self) -> WorkbenchMessage:
        return replace(self)  # type: ignore[type-var]


@dataclass
class ProgressMsg(WorkbenchMessage, bubble=False):
    """A core :class:`~workbench.core.progress.Progress` of job ``kind``. Counted ticks of one step replace a
    stale queued copy (toolong's ``can_replace``), so a fast calibration cannot flood the queue."""

    kind: JobKind
    progress: Progress

    def can_replace(self, message: Message) -> bool:
        return (
            isinstance(message, ProgressMsg)
            and message.kind == self.kind
            and message.progress.step == self.progress.step
            and message.progress.total is not None
            and self.progress.total is not None
        )


@dataclass
class Prepared(WorkbenchMessage, bubble=False):
    """The model and profile resolved: the prepared job, its precision choices and the TensorRT pre-flight."""

    job: Any  # core.job.PreparedJob
    choices: list = field(default_factory=list)  # core.live.PrecisionChoice
    preflight: Any = None  # models.preflight.PreflightReport
    preflight_note: str | None = None


@dataclass
class DatasetRead(WorkbenchMessage, bubble=False):
    folder: Path
    dataset: Any  # precision.datasets.Dataset


@dataclass
class Calibrated(WorkbenchMessage, bubble=False):
    calibration: Any  # core.workflow.Calibration
    accuracy: Any  # core.accuracy.AccuracyReport | None


@dataclass
class BuildFinished(WorkbenchMessage, bubble=False):
    built: Any  # core.workflow.Built


@dataclass
class BenchFinished(WorkbenchMessage, bubble=False):
    """A benchmark ended with a result (a run of this session, or a re-attached detached job's stored one)."""

    result: Any  # core.results.result.BenchmarkResult
    built: Any = None  # core.workflow.Built, when this session built it
    best: Any = None  # core.workflow.BestOutcome for --precision best (its candidates line is shown)


@dataclass
class Attached(WorkbenchMessage, bubble=False):
    """Following a detached job (one this TUI started, or one re-attached from the Jobs screen); ``live`` receives its
    replayed and followed benchmark events (None for calibrate/build jobs)."""

    job_id: str
    command: str
    live: Any  # core.live.LiveLatency | None
    kind: JobKind = JobKind.BENCH
    job: Any = None  # core.jobs.Job


@dataclass
class JobSettingsKnown(WorkbenchMessage, bubble=False):
    """The followed job's own settings (core.jobs.JobSettings: model, profile, precision, duration …), read from its
    folder once its process has prepared it; the screens' headers show these instead of the app's."""

    job_id: str
    settings: Any  # core.jobs.JobSettings


@dataclass
class JobsListed(WorkbenchMessage, bubble=False):
    """This user's detached jobs, newest first, read off the UI thread (core.jobs.Job, state, one-line outcome)."""

    rows: tuple = ()  # (Job, state, outcome text)


@dataclass
class NothingToAttach(WorkbenchMessage, bubble=False):
    """No detached job is running (a notice, not a failure: nothing on screen changes)."""

    message: str


@dataclass
class SweepRowFinished(WorkbenchMessage, bubble=False):
    row: Any  # core.power.sweep.SweepRow


@dataclass
class SweepFinished(WorkbenchMessage, bubble=False):
    result: Any  # core.power.sweep.SweepResult


@dataclass
class TuneProgressed(WorkbenchMessage, bubble=False):
    """A detached tune's progress (core.bench.events.TuneProgress: candidates done / left, ETA in s, what it does
    now). A newer one replaces a stale queued copy: only the latest count matters."""

    progress: Any  # core.bench.events.TuneProgress

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TuneProgressed)


@dataclass
class TuneRowFinished(WorkbenchMessage, bubble=False):
    """A detached tune finished one candidate (a later row for the same candidate key replaces the earlier one)."""

    outcome: Any  # core.tune.types.CandidateOutcome


@dataclass
class TuneFinished(WorkbenchMessage, bubble=False):
    """A tune ended with its result (done, at the budget, or cancelled with the candidates measured so far)."""

    result: Any  # core.tune.types.TuneResult


@dataclass
class FleetHostChanged(WorkbenchMessage, bubble=False):
    """A detached `fleet run`: one host's state changed (core.bench.events.FleetHostState: host, state from
    core/fleet/types.py STATES, a line of detail)."""

    event: Any  # core.bench.events.FleetHostState


@dataclass
class FleetHostFinished(WorkbenchMessage, bubble=False):
    """A detached `fleet run` finished one host (its FleetHostDone row, read back as core.fleet.types.HostRun)."""

    row: Any  # core.fleet.types.HostRun


@dataclass
class FleetFinished(WorkbenchMessage, bubble=False):
    """A `fleet run` job ended with its outcome (every host's row; also when some hosts failed or it was
    cancelled: the hosts it finished)."""

    run: Any  # core.fleet.types.FleetRun


@dataclass
class FleetChecked(WorkbenchMessage, bubble=False):
    """A `fleet check --json` job ended: one HostFacts per inventory host, in the document's order."""

    facts: tuple = ()  # core.fleet.types.HostFacts


@dataclass
class Exported(WorkbenchMessage, bubble=False):
    path: str


@dataclass
class ResultsLoaded(WorkbenchMessage, bubble=False):
    """Stored (or recorded) results read off the UI thread; ``label`` marks recorded ones."""

    results: tuple = ()
    label: str | None = None
    unreadable: tuple = ()  # "result 14 ... cannot be read ..." for rows that are not results


@dataclass
class Compared(WorkbenchMessage, bubble=False):
    """Two results compared by the core's engine (the bootstrap runs in a worker); ``token`` is the requesting
    screen's, so only that screen shows it."""

    comparison: Any  # core.results.compare.Comparison
    titles: tuple
    heading: str
    token: int


@dataclass
class JobFailed(WorkbenchMessage, bubble=False):
    """A job ended with a WorkbenchError (or an unexpected exception, shown as one line)."""

    kind: JobKind
    message: str
    hint: str = ""
    cancelled: bool = False


@dataclass
class StateChanged(WorkbenchMessage, bubble=False):
    what: Change
