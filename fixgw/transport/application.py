"""What an embedding application implements: the session callbacks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .driver import SessionHandle

__all__ = ["Application"]


class Application:
    """Callbacks of an embedding application; override what you need.

    Callbacks run on the event loop: keep them short (they may be ``async def`` if they must await).
    ``on_event`` receives the session events that have no callback of their own.

    Durable before counted: handing ``on_application_message`` (``on_message``) a message is what
    counts its MsgSeqNum as received in the session's store, and the next commit of that store (the session's own, or another
    session's sharing the file) makes it durable. A plain callback runs whole before any commit. An
    ``async def`` one must write what the message causes (journal records, replies through
    ``session.send``) before its first ``await``: whatever it writes after may be lost in a crash
    while the message counts as received.
    """

    def on_logon(self, session: SessionHandle) -> Any:
        """The session logged on (both Logons exchanged)."""

    def on_logout(self, session: SessionHandle) -> Any:
        """The session stopped being logged on (Logout exchanged or connection lost)."""

    def on_message(self, session: SessionHandle, message: Any) -> Any:
        """An application message arrived in sequence (``message`` is a ``fixgw.codec.Message``)."""

    def on_application_message(self, session: SessionHandle, event: Any) -> Any:
        """An application message arrived in sequence, as the session's ``ApplicationMessage`` event (with
        its ``poss_dup`` and ``poss_resend`` flags); by default ``event.message`` goes to ``on_message``."""
        return self.on_message(session, event.message)

    def on_event(self, session: SessionHandle, event: Any) -> Any:
        """Any other session event (rejects, resets, ...); ignored by default."""
