"""A detached job's events log is bounded in how fast it grows, and a face replays it in pieces (issue 19)."""

from __future__ import annotations

import io
from pathlib import Path

from workbench.core import jobs
from workbench.core.bench import events as ev
from workbench.core.bench.event_log import EventLog, thin
from workbench.core.live import LiveLatency


def _batch(seq: int, n: int = 1000) -> ev.Samples:
    lat = [30_000 + (i * 37) % 500 for i in range(n)]
    lat[n // 3] = 9_000_000  # one spike
    return ev.Samples(seq, lat, 100.0 + seq * 0.05)


def test_thin_keeps_order_the_slowest_and_the_count():
    b = _batch(0)
    t = thin(b, keep=64)
    assert len(t.latencies_ns) == 64 and t.count == 1000 and t.seq == 0
    assert t.latencies_ns[:63] == [b.latencies_ns[int(i * 1000 / 63)] for i in range(63)]
    assert t.latencies_ns[-1] == 9_000_000  # the spike stays visible
    small = _batch(1, n=10)
    assert thin(small, keep=64) is small


def test_the_log_is_written_in_full_then_thinned_and_every_seq_stays():
    buf = io.BytesIO()
    log = EventLog(buf, full_detail_bytes=50_000)
    log.write(ev.TimedStart(100.0))
    for seq in range(400):
        log.write(_batch(seq))
    log.write(ev.TimedEnd(120.0, 20 * 10**9, 400_000, 400))
    lines = [ev.decode(line) for line in buf.getvalue().splitlines()]
    samples = [e for e in lines if isinstance(e, ev.Samples)]
    assert [s.seq for s in samples] == list(range(400))  # nothing lost: every batch is there
    full = [s for s in samples if s.count is None]
    thinned = [s for s in samples if s.count is not None]
    assert full and thinned and all(len(s.latencies_ns) == 1000 for s in full)
    assert all(len(s.latencies_ns) == 64 and s.count == 1000 for s in thinned)
    # growth past the cap: ~64 latencies a batch instead of 1000 (about 14x less here)
    per_full = len(ev.encode(full[0]))
    per_thin = len(ev.encode(thinned[0]))
    assert per_thin * 10 < per_full
    assert isinstance(lines[-1], ev.TimedEnd) and log.written == len(buf.getvalue())


def test_a_replayed_thinned_log_counts_every_query():
    live = LiveLatency(clock=lambda: 200.0)
    live.feed(ev.TimedStart(100.0))
    for seq in range(10):
        live.feed(thin(_batch(seq)))
    assert live.snapshot().iterations == 10_000


def _job(tmp_path: Path) -> jobs.Job:
    return jobs.Job("20261203-000000-abcdef", tmp_path, ("bench",), None, "", "/")


def test_read_events_replays_a_big_log_in_pieces(tmp_path):
    path = tmp_path / "events.jsonl"
    with open(path, "wb") as fh:
        for seq in range(300):
            fh.write(ev.encode(_batch(seq)))
        fh.write(b'{"type":"Samples","seq":300,"latencies_ns":[1')  # a line still being written
    job, offset, got, calls = _job(tmp_path), 0, [], 0
    while True:
        new, nxt = jobs.read_events(job, offset, max_bytes=64 << 10)
        calls += 1
        if nxt == offset:
            break
        got.extend(new)
        offset = nxt
    assert [e.seq for e in got] == list(range(300)) and calls > 10  # in pieces, nothing lost or repeated
    assert offset == path.stat().st_size - len(b'{"type":"Samples","seq":300,"latencies_ns":[1')


def test_read_events_skips_a_line_longer_than_a_whole_read(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"x" * 5000 + b"\n" + ev.encode(ev.TimedStart(1.0)))
    job, offset, got = _job(tmp_path), 0, []
    for _ in range(100):
        new, nxt = jobs.read_events(job, offset, max_bytes=1000)
        if nxt == offset:
            break
        got.extend(new)
        offset = nxt
    assert got == [ev.TimedStart(1.0)] and offset == path.stat().st_size  # the long line skipped, no hang
