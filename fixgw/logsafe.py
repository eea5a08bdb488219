"""Make peer-supplied values safe to put in a log line.

A FIX field, a CompID read from a stranger's Logon, a venue's error text: any of them may carry a
newline or another control character, and written as it is such a value starts a line of its own in
the log (a forged record). ``printable`` escapes every control character (C0, DEL and C1, which holds
NEL) and the Unicode line and paragraph separators, so one log call is always one line, whatever the
peer sent and whatever reads the log. SOH, the FIX field separator, is shown as ``|`` as the wire log
and FIX tools do; every other control character as ``\\xNN`` (a separator as ``\\uNNNN``); a backslash
is doubled so an escape can never be forged either.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["printable", "printable_bytes"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\\]")
_CONTROL_B = re.compile(rb"[\x00\x02-\x1f\x7f\x80-\xff\\]")


def _esc(match: re.Match[str]) -> str:
    ch = match.group()
    if ch == "\\":
        return "\\\\"
    if ch == "\x01":
        return "|"
    code = ord(ch)
    return "\\x%02x" % code if code < 0x100 else "\\u%04x" % code


def _esc_b(match: re.Match[bytes]) -> bytes:
    ch = match.group()
    if ch == b"\\":
        return b"\\\\"
    return b"\\x%02x" % ch[0]


def printable(value: Any) -> str:
    """Return ``value`` as text with control characters escaped (``bytes`` decoded as Latin-1)."""
    if value is None:
        return "None"
    if isinstance(value, (bytes, bytearray, memoryview)):
        text = bytes(value).decode("latin-1")
    else:
        text = value if isinstance(value, str) else str(value)
    return _CONTROL.sub(_esc, text)


def printable_bytes(frame: bytes) -> str:
    """Return a FIX frame as one log-safe line: SOH shown as ``|``, other control bytes as ``\\xNN``."""
    return _CONTROL_B.sub(_esc_b, frame).replace(b"\x01", b"|").decode("ascii")
