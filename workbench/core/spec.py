"""The model spec: ``<model>.workbench.toml`` next to the model (or ``--spec FILE``).

Every table and key is optional; unknown ones are errors (``FILE:LINE`` with "did you mean")::

    [datasets]
    calib = "digits"          # a path relative to THIS FILE's folder (or absolute), or a bare name: the
    eval = "digits"           # folder <spec dir>/<name> or <spec dir>/calib/<name>, else ./calib/<name>, else
                              # the bundled calib/<name> (eval/ likewise); see spec_dataset

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
    keep_float_outputs = true # no Q/DQ on graph outputs (precision/float_keep.py)
    concat_range_ratio = 16.0 # Concats joining ranges > 16x apart stay float; 0 = off

    [accuracy]
    metric = "top1"           # "top1" | "cosine"
    max_top1_drop_pts = 0.5   # allowed top-1 drop, percentage points
    min_cosine = 0.99         # minimum mean cosine similarity to FP32

    [inputs.sr]               # one table per model input (quote odd names: [inputs."x/y"])
    value = 16000             # random benchmark inputs use this value for every element of the input

    [task]                    # task metrics in the accuracy check (core/task_metrics.py)
    kind = "detection"        # "classification" | "detection" | "sequence"
    output = "output0"        # the output it reads (default: the only [outputs.*] with a scores part, else
                              # the model's first output)
    score_threshold = 0.25    # detection: compare the top class where the FP32 top score is above this
    min_agreement_pct = 90.0  # detection / sequence: the verdict fails below this agreement (percent)

    [outputs.output0]         # one table per model output, both keys optional
    channel_axis = 1          # the axis slices cut (default: core/accuracy_slices.py)
    parts = { boxes = "0:4", scores = "4:" }   # named channel ranges "start:stop" (stop exclusive, may be
                                               # empty = to the end); detection needs a "scores" part

Lookup: ``<stem>.workbench.toml`` (``digits_cnn.workbench.toml``), then ``<name>.workbench.toml``
(``digits_cnn.onnx.workbench.toml``), in the model's folder.
"""

from __future__ import annotations

import os
import re
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
    "keep_float_outputs": (_BOOL, None),
    "concat_range_ratio": (_FLOAT, None),
    "placement": (_STR, ("auto", "onnxruntime", "tensorrt")),  # "auto": the profile's (quant_options)
    "quantizer": (_STR, ("onnxruntime", "modelopt")),
    "quant_format": (_STR, ("QDQ", "QOperator")),
}
ACCURACY_KEYS: dict[str, tuple[str, tuple[Any, ...] | None]] = {
    "metric": (_STR, ("top1", "cosine")),
    "max_top1_drop_pts": (_FLOAT, None),
    "min_cosine": (_FLOAT, None),
}
DATASET_KEYS: dict[str, tuple[str, tuple[Any, ...] | None]] = {"calib": (_STR, None), "eval": (_STR, None)}
TASK_KEYS: dict[str, tuple[str, tuple[Any, ...] | None]] = {
    "kind": (_STR, ("classification", "detection", "sequence")),
    "output": (_STR, None),
    "score_threshold": (_FLOAT, None),
    "min_agreement_pct": (_FLOAT, None),
}
OUTPUT_KEYS = ("channel_axis", "parts")
TABLES = ("datasets", "preprocess", "quantization", "accuracy", "inputs", "task", "outputs")
_PART = re.compile(r"^\s*(\d*)\s*:\s*(\d*)\s*$")


@dataclass(frozen=True)
class TaskSpec:
    """``[task]``: which task metric the accuracy check adds (core/task_metrics.py). ``output`` None = resolved
    against the model (:meth:`ModelSpec.task_output`)."""

    kind: str
    output: str | None = None
    score_threshold: float = 0.25
    min_agreement_pct: float = 90.0


