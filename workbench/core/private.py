"""Folders and files private to the user running the workbench (issue 18: untrusted models on shared boards).

A private folder is 0700 and a private file 0600, both owned by this process's effective uid: another user of the
board can neither read a job's command line and output nor plant files in its folder. Records inside private
folders are written with ``fsutil.write_text_atomic(..., private=True)`` (0600, never following a planted link)
or appended through :func:`open_private_append`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from workbench.core.errors import StorageError
from workbench.core.fsutil import storage_error

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def ensure_private_dir(path: str | os.PathLike[str], what: str) -> Path:
    """Create ``path`` as a 0700 folder (its missing parents with the usual modes), or tighten an existing folder of
    ours to 0700. ``what`` names it in errors (e.g. ``"jobs folder"``).

    Raises:
        StorageError: it cannot be created, is not a folder, or belongs to another user.
    """
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(p, FOLDER_MODE)
        except FileExistsError:
            pass
        st = os.stat(p)
        if not stat.S_ISDIR(st.st_mode):
            raise StorageError(f"{what} {p} is not a folder", hint="remove it; the workbench makes the folder")
        if st.st_uid != os.geteuid():
            raise StorageError(
                f"{what} {p} belongs to uid {st.st_uid}, not to you (uid {os.geteuid()})",
                hint="another user's folder must not hold your files: set WORKBENCH_HOME to a folder of yours",
            )
        if stat.S_IMODE(st.st_mode) != FOLDER_MODE:
            os.chmod(p, FOLDER_MODE)  # the umask may have left group/other bits, or an older version made it 0755
    except OSError as exc:
        raise storage_error(p, exc) or StorageError(f"cannot create {what} {p}: {exc.strerror or exc}") from None
    return p


def make_private_dir(path: str | os.PathLike[str]) -> Path:
    """Create the new folder ``path`` (0700; its parent must exist). Raises FileExistsError when it exists (a new
    record never reuses a folder), StorageError when it cannot be created."""
    p = Path(path)
    try:
        os.mkdir(p, FOLDER_MODE)
        os.chmod(p, FOLDER_MODE)  # a umask such as 0o277 would have taken the owner's bits
    except FileExistsError:
        raise
    except OSError as exc:
        raise storage_error(p, exc) or StorageError(f"cannot create {p}: {exc.strerror or exc}") from None
    return p


def open_private_append(path: str | os.PathLike[str], *, exclusive: bool = False) -> int:
    """A file descriptor appending to ``path``, created 0600; a symlink in its place is refused (ELOOP), never
    followed. ``exclusive``: the file must not exist yet (O_EXCL). Raises OSError."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    if exclusive:
        flags |= os.O_EXCL
    return os.open(path, flags, FILE_MODE)


def unsafe_reason(st: os.stat_result) -> str | None:
    """Why a folder or file (its ``lstat``/``fstat``) may not be trusted by this process, or None when it may:
    a symbolic link, owned by another uid, or writable by group or others."""
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link"
    if st.st_uid != os.geteuid():
        return f"belongs to uid {st.st_uid}, not to this process (uid {os.geteuid()})"
    writers = [who for bit, who in ((stat.S_IWGRP, "its group"), (stat.S_IWOTH, "others")) if st.st_mode & bit]
    if writers:
        return f"is writable by {' and '.join(writers)} (mode {stat.S_IMODE(st.st_mode):04o})"
    return None


def replace_in_folder(folder: str | os.PathLike[str], name: str, data: bytes) -> None:
    """Atomically replace the file ``name`` in ``folder`` with ``data`` (0600), through a descriptor of the folder
    opened without following a link: for a folder we may not trust (a job folder the runner refused), so that a
    folder swapped for a symbolic link, or a link planted as ``name``, never sends the write anywhere else.

    Raises:
        OSError: the folder is a link, is gone, or refuses the write.
    """
    dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        tmp = f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE, dir_fd=dfd)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except OSError:
            os.unlink(tmp, dir_fd=dfd)
            raise
    finally:
        os.close(dfd)
