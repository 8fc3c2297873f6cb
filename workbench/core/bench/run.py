"""Benchmark one built artifact: idle power and settling first (when asked), the timed run(s) in child
processes with telemetry sampled in this process over the timed window, then the typed result.

This is the benchmark machinery every orchestration uses (workflow.py: bench, best, scenarios, sweeps); it knows
nothing about profiles, model specs or faces: it gets a :class:`BenchPlan`.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from workbench.core.bench import events as ev
from workbench.core.bench.config import BenchConfig
from workbench.core.bench.contention import ContentionMonitor
from workbench.core.bench.event_log import EventLog
from workbench.core.bench.parent import BenchOutcome, ChildControl, run_child
from workbench.core.bench.result import RunContext, RunMeasurements, build_result
from workbench.core.bench.series import LatencySeries
from workbench.core.bench.stability import StabilityWatcher
from workbench.core.bench.stream import EXACT_CAP
from workbench.core.bench.units import ms_list
from workbench.core.progress import Progress, ProgressFn, no_progress
from workbench.core.results.result import BenchmarkResult, IdlePower, LayerProfile, PowerState, Settle


@dataclass(frozen=True)
class TelemetryPlan:
    """Where power/temperature come from (a telemetry source spec: auto, host, sysfs, tegrastats, nvml,
    replay:FILE), the sampling interval (ms), the profile's total-power rail rule and throttle temperature (°C)."""

    source: str
    interval_ms: int
    total_rule: str | None = None
    max_temp_c: float | None = None


@dataclass(frozen=True)
class BenchPlan:
    """One benchmark of one artifact.

    ``repeat`` K > 1 runs K independent child processes (each with its own warm-up) and pools their latencies.
    ``idle_s`` > 0 samples idle power first (shown beside; subtracted, labelled, only with ``subtract_idle``).
    ``settle`` waits until temperatures stop rising (or reach ``settle_target_c``) before timing.
    ``until_stable`` keeps timing until ``stable_target``'s 95 % interval is within ±``stable_rel_width``
    (``config.duration_s`` is then the limit; one run only). ``events_path``: a detached job's events.jsonl, where
    the live stream is kept so a face can re-attach.
    """

    config: BenchConfig
    context: RunContext
    telemetry: TelemetryPlan
    repeat: int = 1
    idle_s: float = 0.0
    subtract_idle: bool = False
    settle: bool = False
    settle_target_c: float | None = None
    settle_timeout_s: float = 120.0
    until_stable: bool = False
    stable_target: float = 99.0
    stable_rel_width: float = 0.02
    events_path: Path | None = None

    def with_config(self, **changes) -> BenchPlan:
        return replace(self, config=replace(self.config, **changes))


def _idle_power(source, plan: TelemetryPlan, seconds: float) -> IdlePower:
    """Mean power over ``seconds`` with nothing running (shown beside the run, never subtracted silently)."""
    from workbench.core.telemetry import Recorder

    rec = Recorder(source, interval_ms=plan.interval_ms, total_rule=plan.total_rule)
    rec.start()
    rec.mark_window_start()
    time.sleep(seconds)
    rec.mark_window_end()
    s = rec.stop()
    return IdlePower(
        seconds=seconds,
        mean_power_w=s.mean_power_w,
        measured=s.measured,
        reason=None if s.mean_power_w is not None else (s.reasons.get("mean_power_w") or "no power reading"),
    )


def _power_state() -> PowerState:
    from workbench.core.power.state import current_power_state

    return PowerState.from_dict(current_power_state())


def _layers(path: str | None, iterations: int) -> tuple[LayerProfile | None, str | None]:
    """The per-node times of the timed runs only (the profile also holds the warm-up), or why not."""
    if not path:
        return None, None
    from workbench.core.bench.layers import parse_ort_profile
    from workbench.core.errors import BenchmarkError

    try:
        return LayerProfile.from_dict(parse_ort_profile(path, keep_last=iterations)), None
    except BenchmarkError as exc:
        return None, f"per-layer profile not read: {exc}"


