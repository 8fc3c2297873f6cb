"""Version dispatch with the real binding name sets of each release (issue 6, point 2)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _trt_fake import fake_trt  # noqa: E402

from workbench.core.backends.tensorrt.compat import Compat  # noqa: E402


@pytest.mark.parametrize("release", ["8.5", "8.6", "10.0", "10.3", "10.13", "10.16", "11.0", "11.1"])
def test_version_string_and_support(release):
    c = Compat(fake_trt(release, 2))
    assert c.version[:2] == tuple(int(x) for x in release.split("."))
    assert c.version[2] == 2
    assert c.supported() is None


def test_dispatch_facts_from_the_issue():
    c103, c111, c86, c85 = (Compat(fake_trt(v)) for v in ("10.3", "11.1", "8.6", "8.5"))
    assert c103.has("progress_monitor") and c103.has("int8_flag") and c103.has("legacy_calibrator")
    assert not c111.has("int8_flag") and not c111.has("fp16_flag") and not c111.has("legacy_calibrator")
    assert c111.has("progress_monitor") and c111.has("strongly_typed")
    assert not c86.has("progress_monitor") and c86.has("builder_optimization_level")
    assert not c85.has("builder_optimization_level") and not c85.has("hardware_compatibility")
    assert c86.has("hardware_compatibility") and c86.has("version_compatible") and c86.has("max_aux_streams")
    assert not c86.has("parser_node_names") and c103.has("parser_node_names")
    assert c111.missing("legacy_calibrator") == [
        "IInt8EntropyCalibrator2",
        "IInt8MinMaxCalibrator",
        "IBuilderConfig.int8_calibrator",
        "IBuilderConfig.set_calibration_profile",
        "BuilderFlag.INT8",
    ]


def test_precision_mode_and_calibration_reason():
    assert Compat(fake_trt("10.16")).precision_mode() == "flags"
    assert Compat(fake_trt("11.0")).precision_mode() == "typed"
    assert Compat(fake_trt("10.16")).legacy_calibration_reason() is None
    why = Compat(fake_trt("11.1")).legacy_calibration_reason()
    assert "TensorRT 11.1.0" in why and "QDQ" in why


def test_explicit_batch_only_where_needed():
    assert Compat(fake_trt("8.5")).needs_explicit_batch_flag()
    assert Compat(fake_trt("8.6")).needs_explicit_batch_flag()
    assert not Compat(fake_trt("10.0")).needs_explicit_batch_flag()  # exists but ignored from 10.0
    assert not Compat(fake_trt("11.0")).needs_explicit_batch_flag()  # removed


def test_network_flag_mask_and_builder_flag_lookup():
    t = fake_trt("10.3")
    c = Compat(t)
    assert c.network_flags(["STRONGLY_TYPED"]) == 1 << t.NetworkDefinitionCreationFlag.STRONGLY_TYPED
    assert c.network_flags([]) == 0
    with pytest.raises(KeyError, match="EXPLICIT_BATCH"):
        Compat(fake_trt("11.1")).network_flags(["EXPLICIT_BATCH"])
    assert c.builder_flag("INT8") == t.BuilderFlag.INT8
    assert Compat(fake_trt("11.1")).builder_flag("INT8") is None


def test_unknown_feature_and_old_release():
    with pytest.raises(KeyError):
        Compat(fake_trt("10.3")).has("warp_drive")
    old = fake_trt("8.5")
    old.__version__ = "7.1.3"
    assert "older than 8.5" in Compat(old).supported()


def test_capabilities_table_matches_probes():
    caps = Compat(fake_trt("10.0")).capabilities()
    assert caps["progress_monitor"] and caps["bf16_flag"] and not caps["device_memory_size_v2"]
    assert Compat(fake_trt("10.3")).capabilities()["device_memory_size_v2"]
