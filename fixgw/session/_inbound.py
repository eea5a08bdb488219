"""The inbound path of a logged-on session: header checks, sequencing, in-order processing.

Theory of operation
-------------------
The core (``_core.py``) hands every frame received while ACTIVE or LOGOUT_SENT to
``on_session_message``. The frame passes, in this order: the checks that end the session whatever its
number (BeginString 2i, MsgSeqNum present, a wrong CompID 2k, a wrong SendingTime 2o); the messages acted
on whatever their number (SequenceReset-Reset 11, Logout 13, a ResendRequest above a gap 20, a Logon with
ResetSeqNumFlag and MsgSeqNum 1 in FIX 4.4); then sequencing: too high is held and the gap requested
(2b), too low is a duplicate to ignore (2e) or fatal (2c), expected is processed by ``_process``, which
runs the per-message checks that answer with a Reject (a missing or empty 49/56/52 with 373=1/4, a field
the parser could not read with 373=0, 2f, 2g, 2q, 2r, 14) and then acts on the message type. Every
Reject and BusinessMessageReject consumes the number of the message it refers to, except for
SequenceReset-Reset, whose MsgSeqNum is ignored (11c). Held messages are drained in order as soon as the
gap closes. Numbers move through the core's ``_advance``/``_deliver``, which keep the persisted number
behind application messages not yet handed to the application.

These are functions of the session (a ``SessionCore``): they read its state and change it only through
its methods.
"""

from __future__ import annotations

from typing import Any

