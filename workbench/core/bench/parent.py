"""Parent side of a benchmark: start the child, read its typed event stream, cancel by killing it.

The timed loop runs in a separate process so nothing the parent does (telemetry sampling, drawing
a UI, printing) perturbs its timings, and Cancel can kill it at any point. The child starts in a folder of ours
with the user's folder off its ``sys.path`` (core/child_argv.py), so the paths it is given are made absolute here.
Its stderr (a runtime's own output, a traceback) is drained by a thread while it runs, keeping the last
:data:`STDERR_TAIL_BYTES` for the error message: a child that prints more than a pipe holds (64 KiB on Linux)
would otherwise block in write(2) forever.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import threading
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from workbench.core import errors as _errors
from workbench.core.bench import events as ev
from workbench.core.bench.config import BenchConfig
from workbench.core.bench.stream import EXACT_CAP, LatencyStream, RawBuffer
from workbench.core.child_argv import spawn
from workbench.core.errors import BenchmarkError, Cancelled, WorkbenchError

CHILD_MODULE = "workbench.core.bench.child"
# How much of the end of the child's stderr is kept for the error message (ours: a traceback's last frames fit).
STDERR_TAIL_BYTES = 16 * 1024


@dataclass
class BenchOutcome:
    """Everything the child reported. Latencies in ns (perf_counter_ns), timestamps time.monotonic() s.

    The latencies are kept bounded (bench/stream.py): ``latencies_ns`` holds the first ``raw_cap`` of them in run
    order (array('q'), 8 bytes each: at most 8 MB at the default cap of 1 000 000); :attr:`stream` has the count,
    exact sums, min/max, the histogram of all of them and an order-preserving sample. Latencies appended to
    ``latencies_ns`` directly (tests, tools) are counted in the stream the next time it is read.
    """

    latencies_ns: array = field(default_factory=lambda: array("q"))
    warmup_latencies_ns: list = field(default_factory=list)
    warmup_summary: dict | None = None  # a long warm-up's summary instead of its latencies (events.WarmupDone)
    warmup_duration_ns: int = 0
    wall_ns: int = 0
    iterations: int = 0
    input_shapes: dict = field(default_factory=dict)
    input_source: str = ""
    start_monotonic_s: float | None = None
    end_monotonic_s: float | None = None
    batches_received: int = 0
    batches_lost: int = 0
    layer_profile_path: str | None = None
    peak_rss_mb: float | None = None
    stopped_by_parent: bool = False
    queries_per_call: int = 1
    timing_splits: dict | None = None
    runtime_info: dict = field(default_factory=dict)  # what the runtime used (Runner.runtime_info)
    raw_cap: int = EXACT_CAP  # raw latencies kept (exact statistics while the run is no longer)
    latency_stream: LatencyStream | None = None

    def __post_init__(self) -> None:
        if self.latency_stream is None:
            self.latency_stream = LatencyStream(max(self.raw_cap, len(self.latencies_ns)), raw=self.latencies_ns)
        else:
            self.latencies_ns = self.latency_stream.raw

    @classmethod
    def reserved(cls, raw_cap: int = EXACT_CAP) -> BenchOutcome:
        """An empty outcome whose raw latency buffer (``raw_cap`` x 8 bytes) is allocated now, so the parent does not
        grow while the run fills it (bench/stream.py :class:`RawBuffer`)."""
        return cls(raw_cap=raw_cap, latency_stream=LatencyStream(raw_cap, reserve=True))

    @property
    def stream(self) -> LatencyStream:
        """The run's bounded latency record (bench/stream.py)."""
        s = self.latency_stream
        assert s is not None  # set in __post_init__
        if s.count < len(s.raw):  # appended to latencies_ns directly: count them now
            s.account(s.raw[s.count :])
        return s


class ChildControl:
    """Handle a face can use while the child runs: ``request_stop()`` ends the timed window gracefully."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._stop_asked = False

    def request_stop(self) -> None:
        self._stop_asked = True
        if self._proc is not None and self._proc.poll() is None:
            import signal

            self._proc.send_signal(signal.SIGUSR1)


class _StderrTail:
    """Reads a pipe to its end in a daemon thread, keeping only its last ``limit`` bytes (memory stays bounded
    however much the child prints)."""

    def __init__(self, fileobj, limit: int = STDERR_TAIL_BYTES) -> None:
        self._fd = fileobj.fileno()
        self._limit = limit
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._drain, name="bench-child-stderr", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self._fd, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            with self._lock:
                self._chunks.append(chunk)
                self._size += len(chunk)
                while self._size - len(self._chunks[0]) >= self._limit:
                    self._size -= len(self._chunks.popleft())

    def text(self, join_s: float = 5.0) -> str:
        """The kept tail, once the pipe has ended (waits at most ``join_s`` for a process that inherited it)."""
        self._thread.join(join_s)
        with self._lock:
            return b"".join(self._chunks)[-self._limit :].decode(errors="replace")

    @property
    def ended(self) -> bool:
        return not self._thread.is_alive()


def _absolute(cfg: BenchConfig) -> BenchConfig:
    """``cfg`` with its file paths absolute: the child starts in a folder of ours, not the user's."""
    return replace(
        cfg,
        artifact_path=os.path.abspath(cfg.artifact_path),
        dataset=os.path.abspath(cfg.dataset) if cfg.dataset else cfg.dataset,
    )


