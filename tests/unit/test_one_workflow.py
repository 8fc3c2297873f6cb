"""The faces call the one workflow layer and orchestrate nothing themselves (issue "One workflow layer").

Read from the source with ``ast``: which functions the faces call. The machinery below the workflow (the benchmark
of one artifact, the sweep's loop, the child process, the results database's writes) must only be reached through
core/workflow.py, so a third copy of "build -> bench -> store" cannot appear in a face unnoticed.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FACES = ("cli", "ui")

# Functions only the core's workflow (or the core below it) may call.
BELOW_THE_WORKFLOW = {"run_benchmark", "run_sweep", "run_child", "build_result", "bench_artifact", "quantize_qdq"}


def _calls(folder: str) -> dict[str, set[str]]:
    """{module file: names called in it} (``f()`` and ``x.f()`` both give ``f``; ``workflow.f`` gives it too)."""
    out: dict[str, set[str]] = {}
    for path in sorted((REPO / "workbench" / folder).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                f = node.func
                if isinstance(f, ast.Name):
                    names.add(f.id)
                elif isinstance(f, ast.Attribute):
                    names.add(f.attr)
                    if isinstance(f.value, ast.Name) and f.value.id == "workflow":
                        names.add(f"workflow.{f.attr}")
        out[str(path.relative_to(REPO))] = names
    return out


def test_the_faces_never_call_the_machinery_below_the_workflow():
    for face in FACES:
        for module, names in _calls(face).items():
            assert not (names & BELOW_THE_WORKFLOW), f"{module} orchestrates: {sorted(names & BELOW_THE_WORKFLOW)}"


def test_both_faces_call_the_same_workflow_functions():
    """The CLI calls the workflow's long steps; the TUI runs those same CLI commands as detached jobs (issue 13:
    runs that survive the SSH link), so it never calls them in its own process — it prepares (inspection) in
    process and starts every long step through ``core.jobs.start(core.jobs.argv_for(request, command))``."""

    def used(face: str) -> set[str]:
        return {n for names in _calls(face).values() for n in names}

    cli, ui = used("cli"), used("ui")
    long_steps = {"workflow.build", "workflow.bench_and_store", "workflow.bench_best", "workflow.sweep",
                  "workflow.calibrate", "workflow.calibrate_and_check"}  # fmt: skip
    for fn in sorted(long_steps - {"workflow.calibrate_and_check"}) + ["workflow.prepare"]:
        assert fn in cli, (fn, sorted(n for n in cli if n.startswith("workflow.")))
    assert "workflow.prepare" in ui
    assert not (ui & long_steps), f"the TUI runs {sorted(ui & long_steps)} in its own process, not as a job"
    assert {"argv_for", "start"} <= ui


def test_results_are_stored_in_one_place():
    """Only workflow.store writes a benchmark result (and `results import-trtexec` its imported ones)."""
    writers = []
    for path in sorted((REPO / "workbench").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add":
                if isinstance(node.func.value, ast.Name) and node.func.value.id in ("db", "store"):
                    writers.append(str(path.relative_to(REPO)))
    assert sorted(set(writers)) == ["workbench/cli/cmd_results.py", "workbench/core/workflow.py"]


def test_no_hidden_channel_carries_the_job_directory():
    """The job's process gets its folder as an argument; no environment variable carries it (issue: no hidden
    channels)."""
    hits = [
        str(p.relative_to(REPO)) for p in (REPO / "workbench").rglob("*.py") if "WORKBENCH_JOB_DIR" in p.read_text()
    ]
    assert hits == []
