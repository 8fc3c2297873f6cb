"""The benchmark child and a GPU runner's timing splits (issue 14, defects 3 and 4): warm-up queries are dropped
(trtexec counts none), and split records (CUDA events) are read between batches, never inside a timed call."""

from __future__ import annotations

from workbench.core.bench import child
from workbench.core.bench import events as ev
from workbench.core.bench.config import BenchConfig


class _Out:
    def __init__(self) -> None:
        self.events: list = []

    def send(self, event) -> None:
        self.events.append(event)


class _SplitRunner:
    """A runner shaped like the GPU ones: each timed call leaves one pending record; reads happen in collect."""

    has_timing_splits = True
    has_layer_profile = False
    queries_per_call = 1
    pending_splits_limit = 7

    def __init__(self) -> None:
        self.pending: list[int] = []
        self.read: list[int] = []
        self.calls = 0
        self.most_pending = 0
        self.in_call = False
        self.collect_in_call = 0

    def runtime_info(self):
        return {}

    def input_metadata(self):
        return [("x", "float32", (1, 4))]

    def prepare(self, feeds):
        def call():
            self.in_call = True
            self.calls += 1
            self.pending.append(self.calls)
            self.most_pending = max(self.most_pending, len(self.pending))
            self.in_call = False

        return call

    def reset_timing_splits(self) -> None:
        self.pending.clear()
        self.read.clear()

    def collect_timing_splits(self) -> None:
        if self.in_call:
            self.collect_in_call += 1
        self.read.extend(self.pending)
        self.pending.clear()

    def timing_splits(self):
        self.collect_timing_splits()
        return {"gpu_compute_ms": [float(x) for x in self.read]}


def _run(cfg: BenchConfig) -> tuple[_SplitRunner, _Out]:
    runner, out = _SplitRunner(), _Out()
    child._measure(cfg, runner, out)
    return runner, out


def test_warmup_queries_leave_no_split_and_count_equals_timed_iterations():
    runner, out = _run(BenchConfig(artifact_path="x", iterations=50, warmup_ms=0, warmup_iterations=13, flush_ms=1e9))
    (splits,) = [e for e in out.events if isinstance(e, ev.TimingSplits)]
    assert splits.summary["gpu_compute_ms"]["count"] == 50  # not 63: the 13 warm-up queries are gone
    assert runner.read[0] == 14  # the first kept record is the first timed query's


def test_records_are_read_between_batches_at_the_runner_limit():
    runner, out = _run(BenchConfig(artifact_path="x", iterations=100, warmup_ms=0, warmup_iterations=1, flush_ms=1e9))
    assert runner.most_pending <= 7  # flush_ms never came: the child flushed at pending_splits_limit
    assert runner.collect_in_call == 0
    batches = [e for e in out.events if isinstance(e, ev.Samples)]
    assert sum(len(b.latencies_ns) for b in batches) == 100 and max(len(b.latencies_ns) for b in batches) <= 7


def test_server_scenario_reads_records_between_batches_too():
    cfg = BenchConfig(
        artifact_path="x", scenario="server", qps=1e6, server_queries=40, warmup_ms=0, flush_ms=1e9, seed=1
    )
    runner, out = _run(cfg)
    (splits,) = [e for e in out.events if isinstance(e, ev.TimingSplits)]
    assert splits.summary["gpu_compute_ms"]["count"] == 40 and runner.most_pending <= 7
