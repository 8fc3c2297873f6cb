"""Tell a model file's type from its bytes, never from its name (an ONNX file named ``.engine`` is ONNX).

Stdlib only: no onnx, no torch import. Rules, first match wins:

- ``EMPTY``: zero bytes.
- ``TRT_PLAN``: a serialized TensorRT engine starts with the ASCII tag ``ftrt`` at offset 0. Source: Torch-TensorRT
  (github.com/pytorch/TensorRT, ``py/torch_tensorrt/dynamo/runtime/_TRTEngine.py``) tells a raw engine from its
  base64 form by ``engine.startswith(b"ftrt")``, and several engine loaders in public code strip Ultralytics'
  ``.engine`` wrapper (a little-endian uint32 length, that many bytes of JSON metadata, then the raw plan) and
  then expect ``ftrt``. ``ptrt`` at offset 0 is accepted too: third-party engine scanners list it as the tag of
  other (older) builds; we could not confirm it from NVIDIA material. The TensorRT version sits in bytes 24..26
  of the plan (NVIDIA/TensorRT issue 3073, used by Autoware's tensorrt_common) and is reported, not relied on.
  A task note said the tag is at offset 4; we found no source for that and do not test it.
- ZIP archives (``PK\\x03\\x04``; torch.save / torch.jit.save / torch.export.save all write one folder
  ``<archive name>/`` inside the zip):

  - ``EXPORTED_PROGRAM``: ``<root>/models/*.json`` (torch 2.6+ ``.pt2`` layout, checked with torch 2.13:
    ``models/model.json``, ``data/weights/…``, ``archive_format`` = ``pt2``) or
    ``serialized_exported_program.json`` (torch 2.1–2.5 layout).
  - ``TORCHSCRIPT``: ``<root>/constants.pkl`` or ``<root>/code/`` (torch.jit.save).
  - ``<root>/data.pkl`` without code: torch.save. ``<root>`` is the top folder of the archive's first entry and
    the name matches ignoring ASCII case, as torch's reader does (:func:`torch_record`); two candidates are
    refused. Its pickle opcodes are scanned
    (:mod:`workbench.core.models.pickle_scan`): only tensor-rebuild helpers and pickle protocol <= 3 (what
    ``torch.load(weights_only=True)`` can read) → ``TORCH_ZIP_WEIGHTS``; anything else (a class such as
    ``__main__.Net``, or protocol 4+) → ``TORCH_PICKLE`` (a full load would be needed; it can run code).
- ``TORCH_PICKLE``: a raw pickle (first byte 0x80 = PROTO opcode, protocol 2..5): torch's legacy
  (``_use_new_zipfile_serialization=False``) format or a plain pickle. Treated as a full pickle.
- ``ONNX``: the header parses as a protobuf ``ModelProto``: every top-level field number is one ModelProto
  defines (onnx/onnx.proto: 1 ir_version, 2 producer_name, 3 producer_version, 4 domain, 5 model_version,
  6 doc_string, 7 graph, 8 opset_import, 14 metadata_props, 20 training_info, 25 functions, 26 configuration) with
  that field's wire type, and an ``ir_version`` (1..64) is present (``onnx.save`` writes it first; the checker
  requires it). A file whose header
  passes but whose body is truncated is still ``ONNX``; :func:`workbench.core.models.load.load_onnx` then fails
  naming it.
- otherwise ``UNKNOWN``.
"""

from __future__ import annotations

import enum
import json
import os
import struct
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.core.errors import ModelError

if TYPE_CHECKING:
    from workbench.core.models.pickle_scan import PickleScan

_HEADER_BYTES = 1 << 16  # enough for a ModelProto's leading fields and a wrapper's JSON

TRT_TAGS = (b"ftrt", b"ptrt")

# ModelProto field number -> protobuf wire type (0 varint, 2 length-delimited).
_MODELPROTO_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}


