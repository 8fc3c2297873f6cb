"""Power-mode sweep core: for each mode set it, let temperatures settle, benchmark, record; restore the original
mode at the end even on error or Ctrl-C; recommend the mode with the least energy per inference that meets a
latency target (p99 ≤ X ms) and/or a power budget (mean ≤ Y W).

The benchmark itself is injected (``run_benchmark(mode) -> BenchmarkResult``) so this module needs neither the
bench package nor a board; core/workflow.py wires the real benchmark and the real :class:`Nvpmodel`.

A row whose result is not a measurement of this machine (replayed or recorded telemetry) is kept for display but
never ranked or recommended.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from workbench.core.errors import Cancelled, PowerError, UsageError, WorkbenchError
from workbench.core.power.nvpmodel import NvpmodelConf, PowerMode, resolve_mode
from workbench.core.results.result import BenchmarkResult


@dataclass(frozen=True)
class SweepRow:
    mode: str
    mode_id: int
    status: str  # "ok" | "failed" | "reboot_required" | "not_measured"
    p50_ms: float | None = None
    p99_ms: float | None = None
    throughput_ips: float | None = None
    mean_power_w: float | None = None
    mj_per_inference: float | None = None
    measured: bool = False
    temp_max_c: float | None = None
    settle_temp_c: float | None = None
    settled: bool | None = None
    throttle_reasons: tuple[str, ...] = ()
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["throttle_reasons"] = list(self.throttle_reasons)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SweepRow:
        """Inverse of :meth:`to_dict` (a detached sweep's rows read back; unknown keys are ignored)."""
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        kw["throttle_reasons"] = tuple(kw.get("throttle_reasons") or ())
        return cls(**kw)


@dataclass(frozen=True)
class Recommendation:
    mode: str | None
    reason: str
    p99_max_ms: float | None = None
    power_max_w: float | None = None


@dataclass(frozen=True)
class SweepResult:
    rows: tuple[SweepRow, ...]
    original_mode: str | None
    original_id: int | None
    restored: bool
    restore_error: str | None
    recommendation: Recommendation
    cancelled: bool = False
    error: str | None = None
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": [r.to_dict() for r in self.rows],
            "original_mode": self.original_mode,
            "original_id": self.original_id,
            "restored": self.restored,
            "restore_error": self.restore_error,
            "recommendation": asdict(self.recommendation),
            "cancelled": self.cancelled,
            "error": self.error,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SweepResult:
        """Inverse of :meth:`to_dict` (a detached sweep's outcome read back by a face)."""
        rec = d.get("recommendation") or {}
        return cls(
            rows=tuple(SweepRow.from_dict(r) for r in d.get("rows") or ()),
            original_mode=d.get("original_mode"),
            original_id=d.get("original_id"),
            restored=bool(d.get("restored", False)),
            restore_error=d.get("restore_error"),
            recommendation=Recommendation(
                rec.get("mode"), str(rec.get("reason", "")), rec.get("p99_max_ms"), rec.get("power_max_w")
            ),
            cancelled=bool(d.get("cancelled", False)),
            error=d.get("error"),
            notes=tuple(d.get("notes") or ()),
        )


def select_modes(conf: NvpmodelConf, spec: str) -> list[PowerMode]:
    """``all`` → every mode in conf order; else comma-separated names/ids/``max`` (duplicates dropped).
    Raises PowerError for an unknown name (listing the board's modes) and UsageError for an empty list."""
    if spec.strip().lower() == "all":
        return list(conf.modes)
    out: list[PowerMode] = []
    for part in spec.split(","):
        if part.strip():
            m = resolve_mode(conf, part)
            if m not in out:
                out.append(m)
    if not out:
        raise UsageError(f"no power modes in {spec!r}", hint="use --modes all or --modes NAME,NAME")
    return out


def wait_for_cooldown(
    read_temp_c: Callable[[], float | None],
    *,
    target_c: float | None = None,
    timeout_s: float = 120.0,
    poll_s: float = 2.0,
    stable_window: int = 5,
    stable_band_c: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    cancel: threading.Event | None = None,
) -> tuple[bool, float | None]:
    """Wait until the hottest zone is ≤ ``target_c`` or, without a target, until the last ``stable_window``
    readings stay within ``stable_band_c``. Returns (settled, last_temp_c); (False, None) when no temperature
    can be read (the sweep proceeds and says so). Stops at ``timeout_s``; raises Cancelled when cancelled."""
    t_end = clock() + timeout_s
    history: list[float] = []
    last: float | None = None
    while True:
        if cancel is not None and cancel.is_set():
            raise Cancelled("sweep cancelled while waiting for temperatures to settle")
        last = read_temp_c()
        if last is None:
            return False, None
        history.append(last)
        if target_c is not None and last <= target_c:
            return True, last
        if target_c is None and len(history) >= stable_window:
            recent = history[-stable_window:]
            if max(recent) - min(recent) <= stable_band_c:
                return True, last
        if clock() >= t_end:
            return False, last
        sleep(poll_s)


def row_from_result(mode: PowerMode, result: BenchmarkResult, *, settle: tuple[bool, float | None]) -> SweepRow:
    """The sweep's row for one mode. Only a measurement of this machine (results.result.Provenance) is "ok"; a
    replayed or recorded one is kept for display as "not_measured" and never ranked."""
    tel = result.telemetry
    measured = result.is_measurement and tel is not None and tel.measured
    status = "ok" if measured else "not_measured"
    reason = (
        None if measured else ((tel.label if tel is not None else None) or "telemetry not measured on this machine")
    )
    return SweepRow(
        mode=mode.name,
        mode_id=mode.id,
        status=status,
        p50_ms=result.latency.p50_ms,
        p99_ms=result.latency.p99_ms,
        throughput_ips=result.throughput.inferences_per_s,
        mean_power_w=tel.mean_power_w if tel is not None else None,
        mj_per_inference=tel.mj_per_inference if tel is not None else None,
        measured=measured,
        temp_max_c=tel.temp_max_c if tel is not None else None,
        settle_temp_c=settle[1],
        settled=settle[0],
        throttle_reasons=tuple(tel.throttle_reasons) if tel is not None else (),
        reason=reason,
    )


def recommend(
    rows: Sequence[SweepRow], *, p99_max_ms: float | None = None, power_max_w: float | None = None
) -> Recommendation:
    """Least mJ/inference among measured, successful rows meeting p99 ≤ ``p99_max_ms`` and mean W ≤
    ``power_max_w`` (each only when given). Replay/unmeasured rows never qualify."""
    cands = [r for r in rows if r.status == "ok" and r.measured and r.mj_per_inference is not None]
    if not cands:
        why = "no mode has a measured energy per inference"
        if any(r.status == "not_measured" for r in rows):
            why += " (replayed telemetry is not a measurement)"
        return Recommendation(None, why, p99_max_ms, power_max_w)
    ok = [
        r
        for r in cands
        if (p99_max_ms is None or (r.p99_ms is not None and r.p99_ms <= p99_max_ms))
        and (power_max_w is None or (r.mean_power_w is not None and r.mean_power_w <= power_max_w))
    ]
    if not ok:
        limits = []
        if p99_max_ms is not None:
            limits.append(f"p99 ≤ {p99_max_ms:g} ms")
        if power_max_w is not None:
            limits.append(f"mean power ≤ {power_max_w:g} W")
        return Recommendation(None, "no mode meets " + " and ".join(limits), p99_max_ms, power_max_w)
    best = min(ok, key=lambda r: (r.mj_per_inference, r.p99_ms if r.p99_ms is not None else float("inf")))
    what = f"least energy per inference ({best.mj_per_inference:.3g} mJ)"
    if p99_max_ms is not None or power_max_w is not None:
        what += " among modes meeting the targets"
    return Recommendation(best.mode, what, p99_max_ms, power_max_w)


def run_sweep(
    modes: Sequence[PowerMode],
    *,
    set_mode: Callable[[PowerMode], Any],
    current_mode: Callable[[], PowerMode | None],
    run_benchmark: Callable[[PowerMode], BenchmarkResult],
    read_temp_c: Callable[[], float | None] | None = None,
    cooldown: Mapping[str, Any] | None = None,
    p99_max_ms: float | None = None,
    power_max_w: float | None = None,
    cancel: threading.Event | None = None,
    on_row: Callable[[SweepRow], None] | None = None,
    stop_on_error: bool = False,
) -> SweepResult:
    """Run the sweep (see module doc). ``set_mode`` returns an object with ``reboot_required`` (or anything);
    ``current_mode`` gives the mode to restore (None = unknown/unset: nothing to restore, said in notes).

    A failing mode (a WorkbenchError from set/benchmark) is recorded as a "failed" row and the sweep goes on
    unless ``stop_on_error``; any other exception, Ctrl-C or ``cancel`` ends the sweep. In every case the
    original mode is set again before returning/raising (its failure is reported in ``restore_error``).
    """
    original = current_mode()
    rows: list[SweepRow] = []
    notes: list[str] = []
    if original is None:
        notes.append("the current power mode is unknown (no mode set yet); it cannot be restored afterwards")
    cancelled = False
    error: str | None = None
    pending: BaseException | None = None
    touched = False  # any set_mode attempted: a failed set may still have changed the mode, so always restore
    try:
        for mode in modes:
            if cancel is not None and cancel.is_set():
                cancelled = True
                break
            try:
                touched = True
                res = set_mode(mode)
                if getattr(res, "reboot_required", False):
                    row = SweepRow(mode.name, mode.id, "reboot_required", reason="this mode needs a reboot; skipped")
                    rows.append(row)
                    if on_row:
                        on_row(row)
                    continue
                settle: tuple[bool, float | None] = (False, None)
                if read_temp_c is not None:
                    settle = wait_for_cooldown(read_temp_c, cancel=cancel, **dict(cooldown or {}))
                result = run_benchmark(mode)
                row = row_from_result(mode, result, settle=settle)
            except Cancelled:
                cancelled = True
                break
            except WorkbenchError as exc:
                row = SweepRow(mode.name, mode.id, "failed", reason=str(exc))
                if stop_on_error:
                    rows.append(row)
                    error = str(exc)
                    break
            rows.append(row)
            if on_row:
                on_row(row)
    except KeyboardInterrupt as exc:
        cancelled = True
        pending = exc
    except BaseException as exc:  # noqa: BLE001 - restore first, then re-raise below
        error = f"{type(exc).__name__}: {exc}"
        pending = exc
    restored = False
    restore_error: str | None = None
    if original is not None and touched:
        try:
            set_mode(original)
            restored = True
        except (WorkbenchError, OSError) as exc:
            restore_error = f"could not restore {original.name} (id {original.id}): {exc}"
    elif original is not None:
        restored = True  # nothing was changed
    result = SweepResult(
        rows=tuple(rows),
        original_mode=original.name if original else None,
        original_id=original.id if original else None,
        restored=restored,
        restore_error=restore_error,
        recommendation=recommend(rows, p99_max_ms=p99_max_ms, power_max_w=power_max_w),
        cancelled=cancelled,
        error=error,
        notes=tuple(notes),
    )
    if pending is not None:
        if isinstance(pending, KeyboardInterrupt):
            err = Cancelled("sweep cancelled; original power mode " + ("restored" if restored else "NOT restored"))
            err.result = result  # type: ignore[attr-defined] - the partial table for the caller
            raise err
        pending.sweep_result = result  # type: ignore[attr-defined]
        raise pending
    return result


def assert_measured_source(source: Any) -> None:
    """Sweeps compare measured power: refuse a replay (``measured=False``) telemetry source up front."""
    if not getattr(source, "measured", True):
        raise PowerError(
            f"telemetry source {getattr(source, 'name', '?')} is a replay: a sweep needs power measured on this machine",
            hint="use --telemetry auto (or sysfs/tegrastats/nvml) for sweeps",
        )


def max_temp_reader(source: Any) -> Callable[[], float | None]:
    """A ``read_temp_c`` for :func:`wait_for_cooldown`: the hottest zone of a fresh ``source.read()``, PMIC's
    constant excluded; None when the source has no temperature or the read fails."""
    from workbench.core.errors import TelemetryError
    from workbench.core.telemetry.throttle import CONSTANT_ZONES

    def read() -> float | None:
        try:
            s = source.read()
        except TelemetryError:
            return None
        vals = [v for k, v in s.temps_c.items() if v is not None and k.upper() not in CONSTANT_ZONES]
        return max(vals) if vals else None

    return read


def format_table(result: SweepResult) -> str:
    """Plain-text sweep table + recommendation (for the CLI; n/a for missing values)."""

    def f(v: float | None, spec: str) -> str:
        return "n/a" if v is None else format(v, spec)

    lines = [f"{'MODE':<18} {'ID':>3} {'p50 ms':>8} {'p99 ms':>8} {'inf/s':>9} {'mean W':>7} {'mJ/inf':>8}  STATUS"]
    for r in result.rows:
        status = r.status if not r.throttle_reasons else f"{r.status} (throttled: {'; '.join(r.throttle_reasons)})"
        if r.reason and r.status != "ok":
            status += f" — {r.reason}"
        lines.append(
            f"{r.mode:<18} {r.mode_id:>3} {f(r.p50_ms, '.3f'):>8} {f(r.p99_ms, '.3f'):>8} "
            f"{f(r.throughput_ips, '.1f'):>9} {f(r.mean_power_w, '.2f'):>7} {f(r.mj_per_inference, '.3f'):>8}  {status}"
        )
    rec = result.recommendation
    lines.append("")
    lines.append(f"Recommendation: {rec.mode} — {rec.reason}" if rec.mode else f"Recommendation: none — {rec.reason}")
    if result.original_mode is not None:
        state = "restored" if result.restored else f"NOT restored ({result.restore_error})"
        lines.append(f"Original mode {result.original_mode} (id {result.original_id}): {state}")
    lines.extend(f"note: {n}" for n in result.notes)
    return "\n".join(lines)
