"""ResultStore: round trip with exact values, WAL, schema version, locked and corrupt databases."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time

import pytest

from workbench.core import paths
from workbench.core.errors import ResultsError, StorageError
from workbench.core.results.result import BenchmarkResult, result_from_dict
from workbench.core.results.store import SCHEMA_VERSION, ResultStore


def entry(precision: str = "fp32", p50: float = 1.25, model: str = "digits_cnn.onnx", **extra) -> BenchmarkResult:
    """A typed result read from the JSON shape our benchmarks store."""
    return result_from_dict(doc(precision, p50, model, **extra))


def doc(precision: str = "fp32", p50: float = 1.25, model: str = "digits_cnn.onnx", **extra) -> dict:
    e = {
        "model": model,
        "model_sha256": "ab" * 32,
        "precision": precision,
        "backend": "onnxruntime",
        "profile": "cpu-x86_64",
        "device": {"name": "x86_64 CPU", "kind": "cpu"},
        "latency_ms": {
            "min": 1.0,
            "mean": 1.3,
            "median": p50,
            "p50": p50,
            "p90": 1.5,
            "p95": 1.6,
            "p99": 1.9,
            "max": 2.5,
            "std": 0.2,
            "cov_pct": 15.384615384615385,
        },  # fmt: skip
        "throughput_ips": 769.2307692307693,
        "iterations": 1000,
        "batch": 1,
        "accuracy": {
            "top1": 0.9866,
            "held_out": True,
            "verdict": "pass",
            "vs_fp32": {"cosine_min": 0.99912, "cosine_mean": 0.9998, "max_abs": 0.031, "top1_agreement": 0.997},
        },  # fmt: skip
        "versions": {"onnxruntime": "1.32.0"},
        "telemetry": {"source": "host", "measured": True, "mean_power_w": None},
        "artifact": "/tmp/a.onnx",
    }
    e.update(extra)
    return e


def test_default_path_and_wal(workbench_home):
    with ResultStore() as store:
        store.add(entry())
        assert store.path == paths.results_db_path()
    conn = sqlite3.connect(paths.results_db_path())
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    cols = [r[1] for r in conn.execute("PRAGMA table_info(results)")]
    assert cols == ["id", "created_at", "model", "model_sha256", "precision", "backend", "profile", "device",
                    "measured", "p50_ms", "p99_ms", "throughput_ips", "accuracy_verdict", "json"]  # fmt: skip
    conn.close()


def _within(old, new) -> bool:
    if isinstance(old, dict):
        return isinstance(new, dict) and all(k in new and _within(v, new[k]) for k, v in old.items())
    return old == new


def test_add_get_list_round_trip_exact(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite3")
    d1 = doc("fp32", 1.25, created_at="2026-01-02T03:04:05+00:00")
    e2 = entry("int8", 0.5, telemetry={"source": "replay", "measured": False})
    id1, id2 = store.add(result_from_dict(d1)), store.add(e2)
    assert (id1, id2) == (1, 2)
    got = store.get(id1)
    assert got.id == 1 and got.created_at == "2026-01-02T03:04:05+00:00"
    shown = got.to_dict()
    assert _within({**d1, "device": "x86_64 CPU", "id": 1}, shown)  # every stored key and value, exactly
    assert got.latency.cov_pct == 15.384615384615385
    assert store.get(id2).created_at.endswith("+00:00")
    assert store.get(id2).provenance.kind == "replayed"
    rows = store.list()
    assert [r.id for r in rows] == [2, 1]  # newest first
    r1 = rows[1].to_dict()
    assert r1 == {
        "id": 1, "created_at": "2026-01-02T03:04:05+00:00", "model": "digits_cnn.onnx", "model_sha256": "ab" * 32,
        "precision": "fp32", "backend": "onnxruntime", "profile": "cpu-x86_64", "device": "x86_64 CPU",
        "measured": True, "p50_ms": 1.25, "p99_ms": 1.9, "throughput_ips": 769.2307692307693,
        "accuracy_verdict": "pass", "source": None,
    }  # fmt: skip
    assert rows[0].measured is False  # replayed telemetry
    assert [r.id for r in store.list(limit=1)] == [2]
    store.close()


def test_list_filters_by_model(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite3")
    store.add(entry(model="/models/resnet18.onnx"))
    store.add(entry(model="digits_cnn.onnx"))
    store.add(entry(model="/other/resnet18.onnx"))
    assert [r.id for r in store.list(model="resnet18")] == [3, 1]
    assert store.list(model="mobilenet") == []


def test_nan_becomes_null_and_objects_become_strings(tmp_path):
    from pathlib import Path

    store = ResultStore(tmp_path / "r.sqlite3")
    rid = store.add(
        result_from_dict(
            {"precision": "fp32", "latency_ms": {"p50": float("nan"), "p99": float("inf")}, "artifact": Path("/x/y")}
        )
    )
    got = store.get(rid)
    assert got.latency.p50_ms is None and got.latency.p99_ms is None
    assert got.to_dict()["latency_ms"]["p99"] is None  # strict JSON: no NaN/inf in the database
    assert got.artifact.path == "/x/y"
    row = store.list()[0]
    assert row.p50_ms is None and row.p99_ms is None
    assert row.measured is True


def test_only_typed_results_are_stored(tmp_path):
    with pytest.raises(ResultsError, match="must be a BenchmarkResult, got dict"):
        ResultStore(tmp_path / "r.sqlite3").add({"precision": "fp32"})


def test_a_row_that_is_not_a_result_is_named_and_never_hides_the_others(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite3")
    good = store.add(entry())
    rid = store.add(entry())
    layers = store.add(entry())
    conn = sqlite3.connect(tmp_path / "r.sqlite3")
    conn.execute('UPDATE results SET json = \'{"precision": 1, "kept": true}\' WHERE id = ?', (rid,))
    bad = dict(doc(), layers={"layers": [1, 2]})  # a nested part of the wrong shape
    conn.execute("UPDATE results SET json = ? WHERE id = ?", (json.dumps(bad), layers))
    conn.commit()
    conn.close()
    with pytest.raises(ResultsError, match=f"result {rid} in .* cannot be read as a benchmark result") as err:
        store.get(rid)
    assert f"results show {rid} --json" in err.value.hint
    assert store.get_raw(rid) == {"precision": 1, "kept": True, "id": rid, "created_at": store.get(good).created_at}
    got = store.read_many()
    assert [r.id for r in got.results] == [good] and [u[0] for u in got.unreadable] == [rid, layers]
    csv_out = store.export("csv")
    assert csv_out.count == 1 and len(csv_out.text.splitlines()) == 2 and len(csv_out.left_out) == 2
    assert all("left out" in n for n in csv_out.left_out)
    js = store.export("json")
    assert [d["id"] for d in json.loads(js.text)] == [good, rid, layers]  # kept as stored: nothing lost


def test_unknown_ids_are_named(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite3")
    store.add(entry())
    with pytest.raises(ResultsError, match=r"no result with id 42 in .*r\.sqlite3"):
        store.get(42)
    with pytest.raises(ResultsError, match=r"no result with id 7, 9 in"):
        store.get_many([1, 7, 9])


def test_corrupt_database_names_file_and_says_move_aside(tmp_path):
    db = tmp_path / "results.sqlite3"
    db.write_bytes(bytes(range(256)) * 16)
    store = ResultStore(db)
    with pytest.raises(ResultsError) as err:
        store.list()
    assert str(db) in str(err.value)
    assert "corrupt" in str(err.value)
    assert "move it aside" in err.value.hint


def test_newer_schema_is_refused(tmp_path):
    db = tmp_path / "r.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(ResultsError, match=f"schema version {SCHEMA_VERSION + 1}, newer"):
        ResultStore(db).list()


def test_locked_database_in_process(tmp_path):
    db = tmp_path / "r.sqlite3"
    ResultStore(db).add(entry())
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        store = ResultStore(db, busy_timeout_ms=200)
        t0 = time.monotonic()
        with pytest.raises(ResultsError, match=r"r\.sqlite3 is locked by another process; retry when it finishes"):
            store.add(entry())
        waited = time.monotonic() - t0
        assert 0.15 <= waited < 5
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert ResultStore(db).add(entry()) == 2  # free again: works


def test_locked_database_by_another_process(tmp_path):
    db = tmp_path / "r.sqlite3"
    ResultStore(db).add(entry())
    code = (
        "import sqlite3, sys, time\n"
        f"c = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
        "c.execute('BEGIN EXCLUSIVE')\n"
        "print('locked', flush=True)\n"
        "sys.stdin.readline()\n"
        "c.execute('ROLLBACK')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(ResultsError, match="locked by another process"):
            ResultStore(db, busy_timeout_ms=300).add(entry())
    finally:
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.wait(timeout=10)
    store = ResultStore(db)
    assert store.add(entry()) == 2
    assert store.integrity_check() == ["ok"]


def test_export_and_export_to_file(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite3")
    store.add(entry("fp32", 1.25, created_at="2026-01-02T03:04:05+00:00"))
    store.add(entry("int8", 0.5, created_at="2026-01-02T03:05:00+00:00"))
    exported = json.loads(store.export("json", ids=[2]).text)
    assert [e["precision"] for e in exported] == ["int8"]
    with pytest.raises(StorageError, match="does not exist"):  # a path the user typed: folders are not made
        store.export_to_file("csv", tmp_path / "out" / "r.csv")
    assert not (tmp_path / "out").exists()
    (tmp_path / "out").mkdir()
    out = store.export_to_file("csv", tmp_path / "out" / "r.csv")
    assert out.count == 2 and out.left_out == ()
    lines = (tmp_path / "out" / "r.csv").read_text().splitlines()
    assert len(lines) == 3
    assert lines[1].startswith("1,2026-01-02T03:04:05+00:00,digits_cnn.onnx,")
    assert not list((tmp_path / "out").glob(".*"))  # atomic write left no temp file


def test_migrations_upgrade_an_older_file_in_place(tmp_path, monkeypatch):
    from workbench.core.results import store as store_mod

    db = tmp_path / "r.sqlite3"
    rid = ResultStore(db).add(entry())  # written at schema 1

    def v2(conn):
        conn.execute("ALTER TABLE results ADD COLUMN label TEXT")

    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(store_mod.MIGRATIONS, 2, v2)
    s = ResultStore(db)
    assert s.get(rid).precision == "fp32"  # old rows survive
    s.close()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    assert "label" in [r[1] for r in conn.execute("PRAGMA table_info(results)")]
    conn.close()
