"""Issue 15, "What it must show" 1: detection chooses TensorRT 10 vs 11 by the installed TensorRT and the L4T /
JetPack release, not by the board alone — an Orin on JetPack 6.2 and on JetPack 7.2, and Thor.

Fake roots from tests/fixtures/hw/trt-lines.toml (sources and what is constructed are listed there) and the Thor
capture tests/fixtures/sysfs/thor-t264-jp7.txt (copied from the shared fixtures)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from workbench.core.hw.jetpack import (
    AGX_ORIN,
    ORIN,
    THOR,
    JetsonRelease,
    TensorRTInstall,
    board_family,
    choose_line,
    installed_tensorrt,
    jetson_release,
    parse_dpkg_status,
    python_tensorrt,
    read_packages,
)
from workbench.core.profiles.match import detect_device

FIX = Path(__file__).resolve().parents[1] / "fixtures"
if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib
CASES = tomllib.loads((FIX / "hw" / "trt-lines.toml").read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))


def capture_identification(rel: str) -> dict[str, object]:
    """model / compatible / release from a sysfs capture's "<path> -> <value>" lines (the Identification block)."""
    values = {}
    for line in (FIX / rel).read_text(encoding="utf-8").splitlines():
        path, sep, value = line.partition(" -> ")
        if sep and not line.startswith("#"):
            values[path.strip()] = value.strip()
    compat = values["/proc/device-tree/compatible"].split("   (")[0]
    # The capture prints the NUL-separated list without separators; split it where each "nvidia," entry starts.
    parts = ["nvidia," + p for p in compat.split("nvidia,") if p]
    return {
        "model": values["/sys/firmware/devicetree/base/model"],
        "compatible": parts,
        "release": values["/etc/nv_tegra_release"],
    }


STATUS_STANZA = """Package: {name}
Status: install ok installed
Priority: optional
Section: libs
Maintainer: cudatools <cudatools@nvidia.com>
Architecture: arm64
Version: {version}
Description: {name}
 A continuation line: Version: 0.0.0 must not be read as a field.

"""


def make_root(tmp_path: Path, case: dict) -> Path:
    root = tmp_path / "root"
    ident = capture_identification(case["from_capture"]) if "from_capture" in case else case
    dt = root / "proc/device-tree"
    dt.mkdir(parents=True)
    (dt / "model").write_bytes(str(ident["model"]).encode() + b"\x00")
    (dt / "compatible").write_bytes(b"\x00".join(c.encode() for c in ident["compatible"]) + b"\x00")
    if ident.get("release"):
        (root / "etc").mkdir()
        (root / "etc/nv_tegra_release").write_text(str(ident["release"]) + "\n")
    status = root / "var/lib/dpkg/status"
    status.parent.mkdir(parents=True)
    text = "".join(STATUS_STANZA.format(name=n, version=v) for n, v in case["packages"].items())
    # A removed package keeps its stanza with "deinstall ok config-files": it must not count as installed.
    text += "Package: libnvinfer8\nStatus: deinstall ok config-files\nVersion: 8.6.2.3-1+cuda12.2\n\n"
    status.write_text(text)
    return root


@pytest.mark.parametrize("name", sorted(CASES))
def test_detection_chooses_the_tensorrt_line(tmp_path, name):
    case = CASES[name]
    det = detect_device(make_root(tmp_path, case), nvml=False)
    trt = det.tensorrt
    assert trt is not None
    assert trt.line == case["line"], trt.one_line()
    assert trt.strongly_typed is (case["line"] >= 11)
    assert trt.jetpack == case["jetpack"]
    assert trt.reason == case["reason"]
    assert trt.warning is None
    if "dla" in case:
        assert trt.dla == case["dla"]
    d = det.to_dict()["tensorrt"]
    assert d["line"] == case["line"] and d["headline"].startswith(f"TensorRT {case['line']} (")


def test_same_board_different_jetpack_different_line(tmp_path):
    """The board alone does not decide: one AGX Orin device tree, JetPack 6.2 -> 10, JetPack 7.2.2 + 11.4.1 -> 11."""
    jp6 = detect_device(make_root(tmp_path / "a", CASES["orin-jp62"]), nvml=False).tensorrt
    jp7 = detect_device(make_root(tmp_path / "b", CASES["orin-jp722-trt11"]), nvml=False).tensorrt
    assert CASES["orin-jp62"]["model"] == CASES["orin-jp722-trt11"]["model"]
    assert (jp6.line, jp6.strongly_typed, jp6.supported) == (10, False, (10,))
    assert (jp7.line, jp7.strongly_typed, jp7.supported) == (11, True, (10, 11))
    assert jp7.headline() == "TensorRT 11 (strongly typed: precision from the ONNX)"
    assert jp6.headline() == "TensorRT 10 (builder precision flags)"


