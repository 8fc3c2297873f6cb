"""Every bundled profile validates and carries the vendor facts it claims (sources are in the TOML comments)."""

from __future__ import annotations

import pytest

from workbench.core import paths
from workbench.core.profiles import load_profile, validate_file

SHIPPED = [
    "base",
    "cpu-x86_64",
    "cpu-aarch64",
    "jetson-nano",
    "jetson-tx2",
    "jetson-xavier-nx",
    "jetson-agx-xavier",
    "jetson-orin-nano",
    "jetson-orin-nx",
    "jetson-agx-orin",
    "jetson-thor",
    "desktop-ampere",
    "desktop-ada",
    "datacenter-hopper",
]


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))


def test_exactly_the_shipped_set():
    assert sorted(p.stem for p in paths.bundled_profiles_dir().glob("*.toml")) == sorted(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_profile_validates(name):
    assert validate_file(paths.bundled_profiles_dir() / f"{name}.toml") == []
    p = load_profile(name)
    assert p.name == name
    assert p.description
    assert p.extends == (None if name == "base" else "base")


@pytest.mark.parametrize(
    ("name", "dla", "memory_mib"),
    [
        ("jetson-nano", 0, 4096),
        ("jetson-tx2", 0, 8192),
        ("jetson-xavier-nx", 2, 16384),
        ("jetson-agx-xavier", 2, 65536),
        ("jetson-orin-nano", 0, 8192),
        ("jetson-orin-nx", 2, 16384),
        ("jetson-agx-orin", 2, 65536),
        ("jetson-thor", 0, 131072),
    ],
)
def test_jetson_facts(name, dla, memory_mib):
    p = load_profile(name)
    assert (p.device.kind, p.device.arch, p.build.backend) == ("jetson", "aarch64", "tensorrt")
    assert p.device.dla_cores == dla
    assert p.device.memory_mib == memory_mib
    assert p.build.dla_core == -1


@pytest.mark.parametrize("name", ["jetson-nano", "jetson-tx2"])
def test_no_int8_below_compute_6_1(name):
    assert "int8" not in load_profile(name).build.precisions


@pytest.mark.parametrize("name", [n for n in SHIPPED if n.startswith(("jetson-", "desktop-", "datacenter-"))])
def test_tensorrt_targets_use_symmetric_signed_int8(name):
    q = load_profile(name).quantization
    assert (q.activation_type, q.weight_type) == ("int8", "int8")
    assert q.activation_symmetric and q.weight_symmetric and q.per_channel


def test_nvpmodel_mode_names_from_fixture_confs():
    assert "MAXN_SUPER" in load_profile("jetson-orin-nx").power.nvpmodel_modes
    assert "MODE_15W_DESKTOP" in load_profile("jetson-agx-xavier").power.nvpmodel_modes
    assert load_profile("jetson-nano").power.nvpmodel_modes == ["MAXN", "5W"]
    assert load_profile("jetson-agx-orin").power.total_rule == "sum"
    assert load_profile("jetson-nano").power.total_rule == "POM_5V_IN"


def test_content_hashes_differ_between_targets():
    hashes = {load_profile(n).content_hash() for n in SHIPPED}
    assert len(hashes) == len(SHIPPED)
