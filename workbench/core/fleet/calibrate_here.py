"""`fleet run --calibrate-here`: calibrate the INT8 model once, on this machine, for the boards' profile, check it
against FP32 here, and ship that model instead of calibrating on every board.

The INT8 model is the workflow's own (workflow.calibrate: the profile's quantizer and Q/DQ placement — TensorRT's
for a TensorRT profile, the CPU recipe of the profile's architecture for an onnxruntime one), so a board gets exactly
what its own calibration would have made from the same calibration set, with the same scales on every board. On a
board the model is already INT8 (explicit quantization, precision/explicit.py): benchmarked with its own scales, no
calibration there, and no accuracy verdict there (the FP32 model is not shipped) — the verdict is this machine's check,
reported with the fleet run.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from workbench.core.errors import UsageError
from workbench.core.progress import ProgressFn, no_progress


@dataclass(frozen=True)
class CalibratedHere:
    """The request each board runs (``request``: the INT8 model, no calibration or eval set) and the lines to report
    (``notes``: which profile and recipe, the check against FP32 here)."""

    request: Any  # core.job.JobRequest
    notes: tuple[str, ...]


def calibrate_here(request: Any, folder: Path, on_progress: ProgressFn = no_progress) -> CalibratedHere:
    """Calibrate ``request``'s model (``--calib``, ``--profile`` naming the boards' profile) into ``folder`` as
    ``<stem>.int8.onnx`` (with the model's spec beside it as ``<stem>.int8.workbench.toml``) and check it against
    FP32 on the eval set (else the calibration samples).

    Raises:
        UsageError: the request is not ``--precision int8``, or names no profile;
        CalibrationError / DatasetError / ModelError: as workflow.calibrate.
    """
    from workbench.core import workflow
    from workbench.core.results.summary import accuracy_line

    if request.precision != "int8":
        raise UsageError(
            f"--calibrate-here ships an INT8 model, but --precision is {request.precision}",
            hint="add --precision int8 (and --calib DIR)",
        )
    if not request.profile:
        raise UsageError(
            "--calibrate-here calibrates for one target: name the boards' profile with --profile NAME",
            hint="`workbench profiles` lists them; the Q/DQ placement and INT8 recipe follow the profile",
        )
    job = workflow.prepare(request, on_progress, backend_needed=False)
    cal, report = workflow.calibrate_and_check(job, on_progress)
    stem = job.model_path.stem
    out = folder / f"{stem}.int8.onnx"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cal.result.path, out)
    spec = job.model_path.with_name(f"{stem}.workbench.toml")
    if spec.is_file():  # its preprocessing and task travel with the INT8 model, as with the FP32 one
        shutil.copyfile(spec, folder / f"{stem}.int8.workbench.toml")
    notes = [f"INT8 calibrated here for profile {job.profile.name} on {cal.result.samples} sample(s) of "
             f"{request.calib or 'the spec calibration set'}; shipped as {out.name} (no calibration on the boards)"]  # fmt: skip
    if report is not None:
        notes.append("checked here against FP32: " + accuracy_line(report))
    else:
        notes.append("no accuracy check against FP32 here (no eval or calibration samples)")
    remote = replace(request, model=str(out), calib=None, eval=None, calib_samples=None, method=None)
    return CalibratedHere(remote, tuple(notes))
