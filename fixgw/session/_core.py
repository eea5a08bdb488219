"""The state of a FIX session and every change to it.

Theory of operation
-------------------
``SessionCore`` holds all the state of a session and is the only code that changes it: the connection
state (moved through ``states.next_state`` only), the inbound numbers, the messages held above a gap and
our outstanding ResendRequest (``sequencing``), the outbound queue and the resend in progress
(``outbox``), the heartbeat and TestRequest timers (``heartbeat``), the logon/logout timer, the end of
the schedule, the watchdog of our own ResendRequests, and the handshake's flags (a reset or a 789 we sent).
Its collaborators (store, parser, outbox, sequencer, timers, event queue) are called from here only.

``Session`` (``_engine.py``) is this class plus the public entry points that decide without changing
anything themselves, and adds no state (``__slots__ = ()``). The protocol's decisions are functions of
``(session, message, now)`` in ``_logon.py``, ``_inbound.py`` and ``_admin.py``: they read the state and
ask for every change by calling a method here. Frames reach them through the two hooks
``_on_logon_message`` and ``_on_session_message``, which ``Session`` binds; none of those modules
imports the engine. ``tests/session/test_structure.py`` checks these rules on the source.

Durable before counted: ``_expected`` (the next number expected from the peer) moves at once. The
store's persisted number follows it, except past an application message whose ``ApplicationMessage``
is still waiting in the event queue: for each such event, ``_persist_after`` keeps the number to persist
when ``next_event()`` hands it over (admin messages processed after it move that number, never the
store). So a commit never persists a number past a message the application has not seen.

Outbound: every new message gets the next sender number and is saved in the store before its bytes are
queued (a MsgType of ``config.gap_fill_msg_types`` only moves the stored number: a resend gap-fills
it); ``data_to_send()`` commits the store before returning anything. While we answer a
ResendRequest, newly sent messages are held back so the wire always carries increasing numbers.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any, Iterable

from ..codec import NEED_MORE, Garbled, Message, Parser
from ..errors import LocalProtocolError
from ..logsafe import printable
from .config import SessionConfig
from .events import NEED_DATA, ApplicationMessage, Disconnected, Event, LoggedOn, LogonRefused, Rejected, SequenceGap
from .heartbeat import HeartbeatTimer
from .messages import FrameWriter, SharedBody, business_reject_body, encode_body, logon_body, logout_body, reject_body, reverse_route
from .outbox import Outbox
from .sequencing import GIVE_UP, WAIT, GapWatch, InboundSequencer
from .states import CONNECTED_STATES, SessionState, Trigger, next_state
from .store import SessionStore
from .validation import ADMIN_MSG_TYPES, SessionReject, first_frame_problem

__all__ = ["SessionCore"]

log = logging.getLogger("fixgw.session")

NS = 1_000_000_000
#: Past this many bytes without a first frame, judging it is left to the parser (its own bound applies).
_FIRST_BYTES_MAX = 1 << 16

_S = SessionState
_ACTIVE = _S.ACTIVE
_LOGOUT_SENT = _S.LOGOUT_SENT
_LOGON_STATES = (_S.AWAITING_LOGON, _S.LOGON_SENT)


class SessionCore:
    """The state of one session and every change to it; see the module docstring."""

    __slots__ = (
        # fixed for the session's life
        "config", "session_id", "store", "dictionary", "authenticator", "_begin", "_us", "_peer", "_fix44",
        "_writer", "_tolerance_ns", "_supported", "_data_tags", "_validate_options",
        # the connection, the numbers and the timers
        "_state", "_events", "_expected", "_persist_after", "_first_bytes", "_outbox", "_parser", "_seq",
        "_hb", "heartbeat_interval", "_timer_ns", "_schedule_end_ns", "_peer_address", "_test_req_counter",
        "_disconnect_reported", "_sent_reset", "_sent_789", "_last_now", "_gap",
    )  # fmt: skip

    def __init__(self, config: SessionConfig, store: SessionStore, *, dictionary: Any = None, authenticator: Any = None) -> None:
        self.config = config
        self.session_id = sid = config.session_id
        self.store = store
        self.dictionary = dictionary
        self.authenticator = authenticator
        self._begin = sid.begin_string.encode("ascii")
        self._us = sid.sender_comp_id.encode("ascii")
        self._peer = sid.target_comp_id.encode("ascii")
        self._fix44 = sid.begin_string >= "FIX.4.4"
        self._writer = FrameWriter(sid.begin_string, sid.sender_comp_id, sid.target_comp_id, config.timestamp_precision)
        skew = config.max_sending_time_skew
        self._tolerance_ns = None if skew is None else int(skew * NS)
        self._supported = config.supported_app_msg_types
        self._data_tags = getattr(dictionary, "data_tags", None) if dictionary is not None else None
        options: dict[str, bool] = {}  # keyword arguments of dictionary.validate(); none when strict
        if not config.validate_user_defined_fields:
            options["validate_user_defined_fields"] = False
        if config.allow_unknown_message_fields:
            options["allow_unknown_message_fields"] = True
        self._validate_options = options

        self._state = _S.DISCONNECTED
        self._events: deque[Event] = deque()
        # For each ApplicationMessage not yet handed over: the number to persist then (0: a reset came after).
        self._expected = store.next_target_seq
        self._persist_after: deque[int] = deque()
        # While awaiting the first message: the bytes seen so far, to judge a garbled first frame at once.
        self._first_bytes: bytearray | None = None
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
        gap_timeout = config.gap_fill_timeout
        self._gap = GapWatch(None if gap_timeout is None else int(gap_timeout * NS))

    # -- hooks bound by Session (_engine.py) ----------------------------------------------------------
    def _on_logon_message(self, msg: Any, now: int) -> None:  # pragma: no cover - always bound
        raise NotImplementedError

    def _on_session_message(self, msg: Any, now: int) -> None:  # pragma: no cover - always bound
        raise NotImplementedError

    # -- the driver's side ----------------------------------------------------------------------------
    def _connected(self, now: int, peer_address: Any) -> None:
        """A new connection: fresh parser, queues and timers; the numbers come from the store."""
        self._state = next_state(self._state, Trigger.CONNECTED if self.config.is_initiator else Trigger.ACCEPTED)
        self._last_now = now
        self._peer_address = peer_address
        self._parser = Parser(self._data_tags) if self._data_tags is not None else Parser()
        self._seq.clear()
        self._gap.forget()
        self._outbox.clear()
        self._disconnect_reported = False
        self._sent_reset = False
        self._sent_789 = False
        self._hb = HeartbeatTimer(0, 0.0, now)
        self._timer_ns = now + int(self.config.logon_timeout * NS)
        self._first_bytes = bytearray()
        if not self._persist_after:
            self._expected = self.store.next_target_seq  # the store is the truth between connections

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
        self._gap.forget()
        self._parser = None
        self._first_bytes = None
        self._timer_ns = None

    def logout(self, now_ns: int, text: str = "") -> None:
        """Start the Logout handshake (12); before logon this just closes."""
        new = next_state(self._state, Trigger.LOGOUT_REQUESTED)
        self._last_now = now_ns
        if new is _LOGOUT_SENT:
            self._send_new(b"5", logout_body(text), now_ns)
            self._state = new
            self._timer_ns = now_ns + int(self.config.logout_timeout * NS)
        else:
            self._state = new
            self._report_disconnect(text or "logout before logon")

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
        while True:
            item = parser.next_event()
            if type(item) is Message or (item is not NEED_MORE and isinstance(item, Message)):
                state = self._state
                if state is _ACTIVE or state is _LOGOUT_SENT:
                    self._hb.received(now_ns)
                    self._on_session_message(item, now_ns)
                else:
                    self._first_bytes = None
                    if not self._persist_after:
                        self._expected = self.store.next_target_seq  # before logon the store is the truth
                    self._on_logon_message(item, now_ns)
                state = self._state
                if state is _S.DISCONNECTING or state is _S.DISCONNECTED:
                    return
            elif item is not NEED_MORE and isinstance(item, Garbled):
                if self._state is _ACTIVE or self._state is _LOGOUT_SENT:
                    log.warning("%s: garbled frame ignored: %s", self.session_id, printable(item.reason))
                else:
                    self._garbled_first(item.reason, now_ns)  # no session yet to resynchronise
                    return
            else:
                first = self._first_bytes
                if first is not None:
                    # The parser reports a bad frame only once it can resynchronise; the first frame of
                    # a connection is judged as soon as its bytes are in.
                    first += data
                    problem = first_frame_problem(first)
                    if problem is not None:
                        self._garbled_first(problem, now_ns)
                    elif len(first) > _FIRST_BYTES_MAX:
                        self._first_bytes = None
                return

    def send(
        self,
        msg_type: bytes | str,
        body_fields: Iterable[tuple[int, Any]] | bytes | SharedBody,
        now_ns: int,
        *,
        header_fields: Iterable[tuple[int, Any]] = (),
    ) -> int:
        """Send an application message; return its MsgSeqNum.

        The message is stored in every state; it is queued for the wire only when logged on. Sent while
        disconnected it reaches the peer through the peer's ResendRequest after the next Logon (16).
        A MsgType of ``config.gap_fill_msg_types`` is not stored: a resend gap-fills its number.
        ``body_fields`` may be ready ``tag=value SOH`` bytes, or a ``SharedBody`` (one body encoded for many
        sessions). ``header_fields`` (e.g. 115, 128) follow 52.
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
            elif type(body_fields) is SharedBody:
                extra = encode_body(header_fields) if header_fields else b""
                frame = writer.frame_shared(msg_type, seq, sending_time, body_fields, extra)
            elif header_fields:
                frame = writer.frame_fields(msg_type, seq, sending_time, [*header_fields, *body_fields])
            else:
                frame = writer.frame_fields(msg_type, seq, sending_time, body_fields)
        except (TypeError, ValueError) as exc:
            raise LocalProtocolError(f"cannot encode message: {exc}") from None
        if msg_type in self.config.gap_fill_msg_types:
            store.advance_sender_seq(seq + 1)  # never resent: only its number is kept (a GapFill covers it)
        else:
            store.save_outbound(seq, frame)
        if self._state is _ACTIVE:
            self._outbox.push(seq, frame)
            self._hb.sent(now_ns)
        return seq

    def next_event(self) -> Event | Any:
        """Return the next event, or ``NEED_DATA``.

        Handing over an ``ApplicationMessage`` is what counts its MsgSeqNum as received in the store
        (``set_next_target_seq``), together with the admin messages processed after it: the driver must
        handle each event (and write what it causes to the same store) before the store's next commit.
        """
        events = self._events
        if not events:
            return NEED_DATA
        event = events.popleft()
        if type(event) is ApplicationMessage:
            n = self._persist_after.popleft()
            if n:
                self.store.set_next_target_seq(n)
        return event

    def data_to_send(self) -> bytes:
        """Return the bytes to write now (b"" if none), after committing the store."""
        outbox = self._outbox
        if outbox.cursor is not None:  # one chunk of the resend in progress per call
            outbox.produce(self.store, self._writer, self._last_now)
            self._hb.sent(self._last_now)
        if not outbox.frames:
            return b""
        self.store.commit()
        return outbox.take()

    @property
    def has_data_to_send(self) -> bool:
        """Frames wait for ``data_to_send()``, or a resend is in progress (``Outbox.pending``, inline:
        asked after every pull)."""
        outbox = self._outbox
        return bool(outbox.frames) or outbox.cursor is not None

    def next_deadline_ns(self) -> int | None:
        """Return when ``on_tick`` must next run, or None when no timer is armed."""
        state = self._state
        if self._outbox.cursor is not None:
            return self._last_now
        if state is _ACTIVE:
            hb = self._hb  # its ``next_deadline_ns``, inline: asked after every turn
            deadline: int | None = None
            if hb.interval_ns > 0:
                deadline = hb.last_sent_ns + hb.interval_ns
                sent = hb.test_request_sent_ns
                peer = hb.last_received_ns + hb.grace_ns if sent is None else sent + hb.grace_ns
                if peer < deadline:
                    deadline = peer
            end = self._schedule_end_ns
            if end is not None and (deadline is None or end < deadline):
                deadline = end
            gap = self._gap.deadline_ns
            if gap is not None and (deadline is None or gap < deadline):
                deadline = gap
            return deadline
        if state in _LOGON_STATES or state is _LOGOUT_SENT:
            return self._timer_ns
        return None

    def on_tick(self, now_ns: int) -> None:
        """Run the timers: logon/logout timeouts, Heartbeat (4a), TestRequest and its timeout (6), and
        the re-asking of an unanswered ResendRequest."""
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
            gap = self._gap.deadline_ns
            if gap is not None and now_ns >= gap:
                self._check_gap(now_ns)
                if self._state is not _ACTIVE:
                    return
            if hb.test_request_due(now_ns):
                self._test_req_counter += 1
                self._send_new(b"1", b"112=TEST%d\x01" % self._test_req_counter, now_ns)
                hb.test_request_sent(now_ns)
            if hb.heartbeat_due(now_ns):
                self._send_new(b"0", b"", now_ns)
        elif self._timer_ns is not None and now_ns >= self._timer_ns:
            if state in _LOGON_STATES:
                self._fail("logon timeout")
            elif state is _LOGOUT_SENT:
                self._fail("logout timeout")

    # -- the inbound numbers --------------------------------------------------------------------------
    def _advance(self, n: int) -> None:
        """The next expected inbound number is now ``n``; persist it unless an application event waits."""
        self._expected = n
        pending = self._persist_after
        if pending:
            pending[-1] = n  # persisted when the last waiting ApplicationMessage is handed over
        else:
            self.store.set_next_target_seq(n)

    def _deliver(self, event: ApplicationMessage, seq: int) -> None:
        """Queue an application message numbered ``seq``; its number is persisted by ``next_event``."""
        self._events.append(event)
        self._expected = seq + 1
        self._persist_after.append(seq + 1)

    def _reset_numbers(self, now: int, *, announced: bool = False) -> None:
        """Both numbers back to 1 (store and engine); waiting application events persist nothing.
        ``announced``: our own Logon carries 141=Y."""
        self.store.reset(now)
        self._expected = 1
        pending = self._persist_after
        for i in range(len(pending)):
            pending[i] = 0
        if announced:
            self._sent_reset = True

    def _follow_peer_reset(self, now: int) -> None:
        """An initiator whose Logon the acceptor answered with 141=Y: our Logon counts as number 1."""
        self._reset_numbers(now)
        self.store.set_next_sender_seq(2)

    # -- messages above a gap and our ResendRequests ----------------------------------------------------
    def _gap_open(self) -> bool:
        return bool(self._seq.queue) or self._seq.requested is not None

    def _outstanding_request(self) -> tuple[int, int] | None:
        return self._seq.requested

    def _hold(self, seq: int, item: object) -> bool:
        """Keep ``item`` (a message or ``SKIP``) numbered ``seq`` above the gap; False when too many are held."""
        self._seq.hold(seq, item)
        return not self._seq.overflowing

    def _plan_too_high(self, seq: int, expected: int) -> tuple[int, int, int] | None:
        return self._seq.on_too_high(seq, expected)

    def _plan_request(self, expected: int, seen: int) -> tuple[int, int, int]:
        return self._seq.request_for(expected, seen)

    def _pop_held(self, expected: int) -> object | None:
        return self._seq.pop_next(expected)

    def _plan_after_advance(self, expected: int) -> tuple[int, int, int] | None:
        return self._seq.after_advance(expected)

    def _send_resend_request(self, begin: int, end: int, now: int, *, repeat: bool = True) -> None:
        """Ask for ``begin``..``end``; ``repeat`` False: not an unanswered repeat for the watchdog."""
        log.info("%s: sequence gap, asking for %d..%d", self.session_id, begin, end)
        request_seq = self._send_new(b"2", b"7=%d\x0116=%d\x01" % (begin, end), now)
        self._events.append(SequenceGap(begin, end))
        self._gap.watch(begin, now, asked=repeat, request_seq=request_seq)

    def _expect_unasked_fill(self, begin: int, end: int, now: int) -> None:
        """After a 789 the peer fills the gap ``begin``..``end`` unasked; we ask only after the timeout."""
        self._events.append(SequenceGap(begin, end))
        self._gap.watch(begin, now, asked=False)

    def _last_request_seq(self) -> int:
        return self._gap.request_seq

    def _check_gap(self, now: int) -> None:
        """``gap_fill_timeout`` passed since the last ResendRequest: ask again, or give up and log out."""
        requested = self._seq.requested
        if requested is None:
            self._gap.forget()  # filled meanwhile
            return
        expected = self._expected
        verdict = self._gap.check(now, expected, self.config.max_resend_requests)
        if verdict is WAIT:
            return
        if verdict is GIVE_UP:
            self._logout_and_close(f"ResendRequest for {expected}..{requested[1]} not answered", now)
            return
        log.info("%s: ResendRequest from %d not answered; asking again", self.session_id, expected)
        begin, end, _last = self._seq.request_for(expected, requested[1] + 1)
        self._send_resend_request(begin, end, now)

    def _clear_gap(self) -> None:
        self._seq.clear()
        self._gap.forget()

    # -- resending what the peer asks for -------------------------------------------------------------
    def _last_resendable(self) -> int:
        return self._outbox.last_resendable(self.store.next_sender_seq)

    def _start_resend(self, begin: int, end: int, now: int) -> None:
        outbox = self._outbox
        outbox.start_resend(begin, end)
        if outbox.chunk == 0:
            while outbox.cursor is not None:  # every queued range too
                outbox.produce(self.store, self._writer, now)
            self._hb.sent(now)

    def _finish_resend(self, now: int) -> None:
        """Produce the rest of a resend in progress at once (its messages are about to go)."""
        outbox = self._outbox
        while outbox.cursor is not None:
            outbox.produce(self.store, self._writer, now)

    # -- sending ----------------------------------------------------------------------------------------
    def _send_new(self, msg_type: bytes, body: bytes, now: int, extra_header: bytes = b"") -> int:
        """Number, store and queue a new message."""
        store = self.store
        seq = store.next_sender_seq
        frame = self._writer.frame(msg_type, seq, self._writer.timestamp(now), body, extra_header)
        store.save_outbound(seq, frame)
        self._outbox.push(seq, frame)
        self._hb.sent(now)
        return seq

    def _send_logon(self, heartbeat_interval: int, reset: bool, now: int) -> None:
        next_expected = None
        if self._fix44 and self.config.send_next_expected_msg_seq_num:
            next_expected = self._expected
            self._sent_789 = True
        self._send_new(b"A", logon_body(self.config, heartbeat_interval, reset, next_expected), now)

    def _reject(self, seq: int, mt: bytes | None, reject: SessionReject, now: int, msg: Any = None) -> None:
        if mt == b"3":
            return  # 7: never answer a Reject with a Reject
        route = b"" if msg is None else encode_body(reverse_route(msg))
        self._send_new(b"3", reject_body(seq, mt, reject, self._fix44), now, route)
        log.info("%s: rejected %d (373=%d): %s", self.session_id, seq, reject.reason, printable(reject.text))
        self._events.append(Rejected(seq, reject.reason, reject.text, reject.ref_tag, mt, False))

    def _reject_and_consume(self, seq: int, mt: bytes | None, reject: SessionReject, now: int, msg: Any = None) -> None:
        self._reject(seq, mt, reject, now, msg)
        self._advance(seq + 1)

    def _business_reject(self, seq: int, mt: bytes, reason: int, text: str, now: int, msg: Any = None) -> None:
        route = b"" if msg is None else encode_body(reverse_route(msg))
        self._send_new(b"j", business_reject_body(seq, mt, reason, text), now, route)
        self._events.append(Rejected(seq, reason, text, None, mt, True))

    def _emit(self, event: Event) -> None:
        self._events.append(event)

    # -- the session's course ---------------------------------------------------------------------------
    def _logon_completed(self, heartbeat_interval: int, reset: bool, now: int) -> None:
        """Logged on: negotiated interval, heartbeat timers, end of schedule; ``LoggedOn(reset)``."""
        self.heartbeat_interval = heartbeat_interval
        self._state = next_state(self._state, Trigger.LOGON_COMPLETED)
        self._timer_ns = None
        self._hb = HeartbeatTimer(heartbeat_interval, self.config.test_request_margin, now)
        schedule = self.config.schedule
        self._schedule_end_ns = None if schedule is None else schedule.session_end_ns(now)
        self._events.append(LoggedOn(heartbeat_interval, reset))

    def _logout_received(self, event: Event, reason: str) -> None:
        self._state = next_state(self._state, Trigger.LOGOUT_RECEIVED)
        self._events.append(event)
        self._report_disconnect(reason)

    @property
    def last_received_ns(self) -> int | None:
        """When the peer was last heard from on this connection (any message; UTC epoch ns), or None."""
        value = self._hb.last_received_ns
        return value if value > 0 else None

    def _refuse_logon(self, text: str, now: int, *, reply: bool = True, credentials: bool = False) -> None:
        """Refuse a Logon: a Logout saying why (unless ``reply`` is False), ``LogonRefused``, disconnect."""
        log.warning("%s: %s", self.session_id, printable(text))
        if reply:
            self._send_new(b"5", logout_body(text), now)
        self._events.append(LogonRefused(text, credentials))
        self._fail(text)

    def _garbled_first(self, reason: str, now: int) -> None:
        text = f"garbled first message: {reason}"
        log.warning("%s: %s", self.session_id, printable(text))
        self._first_bytes = None
        if self.config.is_initiator:
            self._fail(text)
        else:
            self._refuse_logon(text, now, reply=False)

    def _logout_and_close(self, text: str, now: int) -> None:
        log.warning("%s: logging out: %s", self.session_id, printable(text))
        self._send_new(b"5", logout_body(text), now)
        self._fail(text)

    def _fail(self, reason: str) -> None:
        if self._state in CONNECTED_STATES:
            self._state = next_state(self._state, Trigger.FAILED)
        self._report_disconnect(reason)

    def _report_disconnect(self, reason: str) -> None:
        self._seq.clear()
        self._gap.forget()
        self._timer_ns = None
        if not self._disconnect_reported:
            self._disconnect_reported = True
            self._events.append(Disconnected(reason))
