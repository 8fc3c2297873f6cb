"""The benchmark child process: load, prepare inputs, warm up, run the timed loop, stream events.

Run as ``python -m workbench.core.bench.child`` with a BenchConfig JSON on stdin. Events go out as
JSON lines on the file descriptor that was stdout at start; fd 1 is then pointed at stderr so that
nothing a runtime prints can corrupt the stream. Only the timed call sits between the two
``perf_counter_ns`` reads; batching, encoding and writing happen between queries.
"""

from __future__ import annotations

import os
import signal
import sys
import time

from workbench.core.bench import events as ev
from workbench.core.bench.config import BenchConfig


class _Stream:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, event) -> None:
        data = ev.encode(event)
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]


def _runner(cfg: BenchConfig):
    from workbench.core.backends import get_backend
    from workbench.core.backends.base import RunnerSettings

    settings = RunnerSettings(
        intra_op_threads=cfg.intra_op_threads,
        inter_op_threads=cfg.inter_op_threads,
        execution_mode=cfg.execution_mode,
        graph_optimization_level=cfg.graph_optimization_level,
        profiling=cfg.profile_layers,
        include_transfers=cfg.include_transfers,
        cuda_graph=cfg.cuda_graph,
        streams=cfg.streams,
    )
    return get_backend(cfg.backend).runner(cfg.artifact_path, settings)


_stop_requested = [False]


def _request_stop(signum, frame) -> None:  # noqa: ARG001 - signal handler signature
    _stop_requested[0] = True


def _peak_rss_mb() -> float | None:
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB
    except (ImportError, OSError):
        return None


def run(cfg: BenchConfig, out: _Stream) -> None:
    out.send(ev.Phase("loading", cfg.artifact_path))
    # `with`: the runner is deactivated (device memory, streams freed) however the body ends, a raising
    # warm-up or timed call included; the error then reaches main() and the parent as a Failed event.
    with _runner(cfg) as runner:
        _measure(cfg, runner, out)
    out.send(ev.Phase("done"))


def _measure(cfg: BenchConfig, runner, out: _Stream) -> None:
    """Inputs, warm-up, the timed loop, then timing splits and the layer profile, on an active runner."""
    from workbench.core.bench.inputs import dataset_feeds, random_feeds

    if cfg.slow_start_s:
        time.sleep(cfg.slow_start_s)
    info = runner.runtime_info()
    if info:
        out.send(ev.RunnerInfo(info))
    out.send(ev.Phase("inputs"))
    meta = runner.input_metadata()
    if cfg.dataset:
        feeds = dataset_feeds(cfg.dataset, meta, cfg.batch)
        source = f"dataset {cfg.dataset}"
    else:
        feeds = random_feeds(meta, cfg.batch, cfg.shapes, cfg.seed, symbols=cfg.symbols, values=cfg.values)
        source = f"random (seed {cfg.seed})"
    out.send(ev.InputsReady({k: list(v.shape) for k, v in feeds.items()}, source))
    call = runner.prepare(feeds)
    pc = time.perf_counter_ns

    out.send(ev.Phase("warmup"))
    warm: list[int] = []
    folded = WarmupFold()  # a long warm-up (minutes, to heat a board) is summarised, not kept
    w_start = pc()
    w_limit = int(cfg.warmup_ms * 1e6)
    try:  # the first calls are where a runtime refuses the inputs; say which were fed (no cost while it runs)
        while True:
            t0 = pc()
            call()
            t1 = pc()
            warm.append(t1 - t0)
            if len(warm) >= WARMUP_KEEP:
                folded.add(warm)
                warm = []
            if t1 - w_start >= w_limit and folded.count + len(warm) >= cfg.warmup_iterations:
                break
    except Exception as exc:  # noqa: BLE001 - the runtime's own error types; named when we can tell why
        refused = None if (warm or folded.count) else _inputs_refused(exc, meta, feeds, source, cfg.batch)
        if refused is None:
            raise
        raise refused from None
    duration_ns = pc() - w_start
    if folded.count:
        folded.add(warm)
        out.send(ev.WarmupDone(folded.count, duration_ns, [], folded.summary()))
    else:
        out.send(ev.WarmupDone(len(warm), duration_ns, warm))

    # Warm-up queries count in no statistic (trtexec): their H2D / compute / D2H splits are dropped too.
    runner.reset_timing_splits()
    qpc = runner.queries_per_call
    collect = _Collector(runner)
    if cfg.scenario == "server":
        _server_loop(cfg, call, out, qpc, collect)
    else:
        _single_stream_loop(cfg, call, out, qpc, collect)
    # Capability flags, not hasattr: ORT has no splits, torch and TensorRT always do; a layer profile exists
    # only when profiling was asked for (settings.profiling = cfg.profile_layers) on ORT or TensorRT.
    splits = runner.timing_splits() if runner.has_timing_splits else None
    if splits is not None:
        out.send(ev.TimingSplits(_summarise_splits(splits)))
    if cfg.profile_layers and runner.has_layer_profile:
        path = runner.end_profiling()
        if path:
            out.send(ev.LayerProfile(os.path.abspath(path)))


