"""Handlers of the session-level messages that move sequence numbers or end the session.

SequenceReset in GapFill (10) and Reset (11) mode, Logout (12, 13), answering a ResendRequest (8, 20),
and the watchdog of our own ResendRequests: the FIX specification does not say what to do when a
ResendRequest is never answered, so we ask again for the same hole once ``gap_fill_timeout`` passes
without the expected number moving, and after ``max_resend_requests`` unanswered requests in a row we
log out (the next Logon's sequencing finds the gap again). This is one part of the ``Session`` class (a
mixin): it reads and writes the engine's state directly.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .events import LoggedOut
from .states import SessionState, Trigger, next_state
from .validation import REQUIRED_TAG_MISSING, VALUE_INCORRECT, SessionReject, field_text, int_or_none

if TYPE_CHECKING:  # pragma: no cover
    from ._engine import Session

__all__ = ["AdminHandlers"]

log = logging.getLogger("fixgw.session")

_LOGOUT_SENT = SessionState.LOGOUT_SENT


class AdminHandlers:
    """SequenceReset, Logout and ResendRequest handling; the unanswered-ResendRequest watchdog."""

    __slots__ = ()

    def _on_gap_fill(self: Session, msg: Any, seq: int, now: int) -> None:
        new_seq = int_or_none(msg.get(36))
        if new_seq is None:
            self._reject_and_consume(seq, b"4", SessionReject(REQUIRED_TAG_MISSING, 36, "Required tag missing"), now, msg)
            return
        if new_seq <= seq:  # 10e
            text = f"Attempt to lower sequence number, invalid value NewSeqNo={new_seq}"
            self._reject_and_consume(seq, b"4", SessionReject(VALUE_INCORRECT, 36, text), now, msg)
            return
        self._advance(new_seq)  # 10b

    def _on_sequence_reset(self: Session, msg: Any, seq: int, now: int) -> None:
        # Reset mode ignores MsgSeqNum (11), so its Rejects consume no number: the expected one stays.
        new_seq = int_or_none(msg.get(36))
        expected = self._expected
        if new_seq is None:
            self._reject(seq, b"4", SessionReject(REQUIRED_TAG_MISSING, 36, "Required tag missing"), now, msg)
            return
        if new_seq < expected:  # 11c
            text = f"Value is incorrect (out of range) for this tag: NewSeqNo={new_seq} below {expected}"
            self._reject(seq, b"4", SessionReject(VALUE_INCORRECT, 36, text), now, msg)
            return
        if new_seq > expected:  # 11a (11b: equal, nothing to do)
            self._advance(new_seq)
            self._drain(now)

    def _on_logout(self: Session, msg: Any, now: int) -> None:
        text = field_text(msg.get(58))
        if self._state is _LOGOUT_SENT:  # 13a
            self._state = next_state(self._state, Trigger.LOGOUT_RECEIVED)
            self._events.append(LoggedOut(text, True))
            self._report_disconnect("logout completed")
        else:  # 13b
            self._send_new(b"5", b"", now)
            self._state = next_state(self._state, Trigger.LOGOUT_RECEIVED)
            self._events.append(LoggedOut(text, False))
            self._report_disconnect("logout requested by peer")

    def _serve_resend_request(self: Session, msg: Any, seq: int, now: int) -> None:
        begin = int_or_none(msg.get(7))
        end = int_or_none(msg.get(16))
        if begin is None or end is None:
            tag = 7 if begin is None else 16
            self._reject(seq, b"2", SessionReject(REQUIRED_TAG_MISSING, tag, "Required tag missing"), now, msg)
            return
        if begin < 1 or (end != 0 and end < begin):
            self._reject(seq, b"2", SessionReject(VALUE_INCORRECT, 7, "Value is incorrect (out of range)"), now, msg)
            return
        last = self._outbox.last_resendable(self.store.next_sender_seq)
        if end == 0 or end > last or (not self._fix44 and end == 999_999):
            end = last
        if begin > end:
            return  # nothing sent in that range yet
        self._start_resend(begin, end, now)

    def _start_resend(self: Session, begin: int, end: int, now: int) -> None:
        outbox = self._outbox
        outbox.start_resend(begin, end)
        if outbox.chunk == 0:
            while outbox.cursor is not None:  # every queued range too
                outbox.produce(self.store, self._writer, now)
            self._hb.last_sent_ns = now

    # -- the watchdog of our own ResendRequests ---------------------------------------------------------
    def _watch_gap(self: Session, begin: int, now: int, *, asked: bool) -> None:
        """A ResendRequest from ``begin`` went out (``asked``) or is expected to be filled unasked (789)."""
        timeout = self._gap_timeout_ns
        if timeout is None:
            return
        if begin > self._gap_mark:
            self._gap_requests = 0  # the hole moved up since the last request: the peer is answering
        self._gap_mark = begin
        if asked:
            self._gap_requests += 1
        self._gap_deadline_ns = now + timeout

    def _forget_gap_watch(self: Session) -> None:
        self._gap_deadline_ns = None
        self._gap_mark = 0
        self._gap_requests = 0
        self._request_seq = 0

    def _check_gap(self: Session, now: int) -> None:
        """``gap_fill_timeout`` passed since the last ResendRequest: ask again, or give up and log out."""
        requested = self._seq.requested
        if requested is None:
            self._forget_gap_watch()  # filled meanwhile
            return
        expected = self._expected
        if expected > self._gap_mark:
            # Progress since the last request: the peer is still answering, give it another period.
            self._gap_mark = expected
            self._gap_requests = 0
            self._gap_deadline_ns = now + self._gap_timeout_ns  # type: ignore[operator]
            return
        if self._gap_requests >= self.config.max_resend_requests:
            self._logout_and_close(f"ResendRequest for {expected}..{requested[1]} not answered", now)
            return
        log.info("%s: ResendRequest from %d not answered; asking again", self.session_id, expected)
        begin, end, _last = self._seq.request_for(expected, requested[1] + 1)
        self._send_resend_request(begin, end, now)
