"""Session states and the one table of their transitions.

Theory of operation
-------------------
A session is in exactly one ``SessionState``. The engine asks ``next_state(state, trigger)`` for every
change; a pair missing from ``TRANSITIONS`` is a bug in the caller and raises ``LocalProtocolError``.

Waiting for a gap fill is not a state of its own: it is a sub-state of ACTIVE (and LOGOUT_SENT) kept by
``sequencing.InboundSequencer`` (is a ResendRequest outstanding, which messages are queued), because every
message kind behaves the same with or without an open gap except in ordering.

DISCONNECTING means "we have decided to close": the last bytes (a Logout, a Reject) are queued and the
driver must flush them and close the connection, then call ``connection_lost``.
"""

from __future__ import annotations

from enum import Enum

from ..errors import LocalProtocolError

__all__ = ["SessionState", "Trigger", "TRANSITIONS", "next_state", "CONNECTED_STATES"]


class SessionState(Enum):
    DISCONNECTED = "disconnected"  # no connection
    AWAITING_LOGON = "awaiting_logon"  # acceptor: connected, waiting for the peer's Logon
    LOGON_SENT = "logon_sent"  # initiator: our Logon is out, waiting for the answer
    ACTIVE = "active"  # logged on (possibly waiting for a gap fill)
    LOGOUT_SENT = "logout_sent"  # our Logout is out, waiting for the peer's
    DISCONNECTING = "disconnecting"  # decided to close; the driver flushes and closes


class Trigger(Enum):
    ACCEPTED = "accepted"  # connection_made, acceptor role
    CONNECTED = "connected"  # connection_made, initiator role (our Logon queued)
    LOGON_COMPLETED = "logon_completed"  # valid Logon received (acceptor answered it)
    LOGOUT_REQUESTED = "logout_requested"  # the application called logout()
    LOGOUT_RECEIVED = "logout_received"  # the peer's Logout
    FAILED = "failed"  # fatal protocol error, timeout, EOF: close
    CONNECTION_LOST = "connection_lost"  # the driver closed the connection


S = SessionState
T = Trigger

TRANSITIONS: dict[tuple[SessionState, Trigger], SessionState] = {
    (S.DISCONNECTED, T.ACCEPTED): S.AWAITING_LOGON,
    (S.DISCONNECTED, T.CONNECTED): S.LOGON_SENT,
    (S.AWAITING_LOGON, T.LOGON_COMPLETED): S.ACTIVE,
    (S.LOGON_SENT, T.LOGON_COMPLETED): S.ACTIVE,
    (S.ACTIVE, T.LOGOUT_REQUESTED): S.LOGOUT_SENT,
    # Before the Logon handshake there is nobody to say goodbye to: just close.
    (S.AWAITING_LOGON, T.LOGOUT_REQUESTED): S.DISCONNECTING,
    (S.LOGON_SENT, T.LOGOUT_REQUESTED): S.DISCONNECTING,
    (S.ACTIVE, T.LOGOUT_RECEIVED): S.DISCONNECTING,  # 13b: answered with Logout, then closed
    (S.LOGOUT_SENT, T.LOGOUT_RECEIVED): S.DISCONNECTING,  # 13a: our Logout acknowledged
    (S.LOGON_SENT, T.LOGOUT_RECEIVED): S.DISCONNECTING,  # 1B: the acceptor refused our Logon
    (S.AWAITING_LOGON, T.FAILED): S.DISCONNECTING,
    (S.LOGON_SENT, T.FAILED): S.DISCONNECTING,
    (S.ACTIVE, T.FAILED): S.DISCONNECTING,
    (S.LOGOUT_SENT, T.FAILED): S.DISCONNECTING,
    (S.DISCONNECTED, T.CONNECTION_LOST): S.DISCONNECTED,  # idempotent: drivers may report twice
    (S.AWAITING_LOGON, T.CONNECTION_LOST): S.DISCONNECTED,
    (S.LOGON_SENT, T.CONNECTION_LOST): S.DISCONNECTED,
    (S.ACTIVE, T.CONNECTION_LOST): S.DISCONNECTED,
    (S.LOGOUT_SENT, T.CONNECTION_LOST): S.DISCONNECTED,
    (S.DISCONNECTING, T.CONNECTION_LOST): S.DISCONNECTED,
}

#: States in which a connection exists and inbound bytes are read.
CONNECTED_STATES = frozenset({S.AWAITING_LOGON, S.LOGON_SENT, S.ACTIVE, S.LOGOUT_SENT})


def next_state(state: SessionState, trigger: Trigger) -> SessionState:
    """Return the state after ``trigger``; raise ``LocalProtocolError`` if the table has no such edge."""
    try:
        return TRANSITIONS[(state, trigger)]
    except KeyError:
        raise LocalProtocolError(f"no session transition from {state.name} on {trigger.name}") from None
