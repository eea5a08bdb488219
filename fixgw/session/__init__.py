"""The sans-I/O FIX 4.2/4.4 session engine (acceptor and initiator).

No sockets, no clock, no threads: the driver feeds bytes and time in and writes bytes out.

::

    from fixgw.session import Session, SessionConfig, SessionID, NEED_DATA
    from fixgw.stores import MemoryMessageStore

    sid = SessionID("FIX.4.4", "GATEWAY", "CLIENT1")          # we are the sender
    config = SessionConfig(sid, role="acceptor", heartbeat_interval=30)
    session = Session(config, store.session_store(sid), dictionary=None, authenticator=None)

    session.connection_made(now_ns, peer_address=("10.0.0.5", 50123))   # initiator: queues its Logon
    session.receive_data(chunk, now_ns)                 # b"" = the peer closed (EOF)
    while (event := session.next_event()) is not NEED_DATA:
        ...                                             # LoggedOn, ApplicationMessage, Disconnected, ...
    seq = session.send(b"8", [(37, "1"), (17, "e1"), ...], now_ns)   # app message; returns MsgSeqNum
    sock.write(session.data_to_send())                  # commits the store first; b"" when idle
    session.on_tick(now_ns)                             # when now >= session.next_deadline_ns()
    session.logout(now_ns, text="")                     # 12: waits logout_timeout for the ack
    session.connection_lost(now_ns)                     # after the socket closed, whoever closed it

Driver loop contract:

- After ``receive_data``/``on_tick``/``send``/``logout``, drain ``next_event()`` then write
  ``data_to_send()``. A big resend comes out one chunk (``resend_chunk_size``, default 1000) per call;
  while more is pending ``next_deadline_ns()`` returns the last ``now`` (due at once) and
  ``has_data_to_send`` is True.
- The persisted inbound number advances when ``next_event()`` delivers the message: the store's
  ``next_target_seq`` passes an application message only when its ``ApplicationMessage`` is handed over
  (admin messages processed after it advance it with it, never before). The driver must handle each
  event before the next commit: the application handles an ``ApplicationMessage`` synchronously and
  commits its effects (journal records, replies) in the same transaction. ``next_target_seq`` (the
  property) is the engine's view, which moves at once. Events not delivered when the connection is lost
  have not advanced the store: after a crash the peer is asked to resend them.
- ``Disconnected(reason)`` (and ``wants_disconnect``): write ``data_to_send()`` one last time, close the
  socket, call ``connection_lost``. The session can then be reconnected with ``connection_made``.
- ``is_connected`` is True between ``connection_made`` and ``connection_lost``: an acceptor registry
  refuses a second connection for that session meanwhile. ``in_schedule(now_ns)`` tells whether the
  schedule lets the session run (an initiator should not connect outside it; a Logon outside it is
  refused).

Public API:

- ``Session(config, store, *, dictionary=None, authenticator=None)``; ``authenticator(session_id,
  username, password, peer_address)`` (553/554 as str or None) returns True to accept, False or a
  reason (str, e.g. "unknown user") to refuse; an exception refuses too. A refused Logon gets a Logout
  whose Text says why ("Logon rejected: invalid password", "Incorrect BeginString ...", "... outside the
  session schedule", a HeartBtInt above ``max_heartbeat_interval``), then ``LogonRefused``.
- methods: ``connection_made(now_ns, peer_address=None)``, ``receive_data(data, now_ns)``,
  ``next_event() -> Event | NEED_DATA``, ``send(msg_type, body_fields, now_ns, *, header_fields=()) ->
  int`` (``body_fields``: iterable of (tag, value), ready ``tag=value\\x01`` bytes, or a ``SharedBody``:
  one body encoded once for many sessions, its CheckSum share summed once), ``on_tick(now_ns)``,
  ``next_deadline_ns() -> int | None``, ``data_to_send() -> bytes``, ``logout(now_ns, text="")``,
  ``connection_lost(now_ns)``, ``in_schedule(now_ns) -> bool``.
- properties: ``state`` (``SessionState``), ``is_logged_on``, ``is_connected``, ``wants_disconnect``,
  ``awaiting_gap_fill``, ``has_data_to_send``, ``next_sender_seq``, ``next_target_seq``,
  ``heartbeat_interval`` (negotiated), ``session_id``, ``config``, ``store``.
- events: ``LoggedOn(heartbeat_interval, reset_seq_num)``, ``ApplicationMessage(message, poss_dup,
  poss_resend)``, ``LoggedOut(text, initiated_locally)``, ``Disconnected(reason)``, ``Rejected(ref_seq,
  reason, text, ref_tag, ref_msg_type, business)`` (we rejected), ``RejectReceived(ref_seq, reason,
  ref_tag, text, message)`` (the peer rejected), ``SequenceGap(begin, end)`` (we asked for a resend),
  ``LogonRefused(text)`` (we refused the peer's Logon; before ``Disconnected``). ``LoggedOn`` comes
  again, with ``reset_seq_num`` True, after a FIX 4.4 peer reset the numbers by Logon inside a session.
- ``reverse_route(message)``: the header fields routing an answer back through the party that sent it
  (OnBehalfOf 115/116/144 ⇄ DeliverTo 128/129/145); the engine's own Rejects carry them, and the
  application passes them as ``send(..., header_fields=reverse_route(msg))``.
- errors: ``LocalProtocolError`` when ``send`` gets an admin MsgType or unencodable values, or a call
  does not fit the state (e.g. ``logout`` while disconnected, ``connection_made`` twice).
- the store port: ``SessionStore`` / ``MessageStore`` (``fixgw.session.store``).
- ``SessionSchedule(start_time, end_time, tz="UTC", weekdays=None, start_day=None, end_day=None)``.
"""

from __future__ import annotations

from ._engine import Authenticator, Session
from .config import ACCEPTOR, INITIATOR, SessionConfig, SessionID
from .events import (
    NEED_DATA,
    ApplicationMessage,
    Disconnected,
    Event,
    LoggedOn,
    LoggedOut,
    LogonRefused,
    Rejected,
    RejectReceived,
    SequenceGap,
)
from .messages import ROUTE_TAGS, SharedBody, reverse_route
from .schedule import SessionSchedule
from .states import TRANSITIONS, SessionState, Trigger
from .store import MessageStore, SessionStore
from .validation import SessionReject

__all__ = [
    "Session",
    "Authenticator",
    "SessionConfig",
    "SessionID",
    "ACCEPTOR",
    "INITIATOR",
    "SessionSchedule",
    "SessionState",
    "Trigger",
    "TRANSITIONS",
    "SessionStore",
    "MessageStore",
    "SessionReject",
    "NEED_DATA",
    "Event",
    "LoggedOn",
    "ApplicationMessage",
    "LoggedOut",
    "Disconnected",
    "Rejected",
    "RejectReceived",
    "SequenceGap",
    "LogonRefused",
    "reverse_route",
    "ROUTE_TAGS",
    "SharedBody",
]
