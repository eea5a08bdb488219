"""Handlers of the session-level messages that move sequence numbers or end the session.

SequenceReset in GapFill mode (10; Reset mode, 11, is part of ``_inbound``: it drains held messages),
Logout (12, 13), and answering a ResendRequest (8, 20). The watchdog of our own ResendRequests is ``sequencing.GapWatch``, run by the core's timers.

These are functions of the session (a ``SessionCore``): they read its state and change it only through
its methods (``_core.py``).
"""

from __future__ import annotations

from typing import Any

from ._core import SessionCore
from .events import LoggedOut
from .states import SessionState
from .validation import REQUIRED_TAG_MISSING, VALUE_INCORRECT, SessionReject, field_text, int_or_none

__all__ = ["on_gap_fill", "on_logout", "serve_resend_request"]


def on_gap_fill(s: SessionCore, msg: Any, seq: int, now: int) -> None:
    """SequenceReset-GapFill numbered ``seq`` == expected (10)."""
    new_seq = int_or_none(msg.get(36))
    if new_seq is None:
        s._reject_and_consume(seq, b"4", SessionReject(REQUIRED_TAG_MISSING, 36, "Required tag missing"), now, msg)
        return
    if new_seq <= seq:  # 10e
        text = f"Attempt to lower sequence number, invalid value NewSeqNo={new_seq}"
        s._reject_and_consume(seq, b"4", SessionReject(VALUE_INCORRECT, 36, text), now, msg)
        return
    s._advance(new_seq)  # 10b


def on_logout(s: SessionCore, msg: Any, now: int) -> None:
    text = field_text(msg.get(58))
    if s._state is SessionState.LOGOUT_SENT:  # 13a
        s._logout_received(LoggedOut(text, True), "logout completed")
    else:  # 13b
        s._send_new(b"5", b"", now)
        s._logout_received(LoggedOut(text, False), "logout requested by peer")


def serve_resend_request(s: SessionCore, msg: Any, seq: int, now: int) -> None:
    begin = int_or_none(msg.get(7))
    end = int_or_none(msg.get(16))
    if begin is None or end is None:
        tag = 7 if begin is None else 16
        s._reject(seq, b"2", SessionReject(REQUIRED_TAG_MISSING, tag, "Required tag missing"), now, msg)
        return
    if begin < 1 or (end != 0 and end < begin):
        s._reject(seq, b"2", SessionReject(VALUE_INCORRECT, 7, "Value is incorrect (out of range)"), now, msg)
        return
    last = s._last_resendable()
    if end == 0 or end > last or (not s._fix44 and end == 999_999):
        end = last
    if begin > end:
        return  # nothing sent in that range yet
    s._start_resend(begin, end, now)
