"""Oversized requests are refused by the real CLI before any work (issue 18): a benchmark whose --shapes would not
fit in memory stops before calibration."""

from __future__ import annotations

import time


def test_bench_with_huge_shapes_is_refused_before_calibration(run_cli, workbench_home):
    t0 = time.monotonic()
    res = run_cli(
        "bench", "--precision", "int8", "--calib", "calib/digits", "--shapes", "image:4000000000x1x8x8", "--no-store"
    )
    took = time.monotonic() - t0
    assert res.returncode == 2, res.stderr
    assert "953.7 GiB" in res.stderr and "4000000000x1x8x8 float32" in res.stderr, res.stderr
    assert "of memory available" in res.stderr and "nothing was run" in res.stderr
    assert "Traceback" not in res.stderr
    # the old code calibrated (cache/calibration/...), built and ran the accuracy pass before failing in the child
    assert not (workbench_home / "cache" / "calibration").exists()
    assert not (workbench_home / "cache" / "artifacts").exists()
    assert "[calibrate]" not in res.stdout + res.stderr and "[build]" not in res.stdout + res.stderr
    assert took < 120  # generous: the refusal needs only the model's header; the old path calibrated first


def test_bench_with_a_huge_batch_of_real_samples_is_refused_before_calibration(run_cli, workbench_home):
    res = run_cli(
        "bench",
        "--precision",
        "int8",
        "--calib",
        "calib/digits",
        "--inputs",
        "calib/digits",
        "--batch",
        "10000000000",
    )
    assert res.returncode == 2, res.stderr
    # 10^10 samples of 1x8x8 float32 (256 B each) = 2.3 TiB
    assert "--batch 10000000000 stacks the samples of" in res.stderr and "2.3 TiB" in res.stderr, res.stderr
    assert "of memory available" in res.stderr and "Traceback" not in res.stderr
    assert not (workbench_home / "cache" / "calibration").exists()


def test_import_trtexec_refuses_a_300_mb_non_log_at_once(run_cli, tmp_path):
    big = tmp_path / "capture.bin"
    with open(big, "wb") as f:
        f.truncate(300 << 20)  # sparse
    t0 = time.monotonic()
    res = run_cli("results", "import-trtexec", str(big), timeout=120)
    took = time.monotonic() - t0
    assert res.returncode != 0 and res.stdout == ""
    assert f"error: {big} is 300 MiB, larger than any trtexec log (at most 64 MiB are read)" in res.stderr
    assert "Traceback" not in res.stderr
    assert took < 60  # generous (a CPU hog beside it): nothing is read


def test_import_trtexec_refuses_a_10_mb_line_without_markers_at_once(run_cli, tmp_path):
    log = tmp_path / "one-line.log"
    log.write_text("$/" * (5 << 20))  # 10 MiB, one line: the old command pattern rescanned it from every "$"
    res = run_cli("results", "import-trtexec", str(log), timeout=60)
    assert res.returncode != 0, res.stderr
    assert f"{log}: no performance summary found" in res.stderr
    assert "1 line(s) longer than 16 KiB skipped: line 1" in res.stderr


def test_scenarios_with_huge_batches_are_refused_before_calibration(run_cli, workbench_home):
    # the offline sweep doubled its batch up to --max-batch (24 GB, then the OOM killer). (A huge server --queries
    # no longer needs memory: arrivals are drawn one at a time and latencies are kept bounded, bench/stream.py.)
    int8 = ("--precision", "int8", "--calib", "calib/digits", "--foreground", "--no-store")
    cases = [
        (
            ("--scenario", "offline", "--max-batch", "1000000000"),
            "1000000000x1x8x8 float32",
            "use a smaller --max-batch",
        ),
        (("--scenario", "multi-stream", "--samples-per-query", "1000000000"), "238.4 GiB", "--samples-per-query"),
    ]
    for args, named, hint in cases:
        res = run_cli("bench", *int8, *args)
        assert res.returncode == 2, (args, res.stderr)
        assert named in res.stderr and hint in res.stderr and "nothing was run" in res.stderr, res.stderr
        assert "Traceback" not in res.stderr and "internal error" not in res.stderr
    assert not (workbench_home / "cache" / "calibration").exists()
    assert not (workbench_home / "cache" / "artifacts").exists()
