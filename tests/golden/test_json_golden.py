"""Safety net of the JSON contract: every key that `bench/run/results/compare/telemetry/power --json` printed
when this test was written is still printed (keys may be added; a commit that adds some regenerates
json_shapes.json with `python tests/golden/capture.py --update`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from capture import GOLDEN, run_cases, shapes  # noqa: E402
from shapes import missing, shape_of  # noqa: E402


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("golden"))


def test_every_golden_key_is_still_printed(docs):
    golden = json.loads(GOLDEN.read_text())
    now = shapes(docs)
    assert set(golden) <= set(now), f"cases no longer captured: {sorted(set(golden) - set(now))}"
    lost = {name: missing(golden[name], now[name]) for name in golden}
    lost = {k: v for k, v in lost.items() if v}
    assert not lost, "keys lost from the JSON output:\n" + json.dumps(lost, indent=1)


def _pairs(ci95: dict) -> None:
    for key, pair in ci95.items():
        assert key.startswith("p") and isinstance(pair, list) and len(pair) == 2, (key, pair)
        assert all(v is None or isinstance(v, float) for v in pair), (key, pair)


def test_value_shapes(docs):
    bench = docs["bench"]
    _pairs(bench["latency_ms"]["ci95"])
    assert set(bench["latency_ms"]["ci95"]) >= {"p50", "p90", "p95", "p99", "p99_9"}
    # with 400 pooled iterations p99.9 has no upper order statistic: null, never a clipped value
    assert bench["latency_ms"]["ci95"]["p99_9"][1] is None
    for r in docs["run"]["results"]:
        _pairs(r["latency_ms"]["ci95"])
    assert isinstance(docs["results_list"], list) and docs["results_list"]
    assert isinstance(docs["telemetry_parse"], list) and all(isinstance(o, dict) for o in docs["telemetry_parse"])
    cmp_ = docs["compare_auto_exclude"]
    assert cmp_["auto_exclude"]["steps"] and cmp_["per_layer"]["layers"]
    assert set(cmp_["vs_fp32"]) >= {"cosine_min", "cosine_mean", "max_abs", "top1_agreement"}
    rv = docs["results_compare"]["ratio_of_medians"]
    assert isinstance(rv["ci95"], list) and len(rv["ci95"]) == 2


def test_shape_check_catches_a_lost_key():
    """The checker itself: a dropped nested key and a changed kind are reported, added keys and nulls are not."""
    old = shape_of({"a": {"b": 1, "c": [1.5, None]}, "d": "x", "e": None})
    assert missing(old, shape_of({"a": {"b": 2, "c": [None, 2.0], "new": 1}, "d": "y", "e": 3})) == []
    assert missing(old, shape_of({"a": {"c": [1.0]}, "d": "x", "e": None})) == ["$.a.b: missing"]
    assert missing(old, shape_of({"a": {"b": "one", "c": []}, "d": "x", "e": None})) == [
        "$.a.b: was 'number', now 'string'"
    ]
