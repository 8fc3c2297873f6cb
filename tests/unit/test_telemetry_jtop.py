"""jtop source with a fake jtop client (jetson-stats is not installed here)."""

from __future__ import annotations

import pytest

from workbench.core.errors import TelemetryError
from workbench.core.telemetry import open_source
from workbench.core.telemetry.jtop_source import JtopSource


class FakeJtop:
    def __init__(self, fail=None):
        self.fail = fail
        self.closed = False
        # Values shaped like jetson-stats 4.x on an Orin NX (numbers from tegrastats/bug-report-lines.log's Orin line)
        self.power = {
            "rail": {
                "VDD_CPU_GPU_CV": {"power": 773, "avg": 773, "online": True},
                "VDD_SOC": {"power": 1424, "avg": 1424, "online": True},
                "VDD_IN": {"power": 5299, "avg": 5299, "online": True},
            },
            "tot": {"power": 5299, "avg": 5299, "name": "VDD_IN"},
        }
        self.temperature = {
            "cpu": {"temp": 47.937, "online": True},
            "gpu": {"temp": -256.0, "online": True},
            "cv0": {"temp": 45.8, "online": False},
        }
        self.cpu = {"cpu": [{"online": True, "idle": 94.0, "freq": {"cur": 729600}}] * 4 + [{"online": False}] * 4}
        self.gpu = {"gpu": {"status": {"load": 0.0}, "freq": {"cur": 611000, "GPC": [611000, 0]}}}
        self.memory = {
            "RAM": {"tot": 15757312, "used": 6486016},
            "SWAP": {"tot": 7878656, "used": 502784},
            "EMC": {"val": 0, "cur": 2133000},
        }
        self.fan = {"pwmfan": {"speed": [20.0], "rpm": [1500]}}
        self.engine = {"NVENC": {"NVENC": {"online": False, "cur": 0}}, "APE": {"APE": {"online": True, "cur": 174000}}}

    def start(self):
        if self.fail:
            raise RuntimeError(self.fail)

    def ok(self):
        return True

    def close(self):
        self.closed = True


def test_reads_jtop_data():
    fake = FakeJtop()
    src = JtopSource(factory=lambda: fake)
    s = src.read()
    assert s.total_power_mw == 5299.0 and s.total_power_rule == "VDD_IN"
    assert s.temps_c == {"cpu": 47.937, "gpu": None, "cv0": None}
    assert [c.online for c in s.cpu] == [True] * 4 + [False] * 4
    assert s.cpu[0].load_pct == 6.0 and s.cpu[0].freq_mhz == 729.6 and s.cpu[5].load_pct is None
    assert s.gpu.freq_mhz == (611.0, 0.0) and s.gpu.load_pct == 0.0
    assert s.ram_mb.total == pytest.approx(15388.0) and s.swap_mb.used == pytest.approx(491.0)
    assert s.emc.freq_mhz == 2133.0
    assert s.fan.pwm_pct == 20.0 and s.fan.rpm == 1500.0
    assert s.engines["NVENC"].on is False and s.engines["APE"].freq_mhz == 174.0
    src.close()
    assert fake.closed


def test_service_not_active_gives_fix():
    with pytest.raises(TelemetryError, match="jtop service not usable: The jtop.service is not active") as ei:
        JtopSource(
            factory=lambda: FakeJtop(
                fail="The jtop.service is not active. Please run: sudo systemctl restart jtop.service"
            )
        )
    assert "systemctl restart jtop.service" in ei.value.hint


def test_package_absent_is_unavailable_and_auto_falls_through():
    with pytest.raises(TelemetryError, match="jetson-stats is not installed"):
        open_source("jtop")
    src = open_source("auto")
    assert "jetson-stats is not installed" in src.unavailable["source:jtop"]


def test_usb_pd_supply_is_not_a_rail():
    fake = FakeJtop()
    # AGX Orin: no input rail, so the total is a sum — a USB-C PD "SYSTEM" supply must not enter it.
    fake.power = {
        "rail": {
            "VDD_GPU_SOC": {"power": 2399, "avg": 2399, "online": True, "type": "I2C"},
            "VDD_CPU_CV": {"power": 400, "avg": 400, "online": True, "type": "I2C"},
            "VIN_SYS_5V0": {"power": 4032, "avg": 4032, "online": True, "type": "I2C"},
            "1-00081": {"power": 15000, "avg": 15000, "online": True, "type": "SYSTEM"},
        },
        "tot": {"power": 21831, "name": "ALL"},
    }
    s = JtopSource(factory=lambda: fake).read()
    assert s.total_power_mw == 6831.0 and s.total_power_rule == "sum"
    assert s.extra["power_supply_mw"] == {"1-00081": 15000.0}
