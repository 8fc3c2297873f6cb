"""--input-shape parsing (trtexec-style NAME:DxD, repeatable or comma lists)."""

from __future__ import annotations

import pytest

from workbench.core.errors import UsageError
from workbench.core.models.shapes import format_shapes, parse_input_shapes


def test_repeatable_and_comma_lists_keep_order():
    got = parse_input_shapes(["x:1x3x224x224", "mask:1x128, ids:1x128", "t:scalar"])
    assert got == {"x": (1, 3, 224, 224), "mask": (1, 128), "ids": (1, 128), "t": ()}
    assert list(got) == ["x", "mask", "ids", "t"]
    assert format_shapes(got) == "x:1x3x224x224,mask:1x128,ids:1x128,t:scalar"


def test_names_with_colons_use_the_last_colon():
    assert parse_input_shapes(["encoder:input:1x8"]) == {"encoder:input": (1, 8)}


def test_none_and_empty():
    assert parse_input_shapes(None) == {}
    assert parse_input_shapes([""]) == {}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("1x3x224x224", "expected NAME:DIMS"),
        (":1x3", "expected NAME:DIMS"),
        ("x:1xAx3", "dims must be integers"),
        ("x:1x-3", "must not be negative"),
        ("x:1x3,x:2x3", "input 'x' is given twice"),
    ],
)
def test_bad_specs_name_the_option(spec, message):
    with pytest.raises(UsageError, match=message) as err:
        parse_input_shapes([spec])
    assert "--input-shape" in str(err.value)
