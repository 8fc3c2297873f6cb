"""CSV / JSON / Markdown rendering of result entries, with exact expected text."""

from __future__ import annotations

import csv
import io
import json

import pytest

from workbench.core.errors import UsageError
from workbench.core.results.export import CSV_COLUMNS, fmt_num
from workbench.core.results.export import render as _render
from workbench.core.results.result import result_from_dict


def render(entries, fmt):
    """Export results given in their stored JSON shape (read through the dict edge, as the database does)."""
    return _render([result_from_dict(e) for e in entries], fmt)


ENTRY = {
    "id": 3,
    "created_at": "2026-03-04T05:06:07+00:00",
    "model": "digits_cnn.onnx",
    "model_sha256": "cd" * 32,
    "precision": "int8",
    "backend": "onnxruntime",
    "profile": {"name": "cpu-x86_64"},
    "device": {"name": "x86_64 CPU"},
    "batch": 1,
    "iterations": 500,
    "latency_ms": {"min": 0.0191, "mean": 0.02, "median": 0.0197, "p50": 0.0197, "p90": 0.021, "p95": 0.0222,
                   "p99": 0.031, "max": 0.2, "std": 0.004, "cov_pct": 20.0},  # fmt: skip
    "throughput_ips": 48123.5,
    "accuracy": {"top1": 0.9833, "held_out": False, "verdict": "fail",
                 "vs_fp32": {"cosine_min": 0.98765, "cosine_mean": 0.999, "max_abs": 0.5, "top1_agreement": 0.99}},
    "telemetry": {"source": "replay", "measured": False, "mean_power_w": 4.5, "energy_mj": 120.25},
    "artifact": "/cache/a|b.onnx",
}  # fmt: skip


def test_csv_flat_columns_exact():
    rows = list(csv.DictReader(io.StringIO(render([ENTRY], "csv"))))
    assert len(rows) == 1
    r = rows[0]
    assert list(r) == list(CSV_COLUMNS)
    assert r["id"] == "3"
    assert r["profile"] == "cpu-x86_64" and r["device"] == "x86_64 CPU"
    assert r["measured"] == "0"
    assert r["latency_ms.p50"] == "0.0197" and r["latency_ms.p99"] == "0.031" and r["latency_ms.cov_pct"] == "20.0"
    assert r["throughput_ips"] == "48123.5"
    assert r["accuracy.top1"] == "0.9833"
    assert r["accuracy.held_out"] == "false"
    assert r["accuracy.vs_fp32.cosine_min"] == "0.98765"
    assert r["telemetry.energy_mj"] == "120.25"
    assert r["telemetry.peak_power_w"] == ""  # absent -> empty
    assert r["artifact"] == "/cache/a|b.onnx"


def test_json_is_the_list_of_full_entries():
    doc = json.loads(render([ENTRY, ENTRY], "json"))
    assert doc == [result_from_dict(ENTRY).to_dict()] * 2
    for key, value in ENTRY.items():  # every stored key and value kept; {"name": ...} forms read as the name
        if key in ("profile", "device"):
            assert doc[0][key] == value["name"]
        elif isinstance(value, dict):
            assert _within(value, doc[0][key]), key
        else:
            assert doc[0][key] == value, key


def _within(old, new) -> bool:
    if isinstance(old, dict):
        return isinstance(new, dict) and all(k in new and _within(v, new[k]) for k, v in old.items())
    return old == new


def test_markdown_pipe_table_exact():
    md = render([ENTRY], "md").splitlines()
    assert md[0] == (
        "| id | created (UTC) | model | precision | backend | profile | host | device | p50 ms | p99 ms | throughput/s "
        "| top-1 | cosine min | verdict | measured |"
    )
    assert md[1] == "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    assert md[2] == (
        "| 3 | 2026-03-04T05:06:07+00:00 | digits_cnn.onnx | int8 | onnxruntime | cpu-x86_64 | - | x86_64 CPU | 0.0197 "
        "| 0.031 "
        "| 48123.5 | 98.33 % | 0.9877 | fail | no |"
    )
    fleet = render([dict(ENTRY, host="orin-nx-1", device={"name": "Jetson Orin NX"})], "md").splitlines()[2]
    assert "| cpu-x86_64 | orin-nx-1 | Jetson Orin NX | 0.0197 |" in fleet
    csv_rows = render([dict(ENTRY, host="orin-nx-1")], "csv").splitlines()
    assert csv_rows[0].endswith(",host") and csv_rows[1].endswith(",orin-nx-1")


def test_markdown_escapes_pipes():
    e = dict(ENTRY, model="a|b.onnx")
    assert "| a\\|b.onnx |" in render([e], "md")


def test_unknown_format_is_usage_error():
    with pytest.raises(UsageError, match="unknown export format 'xml'"):
        render([ENTRY], "xml")


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "-"), (0, "0"), (0.0197, "0.0197"), (1.23456, "1.235"), (123.456, "123.5"), (48123.5, "48123.5")],
)
def test_fmt_num(value, text):
    assert fmt_num(value) == text


def test_csv_carries_confidence_intervals_and_run_length():
    import csv
    import io

    entry = {
        "precision": "fp32",
        "latency_ms": {"median": 1.0, "p99": 2.0, "ci95": {"p50": [0.9, 1.1], "p99": [1.8, None]}},
        "run_length": {"p99": {"rel_half_width": None, "long_enough": False}},
        "early_stopping": {"p99": {"value_ms": 2.2}},
        "inferences_per_j": 50.0,
    }
    row = next(csv.DictReader(io.StringIO(render([entry], "csv"))))
    assert row["latency_ms.ci95.p50.lo"] == "0.9" and row["latency_ms.ci95.p50.hi"] == "1.1"
    assert row["latency_ms.ci95.p99.lo"] == "1.8" and row["latency_ms.ci95.p99.hi"] == ""  # undefined side stays empty
    assert row["run_length.p99.long_enough"] == "false"
    assert row["early_stopping.p99.value_ms"] == "2.2" and row["inferences_per_j"] == "50.0"
