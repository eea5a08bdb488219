"""The sans-I/O FIX session engine.

Theory of operation
-------------------
A driver (the transport, or a test) owns the socket and the clock. It calls ``connection_made``, feeds
every received chunk to ``receive_data``, drains ``next_event()`` until ``NEED_DATA``, writes whatever
``data_to_send()`` returns, and calls ``on_tick`` when ``next_deadline_ns()`` passes. The engine never
reads a clock and never blocks: time comes in as ``now_ns``.

Inbound: bytes go through the codec's ``Parser``; garbled frames are dropped without touching sequence
numbers (2d, 2m, 2t, 3b). A frame received before logon goes to the Logon handshake (``_logon.py``);
after it, to the inbound path (``_inbound.py``: header checks, sequencing, in-order processing), which
hands the session-level messages that move numbers or end the session to ``_admin.py``.

Durable before counted: the engine's own sequencing reads and moves ``_expected`` (the next number
expected from the peer) at once. The store's persisted number follows it, except past an application
message whose ``ApplicationMessage`` event is still waiting in the event queue: for each such event,
``_persist_after`` keeps the number to persist when ``next_event()`` hands it over (admin messages
processed after it move that number, never the store). So a commit, by anyone sharing the store, never
persists a number past a message the application has not seen; after a crash the peer is asked again.

Outbound: every new message gets the next sender number and is saved in the store (``save_outbound``)
before its bytes are queued; ``data_to_send()`` commits the store before returning anything. While we
answer a ResendRequest, newly sent messages are held back so the wire always carries increasing numbers
after the resent ones.

State changes go through ``states.next_state`` only; timers (logon, logout, heartbeat, test request,
unanswered ResendRequest) are compared with ``now_ns`` in ``on_tick``.

``Session`` is assembled from this module (public API, lifecycle, timers, outbound primitives) and the
three mixins above; they share the session's attributes and have no state of their own.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any, Callable, Iterable

from ..codec import Garbled, Message, Parser
from ..logsafe import printable
from ..errors import LocalProtocolError
from ._admin import AdminHandlers
from ._inbound import InboundPath
from ._logon import LogonHandshake
from .config import SessionConfig, SessionID
from .events import NEED_DATA, ApplicationMessage, Disconnected, Event, Rejected, SequenceGap
from .heartbeat import HeartbeatTimer
from .messages import FrameWriter, encode_body, reverse_route
from .outbox import Outbox
from .sequencing import InboundSequencer
from .states import CONNECTED_STATES, SessionState, Trigger, next_state
from .store import SessionStore
from .validation import ADMIN_MSG_TYPES, SessionReject, first_frame_problem

__all__ = ["Session", "Authenticator"]

log = logging.getLogger("fixgw.session")

NS = 1_000_000_000
#: Past this many bytes without a first frame, judging it is left to the parser (its own bound applies).
_FIRST_BYTES_MAX = 1 << 16
#: ``authenticator(session_id, username, password, peer_address)``: True accepts the Logon; False or a
#: str (the reason, e.g. "invalid password") refuses it; an exception refuses it too (and is logged).
Authenticator = Callable[[SessionID, "str | None", "str | None", Any], "bool | str"]

_S = SessionState
_ACTIVE = _S.ACTIVE
_LOGOUT_SENT = _S.LOGOUT_SENT


class Session(LogonHandshake, InboundPath, AdminHandlers):
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
        # Keyword arguments of dictionary.validate(); none in the default (strict) case.
        options: dict[str, bool] = {}
        if not config.validate_user_defined_fields:
            options["validate_user_defined_fields"] = False
        if config.allow_unknown_message_fields:
            options["allow_unknown_message_fields"] = True
        self._validate_options = options

        self._state = _S.DISCONNECTED
        self._events: deque[Event] = deque()
        # The engine's next expected inbound number, and for each ApplicationMessage not yet handed to
        # the application the number to persist when it is (0: nothing, a reset came after it).
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
        # The watchdog of our own ResendRequests (``_admin.py``): when to look again, the expected
        # number when we last asked, and how many requests in a row went unanswered.
        gap_timeout = config.gap_fill_timeout
        self._gap_timeout_ns = None if gap_timeout is None else int(gap_timeout * NS)
        self._gap_deadline_ns: int | None = None
        self._gap_mark = 0
        self._gap_requests = 0
        self._request_seq = 0  # the MsgSeqNum of our latest ResendRequest (20: did the peer see it?)

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
        """The next MsgSeqNum the engine expects from the peer (the store's may lag; see ``next_event``)."""
        return self._expected

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
        self._forget_gap_watch()
        self._outbox.clear()
        self._disconnect_reported = False
        self._sent_reset = False
        self._sent_789 = False
        self._hb = HeartbeatTimer(0, 0.0, now_ns)
        self._timer_ns = now_ns + int(cfg.logon_timeout * NS)
        self._first_bytes = bytearray()
        if not self._persist_after:
            self._expected = self.store.next_target_seq  # the store is the truth between connections
        schedule = cfg.schedule
        if schedule is not None:
            if not schedule.is_in_session(now_ns):
                if initiator:
                    self._fail("outside the session schedule")
                # An acceptor reads the Logon first, to refuse it with a Logout that says why.
                return
            if schedule.needs_reset(self.store.creation_time_ns, now_ns):
                log.info("%s: new scheduled session, sequence numbers reset", self.session_id)
                self._reset_store(now_ns)
        if initiator:
            if cfg.reset_on_logon:
                self._reset_store(now_ns)
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
        self._forget_gap_watch()
        self._parser = None
        self._first_bytes = None
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
                deadline = end
            gap = self._gap_deadline_ns
            if gap is not None and (deadline is None or gap < deadline):
                deadline = gap
            return deadline
        if state in (_S.AWAITING_LOGON, _S.LOGON_SENT, _LOGOUT_SENT):
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
            gap = self._gap_deadline_ns
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

    def _on_message(self, msg: Any, now: int) -> None:
        state = self._state
        if state is _ACTIVE or state is _LOGOUT_SENT:
            self._on_session_message(msg, now)
        elif state is _S.AWAITING_LOGON or state is _S.LOGON_SENT:
            self._first_bytes = None
            if not self._persist_after:
                self._expected = self.store.next_target_seq  # before logon the store is the truth
            if state is _S.AWAITING_LOGON:
                self._on_acceptor_logon(msg, now)
            else:
                self._on_initiator_logon(msg, now)

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

    def _send_resend_request(self, begin: int, end: int, now: int, *, repeat: bool = True) -> None:
        """Ask for ``begin``..``end``; ``repeat`` False: not an unanswered repeat for the watchdog."""
        log.info("%s: sequence gap, asking for %d..%d", self.session_id, begin, end)
        self._request_seq = self._send_new(b"2", b"7=%d\x0116=%d\x01" % (begin, end), now)
        self._events.append(SequenceGap(begin, end))
        self._watch_gap(begin, now, asked=repeat)

    def _reject(self, seq: int, mt: bytes | None, reject: SessionReject, now: int, msg: Any = None) -> None:
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
        route = b"" if msg is None else encode_body(reverse_route(msg))
        self._send_new(b"3", b"".join(parts), now, route)
        log.info("%s: rejected %d (373=%d): %s", self.session_id, seq, reject.reason, printable(reject.text))
        self._events.append(Rejected(seq, reject.reason, reject.text, reject.ref_tag, mt, False))

    def _reject_and_consume(self, seq: int, mt: bytes | None, reject: SessionReject, now: int, msg: Any = None) -> None:
        self._reject(seq, mt, reject, now, msg)
        self._advance(seq + 1)

    def _business_reject(self, seq: int, mt: bytes, reason: int, text: str, now: int, msg: Any = None) -> None:
        body = b"45=%d\x01372=%s\x01380=%d\x01" % (seq, mt, reason) + encode_body([(58, text)])
        route = b"" if msg is None else encode_body(reverse_route(msg))
        self._send_new(b"j", body, now, route)
        self._events.append(Rejected(seq, reason, text, None, mt, True))

    def _logout_and_close(self, text: str, now: int) -> None:
        log.warning("%s: logging out: %s", self.session_id, printable(text))
        self._send_new(b"5", self._logout_body(text), now)
        self._fail(text)

    def _fail(self, reason: str) -> None:
        if self._state in CONNECTED_STATES:
            self._state = next_state(self._state, Trigger.FAILED)
        self._report_disconnect(reason)

    def _report_disconnect(self, reason: str) -> None:
        self._seq.clear()
        self._forget_gap_watch()
        self._timer_ns = None
        if not self._disconnect_reported:
            self._disconnect_reported = True
            self._events.append(Disconnected(reason))
