"""Inference backends behind one small interface (base.py). Listed without importing them."""

from __future__ import annotations

from typing import Any

# name -> "module:class"; imported only when chosen, so listing costs nothing.
BACKENDS = {
    "onnxruntime": "workbench.core.backends.ort:OrtBackend",
    "tensorrt": "workbench.core.backends.tensorrt:TensorRTBackend",
    "torch": "workbench.core.backends.torch_backend:TorchBackend",
}


def get_backend(name: str, **options: Any):
    """Instantiate the backend called ``name`` with its construction ``options``.

    Options by backend (keyword arguments of its constructor): ``torch`` — ``input_shapes``
    ({input name: dims}, for TorchScript), ``compile``; ``tensorrt`` — the fields of
    :class:`~workbench.core.backends.tensorrt.TensorRTOptions`; ``onnxruntime`` — none.

    Raises:
        BackendUnavailable: unknown name, or the backend's libraries are not installed here.
        TypeError: an option the backend does not take (a bug in the caller).
    """
    import importlib

    from workbench.core.errors import BackendUnavailable

    target = BACKENDS.get(name)
    if target is None:
        raise BackendUnavailable(
            f"unknown backend {name!r}; known: {', '.join(sorted(BACKENDS))}",
            hint="set [build] backend in the profile to onnxruntime, tensorrt or torch (or use --backend)",
        )
    modname, clsname = target.split(":")
    return getattr(importlib.import_module(modname), clsname)(**options)
