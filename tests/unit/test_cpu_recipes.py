"""INT8 recipe per CPU instruction set: ISA detection on captured /proc/cpuinfo texts, the recipe each ISA gets, the
QOperator format, and `--precision int8` on a CPU profile resolving (and recording) the recipe for the CPU.

Fixtures: tests/fixtures/hw/cpuinfo/ (SOURCES.md names where each text comes from).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnx
import onnxruntime as ort
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _calib_models import write_npy_samples  # noqa: E402

from workbench.core.errors import CalibrationError  # noqa: E402
from workbench.core.hw.cpu_isa import ISAS, classify, detect  # noqa: E402
from workbench.core.precision.cpu_recipes import (  # noqa: E402
    ISA_RECIPES,
    PLAIN_RECIPES,
    RECIPE_KEYS,
    RecipeChoice,
    choose,
    recipe_for_isa,
)
from workbench.core.precision.datasets import model_inputs, open_dataset  # noqa: E402
from workbench.core.precision.quantize import QuantOptions, quantize_qdq  # noqa: E402

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "hw" / "cpuinfo"

CAPTURED = {
    "ci-sapphire-rapids-kvm.txt": ("avx512_vnni", "Intel(R) Xeon(R) Processor"),
    "core-ultra-7-155h-meteor-lake.txt": ("avx_vnni", "Intel(R) Core(TM) Ultra 7 155H"),
    "xeon-gold-6148-skylake-sp.txt": ("avx512", "Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz"),
    "xeon-e5-2660v3-haswell.txt": ("avx2", "Intel(R) Xeon(R) CPU E5-2660 v3 @ 2.60GHz"),
    "xeon-e5620-westmere.txt": ("unknown", "Intel(R) Xeon(R) CPU           E5620  @ 2.40GHz"),
    "graviton2-neoverse-n1.txt": ("neon_dotprod", ""),
    "rpi4-aarch64.txt": ("neon", ""),
    "rpi4-armv7l.txt": ("neon", "ARMv7 Processor rev 3 (v7l)"),
    "jetson-nano-a57.txt": ("neon", ""),
}


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))


def _root(tmp_path: Path, fixture: str) -> Path:
    """A fake filesystem root whose /proc/cpuinfo is the captured text."""
    root = tmp_path / f"root-{fixture}"
    (root / "proc").mkdir(parents=True)
    shutil.copyfile(FIX / fixture, root / "proc" / "cpuinfo")
    return root


# --- ISA detection --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fixture", sorted(CAPTURED))
def test_isa_from_captured_cpuinfo(tmp_path: Path, fixture: str) -> None:
    isa, model = CAPTURED[fixture]
    found = detect(_root(tmp_path, fixture))
    assert (found.isa, found.model) == (isa, model)
    assert found.isa in ISAS


def test_every_fixture_is_listed_with_its_source() -> None:
    listed = (FIX / "SOURCES.md").read_text()
    files = sorted(p.name for p in FIX.glob("*.txt"))
    assert files == sorted(CAPTURED)
    assert all(f"`{f}`" in listed for f in files)
    assert {CAPTURED[f][0] for f in files} == set(ISAS)  # every level has a real text behind it


def test_no_cpuinfo_is_unknown(tmp_path: Path) -> None:
    assert detect(tmp_path).isa == "unknown"  # macOS, Windows, a container hiding /proc
    assert classify("").isa == "unknown"


def test_only_the_first_processor_block_counts() -> None:
    """A later block's flags (big.LITTLE Arm cores can differ) never upgrade the first one's level."""
    text = "processor : 0\nflags : sse2 avx2\n\nprocessor : 1\nflags : sse2 avx2 avx512_vnni\n"
    assert classify(text).isa == "avx2"


# --- recipe per ISA -------------------------------------------------------------------------------------------
def test_plain_recipes_are_the_issues_five_with_the_same_keys() -> None:
    assert list(PLAIN_RECIPES) == [
        "qdq-u8s8-tensor",
        "qdq-u8s8-channel",
        "qop-u8s8-tensor",
        "qdq-u8s8-reduce-range",
        "qdq-s8s8-symmetric",
    ]
    for name, r in PLAIN_RECIPES.items():
        assert tuple(r) == RECIPE_KEYS, name
        QuantOptions.from_any(r)  # every recipe is a valid set of options
    assert PLAIN_RECIPES["qop-u8s8-tensor"]["quant_format"] == "QOperator"
    assert PLAIN_RECIPES["qdq-s8s8-symmetric"]["activation_type"] == "int8"
    assert PLAIN_RECIPES["qdq-s8s8-symmetric"]["activation_symmetric"] is True
    assert PLAIN_RECIPES["qdq-u8s8-reduce-range"]["reduce_range"] is True
    assert PLAIN_RECIPES["qdq-u8s8-channel"]["per_channel"] is True


@pytest.mark.parametrize(
    ("isa", "recipe"),
    [
        ("avx512_vnni", "qdq-u8s8-tensor"),  # ORT: VNNI -> U8S8, no reduce_range; measured best here (S8S8 slower)
        ("avx_vnni", "qdq-u8s8-tensor"),
        ("avx512", "qdq-u8s8-reduce-range"),  # ORT: no VNNI -> reduce_range (saturation), same kernels
        ("avx2", "qdq-u8s8-reduce-range"),
        ("neon_dotprod", "qdq-s8s8-symmetric"),  # ORT: Arm -> S8S8 symmetric
        ("neon", "qdq-s8s8-symmetric"),
        ("unknown", "qdq-u8s8-tensor"),
        ("riscv_v", "qdq-u8s8-tensor"),  # a level this table does not know gets unknown's
    ],
)
def test_recipe_for_isa(isa: str, recipe: str) -> None:
    assert recipe_for_isa(isa) == recipe


def test_every_isa_has_a_recipe_and_a_reason() -> None:
    assert set(ISA_RECIPES) == set(ISAS)
    for isa, (name, why) in ISA_RECIPES.items():
        assert name in PLAIN_RECIPES and why, isa


def test_choose() -> None:
    assert choose("profile", "avx2") is None
    auto = choose("auto", "avx2")
    assert (auto.name, auto.isa, auto.source) == ("qdq-u8s8-reduce-range", "avx2", "auto")
    named = choose("qop-u8s8-tensor", "avx2", ("per_channel", "method"))
    assert (named.name, named.source, named.overridden) == ("qop-u8s8-tensor", "profile", ("per_channel",))
    assert RecipeChoice.from_dict(named.to_dict()) == named
    with pytest.raises(ValueError, match="unknown cpu_recipe"):
        choose("fastest", "avx2")


# --- QOperator ------------------------------------------------------------------------------------------------
def _conv_gemm(path: Path) -> Path:
    """Conv(3->8, 3x3) -> Relu -> Flatten -> Gemm(8*6*6 -> 10) -> MatMul(10 -> 4); seeded weights, opset 13."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32) * 0.3, "cw"),
        numpy_helper.from_array(rng.standard_normal(8).astype(np.float32) * 0.1, "cb"),
        numpy_helper.from_array(rng.standard_normal((10, 288)).astype(np.float32) * 0.05, "gw"),
        numpy_helper.from_array(rng.standard_normal(10).astype(np.float32) * 0.1, "gb"),
        numpy_helper.from_array(rng.standard_normal((10, 4)).astype(np.float32) * 0.3, "mw"),
    ]
    nodes = [
        helper.make_node("Conv", ["image", "cw", "cb"], ["c"], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("Flatten", ["r"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "gw", "gb"], ["g"], name="gemm", transB=1),
        helper.make_node("MatMul", ["g", "mw"], ["logits"], name="mm"),
    ]
    graph = helper.make_graph(
        nodes,
        "convgemm",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 4])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_qoperator_writes_qlinear_operators_that_run(tmp_path: Path) -> None:
    model = _conv_gemm(tmp_path / "m.onnx")
    ds = open_dataset(write_npy_samples(tmp_path / "calib", 16, shape=(1, 3, 8, 8)), model_inputs(model))
    qop = quantize_qdq(model, ds, PLAIN_RECIPES["qop-u8s8-tensor"])
    qdq = quantize_qdq(model, ds, PLAIN_RECIPES["qdq-u8s8-tensor"])
    assert qop.key != qdq.key and qop.path != qdq.path  # the format is part of the cache key
    assert (qop.quant_format, qdq.quant_format) == ("QOperator", "QDQ")
    qop_ops = [n.op_type for n in onnx.load(str(qop.path)).graph.node]
    qdq_ops = [n.op_type for n in onnx.load(str(qdq.path)).graph.node]
    assert "QLinearConv" in qop_ops and {"QLinearMatMul", "QGemm"} & set(qop_ops), qop_ops
    assert "Conv" not in qop_ops
    assert not [o for o in qdq_ops if o.startswith("QLinear")] and "Conv" in qdq_ops
    assert any("QOperator format" in n for n in qop.notes)  # recipe 2 does not apply, and says so
    feed = next(iter(ds.iter_feeds()))
    fp32 = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(None, feed)[0]
    out = ort.InferenceSession(str(qop.path), providers=["CPUExecutionProvider"]).run(None, feed)[0]
    assert out.shape == fp32.shape and out.dtype == np.float32
    cos = float(np.dot(out.ravel(), fp32.ravel()) / (np.linalg.norm(out) * np.linalg.norm(fp32)))
    assert cos > 0.95, cos
    again = quantize_qdq(model, ds, PLAIN_RECIPES["qop-u8s8-tensor"])
    assert again.cached and again.path == qop.path


