"""Dims of real exports and the one batch rule (issue "Numbers you can trust on real pretrained models", items 3-4):
-1 and ? are unknowns, each on its own; the batch is the first input's leading dim wherever its symbol sits; --batch,
--shapes (whole inputs and named dims) and the model must agree, else a UsageError before anything runs."""

from __future__ import annotations

import re

import numpy as np
import pytest

from workbench.core.bench.inputs import random_feeds
from workbench.core.bench.resolve import parse_shape_spec, resolve
from workbench.core.bench.result import _batch_run
from workbench.core.errors import UsageError
from workbench.core.models.dims import batch_layout, normalize_shape
from workbench.core.models.info import TensorSpec

SILERO = (
    TensorSpec("input", "float32", ("batch", "samples")),
    TensorSpec("state", "float32", (2, "batch", 128)),
    TensorSpec("sr", "int64", ()),
)
SILERO_REAL = (  # silero_vad.onnx as shipped: no dim has a name
    TensorSpec("input", "float32", (None, None)),
    TensorSpec("state", "float32", (2, None, 128)),
    TensorSpec("sr", "int64", ()),
)
PADDLE = (TensorSpec("x", "float32", (-1, 3, "?", "?")),)
FIXED = (TensorSpec("x", "float32", (1, 16)),)


def test_minus_one_question_mark_and_unnamed_are_unknowns():
    assert normalize_shape((-1, 3, "?", "?", None, "", 0, "batch")) == (None, 3, None, None, None, None, None, "batch")
    assert TensorSpec("x", "float32", (-1, 3, 8, 8)).is_dynamic
    assert TensorSpec("x", "float32", (-1, 3, 8, 8)).shape_str() == "?x3x8x8"


def test_batch_layout_follows_the_symbol_into_other_inputs():
    lay = batch_layout(SILERO)
    assert (lay.lead, lay.symbol, lay.fixed) == ("input", "batch", None)
    assert lay.axes == {"input": 0, "state": 1, "sr": None}
    real = batch_layout(SILERO_REAL)  # unnamed: only leading unknowns carry the batch
    assert real.axes == {"input": 0, "state": None, "sr": None}
    assert batch_layout(FIXED).fixed == 1
    scalar_first = (TensorSpec("sr", "int64", ()), *SILERO[:2])  # scalars do not count
    assert batch_layout(scalar_first).lead == "input"


def test_batch_fills_its_axis_in_every_input_and_named_dims_reach_every_input():
    r = resolve(SILERO, batch=4, symbols={"samples": 512})
    assert r.batch == 4
    assert r.require_all() == {"input": (4, 512), "state": (2, 4, 128), "sr": ()}
    r = resolve(SILERO, symbols={"batch": 3, "samples": 256})
    assert r.batch == 3 and r.require_all()["state"] == (2, 3, 128)
    # a whole shape implies the batch and the named dims for the other inputs
    r = resolve(SILERO, shapes={"input": (5, 160)})
    assert r.batch == 5 and r.require_all() == {"input": (5, 160), "state": (2, 5, 128), "sr": ()}


def test_two_question_marks_are_two_sizes():
    r = resolve(PADDLE, shapes={"x": (2, 3, 48, 192)})
    assert r.batch == 2 and r.require_all() == {"x": (2, 3, 48, 192)}


def test_fixed_batch_wins_over_the_default_and_refuses_another():
    assert resolve(FIXED, default_batch=8).batch == 1  # the profile's default yields to the model
    with pytest.raises(UsageError, match=r"--batch 8.*fixed at 1.*\[1, 16\]") as exc:
        resolve(FIXED, batch=8)
    assert "--batch" not in exc.value.hint  # never offers the option that was just refused
    with pytest.raises(UsageError, match="dim 0 is fixed to 1"):
        resolve(FIXED, shapes={"x": (4, 16)})


