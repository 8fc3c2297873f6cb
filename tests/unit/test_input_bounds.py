"""Inputs from untrusted files are bounded before they are read (issue 18): ``.npz`` members the model does not
use are never inflated, and an array whose header declares more than the memory budget is refused unread."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

from workbench.core.errors import DatasetError
from workbench.core.precision.datasets import InputSpec, open_dataset

REPO = Path(__file__).resolve().parents[2]
IMG = (InputSpec("image", "float32", ("N", 1, 8, 8)),)
JUNK_BYTES = 512 << 20  # inflated size of the unused member: far above the peak growth allowed below


def _member(zf: zipfile.ZipFile, key: str, shape: tuple[int, ...], dtype: str, data_bytes: int | None = None) -> None:
    """Write ``key.npy`` into ``zf``: an .npy header declaring ``shape``/``dtype``, then ``data_bytes`` zero bytes
    (default: what the header declares), streamed in 1 MiB blocks so the test never holds the array."""
    with zf.open(f"{key}.npy", "w", force_zip64=True) as f:
        descr = np.lib.format.dtype_to_descr(np.dtype(dtype))
        np.lib.format.write_array_header_1_0(f, {"descr": descr, "fortran_order": False, "shape": shape})
        left = int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize if data_bytes is None else data_bytes
        block = bytes(1 << 20)
        while left > 0:
            f.write(block[: min(left, len(block))])
            left -= len(block)


def _npz_with_junk(path: Path, image: np.ndarray) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open("image.npy", "w") as f:
            np.lib.format.write_array(f, image, allow_pickle=False)
        _member(zf, "junk", (JUNK_BYTES,), "uint8")


def test_unused_npz_key_is_never_inflated(tmp_path):
    folder = tmp_path / "calib"
    folder.mkdir()
    image = np.arange(64, dtype=np.float32).reshape(1, 1, 8, 8)
    _npz_with_junk(folder / "s0.npz", image)
    assert (folder / "s0.npz").stat().st_size < 8 << 20  # a few MB on disk, 512 MiB inflated
    probe = textwrap.dedent(
        f"""
        import json, resource
        import numpy as np
        from workbench.core.precision.datasets import InputSpec, open_dataset
        spec = (InputSpec("image", "float32", ("N", 1, 8, 8)),)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        ds = open_dataset({str(folder)!r}, spec)
        feeds = list(ds.iter_feeds())
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({{"grew_kib": after - before, "count": len(feeds), "keys": sorted(feeds[0]),
                          "sum": float(feeds[0]["image"].sum()), "shape": list(feeds[0]["image"].shape)}}))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["count"] == 1 and got["keys"] == ["image"] and got["shape"] == [1, 1, 8, 8]
    assert got["sum"] == float(image.sum())  # the real key is read, values intact
    assert got["grew_kib"] < 64 << 10, got  # peak RSS grew < 64 MiB while the junk member inflates to 512 MiB


def _huge_image_npz(path: Path) -> None:
    # Declares 2**40 x 1 x 8 x 8 float32 = 256 TiB; holds 4 KiB of data.
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        _member(zf, "image", (1 << 40, 1, 8, 8), "float32", data_bytes=4096)


def test_huge_used_key_is_refused_at_open_naming_file_and_key(tmp_path):
    folder = tmp_path / "calib"
    folder.mkdir()
    _huge_image_npz(folder / "big.npz")
    with pytest.raises(DatasetError) as ei:
        open_dataset(folder, IMG)
    msg = str(ei.value)
    assert "big.npz" in msg and "'image'" in msg and "256.0 TiB" in msg and "not read" in msg
    assert "of memory available" in msg


