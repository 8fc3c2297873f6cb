"""Strict TOML reading shared by ``preprocess.toml`` and ``<model>.workbench.toml``.

``tomllib`` gives values but no line numbers; users need ``FILE:LINE`` for every problem, so
:func:`key_lines` scans the text for ``key = value`` lines under their ``[table]`` headers.
It understands the subset our files use (tables, bare or quoted keys, values on one line or
arrays spread over several lines); a key it cannot place gets line 1, never a crash.
"""

from __future__ import annotations

import difflib
import re
import sys
from pathlib import Path
from typing import Any

from workbench.core.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

_TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\" ]+?)\s*\]\s*(#.*)?$")
_KEY = re.compile(r'^\s*("[^"]*"|[A-Za-z0-9_\-]+)\s*=')
_LINE_COL = re.compile(r"at line (\d+)")


def key_lines(text: str) -> dict[str, int]:
    """Map dotted key paths (``"quantization.method"``, ``"quantization"``) to 1-based line numbers."""
    lines: dict[str, int] = {}
    table = ""
    for no, raw in enumerate(text.splitlines(), start=1):
        m = _TABLE.match(raw)
        if m and not raw.lstrip().startswith("[["):
            table = ".".join(part.strip().strip('"') for part in m.group(1).split("."))
            lines.setdefault(table, no)
            continue
        m = _KEY.match(raw)
        if m:
            key = m.group(1).strip('"')
            lines.setdefault(f"{table}.{key}" if table else key, no)
    return lines


def read_toml(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """Parse ``path``; returns (data, key → line).

    Raises:
        ConfigError: the file is missing, unreadable, not UTF-8, or not valid TOML (``FILE:LINE``).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: file not found", hint="check the path (relative paths start from the current folder)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path}: cannot read ({exc})", hint="save the file as UTF-8 text readable by this user"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = _LINE_COL.search(str(exc))
        line = m.group(1) if m else "1"
        msg = f"{path}:{line}: TOML syntax error: {exc}"
        raise ConfigError(
            msg,
            problems=[msg],
            hint="fix the TOML at that line: strings need quotes, each [table] header on its own line, no key twice",
        ) from None
    return data, key_lines(text)


def unknown_key(path: Path, lines: dict[str, int], dotted: str, allowed: list[str]) -> str:
    """Problem line for an unknown key, with a "did you mean" when a known key is close."""
    line = lines.get(dotted, lines.get(dotted.rpartition(".")[0], 1))
    name = dotted.rpartition(".")[2]
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else f" (known keys: {', '.join(sorted(allowed))})"
    return f"{path}:{line}: unknown key '{dotted}'{hint}"


def where(path: Path, lines: dict[str, int], dotted: str) -> str:
    """``FILE:LINE`` prefix for a key (the table's line, or 1, when the key itself is not found)."""
    line = lines.get(dotted, lines.get(dotted.rpartition(".")[0], 1))
    return f"{path}:{line}"
