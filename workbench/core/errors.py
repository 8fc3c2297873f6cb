"""The error tree every face turns into one clear message and a non-zero exit code.

Each error carries the culprit (a file, key or line) in its message and, where we know it, a ``hint``
telling the user what to do. Faces print ``str(err)`` and ``err.hint``; they never print a traceback
for a ``WorkbenchError``.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base of every expected failure. ``exit_code`` is the CLI exit status (see cli/exitcodes.py)."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class UsageError(WorkbenchError):
    """Bad command-line arguments (exit 2)."""

    exit_code = 2


class ConfigError(WorkbenchError):
    """A profile, model spec or preprocess TOML is invalid (exit 3).

    ``problems`` lists every problem found (``FILE:LINE: message``), not only the first.
    """

    exit_code = 3

    def __init__(self, message: str, *, problems: list[str] | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.problems = list(problems or [])


class ModelError(WorkbenchError):
    """A model file is missing, corrupt, truncated, of an unknown type or refused (exit 4)."""

    exit_code = 4


class DatasetError(WorkbenchError):
    """A calibration or evaluation dataset is empty, unreadable or does not match the model (exit 5)."""

    exit_code = 5


class CalibrationError(WorkbenchError):
    """Calibration or quantization failed, or a calibration cache was refused (exit 6)."""

    exit_code = 6


class BackendUnavailable(WorkbenchError):
    """The backend a model or profile needs (TensorRT, CUDA, torch) is not installed here (exit 7)."""

    exit_code = 7


class BuildError(WorkbenchError):
    """Building an artifact (optimized model, engine) failed (exit 8)."""

    exit_code = 8


class BenchmarkError(WorkbenchError):
    """The benchmark child failed or produced no timed iteration (exit 9)."""

    exit_code = 9


class RunnerStateError(BenchmarkError):
    """A runner was used outside its activate/deactivate window, or activated twice (exit 9).

    Always a bug in the caller, never in the model: use ``with runner:`` (see backends/base.py).
    """


class ResultsError(WorkbenchError):
    """The results database is locked, corrupt or the result id is unknown (exit 10)."""

    exit_code = 10


class StorageError(WorkbenchError):
    """Writing an output failed: read-only directory, disk full, file too large (exit 11)."""

    exit_code = 11


class TelemetryError(WorkbenchError):
    """A telemetry source failed in a way the caller must know about (exit 12)."""

    exit_code = 12


class PowerError(WorkbenchError):
    """nvpmodel / jetson_clocks could not be queried or set (exit 13)."""

    exit_code = 13


class Cancelled(WorkbenchError):
    """The user cancelled a long job (exit 130, as for SIGINT)."""

    exit_code = 130
