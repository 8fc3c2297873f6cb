"""PyTorch backend (``backend = "torch"``): the eager baseline a user would otherwise pick, optionally compiled.

What it runs: a **TorchScript** file (``torch.jit.save``) or an **ExportedProgram** (``torch.export.save``, .pt2),
never ONNX — PyTorch cannot execute an ONNX graph, and converting one back would measure our converter, not
PyTorch. ``build`` therefore needs the original PyTorch file (a pipeline that exported it to ONNX must pass the
source file here); given an ONNX file it raises ModelError saying so.

Trust: loading either kind can run code stored in the file (TorchScript programs; ``torch.export.load`` falls
back to full unpickling), so ``build`` refuses both unless the backend was made with ``trust_model=True``
(``--trust-model``), before torch reads any of the file (the ModelError of
:func:`workbench.core.models.torch_export.refuse_untrusted`). The recipe records the source's SHA-256, and the
runner refuses a source whose bytes changed since the trusted build (:class:`ModelError`, "rebuild").

Build = load and check the model, then write a small JSON *recipe* (source file and its sha256, kind, precision,
device, compile flag, input specs) into the artifact cache; the runner loads the model from the recipe. Input
specs come from the ExportedProgram's example inputs, or for TorchScript (which records no shapes) from
the ``input_shapes`` construction option (:class:`TorchOptions`) / the profile's ``[build.shapes.<input>]`` opt
shape.

Precision: ``fp32``; ``fp16`` and ``bf16`` by ``torch.autocast`` (weights stay FP32; matmul/conv run in the lower
precision — PyTorch's autocast op lists); INT8 is not offered (the INT8 paths are ONNX Runtime QDQ and TensorRT).

Device: ``cuda`` when ``torch.cuda.is_available()``, else ``cpu`` — the CPU fallback keeps the backend testable
on CI and is always labelled (``runner.device``) so no one mistakes it for a GPU number. On CUDA each query is
timed with CUDA events as well (``timing_splits``: GPU compute ms) and may be captured in a CUDA graph
(``cuda_graph``); ``include_transfers`` (default True) copies inputs host→device and outputs back per query.
The runner always has timing splits (``has_timing_splits``); on CPU their compute list stays empty.
"""

from __future__ import annotations

import json
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.backends.base import Artifact, Backend, ProgressFn, Runner, RunnerSettings
from workbench.core.errors import BackendUnavailable, BuildError, Cancelled, ConfigError, ModelError

if TYPE_CHECKING:
    import threading

PRECISIONS = ("fp32", "fp16", "bf16")


def import_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise BackendUnavailable(
            "PyTorch is not installed here", hint="install torch (see NVIDIA's Jetson wheels on a Jetson)"
        ) from None
    return torch


