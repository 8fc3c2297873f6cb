"""The calibration and evaluation folders a user chose for a model, remembered between sessions.

One JSON file, ``paths.dataset_choices_path()`` (``<data dir>/dataset-choices.json``; under ``WORKBENCH_HOME`` when
it is set), keyed by the model's SHA-256 so a moved model keeps its choice and a changed file does not inherit one::

    {"version": 1, "models": {"<sha256>": {"model": "/path/net.onnx", "calib": "/data/calib", "eval": "/data/eval"}}}

Written atomically (temp file + rename: a crash leaves the old file or the new one). A missing or unreadable file is
an empty memory, never an error: it only saves typing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core import paths

KINDS = ("calib", "eval")
VERSION = 1


@dataclass(frozen=True)
class DatasetChoice:
    """Absolute folder paths chosen for one model; None = not chosen."""

    calib: str | None = None
    eval: str | None = None


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    models = doc.get("models") if isinstance(doc, dict) else None
    return models if isinstance(models, dict) else {}


def remembered(model_sha256: str, path: Path | None = None) -> DatasetChoice:
    """The folders remembered for the model with this SHA-256 (folders that no longer exist are left out)."""
    entry = _read(path or paths.dataset_choices_path()).get(model_sha256)
    if not isinstance(entry, dict):
        return DatasetChoice()
    vals = {k: entry.get(k) for k in KINDS}
    return DatasetChoice(**{k: v if isinstance(v, str) and Path(v).is_dir() else None for k, v in vals.items()})


def remember(
    model_sha256: str, model_path: str | Path, kind: str, folder: str | Path, path: Path | None = None
) -> Path:
    """Remember ``folder`` (made absolute) as the ``kind`` ("calib" / "eval") set of the model; returns the file.

    Raises:
        ValueError: an unknown ``kind``. StorageError: the file cannot be written (names it and why).
    """
    from workbench.core.fsutil import write_text_atomic

    if kind not in KINDS:
        raise ValueError(f"unknown dataset kind {kind!r}; expected one of {KINDS}")
    target = path or paths.dataset_choices_path()
    models = _read(target)
    entry = models.get(model_sha256)
    entry = dict(entry) if isinstance(entry, dict) else {}
    entry["model"] = str(model_path)
    entry[kind] = str(Path(folder).expanduser().resolve())
    models[model_sha256] = entry
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from workbench.core.errors import StorageError

        raise StorageError(
            f"cannot create {target.parent}: {exc.strerror or exc}",
            hint="make that folder writable, or point WORKBENCH_HOME at a writable folder",
        ) from None
    write_text_atomic(target, json.dumps({"version": VERSION, "models": models}, indent=2, sort_keys=True) + "\n")
    return target
