"""A backend with no runtime behind it, for the interface and benchmark-child flow tests.

Tests register it per test (``monkeypatch.setitem(BACKENDS, "fake", "_fake_backend:FakeBackend")``; pytest puts
tests/unit on sys.path). Its "artifact" is a JSON file of knobs read by the runner:

* ``fail_at``: the Nth call of the prepared (timed) callable raises RuntimeError (None: never);
* ``splits`` / ``layers``: the runner's ``has_timing_splits`` / ``has_layer_profile`` (layers only with profiling);
* ``queries_per_call``: the runner's ``queries_per_call``.

The runner always implements ``timing_splits`` and ``end_profiling``, so a caller that probed with ``hasattr``
instead of reading the flags would be caught. Every runner made is kept in ``FakeRunner.made`` with its ``log`` of
lifecycle calls.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.backends.base import Artifact, Backend, Runner, RunnerSettings
from workbench.core.errors import Cancelled


def write_knobs(path: Path, **knobs: Any) -> Path:
    path.write_text(json.dumps(knobs))
    return path


class FakeRunner(Runner):
    made: list[FakeRunner] = []

    def __init__(self, artifact_path: Path, settings: RunnerSettings) -> None:
        self.path = Path(artifact_path)
        self.knobs: dict[str, Any] = json.loads(self.path.read_text())
        self.settings = settings
        self.queries_per_call = int(self.knobs.get("queries_per_call", 1))
        self.has_timing_splits = bool(self.knobs.get("splits", False))
        self.has_layer_profile = bool(self.knobs.get("layers", False)) and settings.profiling
        self.calls = 0
        self.log: list[str] = []
        FakeRunner.made.append(self)

    def _activate(self) -> None:
        self.log.append("activate")

    def _deactivate(self) -> None:
        self.log.append("deactivate")

    def _input_metadata(self) -> list[tuple[str, str, tuple]]:
        return [("x", "float32", ("batch", 4))]

    def _infer(self, feeds: Mapping[str, Any]) -> dict[str, Any]:
        return {"y": np.asarray(feeds["x"]) * 2}

    def _prepare(self, feeds: Mapping[str, Any]) -> Callable[[], Any]:
        fail_at = self.knobs.get("fail_at")

        def call() -> None:
            self.calls += 1
            if fail_at is not None and self.calls >= fail_at:
                raise RuntimeError(f"fake runtime failed on call {self.calls}")

        return call

    def timing_splits(self) -> dict[str, Any] | None:
        return {"gpu_compute_ms": [1.0, 3.0, 2.0], "device": "fake"}

    def end_profiling(self) -> str | None:
        out = self.path.with_suffix(".layers.json")
        out.write_text("[]")
        return str(out)


class FakeBackend(Backend):
    """``build`` reports two progress steps, honours a set ``cancel`` and returns the model itself as artifact."""

    name = "fake"

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.builds: list[dict[str, Any]] = []

    def versions(self) -> dict[str, str]:
        return {"fake": "1.0"}

    def precision_support(self) -> dict[str, str | None]:
        return {"fp32": None, "fp16": "not faked", "int8": "not faked", "best": None}

    def build(self, model_path, precision, profile, *, force=False, on_progress=None, cancel=None) -> Artifact:
        self.builds.append({"model": Path(model_path), "precision": precision, "cancel": cancel})
        for done in (1, 2):
            if cancel is not None and cancel.is_set():
                raise Cancelled("fake build cancelled")
            if on_progress is not None:
                on_progress("faking", done, 2)
        path = Path(model_path)
        return Artifact(path, self.name, precision, path, path, cached=False, build_s=0.0)

    def runner(self, artifact_path: Path, settings: RunnerSettings) -> Runner:
        return FakeRunner(artifact_path, settings)
