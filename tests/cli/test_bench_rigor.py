"""--until-stable on the bundled model stops by itself and reports its interval and verdict (issue 8, item 2)."""

import json


def test_until_stable_stops_and_reports(run_cli):
    res = run_cli(
        "bench",
        "--until-stable",
        "--target",
        "p99",
        "--rel-width",
        "0.05",
        "--max-duration",
        "40",
        "--warmup-ms",
        "50",
        "--json",
        "--no-store",
    )
    assert res.returncode == 0, res.stderr
    entry = json.loads(res.stdout)
    us = entry["until_stable"]
    assert us["target"] == "p99" and us["rel_width"] == 0.05
    lo, hi = entry["latency_ms"]["ci95"]["p99"]
    assert lo <= entry["latency_ms"]["p99"] <= hi
    assert us["interval_ms"] == [lo, hi]
    if us["reached"]:
        assert us["rel_half_width"] <= 0.05
        assert entry["stopped_by_parent"] is True
        assert entry["wall_s"] < 40
    else:  # a very noisy machine: it must say so, not pretend
        assert "not stable" in us["message"] and any("not stable" in w for w in entry["warnings"])
    assert entry["iterations"] >= 368  # a two-sided p99 interval needs at least 368 samples
    assert "latencies_ms" not in entry  # kept in the results DB, not printed


def test_json_carries_intervals_and_early_stopping(run_cli):
    res = run_cli("bench", "--iterations", "700", "--warmup-ms", "20", "--json", "--no-store")
    assert res.returncode == 0, res.stderr
    e = json.loads(res.stdout)
    ci = e["latency_ms"]["ci95"]
    assert set(ci) == {"p50", "p90", "p95", "p99", "p99_9"}
    assert ci["p99"][1] is not None and ci["p99_9"][1] is None  # 700 < 2995 samples for a p99.9 upper bound
    assert e["early_stopping"]["p99"]["value_ms"] is not None  # 700 >= 662
    assert e["early_stopping"]["p90"]["min_queries"] == 64
    assert e["peak_rss_mb"] > 10
