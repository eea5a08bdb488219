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
  ``data_to_send()``. With ``resend_chunk_size`` > 0 a big resend comes out one chunk per call; while
  more is pending ``next_deadline_ns()`` returns the last ``now`` (due at once) and
  ``has_data_to_send`` is True.
- ``Disconnected(reason)`` (and ``wants_disconnect``): write ``data_to_send()`` one last time, close the
  socket, call ``connection_lost``. The session can then be reconnected with ``connection_made``.
- ``is_connected`` is True between ``connection_made`` and ``connection_lost``: an acceptor registry
  refuses a second connection for that session meanwhile. ``in_schedule(now_ns)`` tells whether the
  schedule lets the session run (an initiator should not connect outside it; a Logon outside it is
  refused).

Public API:

- ``Session(config, store, *, dictionary=None, authenticator=None)``; ``authenticator(session_id,
  username, password, peer_address) -> bool`` (553/554 as str or None).
- methods: ``connection_made(now_ns, peer_address=None)``, ``receive_data(data, now_ns)``,
  ``next_event() -> Event | NEED_DATA``, ``send(msg_type, body_fields, now_ns, *, header_fields=()) ->
  int`` (``body_fields``: iterable of (tag, value) or ready ``tag=value\\x01`` bytes), ``on_tick(now_ns)``,
  ``next_deadline_ns() -> int | None``, ``data_to_send() -> bytes``, ``logout(now_ns, text="")``,
  ``connection_lost(now_ns)``, ``in_schedule(now_ns) -> bool``.
- properties: ``state`` (``SessionState``), ``is_logged_on``, ``is_connected``, ``wants_disconnect``,
  ``awaiting_gap_fill``, ``has_data_to_send``, ``next_sender_seq``, ``next_target_seq``,
  ``heartbeat_interval`` (negotiated), ``session_id``, ``config``, ``store``.
- events: ``LoggedOn(heartbeat_interval, reset_seq_num)``, ``ApplicationMessage(message, poss_dup,
  poss_resend)``, ``LoggedOut(text, initiated_locally)``, ``Disconnected(reason)``, ``Rejected(ref_seq,
  reason, text, ref_tag, ref_msg_type, business)`` (we rejected), ``RejectReceived(ref_seq, reason,
  ref_tag, text, message)`` (the peer rejected), ``SequenceGap(begin, end)`` (we asked for a resend).
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
    Rejected,
    RejectReceived,
    SequenceGap,
)
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
]
