"""Load, check and inspect ONNX models; turn any supported model file into an ONNX path.

Every failure is a :class:`ModelError` (or :class:`BackendUnavailable` / :class:`UsageError`) whose message names
the file and says what to do. ``onnx`` is imported inside the functions; ``torch`` only in
:mod:`workbench.core.models.torch_export`, and only when a PyTorch file is exported.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.errors import BackendUnavailable, ModelError
from workbench.core.models.dims import normalize_shape
from workbench.core.models.fingerprint import combined_sha256
from workbench.core.models.info import ModelInfo, TensorSpec
from workbench.core.models.sniff import FileKind, sniff
from workbench.core.models.walk import all_graphs, external_data_files, load_graph

if TYPE_CHECKING:  # pragma: no cover
    import onnx

_2GIB = 2**31


# --------------------------------------------------------------------------------------------- load_onnx
def _not_onnx_error(path: Path, kind: FileKind) -> ModelError:
    if kind is FileKind.EMPTY:
        return ModelError(
            f"model file {path} is empty (0 bytes)", hint="the download or copy was cut short; get it again"
        )
    if kind is FileKind.UNKNOWN:
        return ModelError(
            f"{path} is not a model file we recognise (not ONNX, TensorRT plan, TorchScript, ExportedProgram "
            "or torch.save archive)",
            hint="check that the file is complete and really a model",
        )
    return ModelError(
        f"{path} is a {kind.describe()}, not an ONNX model",
        hint="run `workbench inspect` on it to see how to export it to ONNX",
    )


def require_utf8_path(p: Path) -> None:
    """Refuse a model path that is not valid UTF-8 (a Latin-1 ``é``, a stray ``\\x9b`` byte): onnx, ONNX Runtime and
    TensorRT take paths as UTF-8 strings through pybind11, which raises a multi-line TypeError for the surrogates
    Python uses for such bytes (``os.fsdecode``).

    Raises:
        ModelError: naming the path (escaped) and what to do.
    """
    try:
        os.fspath(p).encode("utf-8")
    except UnicodeEncodeError:
        raise ModelError(
            f"{p}: the path is not valid UTF-8, which ONNX, ONNX Runtime and TensorRT need",
            hint="rename the file (or its folder) to a UTF-8 name, e.g. with `convmv -f latin1 -t utf8`, or copy it",
        ) from None


def load_onnx(path: str | os.PathLike[str], *, check: bool = True, load_external: bool = True) -> onnx.ModelProto:
    """Read an ONNX model, with its external data, and validate it.

    Args:
        path: the .onnx file (any name; the type is sniffed).
        check: run ``onnx.checker.check_model`` on the path (works for >2 GB and external-data models).
        load_external: read external data into the returned proto (False: only the graph, cheaper).

    Returns:
        The ``onnx.ModelProto``.

    Raises:
        ModelError: missing file, empty file, not ONNX, truncated/corrupt protobuf, missing or truncated external
            data file (named), no graph / no nodes / no inputs / no outputs, or checker failure.
    """
    import onnx

    p = Path(path)
    kind = sniff(p)
    if kind is not FileKind.ONNX:
        raise _not_onnx_error(p, kind)
    require_utf8_path(p)
    model = load_graph(p)
    _require_graph(model, p)
    ext_files = external_data_files(model, p)
    if check:
        try:
            onnx.checker.check_model(str(p))
        except onnx.checker.ValidationError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{p} fails the ONNX checker: {first}", hint="re-export the model") from None
        except Exception as exc:  # noqa: BLE001 - the checker also raises plain RuntimeError/ValueError
            raise ModelError(
                f"{p} fails the ONNX checker: {type(exc).__name__}: {exc}",
                hint="re-export the model (a newer onnx may check it: pip install -U onnx); `workbench inspect "
                "MODEL` shows what it can read",
            ) from None
    if load_external and ext_files:
        try:
            onnx.external_data_helper.load_external_data_for_model(model, str(p.parent))
        except Exception as exc:  # noqa: BLE001
            raise ModelError(
                f"{p}: cannot read its external data: {type(exc).__name__}: {exc}",
                hint=f"keep the external data files next to the model, with the names it records (in {p.parent})",
            ) from None
    return model


def _require_graph(model: Any, p: Path) -> None:
    g = model.graph
    if not model.HasField("graph"):
        raise ModelError(f"{p} has no graph (an empty ModelProto)", hint="re-export the model")
    if len(g.node) == 0:
        raise ModelError(f"{p} has a graph with no nodes: there is nothing to run", hint="re-export the model")
    init = {t.name for t in g.initializer}
    if not [i for i in g.input if i.name not in init]:
        raise ModelError(
            f"{p} has no graph inputs (only constants): there is nothing to feed", hint="re-export the model"
        )
    if len(g.output) == 0:
        raise ModelError(f"{p} has no graph outputs", hint="re-export the model")


# --------------------------------------------------------------------------------------------- inspect
def _dtype_name(elem_type: int) -> str:
    import onnx

    try:
        import numpy as np

        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type)).name
    except Exception:  # noqa: BLE001 - UNDEFINED / exotic float8: fall back to the ONNX enum name
        try:
            return onnx.TensorProto.DataType.Name(elem_type).lower()
        except ValueError:
            return f"type{elem_type}"


_INFERRED_UNKNOWN = re.compile(r"unk__\d+")  # the names onnx shape inference makes up for dims it cannot tell


def _spec(vi: Any, *, inferred: bool = False) -> tuple[TensorSpec, bool]:
    """TensorSpec of a ValueInfoProto, dims normalised (models/dims.py: ``-1`` and ``?`` are unknowns, None);
    second item False when the rank is unknown. ``inferred``: the value came from shape inference, whose made-up
    ``unk__N`` names are unknowns too."""
    t = vi.type
    which = t.WhichOneof("value")
    if which != "tensor_type":
        return TensorSpec(vi.name, which or "unknown", ()), False
    tt = t.tensor_type
    if not tt.HasField("shape"):
        return TensorSpec(vi.name, _dtype_name(tt.elem_type), ()), False
    dims: list[int | str | None] = []
    for d in tt.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param") and d.dim_param:
            unknown = inferred and _INFERRED_UNKNOWN.fullmatch(d.dim_param)
            dims.append(None if unknown else d.dim_param)
        else:
            dims.append(None)
    return TensorSpec(vi.name, _dtype_name(tt.elem_type), normalize_shape(dims)), True


def _histogram(model: Any) -> dict[str, int]:
    c: Counter[str] = Counter()
    for g in all_graphs(model.graph):
        for n in g.node:
            key = n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}"
            c[key] += 1
    return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))


def _elements(dims: Any) -> int:
    n = 1
    for d in dims:
        n *= int(d)
    return n


def _constant_elements(node: Any) -> int:
    """Elements a Constant node holds (its one value attribute: a tensor, a sparse tensor or a list)."""
    import onnx

    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.TENSOR:
            return _elements(attr.t.dims)
        if attr.type == onnx.AttributeProto.SPARSE_TENSOR:
            return _elements(attr.sparse_tensor.values.dims)
        if attr.type in (onnx.AttributeProto.FLOATS, onnx.AttributeProto.INTS):
            return len(attr.floats) + len(attr.ints)
        if attr.type in (onnx.AttributeProto.FLOAT, onnx.AttributeProto.INT):
            return 1
    return 0  # value_string(s): text, not parameters


def _param_count(model: Any) -> int:
    """Elements of every initializer, sparse initializer and Constant node, in the graph and its subgraphs.

    Constant nodes count because some exporters keep every weight in them and no initializer at all
    (Paddle2ONNX: PP-OCR models have 0 initializers and ~300 Constant nodes).
    """
    total = 0
    for g in all_graphs(model.graph):
        total += sum(_elements(t.dims) for t in g.initializer)
        total += sum(_elements(st.values.dims) for st in g.sparse_initializer)
        total += sum(_constant_elements(n) for n in g.node if n.op_type == "Constant" and n.domain in ("", "ai.onnx"))
    return total


def inspect_model(path: str | os.PathLike[str]) -> ModelInfo:
    """Check an ONNX model and describe it (inputs/outputs with symbolic dims kept, opset, ops, params, size).

    Shape inference (``onnx.shape_inference``) fills output shapes the file does not declare; when it fails the
    failure is listed in ``ModelInfo.warnings`` and the declared shapes are used.

    Raises:
        ModelError: as :func:`load_onnx`.
    """
    import onnx

    p = Path(path)
    model = load_onnx(p, check=True, load_external=False)
    ext = external_data_files(model, p)
    warnings: list[str] = []
    inferred = model
    try:
        if p.stat().st_size >= _2GIB:
            import tempfile

            with tempfile.TemporaryDirectory() as td:
                out = Path(td) / "inferred.onnx"
                onnx.shape_inference.infer_shapes_path(str(p), str(out))
                inferred = onnx.load(str(out), load_external_data=False)
        else:
            inferred = onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False)
    except Exception as exc:  # noqa: BLE001 - inference is best effort: report, carry on
        warnings.append(f"shape inference failed: {type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]}")
        inferred = model
    g = inferred.graph
    init = {t.name for t in g.initializer}
    known = {vi.name: vi for vi in [*g.value_info, *g.output]}
    inputs = []
    for vi in g.input:
        if vi.name in init:
            continue
        spec, ranked = _spec(vi)
        if not ranked:
            warnings.append(f"input {vi.name!r} has no declared shape")
        inputs.append(spec)
    outputs = []
    for vi in model.graph.output:
        # Shape inference merges what it derives into the graph outputs (e.g. [?, ?] -> [batch, 3]).
        spec, ranked = _spec(known.get(vi.name, vi), inferred=vi.name in known)
        if not ranked:
            spec, ranked = _spec(vi)
        if not ranked:
            warnings.append(f"output {vi.name!r} has unknown rank")
        outputs.append(spec)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    producer = " ".join(x for x in (model.producer_name, model.producer_version) if x)
    size = p.stat().st_size + sum(f.stat().st_size for _, f in ext)
    return ModelInfo(
        path=p,
        format=FileKind.ONNX.value,
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        opset=int(opset),
        ir_version=int(model.ir_version),
        producer=producer,
        op_histogram=_histogram(model),
        param_count=_param_count(model),
        size_bytes=size,
        external_data=tuple(sorted(loc for loc, _ in ext)),
        sha256=combined_sha256(p, [loc for loc, _ in ext]),
        warnings=tuple(warnings),
    )


# --------------------------------------------------------------------------------------------- ensure_onnx
def ensure_onnx(
    path: str | os.PathLike[str],
    *,
    trust_model: bool = False,
    opset: int | None = None,
    work_dir: str | os.PathLike[str] | None = None,
    input_shapes: dict[str, tuple[int, ...]] | None = None,
    factory: str | None = None,
    dynamic_batch: bool = False,
) -> Path:
    """Return an ONNX file for any supported model file.

    - ONNX: checked (graph, external data, checker) and returned as is.
    - TorchScript / ExportedProgram / full pickle (each only with ``trust_model``: loading them can run code
      from the file) / state dict + ``factory``: exported to
      ``work_dir`` (default ``paths.cache_dir()/"exports"``) as ``<sha256 of source + settings>.onnx``, written
      atomically and verified against torch; an earlier export with the same key is reused.
    - TensorRT plan: :class:`BackendUnavailable` when ``tensorrt`` is not importable, else :class:`ModelError`
      (an engine cannot be turned back into ONNX; use it with the TensorRT backend directly).

    Args:
        input_shapes: ``{input name: shape}`` in the model's positional order; required for TorchScript, full
            pickles and factories (CLI ``--input-shape name:1x3x224x224``); optional for ExportedProgram (its
            saved example inputs are used).
        factory: ``"package.module:function"`` returning an ``nn.Module`` for a state-dict file.
        dynamic_batch: export axis 0 of every input as ``batch`` and verify the export at batch 2.

    Raises:
        ModelError, UsageError, BackendUnavailable (see above; TorchScript, ExportedProgram or full pickle without
        ``trust_model`` → ModelError naming ``--trust-model``, raised before torch is imported).
    """
    p = Path(path)
    kind = sniff(p)
    if kind not in (FileKind.EMPTY, FileKind.UNKNOWN):  # (those get their own error below)
        require_utf8_path(p)
    if kind is FileKind.ONNX:
        load_onnx(p, check=True, load_external=False)
        return p
    if kind is FileKind.TRT_PLAN:
        import importlib.util

        if importlib.util.find_spec("tensorrt") is None:
            raise BackendUnavailable(
                f"{p} is a TensorRT engine; TensorRT is not available here",
                hint="run it on a machine with TensorRT (JetPack on a Jetson, or NVIDIA's tensorrt package), "
                "or give the ONNX model it was built from",
            )
        raise ModelError(
            f"{p} is a TensorRT engine: it runs as is on the TensorRT backend and cannot be converted back to ONNX",
            hint="use the TensorRT backend for it, or give the ONNX model it was built from",
        )
    if kind in (FileKind.EMPTY, FileKind.UNKNOWN):
        raise _not_onnx_error(p, kind)
    from workbench.core.models.torch_export import export_to_onnx

    return export_to_onnx(
        p,
        kind,
        trust_model=trust_model,
        opset=opset,
        work_dir=work_dir,
        input_shapes=input_shapes,
        factory=factory,
        dynamic_batch=dynamic_batch,
    ).path
