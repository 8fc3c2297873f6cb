"""Export PyTorch model files (TorchScript, ExportedProgram, full pickles, state dict + factory) to ONNX.

Trust: loading a TorchScript archive, an ExportedProgram or a full pickle can run code stored in the file
(:func:`refuse_untrusted` says how), so those three are refused unless the caller passes ``trust_model``
(``--trust-model``); the refusal reads bytes only and never imports torch. A state dict is read with
``torch.load(weights_only=True)`` and its network comes from the user's own ``--factory`` code.

Exporters (torch 2.13, checked here on CPU):

- TorchScript and ``nn.Module`` objects: the TorchScript-based exporter, ``torch.onnx.export(..., dynamo=False)``.
  It needs example inputs, so the caller gives shapes (``--input-shape name:1x3x224x224``).
- ExportedProgram (``.pt2``): ``torch.onnx.export(ep, ..., dynamo=True, external_data=False)`` (needs
  ``onnxscript``). Without an asked opset (``opset=None``, the default) the exporter writes its own opset (18 in
  torch 2.13) and nothing is converted; the result says which (``opset_asked`` None). An asked opset is passed
  on; the dynamo exporter was seen to emit opset 18 when 17 was asked (it has no lower implementations and
  converts down, which can fail), so the produced opset is checked and a mismatch is a :class:`ModelError`.
  ``external_data=False`` keeps one self-contained file. The TorchScript exporter's default is opset 17.

Every export is verified: ONNX Runtime and torch run the same seeded input, and each output must agree within
``rtol=1e-3``, ``atol=1e-4 * (1 + max|torch|)``; max-abs and cosine are stored in a JSON sidecar. With
``dynamic_batch`` the leading axis of every input is exported as the symbol ``batch`` and the export is run
again at batch 2 (two different samples): an input whose batch axis came out fixed, or a model that fails or
returns the wrong leading size at batch 2, is a :class:`ModelError` naming the input ("fake dynamic": e.g. a
``view(1, -1)`` traced into the graph, or an ExportedProgram saved without ``dynamic_shapes``). Exports land
in ``paths.cache_dir()/"exports"/<key>.onnx`` where ``key`` is the SHA-256 of the source file's hash and every
export setting, written atomically (temp folder in the same directory + ``os.replace``), so an interrupted export
never leaves a partial model and a repeat reuses the file.

The exporters print progress, IR dumps ("Torch IR graph at exception", written by C++ straight to file descriptor
1) and tracebacks through their loggers. During an export all of it — file descriptor 1, Python's stdout and stderr,
and the torch / onnxscript loggers — goes to one log file (:func:`library_output`), so ``--json`` stays one document
and nothing is drawn over a TUI (Textual draws on descriptor 2, which is left alone). A failed export keeps the log
(``<cache>/exports/<key>.log``) and names it in the error's hint; a successful one drops it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import io
import json
import os
import re
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workbench.core.errors import BackendUnavailable, ModelError, UsageError
from workbench.core.models.sniff import FileKind

LEGACY_DEFAULT_OPSET = 17  # the TorchScript exporter's opset when none is asked
EXPORT_FORMAT_VERSION = 1  # bump to invalidate cached exports when this module's output changes
TORCH_HINT = "install the PyTorch extra: pip install -e '.[torch]'"


@dataclass(frozen=True)
class ExportResult:
    """Outcome of one export. ``max_abs``/``cosine``: worst over outputs, ONNX Runtime vs torch, float32."""

    path: Path
    cached: bool
    source_kind: str
    exporter: str
    opset: int  # the opset the file has
    input_shapes: dict[str, list[int]]
    max_abs: float
    cosine: float
    seconds: float
    dynamic_batch: bool = False
    batch2_max_abs: float | None = None  # batch-2 check (dynamic_batch only): ORT vs torch at batch 2
    batch2_cosine: float | None = None
    opset_asked: int | None = None  # None: the exporter chose ``opset`` (dynamo's default; no --opset given)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


# --------------------------------------------------------------------------------------------- checks without torch
TRUST_HINT = (
    "if you trust where the file came from, pass --trust-model (in the terminal UI: workbench tui --trust-model "
    "MODEL); otherwise ask for the model as ONNX, or for its state_dict "
    "(torch.save(model.state_dict())) and give --factory module:function from code you trust"
)


def refuse_untrusted(path: Path, kind: FileKind) -> ModelError:
    """The error for a model file that can run code (``kind.needs_trust``) loaded without ``--trust-model``:
    what the file is, what loading it could run, and what to do. Reads the file's bytes only (no torch).

    Raises nothing; returns the :class:`ModelError` to raise.
    """
    if kind is FileKind.TORCH_PICKLE:
        return refuse_full_pickle(path)
    if kind is FileKind.TORCHSCRIPT:
        what = (
            "torch.jit.load compiles and runs the TorchScript program stored in it (its __setstate__ methods while "
            "loading, its forward when called; TorchScript can call any operator torch has registered) and "
            "unpickles its data"
        )
    else:
        # torch 2.13: torch/_export/serde/serialize.py (deserialize_torch_artifact retries with
        # weights_only=False) and torch/export/pt2_archive/_package.py (torch.load(weights_only=False),
        # pickle.loads of constants); torch's own docs for torch.export.load warn it uses pickle.
        what = (
            "torch.export.load unpickles the weights, constants and example inputs stored in it and falls back to "
            "a full unpickle (torch.load(weights_only=False), or pickle.loads for some constants), which runs "
            "whatever the pickle names"
        )
    return ModelError(
        f"{path} is a {kind.describe()}; loading it can run code stored in the file: {what}. "
        "Refusing to load it without --trust-model",
        hint=TRUST_HINT,
    )


def refuse_full_pickle(path: Path) -> ModelError:
    """The error for a full pickle without ``--trust-model``, naming what the pickle would import."""
    import zipfile

    from workbench.core.models.pickle_scan import scan_pickle
    from workbench.core.models.sniff import scan_torch_zip

    names: tuple[str, ...] = ()
    protocol = 0
    problem = ""
    raw = False
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                scan = scan_torch_zip(zf)  # the data.pkl torch would read, not the first one listed
                if scan is not None:
                    names, protocol, problem = scan.disallowed, scan.protocol, scan.problem
        else:
            raw = True
            with open(path, "rb") as fh:
                # torch's legacy format is five pickles in a row (magic, protocol, sys info, object, storage keys).
                names = scan_pickle(fh.read(1 << 20), max_pickles=5).disallowed
    except (OSError, zipfile.BadZipFile, KeyError, RuntimeError, EOFError):
        pass
    what = f" (it imports {', '.join(names[:4])}{' …' if len(names) > 4 else ''})" if names else ""
    if raw:
        desc = "a raw Python pickle (torch's legacy format or a plain pickle)"
    elif problem and not names:
        desc = f"a Python pickle whose opcodes the workbench cannot follow to vouch for it ({problem})"
    elif not names and protocol > 3:
        desc = (
            f"a pickle of protocol {protocol}, which torch.load(weights_only=True) cannot read (it stops at "
            "protocol 4's FRAME opcode), so only a full load could open it"
        )
    else:
        desc = "a full Python pickle"
    return ModelError(
        f"{path} is {desc}{what}; loading it can run code stored in the file. "
        "Refusing to load it without --trust-model",
        hint=TRUST_HINT,
    )


def _import_torch(path: Path, kind: FileKind) -> Any:
    try:
        import torch
    except ImportError:
        raise BackendUnavailable(
            f"{path} is a {kind.describe()}; exporting it to ONNX needs PyTorch, which is not installed here",
            hint=TORCH_HINT,
        ) from None
    return torch


def _need_shapes(path: Path, kind: FileKind) -> UsageError:
    return UsageError(
        f"{path} is a {kind.describe()}; exporting it to ONNX needs example input shapes (--input-shape)",
        hint="give one per input in the model's argument order: --input-shape input:1x3x224x224 "
        "(repeatable, or a comma list)",
    )


# --------------------------------------------------------------------------------------------- helpers
def _cache_key(src: Path, kind: FileKind, **settings: Any) -> str:
    from workbench.core.fsutil import sha256_file

    doc = {"src": sha256_file(src), "kind": kind.value, "v": EXPORT_FORMAT_VERSION, **settings}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def _example_inputs(torch: Any, shapes: dict[str, tuple[int, ...]]) -> tuple[Any, ...]:
    gen = torch.Generator().manual_seed(0)
    return tuple(torch.randn(*s, generator=gen, dtype=torch.float32) for s in shapes.values())


def _factory_parts(spec: str) -> tuple[str, str]:
    mod_name, sep, func_name = spec.partition(":")
    if not sep or not mod_name or not func_name:
        raise UsageError(
            f"--factory {spec!r}: expected module:function, e.g. mypkg.nets:build",
            hint="write it as module:function, e.g. --factory mypkg.nets:build",
        )
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`: modules next to where the user runs us
    return mod_name, func_name


def _factory_source_sha256(spec: str) -> str | None:
    """SHA-256 of the file that defines the ``--factory`` module (part of the export cache key, so editing the
    factory exports again); None when it has no source file. Finding it imports the module's parent packages,
    as the export itself would; the module's own code does not run. Edits to other modules it imports are not
    seen: delete ``~/.cache/edge-workbench/exports`` after changing those."""
    from workbench.core.fsutil import sha256_file

    mod_name, _ = _factory_parts(spec)
    try:
        found = importlib.util.find_spec(mod_name)
    except (ImportError, ValueError) as exc:
        raise UsageError(
            f"--factory {spec!r}: cannot import it: {exc}",
            hint="make the module importable from here: run from the folder above the package, or add it to PYTHONPATH",
        ) from None
    if found is None:
        raise UsageError(
            f"--factory {spec!r}: cannot import it: no module named {mod_name!r}",
            hint="make the module importable from here: run from the folder above the package, or add it to PYTHONPATH",
        )
    origin = found.origin
    if not origin or not Path(origin).is_file():
        return None
    return sha256_file(origin)


def _call_factory(spec: str) -> Any:
    mod_name, func_name = _factory_parts(spec)
    try:
        func = getattr(importlib.import_module(mod_name), func_name)
    except (ImportError, AttributeError) as exc:
        raise UsageError(
            f"--factory {spec!r}: cannot import it: {exc}",
            hint="check the function name after the ':' and that the module imports cleanly (python -c 'import "
            "MODULE')",
        ) from None
    return func()


def _flatten(out: Any) -> list[Any]:
    if isinstance(out, (list, tuple)):
        return [x for o in out for x in _flatten(o)]
    if isinstance(out, dict):
        return [x for v in out.values() for x in _flatten(v)]
    return [out]


def _ort_session(onnx_path: Path, *, quiet: bool = False) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 4 if quiet else 3  # quiet: failures are expected and reported by us
    return ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])


def _compare(
    path: Path, onnx_path: Path, ref: list[Any], args: tuple[Any, ...], *, what: str = ""
) -> tuple[float, float]:
    """Run the exported model in ONNX Runtime and compare with torch's outputs; return (max_abs, min cosine).

    ``what`` qualifies messages (e.g. " at batch 2").
    """
    import numpy as np

    sess = _ort_session(onnx_path)
    names = [i.name for i in sess.get_inputs()]
    feeds = {n: a.detach().cpu().numpy() for n, a in zip(names, args, strict=False)}
    got = sess.run(None, feeds)
    ref_np = [r.detach().cpu().numpy() for r in ref if hasattr(r, "detach")]
    if len(got) != len(ref_np):
        raise ModelError(
            f"export of {path} has {len(got)} outputs but torch returns {len(ref_np)}{what}",
            hint="the model returns a nested or non-tensor output the exporter flattens differently: return a tuple "
            "of tensors from forward()",
        )
    worst_abs, worst_cos = 0.0, 1.0
    for k, (a, b) in enumerate(zip(got, ref_np, strict=True)):
        a64, b64 = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
        if a64.shape != b64.shape:
            raise ModelError(
                f"export of {path}: output {k} has {a64.size} values in ONNX, {b64.size} in torch{what}",
                hint="a data-dependent or hard-coded shape changed in the export: try another --opset, or export an "
                "ExportedProgram (torch.export)",
            )
        diff = float(np.max(np.abs(a64 - b64))) if a64.size else 0.0
        na, nb = float(np.linalg.norm(a64)), float(np.linalg.norm(b64))
        cos = float(a64 @ b64 / (na * nb)) if na > 0 and nb > 0 else (1.0 if na == nb else 0.0)
        scale = float(np.max(np.abs(b64))) if b64.size else 0.0
        if not np.isfinite(diff) or diff > 1e-4 * (1.0 + scale) + 1e-3 * scale:
            raise ModelError(
                f"export of {path} does not match torch{what}: output {k} max-abs difference {diff:.3g} "
                f"(cosine {cos:.6f}, largest |value| {scale:.3g})",
                hint="the exporter mistranslated an operator; try another --opset or export an ExportedProgram",
            )
        worst_abs, worst_cos = max(worst_abs, diff), min(worst_cos, cos)
    return worst_abs, worst_cos


def _check_batch2(
    torch: Any, p: Path, onnx_path: Path, module: Any, exporter: str, args: tuple[Any, ...]
) -> tuple[float, float]:
    """The dynamic-batch check: every input's axis 0 is symbolic, and batch 2 runs and matches torch.

    Returns (max_abs, cosine) at batch 2. Raises ModelError naming the offending input.
    """
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    init = {t.name for t in graph.initializer}
    inputs = [vi for vi in graph.input if vi.name not in init]
    for vi in inputs:
        dims = vi.type.tensor_type.shape.dim
        if not dims:
            raise ModelError(
                f"export of {p}: input {vi.name!r} is a scalar; it has no batch axis to make dynamic",
                hint="export without --dynamic-batch, or give the input a batch dimension",
            )
        if dims[0].HasField("dim_value"):
            raise ModelError(
                f"export of {p} is not dynamic: input {vi.name!r} has a fixed batch of {dims[0].dim_value} "
                "although --dynamic-batch was asked",
                hint="an ExportedProgram keeps the shapes it was exported with: export it with "
                "torch.export.export(..., dynamic_shapes={...: {0: torch.export.Dim('batch')}}) and save again",
            )
    gen = torch.Generator().manual_seed(1)
    args2 = tuple(torch.randn(2, *a.shape[1:], generator=gen, dtype=a.dtype) if a.dim() else a for a in args)
    first = inputs[0].name if inputs else "input"
    sess = _ort_session(onnx_path, quiet=True)
    feeds = {vi.name: a.numpy() for vi, a in zip(inputs, args2, strict=False)}
    try:
        got = sess.run(None, feeds)
    except Exception as exc:  # noqa: BLE001 - ORT raises its own Fail/RuntimeException types
        first_line = (str(exc).strip().splitlines() or [""])[0][:300]
        raise ModelError(
            f"export of {p} claims a dynamic batch on input {first!r} but fails at batch 2: {first_line}",
            hint="the model hard-codes its batch size (e.g. x.view(1, -1) or a fixed reshape); use "
            "x.flatten(1) / x.view(x.shape[0], -1), or export without --dynamic-batch",
        ) from None
    for k, out in enumerate(got):
        if getattr(out, "ndim", 0) == 0 or out.shape[0] != 2:
            shape = "x".join(map(str, getattr(out, "shape", ()))) or "scalar"
            raise ModelError(
                f"export of {p} claims a dynamic batch on input {first!r} but at batch 2 output {k} has shape "
                f"{shape} (its leading axis should be 2): the batch is fixed inside the graph",
                hint="the model folds the batch into a fixed shape; fix the reshape, or export without --dynamic-batch",
            )
    with torch.no_grad():
        ref2 = _flatten(module.module()(*args2) if exporter == "dynamo" else module(*args2))
    return _compare(p, onnx_path, ref2, args2, what=" at batch 2")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --------------------------------------------------------------------------------------------- library output
_LIBRARY_LOGGERS = ("torch", "onnxscript", "onnx_ir", "onnx", "onnxruntime")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@contextlib.contextmanager
def library_output(log_path: Path) -> Iterator[None]:
    """Send what the exporters print to ``log_path`` while the block runs: file descriptor 1 (C++ writes such as
    the TorchScript exporter's "Torch IR graph at exception"), Python's ``sys.stdout``/``sys.stderr`` and the
    handlers of the torch / onnxscript / onnx loggers. Descriptor 2 is left alone (a TUI draws there)."""
    import logging

    log = open(log_path, "a+b")  # noqa: SIM115 - closed in finally
    text = io.TextIOWrapper(log, encoding="utf-8", errors="replace", write_through=True)
    handler = logging.StreamHandler(text)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    swapped: list[tuple[Any, list[Any], bool]] = []
    for name in list(logging.root.manager.loggerDict):
        if name.split(".")[0] in _LIBRARY_LOGGERS:
            lg = logging.getLogger(name)
            if lg.handlers:
                swapped.append((lg, lg.handlers[:], lg.propagate))
                lg.handlers = [handler]
                lg.propagate = False
    for stream in (sys.stdout, sys.__stdout__):
        with contextlib.suppress(Exception):
            if stream is not None:
                stream.flush()
    saved_fd = None
    with contextlib.suppress(OSError, ValueError):
        saved_fd = os.dup(1)
        os.dup2(log.fileno(), 1)
    try:
        with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
            yield
    finally:
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL(None).fflush(None)  # C stdio buffers still holding library output
        if saved_fd is not None:
            os.dup2(saved_fd, 1)
            os.close(saved_fd)
        for lg, handlers, propagate in swapped:
            lg.handlers = handlers
            lg.propagate = propagate
        text.detach()
        log.close()


def opset_origin(exporter: str, opset_asked: int | None) -> str:
    """How the export's opset was chosen, for a summary: "" (asked), " (the exporter's own)" (dynamo, none asked),
    " (default)" (TorchScript exporter, none asked: 17)."""
    if opset_asked is not None:
        return ""
    return " (the exporter's own)" if exporter == "dynamo" else " (default)"


def _keep_log(log_path: Path, keep: Path) -> Path | None:
    """Move a failed export's log next to the cached exports; None when it is empty or cannot be kept."""
    try:
        if not log_path.is_file() or log_path.stat().st_size == 0:
            return None
        os.replace(log_path, keep)
        return keep
    except OSError:
        return None


