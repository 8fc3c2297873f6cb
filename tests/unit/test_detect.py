"""Device detection on fake filesystem roots (facts from shared fixtures, copied to tests/fixtures/hw).

Hardware facts come from workbench.core.hw.detect; the profile they get from workbench.core.profiles.match."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

import workbench.core.hw.detect as hw
import workbench.core.profiles.match as match
from workbench.core.hw.detect import (
    HardwareFacts,
    detect_hardware,
    jetpack_for_l4t,
    normalise_arch,
    read_board,
    read_l4t,
    read_model,
)
from workbench.core.profiles.match import detect_device, profile_for_gpu

HW = Path(__file__).resolve().parents[1] / "fixtures" / "hw"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))


def make_root(tmp_path: Path, model: str | None, release: str | None, compatible: list[str] | None = None) -> Path:
    root = tmp_path / "root"
    if model is not None:
        (root / "proc/device-tree").mkdir(parents=True, exist_ok=True)
        (root / "proc/device-tree/model").write_bytes(model.encode() + b"\x00")
    if compatible:
        (root / "proc/device-tree").mkdir(parents=True, exist_ok=True)
        (root / "proc/device-tree/compatible").write_bytes(b"\x00".join(c.encode() for c in compatible) + b"\x00")
    if release is not None:
        (root / "etc").mkdir(parents=True, exist_ok=True)
        (root / "etc/nv_tegra_release").write_text(release)
    root.mkdir(exist_ok=True)
    return root


def test_empty_root_gives_cpu_profile_for_this_arch(tmp_path):
    det = detect_device(tmp_path, nvml=False)
    arch = normalise_arch(platform.machine())
    assert det.kind == "cpu"
    assert det.profile_name == f"cpu-{arch}"
    assert det.model is None and det.l4t is None
    assert f"cpu-{arch}" in det.reason


@pytest.mark.parametrize(
    ("machine", "profile"),
    [("aarch64", "cpu-aarch64"), ("arm64", "cpu-aarch64"), ("x86_64", "cpu-x86_64"), ("AMD64", "cpu-x86_64")],
)
def test_cpu_arch_mapping(tmp_path, machine, profile):
    assert detect_device(tmp_path, nvml=False, machine=machine).profile_name == profile


def test_l4t_release_parsing(tmp_path):
    # Thor line verbatim from shared fixtures sysfs/thor-t264-jp7.txt (jetson_stats issue 711).
    root = make_root(tmp_path, None, (HW / "thor-nv_tegra_release").read_text())
    assert read_l4t(root) == ("38.2.0", "7")


@pytest.mark.parametrize(
    ("major", "jp"), [(32, "4"), (35, "5"), (36, "6"), (38, "7"), (39, "7"), (45, "7"), (28, "3"), (30, None)]
)
def test_jetpack_by_l4t_major(major, jp):
    assert jetpack_for_l4t(major) == jp


def test_unknown_point_release_still_maps(tmp_path):
    root = make_root(tmp_path, None, "# R36 (release), REVISION: 9.7, GCID: 1, BOARD: generic, EABI: aarch64\n")
    assert read_l4t(root) == ("36.9.7", "6")


def test_model_nul_terminated(tmp_path):
    root = make_root(tmp_path, "NVIDIA Jetson AGX Thor Developer Kit", None)
    assert read_model(root) == "NVIDIA Jetson AGX Thor Developer Kit"


def test_unmatched_jetson_falls_back_to_cpu_aarch64(tmp_path):
    root = make_root(tmp_path, "NVIDIA Jetson Future Board", "# R40 (release), REVISION: 1.0, GCID: 1\n")
    det = detect_device(root, nvml=False)
    assert (det.kind, det.profile_name, det.jetpack, det.l4t) == ("jetson", "cpu-aarch64", "7", "40.1.0")
    assert "matches no profile" in det.reason


@pytest.mark.parametrize(
    ("name", "profile"),
    [
        ("NVIDIA H100 80GB HBM3", "datacenter-hopper"),
        ("NVIDIA GH200 480GB", "datacenter-hopper"),
        ("NVIDIA H200", "datacenter-hopper"),
        ("NVIDIA GeForce RTX 4080 SUPER", "desktop-ada"),
        ("NVIDIA RTX 4000 SFF Ada Generation", "desktop-ada"),
        ("NVIDIA L4", "desktop-ada"),
        ("NVIDIA L40S", "desktop-ada"),
        ("NVIDIA GeForce RTX 3090", "desktop-ampere"),
        ("NVIDIA A100-SXM4-80GB", "desktop-ampere"),
        ("NVIDIA RTX A6000", "desktop-ampere"),
        ("NVIDIA A30", "desktop-ampere"),
    ],
)
def test_gpu_name_mapping(name, profile):
    got, reason = profile_for_gpu(name)
    assert got == profile
    assert name in reason


def test_unknown_gpus_get_closest_with_reason():
    assert profile_for_gpu("NVIDIA B200")[0] == "datacenter-hopper"
    assert profile_for_gpu("NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition")[0] == "desktop-ada"
    got, reason = profile_for_gpu("Tesla P100-PCIE-16GB")
    assert got == "desktop-ampere" and "closest" in reason
    assert profile_for_gpu("Some New GPU", (8, 9))[0] == "desktop-ada"


def test_nvml_failure_means_no_gpu(tmp_path, monkeypatch):
    monkeypatch.setattr(hw, "probe_nvml_gpu", lambda: None)
    assert detect_device(tmp_path, nvml=True, machine="x86_64").profile_name == "cpu-x86_64"
    monkeypatch.setattr(hw, "probe_nvml_gpu", lambda: ("NVIDIA GeForce RTX 3080", (8, 6)))
    monkeypatch.setattr(match, "_tensorrt_importable", lambda: True)
    det = detect_device(tmp_path, nvml=True, machine="x86_64")
    assert (det.kind, det.gpu_name, det.profile_name) == ("gpu", "NVIDIA GeForce RTX 3080", "desktop-ampere")


def test_without_tensorrt_a_gpu_or_jetson_falls_back_to_cpu(tmp_path, monkeypatch):
    monkeypatch.setattr(match, "_tensorrt_importable", lambda: False)
    monkeypatch.setattr(hw, "probe_nvml_gpu", lambda: ("NVIDIA H200", (9, 0)))
    det = detect_device(tmp_path, nvml=True, machine="x86_64")
    assert (det.kind, det.hardware_profile, det.profile_name) == ("gpu", "datacenter-hopper", "cpu-x86_64")
    assert "TensorRT is not importable" in det.reason and "--profile datacenter-hopper" in det.reason
    b = BOARDS["thor"]
    det = detect_device(make_root(tmp_path, b["model"], b["release"], b["compatible"]), nvml=False)
    assert (det.hardware_profile, det.profile_name, det.arch) == ("jetson-thor", "cpu-aarch64", "aarch64")


def _fake_pynvml(calls, name=b"NVIDIA H100 80GB HBM3"):
    import types

    fake = types.ModuleType("pynvml")
    fake.nvmlInit = lambda: calls.append("init")
    fake.nvmlShutdown = lambda: calls.append("shutdown")
    fake.nvmlDeviceGetCount = lambda: 1
    fake.nvmlDeviceGetHandleByIndex = lambda i: ("h", i)
    fake.nvmlDeviceGetName = lambda h: name  # older bindings return bytes
    fake.nvmlDeviceGetCudaComputeCapability = lambda h: (9, 0)
    return fake


def test_nvml_probe_with_fake_pynvml(monkeypatch):
    import sys

    calls = []
    fake = _fake_pynvml(calls)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    assert hw.probe_nvml_gpu() == ("NVIDIA H100 80GB HBM3", (9, 0))
    assert calls == ["init", "shutdown"]

    def boom():
        raise RuntimeError("NVML Shared Library Not Found")

    fake.nvmlInit = boom
    assert hw.probe_nvml_gpu() is None
    fake.nvmlInit = lambda: None
    fake.nvmlDeviceGetCount = lambda: 0
    assert hw.probe_nvml_gpu() is None

    def no_cc(h):
        raise RuntimeError("Function Not Found")  # older drivers: the name alone picks the profile

    fake2 = _fake_pynvml([], name="NVIDIA L4")
    fake2.nvmlDeviceGetCudaComputeCapability = no_cc
    assert hw.probe_nvml_gpu(fake2) == ("NVIDIA L4", None)


def test_hardware_facts_have_no_profile(tmp_path, monkeypatch):
    monkeypatch.setattr(hw, "probe_nvml_gpu", lambda: ("NVIDIA GeForce RTX 4090", (8, 9)))
    facts = detect_hardware(tmp_path, machine="arm64")
    assert facts == HardwareFacts(
        kind="gpu",
        arch="aarch64",
        gpu_name="NVIDIA GeForce RTX 4090",
        compute_capability=(8, 9),
        nvml_probed=True,
        release_file=tmp_path / "etc/nv_tegra_release",
    )
    assert not hasattr(facts, "profile_name")
    assert detect_hardware(tmp_path, nvml=False, machine="x86_64").kind == "cpu"
    b = BOARDS["orin-nx"]
    facts = detect_hardware(make_root(tmp_path, b["model"], b["release"], b["compatible"]), machine="x86_64")
    assert (facts.kind, facts.arch, facts.l4t, facts.jetpack) == ("jetson", "aarch64", "36.4.4", "6")
    assert facts.gpu_name is None and not facts.nvml_probed  # a Jetson is described by its device tree
    assert facts.compatible == tuple(b["compatible"]) and facts.l4t_note() == "L4T R36.4.4 -> JetPack 6"


def test_nvml_is_not_asked_when_a_jetson_profile_claims_the_board(tmp_path, monkeypatch):
    def never():
        raise AssertionError("NVML probed")

    monkeypatch.setattr(hw, "probe_nvml_gpu", never)
    b = BOARDS["orin-nx"]
    # No L4T release and only the compatible list: not known to be a Jetson, but a profile claims it.
    root = make_root(tmp_path, None, None, b["compatible"])
    assert read_board(root).kind == "cpu"
    det = detect_device(root, nvml=True, check_backend=False)
    assert (det.kind, det.profile_name, det.hardware_profile) == ("jetson", b["profile"], b["profile"])


def _boards():
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    return tomllib.loads((HW / "boards.toml").read_text())


BOARDS = _boards()


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_jetson_board_detection(tmp_path, board):
    b = BOARDS[board]
    root = make_root(tmp_path, b["model"], b["release"] + "\n", b["compatible"])
    det = detect_device(root, nvml=False, machine="x86_64", check_backend=False)  # host arch must not matter
    assert det.kind == "jetson"
    assert det.profile_name == b["profile"]
    assert (det.model, det.l4t, det.jetpack, det.arch) == (b["model"], b["l4t"], b["jetpack"], "aarch64")
    assert f"matches {b['profile']}" in det.reason
    assert f"L4T R{b['l4t']} -> JetPack {b['jetpack']}" in det.reason


@pytest.mark.parametrize("board", ["orin-nx", "nano", "agx-xavier", "thor"])
def test_compatible_alone_is_enough(tmp_path, board):
    b = BOARDS[board]
    root = make_root(tmp_path, None, b["release"] + "\n", b["compatible"])
    det = detect_device(root, nvml=False, check_backend=False)
    assert det.profile_name == b["profile"]
    assert "compatible" in det.reason


def test_orin_nx_reason_text(tmp_path):
    b = BOARDS["orin-nx"]
    det = detect_device(make_root(tmp_path, b["model"], b["release"], b["compatible"]), nvml=False, check_backend=False)
    assert det.reason == (
        "device-tree model 'NVIDIA Jetson Orin NX Engineering Reference Developer Kit' matches jetson-orin-nx "
        "(rule 'Orin NX' in the model string); L4T R36.4.4 -> JetPack 6"
    )


def test_orin_nano_is_not_jetson_nano(tmp_path):
    det = detect_device(
        make_root(tmp_path, "NVIDIA Jetson Orin Nano Developer Kit", None), nvml=False, check_backend=False
    )
    assert det.profile_name == "jetson-orin-nano"
    assert "no L4T release" in det.reason


def test_user_profile_can_claim_a_board(tmp_path, monkeypatch):
    from workbench.core import paths

    user = paths.user_profiles_dir()
    user.mkdir(parents=True)
    (user / "my-carrier.toml").write_text(
        'extends = "jetson-orin-nx"\n[device]\nname = "carrier"\nkind = "jetson"\narch = "aarch64"\n'
        'match = ["Orin NX Engineering Reference"]\n'
    )
    b = BOARDS["orin-nx"]
    det = detect_device(make_root(tmp_path, b["model"], b["release"], b["compatible"]), nvml=False, check_backend=False)
    assert det.profile_name == "my-carrier"  # the longer, more specific rule wins