def test_qoperator_is_refused_for_tensorrt_and_unknown_formats() -> None:
    with pytest.raises(CalibrationError, match="QOperator"):
        QuantOptions.from_any({"quant_format": "QOperator", "placement": "tensorrt"})
    with pytest.raises(CalibrationError, match="quant_format"):
        QuantOptions.from_any({"quant_format": "qop"})


# --- the job's recipe -----------------------------------------------------------------------------------------
def _job(profile: str, spec_quant: dict | None = None):
    """What quant_settings / cpu_recipe_choice read of a PreparedJob: the profile, the spec, the request."""
    from workbench.core.profiles import load_profile

    spec = SimpleNamespace(quantization=spec_quant) if spec_quant is not None else None
    return SimpleNamespace(
        profile=load_profile(profile), spec=spec, request=SimpleNamespace(method=None, calib_samples=None)
    )


@pytest.mark.parametrize(
    ("profile", "fixture", "isa", "recipe"),
    [
        ("cpu-x86_64", "xeon-e5-2660v3-haswell.txt", "avx2", "qdq-u8s8-reduce-range"),
        ("cpu-x86_64", "ci-sapphire-rapids-kvm.txt", "avx512_vnni", "qdq-u8s8-tensor"),
        ("cpu-aarch64", "graviton2-neoverse-n1.txt", "neon_dotprod", "qdq-s8s8-symmetric"),
        # a profile for the other architecture: that family's baseline, not the host's instruction set
        ("cpu-aarch64", "ci-sapphire-rapids-kvm.txt", "neon", "qdq-s8s8-symmetric"),
        ("cpu-x86_64", "rpi4-aarch64.txt", "unknown", "qdq-u8s8-tensor"),
    ],
)
def test_cpu_profile_picks_the_recipe_for_the_cpu(tmp_path, profile, fixture, isa, recipe) -> None:
    from workbench.core.job import cpu_recipe_choice, quant_settings

    job = _job(profile)
    choice = cpu_recipe_choice(job, root=_root(tmp_path, fixture))
    assert (choice.name, choice.isa, choice.source) == (recipe, isa, "auto")
    q = quant_settings(job, choice=choice)
    for k, v in PLAIN_RECIPES[recipe].items():
        assert getattr(q, k) == v, k
    assert q.method == "minmax" and q.calibration_samples == 512  # the profile's other keys stay


