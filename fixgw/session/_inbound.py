"""The inbound path of a logged-on session: header checks, sequencing, in-order processing.

Theory of operation
-------------------
``Session`` (``_engine.py``) hands every frame received while ACTIVE or LOGOUT_SENT to
``_on_session_message``. The frame passes, in this order: the checks that end the session whatever its
number (BeginString 2i, MsgSeqNum present, a wrong CompID 2k, a wrong SendingTime 2o); the messages acted
on whatever their number (SequenceReset-Reset 11, Logout 13, a ResendRequest above a gap 20, a Logon with
ResetSeqNumFlag and MsgSeqNum 1 in FIX 4.4); then sequencing: too high is held and the gap requested
(2b), too low is a duplicate to ignore (2e) or fatal (2c), expected is processed by ``_process``, which
runs the per-message checks that answer with a Reject (a missing or empty 49/56/52 with 373=1/4, a field
the parser could not read with 373=0, 2f, 2g, 2q, 2r, 14) and then acts on the message type. Every Reject and BusinessMessageReject consumes the number of the
message it refers to, except for SequenceReset-Reset, whose MsgSeqNum is ignored (11c). Held messages are
drained in order as soon as the gap closes. Numbers move through ``_advance``/``_deliver`` (``_engine``),
which keep the persisted number behind application messages not yet handed to the application.

This is one part of the ``Session`` class (a mixin): it reads and writes the engine's state directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import FieldValueError, ValidationError
from .events import ApplicationMessage, LoggedOn, RejectReceived
from .sequencing import SKIP
from .states import SessionState
from .validation import (
    ADMIN_MSG_TYPES,
    INCORRECT_DATA_FORMAT,
    REQUIRED_TAG_MISSING,
    UNSUPPORTED_MSG_TYPE,
    SessionReject,
    check_comp_ids,
    check_header_field,
    check_msg_type,
    check_poss_dup,
    check_sending_time,
    field_text,
    int_or_none,
    invalid_field_reject,
    parse_sending_time,
)

if TYPE_CHECKING:  # pragma: no cover
    from ._engine import Session

__all__ = ["InboundPath"]

_ACTIVE = SessionState.ACTIVE
_LOGOUT_SENT = SessionState.LOGOUT_SENT


class InboundPath:
    """Header checks, sequencing and in-order processing of a logged-on session's messages."""

    __slots__ = ()

    # -- the inbound number: the engine's view and the persisted one ------------------------------
    def _advance(self: Session, n: int) -> None:
        """The next expected inbound number is now ``n``; persist it unless an application event waits."""
        self._expected = n
        pending = self._persist_after
        if pending:
            pending[-1] = n  # persisted when the last waiting ApplicationMessage is handed over
        else:
            self.store.set_next_target_seq(n)

    def _deliver(self: Session, event: ApplicationMessage, seq: int) -> None:
        """Queue an application message numbered ``seq``; its number is persisted by ``next_event``."""
        self._events.append(event)
        self._expected = seq + 1
        self._persist_after.append(seq + 1)

    def _reset_store(self: Session, now: int) -> None:
        """Both numbers back to 1 (store and engine); waiting application events persist nothing."""
        self.store.reset(now)
        self._expected = 1
        pending = self._persist_after
        for i in range(len(pending)):
            pending[i] = 0

    # -- a logged-on session's messages ---------------------------------------------------------------
    def _on_session_message(self: Session, msg: Any, now: int) -> None:
        get = msg.get
        self._hb.received(now)
        if get(8) != self._begin:
            self._logout_and_close("Incorrect BeginString", now)  # 2i
            return
        raw_seq = get(34)
        seq = int_or_none(raw_seq)
        if seq is None:
            # No Reject can name a message without a number: log out (the FIX specification's answer).
            problem = "missing" if raw_seq is None else "without a value" if not raw_seq else "not a number"
            self._logout_and_close(f"MsgSeqNum(34) {problem}", now)
            return
        mt = get(35)
        expected = self._expected
        sender = get(49)
        target = get(56)
        if sender != self._peer or target != self._us:  # 2k
            reject = check_comp_ids(sender, target, self._peer, self._us)
            assert reject is not None
            if reject.fatal:  # a wrong value; missing or empty ones are rejected in order (_process)
                self._reject(seq, mt, reject, now, msg)
                if seq == expected:
                    self._advance(expected + 1)
                self._logout_and_close(reject.text, now)
                return
        st = get(52)
        sending_ns, reject = check_sending_time(st, now, self._tolerance_ns)
        if reject is not None and reject.fatal:  # 2o
            self._reject(seq, mt, reject, now, msg)
            if seq == expected:
                self._advance(expected + 1)
            self._logout_and_close(reject.text, now)
            return
        if mt == b"4" and get(123) != b"Y":
            self._on_sequence_reset(msg, seq, now)  # 11: Reset mode ignores MsgSeqNum
            return
        if mt == b"A" and seq == 1 and self._fix44 and get(141) == b"Y" and self._state is _ACTIVE:
            self._on_reset_logon(msg, now)
            return
        if seq == expected:
            self._process(msg, seq, mt, now, st, sending_ns)
            sequencer = self._seq
            if sequencer.queue or sequencer.requested is not None:
                self._drain(now)
            return
        poss_dup = get(43) == b"Y"
        if seq < expected:
            if poss_dup:
                if mt != b"4":
                    reject = check_poss_dup(get(122), sending_ns)
                    if reject is not None:
                        self._reject(seq, mt, reject, now, msg)
                return  # 2e: already seen
            self._logout_and_close(f"MsgSeqNum too low, expecting {expected} but received {seq}", now)  # 2c
            return
        # seq > expected
        if mt == b"5":
            self._on_logout(msg, now)  # a Logout is honoured even above a gap
            return
        if mt == b"2":
            # 20: serve the peer's request now. Ask again for our own gap only when the peer's request
            # covers our outstanding ResendRequest: that one reached the peer above its own gap and may
            # have been dropped; this one arrives after our resend fills the peer's gap. A request that
            # does not cover it tells us the peer has ours, and a second one would only double its resend.
            self._serve_resend_request(msg, seq, now)
            sequencer = self._seq
            sequencer.hold(seq, SKIP)
            planned = sequencer.on_too_high(seq, expected)
            fresh = planned is not None
            if planned is None and sequencer.requested is not None and self._asked_again_for(msg):
                planned = sequencer.request_for(expected, sequencer.requested[1] + 1)
            if planned is not None:
                self._send_resend_request(planned[0], planned[1], now, repeat=fresh)
            return
        self._seq.hold(seq, msg)
        if self._seq.overflowing:
            self._logout_and_close("Too many messages queued above a sequence gap", now)
            return
        planned = self._seq.on_too_high(seq, expected)  # 2b
        if planned is not None:
            self._send_resend_request(planned[0], planned[1], now)

    def _asked_again_for(self: Session, msg: Any) -> bool:
        """Whether the peer's ResendRequest ``msg`` asks for our latest ResendRequest too."""
        mine = self._request_seq
        begin, end = int_or_none(msg.get(7)), int_or_none(msg.get(16))
        if begin is None or end is None:
            return False
        return begin <= mine and (end == 0 or end >= mine)

    def _on_reset_logon(self: Session, msg: Any, now: int) -> None:
        """FIX 4.4: a Logon with ResetSeqNumFlag(141)=Y and MsgSeqNum 1 inside a session resets both
        directions; answer with our own Logon 141=Y numbered 1, then both sides go on from 2."""
        outbox = self._outbox
        while outbox.cursor is not None:  # finish a resend in progress: its messages are about to go
            outbox.produce(self.store, self._writer, now)
        self._seq.clear()
        self._forget_gap_watch()
        self._reset_store(now)
        self._advance(2)
        self._send_new(b"A", self._logon_body(self.heartbeat_interval, True), now)
        self._events.append(LoggedOn(self.heartbeat_interval, True))

    def _drain(self: Session, now: int) -> None:
        """Process held messages that are now in order; ask for any hole that remains."""
        sequencer = self._seq
        while self._state is _ACTIVE or self._state is _LOGOUT_SENT:
            expected = self._expected
            item = sequencer.pop_next(expected)
            if item is None:
                planned = sequencer.after_advance(expected)
                if planned is not None:
                    self._send_resend_request(planned[0], planned[1], now)
                return
            if item is SKIP:
                self._advance(expected + 1)
                continue
            get = item.get  # type: ignore[attr-defined]
            st = get(52)
            self._process(item, expected, get(35), now, st, None if not st else parse_sending_time(st))

    def _process(self: Session, msg: Any, seq: int, mt: bytes, now: int, sending_time: bytes | None, sending_ns: int | None) -> None:
        """Handle the message numbered ``seq`` == expected; consume its number unless it moves it itself."""
        get = msg.get
        if not sending_time:
            self._reject_and_consume(seq, mt, check_header_field(52, sending_time), now, msg)  # type: ignore[arg-type]
            return
        for tag, value in ((49, get(49)), (56, get(56))):
            if not value:  # 373=1 or 4; a wrong value ended the session before sequencing
                self._reject_and_consume(seq, mt, check_header_field(tag, value), now, msg)  # type: ignore[arg-type]
                return
        invalid = getattr(msg, "invalid_field", None)
        if invalid is not None:  # a field the parser could not read: its number is consumed
            self._reject_and_consume(seq, mt, invalid_field_reject(invalid), now, msg)
            return
        poss_dup = get(43) == b"Y"
        if poss_dup and mt != b"4":
            reject = check_poss_dup(get(122), sending_ns)  # 2f, 2g
            if reject is not None:
                self._reject_and_consume(seq, mt, reject, now, msg)
                return
        if mt not in ADMIN_MSG_TYPES:
            reject = check_msg_type(mt, self.dictionary)  # 2q
            if reject is not None:
                self._reject_and_consume(seq, mt, reject, now, msg)
                return
            supported = self._supported
            if supported is not None and mt not in supported:  # 2r
                self._business_reject(seq, mt, UNSUPPORTED_MSG_TYPE, "Unsupported Message Type", now, msg)
                self._advance(seq + 1)
                return
            if self.dictionary is not None and not self._validate(msg, seq, mt, now):
                return
            self._deliver(ApplicationMessage(msg, poss_dup, get(97) == b"Y"), seq)
            return
        if self.dictionary is not None and not self._validate(msg, seq, mt, now):
            return
        if mt == b"0":
            self._advance(seq + 1)
        elif mt == b"1":
            test_req_id = get(112)
            if test_req_id is None:
                self._reject_and_consume(seq, mt, SessionReject(REQUIRED_TAG_MISSING, 112, "Required tag missing"), now, msg)
                return
            self._advance(seq + 1)
            self._send_new(b"0", b"112=%s\x01" % test_req_id, now)  # 4b
        elif mt == b"2":
            self._advance(seq + 1)
            self._serve_resend_request(msg, seq, now)  # 8
        elif mt == b"3":
            self._advance(seq + 1)  # 7: a Reject is never rejected
            self._events.append(
                RejectReceived(int_or_none(get(45)), int_or_none(get(373)), int_or_none(get(371)), field_text(get(58)), msg)
            )
        elif mt == b"4":
            self._on_gap_fill(msg, seq, now)  # 10
        elif mt == b"5":
            self._advance(seq + 1)
            self._on_logout(msg, now)
        else:  # b"A": a Logon inside a session
            self._advance(seq + 1)
            self._logout_and_close("Unexpected Logon", now)

    def _validate(self: Session, msg: Any, seq: int, mt: bytes, now: int) -> bool:
        try:
            options = self._validate_options
            if options:
                self.dictionary.validate(msg, **options)
            else:
                self.dictionary.validate(msg)
        except ValidationError as exc:  # 14a-14i
            self._reject_and_consume(seq, mt, SessionReject(exc.reason, exc.ref_tag, exc.text), now, msg)
            return False
        except FieldValueError as exc:
            self._reject_and_consume(seq, mt, SessionReject(INCORRECT_DATA_FORMAT, exc.tag, str(exc)), now, msg)
            return False
        return True
