"""benchmarks/tune_resnet.py's checks on a faked tune document (the run itself takes a quarter of an hour)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from workbench.core.precision.cpu_recipes import PLAIN_RECIPES
from workbench.core.tune.types import Candidate, CandidateOutcome

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "tune_resnet.py"


def _load():
    spec = importlib.util.spec_from_file_location("tune_resnet", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["tune_resnet"] = mod
    spec.loader.exec_module(mod)
    return mod


tr = _load()


def _doc(names, status="measured"):
    rows = [CandidateOutcome(Candidate("fp32"), "confirmed").to_dict()]
    rows += [CandidateOutcome(Candidate("int8", dict(PLAIN_RECIPES[n])), status).to_dict() for n in names]
    return {"candidates": rows}


def test_every_family_and_enough_candidates_pass():
    doc = _doc(list(PLAIN_RECIPES) + ["qdq-u8s8-tensor"])
    got = {name: ok for name, ok, _ in tr.checks(doc, 0.34, 0.33)}
    assert all(got.values()) and tr.families(doc) == set(PLAIN_RECIPES)


def test_missing_family_few_candidates_and_a_slow_recommendation_fail():
    doc = _doc(["qdq-u8s8-tensor", "qdq-u8s8-channel"])
    got = [ok for _, ok, _ in tr.checks(doc, 1.0, 0.33)]  # e.g. FP32 recommended: ratio 1.0 vs 0.33
    assert got == [False, False, False]


def test_rejected_candidates_do_not_count_as_measured():
    doc = _doc(list(PLAIN_RECIPES), status="rejected-accuracy")
    assert tr.families(doc) == set()
