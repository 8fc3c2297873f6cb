"""Messages workers post to the app. Workers never touch widgets; handlers on the UI thread do."""

from __future__ import annotations

from typing import Any

from textual.message import Message


class StepMsg(Message):
    """A pipeline ``Step`` from a worker thread. Progress ticks of one step replace a stale queued copy."""

    def __init__(self, job: str, step: Any) -> None:
        super().__init__()
        self.job = job
        self.step = step

    def can_replace(self, message: Message) -> bool:
        return (
            isinstance(message, StepMsg)
            and message.job == self.job
            and message.step.step == self.step.step
            and message.step.total is not None
            and self.step.total is not None
        )


class SweepRowMsg(Message):
    """One finished mode of a running power-mode sweep (a power.sweep.SweepRow), for the table as it fills."""

    def __init__(self, row: Any) -> None:
        super().__init__()
        self.job = "sweep"
        self.row = row


class JobDone(Message):
    """A job finished: ``job`` is prepare|dataset|calibrate|build|bench|sweep|export; ``result`` its value."""

    def __init__(self, job: str, result: Any) -> None:
        super().__init__()
        self.job = job
        self.result = result


class JobFailed(Message):
    """A job ended with a WorkbenchError (or an unexpected exception, shown as one line)."""

    def __init__(self, job: str, message: str, hint: str = "", cancelled: bool = False) -> None:
        super().__init__()
        self.job = job
        self.message = message
        self.hint = hint
        self.cancelled = cancelled


class StateChanged(Message):
    """Broadcast to every workbench screen after the shared state changed (model, profile, precision, ...)."""

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what
