"""A detached job's events log (``events.jsonl``), bounded in how fast it grows.

A job writes every benchmark event to its folder so that a face can re-attach and replay the live stream (the TUI's
plots and rolling percentiles). Written whole, the ``Samples`` events cost 6–8 bytes per query: an hour of the
bundled model (about 33 000 queries/s) would leave about 0.8 GB on a board's eMMC and in a re-attaching face's
memory. So the first :data:`FULL_DETAIL_BYTES` are written as sent; after that each ``Samples`` event keeps at most
:data:`SAMPLE_PER_EVENT` of its latencies — evenly spaced in run order, plus the batch's slowest, so spikes stay
visible — and says how many queries it stood for in ``count``. At one event per ``flush_ms`` (50 ms by default) a
thinned event is about 480 bytes: about 33 MB an hour after the first 64 MiB (an hour of the bundled model: about
100 MB in all). Every other event, and every ``seq``, is written as sent (lost batches stay detectable).

Only the replay is thinned: the result's statistics come from the parent's own stream (bench/stream.py), never from
this file.
"""

from __future__ import annotations

import dataclasses
from typing import BinaryIO

from workbench.core.bench import events as ev

#: Bytes written in full before ``Samples`` events are thinned (64 MiB: about 5 minutes of the bundled model at full
#: speed, far longer for real models).
FULL_DETAIL_BYTES = 64 << 20
#: Latencies kept per ``Samples`` event once thinned (63 evenly spaced + the batch's slowest).
SAMPLE_PER_EVENT = 64


def thin(event: ev.Samples, keep: int = SAMPLE_PER_EVENT) -> ev.Samples:
    """``event`` with at most ``keep`` of its latencies (``keep - 1`` evenly spaced in run order, then the largest)
    and ``count`` = how many it had; unchanged when it has no more than ``keep``."""
    lat = list(event.latencies_ns)
    n = len(lat)
    if n <= keep:
        return event
    step = n / (keep - 1)
    sample = [lat[int(i * step)] for i in range(keep - 1)]
    sample.append(max(lat))
    return dataclasses.replace(event, latencies_ns=sample, count=event.count or n)


class EventLog:
    """Writes events to an open binary file (one JSON line each, flushed), thinning ``Samples`` past
    ``full_detail_bytes``. ``written`` is the bytes written so far."""

    def __init__(self, fh: BinaryIO, *, full_detail_bytes: int = FULL_DETAIL_BYTES) -> None:
        self._fh = fh
        self._full = full_detail_bytes
        self.written = 0

    def write(self, event: object) -> None:
        if isinstance(event, ev.Samples) and self.written >= self._full:
            event = thin(event)
        line = ev.encode(event)
        self._fh.write(line)
        self._fh.flush()
        self.written += len(line)

    def close(self) -> None:
        self._fh.close()
