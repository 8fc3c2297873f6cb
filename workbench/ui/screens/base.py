"""What every workbench screen shares: nav bar on top, a status line and the footer at the bottom, and two
hooks the app calls on the UI thread — ``job_event`` (step / done / failed of any job) and ``state_changed``."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Static

from workbench.ui.widgets.navbar import NavBar


class StatusLine(Static):
    DEFAULT_CSS = """
    StatusLine { height: 1; background: $boost; }
    """

    def refresh_status(self) -> None:
        app: Any = self.app
        st = app.state
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(st.model_title, style="bold")
        prof = st.ctx.profile.name if st.ctx is not None else (st.options.profile or "auto")
        t.append(f" · {prof} · {st.precision.upper()}")
        if app.busy:
            t.append(f" · running: {app.busy} (x cancels)", style="bold yellow")
        elif st.context_error:
            t.append(" · model/profile error", style="bold red")
        self.update(t)


class WorkbenchScreen(Screen):
    MODE = ""
    TITLE_TEXT = ""

    def compose(self) -> ComposeResult:
        yield NavBar(self.MODE)
        yield from self.compose_body()
        yield StatusLine(id="status")
        yield Footer(compact=True)

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        app: Any = self.app
        app.register_screen(self)
        self.query_one(StatusLine).refresh_status()
        self.state_changed("mount")

    def on_screen_resume(self) -> None:
        self.query_one(StatusLine).refresh_status()

    def notify_status(self) -> None:
        self.query_one(StatusLine).refresh_status()

    # hooks
    def job_event(self, msg: Any) -> None:
        return None

    def state_changed(self, what: str) -> None:
        return None