def test_thor_capture_without_tensorrt_expects_10(tmp_path):
    trt = detect_device(make_root(tmp_path, CASES["thor-jp70-capture"]), nvml=False).tensorrt
    assert trt.installed is None and trt.l4t == "38.2.0" and trt.board == "Jetson Thor"
    assert trt.headline() == "TensorRT 10 (builder precision flags, expected: not installed)"


def test_tensorrt_11_on_jetpack_6_is_reported_with_a_warning(tmp_path):
    """A pip TensorRT 11 on an Orin with JetPack 6.2: the installed line is what a build uses (11), and doctor warns
    that NVIDIA does not support it there."""
    case = dict(CASES["orin-jp62"])
    case["packages"] = {**case["packages"], "python3-libnvinfer": "11.4.1.8-1+cuda13.2"}
    trt = detect_device(make_root(tmp_path, case), nvml=False).tensorrt
    assert trt.line == 11 and trt.strongly_typed
    assert trt.warning == (
        "TensorRT 11 is not a line NVIDIA supports here: JetPack 6.2 ships TensorRT 10.3; TensorRT 11 does not "
        "support JetPack 6"
    )
    assert trt.installed.others == (
        "dpkg tensorrt 10.3.0.30",
        "dpkg libnvinfer-bin 10.3.0.30",
        "dpkg libnvinfer10 10.3.0.30",
    )


def test_tensorrt_11_before_11_4_1_does_not_support_jetpack():
    rel = JetsonRelease("39.2.2", "7.2.2", "dpkg nvidia-jetpack 7.2.2+b10")
    trt = choose_line(THOR, rel, TensorRTInstall("11.3.0", "Python distribution tensorrt"))
    assert trt.line == 11
    assert trt.warning.startswith(
        "TensorRT 11.3.0 does not support JetPack: the first TensorRT 11 for Jetson is 11.4.1"
    )


def test_orin_nx_on_jetpack_722_stays_on_10_by_the_docs():
    rel = JetsonRelease("39.2.2", "7.2.2", "dpkg nvidia-jetpack 7.2.2+b10")
    none = choose_line(ORIN, rel, None)
    assert (none.line, none.supported) == (10, (10,))
    assert "TensorRT 11.4.1 is documented for Jetson AGX Orin and Thor only" in none.reason
    got = choose_line(ORIN, rel, TensorRTInstall("11.4.1", "dpkg libnvinfer11"))
    assert got.line == 11 and got.warning and "documented for Jetson AGX Orin and Thor only" in got.warning


def test_jetpack_722_not_installed_has_no_single_line():
    rel = JetsonRelease("39.2.2", "7.2.2", "dpkg nvidia-jetpack 7.2.2+b10")
    trt = choose_line(AGX_ORIN, rel, None)
    assert trt.line is None and trt.supported == (10, 11)
    assert trt.headline() == "no TensorRT installed (this JetPack supports TensorRT 10 or 11)"


def test_not_a_jetson(tmp_path):
    trt = detect_device(tmp_path, nvml=False).tensorrt
    assert trt.line is None and trt.board is None and trt.dla == ""
    assert trt.reason == "not a Jetson (no L4T release), no tensorrt Python package and no TensorRT package record"
    desktop = choose_line("other", None, TensorRTInstall("10.13.3", "Python distribution tensorrt"))
    assert desktop.line == 10 and desktop.reason == (
        "not a Jetson (no L4T release), tensorrt 10.13.3 installed (Python distribution tensorrt)"
    )


# ---------------------------------------------------------------------------------------------- the facts read


def test_parse_dpkg_status_counts_installed_only():
    text = (
        "Package: libnvinfer10\nStatus: install ok installed\nVersion: 10.3.0.30-1+cuda12.5\n"
        "Description: x\n Version: 1.0\n\n"
        "Package: libnvinfer8\nStatus: deinstall ok config-files\nVersion: 8.6.2.3-1+cuda12.2\n\n"
        "Package: nvidia-jetpack\nVersion: 6.2.2+b24\nStatus: install ok installed\n"  # no trailing blank line
    )
    assert parse_dpkg_status(text.splitlines(True)) == {
        "libnvinfer10": "10.3.0.30-1+cuda12.5",
        "nvidia-jetpack": "6.2.2+b24",
    }


def test_read_packages_missing_file(tmp_path):
    assert read_packages(tmp_path) == {}


