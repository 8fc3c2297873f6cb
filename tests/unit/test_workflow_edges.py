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
    with pytest.raises(UsageError, match="choose one") as ei:
        workflow.prepare(workflow.JobRequest(until_stable=True, repeat=2))
    assert "drop --repeat" in ei.value.hint and "drop --until-stable" in ei.value.hint


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


def test_contention_monitor_sees_a_process_that_is_not_ours():
    """A CPU hog outside this process tree (reparented to init) shows as others' cores beyond the threshold."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from workbench.core.bench.contention import CONTENDED_OTHERS_CORES, ContentionMonitor

    out = subprocess.run(
        ["sh", "-c", f"{sys.executable} -c 'while True: pass' >/dev/null 2>&1 & echo $!"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    hog = int(out.stdout.strip())
    try:
        m = ContentionMonitor()
        m.start()
        time.sleep(1.0)  # the window has to span some of the hog's CPU time; its length is not what is tested
        m.stop()
        rep = m.report()
    finally:
        os.kill(hog, signal.SIGKILL)
    assert rep.window_s >= 1.0 and rep.resolution_cores < 0.1
    assert rep.others_cores > CONTENDED_OTHERS_CORES and rep.contended, rep
    assert "other processes used" in rep.describe()


def _timed(precision, scale, *, contended=False, verdict="pass", seed=0):
    from dataclasses import replace

    import numpy as np

    from workbench.core.accuracy import AccuracyReport, VsFp32
    from workbench.core.results.result import Contention, result_from_dict

    lat = list(scale * (1.0 + np.random.default_rng(seed).lognormal(-3.0, 0.5, 3000)))
    r = result_from_dict({"precision": precision, "latency_ms": {"median": float(np.median(lat))}, "latencies_ms": lat})
    acc = AccuracyReport(None, None, True, 10, VsFp32(1.0, 1.0, 0.0, 0.0, 100.0), verdict, (), ())
    cont = Contention(1.0 if contended else 0.0, (), 0.25, contended, 3.0, 0.01)
    return replace(r, accuracy=acc if precision != "fp32" else None, contention=cont)


def test_best_moves_to_a_lower_precision_only_when_significantly_faster_and_uncontended():
    from workbench.core.bench.run import BenchRun
    from workbench.core.workflow import _choose_best

    def runs(*results):
        return [BenchRun(r, ()) for r in results]

    chosen, reasons = _choose_best(runs(_timed("fp32", 1.0), _timed("fp16", 0.99, seed=1), _timed("int8", 0.5, seed=2)))
    assert chosen.result.precision == "int8"
    assert reasons[0].startswith("fp16 vs fp32: no significant difference") and reasons[0].endswith("fp32 kept")
    assert reasons[1].startswith("int8 vs fp32: significant") and reasons[1].endswith("chosen")
    chosen, reasons = _choose_best(runs(_timed("fp32", 1.0), _timed("int8", 0.5, contended=True, seed=2)))
    assert chosen.result.precision == "fp32" and "B was contended" in reasons[0]
    chosen, reasons = _choose_best(runs(_timed("fp32", 1.0), _timed("int8", 0.5, verdict="fail", seed=2)))
    assert chosen.result.precision == "fp32" and reasons == ["int8: accuracy fail: not chosen"]


def test_calibrating_for_a_tensorrt_target_needs_no_tensorrt():
    """Calibrate offline for the board, build on it: only build and bench need the target's backend."""
    import importlib.util

    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("TensorRT is installed here")
    from workbench.core.errors import BackendUnavailable

    with pytest.raises(BackendUnavailable):
        workflow.prepare(workflow.JobRequest(profile="jetson-orin-nx"))
    job = workflow.prepare(workflow.JobRequest(profile="jetson-orin-nx"), backend_needed=False)
    assert job.backend is None and job.profile.name == "jetson-orin-nx"
    cal = workflow.calibrate(job)
    assert cal.result.path.is_file() and cal.result.samples > 0
    check = workflow.check_accuracy(job, "int8")
    assert check.report.verdict == "pass"
    with pytest.raises(BackendUnavailable, match="TensorRT"):
        workflow.build(job, "int8")


def test_this_workbenchs_own_summary_is_not_a_trtexec_log(tmp_path):
    """README's `workbench run` example (and any summary we print) is refused by `results import-trtexec`."""
    import re
    from pathlib import Path

    from workbench.core.errors import ResultsError
    from workbench.core.results.trtexec_import import import_trtexec

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = re.search(r"```\n\$ \.venv/bin/workbench run\n(.*?)```", readme, re.S).group(1)
    assert "Throughput:" in block and "Latency: min =" in block  # the lines that looked like trtexec's
    log = tmp_path / "ours.log"
    log.write_text(block)
    with pytest.raises(ResultsError, match="an Edge Workbench summary .* not trtexec output"):
        import_trtexec(log)


def test_jobs_started_within_one_second_list_newest_first(tmp_path, monkeypatch):
    """Job ids carry the start second and a random suffix; within one second the list still runs newest first."""
    import json
    import os

    from workbench.core import jobs

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    root = tmp_path / "data" / "jobs"
    names = ["20261203-101500-ffffff", "20261203-101500-000000", "20261203-101500-888888", "20261203-101459-zzzzzz"]
    stamps = [3_000, 2_000, 1_000, 0]  # job.json write times (ns): the first name was started last
    for name, ns in zip(names, stamps, strict=True):
        d = root / name
        d.mkdir(parents=True)
        rec = {"id": name, "argv": ["bench"], "pid": 1, "started_at": "2026-12-03T10:15:00Z", "cwd": "/"}
        (d / "job.json").write_text(json.dumps(rec))
        os.utime(d / "job.json", ns=(10**18 + ns, 10**18 + ns))
    (root / "20261203-101501-broken").mkdir()  # no job.json: not a job
    assert [j.id for j in jobs.list_jobs()] == names
    assert [j.id for j in jobs.list_jobs(limit=2)] == names[:2]
