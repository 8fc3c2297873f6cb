"""TensorRT plans (serialized engines): is this file one, and may this machine load it?

Two questions, kept apart from TensorRT itself so they are testable on a CPU machine:

1. :func:`classify_engine_file` — what a file given as an engine really is. It recognises, from structure only,
   files that are certainly *not* a plan: empty files, ONNX protobufs renamed to ``.engine``, PyTorch zips and
   pickles. It strips the ``[uint32 little-endian length][JSON metadata]`` header some exporters (Ultralytics)
   put in front of the plan and returns the metadata and the payload offset. Whether the rest *is* a plan is
   decided only by deserializing it with TensorRT (:func:`deserialize_plan`); without TensorRT the answer is
   "candidate" — we never trust guessed magic bytes.
2. :func:`check_compatibility` — compares a plan's sidecar (what built it: TensorRT version, GPU, compute
   capability, L4T, build options) with this machine and returns every reason to refuse. TensorRT's
   documentation says a plan is by default tied to the exact TensorRT version and GPU model it was built with;
   "version compatible" plans (8.6+) load in a later runtime of the same major release, and "hardware
   compatible" plans (AMPERE_PLUS, 8.6+) on any Ampere-or-newer discrete GPU. Anything else is refused with the
   reason and the rebuild command.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.errors import BuildError, ModelError

SIDECAR_SUFFIX = ".workbench.json"  # sidecar of an engine outside the artifact cache: <engine>.workbench.json
CACHE_SIDECAR = "artifact.json"  # sidecar of an engine inside the artifact cache (backends/cache.py)
_HEAD = 1 << 16
_MAX_WRAPPER_JSON = 1 << 20


@dataclass(frozen=True)
class EngineFile:
    """What :func:`classify_engine_file` found.

    ``kind``: ``"candidate"`` (may be a plan: TensorRT decides), ``"onnx"``, ``"torch"``, ``"empty"``.
    ``payload_offset``: where the plan bytes start (after a metadata header; 0 without one).
    ``metadata``: the JSON header's content when there is one.
    """

    path: Path
    kind: str
    payload_offset: int = 0
    metadata: dict[str, Any] | None = None

    @property
    def wrapped(self) -> bool:
        return self.metadata is not None


def _wrapper(head: bytes, size: int) -> tuple[int, dict[str, Any]] | None:
    """``[uint32 LE n][n bytes of JSON object]`` at the start → (payload offset, metadata)."""
    if len(head) < 6 or head[4:5] != b"{":
        return None
    (n,) = struct.unpack("<I", head[:4])
    if n < 2 or n > _MAX_WRAPPER_JSON or 4 + n >= size:
        return None
    blob = head[4 : 4 + n] if 4 + n <= len(head) else None
    if blob is None:
        return None
    try:
        meta = json.loads(blob.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return (4 + n, meta) if isinstance(meta, dict) else None


def classify_engine_file(path: str | Path) -> EngineFile:
    """Classify a file given as a TensorRT engine (see module doc).

    Raises:
        ModelError: the file is missing/unreadable, or certainly not a plan (ONNX, PyTorch, empty) — the message
            says what it is and what to do.
    """
    from workbench.core.models.sniff import looks_like_onnx

    p = Path(path)
    try:
        size = p.stat().st_size
        with open(p, "rb") as fh:
            head = fh.read(_HEAD)
    except FileNotFoundError:
        raise ModelError(f"engine file {p} does not exist", hint="check the path") from None
    except OSError as exc:
        raise ModelError(
            f"cannot read engine file {p}: {exc.strerror or exc}",
            hint=f"make it readable (`ls -l {p}`), or rebuild the engine with `workbench build`",
        ) from None
    if size == 0:
        raise ModelError(f"{p} is empty, not a TensorRT engine", hint="rebuild the engine or give the ONNX model")
    if head[:4] == b"PK\x03\x04" or (head[0] == 0x80 and len(head) > 1 and 2 <= head[1] <= 5):
        raise ModelError(
            f"{p} is a PyTorch file, not a TensorRT engine",
            hint="give it as the model (it is exported to ONNX and built), not as an engine",
        )
    wrapped = _wrapper(head, size)
    if wrapped is not None:
        return EngineFile(p, "candidate", wrapped[0], wrapped[1])
    if looks_like_onnx(head, size):
        raise ModelError(
            f"{p} is an ONNX model (renamed to {p.suffix or 'no extension'}), not a TensorRT engine",
            hint="give it as the model: `workbench build MODEL --profile <tensorrt profile>` builds the engine",
        )
    return EngineFile(p, "candidate", 0, None)


def read_payload(ef: EngineFile) -> bytes:
    """The plan bytes of ``ef`` (after any metadata header)."""
    with open(ef.path, "rb") as fh:
        fh.seek(ef.payload_offset)
        return fh.read()


def deserialize_plan(runtime: Any, ef: EngineFile) -> Any:
    """Deserialize ``ef`` with a TensorRT ``runtime``: the one test of "is this a plan".

    Raises:
        ModelError: TensorRT returned no engine (not a plan, or a plan from another TensorRT/GPU).
    """
    engine = runtime.deserialize_cuda_engine(read_payload(ef))
    if engine is None:
        raise ModelError(
            f"TensorRT could not deserialize {ef.path}: not a TensorRT plan, or one built by another TensorRT "
            "version or for another GPU",
            hint="rebuild it on this machine from the ONNX model (`workbench build MODEL --force-build`)",
        )
    return engine


# --------------------------------------------------------------------------------------------- compatibility
@dataclass(frozen=True)
class Environment:
    """What a plan is tied to. ``compute_capability`` like "8.7"; ``l4t`` like "36.4.3" (None off Jetson)."""

    tensorrt: str
    gpu_name: str | None
    compute_capability: str | None
    l4t: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "tensorrt": self.tensorrt,
            "gpu_name": self.gpu_name,
            "compute_capability": self.compute_capability,
            "l4t": self.l4t,
        }


@dataclass(frozen=True)
class PlanCheck:
    ok: bool
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


def _vt(text: str | None) -> tuple[int, int, int] | None:
    from workbench.core.backends.tensorrt.compat import parse_version

    if not text:
        return None
    try:
        return parse_version(str(text))
    except ValueError:
        return None


def _cc(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        major, minor = str(text).split(".")
        return int(major), int(minor)
    except ValueError:
        return None


def check_compatibility(sidecar: dict[str, Any], here: Environment) -> PlanCheck:
    """May a plan described by ``sidecar`` be loaded on ``here``?

    ``sidecar`` keys read: ``tensorrt`` (or ``versions.tensorrt``), ``gpu_name``, ``compute_capability``, ``l4t``,
    ``version_compatible`` (bool), ``hardware_compatibility`` ("AMPERE_PLUS" or None).

    Rules: same TensorRT major.minor.patch, unless version compatible (same major, runtime not older); same
    compute capability and GPU name, unless hardware compatible (AMPERE_PLUS: both ≥ 8.0, discrete GPUs only —
    not on Jetson); same L4T release on Jetson (JetPack ships TensorRT and CUDA together).
    """
    reasons: list[str] = []
    notes: list[str] = []
    built_trt = sidecar.get("tensorrt") or (sidecar.get("versions") or {}).get("tensorrt")
    bv, hv = _vt(built_trt), _vt(here.tensorrt)
    if bv is None:
        reasons.append("the plan's sidecar does not say which TensorRT built it")
    elif hv is None:
        reasons.append(f"cannot read this machine's TensorRT version {here.tensorrt!r}")
    elif bv != hv:
        if sidecar.get("version_compatible") and bv[0] == hv[0] and hv >= bv:
            notes.append(f"version-compatible plan from TensorRT {built_trt} loaded by {here.tensorrt}")
        else:
            reasons.append(f"built with TensorRT {built_trt}, this machine has TensorRT {here.tensorrt}")
    hw = sidecar.get("hardware_compatibility")
    bcc, hcc = _cc(sidecar.get("compute_capability")), _cc(here.compute_capability)
    jetson = bool(sidecar.get("l4t") or here.l4t)
    if hw == "AMPERE_PLUS" and not jetson and bcc and hcc and bcc >= (8, 0) and hcc >= (8, 0):
        if sidecar.get("gpu_name") != here.gpu_name:
            notes.append(f"hardware-compatible plan from {sidecar.get('gpu_name')} on {here.gpu_name}")
    else:
        if bcc is None or hcc is None:
            reasons.append("the GPU compute capability of the plan or of this machine is unknown")
        elif bcc != hcc:
            reasons.append(
                f"built for compute capability {sidecar.get('compute_capability')} "
                f"({sidecar.get('gpu_name') or 'unknown GPU'}), this GPU is {here.compute_capability} "
                f"({here.gpu_name or 'unknown'})"
            )
        elif sidecar.get("gpu_name") and here.gpu_name and sidecar.get("gpu_name") != here.gpu_name:
            reasons.append(f"built on {sidecar.get('gpu_name')}, this GPU is {here.gpu_name}")
    if (sidecar.get("l4t") or None) != (here.l4t or None):
        reasons.append(
            f"built on L4T {sidecar.get('l4t') or 'none (not a Jetson)'}, this is {here.l4t or 'not a Jetson'}"
        )
    return PlanCheck(not reasons, tuple(reasons), tuple(notes))


def find_sidecar(engine_path: Path) -> Path | None:
    """The sidecar of ``engine_path``: ``artifact.json`` beside a cached plan, or ``<engine>.workbench.json``."""
    candidates = [engine_path.with_name(engine_path.name + SIDECAR_SUFFIX), engine_path.parent / CACHE_SIDECAR]
    for c in candidates:
        if c.is_file():
            return c
    return None


def load_sidecar(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable plan sidecar ({exc})", hint="rebuild the engine") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: plan sidecar is not a JSON object", hint="rebuild the engine")
    return data


def refuse(engine_path: Path, check: PlanCheck) -> BuildError:
    """The error for a plan this machine must not load: every reason, and how to rebuild."""
    return BuildError(
        f"refusing TensorRT plan {engine_path}: " + "; ".join(check.reasons),
        hint="rebuild it here from the ONNX model: `workbench build MODEL --profile <profile> --force-build` "
        "(plans are tied to the TensorRT version and GPU that built them)",
    )
