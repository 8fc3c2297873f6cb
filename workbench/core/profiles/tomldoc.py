"""Read one profile TOML file so every problem can be reported as ``FILE:LINE: message``.

tomllib reports only the first syntax error and pydantic reports locations as key paths, not lines, so
this module (1) maps tomllib's "(at line N, column M)" to ``FILE:N``, (2) indexes the source text
(``[table]`` headers and ``key =`` lines) so a pydantic error location such as
``('build', 'workspace_mib')`` becomes the line that set it, falling back to the table header, and
(3) words unknown keys with a difflib "did you mean".

Stdlib only (tomli on Python 3.10); used by :mod:`.resolve` (merge and validation) and :mod:`.loader`
(descriptions).
"""

from __future__ import annotations

import difflib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

_AT_LINE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_AT_END = re.compile(r"\s*\(at end of document\)\s*$")
_HEADER = re.compile(r"^\s*\[\[?(.+?)\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")
_PART = re.compile(r"""\s*(?:([A-Za-z0-9_-]+)|"([^"]*)"|'([^']*)')\s*""")


@dataclass
class TomlDoc:
    """One profile file as read: its text, parsed data (None if unreadable/invalid) and line index."""

    path: Path
    text: str = ""
    data: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)
    lines: dict[tuple[str, ...], int] = field(default_factory=dict)

    def where(self, line: int) -> str:
        return f"{self.path}:{line}"

    def line_for(self, loc: tuple[Any, ...]) -> int:
        """Line of the longest prefix of ``loc`` that the file sets (key or table header); 1 if none."""
        keys = tuple(str(p) for p in loc)
        for i in range(len(keys), 0, -1):
            if keys[:i] in self.lines:
                return self.lines[keys[:i]]
        return 1

    def sets(self, loc: tuple[Any, ...]) -> bool:
        """Whether this file's own data contains the key path ``loc`` (list indices ignored)."""
        node: Any = self.data
        for p in loc:
            if isinstance(p, int):
                return True
            if not isinstance(node, dict) or p not in node:
                return False
            node = node[p]
        return True


def _split_dotted(key: str) -> tuple[str, ...]:
    parts = []
    for raw in _split_outside_quotes(key):
        m = _PART.fullmatch(raw)
        if not m:
            return ()
        parts.append(next(g for g in m.groups() if g is not None))
    return tuple(parts)


def _split_outside_quotes(s: str) -> list[str]:
    out, cur, quote = [], [], None
    for ch in s:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
            cur.append(ch)
        elif ch == ".":
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def _bracket_delta(line: str) -> int:
    """Net count of [ and { minus ] and } outside strings and comments (to skip multi-line arrays)."""
    depth, quote = 0, None
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        i += 1
    return depth


def index_lines(text: str) -> dict[tuple[str, ...], int]:
    """Map key paths to 1-based line numbers: each ``[a.b]`` header to ('a','b'), each ``k = v`` line to
    header + ('k',). Keys inside inline tables and multi-line values are not indexed (callers fall back
    to the enclosing key). First occurrence wins (a duplicate is a TOML syntax error anyway)."""
    index: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    depth = 0
    in_multiline: str | None = None
    for n, line in enumerate(text.splitlines(), start=1):
        if in_multiline:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        if depth > 0:
            depth = max(0, depth + _bracket_delta(line))
            continue
        m = _HEADER.match(line)
        if m and not _KEY.match(line):
            parts = _split_dotted(m.group(1).strip())
            if parts:
                table = parts
                index.setdefault(table, n)
            continue
        m = _KEY.match(line)
        if m:
            parts = _split_dotted(m.group(1))
            if parts:
                index.setdefault(table + parts, n)
            rest = line[m.end() :]
            for q in ('"""', "'''"):
                if rest.count(q) % 2 == 1:
                    in_multiline = q
                    break
            else:
                depth = max(0, _bracket_delta(rest))
    return index


def read_toml(path: Path) -> TomlDoc:
    """Read and parse one TOML file; I/O, encoding and syntax errors become ``FILE:LINE`` problems."""
    doc = TomlDoc(path=path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        doc.problems.append(f"{path}:1: cannot read file: {err.strerror or err}")
        return doc
    try:
        doc.text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        doc.problems.append(f"{path}:{line}: not UTF-8 text (TOML files must be UTF-8)")
        return doc
    doc.lines = index_lines(doc.text)
    try:
        doc.data = tomllib.loads(doc.text)
    except tomllib.TOMLDecodeError as err:
        msg = str(err)
        line = getattr(err, "lineno", None)
        m = _AT_LINE.search(msg)
        if m:
            line = line or int(m.group(1))
            msg = _AT_LINE.sub("", msg) + f" (column {m.group(2)})"
        elif _AT_END.search(msg):
            line = line or max(1, len(doc.text.splitlines()))
            msg = _AT_END.sub("", msg) + " (at end of file)"
        doc.problems.append(f"{path}:{line or 1}: TOML syntax error: {msg}")
    return doc


def did_you_mean(word: str, candidates: list[str] | tuple[str, ...]) -> str:
    """``"; did you mean 'x'?"`` for the closest candidate (difflib ratio >= 0.6), else ``""``."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def table_name(loc: tuple[Any, ...]) -> str:
    return "[" + ".".join(str(p) for p in loc) + "]" if loc else "the top level"
