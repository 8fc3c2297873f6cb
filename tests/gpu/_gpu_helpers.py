"""Helpers of the GPU tests (no gate here: the fixtures in conftest.py gate)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def gpu_profile(backend: str, shapes: dict | None = None) -> Any:
    """A device profile for a discrete GPU: TensorRT with ``shapes`` ({input: {min, opt, max}}), or ONNX Runtime
    (the torch backend reads only its name and shapes)."""
    from workbench.core.profiles.schema import Profile

    return Profile.model_validate(
        {
            "name": f"gpu-{backend}",
            "source_path": Path(f"/p/gpu-{backend}.toml"),
            "device": {"name": "GPU", "kind": "gpu", "arch": "x86_64"},
            "build": {
                "backend": "tensorrt" if backend == "tensorrt" else "onnxruntime",
                "shapes": shapes or {},
                "workspace_mib": 1024,
            },
        }
    )


def cosine(a: Any, b: Any) -> float:
    """Cosine similarity of two arrays, flattened, in float64."""
    import numpy as np

    x, y = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))


def timed_splits(runner: Any, feeds: dict, n: int) -> dict:
    """What the benchmark child does, in short: one untimed query, :meth:`reset_timing_splits` (warm-up counts
    in no statistic), ``n`` timed calls, collecting pending CUDA events at the runner's limit outside the calls,
    then :meth:`timing_splits`."""
    runner.infer(feeds)
    call = runner.prepare(feeds)
    call()  # a warm-up call through the prepared path too
    runner.reset_timing_splits()
    limit = runner.pending_splits_limit or n
    for i in range(n):
        call()
        if (i + 1) % limit == 0:
            runner.collect_timing_splits()
    runner.collect_timing_splits()
    return runner.timing_splits()
