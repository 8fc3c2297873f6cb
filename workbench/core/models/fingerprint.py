"""The content fingerprint of a model, for cache keys: the file, plus every ONNX external data file it names.

An ONNX model may keep its weights outside the ``.onnx`` file (``data_location = EXTERNAL``, a ``location`` relative
to the model's folder: onnx.ai, "External Data"). Two folders holding the same ``model.onnx`` next to different
``weights.bin`` are different models, so a key over the ``.onnx`` file alone gave them one cache entry and the second
model was benchmarked with the first one's weights (issue 18).

:func:`model_sha256` is the one key every cache uses for a source model (artifacts, FP16, INT8, TensorRT calibration).
For a file without external data it is exactly ``sha256_file(path)``, as before, so existing cache entries stay valid.

Cost: every file is hashed by content in 1 MiB chunks (memory does not grow with the size), and the hashes are kept in
a per-process memo keyed by (device, inode, size, mtime_ns), so a job that asks for the same key several times (build,
FP16, calibration, accuracy) reads a multi-GB weights file once. A file rewritten in place keeps its inode but gets a
new mtime (and usually size), which misses the memo.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from workbench.core.fsutil import sha256_file
from workbench.core.models.sniff import FileKind, sniff
from workbench.core.models.walk import external_data_files, load_graph

_StatKey = tuple[int, int, int, int]

_lock = threading.Lock()
_file_memo: dict[tuple[str, _StatKey], str] = {}
_locations_memo: dict[tuple[str, _StatKey], tuple[str, ...]] = {}


def _stat_key(path: Path) -> _StatKey:
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of one file's bytes, memoised per process by (path, device, inode, size, mtime_ns).

    Raises:
        OSError: the file cannot be read (as :func:`workbench.core.fsutil.sha256_file`).
    """
    p = Path(path)
    key = (os.path.realpath(p), _stat_key(p))
    with _lock:
        got = _file_memo.get(key)
    if got is None:
        got = sha256_file(p)
        with _lock:
            _file_memo[key] = got
    return got


def external_data_locations(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """The external data files an ONNX model names (its ``location`` values, sorted, each once); ``()`` for a file
    that is not ONNX or keeps every tensor inside. Memoised by the ``.onnx`` file's stat, as :func:`file_sha256`.

    Raises:
        ModelError: the ONNX protobuf cannot be parsed, or a location is absolute or climbs out of the model's folder
            with ``..`` (refused as onnx's own loader refuses it), or names a missing or too short file.
    """
    p = Path(path)
    if sniff(p) is not FileKind.ONNX:
        return ()
    key = (os.path.realpath(p), _stat_key(p))
    with _lock:
        got = _locations_memo.get(key)
    if got is not None:
        return got
    model = load_graph(p)
    got = tuple(sorted(loc for loc, _ in external_data_files(model, p)))
    with _lock:
        _locations_memo[key] = got
    return got


def model_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 naming a model's content: ``sha256_file(path)`` when it has no external data, else a SHA-256 over
    the ``.onnx`` file's hash and each external data file's location and hash (sorted by location).

    Raises:
        ModelError: as :func:`external_data_locations` (an escaping, missing or truncated external data file).
        OSError: a file cannot be read.
    """
    p = Path(path)
    return combined_sha256(p, external_data_locations(p))


def combined_sha256(path: Path, locations: tuple[str, ...] | list[str]) -> str:
    """:func:`model_sha256` for a model whose external data ``locations`` (relative to its folder, already checked)
    the caller has listed: ``file_sha256(path)`` when there are none.

    Raises:
        OSError: a file cannot be read.
    """
    own = file_sha256(path)
    if not locations:
        return own
    h = hashlib.sha256(b"onnx-with-external-data\0" + own.encode() + b"\0")
    for loc in sorted(set(locations)):
        h.update(loc.encode("utf-8") + b"\0" + file_sha256(path.parent / loc).encode() + b"\0")
    return h.hexdigest()


def model_size_bytes(path: str | os.PathLike[str]) -> int:
    """Bytes of a model: the file plus every ONNX external data file it names (what a builder must read).

    Raises:
        ModelError: as :func:`external_data_locations`. OSError: a file cannot be stat'ed.
    """
    p = Path(path)
    return p.stat().st_size + sum((p.parent / loc).stat().st_size for loc in external_data_locations(p))


def clear_memo() -> None:
    """Forget every memoised hash (tests; a long-lived process that must re-read files rewritten with the same
    mtime_ns and size)."""
    with _lock:
        _file_memo.clear()
        _locations_memo.clear()
