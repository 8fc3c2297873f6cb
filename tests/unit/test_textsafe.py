"""core/textsafe.py: untrusted text shown with its control characters and bidi overrides as visible escapes."""

from __future__ import annotations

import io

import pytest

from workbench.core import textsafe


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),  # OSC: retitles the window
        ("\x1b[2J", "\\x1b[2J"),  # CSI: clears the screen
        ("a\x9bb", "a\\x9bb"),  # C1 CSI (8-bit)
        ("\x80\x9f\x7f\x00", "\\x80\\x9f\\x7f\\x00"),  # C1 ends, DEL, NUL
        ("abc\u202edef", "abc\\u202edef"),  # right-to-left override
        (
            "\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069",
            "\\u202a\\u202b\\u202c\\u202d\\u2066\\u2067\\u2068\\u2069",
        ),
        ("a\u200fb\u200ec\u061cd", "a\\u200fb\\u200ec\\u061cd"),  # RLM, LRM, ALM: implicit direction marks
        ("over\rwrite", "over\\rwrite"),  # CR would let a line overwrite itself
        ("bad\udcffbyte", "bad\\udcffbyte"),  # os.fsdecode of an undecodable byte
        ("line1\nline2\tcol", "line1\\nline2\\tcol"),
    ],
)
def test_field_escapes_every_control_and_bidi_character(raw, shown):
    assert textsafe.field(raw) == shown


def test_block_keeps_newlines_and_tabs_only():
    assert textsafe.block("a\tb\nc\x1b[2J\rd\u202e") == "a\tb\nc\\x1b[2J\\rd\\u202e"
    assert textsafe.is_safe("a\tb\nc") and not textsafe.is_safe("\x9b")


def test_ordinary_text_is_unchanged():
    text = "C:\\models\\résumé — 模型 [bold]x[/] 1×3×224×224 °C µs ≠"
    assert textsafe.field(text) == text
    assert textsafe.block(text) == text
    assert textsafe.field(3.5) == "3.5"  # any value: its str()


def test_output_always_encodes_and_holds_no_control_character():
    every = "".join(chr(c) for c in range(0x0, 0x3000))
    out = textsafe.field(every)
    out.encode("utf-8")  # no lone surrogate left
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F or 0x202A <= ord(ch) <= 0x202E for ch in out)
    assert not any(0x2066 <= ord(ch) <= 0x2069 or ord(ch) in (0x200E, 0x200F, 0x061C) for ch in out)


def test_safe_stream_escapes_what_is_written_and_delegates_the_rest():
    from workbench.cli.safeout import SafeStream

    inner = io.StringIO()
    s = SafeStream(inner)
    assert s.write("x\x1b[2J\n") == len("x\x1b[2J\n")
    s.writelines(["\u202e", "ok\n"])
    s.flush()
    assert inner.getvalue() == "x\\x1b[2J\n\\u202eok\n"
    assert s.getvalue() == inner.getvalue()  # anything else reaches the wrapped stream
