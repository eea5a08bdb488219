"""The Logon handshake of both roles (1S, 1B, 2S) and NextExpectedMsgSeqNum (789, FIX 4.4).

An acceptor checks the peer's Logon (BeginString, CompIDs, SendingTime, address, schedule, credentials,
HeartBtInt), applies a reset (the peer's 141=Y, or our ``reset_on_logon``) only once the Logon is
accepted, and answers; the answer carries ResetSeqNumFlag(141)=Y only when the peer's Logon asked for it
(our own ``reset_on_logon`` resets both directions silently). A refused Logon gets a Logout whose Text
says why (except a stranger: wrong CompIDs or a refused address get no reply), then ``LogonRefused`` and
``Disconnected``. An initiator checks the answer to its own Logon. Both then start the session through
``_start_session``: sequence checks on the Logon's own number (too low is fatal, too high is answered by
a ResendRequest after the Logon), the heartbeat timer, and the resend of what a 789 says the peer missed.

These are functions of the session (a ``SessionCore``): they read its state and change it only through
its methods (``_core.py``).
"""

from __future__ import annotations

import logging
from typing import Any

from ..errors import FieldValueError, ValidationError
from ..logsafe import printable
from ._core import SessionCore
from .events import LoggedOut
from .sequencing import SKIP
from .states import SessionState
from .validation import check_sending_time, field_text, int_or_none

log = logging.getLogger("fixgw.session")

__all__ = ["on_logon_message"]

#: Tags of a Logon that a FIX 4.2 dictionary does not know but counterparties send anyway.
_LOGON_EXTRA_TAGS = frozenset({553, 554, 789})


def on_logon_message(s: SessionCore, msg: Any, now: int) -> None:
    """The first message of a connection, read before logon (AWAITING_LOGON or LOGON_SENT)."""
    if s._state is SessionState.AWAITING_LOGON:
        _on_acceptor_logon(s, msg, now)
    else:
        _on_initiator_logon(s, msg, now)


def _check_logon_header(s: SessionCore, msg: Any, now: int) -> tuple[int, int | None] | None:
    """Common Logon checks of both roles; returns (seq, HeartBtInt) or None after refusing it."""
    get = msg.get
    if get(35) != b"A":
        s._refuse_logon("first message is not a Logon", now, reply=False)  # 1S-d, 1B-d
        return None
    begin = get(8)
    if begin != s._begin:
        got = field_text(begin)
        s._refuse_logon(f"Incorrect BeginString: expected {s._begin.decode()}, received {got}", now)
        return None
    if get(49) != s._peer or get(56) != s._us:
        s._refuse_logon("Logon with unexpected CompIDs", now, reply=False)  # 1S-c: a stranger
        return None
    seq = int_or_none(get(34))
    if seq is None:
        s._refuse_logon("Logon rejected: MsgSeqNum(34) missing or invalid", now)
        return None
    _ns, reject = check_sending_time(get(52), now, s._tolerance_ns)
    if reject is not None:
        s._refuse_logon(f"Logon rejected: {reject.text}", now)
        return None
    if s.dictionary is not None:
        try:
            s.dictionary.validate(msg, **s._validate_options)
        except (ValidationError, FieldValueError) as exc:
            # Username/Password are not in the FIX 4.2 dictionary but widely used there.
            if getattr(exc, "ref_tag", None) not in _LOGON_EXTRA_TAGS:
                s._refuse_logon(f"Invalid Logon: {exc}", now)
                return None
    return seq, _heartbeat_interval(get(108))


def _authenticate(s: SessionCore, msg: Any) -> str | None:
    """Ask the authenticator; return None when the Logon is accepted, else the reason to give."""
    if s.authenticator is None:
        return None
    get = msg.get
    username = get(553)
    password = get(554)
    try:
        verdict = s.authenticator(
            s.session_id,
            None if username is None else field_text(username),
            None if password is None else field_text(password),
            s._peer_address,
        )
    except Exception as exc:  # the authenticator's failure refuses the Logon, it does not crash us
        log.warning("%s: authenticator failed: %s", s.session_id, printable(type(exc).__name__))
        return "authentication failed"
    if verdict is True:
        return None
    if isinstance(verdict, str) and verdict:
        return verdict
    return "authentication failed"


