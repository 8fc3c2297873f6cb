"""What `fleet setup` ships: this checkout's installable files and an optional wheelhouse, each as one archive whose
bytes depend only on the files' names, contents and executable bits (sorted entries, fixed times and owners, gzip
without a time stamp), so its SHA-256 says whether a host is up to date."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess
import tarfile
from pathlib import Path

from workbench.core.errors import StorageError, UsageError

#: The entries of the source archive: what install.sh needs to install the package (pyproject's ``readme`` is
#: README.md) and the package itself.
SOURCE_TOP = ("pyproject.toml", "README.md", "install.sh", "constraints.txt", "LICENSE")
SOURCE_PACKAGE = "workbench"

#: Entry time stamp: 2001-09-09 (any fixed time after 1980; wheels, being ZIP files, cannot hold earlier ones).
FIXED_MTIME = 1_000_000_000

#: What a wheelhouse may hold: wheels and source archives pip installs with ``--no-index --find-links``.
WHEELHOUSE_SUFFIXES = (".whl", ".tar.gz", ".zip")


def source_root() -> Path:
    """The checkout this workbench runs from (the folder holding ``workbench/`` and ``install.sh``).

    Raises:
        UsageError: this workbench is not a checkout (installed as a wheel: no install.sh next to it)."""
    import workbench

    root = Path(workbench.__file__).resolve().parent.parent
    missing = [n for n in ("pyproject.toml", "install.sh") if not (root / n).is_file()]
    if missing:
        raise UsageError(
            f"fleet setup installs from a checkout, but {root} has no {' or '.join(missing)}",
            hint="run `workbench fleet setup` from a git checkout of Edge Workbench (installed with ./install.sh)",
        )
    return root


def source_files(root: Path) -> list[str]:
    """The relative paths to ship, sorted: git's tracked and untracked-but-not-ignored files under
    :data:`SOURCE_PACKAGE` and the :data:`SOURCE_TOP` files (a checkout without git: every file there except
    ``__pycache__``)."""
    names: list[str] | None = None
    if (root / ".git").exists():
        try:
            out = subprocess.run(
                ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--",
                 SOURCE_PACKAGE, *SOURCE_TOP],
                capture_output=True, timeout=60, check=True, stdin=subprocess.DEVNULL,
            ).stdout  # fmt: skip
            names = [n for n in out.decode("utf-8", "surrogateescape").split("\0") if n]
        except (OSError, subprocess.SubprocessError):
            names = None
    if names is None:
        names = [n for n in SOURCE_TOP if (root / n).is_file()]
        for dirpath, dirnames, filenames in os.walk(root / SOURCE_PACKAGE):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            names += [os.path.relpath(os.path.join(dirpath, f), root) for f in filenames if not f.endswith(".pyc")]
    return sorted({n for n in names if (root / n).is_file() or (root / n).is_symlink()})


def _info(name: str, path: Path) -> tarfile.TarInfo:
    st = path.lstat()
    info = tarfile.TarInfo(name)
    info.mtime = FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if path.is_symlink():
        info.type = tarfile.SYMTYPE
        info.linkname = os.readlink(path)
        info.mode = 0o777
    else:
        info.size = st.st_size
        info.mode = 0o755 if st.st_mode & 0o111 else 0o644
    return info


def write_archive(root: Path, names: list[str], dest: Path, *, compress: bool) -> str:
    """Write the tar of ``names`` (relative to ``root``) to ``dest``; returns its SHA-256 (hex).

    Raises:
        StorageError: a file vanished or ``dest`` cannot be written."""
    digest = hashlib.sha256()
    try:
        with open(dest, "wb") as raw:
            sink: io.BufferedIOBase = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) if compress else raw
            with tarfile.open(fileobj=sink, mode="w", format=tarfile.GNU_FORMAT) as tar:
                for name in names:
                    path = root / name
                    info = _info(name, path)
                    if info.type == tarfile.SYMTYPE:
                        tar.addfile(info)
                    else:
                        with open(path, "rb") as f:
                            tar.addfile(info, f)
            if compress:
                sink.close()
        with open(dest, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise StorageError(
            f"{dest}: cannot write the fleet archive ({exc})",
            hint="free disk space where the archive is written, or check that folder's permissions",
        ) from None
    return digest.hexdigest()


def source_archive(dest: Path) -> str:
    """This checkout's installable files as ``dest`` (.tar.gz); returns its SHA-256. Raises as :func:`source_root`
    and :func:`write_archive`."""
    root = source_root()
    return write_archive(root, source_files(root), dest, compress=True)


def wheelhouse_archive(folder: str | os.PathLike[str], dest: Path) -> str:
    """The wheels (and source archives) directly in ``folder`` as the plain tar ``dest`` (wheels are compressed
    already); returns its SHA-256.

    Raises:
        UsageError: ``folder`` is not a folder or holds no wheel."""
    src = Path(folder)
    if not src.is_dir():
        raise UsageError(f"--wheelhouse {src}: not a folder", hint="pass a folder of wheels (pip download -d DIR ...)")
    names = sorted(p.name for p in src.iterdir() if p.is_file() and p.name.endswith(WHEELHOUSE_SUFFIXES))
    if not any(n.endswith(".whl") for n in names):
        raise UsageError(
            f"--wheelhouse {src}: no .whl file there",
            hint="fill it for the hosts' platform, e.g. pip download -c constraints.txt -d DIR "
            "--platform manylinux2014_aarch64 --python-version 3.10 --only-binary=:all: <the dependencies> "
            "setuptools wheel",
        )
    return write_archive(src, names, dest, compress=False)
