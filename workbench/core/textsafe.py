"""Untrusted text made safe to show in a terminal: control characters become visible escapes.

A model's producer name, doc string, node names and symbolic dims, a file path, a job's command line or an imported
log are written by whoever made the file. Printed raw, an ESC (``\\x1b]0;title\\x07`` retitles the window,
``\\x1b[2J`` clears it), a C1 control (``\\x9b`` is an 8-bit CSI) or a bidi override (``\\u202e`` reverses what
follows) lets that file rewrite what the user sees. Both faces show such text only through these functions (the
CLI also through its output streams, ``workbench/cli/safeout.py``).

What is escaped (Unicode / ECMA-48 categories):

- C0 controls U+0000–U+001F and DEL U+007F → ``\\x1b``, ``\\x07``, ``\\x7f`` …; ``field`` escapes newline and tab
  as well (``\\n``, ``\\t``), ``block`` keeps them (they are layout in a multi-line text);
- C1 controls U+0080–U+009F → ``\\x9b`` …;
- bidi embeddings / overrides / isolates U+202A–U+202E and U+2066–U+2069, and the implicit directional marks
  LRM U+200E, RLM U+200F, ALM U+061C (Unicode UAX #9; "Trojan Source", CVE-2021-42574) → ``\\u202e`` …;
- lone surrogates U+D800–U+DFFF (an undecodable byte of a file name, as ``os.fsdecode`` gives it) → ``\\udc9b``,
  so the text can always be encoded and no raw byte reaches the terminal.

Everything else, backslashes included, is kept, so a path stays readable (the escaped form of ESC is therefore the
same four characters a name could hold literally: safe, if not unambiguous). Stdlib only.
"""

from __future__ import annotations

_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape_of(code: int) -> str:
    ch = chr(code)
    if ch in _NAMED:
        return _NAMED[ch]
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


_UNSAFE = [
    *range(0x00, 0x20), 0x7F, *range(0x80, 0xA0),
    *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C,
]  # fmt: skip
_SURROGATES = range(0xD800, 0xE000)

# str.translate tables (code point → replacement).
_FIELD = {c: _escape_of(c) for c in (*_UNSAFE, *_SURROGATES)}
_BLOCK = {c: r for c, r in _FIELD.items() if chr(c) not in "\n\t"}

# One pass of this set decides whether anything needs escaping at all (most text needs nothing).
_FIELD_CHARS = frozenset(chr(c) for c in _FIELD)
_BLOCK_CHARS = frozenset(chr(c) for c in _BLOCK)


def field(text: object) -> str:
    """``str(text)`` for one line of output (a name, a path, a table cell): every control character, newline and
    tab included, and every bidi override or lone surrogate becomes its visible escape (``\\x1b``, ``\\n``,
    ``\\u202e``). The result has no character below U+0020 and prints on one line."""
    s = text if isinstance(text, str) else str(text)
    return s.translate(_FIELD) if not _FIELD_CHARS.isdisjoint(s) else s


def block(text: object) -> str:
    """``str(text)`` for a multi-line text (a rendered summary, an error message, a log): as ``field`` but newlines
    and tabs are kept as they are (carriage return is escaped: it would let a line overwrite the one shown)."""
    s = text if isinstance(text, str) else str(text)
    return s.translate(_BLOCK) if not _BLOCK_CHARS.isdisjoint(s) else s


def is_safe(text: str) -> bool:
    """True when ``block(text) == text`` (nothing in it needs escaping; newlines and tabs allowed)."""
    return _BLOCK_CHARS.isdisjoint(text)
