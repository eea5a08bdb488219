"""Answering a ResendRequest (case 8): which stored messages go again, which numbers a GapFill covers.

``plan_resend`` is pure: given the stored messages of a range it returns, in order, either
``Resend(seq, raw)`` (an application message to send again with PossDupFlag) or ``GapFill(seq, new_seq)``
(one SequenceReset-GapFill covering ``seq`` .. ``new_seq - 1``: admin messages and numbers missing from
the store, consecutive ones collapsed into one). ``as_poss_dup`` rewrites a stored frame for resending.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ..codec import Message, Parser, encode

__all__ = ["Resend", "GapFill", "plan_resend", "stored_msg_type", "as_poss_dup"]

_ADMIN = frozenset({b"0", b"1", b"2", b"3", b"4", b"5", b"A"})


@dataclass(frozen=True, slots=True)
class Resend:
    seq: int
    raw: bytes


@dataclass(frozen=True, slots=True)
class GapFill:
    seq: int
    new_seq: int


def stored_msg_type(raw: bytes) -> bytes:
    """Return the MsgType of a stored frame without parsing all of it."""
    i = raw.find(b"\x0135=")
    if i < 0:
        return b""
    j = raw.find(b"\x01", i + 4)
    return raw[i + 4 : j]


def plan_resend(stored: Iterable[tuple[int, bytes]], begin: int, end: int) -> list[Resend | GapFill]:
    """Plan the answer for ``begin`` .. ``end`` (inclusive, ``end`` >= ``begin``)."""
    out: list[Resend | GapFill] = []
    gap_start: int | None = None
    expected = begin
    for seq, raw in stored:
        if seq < begin or seq > end:
            continue
        if seq > expected and gap_start is None:
            gap_start = expected  # numbers absent from the store
        if stored_msg_type(raw) in _ADMIN:
            if gap_start is None:
                gap_start = seq
        else:
            if gap_start is not None:
                out.append(GapFill(gap_start, seq))
                gap_start = None
            out.append(Resend(seq, raw))
        expected = seq + 1
    if expected <= end and gap_start is None:
        gap_start = expected
    if gap_start is not None:
        out.append(GapFill(gap_start, end + 1))
    return out


def _parse(raw: bytes) -> Message | None:
    parser = Parser()
    parser.feed(raw)
    item = parser.next_event()
    return item if isinstance(item, Message) else None


def as_poss_dup(raw: bytes, sending_time: bytes) -> bytes | None:
    """Return ``raw`` resent: PossDupFlag(43)=Y, OrigSendingTime(122) = its old SendingTime, fresh 52.

    Returns None if the stored frame cannot be read (the caller then gap-fills over it).
    """
    msg = _parse(raw)
    if msg is None:
        return None
    begin = msg.get(8) or b""
    msg_type = msg.get(35) or b""
    orig = msg.get(52) or sending_time
    fields: list[tuple[int, bytes]] = []
    for tag, value in msg.fields:
        if tag in (8, 9, 35, 10, 43, 122):
            continue
        if tag == 52:
            fields.append((52, sending_time))
            fields.append((43, b"Y"))
            fields.append((122, orig))
            continue
        fields.append((tag, value))
    return encode(begin, msg_type, fields)