def pick_device(torch: Any) -> str:
    """``"cuda"`` when a CUDA device is usable, else ``"cpu"`` (labelled as such in results)."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_module(path: Path, kind: str, torch: Any) -> Any:
    """Load a TorchScript or ExportedProgram file as a callable module in eval mode.

    Raises:
        ModelError: any load failure, naming the file.
    """
    try:
        if kind == "torchscript":
            module = torch.jit.load(str(path), map_location="cpu")
        else:
            module = torch.export.load(str(path)).module()
    except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError/pickle errors/...
        raise ModelError(
            f"PyTorch cannot load {path}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        ) from None
    if hasattr(module, "eval"):
        try:
            module.eval()
        except Exception:  # noqa: BLE001 - ExportedProgram modules may refuse train/eval switching
            pass
    return module


def _kind(path: Path, *, trust_model: bool) -> str:
    """``"torchscript"`` or ``"exported-program"`` from the file's bytes.

    Raises:
        ModelError: any other kind; either of those two without ``trust_model`` (names ``--trust-model``).
    """
    from workbench.core.models.sniff import FileKind, sniff

    k = sniff(path)
    if k in (FileKind.TORCHSCRIPT, FileKind.EXPORTED_PROGRAM) and not trust_model:
        from workbench.core.models.torch_export import refuse_untrusted

        raise refuse_untrusted(path, k)
    if k is FileKind.TORCHSCRIPT:
        return "torchscript"
    if k is FileKind.EXPORTED_PROGRAM:
        return "exported-program"
    if k is FileKind.ONNX:
        raise ModelError(
            f"{path} is ONNX; the torch backend runs PyTorch models (TorchScript or ExportedProgram)",
            hint="give the .pt (torch.jit.save) or .pt2 (torch.export.save) file, or use the onnxruntime/tensorrt backend",
        )
    raise ModelError(f"{path} is a {k.describe()}; the torch backend needs TorchScript or an ExportedProgram")


def _exported_inputs(path: Path, torch: Any) -> list[dict[str, Any]]:
    ep = torch.export.load(str(path))
    specs = []
    args = ep.example_inputs[0] if ep.example_inputs else ()
    for i, a in enumerate(args):
        if hasattr(a, "shape"):
            specs.append({"name": f"input_{i}", "dtype": str(a.dtype).replace("torch.", ""), "shape": list(a.shape)})
    return specs


@dataclass(frozen=True)
class TorchOptions:
    """Construction options of :class:`TorchBackend` (``get_backend("torch", **options)``).

    ``input_shapes``: {input name: dims} for a TorchScript file, in its positional order (TorchScript records no
    shapes); None = the profile's ``[build.shapes]`` opt shapes. Ignored for an ExportedProgram. Stored read-only
    with int dims. ``compile``: ``torch.compile`` the module in the runner. ``trust_model``: allow loading the
    file at all (``--trust-model``; see the module doc): without it ``build`` refuses every model.
    """

    input_shapes: Mapping[str, tuple[int, ...]] | None = None
    compile: bool = False
    trust_model: bool = False

    def __post_init__(self) -> None:
        if self.input_shapes is not None:
            frozen = types.MappingProxyType({str(k): tuple(int(d) for d in v) for k, v in self.input_shapes.items()})
            object.__setattr__(self, "input_shapes", frozen)  # the way a frozen dataclass normalises a field


class TorchBackend(Backend):
    """PyTorch (TorchScript / ExportedProgram) on CUDA, or on the CPU as a labelled fallback.

    Keyword arguments: the fields of :class:`TorchOptions`.

    Raises:
        BackendUnavailable: torch is not installed. TypeError: an unknown option.
    """

    name = "torch"

    def __init__(self, **options: Any) -> None:
        self.options = TorchOptions(**options)
        self.torch = import_torch()

    def versions(self) -> dict[str, str]:
        t = self.torch
        out = {"torch": str(t.__version__), "device": pick_device(t)}
        if t.version.cuda:
            out["cuda"] = str(t.version.cuda)
        return out

    def precision_support(self) -> dict[str, str | None]:
        return {
            "fp32": None,
            "fp16": None,
            "bf16": None,
            "int8": "the torch backend is the FP32/FP16/BF16 baseline; INT8 runs on onnxruntime (QDQ) or tensorrt",
            "best": None,
        }

    def precision_notes(self) -> dict[str, str]:
        dev = pick_device(self.torch)
        notes = {"fp16": "torch.autocast float16", "bf16": "torch.autocast bfloat16"}
        if dev == "cpu":
            notes = {k: v + " on CPU (no GPU here): slow, for checking only" for k, v in notes.items()}
        return notes

    def _input_specs(self, path: Path, kind: str, profile: Any) -> list[dict[str, Any]]:
        if kind == "exported-program":
            return _exported_inputs(path, self.torch)
        shapes = dict(self.options.input_shapes or {})
        if not shapes:
            shapes = {name: list(rng.opt) for name, rng in profile.build.shapes.items()}
        if not shapes:
            raise ConfigError(
                f"{path} is TorchScript, which records no input shapes",
                hint="give --input-shape name:1x3x224x224, or [build.shapes.<input>] in the profile",
            )
        return [{"name": n, "dtype": "float32", "shape": [int(d) for d in s]} for n, s in shapes.items()]

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
        """Check that ``model_path`` loads and runs, and write the recipe artifact (see module doc).

        The check is one load and one forward pass: ``on_progress`` hears nothing, and ``cancel`` is checked once,
        before it starts.

        Raises:
            ModelError (not a PyTorch model, TorchScript / ExportedProgram without ``trust_model``: nothing of
            the file is loaded then, load/forward failure), ConfigError (no shapes), BuildError (precision),
            Cancelled (``cancel`` set before the check started).
        """
        from workbench.core.backends.cache import get_or_build
        from workbench.core.fsutil import sha256_file, write_text_atomic

        model_path = Path(model_path)
        if precision not in PRECISIONS:
            raise BuildError(f"the torch backend runs {', '.join(PRECISIONS)}, not {precision}")
        kind = _kind(model_path, trust_model=self.options.trust_model)
        specs = self._input_specs(model_path, kind, profile)
        recipe = {
            "source": str(model_path.resolve()),
            "source_sha256": sha256_file(model_path),
            "kind": kind,
            "precision": precision,
            "compile": bool(self.options.compile),
            "inputs": specs,
        }

        def build_fn(tmp: Path) -> None:
            if cancel is not None and cancel.is_set():
                raise Cancelled("build cancelled before PyTorch loaded the model")
            with TorchRunner.from_recipe(recipe, RunnerSettings()) as runner:
                runner.infer(_zeros(specs))  # a forward pass proves the recipe runs
            write_text_atomic(tmp, json.dumps(recipe, indent=2))

        return get_or_build(
            backend=self.name,
            precision=precision,
            model_path=model_path,
            profile_name=profile.name,
            profile_hash=profile.content_hash(),
            versions=self.versions(),
            filename=f"model.{precision}.torch.json",
            build_fn=build_fn,
            force=force,
            extra_key={"compile": bool(self.options.compile), "inputs": specs},
        )

    def runner(self, artifact_path: Path, settings: RunnerSettings) -> Runner:
        return TorchRunner(artifact_path, settings)


def _zeros(specs: list[dict[str, Any]]) -> dict[str, Any]:
    import numpy as np

    return {s["name"]: np.zeros(s["shape"], dtype=s["dtype"]) for s in specs}


class TorchRunner(Runner):
    """Runs a recipe. ``device`` is "cuda" or "cpu"; ``timing_splits()`` has per-query GPU ms on CUDA."""

    has_timing_splits = True

    def __init__(self, artifact_path: Path | None, settings: RunnerSettings, recipe: dict | None = None) -> None:
        self.artifact_path = Path(artifact_path) if artifact_path else None
        self.settings = settings
        self.recipe = recipe
        self.include_transfers = bool(getattr(settings, "include_transfers", True))
        self.cuda_graph = bool(getattr(settings, "cuda_graph", False))
        self.torch: Any = None
        self.module: Any = None
        self.device = "cpu"
        self.compute_ms: list[float] = []

    @classmethod
    def from_recipe(cls, recipe: dict, settings: RunnerSettings) -> TorchRunner:
        return cls(None, settings, recipe)

    def _activate(self) -> None:
        if self.recipe is None:
            assert self.artifact_path is not None
            try:
                self.recipe = json.loads(self.artifact_path.read_text())
            except (OSError, ValueError) as exc:
                raise ModelError(f"{self.artifact_path}: unreadable torch recipe ({exc})") from None
        r = self.recipe
        torch = import_torch()
        self.torch = torch
        src = Path(r["source"])
        if not src.is_file():
            raise ModelError(f"the PyTorch model {src} named by {self.artifact_path} is gone", hint="rebuild")
        from workbench.core.fsutil import sha256_file

        # The trust given at build time was for these bytes: a file replaced since then is not loaded.
        if r.get("source_sha256") and sha256_file(src) != r["source_sha256"]:
            raise ModelError(
                f"the PyTorch model {src} changed since it was built and checked (SHA-256 differs); not loading it",
                hint="rebuild (--rebuild) if the new file is one you trust (--trust-model)",
            )
        self.device = pick_device(torch)
        module = load_module(src, r["kind"], torch)
        try:
            module = module.to(self.device)
        except Exception:  # noqa: BLE001 - ExportedProgram modules move fine; keep going on odd modules
            pass
        if r.get("compile"):
            module = torch.compile(module)
        self._apply_threads(torch)
        self.module = module
        if self.cuda_graph and self.device != "cuda":
            self.cuda_graph = False  # no CUDA graphs on the CPU fallback (recorded in timing_splits)

    def _apply_threads(self, torch: Any) -> None:
        """``--threads N``: torch.set_num_threads(N) (intra-op), and the profile's inter-op count with
        torch.set_num_interop_threads, which torch accepts only before its first parallel work (a fresh benchmark
        child); 0 keeps torch's defaults. What torch then uses is reported by :meth:`runtime_info`."""
        n = int(getattr(self.settings, "intra_op_threads", 0) or 0)
        if n > 0:
            torch.set_num_threads(n)
        m = int(getattr(self.settings, "inter_op_threads", 0) or 0)
        if m > 0:
            try:
                torch.set_num_interop_threads(m)
            except RuntimeError:
                pass  # parallel work already ran in this process: the count is fixed; runtime_info says which

    def runtime_info(self) -> dict[str, Any]:
        torch = self.torch
        if torch is None:
            return {}
        return {"threads": int(torch.get_num_threads()), "interop_threads": int(torch.get_num_interop_threads())}

    def _deactivate(self) -> None:
        self.module = None
        if self.torch is not None and self.device == "cuda":
            self.torch.cuda.empty_cache()

    def _input_metadata(self) -> list[tuple[str, str, tuple]]:
        return [(s["name"], s["dtype"], tuple(s["shape"])) for s in self.recipe["inputs"]]

    def _autocast(self):
        import contextlib

        torch = self.torch
        p = self.recipe["precision"]
        if p == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device, dtype=torch.float16 if p == "fp16" else torch.bfloat16)

    def _tensors(self, feeds: Mapping[str, Any]) -> list[Any]:
        import numpy as np

        names = [s["name"] for s in self.recipe["inputs"]]
        missing = [n for n in names if n not in feeds]
        if missing:
            raise ModelError(f"no data for input(s) {', '.join(missing)}")
        return [self.torch.from_numpy(np.ascontiguousarray(feeds[n])) for n in names]

    def _prepare(self, feeds: Mapping[str, Any]) -> Callable[[], Any]:
        torch = self.torch
        module = self.module
        host = self._tensors(feeds)
        dev = [t.to(self.device) for t in host]
        autocast = self._autocast
        on_cuda = self.device == "cuda"
        include = self.include_transfers and on_cuda

        if not on_cuda:

            def call():
                with torch.inference_mode(), autocast():
                    return module(*dev)

            return call

        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        times = self.compute_ms
        if self.cuda_graph:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side), torch.inference_mode(), autocast():
                for _ in range(3):  # warm-up on a side stream before capture (PyTorch's CUDA graph notes)
                    module(*dev)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph), torch.inference_mode(), autocast():
                static_out = module(*dev)

            def call():
                if include:
                    for d, h in zip(dev, host, strict=True):
                        d.copy_(h, non_blocking=True)
                start.record()
                graph.replay()
                end.record()
                out = _to_host(static_out) if include else static_out
                torch.cuda.synchronize()
                times.append(start.elapsed_time(end))
                return out

            return call

        def call():
            with torch.inference_mode(), autocast():
                inputs = [h.to("cuda", non_blocking=True) for h in host] if include else dev
                start.record()
                out = module(*inputs)
                end.record()
                out = _to_host(out) if include else out
                torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
            return out

        return call

    def _infer(self, feeds: Mapping[str, Any]) -> dict[str, Any]:
        out = self._prepare(feeds)()
        flat = _flatten(out)
        return {f"output_{i}": t.detach().float().cpu().numpy() for i, t in enumerate(flat)}

    def timing_splits(self) -> dict[str, Any]:
        return {
            "compute_ms": list(self.compute_ms),
            "device": self.device,
            "include_transfers": self.include_transfers and self.device == "cuda",
            "cuda_graph": self.cuda_graph,
        }


def _flatten(out: Any) -> list[Any]:
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _flatten(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _flatten(o)]
    return [out]


def _to_host(out: Any) -> Any:
    if isinstance(out, (list, tuple)):
        return type(out)(_to_host(o) for o in out)
    if isinstance(out, dict):
        return {k: _to_host(v) for k, v in out.items()}
    return out.to("cpu", non_blocking=True) if hasattr(out, "to") else out
