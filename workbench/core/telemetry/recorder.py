"""Background sampler: reads a telemetry source every ``interval_ms`` into bounded ring buffers and summarises
a benchmark window (mean/peak W, energy, mJ/inference, temperatures, CPU load, RAM).

Usage::

    rec = Recorder(open_source("auto"), interval_ms=200)
    rec.start()
    rec.mark_window_start()      # right before the first timed inference
    ...                          # benchmark
    rec.mark_window_end()        # right after the last
    summary = rec.stop().with_inferences(n)

Memory is bounded: ``capacity`` samples for the full history (dashboard) and ``window_capacity`` light
(t, power, energy counter) points for the window. A read that raises is counted and sampling continues (a gap,
never a stop). ``stop()`` waits for one sample after the window end (at most ~2 intervals) so the window's
right edge is bracketed for interpolation.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from workbench.core.errors import TelemetryError
from workbench.core.telemetry.energy import EnergyResult, energy_from_counter, integrate_power
from workbench.core.telemetry.schema import TelemetrySample, choose_total
from workbench.core.telemetry.throttle import CONSTANT_ZONES, throttle_flags

REPLAY_LABEL = "replay — not measured on this machine"

# Zones that report a constant, not a measurement (Jetson's PMIC: a fixed 100 °C, 50 °C on JetPack 4.6) never count
# toward the max temperature or throttling; see telemetry.throttle.CONSTANT_ZONES.


@dataclass(frozen=True)
class TelemetrySummary:
    """Telemetry over the benchmark window. Every value is None ("n/a") with a reason in ``reasons`` when the
    source cannot give it. ``measured`` is False for replay sources: such numbers never enter sweeps,
    recommendations or comparisons."""

    source: str
    measured: bool
    label: str | None
    interval_ms: int
    window_s: float | None
    samples: int  # samples taken inside the window
    read_errors: int
    mean_power_w: float | None
    peak_power_w: float | None
    energy_mj: float | None
    energy_method: str
    total_power_rule: str | None
    power_coverage: float | None
    inferences: int | None = None
    mj_per_inference: float | None = None
    temps_max_c: dict[str, float] = field(default_factory=dict)
    temp_max_c: float | None = None
    cpu_pct_mean: float | None = None
    gpu_load_pct_mean: float | None = None
    ram_used_mb_max: float | None = None
    ram_total_mb: float | None = None
    throttled: bool = False
    throttle_reasons: tuple[str, ...] = ()  # see telemetry.throttle.throttle_flags
    reasons: dict[str, str] = field(default_factory=dict)

    def with_inferences(self, n: int) -> TelemetrySummary:
        """A copy with ``inferences`` and ``mj_per_inference`` (= energy_mj / n) filled in."""
        mj = self.energy_mj / n if (self.energy_mj is not None and n > 0) else None
        reasons = dict(self.reasons)
        if mj is None and "mj_per_inference" not in reasons:
            reasons["mj_per_inference"] = reasons.get("energy_mj", "no inferences in the window")
        return replace(self, inferences=n, mj_per_inference=mj, reasons=reasons)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["throttle_reasons"] = list(self.throttle_reasons)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TelemetrySummary:
        """Inverse of :meth:`to_dict` (results read back from JSON); missing fields take their defaults."""
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        kw.setdefault("source", "?")
        kw.setdefault("measured", True)
        kw.setdefault("label", None)
        kw.setdefault("interval_ms", 0)
        kw.setdefault("window_s", None)
        kw.setdefault("samples", 0)
        kw.setdefault("read_errors", 0)
        for k in ("mean_power_w", "peak_power_w", "energy_mj", "total_power_rule", "power_coverage"):
            kw.setdefault(k, None)
        kw.setdefault("energy_method", "none")
        kw["throttle_reasons"] = tuple(kw.get("throttle_reasons") or ())
        kw["temps_max_c"] = dict(kw.get("temps_max_c") or {})
        kw["reasons"] = dict(kw.get("reasons") or {})
        return cls(**kw)


class Recorder:
    """Sampler thread over one source. Not restartable: one Recorder per run."""

    def __init__(
        self,
        source,
        interval_ms: int = 200,
        capacity: int = 3000,
        *,
        window_capacity: int = 200_000,
        clock=time.monotonic,
        total_rule: str | None = None,
        max_temp_c: float | None = None,
    ) -> None:
        if interval_ms <= 0:
            raise TelemetryError(
                f"telemetry interval must be > 0 ms, got {interval_ms}", hint="pass a positive --interval-ms, e.g. 100"
            )
        self.source = source
        self.interval_s = interval_ms / 1000.0
        self.interval_ms = int(interval_ms)
        self._clock = clock
        self._total_rule = total_rule
        self._max_temp_c = max_temp_c  # the profile's power.max_temp_c: crossing it flags throttling
        self.history: deque[TelemetrySample] = deque(maxlen=capacity)
        self._points: deque[tuple[float, float | None, float | None]] = deque(maxlen=window_capacity)
        self._window_overflow = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._new = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._t0: float | None = None
        self._t1: float | None = None
        self.read_errors = 0
        self.last_error: str | None = None
        self._summary: TelemetrySummary | None = None

    # -- lifecycle --------------------------------------------------------------------------------------
    def start(self) -> Recorder:
        """Take one sample now (so the window start can be bracketed) and start the sampler thread."""
        if self._thread is not None:
            raise TelemetryError(
                "Recorder.start() called twice", hint="stop the Recorder before starting it again, or make a new one"
            )
        self._sample_once()
        self._thread = threading.Thread(target=self._loop, name=f"telemetry-{self.source.name}", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        next_t = self._clock() + self.interval_s
        while not self._stop.is_set():
            delay = next_t - self._clock()
            if delay > 0 and self._stop.wait(delay):
                break
            self._sample_once()
            next_t += self.interval_s
            now = self._clock()
            if next_t < now:  # a slow read: skip missed ticks rather than bursting
                next_t = now + self.interval_s

    def _sample_once(self) -> None:
        try:
            s = self.source.read()
        except TelemetryError as exc:
            with self._lock:
                self.read_errors += 1
                self.last_error = str(exc)
            return
        except Exception as exc:  # noqa: BLE001 - a source bug must not kill the benchmark's sampler
            with self._lock:
                self.read_errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
            return
        with self._new:
            if self._total_rule is not None and s.rails_mw:
                # The profile names the rule; a source without rails (NVML, RAPL) keeps its own total.
                power, rule = choose_total(s.rails_mw, self._total_rule)
                s = replace(s, total_power_mw=power, total_power_rule=rule)
            self.history.append(s)
            if len(self._points) == self._points.maxlen:
                self._window_overflow = True
            self._points.append((s.timestamp_s, s.total_power_mw, s.energy_mj))
            self._new.notify_all()

    def mark_window_start(self) -> float:
        """Record the monotonic start of the benchmark window; returns it."""
        t = self._clock()
        with self._lock:
            self._t0 = t
            # Keep only the last point before the window (for edge interpolation).
            while len(self._points) > 1 and self._points[1][0] <= t:
                self._points.popleft()
        return t

    def mark_window_end(self) -> float:
        """Record the monotonic end of the benchmark window; returns it."""
        t = self._clock()
        with self._lock:
            self._t1 = t
        return t

    def latest(self) -> TelemetrySample | None:
        with self._lock:
            return self.history[-1] if self.history else None

    def snapshot(self) -> list[TelemetrySample]:
        with self._lock:
            return list(self.history)

    def stop(self) -> TelemetrySummary:
        """Stop sampling (after one post-window sample when possible), close nothing, return the summary."""
        if self._summary is not None:
            return self._summary
        if self._thread is not None and self._t1 is not None:
            deadline = time.monotonic() + max(2.5 * self.interval_s, 0.5)
            with self._new:
                while not self._points or self._points[-1][0] < self._t1:
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._thread.is_alive():
                        break
                    self._new.wait(left)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(5.0, 3 * self.interval_s))
        self._summary = self._summarise()
        return self._summary

    # -- summary ----------------------------------------------------------------------------------------
    def _summarise(self) -> TelemetrySummary:
        src = self.source
        measured = bool(getattr(src, "measured", True))
        label = getattr(src, "label", None) or (None if measured else REPLAY_LABEL)
        reasons: dict[str, str] = {}
        unavailable = dict(getattr(src, "unavailable", {}) or {})
        with self._lock:
            hist = list(self.history)
            pts = list(self._points)
            t0, t1 = self._t0, self._t1
        if t0 is None or t1 is None:
            t0 = hist[0].timestamp_s if hist else None
            t1 = hist[-1].timestamp_s if hist else None
            reasons["window"] = "no benchmark window was marked; summary covers the whole recording"
        in_win = [s for s in hist if t0 is not None and t1 is not None and t0 <= s.timestamp_s <= t1]
        if not in_win and hist and t0 is not None and t1 is not None:
            # A window shorter than one interval: use the samples bracketing it.
            in_win = [min(hist, key=lambda s: abs(s.timestamp_s - (t0 + t1) / 2))]
        en: EnergyResult | None = None
        if t0 is not None and t1 is not None:
            power = [(t, p) for t, p, _ in pts]
            counter = [(t, e) for t, _, e in pts]
            if any(e is not None for _, e in counter):
                en = energy_from_counter(counter, t0, t1, power)
            else:
                en = integrate_power(power, t0, t1)
        energy_mj = en.energy_mj if en else None
        if energy_mj is None:
            why = unavailable.get("total_power_mw") or unavailable.get("power") or (en.reason if en else None)
            reasons["energy_mj"] = why or "no power samples in the window"
            reasons["mean_power_w"] = reasons["energy_mj"]
        elif en is not None and en.reason:
            reasons["power_coverage"] = en.reason
        # What a source says about figures it does give: NVML's peak of 1 s averages, the GPU it sampled when it
        # could not match the run's CUDA device, a MIG instance's board-wide readings.
        for key in ("peak_power_w", "gpu_choice", "gpu_scope"):
            if key in unavailable:
                reasons[key] = unavailable[key]
        if self._window_overflow:
            reasons["window"] = "window longer than the point buffer; its start was dropped"
        if hist and t0 is not None and len(hist) == self.history.maxlen and hist[0].timestamp_s > t0:
            reasons["history"] = (
                f"window longer than the {len(hist)}-sample history; temperature/CPU/RAM figures cover its last "
                f"{hist[-1].timestamp_s - hist[0].timestamp_s:.0f} s (energy covers all of it)"
            )
        rule = next((s.total_power_rule for s in reversed(in_win) if s.total_power_rule), None)

        temps_max: dict[str, float] = {}
        for s in in_win:
            for k, v in s.temps_c.items():
                if v is not None:
                    temps_max[k] = max(v, temps_max.get(k, v))
        real_temps = {k: v for k, v in temps_max.items() if k.upper() not in CONSTANT_ZONES}
        if not real_temps:
            reasons["temp_max_c"] = unavailable.get("temps_c", "no temperature readings in the window")
        cpu = [s.cpu_load_mean_pct for s in in_win]
        cpu_vals = [c for c in cpu if c is not None]
        if not cpu_vals:
            reasons["cpu_pct_mean"] = unavailable.get("cpu", "no CPU load readings in the window")
        gpu_vals = [s.gpu.load_pct for s in in_win if s.gpu is not None and s.gpu.load_pct is not None]
        if not gpu_vals:
            reasons["gpu_load_pct_mean"] = unavailable.get("gpu", "no GPU load readings in the window")
        ram_used = [s.ram_mb.used for s in in_win if s.ram_mb is not None and s.ram_mb.used is not None]
        ram_total = next((s.ram_mb.total for s in reversed(in_win) if s.ram_mb is not None), None)
        if not ram_used:
            reasons["ram_used_mb_max"] = unavailable.get("ram_mb", "no RAM readings in the window")
        throttle = throttle_flags(in_win, max_temp_c=self._max_temp_c)
        if self.read_errors:
            reasons["read_errors"] = f"{self.read_errors} failed reads; last: {self.last_error}"
        return TelemetrySummary(
            source=getattr(src, "name", "?"),
            measured=measured,
            label=label,
            interval_ms=self.interval_ms,
            window_s=(t1 - t0) if (t0 is not None and t1 is not None) else None,
            samples=len(in_win),
            read_errors=self.read_errors,
            mean_power_w=en.mean_power_w if en else None,
            peak_power_w=en.peak_power_w if en else None,
            energy_mj=energy_mj,
            energy_method=en.method if en else "none",
            total_power_rule=rule,
            power_coverage=en.coverage if en and energy_mj is not None else None,
            temps_max_c=temps_max,
            temp_max_c=max(real_temps.values()) if real_temps else None,
            cpu_pct_mean=sum(cpu_vals) / len(cpu_vals) if cpu_vals else None,
            gpu_load_pct_mean=sum(gpu_vals) / len(gpu_vals) if gpu_vals else None,
            ram_used_mb_max=max(ram_used) if ram_used else None,
            ram_total_mb=ram_total,
            throttled=bool(throttle),
            throttle_reasons=throttle,
            reasons=reasons,
        )
