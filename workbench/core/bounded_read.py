"""Read a user-named text file line by line within stated bounds: a size cap checked before reading (regular files)
and while reading (pipes, devices), and a line-length cap past which a line is skipped unread rather than kept.

Used where a parser's input is a file anyone can hand us (``results import-trtexec``): memory and parse time stay
proportional to the caps, not to the file.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from workbench.core.errors import WorkbenchError

_BLOCK = 1 << 16  # bytes read at a time while skipping the rest of an over-long line


@dataclass(frozen=True)
class BoundedLines:
    """The lines of a file (decoded UTF-8, invalid bytes replaced, line ends stripped) and what was skipped.

    Attributes:
        lines: the kept lines, in file order (split as ``str.splitlines`` splits); an over-long line is kept as
            ``""`` so line numbers stay true.
        long_lines: 1-based numbers of the lines longer than the line cap (skipped unread past the cap).
        bytes_read: bytes read from the file.
    """

    lines: tuple[str, ...]
    long_lines: tuple[int, ...]
    bytes_read: int


def _human(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB" if n >= 1 << 20 else f"{n / 1024:.0f} KiB"


def read_lines(
    path: str | os.PathLike[str], *, max_bytes: int, max_line: int, what: str, error: type[WorkbenchError]
) -> BoundedLines:
    """Read ``path`` within ``max_bytes`` (bytes, whole file) and ``max_line`` (bytes per line).

    Args:
        what: how messages name the file ("trtexec log").
        error: the WorkbenchError subclass raised (ResultsError, TelemetryError …).

    Raises:
        ``error``: unreadable file; a regular file larger than ``max_bytes`` (refused from its size, before any
            read); any other file (pipe, device) once more than ``max_bytes`` were read. The message names the
            file, its size and the cap.
    """
    p = Path(path)
    try:
        fh = open(p, "rb")  # noqa: SIM115 - closed below; fstat first
    except OSError as exc:
        raise error(f"cannot read {what} {p}: {exc.strerror or exc}") from None
    with fh:
        st = os.fstat(fh.fileno())
        if stat.S_ISDIR(st.st_mode):
            raise error(f"{what} {p} is a folder", hint="give the log file itself")
        if stat.S_ISREG(st.st_mode) and st.st_size > max_bytes:
            raise error(
                f"{p} is {_human(st.st_size)}, larger than any {what} (at most {_human(max_bytes)} are read); "
                "nothing was read",
                hint=f"give the {what} itself, or the part of it to import",
            )
        lines: list[str] = []
        long_lines: list[int] = []
        total = 0
        try:
            while True:
                raw = fh.readline(max_line + 1)
                if not raw:
                    break
                total += len(raw)
                if len(raw) > max_line and not raw.endswith(b"\n"):
                    long_lines.append(len(lines) + 1)
                    lines.append("")
                    while raw and not raw.endswith(b"\n"):  # skip the rest of the line, a block at a time
                        raw = fh.readline(_BLOCK)
                        total += len(raw)
                        if total > max_bytes:
                            break
                else:  # str.splitlines: "\r\n", and the other line breaks a paste may hold, as the text parsers split
                    lines.extend(raw.decode("utf-8", errors="replace").splitlines() or [""])
                if total > max_bytes:
                    raise error(
                        f"{p}: more than {_human(max_bytes)} read, larger than any {what}; stopped",
                        hint=f"give the {what} itself, or the part of it to import",
                    )
        except OSError as exc:
            raise error(f"cannot read {what} {p}: {exc.strerror or exc}") from None
    return BoundedLines(tuple(lines), tuple(long_lines), total)