def test_jetson_release_sources():
    assert jetson_release("36.4.4", "6", {}) == JetsonRelease(
        "36.4.4", "6.2.1", "L4T R36.4.4 = JetPack 6.2.1 (NVIDIA's release pairing)"
    )
    # Not in our table: only the major is known.
    assert jetson_release("36.4.7", "6", {}).jetpack == "6"
    # The nvidia-jetpack record wins; nvidia-l4t-core stands in for a missing release file (a container).
    rel = jetson_release(None, None, {"nvidia-jetpack": "7.1+b1", "nvidia-l4t-core": "38.4.0-20251230160601"})
    assert (rel.l4t, rel.jetpack, rel.exact) == ("38.4.0", "7.1", True)
    assert jetson_release(None, None, {"nvidia-l4t-core": "38.4.0-20251230160601"}).jetpack == "7.1"


def test_board_family():
    assert board_family(None, ["nvidia,p3834-0008", "nvidia,tegra264"]) == THOR
    assert board_family("NVIDIA Jetson AGX Orin Developer Kit", []) == AGX_ORIN
    assert board_family(None, ["nvidia,p3768-0000+p3767-0005", "nvidia,tegra234"]) == ORIN
    assert board_family("NVIDIA Jetson AGX Xavier Developer Kit", ["nvidia,tegra194"]) == "other"


def test_python_tensorrt_reads_the_version_literal_without_importing(tmp_path):
    pkg = tmp_path / "tensorrt"
    pkg.mkdir()
    init = pkg / "__init__.py"
    init.write_text('raise RuntimeError("imported")\n__version__ = "11.4.1"\n')

    class Spec:
        origin = str(init)

    assert python_tensorrt(find_spec=lambda n: Spec(), dist_version=lambda d: "0") == (
        "11.4.1",
        f"Python package {init}",
    )

    def no_dist(d):
        import importlib.metadata

        if d == "tensorrt-cu12":
            return "10.13.3.9"
        raise importlib.metadata.PackageNotFoundError(d)

    assert python_tensorrt(find_spec=lambda n: None, dist_version=no_dist) == (
        "10.13.3.9",
        "Python distribution tensorrt-cu12",
    )
    assert python_tensorrt(find_spec=lambda n: None, dist_version=lambda d: no_dist("x")) is None


def test_python_package_wins_over_package_records(tmp_path):
    pkgs = {"libnvinfer10": "10.3.0.30-1+cuda12.5"}
    got = installed_tensorrt(tmp_path, packages=pkgs, python=lambda: ("11.4.1", "Python package /x/tensorrt"))
    assert got == TensorRTInstall("11.4.1", "Python package /x/tensorrt", ("dpkg libnvinfer10 10.3.0.30",))
    # A fake root never consults this interpreter's tensorrt unless asked to.
    assert installed_tensorrt(tmp_path, packages=pkgs) == TensorRTInstall("10.3.0.30", "dpkg libnvinfer10")


# ---------------------------------------------------------------------------------------------- doctor (CLI)


def test_doctor_prints_the_line_and_the_reason(run_cli, tmp_path):
    """`workbench doctor --root` on a fake AGX Orin with JetPack 7.2.2 and TensorRT 11.4.1: one summary line with the
    choice and the reason, the same in --json."""
    root = make_root(tmp_path, CASES["orin-jp722-trt11"])
    want = (
        "TensorRT line: TensorRT 11 (strongly typed: precision from the ONNX) — L4T R39.2.2 = JetPack 7.2.2 on "
        "Jetson AGX Orin, tensorrt 11.4.1.8 installed (dpkg python3-libnvinfer), JetPack 7.2.2 supports TensorRT "
        "11.4.1+ on Jetson AGX Orin"
    )
    res = run_cli("doctor", "--no-backends", "--root", str(root))
    assert res.returncode == 0, res.stderr
    summary = res.stdout.split("\n\n")[0].splitlines()
    assert f"  {want}" in summary
    assert "[ok] DLA" in res.stdout and "strongly typed (precision from the ONNX" in res.stdout
    doc = json.loads(run_cli("doctor", "--json", "--no-backends", "--root", str(root)).stdout)
    assert want in doc["summary"]
    line = doc["tensorrt_line"]
    assert (line["line"], line["strongly_typed"], line["jetpack"], line["supported"]) == (11, True, "7.2.2", [10, 11])
    assert line["installed"]["version"] == "11.4.1.8" and line["warning"] is None
    by = {(c["section"], c["name"]): c for c in doc["checks"]}
    assert by[("nvidia", "TensorRT line")]["value"] == "TensorRT 11 (strongly typed: precision from the ONNX)"


@pytest.mark.parametrize("cmd", [("doctor",), ("profiles", "detect")])
def test_a_root_that_is_not_a_folder_is_a_usage_error(run_cli, cmd, tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    for bad in (str(tmp_path / "missing"), str(f)):
        r = run_cli(*cmd, "--root", bad)
        assert r.returncode == 2 and "is not a folder" in r.stderr, r.stderr
