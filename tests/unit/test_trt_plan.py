"""Plan sidecar compatibility decisions and non-plan file detection (issue 6, point 2)."""

from __future__ import annotations

import json
import struct
import zipfile

import onnx
import pytest
from onnx import TensorProto, helper

from workbench.core.backends.tensorrt import plan
from workbench.core.backends.tensorrt.plan import Environment, check_compatibility
from workbench.core.errors import BuildError, ModelError

ORIN = Environment("10.3.0", "Orin", "8.7", "36.4.3")
A100 = Environment("10.3.0", "NVIDIA A100-SXM4-80GB", "8.0", None)
H200 = Environment("10.3.0", "NVIDIA H200", "9.0", None)


def side(env: Environment, **extra):
    return {**env.to_dict(), **extra}


def test_same_machine_is_accepted():
    assert check_compatibility(side(ORIN), ORIN).ok


def test_other_tensorrt_version_is_refused():
    r = check_compatibility(side(ORIN, tensorrt="8.5.2"), ORIN)
    assert not r.ok and r.reasons == ("built with TensorRT 8.5.2, this machine has TensorRT 10.3.0",)
    # the 4th build component does not matter; the patch does
    assert check_compatibility(side(ORIN, tensorrt="10.3.0.30"), ORIN).ok
    assert not check_compatibility(side(ORIN, tensorrt="10.3.1"), ORIN).ok


def test_version_compatible_plan_loads_in_a_newer_runtime_of_the_same_major():
    newer = Environment("10.16.1", "NVIDIA H200", "9.0", None)
    r = check_compatibility(side(H200, version_compatible=True), newer)
    assert r.ok and "version-compatible" in r.notes[0]
    assert not check_compatibility(side(newer, version_compatible=True), H200).ok  # older runtime
    eleven = Environment("11.1.0", "NVIDIA H200", "9.0", None)
    assert not check_compatibility(side(H200, version_compatible=True), eleven).ok  # other major


def test_other_gpu_is_refused_unless_hardware_compatible():
    r = check_compatibility(side(A100), H200)
    assert not r.ok and "compute capability 8.0" in r.reasons[0] and "9.0" in r.reasons[0]
    ok = check_compatibility(side(A100, hardware_compatibility="AMPERE_PLUS"), H200)
    assert ok.ok and "hardware-compatible" in ok.notes[0]
    same_cc = Environment("10.3.0", "NVIDIA A30", "8.0", None)
    r2 = check_compatibility(side(A100), same_cc)
    assert not r2.ok and "built on NVIDIA A100-SXM4-80GB, this GPU is NVIDIA A30" in r2.reasons[0]


def test_hardware_compatibility_does_not_cover_jetson_or_pre_ampere():
    assert not check_compatibility(side(ORIN, hardware_compatibility="AMPERE_PLUS"), H200).ok
    turing = Environment("10.3.0", "Tesla T4", "7.5", None)
    assert not check_compatibility(side(turing, hardware_compatibility="AMPERE_PLUS"), A100).ok


def test_other_l4t_is_refused_and_missing_facts_too():
    r = check_compatibility(side(ORIN, l4t="36.3.0"), ORIN)
    assert not r.ok and "L4T 36.3.0" in r.reasons[0]
    r2 = check_compatibility({"gpu_name": "Orin", "compute_capability": "8.7", "l4t": "36.4.3"}, ORIN)
    assert not r2.ok and "does not say which TensorRT" in r2.reasons[0]
    # the artifact cache's sidecar keeps the TensorRT version under versions.tensorrt
    nested = {"versions": {"tensorrt": "10.3.0"}, "gpu_name": "Orin", "compute_capability": "8.7", "l4t": "36.4.3"}
    assert check_compatibility(nested, ORIN).ok


def test_refusal_error_lists_reasons_and_offers_rebuild(tmp_path):
    r = check_compatibility(side(A100, tensorrt="8.6.1"), H200)
    err = plan.refuse(tmp_path / "m.plan", r)
    assert isinstance(err, BuildError)
    assert "TensorRT 8.6.1" in str(err) and "compute capability" in str(err) and "--force-build" in err.hint


def _onnx(path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    m = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y]))
    onnx.save(m, str(path))
    return path


def test_onnx_renamed_to_engine_is_recognised(tmp_path):
    p = _onnx(tmp_path / "model.engine")
    with pytest.raises(ModelError, match=r"is an ONNX model \(renamed to \.engine\), not a TensorRT engine"):
        plan.classify_engine_file(p)


def test_metadata_header_is_stripped(tmp_path):
    meta = {"description": "exported", "imgsz": [640, 640]}
    blob = json.dumps(meta).encode()
    payload = bytes(range(256)) * 4
    p = tmp_path / "yolo.engine"
    p.write_bytes(struct.pack("<I", len(blob)) + blob + payload)
    ef = plan.classify_engine_file(p)
    assert ef.kind == "candidate" and ef.wrapped and ef.metadata == meta and ef.payload_offset == 4 + len(blob)
    assert plan.read_payload(ef) == payload


def test_unknown_bytes_are_only_a_candidate_and_tensorrt_decides(tmp_path):
    p = tmp_path / "x.plan"
    p.write_bytes(b"\x01\x02\x03\x04not json at all" * 10)
    ef = plan.classify_engine_file(p)
    assert ef.kind == "candidate" and not ef.wrapped

    class Runtime:
        def __init__(self, result):
            self.result, self.seen = result, None

        def deserialize_cuda_engine(self, data):
            self.seen = data
            return self.result

    with pytest.raises(ModelError, match="could not deserialize"):
        plan.deserialize_plan(Runtime(None), ef)
    rt = Runtime("ENGINE")
    assert plan.deserialize_plan(rt, ef) == "ENGINE" and rt.seen == p.read_bytes()


def test_empty_and_torch_files_are_refused(tmp_path):
    e = tmp_path / "e.engine"
    e.write_bytes(b"")
    with pytest.raises(ModelError, match="empty"):
        plan.classify_engine_file(e)
    z = tmp_path / "m.engine"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("m/data.pkl", b"\x80\x02}q\x00.")
    with pytest.raises(ModelError, match="PyTorch"):
        plan.classify_engine_file(z)
    with pytest.raises(ModelError, match="does not exist"):
        plan.classify_engine_file(tmp_path / "nope.engine")


def test_find_sidecar(tmp_path):
    eng = tmp_path / "m.engine"
    eng.write_bytes(b"x")
    assert plan.find_sidecar(eng) is None
    (tmp_path / "artifact.json").write_text("{}")
    assert plan.find_sidecar(eng) == tmp_path / "artifact.json"
    own = tmp_path / "m.engine.workbench.json"
    own.write_text(json.dumps(side(ORIN)))
    assert plan.find_sidecar(eng) == own and plan.load_sidecar(own)["gpu_name"] == "Orin"
    own.write_text("[1]")
    with pytest.raises(ModelError, match="not a JSON object"):
        plan.load_sidecar(own)
