"""The Logon handshake of both roles (1S, 1B, 2S) and NextExpectedMsgSeqNum (789, FIX 4.4).

An acceptor checks the peer's Logon (CompIDs, SendingTime, address, credentials, HeartBtInt), applies a
reset (the peer's 141=Y, or our ``reset_on_logon``) only once the Logon is accepted, and answers; an
initiator checks the answer to its own Logon. Both then start the session through ``_start_session``:
sequence checks on the Logon's own number (too low is fatal, too high is answered by a ResendRequest
after the Logon), the heartbeat timer, and the resend of what a 789 says the peer missed. This is one part
of the ``Session`` class (a mixin): it reads and writes the engine's state directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import FieldValueError, ValidationError
from .events import LoggedOn, LoggedOut, SequenceGap
from .heartbeat import HeartbeatTimer
from .messages import encode_body
from .sequencing import SKIP
from .states import Trigger, next_state
from .validation import check_sending_time, field_text, int_or_none

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
            parts.append(b"789=%d\x01" % self.store.next_target_seq)
            self._sent_789 = True
        return b"".join(parts)

    @staticmethod
    def _logout_body(text: str) -> bytes:
        return encode_body([(58, text)]) if text else b""

    def _check_logon_header(self: Session, msg: Any, now: int) -> tuple[int, int | None] | None:
        """Common Logon checks of both roles; returns (seq, HeartBtInt) or None after failing."""
        get = msg.get
        if get(35) != b"A":
            self._fail("first message is not a Logon")  # 1S-d, 1B-d
            return None
        if get(8) != self._begin or get(49) != self._peer or get(56) != self._us:
            self._fail("Logon with unexpected BeginString or CompIDs")  # 1S-c
            return None
        seq = int_or_none(get(34))
        if seq is None:
            self._fail("Logon without MsgSeqNum")
            return None
        _ns, reject = check_sending_time(get(52), now, self._tolerance_ns)
        if reject is not None:
            self._logout_and_close(reject.text, now)
            return None
        if self.dictionary is not None:
            try:
                self.dictionary.validate(msg)
            except (ValidationError, FieldValueError) as exc:
                # Username/Password are not in the FIX 4.2 dictionary but widely used there.
                if getattr(exc, "ref_tag", None) not in _LOGON_EXTRA_TAGS:
                    self._logout_and_close(f"Invalid Logon: {exc}", now)
                    return None
        return seq, int_or_none(get(108))

    def _on_acceptor_logon(self: Session, msg: Any, now: int) -> None:
        checked = self._check_logon_header(msg, now)
        if checked is None:
            return
        seq, heartbeat_interval = checked
        get = msg.get
        cfg = self.config
        if not cfg.address_allowed(self._peer_address):
            self._fail(f"Logon from a refused address {self._peer_address!r}")
            return
        if self.authenticator is not None:
            username = get(553)
            password = get(554)
            ok = self.authenticator(
                self.session_id,
                None if username is None else field_text(username),
                None if password is None else field_text(password),
                self._peer_address,
            )
            if not ok:
                self._fail("authentication failed")  # 1S-c: no reply
                return
        if heartbeat_interval is None:
            self._logout_and_close("HeartBtInt(108) missing or invalid", now)
            return
        # 141=Y from the peer: both sides restart at 1. Our own reset_on_logon policy: we restart at 1
        # (and our answer says so with 141=Y) but take the peer's numbering as it stands, with no gap.
        peer_reset = get(141) == b"Y"
        reset = peer_reset or cfg.reset_on_logon
        if reset:
            self.store.reset(now)
            if not peer_reset:
                self.store.set_next_target_seq(seq)
        self._start_session(msg, seq, heartbeat_interval, reset, now, answer=True)

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
            self.store.set_next_target_seq(1)  # the acceptor restarted its numbering
        self._start_session(msg, seq, self.config.heartbeat_interval, reset, now, answer=False)

    def _start_session(self: Session, msg: Any, seq: int, heartbeat_interval: int, reset: bool, now: int, *, answer: bool) -> None:
        store = self.store
        expected = store.next_target_seq
        if seq < expected:
            self._logout_and_close(f"MsgSeqNum too low, expecting {expected} but received {seq}", now)
            return
        peer_next = int_or_none(msg.get(789)) if self._fix44 else None
        if seq == expected:
            store.set_next_target_seq(seq + 1)
        self.heartbeat_interval = heartbeat_interval
        if answer:
            self._send_new(b"A", self._logon_body(heartbeat_interval, reset), now)  # 1S-a
        self._state = next_state(self._state, Trigger.LOGON_COMPLETED)
        self._timer_ns = None
        self._hb = HeartbeatTimer(heartbeat_interval, self.config.test_request_margin, now)
        schedule = self.config.schedule
        self._schedule_end_ns = None if schedule is None else schedule.session_end_ns(now)
        self._events.append(LoggedOn(heartbeat_interval, reset))
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
