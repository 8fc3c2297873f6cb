"""Key bindings with ids, and the user's remapping file.

Every action has a binding id (``screen.bench``, ``bench.start``, ...). A user remaps keys in
``<config dir>/keymap.toml`` (``paths.config_dir()``; ``~/.config/edge-workbench/keymap.toml`` by default)::

    [keys]
    "screen.bench" = "b"          # one key
    "bench.stop" = "x,escape"     # several keys, comma separated

Textual applies it with ``App.set_keymap``. Unknown ids and malformed values are reported (never a crash) and
ignored.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from textual.binding import Binding

from workbench.core import paths
from workbench.core.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

KEYMAP_FILE = "keymap.toml"

# Screen switches: (mode name, binding id, default key, label). The order is the guided flow's order.
SCREENS: tuple[tuple[str, str, str, str], ...] = (
    ("model", "screen.model", "1", "Model"),
    ("profile", "screen.profile", "2", "Profile"),
    ("precision", "screen.precision", "3", "Precision"),
    ("calibrate", "screen.calibrate", "4", "Calibrate"),
    ("build", "screen.build", "5", "Build"),
    ("bench", "screen.bench", "6", "Benchmark"),
    ("results", "screen.results", "7", "Results"),
    ("sweep", "screen.sweep", "8", "Power sweep"),
    ("tune", "screen.tune", "9", "Tune"),
    # "0", not "f": the Precision (FP32) and Build (force) screens bind "f", and a screen's key hides the app's.
    ("fleet", "screen.fleet", "0", "Fleet"),
    ("jobs", "screen.jobs", "j", "Jobs"),
    ("dashboard", "screen.dashboard", "d", "Dashboard"),
)


def app_bindings() -> list[Binding]:
    """Global bindings. The screen switches are not shown in the footer (the nav bar shows them)."""
    out = [
        Binding("ctrl+q", "request_quit", "Quit", priority=True, id="app.quit", tooltip="quit (asks while a job runs)"),
        Binding("question_mark,f1", "help", "Help", id="app.help", tooltip="list every key"),
        # not in the footer: the status line says "x cancels" while a job runs
        Binding("x", "cancel_job", "Cancel", id="app.cancel", tooltip="cancel the running job", show=False),
    ]
    for mode, bid, key, label in SCREENS:
        out.append(Binding(key, f"goto('{mode}')", label, show=False, id=bid, tooltip=f"go to the {label} screen"))
    return out


@dataclass(frozen=True)
class KeymapLoad:
    keymap: dict[str, str]
    problems: tuple[str, ...]
    path: Path


_KEY_RE = re.compile(r"^[A-Za-z0-9_+\-]+$|^.$")


def keymap_path() -> Path:
    return paths.config_dir() / KEYMAP_FILE


def load_keymap(known_ids: set[str], path: Path | None = None) -> KeymapLoad:
    """Read the remapping file. A missing file = no changes.

    Returns the valid entries plus one message per problem (``FILE: ...``), so the app can show them.
    Raises:
        ConfigError: the file exists but is not valid TOML (names the file and the parser's line/column).
    """
    p = path or keymap_path()
    if not p.exists():
        return KeymapLoad({}, (), p)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read key map {p}: {exc}",
            hint=f"save {p} as UTF-8 text readable by this user, or remove it to use the default keys",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}", hint="see README, 'Keys' for the format") from None
    problems: list[str] = []
    keys = doc.get("keys", {})
    for extra in sorted(set(doc) - {"keys"}):
        problems.append(f"{p}: unknown table [{extra}] (only [keys] is read)")
    if not isinstance(keys, dict):
        return KeymapLoad({}, (*problems, f"{p}: [keys] must be a table"), p)
    out: dict[str, str] = {}
    for bid, value in keys.items():
        if bid not in known_ids:
            problems.append(f"{p}: unknown binding id {bid!r} (press ? in the app for the ids)")
            continue
        if not isinstance(value, str) or not value.strip():
            problems.append(f'{p}: {bid}: value must be a key string like "b" or "ctrl+b,f6"')
            continue
        parts = [k.strip() for k in value.split(",")]
        bad = [k for k in parts if not k or not _KEY_RE.match(k)]
        if bad:
            problems.append(f"{p}: {bid}: {bad[0]!r} is not a key name")
            continue
        out[bid] = ",".join(parts)
    _drop_global_conflicts(out, problems, p)
    return KeymapLoad(out, tuple(problems), p)


def _drop_global_conflicts(out: dict[str, str], problems: list[str], p: Path) -> None:
    """A remapped global key (screen switches, quit, help, cancel: active on every screen) that another global
    binding already uses would make one of them unreachable (``"screen.results" = "1"`` hides the Model screen):
    such an entry is reported and ignored, so the default stays."""
    defaults = {b.id: b.key for b in app_bindings() if b.id}

    def keys_of(bid: str) -> set[str]:
        return {k.strip() for k in out.get(bid, defaults[bid]).split(",")}

    for bid in [b for b in out if b in defaults]:
        mine = keys_of(bid)
        for other in defaults:
            if other != bid and mine & keys_of(other):
                clash = sorted(mine & keys_of(other))[0]
                problems.append(f"{p}: {bid}: {clash!r} is already the key of {other} (ignored; the default stays)")
                del out[bid]
                break


def key_label(key: str) -> str:
    """A short label for a key string: "question_mark" -> "?", "ctrl+q" -> "^q"."""
    first = key.split(",")[0].strip()
    names = {"question_mark": "?", "left_square_bracket": "[", "right_square_bracket": "]", "space": "space"}
    if first in names:
        return names[first]
    if first.startswith("ctrl+"):
        return "^" + first[5:]
    return first
