"""The Help screen (? / F1): every key of the app and of the screen it was opened from, with binding ids."""

from __future__ import annotations

from typing import Any, cast

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from workbench.ui.api import WorkbenchApi
from workbench.ui.keymap import key_label, keymap_path


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,f1", "close", "Close", id="help.close")]

    def __init__(self, under: Any = None) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help"):
            yield Label("Help", classes="dialog-title", id="help-title")
            yield Static(self._table(), id="help-keys")
            yield Static(
                Text(
                    f'Remap keys by id in {keymap_path()} ([keys] table, e.g. "screen.bench" = "b"). '
                    "ctrl+p opens the command palette. Esc closes this help."
                ),
                id="help-foot",
            )

    def _table(self) -> Table:
        app = self.app
        keys = cast(WorkbenchApi, app).keys
        under = self.under
        t = Table(box=None, show_header=True, pad_edge=False, expand=True)
        t.add_column("Key", no_wrap=True, style="bold")
        t.add_column("Action")
        t.add_column("Id", style="dim", no_wrap=True)
        screen_bindings = getattr(type(under), "BINDINGS", []) if under is not None else []
        seen = set()
        for b in [*type(app).BINDINGS, *screen_bindings]:
            if not isinstance(b, Binding) or not b.id or b.id in seen:
                continue
            seen.add(b.id)
            key = keys.get(b.id, b.key)
            t.add_row(", ".join(key_label(k) for k in key.split(",")), b.description or b.tooltip, b.id)
        t.add_row("^p", "command palette", "")
        return t

    def action_close(self) -> None:
        self.dismiss(None)
