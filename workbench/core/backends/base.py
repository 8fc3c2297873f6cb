"""The backend interface: build -> artifact; runner activate / infer / deactivate.

Modelled on Polygraphy's runners (backend/base/runner.py): a runner is a context manager, checks
its feeds against the model's input metadata, and exposes a zero-argument ``prepare(feeds)`` call
so the timed loop pays nothing but the inference itself.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Artifact:
    """A built, runnable artifact (optimized ONNX model, TensorRT plan).

    ``path`` exists on disk; ``sidecar_path`` is its JSON metadata (versions, device, profile,
    precision, model sha256, build time). ``cached`` is True when it was reused, not rebuilt.
    """

    path: Path
    backend: str
    precision: str
    source_model: Path
    sidecar_path: Path
    cached: bool
    build_s: float
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunnerSettings:
    """Runtime settings a runner honours. ``intra_op_threads`` 0 = the runtime's default."""

    intra_op_threads: int = 0
    inter_op_threads: int = 0
    execution_mode: str = "sequential"
    graph_optimization_level: str = "all"
    profiling: bool = False
    include_transfers: bool = True  # GPU backends: time H2D/D2H with the query (trtexec 10.x default)
    cuda_graph: bool = False  # GPU backends: replay the query as a CUDA graph
    streams: int = 1  # GPU backends: N concurrent streams (throughput only)


class Runner(abc.ABC):
    """activate() loads the artifact; infer() runs one query; deactivate() frees it."""

    @abc.abstractmethod
    def activate(self) -> None: ...

    @abc.abstractmethod
    def deactivate(self) -> None: ...

    @abc.abstractmethod
    def input_metadata(self) -> list[tuple[str, str, tuple]]:
        """[(name, numpy dtype name, shape with str/None for dynamic dims)]"""

    @abc.abstractmethod
    def infer(self, feeds: Mapping[str, Any]) -> dict[str, Any]:
        """Run one query; returns {output name: numpy array}."""

    @abc.abstractmethod
    def prepare(self, feeds: Mapping[str, Any]) -> Callable[[], Any]:
        """Bind ``feeds`` and return a zero-argument callable running one query (the timed call)."""

    def __enter__(self) -> Runner:
        self.activate()
        return self

    def __exit__(self, *exc: object) -> None:
        self.deactivate()


class Backend(abc.ABC):
    name: str

    @abc.abstractmethod
    def versions(self) -> dict[str, str]:
        """Runtime versions that go into cache keys and results."""

    @abc.abstractmethod
    def precision_support(self) -> dict[str, str | None]:
        """{precision: None if supported, else the reason it is not offered}; notes go in ``precision_notes``."""

    def precision_notes(self) -> dict[str, str]:
        return {}

    @abc.abstractmethod
    def build(self, model_path: Path, precision: str, profile: Any, *, force: bool = False) -> Artifact:
        """Build (or reuse from the cache) the artifact for an ONNX model already in ``precision``.

        For INT8 the caller passes the QDQ model; for FP16 the FP16 model.
        """

    @abc.abstractmethod
    def runner(self, artifact_path: Path, settings: RunnerSettings) -> Runner: ...
