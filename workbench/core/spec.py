"""The model spec: ``<model>.workbench.toml`` next to the model (or ``--spec FILE``).

Every table and key is optional; unknown ones are errors (``FILE:LINE`` with "did you mean")::

    [datasets]
    calib = "digits"          # a path, or a name looked up in ./calib/<name> then the bundled calib/
    eval = "digits"           # same, in eval/

    [preprocess]              # overrides the image dataset's preprocess.toml, same keys
    resize = [8, 8]
    color = "L"

    [quantization]            # overrides the profile's [quantization], same keys
    method = "minmax"         # "minmax" | "entropy" | "percentile"
    per_channel = false
    reduce_range = false      # 7-bit weights (x86 CPUs without VNNI)
    activation_type = "uint8" # "uint8" | "int8"
    weight_type = "int8"
    activation_symmetric = false
    weight_symmetric = true
    percentile = 99.999
    calibration_samples = 0   # 0 = all
    chunk_size = 16
    op_types_to_exclude = ["Softmax"]
    nodes_to_exclude = []

    [accuracy]
    metric = "top1"           # "top1" | "cosine"
    max_top1_drop_pts = 0.5   # allowed top-1 drop, percentage points
    min_cosine = 0.99         # minimum mean cosine similarity to FP32

    [inputs.sr]               # one table per model input (quote odd names: [inputs."x/y"])
    value = 16000             # random benchmark inputs use this value for every element of the input

Lookup: ``<stem>.workbench.toml`` (``digits_cnn.workbench.toml``), then ``<name>.workbench.toml``
(``digits_cnn.onnx.workbench.toml``), in the model's folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.errors import ConfigError
from workbench.core.precision._toml import read_toml, unknown_key, where

_STR, _BOOL, _FLOAT, _INT, _STRLIST = "string", "boolean", "number", "integer", "list of strings"

QUANT_KEYS: dict[str, tuple[str, tuple[Any, ...] | None]] = {
    "activation_type": (_STR, ("uint8", "int8")),
    "weight_type": (_STR, ("int8", "uint8")),
    "activation_symmetric": (_BOOL, None),
    "weight_symmetric": (_BOOL, None),
    "per_channel": (_BOOL, None),
    "reduce_range": (_BOOL, None),
    "method": (_STR, ("minmax", "entropy", "percentile")),
    "percentile": (_FLOAT, None),
    "calibration_samples": (_INT, None),
    "op_types_to_exclude": (_STRLIST, None),
    "nodes_to_exclude": (_STRLIST, None),
    "chunk_size": (_INT, None),
}
ACCURACY_KEYS: dict[str, tuple[str, tuple[Any, ...] | None]] = {
    "metric": (_STR, ("top1", "cosine")),
    "max_top1_drop_pts": (_FLOAT, None),
    "min_cosine": (_FLOAT, None),
}
DATASET_KEYS: dict[str, tuple[str, tuple[Any, ...] | None]] = {"calib": (_STR, None), "eval": (_STR, None)}
TABLES = ("datasets", "preprocess", "quantization", "accuracy", "inputs")


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec. Unset values are None / empty; ``quantization`` holds only the keys given."""

    source: Path
    calib: str | None = None
    eval: str | None = None
    preprocess: dict[str, Any] = field(default_factory=dict)
    input_values: dict[str, Any] = field(default_factory=dict)  # [inputs.<name>] value
    quantization: dict[str, Any] = field(default_factory=dict)
    metric: str | None = None
    max_top1_drop_pts: float | None = None
    min_cosine: float | None = None

    def check_inputs(self, inputs: Any) -> None:
        """Check the ``[inputs.<name>]`` values against the model's inputs (TensorSpec-like); see :func:`check_input_values`."""
        check_input_values(self, inputs)

    @property
    def accuracy(self) -> dict[str, Any]:
        """The ``[accuracy]`` keys that were given: metric, max_top1_drop_pts, min_cosine."""
        vals = {"metric": self.metric, "max_top1_drop_pts": self.max_top1_drop_pts, "min_cosine": self.min_cosine}
        return {k: v for k, v in vals.items() if v is not None}

    def quant_options(self, profile_quant: Any = None, **overrides: Any) -> Any:
        """Profile QuantSection ← spec [quantization] ← explicit overrides (CLI flags; None = unset)."""
        from workbench.core.precision.quantize import QuantOptions

        base = QuantOptions.from_any(profile_quant)
        merged = {k: getattr(base, k) for k in QUANT_KEYS}
        merged.update(self.quantization)
        return QuantOptions.from_any(merged, **overrides)

    def thresholds(self, profile_accuracy: Any = None) -> dict[str, float]:
        """Profile [accuracy] values overridden by the spec's."""
        from workbench.core.accuracy import DEFAULT_MAX_TOP1_DROP_PTS, DEFAULT_MIN_COSINE

        def prof(name: str, default: float) -> float:
            v = getattr(profile_accuracy, name, None) if profile_accuracy is not None else None
            return default if v is None else float(v)

        return {
            "max_top1_drop_pts": self.max_top1_drop_pts
            if self.max_top1_drop_pts is not None
            else prof("max_top1_drop_pts", DEFAULT_MAX_TOP1_DROP_PTS),
            "min_cosine": self.min_cosine if self.min_cosine is not None else prof("min_cosine", DEFAULT_MIN_COSINE),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "datasets": {"calib": self.calib, "eval": self.eval},
            "preprocess": dict(self.preprocess),
            "inputs": {k: {"value": v} for k, v in self.input_values.items()},
            "quantization": dict(self.quantization),
            "accuracy": {
                "metric": self.metric,
                "max_top1_drop_pts": self.max_top1_drop_pts,
                "min_cosine": self.min_cosine,
            },
        }


