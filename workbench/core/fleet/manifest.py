"""What `workbench fleet run` ships to a host, named by content: a model (with its ONNX external data files and its
``<stem>.workbench.toml`` spec beside it) or a dataset folder becomes one :class:`Bundle` whose ``key`` is a SHA-256
over every file's relative path and SHA-256. A host keeps a bundle under ``<workbench_home>/models/<key>/`` (datasets:
``datasets/<key>/``), so a second run of the same content copies nothing and a changed file gets a new folder —
two models never overwrite each other on a board.

The bundle travels as one tar archive (:func:`write_archive`: one transfer instead of one per file) whose LAST member
is :data:`MARKER`, the manifest itself. On the host, core/fleet/remote.py ``unpack`` checks every file against it
(size, SHA-256) in a temporary folder renamed into place, and writes the marker there: the playbook skips the copy
when the marker exists, so a copy cut off half way is simply done again.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from workbench.core.errors import DatasetError, ModelError, StorageError
from workbench.core.fsutil import sha256_file

#: The manifest file, last member of every bundle's archive: its presence on a host means the bundle is complete.
MARKER = ".workbench-bundle.json"


@dataclass(frozen=True)
class BundleFile:
    """One file of a bundle: ``rel`` its path inside the bundle folder (POSIX, no ``..``), ``source`` the local
    file, ``size`` in bytes, ``sha256`` hex of its content."""

    rel: str
    source: Path
    size: int
    sha256: str


@dataclass(frozen=True)
class Bundle:
    """A model or a dataset folder as shipped to hosts. ``kind``: "models" | "datasets" (the folder under
    ``workbench_home``); ``key``: hex SHA-256 naming the content (:func:`bundle_key`); ``entry``: the path inside
    the bundle folder a remote command names (the model file, or the dataset's folder)."""

    kind: str
    key: str
    entry: str
    files: tuple[BundleFile, ...]

    def remote_dir(self, workbench_home: str) -> str:
        """``<workbench_home>/<kind>/<key>`` on the host (a plain join: the home is the host's, never resolved here)."""
        return f"{workbench_home.rstrip('/')}/{self.kind}/{self.key}"

    def remote_entry(self, workbench_home: str) -> str:
        return f"{self.remote_dir(workbench_home)}/{self.entry}"

    def manifest(self) -> dict:
        """The manifest document (the marker's content): kind, key, entry and every file's rel, size and sha256."""
        return {
            "kind": self.kind,
            "key": self.key,
            "entry": self.entry,
            "files": [{"rel": f.rel, "size": f.size, "sha256": f.sha256} for f in self.files],
        }

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)


def bundle_key(files: Iterable[BundleFile], entry: str) -> str:
    """Hex SHA-256 over the entry name and each file's relative path and SHA-256, sorted by path: the same files
    under the same names give the same key wherever they live on this machine."""
    h = hashlib.sha256(b"workbench-fleet-bundle-v1\0" + entry.encode() + b"\0")
    for f in sorted(files, key=lambda f: f.rel):
        h.update(f.rel.encode("utf-8") + b"\0" + f.sha256.encode() + b"\0")
    return h.hexdigest()


def _file(rel: str, path: Path) -> BundleFile:
    st = path.stat()
    return BundleFile(rel, path, st.st_size, sha256_file(path))


def model_bundle(model: str | os.PathLike[str]) -> Bundle:
    """The bundle of a model file: the file, the ONNX external data files it names (core/models/fingerprint.py),
    and its spec ``<stem>.workbench.toml`` when one lies beside it (the host finds it next to the model, as here).

    Raises:
        ModelError: the model is missing or not a file, or its external data cannot be listed.
    """
    from workbench.core.models.fingerprint import external_data_locations

    p = Path(model).expanduser()
    if not p.is_file():
        raise ModelError(f"model {p} does not exist or is not a file", hint="give the path of an ONNX model")
    name = p.name
    files = [_file(name, p)]
    for loc in external_data_locations(p):
        files.append(_file(Path(loc).as_posix(), p.parent / loc))
    spec = p.with_name(p.stem + ".workbench.toml")
    if spec.is_file():
        files.append(_file(spec.name, spec))
    return Bundle("models", bundle_key(files, name), name, tuple(files))


def dataset_bundle(folder: str | os.PathLike[str]) -> Bundle:
    """The bundle of a dataset folder: every regular file under it (symbolic links followed only to files inside
    it; other links and special files are left out), as ``<folder name>/<relative path>``.

    Raises:
        DatasetError: the folder does not exist or holds no file.
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise DatasetError(
            f"dataset folder {root} does not exist or is not a folder",
            hint="name a folder of images (or .npy files), or a bundled dataset by its name",
        )
    real_root = root.resolve()
    name = root.resolve().name or "dataset"
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            p = Path(dirpath) / fn
            try:
                real = p.resolve()
                st = real.stat()
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode) or not real.is_relative_to(real_root):
                continue  # a link out of the folder, a socket …: not part of the dataset we ship
            files.append(_file(f"{name}/{p.relative_to(root).as_posix()}", real))
    if not files:
        raise DatasetError(f"dataset folder {root} holds no file", hint="name a folder that holds the samples")
    return Bundle("datasets", bundle_key(files, name), name, tuple(files))


def write_archive(bundle: Bundle, dest: str | os.PathLike[str]) -> Path:
    """Write the bundle as an uncompressed tar at ``dest`` (files in path order, then :data:`MARKER`), with
    owner 0/0, mode 0644 and mtime 0 so the same bundle always gives the same bytes. Returns ``dest``.

    Raises:
        StorageError: ``dest`` cannot be written; ModelError: a file changed since it was hashed.
    """
    out = Path(dest)

    def norm(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = 0
        info.mode = 0o644
        return info

    try:
        with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
            for f in sorted(bundle.files, key=lambda f: f.rel):
                info = norm(tarfile.TarInfo(f.rel))
                info.size = f.size
                with open(f.source, "rb") as fh:
                    h = hashlib.sha256()
                    data = _HashingReader(fh, h)
                    tar.addfile(info, data)
                if h.hexdigest() != f.sha256:
                    raise ModelError(
                        f"{f.source} changed while it was being shipped", hint="run `workbench fleet run` again"
                    )
            doc = json.dumps(bundle.manifest(), indent=1, sort_keys=True).encode()
            info = norm(tarfile.TarInfo(MARKER))
            info.size = len(doc)
            tar.addfile(info, io.BytesIO(doc))
    except OSError as exc:
        raise StorageError(
            f"cannot write the bundle archive {out}: {exc.strerror or exc}",
            hint="free space in the temporary folder (TMPDIR) or point TMPDIR at a writable folder",
        ) from None
    return out


class _HashingReader:
    """A file object that hashes what tarfile reads from it (so a file rewritten between hashing and shipping is
    caught instead of shipped under the old key)."""

    def __init__(self, fh, h) -> None:
        self._fh = fh
        self._h = h

    def read(self, n: int = -1) -> bytes:
        b = self._fh.read(n)
        self._h.update(b)
        return b
