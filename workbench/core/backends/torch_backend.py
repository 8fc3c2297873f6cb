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
split by CUDA events as TensorRT's runner splits it (``timing_splits``: ``h2d_ms``, ``gpu_compute_ms``, ``d2h_ms``,
``latency_ms``, trtexec's names; events kept in a ring and read outside the timed call, warm-up dropped: see
:class:`SplitRing`) and may be captured in a CUDA graph (``cuda_graph``, captured with autocast's cache off);
``include_transfers`` (default True) copies inputs host→device and outputs back per query, from and into pinned
host memory with ``non_blocking`` copies, as TensorRT's runner does. The runner always has timing splits
(``has_timing_splits``); on CPU their lists stay empty. ``runtime_info()["math_mode"]`` records TF32 / cuDNN
settings (:func:`math_mode`).

``compile`` (``torch.compile``) needs an ExportedProgram: on TorchScript ``build`` refuses it (ConfigError).
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
            f"PyTorch cannot load {path}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
            hint="load it with the PyTorch version that saved it, or re-save it with torch.jit.save / "
            "torch.export.save",
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
    raise ModelError(
        f"{path} is a {k.describe()}; the torch backend needs TorchScript or an ExportedProgram",
        hint="save the model with torch.jit.save (.pt) or torch.export.save (.pt2), or use the onnxruntime/tensorrt "
        "backend",
    )


def refuse_compile(path: Path) -> ConfigError:
    """The error for ``compile`` on a TorchScript file: ``torch.compile`` traces Python code (TorchDynamo) and has
    no handling of a ScriptModule — older releases ran it unchanged (pytorch/pytorch#121214), torch 2.13 raises
    RuntimeError ("does not support compiling torch.jit.script ... models") — so the option either measured nothing
    it claims or failed with a traceback. It takes an ExportedProgram's module (or an eager module)."""
    return ConfigError(
        f"{path} is TorchScript: compile (torch.compile) does not compile TorchScript programs",
        hint="give the model as an ExportedProgram (.pt2, torch.export.save) to compile it, or drop compile",
    )


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
            the file is loaded then, load/forward failure), ConfigError (no shapes; ``compile`` on TorchScript,
            see :func:`refuse_compile`), BuildError (precision), Cancelled (``cancel`` set before the check
            started).
        """
        from workbench.core.backends.cache import get_or_build
        from workbench.core.fsutil import sha256_file, write_text_atomic

        model_path = Path(model_path)
        if precision not in PRECISIONS:
            raise BuildError(
                f"the torch backend runs {', '.join(PRECISIONS)}, not {precision}",
                hint="use --precision fp32, fp16 or bf16 with --backend torch; int8 needs the onnxruntime or "
                "tensorrt backend",
            )
        kind = _kind(model_path, trust_model=self.options.trust_model)
        if self.options.compile and kind == "torchscript":
            raise refuse_compile(model_path)
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


#: Event sets (4 CUDA events each) that timed calls may leave unread (``TorchRunner.pending_splits_limit``): the
#: benchmark child reads them at least this often, outside the timed region. 1024 sets = 4096 timing events, created
#: once per runner; the count is ours (the size base.Runner's split interface suggests), not a CUDA limit.
RING_SETS = 1024
#: Per-query split values kept per list (bounded memory on long runs), as the TensorRT runner.
MAX_SPLITS = 1_000_000
SPLIT_KEYS = ("h2d_ms", "gpu_compute_ms", "d2h_ms", "latency_ms")


class SplitRing:
    """A ring of CUDA event sets recorded by the timed call and read only by :meth:`collect`.

    Each set is four ``torch.cuda.Event(enable_timing=True)``: before the H2D copies, after them, after the compute,
    after the D2H copies — trtexec's "H2D Latency", "GPU Compute Time", "D2H Latency", and "Latency" = their sum
    (ms, from ``Event.elapsed_time``). With transfers off only the middle two are recorded: ``h2d_ms`` / ``d2h_ms``
    stay empty and ``latency_ms`` equals ``gpu_compute_ms``. The call synchronizes before it returns, so every
    pending set is complete when :meth:`collect` reads it. When the ring is full (a caller that never collects),
    :meth:`next_set` reads the oldest set itself rather than lose it.
    """

    def __init__(self, cuda: Any, size: int, *, transfers: bool) -> None:
        self.sets = [tuple(cuda.Event(enable_timing=True) for _ in range(4)) for _ in range(size)]
        self.transfers = transfers
        self.first = 0  # index of the oldest pending set
        self.pending = 0
        self.splits: dict[str, list[float]] = {k: [] for k in SPLIT_KEYS}

    def next_set(self) -> tuple[Any, ...]:
        """The set the coming query records into (call :meth:`recorded` once it is synchronized)."""
        if self.pending == len(self.sets):
            self._read(1)
        return self.sets[(self.first + self.pending) % len(self.sets)]

    def recorded(self) -> None:
        self.pending += 1

    def collect(self) -> None:
        """Read every pending set into :attr:`splits` (ms)."""
        self._read(self.pending)

    def reset(self) -> None:
        """Forget the split values and every pending set (warm-up queries count in no statistic)."""
        self.first = (self.first + self.pending) % len(self.sets)
        self.pending = 0
        for values in self.splits.values():
            values.clear()

    def _read(self, count: int) -> None:
        s = self.splits
        for _ in range(count):
            e0, e1, e2, e3 = self.sets[self.first]
            self.first = (self.first + 1) % len(self.sets)
            self.pending -= 1
            if len(s["gpu_compute_ms"]) >= MAX_SPLITS:
                continue  # past the cap the set is released unread
            compute = e1.elapsed_time(e2)
            s["gpu_compute_ms"].append(compute)
            if self.transfers:
                h2d, d2h = e0.elapsed_time(e1), e2.elapsed_time(e3)
                s["h2d_ms"].append(h2d)
                s["d2h_ms"].append(d2h)
                s["latency_ms"].append(h2d + compute + d2h)
            else:
                s["latency_ms"].append(compute)


class TorchRunner(Runner):
    """Runs a recipe. ``device`` is "cuda" or "cpu"; on CUDA, ``timing_splits()`` has per-query H2D / GPU compute /
    D2H / latency ms from CUDA events (see :class:`SplitRing`); on the CPU fallback those lists stay empty."""

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
        self.ring: SplitRing | None = None
        self.pending_splits_limit: int | None = None

    @classmethod
    def from_recipe(cls, recipe: dict, settings: RunnerSettings) -> TorchRunner:
        return cls(None, settings, recipe)

    def _activate(self) -> None:
        if self.recipe is None:
            assert self.artifact_path is not None
            try:
                self.recipe = json.loads(self.artifact_path.read_text())
            except (OSError, ValueError) as exc:
                raise ModelError(
                    f"{self.artifact_path}: unreadable torch recipe ({exc})",
                    hint="rebuild the artifact: pass --rebuild",
                ) from None
        r = self.recipe
        torch = import_torch()
        self.torch = torch
        src = Path(r["source"])
        if not src.is_file():
            raise ModelError(f"the PyTorch model {src} named by {self.artifact_path} is gone", hint="rebuild")
        if r.get("compile") and r["kind"] == "torchscript":
            raise refuse_compile(src)  # a recipe written before build refused it
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
        except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError (CUDA OOM, bad device) or others
            if self.device != "cpu":
                # A model left on the CPU would run there and be timed as a GPU result, or fail later unclearly.
                raise ModelError(
                    f"PyTorch could not move {src} to {self.device}: {type(exc).__name__}: "
                    f"{str(exc).splitlines()[0][:200] if str(exc) else ''}",
                    hint="check free GPU memory (nvidia-smi) and that the model's tensors can live on CUDA",
                ) from None
            # already on the CPU: an odd module that refuses .to("cpu") runs where it is
        if r.get("compile"):
            module = torch.compile(module)
        self._apply_threads(torch)
        self.module = module
        if self.device == "cuda":
            self.pending_splits_limit = RING_SETS
        elif self.cuda_graph:
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
        """Thread counts torch uses (``threads``, ``interop_threads``) and ``math_mode``: what changes FP32 numbers
        on CUDA, keyed by torch's own names (see :func:`math_mode`). Recorded on the CPU fallback too, where these
        flags do not apply, so two results can be told apart by them. {} while inactive."""
        torch = self.torch
        if torch is None:
            return {}
        return {
            "threads": int(torch.get_num_threads()),
            "interop_threads": int(torch.get_num_interop_threads()),
            "math_mode": math_mode(torch),
        }

    def _deactivate(self) -> None:
        self.module = None
        self.ring = None
        if self.torch is not None and self.device == "cuda":
            self.torch.cuda.empty_cache()

    def _input_metadata(self) -> list[tuple[str, str, tuple]]:
        return [(s["name"], s["dtype"], tuple(s["shape"])) for s in self.recipe["inputs"]]

    def _autocast(self, *, cache: bool = True):
        """The precision's ``torch.autocast`` context (a null context for fp32). ``cache=False`` turns autocast's
        weight-cast cache off, which CUDA-graph capture and the warm-up before it need (PyTorch's CUDA semantics
        notes, CUDA graphs with autocast: ``cache_enabled=False``)."""
        import contextlib

        torch = self.torch
        p = self.recipe["precision"]
        if p == "fp32":
            return contextlib.nullcontext()
        dtype = torch.float16 if p == "fp16" else torch.bfloat16
        if cache:
            return torch.autocast(device_type=self.device, dtype=dtype)
        return torch.autocast(device_type=self.device, dtype=dtype, cache_enabled=False)

    def _tensors(self, feeds: Mapping[str, Any]) -> list[Any]:
        import numpy as np

        names = [s["name"] for s in self.recipe["inputs"]]
        missing = [n for n in names if n not in feeds]
        if missing:
            raise ModelError(
                f"no data for input(s) {', '.join(missing)}",
                hint="give every model input its data (.npz keys or --input-shape names as `workbench inspect MODEL` "
                "lists them)",
            )
        return [self.torch.from_numpy(np.ascontiguousarray(feeds[n])) for n in names]

    def _split_ring(self) -> SplitRing:
        if self.ring is None:
            self.ring = SplitRing(self.torch.cuda, RING_SETS, transfers=self.include_transfers)
        return self.ring

    def _prepare(
        self, feeds: Mapping[str, Any], *, timed: bool = True, include: bool | None = None
    ) -> Callable[[], Any]:
        """The zero-argument query (see :meth:`Runner.prepare`). ``timed=False``: no CUDA events (``infer``);
        ``include`` overrides ``include_transfers`` (``infer`` needs the outputs on the host).

        On CUDA the inputs are copied once into pinned host tensors and device tensors; a query is [H2D copies of
        the pinned inputs] compute [D2H copies into pinned host outputs] (``non_blocking``, as TensorRT's runner
        copies from pinned memory), then a synchronize. The output buffers are sized by one untimed forward pass
        (or by the CUDA-graph capture) here, before any timing.
        """
        torch = self.torch
        module = self.module
        autocast = self._autocast
        if self.device != "cuda":
            dev = self._tensors(feeds)

            def call():
                with torch.inference_mode(), autocast():
                    return module(*dev)

            return call

        include = self.include_transfers if include is None else include
        host = []
        for t in self._tensors(feeds):
            pinned = torch.empty_like(t, device="cpu", pin_memory=True)
            pinned.copy_(t)
            host.append(pinned)
        dev = []
        for h in host:
            d = torch.empty_like(h, device="cuda")
            d.copy_(h)
            dev.append(d)
        ring = self._split_ring() if timed else None

        if self.cuda_graph:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side), torch.inference_mode(), autocast(cache=False):
                for _ in range(3):  # warm-up on a side stream before capture (PyTorch's CUDA graph notes)
                    module(*dev)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph), torch.inference_mode(), autocast(cache=False):
                out = module(*dev)

            def compute():
                graph.replay()
                return out

        else:
            with torch.inference_mode(), autocast():
                out = module(*dev)  # the output shapes, for the pinned host buffers

            def compute():
                with torch.inference_mode(), autocast():
                    return module(*dev)

        torch.cuda.synchronize()
        host_out = _map_tensors(out, lambda t: torch.empty_like(t, device="cpu", pin_memory=True))
        host_leaves = _tensor_leaves(host_out)

        def call():
            ev = ring.next_set() if ring is not None else None
            if include:
                if ev is not None:
                    ev[0].record()
                for d, h in zip(dev, host, strict=True):
                    d.copy_(h, non_blocking=True)
            if ev is not None:
                ev[1].record()
            result = compute()
            if ev is not None:
                ev[2].record()
            if include:
                for h, d in zip(host_leaves, _tensor_leaves(result), strict=True):
                    h.copy_(d, non_blocking=True)
                if ev is not None:
                    ev[3].record()
            torch.cuda.synchronize()
            if ring is not None:
                ring.recorded()  # read later, outside the timed region (collect_timing_splits)
            return host_out if include else result

        return call

    def _infer(self, feeds: Mapping[str, Any]) -> dict[str, Any]:
        out = self._prepare(feeds, timed=False, include=True)()
        flat = _flatten(out)
        return {f"output_{i}": t.detach().float().cpu().numpy().copy() for i, t in enumerate(flat)}

    def reset_timing_splits(self) -> None:
        if self.ring is not None:
            self.ring.reset()

    def collect_timing_splits(self) -> None:
        if self.ring is not None:
            self.ring.collect()

    def timing_splits(self) -> dict[str, Any]:
        """{``h2d_ms``, ``gpu_compute_ms``, ``d2h_ms``, ``latency_ms``: [ms per timed query]} (empty on the CPU
        fallback, and ``h2d_ms`` / ``d2h_ms`` with transfers off) and the options in force."""
        self.collect_timing_splits()
        splits = self.ring.splits if self.ring is not None else {}
        on_cuda = self.device == "cuda"
        return {
            **{k: list(splits.get(k, ())) for k in SPLIT_KEYS},
            "device": self.device,
            "include_transfers": self.include_transfers and on_cuda,
            "cuda_graph": self.cuda_graph,
        }


def math_mode(torch: Any) -> dict[str, Any]:
    """What changes FP32 results on CUDA, keyed by the names torch gives them: TF32 in matmuls
    (``torch.backends.cuda.matmul.allow_tf32``) and in cuDNN convolutions (``torch.backends.cudnn.allow_tf32``),
    cuDNN's autotuner (``torch.backends.cudnn.benchmark``, which may pick another algorithm per run) and
    ``torch.get_float32_matmul_precision()`` ("highest" / "high" / "medium"). A flag this torch lacks is left out."""
    out: dict[str, Any] = {}
    flags = (
        ("torch.backends.cuda.matmul.allow_tf32", lambda: torch.backends.cuda.matmul.allow_tf32),
        ("torch.backends.cudnn.allow_tf32", lambda: torch.backends.cudnn.allow_tf32),
        ("torch.backends.cudnn.benchmark", lambda: torch.backends.cudnn.benchmark),
        ("torch.get_float32_matmul_precision()", lambda: torch.get_float32_matmul_precision()),
    )
    for name, read in flags:
        try:
            value = read()
        except (AttributeError, RuntimeError):
            continue
        out[name] = value if isinstance(value, str) else bool(value)
    return out


def _flatten(out: Any) -> list[Any]:
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _flatten(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _flatten(o)]
    return [out]


def _tensor_leaves(out: Any) -> list[Any]:
    """The tensors of a (nested list / tuple / dict) model output, in :func:`_flatten` order."""
    return [t for t in _flatten(out) if hasattr(t, "copy_")]


def _map_tensors(out: Any, fn: Callable[[Any], Any]) -> Any:
    """``out`` with ``fn`` applied to each tensor leaf (other leaves kept)."""
    if isinstance(out, (list, tuple)):
        return type(out)(_map_tensors(o, fn) for o in out)
    if isinstance(out, dict):
        return {k: _map_tensors(v, fn) for k, v in out.items()}
    return fn(out) if hasattr(out, "copy_") else out


class _Output:
    def __init__(self, name: str) -> None:
        self.name = name


class TorchSession:
    """An active :class:`TorchRunner` shaped like the part of ``onnxruntime.InferenceSession`` the accuracy check
    uses (``get_outputs()`` names, ``run(names, feed)`` -> arrays), so FP32 and FP16/BF16 *PyTorch* runs are
    compared where onnxruntime cannot load the file (core/accuracy.py ``compare_models(sessions=...)``).

    ``input_names``: the dataset's input names in the model's positional order (the ONNX export's names); the feed
    is passed to the module by position, so those names need not match the recipe's. Outputs are ``output_<i>``
    (the module's outputs flattened, as :meth:`TorchRunner.infer` returns them), float32 on the host.
    """

    def __init__(self, runner: TorchRunner, input_names: list[str]) -> None:
        self.runner = runner
        self.input_names = list(input_names)
        self.recipe_names = [s["name"] for s in runner.recipe["inputs"]]
        self._names: list[str] | None = None

    def _map(self, feed: Mapping[str, Any]) -> dict[str, Any]:
        if len(self.input_names) != len(self.recipe_names):
            raise ModelError(
                f"the dataset feeds {len(self.input_names)} input(s) but the PyTorch model takes "
                f"{len(self.recipe_names)} ({', '.join(self.recipe_names)})",
                hint="compare against the ONNX export of this same PyTorch model (`workbench export MODEL`), so its "
                "inputs are the module's arguments",
            )
        return {r: feed[n] for r, n in zip(self.recipe_names, self.input_names, strict=True)}

    def get_outputs(self) -> list[_Output]:
        if self._names is None:
            self._names = list(self.runner.infer(_zeros(self.runner.recipe["inputs"])))
        return [_Output(n) for n in self._names]

    def run(self, names: list[str], feed: Mapping[str, Any]) -> list[Any]:
        out = self.runner.infer(self._map(feed))
        missing = [n for n in names if n not in out]
        if missing:
            raise ModelError(
                f"the PyTorch model gave {len(out)} output(s); {', '.join(missing)} missing",
                hint="the module's forward() must return the same outputs on every call (no data-dependent branches) "
                "to be compared",
            )
        return [out[n] for n in names]
