"""The MessageStore port: what the session engine needs from persistence.

A ``SessionStore`` holds one session's two sequence numbers and the raw bytes of every outbound message
by sequence number, so a ResendRequest can always be answered. Writes may be batched; ``commit()`` makes
everything written so far durable. The engine calls ``commit()`` before any byte leaves
``Session.data_to_send()``, so nothing is ever sent that a restart could forget.

Implementations live in ``fixgw/stores/`` (memory, SQLite) and pass one conformance suite.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["SessionStore", "MessageStore"]


@runtime_checkable
class SessionStore(Protocol):
    """Sequence numbers and outbound messages of one FIX session."""

    next_sender_seq: int
    next_target_seq: int
    creation_time_ns: int

    def save_outbound(self, seq: int, raw: bytes) -> None:
        """Store ``raw`` under ``seq`` and set ``next_sender_seq = seq + 1``, as one atomic step."""

    def set_next_target_seq(self, n: int) -> None:
        """Set the next sequence number expected from the peer."""

    def set_next_sender_seq(self, n: int) -> None:
        """Set the next sequence number we will send."""

    def advance_sender_seq(self, n: int) -> None:
        """Move the next sender number forward to ``n`` past a message that is never resent (a MsgType of
        ``SessionConfig.gap_fill_msg_types``): its body is not kept, only its number must never be reused.

        A store may make this cheaper than ``set_next_sender_seq`` by reserving numbers: one durable write
        of a mark ahead of ``n`` covers the following advances up to it, which then leave nothing to commit.
        The number read back after a crash must be at or above every ``n`` a commit returned after; numbers
        above the last message sent are answered with a SequenceReset-GapFill on a ResendRequest. A store
        without reservations implements it as ``set_next_sender_seq(n)`` (this default).
        """
        self.set_next_sender_seq(n)

    def fetch(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        """Return the stored ``(seq, raw)`` with ``begin <= seq <= end`` in order; ``end`` 0 means to the last."""

    def reset(self, now_ns: int) -> None:
        """Set both sequence numbers to 1, drop the messages and set ``creation_time_ns = now_ns``."""

    def commit(self) -> None:
        """Make every write so far durable."""


@runtime_checkable
class MessageStore(Protocol):
    """A store of many sessions, keyed by SessionID (BeginString, SenderCompID, TargetCompID)."""

    def session_store(self, session_id: object) -> SessionStore:
        """Return the store of ``session_id``, creating it (both numbers at 1) when new."""

    def close(self) -> None:
        """Release resources; the store must not be used afterwards."""
