"""sysfs source over fixture trees (tests/fixtures/sysfs/trees, built by make_trees.py from the layouts in
tests/fixtures/sysfs/*.txt): same totals as the tegrastats parser on the same board's line."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.core.errors import TelemetryError
from workbench.core.telemetry import open_source
from workbench.core.telemetry.sysfs import SysfsSource, zone_name
from workbench.core.telemetry.tegrastats import data_lines, parse_line

HERE = Path(__file__).resolve().parents[1] / "fixtures"
TREES = HERE / "sysfs" / "trees"
TEGRA = HERE / "tegrastats"


def tegra_line(name: str, index: int):
    lines = [s for _, s in data_lines((TEGRA / name).read_text().splitlines())]
    return parse_line(lines[index])


@pytest.mark.parametrize(
    ("tree", "log", "index"),
    [
        ("nano-jp4-iio", "bug-report-lines.log", 0),
        ("tx2-jp4-iio", "tx2-jp4-datadog-vdd-sys-rails.log", 0),
        ("orin-nx-jp5-hwmon", "bug-report-lines.log", 3),
        ("agx-orin-jp5-hwmon", "agx-orin-64gb-jp51-catid-blog.log", 0),
        ("thor-jp7", "thor-jp7-r384-tegra-exporter.log", 0),
    ],
)
def test_sysfs_total_matches_tegrastats(tree, log, index, tmp_path):
    root = TREES / tree
    if tree == "thor-jp7":
        # Without the carrier INA238 the module rails are all there is, as in the R38.4 tegrastats line.
        import shutil

        shutil.copytree(root, tmp_path / "t", symlinks=True)
        shutil.rmtree(tmp_path / "t/sys/bus/i2c/drivers/ina238")
        root = tmp_path / "t"
    s = open_source("sysfs", root=root).read()
    ref = tegra_line(log, index)
    assert s.total_power_rule == ref.total_power_rule
    # INA3221 hwmon reports integers mV and mA; their product matches tegrastats' integer mW within rounding.
    assert s.total_power_mw == pytest.approx(ref.total_power_mw, abs=0.5 * len(s.rails_mw))
    named = {k: v.now_mw for k, v in ref.rails_mw.items() if not k.startswith("NC")}
    assert set(s.rails_mw) == set(named)
    for k, v in named.items():
        assert s.rails_mw[k].now_mw == pytest.approx(v, abs=0.5)


def test_nano_iio_exact_and_pmic_and_fan():
    src = SysfsSource(root=TREES / "nano-jp4-iio")
    s = src.read()
    assert s.total_power_mw == 1828.0 and s.total_power_rule == "POM_5V_IN"
    assert list(s.rails_mw) == ["POM_5V_IN", "POM_5V_GPU", "POM_5V_CPU"]
    ref = tegra_line("bug-report-lines.log", 0)
    assert s.temps_c == ref.temps_c  # zone types mapped to tegrastats' names: AO, CPU, GPU, PLL, PMIC, thermal
    assert s.gpu.load_pct == 0.0 and s.gpu.freq_mhz == (921.6,)
    assert s.fan.pwm_pct == 0.0
    assert s.ram_mb.used == 417.0 and s.ram_mb.total == 3964.0
    assert s.swap_mb.total == 1982.0
    assert [c.freq_mhz for c in s.cpu] == [1428.0] * 4
    assert "emc" in src.unavailable and s.emc is None


def test_orin_offline_cores_hwmon_and_fan():
    s = SysfsSource(root=TREES / "orin-nx-jp5-hwmon").read()
    assert [c.online for c in s.cpu] == [True] * 4 + [False] * 4
    assert s.cpu[4].load_pct is None and s.cpu[4].freq_mhz is None
    assert s.cpu[0].freq_mhz == 729.6
    assert s.temps_c["tj"] == 48.875 and s.temps_c["CV0"] == 45.812
    assert "sum of shunt voltages" not in s.rails_mw
    assert s.fan.pwm_pct == pytest.approx(20.0)
    assert s.gpu.freq_mhz == (611.25,)


def test_agx_orin_nc_skipped_sentinel_and_rpm():
    s = SysfsSource(root=TREES / "agx-orin-jp5-hwmon").read()
    assert "NC" not in s.rails_mw
    assert s.temps_c["GPU"] is None and s.temps_c["CPU"] == 42.593
    assert s.fan.rpm == 1234.0 and s.fan.pwm_pct is None
    assert s.total_power_rule == "sum"


def test_agx_xavier_jp5_unlabeled_19v_channels():
    src = SysfsSource(root=TREES / "agx-xavier-jp5-unlabeled")
    s = src.read()
    assert list(s.rails_mw) == [f"INA3221_1_40_CH{c}" for c in (1, 2, 3)] + [f"INA3221_1_41_CH{c}" for c in (1, 2, 3)]
    # 64 mA at 19.448 V + 360 mA at 19.456 V (the user's idle reading ≈ 8.23 W)
    assert s.total_power_mw == pytest.approx(64 * 19.448 + 360 * 19.456)
    assert s.total_power_rule == "sum"
    assert "temps_c" in src.unavailable


def test_thor_ina238_microwatts_is_the_total():
    src = SysfsSource(root=TREES / "thor-jp7")
    s = src.read()
    assert s.rails_mw["VIN"].now_mw == 30504.0  # 30504000 µW
    assert s.total_power_mw == 30504.0 and s.total_power_rule == "VIN"
    # A JP7.2-style tegrastats line with the same VIN rail (constructed) gives the same total.
    ref = parse_line(
        "RAM 1/2MB CPU [1%@972] VDD_GPU 0mW/0mW/0mW VDD_CPU_SOC_MSS 4165mW/4165mW/4165mW VIN_SYS_5V0 4126mW/4126mW/4126mW VIN 30504mW/30504mW/30504mW"
    )
    assert (ref.total_power_mw, ref.total_power_rule) == (s.total_power_mw, s.total_power_rule)
    assert s.gpu.freq_mhz == (0.0, 0.0, 0.0) and s.gpu.load_pct is None  # no load file on Thor → n/a, not 0
    assert s.temps_c["gpu"] is None and "temps_c.gpu" in src.unavailable
    assert s.fan.rpm == 1786.0 and s.fan.pwm_pct == pytest.approx(58 * 100 / 255, abs=0.05)


def test_cpu_load_from_proc_stat_deltas(tmp_path):
    import shutil

    root = tmp_path / "r"
    shutil.copytree(TREES / "nano-jp4-iio", root, symlinks=True)
    src = SysfsSource(root=root)
    # The probe at open took the first /proc/stat snapshot; unchanged counters → no elapsed time → n/a, not 0.
    assert all(c.load_pct is None for c in src.read().cpu)
    stat = root / "proc/stat"
    lines = stat.read_text().splitlines()
    # cpu0: user +200, idle +100 → 200/300 busy
    lines[1] = "cpu0 300 0 100 900 0 0 0 0 0 0"
    stat.write_text("\n".join(lines) + "\n")
    s = src.read()
    assert s.cpu[0].load_pct == 66.7
    assert s.cpu[1].load_pct is None  # unchanged counters: no time passed for it → n/a, not 0


def test_not_a_jetson(tmp_path):
    with pytest.raises(TelemetryError, match="not a Jetson"):
        SysfsSource(root=tmp_path)


def test_root_only_rail_gives_reason(monkeypatch):
    import errno

    target = "hwmon1/curr1_input"
    real = Path.read_text

    def fake_read_text(self, *a, **k):
        if str(self).endswith(target):
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "read_text", fake_read_text)
    src = SysfsSource(root=TREES / "orin-nx-jp5-hwmon")
    s = src.read()
    assert s.rails_mw["VDD_IN"].now_mw is None
    assert s.total_power_mw is None  # the input rail is unreadable: no silent fallback to a partial sum
    assert "root-only" in src.unavailable["rails_mw.VDD_IN"]
    assert "root-only" in src.unavailable["total_power_mw"]


def test_jp3_iio_device_spelling(tmp_path):
    d = tmp_path / "sys/bus/i2c/drivers/ina3221x/0-0041/iio_device"
    d.mkdir(parents=True)
    (d / "rail_name0").write_text("VDD_IN\n")
    (d / "in_power0_input").write_text("1931\n")
    s = SysfsSource(root=tmp_path).read()
    assert s.total_power_mw == 1931.0 and s.total_power_rule == "VDD_IN"


def test_zone_names():
    assert [zone_name(z) for z in ("CPU-therm", "thermal-fan-est", "PMIC-Die", "Tboard_tegra", "cpu-thermal", "iwlwifi")] == [
        "CPU", "thermal", "PMIC", "Tboard", "cpu", "iwlwifi",
    ]  # fmt: skip
