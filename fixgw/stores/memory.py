"""In-memory implementation of the session ``MessageStore`` port, for tests and throw-away sessions.

Nothing survives the process; ``commit()`` does nothing. Sessions are keyed by the string triple
(BeginString, SenderCompID, TargetCompID), so two equal SessionIDs share one store.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from ..errors import StoreError
from .journal_memory import MemoryOrderJournal

__all__ = ["MemoryMessageStore", "MemorySessionStore"]


class MemorySessionStore:
    """Sequence numbers and outbound messages of one session, held in a dict."""

    __slots__ = ("next_sender_seq", "next_target_seq", "creation_time_ns", "_messages", "_last")

    def __init__(self, creation_time_ns: int) -> None:
        self.next_sender_seq = 1
        self.next_target_seq = 1
        self.creation_time_ns = creation_time_ns
        self._messages: dict[int, bytes] = {}
        self._last = 0

    def __repr__(self) -> str:
        return (
            f"MemorySessionStore(next_sender_seq={self.next_sender_seq}, "
            f"next_target_seq={self.next_target_seq}, messages={len(self._messages)})"
        )

    def save_outbound(self, seq: int, raw: bytes) -> None:
        """Store ``raw`` under ``seq`` and set the next sender number to ``seq + 1``."""
        self._messages[seq] = bytes(raw)
        if seq > self._last:
            self._last = seq
        self.next_sender_seq = seq + 1

    def set_next_target_seq(self, n: int) -> None:
        """Set the next sequence number expected from the peer."""
        self.next_target_seq = n

    def set_next_sender_seq(self, n: int) -> None:
        """Set the next sequence number we will send."""
        self.next_sender_seq = n

    def advance_sender_seq(self, n: int) -> None:
        """Move the next sender number past a message that is never resent (nothing to reserve in memory)."""
        self.next_sender_seq = n

    def fetch(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        """Return stored ``(seq, raw)`` for ``begin <= seq <= end`` in order; ``end`` 0 = to the last."""
        messages = self._messages
        if not messages:
            return []
        last = self._last
        hi = last if end == 0 else min(end, last)
        if hi < begin:
            return []
        if hi - begin + 1 <= len(messages):
            return [(seq, messages[seq]) for seq in range(begin, hi + 1) if seq in messages]
        return sorted((seq, raw) for seq, raw in messages.items() if begin <= seq <= hi)

    def reset(self, now_ns: int) -> None:
        """Set both numbers to 1, drop every message and restart the creation time."""
        self._messages.clear()
        self._last = 0
        self.next_sender_seq = 1
        self.next_target_seq = 1
        self.creation_time_ns = now_ns

    def commit(self) -> None:
        """Do nothing: memory is as durable as it gets."""


class MemoryMessageStore:
    """Many sessions' stores in memory. ``now_ns`` stamps the creation time of new sessions."""

    def __init__(self, *, now_ns: Callable[[], int] = time.time_ns) -> None:
        self._now_ns = now_ns
        self._sessions: dict[tuple[str, str, str], MemorySessionStore] = {}
        self._closed = False

    def session_store(self, session_id: Any) -> MemorySessionStore:
        """Return the store of ``session_id``, creating it (both numbers at 1) when new."""
        if self._closed:
            raise StoreError("message store is closed")
        key = (str(session_id.begin_string), str(session_id.sender_comp_id), str(session_id.target_comp_id))
        store = self._sessions.get(key)
        if store is None:
            store = self._sessions[key] = MemorySessionStore(self._now_ns())
        return store

    def journal(self, account: str) -> MemoryOrderJournal:
        """Return a new in-memory order journal of ``account`` (gone with the process, as the store is)."""
        if self._closed:
            raise StoreError("message store is closed")
        return MemoryOrderJournal(account)

    def defer_commits(self, schedule: Callable[[Callable[[], None]], object]) -> None:
        """Nothing to defer: the same API as ``SqliteMessageStore`` (memory commits nothing)."""

    def flush(self) -> None:
        """Nothing to flush: memory is as durable as it gets."""

    def close(self) -> None:
        """Forget nothing (tests may still inspect session stores) but refuse new sessions."""
        self._closed = True

    def __enter__(self) -> MemoryMessageStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
