"""What the bridge needs from the gateway: a small, read-only port.

The bridge depends on the gateway, never the reverse; it sees the gateway only through
``GatewayView``. Its methods are synchronous, cheap and never block: the bridge calls them on its own
event loop, which is the gateway's loop when both run in the gateway's task group. They return
immutable snapshots, so the bridge can serialise them after the call without a lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence, runtime_checkable

__all__ = ["GatewayView", "SessionInfo", "Readiness"]


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One FIX session as the gateway sees it now. CompIDs are ours: we are the sender."""

    begin_string: str
    sender_comp_id: str
    target_comp_id: str
    state: str                 # the session engine's state name, e.g. "ACTIVE", "DISCONNECTED"
    logged_on: bool
    next_sender_seq: int       # MsgSeqNum of our next outbound message
    next_target_seq: int       # MsgSeqNum we expect next from the peer

    @property
    def session_id(self) -> str:
        return f"{self.begin_string}:{self.sender_comp_id}->{self.target_comp_id}"

    def as_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "begin_string": self.begin_string,
            "sender_comp_id": self.sender_comp_id,
            "target_comp_id": self.target_comp_id,
            "state": self.state,
            "logged_on": self.logged_on,
            "next_sender_seq": self.next_sender_seq,
            "next_target_seq": self.next_target_seq,
        }


@dataclass(frozen=True, slots=True)
class Readiness:
    """Whether the gateway can do its work: its acceptor listens and every venue is connected."""

    acceptor_listening: bool
    venues: tuple[tuple[str, bool], ...] = ()  # (venue name, connected)

    @property
    def ready(self) -> bool:
        return self.acceptor_listening and all(up for _, up in self.venues)


@runtime_checkable
class GatewayView(Protocol):
    """The gateway as the bridge sees it."""

    def sessions(self) -> Sequence[SessionInfo]:
        """Return every configured FIX session, in a stable order."""
        ...

    def readiness(self) -> Readiness:
        """Return whether the acceptor listens and which venues are connected."""
        ...
