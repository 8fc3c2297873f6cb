"""Inference backends behind one small interface (base.py). Listed without importing them."""

from __future__ import annotations

# name -> "module:class"; imported only when chosen, so listing costs nothing.
BACKENDS = {
    "onnxruntime": "workbench.core.backends.ort:OrtBackend",
}


def get_backend(name: str):
    """Instantiate the backend called ``name``.

    Raises:
        BackendUnavailable: unknown name, or the backend's libraries are not installed here.
    """
    import importlib

    from workbench.core.errors import BackendUnavailable

    target = BACKENDS.get(name)
    if target is None:
        if name == "tensorrt":
            raise BackendUnavailable(
                "the TensorRT backend is not available in this build of the workbench",
                hint="use a CPU profile (e.g. --profile cpu-x86_64) to run on ONNX Runtime",
            )
        raise BackendUnavailable(f"unknown backend {name!r}; known: {', '.join(sorted(BACKENDS))}")
    modname, clsname = target.split(":")
    return getattr(importlib.import_module(modname), clsname)()
