"""The one-line screen switcher: every screen's key and name, the current one highlighted."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from workbench.ui.keymap import SCREENS, key_label

# Under 100 columns: eleven screens in 80 columns (exactly 80 with these, no space after the last), every key and
# name whole.
SHORT = {
    "Profile": "Prof",
    "Precision": "Prec",
    "Calibrate": "Calib",
    "Benchmark": "Bench",
    "Results": "Res",
    "Dashboard": "Dash",
    "Power sweep": "Sweep",
}


class NavBar(Static):
    DEFAULT_CSS = """
    NavBar { height: 1; background: $panel; }
    """

    def __init__(self, current: str) -> None:
        super().__init__("", id="navbar")
        self.current = current

    def on_mount(self) -> None:
        self.update(self.build_text())

    def build_text(self) -> Text:
        keys = getattr(self.app, "keys", {})
        t = Text(no_wrap=True, overflow="ellipsis")
        for n, (mode, bid, default, label) in enumerate(SCREENS):
            k = key_label(keys.get(bid, default))
            short = label if self.size.width == 0 or self.size.width >= 100 else SHORT.get(label, label)
            style = "reverse bold" if mode == self.current else ""
            if n:
                t.append(" ")
            t.append(f"{k}", style="bold " + style)
            t.append(f" {short}", style=style)
        return t

    def on_resize(self) -> None:
        self.update(self.build_text())