def test_huge_used_key_written_after_open_is_refused_unread(tmp_path):
    folder = tmp_path / "calib"
    folder.mkdir()
    np.savez(folder / "s0.npz", image=np.ones((1, 1, 8, 8), np.float32))
    ds = open_dataset(folder, IMG)
    _huge_image_npz(folder / "s0.npz")  # swapped between the header check and the calibration pass
    with pytest.raises(DatasetError, match=r"s0\.npz: array 'image' declares shape \[1099511627776, 1, 8, 8\]"):
        next(ds.iter_feeds())


def test_huge_npy_is_refused_at_open(tmp_path):
    folder = tmp_path / "calib"
    folder.mkdir()
    with open(folder / "big.npy", "wb") as f:
        descr = np.lib.format.dtype_to_descr(np.dtype("float32"))
        np.lib.format.write_array_header_1_0(f, {"descr": descr, "fortran_order": False, "shape": (1 << 40, 1, 8, 8)})
        f.write(bytes(4096))
    with pytest.raises(DatasetError, match=r"big\.npy: array 'image' declares .* it was not read"):
        open_dataset(folder, IMG)


def test_random_feeds_are_drawn_in_the_input_dtype_without_a_float64_copy():
    import tracemalloc

    from workbench.core.bench.inputs import random_feeds

    meta = [("x", "float32", ("batch", 1024, 1024)), ("ids", "int32", ("batch", 1024))]
    tracemalloc.start()
    try:
        feeds = random_feeds(meta, 2, {}, 0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert feeds["x"].dtype == np.float32 and feeds["x"].shape == (2, 1024, 1024)
    assert feeds["ids"].dtype == np.int32 and 0 <= feeds["ids"].min() and feeds["ids"].max() < 100
    assert abs(float(feeds["x"].mean())) < 0.01 and 0.99 < float(feeds["x"].std()) < 1.01  # still standard normal
    want = 2 * 1024 * 1024 * 4 + 2 * 1024 * 4
    assert peak < want * 1.25, (peak, want)  # a float64 draw then a cast peaks at 3x the float32 feed


def test_random_feeds_refuse_a_size_beyond_memory_before_allocating():
    from workbench.core.bench.inputs import random_feeds
    from workbench.core.errors import UsageError

    with pytest.raises(UsageError, match=r"input 'x' 1000000000000x1024 float32 = 3\.6 PiB.*of memory available"):
        random_feeds([("x", "float32", ("batch", 1024))], 10**12, {}, 0)


# ---------------------------------------------------------------------------------------------- logs


def _rchar() -> int:
    """Bytes this process has read through read(2) and friends (Linux /proc/self/io)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


needs_proc_io = pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux /proc/self/io")


@needs_proc_io
def test_trtexec_import_refuses_a_300_mb_file_without_reading_it(tmp_path):
    from workbench.core.errors import ResultsError
    from workbench.core.results.trtexec_import import import_trtexec

    big = tmp_path / "big.log"
    with open(big, "wb") as f:
        f.truncate(300 << 20)  # sparse: no disk used
    before = _rchar()
    with pytest.raises(ResultsError) as ei:
        import_trtexec(big)
    assert _rchar() - before < 1 << 20  # refused from its size: not read
    assert str(ei.value) == f"{big} is 300 MiB, larger than any trtexec log (at most 64 MiB are read); nothing was read"


@needs_proc_io
def test_trtexec_import_of_an_endless_stream_stops_at_the_cap():
    from workbench.core.errors import ResultsError
    from workbench.core.results.trtexec_import import MAX_LOG_BYTES, import_trtexec

    before = _rchar()
    with pytest.raises(ResultsError, match=r"/dev/zero: more than 64 MiB read, larger than any trtexec log; stopped"):
        import_trtexec("/dev/zero")
    assert _rchar() - before < MAX_LOG_BYTES + (1 << 20)


def _best_of(n: int, fn, *, reps: int = 1) -> float:
    """The shortest of ``n`` timings of ``reps`` calls of ``fn``, in CPU seconds of this thread (``thread_time``: the
    time a CPU hog beside the test takes from it is not counted); ``reps`` makes each timing milliseconds long."""
    import time

    best = float("inf")
    for _ in range(n):
        t = time.thread_time()
        for _ in range(reps):
            fn()
        best = min(best, time.thread_time() - t)
    return best


def test_trtexec_patterns_are_linear_in_the_line():
    from workbench.core.errors import ResultsError
    from workbench.core.results.trtexec_import import parse_trtexec_log

    def blanks(n: int) -> str:  # "min" then blanks and no number: \s*=?\s* backtracked over them quadratically
        return "Latency: min" + " " * n + "x\n"

    def dollars(n: int) -> str:  # every "$" starts a rescan of the word for "\S*/trtexec"
        return "Latency: " + "$/" * (n // 2) + "\n"

    for make in (blanks, dollars):

        def run(n: int, make=make) -> None:
            with pytest.raises(ResultsError, match="no performance summary found"):
                parse_trtexec_log(make(n))

        small = _best_of(5, lambda: run(3000), reps=10)  # noqa: B023
        large = _best_of(5, lambda: run(12000), reps=10)  # noqa: B023
        assert large / max(small, 1e-3) < 8, (make.__name__, small, large)  # quadratic: ~16


def test_tegrastats_repeated_rails_parse_in_linear_time_and_keep_their_names():
    from workbench.core.telemetry.tegrastats import parse_line

    def line(n: int) -> str:
        return "RAM 100/200MB " + " ".join(f"NC {k}mW/{k}mW" for k in range(n)) + " VDD_IN 5000mW/5000mW"

    s = parse_line(line(5))
    assert list(s.rails_mw) == ["NC", "NC#2", "NC#3", "NC#4", "NC#5", "VDD_IN"]
    assert s.rails_mw["NC#3"].now_mw == 2.0 and s.total_power_mw == 5000.0
    big = parse_line(line(8000))
    assert len(big.rails_mw) == 8001 and big.rails_mw["NC#8000"].now_mw == 7999.0
    small_t = _best_of(5, lambda: parse_line(line(2000)))
    large_t = _best_of(5, lambda: parse_line(line(8000)))
    assert large_t / small_t < 8, (small_t, large_t)  # probing NAME#2, NAME#3 … per repeat was ~16


@needs_proc_io
def test_tegrastats_and_replay_files_are_read_within_the_log_caps(tmp_path):
    # parse_file and the replay source read the whole file: a 300 MB file (or /dev/zero) was held in memory
    from workbench.core.errors import TelemetryError
    from workbench.core.telemetry.replay import ReplaySource
    from workbench.core.telemetry.tegrastats import MAX_LOG_BYTES, parse_file

    big = tmp_path / "big.log"
    with open(big, "wb") as f:
        f.truncate(300 << 20)
    before = _rchar()
    with pytest.raises(TelemetryError, match=r"big.log is 300 MiB, larger than any tegrastats log \(at most 256 MiB"):
        parse_file(big)
    with pytest.raises(TelemetryError, match=r"big.log is 300 MiB, larger than any replay file"):
        ReplaySource(big)
    assert _rchar() - before < 1 << 20
    before = _rchar()
    with pytest.raises(TelemetryError, match=r"/dev/zero: more than 256 MiB read, larger than any tegrastats log"):
        parse_file(Path("/dev/zero"))
    assert _rchar() - before < MAX_LOG_BYTES + (1 << 20)


def test_real_tegrastats_logs_still_parse_through_the_bounded_reader():
    from workbench.core.telemetry.tegrastats import data_lines, parse_file, parse_line

    logs = sorted((Path(__file__).parents[1] / "fixtures" / "tegrastats").glob("*.log"))
    assert len(logs) > 5
    for log in logs:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()  # what parse_file read before
        want = [parse_line(s, seq=k) for k, (_, s) in enumerate(data_lines(lines))]
        assert parse_file(log) == want, log
