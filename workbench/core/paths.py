"""Every path the workbench reads or writes is built here, and only here.

XDG Base Directory spec (https://specifications.freedesktop.org/basedir-spec/latest/):
``$XDG_CACHE_HOME`` (default ``~/.cache``) holds the engine/artifact and calibration caches,
``$XDG_DATA_HOME`` (default ``~/.local/share``) the results database, ``$XDG_CONFIG_HOME``
(default ``~/.config``) user profiles. ``WORKBENCH_HOME`` overrides all three with one folder
(``cache/``, ``data/``, ``config/`` below it), which tests use to stay out of the user's home.

Bundled data (profiles, calibration and evaluation sets, the default model) ships inside the
package under ``workbench/data`` and is found with :mod:`importlib.resources`, so it works the same
from an editable checkout (where ``profiles/``, ``calib/`` and ``eval/`` at the repository root are
links to it) and from an installed wheel.
"""

from __future__ import annotations

import os
from pathlib import Path

APP = "edge-workbench"


def _xdg(var: str, default: str, sub: str) -> Path:
    home = os.environ.get("WORKBENCH_HOME")
    if home:
        return Path(home) / sub
    base = os.environ.get(var) or str(Path.home() / default)
    return Path(base) / APP


def cache_dir() -> Path:
    """Root of all caches (artifacts, calibration ranges)."""
    return _xdg("XDG_CACHE_HOME", ".cache", "cache")


def data_dir() -> Path:
    """Root of persistent data (the results database, job records)."""
    return _xdg("XDG_DATA_HOME", ".local/share", "data")


def config_dir() -> Path:
    """User configuration: extra device profiles in ``profiles/``."""
    return _xdg("XDG_CONFIG_HOME", ".config", "config")


def artifact_cache_dir() -> Path:
    """Built artifacts (optimized ONNX models, TensorRT plans) keyed by content hash."""
    return cache_dir() / "artifacts"


def calibration_cache_dir() -> Path:
    """Calibration ranges and quantized (QDQ) models keyed by model + dataset + method."""
    return cache_dir() / "calibration"


def results_db_path() -> Path:
    """The SQLite results database (WAL mode)."""
    return data_dir() / "results.sqlite3"


def jobs_dir() -> Path:
    """Records of detached jobs (so they survive a dropped SSH session)."""
    return data_dir() / "jobs"


def child_dir() -> Path:
    """The private folder (0700) our benchmark and build children start in (core/child_argv.py): a folder of ours,
    never the user's, so nothing there is ever imported or read by accident."""
    return data_dir() / "run"


def user_profiles_dir() -> Path:
    """Extra device profiles the user adds; a name here shadows a bundled profile."""
    return config_dir() / "profiles"


def bundled_data_dir() -> Path:
    """``workbench/data`` inside the installed package (checkout or wheel)."""
    from importlib.resources import files

    return Path(str(files("workbench") / "data"))


def bundled_profiles_dir() -> Path:
    return bundled_data_dir() / "profiles"


def bundled_calib_dir() -> Path:
    return bundled_data_dir() / "calib"


def bundled_eval_dir() -> Path:
    return bundled_data_dir() / "eval"


def bundled_models_dir() -> Path:
    return bundled_data_dir() / "models"


def default_model_path() -> Path:
    """The bundled default model: a small CNN trained on scikit-learn's digits (see models/README.md)."""
    return bundled_models_dir() / "digits_cnn.onnx"


def resolve_dataset(name_or_path: str, kind: str = "calib") -> Path:
    """Find a dataset folder given a path or a bare name.

    A path that exists is used as is. A bare name (``digits``) is looked up in ``./<kind>/<name>``,
    then in the bundled ``<kind>/<name>``. Returns the first candidate even when none exists, so the
    caller's error names the path the user most likely meant.
    """
    p = Path(name_or_path).expanduser()
    if p.exists() or os.sep in name_or_path:
        return p
    candidates = [Path.cwd() / kind / name_or_path, bundled_data_dir() / kind / name_or_path]
    for c in candidates:
        if c.is_dir():
            return c
    return p


def dataset_choices_path() -> Path:
    """The calibration / evaluation folders the user chose per model in the TUI (core/dataset_choice.py)."""
    return data_dir() / "dataset-choices.json"
