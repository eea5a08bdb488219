"""The sans-I/O FIX session engine: the public ``Session``.

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

How it is built: all the state, and every change to it, is in ``SessionCore`` (``_core.py``, beside the
transition table of ``states.py``). ``Session`` adds the entry points that only decide (the Logon of an
initiator, the schedule at connection time), the read-only properties, and binds the two hooks through
which the core hands over received frames. It has no state of its own (``__slots__ = ()``). The modules
of the protocol's decisions (``_logon``, ``_inbound``, ``_admin``) take the session as an argument, read
its state and change it only through the core's methods; none of them imports this module.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from . import _inbound, _logon
from ._core import SessionCore
from .config import SessionID
from .states import SessionState

__all__ = ["Session", "Authenticator"]

log = logging.getLogger("fixgw.session")

#: ``authenticator(session_id, username, password, peer_address)``: True accepts the Logon; False or a
#: str (the reason, e.g. "invalid password") refuses it; an exception refuses it too (and is logged).
Authenticator = Callable[[SessionID, "str | None", "str | None", Any], "bool | str"]

_S = SessionState


class Session(SessionCore):
    """One FIX session (acceptor or initiator) over one connection at a time; see the module docstring.

    Public API: ``fixgw.session`` (the package docstring)."""

    __slots__ = ()

    _on_logon_message = _logon.on_logon_message
    _on_session_message = _inbound.on_session_message

    # -- properties ---------------------------------------------------------------------------------
    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def is_logged_on(self) -> bool:
        return self._state is _S.ACTIVE

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
        return self._outstanding_request() is not None

    @property
    def next_sender_seq(self) -> int:
        return self.store.next_sender_seq

    @property
    def next_target_seq(self) -> int:
        """The next MsgSeqNum the engine expects from the peer (the store's may lag; see ``next_event``)."""
        return self._expected

    def in_schedule(self, now_ns: int) -> bool:
        """Tell whether the session's schedule (if any) allows it to run at ``now_ns``."""
        schedule = self.config.schedule
        return schedule is None or schedule.is_in_session(now_ns)

    # -- connection lifecycle ----------------------------------------------------------------------
    def connection_made(self, now_ns: int, peer_address: Any = None) -> None:
        """A connection is up. An initiator queues its Logon; an acceptor waits for the peer's."""
        cfg = self.config
        self._connected(now_ns, peer_address)
        schedule = cfg.schedule
        if schedule is not None:
            if not schedule.is_in_session(now_ns):
                if cfg.is_initiator:
                    self._fail("outside the session schedule")
                # An acceptor reads the Logon first, to refuse it with a Logout that says why.
                return
            if schedule.needs_reset(self.store.creation_time_ns, now_ns):
                log.info("%s: new scheduled session, sequence numbers reset", self.session_id)
                self._reset_numbers(now_ns)
        if cfg.is_initiator:
            if cfg.reset_on_logon:
                self._reset_numbers(now_ns, announced=True)
            self._send_logon(cfg.heartbeat_interval, cfg.reset_on_logon, now_ns)