def _inputs_refused(exc: Exception, meta, feeds: dict, source: str, batch: int):
    """The BenchmarkError for a first query the runtime refused because the batch could not be placed in an input
    whose dims have no names (silero_vad.onnx's state [2, ?, 128]): the runtime's message, the shapes fed and where
    they came from, and which input to give the batch. None when that is not the case (the error stays the
    runtime's own)."""
    from workbench.core.errors import BenchmarkError, WorkbenchError
    from workbench.core.models.dims import batch_layout, fmt_shape, normalize_shape

    if isinstance(exc, WorkbenchError) or batch <= 1:
        return None
    specs = [_MetaSpec(n, s) for n, _, s in meta]
    axes = batch_layout(specs).axes
    # unnamed dims off the batch axis: the batch may run through them, nobody can tell
    blind = [s for s in specs if s.shape and axes.get(s.name) is None and None in normalize_shape(s.shape)]
    if not blind:
        return None
    b = blind[0]
    how = "dataset files that already hold the batch" if source.startswith("dataset") else "--shapes"
    shapes = ", ".join(f"{k} {list(v.shape)}" for k, v in feeds.items())
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return BenchmarkError(
        f"the model refused the inputs fed ({source}: {shapes}): {first}",
        hint=f"input {b.name!r} {fmt_shape(normalize_shape(b.shape))} names none of its dims, so batch {batch} "
        f"could not be placed in it: give it that batch yourself ({how}), or use --batch 1",
    )


class _MetaSpec:
    def __init__(self, name: str, shape) -> None:
        self.name, self.shape = name, tuple(shape)


#: Warm-up latencies sent to the parent as they are; a longer warm-up is summarised here (``WarmupFold``) and
#: sent as ``WarmupDone.summary``: a 10-minute warm-up of a 30 µs model is 20 million calls (about 700 MB as a
#: Python list, and one 200 MB event line).
WARMUP_KEEP = 100_000


class WarmupFold:
    """Count, sum, min, max, the first latency and a histogram (bench/histogram.py, median within 2**-11) of
    warm-up latencies folded in chunks of :data:`WARMUP_KEEP`; memory stays that of one chunk."""

    def __init__(self) -> None:
        self.count = 0
        self.sum_ns = 0
        self.min_ns: int | None = None
        self.max_ns = 0
        self.first_ns: int | None = None
        self.hist = None

    def add(self, chunk: list[int]) -> None:
        if not chunk:
            return
        from workbench.core.bench.histogram import LatencyHistogram

        if self.hist is None:
            self.hist = LatencyHistogram()
        if self.first_ns is None:
            self.first_ns = chunk[0]
        self.hist.record_ns(chunk)
        self.count += len(chunk)
        self.sum_ns += sum(chunk)
        lo, hi = min(chunk), max(chunk)
        self.min_ns = lo if self.min_ns is None else min(self.min_ns, lo)
        self.max_ns = max(self.max_ns, hi)

    def summary(self) -> dict:
        """``{"count", "sum_ns", "min_ns", "max_ns", "first_ns", "median_ms", "median_method"}``."""
        from workbench.core.bench.stats import percentile_rank

        assert self.hist is not None and self.count
        return {
            "count": self.count,
            "sum_ns": self.sum_ns,
            "min_ns": self.min_ns,
            "max_ns": self.max_ns,
            "first_ns": self.first_ns,
            "median_ms": self.hist.rank_ms(percentile_rank(self.count, 50.0)),
            "median_method": "histogram",
        }


