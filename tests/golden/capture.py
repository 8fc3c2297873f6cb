"""Run every command whose JSON output is a contract and collect the documents (the golden test's input).

    python tests/golden/capture.py --update     # rewrite tests/golden/json_shapes.json from today's output

Each case runs the real CLI (``python -m workbench``, in the foreground) in one throw-away WORKBENCH_HOME, so the
results commands see the results the benchmark commands stored. The golden file keeps only shapes (keys and
value kinds, tests/golden/shapes.py), never values. A commit that adds keys regenerates it; a lost key fails
tests/golden/test_json_golden.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
GOLDEN = HERE / "json_shapes.json"
FIX = REPO / "tests" / "fixtures"
QUICK = ["--iterations", "200", "--warmup-ms", "20", "--foreground"]


def _fake_board(tmp: Path) -> dict[str, str]:
    """PATH with the fake nvpmodel and sudo the power tests use, in power mode 1 of an Orin NX conf."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    for name, script in (("nvpmodel", "fake_nvpmodel.py"), ("sudo", "fake_sudo.py")):
        exe = bin_dir / name
        exe.write_text(f"#!{sys.executable}\n" + (FIX / "nvpmodel" / script).read_text())
        exe.chmod(0o755)
    (tmp / "state").write_text("1\n")
    return {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_NVPM_CONF": str(FIX / "nvpmodel" / "orin-nx-16gb-p3767-0000.conf"),
        "FAKE_NVPM_STATE": str(tmp / "state"),
    }


def _hostile_model(tmp: Path) -> tuple[Path, Path]:
    sys.path.insert(0, str(REPO / "tests" / "unit"))
    from test_localize import build_hostile  # one INT8-hostile layer: --auto-exclude takes steps

    return build_hostile(tmp / "hostile")


def run_cases(tmp: Path, only: set[str] | None = None) -> dict[str, object]:
    """{case name: parsed JSON document} for every case (or those in ``only``)."""
    env = dict(os.environ, WORKBENCH_HOME=str(tmp / "home"), PYTHONDONTWRITEBYTECODE="1")
    env.pop("WORKBENCH_DEBUG", None)
    board = _fake_board(tmp)
    hostile, hostile_calib = _hostile_model(tmp)
    replay = FIX / "tegrastats" / "bug-report-lines.log"
    trtexec_log = FIX / "trtexec" / "nano-4gb-trt801-yolo-fp16-deepstream-two-runs.log"
    docs: dict[str, object] = {}

    def run(name: str, *argv: str, lines: bool = False, extra_env: dict[str, str] | None = None) -> object:
        res = subprocess.run(
            [sys.executable, "-m", "workbench", *argv],
            capture_output=True, text=True, cwd=REPO, env={**env, **(extra_env or {})}, timeout=900,
        )  # fmt: skip
        if res.returncode != 0:
            raise AssertionError(f"{name}: workbench {' '.join(argv)} exited {res.returncode}:\n{res.stderr}")
        doc = [json.loads(x) for x in res.stdout.splitlines() if x.strip()] if lines else json.loads(res.stdout)
        docs[name] = doc
        return doc

    def want(name: str) -> bool:
        return only is None or name in only

    # Benchmarks (stored: the results commands below read them).
    b = run("bench", "bench", "--json", *QUICK, "--profile-layers", "--repeat", "2", "--idle-s", "0.2")
    if want("bench_until_stable"):
        run("bench_until_stable", "bench", "--json", "--until-stable", "--max-duration", "1", "--warmup-ms", "20",
            "--foreground")  # fmt: skip
    if want("bench_best"):
        best = run("bench_best", "bench", "--json", "--precision", "best", *QUICK)
        # Which precision wins depends on this run's timings: keep only the keys every winner has.
        best.pop("calibration", None)  # type: ignore[union-attr]
        (best.get("accuracy") or {}).pop("reference", None)  # type: ignore[union-attr]
    if want("bench_replay"):
        run("bench_replay", "bench", "--json", *QUICK, "--telemetry", f"replay:{replay}")
    if want("bench_server"):
        run("bench_server", "bench", "--json", "--scenario", "server", "--qps", "500", "--queries", "100",
            "--foreground")  # fmt: skip
    if want("bench_find_max_qps"):
        run("bench_find_max_qps", "bench", "--json", "--scenario", "server", "--find-max-qps", "--p99-bound", "5",
            "--queries", "60", "--no-store", "--foreground")  # fmt: skip
    if want("bench_offline"):
        run("bench_offline", "bench", "--json", "--scenario", "offline", "--max-batch", "2", *QUICK, "--no-store")
    if want("bench_multi_stream"):
        run("bench_multi_stream", "bench", "--json", "--scenario", "multi-stream", "--samples-per-query", "2",
            *QUICK, "--no-store")  # fmt: skip
    r = run("run", "run", "--json", *QUICK)
    if want("sweep"):
        run("sweep", "sweep", "--json", "--conf", board["FAKE_NVPM_CONF"], "--modes", "0,2", "--iterations", "100",
            "--cooldown-timeout", "1", "--foreground", extra_env=board)  # fmt: skip
    # Results.
    imported = run("results_import_trtexec", "results", "import-trtexec", str(trtexec_log), "--label", "golden",
                   "--json")  # fmt: skip
    ids = [b["result_id"], *(e["result_id"] for e in r["results"])]  # type: ignore[index]
    for i, rid in enumerate(ids):
        run(f"results_show_{i}", "results", "show", str(rid), "--json")
    run("results_show_import", "results", "show", str(imported[0]["id"]), "--json")  # type: ignore[index]
    run("results_show_layers", "results", "show", str(ids[0]), "--layers", "--json")
    run("results_list", "results", "list", "--json")
    run("results_compare", "results", "compare", str(ids[1]), str(ids[2]), "--format", "json")
    run("results_export_json", "results", "export", "--format", "json")
    # Calibration and accuracy comparison.
    run("calibrate", "calibrate", "--json", "--foreground")
    run("compare", "compare", "--json")
    run("compare_auto_exclude", "compare", str(hostile), "--precision", "int8", "--calib", str(hostile_calib),
        "--profile", "cpu-x86_64", "--per-layer", "--auto-exclude", "--max-excluded", "4", "--json")  # fmt: skip
    # Telemetry, power, jobs.
    run("telemetry_parse", "telemetry", "parse", str(replay), "--json", lines=True)
    run("power_list", "power", "list", "--conf", board["FAKE_NVPM_CONF"], "--json")
    run("power_query", "power", "query", "--json", extra_env=board)
    return docs


def shapes(docs: dict[str, object]) -> dict[str, object]:
    sys.path.insert(0, str(HERE))
    from shapes import shape_of

    return {name: shape_of(doc) for name, doc in sorted(docs.items())}


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as t:
        docs = run_cases(Path(t))
    text = json.dumps(shapes(docs), indent=1, sort_keys=True) + "\n"
    if "--update" in argv:
        GOLDEN.write_text(text)
        print(f"wrote {GOLDEN} ({len(docs)} documents)")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
