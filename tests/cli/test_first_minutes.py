"""The CLI's first minutes, through the real `workbench` command: a mistyped option or command gets a "did you mean";
checks that used to fail after calibration and build (--telemetry, --export-times, a corrupt results database) fail
before them with one error and README's exit status; progress lines give the query count when one was given."""

from __future__ import annotations

from pathlib import Path

import pytest


def _nothing_ran(res, home: Path) -> None:
    assert "[calibrate]" not in res.stderr and "[build]" not in res.stderr and "[bench]" not in res.stderr
    assert not (home / "cache" / "calibration").exists()
    assert not (home / "cache" / "artifacts").exists()
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["bench", "--precison", "int8"], "--precison -> did you mean --precision?"),
        (["bench", "--precison=int8"], "--precison -> did you mean --precision?"),
        (["calibrate", "--methd", "entropy"], "did you mean --method?"),
        (["results", "compare", "1", "2", "--formt", "md"], "did you mean --format?"),
        (["bnech"], "did you mean 'bench'?"),
        (["results", "comapre", "1", "2"], "did you mean 'compare'?"),
        (["bench", "--precision", "int9"], "did you mean 'int8'?"),
    ],
)
def test_a_mistyped_option_or_command_gets_did_you_mean(run_cli, args, hint):
    res = run_cli(*args, timeout=60)
    assert res.returncode == 2
    assert hint in res.stderr
    assert res.stdout == ""


@pytest.mark.parametrize("mode", [[], ["--foreground"]])
def test_bad_telemetry_fails_before_calibration_and_build(run_cli, workbench_home, mode):
    """As a job (checked before it starts) and in the foreground (checked by the workflow before it calibrates)."""
    res = run_cli("bench", "--precision", "int8", "--telemetry", "bogus", *mode, timeout=120)
    assert res.returncode == 2, res.stderr
    assert "error: unknown telemetry source 'bogus'" in res.stderr and "hint: choose one of: auto" in res.stderr
    _nothing_ran(res, workbench_home)
    res = run_cli("run", "--telemetry", "replay:/nonexistent/t.log", *mode, timeout=120)
    assert res.returncode == 12, res.stderr
    assert "replay file /nonexistent/t.log does not exist" in res.stderr
    _nothing_ran(res, workbench_home)


@pytest.mark.parametrize("mode", [[], ["--foreground"]])
def test_an_export_times_path_that_cannot_be_written_fails_first(run_cli, workbench_home, tmp_path, mode):
    in_the_way = tmp_path / "afile"
    in_the_way.write_text("x")
    res = run_cli("bench", "--precision", "int8", "--export-times", f"{in_the_way}/t.json", *mode, timeout=120)
    assert res.returncode == 11, res.stderr
    assert f"{in_the_way} is a file, not a folder" in res.stderr
    _nothing_ran(res, workbench_home)
    # /proc takes no new files, not even from root (permission bits would not say so)
    res = run_cli("bench", "--precision", "int8", "--export-times", "/proc/wb-times.json", *mode, timeout=120)
    assert res.returncode == 11, res.stderr
    assert "error: --export-times /proc/wb-times.json: cannot write in /proc" in res.stderr
    _nothing_ran(res, workbench_home)


@pytest.mark.parametrize("mode", [[], ["--foreground"]])
def test_a_corrupt_results_database_fails_before_calibration(run_cli, workbench_home, mode):
    db = workbench_home / "data" / "results.sqlite3"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"not a database, just bytes " * 40)
    res = run_cli("bench", "--precision", "int8", *mode, timeout=120)
    assert res.returncode == 10, res.stderr
    assert f"results database {db} is corrupt or not a SQLite file" in res.stderr
    assert "hint: move it aside" in res.stderr
    _nothing_ran(res, workbench_home)
    # --no-store does not need the database: it runs
    res = run_cli("bench", "--no-store", "--iterations", "50", "--warmup-iterations", "5", *mode, timeout=300)
    assert res.returncode == 0, res.stderr


def test_progress_says_queries_when_a_count_was_given(run_cli):
    res = run_cli("bench", "--iterations", "120", "--warmup-iterations", "5", "--no-store", "--foreground", timeout=300)
    assert res.returncode == 0, res.stderr
    assert "[bench] benchmarking fp32 (exactly 120 queries)" in res.stderr
    res = run_cli(
        "bench", "--scenario", "server", "--qps", "400", "--queries", "60", "--no-store", "--foreground", timeout=300
    )
    assert res.returncode == 0, res.stderr
    assert "[bench] benchmarking fp32 (60 queries at 400 QPS)" in res.stderr
    assert "at least" not in res.stderr