def test_profile_keys_and_spec_keys_win(tmp_path: Path) -> None:
    from workbench.core.job import cpu_recipe_choice, quant_settings

    root = _root(tmp_path, "xeon-e5-2660v3-haswell.txt")
    job = _job("cpu-x86_64", {"per_channel": True, "method": "entropy"})
    choice = cpu_recipe_choice(job, root=root)
    q = quant_settings(job, choice=choice)
    assert choice.overridden == ("per_channel",)
    assert (q.reduce_range, q.per_channel, q.method) == (True, True, "entropy")  # recipe, then the spec's keys
    # cpu_recipe = "profile": the keys as written, no named recipe; GPU profiles never get a CPU recipe
    prof = tmp_path / "mine.toml"
    prof.write_text('extends = "cpu-x86_64"\n[quantization]\ncpu_recipe = "profile"\nper_channel = true\n')
    job = _job(str(prof))
    assert cpu_recipe_choice(job, root=root) is None
    assert (quant_settings(job).per_channel, quant_settings(job).reduce_range) == (True, False)
    assert cpu_recipe_choice(_job("jetson-orin-nx"), root=root) is None


def test_a_bad_cpu_recipe_in_a_profile_is_one_clear_error(tmp_path: Path) -> None:
    from workbench.core.errors import ConfigError
    from workbench.core.profiles import load_profile

    prof = tmp_path / "bad.toml"
    prof.write_text('extends = "cpu-x86_64"\n[quantization]\ncpu_recipe = "fastest"\n')
    with pytest.raises(ConfigError) as e:
        load_profile(str(prof))
    (problem,) = e.value.problems
    assert "bad.toml:3" in problem and "quantization.cpu_recipe" in problem and "'qdq-u8s8-tensor'" in problem


