"""The TensorRT build side, ready for a real GPU (issue 14): benchmark shapes for dynamic inputs, calibration at the
OPT shape, version-compatible plans in the layer report, the TF32 flag, timing-cache acceptance and its key.

Runs on the behavioural stand-in of test_trt_fake_runtime (``make_trt``), which follows the documented API.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_trt_fake_runtime as _runtime  # noqa: E402
from _trt_fake import fake_trt  # noqa: E402
from test_trt_fake_runtime import FakeCuda, settings  # noqa: E402

from workbench.core.backends.tensorrt import builder as B  # noqa: E402
from workbench.core.backends.tensorrt.calibrator import Feeder, make_calibrator  # noqa: E402
from workbench.core.backends.tensorrt.compat import Compat  # noqa: E402
from workbench.core.errors import CalibrationError, ConfigError  # noqa: E402
from workbench.core.profiles import load_profile  # noqa: E402
from workbench.core.profiles.schema import Profile  # noqa: E402

fake, backend_env = _runtime.fake, _runtime.backend_env  # the stand-in's fixtures, shared


def _bundled_inputs():
    from workbench.core import paths
    from workbench.core.precision.datasets import model_inputs

    return [(s.name, s.shape) for s in model_inputs(paths.default_model_path())]


def _profile(shapes=None, **build_keys) -> Profile:
    build = {"backend": "tensorrt", **({"shapes": shapes} if shapes else {}), **build_keys}
    return Profile.model_validate(
        {"name": "t", "source_path": Path("/p/t.toml"), "device": {"name": "GPU", "kind": "gpu", "arch": "x86_64"},
         "build": build}
    )  # fmt: skip


# ------------------------------------------------------------------------------------------- 1: benchmark shapes
def test_bundled_model_takes_its_profile_from_the_benchmark_shapes():
    inputs = _bundled_inputs()
    assert inputs == [("image", ("batch", 1, 8, 8))]  # the bundled model's batch is dynamic
    prof = load_profile("desktop-ampere")
    assert not prof.build.shapes  # no shipped TensorRT profile gives [build.shapes.image]
    compat = Compat(fake_trt("10.3"))
    with pytest.raises(ConfigError, match=r"input 'image' has dynamic shape \?x1x8x8") as err:
        B.translate(prof, "fp32", compat, inputs)
    assert "--batch" in err.value.hint and "[build.shapes.image]" in err.value.hint
    s = B.translate(prof, "fp32", compat, inputs, bench_shapes={"image": ((4, 1, 8, 8),) * 3})
    assert s.shapes == {"image": ((4, 1, 8, 8), (4, 1, 8, 8), (4, 1, 8, 8))}
    assert s.shape_sources == {"image": "benchmark"}


def test_profile_shapes_win_and_a_partial_profile_keeps_its_opt():
    inputs, compat = _bundled_inputs(), Compat(fake_trt("10.3"))
    bench = {"image": ((4, 1, 8, 8),) * 3}
    full = {"image": {"min": [1, 1, 8, 8], "opt": [2, 1, 8, 8], "max": [8, 1, 8, 8]}}
    s = B.translate(_profile(full), "fp32", compat, inputs, bench_shapes=bench)
    assert s.shapes["image"] == ((1, 1, 8, 8), (2, 1, 8, 8), (8, 1, 8, 8)) and s.shape_sources["image"] == "profile"
    only_opt = {"image": {"opt": [2, 1, 8, 8]}}
    s = B.translate(_profile(only_opt), "fp32", compat, inputs, bench_shapes=bench)
    # opt stays the profile's; the range widens so the benchmark's batch 4 fits the plan
    assert s.shapes["image"] == ((2, 1, 8, 8), (2, 1, 8, 8), (4, 1, 8, 8))
    assert s.shape_sources["image"] == "profile opt + benchmark min/max"
    s = B.translate(_profile(only_opt), "fp32", compat, inputs)
    assert s.shapes["image"] == ((2, 1, 8, 8),) * 3 and s.shape_sources["image"] == "profile opt (min = max = opt)"
    with pytest.raises(ConfigError, match="dimension 2 must be 8"):
        B.translate(_profile(), "fp32", compat, inputs, bench_shapes={"image": ((4, 1, 9, 8),) * 3})


def test_workflow_build_of_the_bundled_model_with_batch_4(backend_env):
    """--batch 4 on a TensorRT profile without [build.shapes]: the plan's profile is min = opt = max = [4, 1, 8, 8]
    on the (fake) builder in the build child, recorded with its source in the report and the sidecar."""
    from workbench.core import workflow
    from workbench.core.job import JobRequest

    job = workflow.prepare(JobRequest(profile="desktop-ampere", batch=4, precision="fp32"))
    built = workflow.build(job, "fp32")
    report = json.loads((built.artifact.path.parent / "build_report.json").read_text())
    assert report["inputs"] == [{"name": "image", "shape": [-1, 1, 8, 8]}]
    assert report["shapes"] == {"image": {"min": [4, 1, 8, 8], "opt": [4, 1, 8, 8], "max": [4, 1, 8, 8],
                                          "source": "benchmark"}}  # fmt: skip
    meta = json.loads(built.artifact.sidecar_path.read_text())
    assert meta["settings"]["shapes"] == {"image": [[4, 1, 8, 8]] * 3}
    assert meta["settings"]["shape_sources"] == {"image": "benchmark"}
    # another batch is another plan (the resolved profile is in the cache key); the same batch is a cache hit
    job2 = workflow.prepare(JobRequest(profile="desktop-ampere", batch=2, precision="fp32"))
    other = workflow.build(job2, "fp32")
    assert not other.artifact.cached and other.artifact.path != built.artifact.path
    assert workflow.build(job, "fp32").artifact.cached
    # an offline sweep to batch 8 builds one plan for 1 … 8, opt at the request's batch
    sweep = workflow.build(job, "fp32", batches=(1, 8))
    meta = json.loads(sweep.artifact.sidecar_path.read_text())
    assert meta["settings"]["shapes"] == {"image": [[1, 1, 8, 8], [4, 1, 8, 8], [8, 1, 8, 8]]}


# ------------------------------------------------------------------------------------------- 7: calibrator at OPT
def _samples(n, shape=(1, 8)):
    return [{"x": np.full(shape, i, np.float32)} for i in range(n)]


def test_legacy_calibrator_feeds_opt_sized_batches(fake, tmp_path):
    t = fake()
    s = settings(precision="int8", builder_flags=("INT8", "FP16"), calibration="entropy", timing_cache=False)
    assert s.shapes["x"][1] == (4, 8)  # OPT batch 4
    report = B.build_plan(tmp_path / "m.onnx", s, tmp_path / "m.plan", calib_feeds=lambda: iter(_samples(10)))
    # TensorRT calibrates at the calibration profile's OPT shape: batch-1 samples are stacked to 4 rows
    assert [b.shape for b in t.calib_batches] == [(4, 8), (4, 8)]
    assert [b[:, 0].tolist() for b in t.calib_batches] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert t.calib_batch_size == 1  # explicit batch: the batch is in the tensor shape
    assert report["calibration"] == {"batches": 2, "samples": 8, "dropped_samples": 2,
                                     "batch_shapes": {"x": [4, 8]}}  # fmt: skip


def test_calibrator_sizes_device_buffers_from_opt_and_refuses_what_cannot_fill_it():
    cu = FakeCuda()
    f = Feeder(iter(_samples(4)), ["x"], cu, {"x": (4, 8)})
    ptrs = f.next_pointers()
    assert f.nbytes == {"x": 4 * 8 * 4} and len(ptrs) == 1 and f.batch_size == 4
    assert f.next_pointers() is None
    with pytest.raises(CalibrationError, match=r"has 3 sample\(s\): too few for one calibration batch of 4"):
        Feeder(iter(_samples(3)), ["x"], FakeCuda(), {"x": (4, 8)}).next_pointers()
    with pytest.raises(CalibrationError, match=r"input 'x' has shape \[1, 9\], TensorRT calibrates at \[4, 8\]"):
        Feeder(iter(_samples(4, (1, 9))), ["x"], FakeCuda(), {"x": (4, 8)}).next_pointers()
    with pytest.raises(CalibrationError, match="brings 3 rows where 1 are left"):
        feeds = [{"x": np.zeros((3, 8), np.float32)}, {"x": np.zeros((3, 8), np.float32)}]
        Feeder(iter(feeds), ["x"], FakeCuda(), {"x": (4, 8)}).next_pointers()


def test_make_calibrator_passes_the_opt_shapes(fake):
    fake()
    cal = make_calibrator(Compat(), iter(_samples(2)), ["x"], None, "minmax", FakeCuda(), opt_shapes={"x": (2, 8)})
    assert cal.get_batch_size() == 1 and len(cal.get_batch(["x"])) == 1 and cal.feeder.shapes == {"x": (2, 8)}
    assert cal.get_batch(["x"]) is None


# ------------------------------------------------------------------------------------------- 8: VC plans
def test_version_compatible_plan_has_a_layer_report(fake, tmp_path):
    fake()
    s = settings(builder_flags=("VERSION_COMPATIBLE",), version_compatible=True)
    report = B.build_plan(tmp_path / "m.onnx", s, tmp_path / "m.plan")
    assert (tmp_path / "m.plan").read_bytes() == b"PLAN-BYTES-VC"
    assert report["layers"]["counts"] == {"fp32": 1} and report["layers"]["warnings"] == []


def test_a_layer_report_is_never_silently_empty(fake, tmp_path, monkeypatch):
    t = fake()
    monkeypatch.setattr(t.Runtime, "deserialize_cuda_engine", lambda self, data: None)
    report = B.build_plan(tmp_path / "m.onnx", settings(), tmp_path / "m.plan")
    assert report["layers"]["layers"] == []
    assert "no layer report: TensorRT could not deserialize the plan" in report["layers"]["warnings"][0]


# ------------------------------------------------------------------------------------------- 15: TF32
def test_tf32_flag_is_set_or_cleared_and_recorded(fake, tmp_path):
    compat = Compat(fake_trt("10.3"))
    assert B.translate(_profile(), "fp32", compat, [("x", (1, 8))]).tf32 is True  # TensorRT's default: on
    assert B.translate(_profile(tf32=False), "fp32", compat, [("x", (1, 8))]).tf32 is False
    t = fake()
    report = B.build_plan(tmp_path / "m.onnx", settings(tf32=False), tmp_path / "a.plan")
    assert ("clear_flag", t.BuilderFlag.TF32) in t.calls and report["tf32"] is False
    report = B.build_plan(tmp_path / "m.onnx", settings(tf32=True), tmp_path / "b.plan")
    assert ("flag", t.BuilderFlag.TF32) in t.calls and report["tf32"] is True


def test_sidecar_records_tf32(backend_env):
    from workbench.core.backends import get_backend

    model, prof = backend_env
    art = get_backend("tensorrt").build(model, "fp32", prof)
    meta = json.loads(art.sidecar_path.read_text())
    assert meta["tf32"] is True and meta["settings"]["tf32"] is True
    off = prof.model_copy(update={"build": prof.build.model_copy(update={"tf32": False})})
    art = get_backend("tensorrt").build(model, "fp32", off)
    assert json.loads(art.sidecar_path.read_text())["tf32"] is False
    assert json.loads((art.path.parent / "build_report.json").read_text())["tf32"] is False


# ------------------------------------------------------------------------------------------- 19: timing cache
def test_a_refused_timing_cache_is_not_used_and_the_report_says_so(fake, tmp_path):
    t = fake(timing_cache_ok=False)
    tc = tmp_path / "timing.cache"
    tc.write_bytes(b"OTHER-DEVICE")
    report = B.build_plan(tmp_path / "m.onnx", settings(), tmp_path / "m.plan", timing_cache_path=tc)
    assert (tmp_path / "m.plan").read_bytes() == b"PLAN-BYTES"  # built anyway
    assert ("set_timing_cache", b"OTHER-DEVICE", False) in t.calls
    assert report["timing_cache"] == "refused"
    assert any("TensorRT refused the timing cache" in n and str(tc) in n for n in report["notes"])
    assert tc.read_bytes() == b"TIMING"  # replaced by this build's cache


def test_timing_cache_file_is_keyed_by_gpu_model():
    a = B.timing_cache_filename("10.3.0", "NVIDIA GeForce RTX 3090", "8.6", None)
    b = B.timing_cache_filename("10.3.0", "NVIDIA RTX A6000", "8.6", None)
    assert a == "timing-10.3.0-nvidia-geforce-rtx-3090-sm8.6.cache" and a != b
    assert B.timing_cache_filename("10.3.0", "Orin", "8.7", "36.4.3").endswith("-sm8.7-l4t36.4.3.cache")
    assert B.timing_cache_filename("10.3.0", None, None, None) == "timing-10.3.0-unknown-gpu-smunknown.cache"


def test_backend_timing_cache_path_names_the_gpu(backend_env):
    from workbench.core import paths
    from workbench.core.backends import get_backend

    model, prof = backend_env
    b = get_backend("tensorrt")
    b.build(model, "fp32", prof)
    assert b.last_report["timing_cache"] == "new"
    assert b.last_report["timing_cache_file"] == str(
        paths.cache_dir() / "tensorrt" / "timing-10.3.0-fake-gpu-sm8.7.cache"
    )
    assert (paths.cache_dir() / "tensorrt" / "timing-10.3.0-fake-gpu-sm8.7.cache").read_bytes() == b"TIMING"


# ------------------------------------------------------------------ issue 15: the typed FP16 model's kept nodes
def test_build_report_lists_the_nodes_a_typed_fp16_model_kept_in_fp32(backend_env, tmp_path):
    from test_fp16_typed import feeds, gain_plant

    from workbench.core.backends import get_backend
    from workbench.core.precision.autocast import to_fp16_typed

    _, prof = backend_env
    typed = to_fp16_typed(gain_plant(tmp_path / "gain.onnx"), feeds())
    static = prof.model_copy(update={"build": prof.build.model_copy(update={"shapes": {}})})
    art = get_backend("tensorrt").build(typed.path, "fp16", static)
    report = json.loads((art.path.parent / "build_report.json").read_text())
    kept = report["fp16_kept_fp32"]
    assert [k["node"] for k in kept["kept_fp32"]] == ["gain", "add"] and kept["kept_fp32"][0]["op"] == "Mul"
    assert kept["init_max"] == 65504.0 and kept["data_max"] == 512.0
