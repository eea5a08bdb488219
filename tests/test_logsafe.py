"""Log-safe text: whatever a peer sends, one log call stays one line and no escape can be forged."""

from __future__ import annotations

import logging
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixgw.logsafe import printable, printable_bytes

#: Everything a log reader may take for the end of a line (``str.splitlines`` is the widest such reader).
_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def _unescape(text: str) -> str:
    """Invert ``printable`` (SOH shown as ``|`` aside): the proof that no two values print the same."""
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch != "\\":
            out.append("\x01" if ch == "|" else ch)
            i += 1
        elif text[i + 1] == "\\":
            out.append("\\")
            i += 2
        elif text[i + 1] == "x":
            out.append(chr(int(text[i + 2 : i + 4], 16)))
            i += 4
        else:
            assert text[i + 1] == "u", text
            out.append(chr(int(text[i + 2 : i + 6], 16)))
            i += 6
    return "".join(out)


@pytest.mark.parametrize("value, expected", [
    ("CLIENT\n2026-01-01 CRITICAL fake", "CLIENT\\x0a2026-01-01 CRITICAL fake"),
    ("a\r\nb", "a\\x0d\\x0ab"),
    ("next\x85line", "next\\x85line"),  # NEL (C1): a line break to Unicode-aware readers
    ("a\u2028b\u2029c", "a\\u2028b\\u2029c"),
    ("\x1b[31mred", "\\x1b[31mred"),
    ("8=FIX.4.4\x019=5", "8=FIX.4.4|9=5"),
    ("back\\x0aslash", "back\\\\x0aslash"),  # a typed-in escape cannot pass for a real one
    ("caf\u00e9 \u00a0ok", "caf\u00e9 \u00a0ok"),  # printable non-ASCII stays as it is
    (b"bytes\n\xe9", "bytes\\x0a\u00e9"),
    (None, "None"),
    (42, "42"),
])
def test_logsafe_printable_known_values_expected_text(value, expected):
    assert printable(value) == expected


@given(st.text())
def test_logsafe_printable_any_text_one_line_and_reversible(value):
    text = printable(value)
    assert text.splitlines() in ([text], [])
    assert not any(ch in text for ch in _BREAKS)
    assert not any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in text)
    assert _unescape(text) == value.replace("|", "\x01")


@given(st.binary())
def test_logsafe_printable_bytes_any_frame_one_ascii_line(frame):
    text = printable_bytes(frame)
    assert text.isascii() and all(ch.isprintable() for ch in text)
    assert text.splitlines() in ([text], [])


@given(st.text())
def test_logsafe_printable_in_a_log_record_any_text_one_record_one_line(value):
    record = logging.LogRecord("fixgw.test", logging.WARNING, __file__, 1, "Logon from %s refused", (printable(value),),
                               None)
    line = logging.Formatter("%(levelname)s %(name)s: %(message)s").format(record)
    assert line.splitlines() == [line]