@pytest.mark.parametrize(
    ("kw", "pattern"),
    [
        ({"batch": 8, "shapes": {"input": (4, 512)}}, r"batch is 8 by --batch 8 but 4 by --shapes input:4x512"),
        ({"symbols": {"batch": 2}, "shapes": {"state": (2, 3, 128)}}, r"'batch' the size 3, --shapes batch=2"),
        ({"shapes": {"input": (2, 512), "state": (2, 3, 128)}}, r"'batch' the size 3"),
        ({"batch": 2, "symbols": {"batch": 4}}, r"batch is 2 by --batch 2 but 4 by --shapes batch=4"),
    ],
)
def test_conflicts_are_errors(kw, pattern):
    with pytest.raises(UsageError, match=pattern):
        resolve(SILERO, **kw)


def test_unknown_names_list_what_the_model_has():
    with pytest.raises(UsageError, match="no dim named 'height'") as exc:
        resolve(SILERO, symbols={"height": 320})
    assert exc.value.hint == "named dims of this model: batch (input dim 0, state dim 1), samples (input dim 1)"
    with pytest.raises(UsageError, match="no dim named 'batch'") as exc:
        resolve(SILERO_REAL, symbols={"batch": 1})
    assert "names none of its dims" in exc.value.hint
    with pytest.raises(UsageError, match="input 'nope'") as exc:
        resolve(SILERO, shapes={"nope": (1,)})
    assert exc.value.hint == "the model's inputs: input [batch, samples], state [2, batch, 128], sr []"
    with pytest.raises(UsageError, match="every input of the model is a scalar"):
        resolve((TensorSpec("sr", "int64", ()),), batch=2)


def _fill(form: str) -> str:
    return re.sub(r"<[^>]+>", "7", form)


@pytest.mark.parametrize(
    ("inputs", "kw"),
    [(PADDLE, {}), (SILERO, {}), (SILERO_REAL, {}), (SILERO_REAL, {"shapes": {"input": (1, 512)}})],
)
def test_the_forms_a_missing_size_error_offers_work(inputs, kw):
    """Hints offer only syntax that works: each --shapes form in the message, its <…> filled, is accepted."""
    with pytest.raises(UsageError) as exc:
        resolve(inputs, **kw).require_all()
    forms = re.findall(r"--shapes (\S+)", str(exc.value))
    assert forms
    for form in forms:
        spec = parse_shape_spec(_fill(form))
        shapes = {**kw.get("shapes", {}), **spec.inputs}
        r = resolve(inputs, shapes=shapes, symbols=spec.symbols)
        assert set(r.missing) < set(resolve(inputs, **kw).missing) or not r.missing
    if inputs is SILERO_REAL:
        assert "=" not in "".join(forms)  # no dim has a name: a NAME=N form would be refused


def test_parse_shape_spec_mixes_inputs_and_symbols():
    spec = parse_shape_spec("batch=1, height=320,x:1x3x320x320, a:b:2x3")
    assert spec.symbols == {"batch": 1, "height": 320}
    assert spec.inputs == {"x": (1, 3, 320, 320), "a:b": (2, 3)}
    for bad, msg in (("batch", "NAME:DxDxD"), ("batch=x", "integers"), ("h=0", "positive"), ("a=1,a=2", "twice")):
        with pytest.raises(UsageError, match=msg):
            parse_shape_spec(bad)


def test_random_feeds_use_given_values_and_refuse_a_random_integer_scalar():
    meta = [(i.name, i.dtype, i.shape) for i in SILERO]
    feeds = random_feeds(meta, 2, {}, 0, symbols={"samples": 64}, values={"sr": 16000})
    assert feeds["sr"].shape == () and feeds["sr"].dtype == np.int64 and int(feeds["sr"]) == 16000
    assert feeds["input"].shape == (2, 64) and feeds["state"].shape == (2, 2, 128)
    with pytest.raises(UsageError, match=r"'sr' is an int64 scalar.*\[inputs\.sr\] value"):
        random_feeds(meta, 2, {}, 0, symbols={"samples": 64})


def test_the_stored_batch_is_the_first_non_scalar_inputs_leading_dim():
    assert _batch_run({"sr": [], "input": [4, 512], "state": [2, 4, 128]}, 1) == 4
    assert _batch_run({"input": [3, 512], "state": [2, 3, 128], "sr": []}, 1) == 3
    assert _batch_run({"sr": []}, 1) == 1
