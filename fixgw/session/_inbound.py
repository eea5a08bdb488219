"""The inbound path of a logged-on session: header checks, sequencing, in-order processing.

Theory of operation
-------------------
``Session`` (``_engine.py``) hands every frame received while ACTIVE or LOGOUT_SENT to
``_on_session_message``. The frame passes, in this order: the checks that end the session whatever its
number (BeginString 2i, MsgSeqNum present, CompIDs 2k, SendingTime 2o); the messages acted on whatever
their number (SequenceReset-Reset 11, Logout 13, a ResendRequest above a gap 20); then sequencing: too
high is held and the gap requested (2b), too low is a duplicate to ignore (2e) or fatal (2c), expected is
processed by ``_process``, which runs the per-message checks that answer with a Reject (2f, 2g, 2q, 2r,
14) and then acts on the message type. Every Reject and BusinessMessageReject consumes the number of the
message it refers to, except for SequenceReset-Reset, whose MsgSeqNum is ignored (11c). Held messages are
drained in order as soon as the gap closes.

This is one part of the ``Session`` class (a mixin): it reads and writes the engine's state directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import FieldValueError, ValidationError
from .events import ApplicationMessage, RejectReceived
from .sequencing import SKIP
from .states import SessionState
from .validation import (
    ADMIN_MSG_TYPES,
    INCORRECT_DATA_FORMAT,
    REQUIRED_TAG_MISSING,
    UNSUPPORTED_MSG_TYPE,
    SessionReject,
    check_comp_ids,
    check_msg_type,
    check_poss_dup,
    check_sending_time,
    field_text,
    int_or_none,
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

    def _on_session_message(self: Session, msg: Any, now: int) -> None:
        get = msg.get
        self._hb.received(now)
        if get(8) != self._begin:
            self._logout_and_close("Incorrect BeginString", now)  # 2i
            return
        seq = int_or_none(get(34))
        if seq is None:
            self._logout_and_close("MsgSeqNum(34) missing or invalid", now)
            return
        mt = get(35)
        store = self.store
        expected = store.next_target_seq
        sender = get(49)
        target = get(56)
        if sender != self._peer or target != self._us:  # 2k
            reject = check_comp_ids(sender, target, self._peer, self._us)
            assert reject is not None
            self._reject(seq, mt, reject, now)
            if seq == expected:
                store.set_next_target_seq(expected + 1)
            self._logout_and_close(reject.text, now)
            return
        st = get(52)
        sending_ns, reject = check_sending_time(st, now, self._tolerance_ns)
        if reject is not None and reject.fatal:  # 2o
            self._reject(seq, mt, reject, now)
            if seq == expected:
                store.set_next_target_seq(expected + 1)
            self._logout_and_close(reject.text, now)
            return
        if mt == b"4" and get(123) != b"Y":
            self._on_sequence_reset(msg, seq, now)  # 11: Reset mode ignores MsgSeqNum
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
                        self._reject(seq, mt, reject, now)
                return  # 2e: already seen
            self._logout_and_close(f"MsgSeqNum too low, expecting {expected} but received {seq}", now)  # 2c
            return
        # seq > expected
        if mt == b"5":
            self._on_logout(msg, now)  # a Logout is honoured even above a gap
            return
        if mt == b"2":
            # 20: serve the peer's request now, then ask again for our own gap.
            self._serve_resend_request(msg, seq, now)
            sequencer = self._seq
            sequencer.hold(seq, SKIP)
            planned = sequencer.on_too_high(seq, expected)
            if planned is None and sequencer.requested is not None:
                planned = sequencer.request_for(expected, sequencer.requested[1] + 1)
            if planned is not None:
                self._send_resend_request(planned[0], planned[1], now)
            return
        self._seq.hold(seq, msg)
        if self._seq.overflowing:
            self._logout_and_close("Too many messages queued above a sequence gap", now)
            return
        planned = self._seq.on_too_high(seq, expected)  # 2b
        if planned is not None:
            self._send_resend_request(planned[0], planned[1], now)

    def _drain(self: Session, now: int) -> None:
        """Process held messages that are now in order; ask for any hole that remains."""
        sequencer = self._seq
        store = self.store
        while self._state is _ACTIVE or self._state is _LOGOUT_SENT:
            expected = store.next_target_seq
            item = sequencer.pop_next(expected)
            if item is None:
                planned = sequencer.after_advance(expected)
                if planned is not None:
                    self._send_resend_request(planned[0], planned[1], now)
                return
            if item is SKIP:
                store.set_next_target_seq(expected + 1)
                continue
            get = item.get  # type: ignore[attr-defined]
            st = get(52)
            self._process(item, expected, get(35), now, st, None if st is None else parse_sending_time(st))

    def _process(self: Session, msg: Any, seq: int, mt: bytes, now: int, sending_time: bytes | None, sending_ns: int | None) -> None:
        """Handle the message numbered ``seq`` == expected; consume its number unless it moves it itself."""
        get = msg.get
        store = self.store
        poss_dup = get(43) == b"Y"
        if sending_time is None:
            self._reject_and_consume(seq, mt, SessionReject(REQUIRED_TAG_MISSING, 52, "Required tag missing"), now)
            return
        if poss_dup and mt != b"4":
            reject = check_poss_dup(get(122), sending_ns)  # 2f, 2g
            if reject is not None:
                self._reject_and_consume(seq, mt, reject, now)
                return
        if mt not in ADMIN_MSG_TYPES:
            reject = check_msg_type(mt, self.dictionary)  # 2q
            if reject is not None:
                self._reject_and_consume(seq, mt, reject, now)
                return
            supported = self._supported
            if supported is not None and mt not in supported:  # 2r
                self._business_reject(seq, mt, UNSUPPORTED_MSG_TYPE, "Unsupported Message Type", now)
                store.set_next_target_seq(seq + 1)
                return
            if self.dictionary is not None and not self._validate(msg, seq, mt, now):
                return
            self._events.append(ApplicationMessage(msg, poss_dup, get(97) == b"Y"))
            store.set_next_target_seq(seq + 1)
            return
        if self.dictionary is not None and not self._validate(msg, seq, mt, now):
            return
        if mt == b"0":
            store.set_next_target_seq(seq + 1)
        elif mt == b"1":
            test_req_id = get(112)
            if test_req_id is None:
                self._reject_and_consume(seq, mt, SessionReject(REQUIRED_TAG_MISSING, 112, "Required tag missing"), now)
                return
            store.set_next_target_seq(seq + 1)
            self._send_new(b"0", b"112=%s\x01" % test_req_id, now)  # 4b
        elif mt == b"2":
            store.set_next_target_seq(seq + 1)
            self._serve_resend_request(msg, seq, now)  # 8
        elif mt == b"3":
            store.set_next_target_seq(seq + 1)  # 7: a Reject is never rejected
            self._events.append(
                RejectReceived(int_or_none(get(45)), int_or_none(get(373)), int_or_none(get(371)), field_text(get(58)), msg)
            )
        elif mt == b"4":
            self._on_gap_fill(msg, seq, now)  # 10
        elif mt == b"5":
            store.set_next_target_seq(seq + 1)
            self._on_logout(msg, now)
        else:  # b"A": a Logon inside a session
            store.set_next_target_seq(seq + 1)
            self._logout_and_close("Unexpected Logon", now)

    def _validate(self: Session, msg: Any, seq: int, mt: bytes, now: int) -> bool:
        try:
            self.dictionary.validate(msg)
        except ValidationError as exc:  # 14a-14i
            self._reject_and_consume(seq, mt, SessionReject(exc.reason, exc.ref_tag, exc.text), now)
            return False
        except FieldValueError as exc:
            self._reject_and_consume(seq, mt, SessionReject(INCORRECT_DATA_FORMAT, exc.tag, str(exc)), now)
            return False
        return True
