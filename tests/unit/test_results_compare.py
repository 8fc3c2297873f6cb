"""results compare: side-by-side rows, differing settings, ratio of medians with a bootstrap 95 % interval."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from workbench.core.errors import ResultsError
from workbench.core.results.compare import bootstrap_ratio, compare, differing_settings, ratio_verdict, render
from workbench.core.results.result import result_from_dict
from workbench.core.results.store import ResultStore


def entry(lat, *, precision="fp32", threads=4, **kw):
    """A typed result read from the JSON shape our benchmarks store (the dict edge is the point of entry)."""
    lat = [float(x) for x in lat]
    med = float(np.median(lat))
    e = {
        "precision": precision,
        "backend": "onnxruntime",
        "profile": "cpu-x86_64",
        "model": "m.onnx",
        "iterations": len(lat),
        "batch": 1,
        "latency_ms": {"median": med, "p50": med, "p99": float(np.percentile(lat, 99)), "std": float(np.std(lat))},
        "throughput_ips": 1000.0 / med,
        "settings": {"threads": threads, "seed": 0},
        "latencies_ms": lat,
    }
    e.update(kw)
    return result_from_dict(e)


def _runs(seed, n=3000, scale=1.0):
    rng = np.random.default_rng(seed)
    return list(scale * (1.0 + rng.lognormal(mean=-3.0, sigma=0.5, size=n)))


def test_same_settings_no_significant_difference():
    a, b = entry(_runs(1)), entry(_runs(2))
    rv = ratio_verdict(a, b, n_boot=1000)
    lo, hi = rv.ci95
    assert lo < 1.0 < hi and hi - lo < 0.01  # 3000 samples: a tight interval around 1
    assert rv.significant is False
    assert rv.verdict.startswith("no significant difference (median B/A = ")
    assert rv.method.startswith("bootstrap over the stored per-iteration latencies (1000 resamples, seed 0)")
    assert rv.n == (3000, 3000)


def test_twice_as_fast_is_significant_with_its_interval():
    a, b = entry(_runs(1)), entry(_runs(2, scale=0.5), precision="int8")
    rv = ratio_verdict(a, b, n_boot=1000)
    assert rv.ratio == pytest.approx(0.5, rel=0.01)
    lo, hi = rv.ci95
    assert lo < rv.ratio < hi < 1.0 and lo > 0.49
    assert rv.significant is True and rv.small is False
    assert "B faster (2.0" in rv.verdict


def test_bootstrap_point_estimate_and_reproducibility():
    ratio, lo, hi = bootstrap_ratio([1.0, 2.0, 3.0], [2.0, 4.0, 6.0], n_boot=200, seed=3)
    assert ratio == 2.0
    assert (ratio, lo, hi) == bootstrap_ratio([1.0, 2.0, 3.0], [2.0, 4.0, 6.0], n_boot=200, seed=3)
    assert 2 / 3 <= lo <= hi <= 6.0  # bounded by min(b)/max(a) .. max(b)/min(a)


def test_summary_statistics_fallback_says_so():
    a = result_from_dict({"latency_ms": {"median": 1.0, "std": 0.1}, "iterations": 100})
    b = result_from_dict({"latency_ms": {"median": 1.1, "std": 0.1}, "iterations": 100})
    rv = ratio_verdict(a, b)
    se = math.sqrt((1.2533 * 0.1 / 10 / 1.0) ** 2 + (1.2533 * 0.1 / 10 / 1.1) ** 2)  # 0.016937
    assert rv.ci95 == pytest.approx((1.1 * math.exp(-1.96 * se), 1.1 * math.exp(1.96 * se)))
    assert rv.ci95 == pytest.approx((1.0641, 1.1371), abs=1e-4)
    assert rv.significant is True
    assert rv.method.startswith("from summary statistics (no per-iteration latencies stored)")
    # A trtexec import has no std: a ratio without an interval, said plainly.
    c = result_from_dict({"latency_ms": {"median": 2.0}, "source": "trtexec import"})
    rv = ratio_verdict(a, c)
    assert rv.ratio == 2.0 and rv.ci95 is None and rv.significant is None
    assert rv.verdict == "median B/A = 2.0000 (B slower, 2.000x); significance unknown"


def test_table_rows_and_differing_settings():
    a = entry([1.0, 1.2, 1.1], threads=4, id=1, versions={"onnxruntime": "1.32.0"})
    b = entry([0.5, 0.6, 0.55], precision="int8", threads=8, id=2, versions={"onnxruntime": "1.32.0"})
    diffs = {d.setting: d.values for d in differing_settings([a, b])}
    # settings absent from the stored JSON read back as None on both sides, so only real differences remain
    assert diffs == {"precision": ("fp32", "int8"), "settings.threads": (4, 8)}
    doc = compare([a, b], n_boot=200)
    rows = {r.metric: r.values for r in doc.rows}
    assert rows["median ms"] == (1.1, 0.55)
    assert rows["throughput inf/s"] == pytest.approx((1000 / 1.1, 1000 / 0.55))
    assert "source" not in rows  # both ours
    md = render(doc, "md")
    assert md.splitlines()[0] == "| metric | #1 | #2 |"
    assert "| ≠ settings.threads | 4 | 8 |" in md
    assert "**Verdict**: A = #1, B = #2: " in md
    text = render(doc)
    assert text.splitlines()[0].split() == ["metric", "#1", "#2"]
    with pytest.raises(ResultsError, match="at least two"):
        compare([a])


def test_cli_results_compare(run_cli, workbench_home):
    from workbench.core import paths

    with ResultStore(paths.results_db_path()) as store:
        store.add(entry(_runs(1)))
        store.add(entry(_runs(2)))
        store.add(entry(_runs(3, scale=0.5), precision="int8"))
        store.add(result_from_dict({"source": "trtexec import", "label": "Nano", "precision": "fp16",
                                    "latency_ms": {"median": 40.6, "p99": 40.9}, "backend": "tensorrt"}))  # fmt: skip
    same = run_cli("results", "compare", "1", "2")
    assert same.returncode == 0, same.stderr
    assert "Verdict: A = #1, B = #2: no significant difference" in same.stdout
    assert "Settings: identical in all results." in same.stdout
    diff = json.loads(run_cli("results", "compare", "1", "3", "--format", "json").stdout)
    assert diff["ratio_of_medians"]["significant"] is True
    assert diff["differing_settings"] == [{"setting": "precision", "values": ["fp32", "int8"]}]
    three = run_cli("results", "compare", "1", "3", "4", "--format", "md").stdout
    assert "| metric | #1 | #3 | #4 (Nano) [imported] |" in three  # not a measurement of this machine: marked
    assert "| source | workbench | workbench | trtexec import |" in three
    assert "Verdict" not in three  # only for two results
    missing = run_cli("results", "compare", "1", "99")
    assert missing.returncode == 10 and "no result with id 99" in missing.stderr


def test_different_models_or_input_shapes_are_warned_about_not_for_fp32_vs_int8_of_one_model():
    from workbench.core.results.compare import verdict_lines

    sha_a, sha_b = "a" * 64, "b" * 64
    fp32 = entry(_runs(1), model_sha256=sha_a, input_shapes={"image": [1, 3, 224, 224]})
    int8 = entry(_runs(2, scale=0.5), precision="int8", model_sha256=sha_a, input_shapes={"image": [1, 3, 224, 224]})
    assert compare([fp32, int8], n_boot=200).warnings == ()

    other = entry(_runs(2, scale=0.5), model_sha256=sha_b, input_shapes={"image": [1, 3, 320, 320]})
    doc = compare([fp32, other], n_boot=200)
    assert doc.warnings == (
        "different model files (sha256 A aaaaaaaaaaaa, B bbbbbbbbbbbb): different networks, or one a quantized "
        "export of the other — the figures are not settings of one model",
        'different input shapes (A {"image": [1, 3, 224, 224]}; B {"image": [1, 3, 320, 320]}): latency is of a '
        "different workload (per batch)",
    )
    lines = verdict_lines(doc)
    assert lines[0].startswith("Warning: different model files") and lines[1].startswith("Warning: different input")
    assert doc.to_dict()["warnings"] == list(doc.warnings)
    # A result without the field (an old or imported one) is not judged on it.
    bare = entry(_runs(3))
    assert compare([fp32, bare], n_boot=200).warnings == ()
