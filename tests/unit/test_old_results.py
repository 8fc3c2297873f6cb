"""Results stored by workbench 0.1.0 (commit 9c8cb84) still load and show exactly as they did.

tests/fixtures/results/v0.1.0/results.sqlite3 holds 13 results written by that version: FP32/FP16/INT8 runs with
accuracy, a per-layer profile, repeats, idle power, --until-stable, replayed telemetry, the server scenario, a
power sweep, and two trtexec imports. ``expected/`` holds what the results commands and the benchmark summary
printed for them then (make_expected.py); since then compare JSON gained "warnings", export CSV a trailing
"host" column and export Markdown "host" and "device" columns (added fields: nothing old changed).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "results" / "v0.1.0"
EXPECTED = FIX / "expected"


@pytest.fixture
def old_home(workbench_home):
    data = workbench_home / "data"
    data.mkdir(parents=True, exist_ok=True)
    shutil.copy2(FIX / "results.sqlite3", data / "results.sqlite3")
    return workbench_home


def _cli(argv: list[str], capsys) -> str:
    from workbench.cli.main import main

    capsys.readouterr()
    rc = main(argv)
    out, err = capsys.readouterr()
    assert rc == 0, err
    return out


CASES = [
    *((f"show-{i}.txt", ["results", "show", str(i)]) for i in range(1, 14)),
    ("show-1-layers.txt", ["results", "show", "1", "--layers"]),
    ("list.txt", ["results", "list"]),
    ("list.json", ["results", "list", "--json"]),
    ("compare-8-9.txt", ["results", "compare", "8", "9"]),
    ("compare-8-9.json", ["results", "compare", "8", "9", "--format", "json"]),
    ("compare-1-6-12.md", ["results", "compare", "1", "6", "12", "--format", "md"]),
    ("export.csv", ["results", "export", "--format", "csv"]),
    ("export.md", ["results", "export", "--format", "md"]),
]


@pytest.mark.parametrize("name,argv", CASES, ids=[c[0] for c in CASES])
def test_results_commands_show_old_results_as_before(old_home, capsys, name, argv):
    assert _cli(argv, capsys) == (EXPECTED / name).read_text()


def _subset(old, new, path="$"):
    """Every key and value of ``old`` is in ``new`` (floats equal, lists element-wise)."""
    if isinstance(old, dict):
        assert isinstance(new, dict), path
        for k, v in old.items():
            assert k in new, f"{path}.{k} lost"
            _subset(v, new[k], f"{path}.{k}")
    elif isinstance(old, list):
        assert isinstance(new, list) and len(new) == len(old), path
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _subset(a, b, f"{path}[{i}]")
    else:
        assert old == new, f"{path}: {old!r} -> {new!r}"


def test_show_json_keeps_every_stored_key_and_value(old_home, capsys):
    import sqlite3

    con = sqlite3.connect(FIX / "results.sqlite3")
    rows = con.execute("SELECT id, created_at, json FROM results ORDER BY id").fetchall()
    con.close()
    assert len(rows) == 13
    for rid, created, text in rows:
        stored = json.loads(text)
        shown = json.loads(_cli(["results", "show", str(rid), "--json"], capsys))
        _subset(stored, shown)
        assert shown["id"] == rid and shown["created_at"] == created


@pytest.mark.parametrize("rid", [i for i in range(1, 12)])
def test_benchmark_summary_of_old_results_unchanged(old_home, rid):
    """The summary (written by cli/report.py in 0.1.0, by core/results/summary.py now) reads the typed result."""
    from workbench.core.results.store import ResultStore
    from workbench.core.results.summary import summary

    with ResultStore() as db:
        result = db.get(rid)
    assert summary(result) + "\n" == (EXPECTED / f"summary-{rid}.txt").read_text()
    assert summary(result, verbose=True) + "\n" == (EXPECTED / f"summary-{rid}-verbose.txt").read_text()


def test_typed_round_trip_of_old_results_loses_nothing(old_home):
    """JSON -> BenchmarkResult -> JSON keeps every key and value of every stored result (extras included)."""
    import sqlite3

    from workbench.core.results.result import result_from_dict

    con = sqlite3.connect(FIX / "results.sqlite3")
    rows = con.execute("SELECT json FROM results ORDER BY id").fetchall()
    con.close()
    for (text,) in rows:
        doc = json.loads(text)
        doc["an_unknown_key_from_a_newer_version"] = {"kept": [1, 2]}
        _subset(doc, result_from_dict(doc).to_dict())