@dataclass(frozen=True)
class BenchRun:
    """A finished benchmark: its typed result, and the child outcomes whose arrays hold the timed latencies (ns)
    the parent kept — every one up to the exact cap (bench/stream.py), the first ones past it — for
    ``--export-times`` (the result itself keeps at most 20 000)."""

    result: BenchmarkResult
    outcomes: tuple[BenchOutcome, ...]

    def with_result(self, result: BenchmarkResult) -> BenchRun:
        return replace(self, result=result)

    @property
    def times_total(self) -> int:
        """Timed latencies measured (all runs), kept or not."""
        return sum(o.stream.count for o in self.outcomes)

    def write_times(self, path: str) -> int:
        """The kept timed latencies (ms), in the order run, as ``{"precision", "latencies_ms", "latencies_kept",
        "latencies_total"}`` JSON, written atomically: every one (``latencies_kept`` "all") up to the exact cap,
        else the first ones of each run (``latencies_kept`` "first": a run past the cap keeps the first
        ``stream.EXACT_CAP`` over all its repeats). Returns the count written. Raises StorageError when the file
        cannot be written.

        The array is written in pieces of :data:`TIMES_CHUNK` latencies, so a million of them never sit in memory
        as one list of Python floats and one string (about 70 MB at the cap); the bytes are the same as
        ``json.dumps`` of the whole document."""
        from workbench.core.fsutil import atomic_writer

        kept = sum(len(o.latencies_ns) for o in self.outcomes)
        total = self.times_total
        with atomic_writer(path) as fh:
            fh.write(b'{"precision": ' + json.dumps(self.result.precision).encode() + b', "latencies_ms": [')
            first = True
            for o in self.outcomes:
                lat = o.latencies_ns
                for start in range(0, len(lat), TIMES_CHUNK):
                    piece = json.dumps(ms_list(lat[start : start + TIMES_CHUNK]))[1:-1]
                    fh.write(((", " if not first else "") + piece).encode())
                    first = False
            tail = {"latencies_kept": "all" if kept == total else "first", "latencies_total": total}
            fh.write(b"], " + json.dumps(tail)[1:].encode())
        return kept


#: Latencies converted and written at a time by :meth:`BenchRun.write_times` (64 Ki: about 1.5 MB of floats).
TIMES_CHUNK = 1 << 16


def run_length_text(cfg: BenchConfig, until_stable: bool = False) -> str:
    """How long a run will be, for its progress line: ``300 queries at 500 QPS`` (server: ``--queries`` given, or
    qps x duration), ``exactly 1000 queries`` (``--iterations``), ``until stable, at most 60 s`` (``--until-stable``:
    the duration is then the ceiling), else ``at least 3 s``."""
    if until_stable:
        return f"until stable, at most {cfg.duration_s:.3g} s"
    if cfg.scenario == "server" and cfg.qps:
        n = cfg.server_query_count
        return f"{n} queries at {cfg.qps:g} QPS" + ("" if cfg.server_queries else f" (qps x {cfg.duration_s:g} s)")
    if cfg.iterations:
        return f"exactly {cfg.iterations} queries"
    return f"at least {cfg.duration_s:.3g} s"


