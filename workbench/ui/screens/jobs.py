"""j. Jobs: this user's detached jobs (core/jobs.py), running and finished, newest first — the ones this TUI started,
other TUIs' and `workbench run/bench/...` from a shell alike. Enter re-attaches: a running job is followed on its
screen (live view, progress), a finished one shows its outcome (stored result, calibration verdict, artifact).

Non-modal: every other key works here; the list refreshes every 2 s while the screen is shown (read in a worker).
"""

from __future__ import annotations

import shlex
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from workbench.core.textsafe import field
from workbench.ui.messages import Change, JobsListed
from workbench.ui.screens.base import WorkbenchScreen

STATE_STYLE = {"running": "bold yellow", "finished": "green", "failed": "red", "died": "red", "cancelled": "dim"}


COMMAND_WIDTH = 24  # characters of the command shown; `workbench jobs show ID` has the whole line


def _cut(s: str, width: int) -> str:
    return s if len(s) <= width else s[: width - 1] + "…"


class JobsScreen(WorkbenchScreen):
    MODE = "jobs"
    BINDINGS = [
        Binding("enter", "attach", "Re-attach", id="jobs.attach", tooltip="follow the job or show its outcome"),
        Binding("r", "refresh_jobs", "Refresh", id="jobs.refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._jobs: dict[str, Any] = {}
        self._timer: Any = None

    def compose_body(self) -> ComposeResult:
        with Vertical(id="body"):
            yield Static(id="jobs-head")
            yield DataTable(id="jobs-table", cursor_type="row", zebra_stripes=True)
            yield Static(id="jobs-note")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        # At 80 columns the outcome (p50/p99, the verdict, the error) must stay on screen: it comes right after the
        # state, the command is cut to COMMAND_WIDTH, and the job id (needed only to type `workbench jobs ...`) last.
        table.add_column("state", key="state")
        table.add_column("outcome", key="outcome")
        table.add_column("command", key="command")
        table.add_column("job", key="job")
        super().on_mount()
        self.wb.list_jobs()
        self._timer = self.set_interval(2.0, self.wb.list_jobs)

    def on_screen_suspend(self) -> None:
        if self._timer is not None:
            self._timer.pause()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        if self._timer is not None:
            self._timer.resume()
        self.wb.list_jobs()

    def refresh_view(self, what: Change) -> None:
        t = Text()
        t.append("Jobs", style="bold")
        t.append(" run detached: they outlive the terminal and the SSH link.\n", style="dim")
        t.append("Enter re-attaches (finished: shows its result) · x cancels the followed job", style="dim")
        self.query_one("#jobs-head", Static).update(t)

    def on_jobs_listed(self, msg: JobsListed) -> None:
        table = self.query_one(DataTable)
        keep = table.cursor_row
        table.clear()
        self._jobs = {}
        for job, state, outcome in msg.rows:
            self._jobs[job.id] = job
            table.add_row(
                Text(state, style=STATE_STYLE.get(state, "")),
                # As Text: a str cell is parsed as markup, and the command holds the user's paths.
                Text(field(outcome)),
                Text(_cut(field(shlex.join(job.argv)), COMMAND_WIDTH)),
                Text(field(job.id)),
                key=job.id,
            )
        self.query_one("#jobs-note", Static).update(
            "" if msg.rows else Text("No jobs yet: s on Calibrate, Build or Benchmark starts one.")
        )
        if msg.rows and keep is not None and 0 <= keep < table.row_count:
            table.move_cursor(row=keep)

    def selected_job(self) -> Any:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        return self._jobs.get(str(key))

    def action_attach(self) -> None:
        job = self.selected_job()
        if job is None:
            self.notify("no job selected", timeout=3)
            return
        self.wb.attach_job(job)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_attach()

    def action_refresh_jobs(self) -> None:
        self.wb.list_jobs()