from ..errors import FieldValueError, ValidationError
from ._admin import on_gap_fill, on_logout, serve_resend_request
from ._core import SessionCore
from .events import ApplicationMessage, LoggedOn, RejectReceived
from .sequencing import SKIP
from .states import SessionState
from .validation import (
    ADMIN_MSG_TYPES,
    INCORRECT_DATA_FORMAT,
    REQUIRED_TAG_MISSING,
    UNSUPPORTED_MSG_TYPE,
    VALUE_INCORRECT,
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

__all__ = ["on_session_message"]

_ACTIVE = SessionState.ACTIVE
_LOGOUT_SENT = SessionState.LOGOUT_SENT


def on_session_message(s: SessionCore, msg: Any, now: int) -> None:
    """A frame received while ACTIVE or LOGOUT_SENT; see the module docstring."""
    get = msg.get
    if get(8) != s._begin:
        s._logout_and_close("Incorrect BeginString", now)  # 2i
        return
    raw_seq = get(34)
    seq = int_or_none(raw_seq)
    if seq is None:
        # No Reject can name a message without a number: log out (the FIX specification's answer).
        problem = "missing" if raw_seq is None else "without a value" if not raw_seq else "not a number"
        s._logout_and_close(f"MsgSeqNum(34) {problem}", now)
        return
    mt = get(35)
    expected = s._expected
    sender = get(49)
    target = get(56)
    if sender != s._peer or target != s._us:  # 2k
        reject = check_comp_ids(sender, target, s._peer, s._us)
        assert reject is not None
        if reject.fatal:  # a wrong value; missing or empty ones are rejected in order (_process)
            s._reject(seq, mt, reject, now, msg)
            if seq == expected:
                s._advance(expected + 1)
            s._logout_and_close(reject.text, now)
            return
    st = get(52)
    sending_ns, reject = check_sending_time(st, now, s._tolerance_ns)
    if reject is not None and reject.fatal:  # 2o
        s._reject(seq, mt, reject, now, msg)
        if seq == expected:
            s._advance(expected + 1)
        s._logout_and_close(reject.text, now)
        return
    if mt == b"4" and get(123) != b"Y":
        _on_sequence_reset(s, msg, seq, now)  # 11: Reset mode ignores MsgSeqNum
        return
    if mt == b"A" and seq == 1 and s._fix44 and get(141) == b"Y" and s._state is _ACTIVE:
        _on_reset_logon(s, now)
        return
    if seq == expected:
        _process(s, msg, seq, mt, now, st, sending_ns)
        if s._gap_open():
            _drain(s, now)
        return
    poss_dup = get(43) == b"Y"
    if seq < expected:
        if poss_dup:
            if mt != b"4":
                reject = check_poss_dup(get(122), sending_ns)
                if reject is not None:
                    s._reject(seq, mt, reject, now, msg)
            return  # 2e: already seen
        s._logout_and_close(f"MsgSeqNum too low, expecting {expected} but received {seq}", now)  # 2c
        return
    # seq > expected
    if mt == b"5":
        on_logout(s, msg, now)  # a Logout is honoured even above a gap
        return
    if mt == b"2":
        # 20: serve the peer's request now. Ask again for our own gap only when the peer's request
        # covers our outstanding ResendRequest: that one reached the peer above its own gap and may
        # have been dropped; this one arrives after our resend fills the peer's gap. A request that
        # does not cover it tells us the peer has ours, and a second one would only double its resend.
        serve_resend_request(s, msg, seq, now)
        s._hold(seq, SKIP)
        planned = s._plan_too_high(seq, expected)
        fresh = planned is not None
        requested = s._outstanding_request()
        if planned is None and requested is not None and _asked_again_for(msg, s._last_request_seq()):
            planned = s._plan_request(expected, requested[1] + 1)
        if planned is not None:
            s._send_resend_request(planned[0], planned[1], now, repeat=fresh)
        return
    if not s._hold(seq, msg):
        s._logout_and_close("Too many messages queued above a sequence gap", now)
        return
    planned = s._plan_too_high(seq, expected)  # 2b
    if planned is not None:
        s._send_resend_request(planned[0], planned[1], now)


def _asked_again_for(msg: Any, mine: int) -> bool:
    """Whether the peer's ResendRequest ``msg`` asks for our latest ResendRequest (numbered ``mine``) too."""
    begin, end = int_or_none(msg.get(7)), int_or_none(msg.get(16))
    if begin is None or end is None:
        return False
    return begin <= mine and (end == 0 or end >= mine)


def _on_sequence_reset(s: SessionCore, msg: Any, seq: int, now: int) -> None:
    # Reset mode ignores MsgSeqNum (11), so its Rejects consume no number: the expected one stays.
    new_seq = int_or_none(msg.get(36))
    expected = s._expected
    if new_seq is None:
        s._reject(seq, b"4", SessionReject(REQUIRED_TAG_MISSING, 36, "Required tag missing"), now, msg)
        return
    if new_seq < expected:  # 11c
        text = f"Value is incorrect (out of range) for this tag: NewSeqNo={new_seq} below {expected}"
        s._reject(seq, b"4", SessionReject(VALUE_INCORRECT, 36, text), now, msg)
        return
    if new_seq > expected:  # 11a (11b: equal, nothing to do)
        s._advance(new_seq)
        _drain(s, now)


def _on_reset_logon(s: SessionCore, now: int) -> None:
    """FIX 4.4: a Logon with ResetSeqNumFlag(141)=Y and MsgSeqNum 1 inside a session resets both
    directions; answer with our own Logon 141=Y numbered 1, then both sides go on from 2."""
    s._finish_resend(now)  # its messages are about to go, before the reset
    s._clear_gap()
    s._reset_numbers(now)
    s._advance(2)
    s._send_logon(s.heartbeat_interval, True, now)
    s._emit(LoggedOn(s.heartbeat_interval, True))


def _drain(s: SessionCore, now: int) -> None:
    """Process held messages that are now in order; ask for any hole that remains."""
    while s._state is _ACTIVE or s._state is _LOGOUT_SENT:
        expected = s._expected
        item = s._pop_held(expected)
        if item is None:
            planned = s._plan_after_advance(expected)
            if planned is not None:
                s._send_resend_request(planned[0], planned[1], now)
            return
        if item is SKIP:
            s._advance(expected + 1)
            continue
        get = item.get  # type: ignore[attr-defined]
        st = get(52)
        _process(s, item, expected, get(35), now, st, None if not st else parse_sending_time(st))


def _process(s: SessionCore, msg: Any, seq: int, mt: bytes, now: int, sending_time: bytes | None, sending_ns: int | None) -> None:
    """Handle the message numbered ``seq`` == expected; consume its number unless it moves it itself."""
    get = msg.get
    if not sending_time:
        s._reject_and_consume(seq, mt, check_header_field(52, sending_time), now, msg)  # type: ignore[arg-type]
        return
    for tag, value in ((49, get(49)), (56, get(56))):
        if not value:  # 373=1 or 4; a wrong value ended the session before sequencing
            s._reject_and_consume(seq, mt, check_header_field(tag, value), now, msg)  # type: ignore[arg-type]
            return
    invalid = getattr(msg, "invalid_field", None)
    if invalid is not None:  # a field the parser could not read: its number is consumed
        s._reject_and_consume(seq, mt, invalid_field_reject(invalid), now, msg)
        return
    poss_dup = get(43) == b"Y"
    if poss_dup and mt != b"4":
        reject = check_poss_dup(get(122), sending_ns)  # 2f, 2g
        if reject is not None:
            s._reject_and_consume(seq, mt, reject, now, msg)
            return
    dictionary = s.dictionary
    if mt not in ADMIN_MSG_TYPES:
        reject = check_msg_type(mt, dictionary)  # 2q
        if reject is not None:
            s._reject_and_consume(seq, mt, reject, now, msg)
            return
        supported = s._supported
        if supported is not None and mt not in supported:  # 2r
            s._business_reject(seq, mt, UNSUPPORTED_MSG_TYPE, "Unsupported Message Type", now, msg)
            s._advance(seq + 1)
            return
        if dictionary is not None and not _validate(s, msg, seq, mt, now):
            return
        s._deliver(ApplicationMessage(msg, poss_dup, get(97) == b"Y"), seq)
        return
    if dictionary is not None and not _validate(s, msg, seq, mt, now):
        return
    if mt == b"0":
        s._advance(seq + 1)
    elif mt == b"1":
        test_req_id = get(112)
        if test_req_id is None:
            s._reject_and_consume(seq, mt, SessionReject(REQUIRED_TAG_MISSING, 112, "Required tag missing"), now, msg)
            return
        s._advance(seq + 1)
        s._send_new(b"0", b"112=%s\x01" % test_req_id, now)  # 4b
    elif mt == b"2":
        s._advance(seq + 1)
        serve_resend_request(s, msg, seq, now)  # 8
    elif mt == b"3":
        s._advance(seq + 1)  # 7: a Reject is never rejected
        s._emit(RejectReceived(int_or_none(get(45)), int_or_none(get(373)), int_or_none(get(371)), field_text(get(58)), msg))
    elif mt == b"4":
        on_gap_fill(s, msg, seq, now)  # 10
    elif mt == b"5":
        s._advance(seq + 1)
        on_logout(s, msg, now)
    else:  # b"A": a Logon inside a session
        s._advance(seq + 1)
        s._logout_and_close("Unexpected Logon", now)


def _validate(s: SessionCore, msg: Any, seq: int, mt: bytes, now: int) -> bool:
    try:
        options = s._validate_options
        if options:
            s.dictionary.validate(msg, **options)
        else:
            s.dictionary.validate(msg)
    except ValidationError as exc:  # 14a-14i
        s._reject_and_consume(seq, mt, SessionReject(exc.reason, exc.ref_tag, exc.text), now, msg)
        return False
    except FieldValueError as exc:
        s._reject_and_consume(seq, mt, SessionReject(INCORRECT_DATA_FORMAT, exc.tag, str(exc)), now, msg)
        return False
    return True
