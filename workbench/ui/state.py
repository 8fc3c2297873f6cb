"""What the app remembers between screens: the options, the prepared context and each step's outcome.

Plain data, no Textual. Changing the model, profile, precision or calibration inputs drops the outcomes that
depended on them (:meth:`AppState.invalidate`), so a screen never shows a verdict for other inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class AppState:
    options: Any  # pipeline.Options
    ctx: Any = None  # pipeline.Context once prepared
    context_error: str | None = None
    detection: Any = None  # profiles.match.Detection
    precision: str = "fp32"
    choices: list = field(default_factory=list)
    preflight: Any = None  # models.preflight.PreflightReport for TensorRT profiles
    preflight_note: str | None = None  # live.PrecisionChoice for the prepared context
    calibration: Any = None  # QuantResult
    calib_dataset: Any = None  # Dataset used for calibration
    accuracy: Any = None  # AccuracyReport (precision it belongs to in accuracy_precision)
    accuracy_precision: str | None = None
    artifact: Any = None  # backends.base.Artifact
    build_extra: dict = field(default_factory=dict)
    last_entry: dict | None = None  # latest benchmark result entry of this session
    previous_entry: dict | None = None  # the one before it ("compare with previous run")
    recorded_entry: bool = False  # last_entry was injected (recorded), not measured in this session
    sweep: Any = None  # power.sweep.SweepResult of the latest power-mode sweep
    sweep_recorded: bool = False  # sweep was injected (recorded), not measured in this session

    def invalidate(self, *, keep_calibration: bool = False) -> None:
        """Drop outcomes derived from the current inputs."""
        if not keep_calibration:
            self.calibration = None
            self.calib_dataset = None
            self.accuracy = None
            self.accuracy_precision = None
        self.artifact = None
        self.build_extra = {}

    @property
    def model_title(self) -> str:
        """ "digits CNN — bundled default" or the model file's name."""
        ctx = self.ctx
        if ctx is None:
            model = self.options.model
            return str(model) if model else "digits CNN — bundled default"
        if ctx.bundled_default:
            return "digits CNN — bundled default"
        return str(self.options.model or ctx.model_path.name)