def _summarise_splits(splits: dict) -> dict:
    """Median/mean/max of each per-query split list (ms); scalar options passed through."""
    out: dict = {}
    for key, value in splits.items():
        if isinstance(value, list):
            vals = sorted(value)
            if vals:
                out[key] = {
                    "median": vals[len(vals) // 2],
                    "mean": sum(vals) / len(vals),
                    "max": vals[-1],
                    "count": len(vals),
                }
            else:
                out[key] = None
        else:
            out[key] = value
    return out


class _Collector:
    """When the timed loops flush a batch: every ``flush_ms``, or sooner once ``limit`` timed calls left split
    records (CUDA events) pending in the runner (``Runner.pending_splits_limit``). ``__call__`` reads them, outside
    the timed region."""

    def __init__(self, runner) -> None:
        self.limit = runner.pending_splits_limit or (1 << 62)
        self._collect = runner.collect_timing_splits

    def __call__(self) -> None:
        self._collect()


def _no_collect() -> None:
    pass


def _end_window(out: _Stream, buf: list[int], seq: int, wall_ns: int, n: int, qpc: int) -> None:
    """Flush the last batch and close the timed window (after the last query, outside the timing)."""
    end_mono = time.monotonic()
    if buf:
        out.send(ev.Samples(seq, buf, time.monotonic()))
        seq += 1
    out.send(ev.TimedEnd(end_mono, wall_ns, n, seq, _peak_rss_mb(), _stop_requested[0], qpc))


def _single_stream_loop(cfg: BenchConfig, call, out: _Stream, qpc: int = 1, collect=None) -> None:
    pc = time.perf_counter_ns
    limit = collect.limit if collect is not None else 1 << 62
    collect = collect or _no_collect
    out.send(ev.Phase("timed"))
    exact = cfg.iterations
    duration_ns = int(cfg.duration_s * 1e9)
    min_iter = cfg.min_iterations
    flush_ns = int(cfg.flush_ms * 1e6)
    buf: list[int] = []
    seq = 0
    n = 0
    out.send(ev.TimedStart(time.monotonic()))
    start = pc()
    last_flush = start
    t1 = start
    while True:
        t0 = pc()
        call()
        t1 = pc()
        buf.append(t1 - t0)
        n += 1
        if exact is not None:
            if n >= exact:
                break
        elif t1 - start >= duration_ns and n >= min_iter:
            break
        if t1 - last_flush >= flush_ns or len(buf) >= limit:
            out.send(ev.Samples(seq, buf, time.monotonic()))
            collect()
            seq += 1
            buf = []
            last_flush = pc()
            if _stop_requested[0]:
                break
    _end_window(out, buf, seq, t1 - start, n, qpc)
    collect()


def _server_loop(cfg: BenchConfig, call, out: _Stream, qpc: int = 1, collect=None) -> None:
    """Issue queries at seeded Poisson arrival times; latency = completion - scheduled arrival.

    One query in flight at a time (a single runner): when the runner is busy, arrivals queue, and
    their waiting time is part of their latency, as in MLPerf's Server scenario.
    """
    from workbench.core.bench.arrivals import iter_poisson_arrivals

    pc = time.perf_counter_ns
    limit = collect.limit if collect is not None else 1 << 62
    collect = collect or _no_collect
    count = cfg.server_query_count
    # one arrival at a time (a list would be as long as the run); drawing one costs well under a microsecond,
    # spent before the wait for its due time, so it delays a query only when the run is already behind
    arrivals = iter_poisson_arrivals(cfg.qps or 1.0, count, cfg.seed)
    flush_ns = int(cfg.flush_ms * 1e6)
    buf: list[int] = []
    seq = 0
    n = 0
    out.send(ev.Phase("timed", f"server scenario: {count} queries at {cfg.qps:g} QPS (seed {cfg.seed})"))
    out.send(ev.TimedStart(time.monotonic()))
    start = pc()
    last_flush = start
    t1 = start
    for a in arrivals:
        due = start + int(a * 1e9)
        now = pc()
        if now < due:
            # sleep most of the wait, spin the last 0.5 ms: time.sleep overshoots by ~0.1 ms on Linux
            gap = due - now
            if gap > 500_000:
                time.sleep((gap - 500_000) / 1e9)
            while pc() < due:
                pass
        call()
        t1 = pc()
        buf.append(t1 - due)
        n += 1
        if t1 - last_flush >= flush_ns or len(buf) >= limit:
            out.send(ev.Samples(seq, buf, time.monotonic()))
            collect()
            seq += 1
            buf = []
            last_flush = pc()
            if _stop_requested[0]:
                break
    _end_window(out, buf, seq, t1 - start, n, qpc)
    collect()


def main() -> int:
    # The parent asks for a graceful end of the timed window (e.g. --until-stable) with SIGUSR1. Installed
    # first thing, so an early request cannot kill us; the flag is read only when a batch is flushed, so
    # the timed loop pays nothing for it.
    signal.signal(signal.SIGUSR1, _request_stop)
    event_fd = os.dup(1)
    os.dup2(2, 1)  # anything printed from here on goes to stderr, not into the event stream
    out = _Stream(event_fd)
    try:
        cfg = BenchConfig.from_json(sys.stdin.read())
        run(cfg, out)
        return 0
    except Exception as exc:  # noqa: BLE001 - reported to the parent as a typed event
        from workbench.core.errors import WorkbenchError

        if isinstance(exc, WorkbenchError):
            out.send(ev.Failed(type(exc).__name__, str(exc), exc.hint or ""))
        else:
            out.send(ev.Failed(type(exc).__name__, f"{type(exc).__name__}: {exc}"))
        return 1


if __name__ == "__main__":
    sys.exit(main())
