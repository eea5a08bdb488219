"""What the SQLite and PostgreSQL session stores share: the session's key and its in-memory numbers.

A session's sequence numbers are read from memory; each store writes them at its next commit in its
own SQL. ``session_key`` is how a ``SessionID`` (anything with ``begin_string``, ``sender_comp_id``
and ``target_comp_id``) is spelled in the ``fix_sessions`` table.

Reserved sender numbers: a message that is never resent (a MsgType of the session's
``gap_fill_msg_types``, market data) needs only its number to be durable, not its body. Such sends
call ``advance_sender_seq``: the first one writes a *reserved mark* ``seq_reserve`` numbers ahead (the
store's constructor argument, ``DEFAULT_SEQ_RESERVE`` by default) and is committed like any write; the
following ones, up to the mark, only move the in-memory number, so they dirty nothing and their bytes
leave without waiting for a commit. The row always holds ``durable_sender_seq`` (the larger of the
next number and the mark), so after a crash the session resumes at or above every number it sent; the
numbers it skips are answered with a SequenceReset-GapFill, as those messages always are. Every other
write of the sender number (``set_next_sender_seq``, ``reset``) drops the mark, and a clean close writes
the exact next number (``release_reserved``), so an orderly restart leaves no gap.
"""

from __future__ import annotations

from typing import Any, Iterable

__all__ = ["DEFAULT_SEQ_RESERVE", "StoredSession", "check_seq_reserve", "release_reserved", "session_key"]

#: How many sender numbers one durable write reserves for unstored messages (``advance_sender_seq``).
DEFAULT_SEQ_RESERVE = 1000


def session_key(session_id: Any) -> tuple[str, str, str]:
    return (str(session_id.begin_string), str(session_id.sender_comp_id), str(session_id.target_comp_id))


def check_seq_reserve(n: Any) -> int:
    """Return ``n`` if it is a valid ``seq_reserve`` (an int >= 0; 0 reserves nothing), else raise ValueError."""
    if type(n) is not int or n < 0:
        raise ValueError(f"seq_reserve must be an int >= 0, not {n!r}")
    return n


def release_reserved(owner: Any, sessions: Iterable[StoredSession]) -> None:
    """Drop every reserved mark and queue the exact next sender numbers (a clean close: no gap on restart)."""
    for s in sessions:
        if s._reserved > s.next_sender_seq:
            owner.begin()
            owner._dirty.add(s)
        s._reserved = 0


class StoredSession:
    """One session's numbers as a store holds them: its row, next sender/target seq, creation time.

    The owner provides ``begin()``, ``_dirty`` (the sessions whose row its next commit writes) and
    ``seq_reserve`` (see the module docstring).
    """

    __slots__ = ("_owner", "_row", "session_id", "next_sender_seq", "next_target_seq", "creation_time_ns", "_reserved")

    def __init__(
        self,
        owner: Any,
        session_id: Any,
        row: int,
        next_sender_seq: int,
        next_target_seq: int,
        creation_time_ns: int,
    ) -> None:
        self._owner = owner
        self._row = row
        self.session_id = session_id
        self.next_sender_seq = next_sender_seq
        self.next_target_seq = next_target_seq
        self.creation_time_ns = creation_time_ns
        #: The reserved mark: the row holds at least this next sender number (0: none).
        self._reserved = 0

    @property
    def durable_sender_seq(self) -> int:
        """The next sender number as the row holds it: the next number or the reserved mark, the larger."""
        n = self.next_sender_seq
        return self._reserved if self._reserved > n else n

    def advance_sender_seq(self, n: int) -> None:
        """Move the next sender number forward to ``n`` past a message that is never resent.

        Up to the reserved mark only the in-memory number moves (nothing to commit); past it the mark
        moves ``seq_reserve`` ahead and the row is written at the next commit (module docstring).
        """
        if n <= self._reserved:
            self.next_sender_seq = n
            return
        owner = self._owner
        owner.begin()
        owner._dirty.add(self)
        self._reserved = n + owner.seq_reserve
        self.next_sender_seq = n

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({session_key(self.session_id)}, next_sender_seq={self.next_sender_seq},"
            f" next_target_seq={self.next_target_seq})"
        )
