"""What the SQLite and PostgreSQL session stores share: the session's key and its in-memory numbers.

A session's sequence numbers are read from memory; each store writes them at its next commit in its
own SQL. ``session_key`` is how a ``SessionID`` (anything with ``begin_string``, ``sender_comp_id``
and ``target_comp_id``) is spelled in the ``fix_sessions`` table.
"""

from __future__ import annotations

from typing import Any

__all__ = ["StoredSession", "session_key"]


def session_key(session_id: Any) -> tuple[str, str, str]:
    return (str(session_id.begin_string), str(session_id.sender_comp_id), str(session_id.target_comp_id))


class StoredSession:
    """One session's numbers as a store holds them: its row, next sender/target seq, creation time."""

    __slots__ = ("_owner", "_row", "session_id", "next_sender_seq", "next_target_seq", "creation_time_ns")

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

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({session_key(self.session_id)}, next_sender_seq={self.next_sender_seq},"
            f" next_target_seq={self.next_target_seq})"
        )