def find_spec(model_path: Path) -> Path | None:
    """The spec file next to ``model_path``, or None."""
    model_path = Path(model_path)
    for cand in (
        model_path.with_name(model_path.stem + ".workbench.toml"),
        model_path.with_name(model_path.name + ".workbench.toml"),
    ):
        if cand.is_file():
            return cand
    return None


def _check(
    path: Path, lines: dict[str, int], table: str, sec: dict[str, Any], keys: dict[str, Any], problems: list[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in sec.items():
        dotted = f"{table}.{key}"
        if key not in keys:
            problems.append(unknown_key(path, lines, dotted, list(keys)))
            continue
        kind, choices = keys[key]
        ok = {
            _STR: isinstance(value, str),
            _BOOL: isinstance(value, bool),
            _FLOAT: isinstance(value, (int, float)) and not isinstance(value, bool),
            _INT: isinstance(value, int) and not isinstance(value, bool),
            _STRLIST: isinstance(value, list) and all(isinstance(v, str) for v in value),
        }[kind]
        if not ok:
            problems.append(f"{where(path, lines, dotted)}: {dotted} must be a {kind}, got {value!r}")
            continue
        if choices and value not in choices:
            opts = ", ".join(repr(c) for c in choices)
            problems.append(f"{where(path, lines, dotted)}: {dotted} must be one of {opts}, got {value!r}")
            continue
        out[key] = value
    return out


def load_spec(model_path: Path, spec_path: Path | None = None) -> ModelSpec | None:
    """Read the model spec (``spec_path``, or the one next to ``model_path``); None when there is none.

    Raises:
        ConfigError: ``spec_path`` given but missing; TOML syntax error; unknown key (did you mean);
            wrong type or value. ``problems`` lists every problem as ``FILE:LINE: message``.
    """
    if spec_path is None:
        spec_path = find_spec(Path(model_path))
        if spec_path is None:
            return None
    path = Path(spec_path)
    if not path.is_file():
        raise ConfigError(f"{path}: model spec not found", hint="check the --spec path")
    data, lines = read_toml(path)
    problems: list[str] = []
    tables: dict[str, dict[str, Any]] = {}
    for top, value in data.items():
        if top not in TABLES:
            problems.append(unknown_key(path, lines, top, list(TABLES)))
        elif not isinstance(value, dict):
            problems.append(f"{where(path, lines, top)}: '{top}' must be a table ([{top}])")
        else:
            tables[top] = value
    ds = _check(path, lines, "datasets", tables.get("datasets", {}), DATASET_KEYS, problems)
    quant = _check(path, lines, "quantization", tables.get("quantization", {}), QUANT_KEYS, problems)
    acc = _check(path, lines, "accuracy", tables.get("accuracy", {}), ACCURACY_KEYS, problems)
    values = _check_inputs(path, lines, tables.get(INPUTS_TABLE, {}), problems)
    pre = tables.get("preprocess", {})
    if pre:
        from workbench.core.precision.preprocess import parse_preprocess_section

        parse_preprocess_section(pre, path, lines, problems)
    for key, lo, hi in (("percentile", 0.0, 100.0), ("calibration_samples", 0, None), ("chunk_size", 1, None)):
        v = quant.get(key)
        if v is not None and (v < lo or (hi is not None and v > hi) or (key == "percentile" and v == 0)):
            rng = f"in (0, {hi:g}]" if key == "percentile" else f">= {lo}"
            problems.append(f"{where(path, lines, 'quantization.' + key)}: quantization.{key} must be {rng}, got {v}")
    if "min_cosine" in acc and not -1.0 <= acc["min_cosine"] <= 1.0:
        problems.append(f"{where(path, lines, 'accuracy.min_cosine')}: accuracy.min_cosine must be in [-1, 1]")
    if "max_top1_drop_pts" in acc and acc["max_top1_drop_pts"] < 0:
        problems.append(f"{where(path, lines, 'accuracy.max_top1_drop_pts')}: accuracy.max_top1_drop_pts must be >= 0")
    if problems:
        raise ConfigError(problems[0] if len(problems) == 1 else f"{path}: {len(problems)} problems", problems=problems)
    return ModelSpec(
        source=path,
        calib=ds.get("calib"),
        eval=ds.get("eval"),
        preprocess=dict(pre),
        input_values=values,
        quantization=quant,
        metric=acc.get("metric"),
        max_top1_drop_pts=float(acc["max_top1_drop_pts"]) if "max_top1_drop_pts" in acc else None,
        min_cosine=float(acc["min_cosine"]) if "min_cosine" in acc else None,
    )


# --- [inputs.<name>]: values of inputs that a benchmark must not make up -------------------------------------------
# An integer scalar input (silero-VAD's sample rate ``sr``) selects a branch of the model: random values would time a
# branch the model never runs in use. ``[inputs.sr] value = 16000`` gives random benchmark inputs the real value.
INPUTS_TABLE = "inputs"
INPUT_KEYS = ("value",)


def _check_inputs(path: Path, lines: dict[str, int], sec: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """``[inputs.<name>]`` tables -> {input name: value}; problems (FILE:LINE) appended for anything else."""
    out: dict[str, Any] = {}
    for name, table in sec.items():
        dotted = f"{INPUTS_TABLE}.{name}"
        if not isinstance(table, dict):
            problems.append(f"{where(path, lines, dotted)}: '{dotted}' must be a table ([{dotted}] with value = …)")
            continue
        for key, value in table.items():
            if key not in INPUT_KEYS:
                problems.append(unknown_key(path, lines, f"{dotted}.{key}", list(INPUT_KEYS)))
            elif not isinstance(value, (bool, int, float)):
                problems.append(
                    f"{where(path, lines, dotted + '.value')}: {dotted}.value must be a number or a boolean, got {value!r}"
                )
            else:
                out[name] = value
        if "value" not in table:
            problems.append(f"{where(path, lines, dotted)}: [{dotted}] needs value = …")
    return out


def check_input_values(spec: ModelSpec, inputs: Any) -> None:
    """Every ``[inputs.<name>]`` names an input of the model, with a value its dtype holds (an integer for an integer
    input, a boolean for a boolean one, a number for a float one).

    Raises:
        ConfigError: naming the spec file and line, the key, and the model's inputs or the input's dtype.
    """
    if not spec.input_values:
        return
    import numpy as np

    from workbench.core.precision._toml import key_lines

    try:
        lines = key_lines(Path(spec.source).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        lines = {}
    by_name = {i.name: i for i in inputs}
    problems: list[str] = []
    for name, value in spec.input_values.items():
        dotted = f"{INPUTS_TABLE}.{name}"
        spec_in = by_name.get(name)
        if spec_in is None:
            have = ", ".join(repr(n) for n in by_name)
            problems.append(
                f"{where(spec.source, lines, dotted)}: [{dotted}]: the model has no input {name!r} (inputs: {have})"
            )
            continue
        try:
            kind = np.dtype(spec_in.dtype).kind
        except TypeError:
            kind = "?"
        ok = {
            "b": isinstance(value, bool),
            "i": isinstance(value, int) and not isinstance(value, bool),
            "u": isinstance(value, int) and not isinstance(value, bool) and value >= 0,
            "f": isinstance(value, (int, float)) and not isinstance(value, bool),
        }.get(kind, False)
        if not ok:
            problems.append(
                f"{where(spec.source, lines, dotted + '.value')}: {dotted}.value = {value!r} does not fit input "
                f"{name!r} ({spec_in.dtype})"
            )
    if problems:
        raise ConfigError(
            problems[0] if len(problems) == 1 else f"{spec.source}: {len(problems)} problems", problems=problems
        )
