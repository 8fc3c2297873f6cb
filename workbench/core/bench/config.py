"""What a benchmark child needs to run, as a JSON-serialisable frozen dataclass."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class BenchConfig:
    """One benchmark run.

    ``iterations``: exactly this many timed queries (no minimum duration). Else the run lasts at
    least ``duration_s`` seconds and ``min_iterations`` queries (trtexec semantics: 3 s / 10).
    ``warmup_ms`` / ``warmup_iterations``: warm-up lasts until both are reached.
    ``batch``: the batch to feed (bench/resolve.py); ``shapes``: whole shapes per input {name: [dims]};
    ``symbols``: sizes per named dim {symbol: size}; ``values``: inputs random feeds fill with one value
    {name: value} (integer scalars such as a sample rate).
    ``dataset``: a dataset folder whose first sample(s) feed the model instead of seeded random data.
    ``flush_ms``: how often latencies are sent to the parent (batched IPC).
    ``scenario``: "single-stream" (next query when the previous completes) or "server" (queries issued at
    seeded Poisson arrival times at ``qps``; latency counts from the scheduled arrival, so queueing counts).
    """

    artifact_path: str
    backend: str = "onnxruntime"
    intra_op_threads: int = 0
    inter_op_threads: int = 0
    execution_mode: str = "sequential"
    graph_optimization_level: str = "all"
    batch: int = 1
    shapes: dict = field(default_factory=dict)
    symbols: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)
    seed: int = 0
    dataset: str | None = None
    warmup_ms: float = 200.0
    warmup_iterations: int = 0
    iterations: int | None = None
    duration_s: float = 3.0
    min_iterations: int = 10
    flush_ms: float = 50.0
    profile_layers: bool = False
    include_transfers: bool = True
    cuda_graph: bool = False
    streams: int = 1
    scenario: str = "single-stream"  # or "server": queries issued at seeded Poisson arrival times
    qps: float | None = None  # server: offered queries per second
    server_queries: int | None = None  # server: number of queries (default: qps x duration_s)
    slow_start_s: float = 0.0  # tests: a deliberate pause after loading, so a kill lands mid-phase

    @property
    def server_query_count(self) -> int:
        """The server scenario's query count: ``server_queries``, else ``qps`` x ``duration_s`` (at least 1)."""
        return self.server_queries or max(1, int(round((self.qps or 1.0) * self.duration_s)))

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> BenchConfig:
        return cls(**json.loads(text))
