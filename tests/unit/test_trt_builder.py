"""Profile → TensorRT builder settings, memory pre-flight, layer report (issue 6, point 2)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _trt_fake import fake_trt  # noqa: E402

from workbench.core.backends.tensorrt.builder import (  # noqa: E402
    MIB,
    BuildSettings,
    format_parser_errors,
    layer_report,
    memory_preflight,
    translate,
)
from workbench.core.backends.tensorrt.compat import Compat  # noqa: E402
from workbench.core.errors import BuildError, CalibrationError, ConfigError  # noqa: E402
from workbench.core.profiles.schema import Profile  # noqa: E402

STATIC = [("input", (1, 3, 224, 224))]
DYNAMIC = [("input", ("N", 3, 224, 224))]


def profile(build=None, device=None) -> Profile:
    dev = {"name": "Test GPU", "kind": "gpu", "arch": "x86_64"}
    dev.update(device or {})
    return Profile.model_validate(
        {
            "name": "t",
            "source_path": Path("/p/t.toml"),
            "device": dev,
            "build": {"backend": "tensorrt", **(build or {})},
        }
    )


def c(release: str) -> Compat:
    return Compat(fake_trt(release))


def test_trt85_fp32_static():
    s = translate(profile({"workspace_mib": 512}), "fp32", c("8.5"), STATIC)
    assert s.network_flags == ("EXPLICIT_BATCH",)
    assert s.builder_flags == ()
    assert s.workspace_bytes == 512 * MIB
    assert s.optimization_level is None and any("optimization level" in n for n in s.notes)
    assert s.progress == "phases" and s.shapes == {} and not s.strongly_typed


def test_trt103_int8_is_qdq_with_int8_and_fp16_flags():
    s = translate(profile({"builder_optimization_level": 5}), "int8", c("10.3"), STATIC)
    assert s.network_flags == ()
    assert s.builder_flags == ("INT8", "FP16")
    assert s.optimization_level == 5 and s.progress == "monitor" and s.calibration is None


def test_trt111_is_strongly_typed_without_flags():
    for precision in ("fp16", "int8"):
        s = translate(profile(), precision, c("11.1"), STATIC)
        assert s.network_flags == ("STRONGLY_TYPED",)
        assert s.builder_flags == ()
        assert s.strongly_typed and any("strongly typed" in n for n in s.notes)


def test_legacy_calibrator_only_where_bindings_have_it():
    s = translate(profile(), "int8", c("10.16"), STATIC, calibration="entropy")
    assert s.calibration == "entropy" and "INT8" in s.builder_flags
    with pytest.raises(CalibrationError, match="no implicit INT8 calibration"):
        translate(profile(), "int8", c("11.0"), STATIC, calibration="entropy")
    with pytest.raises(BuildError, match="only used for INT8"):
        translate(profile(), "fp16", c("10.3"), STATIC, calibration="minmax")


def test_strongly_typed_profile_on_10x_and_on_86():
    s = translate(profile({"strongly_typed": True}), "fp16", c("10.3"), STATIC)
    assert s.network_flags == ("STRONGLY_TYPED",) and s.builder_flags == ()
    s86 = translate(profile({"strongly_typed": True}), "fp16", c("8.6"), STATIC)
    assert not s86.strongly_typed and s86.builder_flags == ("FP16",) and "EXPLICIT_BATCH" in s86.network_flags
    assert any("10.0+" in n for n in s86.notes)


def test_dynamic_input_needs_shapes_and_names_it():
    with pytest.raises(ConfigError, match=r"input 'input' has dynamic shape \?x3x224x224.*\[build.shapes.input\]"):
        translate(profile(), "fp32", c("10.3"), DYNAMIC)
    shapes = {"input": {"min": [1, 3, 224, 224], "opt": [4, 3, 224, 224], "max": [8, 3, 224, 224]}}
    s = translate(profile({"shapes": shapes}), "fp32", c("10.3"), DYNAMIC)
    assert s.shapes == {"input": ((1, 3, 224, 224), (4, 3, 224, 224), (8, 3, 224, 224))}


def test_shape_range_must_agree_with_fixed_dims():
    shapes = {"input": {"min": [1, 3, 112, 224], "opt": [1, 3, 224, 224], "max": [1, 3, 224, 224]}}
    with pytest.raises(ConfigError, match="dimension 2 must be 224"):
        translate(profile({"shapes": shapes}), "fp32", c("10.3"), DYNAMIC)
    with pytest.raises(ConfigError, match="rank 3"):
        bad = {"input": {"min": [1, 3, 2], "opt": [1, 3, 2], "max": [1, 3, 2]}}
        translate(profile({"shapes": bad}), "fp32", c("10.3"), DYNAMIC)


def test_dla_rules():
    orin = {"kind": "jetson", "arch": "aarch64", "dla_cores": 2}
    s = translate(profile({"dla_core": 1}, orin), "int8", c("10.3"), STATIC)
    assert s.dla_core == 1 and s.builder_flags == ("INT8", "FP16", "GPU_FALLBACK")
    with pytest.raises(ConfigError, match="DLA runs FP16 and INT8 only"):
        translate(profile({"dla_core": 0}, orin), "fp32", c("10.3"), STATIC)
    with pytest.raises(ConfigError, match="has no DLA"):
        translate(profile({"dla_core": 0}), "fp16", c("10.3"), STATIC)
    with pytest.raises(ConfigError, match="2 DLA core"):
        translate(profile({"dla_core": 2}, orin), "fp16", c("10.3"), STATIC)
    s = translate(profile({"dla_core": 0, "gpu_fallback": False}, orin), "fp16", c("8.5"), STATIC)
    assert "GPU_FALLBACK" not in s.builder_flags and any("gpu_fallback = false" in n for n in s.notes)


def test_compatibility_options_by_release():
    with pytest.raises(BuildError, match="8.6"):
        translate(profile(), "fp16", c("8.5"), STATIC, hardware_compatible=True)
    s = translate(
        profile(), "fp16", c("10.3"), STATIC, hardware_compatible=True, version_compatible=True, max_aux_streams=2
    )
    assert (
        s.hardware_compatibility == "AMPERE_PLUS" and "VERSION_COMPATIBLE" in s.builder_flags and s.max_aux_streams == 2
    )
    with pytest.raises(BuildError, match="not Jetson"):
        translate(
            profile(device={"kind": "jetson", "arch": "aarch64"}), "fp16", c("10.3"), STATIC, hardware_compatible=True
        )
    s85 = translate(profile(), "fp16", c("8.5"), STATIC, max_aux_streams=2)
    assert s85.max_aux_streams is None and any("max_aux_streams" in n for n in s85.notes)


def test_settings_roundtrip_through_json():
    shapes = {"input": {"min": [1, 3, 224, 224], "opt": [2, 3, 224, 224], "max": [4, 3, 224, 224]}}
    s = translate(profile({"shapes": shapes}), "int8", c("10.3"), DYNAMIC)
    assert BuildSettings.from_dict(json.loads(json.dumps(s.to_dict()))) == s


def test_memory_preflight():
    gib = 1 << 30
    with pytest.raises(BuildError, match="not enough memory") as err:
        memory_preflight(4 * gib, 200 * MIB, available_bytes=1 * gib, swap_free_bytes=0, unified_memory=True)
    assert "workspace_mib" in err.value.hint and "swap" in err.value.hint
    # Discrete GPU: the workspace is device memory, so the same numbers pass.
    ok = memory_preflight(4 * gib, 200 * MIB, available_bytes=1 * gib, swap_free_bytes=0, unified_memory=False)
    assert ok.need_bytes == 600 * MIB and ok.warnings == ()
    slow = memory_preflight(1 * gib, 100 * MIB, available_bytes=1 * gib, swap_free_bytes=2 * gib, unified_memory=True)
    assert slow.warnings and "swap" in slow.warnings[0]


def test_layer_report_flags_an_int8_engine_running_in_fp32():
    info = {
        "Layers": [
            {"Name": "conv1", "LayerType": "CaskConvolution", "Outputs": [{"Format/Datatype": "Row major linear FP32"}]},
            {"Name": "conv2", "LayerType": "CaskConvolution", "Outputs": [{"Format/Datatype": "Row major linear FP32"}]},
            {"Name": "conv3", "LayerType": "CaskConvolution",
             "Outputs": [{"Format/Datatype": "Thirty-two wide channel vectorized row major Int8 format"}]},
            {"Name": "fc", "LayerType": "gemm", "Outputs": [{"Format/Datatype": "Channel major FP16 format where channel % 8 == 0"}]},
        ]
    }  # fmt: skip
    r = layer_report(json.dumps(info), "int8")
    assert r["counts"] == {"fp32": 2, "int8": 1, "fp16": 1}
    assert [x["precision"] for x in r["layers"]] == ["fp32", "fp32", "int8", "fp16"]
    assert "only 1 of 4 layers in INT8" in r["warnings"][0]
    assert layer_report(info, "fp32")["warnings"] == []
    names_only = layer_report({"Layers": ["a", "b"]}, "int8")
    assert "layer names only" in names_only["warnings"][0]


def test_parser_errors_name_the_node():
    text = format_parser_errors(
        [{"node": 7, "node_name": "Resize_7", "node_operator": "Resize", "desc": "unsupported mode", "code": "UNSUPPORTED_NODE"},
         {"node": 3, "desc": "bad", "code": "INVALID_NODE"}],
        Path("m.onnx"),
    )  # fmt: skip
    assert "node 7 'Resize_7' (Resize): unsupported mode [UNSUPPORTED_NODE]" in text
    assert "node 3: bad [INVALID_NODE]" in text and "m.onnx" in text


@pytest.mark.parametrize("release", ["8.5", "8.6", "10.0", "10.3", "10.13", "10.16", "11.0", "11.1"])
def test_flag_names_chosen_by_name_exist_in_that_release(release):
    """build_plan looks flags up by name (compat.builder_flag / network_flags); every name translate can choose
    must exist in the release it chose it for — the dynamic counterpart of the binding-name scan."""
    from _trt_fake import REF

    enums = REF[release]["classes"]
    orin = {"kind": "jetson", "arch": "aarch64", "dla_cores": 2}
    seen = 0
    for precision in ("fp32", "fp16", "int8"):
        for build, device in (({}, None), ({"strongly_typed": True}, None), ({"dla_core": 0}, orin)):
            if precision == "fp32" and "dla_core" in build:
                continue
            for vc in (False, True):
                if vc and release == "8.5":
                    continue
                s = translate(profile(build, device), precision, c(release), STATIC, version_compatible=vc)
                for f in s.builder_flags:
                    assert f in enums["BuilderFlag"]["members"], (release, f)
                for f in s.network_flags:
                    assert f in enums["NetworkDefinitionCreationFlag"]["members"], (release, f)
                seen += 1
    assert seen >= (8 if release == "8.5" else 16)
