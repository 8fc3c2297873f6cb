"""Sample schema: total-power rule, JSON round trip."""

from __future__ import annotations

from workbench.core.telemetry.schema import (
    CpuCore,
    GpuReading,
    LoadFreq,
    MemReading,
    RailReading,
    TelemetrySample,
    choose_total,
)


def R(v):
    return RailReading(v, v)


def test_input_rail_is_total_whatever_order():
    rails = {"POM_5V_GPU": R(121), "POM_5V_IN": R(1828), "POM_5V_CPU": R(243)}
    assert choose_total(rails) == (1828, "POM_5V_IN")
    rails = {"VDD_SYS_GPU": R(152), "VDD_SYS_SOC": R(687), "VDD_IN": R(2485)}
    assert choose_total(rails) == (2485, "VDD_IN")
    assert choose_total({"VIN": R(30000), "VDD_GPU": R(100)}) == (30000, "VIN")


def test_sum_without_input_rail_excludes_nc():
    rails = {"VDD_GPU_SOC": R(2000), "VDD_CPU_CV": R(500), "VIN_SYS_5V0": R(3000), "NC": R(0), "NC#2": R(7)}
    assert choose_total(rails) == (5500.0, "sum")


def test_vin_sys_5v0_alone_is_never_total():
    assert choose_total({"VIN_SYS_5V0": R(3000), "NC": R(0)}) == (None, None)
    assert choose_total({}) == (None, None)


def test_explicit_rules():
    rails = {"VDD_IN": R(5000), "VDD_CPU": R(1000), "VDD_GPU": R(700)}
    assert choose_total(rails, "sum:VDD_CPU,VDD_GPU") == (1700.0, "sum:VDD_CPU,VDD_GPU")
    assert choose_total(rails, "VDD_GPU") == (700, "VDD_GPU")
    assert choose_total(rails, "VDD_SOC") == (None, None)
    assert choose_total(rails, "sum") == (6700.0, "sum")


def test_roundtrip_keeps_none_distinct_from_zero():
    s = TelemetrySample(
        timestamp_s=1.5,
        seq=3,
        source="x",
        rails_mw={"VDD_IN": RailReading(5299, 5299, None)},
        total_power_mw=5299,
        total_power_rule="VDD_IN",
        temps_c={"tj": 48.875, "GPU": None},
        cpu=(CpuCore(True, 0.0, 729), CpuCore(False)),
        gpu=GpuReading(None, (1300.0, 1300.0)),
        emc=LoadFreq(0.0, 2133.0),
        ram_mb=MemReading(6334, 15388),
        engines={"NVDEC": LoadFreq(None, None, on=False)},
        unparsed=("WEIRD",),
    )
    d = s.to_dict()
    assert d["cpu"][1] == {"online": False, "load_pct": None, "freq_mhz": None}
    assert d["cpu"][0]["load_pct"] == 0.0
    assert d["temps_c"]["GPU"] is None
    assert d["gpu"] == {"load_pct": None, "freq_mhz": [1300.0, 1300.0]}
    assert d["engines"]["NVDEC"] == {"on": False, "load_pct": None, "freq_mhz": None}
    assert TelemetrySample.from_dict(d) == s
