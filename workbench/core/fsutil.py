"""Atomic file writes (temp file in the same folder + fsync + ``os.replace``).

A reader never sees a partial file: either the old content or the new. The temp file lives next to
the target so the rename stays on one filesystem (POSIX rename(2) is atomic there). ``mkstemp``
creates files 0600; we chmod to ``0666 & ~umask`` so results keep the user's usual permissions.
Write failures (read-only folder, disk full, RLIMIT_FSIZE) become :class:`StorageError` naming the
path, and the temp file is removed.

Symbolic links on the way to the target are followed only when nobody else could have planted them
(:func:`resolve_output`): the rule of Linux's ``fs.protected_symlinks`` (kernel Documentation/admin-guide/
sysctl/fs.rst), made stricter because we run as root on shared boards and the kernel's rule alone lets root
follow a link planted in /tmp by the folder's owner. Root writing ``-o /tmp/out.json`` where another user
has put ``/tmp/out.json -> /home/them/.bashrc`` would otherwise replace that user's file.
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


#: Most symbolic links one path may pass through: Linux's MAXSYMLINKS (include/linux/namei.h), past which
#: the kernel answers ELOOP.
MAX_SYMLINK_HOPS = 40


def _refuse_untrusted_link(link: str, st: os.stat_result, folder: str, shown: Path) -> None:
    """Raise unless the symlink ``link`` (its lstat ``st``, in the real folder ``folder``) is one only this user
    or root could have made and nobody else can swap: owned by the effective user or root, in a folder that is
    neither world-writable nor sticky (a sticky bit marks a shared folder such as /tmp)."""
    me = os.geteuid()
    if st.st_uid not in (me, 0):
        why = f"{link} is a symbolic link owned by another user (uid {st.st_uid})"
    else:
        try:
            mode = os.stat(folder).st_mode
        except OSError:
            return
        if not mode & (stat.S_IWOTH | stat.S_ISVTX):
            return
        kind = (
            "sticky, world-writable"
            if mode & stat.S_IWOTH and mode & stat.S_ISVTX
            else ("world-writable" if mode & stat.S_IWOTH else "sticky")
        )
        why = f"{link} is a symbolic link in the {kind} folder {folder} (mode {stat.S_IMODE(mode):o}), where another user can plant or swap it"
    raise StorageError(
        f"refusing to write {shown}: {why}; writing through it could replace a file that is not yours",
        hint="give the real path of a file you own, or remove the link and write a new file there",
    )


def resolve_output(path: str | os.PathLike[str]) -> Path:
    """The real path a write to ``path`` lands on, following symbolic links component by component as the kernel
    does, and checking each one with :func:`_refuse_untrusted_link` before following it.

    Components that do not exist yet are kept as named (the writer creates them). ``~`` is not expanded.

    Raises:
        StorageError: a link on the way is owned by another user (not root), or sits in a world-writable or sticky
            folder; or more than :data:`MAX_SYMLINK_HOPS` links (a loop). The message names ``path`` and the link.
    """
    shown = Path(path)
    text = os.fspath(path)
    cur = "/" if text.startswith("/") else os.getcwd()
    todo = list(reversed(text.split("/")))
    hops = 0
    missing = False
    while todo:
        name = todo.pop()
        if name in ("", "."):
            continue
        if name == "..":
            cur = os.path.dirname(cur)
            continue
        nxt = os.path.join(cur, name)
        if missing:
            cur = nxt
            continue
        try:
            st = os.lstat(nxt)
        except OSError:  # not there (yet), or not searchable: the write itself reports what is wrong
            missing = True
            cur = nxt
            continue
        if not stat.S_ISLNK(st.st_mode):
            cur = nxt
            continue
        hops += 1
        if hops > MAX_SYMLINK_HOPS:
            raise StorageError(
                f"cannot write {shown}: more than {MAX_SYMLINK_HOPS} symbolic links on the way (a loop?)",
                hint="give the real path of the file",
            )
        _refuse_untrusted_link(nxt, st, cur, shown)
        dest = os.readlink(nxt)
        if dest.startswith("/"):
            cur = "/"
        todo.extend(reversed(dest.split("/")))
    return Path(cur)


def _special_file(path: Path, real: Path) -> Path | None:
    """The path to open when the output is a device, FIFO or socket (``-o /dev/null``, ``-o /dev/stdout``, a named
    pipe), else None. ``real`` is what :func:`resolve_output` gave; the user's ``path`` is tried too because a
    /proc "magic" link (/dev/stdout -> /proc/self/fd/1 -> pipe:[N]) names no real file but still opens."""
    for candidate in (real, path):
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):
            return candidate
        return None
    return None


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str], *, private: bool = False) -> Iterator[BinaryIO]:
    """Yield a binary file; on clean exit it replaces ``path`` atomically.

    A symbolic link is followed (its target is replaced, the link stays a link) only when :func:`resolve_output`
    trusts every link on the way.

    ``private``: for the workbench's own records in its private folders (a job's ``job.json``, ``status.json`` …):
    the file is 0600 whatever the umask, and ``path`` itself is replaced whatever is there — a symlink or FIFO
    planted in its place is replaced, never followed or written through (links on the way to its folder are
    checked as above).

    Raises:
        StorageError: the folder cannot be created or written, the disk is full, or a link on the way could have
            been planted by another user.
    """
    # SIGXFSZ would kill us outright when RLIMIT_FSIZE is hit; ignoring it turns it into EFBIG.
    with contextlib.suppress(ValueError, OSError):
        if hasattr(signal, "SIGXFSZ"):
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    if private:
        target = resolve_output(Path(path).parent) / Path(path).name
        special = None
    else:
        target = resolve_output(path)
        # A device, FIFO or socket is written through, never replaced by a regular file: a rename over /dev/null
        # as root would destroy it.
        special = _special_file(Path(path), target)
    if special is not None:
        try:
            # No O_CREAT / O_TRUNC: if the path was swapped for a link to a regular file since the stat above, opening
            # it changes nothing, and fstat tells us.
            fd = os.open(special, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
        except OSError as exc:
            raise _explain(Path(path), exc) from None
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise StorageError(
                f"cannot write {path}: it turned from a device or pipe into a regular file while it was being opened",
                hint="check who else writes in that folder, then run again",
            )
        try:
            with os.fdopen(fd, "wb") as fh:
                yield fh
                fh.flush()
        except OSError as exc:
            raise _explain(Path(path), exc) from None
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


def sweep_dead_work_dirs(folder: Path, prefix: str) -> None:
    """Remove ``<prefix><pid>-*`` work folders in ``folder`` whose process is gone (killed mid-build or
    mid-quantization: they hold partial artifacts or model copies). A folder of a live process (another build running
    now, ours or another user's) is left alone; so is one whose name holds no pid."""
    import shutil

    for d in Path(folder).glob(prefix + "*-*"):
        pid_text = d.name[len(prefix) :].split("-")[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except OSError:  # EPERM: alive, owned by someone else
            continue