def _on_acceptor_logon(s: SessionCore, msg: Any, now: int) -> None:
    checked = _check_logon_header(s, msg, now)
    if checked is None:
        return
    seq, heartbeat_interval = checked
    cfg = s.config
    if not cfg.address_allowed(s._peer_address):
        s._refuse_logon(f"Logon from a refused address {s._peer_address!r}", now, reply=False)
        return
    schedule = cfg.schedule
    if schedule is not None and not schedule.is_in_session(now):
        s._refuse_logon("Logon rejected: outside the session schedule", now)
        return
    reason = _authenticate(s, msg)
    if reason is not None:
        s._refuse_logon(f"Logon rejected: {reason}", now, credentials=True)
        return
    limit = cfg.max_heartbeat_interval
    if heartbeat_interval is None or not 0 <= heartbeat_interval <= limit:
        shown = "missing or invalid" if heartbeat_interval is None else f"{heartbeat_interval} out of range"
        s._refuse_logon(f"Logon rejected: HeartBtInt(108) {shown}, allowed 0 to {limit} seconds", now)
        return
    # 141=Y from the peer: both sides restart at 1 and our answer says so. Our own reset_on_logon:
    # both directions restart at 1 too, silently (a peer that did not restart is asked to resend).
    peer_reset = msg.get(141) == b"Y"
    if peer_reset or cfg.reset_on_logon:
        s._reset_numbers(now)
    _start_session(s, msg, seq, heartbeat_interval, peer_reset, now, answer=True)


def _on_initiator_logon(s: SessionCore, msg: Any, now: int) -> None:
    if msg.get(35) == b"5" and msg.get(49) == s._peer:
        text = field_text(msg.get(58))
        s._logout_received(LoggedOut(text, False), f"Logon refused: {text}" if text else "Logon refused")
        return
    checked = _check_logon_header(s, msg, now)
    if checked is None:
        return
    seq, _peer_interval = checked
    reset = msg.get(141) == b"Y"
    if reset and not s._sent_reset:
        # The acceptor reset both directions (141: "both sides ... should reset"): so do we, as a
        # reference initiator does; our Logon counts as the new number 1.
        s._follow_peer_reset(now)
    _start_session(s, msg, seq, s.config.heartbeat_interval, reset, now, answer=False)


def _start_session(s: SessionCore, msg: Any, seq: int, heartbeat_interval: int, reset: bool, now: int, *, answer: bool) -> None:
    expected = s._expected
    if seq < expected:
        s._logout_and_close(f"MsgSeqNum too low, expecting {expected} but received {seq}", now)
        return
    peer_next = int_or_none(msg.get(789)) if s._fix44 else None
    if seq == expected:
        s._advance(seq + 1)
    if answer:
        s._send_logon(heartbeat_interval, reset, now)  # 1S-a
    s._logon_completed(heartbeat_interval, reset or (answer and s.config.reset_on_logon), now)
    if peer_next is not None:
        # NextExpectedMsgSeqNum: resend what the peer missed, right after the Logon.
        our_next = s.store.next_sender_seq - 1 if answer else s.store.next_sender_seq
        if peer_next > our_next:
            s._logout_and_close(f"NextExpectedMsgSeqNum {peer_next} is higher than expected {our_next}", now)
            return
        if peer_next <= our_next - 1:
            s._start_resend(peer_next, our_next - 1, now)
    if seq > expected:  # 1S-b, 1B-b
        s._hold(seq, SKIP)
        planned = s._plan_too_high(seq, expected)
        if planned is not None:
            if s._sent_789 and peer_next is not None:
                s._expect_unasked_fill(planned[0], planned[2], now)  # ... or we ask after the timeout
            else:
                s._send_resend_request(planned[0], planned[1], now)


def _heartbeat_interval(value: bytes | None) -> int | None:
    """HeartBtInt(108) as a signed int (a negative one is refused by range), None when absent or bad."""
    if value is None or len(value) > 12:
        return None
    digits = value[1:] if value[:1] == b"-" else value
    return int(value) if digits.isdigit() else None
