"""The sans-I/O FIX session engine.

Theory of operation
-------------------
A driver (the transport, or a test) owns the socket and the clock. It calls ``connection_made``, feeds
every received chunk to ``receive_data``, drains ``next_event()`` until ``NEED_DATA``, writes whatever
``data_to_send()`` returns, and calls ``on_tick`` when ``next_deadline_ns()`` passes. The engine never
reads a clock and never blocks: time comes in as ``now_ns``.

Inbound: bytes go through the codec's ``Parser``; garbled frames are dropped without touching sequence
numbers (2d, 2m, 2t, 3b). Each frame then passes, in this order: the checks that end the session whatever
its number (BeginString 2i, MsgSeqNum present, CompIDs 2k, SendingTime 2o); the messages acted on whatever
their number (SequenceReset-Reset 11, Logout 13, a ResendRequest above a gap 20); then sequencing: too
high is held and the gap requested (2b), too low is a duplicate to ignore (2e) or fatal (2c), expected is
processed. In-order processing runs the per-message checks that answer with a Reject and consume the
number (2f, 2g, 2q, 2r, 14), then acts on the message type. Held messages are drained in order as soon
as the gap closes.

Outbound: every new message gets the next sender number and is saved in the store (``save_outbound``)
before its bytes are queued; ``data_to_send()`` commits the store before returning anything. While we
answer a ResendRequest, newly sent messages are held back so the wire always carries increasing numbers
after the resent ones.

State changes go through ``states.next_state`` only; timers (logon, logout, heartbeat, test request)
are compared with ``now_ns`` in ``on_tick``.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any, Callable, Iterable

from ..codec import Garbled, Message, Parser
from ..errors import FieldValueError, LocalProtocolError, ValidationError
from .config import SessionConfig, SessionID
from .events import (
    NEED_DATA,
    ApplicationMessage,
    Disconnected,
    Event,
    LoggedOn,
    LoggedOut,
    Rejected,
    RejectReceived,
    SequenceGap,
)
from .heartbeat import HeartbeatTimer
from .messages import FrameWriter, encode_body
from .outbox import Outbox
from .sequencing import SKIP, InboundSequencer
from .states import CONNECTED_STATES, SessionState, Trigger, next_state
from .store import SessionStore
from .validation import (
    ADMIN_MSG_TYPES,
    INCORRECT_DATA_FORMAT,
    REQUIRED_TAG_MISSING,
    UNSUPPORTED_MSG_TYPE,
    VALUE_INCORRECT,
    SessionReject,
    check_comp_ids,
    check_msg_type,
    check_poss_dup,
    check_sending_time,
    parse_sending_time,
)

__all__ = ["Session", "Authenticator"]

log = logging.getLogger("fixgw.session")

NS = 1_000_000_000
Authenticator = Callable[[SessionID, "str | None", "str | None", Any], bool]

_S = SessionState
_LOGON_EXTRA_TAGS = frozenset({553, 554, 789})
_ACTIVE = _S.ACTIVE
_LOGOUT_SENT = _S.LOGOUT_SENT


def _int_or_none(value: bytes | None) -> int | None:
    if value is None or not value.isdigit():
        return None
    return int(value)


def _text(value: bytes | None) -> str:
    return "" if value is None else value.decode("utf-8", "replace")


class Session:
    """One FIX session (acceptor or initiator) over one connection at a time; see the module docstring."""

    def __init__(
        self,
        config: SessionConfig,
        store: SessionStore,
        *,
        dictionary: Any = None,
        authenticator: Authenticator | None = None,
    ) -> None:
        self.config = config
        self.session_id = config.session_id
        self.store = store
        self.dictionary = dictionary
        self.authenticator = authenticator
        sid = config.session_id
        self._begin = sid.begin_string.encode("ascii")
        self._us = sid.sender_comp_id.encode("ascii")
        self._peer = sid.target_comp_id.encode("ascii")
        self._fix44 = sid.begin_string >= "FIX.4.4"
        self._writer = FrameWriter(sid.begin_string, sid.sender_comp_id, sid.target_comp_id, config.timestamp_precision)
        skew = config.max_sending_time_skew
        self._tolerance_ns = None if skew is None else int(skew * NS)
        self._supported = config.supported_app_msg_types
        self._data_tags = getattr(dictionary, "data_tags", None) if dictionary is not None else None

        self._state = _S.DISCONNECTED
        self._events: deque[Event] = deque()
        self._outbox = Outbox(config.resend_chunk_size)
        self._parser: Parser | None = None
        self._seq = InboundSequencer(config.resend_request_chunk_size, config.max_queued_messages)
        self._hb = HeartbeatTimer(0, 0.0, 0)
        self.heartbeat_interval = config.heartbeat_interval
        self._timer_ns: int | None = None  # logon or logout timeout, by state
        self._schedule_end_ns: int | None = None
        self._peer_address: Any = None
        self._test_req_counter = 0
        self._disconnect_reported = False
        self._sent_reset = False
        self._sent_789 = False
        self._last_now = 0

    # -- properties ---------------------------------------------------------------------------------
    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def is_logged_on(self) -> bool:
        return self._state is _ACTIVE

    @property
    def is_connected(self) -> bool:
        """True from ``connection_made`` until ``connection_lost``: the acceptor registry refuses a second."""
        return self._state is not _S.DISCONNECTED

    @property
    def wants_disconnect(self) -> bool:
        """True once the engine decided to close: flush ``data_to_send()``, close, call ``connection_lost``."""
        return self._state is _S.DISCONNECTING

    @property
    def awaiting_gap_fill(self) -> bool:
        return self._seq.awaiting_gap_fill

    @property
    def next_sender_seq(self) -> int:
        return self.store.next_sender_seq

    @property
    def next_target_seq(self) -> int:
        return self.store.next_target_seq

    @property
    def has_data_to_send(self) -> bool:
        return self._outbox.pending

    def in_schedule(self, now_ns: int) -> bool:
        """Tell whether the session's schedule (if any) allows it to run at ``now_ns``."""
        schedule = self.config.schedule
        return schedule is None or schedule.is_in_session(now_ns)

    # -- connection lifecycle ----------------------------------------------------------------------
    def connection_made(self, now_ns: int, peer_address: Any = None) -> None:
        """A connection is up. An initiator queues its Logon; an acceptor waits for the peer's."""
        cfg = self.config
        initiator = cfg.is_initiator
        self._state = next_state(self._state, Trigger.CONNECTED if initiator else Trigger.ACCEPTED)
        self._last_now = now_ns
        self._peer_address = peer_address
        self._parser = Parser(self._data_tags) if self._data_tags is not None else Parser()
        self._seq.clear()
        self._outbox.clear()
        self._disconnect_reported = False
        self._sent_reset = False
        self._sent_789 = False
        self._hb = HeartbeatTimer(0, 0.0, now_ns)
        self._timer_ns = now_ns + int(cfg.logon_timeout * NS)
        schedule = cfg.schedule
        if schedule is not None:
            if not schedule.is_in_session(now_ns):
                self._fail("outside the session schedule")
                return
            if schedule.needs_reset(self.store.creation_time_ns, now_ns):
                log.info("%s: new scheduled session, sequence numbers reset", self.session_id)
                self.store.reset(now_ns)
        if initiator:
            if cfg.reset_on_logon:
                self.store.reset(now_ns)
                self._sent_reset = True
            self._send_new(b"A", self._logon_body(cfg.heartbeat_interval, self._sent_reset), now_ns)

    def connection_lost(self, now_ns: int) -> None:
        """The connection is closed (by either side). Held and queued state is dropped; the store stays."""
        if self._state is _S.DISCONNECTED:
            return
        self._state = next_state(self._state, Trigger.CONNECTION_LOST)
        self._last_now = now_ns
        if not self._disconnect_reported:
            self._disconnect_reported = True
            self._events.append(Disconnected("connection lost"))
        self._outbox.clear()
        self._seq.clear()
        self._parser = None
        self._timer_ns = None

    def logout(self, now_ns: int, text: str = "") -> None:
        """Start the Logout handshake (12); before logon this just closes."""
        new = next_state(self._state, Trigger.LOGOUT_REQUESTED)
        self._last_now = now_ns
        if new is _LOGOUT_SENT:
            self._send_new(b"5", self._logout_body(text), now_ns)
            self._state = new
            self._timer_ns = now_ns + int(self.config.logout_timeout * NS)
        else:
            self._state = new
            self._report_disconnect(text or "logout before logon")

    # -- the application's side --------------------------------------------------------------------
    def send(
        self,
        msg_type: bytes | str,
        body_fields: Iterable[tuple[int, Any]] | bytes,
        now_ns: int,
        *,
        header_fields: Iterable[tuple[int, Any]] = (),
    ) -> int:
        """Send an application message; return its MsgSeqNum.

        The message is stored in every state; it is queued for the wire only when logged on. Sent while
        disconnected it reaches the peer through the peer's ResendRequest after the next Logon (16).
        ``body_fields`` may be ready ``tag=value SOH`` bytes. ``header_fields`` (e.g. 115, 128) follow 52.
        """
        if type(msg_type) is str:
            msg_type = msg_type.encode("ascii")
        if msg_type in ADMIN_MSG_TYPES:
            raise LocalProtocolError(f"MsgType {msg_type!r} is a session message; the engine sends those")
        self._last_now = now_ns
        writer = self._writer
        store = self.store
        seq = store.next_sender_seq
        sending_time = writer.timestamp(now_ns)
        try:
            if type(body_fields) is bytes:
                extra = encode_body(header_fields) if header_fields else b""
                frame = writer.frame(msg_type, seq, sending_time, body_fields, extra)  # type: ignore[arg-type]
            elif header_fields:
                frame = writer.frame_fields(msg_type, seq, sending_time, [*header_fields, *body_fields])
            else:
                frame = writer.frame_fields(msg_type, seq, sending_time, body_fields)
        except (TypeError, ValueError) as exc:
            raise LocalProtocolError(f"cannot encode message: {exc}") from None
        store.save_outbound(seq, frame)
        if self._state is _ACTIVE:
            self._queue_frame(seq, frame, now_ns)
        return seq

    def next_event(self) -> Event | Any:
        """Return the next event, or ``NEED_DATA``."""
        events = self._events
        return events.popleft() if events else NEED_DATA

    def data_to_send(self) -> bytes:
        """Return the bytes to write now (b"" if none), after committing the store."""
        outbox = self._outbox
        if not outbox.frames:
            if outbox.cursor is None:
                return b""
            outbox.produce(self.store, self._writer, self._last_now)
            self._hb.last_sent_ns = self._last_now
            if not outbox.frames:
                return b""
        self.store.commit()
        return outbox.take()

    def next_deadline_ns(self) -> int | None:
        """Return when ``on_tick`` must next run, or None when no timer is armed."""
        state = self._state
        if self._outbox.cursor is not None:
            return self._last_now
        if state is _ACTIVE:
            deadline = self._hb.next_deadline_ns()
            end = self._schedule_end_ns
            if end is not None and (deadline is None or end < deadline):
                return end
            return deadline
        if state in (_S.AWAITING_LOGON, _S.LOGON_SENT, _LOGOUT_SENT):
            return self._timer_ns
        return None

    def on_tick(self, now_ns: int) -> None:
        """Run the timers: logon/logout timeouts, Heartbeat (4a), TestRequest and its timeout (6)."""
        self._last_now = now_ns
        state = self._state
        if state is _ACTIVE:
            end = self._schedule_end_ns
            if end is not None and now_ns >= end:
                self._schedule_end_ns = None
                self.logout(now_ns, "End of session")
                return
            hb = self._hb
            if hb.timed_out(now_ns):
                self._fail("no answer to TestRequest")
                return
            if hb.test_request_due(now_ns):
                self._test_req_counter += 1
                self._send_new(b"1", b"112=TEST%d\x01" % self._test_req_counter, now_ns)
                hb.test_request_sent(now_ns)
            if hb.heartbeat_due(now_ns):
                self._send_new(b"0", b"", now_ns)
        elif state in (_S.AWAITING_LOGON, _S.LOGON_SENT):
            if self._timer_ns is not None and now_ns >= self._timer_ns:
                self._fail("logon timeout")
        elif state is _LOGOUT_SENT:
            if self._timer_ns is not None and now_ns >= self._timer_ns:
                self._fail("logout timeout")

    # -- inbound -----------------------------------------------------------------------------------
    def receive_data(self, data: bytes, now_ns: int) -> None:
        """Feed received bytes; ``b""`` means the peer closed the connection."""
        if self._state not in CONNECTED_STATES:
            return
        self._last_now = now_ns
        if not data:
            self._fail("connection closed by peer")
            return
        parser = self._parser
        assert parser is not None
        parser.feed(data)
        on_message = self._on_message
        while True:
            item = parser.next_event()
            if type(item) is Message or isinstance(item, Message):
                on_message(item, now_ns)
                state = self._state
                if state is _S.DISCONNECTING or state is _S.DISCONNECTED:
                    return
            elif isinstance(item, Garbled):
                log.warning("%s: garbled frame ignored: %s", self.session_id, item.reason)
            else:
                return

    def _on_message(self, msg: Any, now: int) -> None:
        state = self._state
        if state is _ACTIVE or state is _LOGOUT_SENT:
            self._on_session_message(msg, now)
        elif state is _S.AWAITING_LOGON:
            self._on_acceptor_logon(msg, now)
        elif state is _S.LOGON_SENT:
            self._on_initiator_logon(msg, now)

    def _on_session_message(self, msg: Any, now: int) -> None:
        get = msg.get
        self._hb.received(now)
        if get(8) != self._begin:
            self._logout_and_close("Incorrect BeginString", now)  # 2i
            return
        seq = _int_or_none(get(34))
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

    def _drain(self, now: int) -> None:
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

    def _process(self, msg: Any, seq: int, mt: bytes, now: int, sending_time: bytes | None, sending_ns: int | None) -> None:
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
                RejectReceived(_int_or_none(get(45)), _int_or_none(get(373)), _int_or_none(get(371)), _text(get(58)), msg)
            )
        elif mt == b"4":
            self._on_gap_fill(msg, seq, now)  # 10
        elif mt == b"5":
            store.set_next_target_seq(seq + 1)
            self._on_logout(msg, now)
        else:  # b"A": a Logon inside a session
            store.set_next_target_seq(seq + 1)
            self._logout_and_close("Unexpected Logon", now)

    def _validate(self, msg: Any, seq: int, mt: bytes, now: int) -> bool:
        try:
            self.dictionary.validate(msg)
        except ValidationError as exc:  # 14a-14i
            self._reject_and_consume(seq, mt, SessionReject(exc.reason, exc.ref_tag, exc.text), now)
            return False
        except FieldValueError as exc:
            self._reject_and_consume(seq, mt, SessionReject(INCORRECT_DATA_FORMAT, exc.tag, str(exc)), now)
            return False
        return True

    def _on_gap_fill(self, msg: Any, seq: int, now: int) -> None:
        new_seq = _int_or_none(msg.get(36))
        if new_seq is None:
            self._reject_and_consume(seq, b"4", SessionReject(REQUIRED_TAG_MISSING, 36, "Required tag missing"), now)
            return
        if new_seq <= seq:  # 10e
            text = f"Attempt to lower sequence number, invalid value NewSeqNo={new_seq}"
            self._reject_and_consume(seq, b"4", SessionReject(VALUE_INCORRECT, 36, text), now)
            return
        self.store.set_next_target_seq(new_seq)  # 10b

    def _on_sequence_reset(self, msg: Any, seq: int, now: int) -> None:
        new_seq = _int_or_none(msg.get(36))
        expected = self.store.next_target_seq
        if new_seq is None:
            self._reject(seq, b"4", SessionReject(REQUIRED_TAG_MISSING, 36, "Required tag missing"), now)
            return
        if new_seq < expected:  # 11c
            text = f"Value is incorrect (out of range) for this tag: NewSeqNo={new_seq} below {expected}"
            self._reject(seq, b"4", SessionReject(VALUE_INCORRECT, 36, text), now)
            return
        if new_seq > expected:  # 11a (11b: equal, nothing to do)
            self.store.set_next_target_seq(new_seq)
            self._drain(now)

    def _on_logout(self, msg: Any, now: int) -> None:
        text = _text(msg.get(58))
        if self._state is _LOGOUT_SENT:  # 13a
            self._state = next_state(self._state, Trigger.LOGOUT_RECEIVED)
            self._events.append(LoggedOut(text, True))
            self._report_disconnect("logout completed")
        else:  # 13b
            self._send_new(b"5", b"", now)
            self._state = next_state(self._state, Trigger.LOGOUT_RECEIVED)
            self._events.append(LoggedOut(text, False))
            self._report_disconnect("logout requested by peer")

    # -- Logon -------------------------------------------------------------------------------------
    def _logon_body(self, heartbeat_interval: int, reset: bool) -> bytes:
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

    def _check_logon_header(self, msg: Any, now: int) -> tuple[int, int | None] | None:
        """Common Logon checks of both roles; returns (seq, HeartBtInt) or None after failing."""
        get = msg.get
        if get(35) != b"A":
            self._fail("first message is not a Logon")  # 1S-d, 1B-d
            return None
        if get(8) != self._begin or get(49) != self._peer or get(56) != self._us:
            self._fail("Logon with unexpected BeginString or CompIDs")  # 1S-c
            return None
        seq = _int_or_none(get(34))
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
        return seq, _int_or_none(get(108))

    def _on_acceptor_logon(self, msg: Any, now: int) -> None:
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
                None if username is None else _text(username),
                None if password is None else _text(password),
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

    def _on_initiator_logon(self, msg: Any, now: int) -> None:
        if msg.get(35) == b"5" and msg.get(49) == self._peer:
            text = _text(msg.get(58))
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

    def _start_session(self, msg: Any, seq: int, heartbeat_interval: int, reset: bool, now: int, *, answer: bool) -> None:
        store = self.store
        expected = store.next_target_seq
        if seq < expected:
            self._logout_and_close(f"MsgSeqNum too low, expecting {expected} but received {seq}", now)
            return
        peer_next = _int_or_none(msg.get(789)) if self._fix44 else None
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
                else:
                    self._send_resend_request(planned[0], planned[1], now)

    # -- outbound ----------------------------------------------------------------------------------
    def _send_new(self, msg_type: bytes, body: bytes, now: int, extra_header: bytes = b"") -> int:
        """Number, store and queue a new message."""
        store = self.store
        seq = store.next_sender_seq
        frame = self._writer.frame(msg_type, seq, self._writer.timestamp(now), body, extra_header)
        store.save_outbound(seq, frame)
        self._queue_frame(seq, frame, now)
        return seq

    def _queue_frame(self, seq: int, frame: bytes, now: int) -> None:
        self._outbox.push(seq, frame)
        self._hb.last_sent_ns = now

    def _send_resend_request(self, begin: int, end: int, now: int) -> None:
        log.info("%s: sequence gap, asking for %d..%d", self.session_id, begin, end)
        self._send_new(b"2", b"7=%d\x0116=%d\x01" % (begin, end), now)
        self._events.append(SequenceGap(begin, end))

    def _reject(self, seq: int, mt: bytes | None, reject: SessionReject, now: int) -> None:
        if mt == b"3":
            return  # 7: never answer a Reject with a Reject
        parts = [b"45=%d\x01" % seq]
        if reject.ref_tag is not None:
            parts.append(b"371=%d\x01" % reject.ref_tag)
        if mt:
            parts.append(b"372=%s\x01" % mt)
        if self._fix44 or reject.reason <= 11:  # FIX 4.2 defines 373 values 0-11 only
            parts.append(b"373=%d\x01" % reject.reason)
        parts.append(encode_body([(58, reject.text)]))
        self._send_new(b"3", b"".join(parts), now)
        log.info("%s: rejected %d (373=%d): %s", self.session_id, seq, reject.reason, reject.text)
        self._events.append(Rejected(seq, reject.reason, reject.text, reject.ref_tag, mt, False))

    def _reject_and_consume(self, seq: int, mt: bytes | None, reject: SessionReject, now: int) -> None:
        self._reject(seq, mt, reject, now)
        self.store.set_next_target_seq(seq + 1)

    def _business_reject(self, seq: int, mt: bytes, reason: int, text: str, now: int) -> None:
        body = b"45=%d\x01372=%s\x01380=%d\x01" % (seq, mt, reason) + encode_body([(58, text)])
        self._send_new(b"j", body, now)
        self._events.append(Rejected(seq, reason, text, None, mt, True))

    def _logout_and_close(self, text: str, now: int) -> None:
        log.warning("%s: logging out: %s", self.session_id, text)
        self._send_new(b"5", self._logout_body(text), now)
        self._fail(text)

    def _fail(self, reason: str) -> None:
        if self._state in CONNECTED_STATES:
            self._state = next_state(self._state, Trigger.FAILED)
        self._report_disconnect(reason)

    def _report_disconnect(self, reason: str) -> None:
        self._seq.clear()
        self._timer_ns = None
        if not self._disconnect_reported:
            self._disconnect_reported = True
            self._events.append(Disconnected(reason))

    # -- answering a ResendRequest -----------------------------------------------------------------
    def _serve_resend_request(self, msg: Any, seq: int, now: int) -> None:
        begin = _int_or_none(msg.get(7))
        end = _int_or_none(msg.get(16))
        if begin is None or end is None:
            tag = 7 if begin is None else 16
            self._reject(seq, b"2", SessionReject(REQUIRED_TAG_MISSING, tag, "Required tag missing"), now)
            return
        if begin < 1 or (end != 0 and end < begin):
            self._reject(seq, b"2", SessionReject(VALUE_INCORRECT, 7, "Value is incorrect (out of range)"), now)
            return
        last = self._outbox.last_resendable(self.store.next_sender_seq)
        if end == 0 or end > last or (not self._fix44 and end == 999_999):
            end = last
        if begin > end:
            return  # nothing sent in that range yet
        self._start_resend(begin, end, now)

    def _start_resend(self, begin: int, end: int, now: int) -> None:
        outbox = self._outbox
        outbox.start_resend(begin, end)
        if outbox.chunk == 0:
            outbox.produce(self.store, self._writer, now)
            self._hb.last_sent_ns = now
