"""trtexec import: golden median / p99 / throughput for every summary in every fixture, or the clear error
(issue 3, "What it must show" 4). Fixtures copied from the shared corpus to tests/fixtures/trtexec/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.core.errors import ResultsError
from workbench.core.results.store import ResultStore
from workbench.core.results.trtexec_import import SOURCE, parse_trtexec_log
from workbench.core.results.trtexec_import import import_trtexec as _import

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "trtexec"

# file -> one tuple per summary: (median ms, p99 ms, trtexec's printed "Throughput" or None — inferences/s: trtexec
# multiplies by --batch itself —, precision, batch, iterations)
GOLDEN = {
    "agx-orin-32gb-and-thor-partial-summaries.log": [
        (76.3436, 76.4476, 12.9581, "fp16", 1, None),  # Orin: multi-line pasted command with --fp16
        (640.024, 684.747, 1.55139, "unknown", 1, None),  # Thor: no [I], no timestamps, no command
    ],
    "agx-orin-dla-slow-trt-issue2426.log": [(2241.13, 2241.41, 0.406047, "unknown", 1, None)],
    "agx-xavier-trt840-mnist-b16-oe4t-pr952.log": [(0.401947, 0.420288, 41087.7, "fp32", 16, None)],
    "format-variants-legacy-mangled-desktop.log": [
        (35.4502, 35.6085, 28.1913, "fp16", 1, None),  # TRT 7/8.0 multi-line layout
        (1.65601, 1.67065, None, "unknown", 1, None),  # "throughput: 0 qps": unknown, not 0
        (6.02185, 6.17407, 169.352, "unknown", 1, None),  # mangled paste: '=' missing, lines run together
        (7.16092, 12.9675, 130.298, "unknown", 1, None),  # 8.6/10 p90/p95/p99, cut "[W] * Throughput may be"
        (2.13184, 2.93274, 452.717, "fp16", 1, None),  # cut inside the GPU Compute line
    ],
    "nano-4gb-trt801-yolo-fp16-deepstream-two-runs.log": [
        (40.6337, 40.8591, 24.5583, "fp16", 1, 100),
        (40.3808, 40.6343, 24.7474, "fp16", 1, 100),
    ],
    "nano-4gb-trt821-culane-fp32-build-and-run.log": [(90.3035, 91.492, 11.0613, "fp32", 1, 35)],
    "xavier-nx-trt85-e2e-host-latency-oe4t-pr1124.log": [(0.572998, 0.587769, 27207.0, "unknown", 1, None)],
}
# file -> words the "no performance summary" error must contain
NO_SUMMARY = {
    "xavier-nx-16gb-jp515-trt852-dumpprofile-no-summary.log": "--dumpProfile",
    "orin-nx-16gb-jp62-r365-yolo-wall-fps-with-tegrastats.csv": "trtexec failed before measuring",
    "agx-orin-64gb-jp511-dla-images-per-sec-nvidia.csv": "CSV table",
    "agx-xavier-32gb-jp5-trt852-15w-desktop-trtexec-with-ina3221.csv": "CSV table",
    "agx-xavier-yolov3-power-modes-waggle.csv": "CSV table",
    "orin-nano-8gb-super-jp62-yolov8n-trtexec-hokwangchoi.csv": "CSV table",
    "xavier-nx-jp44-jetson-benchmarks-readme-fps.csv": "CSV table",
    "agx-orin-64gb-dla-user-replication-issue29.txt": "no performance summary found",
}


def import_trtexec(path, **kw) -> list[dict]:
    """The imported results as the JSON documents the database stores (the import's contract)."""
    return [r.to_dict() for r in _import(path, **kw)]


def test_imports_are_typed_and_say_where_they_come_from():
    from workbench.core.results.summary import summary

    a, b = _import(FIX / "nano-4gb-trt801-yolo-fp16-deepstream-two-runs.log", label="lab")
    assert a.provenance.kind == "imported" and not a.is_measurement and a.measured  # historic JSON flag kept
    assert a.source == SOURCE and a.label == "lab"
    assert a.imported.block == 1 and b.imported.block == 2 and a.imported.blocks_in_file == 2
    assert a.latency.median_ms == 40.6337 and a.latency.p50_ms == 40.6337 and a.throughput.queries_per_s == 24.5583
    assert "Provenance: imported (trtexec import: lab)" in summary(a)


def test_every_fixture_is_covered():
    assert sorted(p.name for p in FIX.iterdir()) == sorted([*GOLDEN, *NO_SUMMARY])


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_values(name):
    entries = import_trtexec(FIX / name, label="lab")
    got = [
        (e["latency_ms"]["median"], e["latency_ms"]["p99"], e["throughput_ips"], e["precision"], e["batch"],
         e["iterations"])
        for e in entries
    ]  # fmt: skip
    assert got == GOLDEN[name]
    for e in entries:
        assert e["source"] == SOURCE and e["label"] == "lab" and e["backend"] == "tensorrt"
        assert e["latency_ms"]["p50"] == e["latency_ms"]["median"]
        # not multiplied by the batch again (the batch-16 Xavier log: 41087.7 inferences/s = 2567.98 queries/s)
        assert e["throughput_qps"] == (None if e["throughput_ips"] is None else e["throughput_ips"] / e["batch"])


@pytest.mark.parametrize("name", sorted(NO_SUMMARY))
def test_no_summary_is_a_clear_error(name):
    with pytest.raises(ResultsError) as err:
        import_trtexec(FIX / name)
    msg = str(err.value)
    assert msg.startswith(f"{FIX / name}: no performance summary found")
    assert NO_SUMMARY[name] in msg + (err.value.hint or "")


def test_details_kept_per_layout():
    (culane,) = import_trtexec(FIX / "nano-4gb-trt821-culane-fp32-build-and-run.log")
    assert culane["device"] == "NVIDIA Tegra X1" and culane["versions"] == {"tensorrt": "8.2.1"}
    assert culane["model"] == "weights/culane_18-INT32.onnx"
    t = culane["trtexec"]
    assert t["gpu_compute_ms"]["median"] == 90.0183 and t["end_to_end_ms"]["p99"] == 91.5049
    assert t["walltime_s"] == 3.16419 and t["gpu_total_s"] == 3.15371
    a, b = import_trtexec(FIX / "nano-4gb-trt801-yolo-fp16-deepstream-two-runs.log")
    assert a["versions"] == {"tensorrt": "8.0.1"}  # "TensorRT version: 8001"
    assert "--exportTimes" in a["command"] and "--exportTimes" not in b["command"]  # each run keeps its command
    assert a["trtexec"]["enqueue_ms"]["median"] == 40.4176 and b["trtexec"]["enqueue_ms"]["median"] == 7.18372
    (mnist,) = import_trtexec(FIX / "agx-xavier-trt840-mnist-b16-oe4t-pr952.log")
    assert mnist["versions"] == {"tensorrt": "8.4.0"} and mnist["batch_assumed"] is False
    # trtexec printed 41087.7 qps with --batch=16, already × 16 (printEpilog: batchSize * timings / walltime): the log's
    # own figures agree — 2.992 s of GPU compute at 0.388 ms per query in 3.0 s is ≈ 2568 queries/s, × 16 ≈ 41 088
    assert mnist["throughput_ips"] == pytest.approx(41087.7)
    assert mnist["throughput_qps"] == pytest.approx(41087.7 / 16)
    legacy = import_trtexec(FIX / "format-variants-legacy-mangled-desktop.log")
    assert legacy[0]["trtexec"]["end_to_end_ms"]["median"] == 35.4629
    assert legacy[0]["trtexec"]["gpu_compute_ms"]["p99"] == 34.8673
    assert legacy[1]["warnings"] == [
        "trtexec printed 'throughput: 0 qps' (a bug of old trtexec builds); throughput unknown"
    ]
    mangled = legacy[2]
    assert mangled["latency_ms"]["max"] == 6.19507  # "max 6.19507 ms" without '='
    assert mangled["trtexec"]["d2h_ms"]["p99"] == 1.50879 and mangled["trtexec"]["walltime_s"] == 3.05281
    modern = legacy[3]
    assert (modern["latency_ms"]["p90"], modern["latency_ms"]["p95"]) == (10.2996, 10.8698)


def test_partial_paste_without_throughput_header():
    text = "Latency: min = 1 ms, max = 3 ms, mean = 2 ms, median = 2 ms, percentile(99%) = 3 ms\n"
    (raw,) = parse_trtexec_log(text)
    assert raw["sections"]["latency_ms"] == {"min": 1.0, "max": 3.0, "mean": 2.0, "median": 2.0, "p99": 3.0}
    assert raw["values"] == {}


def test_cli_import_list_show(run_cli):
    res = run_cli("results", "import-trtexec", str(FIX / "nano-4gb-trt801-yolo-fp16-deepstream-two-runs.log"),
                  "--label", "Nano 4GB JP4.6")  # fmt: skip
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith("stored result 1: trtexec summary 1/2 (line ")
    assert "fp16, median 40.634 ms, p99 40.859 ms, throughput 24.558 qps" in lines[0]
    listing = run_cli("results", "list").stdout
    assert listing.splitlines()[1].rstrip().endswith("trtexec import")
    shown = run_cli("results", "show", "2").stdout
    assert "Source      trtexec import — Nano 4GB JP4.6" in shown
    doc = json.loads(run_cli("results", "show", "1", "--json").stdout)
    assert doc["source"] == SOURCE and doc["latency_ms"]["median"] == 40.6337
    bad = run_cli("results", "import-trtexec", str(FIX / "xavier-nx-16gb-jp515-trt852-dumpprofile-no-summary.log"))
    assert bad.returncode == 10 and "no performance summary found" in bad.stderr and "Traceback" not in bad.stderr
    assert "--separateProfileRun" in bad.stderr


def test_imported_entries_round_trip_the_store(tmp_path):
    results = _import(FIX / "agx-orin-32gb-and-thor-partial-summaries.log")
    with ResultStore(tmp_path / "r.sqlite3") as store:
        ids = [store.add(r) for r in results]
        rows = store.list()
        exported = store.export("csv").text.splitlines()
        again = store.get(ids[0])
    assert [r.id for r in rows] == ids[::-1]
    assert {r.source for r in rows} == {SOURCE}
    assert rows[-1].p50_ms == 76.3436 and rows[-1].p99_ms == 76.4476
    assert again.provenance.kind == "imported" and again.imported == results[0].imported
    import csv

    recs = list(csv.DictReader(exported))
    assert [r["source"] for r in recs] == [SOURCE, SOURCE]
    assert recs[0]["latency_ms.p99"] == "76.4476" and recs[0]["throughput_qps"] == "12.9581"