@dataclass(frozen=True)
class OutputSpec:
    """``[outputs.<name>]``: the channel axis (None = the default rule) and named parts ``(name, start, stop)``,
    ``stop`` None = to the last channel."""

    channel_axis: int | None = None
    parts: tuple[tuple[str, int, int | None], ...] = ()

    def resolved_parts(self, channels: int) -> tuple[tuple[str, int, int], ...]:
        """Parts with ``stop`` filled in for an output of ``channels`` channels."""
        return tuple((n, a, channels if b is None else b) for n, a, b in self.parts)


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
    task: TaskSpec | None = None
    outputs: dict[str, OutputSpec] = field(default_factory=dict)

    def task_output(self, model_outputs: list[str]) -> str | None:
        """The output the task reads: ``[task] output``, else the only ``[outputs.*]`` with a scores part, else the
        model's first output (None without a task)."""
        if self.task is None:
            return None
        if self.task.output:
            return self.task.output
        scored = [n for n, o in self.outputs.items() if any(p[0] == "scores" for p in o.parts)]
        if len(scored) == 1:
            return scored[0]
        return model_outputs[0] if model_outputs else None

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
        # placement "auto" in a spec keeps what the profile resolved it to (TensorRT profiles: "tensorrt")
        merged.update({k: v for k, v in self.quantization.items() if not (k == "placement" and v == "auto")})
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
            "task": None
            if self.task is None
            else {
                "kind": self.task.kind,
                "output": self.task.output,
                "score_threshold": self.task.score_threshold,
                "min_agreement_pct": self.task.min_agreement_pct,
            },
            "outputs": {
                n: {
                    "channel_axis": o.channel_axis,
                    "parts": {p: f"{a}:{'' if b is None else b}" for p, a, b in o.parts},
                }
                for n, o in self.outputs.items()
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


def spec_dataset(value: str | None, spec_dir: Path, kind: str) -> str | None:
    """A ``[datasets]`` value as the workflow should use it: paths are relative to the spec file's folder.

    An absolute path (or ``~/…``) is used as is. A relative path (``../data/calib``, ``./mine``: anything with a
    path separator or a leading dot) is joined to ``spec_dir`` — never to the current directory — and returned
    absolute even when it does not exist, so the error names the folder meant. A bare name (``digits``) is the
    folder ``spec_dir/<name>`` or ``spec_dir/<kind>/<name>`` when one exists; otherwise it stays a name, looked
    up later in ``./<kind>/`` then the bundled ``<kind>/`` (``paths.resolve_dataset``).
    """
    if value is None:
        return None
    p = Path(value).expanduser()
    if p.is_absolute():
        return str(p)
    base = Path(spec_dir).resolve()
    if "/" in value or os.sep in value or value.startswith("."):
        return os.path.normpath(base / p)
    for cand in (base / value, base / kind / value):
        if cand.is_dir():
            return str(cand)
    return value


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
    ratio = quant.get("concat_range_ratio")
    if ratio is not None and not (ratio == 0 or ratio > 1):
        problems.append(
            f"{where(path, lines, 'quantization.concat_range_ratio')}: quantization.concat_range_ratio must be 0 "
            f"(off) or > 1 (16: a Concat joining ranges more than 16x apart stays float), got {ratio}"
        )
    if "min_cosine" in acc and not -1.0 <= acc["min_cosine"] <= 1.0:
        problems.append(f"{where(path, lines, 'accuracy.min_cosine')}: accuracy.min_cosine must be in [-1, 1]")
    if "max_top1_drop_pts" in acc and acc["max_top1_drop_pts"] < 0:
        problems.append(f"{where(path, lines, 'accuracy.max_top1_drop_pts')}: accuracy.max_top1_drop_pts must be >= 0")
    task = _task(path, lines, tables.get("task"), problems)
    outputs = _outputs(path, lines, tables.get("outputs", {}), problems)
    if task is not None and task.kind == "detection":
        _check_detection(path, lines, task, outputs, problems)
    if problems:
        raise ConfigError(
            problems[0] if len(problems) == 1 else f"{path}: {len(problems)} problems",
            problems=problems,
            hint="fix each listed line of the model spec, or pass another one with --spec",
        )
    return ModelSpec(
        source=path,
        calib=spec_dataset(ds.get("calib"), path.parent, "calib"),
        eval=spec_dataset(ds.get("eval"), path.parent, "eval"),
        preprocess=dict(pre),
        input_values=values,
        quantization=quant,
        metric=acc.get("metric"),
        max_top1_drop_pts=float(acc["max_top1_drop_pts"]) if "max_top1_drop_pts" in acc else None,
        min_cosine=float(acc["min_cosine"]) if "min_cosine" in acc else None,
        task=task,
        outputs=outputs,
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
            problems[0] if len(problems) == 1 else f"{spec.source}: {len(problems)} problems",
            problems=problems,
            hint="name only inputs the model has, with values their dtype holds (`workbench inspect MODEL` lists "
            "inputs and dtypes)",
        )


def _task(path: Path, lines: dict[str, int], sec: dict[str, Any] | None, problems: list[str]) -> TaskSpec | None:
    if sec is None:
        return None
    vals = _check(path, lines, "task", sec, TASK_KEYS, problems)
    if "kind" not in vals:
        if "kind" not in sec:
            problems.append(
                f'{where(path, lines, "task")}: [task] needs kind = "classification", "detection" or "sequence"'
            )
        return None
    thr = vals.get("score_threshold", 0.25)
    pct = vals.get("min_agreement_pct", 90.0)
    if "min_agreement_pct" in vals and not 0.0 <= pct <= 100.0:
        problems.append(f"{where(path, lines, 'task.min_agreement_pct')}: task.min_agreement_pct must be in [0, 100]")
    if "score_threshold" in vals and vals["kind"] != "detection":
        problems.append(
            f'{where(path, lines, "task.score_threshold")}: task.score_threshold is for kind = "detection" only'
        )
    return TaskSpec(vals["kind"], vals.get("output"), float(thr), float(pct))


def _parse_part(text: str) -> tuple[int, int | None] | None:
    m = _PART.match(text)
    if m is None:
        return None
    start = int(m.group(1)) if m.group(1) else 0
    stop = int(m.group(2)) if m.group(2) else None
    if stop is not None and stop <= start:
        return None
    return start, stop


def _outputs(path: Path, lines: dict[str, int], sec: Any, problems: list[str]) -> dict[str, OutputSpec]:
    out: dict[str, OutputSpec] = {}
    for name, table in sec.items():
        dotted = f"outputs.{name}"
        if not isinstance(table, dict):
            problems.append(f"{where(path, lines, dotted)}: '{dotted}' must be a table ([outputs.{name}])")
            continue
        axis: int | None = None
        parts: list[tuple[str, int, int | None]] = []
        for key, value in table.items():
            k = f"{dotted}.{key}"
            if key not in OUTPUT_KEYS:
                problems.append(unknown_key(path, lines, k, list(OUTPUT_KEYS)))
            elif key == "channel_axis":
                if not isinstance(value, int) or isinstance(value, bool) or value == 0:
                    problems.append(
                        f"{where(path, lines, k)}: {k} must be a non-zero integer (an axis after the batch axis 0; "
                        f"negative counts from the end), got {value!r}"
                    )
                else:
                    axis = value
            elif not isinstance(value, dict) or not value:
                problems.append(
                    f"{where(path, lines, k)}: {k} must be a table of named channel ranges, e.g. "
                    f'parts = {{ boxes = "0:4", scores = "4:" }}'
                )
            else:
                for pname, rng in value.items():
                    parsed = _parse_part(rng) if isinstance(rng, str) else None
                    if parsed is None:
                        problems.append(
                            f'{where(path, lines, k)}: {k}.{pname} must be "start:stop" (channels, stop exclusive and '
                            f'greater than start, either may be empty: "4:" = from 4 to the end), got {rng!r}'
                        )
                    else:
                        parts.append((str(pname), *parsed))
        parts.sort(key=lambda p: p[1])
        for (n1, _a1, b1), (n2, a2, _b2) in zip(parts, parts[1:], strict=False):
            if b1 is None or b1 > a2:
                problems.append(f"{where(path, lines, dotted + '.parts')}: {dotted}.parts: '{n1}' overlaps '{n2}'")
        out[str(name)] = OutputSpec(axis, tuple(parts))
    return out


def _check_detection(
    path: Path, lines: dict[str, int], task: TaskSpec, outputs: dict[str, OutputSpec], problems: list[str]
) -> None:
    example = '[outputs.<name>] parts = { boxes = "0:4", scores = "4:" }'
    scored = [n for n, o in outputs.items() if any(p[0] == "scores" for p in o.parts)]
    if task.output is not None:
        spec = outputs.get(task.output)
        if spec is None or not any(p[0] == "scores" for p in spec.parts):
            problems.append(
                f'{where(path, lines, "task.kind")}: task.kind = "detection" reads the score channels of output '
                f'\'{task.output}\': add [outputs.{task.output}] parts = {{ boxes = "0:4", scores = "4:" }}'
            )
    elif len(scored) != 1:
        what = "no [outputs.*] table has" if not scored else f"{len(scored)} outputs have"
        problems.append(
            f"{where(path, lines, 'task.kind')}: task.kind = \"detection\" needs one output with a 'scores' part "
            f"({what} one): add {example}, or name it with task.output"
        )
