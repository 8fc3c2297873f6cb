"""The one-line screen switcher: every screen's key and name, the current one highlighted."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from workbench.ui.keymap import SCREENS, key_label

# Where the full names do not fit (they take 119 columns): twelve screens in 80 columns (exactly 80 with these, no
# space after the last), every key and name whole.
SHORT = {
    "Profile": "Prof",
    "Precision": "Prec",
    "Calibrate": "Cal",
    "Build": "Bld",
    "Benchmark": "Bench",
    "Results": "Res",
    "Dashboard": "Dash",
    "Power sweep": "Pwr",
    "Fleet": "Flt",
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
        """Every screen's key and name, the full names where they fit the bar's width, else the SHORT ones."""
        keys = getattr(self.app, "keys", {})
        items = [(mode, key_label(keys.get(bid, default)), label) for mode, bid, default, label in SCREENS]
        full_width = sum(len(k) + 1 + len(label) for _, k, label in items) + len(items) - 1
        use_full = self.size.width == 0 or full_width <= self.size.width
        t = Text(no_wrap=True, overflow="ellipsis")
        for n, (mode, k, label) in enumerate(items):
            short = label if use_full else SHORT.get(label, label)
            style = "reverse bold" if mode == self.current else ""
            if n:
                t.append(" ")
            t.append(f"{k}", style="bold " + style)
            t.append(f" {short}", style=style)
        return t

    def on_resize(self) -> None:
        self.update(self.build_text())
