"""The tuned profile: a TOML file that ``extends`` the device profile with the recommended settings, which
``build``, ``bench`` and ``run`` take with ``--profile PATH`` (profiles/resolve.py: a path as well as a name).

What goes in: the INT8 recipe keys the profile schema knows (``[quantization]``: activation/weight types and
symmetry, per-channel, reduce_range, method, nodes kept FP32 …), the intra-op threads (``[build]``), the batch
(``[benchmark]``), the power mode (``[power] nvpmodel_mode``) and the GPU options the schema has
(``[build] builder_optimization_level``, ``[benchmark] cuda_graph``). The precision itself is a command-line choice
(``--precision``), written in the file's description and comment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench.core.tune.types import TuneRecommendation


def tuned_settings(rec: TuneRecommendation) -> dict[str, dict[str, Any]]:
    """{table: {key: value}} the tuned profile sets for ``rec`` (keys the profile schema has only)."""
    from workbench.core.profiles.schema import QuantSection

    c = rec.candidate
    out: dict[str, dict[str, Any]] = {}
    if c.precision == "int8":
        q = {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in c.recipe.items()}
        out["quantization"] = {k: v for k, v in sorted(q.items()) if k in QuantSection.model_fields}
        # The keys as written: a CPU profile's cpu_recipe = "auto" would otherwise replace them with the recipe
        # chosen for the instruction set (core/job.py quant_settings).
        out["quantization"]["cpu_recipe"] = "profile"
    build: dict[str, Any] = {}
    if c.threads is not None:
        build["intra_op_threads"] = int(c.threads)
    if "builder_optimization_level" in c.gpu:
        build["builder_optimization_level"] = int(c.gpu["builder_optimization_level"])
    if build:
        out["build"] = build
    bench: dict[str, Any] = {}
    if c.batch != 1:
        bench["batch"] = int(c.batch)
    if "cuda_graph" in c.gpu:
        bench["cuda_graph"] = bool(c.gpu["cuda_graph"])
    if bench:
        out["benchmark"] = bench
    if c.power_mode:
        out["power"] = {"nvpmodel_mode": c.power_mode}
    return out


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a TOML basic string is a JSON string for the characters we write
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _extends_ref(base: Any) -> str:
    """How the tuned profile names its parent: by name when the parent is a bundled profile (the file then keeps
    working after the checkout moves or the package is reinstalled elsewhere), else by its absolute path."""
    from workbench.core import paths

    src = Path(base.source_path).resolve()
    if src.parent == paths.bundled_profiles_dir().resolve() and src.stem == base.name:
        return base.name
    return str(src)


def render_tuned_profile(base: Any, rec: TuneRecommendation, tune_id: str) -> str:
    """The TOML text of the tuned profile for ``rec`` on the profile ``base`` (extends it by name when bundled, else by path)."""
    c = rec.candidate
    lines = [
        f"# Written by `workbench tune` ({tune_id}): {c.label()}.",
        f"# Use it with: workbench bench MODEL --precision {c.precision} --profile THIS_FILE",
    ]
    lines += [f"# {r}" for r in rec.reasons[:4]]
    lines += [
        f"description = {_toml_value(f'{base.name} tuned: {c.label()} (--precision {c.precision})')}",
        f"extends = {_toml_value(_extends_ref(base))}",
    ]
    for table, values in tuned_settings(rec).items():
        lines += ["", f"[{table}]"] + [f"{k} = {_toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def write_tuned_profile(base: Any, rec: TuneRecommendation, tune_id: str, path: str | None = None) -> Path:
    """Write the tuned profile atomically to ``path`` (default: ``<user profiles>/<profile>-tuned-<id>.toml``)
    and check it loads. Returns the path.

    Raises:
        StorageError (cannot write), ConfigError (the written profile does not validate: a bug, named).
    """
    from workbench.core import paths
    from workbench.core.fsutil import resolve_output, write_text_atomic
    from workbench.core.profiles import load_profile

    target = Path(path) if path else paths.user_profiles_dir() / f"{base.name}-tuned-{tune_id[-12:]}.toml"
    target = resolve_output(target.expanduser())
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(target, render_tuned_profile(base, rec, tune_id))
    load_profile(str(target))
    return target
