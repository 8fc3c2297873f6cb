"""The CLI's one output choke point: stdout and stderr that escape control characters on the way out.

Everything a command prints (its tables, a model's names, a stored result's paths, a job's command, an error that
quotes a file) goes through ``sys.stdout`` / ``sys.stderr``; while ``escaped_output()`` is active those are
``SafeStream`` wrappers that pass each written string through ``core/textsafe.block`` — newlines and tabs, our own
layout, are kept; ESC, BEL, CR, C1 controls and bidi overrides become visible escapes (``\\x1b``, ``\\u202e``).
JSON output is unchanged by it: ``json.dump`` with ``ensure_ascii`` (the default) writes no raw control character.

Fields whose newlines would break a table or a ``key  value`` line are escaped where they are formatted
(``textsafe.field``); this layer only guarantees that nothing raw reaches the terminal. Bytes written to
``.buffer`` bypass it: the only such writer, ``follow.py``, escapes what it copies itself.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TextIO

from workbench.core.textsafe import block


class SafeStream:
    """A text stream that escapes control characters (``textsafe.block``) in what is written and delegates
    everything else (``flush``, ``fileno``, ``isatty``, ``buffer``, ``encoding`` …) to the wrapped stream."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner

    @property
    def inner(self) -> TextIO:
        return self._inner

    def write(self, s: str) -> int:
        self._inner.write(block(s))
        return len(s)  # what the caller gave, as TextIO.write promises

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str):
        return getattr(self._inner, name)


@contextlib.contextmanager
def escaped_output() -> Iterator[None]:
    """Replace ``sys.stdout`` and ``sys.stderr`` with ``SafeStream`` wrappers for the block, then put back what was
    there (so ``main()`` called in-process — tests, the detached job's runner — leaves the streams as it found
    them). Not used by ``workbench tui``: Textual writes its own escape sequences."""
    old_out, old_err = sys.stdout, sys.stderr
    sys.stdout = SafeStream(old_out) if not isinstance(old_out, SafeStream) else old_out  # type: ignore[assignment]
    sys.stderr = SafeStream(old_err) if not isinstance(old_err, SafeStream) else old_err  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = old_out, old_err
