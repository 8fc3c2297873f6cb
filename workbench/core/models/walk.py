"""Walking an ONNX model: every graph and subgraph, every stored tensor, and the external data files it names.

Shared by :mod:`workbench.core.models.load` (checks, inspect) and :mod:`workbench.core.models.fingerprint` (cache
keys), which must not import each other. ``onnx`` is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workbench.core.errors import ModelError


def subgraphs(node: Any) -> Iterator[Any]:
    import onnx

    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.GRAPH:
            yield attr.g
        elif attr.type == onnx.AttributeProto.GRAPHS:
            yield from attr.graphs


def all_graphs(graph: Any) -> Iterator[Any]:
    """The graph and every subgraph (If/Loop/Scan bodies), depth first."""
    yield graph
    for node in graph.node:
        for sub in subgraphs(node):
            yield from all_graphs(sub)


def all_tensors(model: Any) -> Iterator[tuple[str, Any]]:
    """(owner description, TensorProto) for initializers and tensor attributes in every graph and function."""
    import onnx

    def from_nodes(nodes: Any) -> Iterator[tuple[str, Any]]:
        for node in nodes:
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.TENSOR:
                    yield f"attribute {attr.name!r} of node {node.name or node.op_type!r}", attr.t
                elif attr.type == onnx.AttributeProto.TENSORS:
                    for t in attr.tensors:
                        yield f"attribute {attr.name!r} of node {node.name or node.op_type!r}", t

    for g in all_graphs(model.graph):
        for t in g.initializer:
            yield f"initializer {t.name!r}", t
        for st in g.sparse_initializer:
            yield f"sparse initializer {st.values.name!r}", st.values
            yield f"sparse initializer {st.values.name!r} (indices)", st.indices
        yield from from_nodes(g.node)
    for fn in model.functions:
        yield from from_nodes(fn.node)


def external_location(tensor: Any) -> tuple[str, int, int | None] | None:
    """(location, offset, length) of a tensor stored outside the .onnx file, else None."""
    import onnx

    if tensor.data_location != onnx.TensorProto.EXTERNAL:
        return None
    info = {e.key: e.value for e in tensor.external_data}
    try:
        offset = int(info.get("offset", 0) or 0)
        length = int(info["length"]) if info.get("length") else None
    except ValueError:
        offset, length = 0, None
    return info.get("location", ""), offset, length


def external_data_files(model: Any, model_path: Path) -> list[tuple[str, Path]]:
    """Check every external-data reference of ``model`` (loaded from ``model_path``) and list the files.

    Returns ``[(location as written in the model, resolved path), …]`` without duplicates.

    Raises:
        ModelError: a referenced file is missing, outside the model's folder, or shorter than a tensor needs.
    """
    base = model_path.parent
    files: dict[str, Path] = {}
    sizes: dict[str, int] = {}
    for owner, tensor in all_tensors(model):
        ext = external_location(tensor)
        if ext is None:
            continue
        location, offset, length = ext
        if not location:
            raise ModelError(
                f"{model_path}: {owner} is marked as external data but names no file (no 'location')",
                hint="re-export the model and save its external data with onnx.save(..., save_as_external_data=True)",
            )
        rel = Path(location)
        if rel.is_absolute() or ".." in rel.parts:
            raise ModelError(
                f"{model_path}: {owner} points to external data {location!r} outside the model's folder; refused",
                hint="external data files must sit next to the .onnx file (ONNX spec)",
            )
        target = base / rel
        if location not in files:
            if not target.is_file():
                raise ModelError(
                    f"{model_path}: external data file {location!r} is missing (expected at {target}; needed by {owner})",
                    hint="copy the data file next to the .onnx file, keeping the name the model records",
                )
            files[location] = target
            sizes[location] = target.stat().st_size
        if length is not None and offset + length > sizes[location]:
            raise ModelError(
                f"{model_path}: external data file {location!r} is truncated: {owner} needs bytes "
                f"{offset}..{offset + length} but the file has {sizes[location]}",
                hint="copy the complete data file again",
            )
    return list(files.items())


def load_graph(p: Path) -> Any:
    """``onnx.load`` of ``p`` without its external data (the graph and the tensors stored inside).

    Raises:
        ModelError: the protobuf cannot be parsed (truncated or corrupt), naming the file.
    """
    import onnx

    try:
        return onnx.load(str(p), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf DecodeError, onnx's own errors: all mean corrupt
        raise ModelError(
            f"{p} is truncated or corrupt: the ONNX protobuf cannot be parsed ({type(exc).__name__}: {exc})",
            hint="the file was probably cut short while copying or downloading; get it again",
        ) from None
