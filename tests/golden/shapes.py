"""The shape of a JSON document (its keys and value kinds), and a check that a new document keeps an old shape.

Shape: a dict becomes ``{"{}": {key: shape}}``; a list ``{"[]": shape of its elements, merged}``; a scalar one of
"number" (int and float alike), "string", "bool", "null". Merging two shapes keeps every key of both (a key seen
in one element of a list is part of the list's shape) and joins scalar kinds into a sorted list.

:func:`missing` reports what a golden shape has that a new one lacks: keys only added, never lost. A kind that
is "null" on one side is compatible with anything (a measurement that is n/a on this machine is null here and a
number on a Jetson); otherwise dict / list / scalar kinds must agree.
"""

from __future__ import annotations

from typing import Any

Shape = Any


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def shape_of(value: Any) -> Shape:
    if isinstance(value, dict):
        return {"{}": {k: shape_of(v) for k, v in sorted(value.items())}}
    if isinstance(value, list):
        elem: Shape = None
        for v in value:
            elem = shape_of(v) if elem is None else merge(elem, shape_of(v))
        return {"[]": elem if elem is not None else "empty"}
    return _kind(value)


def _scalars(s: Shape) -> set[str]:
    if isinstance(s, str):
        return {s}
    if isinstance(s, list):
        return set(s)
    return set()


def merge(a: Shape, b: Shape) -> Shape:
    if isinstance(a, dict) and isinstance(b, dict) and "{}" in a and "{}" in b:
        keys = {**a["{}"]}
        for k, v in b["{}"].items():
            keys[k] = merge(keys[k], v) if k in keys else v
        return {"{}": dict(sorted(keys.items()))}
    if isinstance(a, dict) and isinstance(b, dict) and "[]" in a and "[]" in b:
        if a["[]"] == "empty":
            return b
        if b["[]"] == "empty":
            return a
        return {"[]": merge(a["[]"], b["[]"])}
    if a == "null":
        return b
    if b == "null":
        return a
    sa, sb = _scalars(a), _scalars(b)
    if sa and sb:
        kinds = sorted(sa | sb)
        return kinds[0] if len(kinds) == 1 else kinds
    return a  # a dict/list merged with a scalar: keep the structured side


def missing(golden: Shape, actual: Shape, path: str = "$") -> list[str]:
    """Every key (and kind change) of ``golden`` that ``actual`` lacks, as JSON paths."""
    if golden == "null" or actual == "null" or golden == "empty":
        return []
    if isinstance(golden, dict) and "{}" in golden:
        if not (isinstance(actual, dict) and "{}" in actual):
            return [f"{path}: was an object, now {actual!r}"]
        out = []
        for k, sub in golden["{}"].items():
            if k not in actual["{}"]:
                out.append(f"{path}.{k}: missing")
            else:
                out.extend(missing(sub, actual["{}"][k], f"{path}.{k}"))
        return out
    if isinstance(golden, dict) and "[]" in golden:
        if not (isinstance(actual, dict) and "[]" in actual):
            return [f"{path}: was a list, now {actual!r}"]
        if actual["[]"] == "empty":
            return []
        return missing(golden["[]"], actual["[]"], f"{path}[]")
    g, a = _scalars(golden) - {"null"}, _scalars(actual) - {"null"}
    if not a:
        return [f"{path}: was {golden!r}, now {actual!r}"] if isinstance(actual, dict) else []
    if g and not (g & a):
        return [f"{path}: was {golden!r}, now {actual!r}"]
    return []
