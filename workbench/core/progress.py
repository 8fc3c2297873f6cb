"""Progress events of long work (prepare, calibrate, build, bench, store, sweep), one typed record both faces show.

The core never prints: each step reports through ``on_progress(Progress)``; the CLI writes lines on stderr, the
TUI posts one message per job kind. A detached job's process writes the same records to its folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """``step``: import | profile | calibrate | convert | build | accuracy | bench | store | sweep.
    ``done``/``total``: a count when the step has one (calibration samples, build phases, repeats)."""

    step: str
    message: str
    done: int | None = None
    total: int | None = None


ProgressFn = Callable[[Progress], None]


def no_progress(_: Progress) -> None:
    """The default ``on_progress``: report nothing."""
    return None
