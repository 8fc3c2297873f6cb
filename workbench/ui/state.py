"""What the app remembers between screens: the request, the prepared job and each step's outcome, typed.

Plain data, no Textual. The request is held once (``request``); the prepared job is derived from it
(:attr:`AppState.job`), so the two can never disagree. Changing the model, profile, precision or calibration
inputs drops the outcomes that depended on them (:meth:`AppState.invalidate`), so a screen never shows a verdict
for other inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from workbench.core.job import JobRequest, PreparedJob
from workbench.core.results.result import BenchmarkResult

# Request fields that change what prepare() resolves (model, profile, spec, export, backend): changing one of them
# needs a new preparation; every other field only changes how the next step runs.
PREPARE_FIELDS = frozenset(
    {"model", "profile", "spec", "trust_model", "input_shapes", "export_opset", "export_dynamic_batch", "backend"}
)


@dataclass
class AppState:
    request: JobRequest
    prepared: PreparedJob | None = None  # the last preparation (its request may be older: see ``job``)
    context_error: str | None = None
    detection: Any = None  # profiles.match.Detection
    choices: list = field(default_factory=list)  # core.live.PrecisionChoice
    preflight: Any = None  # models.preflight.PreflightReport for TensorRT profiles
    preflight_note: str | None = None
    calibration: Any = None  # core.workflow.Calibration
    accuracy: Any = None  # core.accuracy.AccuracyReport (the precision it belongs to in accuracy_precision)
    accuracy_precision: str | None = None
    built: Any = None  # core.workflow.Built
    last_result: BenchmarkResult | None = None  # latest benchmark result of this session
    previous_result: BenchmarkResult | None = None  # the one before it ("compare with previous run")
    sweep: Any = None  # power.sweep.SweepResult of the latest power-mode sweep
    sweep_recorded: bool = False  # sweep was injected (recorded), not measured in this session
    tune: Any = None  # tune.types.TuneResult of the latest tune (Tune screen)
    tune_recorded: bool = False  # tune was injected (recorded), not measured in this session
    fleet_inventory: str | None = None  # the Ansible inventory the Fleet screen runs on (as the user typed it)
    fleet: Any = None  # fleet.types.FleetRun of the latest `fleet run` (Fleet screen)
    fleet_recorded: bool = False  # fleet was injected (recorded), not run in this session
    fleet_facts: tuple = ()  # fleet.types.HostFacts of the latest `fleet check`, inventory order
    fleet_facts_recorded: bool = False  # fleet_facts were injected (recorded), not checked in this session
    job_id: str | None = None  # the detached job followed or last shown (None after this TUI's settings change)
    job_settings: Any = None  # core.jobs.JobSettings of that job: headers show these, not the request's

    @property
    def job(self) -> PreparedJob | None:
        """The prepared job with the current request (None until a preparation succeeded)."""
        if self.prepared is None:
            return None
        if self.prepared.request is self.request:
            return self.prepared
        return replace(self.prepared, request=self.request)

    @property
    def precision(self) -> str:
        """The precision chosen on the Precision screen (held in the request, like every other setting)."""
        return self.request.precision

    @precision.setter
    def precision(self, value: str) -> None:
        self.request = replace(self.request, precision=value)

    @property
    def recorded_result(self) -> bool:
        """The result on show was injected (recorded), not measured in this session."""
        return self.last_result is not None and self.last_result.provenance.kind == "recorded"

    def update_request(self, **changes: Any) -> bool:
        """Change request fields; True when the change needs a new preparation."""
        self.request = replace(self.request, **changes)
        return bool(PREPARE_FIELDS & changes.keys())

    def invalidate(self, *, keep_calibration: bool = False) -> None:
        """Drop outcomes derived from the current inputs."""
        if not keep_calibration:
            self.calibration = None
            self.accuracy = None
            self.accuracy_precision = None
        self.built = None

    @property
    def model_title(self) -> str:
        """ "digits CNN — bundled default" or the model file's name."""
        job = self.job
        if job is None:
            model = self.request.model
            return str(model) if model else "digits CNN — bundled default"
        return job.title
