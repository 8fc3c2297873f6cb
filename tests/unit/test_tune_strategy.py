"""The tune's decisions on synthetic outcomes (core/tune/strategy.py): Pareto front, the significance rule,
simpler-within-the-noise, recorded figures never recommended (must-show 4), no candidate meeting the bounds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from _bench_fakes import result

from workbench.core.power.sweep import SweepResult
from workbench.core.tune import strategy
from workbench.core.tune.space import build_space, power_mode_outcomes
from workbench.core.tune.types import Candidate, CandidateOutcome, TuneBounds

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FP32 = Candidate("fp32", threads=1)
PLAIN = Candidate("int8", {"method": "minmax", "per_channel": False}, threads=1)
CHANNEL = Candidate("int8", {"method": "minmax", "per_channel": True}, threads=1)


def lat(median: float, seed: int, n: int = 2000) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(median * (1 + 0.01 * rng.standard_normal(n)))


def timed(c: Candidate, median: float, seed: int, *, cosine: float | None = 0.999, **kw):
    r = result(lat(median, seed))
    o = CandidateOutcome(c, "measured", cosine_min=None if c.precision == "fp32" else cosine,
                         p50_ms=r.latency.median_ms, p99_ms=r.latency.p99_ms, **kw)  # fmt: skip
    return o, r


def test_significantly_faster_int8_is_recommended_with_its_speedup():
    (f, rf), (p, rp) = timed(FP32, 2.0, 1), timed(PLAIN, 1.0, 2)
    rec, why = strategy.recommend([f, p], TuneBounds(min_cosine=0.98), "p50", {FP32.key: rf, PLAIN.key: rp},
                                  baseline_key=FP32.key)  # fmt: skip
    assert why is None and rec.candidate == PLAIN
    assert rec.reasons[0].startswith("2.00× faster than FP32, 1 thread (p50 1 ms vs 2 ms, 95 % CI [")
    assert "minimum cosine vs FP32 0.9990" in rec.reasons[1]


def test_within_the_noise_the_simpler_candidate_wins_and_says_so():
    # per-channel 1 % faster than per-tensor: under the 2 % drift floor -> per-tensor (simpler) is recommended
    (f, rf), (p, rp), (c, rc) = timed(FP32, 2.0, 1), timed(PLAIN, 1.0, 2), timed(CHANNEL, 0.99, 3)
    results = {FP32.key: rf, PLAIN.key: rp, CHANNEL.key: rc}
    rec, _ = strategy.recommend([f, p, c], TuneBounds(min_cosine=0.98), "p50", results, baseline_key=FP32.key)
    assert rec.candidate == PLAIN
    assert any(r.startswith(f"{CHANNEL.label()} measured better") and "not significantly" in r for r in rec.reasons)
    # and INT8 barely faster than FP32 is not a win: FP32 stays
    (f2, rf2), (p2, rp2) = timed(FP32, 1.0, 4), timed(PLAIN, 0.99, 5)
    rec2, _ = strategy.recommend([f2, p2], TuneBounds(min_cosine=0.98), "p50", {FP32.key: rf2, PLAIN.key: rp2},
                                 baseline_key=FP32.key)  # fmt: skip
    assert rec2.candidate == FP32
    assert any(r.startswith(f"{PLAIN.label()} measured better") for r in rec2.reasons)


def test_never_recommends_a_candidate_measured_slower_beyond_the_noise():
    (f, rf), (p, rp), (c, rc) = timed(FP32, 2.0, 1), timed(PLAIN, 1.5, 2), timed(CHANNEL, 1.0, 3)
    results = {FP32.key: rf, PLAIN.key: rp, CHANNEL.key: rc}
    rec, _ = strategy.recommend([f, p, c], TuneBounds(min_cosine=0.98), "p50", results, baseline_key=FP32.key)
    assert rec.candidate == CHANNEL  # per-tensor is simpler but significantly slower


def test_accuracy_bound_and_front():
    (f, rf), (p, rp), (c, rc) = timed(FP32, 2.0, 1), timed(PLAIN, 1.0, 2, cosine=0.90), timed(CHANNEL, 1.2, 3)
    outs = [f, p, c]
    results = {FP32.key: rf, PLAIN.key: rp, CHANNEL.key: rc}
    assert strategy.accuracy_problem(p, TuneBounds(min_cosine=0.98)) == "minimum cosine vs FP32 0.9000 < 0.98"
    rec, _ = strategy.recommend(outs, TuneBounds(min_cosine=0.98), "p50", results, baseline_key=FP32.key)
    assert rec.candidate == CHANNEL
    # all three trade latency against accuracy: none dominates another
    assert set(strategy.pareto_front(outs, "p50")) == {FP32.key, PLAIN.key, CHANNEL.key}
    slow = CandidateOutcome(Candidate("int8", {"method": "entropy"}), "measured", cosine_min=0.95, p50_ms=3.0)
    assert slow.candidate.key not in strategy.pareto_front([*outs, slow], "p50")  # dominated by FP32


def test_nothing_meets_the_bounds_says_so():
    p = CandidateOutcome(PLAIN, "rejected-accuracy", reason="minimum cosine vs FP32 0.5 < 0.98", cosine_min=0.5)
    rec, why = strategy.recommend([p], TuneBounds(min_cosine=0.98), "p50", {})
    assert rec is None
    assert why == f"no candidate meets the bounds (1 rejected: {PLAIN.label()}: minimum cosine vs FP32 0.5 < 0.98)"


def test_recorded_power_modes_are_on_the_front_but_never_recommended():
    """Must-show 4: the recorded Orin NX sweep's modes join the front (faster than anything measured here and
    labelled recorded), and the recommendation is still the measured candidate."""
    doc = json.loads((FIXTURES / "ui" / "sweep-orin-nx-example.json").read_text())
    sweep = SweepResult.from_dict(doc)
    (f, rf), (p, rp) = timed(FP32, 20.0, 1), timed(PLAIN, 10.0, 2)
    modes = power_mode_outcomes(sweep, p, recorded=True)
    assert [m.candidate.power_mode for m in modes] == ["MAXN", "10W", "15W", "25W"]
    assert all(not m.measured and m.provenance == "recorded" for m in modes)
    outs = [f, p, *modes]
    front = strategy.pareto_front(outs, "p50")
    assert modes[0].candidate.key in front  # MAXN: 2.61 ms, the fastest point
    assert p.candidate.key not in front  # dominated by the recorded modes (same accuracy, faster)
    rec, _ = strategy.recommend(outs, TuneBounds(min_cosine=0.98), "p50", {FP32.key: rf, PLAIN.key: rp},
                                baseline_key=FP32.key)  # fmt: skip
    assert rec.candidate == PLAIN and rec.candidate.power_mode is None
    assert any("4 recorded candidate(s) shown in the front but not counted" in r for r in rec.reasons)


def test_cpu_space_covers_the_plain_recipe_families():
    sp = build_space(backend="onnxruntime", objective="p50", cores=2, isa="avx2")
    int8 = [c for c in sp.candidates if c.precision == "int8"]
    assert sp.candidates[0].precision == "fp32" and {c.threads for c in sp.candidates} == {1, 2}
    assert {c.batch for c in sp.candidates} == {1}
    flags = {(c.recipe.get("per_channel"), c.recipe.get("reduce_range"), c.recipe.get("activation_type"))
             for c in int8}  # fmt: skip
    assert {(False, False, "uint8"), (True, False, "uint8"), (False, True, "uint8"), (False, False, "int8")} <= flags
    assert {c.recipe.get("method") for c in int8} == {"minmax", "entropy", "percentile"}
    assert len({c.key for c in sp.candidates}) == len(sp.candidates)
    thr = build_space(backend="onnxruntime", objective="throughput", cores=1, isa="avx2")
    assert {c.batch for c in thr.candidates} == {1, 4}


def test_each_int8_candidate_is_quantized_with_its_own_recipe_on_a_cpu_profile():
    """The CPU profiles say cpu_recipe = "auto": before, that replaced every candidate's recipe keys with the one
    chosen for this CPU, so "S8S8 symmetric" measured as U8S8 (4.0 ms in the tune, 14.5 ms as a plain S8S8 model on
    the ResNet-18-shaped model)."""
    from workbench.core import workflow
    from workbench.core.job import quant_settings
    from workbench.core.precision.cpu_recipes import PLAIN_RECIPES
    from workbench.core.tune.engine import candidate_job

    job = workflow.prepare(workflow.JobRequest(profile="cpu-x86_64", precision="int8"), backend_needed=False)
    assert job.profile.quantization.cpu_recipe == "auto"
    for name, recipe in PLAIN_RECIPES.items():
        q = quant_settings(candidate_job(job, Candidate("int8", dict(recipe)), TuneBounds(min_cosine=0.98)))
        got = {k: getattr(q, k) for k in recipe}
        assert got == recipe, name


def test_the_speed_up_is_stated_against_fp32_run_the_same_way():
    """INT8 on 2 threads against FP32 on 1 thread credited the threads to the precision (5.3× where FP32 on 2 threads
    made it 2.7× on the ResNet-18-shaped model): the baseline is the FP32 outcome with the same settings."""
    fp32_2 = Candidate("fp32", threads=2)
    int8_2 = Candidate("int8", {"method": "minmax", "per_channel": False}, threads=2)
    (f1, r1), (f2, r2), (q2, rq) = timed(FP32, 4.0, 1), timed(fp32_2, 2.0, 2), timed(int8_2, 1.0, 3)
    rec, _ = strategy.recommend([f1, f2, q2], TuneBounds(min_cosine=0.98), "p50",
                                {FP32.key: r1, fp32_2.key: r2, int8_2.key: rq}, baseline_key=FP32.key)  # fmt: skip
    assert rec.candidate == int8_2
    assert rec.reasons[0].startswith("2.00× faster than FP32, 2 threads (p50 1 ms vs 2 ms")


def test_without_labels_the_top1_figure_is_named_as_agreement_with_fp32():
    o = CandidateOutcome(PLAIN, "measured", top1_drop_pts=6.25, cosine_min=0.9998, top1_basis="fp32-agreement")
    assert strategy._accuracy_words(o) == (
        "top-1 agrees with FP32 on 93.75 % of samples (no labels), minimum cosine vs FP32 0.9998"
    )
    labelled = CandidateOutcome(PLAIN, "measured", top1_drop_pts=0.3, top1_basis="labels")
    assert strategy._accuracy_words(labelled) == "top-1 −0.30 pts"


def test_energy_without_power_readings_says_so_instead_of_blaming_bounds():
    (f, rf), (p, rp) = timed(FP32, 2.0, 1), timed(PLAIN, 1.0, 2)  # no mJ/inference on either
    rec, why = strategy.recommend([f, p], TuneBounds(), "energy", {FP32.key: rf, PLAIN.key: rp})
    assert rec is None and why.startswith("no energy figure: the telemetry of this run had no power readings")


def test_a_bound_reason_shows_the_digits_that_make_it_fail():
    o = CandidateOutcome(PLAIN, "measured", cosine_min=0.9999987)
    assert strategy.accuracy_problem(o, TuneBounds(min_cosine=0.999999)) == (
        "minimum cosine vs FP32 0.9999987 < 0.999999"
    )


def test_an_unknown_tune_recipe_is_a_profile_error_with_its_line(tmp_path):
    import pytest

    from workbench.core.errors import ConfigError
    from workbench.core.profiles.loader import load_profile

    bad = tmp_path / "bad.toml"
    bad.write_text('extends = "cpu-x86_64"\n[tune]\nrecipes = ["qdq-u8s8-channel", "qoperator-u8s8"]\n')
    with pytest.raises(ConfigError) as err:
        load_profile(str(bad))
    assert any(f"{bad}:3:" in p and "unknown recipe 'qoperator-u8s8'" in p for p in err.value.problems)


def test_a_tuned_profile_extends_a_bundled_profile_by_name():
    from workbench.core.profiles.loader import load_profile
    from workbench.core.tune.profile_out import render_tuned_profile
    from workbench.core.tune.types import TuneRecommendation

    text = render_tuned_profile(load_profile("cpu-x86_64"), TuneRecommendation(PLAIN, 1, ("r",)), "tune-x")
    assert 'extends = "cpu-x86_64"' in text  # not the checkout's absolute path: the file survives a move
    assert 'cpu_recipe = "profile"' in text  # its keys as written, not the CPU's auto recipe
