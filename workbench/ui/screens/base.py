"""What every workbench screen shares: nav bar on top, a status line and the footer at the bottom, typed access to
the app (``self.wb``), and one hook: :meth:`WorkbenchScreen.refresh_view` when the app state changed. Screens react
to the job messages they show by defining Textual handlers (``on_bench_finished`` …; messages.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from rich.text import Text
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Static

from workbench.core.textsafe import field
from workbench.ui.api import WorkbenchApi
from workbench.ui.messages import Change, StateChanged
from workbench.ui.widgets.navbar import NavBar


class StatusLine(Static):
    DEFAULT_CSS = """
    StatusLine { height: 1; background: $boost; }
    """

    def refresh_status(self) -> None:
        wb = cast(WorkbenchApi, self.app)
        st = wb.state
        job = st.job
        t = Text(no_wrap=True, overflow="ellipsis")
        # What is running comes first, so a narrow terminal cuts the model's name, never the job or its key.
        if wb.busy:
            t.append(f"running: {wb.busy} (x cancels)", style="bold yellow")
            t.append(" · ")
        elif st.context_error:
            t.append("model/profile error", style="bold red")
            t.append(" · ")
        prof = job.profile.name if job is not None else (st.request.profile or "auto")
        t.append(f"{st.precision.upper()} · {field(prof)} · ")
        t.append(field(st.model_title), style="bold")  # the file's name: the user's, escaped
        self.update(t)


class WorkbenchScreen(Screen):
    MODE = ""
    TITLE_TEXT = ""

    @property
    def wb(self) -> WorkbenchApi:
        """The app, typed as what screens may use of it (api.py)."""
        return cast(WorkbenchApi, self.app)

    def compose(self) -> ComposeResult:
        yield NavBar(self.MODE)
        yield from self.compose_body()
        yield StatusLine(id="status")
        yield Footer(compact=True, show_command_palette=False)  # ^p is listed in help (?)

    def compose_body(self) -> ComposeResult:
        yield from ()

    def prompt_setting(
        self,
        title: str,
        value: str,
        apply: Callable[[str], None],
        *,
        busy: str | None,
        invalid: str,
        after: Callable[[], None] | None = None,
    ) -> None:
        """Ask for one setting in a text dialog and ``apply`` the answer (``apply`` raises ValueError for a bad one:
        ``invalid`` is shown, followed by the text). ``busy``: refuse with this warning (a job of the screen runs).
        ``after`` runs once a dialog is answered, whatever the answer was."""
        from workbench.ui.screens.dialogs import TextPromptScreen

        if busy is not None:
            self.notify(busy, severity="warning")
            return

        def done(text: str | None) -> None:
            if text is None:
                return
            try:
                apply(text)
            except ValueError:
                self.notify(f"{invalid}: {text!r}", severity="error")
            if after is not None:
                after()

        self.wb.push_screen(TextPromptScreen(title, value=value), done)

    NARROW_BELOW = 100  # columns: under this, side panels stack below the main one (class "narrow", app.tcss)

    def on_resize(self) -> None:
        self.set_class(self.size.width < self.NARROW_BELOW, "narrow")

    def on_mount(self) -> None:
        self.set_class(self.size.width < self.NARROW_BELOW, "narrow")
        self.wb.register_screen(self)
        self.query_one(StatusLine).refresh_status()
        self.refresh_view(Change.MOUNT)

    def on_screen_resume(self) -> None:
        self.query_one(StatusLine).refresh_status()

    def on_state_changed(self, msg: StateChanged) -> None:
        self.query_one(StatusLine).refresh_status()
        self.refresh_view(msg.what)

    def refresh_view(self, what: Change) -> None:
        """Redraw what depends on the app state (called on mount and on every state change)."""
        return None
