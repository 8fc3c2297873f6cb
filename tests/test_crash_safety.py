"""Crash safety (issue 7, item 2): kill -9 at a known phase, then nothing partial is visible and the DB is sound.

Each test waits for the phase from the process's own event stream before killing it:

- benchmark: the child's typed JSON-lines stream (``run_child``'s ``on_event``), killed after timed batch k;
- build: ``workflow.build``'s ``Progress("build", ...)`` in a subprocess whose builder is slowed down after it has
  written the artifact's temp file (the worst moment: a complete-looking file that is not yet renamed);
- calibration: ``quantize_qdq``'s ``progress(done, total)`` in a subprocess reading a deliberately slow dataset,
  killed after chunk k;
- results: a process adding entries in a loop, killed between or inside commits.

Afterwards: every visible file in the artifact and calibration caches is complete (sidecar present, sha256
matches, the ONNX loads), leftovers are hidden temp names only, a rerun works, and the results database
passes ``PRAGMA integrity_check`` with every committed entry still there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from workbench.core import paths

REPO = Path(__file__).resolve().parents[1]
DIGITS = REPO / "workbench" / "data" / "models" / "digits_cnn.onnx"
DIGITS_CALIB = REPO / "workbench" / "data" / "calib" / "digits"


def _entry(i: int) -> dict:
    return {
        "model": "digits_cnn.onnx",
        "model_sha256": "ab" * 32,
        "precision": "fp32",
        "backend": "onnxruntime",
        "profile": "cpu-x86_64",
        "latency_ms": {"p50": 1.0 + i / 1000, "p99": 2.0, "median": 1.0 + i / 1000},
        "throughput_ips": 900.0,
        "iterations": 100,
        "batch": 1,
        "note": "x" * 2000,  # a few pages per entry, so a kill can land inside a commit
    }


def _seed_db(n: int = 3) -> int:
    from workbench.core.results.result import result_from_dict
    from workbench.core.results.store import ResultStore

    with ResultStore() as store:
        for i in range(n):
            store.add(result_from_dict(_entry(i)))
        return store.count()


def _check_db(expected_at_least: int) -> None:
    from workbench.core.results.store import ResultStore

    db = paths.results_db_path()
    if not db.exists():
        assert expected_at_least == 0
        return
    from workbench.core.results.result import result_from_dict

    with ResultStore() as store:
        assert store.integrity_check() == ["ok"]
        assert store.count() >= expected_at_least
        new_id = store.add(result_from_dict(_entry(-1)))  # still writable
        assert store.get(new_id).extras["note"] == "x" * 2000  # a key we do not model survives the round trip


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def _check_caches() -> list[str]:
    """Assert every visible cache file is complete; return the hidden leftovers (temp files/folders)."""
    import hashlib

    import onnx

    leftovers = []
    for root in (paths.artifact_cache_dir(), paths.calibration_cache_dir()):
        if not root.exists():
            continue
        for p in sorted(root.rglob("*")):
            rel = p.relative_to(root)
            if _hidden(rel):
                leftovers.append(str(rel))
                continue
            if p.is_dir():
                continue
            if p.suffix == ".json":
                json.loads(p.read_text())  # complete JSON
            elif p.suffix == ".onnx":
                onnx.checker.check_model(onnx.load(str(p)))
                if root == paths.artifact_cache_dir():
                    side = json.loads((p.parent / "artifact.json").read_text())
                    assert side["artifact_sha256"] == hashlib.sha256(p.read_bytes()).hexdigest(), p
                else:
                    assert p.with_name(p.name.replace(".qdq.onnx", ".json")).is_file(), f"{p} has no sidecar"
    return leftovers


def _spawn(code: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=dict(os.environ),
    )


def _kill_when(proc: subprocess.Popen, ready, timeout_s: float = 60) -> list[dict]:
    """Read JSON lines until ``ready(event)`` is true, then SIGKILL; returns the events seen."""
    seen = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                pytest.fail(f"the process ended before the phase: {proc.stderr.read()[-2000:]}")
            event = json.loads(line)
            seen.append(event)
            if ready(event):
                proc.send_signal(signal.SIGKILL)
                break
        else:
            pytest.fail(f"phase not reached in {timeout_s} s: {seen[-5:]}")
    finally:
        if proc.poll() is None and not seen:
            proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, proc.returncode
    return seen


# ---------------------------------------------------------------------------------------------- benchmark


def test_kill_benchmark_child_at_timed_batch_k():
    from workbench.core.backends.ort import OrtBackend
    from workbench.core.bench import events as ev
    from workbench.core.bench.config import BenchConfig
    from workbench.core.bench.parent import ChildControl, run_child
    from workbench.core.errors import BenchmarkError
    from workbench.core.profiles import load_profile

    n = _seed_db()
    artifact = OrtBackend().build(DIGITS, "fp32", load_profile("cpu-x86_64"))
    cfg = BenchConfig(artifact_path=str(artifact.path), duration_s=30, warmup_ms=0, flush_ms=10)
    control = ChildControl()
    k = 3
    killed_at: list[int] = []
    phases: list[str] = []

    def on_event(event: object) -> None:
        if isinstance(event, ev.Phase):
            phases.append(event.name)
        if isinstance(event, ev.Samples) and event.seq == k and not killed_at:
            killed_at.append(event.seq)
            os.kill(control._proc.pid, signal.SIGKILL)  # noqa: SLF001 - the test needs the child's pid

    t0 = time.monotonic()
    with pytest.raises(BenchmarkError, match="ended before its timed window finished"):
        run_child(cfg, on_event=on_event, control=control)
    assert killed_at == [k]
    assert "timed" in phases
    assert time.monotonic() - t0 < 20  # the kill, not the 30 s duration, ended it
    assert control._proc.returncode == -signal.SIGKILL  # noqa: SLF001
    assert _check_caches() == []
    _check_db(n)


# ---------------------------------------------------------------------------------------------- build


def test_kill_during_build_leaves_no_visible_partial_artifact():
    n = _seed_db()
    proc = _spawn(
        f"""
        import json, sys, time
        from workbench.core import workflow
        from workbench.core.backends import cache

        real = cache.get_or_build

        def slow_get_or_build(**kw):
            inner = kw["build_fn"]

            def build_fn(tmp):
                inner(tmp)  # the real ONNX Runtime build writes its temp file
                print(json.dumps({{"event": "temp-written", "tmp": str(tmp)}}), flush=True)
                time.sleep(120)  # a slow builder: the kill lands here

            return real(**{{**kw, "build_fn": build_fn}})

        cache.get_or_build = slow_get_or_build
        step = lambda s: print(json.dumps({{"event": "step", "step": s.step, "message": s.message}}), flush=True)
        job = workflow.prepare(workflow.JobRequest(model={str(DIGITS)!r}, profile="cpu-x86_64"), step)
        workflow.build(job, "fp32", step)
        print(json.dumps({{"event": "finished"}}), flush=True)
        """
    )
    events = _kill_when(proc, lambda e: e["event"] == "temp-written")
    assert any(e["event"] == "step" and e["step"] == "build" for e in events)  # the build phase had started
    tmp = Path(events[-1]["tmp"])
    work = tmp.parent
    # the temp file is complete but hidden (in the build's own .build-<pid>-* folder) and not renamed
    assert tmp.is_file() and work.name.startswith(f".build-{proc.pid}-")
    entry = work.parent
    assert sorted(p.name for p in entry.iterdir() if not p.name.startswith(".")) == []
    rel = work.relative_to(paths.artifact_cache_dir())
    assert _check_caches() == [str(rel), str(rel / tmp.name)]
    _check_db(n)

    # the next build is a miss (no sidecar) and sweeps the dead build's folder
    from workbench.core.backends.ort import OrtBackend
    from workbench.core.profiles import load_profile

    art = OrtBackend().build(DIGITS, "fp32", load_profile("cpu-x86_64"))
    assert art.cached is False and art.path.parent == entry
    assert not work.exists()
    assert _check_caches() == []


# ---------------------------------------------------------------------------------------------- calibration


def test_kill_during_calibration_chunk_k():
    n = _seed_db()
    proc = _spawn(
        f"""
        import json, time
        from workbench.core.models.load import inspect_model
        from workbench.core.precision.datasets import open_dataset
        from workbench.core.precision.quantize import quantize_qdq

        class SlowDataset:
            # A dataset whose reader takes 50 ms per sample (a slow SD card), so the kill lands mid-calibration.
            def __init__(self, ds):
                self._ds = ds

            def __getattr__(self, name):
                return getattr(self._ds, name)

            def iter_feeds(self):
                for feed in self._ds.iter_feeds():
                    time.sleep(0.05)
                    yield feed

        info = inspect_model({str(DIGITS)!r})
        ds = SlowDataset(open_dataset({str(DIGITS_CALIB)!r}, info.inputs, limit=64))
        progress = lambda done, total: print(json.dumps({{"done": done, "total": total}}), flush=True)
        quantize_qdq({str(DIGITS)!r}, ds, {{"chunk_size": 4}}, progress=progress)
        print(json.dumps({{"done": "finished"}}), flush=True)
        """
    )
    k = 2
    events = _kill_when(proc, lambda e: e["done"] == 4 * k)
    assert events[0] == {"done": 0, "total": 64} and events[-1] == {"done": 4 * k, "total": 64}
    cache = paths.calibration_cache_dir()
    assert not list(cache.glob("*.qdq.onnx")) and not list(cache.glob("ranges/*"))
    leftovers = _check_caches()
    # quantize's hidden work folder (.quant-*) stays after a kill -9: hidden, never read as a cache entry
    assert leftovers and all(Path(p).parts[0].startswith(".quant-") for p in leftovers), leftovers
    _check_db(n)

    from workbench.core.models.load import inspect_model
    from workbench.core.precision.datasets import open_dataset
    from workbench.core.precision.quantize import quantize_qdq

    ds = open_dataset(DIGITS_CALIB, inspect_model(DIGITS).inputs, limit=64)
    first = quantize_qdq(DIGITS, ds, {"chunk_size": 4})
    again = quantize_qdq(DIGITS, ds, {"chunk_size": 4})
    assert (first.cached, again.cached, first.samples) == (False, True, 64)
    assert _check_caches() == []  # the next calibration removed the dead process's work folder


def test_calibration_keeps_a_live_processs_work_folder():
    """The sweep of dead work folders never touches one whose process still runs (a parallel calibration)."""
    from workbench.core.models.load import inspect_model
    from workbench.core.precision.datasets import open_dataset
    from workbench.core.precision.quantize import quantize_qdq

    cache = paths.calibration_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = cache / f".quant-{sleeper.pid}-abc"
        live.mkdir()
        (live / "input.onnx").write_bytes(b"in use")
        ds = open_dataset(DIGITS_CALIB, inspect_model(DIGITS).inputs, limit=4)
        quantize_qdq(DIGITS, ds, {})
        assert (live / "input.onnx").read_bytes() == b"in use"
    finally:
        sleeper.kill()
        sleeper.wait()


# ---------------------------------------------------------------------------------------------- results


def test_kill_during_result_store_add_loop():
    db = paths.results_db_path()
    proc = _spawn(
        f"""
        import json
        from workbench.core.results.result import result_from_dict
        from workbench.core.results.store import ResultStore

        entry = {json.dumps(_entry(0))}
        store = ResultStore()
        i = 0
        while True:
            i += 1
            store.add(result_from_dict(dict(entry, iteration=i)))
            print(json.dumps({{"added": i}}), flush=True)
        """
    )
    events = _kill_when(proc, lambda e: e["added"] >= 200)
    committed = events[-1]["added"]
    assert db.exists()
    _check_db(committed)  # every entry reported as added survived; the file is consistent