def exporter_reason(exc: BaseException) -> str:
    """The line of an exporter exception that says what failed, without colour codes or step banners: the
    dynamo exporter's ConversionError opens with "Failed to convert … This is step 3/3 … Next steps:"; the cause
    (the operator it could not translate) is in the chained exception or a later line."""
    texts = [str(exc)]
    cause = exc.__cause__ or exc.__context__
    while cause is not None and len(texts) < 4:
        texts.append(f"{type(cause).__name__}: {cause}")
        cause = cause.__cause__ or cause.__context__
    lines = [_ANSI.sub("", ln).strip() for t in texts for ln in t.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith(("Traceback", "File ", "^"))]
    boring = ("This is step", "Next steps", "Failed to convert the exported program", "Please", "- ", "##", "```")
    useful = [ln for ln in lines if not any(b in ln[:60] for b in boring)]
    pick = next((ln for ln in useful if "unsupported" in ln.lower() or "no decomposition" in ln.lower()), None)
    out = pick or (useful[0] if useful else (lines[0] if lines else type(exc).__name__))
    return out[:300]


# --------------------------------------------------------------------------------------------- main entry
def export_to_onnx(
    path: str | os.PathLike[str],
    kind: FileKind,
    *,
    trust_model: bool = False,
    opset: int | None = None,
    work_dir: str | os.PathLike[str] | None = None,
    input_shapes: dict[str, tuple[int, ...]] | None = None,
    factory: str | None = None,
    dynamic_batch: bool = False,
) -> ExportResult:
    """Export a PyTorch file of sniffed ``kind`` to ONNX (see module docstring).

    ``opset``: None = the exporter's own (dynamo: what it writes, unconverted; TorchScript exporter: 17).
    ``dynamic_batch``: export axis 0 of every input (and output) as ``batch`` and verify batch 2.

    Raises:
        ModelError: TorchScript, ExportedProgram or full pickle without ``trust_model`` (names ``--trust-model``;
            nothing of the file is loaded then, and torch is not imported); state dict without a factory;
            export failure (the hint names the log of the exporter's own output); an asked ``opset`` the
            exporter did not produce; ONNX Runtime output differs from torch;
            ``dynamic_batch`` asked but an input's batch is fixed or batch 2 fails / keeps a leading size != 2.
        UsageError: shapes needed but not given (names ``--input-shape``); bad ``factory``.
        BackendUnavailable: torch (or onnxscript for ExportedProgram) is not installed.
    """
    from workbench.core import paths

    p = Path(path)
    shapes = dict(input_shapes or {})
    if kind.needs_trust and not trust_model:
        raise refuse_untrusted(p, kind)
    if kind is FileKind.TORCH_ZIP_WEIGHTS and not factory:
        raise ModelError(
            f"{p} holds only weights (a state dict): the network's code is not in the file, so it cannot be "
            "exported to ONNX without a module factory",
            hint="save the model with torch.jit.save or torch.export.save, or give a factory "
            "(`workbench export MODEL --factory mypkg.nets:build --input-shape …`) that returns the nn.Module",
        )
    if kind in (FileKind.TORCHSCRIPT, FileKind.TORCH_PICKLE, FileKind.TORCH_ZIP_WEIGHTS) and not shapes:
        raise _need_shapes(p, kind)
    if kind not in (FileKind.TORCHSCRIPT, FileKind.EXPORTED_PROGRAM, FileKind.TORCH_PICKLE, FileKind.TORCH_ZIP_WEIGHTS):
        raise ModelError(
            f"{p} is a {kind.describe()}, not a PyTorch file",
            hint="give a .pt/.pt2 PyTorch file, or use `workbench inspect MODEL` to see what this file is",
        )
    torch = _import_torch(p, kind)
    exporter_kind = "dynamo" if kind is FileKind.EXPORTED_PROGRAM else "torchscript"
    asked = opset
    if opset is None and exporter_kind == "torchscript":
        opset = LEGACY_DEFAULT_OPSET
    if kind is FileKind.EXPORTED_PROGRAM and importlib.util.find_spec("onnxscript") is None:
        raise BackendUnavailable(
            f"{p} is an ExportedProgram; its ONNX exporter (torch dynamo) needs onnxscript, which is not installed",
            hint=TORCH_HINT,
        )

    out_dir = Path(work_dir) if work_dir else paths.cache_dir() / "exports"
    extra_key: dict[str, Any] = {"dynamic_batch": True} if dynamic_batch else {}
    if factory:
        extra_key["factory_source"] = _factory_source_sha256(factory)
    key = _cache_key(p, kind, opset=opset if opset is not None else "exporter-default", shapes={k: list(v) for k, v in shapes.items()}, factory=factory,
                     torch=str(torch.__version__), **extra_key)  # fmt: skip
    target = out_dir / f"{key}.onnx"
    sidecar = out_dir / f"{key}.json"
    if target.is_file() and sidecar.is_file():
        try:
            meta = json.loads(sidecar.read_text())
            meta.update(path=target, cached=True)
            return ExportResult(**meta)
        except (ValueError, TypeError):
            pass  # unreadable sidecar: export again

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch 2.13 deprecates torch.jit.load; it still works
        module, args, exporter = _prepare(torch, p, kind, shapes, factory)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp_dir = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir))
    except OSError as exc:
        from workbench.core.errors import StorageError

        raise StorageError(
            f"cannot write exports to {out_dir}: {exc.strerror or exc}",
            hint="pick a writable folder with --output, or free disk space",
        ) from None
    try:
        tmp = tmp_dir / "model.onnx"
        names = list(shapes) or None
        log_path = tmp_dir / "export.log"
        with torch.no_grad(), library_output(log_path), warnings.catch_warnings():
            # The exporters warn about internals (signatures, deprecations) a user cannot act on.
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                if exporter == "dynamo":
                    torch.onnx.export(module, args, str(tmp), dynamo=True, opset_version=opset,
                                      external_data=False, verbose=False)  # fmt: skip
                    # (opset_version=None: the exporter's own opset, no down-conversion)
                elif dynamic_batch:
                    # Output count from one forward pass: dynamic_axes needs output names to mark them.
                    n_out = len(_flatten(module(*args)))
                    in_names = names or [f"input_{i}" for i in range(len(args))]
                    out_names = [f"output_{i}" for i in range(n_out)]
                    axes = {n: {0: "batch"} for n in (*in_names, *out_names)}
                    torch.onnx.export(module, args, str(tmp), dynamo=False, opset_version=opset,
                                      input_names=in_names, output_names=out_names, dynamic_axes=axes,
                                      do_constant_folding=True)  # fmt: skip
                else:
                    torch.onnx.export(module, args, str(tmp), dynamo=False, opset_version=opset,
                                      input_names=names, do_constant_folding=True)  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - exporter errors are many and undocumented
                log = _keep_log(log_path, out_dir / f"{key}.log")
                not_run = _forward_error(module, args, torch)
                if not_run is not None:
                    # The model itself refuses these inputs (most often a wrong --input-shape): say that, not
                    # "the export failed", which sends the user after opsets.
                    dims = ", ".join("x".join(map(str, a.shape)) for a in args if hasattr(a, "shape"))
                    raise ModelError(
                        f"{p} does not run on inputs of shape {dims}: {type(not_run).__name__}: {_last_line(not_run)}",
                        hint="give the shape the model takes: --input-shape NAME:DIMS (e.g. x:1x3x224x224)",
                    ) from None
                asked_txt = f"opset {opset}" if opset is not None else "the exporter's default opset"
                other = (
                    "try another --opset"
                    if exporter == "dynamo"
                    else "try another --opset, or export an ExportedProgram (torch.export.save) instead"
                )
                raise ModelError(
                    f"exporting {p} to ONNX ({asked_txt}) failed: {type(exc).__name__}: {exporter_reason(exc)}",
                    hint=other + (f"; the exporter's own output is in {log}" if log else ""),
                ) from None
            try:
                ref = _flatten(module.module()(*args) if exporter == "dynamo" else module(*args))
            except AssertionError as exc:  # an ExportedProgram's shape guards: dims fixed when it was exported
                if exporter != "dynamo":
                    raise
                raise _shape_guard_error(p, module, args, exc) from None
        import onnx

        produced = next((o.version for o in onnx.load(str(tmp), load_external_data=False).opset_import
                         if o.domain in ("", "ai.onnx")), 0)  # fmt: skip
        if opset is not None and produced != opset:
            log = _keep_log(log_path, out_dir / f"{key}.log")
            raise ModelError(
                f"exporting {p}: opset {opset} was asked but the exporter produced opset {produced}",
                hint=f"leave out --opset (the exporter's opset {produced} is then used and checked against the "
                "target's TensorRT), or use a target whose parser accepts it"
                + (f"; the exporter's own output is in {log}" if log else ""),
            )
        max_abs, cosine = _compare(p, tmp, ref, args)
        b2 = _check_batch2(torch, p, tmp, module, exporter, args) if dynamic_batch else (None, None)
        result = ExportResult(
            path=target, cached=False, source_kind=kind.value, exporter=exporter, opset=int(produced),
            input_shapes={n: list(a.shape) for n, a in zip(shapes or [f"input_{i}" for i in range(len(args))], args,
                                                          strict=False)},
            max_abs=max_abs, cosine=cosine, seconds=round(time.perf_counter() - t0, 3),
            dynamic_batch=dynamic_batch, batch2_max_abs=b2[0], batch2_cosine=b2[1], opset_asked=asked,
        )  # fmt: skip
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
        from workbench.core.fsutil import write_text_atomic

        meta = result.to_dict()
        meta.pop("path")
        meta.pop("cached")
        write_text_atomic(sidecar, json.dumps(meta, indent=2))
        return result
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def _shape_guard_error(p: Path, ep: Any, args: tuple[Any, ...], exc: AssertionError) -> ModelError:
    """The error for ``--input-shape`` values an ExportedProgram's guards reject (torch raises a bare
    AssertionError "Guard failed: x.size()[0] == 2" when a dim fixed at export time differs)."""
    given = ", ".join("x".join(str(d) for d in a.shape) for a in args)
    ex = getattr(ep, "example_inputs", None)
    saved = ", ".join("x".join(str(d) for d in getattr(a, "shape", ())) for a in ex[0]) if ex else "unknown"
    return ModelError(
        f"{p}: the input shapes given ({given}) do not fit the ExportedProgram ({str(exc).strip() or 'guard failed'}; "
        f"it was saved with example inputs {saved})",
        hint="give --input-shape values that match the dims fixed at export time, or export again with "
        "torch.export.export(..., dynamic_shapes=...) for the dims that must vary",
    )