def test_calibrate_records_the_recipe_for_this_cpu(tmp_path: Path) -> None:
    """The workflow's calibration (what `calibrate` and `bench --precision int8` run) on cpu-x86_64, and a profile
    that names a recipe: the QDQ model is made with it, and the result says which one and why."""
    from workbench.core import workflow

    model = _conv_gemm(tmp_path / "m.onnx")
    calib = write_npy_samples(tmp_path / "calib", 16, shape=(1, 3, 8, 8))
    here = detect()
    req = workflow.JobRequest(model=str(model), profile="cpu-x86_64", precision="int8", calib=str(calib))
    cal = workflow.calibrate(workflow.prepare(req, backend_needed=False))
    rec = cal.result.cpu_recipe
    assert rec["cpu_recipe"] == recipe_for_isa(here.isa) and rec["isa"] == here.isa and rec["source"] == "auto"
    info = cal.info().to_dict()
    assert (info["cpu_recipe"], info["isa"]) == (rec["cpu_recipe"], here.isa) and info["recipe_reason"]
    assert json.loads(json.dumps(cal.to_dict()))["result"]["cpu_recipe"] == rec  # a detached job's outcome

    prof = tmp_path / "perchannel.toml"
    prof.write_text('extends = "cpu-x86_64"\n[quantization]\ncpu_recipe = "qdq-u8s8-channel"\n')
    req = workflow.JobRequest(model=str(model), profile=str(prof), precision="int8", calib=str(calib))
    cal = workflow.calibrate(workflow.prepare(req, backend_needed=False))
    assert (cal.result.cpu_recipe["cpu_recipe"], cal.result.cpu_recipe["source"]) == ("qdq-u8s8-channel", "profile")
    q = onnx.load(str(cal.result.path))
    scales = {i.name: onnx.numpy_helper.to_array(i) for i in q.graph.initializer if i.name.endswith("_scale")}
    assert scales["cw_scale"].shape == (8,)  # per-channel weights: one scale per output channel


def test_localisation_refuses_a_qoperator_model_with_one_error() -> None:
    """Per-layer localisation walks Q/DQ pairs (qdq_graph.py): a QOperator model has none, so it is refused up front
    instead of failing inside the walk."""
    from workbench.core import workflow
    from workbench.core.errors import UsageError

    check = SimpleNamespace(
        precision="int8", calibration=SimpleNamespace(result=SimpleNamespace(quant_format="QOperator"))
    )
    with pytest.raises(UsageError, match="QOperator format"):
        workflow.localize_int8(SimpleNamespace(), check)


# --- benchmarks/int8_speedup.py -------------------------------------------------------------------------------
def _script(name: str):
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "benchmarks" / name
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_int8_speedup_verdict_and_its_run_all_row() -> None:
    """The side-by-side verdict (chosen ratio / best plain ratio, target 1.05) and run_all's row that reads it."""
    import re

    speedup = _script("int8_speedup.py")
    ratios = {"chosen": 0.292, "qdq-u8s8-tensor": 0.289, "qop-u8s8-tensor": 0.291, "qdq-s8s8-symmetric": 0.984}
    best, rel = speedup.verdict(ratios)
    assert best == "qdq-u8s8-tensor" and rel == pytest.approx(0.292 / 0.289)
    assert speedup.verdict({**ratios, "chosen": 0.984})[1] > speedup.TARGET  # S8S8 on this CPU would miss it
    line = "chosen INT8/FP32 0.292 / best plain (qdq-u8s8-tensor) 0.289 = 1.010 (target <= 1.05: met)"
    (row,) = next(b for b in _script("run_all.py").BENCHES if b.script == "int8_speedup.py").rows
    m = re.search(row.pattern, line)
    assert m is not None and float(m.group("value")) == 1.010 and row.ok(1.010) and not row.ok(1.06)