def _raise_failed(event: ev.Failed) -> None:
    cls = getattr(_errors, event.kind, None)
    if isinstance(cls, type) and issubclass(cls, WorkbenchError):
        raise cls(event.message, hint=event.hint or None)
    raise BenchmarkError(
        f"benchmark child failed: {event.message}",
        hint=event.hint
        or "an unexpected failure in the benchmark child: report it with this message and the command line",
    )


def run_child(
    cfg: BenchConfig,
    *,
    on_event: Callable[[object], None] | None = None,
    cancel: threading.Event | None = None,
    poll_s: float = 0.1,
    control: ChildControl | None = None,
    outcome: BenchOutcome | None = None,
    child_module: str = CHILD_MODULE,
) -> BenchOutcome:
    """Run one benchmark in a child process and collect its stream.

    ``on_event`` sees every event as it arrives (for live views), after the outcome has taken it.
    ``cancel`` set -> the child is killed and :class:`Cancelled` raised. ``outcome``: an empty outcome to fill
    (so a watcher can follow its latency array while the run goes on); a new :meth:`BenchOutcome.reserved` one by
    default (its unused reserve is given back when the run ends). ``child_module``: the
    module the child runs (tests put a stand-in that wraps the real one here).

    Raises:
        Cancelled, BenchmarkError, or the WorkbenchError the child reported (ModelError, UsageError, ...).
    """
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    config = _absolute(cfg).to_json().encode()
    proc = spawn(child_module, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdin and proc.stdout and proc.stderr
    stderr_tail = _StderrTail(proc.stderr)
    try:
        proc.stdin.write(config)
        proc.stdin.flush()
    except BrokenPipeError:
        pass  # the child died before reading its configuration: reported below from its stderr and exit status
    finally:
        try:
            proc.stdin.close()
        except BrokenPipeError:
            pass
    if control is not None:
        control._proc = proc
        if control._stop_asked:
            control.request_stop()
    out = outcome if outcome is not None else BenchOutcome.reserved()
    failed: ev.Failed | None = None
    ended = False
    expected_seq = 0
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    pending = b""
    try:
        while True:
            if cancel is not None and cancel.is_set():
                raise Cancelled("benchmark cancelled; the child process was killed")
            ready = sel.select(timeout=poll_s)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            chunk = os.read(proc.stdout.fileno(), 1 << 16)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if not line.strip():
                    continue
                event = ev.decode(line)
                if isinstance(event, ev.Samples):
                    if event.seq != expected_seq:
                        out.batches_lost += event.seq - expected_seq
                    expected_seq = event.seq + 1
                    out.batches_received += 1
                    out.stream.add(event.latencies_ns)
                elif isinstance(event, ev.WarmupDone):
                    out.warmup_latencies_ns = list(event.latencies_ns)
                    out.warmup_summary = event.summary
                    out.warmup_duration_ns = event.duration_ns
                elif isinstance(event, ev.RunnerInfo):
                    out.runtime_info = dict(event.info)
                elif isinstance(event, ev.InputsReady):
                    out.input_shapes = dict(event.shapes)
                    out.input_source = event.source
                elif isinstance(event, ev.TimedStart):
                    out.start_monotonic_s = event.monotonic_s
                elif isinstance(event, ev.TimedEnd):
                    out.end_monotonic_s = event.monotonic_s
                    out.wall_ns = event.wall_ns
                    out.iterations = event.iterations
                    out.peak_rss_mb = event.peak_rss_mb
                    out.stopped_by_parent = event.stopped_by_parent
                    out.queries_per_call = event.queries_per_call
                    ended = True
                elif isinstance(event, ev.TimingSplits):
                    out.timing_splits = event.summary
                elif isinstance(event, ev.LayerProfile):
                    out.layer_profile_path = event.path
                elif isinstance(event, ev.Failed):
                    failed = event
                if on_event is not None:
                    on_event(event)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        stderr_text = stderr_tail.text()
        if stderr_tail.ended:  # else a process that inherited the pipe still holds it: the thread ends with it
            proc.stderr.close()
        proc.stdout.close()
        sel.close()
    if failed is not None:
        _raise_failed(failed)
    if not ended:
        detail = stderr_text.strip().splitlines()[-1] if stderr_text.strip() else f"exit status {proc.returncode}"
        raise BenchmarkError(
            f"benchmark child ended before its timed window finished: {detail}",
            hint="run `workbench doctor`; if the child ran out of memory (dmesg shows the OOM killer), lower --batch "
            "or --streams",
        )
    if isinstance(out.latencies_ns, RawBuffer):
        out.latencies_ns.trim()  # the run is over: what it did not fill of the reserve goes back
    if out.iterations != out.stream.count:
        raise BenchmarkError(
            f"benchmark stream lost samples: child timed {out.iterations} queries, parent received {out.stream.count}",
            hint="rerun the benchmark; if it repeats, run with fewer --streams or a lower --qps so the parent keeps up",
        )
    return out