def _prepare(torch: Any, p: Path, kind: FileKind, shapes: dict[str, tuple[int, ...]], factory: str | None):
    """Load the model; return (module or ExportedProgram, example args, exporter name)."""
    try:
        if kind is FileKind.TORCHSCRIPT:
            m = torch.jit.load(str(p), map_location="cpu")
            m.eval()
            return m, _example_inputs(torch, shapes), "torchscript"
        if kind is FileKind.EXPORTED_PROGRAM:
            ep = torch.export.load(str(p))
            if shapes:
                args = _example_inputs(torch, shapes)
            else:
                ex = getattr(ep, "example_inputs", None)
                if not ex or ex[1]:
                    raise _need_shapes(p, kind)
                args = tuple(ex[0])
            return ep, args, "dynamo"
        if kind is FileKind.TORCH_PICKLE:
            obj = torch.load(str(p), map_location="cpu", weights_only=False)  # only reached with trust_model
            if isinstance(obj, torch.nn.Module):
                obj.eval()
                return obj, _example_inputs(torch, shapes), "torchscript"
            if not factory:
                raise ModelError(
                    f"{p} unpickles to a {type(obj).__name__}, not an nn.Module; exporting needs the module",
                    hint="give a module factory with --factory module:function",
                )
            state = obj
        else:
            state = torch.load(str(p), map_location="cpu", weights_only=True)
        module = _call_factory(factory or "")
        if not isinstance(module, torch.nn.Module):
            raise UsageError(
                f"--factory {factory!r} returned a {type(module).__name__}, not an nn.Module",
                hint="the factory must build and return the nn.Module (e.g. `return Net()`), without loading weights",
            )
        try:
            module.load_state_dict(state)
        except (RuntimeError, TypeError, AttributeError) as exc:
            raise ModelError(
                f"{p} does not fit the module from {factory!r}: {str(exc).splitlines()[0]}",
                hint="the weights were saved from a different architecture: point --factory at the function that "
                "builds that exact model",
            ) from None
        module.eval()
        return module, _example_inputs(torch, shapes), "torchscript"
    except (ModelError, UsageError, BackendUnavailable):
        raise
    except Exception as exc:  # noqa: BLE001 - torch raises many types for corrupt archives
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise ModelError(
            f"cannot load {p} with torch {torch.__version__}: {type(exc).__name__}: {first}",
            hint="the file is damaged or not a torch.save / torch.jit.save / torch.export.save archive; save it again "
            "(a state dict: torch.save(model.state_dict(), PATH)) or export to ONNX where the model was trained",
        ) from None


def _forward_error(module: Any, args: tuple, torch: Any) -> Exception | None:
    """The exception one forward pass of ``module`` on ``args`` raises, or None when it runs."""
    try:
        with torch.no_grad():
            module(*args)
    except Exception as exc:  # noqa: BLE001 - whatever the model raises is the answer
        return exc
    return None


def _last_line(exc: Exception) -> str:
    """The last non-empty line of ``exc``'s message, at most 200 characters: TorchScript puts its traceback first
    and the cause ("mat1 and mat2 shapes cannot be multiplied (1x256 and 64x10)") last."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    last = lines[-1] if lines else ""
    return last.removeprefix(f"{type(exc).__name__}: ")[:200]