class FileKind(str, enum.Enum):
    ONNX = "onnx"
    TRT_PLAN = "tensorrt-plan"
    TORCHSCRIPT = "torchscript"
    EXPORTED_PROGRAM = "exported-program"
    TORCH_PICKLE = "torch-pickle"
    TORCH_ZIP_WEIGHTS = "torch-state-dict"
    EMPTY = "empty"
    UNKNOWN = "unknown"

    def describe(self) -> str:
        return _DESCRIPTIONS[self]

    @property
    def needs_trust(self) -> bool:
        """Loading a file of this kind can run code stored in it (TorchScript, ExportedProgram, full pickle):
        refused unless the user passes ``--trust-model``."""
        return self in (FileKind.TORCHSCRIPT, FileKind.EXPORTED_PROGRAM, FileKind.TORCH_PICKLE)


_DESCRIPTIONS = {
    FileKind.ONNX: "ONNX model",
    FileKind.TRT_PLAN: "TensorRT engine (serialized plan)",
    FileKind.TORCHSCRIPT: "TorchScript archive (torch.jit.save)",
    FileKind.EXPORTED_PROGRAM: "PyTorch ExportedProgram (torch.export.save, .pt2)",
    FileKind.TORCH_PICKLE: "full Python pickle (torch.save of a module object, or a legacy/raw pickle)",
    FileKind.TORCH_ZIP_WEIGHTS: "PyTorch state dict (torch.save of tensors only; weights without the network code)",
    FileKind.EMPTY: "empty file",
    FileKind.UNKNOWN: "unknown file type",
}


def _read_varint(buf: bytes, pos: int) -> tuple[int, int] | None:
    value = 0
    shift = 0
    while pos < len(buf):
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            return None
    return None  # ran off the header: unknown, caller decides


def looks_like_onnx(header: bytes, total_size: int) -> bool:
    """Heuristic ModelProto check on the first bytes of a file (see module docstring)."""
    pos = 0
    seen_ir = False
    while pos < len(header):
        tag = _read_varint(header, pos)
        if tag is None:
            break
        key, pos = tag
        field, wire = key >> 3, key & 7
        if _MODELPROTO_FIELDS.get(field) != wire:
            return False
        if wire == 0:
            val = _read_varint(header, pos)
            if val is None:
                break
            value, pos = val
            if field == 1:
                if not 1 <= value <= 64:
                    return False
                seen_ir = True
        else:
            ln = _read_varint(header, pos)
            if ln is None:
                break
            length, pos = ln
            if pos + length > total_size:
                # A length past the end of the file: still ONNX-shaped if the fields so far were, so a truncated
                # model is reported as "truncated ONNX" rather than "unknown".
                return seen_ir
            pos += length
    return seen_ir


def _ascii_lower(text: str) -> str:
    """Lower-case A-Z only, as miniz's ``MZ_TOLOWER`` does (Python's ``str.lower`` also folds non-ASCII letters)."""
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class AmbiguousRecord(ValueError):
    """Several members of a torch zip archive match one record name; the message names them."""


def torch_record(names: list[str], record: str) -> str | None:
    """The member of a torch zip archive that torch reads as ``record`` (e.g. ``"data.pkl"``).

    ``names``: the archive's member names in central-directory order (``ZipFile.namelist()``, duplicates kept).
    torch's reader (``PyTorchStreamReader`` in pytorch/caffe2/serialize/inline_container.cc, used by torch.load
    and torch.jit.load) takes the record prefix from the top folder of the *first* central-directory entry and
    looks a record up as ``<prefix>/<record>`` with miniz's ``mz_zip_reader_locate_file`` without
    ``MZ_ZIP_FLAG_CASE_SENSITIVE``, i.e. ignoring ASCII case. Checked with torch 2.13's
    ``torch._C.PyTorchFileReader``: with members ``b/version, a/data.pkl, b/data.pkl`` it reads ``b/data.pkl``;
    with ``b/version, b/DATA.PKL`` it reads ``b/DATA.PKL``.

    Returns:
        The matching member name, or None when torch finds no such record (or the first entry sits in no folder:
        torch then refuses the archive, "file in archive is not in a subdirectory").

    Raises:
        AmbiguousRecord: more than one member matches (which one miniz's lookup returns is not ours to guess).
    """
    if not names or "/" not in names[0]:
        return None
    want = _ascii_lower(names[0].split("/", 1)[0] + "/" + record)
    hits = [n for n in names if _ascii_lower(n) == want]
    if len(hits) > 1:
        raise AmbiguousRecord(f"{len(hits)} members of the archive could be its {record}: {', '.join(hits[:4])}")
    return hits[0] if hits else None


