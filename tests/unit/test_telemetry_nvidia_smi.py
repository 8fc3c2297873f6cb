"""nvidia-smi --query-gpu CSV parser over the captures in tests/fixtures/nvidia-smi, and the source against a
fake nvidia-smi executable."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from workbench.core.errors import TelemetryError
from workbench.core.telemetry.nvidia_smi import NvidiaSmiSource, has_metrics, parse_query_csv, sample_from_row

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "nvidia-smi"


def capture_csv(name: str, phase: str) -> str:
    lines = (FIX / name).read_text().splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith(f"# {phase} :: query-gpu"))
    block = []
    for ln in lines[i + 1 :]:
        if ln.startswith("####") and block and any(not b.startswith(("#", "$")) for b in block if b.strip()):
            break
        block.append(ln)
    return "\n".join(b for b in block if not b.startswith("####"))


def test_csv_with_units_r465():
    rows = parse_query_csv((FIX / "query-gpu-rtx2080super-drv465-csv-with-units.csv").read_text())
    r = rows[0]
    assert r["driver_version"] == "465.27" and r["serial"] is None
    assert r["power.draw"] == 30.37 and r["memory.total"] == 7979.0 and r["fan.speed"] == 38.0
    assert r["temperature.memory"] is None  # "N/A" without brackets
    s = sample_from_row(r)
    assert s.total_power_mw == pytest.approx(30370.0) and s.total_power_rule == "nvidia-smi.power.draw"
    assert s.temps_c == {"GPU": 32.0}
    assert s.throttle_reasons == ("gpu_idle",)  # clocks_throttle_reasons.active 0x...01 (old field name)


def test_csv_nounits_p100_fan_na_is_none():
    r = parse_query_csv((FIX / "query-gpu-tesla-p100-csv-nounits.csv").read_text())[0]
    assert r["fan.speed"] is None and r["power.draw"] == 28.16 and r["memory.used"] == 0.0
    s = sample_from_row(r)
    assert s.fan is None and s.gpu.load_pct == 0.0 and s.gpu.freq_mhz == (405.0,)
    assert s.extra["gpu_memory_mb"] == {"used": 0.0, "total": None}  # not queried in this capture → None, not 0


@pytest.mark.parametrize(
    ("name", "idle_w", "load_w", "driver"),
    [
        ("h100-80gb-hbm3-drv590-linux-idle-load-capture.txt", 69.85, 631.95, "590.48.01"),
        ("rtx4080super-drv595-linux-idle-load-capture.txt", 26.20, 84.24, "595.71.05"),
        ("rtx2080super-drv610-linux-idle-load-capture.txt", 39.17, 98.14, "610.57.04"),
    ],
)
def test_exporter_captures_idle_and_load(name, idle_w, load_w, driver):
    idle = parse_query_csv(capture_csv(name, "idle"))[0]
    load = parse_query_csv(capture_csv(name, "load"))[0]
    assert idle["driver_version"] == driver
    si, sl = sample_from_row(idle), sample_from_row(load)
    assert si.total_power_mw == pytest.approx(idle_w * 1000) and sl.total_power_mw == pytest.approx(load_w * 1000)
    assert si.throttle_reasons == ("gpu_idle",) and "gpu_idle" not in sl.throttle_reasons
    assert sl.gpu.load_pct > si.gpu.load_pct
    # "[Requested functionality has been deprecated]" and friends are None, never 0
    assert all(v is None or v != "[Requested functionality has been deprecated]" for v in idle.values())


def test_jetson_rows():
    text = (FIX / "jetson-nvidia-smi-outputs.txt").read_text()
    jp6 = next(ln for ln in text.splitlines() if ln.startswith("0, Orin (nvgpu), [N/A], [N/A], [N/A]"))
    fields = "index,name,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw"
    r = parse_query_csv(jp6, fields)[0]
    assert r["name"] == "Orin (nvgpu)" and r["utilization.gpu"] is None and r["power.draw"] is None
    assert not has_metrics(sample_from_row(r))
    thor = next(ln for ln in text.splitlines() if ln.startswith("0, NVIDIA Thor"))
    s = sample_from_row(parse_query_csv(thor, fields)[0])
    assert s.gpu.load_pct == 85.0 and s.temps_c == {"GPU": 62.0} and s.total_power_mw == pytest.approx(37530.0)
    assert "gpu_memory_mb" not in s.extra  # memory is [N/A] on Thor


def test_bad_row_count():
    with pytest.raises(TelemetryError, match="row 1 has 2 values for 3 fields"):
        parse_query_csv("1, 2\n", "a,b,c")


def fake_smi(tmp_path: Path, row: str, reject: str = "") -> Path:
    exe = tmp_path / "nvidia-smi"
    exe.write_text(
        f"#!{sys.executable}\nimport sys\n"
        f"q = [a for a in sys.argv if a.startswith('--query-gpu=')][0]\n"
        f"if {reject!r} and {reject!r} in q:\n    print('Field \"{reject}\" is not a valid field to query.'); sys.exit(2)\n"
        f"print({row!r})\n"
    )
    exe.chmod(0o755)
    return exe


def test_source_falls_back_to_old_field_names(tmp_path):
    # 12 fields: index,name,power,temp,util,memutil,sm,mem,used,total,fan,reasons
    exe = fake_smi(
        tmp_path,
        "0, NVIDIA A100, 61.5, 35, 3, 1, 210, 1593, 100, 81920, [N/A], 0x0000000000000004",
        reject="clocks_event_reasons",
    )
    src = NvidiaSmiSource(exe=str(exe))
    assert "clocks_throttle_reasons.active" in src.fields
    s = src.read()
    assert s.total_power_mw == pytest.approx(61500.0) and s.throttle_reasons == ("sw_power_cap",)
    assert s.fan is None and s.seq == 0


def test_source_all_na_is_unavailable(tmp_path):
    exe = fake_smi(tmp_path, "0, Orin (nvgpu), [N/A], [N/A], [N/A], [N/A], [N/A], [N/A], [N/A], [N/A], [N/A], [N/A]")
    with pytest.raises(TelemetryError, match="every metric is N/A"):
        NvidiaSmiSource(exe=str(exe))
    with pytest.raises(TelemetryError, match="not found"):
        NvidiaSmiSource(exe="")
