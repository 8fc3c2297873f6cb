"""Helpers for the UI tests: a recorded-data app factory, waiting on workers, reading widget text."""

from __future__ import annotations

import json
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "ui"
PROFILE = "cpu-x86_64"  # explicit, so snapshots do not depend on the machine's detected device
NVPM_CONF = Path("tests/fixtures/nvpmodel/orin-nx-16gb-p3767-0000.conf")  # relative: the UI tests run in REPO


def recorded_sweep():
    """The example sweep of tests/fixtures/ui/sweep-orin-nx-example.json as a SweepResult (its recommendation
    computed by the core from the rows and the file's p99 target)."""
    from workbench.core.power.sweep import SweepResult, SweepRow, recommend

    doc = json.loads((FIXTURES / "sweep-orin-nx-example.json").read_text())
    rows = tuple(SweepRow(**r) for r in doc["rows"])
    return SweepResult(
        rows=rows,
        original_mode=doc["original_mode"],
        original_id=doc["original_id"],
        restored=True,
        restore_error=None,
        recommendation=recommend(rows, p99_max_ms=doc["p99_max_ms"]),
    )


def recorded_tune():
    """The example tune of tests/fixtures/ui/tune-example.json (hand-made figures, labelled recorded on screen) as a
    TuneResult, read back the way the Tune screen reads a tune job's outcome."""
    from workbench.ui.tunedoc import tune_result_from_dict

    return tune_result_from_dict(json.loads((FIXTURES / "tune-example.json").read_text()))


def recorded_fleet():
    """The example fleet run and check of tests/fixtures/ui/fleet-example.json (hand-made figures, labelled recorded
    on screen) as (FleetRun, HostFacts rows), read back the way the Fleet screen reads a fleet job's documents."""
    from workbench.ui.fleetdoc import fleet_run_from_dict, host_facts_from_doc

    doc = json.loads((FIXTURES / "fleet-example.json").read_text())
    return fleet_run_from_dict(doc["fleet"]), host_facts_from_doc(doc["check"])


def recorded_data():
    """Recorded data: a real tegrastats capture (Orin Nano Super, JetPack 6.2) and results measured earlier."""
    from workbench.core.profiles.match import Detection
    from workbench.core.telemetry.tegrastats import data_lines, parse_line
    from workbench.ui.recorded import Recorded

    lines = (FIXTURES / "tegrastats-orin-nano-super-jp62.log").read_text().splitlines()
    samples = tuple(parse_line(line, seq=k, source="tegrastats") for k, (_, line) in enumerate(data_lines(lines)))
    from workbench.core.results.result import result_from_dict

    results = tuple(result_from_dict(e) for e in json.loads((FIXTURES / "results.json").read_text())["results"])
    detection = Detection(
        kind="cpu",
        model=None,
        l4t=None,
        jetpack=None,
        gpu_name=None,
        arch="x86_64",
        profile_name=PROFILE,
        reason="recorded detection: x86_64 host, no Jetson device tree, no NVIDIA GPU",
    )
    return Recorded(
        telemetry=samples,
        telemetry_name="tegrastats (Orin Nano Super)",
        telemetry_unavailable={"fan": "tegrastats prints no fan reading"},
        results=results,
        bench_result=next(r for r in results if r.precision == "int8"),
        detection=detection,
        sweep=recorded_sweep(),
        latency_trace=recorded_trace(),
        tune=recorded_tune(),
        fleet=recorded_fleet()[0],
        fleet_facts=recorded_fleet()[1],
    )


def recorded_trace():
    """The latency trace of tests/fixtures/ui/latency-trace.json (a real run of the bundled model on an x86-64
    host, tools/record_latency_trace.py) as a LatencyTrace."""
    from workbench.ui.recorded import LatencyTrace

    doc = json.loads((FIXTURES / "latency-trace.json").read_text())
    pts = doc["points"]
    return LatencyTrace(
        t_s=tuple(p[0] for p in pts),
        ms=tuple(p[1] for p in pts),
        max_ms=tuple(p[2] for p in pts),
        p50_ms=doc["p50_ms"],
        p99_ms=doc["p99_ms"],
        window_ms=tuple(doc["window_ms"]),
        source=f"{doc['model']}, {doc['host']}, {doc['recorded_at']}",
    )


LOAD_LOG = REPO / "tests" / "fixtures" / "tegrastats" / "orin-nano-8gb-super-jp62-interval100-hokwangchoi.log"


def recorded_load_telemetry():
    """21 contiguous 100 ms tegrastats samples of a GPU load onset (Orin Nano 8GB Super, JetPack 6.2; data lines
    7-27 of the fixture, lines 340-360 of the capture), stamped 0.1 s apart from 0 (the capture's interval)."""
    from workbench.core.telemetry.tegrastats import parse_file

    return tuple(s.with_time(0.1 * k, k) for k, s in enumerate(parse_file(LOAD_LOG)[6:27]))


def make_recorded_app(load_telemetry: bool = False, **kw):
    """The app with recorded data. ``load_telemetry``: the 2.1 s GPU-load tegrastats segment instead of the two
    idle/busy lines (a time series for the Benchmark screen's power/temperature plot)."""
    from dataclasses import replace

    from workbench.ui.app import make_app

    rec = recorded_data()
    if load_telemetry:
        rec = replace(rec, telemetry=recorded_load_telemetry(), telemetry_name="tegrastats (Orin Nano 8GB)")
    return make_app(None, profile=PROFILE, recorded=rec, **kw)


async def wait_for(pilot, cond, timeout: float = 120.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await pilot.pause(0.05)


async def wait_idle(pilot, timeout: float = 180.0) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.busy is None, timeout, "the running job")
    await app.workers.wait_for_complete()
    await pilot.pause(0.1)


def text(widget) -> str:
    """Plain text a Static/widget currently renders."""
    return str(widget.render())


def rich_text(widget, width: int = 120) -> str:
    """Plain text of a Static whose content is any Rich renderable (tables, groups), rendered at ``width``."""
    import io

    from rich.console import Console

    console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    console.print(widget.content)
    return console.export_text()


def screen_lines(app) -> list[str]:
    """What the terminal shows, one string per row: the text of the app's SVG screenshot placed by its position
    (Textual's SVG export: cells 12.2 px wide, rows 24.4 px apart from y=20)."""
    import html
    import re

    svg = app.export_screenshot()
    rows: dict[float, list[tuple[float, str]]] = {}
    for m in re.finditer(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>', svg):
        rows.setdefault(float(m.group(2)), []).append((float(m.group(1)), html.unescape(m.group(3))))
    out = [""] * app.size.height
    for y, items in rows.items():
        line = ""
        for x, t in sorted(items):
            line = line.ljust(int(round(x / 12.2))) + t
        out[int(round((y - 20) / 24.4))] = line.replace("\xa0", " ").rstrip()
    return out
