"""Frame builders and item normalisers for the codec tests (not a test module)."""

from __future__ import annotations

from typing import Any, Iterable

SOH = b"\x01"


def frame(
    body: bytes,
    begin: bytes = b"FIX.4.4",
    body_length: bytes | None = None,
    checksum: bytes | None = None,
) -> bytes:
    """Build ``8=begin|9=len|<body>10=sum|`` by hand; ``body`` carries its own trailing SOH."""
    length = b"%d" % len(body) if body_length is None else body_length
    head = b"8=" + begin + SOH + b"9=" + length + SOH
    cks = b"%03d" % (sum(head + body) % 256) if checksum is None else checksum
    return head + body + b"10=" + cks + SOH


def body(*fields: tuple[int, bytes]) -> bytes:
    return b"".join(b"%d=%s\x01" % (t, v) for t, v in fields)


HEARTBEAT = frame(body((35, b"0"), (49, b"A"), (56, b"B"), (34, b"7"), (52, b"20240102-03:04:05.678")))
ORDER = frame(
    body(
        (35, b"D"), (49, b"CLIENT"), (56, b"GW"), (34, b"2"), (52, b"20240102-03:04:05.678"),
        (11, b"ORD-1"), (55, b"BTCUSDT"), (54, b"1"), (38, b"0.0015"), (40, b"2"), (44, b"97000.5"),
    )
)


def norm(item: Any) -> tuple:
    """A comparable form of a parser item, the same for both implementations."""
    if hasattr(item, "fields"):
        return ("M", list(item.fields), item.raw, item.invalid_field)
    return ("G", item.reason, item.data)


def feed_all(parser: Any, pieces: Iterable[bytes]) -> list[tuple]:
    """Feed every piece, draining the parser after each; return the normalised items."""
    out = []
    for piece in pieces:
        parser.feed(piece)
        out.extend(norm(i) for i in parser)
    return out


def split_at(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = sorted({c for c in cuts if 0 < c < len(data)})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:])]


def by_size(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


def pure_codec() -> Any:
    """The pure twin, shaped like the ``codec`` fixture's value."""
    from types import SimpleNamespace

    from fixgw.codec import _encoder, _parser

    return SimpleNamespace(
        name="pure", Parser=_parser.Parser, Message=_parser.Message, Garbled=_parser.Garbled,
        NEED_MORE=_parser.NEED_MORE, encode=_encoder.encode,
    )
