"""Golden tests of the tegrastats parser on real lines (tests/fixtures/tegrastats, copied from
shared/fixtures with their source headers). Constructed lines are labelled as such."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from workbench.core.telemetry.tegrastats import data_lines, parse_file, parse_line, wall_offsets

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "tegrastats"
ALL_LOGS = sorted(FIX.glob("*.log"))
RAIL_VALUE = re.compile(r"\d+(mW)?/\d+(mW)?(/\d+(mW)?)?")


def lines_of(name: str) -> list[str]:
    return [s for _, s in data_lines((FIX / name).read_text().splitlines())]


@pytest.mark.parametrize("path", ALL_LOGS, ids=lambda p: p.name)
def test_every_fixture_line_parses_with_nothing_dropped(path):
    samples = parse_file(path)
    assert samples, f"{path.name} has no data line"
    for s, line in zip(samples, lines_of(path.name), strict=True):
        assert s.unparsed == (), f"{path.name}: {s.unparsed}"
        assert s.ram_mb is not None and s.ram_mb.total > 0
        assert s.cpu, "every line has a CPU list"
        # No value silently turned into a zero: offline cores carry no load/frequency.
        assert all(c.load_pct is None and c.freq_mhz is None for c in s.cpu if not c.online)
        # Every rail token became a rail: count "NAME a/b" pairs in the raw text.
        n_rails = sum(1 for tok in line.split() if RAIL_VALUE.fullmatch(tok))
        assert len(s.rails_mw) == n_rails


def test_orin_nx_16gb_line_from_bug_report():
    s = parse_line(lines_of("bug-report-lines.log")[-1])
    assert s.wall_time == "06-16-2023 10:45:09"
    assert len(s.cpu) == 8
    assert [c.online for c in s.cpu] == [True] * 4 + [False] * 4
    assert [c.load_pct for c in s.cpu[:4]] == [6.0, 9.0, 5.0, 16.0]
    assert all(c.freq_mhz == 729.0 for c in s.cpu[:4])
    assert s.temps_c["tj"] == 48.875
    assert s.total_power_mw == 5299.0 and s.total_power_rule == "VDD_IN"
    assert s.rails_mw["VDD_IN"].now_mw == 5299.0 and s.rails_mw["VDD_IN"].avg_mw == 5299.0
    assert s.rails_mw["VDD_IN"].max_mw is None
    assert s.ram_mb.used == 6334.0 and s.ram_mb.total == 15388.0
    assert s.swap_mb.used == 491.0 and s.swap_mb.total == 7694.0
    assert s.gpu.load_pct == 0.0 and s.gpu.freq_mhz == (611.0, 0.0)  # GR3D2_FREQ = second GPC
    assert s.emc.load_pct == 0.0 and s.emc.freq_mhz == 2133.0
    assert s.engines["VIC_FREQ"].freq_mhz == 729.0 and s.engines["APE"].freq_mhz == 174.0


def test_nano_pom_5v_in_is_the_total_not_the_sum():
    s = parse_line(lines_of("bug-report-lines.log")[0])
    assert s.total_power_mw == 1828.0 and s.total_power_rule == "POM_5V_IN"
    assert sum(r.now_mw for r in s.rails_mw.values()) == 2192.0  # the wrong answer
    assert s.rails_mw["POM_5V_CPU"].now_mw == 243.0 and s.rails_mw["POM_5V_CPU"].avg_mw == 297.0
    assert s.extra["iram_kb"] == {"used": 0.0, "total": 252.0}
    assert s.swap_mb.total == 1982.0


def test_negative_temperatures_constructed_line():
    s = parse_line(lines_of("bug-report-lines.log")[2])
    assert s.temps_c["CPU"] == -2.5
    assert s.temps_c["PLL"] == -1.5 and s.temps_c["AO"] == -0.5 and s.temps_c["thermal"] == -2.25
    assert s.temps_c["PMIC"] == 100.0


def test_sentinel_minus_256_is_null():
    s = parse_line(lines_of("agx-orin-64gb-jp51-catid-blog.log")[0])
    assert s.temps_c["GPU"] is None and s.temps_c["CV0"] is None
    assert s.temps_c["CPU"] == 42.593
    # No input rail on AGX Orin: sum of module rails, NC (twice) excluded.
    assert set(s.rails_mw) == {"VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0", "NC", "NC#2", "VDDQ_VDD2_1V8AO"}
    assert s.total_power_mw == 2399 + 400 + 4032 + 301 and s.total_power_rule == "sum"


def test_agx_xavier_gpu_rail_and_gpu_zone_do_not_collide():
    s = parse_line(lines_of("agx-xavier-32gb-jp44-yolov3-load-waggle.log")[0])
    assert s.temps_c["GPU"] == 54.5
    assert s.rails_mw["GPU"].now_mw == 18401.0 and s.rails_mw["GPU"].avg_mw == 18525.0
    assert s.total_power_mw == 18401 + 2301 + 4602 + 0 + 2914 + 4632
    assert s.gpu.load_pct == 95.0 and s.gpu.freq_mhz == (1377.0,)
    assert [c.freq_mhz for c in s.cpu] == [1190, 1190, 1190, 1190, 1336, 1340, 1543, 1574]
    assert s.extra["mts_pct"] == {"fg": 0.0, "bg": 10.0}


def test_tx2_vdd_in_not_first_and_off_cores_in_middle():
    s = parse_line(lines_of("tx2-jp4-datadog-vdd-sys-rails.log")[0])
    assert [c.online for c in s.cpu] == [True, False, False, True, True, True]
    assert s.total_power_mw == 3056.0 and s.total_power_rule == "VDD_IN"


def test_jp7_three_value_rails_and_temp_max_pairs():
    s = parse_line(lines_of("agx-orin-64gb-jp72-jetson-stats-test.log")[0])
    assert s.rails_mw["VDD_GPU_SOC"].to_dict() == {"now": 5139.0, "avg": 5139.0, "max": 5139.0}
    assert s.temps_c["cpu"] == 52.968 and s.temps_max_c["cpu"] == 52.968
    assert s.gpu.load_pct == 12.0 and s.gpu.freq_mhz == (1300.0, 1300.0)
    assert s.engines["NVENC0"].on is False and s.engines["NVDLA1"].on is False
    assert s.swap_mb is None
    assert s.extra["lfb"] == {"blocks": 1, "block_size": "2MB"}
    assert s.total_power_mw == 5139 + 3268 + 5500 and s.total_power_rule == "sum"


def test_thor_gpu_without_load_is_none_not_zero():
    s = parse_line(lines_of("thor-jp7-r384-tegra-exporter.log")[0])
    assert s.gpu.load_pct is None and s.gpu.freq_mhz == (0.0, 0.0, 0.0)
    assert len(s.cpu) == 14
    assert s.engines["NVENC0_FREQ"].freq_mhz == 0.0 and s.engines["VIC"].on is False
    assert s.temps_c["soc012"] == 33.781


def test_non_sudo_fields_missing_are_none():
    s = parse_line(lines_of("agx-orin-jp6-datadog-r36-and-nonsudo.log")[1])
    assert s.emc is None and s.wall_time is None
    assert s.gpu.load_pct == 0.0 and s.gpu.freq_mhz == (None,)
    s = parse_line(lines_of("orin-nx-16gb-jp5-nonsudo-no-rails.log")[0])
    assert s.rails_mw == {} and s.total_power_mw is None and s.total_power_rule is None
    assert s.gpu.freq_mhz == (None, 0.0)  # GR3D_FREQ 0% then GR3D2_FREQ 0%@0
    assert s.emc.load_pct == 0.0 and s.emc.freq_mhz is None


def test_irregular_spaces_and_engines():
    s = parse_line(lines_of("agx-orin-jp6-datadog-r36-and-nonsudo.log")[0])
    assert s.engines["NVENC"].on is False and s.engines["APE"].freq_mhz == 174.0
    assert s.gpu.freq_mhz == (305.0, 305.0)
    assert s.temps_c["soc0"] == 48.843


def test_bare_mhz_engines_and_kb_lfb():
    s = parse_line(lines_of("nano-jp42-nvenc-nvdec-jetson-stats-emulator.log")[0])
    assert s.engines["NVENC"].freq_mhz == 716.0 and s.engines["NVDEC"].on is True
    s = parse_line(lines_of("tx2-jp33-loaded-jetson-stats.log")[0])
    assert s.extra["lfb"] == {"blocks": 1, "block_size": "512kB"}
    assert s.total_power_mw == 14025.0


def test_pre_jp32_legacy_layout_constructed():
    # Constructed from the layout described in issue 5 (lowercase cpu list, one cluster clock after the bracket,
    # EMC/GR3D without _FREQ); not a captured line.
    line = "RAM 2082/3995MB (lfb 232x4MB) cpu [51%,42%,off,off]@1734 EMC 17%@1600 AVP 0%@80 VDE 120 GR3D 98%@998 EDP limit 1734"
    s = parse_line(line)
    assert [(c.online, c.load_pct, c.freq_mhz) for c in s.cpu] == [
        (True, 51.0, 1734.0),
        (True, 42.0, 1734.0),
        (False, None, None),
        (False, None, None),
    ]
    assert s.emc.load_pct == 17.0 and s.emc.freq_mhz == 1600.0
    assert s.gpu.load_pct == 98.0 and s.gpu.freq_mhz == (998.0,)
    assert s.engines["AVP"].load_pct == 0.0 and s.engines["VDE"].freq_mhz == 120.0
    assert s.extra["edp_limit_mhz"] == 1734.0
    assert s.unparsed == ()


def test_unknown_tokens_are_kept():
    s = parse_line("RAM 1/2MB CPU [1%@2] WIDGET FOO@bar 7/ VDD_IN 5/5")
    assert s.unparsed == ("WIDGET", "FOO@bar", "7/")
    assert s.total_power_mw == 5.0


def test_vin_is_thor_input_rail_constructed():
    s = parse_line(
        "RAM 1/2MB CPU [1%@2] VDD_GPU 100mW/100mW/200mW VIN 30000mW/29000mW/31000mW VIN_SYS_5V0 4000mW/4000mW/4000mW"
    )
    assert s.total_power_mw == 30000.0 and s.total_power_rule == "VIN"


def test_profile_rule_overrides_inference():
    line = lines_of("tx2-jp4-datadog-vdd-sys-rails.log")[0]
    s = parse_line(line, total_rule="sum:VDD_SYS_GPU,VDD_SYS_CPU")
    assert s.total_power_mw == 304.0 and s.total_power_rule == "sum:VDD_SYS_GPU,VDD_SYS_CPU"


def test_timestamps_repeat_at_100ms_so_interval_is_used():
    samples = parse_file(FIX / "orin-nano-8gb-super-jp62-interval100-hokwangchoi.log")
    assert len(samples) == 31
    assert wall_offsets(samples, 0.1)[:3] == [0.0, 0.1, 0.2]
    thor = parse_file(FIX / "thor-jp7-r384-tegra-exporter.log")
    assert wall_offsets(thor, 0.5) == [0.0, 1.0, 2.0]  # distinct 1 s stamps are used as they are
