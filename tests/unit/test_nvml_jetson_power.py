"""NVML on a Jetson answers NOT_SUPPORTED for power (issue 15, item 4): telemetry says so and switches to the
board's rails (sysfs, else tegrastats) instead of leaving the energy figure silently empty."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_telemetry_nvml import FakeNVML

from workbench.core.hw import nvml as hw_nvml
from workbench.core.telemetry import JETSON_NVML_POWER, open_source

TREES = Path(__file__).resolve().parents[1] / "fixtures" / "sysfs" / "trees"


@pytest.fixture
def jetson_nvml(monkeypatch):
    """An NVML that sees the integrated GPU (temperature, utilisation) but no power or energy, as on JetPack 7."""
    fake = FakeNVML(unsupported={"power", "energy", "power_instant", "fan"})
    monkeypatch.setattr(hw_nvml, "load_library", lambda: fake)
    return fake


@pytest.fixture
def thor(tmp_path):
    root = tmp_path / "thor"
    shutil.copytree(TREES / "thor-jp7", root, symlinks=True)
    return root


def test_nvml_without_power_on_a_jetson_switches_to_sysfs_and_says_so(jetson_nvml, thor):
    src = open_source("nvml", root=thor)
    try:
        assert src.name == "sysfs"
        assert src.unavailable["source:nvml"] == JETSON_NVML_POWER.format(using="sysfs")
        assert src.unavailable["source:nvml"].startswith("power n/a: NVML has no power readings on Jetson; using")
        sample = src.read()
        assert sample.total_power_mw is not None and sample.total_power_mw > 0  # the rails, not a missing figure
    finally:
        src.close()


def test_auto_on_a_jetson_never_ends_on_a_powerless_nvml(jetson_nvml, thor, monkeypatch):
    from workbench.core import telemetry

    real = telemetry._factory
    # jtop, sysfs and tegrastats are not reachable at first (as in a container without the service or the tree)...
    calls = {"sysfs": 0}

    def factory(name):
        if name in ("jtop", "tegrastats"):
            raise telemetry.TelemetryError(f"{name} not here")
        if name == "sysfs":
            calls["sysfs"] += 1
            if calls["sysfs"] == 1:
                raise telemetry.TelemetryError("sysfs not readable yet")
        return real(name)

    monkeypatch.setattr(telemetry, "_factory", lambda name: lambda **kw: factory(name)(**kw))
    src = open_source("auto", root=thor)
    try:
        # ... so auto reached NVML, found no power there, and took the rails once they answered.
        assert src.name == "sysfs" and "using sysfs" in src.unavailable["source:nvml"]
        assert src.unavailable["source:jtop"] == "jtop not here"
    finally:
        src.close()


def test_jetson_without_any_power_source_keeps_nvml_with_the_reason(jetson_nvml, tmp_path):
    root = tmp_path / "bare"
    (root / "etc").mkdir(parents=True)
    shutil.copy(TREES / "thor-jp7" / "etc" / "nv_tegra_release", root / "etc" / "nv_tegra_release")
    src = open_source("nvml", root=root)
    try:
        assert src.name == "nvml"
        why = src.unavailable["total_power_mw"]
        assert why.startswith("power n/a: NVML has no power readings on Jetson; using nothing") and "sysfs" in why
        assert src.read().total_power_mw is None
    finally:
        src.close()


def test_a_desktop_gpu_without_power_readings_stays_on_nvml(jetson_nvml, tmp_path):
    src = open_source("nvml", root=tmp_path)  # no nv_tegra_release: not a Jetson
    try:
        assert src.name == "nvml" and "source:nvml" not in src.unavailable
    finally:
        src.close()
