"""The Logon handshake of both roles (1S, 1B, 2S) and NextExpectedMsgSeqNum (789, FIX 4.4).

An acceptor checks the peer's Logon (BeginString, CompIDs, SendingTime, address, schedule, credentials,
HeartBtInt), applies a reset (the peer's 141=Y, or our ``reset_on_logon``) only once the Logon is
accepted, and answers; the answer carries ResetSeqNumFlag(141)=Y only when the peer's Logon asked for it
(our own ``reset_on_logon`` resets both directions silently). A refused Logon gets a Logout whose Text
says why (except a stranger: wrong CompIDs or a refused address get no reply), then ``LogonRefused`` and
``Disconnected``. An initiator checks the answer to its own Logon. Both then start the session through ``_start_session``:
sequence checks on the Logon's own number (too low is fatal, too high is answered by a ResendRequest
after the Logon), the heartbeat timer, and the resend of what a 789 says the peer missed. This is one part
of the ``Session`` class (a mixin): it reads and writes the engine's state directly.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..errors import FieldValueError, ValidationError
from ..logsafe import printable
from .events import LoggedOn, LoggedOut, LogonRefused, SequenceGap
from .heartbeat import HeartbeatTimer
from .messages import encode_body
from .sequencing import SKIP
from .states import Trigger, next_state
from .validation import check_sending_time, field_text, int_or_none

log = logging.getLogger("fixgw.session")

if TYPE_CHECKING:  # pragma: no cover
    from ._engine import Session

__all__ = ["LogonHandshake"]

#: Tags of a Logon that a FIX 4.2 dictionary does not know but counterparties send anyway.
_LOGON_EXTRA_TAGS = frozenset({553, 554, 789})


class LogonHandshake:
    """Logon checks and answers of both roles."""

    __slots__ = ()

    def _logon_body(self: Session, heartbeat_interval: int, reset: bool) -> bytes:
        cfg = self.config
        parts = [b"98=0\x01108=%d\x01" % heartbeat_interval]
        if reset:
            parts.append(b"141=Y\x01")
        if cfg.is_initiator:
            if cfg.username is not None:
                parts.append(encode_body([(553, cfg.username)]))
            if cfg.password is not None:
                parts.append(encode_body([(554, cfg.password)]))
        if self._fix44 and cfg.send_next_expected_msg_seq_num:
            parts.append(b"789=%d\x01" % self._expected)
            self._sent_789 = True
        return b"".join(parts)

    def _refuse_logon(self: Session, text: str, now: int, *, reply: bool = True) -> None:
        """Refuse a Logon: a Logout saying why (unless ``reply`` is False), ``LogonRefused``, disconnect."""
        log.warning("%s: %s", self.session_id, printable(text))
        if reply:
            self._send_new(b"5", self._logout_body(text), now)
        self._events.append(LogonRefused(text))
        self._fail(text)

    def _garbled_first(self: Session, reason: str, now: int) -> None:
        text = f"garbled first message: {reason}"
        log.warning("%s: %s", self.session_id, printable(text))
        self._first_bytes = None
        if self.config.is_initiator:
            self._fail(text)
        else:
            self._refuse_logon(text, now, reply=False)

    @staticmethod
    def _logout_body(text: str) -> bytes:
        return encode_body([(58, text)]) if text else b""

    def _check_logon_header(self: Session, msg: Any, now: int) -> tuple[int, int | None] | None:
        """Common Logon checks of both roles; returns (seq, HeartBtInt) or None after refusing it."""
        get = msg.get
        if get(35) != b"A":
            self._refuse_logon("first message is not a Logon", now, reply=False)  # 1S-d, 1B-d
            return None
        begin = get(8)
        if begin != self._begin:
            got = field_text(begin)
            self._refuse_logon(f"Incorrect BeginString: expected {self._begin.decode()}, received {got}", now)
            return None
        if get(49) != self._peer or get(56) != self._us:
            self._refuse_logon("Logon with unexpected CompIDs", now, reply=False)  # 1S-c: a stranger
            return None
        seq = int_or_none(get(34))
        if seq is None:
            self._refuse_logon("Logon rejected: MsgSeqNum(34) missing or invalid", now)
            return None
        _ns, reject = check_sending_time(get(52), now, self._tolerance_ns)
        if reject is not None:
            self._refuse_logon(f"Logon rejected: {reject.text}", now)
            return None
        if self.dictionary is not None:
            try:
                options = self._validate_options
                if options:
                    self.dictionary.validate(msg, **options)
                else:
                    self.dictionary.validate(msg)
            except (ValidationError, FieldValueError) as exc:
                # Username/Password are not in the FIX 4.2 dictionary but widely used there.
                if getattr(exc, "ref_tag", None) not in _LOGON_EXTRA_TAGS:
                    self._refuse_logon(f"Invalid Logon: {exc}", now)
                    return None
        return seq, _heartbeat_interval(get(108))

    def _authenticate(self: Session, msg: Any) -> str | None:
        """Ask the authenticator; return None when the Logon is accepted, else the reason to give."""
        if self.authenticator is None:
            return None
        get = msg.get
        username = get(553)
        password = get(554)
        try:
            verdict = self.authenticator(
                self.session_id,
                None if username is None else field_text(username),
                None if password is None else field_text(password),
                self._peer_address,
            )
        except Exception as exc:  # the authenticator's failure refuses the Logon, it does not crash us
            log.warning("%s: authenticator failed: %s", self.session_id, printable(type(exc).__name__))
            return "authentication failed"
        if verdict is True:
            return None
        if isinstance(verdict, str) and verdict:
            return verdict
        return "authentication failed"

    def _on_acceptor_logon(self: Session, msg: Any, now: int) -> None:
        checked = self._check_logon_header(msg, now)
        if checked is None:
            return
        seq, heartbeat_interval = checked
        get = msg.get
        cfg = self.config
        if not cfg.address_allowed(self._peer_address):
            self._refuse_logon(f"Logon from a refused address {self._peer_address!r}", now, reply=False)
            return
        if not self.in_schedule(now):
            self._refuse_logon("Logon rejected: outside the session schedule", now)
            return
        reason = self._authenticate(msg)
        if reason is not None:
            self._refuse_logon(f"Logon rejected: {reason}", now)
            return
        limit = cfg.max_heartbeat_interval
        if heartbeat_interval is None or not 0 <= heartbeat_interval <= limit:
            shown = "missing or invalid" if heartbeat_interval is None else f"{heartbeat_interval} out of range"
            self._refuse_logon(f"Logon rejected: HeartBtInt(108) {shown}, allowed 0 to {limit} seconds", now)
            return
        # 141=Y from the peer: both sides restart at 1 and our answer says so. Our own reset_on_logon:
        # both directions restart at 1 too, silently (a peer that did not restart is asked to resend).
        peer_reset = get(141) == b"Y"
        if peer_reset or cfg.reset_on_logon:
            self._reset_store(now)
        self._start_session(msg, seq, heartbeat_interval, peer_reset, now, answer=True)

    def _on_initiator_logon(self: Session, msg: Any, now: int) -> None:
        if msg.get(35) == b"5" and msg.get(49) == self._peer:
            text = field_text(msg.get(58))
            self._state = next_state(self._state, Trigger.LOGOUT_RECEIVED)
            self._events.append(LoggedOut(text, False))
            self._report_disconnect(f"Logon refused: {text}" if text else "Logon refused")
            return
        checked = self._check_logon_header(msg, now)
        if checked is None:
            return
        seq, _peer_interval = checked
        reset = msg.get(141) == b"Y"
        if reset and not self._sent_reset:
            # The acceptor reset both directions (141: "both sides ... should reset"): so do we, as a
            # reference initiator does; our Logon counts as the new number 1.
            self._reset_store(now)
            self.store.set_next_sender_seq(2)
        self._start_session(msg, seq, self.config.heartbeat_interval, reset, now, answer=False)

    def _start_session(self: Session, msg: Any, seq: int, heartbeat_interval: int, reset: bool, now: int, *, answer: bool) -> None:
        store = self.store
        expected = self._expected
        if seq < expected:
            self._logout_and_close(f"MsgSeqNum too low, expecting {expected} but received {seq}", now)
            return
        peer_next = int_or_none(msg.get(789)) if self._fix44 else None
        if seq == expected:
            self._advance(seq + 1)
        self.heartbeat_interval = heartbeat_interval
        if answer:
            self._send_new(b"A", self._logon_body(heartbeat_interval, reset), now)  # 1S-a
        self._state = next_state(self._state, Trigger.LOGON_COMPLETED)
        self._timer_ns = None
        self._hb = HeartbeatTimer(heartbeat_interval, self.config.test_request_margin, now)
        schedule = self.config.schedule
        self._schedule_end_ns = None if schedule is None else schedule.session_end_ns(now)
        self._events.append(LoggedOn(heartbeat_interval, reset or (answer and self.config.reset_on_logon)))
        if peer_next is not None:
            # NextExpectedMsgSeqNum: resend what the peer missed, right after the Logon.
            our_next = store.next_sender_seq - 1 if answer else store.next_sender_seq
            if peer_next > our_next:
                self._logout_and_close(f"NextExpectedMsgSeqNum {peer_next} is higher than expected {our_next}", now)
                return
            if peer_next <= our_next - 1:
                self._start_resend(peer_next, our_next - 1, now)
        if seq > expected:  # 1S-b, 1B-b
            self._seq.hold(seq, SKIP)
            planned = self._seq.on_too_high(seq, expected)
            if planned is not None:
                if self._sent_789 and peer_next is not None:
                    self._events.append(SequenceGap(planned[0], planned[2]))  # the peer fills it unasked
                    self._watch_gap(planned[0], now, asked=False)  # ... or we ask after the timeout
                else:
                    self._send_resend_request(planned[0], planned[1], now)


def _heartbeat_interval(value: bytes | None) -> int | None:
    """HeartBtInt(108) as a signed int (a negative one is refused by range), None when absent or bad."""
    if value is None or len(value) > 12:
        return None
    digits = value[1:] if value[:1] == b"-" else value
    return int(value) if digits.isdigit() else None