def run_benchmark(
    plan: BenchPlan,
    *,
    on_progress: ProgressFn = no_progress,
    on_event: Callable[[object], None] | None = None,
    cancel: threading.Event | None = None,
) -> BenchRun:
    """Run ``plan`` and return its result with the outcomes behind it (see :class:`BenchPlan`).

    ``on_event`` sees the child's typed events (bench/events.py) as they arrive, for live views.

    Raises:
        Cancelled, BenchmarkError, TelemetryError (a source that cannot be opened), the child's WorkbenchError;
        UsageError for --until-stable with several repeats (one run watches itself; K runs have fixed lengths).
    """
    from workbench.core.errors import UsageError
    from workbench.core.telemetry import Recorder, open_source

    if plan.until_stable and plan.repeat > 1:
        raise UsageError(
            "--until-stable runs one process until its interval is narrow enough; --repeat K runs K processes of a "
            "fixed length: choose one",
            hint="drop --repeat to use --until-stable, or drop --until-stable to run --repeat K fixed-length runs",
        )
    cfg = plan.config
    tp = plan.telemetry
    source = open_source(tp.source)
    idle = None
    settle = None
    outcomes: list[BenchOutcome] = []
    events_log = None
    try:
        if plan.idle_s > 0:
            on_progress(Progress("bench", f"sampling idle power for {plan.idle_s:g} s"))
            idle = _idle_power(source, tp, plan.idle_s)
        if plan.settle:
            from workbench.core.power.sweep import max_temp_reader, wait_for_cooldown

            on_progress(Progress("bench", "waiting for temperatures to settle"))
            settled, temp = wait_for_cooldown(
                max_temp_reader(source), target_c=plan.settle_target_c, timeout_s=plan.settle_timeout_s, cancel=cancel
            )
            settle = Settle(
                settled,
                temp,
                plan.settle_target_c,
                None if temp is not None else "no temperature reading from this telemetry source",
            )
        recorder = Recorder(source, interval_ms=tp.interval_ms, total_rule=tp.total_rule, max_temp_c=tp.max_temp_c)
        recorder.start()
        on_progress(
            Progress("bench", f"benchmarking {plan.context.precision} ({run_length_text(cfg, plan.until_stable)})")
        )
        control = ChildControl()
        watcher = StabilityWatcher(plan.stable_target, plan.stable_rel_width) if plan.until_stable else None
        if plan.events_path is not None:
            try:
                from workbench.core.private import open_private_append

                # 0600 in the job's 0700 folder, like every file of a job (core/jobs.py)
                events_log = EventLog(os.fdopen(open_private_append(plan.events_path), "ab"))  # closed in finally
            except OSError:
                events_log = None
        repeat = max(1, plan.repeat)
        window_started = False
        last_end: float | None = None  # the last TimedEnd's monotonic time (the series' last window)
        series = LatencySeries()  # p50/p99/throughput per second, bounded (beside the telemetry history)

        def relay(event: object) -> None:
            nonlocal window_started, last_end
            if events_log is not None:
                # A detached job keeps its live stream on disk, so a face can re-attach and replay it (thinned
                # past its first 64 MiB: bench/event_log.py).
                events_log.write(event)
            if isinstance(event, ev.Samples):
                series.add(event.latencies_ns, event.sent_monotonic_s)
            # One telemetry window over all repeats: from the first run's start to the last run's end.
            if isinstance(event, ev.TimedStart):
                series.start(event.monotonic_s)
                if not window_started:
                    window_started = True
                    recorder.mark_window_start()
            elif isinstance(event, ev.TimedEnd):
                last_end = event.monotonic_s
                if len(outcomes) == repeat:
                    recorder.mark_window_end()
                    contention.stop()
            elif watcher is not None and isinstance(event, ev.Samples) and watcher.batch_arrived():
                control.request_stop()
            if on_event is not None:
                on_event(event)

        contention = ContentionMonitor()
        contention.start()  # just before the first child: loading and warm-up count (see bench/contention.py)
        try:
            for k in range(repeat):
                if repeat > 1:
                    on_progress(Progress("bench", f"run {k + 1}/{repeat} (own process, own warm-up)", k, repeat))
                # the exact cap is for the pooled run: each repeat keeps what the earlier ones left of it
                out = BenchOutcome.reserved(max(0, EXACT_CAP - sum(len(o.latencies_ns) for o in outcomes)))
                outcomes.append(out)
                if watcher is not None:
                    watcher.watch(out.stream)
                run_child(cfg, on_event=relay, cancel=cancel, control=control, outcome=out)
        finally:
            summary = recorder.stop()
    finally:
        source.close()
        if events_log is not None:
            events_log.close()
    iterations = sum(o.iterations for o in outcomes)
    layers, layer_warning = _layers(outcomes[-1].layer_profile_path, outcomes[-1].iterations)
    contention.stop()  # no-op when the last TimedEnd already stopped it
    series.finish(last_end)
    measured = RunMeasurements(
        latency_series=series.result(),
        contention=contention.report(),
        telemetry=summary,
        power_state=_power_state(),
        idle_power=idle,
        settle=settle,
        subtract_idle=plan.subtract_idle,
        layers=layers,
        layer_warning=layer_warning,
    )
    judge = None
    if watcher is not None:

        def judge(latency):
            return watcher.verdict(latency, iterations, cfg.duration_s)

    return BenchRun(build_result(outcomes, plan.context, measured, judge_stability=judge), tuple(outcomes))


__all__ = ["BenchPlan", "BenchRun", "TelemetryPlan", "run_benchmark"]
