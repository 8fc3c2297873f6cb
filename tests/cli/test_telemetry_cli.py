"""`workbench telemetry parse|record|sources` through the real CLI (issue 5, "What it must show" 6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "tegrastats"
KEYS = {
    "ram_mb", "swap_mb", "cpu", "gpu", "emc", "temps_c", "temps_max_c", "rails_mw",
    "total_power_mw", "total_power_rule", "engines", "unparsed",
}  # fmt: skip


def test_parse_json_lines_contract(run_cli):
    res = run_cli("telemetry", "parse", str(FIX / "bug-report-lines.log"), "--json")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == 4  # 4 data lines; the '#' lines are ignored, nothing else on stdout
    objs = [json.loads(x) for x in lines]
    assert all(KEYS <= set(o) for o in objs)
    assert all(" " not in x.split('"wall_time"')[0] for x in lines)  # compact separators
    nano, _, cold, orin = objs
    assert nano["total_power_mw"] == 1828 and nano["total_power_rule"] == "POM_5V_IN"
    assert nano["rails_mw"]["POM_5V_CPU"] == {"now": 243, "avg": 297, "max": None}
    assert nano["temps_c"]["PMIC"] == 100
    assert cold["temps_c"]["CPU"] == -2.5
    assert orin["total_power_mw"] == 5299 and orin["total_power_rule"] == "VDD_IN"
    assert orin["temps_c"]["tj"] == 48.875
    assert [c["online"] for c in orin["cpu"]] == [True] * 4 + [False] * 4
    assert orin["cpu"][7] == {"online": False, "load_pct": None, "freq_mhz": None}
    assert orin["ram_mb"] == {"used": 6334, "total": 15388}
    assert orin["gpu"] == {"load_pct": 0, "freq_mhz": [611, 0]}
    assert orin["unparsed"] == []


def test_parse_json_sentinel_and_jp7_max(run_cli):
    res = run_cli("telemetry", "parse", str(FIX / "agx-orin-64gb-jp51-catid-blog.log"), "--json")
    o = json.loads(res.stdout)
    assert o["temps_c"]["GPU"] is None and o["total_power_rule"] == "sum"
    res = run_cli("telemetry", "parse", str(FIX / "agx-orin-64gb-jp72-jetson-stats-test.log"), "--json")
    o = json.loads(res.stdout)
    assert o["temps_c"]["cpu"] == 52.968 and o["temps_max_c"]["cpu"] == 52.968
    assert o["swap_mb"] is None and o["emc"] == {"load_pct": 3, "freq_mhz": 3199}
    assert o["engines"]["NVENC0"] == {"on": False, "load_pct": None, "freq_mhz": None}


def test_parse_every_fixture_exit_zero(run_cli):
    for path in sorted(FIX.glob("*.log")):
        res = run_cli("telemetry", "parse", str(path), "--json")
        assert res.returncode == 0, (path.name, res.stderr)
        for line in res.stdout.splitlines():
            assert json.loads(line)["unparsed"] == [], path.name


def test_parse_unknown_tokens_still_exit_zero(run_cli, tmp_path):
    f = tmp_path / "x.log"
    f.write_text("# header\nRAM 1/2MB CPU [1%@2] WIDGET 5/5\nRAM 1/2MB FOO\n")
    res = run_cli("telemetry", "parse", str(f), "--json")
    assert res.returncode == 0
    objs = [json.loads(x) for x in res.stdout.splitlines()]
    assert objs[1]["unparsed"] == ["FOO"]
    assert objs[0]["rails_mw"] == {"WIDGET": {"now": 5, "avg": 5, "max": None}}


def test_parse_missing_file(run_cli, tmp_path):
    res = run_cli("telemetry", "parse", str(tmp_path / "none.log"))
    assert res.returncode == 12 and res.stdout == ""
    assert "none.log" in res.stderr and "Traceback" not in res.stderr


def test_record_then_replay(run_cli, tmp_path):
    out = tmp_path / "session.jsonl"
    res = run_cli(
        "telemetry", "record", "--duration", "0.6", "--interval-ms", "100", "--source", "host", "-o", str(out)
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""
    lines = out.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "workbench-telemetry-session" and header["source"] == "host"
    assert 4 <= len(lines) - 1 <= 8
    samples = [json.loads(x) for x in lines[1:]]
    assert all(s["ram_mb"]["total"] > 0 for s in samples)
    ts = [s["timestamp_s"] for s in samples]
    assert ts == sorted(ts)
    from workbench.core.telemetry import open_source

    src = open_source(f"replay:{out}")
    assert src.measured is False and src.recorded_source == "host"
    assert src.read().ram_mb.total == samples[0]["ram_mb"]["total"]


def test_record_replay_of_a_replay_to_file(run_cli, tmp_path):
    out = tmp_path / "r.jsonl"
    log = FIX / "orin-nano-super-jp62-idle-busy.log"
    res = run_cli(
        "telemetry", "record", "--duration", "0.3", "--interval-ms", "50", "--source", f"replay:{log}", "-o", str(out)
    )
    assert res.returncode == 0, res.stderr
    header = json.loads(out.read_text().splitlines()[0])
    assert header["measured"] is False


def test_sources_lists_host(run_cli):
    res = run_cli("telemetry", "sources", "--json")
    assert res.returncode == 0, res.stderr
    rows = {r["source"]: r for r in json.loads(res.stdout)}
    assert rows["host"]["available"] is True
    assert set(rows) == {"jtop", "sysfs", "tegrastats", "nvml", "nvidia-smi", "host"}
    assert all(r["detail"] for r in rows.values())


def test_bench_with_replay_is_integrated_and_labelled(run_cli):
    """Issue 5 "What it must show" 3: bench over a recorded Orin log → mean W, mJ/inference, replay label."""
    log = FIX / "orin-nano-8gb-super-jp62-interval100-hokwangchoi.log"
    res = run_cli(
        "bench", "--iterations", "3000", "--no-store", "--json", "--telemetry", f"replay:{log},interval_ms=100"
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    tel = doc.get("telemetry") or doc["results"][0]["telemetry"]
    assert tel["measured"] is False and tel["label"] == "replay — not measured on this machine"
    assert tel["total_power_rule"] == "VDD_IN"
    # The log's VDD_IN spans 5.9-21.7 W; the window mean must lie inside, and mJ/inference = energy / inferences.
    assert 5.9 <= tel["mean_power_w"] <= 21.7
    assert tel["mj_per_inference"] == pytest.approx(tel["energy_mj"] / tel["inferences"])
    assert tel["energy_mj"] == pytest.approx(tel["mean_power_w"] * tel["window_s"] * 1000, rel=1e-9)
