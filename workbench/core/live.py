"""Live views of running jobs that any face can poll: rolling latency statistics, precision choices, datasets.

Nothing here draws. A benchmark's ``on_event`` callback (``bench.run.run_benchmark``) runs on the thread that
reads the child's pipe; :class:`LiveLatency` takes those events under a lock, and a face polls
:meth:`LiveLatency.snapshot` at its own rate (the TUI at <= 10 Hz), so the drawing rate never depends on the
inference rate and no message is posted per iteration.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core import paths
from workbench.core.bench import events as ev
from workbench.core.bench.stats import median, percentile
from workbench.core.bench.units import ms_list


@dataclass(frozen=True)
class LiveStats:
    """A snapshot of a running benchmark.

    ``iterations``: timed queries so far. ``p50_ms``/``p99_ms``: trtexec percentiles (bench/stats.py) over the
    last ``window`` timed latencies (None before the first). ``throughput_ips``: iterations x batch / seconds
    since the timed window started. ``points_ms``: one value per received batch of samples (the batch's
    median latency, ms), newest last, for a line plot; ``points_t_s``: when each batch was measured (sent by the
    benchmark child; when it arrived for events without a time), seconds since ``started_s``; ``points_max_ms``: each
    batch's slowest latency (ms), so a spike inside a batch shows. ``started_s``: when
    the LiveLatency was created (the run was started) — or, for a job re-attached after it started, when its
    first event was sent, whichever is earlier — on the accumulator's clock (``time.monotonic`` by default, the telemetry Recorder's clock), so a
    face can put telemetry samples on the same time axis. ``window_ms``: the latencies behind the rolling
    percentiles, sorted (for a histogram). ``phase``: the child's last Phase name.
    ``version`` increases with every change, so a poller can skip redrawing an unchanged view.
    """

    phase: str
    iterations: int
    warmup_iterations: int
    p50_ms: float | None
    p99_ms: float | None
    last_ms: float | None
    throughput_ips: float | None
    elapsed_s: float | None
    points_ms: tuple[float, ...]
    version: int
    finished: bool
    error: str | None
    points_t_s: tuple[float, ...] = ()
    points_max_ms: tuple[float, ...] = ()
    started_s: float = 0.0
    window_ms: tuple[float, ...] = ()


class LiveLatency:
    """Thread-safe accumulator of benchmark events (pass :meth:`feed` as ``on_event``).

    Memory is bounded: ``window`` latencies for the rolling percentiles, ``points`` plot values.
    """

    def __init__(
        self, *, window: int = 2000, points: int = 240, batch: int = 1, clock: Callable[[], float] = time.monotonic
    ):
        self._lock = threading.Lock()
        self._recent: deque[float] = deque(maxlen=window)
        self._points: deque[float] = deque(maxlen=points)
        self._points_t: deque[float] = deque(maxlen=points)
        self._points_max: deque[float] = deque(maxlen=points)
        self._batch = batch
        self._clock = clock
        self._started = clock()
        # The child's event times are on time.monotonic (CLOCK_MONOTONIC, shared by all processes); they are
        # used only when this accumulator runs on that clock too (tests inject their own clocks).
        self._event_times = clock is time.monotonic
        self._phase = "starting"
        self._iterations = 0
        self._warmup = 0
        self._t0: float | None = None
        self._t1: float | None = None
        self._wall_s: float | None = None
        self._version = 0
        self._error: str | None = None

    def feed(self, event: object) -> None:
        """Take one child event (events.py types). Unknown objects are ignored."""
        with self._lock:
            self._version += 1
            if isinstance(event, ev.Phase):
                self._phase = event.name
            elif isinstance(event, ev.WarmupDone):
                self._warmup = event.iterations
            elif isinstance(event, ev.TimedStart):
                # the child's own start time: a re-attached job's throughput counts from when its window began,
                # not from when this face read the line
                self._t0 = self._when(event.monotonic_s)
                self._phase = "timed"
            elif isinstance(event, ev.Samples):
                ms = ms_list(event.latencies_ns)
                if ms:
                    self._recent.extend(ms)
                    # a thinned event (a long job's replayed log) stands for `count` queries
                    self._iterations += getattr(event, "count", None) or len(ms)
                    self._points.append(median(sorted(ms)))
                    self._points_t.append(self._when(getattr(event, "sent_monotonic_s", None)))
                    self._points_max.append(max(ms))
            elif isinstance(event, ev.TimedEnd):
                self._t1 = self._when(event.monotonic_s)
                self._wall_s = event.wall_ns / 1e9
                self._iterations = event.iterations
                self._phase = "done"
            elif isinstance(event, ev.Failed):
                self._error = f"{event.kind}: {event.message}"
                self._phase = "failed"

    def _when(self, event_s: float | None) -> float:
        """An event's time on this accumulator's clock: the child's stamp when usable, else now. A stamp from
        before this accumulator existed (a re-attached job) moves ``started`` back to it."""
        if event_s is None or not self._event_times:
            return self._clock()
        self._started = min(self._started, event_s)
        return event_s

    def snapshot(self) -> LiveStats:
        with self._lock:
            recent = sorted(self._recent)
            now = self._clock()
            if self._wall_s is not None:
                elapsed = self._wall_s
            elif self._t0 is not None:
                elapsed = (self._t1 or now) - self._t0
            else:
                elapsed = None
            tput = self._iterations * self._batch / elapsed if elapsed and self._iterations else None
            return LiveStats(
                phase=self._phase,
                iterations=self._iterations,
                warmup_iterations=self._warmup,
                p50_ms=percentile(recent, 50) if recent else None,
                p99_ms=percentile(recent, 99) if recent else None,
                last_ms=self._recent[-1] if self._recent else None,
                throughput_ips=tput,
                elapsed_s=elapsed,
                points_ms=tuple(self._points),
                version=self._version,
                finished=self._phase in ("done", "failed"),
                error=self._error,
                points_t_s=tuple(t - self._started for t in self._points_t),
                points_max_ms=tuple(self._points_max),
                started_s=self._started,
                window_ms=tuple(recent),
            )


@dataclass(frozen=True)
class PrecisionChoice:
    """One precision as offered on a device: ``reason`` says why it cannot be chosen (None = it can);
    ``note`` is a caveat for a choosable one (e.g. FP16 on the ORT CPU backend)."""

    name: str
    available: bool
    reason: str | None
    note: str | None


def precision_choices(job: Any) -> list[PrecisionChoice]:
    """fp32 / fp16 / int8 / best for a prepared job (core/job.py): what the backend supports and the
    profile allows (the same two checks ``workflow.build`` makes), with the backend's notes."""
    from workbench.core.job import PRECISIONS
    from workbench.core.workflow import explicit_int8

    support = job.backend.precision_support()
    notes = dict(job.backend.precision_notes())
    allowed = list(job.profile.build.precisions)
    eq = explicit_int8(job)  # a model already INT8 runs as int8 only (workflow.check_precision refuses the rest)
    out = []
    for p in PRECISIONS:
        reason = support.get(p, f"{job.backend.name} does not know {p}")
        if reason is None and p not in allowed:
            reason = f"profile {job.profile.name} does not allow {p} (allowed: {', '.join(allowed)})"
        if reason is None and eq is not None and p != "int8":
            reason = f"the model is already INT8 ({eq.describe()})"
        if reason is None and eq is not None and p == "int8":
            if not eq.integer:
                reason = f"the model is quantized to {eq.width}, not INT8"
            else:
                notes[p] = "the model's own Q/DQ scales: no calibration, no accuracy verdict against FP32"
        out.append(PrecisionChoice(p, reason is None, reason, notes.get(p)))
    return out


