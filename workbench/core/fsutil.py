"""Atomic file writes (temp file in the same folder + fsync + ``os.replace``).

A reader never sees a partial file: either the old content or the new. The temp file lives next to
the target so the rename stays on one filesystem (POSIX rename(2) is atomic there). ``mkstemp``
creates files 0600; we chmod to ``0666 & ~umask`` so results keep the user's usual permissions.
Write failures (read-only folder, disk full, RLIMIT_FSIZE) become :class:`StorageError` naming the
path, and the temp file is removed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from workbench.core.errors import StorageError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# errno values that mean "this output cannot be written here" (not a bug of ours).
STORAGE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR, errno.ENOTDIR}
)


def _file_in_the_way(path: Path) -> Path | None:
    """The first ancestor of ``path`` that exists but is not a folder (so nothing can be created below it)."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def _explain(path: Path, exc: OSError) -> StorageError:
    hint = "free space or choose another output folder"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        what = "the disk is full"
    elif exc.errno == errno.EFBIG:
        what = "the file is larger than this process may write (RLIMIT_FSIZE)"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        what = "permission denied (read-only folder?)"
        hint = "choose a folder you can write to"
    elif exc.errno == errno.EISDIR or path.is_dir():
        what = "it is a folder"
        hint = "give a file name, e.g. " + str(path / "out")
    elif exc.errno in (errno.EEXIST, errno.ENOTDIR) and (blocker := _file_in_the_way(path)) is not None:
        what = f"{blocker} is a file, not a folder"
        hint = "choose an output path whose folders exist or can be created"
    else:
        what = exc.strerror or str(exc)
    return StorageError(f"cannot write {path}: {what}", hint=hint)


def storage_error(path: str | os.PathLike[str], exc: OSError) -> StorageError | None:
    """A :class:`StorageError` naming ``path`` when ``exc`` means the disk/folder refused a write, else None.

    For code that writes through third-party libraries (onnx.save, onnxruntime) instead of :func:`atomic_writer`.
    """
    if exc.errno in STORAGE_ERRNOS:
        return _explain(Path(path), exc)
    return None


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str], *, private: bool = False) -> Iterator[BinaryIO]:
    """Yield a binary file; on clean exit it replaces ``path`` atomically.

    ``private``: for the workbench's own records in its private folders (a job's ``job.json``, ``status.json`` …):
    the file is 0600 whatever the umask, and ``path`` itself is replaced whatever is there — a symlink or FIFO
    planted in its place is replaced, never followed or written through.

    Raises:
        StorageError: the folder cannot be created or written, or the disk is full.
    """
    target = Path(path)
    # SIGXFSZ would kill us outright when RLIMIT_FSIZE is hit; ignoring it turns it into EFBIG.
    with contextlib.suppress(ValueError, OSError):
        if hasattr(signal, "SIGXFSZ"):
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    # A symlink is followed: its target is what gets replaced, the link stays a link.
    if target.is_symlink() and not private:
        target = Path(os.path.realpath(target))
    # A device, FIFO or socket (-o /dev/null, -o /dev/stdout, a named pipe) is written through, never
    # replaced by a regular file: a rename over /dev/null as root would destroy it.
    try:
        st = None if private else os.stat(target)
    except OSError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):
        try:
            with open(target, "wb") as fh:
                yield fh
                fh.flush()
        except OSError as exc:
            raise _explain(target, exc) from None
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _explain(target, exc) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600 if private else 0o666 & ~_umask())
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise _explain(target, exc) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def require_existing_folder(target: str | os.PathLike[str], what: str) -> Path:
    """The folder a user-named output file goes in, which must exist: a typo must not make folders (the atomic
    writer makes them for our own caches). ``what`` starts the message (e.g. ``"--export-times FILE"``).

    Raises:
        StorageError: the parent is missing, or is a file.
    """
    parent = Path(target).expanduser().parent
    if parent.exists() and not parent.is_dir():
        raise StorageError(f"{what}: {parent} is a file, not a folder", hint="give a path in a folder")
    if not parent.is_dir():
        raise StorageError(f"{what}: folder {parent} does not exist", hint="create it first")
    return parent


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, *, private: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (``private``: see :func:`atomic_writer`). Raises StorageError."""
    with atomic_writer(path, private=private) as fh:
        fh.write(data)


def write_text_atomic(path: str | os.PathLike[str], text: str, *, private: bool = False) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically (``private``: see :func:`atomic_writer`). Raises StorageError."""
    write_bytes_atomic(path, text.encode("utf-8"), private=private)


def sha256_file(path: str | os.PathLike[str], chunk_bytes: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks (memory does not grow with file size)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk_bytes), b""):
            h.update(block)
    return h.hexdigest()