def scan_torch_zip(zf: zipfile.ZipFile) -> PickleScan | None:
    """Scan the ``data.pkl`` torch would unpickle from ``zf`` (see :func:`torch_record`); None when there is none.
    Several candidates give an incomplete scan (``problem`` names them): refused without ``--trust-model``."""
    from workbench.core.models.pickle_scan import PickleScan, scan_pickle

    try:
        member = torch_record(zf.namelist(), "data.pkl")
    except AmbiguousRecord as exc:
        return PickleScan(globals=(), disallowed=(), complete=False, problem=str(exc))
    return None if member is None else scan_pickle(zf.read(member))


def _zip_kind(path: Path) -> FileKind:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            # Any sign of TorchScript or an ExportedProgram wins: both are refused without --trust-model, so
            # reading too much into a stray member only ever asks for the flag.
            if any(n.endswith("serialized_exported_program.json") for n in names) or any(
                "/models/" in n and n.endswith(".json") for n in names
            ):
                return FileKind.EXPORTED_PROGRAM
            if any(n.endswith("/constants.pkl") or n == "constants.pkl" or "/code/" in n for n in names):
                return FileKind.TORCHSCRIPT
            scan = scan_torch_zip(zf)
            if scan is None:
                return FileKind.UNKNOWN
            return FileKind.TORCH_ZIP_WEIGHTS if scan.weights_only else FileKind.TORCH_PICKLE
    except (zipfile.BadZipFile, OSError, KeyError, RuntimeError, EOFError):
        return FileKind.UNKNOWN


def _is_trt(header: bytes) -> bool:
    if header[:4] in TRT_TAGS:
        return True
    # Ultralytics .engine: <uint32 LE n><n bytes JSON metadata><raw plan>.
    if len(header) >= 8 and header[4:5] == b"{":
        (n,) = struct.unpack("<I", header[:4])
        start = 4 + n
        if start + 4 <= len(header) and header[start : start + 4] in TRT_TAGS:
            try:
                json.loads(header[4:start])
            except ValueError:
                return False
            return True
    return False


def trt_plan_version(header: bytes) -> tuple[int, int, int] | None:
    """TensorRT (major, minor, patch) from bytes 24..26 of a raw plan (NVIDIA/TensorRT issue 3073); None if absent."""
    if header[:4] not in TRT_TAGS or len(header) < 27:
        return None
    major, minor, patch = header[24], header[25], header[26]
    return (major, minor, patch) if 5 <= major <= 30 else None


def sniff(path: str | os.PathLike[str]) -> FileKind:
    """Return the :class:`FileKind` of ``path`` from its content.

    Raises:
        ModelError: the path does not exist, is a folder or cannot be read.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        if p.is_dir():
            raise ModelError(f"{p} is a folder, not a model file", hint="pass the model file itself")
        with open(p, "rb") as fh:
            header = fh.read(_HEADER_BYTES)
    except FileNotFoundError:
        raise ModelError(f"model file {p} does not exist", hint="check the path") from None
    except PermissionError:
        raise ModelError(
            f"cannot read model file {p}: permission denied",
            hint=f"make it readable (`ls -l {p}`; chmod u+r), or copy it somewhere this user can read",
        ) from None
    except IsADirectoryError:
        raise ModelError(f"{p} is a folder, not a model file", hint="pass the model file itself") from None
    except OSError as exc:
        raise ModelError(
            f"cannot read model file {p}: {exc.strerror or exc}",
            hint="check the file and its disk (`ls -l`); copy it to a local disk and try again",
        ) from None
    if size == 0 or not header:
        return FileKind.EMPTY
    if _is_trt(header):
        return FileKind.TRT_PLAN
    if header[:4] == b"PK\x03\x04":
        return _zip_kind(p)
    if header[0] == 0x80 and len(header) > 1 and 2 <= header[1] <= 5:
        return FileKind.TORCH_PICKLE
    if looks_like_onnx(header, size):
        return FileKind.ONNX
    return FileKind.UNKNOWN