def list_datasets(kind: str = "calib") -> list[Path]:
    """Dataset folders of ``kind`` ("calib" or "eval"): ``./<kind>/*`` first, then the bundled ones
    (a local folder shadows a bundled one of the same name)."""
    seen: dict[str, Path] = {}
    bundled = paths.bundled_calib_dir() if kind == "calib" else paths.bundled_eval_dir()
    for base in (Path.cwd() / kind, bundled):
        if base.is_dir():
            for d in sorted(base.iterdir()):
                if d.is_dir() and not d.name.startswith("."):
                    seen.setdefault(d.name, d)
    return list(seen.values())


def energy_per_inference_mj(power_mw: float | None, throughput_ips: float | None) -> float | None:
    """Live estimate of energy per inference: board power (mW) / inferences per second = mJ per inference.

    The stored figure is the recorder's integral over the timed window (telemetry/energy.py); this one is for
    display while a run is in progress. None when either input is missing or the rate is 0.
    """
    if power_mw is None or not throughput_ips:
        return None
    return power_mw / throughput_ips


def dataset_for(job: Any, kind: str = "calib") -> Path | None:
    """The dataset folder the workflow will use for ``kind`` ("calib" / "eval") with the current request:
    the explicit option, the model spec's, or the bundled digits sets for the bundled model; None if none."""
    from workbench.core.job import dataset_path

    return dataset_path(job, kind)


def describe_dataset(ds: Any) -> list[tuple[str, str]]:
    """(label, text) rows describing an opened Dataset: count, kind, labels, shapes, preprocessing, skipped."""
    rows = [("Samples", f"{ds.count} {ds.kind}" + (" with labels" if ds.has_labels else ""))]
    shapes = ", ".join(f"{s.name} {s.shape_str()}" for s in ds.inputs) if ds.inputs else "?"
    rows.append(("Model in", shapes))
    pp = getattr(ds, "preprocess", None)
    if pp is not None:
        parts = []
        for k in ("color", "resize", "crop", "scale", "mean", "std", "layout", "dtype"):
            v = getattr(pp, k, None)
            if v is None:
                continue
            if isinstance(v, float):
                v = f"{v:.4g}"
            elif isinstance(v, tuple):
                v = "x".join(str(x) for x in v) if k in ("resize", "crop") else "/".join(f"{x:.4g}" for x in v)
            parts.append(f"{k} {v}")
        text = ", ".join(parts)
        rows.append(("Preproc", text))
    if not ds.uniform_shapes:
        rows.append(("Shapes", f"mixed (first different: {ds.first_mixed_shape})"))
    if ds.skipped:
        first = "; ".join(f"{f}: {r}" for f, r in ds.skipped[:2])
        rows.append(("Skipped", f"{len(ds.skipped)} file(s): {first}"))
    return rows
