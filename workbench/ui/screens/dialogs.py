"""Small modal dialogs: yes/no confirmation, export format and file, file picker."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Input, Label, OptionList, Tree
from textual.widgets.option_list import Option

from workbench.core.textsafe import field


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="dialog.yes"),
        Binding("n,escape", "answer(False)", "No", id="dialog.no"),
    ]

    def __init__(self, question: str, *, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.question = question
        self.yes = yes
        self.no = no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(field(self.question)), classes="dialog-title")  # quotes job commands
            yield Label(f"[b]y[/b] {self.yes}    [b]n[/b] / [b]Esc[/b] {self.no}")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class JobsQuitScreen(ModalScreen[str | None]):
    """Quit while jobs this TUI started or attached still run: ``"keep"`` (they go on, detached; `workbench jobs`
    and the Jobs screen find them), ``"cancel"`` (each is cancelled), or None (Escape: stay)."""

    BINDINGS = [
        Binding("k", "answer('keep')", "Keep running", id="dialog.keep"),
        Binding("c", "answer('cancel')", "Cancel jobs", id="dialog.cancel_jobs"),
        Binding("escape", "answer(None)", "Stay", id="dialog.stay"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(field(self.question)), classes="dialog-title")  # quotes job commands
            yield Label("[b]k[/b] keep running and quit    [b]c[/b] cancel and quit    [b]Esc[/b] stay")

    def action_answer(self, value: str | None) -> None:
        self.dismiss(value)


class ExportScreen(ModalScreen[tuple[str, str] | None]):
    """Pick csv/json/md; the file name defaults to ./workbench-results.<ext> and can be edited."""

    BINDINGS = [Binding("escape", "close", "Close", id="dialog.close")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Export results", classes="dialog-title")
            yield OptionList(
                Option("CSV", id="csv"), Option("JSON", id="json"), Option("Markdown", id="md"), id="export-format"
            )
            yield Label("File (Enter writes):")
            yield Input(value="workbench-results.csv", id="export-path")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self.query_one(OptionList).highlighted = 0

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        inp = self.query_one(Input)
        stem = Path(inp.value).with_suffix("")
        inp.value = f"{stem}.{event.option.id}"

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss((event.option.id, self.query_one(Input).value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        ol = self.query_one(OptionList)
        fmt = ol.get_option_at_index(ol.highlighted or 0).id
        self.dismiss((fmt, event.value))

    def action_close(self) -> None:
        self.dismiss(None)


class FilePickerScreen(ModalScreen[str | None]):
    """A path field and a directory tree rooted at ``root`` (the cwd). The path field has focus first, and a
    printable key pressed in the tree goes to the field too, so typed text is never lost. Enter in the field picks
    what it holds. In the tree Enter picks the highlighted file (``folders=False``) or folder (``folders=True``;
    space opens and closes a folder); highlighting an entry copies its path into the field."""

    BINDINGS = [Binding("escape", "close", "Close", id="dialog.close")]

    def __init__(self, root: Path | None = None, *, title: str | None = None, folders: bool = False) -> None:
        super().__init__()
        self.root = root or Path.cwd()
        self.folders = folders
        self.title_text = title or "Open a model (ONNX, TorchScript, ExportedProgram)"

    def compose(self) -> ComposeResult:
        how = "space opens a folder, Enter picks it" if self.folders else "Enter picks a file"
        with Vertical(classes="dialog picker"):
            yield Label(Text(field(f"{self.title_text} — {self.root}")), classes="dialog-title")  # a folder named [b]
            yield Label(f"type a path + Enter, or Tab to the tree: {how}; Esc closes", classes="dialog-hint")
            yield Input(placeholder="type a path and press Enter", id="picker-path", select_on_focus=False)
            yield DirectoryTree(self.root, id="picker-tree")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_key(self, event: events.Key) -> None:
        """A printable key in the tree (other than space, which opens folders) goes to the path field."""
        tree = self.query_one(DirectoryTree)
        if self.focused is tree and event.is_printable and event.character and event.character != " ":
            inp = self.query_one(Input)
            inp.focus()
            inp.insert_text_at_cursor(event.character)
            event.stop()
            event.prevent_default()

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        data = getattr(event.node, "data", None)
        path = getattr(data, "path", None)
        if path is not None and self.focused is self.query_one(DirectoryTree):
            self.query_one(Input).value = str(path)

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        if not self.folders:
            self.dismiss(str(event.path))

    def on_directory_tree_directory_selected(self, event: DirectoryTree.DirectorySelected) -> None:
        if self.folders:
            self.dismiss(str(event.path))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(event.value.strip())

    def action_close(self) -> None:
        self.dismiss(None)


class TextPromptScreen(ModalScreen[str | None]):
    """One line of text; Enter returns it, Escape cancels."""

    BINDINGS = [Binding("escape", "close", "Close", id="dialog.close")]

    def __init__(self, prompt: str, *, value: str = "") -> None:
        super().__init__()
        self.prompt = prompt
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(field(self.prompt)), classes="dialog-title")
            yield Input(value=self.value, id="prompt-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_close(self) -> None:
        self.dismiss(None)
