"""Operator actions on FIX sessions: log out, set the next sequence numbers, disable and enable.

Theory of operation
-------------------
``SessionAdmin`` acts on the gateway's sessions through the public surface of the transport and the
session store only (``SessionHandle.logout``, ``SessionStore.set_next_*_seq``); it never drives a
session engine. Each action answers with an ``AdminResult`` (done, or why not as a stable word and a
sentence), never an exception, so the bridge can turn a refusal into its error answer.

- ``logout``: starts a Logout with the operator's Text; the peer's answer (or the session's
  ``logout_timeout``) closes the connection. A session that is not logged on is refused (``not_logged_on``).
- ``set_next_seqs``: only while the session is disconnected (``session_connected`` otherwise): the
  numbers are written to the session's store and committed, and the engine reads them from the store
  when the next connection starts. Changing them under a live connection would break the sequence the
  peer is checking; log the session out first.
- ``disable`` / ``enable``: a disabled session refuses every Logon (the peer gets a Logout saying
  "session disabled by the operator") and, if logged on, is logged out at once. The switch wraps the
  session's authenticator once, when ``SessionAdmin`` is built. It lives in memory: a restart enables
  every configured session again (remove a session from the config to keep it off).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ..logsafe import printable
from ..session import SessionID
from ..transport import SessionHandle

__all__ = ["SessionAdmin", "AdminResult", "DISABLED_TEXT"]

log = logging.getLogger("fixgw.gateway")

#: The Logout Text a disabled session's peer reads.
DISABLED_TEXT = "session disabled by the operator"


@dataclass(frozen=True, slots=True)
class AdminResult:
    """What an admin action did: ``ok``, else ``code`` (a stable word) and ``message``."""

    ok: bool
    code: str = ""
    message: str = ""


_DONE = AdminResult(True)


class SessionAdmin:
    """Operator actions on the sessions of ``handles`` (session id -> handle)."""

    def __init__(self, handles: Iterable[tuple[SessionID, SessionHandle]]) -> None:
        self._handles = dict(handles)
        self._disabled: set[SessionID] = set()
        for sid, handle in self._handles.items():
            engine = handle.session
            engine.authenticator = self._guard(sid, engine.authenticator)

    def _guard(self, sid: SessionID, inner: Callable[..., Any] | None) -> Callable[..., Any]:
        def authenticate(session_id: Any, username: Any, password: Any, peer: Any) -> bool | str:
            if sid in self._disabled:
                return DISABLED_TEXT
            return True if inner is None else inner(session_id, username, password, peer)

        return authenticate

    def is_enabled(self, sid: SessionID) -> bool:
        """Return whether ``sid`` accepts Logons."""
        return sid not in self._disabled

    def logout(self, sid: SessionID, text: str = "") -> AdminResult:
        """Start a Logout of ``sid`` with Text ``text``."""
        handle = self._handles[sid]
        if not handle.is_logged_on:
            return AdminResult(False, "not_logged_on", "the session is not logged on")
        log.info("%s: logout requested by the operator (Text %r)", sid, printable(text))
        handle.logout(text)
        return _DONE

    def set_next_seqs(self, sid: SessionID, next_sender_seq: int | None, next_target_seq: int | None) -> AdminResult:
        """Set the next outbound and/or expected inbound MsgSeqNum of a disconnected session."""
        handle = self._handles[sid]
        if handle.is_connected:
            return AdminResult(False, "session_connected",
                               "sequence numbers change only while the session is disconnected; log it out first")
        for n in (next_sender_seq, next_target_seq):
            if n is not None and not 1 <= n <= 2**31 - 1:  # the store refuses what FIX cannot carry
                return AdminResult(False, "invalid_request", "a sequence number is from 1 to 2147483647")
        store = handle.session.store
        before = (store.next_sender_seq, store.next_target_seq)
        if next_sender_seq is not None:
            store.set_next_sender_seq(next_sender_seq)
        if next_target_seq is not None:
            store.set_next_target_seq(next_target_seq)
        getattr(store, "flush", store.commit)()  # durable before answered (a pipelined commit() does not wait)
        log.info("%s: next sequence numbers set by the operator: out %d -> %d, in %d -> %d", sid,
                 before[0], store.next_sender_seq, before[1], store.next_target_seq)
        return _DONE

    def disable(self, sid: SessionID) -> AdminResult:
        """Refuse every Logon of ``sid`` from now on; log it out if it is logged on."""
        handle = self._handles[sid]
        if sid not in self._disabled:
            self._disabled.add(sid)
            log.info("%s: disabled by the operator", sid)
        if handle.is_logged_on:
            handle.logout(DISABLED_TEXT)
        elif handle.is_connected:
            handle.disconnect(DISABLED_TEXT)
        return _DONE

    def enable(self, sid: SessionID) -> AdminResult:
        """Accept Logons of ``sid`` again."""
        if sid in self._disabled:
            self._disabled.discard(sid)
            log.info("%s: enabled by the operator", sid)
        return _DONE
