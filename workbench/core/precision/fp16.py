"""FP16 conversion of a float ONNX model, cached.

Uses ``onnxruntime.transformers.float16.convert_float_to_float16`` (shipped with onnxruntime, so no
extra dependency; onnxconverter-common has the same function) with ``keep_io_types=True``: inputs
and outputs stay float32 so the same feeds and comparisons work, with Cast nodes at the edges.
Its default op block list keeps ops without FP16 kernels in float32.

Note: onnxruntime's CPU execution provider runs most FP16 ops by casting to FP32 internally, so on a
CPU an FP16 model is rarely faster than FP32 (and often slower); it is offered for the accuracy path
and for GPU/TensorRT targets.

The converted model is cached in ``calibration_cache_dir()/fp16/<key>.fp16.onnx``; key = sha256 of
the model's content hash (``models.fingerprint.model_sha256``: the file plus its ONNX external data), onnxruntime
version and converter options. Built in a folder of its own (mkdtemp: concurrent conversions never share a temp
name), load-tested there, then moved into place with ``os.replace``.

A source with external data gets an FP16 model with external data of its own, ``<key>.fp16.onnx.data`` next to it
(moved into place before the model, so a visible model always has its data): a model usually has external data
because it is over protobuf's 2 GiB limit, and its FP16 copy can be too.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.core import paths
from workbench.core.errors import BuildError, ModelError
from workbench.core.models.fingerprint import external_data_locations, model_sha256
from workbench.core.precision.calib_cache import content_key


def fp16_cache_path(model_path: Path) -> Path:
    """Where the FP16 copy of ``model_path`` is cached. Raises ModelError (bad external data, see fingerprint)."""
    import onnxruntime

    key = content_key(
        {"fp16": 1, "model_sha256": model_sha256(model_path), "ort": onnxruntime.__version__, "keep_io_types": True}
    )
    return paths.calibration_cache_dir() / "fp16" / f"{key}.fp16.onnx"


def to_fp16(model_path: Path) -> Path:
    """Return the path of an FP16 version of ``model_path`` (float32 inputs/outputs kept).

    Raises:
        ModelError: the model cannot be read. BuildError: conversion fails or the result does not load.
    """
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model_path = Path(model_path)
    if not model_path.is_file():
        raise ModelError(
            f"{model_path}: model file not found",
            hint="check the path (relative paths start from the current folder); convert the FP32 .onnx file itself",
        )
    target = fp16_cache_path(model_path)
    external = bool(external_data_locations(model_path))
    if target.is_file():
        try:
            external_data_locations(target)  # its own external data is there, complete
            return target
        except ModelError:
            pass  # convert again
    try:
        model = onnx.load(str(model_path))
    except Exception as exc:  # noqa: BLE001 - third-party failure -> our error
        raise ModelError(
            f"{model_path}: cannot load the ONNX model ({exc})",
            hint="run `workbench inspect MODEL` to see what is wrong with the file; re-export it if it is cut off or "
            "corrupt",
        ) from None

    def convert(m: Any) -> Any:
        m = onnx.shape_inference.infer_shapes(m)
        return convert_float_to_float16(m, keep_io_types=True, disable_shape_infer=True)

    write_converted(model_path, model, target, convert, external=external)
    return target


def write_converted(
    model_path: Path,
    model: Any,
    target: Path,
    convert: Callable[[Any], Any],
    *,
    external: bool,
    work: Path | None = None,
) -> None:
    """Convert ``model`` (onnx.ModelProto of ``model_path``) with ``convert`` and put the result at ``target``.

    Written in a folder of its own (``work``, else a new mkdtemp beside ``target``, removed afterwards), load-tested in
    onnxruntime there, then moved into place: ``<target>.data`` first (when ``external``: the source has external
    data, so the copy gets its own), the model last, so a visible model always has its data.

    Raises:
        BuildError: ``convert`` fails, or its result does not load in onnxruntime (the message names ``model_path``).
    """
    import onnx
    import onnxruntime as ort

    data = target.with_name(f"{target.name}.data")
    target.parent.mkdir(parents=True, exist_ok=True)
    own = work is None
    if work is None:
        work = Path(tempfile.mkdtemp(prefix=".fp16-", dir=target.parent))
    try:
        try:
            converted = convert(model)
            tmp = work / target.name
            if external:
                onnx.save(
                    converted, str(tmp), save_as_external_data=True, all_tensors_to_one_file=True, location=data.name
                )
            else:
                onnx.save(converted, str(tmp))
        except Exception as exc:  # noqa: BLE001 - third-party failure -> our error
            raise BuildError(
                f"{model_path}: FP16 conversion failed ({type(exc).__name__}: {exc})",
                hint="check free disk in the cache folder; models over 2 GiB need external data (re-export with "
                "external data)",
            ) from None
        try:
            so = ort.SessionOptions()
            so.log_severity_level = 3
            ort.InferenceSession(str(tmp), so, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - third-party failure -> our error
            raise BuildError(
                f"{model_path}: the FP16 model does not load in onnxruntime ({type(exc).__name__}: {exc})",
                hint="run this model at --precision fp32 on onnxruntime, or build FP16 on a TensorRT profile (TensorRT "
                "picks FP16 per layer itself)",
            ) from None
        if (work / data.name).is_file():  # onnx.save keeps tensors under 1 KiB inline: there may be none
            os.replace(work / data.name, data)
        os.replace(tmp, target)
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)
