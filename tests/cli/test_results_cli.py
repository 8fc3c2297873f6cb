"""`workbench results list | show | export` in a subprocess against a database filled here."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys

import pytest

from workbench.core import paths
from workbench.core.results.result import result_from_dict
from workbench.core.results.store import ResultStore


def entry(precision, p50, model="digits_cnn.onnx", measured=True):
    return result_from_dict(
        {
            "model": model,
            "precision": precision,
            "backend": "onnxruntime",
            "profile": "cpu-x86_64",
            "device": "x86_64 CPU",
            "latency_ms": {"min": p50 - 0.1, "median": p50, "p50": p50, "p90": p50 + 0.2, "p99": p50 + 0.5, "max": 9.0},
            "throughput_ips": round(1000 / p50, 6),
            "iterations": 300,
            "batch": 1,
            "accuracy": {"top1": 0.99, "verdict": "pass", "vs_fp32": {"cosine_min": 0.9995}},
            "telemetry": {"source": "host" if measured else "replay", "measured": measured},
        }
    )


@pytest.fixture
def filled(workbench_home):
    with ResultStore() as s:
        s.add(entry("fp32", 2.0))
        s.add(entry("int8", 0.8, measured=False))
        s.add(entry("fp32", 5.0, model="/m/resnet18.onnx"))
    return paths.results_db_path()


def ok(res):
    assert "Traceback" not in res.stderr, res.stderr
    return res


def test_list_json_and_filters(run_cli, filled):
    res = ok(run_cli("results", "list", "--json"))
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert [(r["id"], r["precision"], r["p50_ms"], r["measured"]) for r in rows] == [
        (3, "fp32", 5.0, True), (2, "int8", 0.8, False), (1, "fp32", 2.0, True)
    ]  # fmt: skip
    rows = json.loads(ok(run_cli("results", "list", "--json", "--model", "resnet")).stdout)
    assert [r["id"] for r in rows] == [3]
    rows = json.loads(ok(run_cli("results", "list", "--json", "--limit", "2")).stdout)
    assert [r["id"] for r in rows] == [3, 2]


def test_list_human(run_cli, filled):
    res = ok(run_cli("results", "list"))
    assert res.returncode == 0
    lines = res.stdout.splitlines()
    assert lines[0].split()[:4] == ["id", "created", "(UTC)", "model"]
    assert len(lines) == 4
    assert "resnet18.onnx" in lines[1] and "5.000" in lines[1]
    assert lines[2].rstrip().endswith("replay")


def test_list_empty_database(run_cli, workbench_home):
    res = ok(run_cli("results", "list"))
    assert res.returncode == 0
    assert res.stdout == ""
    assert "no results" in res.stderr


def test_show(run_cli, filled):
    res = ok(run_cli("results", "show", "2", "--json"))
    assert res.returncode == 0
    doc = json.loads(res.stdout)
    assert doc["id"] == 2 and doc["precision"] == "int8" and doc["latency_ms"]["p99"] == 1.3
    human = ok(run_cli("results", "show", "2")).stdout
    assert "Precision   int8   backend onnxruntime   profile cpu-x86_64" in human
    assert "replay, not measured here" in human


def test_show_unknown_id_exit_10(run_cli, filled):
    res = ok(run_cli("results", "show", "99"))
    assert res.returncode == 10
    assert "no result with id 99" in res.stderr


def test_show_non_numeric_id_is_usage_error(run_cli, filled):
    res = ok(run_cli("results", "show", "abc"))
    assert res.returncode == 2
    assert "'abc' is not a result id" in res.stderr


def test_export_csv_stdout(run_cli, filled):
    res = ok(run_cli("results", "export", "--format", "csv", "--ids", "1,3"))
    assert res.returncode == 0
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [(r["id"], r["latency_ms.p50"], r["throughput_ips"], r["accuracy.vs_fp32.cosine_min"]) for r in rows] == [
        ("1", "2.0", "500.0", "0.9995"), ("3", "5.0", "200.0", "0.9995")
    ]  # fmt: skip


def test_export_md_and_json_to_file(run_cli, filled, tmp_path):
    out = tmp_path / "report.md"
    res = ok(run_cli("results", "export", "--format", "md", "-o", str(out)))
    assert res.returncode == 0 and res.stdout == ""
    assert "wrote 3 results as md" in res.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == 5 and lines[2].startswith("| 1 | ")
    js = ok(run_cli("results", "export", "--format", "json", "--ids", "2")).stdout
    assert [e["precision"] for e in json.loads(js)] == ["int8"]


def test_export_unknown_ids_named(run_cli, filled):
    res = ok(run_cli("results", "export", "--format", "json", "--ids", "1,8,9"))
    assert res.returncode == 10
    assert "no result with id 8, 9" in res.stderr


def test_export_to_unwritable_path_is_storage_error(run_cli, filled, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    res = ok(run_cli("results", "export", "--format", "csv", "-o", str(blocker / "x.csv")))
    assert res.returncode == 11
    assert "cannot write" in res.stderr and "x.csv" in res.stderr


def test_corrupt_database_exit_10_with_hint(run_cli, workbench_home):
    db = paths.results_db_path()
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_bytes(b"this is not sqlite" * 100)
    res = ok(run_cli("results", "list"))
    assert res.returncode == 10
    assert str(db) in res.stderr and "corrupt" in res.stderr
    assert "move it aside" in res.stderr


def test_locked_database_exit_10(run_cli, filled, cli_env):
    """Another process holds the write lock; a store from the CLI must give up with a clear message."""
    code = (
        "import sqlite3, sys\n"
        f"c = sqlite3.connect({str(filled)!r}, isolation_level=None)\n"
        "c.execute('BEGIN EXCLUSIVE')\n"
        "print('locked', flush=True)\n"
        "sys.stdin.readline()\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        add = (
            "import sys\n"
            "from workbench.core.results.store import ResultStore\n"
            "from workbench.core.results.result import result_from_dict\n"
            "from workbench.core.errors import ResultsError\n"
            "try:\n"
            "    ResultStore(busy_timeout_ms=300).add(result_from_dict({'latency_ms': {'median': 1.0}}))\n"
            "except ResultsError as e:\n"
            "    print(e, file=sys.stderr); sys.exit(e.exit_code)\n"
        )
        res = subprocess.run([sys.executable, "-c", add], capture_output=True, text=True, env=cli_env, timeout=60)
        assert res.returncode == 10
        assert "is locked by another process; retry when it finishes" in res.stderr
        # WAL: readers are not blocked by the writer
        listed = ok(run_cli("results", "list", "--json"))
        assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 3
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=10)
    conn = sqlite3.connect(filled)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 3
    conn.close()


def test_a_row_that_is_not_a_result_still_shows_as_stored_and_never_hides_the_others(run_cli, filled):
    conn = sqlite3.connect(filled)
    conn.execute("UPDATE results SET json = ? WHERE id = 2", (json.dumps({"precision": 1, "note": "foreign"}),))
    conn.commit()
    conn.close()
    text = run_cli("results", "show", "2")
    assert text.returncode == 10 and "result 2 in" in text.stderr and "cannot be read" in text.stderr
    assert "results show 2 --json" in text.stderr and "Traceback" not in text.stderr
    raw = ok(run_cli("results", "show", "2", "--json"))
    assert raw.returncode == 0 and json.loads(raw.stdout)["note"] == "foreign"  # printed as stored
    csv_out = ok(run_cli("results", "export", "--format", "csv"))
    assert csv_out.returncode == 0 and len(csv_out.stdout.splitlines()) == 3  # header + the two readable results
    assert "warning: result 2 in" in csv_out.stderr and "left out" in csv_out.stderr
    js = json.loads(ok(run_cli("results", "export", "--format", "json")).stdout)
    assert [d["id"] for d in js] == [1, 2, 3] and js[1]["note"] == "foreign"  # kept as stored
