"""The backend interface: build -> artifact; runner activate / infer / deactivate.

Modelled on Polygraphy's runners (backend/base/runner.py): a runner is a context manager whose
activation is enforced (using it inactive, or activating it twice, raises RunnerStateError), checks
its feeds against the model's input metadata, and exposes a zero-argument ``prepare(feeds)`` call
so the timed loop pays nothing but the inference itself. What a runner can report beyond latencies
is declared by capability flags (``queries_per_call``, ``has_timing_splits``, ``has_layer_profile``),
so callers never probe with ``hasattr``.

A backend's construction options (those that hold for every build: torch's TorchScript input shapes,
TensorRT's calibrator and plan-compatibility flags) are constructor keyword arguments, forwarded by
``get_backend(name, **options)``; what varies per build (progress callback, cancel event) are
arguments of :meth:`Backend.build`. Nothing outside a backend assigns its attributes.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.errors import RunnerStateError

if TYPE_CHECKING:
    import threading

ProgressFn = Callable[[str, int | None, int | None], None]
"""``on_progress(message, done, total)`` during a build: ``message`` is a phase name or a sentence
("parsing ONNX", "Building"); ``done``/``total`` are step counts within that phase, or None when the
phase has no steps. Called from the thread that runs ``build``."""


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
    """One artifact loaded by a runtime, usable between :meth:`activate` and :meth:`deactivate`.

    Use it as ``with backend.runner(path, settings) as r:`` — entering activates, leaving always
    deactivates, also when the body raises. :meth:`input_metadata`, :meth:`infer` and :meth:`prepare`
    on an inactive runner, and :meth:`activate` on an active one, raise RunnerStateError.

    Subclasses implement the hooks ``_activate``, ``_deactivate``, ``_input_metadata``, ``_infer`` and
    ``_prepare``; the public methods add the state checks around them.

    Capability flags (class attributes; a subclass sets them per instance when they depend on settings):

    * ``queries_per_call`` — queries one timed call runs (N concurrent streams -> N; the latencies are
      then per call and only throughput is meaningful).
    * ``has_timing_splits`` — :meth:`timing_splits` returns per-query split lists after the timed loop.
    * ``has_layer_profile`` — :meth:`end_profiling` returns a per-layer profile file (profiling on).
    """

    queries_per_call: int = 1
    has_timing_splits: bool = False
    has_layer_profile: bool = False
    #: Most timed calls whose split records (CUDA event sets) may wait unread; the benchmark child calls
    #: :meth:`collect_timing_splits` at least this often, outside the timed region. None: nothing waits.
    pending_splits_limit: int | None = None
    _active: bool = False  # per instance once activate() succeeds

    @property
    def is_active(self) -> bool:
        return self._active

    def activate(self) -> None:
        """Load the artifact.

        Raises:
            RunnerStateError: already active.
            whatever the runtime's load raises (ModelError, BuildError for a refused plan, ...); what a
            half-done activation holds is freed first.
        """
        if self._active:
            raise RunnerStateError(
                f"{type(self).__name__} is already active", hint="deactivate it first, or use one `with` block"
            )
        try:
            self._activate()
        except BaseException:
            # Free what the half-done activation holds (streams, device memory); the activation error is
            # the one to report, so a second failure while freeing is dropped.
            with contextlib.suppress(Exception):
                self._deactivate()
            raise
        self._active = True

    def deactivate(self) -> None:
        """Free the artifact. A no-op on an inactive runner, so cleanup paths may always call it."""
        if not self._active:
            return
        try:
            self._deactivate()
        finally:
            self._active = False

    def input_metadata(self) -> list[tuple[str, str, tuple]]:
        """[(name, numpy dtype name, shape with str/None for dynamic dims)] of the model's inputs.

        Raises:
            RunnerStateError: inactive.
        """
        self._require_active("input_metadata")
        return self._input_metadata()

    def infer(self, feeds: Mapping[str, Any]) -> dict[str, Any]:
        """Run one query on ``feeds`` ({input name: numpy array}); returns {output name: numpy array}.

        Raises:
            RunnerStateError: inactive. ModelError: missing input or a shape the artifact refuses.
        """
        self._require_active("infer")
        return self._infer(feeds)

    def prepare(self, feeds: Mapping[str, Any]) -> Callable[[], Any]:
        """Bind ``feeds`` and return a zero-argument callable running one query (the timed call).

        The callable is valid until :meth:`deactivate`; it is not checked per call (it is what the
        benchmark times).

        Raises:
            RunnerStateError: inactive. ModelError: missing input or a shape the artifact refuses.
        """
        self._require_active("prepare")
        return self._prepare(feeds)

    def runtime_info(self) -> dict[str, Any]:
        """What the runtime actually uses, once active, when it differs from what was asked (e.g. torch's intra-
        and inter-op thread counts: ``{"threads": 2, "interop_threads": 1}``); {} when there is nothing to add.
        Recorded with the result (``settings.threads_used``). A GPU runner adds ``"math_mode"``: {name: value} of
        what changes FP32 numbers (TF32 for matmul / convolutions, cudnn.benchmark, TensorRT's TF32 flag), recorded
        as ``settings.math_mode``."""
        return {}

    def timing_splits(self) -> dict[str, Any] | None:
        """Per-query splits collected so far ({name: [ms, ...]} plus scalar options), or None when the
        runner has none (``has_timing_splits`` False). Call while active, after the timed loop."""
        return None

    def reset_timing_splits(self) -> None:
        """Forget every split recorded so far, pending ones included. The benchmark child calls it when the
        warm-up ends: as in trtexec, warm-up queries enter no statistic, their H2D / GPU compute / D2H included."""
        return None  # a runner without splits has nothing to forget

    def collect_timing_splits(self) -> None:
        """Read the split records the timed calls left pending (CUDA events, read only after the query's
        synchronize) into the split lists. The benchmark child calls it between batches, outside the timed
        region, so event reads never add to a measured latency; :meth:`timing_splits` calls it too."""
        return None  # nothing pending in a runner without CUDA events

    def end_profiling(self) -> str | None:
        """End per-layer profiling and return the profile JSON's path (ONNX Runtime's Chrome-trace
        shape), or None (``has_layer_profile`` False, or nothing recorded). Call while active."""
        return None

    def __enter__(self) -> Runner:
        self.activate()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc_type is None:
            self.deactivate()
            return
        # The body's error is the one to report: a second failure while freeing after it is dropped.
        with contextlib.suppress(Exception):
            self.deactivate()

    def _require_active(self, call: str) -> None:
        if not self._active:
            raise RunnerStateError(
                f"{type(self).__name__}.{call}() called on an inactive runner",
                hint="use `with backend.runner(path, settings) as r:` (or call activate() first)",
            )

    @abc.abstractmethod
    def _activate(self) -> None: ...

    @abc.abstractmethod
    def _deactivate(self) -> None:
        """Free what :meth:`_activate` acquired; must cope with a half-done activation."""

    @abc.abstractmethod
    def _input_metadata(self) -> list[tuple[str, str, tuple]]: ...

    @abc.abstractmethod
    def _infer(self, feeds: Mapping[str, Any]) -> dict[str, Any]: ...

    @abc.abstractmethod
    def _prepare(self, feeds: Mapping[str, Any]) -> Callable[[], Any]: ...


class Backend(abc.ABC):
    """Builds artifacts from ONNX (or PyTorch) models and makes runners for them.

    Subclasses take their construction options as keyword arguments (see the module doc) and raise
    BackendUnavailable from ``__init__`` when their runtime is not installed.
    """

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
    def build(
        self,
        model_path: Path,
        precision: str,
        profile: Any,
        *,
        force: bool = False,
        on_progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> Artifact:
        """Build (or reuse from the cache) the artifact for a model already in ``precision``.

        For INT8 the caller passes the QDQ model; for FP16 the FP16 model. ``force`` rebuilds even on a
        cache hit. ``on_progress`` (see :data:`ProgressFn`) hears the build's phases where the runtime
        reports them (TensorRT); ``cancel``, once set, stops the build as soon as the backend can
        (TensorRT: the build child is killed) and raises Cancelled. A cache hit neither reports
        progress nor checks ``cancel``.

        Raises:
            BuildError, ModelError, ConfigError, StorageError, Cancelled (per backend: see its doc).
        """

    @abc.abstractmethod
    def runner(self, artifact_path: Path, settings: RunnerSettings) -> Runner:
        """An inactive runner for ``artifact_path`` (activate it with ``with``)."""
