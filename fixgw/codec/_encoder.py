"""Pure-Python FIX encoder: the specification of ``fixgw_ext``'s encoder."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterable

from ._parser import checksum

__all__ = ["encode", "encode_value", "format_decimal"]


def format_decimal(d: Decimal) -> bytes:
    """Write a Decimal in plain notation: no exponent, no float artefacts, no trailing ``.``."""
    if not d.is_finite():
        raise ValueError(f"cannot encode {d} as a FIX number")
    s = format(d, "f")
    if s == "-0":
        s = "0"
    return s.encode("ascii")


def encode_value(value: Any) -> bytes:
    """Return the wire form of one field value (bytes, str, int, Decimal or bool)."""
    t = type(value)
    if t is bytes:
        return value
    if t is str:
        return value.encode("utf-8")
    if t is int:
        return b"%d" % value
    if t is bool:
        return b"Y" if value else b"N"
    if t is Decimal:
        return format_decimal(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, bool):
        return b"Y" if value else b"N"
    if isinstance(value, int):
        return b"%d" % value
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, float):
        raise TypeError("floats are not encoded: pass a Decimal")
    raise TypeError(f"cannot encode {type(value).__name__} as a FIX value")


def encode(begin_string: bytes | str, msg_type: bytes | str, fields: Iterable[tuple[int, Any]]) -> bytes:
    """Encode one message: ``8``, ``9``, ``35`` first, then ``fields`` in order, then ``10``.

    ``fields`` holds header fields (49, 56, 34, 52, ...) followed by body fields; tags 8, 9, 35 and 10
    in it are ignored, since the encoder writes them itself.
    """
    if type(begin_string) is str:
        begin_string = begin_string.encode("ascii")
    if type(msg_type) is str:
        msg_type = msg_type.encode("ascii")
    parts = [b"35=", msg_type, b"\x01"]
    append = parts.append
    for tag, value in fields:
        if tag == 8 or tag == 9 or tag == 35 or tag == 10:
            continue
        append(b"%d=" % tag)
        append(encode_value(value))
        append(b"\x01")
    body = b"".join(parts)
    head = b"8=%s\x019=%d\x01" % (begin_string, len(body))
    frame = head + body
    return b"%s10=%03d\x01" % (frame, checksum(frame))
