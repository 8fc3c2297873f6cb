"""Snapshots of every screen at 80x24 and 120x40 with recorded data injected through the app's constructor:
telemetry from a real tegrastats capture (Orin Nano Super, JetPack 6.2), results measured earlier on an
x86-64 host, an example power-mode sweep, an example tune and an example fleet run and check (tests/fixtures/ui).
The Benchmark screen (time view and histogram view) and the Dashboard plot a recorded latency trace of the bundled
model (tests/fixtures/ui/latency-trace.json) and a 2.1 s GPU-load tegrastats segment (Orin Nano 8GB) on one time axis.
Every injected number is labelled "recorded" on screen.

Update after looking at the diff: ``.venv/bin/pytest tests/ui/test_tui_snapshots.py --snapshot-update``.
Textual is pinned in constraints.txt so the SVGs stay stable.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tui_helpers import NVPM_CONF, make_recorded_app, text, wait_for, wait_idle  # noqa: E402

SIZES = [(80, 24), (120, 40)]


def _int8(app) -> None:
    # Set directly rather than by key: the key's toast would time out at a machine-dependent moment.
    app.set_precision("int8")


def _steps(keys: tuple[str, ...], until=None, setup=None):
    async def run_before(pilot) -> None:
        app = pilot.app
        await wait_idle(pilot)
        if setup is not None:
            setup(app)
        for k in keys:
            await pilot.press(k)
            await pilot.pause(0.05)
        if until is not None:
            await wait_for(pilot, lambda: until(app), 30, "screen content")
        await app.workers.wait_for_complete()
        await pilot.pause(0.6)  # one telemetry-panel poll (0.5 s)

    return run_before


# screen -> (keys, condition to wait for, setup before the keys)
LOAD_TELEMETRY = {"bench", "bench-hist", "dashboard"}  # screens that plot telemetry over time
SCREENS = {
    "model": ((), None, None),
    "profile": (("2",), None, None),
    "precision": (("3",), None, _int8),
    "calibrate": (("4",), lambda app: "Samples" in text(app.screen.query_one("#calib-set")), _int8),
    "build": (("5",), None, _int8),
    "bench": (("6",), None, None),
    "bench-hist": (("6", "h"), None, None),
    "results": (("7", "enter"), None, None),
    "sweep": (("8",), None, None),
    "tune": (("9",), None, None),
    "fleet": (("0",), None, None),
    "jobs": (("j",), lambda app: "No jobs yet" in text(app.screen.query_one("#jobs-note")), None),
    "dashboard": (("d",), None, None),
    "help": (("6", "question_mark"), None, None),
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", list(SCREENS))
def test_snapshot_recorded(snap_compare, screen, size, monkeypatch):
    # The help screen names the key-map file; WORKBENCH_HOME is a new temp folder per test, so show the default.
    monkeypatch.setattr("workbench.ui.screens.help.keymap_path", lambda: Path("~/.config/edge-workbench/keymap.toml"))
    keys, until, setup = SCREENS[screen]
    # The sweep screen reads the Orin NX conf from tests/fixtures, so it looks the same on any machine.
    app = make_recorded_app(load_telemetry=screen in LOAD_TELEMETRY, nvpmodel_conf=NVPM_CONF)
    assert snap_compare(app, terminal_size=size, run_before=_steps(keys, until, setup))
