"""Edges of the workflow layer found in a new-user trial: --export-times, --until-stable with --repeat, 'best'."""

from __future__ import annotations

import json

import pytest

from workbench.core import workflow
from workbench.core.errors import StorageError, UsageError
from workbench.core.results.store import ResultStore


def _job(**kw):
    return workflow.prepare(workflow.JobRequest(profile="cpu-x86_64", iterations=200, warmup_ms=20, **kw))


def test_export_times_to_a_folder_is_refused_before_anything_runs(tmp_path):
    job = _job(export_times=str(tmp_path))
    with pytest.raises(StorageError, match="is a folder"):
        workflow.bench_and_store(job, "fp32")
    with pytest.raises(StorageError, match="does not exist"):
        workflow.bench_and_store(job.with_request(export_times=str(tmp_path / "no" / "t.json")), "fp32")
    with ResultStore() as db:
        assert db.count() == 0  # nothing ran, nothing stored


def test_a_failed_export_never_loses_the_stored_result(tmp_path, monkeypatch):
    from workbench.core.bench.run import BenchRun

    def boom(self, path):
        raise StorageError(f"cannot write {path}: disk full")

    monkeypatch.setattr(BenchRun, "write_times", boom)
    with pytest.raises(StorageError, match="disk full"):
        workflow.bench_and_store(_job(export_times=str(tmp_path / "t.json")), "fp32")
    with ResultStore() as db:
        assert db.count() == 1  # stored before the export was written


def test_best_exports_only_the_chosen_precisions_latencies(tmp_path):
    target = tmp_path / "t.json"
    best = workflow.bench_best(_job(export_times=str(target), store=False))
    doc = json.loads(target.read_text())
    assert doc["precision"] == best.chosen.precision
    assert len(doc["latencies_ms"]) == best.chosen.throughput.iterations == 200
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json"]  # no per-candidate leftovers
    d = best.to_dict()
    assert d["chosen_as_best"] is True and [c["precision"] for c in d["candidates"]] == ["fp32", "fp16", "int8"]
    assert d["skipped"] == []


def test_commands_that_make_several_runs_refuse_export_times(tmp_path):
    job = _job(export_times=str(tmp_path / "t.json"))
    with pytest.raises(UsageError, match="makes several"):
        workflow.run_main(job, ["fp32", "int8"])
    with pytest.raises(UsageError, match="makes several"):
        workflow.offline(job, max_batch=2)
    with pytest.raises(UsageError, match="makes several"):
        workflow.find_max_qps(job, p99_bound_ms=5.0)


def test_until_stable_with_repeat_is_a_usage_error_up_front():
    with pytest.raises(UsageError, match="choose one"):
        workflow.prepare(workflow.JobRequest(until_stable=True, repeat=2))


def test_best_line_names_unchecked_candidates_and_skips():
    from workbench.core.accuracy import AccuracyReport, VsFp32
    from workbench.core.results.result import result_from_dict
    from workbench.core.results.summary import best_line, candidate_state

    def r(precision, median, verdict=None):
        res = result_from_dict({"precision": precision, "latency_ms": {"median": median}})
        if verdict is None:
            return res
        from dataclasses import replace

        rep = AccuracyReport(None, None, True, 10, VsFp32(1.0, 1.0, 0.0, 0.0, 100.0), verdict, (), ())
        return replace(res, accuracy=rep)

    fp32, fp16, int8 = r("fp32", 2.0), r("fp16", 1.5), r("int8", 1.0, "pass")
    assert candidate_state(fp32) == "reference" and candidate_state(int8) == "pass"
    assert candidate_state(fp16).startswith("unchecked")
    line = best_line(int8, [fp32, fp16, int8], ["int8: no calibration set"])
    assert line.startswith("Best: int8 — candidates: fp32 2.0000 ms (reference), fp16 1.5000 ms (unchecked")
    assert line.endswith("; skipped: int8: no calibration set")


def test_the_hw_package_imports_none_of_its_modules():
    """hw/__init__ must stay import-free: two threads importing hw.detect and hw.nvml at once deadlocked on the
    import locks when the package imported them itself (a TUI start-up failure seen under load)."""
    import ast
    from pathlib import Path

    import workbench.core.hw as hw

    tree = ast.parse(Path(hw.__file__).read_text())
    imports = [
        n for n in ast.walk(tree)
        if isinstance(n, ast.Import) or (isinstance(n, ast.ImportFrom) and n.module != "__future__")
    ]  # fmt: skip
    assert imports == []
